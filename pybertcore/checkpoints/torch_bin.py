"""``pytorch_model.bin`` read without torch, and without running anything the file asks for.

torch.save writes a zip archive (``<name>/data.pkl``, the pickled state dict, plus one record
``<name>/data/<key>`` per storage, ``byteorder``, ``version``); torch < 1.6 wrote the "legacy" stream:
five pickles (magic number, protocol, system info, the object, storage keys) followed by each storage
as an int64 element count and its raw bytes. Both are read here.

Safety: the pickle's opcodes are first scanned (parsed, not run) and any opcode a state dict never uses is
refused; then the pickle is read by ``_RestrictedUnpickler``, whose ``find_class`` resolves only the handful
of globals a state dict needs (the tensor rebuild functions, ``collections.OrderedDict`` and the storage
type names) to pybertcore's own stand-ins; any other global — ``os.system``, ``builtins.eval``, a model
class — raises CheckpointError at the moment it is named, before it could be called. Nothing from torch
is imported and nothing is called through ``pickle.load``.

Tensors: ``_rebuild_tensor_v2`` only records (storage, offset, shape, strides); the arrays are built
after the pickle has been read, as views (``as_strided``) of their storage, so views and storages shared
between tensors come back as numpy views of one buffer. A storage of an uncompressed zip record (torch
never compresses them) views a read-only mapping of the file; bf16 is widened to float32.
"""

from __future__ import annotations

import io
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
)

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

    __slots__ = ("key", "storage_type", "numel", "data")

    def __init__(self, key: str, storage_type: _StorageType, numel: int) -> None:
        self.key, self.storage_type, self.numel = key, storage_type, numel
        self.data: np.ndarray | None = None


class _StorageView(_Sealed):
    """A legacy-format storage that is a slice of another one (``view_metadata``)."""

    __slots__ = ("base", "offset", "numel", "storage_type")

    def __init__(self, base: _Storage, offset: int, numel: int) -> None:
        self.base, self.offset, self.numel = base, offset, numel
        self.storage_type = base.storage_type


class _TensorRef(_Sealed):
    """What ``_rebuild_tensor_v2`` was asked to build; made into an array once storages are read."""

    __slots__ = ("storage", "offset", "shape", "stride")

    def __init__(self, storage: Any, offset: int, shape: tuple, stride: tuple) -> None:
        if not isinstance(storage, (_Storage, _StorageView)):
            raise CheckpointError(f"a tensor was rebuilt from {type(storage).__name__}, not a storage")
        self.storage, self.offset = storage, int(offset)
        self.shape, self.stride = tuple(int(s) for s in shape), tuple(int(s) for s in stride)
        if len(self.shape) != len(self.stride):
            raise CheckpointError(f"a tensor has shape {self.shape} but strides {self.stride}")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _TensorRef):
        raise CheckpointError(f"a parameter was rebuilt from {type(data).__name__}, not a tensor")
    return data


# The only globals a pickle may name, and what each resolves to (a fresh stand-in per reference).
_ALLOWED_FUNCTIONS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


def _resolve_global(module: str, name: str) -> Any:
    if (module, name) == ("collections", "OrderedDict"):
        return OrderedDict
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
                f"{self.source}: refused to load: the pickle references {module}.{name}, which a checkpoint of "
                "tensors never needs (it could run code). pybertcore loads only tensors, storages and "
                "OrderedDicts from .bin files; if you trust this file, convert it with torch to safetensors."
            )
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"{self.source}: unsupported persistent id {pid!r:.80} (expected a storage)")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self.source}: storage {key!r} has unsupported type {storage_type!r:.60}")
        key, numel = str(key), int(numel)
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(key, storage_type, numel)
        elif storage.storage_type.dtype != storage_type.dtype:
            raise CheckpointError(f"{self.source}: storage {key!r} is used with two element types")
        view_metadata = pid[5] if len(pid) == 6 else None
        if view_metadata is not None:  # legacy format: a slice of the root storage
            _view_key, offset, view_numel = view_metadata
            return _StorageView(storage, int(offset), int(view_numel))
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


def _check_opcodes(file: Any, source: Path) -> None:
    """Walks the pickle's opcodes (parsing only, nothing is built) and refuses any not in _ALLOWED_OPCODES."""
    start = file.tell()
    try:
        for opcode, _arg, _pos in pickletools.genops(file):
            if opcode.name not in _ALLOWED_OPCODES:
                raise CheckpointError(
                    f"{source}: refused to load: the pickle uses the {opcode.name} opcode, which a checkpoint of "
                    "tensors never needs"
                )
    except CheckpointError:
        raise
    except Exception as e:  # pickletools raises ValueError on malformed data, EOF on a cut one
        raise CheckpointError(f"{source}: corrupt or truncated checkpoint ({type(e).__name__}: {e})") from None
    file.seek(start)


def _unpickle(data: Any, source: Path, storages: dict) -> Any:
    """One pickle from a bytes buffer or file object, with every failure turned into CheckpointError."""
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    _check_opcodes(file, source)
    try:
        return _RestrictedUnpickler(file, source, storages).load()
    except CheckpointError:
        raise
    except Exception as e:  # a corrupt pickle can fail in many ways (EOFError, UnpicklingError, TypeError, ...)
        raise CheckpointError(f"{source}: corrupt or truncated checkpoint ({type(e).__name__}: {e})") from None


def _array_of(ref: _TensorRef, source: Path, name: str) -> np.ndarray:
    storage = ref.storage
    offset = ref.offset
    if isinstance(storage, _StorageView):
        offset += storage.offset
        storage = storage.base
    data = storage.data
    if data is None:
        raise CheckpointError(f"{source}: tensor {name!r} uses storage {storage.key!r}, which the file lacks")
    shape, stride = ref.shape, ref.stride
    if any(s < 0 for s in shape) or any(s < 0 for s in stride) or offset < 0:
        raise CheckpointError(f"{source}: tensor {name!r} has a negative size, stride or offset")
    if int(np.prod(shape, dtype=np.float64)) > data.size:
        raise CheckpointError(
            f"{source}: tensor {name!r} has shape {list(shape)}, more elements than its storage {storage.key!r} "
            f"({data.size}); expanded (stride-0) tensors are not supported"
        )
    if 0 in shape:
        return np.empty(shape, dtype=np.float32 if storage.storage_type.name == "BFloat16Storage" else data.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
    if last >= data.size:
        raise CheckpointError(
            f"{source}: tensor {name!r} (shape {list(shape)}, offset {offset}) reaches past its storage "
            f"{storage.key!r} of {data.size} elements"
        )
    itemsize = data.dtype.itemsize
    array = np.lib.stride_tricks.as_strided(
        data[offset:], shape=shape, strides=tuple(s * itemsize for s in stride), writeable=False
    )
    if storage.storage_type.name == "BFloat16Storage":
        return bf16_to_float32(array)
    if data.dtype.byteorder == ">":
        return array.astype(data.dtype.newbyteorder("<"))
    return array


def _collect(obj: Any, source: Path, out: StateDict) -> StateDict:
    """The top-level object as a flat name → array dict (a state dict, or {"state_dict": ...} wrapper)."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict) and not any(
        isinstance(v, _TensorRef) for v in obj.values()
    ):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{source}: expected a state dict (name → tensor), found {type(obj).__name__}")
    for name, ref in obj.items():
        if isinstance(ref, _TensorRef):
            out[str(name)] = _array_of(ref, source, str(name))
        elif ref is not None and not isinstance(ref, (int, float, str, bool, dict, list, tuple)):
            raise CheckpointError(f"{source}: entry {name!r} is a {type(ref).__name__}, not a tensor")
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
    try:
        archive = zipfile.ZipFile(path)
        infos = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint (not a readable zip archive: {e})") from None
    with archive:
        pkl = [name for name in infos if name.endswith("data.pkl") and name.count("/") == 1]
        if len(pkl) != 1:
            raise CheckpointError(f"{path}: a zip archive without exactly one <name>/data.pkl; not a torch.save file")
        prefix = pkl[0][: -len("data.pkl")]

        def record(name: str) -> bytes:
            try:
                return archive.read(prefix + name)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, NotImplementedError) as e:
                raise CheckpointError(f"{path}: corrupt or truncated checkpoint (record {name}: {e})") from None

        byteorder = record("byteorder").decode(errors="replace") if prefix + "byteorder" in infos else "little"
        if byteorder not in ("little", "big"):
            raise CheckpointError(f"{path}: unknown byteorder record {byteorder!r}")
        storages: dict[str, _Storage] = {}
        obj = _unpickle(record("data.pkl"), path, storages)

        out = new_state_dict()
        mm = None
        for key, storage in storages.items():
            dtype = storage.storage_type.dtype
            if byteorder == "big" and dtype.itemsize > 1:
                dtype = dtype.newbyteorder(">")
            info = infos.get(f"{prefix}data/{key}")
            if info is None:
                raise CheckpointError(f"{path}: corrupt checkpoint: storage record data/{key} is missing")
            nbytes = storage.numel * dtype.itemsize
            if info.file_size < nbytes:
                raise CheckpointError(
                    f"{path}: corrupt checkpoint: storage data/{key} holds {info.file_size} bytes, expected {nbytes}"
                )
            start = _stored_data_offset(path, info) if info.compress_type == zipfile.ZIP_STORED else None
            if start is not None and start + nbytes <= file_size(path):
                if mm is None and nbytes > 0:
                    mm = map_file(path)
                    out.mappings.append(mm)
                storage.data = np.frombuffer(mm, dtype=dtype, count=storage.numel, offset=start) if nbytes else np.empty(0, dtype)
            elif start is not None:
                raise CheckpointError(f"{path}: truncated checkpoint: storage data/{key} runs past the end of the file")
            else:
                storage.data = np.frombuffer(record(f"data/{key}"), dtype=dtype, count=storage.numel)
        return _collect(obj, path, out)


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
    with open(path, "rb") as f:
        magic = _unpickle(f, path, storages)
        if magic != _LEGACY_MAGIC:
            raise CheckpointError(f"{path}: not a PyTorch checkpoint (a pickle without torch's magic number)")
        protocol = _unpickle(f, path, storages)
        if protocol != _LEGACY_PROTOCOL:
            raise CheckpointError(f"{path}: unsupported legacy checkpoint protocol {protocol!r}")
        sys_info = _unpickle(f, path, storages)
        little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
        obj = _unpickle(f, path, storages)
        keys = _unpickle(f, path, storages)
        if not isinstance(keys, list):
            raise CheckpointError(f"{path}: corrupt legacy checkpoint (storage key list is a {type(keys).__name__})")
        offset = f.tell()
    size = file_size(path)
    out = new_state_dict()
    mm = map_file(path)
    out.mappings.append(mm)
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise CheckpointError(f"{path}: corrupt legacy checkpoint (storage {key!r} listed but never used)")
        if offset + 8 > size:
            raise CheckpointError(f"{path}: truncated checkpoint: storage {key!r} is missing")
        (numel,) = struct.unpack("<q" if little else ">q", mm[offset : offset + 8])
        dtype = storage.storage_type.dtype
        if not little and dtype.itemsize > 1:
            dtype = dtype.newbyteorder(">")
        offset += 8
        if numel != storage.numel or offset + numel * dtype.itemsize > size:
            raise CheckpointError(f"{path}: truncated or corrupt checkpoint at storage {key!r}")
        storage.data = np.frombuffer(mm, dtype=dtype, count=numel, offset=offset) if numel else np.empty(0, dtype)
        offset += numel * dtype.itemsize
    return _collect(obj, path, out)

