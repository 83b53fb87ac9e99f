"""What every checkpoint format shares: the error type, dtype tables, bf16 decoding, file mappings.

Arrays read from files are views of a read-only ``mmap`` of the file wherever the stored layout allows
(no copy until the model converts what it needs); ``release_pages`` drops the mapped pages from the
process's resident set once the weights have been packed, without unmapping them, and ``MappedPages``
does the same for chosen arrays only (a layer's weights right after the core has packed them).
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np


class CheckpointError(ValueError):
    """A weights file that cannot be read: missing, truncated, corrupt, unsafe or of an unsupported kind."""


# numpy 1.x allows 32 dimensions (2.x: 64); no weight has more than a handful.
MAX_NDIM = 32
# An array's byte size must fit numpy's signed intp, whatever the file's shape claims.
_MAX_ARRAY_BYTES = 2**62


def shape_problem(shape: object, itemsize: int) -> str | None:
    """Why ``shape`` cannot be a tensor's shape (None when it can): not a list of non-negative ints, more
    than MAX_NDIM dimensions, or more bytes than numpy can index. Exact Python ints: nothing overflows."""
    if not isinstance(shape, (list, tuple)):
        return f"shape is a {type(shape).__name__}, not a list of integers"
    if len(shape) > MAX_NDIM:
        return f"shape has {len(shape)} dimensions, more than {MAX_NDIM}"
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return "shape holds something other than non-negative integers"
    nbytes = itemsize
    for d in shape:
        nbytes *= max(d, 1)  # numpy refuses a too-big shape even when another dimension is 0
    if nbytes > _MAX_ARRAY_BYTES:
        return f"shape of {len(shape)} dimensions needs more than 2**62 bytes"
    return None


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values stored as uint16 bit patterns → float32 (exact: bf16 is the top half of an f32)."""
    wide = bits.astype(np.uint32)
    wide <<= 16  # in place: one float32-sized array, not two
    return wide.view(np.float32)


def map_file(path: Path) -> mmap.mmap:
    """A read-only mapping of the whole file (the caller has checked it is not empty)."""
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class StateDict(dict):
    """A dict of tensors that remembers the file mappings its arrays view (see ``release_pages``)."""

    mappings: list


def new_state_dict() -> StateDict:
    sd = StateDict()
    sd.mappings = []
    return sd


def release_pages(state_dict: dict) -> None:
    """Tells the kernel the mapped file pages behind ``state_dict`` may leave the resident set.

    The arrays stay valid: a later read faults the pages back in from the file (or the page cache).
    """
    for mm in getattr(state_dict, "mappings", ()):
        if hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED") and not mm.closed:
            try:
                mm.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):
                pass


class MappedPages:
    """The address ranges of a state dict's file mappings, to release the pages behind chosen arrays.

    ``release(arrays)`` calls ``madvise(MADV_DONTNEED)`` on the pages each array spans inside a mapping
    (rounded out to whole pages: a neighbour's page that goes too is read back on its next use) and skips
    arrays that view no mapping (converted copies, random initialisations: dropping those would zero them).
    The mappings are read-only and shared, so released pages fault back in from the page cache or the file.
    """

    def __init__(self, mappings: list) -> None:
        self._ranges = []  # (start address, end address, mmap)
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        for mm in mappings:
            if mm.closed or len(mm) == 0:
                continue
            start = np.frombuffer(mm, dtype=np.uint8, count=1).__array_interface__["data"][0]
            self._ranges.append((start, start + len(mm), mm))

    def _mapping_of(self, array) -> tuple[int, int, int, mmap.mmap] | None:
        """(first byte, end byte, mapping start, mapping) of an array that views one of the mappings."""
        if not isinstance(array, np.ndarray) or array.size == 0:
            return None
        lo = array.__array_interface__["data"][0]
        hi = lo + array.nbytes if array.flags.c_contiguous else lo + sum(
            (n - 1) * abs(s) for n, s in zip(array.shape, array.strides)) + array.itemsize
        for start, end, mm in self._ranges:
            if start <= lo < end and not mm.closed:
                return lo, min(hi, end), start, mm
        return None

    def views(self, array) -> bool:
        """Whether ``array`` reads its values from one of the file mappings."""
        return self._mapping_of(array) is not None

    def release(self, arrays) -> None:
        page = mmap.PAGESIZE
        for array in arrays:
            found = self._mapping_of(array)
            if found is None:
                continue
            lo, hi, start, mm = found
            first = (lo - start) // page * page
            try:
                mm.madvise(mmap.MADV_DONTNEED, first, hi - start - first)
            except (OSError, ValueError):
                pass


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
