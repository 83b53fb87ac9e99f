"""``pytorch_model.bin`` written without torch, in the zip layout torch.save produces.

The archive ``<stem>/`` holds ``data.pkl`` (a protocol-2 pickle of an OrderedDict of tensors, emitted
opcode by opcode with the same globals torch uses: ``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage`` ...; storages are persistent ids
``("storage", <type>, "<key>", "cpu", numel)``), ``.format_version``, ``.storage_alignment``,
``byteorder``, one ``data/<key>`` record per storage, ``version`` and ``.data/serialization_id``.
Records are stored uncompressed with their data 64-byte aligned (the local header's extra field is
padded with a "FB" block, as torch's writer does), so ``torch.load(..., mmap=True)`` works too.
Arrays that are the same buffer (tied weights) share one storage, as torch would write them.
Files of 4 GiB or more get zip64 fields.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Mapping

import numpy as np

_ALIGNMENT = 64
_STORAGE_TYPES = {
    np.dtype("<f8"): "DoubleStorage",
    np.dtype("<f4"): "FloatStorage",
    np.dtype("<f2"): "HalfStorage",
    np.dtype("<i8"): "LongStorage",
    np.dtype("<i4"): "IntStorage",
    np.dtype("<i2"): "ShortStorage",
    np.dtype("i1"): "CharStorage",
    np.dtype("u1"): "ByteStorage",
    np.dtype("?"): "BoolStorage",
}
_ZIP64_LIMIT = 0xFFFFFFFF


class _PickleWriter:
    """Just enough of a protocol-2 pickler for an OrderedDict of tensors, with a memo for repeated strings."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo: dict[tuple, int] = {}

    def _put(self, key: tuple) -> None:
        index = self.memo[key] = len(self.memo)
        self.out += b"q" + bytes([index]) if index < 256 else b"r" + struct.pack("<I", index)

    def _get(self, key: tuple) -> bool:
        index = self.memo.get(key)
        if index is None:
            return False
        self.out += b"h" + bytes([index]) if index < 256 else b"j" + struct.pack("<I", index)
        return True

    def global_(self, module: str, name: str) -> None:
        if not self._get(("global", module, name)):
            self.out += b"c" + f"{module}\n{name}\n".encode()
            self._put(("global", module, name))

    def string(self, s: str, memoize: bool = True) -> None:
        if memoize and self._get(("str", s)):
            return
        raw = s.encode("utf-8")
        self.out += b"X" + struct.pack("<I", len(raw)) + raw
        if memoize:
            self._put(("str", s))

    def int_(self, n: int) -> None:
        if 0 <= n < 256:
            self.out += b"K" + bytes([n])
        elif 0 <= n < 65536:
            self.out += b"M" + struct.pack("<H", n)
        elif -(2**31) <= n < 2**31:
            self.out += b"J" + struct.pack("<i", n)
        else:
            raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(raw)]) + raw  # LONG1

    def tuple_(self, items: tuple[int, ...]) -> None:
        if len(items) == 0:
            self.out += b")"
            return
        if len(items) > 3:
            self.out += b"("
        for n in items:
            self.int_(n)
        self.out += {1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(items), b"t")

    def empty_ordered_dict(self) -> None:
        self.global_("collections", "OrderedDict")
        self.out += b")R"  # EMPTY_TUPLE, REDUCE

    def tensor(self, storage_type: str, key: str, numel: int, shape: tuple, stride: tuple) -> None:
        """``_rebuild_tensor_v2(<storage>, 0, shape, stride, False, OrderedDict())``."""
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out += b"(("  # MARK (args), MARK (persistent id tuple)
        self.string("storage")
        self.global_("torch", storage_type)
        self.string(key)
        self.string("cpu")
        self.int_(numel)
        self.out += b"tQ"  # TUPLE, BINPERSID
        self.int_(0)
        self.tuple_(shape)
        self.tuple_(stride)
        self.out += b"\x89"  # NEWFALSE (requires_grad)
        self.empty_ordered_dict()  # backward_hooks
        self.out += b"tR"  # TUPLE, REDUCE


def _contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class _ZipWriter:
    """Uncompressed zip members with 64-byte aligned data, written straight to a file."""

    def __init__(self, f, archive: str) -> None:
        self.f, self.archive, self.entries = f, archive, []

    def record(self, name: str, data) -> None:
        data = memoryview(data).cast("B")
        name_raw = f"{self.archive}/{name}".encode("utf-8")
        offset = self.f.tell()
        crc, size = zlib.crc32(data), data.nbytes
        zip64 = size >= _ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
        pad = -(offset + 30 + len(name_raw) + len(extra) + 4) % _ALIGNMENT
        extra += b"FB" + struct.pack("<H", pad) + b"Z" * pad
        size32 = _ZIP64_LIMIT if zip64 else size
        self.f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0x21,
                                 crc, size32, size32, len(name_raw), len(extra)))
        self.f.write(name_raw)
        self.f.write(extra)
        self.f.write(data)
        self.entries.append((name_raw, crc, size, offset))

    def close(self) -> None:
        cd_start = self.f.tell()
        for name_raw, crc, size, offset in self.entries:
            fields = []
            if size >= _ZIP64_LIMIT:
                fields += [size, size]
            if offset >= _ZIP64_LIMIT:
                fields.append(offset)
            extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            size32 = min(size, _ZIP64_LIMIT)
            self.f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45 if fields else 20, 0, 0, 0, 0x21,
                                     crc, size32, size32, len(name_raw), len(extra), 0, 0, 0, 0,
                                     min(offset, _ZIP64_LIMIT)))
            self.f.write(name_raw)
            self.f.write(extra)
        cd_end = self.f.tell()
        count, cd_size = len(self.entries), cd_end - cd_start
        # zip64 end of central directory record and locator (torch writes them always), then the classic one.
        self.f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, cd_size, cd_start))
        self.f.write(struct.pack("<IIQI", 0x07064B50, 0, cd_end, 1))
        self.f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                                 min(cd_size, _ZIP64_LIMIT), min(cd_start, _ZIP64_LIMIT), 0))


def save_torch_bin(tensors: Mapping[str, np.ndarray], path: str | os.PathLike) -> None:
    """Writes ``tensors`` as torch.save would write an OrderedDict of CPU tensors."""
    path = Path(path)
    pickler = _PickleWriter()
    storages: list[np.ndarray] = []
    storage_of: dict[tuple, str] = {}
    pickler.empty_ordered_dict()
    pickler.out += b"("  # MARK for SETITEMS
    for i, (name, value) in enumerate(tensors.items()):
        array = np.asarray(value)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        if array.dtype not in _STORAGE_TYPES:
            raise ValueError(f"{name}: dtype {array.dtype} cannot be stored in a pytorch_model.bin by pybertcore")
        array = array if array.flags.c_contiguous else array.copy(order="C")  # ascontiguousarray makes 0-d 1-d
        identity = (array.__array_interface__["data"][0], array.nbytes, array.dtype.str, array.shape)
        key = storage_of.get(identity) if array.nbytes else None
        if key is None:
            key = str(len(storages))
            storages.append(array)
            if array.nbytes:
                storage_of[identity] = key
        pickler.string(name, memoize=False)
        pickler.tensor(_STORAGE_TYPES[array.dtype], key, array.size, array.shape, _contiguous_strides(array.shape))
        if i % 1000 == 999:  # pickle batches SETITEMS by 1000, as the stdlib pickler does
            pickler.out += b"u("
    pickler.out += b"u."  # SETITEMS, STOP

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    archive = path.name.rsplit(".", 1)[0] or "archive"
    try:
        with open(tmp, "wb") as f:
            zf = _ZipWriter(f, archive)
            zf.record("data.pkl", bytes(pickler.out))
            zf.record(".format_version", b"1")
            zf.record(".storage_alignment", str(_ALIGNMENT).encode())
            zf.record("byteorder", b"little")
            for key, array in enumerate(storages):
                zf.record(f"data/{key}", array.reshape(-1).view(np.uint8))
            zf.record("version", b"3\n")
            zf.record(".data/serialization_id", _serialization_id(pickler.out))
            zf.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _serialization_id(pickled: bytes) -> bytes:
    """torch writes a 40-digit decimal id; ours is derived from the content so saves are reproducible."""
    return str(int.from_bytes(zlib.crc32(pickled).to_bytes(4, "little") * 5, "little") % 10**40).zfill(40).encode()
