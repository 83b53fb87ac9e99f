"""What every checkpoint format shares: the error type, dtype tables, bf16 decoding, file mappings.

Arrays read from files are views of a read-only ``mmap`` of the file wherever the stored layout allows
(no copy until the model converts what it needs); ``release_pages`` drops the mapped pages from the
process's resident set once the weights have been packed, without unmapping them.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np


class CheckpointError(ValueError):
    """A weights file that cannot be read: missing, truncated, corrupt, unsafe or of an unsupported kind."""


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values stored as uint16 bit patterns → float32 (exact: bf16 is the top half of an f32)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


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


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
