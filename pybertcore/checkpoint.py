"""Reading and writing weight files: safetensors, with errors that name the file and the problem.

Tensors come back as numpy arrays in the dtype they were stored in; callers convert to the compute type.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SAFE_WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A weights file that cannot be read: missing, truncated, corrupt or of an unsupported kind."""


def load_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file, by name."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    size = path.stat().st_size
    if size < 8:
        raise CheckpointError(f"{path}: truncated safetensors file ({size} bytes, less than its 8-byte header)")
    try:
        tensors = {}
        with safe_open(str(path), framework="numpy") as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
        return tensors
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None


def save_safetensors(tensors: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Writes tensors with the ``{"format": "pt"}`` metadata transformers requires of its checkpoints."""
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata={"format": "pt"})
