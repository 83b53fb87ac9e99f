"""Hostile files from the audit of pybertcore's readers, built byte by byte (no torch, no pickle.dumps).

Each builder returns the bytes of one file. tests/test_hostile_files.py loads them and checks the error;
fuzz/make_corpus.py writes smaller variants of them into the fuzzers' seed corpus. The sizes in the
defaults are the audit's: they are what crashed or exhausted memory before the readers were hardened.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib

# Pickle opcodes, spelled out (pickle's own constants, listed here so the builders read as the stream).
PROTO2 = b"\x80\x02"
EMPTY_DICT, EMPTY_TUPLE, EMPTY_LIST = b"}", b")", b"]"
MARK, TUPLE, TUPLE1, TUPLE2 = b"(", b"t", b"\x85", b"\x86"
NONE, STOP, SETITEM, APPENDS, BINPERSID = b"N", b".", b"s", b"e", b"Q"
BINPUT, BINGET = b"q", b"h"


def long_binput(index: int) -> bytes:
    return b"r" + struct.pack("<I", index)


def short_binunicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def binint(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def torch_zip(data_pkl: bytes, records: dict[str, bytes] | None = None, compress: int = zipfile.ZIP_STORED,
              encrypted: bool = False) -> bytes:
    """A torch.save-style zip: ``archive/data.pkl`` plus ``archive/data/<key>`` records."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as z:
        records = {"data.pkl": data_pkl, "byteorder": b"little", **{f"data/{k}": v for k, v in (records or {}).items()}}
        for name, data in records.items():  # a fixed date: the same input always gives the same bytes
            z.writestr(zipfile.ZipInfo(f"archive/{name}", date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compress)
    blob = buf.getvalue()
    if encrypted:  # set the "encrypted" bit (0x1) of every central-directory entry's flags
        blob = bytearray(blob)
        at = 0
        while (at := blob.find(b"PK\x01\x02", at)) >= 0:
            blob[at + 8] |= 1
            at += 4
        blob = bytes(blob)
    return blob


def deep_tuple_key_pickle(depth: int) -> bytes:
    """{((((...),),),): None} with ``depth`` nested tuples: hashing the key recursed in C once per level."""
    return PROTO2 + EMPTY_DICT + EMPTY_TUPLE + TUPLE1 * depth + NONE + SETITEM + STOP


def deep_tuple_key_bin(depth: int = 200_000) -> bytes:
    """The audit's ~200 KB pytorch_model.bin that overflowed the C stack (depth 100,000: RecursionError)."""
    return torch_zip(deep_tuple_key_pickle(depth))


def memo_index_bomb(index: int = 2**30) -> bytes:
    """A 9-byte legacy .bin: PROTO 2, NONE, LONG_BINPUT index, STOP. CPython sizes its memo to the index:
    2**30 asked for 16 GiB, 2**27 loaded at 2.1 GB."""
    return PROTO2 + NONE + long_binput(index) + STOP


def billion_laughs_bin(levels: int = 9, fanout: int = 10) -> bytes:
    """A ~700-byte .bin whose persistent id is a tuple of ``fanout`` references to a tuple of ``fanout``
    references ... (``levels`` deep): 10**9 leaves through shared references, which repr() walks one by one."""
    out = PROTO2 + short_binunicode("lol") + BINPUT + b"\x00"
    for level in range(levels):
        out += MARK + (BINGET + bytes([level])) * fanout + TUPLE + BINPUT + bytes([level + 1])
    return torch_zip(out + BINPERSID + STOP)


def storage_pickle(numel: int, key: str = "0", storage: str = "FloatStorage", shape=None, stride=None) -> bytes:
    """{"w": _rebuild_tensor_v2(<storage key, numel>, 0, shape, stride)} as torch pickles a state dict."""
    shape = (numel,) if shape is None else shape
    stride = (1,) * len(shape) if stride is None else stride

    def ints(values) -> bytes:
        return MARK + b"".join(_int(v) for v in values) + TUPLE

    pid = (MARK + short_binunicode("storage") + global_("torch", storage) + short_binunicode(key)
           + short_binunicode("cpu") + _int(numel) + TUPLE + BINPERSID)
    args = MARK + pid + binint(0) + ints(shape) + ints(stride) + b"\x89" + global_("collections", "OrderedDict") + EMPTY_TUPLE + b"R" + TUPLE
    return (PROTO2 + EMPTY_DICT + short_binunicode("w") + global_("torch._utils", "_rebuild_tensor_v2") + args + b"R"
            + SETITEM + STOP)


def _int(value: int) -> bytes:
    if -(2**31) <= value < 2**31:
        return binint(value)
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data  # LONG1


def deflate_bomb_bin(gib: float = 1.0) -> bytes:
    """A zip whose deflated data/0 inflates to ``gib`` GiB of zeros: about 1 MB on disk per GiB (the audit's
    loaded at 3.1 GB). Built without deflating a GiB: a 16 MiB block of zeros deflated after a full flush
    encodes the same way every time, so the stream is that encoding repeated."""
    chunk = 1 << 24
    numel = int(gib * 2**30) // 4 // (chunk // 4) * (chunk // 4)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeats = numel * 4 // chunk
    stream = block * repeats + b"\x03\x00"  # a final, empty fixed-Huffman block
    crc = 0
    zeros = bytes(chunk)
    for _ in range(repeats):
        crc = zlib.crc32(zeros, crc)
    return raw_zip([("archive/data.pkl", zipfile.ZIP_STORED, storage_pickle(numel), zlib.crc32(storage_pickle(numel)),
                     len(storage_pickle(numel))),
                    ("archive/data/0", zipfile.ZIP_DEFLATED, stream, crc, numel * 4)])


def raw_zip(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip from (name, method, payload as stored, crc32, uncompressed size) entries, sizes below 4 GiB."""
    out, central = b"", b""
    for name, method, payload, crc, size in entries:
        raw_name = name.encode()
        fields = struct.pack("<HHHHHIII", 20, 0, method, 0, 0x21, crc, len(payload), size)
        central += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack(
            "<HHHHHII", len(raw_name), 0, 0, 0, 0, 0, len(out)) + raw_name
        out += b"PK\x03\x04" + fields + struct.pack("<HH", len(raw_name), 0) + raw_name + payload
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return out + central + end


def safetensors_file(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data
