"""``pytorch_model.bin`` read without torch, and without running anything the file asks for.

torch.save writes a zip archive (``<name>/data.pkl``, the pickled state dict, plus one record
``<name>/data/<key>`` per storage, ``byteorder``, ``version``); torch < 1.6 wrote the "legacy" stream:
five pickles (magic number, protocol, system info, the object, storage keys) followed by each storage
as an int64 element count and its raw bytes. Both are read here.

Safety: the pickle's opcodes are first scanned (parsed, not run) and any opcode a state dict never uses is
refused, as are containers nested more than ``_MAX_NESTING`` deep (hashing a 200,000-deep tuple overflows
the C stack) and memo indices larger than the pickle could have filled (CPython sizes its memo to the
index: 2**30 asks for 16 GiB); then the pickle is read by ``_RestrictedUnpickler``, whose ``find_class``
resolves only the handful of globals a state dict needs (the tensor rebuild functions,
``collections.OrderedDict`` and the storage type names) to pybertcore's own stand-ins; any other global —
``os.system``, ``builtins.eval``, a model class — raises CheckpointError at the moment it is named, before
it could be called. Nothing from torch is imported and nothing is called through ``pickle.load``. Error
messages describe what the pickle built by type and size, never by ``repr`` (a "billion laughs" of shared
references would repr to gigabytes). Zip records are read only within what the file can hold: a
compressed record (torch never writes one) may inflate at most ``_MAX_INFLATION`` times its stored size.

Tensors: ``_rebuild_tensor_v2`` only records (storage, offset, shape, strides); the arrays are built
after the pickle has been read, as views (``as_strided``) of their storage, so views and storages shared
between tensors come back as numpy views of one buffer. A storage of an uncompressed zip record (torch
never compresses them) views a read-only mapping of the file; bf16 (and big-endian data) is converted
once per storage, so tensors sharing a storage share the copy.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from pybertcore.checkpoints.common import (
    CheckpointError,
    StateDict,
    bf16_to_float32,
    file_size,
    map_file,
    new_state_dict,
    shape_problem,
)
from pybertcore.memory import check_allocation
from pybertcore.untrusted import describe

WEIGHTS_NAME = "pytorch_model.bin"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"

# torch storage type name → numpy dtype (native little-endian; bf16 as its uint16 bits).
STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
# A state dict's pickle nests about 5 deep (dict → REDUCE arguments → shape tuple); CPython hashes a tuple
# recursively in C with no depth check, and the stack overflows somewhere past 100,000 levels.
_MAX_NESTING = 100
# Real weights deflate about 1.1:1 and zero-filled buffers about 1000:1 (but those are small: biases,
# position ids), so a record may inflate to at most this many times its stored size, plus _INFLATION_SLACK.
_MAX_INFLATION = 50
_INFLATION_SLACK = 1 << 20


class _Sealed:
    """Objects the pickle can reach: BUILD (``__setstate__``) cannot modify them."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise CheckpointError(f"the pickle tries to set the state of a {type(self).__name__}")


class _Allowed(_Sealed):
    """An allowed global that is a function: calls through to pybertcore's stand-in."""

    __slots__ = ("fn",)

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


class _StorageType(_Sealed):
    """Stands for ``torch.<Name>Storage`` in the pickle: only its name and dtype are used."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _Storage(_Sealed):
    """One storage record: its key, element type and element count; ``data`` is filled in afterwards."""

    __slots__ = ("key", "storage_type", "numel", "data", "_values")

    def __init__(self, key: str, storage_type: _StorageType, numel: int) -> None:
        self.key, self.storage_type, self.numel = key, storage_type, numel
        self.data: np.ndarray | None = None
        self._values: np.ndarray | None = None

    def values(self) -> np.ndarray:
        """The storage in the dtype its tensors come back in: bf16 widened to float32, big-endian data in
        native order. Converted once, so a thousand tensors over one bf16 storage cost one copy, not a
        thousand."""
        if self._values is None:
            data = self.data
            if self.storage_type.name == "BFloat16Storage":
                data = bf16_to_float32(data.astype("<u2") if data.dtype.byteorder == ">" else data)
            elif data.dtype.byteorder == ">":
                data = data.astype(data.dtype.newbyteorder("<"))
            self._values = data
        return self._values


class _StorageView(_Sealed):
    """A legacy-format storage that is a slice of another one (``view_metadata``)."""

    __slots__ = ("base", "offset", "numel", "storage_type")

    def __init__(self, base: _Storage, offset: int, numel: int) -> None:
        self.base, self.offset, self.numel = base, offset, numel
        self.storage_type = base.storage_type


class _TensorRef(_Sealed):
    """What ``_rebuild_tensor_v2`` was asked to build; made into an array once storages are read."""

    __slots__ = ("storage", "offset", "shape", "stride")

    def __init__(self, storage: Any, offset: Any, shape: Any, stride: Any) -> None:
        if not isinstance(storage, (_Storage, _StorageView)):
            raise CheckpointError(f"a tensor was rebuilt from {describe(storage)}, not a storage")
        if not _is_count(offset):
            raise CheckpointError(f"a tensor has storage offset {describe(offset)}, expected a non-negative integer")
        problem = shape_problem(shape, 1)
        if problem:
            raise CheckpointError(f"a tensor's {problem}")
        if not isinstance(stride, (tuple, list)) or len(stride) != len(shape) or not all(map(_is_count, stride)):
            raise CheckpointError(
                f"a tensor of {len(shape)} dimensions has strides {describe(stride)}; expected as many non-negative "
                "integers below 2**62"
            )
        self.storage, self.offset = storage, offset
        self.shape, self.stride = tuple(shape), tuple(stride)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _TensorRef):
        raise CheckpointError(f"a parameter was rebuilt from {type(data).__name__}, not a tensor")
    return data


class _OrderedDict(OrderedDict):
    """``collections.OrderedDict`` as a pickle may build it: called with no arguments (``OrderedDict(d)``
    would copy ``d`` once per call, a quadratic memory bomb) and with its state (torch's ``_metadata``)
    ignored, so no attribute of it can be set from the file."""

    def __setstate__(self, state: Any) -> None:
        pass


def _ordered_dict() -> OrderedDict:
    return _OrderedDict()


# The only globals a pickle may name, and what each resolves to (a fresh stand-in per reference).
_ALLOWED_FUNCTIONS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


def _resolve_global(module: str, name: str) -> Any:
    if (module, name) in _ALLOWED_FUNCTIONS:
        return _Allowed(_ALLOWED_FUNCTIONS[module, name])
    if module == "torch" and name in STORAGE_DTYPES:
        return _StorageType(name)
    return None


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only ``_ALLOWED_GLOBALS``; storage persistent ids become ``_Storage`` descriptors."""

    def __init__(self, file: Any, source: Path, storages: dict) -> None:
        super().__init__(file)
        self.source = source
        self.storages = storages  # key → _Storage, shared by every pickle of one file

    def find_class(self, module: str, name: str) -> Any:
        allowed = _resolve_global(module, name)
        if allowed is None:
            raise CheckpointError(
                f"{self.source}: refused to load: the pickle references {module[:80]}.{name[:80]}, which a checkpoint of "
                "tensors never needs (it could run code). pybertcore loads only tensors, storages and "
                "OrderedDicts from .bin files; if you trust this file, convert it with torch to safetensors."
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        """torch's storage ids: ("storage", type, key, location, numel[, view_metadata])."""
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"{self.source}: unsupported persistent id, {describe(pid)} (expected a storage)")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(key, str):
            raise CheckpointError(f"{self.source}: a storage key is {describe(key)}, expected a string")
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self.source}: storage {describe(key)} has unsupported type {describe(storage_type)}")
        if not _is_count(numel):
            raise CheckpointError(
                f"{self.source}: storage {describe(key)} has {describe(numel)} elements, expected a non-negative integer"
            )
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(key, storage_type, numel)
        elif storage.storage_type.dtype != storage_type.dtype or storage.numel != numel:
            raise CheckpointError(f"{self.source}: storage {describe(key)} is used with two element types or sizes")
        view_metadata = pid[5] if len(pid) == 6 else None
        if view_metadata is not None:  # legacy format: a slice of the root storage
            if not (isinstance(view_metadata, tuple) and len(view_metadata) == 3 and _is_count(view_metadata[1])
                    and _is_count(view_metadata[2]) and view_metadata[1] + view_metadata[2] <= numel):
                raise CheckpointError(f"{self.source}: storage {describe(key)} has a malformed view")
            return _StorageView(storage, view_metadata[1], view_metadata[2])
        return storage


# Opcodes a state dict pickled by torch (protocol 2, or up to 4 by other writers) can contain. Anything
# else (protocol-5 buffers, INST/OBJ/NEWOBJ object construction, the extension registry, text persistent
# ids) is refused by a scan of the opcodes before the unpickler sees the data.
_ALLOWED_OPCODES = frozenset("""
    PROTO FRAME STOP MARK POP POP_MARK DUP
    GLOBAL STACK_GLOBAL REDUCE BUILD BINPERSID
    NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 LONG LONG1 LONG4 FLOAT BINFLOAT
    STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8
    BINBYTES SHORT_BINBYTES BINBYTES8
    EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST APPEND APPENDS LIST EMPTY_DICT DICT SETITEM SETITEMS
    GET BINGET LONG_BINGET PUT BINPUT LONG_BINPUT MEMOIZE
""".split())


_SCALAR_OPCODES = frozenset("""
    NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 LONG LONG1 LONG4 FLOAT BINFLOAT
    STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8
    BINBYTES SHORT_BINBYTES BINBYTES8 GLOBAL
""".split())
_TUPLE_SIZES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


class _ScanError(Exception):
    """A problem _scan_pickle found; _check_opcodes adds the file name."""


class _Stack:
    """The unpickler's stack as the scan sees it: one entry per object, holding only the object's nesting
    depth (a one-element list, shared by every reference to that object so that appending to a memoised
    list deepens what a later GET pushes). Marks are stack lengths, as CPython's unpickler keeps them."""

    def __init__(self) -> None:
        self.items: list[list[int]] = []
        self.marks: list[int] = []

    def push(self, node: list[int]) -> None:
        if node[0] > _MAX_NESTING:
            raise _ScanError(f"it nests containers more than {_MAX_NESTING} deep")
        self.items.append(node)

    def pop(self, count: int) -> list[list[int]]:
        fence = self.marks[-1] if self.marks else 0
        if len(self.items) - count < fence:
            raise _ScanError("stack underflow")
        popped = self.items[len(self.items) - count:]
        del self.items[len(self.items) - count:]
        return popped

    def pop_mark(self) -> list[list[int]]:
        if not self.marks:
            raise _ScanError("a MARK is missing")
        start = self.marks.pop()
        popped = self.items[start:]
        del self.items[start:]
        return popped

    def top(self) -> list[int]:
        if len(self.items) <= (self.marks[-1] if self.marks else 0):
            raise _ScanError("stack underflow")
        return self.items[-1]

    def deepen_top(self, children: list[list[int]]) -> None:
        """The top object (a list, dict or built object) now holds ``children``."""
        top = self.top()
        top[0] = max([top[0]] + [c[0] + 1 for c in children])
        if top[0] > _MAX_NESTING:
            raise _ScanError(f"it nests containers more than {_MAX_NESTING} deep")


def _container(children: list[list[int]]) -> list[int]:
    return [1 + max((c[0] for c in children), default=0)]


def _scan_pickle(file: Any) -> None:
    """Walks the pickle's opcodes, building nothing: refuses opcodes outside _ALLOWED_OPCODES, nesting past
    _MAX_NESTING and memo indices the pickle could not have filled; raises _ScanError."""
    stack, memo = _Stack(), {}
    for count, (opcode, arg, _pos) in enumerate(pickletools.genops(file)):
        name = opcode.name
        if name not in _ALLOWED_OPCODES:
            raise _ScanError(f"the pickle uses the {name} opcode, which a checkpoint of tensors never needs")
        if name in _SCALAR_OPCODES:
            stack.push([0])
        elif name in ("EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT"):
            stack.push([1])
        elif name == "MARK":
            stack.marks.append(len(stack.items))
        elif name in ("TUPLE", "LIST", "DICT"):
            stack.push(_container(stack.pop_mark()))
        elif name in _TUPLE_SIZES:
            stack.push(_container(stack.pop(_TUPLE_SIZES[name])))
        elif name in ("APPEND", "BUILD"):
            stack.deepen_top(stack.pop(1))
        elif name == "SETITEM":
            stack.deepen_top(stack.pop(2))
        elif name in ("APPENDS", "SETITEMS"):
            stack.deepen_top(stack.pop_mark())
        elif name == "POP":
            if len(stack.items) > (stack.marks[-1] if stack.marks else 0):
                stack.items.pop()
            elif stack.marks:
                stack.marks.pop()
            else:
                raise _ScanError("stack underflow")
        elif name == "POP_MARK":
            stack.pop_mark()
        elif name == "DUP":
            stack.push(stack.top())
        elif name == "STACK_GLOBAL":
            stack.pop(2)
            stack.push([0])
        elif name == "BINPERSID":
            stack.pop(1)
            stack.push([1])
        elif name == "REDUCE":
            stack.push(_container(stack.pop(2)))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            index = len(memo) if name == "MEMOIZE" else arg
            # Each memoised object took at least one opcode to build: a larger index only inflates the memo.
            if not isinstance(index, int) or not 0 <= index < count:
                raise _ScanError(f"memo index {describe(index)} at opcode {count} is larger than the pickle")
            memo[index] = stack.top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in memo:
                raise _ScanError(f"memo index {describe(arg)} is read before it is written")
            stack.push(memo[arg])
        # PROTO, FRAME and STOP change nothing the scan tracks.


def _check_opcodes(file: Any, source: Path) -> None:
    """Scans the pickle at the file's position (see _scan_pickle) and rewinds to it."""
    start = file.tell()
    try:
        _scan_pickle(file)
    except _ScanError as e:
        raise CheckpointError(f"{source}: refused to load: {e}") from None
    except MemoryError:
        raise
    except Exception as e:  # pickletools raises ValueError on malformed data, EOF on a cut one
        raise CheckpointError(f"{source}: corrupt or truncated checkpoint ({_reason(e)})") from None
    file.seek(start)


def _reason(e: BaseException) -> str:
    """An exception as text, without its arguments when they are objects the pickle built (str() of a
    KeyError is the repr of its key)."""
    if all(isinstance(a, (str, int, bytes)) for a in e.args):
        return f"{type(e).__name__}: {str(e)[:200]}"
    return type(e).__name__


def _unpickle(data: Any, source: Path, storages: dict) -> Any:
    """One pickle from a bytes buffer or file object, with every failure turned into CheckpointError."""
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    _check_opcodes(file, source)
    try:
        return _RestrictedUnpickler(file, source, storages).load()
    except CheckpointError as e:  # the stand-ins raise without knowing the file
        if str(e).startswith(str(source)):
            raise
        raise CheckpointError(f"{source}: {e}") from None
    except MemoryError:
        raise
    except Exception as e:  # a corrupt pickle can fail in many ways (EOFError, UnpicklingError, TypeError, ...)
        raise CheckpointError(f"{source}: corrupt or truncated checkpoint ({_reason(e)})") from None


def _array_of(ref: _TensorRef, source: Path, name: str) -> np.ndarray:
    storage = ref.storage
    offset = ref.offset
    if isinstance(storage, _StorageView):
        offset += storage.offset
        storage = storage.base
    if storage.data is None:
        raise CheckpointError(f"{source}: tensor {describe(name)} uses storage {describe(storage.key)}, which the file lacks")
    data = storage.values()
    shape, stride = ref.shape, ref.stride
    if math.prod(shape) > data.size:
        raise CheckpointError(
            f"{source}: tensor {describe(name)} has shape {list(shape)}, more elements than its storage "
            f"{describe(storage.key)} ({data.size}); expanded (stride-0) tensors are not supported"
        )
    if 0 in shape:
        return np.empty(shape, dtype=data.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
    if last >= data.size:
        raise CheckpointError(
            f"{source}: tensor {describe(name)} (shape {list(shape)}, offset {offset}) reaches past its storage "
            f"{describe(storage.key)} of {data.size} elements"
        )
    itemsize = data.dtype.itemsize
    # A dimension of size 1 never moves along its stride: 0 keeps a forged huge stride out of numpy's int64.
    strides = tuple(0 if n == 1 else s * itemsize for n, s in zip(shape, stride))
    return np.lib.stride_tricks.as_strided(data[offset:], shape=shape, strides=strides, writeable=False)


def _check_conversions(storages: Any, path: Path) -> None:
    """bf16 storages come back widened to float32 and big-endian ones byte-swapped, in new memory: refused
    at once, naming the bytes, when that cannot fit (a 20 GB bf16 file is 40 GB once widened)."""
    total = 0
    for storage in storages:
        if storage.data is None:
            continue
        if storage.storage_type.name == "BFloat16Storage":
            total += storage.numel * 4
        elif storage.data.dtype.byteorder == ">":
            total += storage.data.nbytes
    if total:
        check_allocation(total, f"{path}: converting its bfloat16 or big-endian storages")


def _collect(obj: Any, source: Path, out: StateDict) -> StateDict:
    """The top-level object as a flat name → array dict (a state dict, or {"state_dict": ...} wrapper)."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict) and not any(
        isinstance(v, _TensorRef) for v in dict.values(obj)
    ):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source}: expected a state dict (name → tensor), found {describe(obj)}")
    for name, ref in dict.items(obj):  # dict's own methods: nothing the pickle set can shadow them
        if isinstance(ref, _TensorRef):
            if not isinstance(name, str):
                raise CheckpointError(f"{source}: a tensor is stored under {describe(name)}, not a string name")
            out[name] = _array_of(ref, source, name)
        elif ref is not None and not isinstance(ref, (int, float, str, bool, dict, list, tuple)):
            raise CheckpointError(f"{source}: entry {describe(name)} is {describe(ref)}, not a tensor")
    return out


def load_torch_bin(path: str | Path) -> StateDict:
    """Every tensor of a ``pytorch_model.bin`` (zip or legacy format), by name."""
    path = Path(path)
    size = file_size(path)
    if size == 0:
        raise CheckpointError(f"{path}: empty file, not a PyTorch checkpoint")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        return _load_zip(path)
    if head[:1] == b"\x80":
        return _load_legacy(path)
    if size > 512 and _is_tar(path):
        raise CheckpointError(f"{path}: the tar checkpoint format of torch < 0.4 is not supported; re-save it")
    raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a pickle stream)")


def _is_tar(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(257)
        return f.read(5) == b"ustar"


def _load_zip(path: Path) -> StateDict:
    size = file_size(path)
    try:
        archive = zipfile.ZipFile(path)
        infos = {info.filename: info for info in archive.infolist()}
    except MemoryError:
        raise
    except Exception as e:  # BadZipFile, but also struct.error, OverflowError, ... on a forged directory
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint (not a readable zip archive: {_reason(e)})") from None
    with archive:
        pkl = [name for name in infos if name.endswith("data.pkl") and name.count("/") == 1]
        if len(pkl) != 1:
            raise CheckpointError(f"{path}: a zip archive without exactly one <name>/data.pkl; not a torch.save file")
        prefix = pkl[0][: -len("data.pkl")]

        def record(name: str, info: zipfile.ZipInfo) -> bytes:
            _check_record(path, name, info)
            check_allocation(info.file_size, f"{path}: record {name}")
            try:
                with archive.open(info) as f:
                    data = f.read(info.file_size)
            except MemoryError:
                raise
            except Exception as e:  # zlib.error, BadZipFile (CRC), EOFError, ...
                raise CheckpointError(f"{path}: corrupt or truncated checkpoint (record {name}: {_reason(e)})") from None
            if len(data) != info.file_size:
                raise CheckpointError(f"{path}: truncated checkpoint: record {name} holds {len(data)} of "
                                      f"its {info.file_size} bytes")
            return data

        byteorder = "little"
        if prefix + "byteorder" in infos:
            info = infos[prefix + "byteorder"]
            if info.file_size > 16:
                raise CheckpointError(f"{path}: byteorder record of {info.file_size} bytes; expected 'little' or 'big'")
            byteorder = record("byteorder", info).decode(errors="replace")
        if byteorder not in ("little", "big"):
            raise CheckpointError(f"{path}: unknown byteorder record {describe(byteorder)}")
        storages: dict[str, _Storage] = {}
        obj = _unpickle(record("data.pkl", infos[pkl[0]]), path, storages)

        out = new_state_dict()
        mm = None
        for key, storage in storages.items():
            dtype = storage.storage_type.dtype
            if byteorder == "big" and dtype.itemsize > 1:
                dtype = dtype.newbyteorder(">")
            name = f"data/{key[:80]}"  # for messages; the lookup uses the whole key
            info = infos.get(f"{prefix}data/{key}")
            if info is None:
                raise CheckpointError(f"{path}: corrupt checkpoint: storage record {name} is missing")
            nbytes = storage.numel * dtype.itemsize
            if info.file_size < nbytes or (info.compress_type != zipfile.ZIP_STORED and info.file_size != nbytes):
                raise CheckpointError(
                    f"{path}: corrupt checkpoint: storage {name} holds {info.file_size} bytes, expected {nbytes}"
                )
            if info.compress_type == zipfile.ZIP_STORED:
                _check_record(path, name, info)
                start = _stored_data_offset(path, info)
                if start + nbytes > size:
                    raise CheckpointError(
                        f"{path}: truncated checkpoint: storage {name} runs past the end of the file"
                    )
                if mm is None and nbytes > 0:
                    mm = map_file(path)
                    out.mappings.append(mm)
                storage.data = np.frombuffer(mm, dtype=dtype, count=storage.numel, offset=start) if nbytes else np.empty(0, dtype)
            else:
                storage.data = np.frombuffer(record(name, info), dtype=dtype, count=storage.numel)
        _check_conversions(storages.values(), path)
        return _collect(obj, path, out)


def _check_record(path: Path, name: str, info: zipfile.ZipInfo) -> None:
    """Refuses records that cannot be read or would inflate past what the file can hold."""
    if info.flag_bits & 0x1:
        raise CheckpointError(f"{path}: record {name} is encrypted; torch never writes encrypted records")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CheckpointError(
            f"{path}: record {name} uses zip compression method {info.compress_type}; only stored "
            "(what torch writes) and deflated records are read"
        )
    if info.compress_type == zipfile.ZIP_DEFLATED and (
        info.file_size > _MAX_INFLATION * info.compress_size + _INFLATION_SLACK
    ):
        raise CheckpointError(
            f"{path}: record {name} claims to inflate {info.compress_size} bytes to {info.file_size}; "
            f"more than {_MAX_INFLATION}:1 is refused (a zip bomb? torch never compresses records)"
        )


def _stored_data_offset(path: Path, info: zipfile.ZipInfo) -> int | None:
    """Where an uncompressed member's bytes start: after its local header, whose extra field may differ
    from the central directory's (torch pads it to align the data to 64 bytes)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise CheckpointError(f"{path}: corrupt checkpoint: bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _load_legacy(path: Path) -> StateDict:
    storages: dict[str, _Storage] = {}
    size = file_size(path)
    # The pickles are read from a mapping: a length field in a forged opcode then reads what is there,
    # where a buffered file's read(n) would first allocate n bytes.
    mm = map_file(path)
    magic = _unpickle(mm, path, storages)
    if not isinstance(magic, int) or magic != _LEGACY_MAGIC:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (a pickle without torch's magic number)")
    protocol = _unpickle(mm, path, storages)
    if not isinstance(protocol, int) or protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{path}: unsupported legacy checkpoint protocol {describe(protocol)}")
    sys_info = _unpickle(mm, path, storages)
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    if not isinstance(little, bool):
        raise CheckpointError(f"{path}: corrupt legacy checkpoint (little_endian is {describe(little)})")
    obj = _unpickle(mm, path, storages)
    keys = _unpickle(mm, path, storages)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CheckpointError(f"{path}: corrupt legacy checkpoint (storage key list is {describe(keys)}, not strings)")
    offset = mm.tell()
    out = new_state_dict()
    out.mappings.append(mm)
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise CheckpointError(f"{path}: corrupt legacy checkpoint (storage {describe(key)} listed but never used)")
        if offset + 8 > size:
            raise CheckpointError(f"{path}: truncated checkpoint: storage {describe(key)} is missing")
        (numel,) = struct.unpack("<q" if little else ">q", mm[offset : offset + 8])
        dtype = storage.storage_type.dtype
        if not little and dtype.itemsize > 1:
            dtype = dtype.newbyteorder(">")
        offset += 8
        if numel != storage.numel or offset + numel * dtype.itemsize > size:
            raise CheckpointError(f"{path}: truncated or corrupt checkpoint at storage {describe(key)}")
        storage.data = np.frombuffer(mm, dtype=dtype, count=numel, offset=offset) if numel else np.empty(0, dtype)
        offset += numel * dtype.itemsize
    _check_conversions(storages.values(), path)
    return _collect(obj, path, out)
