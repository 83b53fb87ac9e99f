"""safetensors files, read and written without the safetensors package's copies.

Layout: an 8-byte little-endian header length N, N bytes of JSON ({name: {dtype, shape, data_offsets}},
plus an optional "__metadata__" of strings), then the tensor bytes; offsets are relative to 8 + N.
Reading maps the file and returns views (bf16 is widened to float32, the one dtype numpy lacks);
every header field is checked first (types, exact sizes, offsets against the file size, no overlaps),
so a truncated or forged file is a CheckpointError naming the file, never a crash or a huge allocation.
Writing streams one tensor at a time to a temporary file renamed into place, so a model whose weights
still map the old file can save over it.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Mapping

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
from pybertcore.untrusted import describe, type_name

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"

# safetensors dtype name → numpy dtype (little-endian). BF16 is read as uint16 bits and widened.
_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
    "U16": "<u2", "U32": "<u4", "U64": "<u8",
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items() if k not in ("BF16",)}
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit


def load_safetensors(path: str | os.PathLike) -> StateDict:
    """Every tensor of a ``.safetensors`` file, by name, as arrays viewing a read-only mapping of it."""
    path = Path(path)
    size = file_size(path)
    if size < 8:
        raise CheckpointError(f"{path}: truncated safetensors file ({size} bytes, less than its 8-byte header)")
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > min(size - 8, _MAX_HEADER):
            raise CheckpointError(
                f"{path}: not a valid safetensors file (header of {header_len} bytes in a {size}-byte file)"
            )
        raw = f.read(header_len)
    data_start = 8 + header_len
    data_size = size - data_start
    entries = _header_entries(path, _parse_header(path, raw), data_size)

    widened = sum(end - begin for _, dtype_name, _, _, begin, end in entries if dtype_name == "BF16") * 2
    if widened:  # bf16 comes back as float32, in new memory: a 20 GB bf16 file is 40 GB once widened
        check_allocation(widened, f"{path}: its bfloat16 tensors widened to float32")
    tensors = new_state_dict()
    mm = map_file(path) if data_size > 0 else None
    if mm is not None:
        tensors.mappings.append(mm)
    for name, dtype_name, dtype, shape, begin, end in entries:
        count = (end - begin) // dtype.itemsize
        if count == 0 or mm is None:
            array = np.empty(shape, dtype=dtype)
        else:
            array = np.frombuffer(mm, dtype=dtype, count=count, offset=data_start + begin).reshape(shape)
        tensors[name] = bf16_to_float32(array) if dtype_name == "BF16" else array
    return tensors


def _parse_header(path: Path, raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file (header is not JSON: {e})") from None
    except (RecursionError, ValueError) as e:  # nesting past the parser's limit; a number Python refuses
        reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]
        raise CheckpointError(f"{path}: not a valid safetensors file (header is not JSON: {reason})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a valid safetensors file (header is not a JSON object)")
    header.pop("__metadata__", None)
    return header


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _header_entries(path: Path, header: dict, data_size: int) -> list[tuple]:
    """(name, dtype name, dtype, shape, begin, end) per tensor, every field checked against the file: exact
    integer sizes (a shape past int64 cannot wrap around into a small one), offsets inside the data, and
    no two tensors on the same bytes (as the safetensors library requires: overlapping bf16 tensors
    would each be widened into a copy of their own)."""
    entries = []
    for name, info in header.items():
        where = f"{path}: not a valid safetensors file (tensor {describe(name)}"
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            raise CheckpointError(f"{where}: expected an object with dtype, shape and data_offsets)")
        dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype_name, str):
            raise CheckpointError(f"{where}: dtype is a JSON {type_name(dtype_name)}, expected a string)")
        if dtype_name not in _DTYPES:
            raise CheckpointError(
                f"{path}: tensor {describe(name)} has dtype {dtype_name[:80]}, which pybertcore cannot read"
            )
        dtype = np.dtype(_DTYPES[dtype_name])
        problem = shape_problem(shape, dtype.itemsize)
        if problem:
            raise CheckpointError(f"{where}: {problem})")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            raise CheckpointError(f"{where}: data_offsets must be two integers [begin, end])")
        begin, end = offsets
        nbytes = math.prod(shape) * dtype.itemsize
        if not 0 <= begin <= end or end - begin != nbytes:
            raise CheckpointError(
                f"{where}: shape {shape} of {dtype_name} is {nbytes} bytes, data_offsets "
                f"[{begin}, {end}] hold {end - begin})"
            )
        if end > data_size:
            raise CheckpointError(
                f"{path}: truncated safetensors file (tensor {describe(name)} ends at byte {end} of the data, "
                f"which has {data_size})"
            )
        entries.append((name, dtype_name, dtype, shape, begin, end))
    previous = None
    for entry in sorted(entries, key=lambda e: (e[4], e[5])):
        if previous is not None and entry[4] < previous[5] and entry[5] > entry[4]:
            raise CheckpointError(
                f"{path}: not a valid safetensors file (tensors {describe(previous[0])} and {describe(entry[0])} "
                "overlap)"
            )
        if entry[5] > entry[4]:
            previous = entry
    return entries


def safetensors_header(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    """The JSON header (space-padded to a multiple of 8 bytes, as the safetensors library writes it)."""
    header: dict = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, array in tensors.items():
        dtype = np.dtype(array.dtype).newbyteorder("<") if array.dtype.byteorder == ">" else np.dtype(array.dtype)
        if dtype not in _NAMES:
            raise ValueError(f"{name}: dtype {array.dtype} cannot be stored in safetensors")
        header[name] = {"dtype": _NAMES[dtype], "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-len(raw) % 8)


def save_safetensors(
    tensors: Mapping[str, np.ndarray], path: str | os.PathLike, metadata: Mapping[str, str] | None = None
) -> None:
    """Writes tensors with the ``{"format": "pt"}`` metadata transformers requires of its checkpoints."""
    path = Path(path)
    tensors = {k: np.asarray(v) for k, v in tensors.items()}
    header = safetensors_header(tensors, {"format": "pt", **(metadata or {})})
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(header)))
            f.write(header)
            for array in tensors.values():
                array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
                f.write(memoryview(array.reshape(-1)).cast("B"))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
