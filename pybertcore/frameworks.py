"""Which array framework a call speaks: outputs follow the inputs, as optimum's ORTModel classes do.

torch tensors in → torch tensors out (``torch.from_numpy`` on our own buffers: zero-copy, CPU, float32);
numpy arrays or lists in → numpy out. torch is imported only when the caller handed a torch object (it is
then imported already) or asked for torch by name (``return_tensors="pt"``): ``import pybertcore`` never
imports it, and nothing here needs it at run time.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np


def is_torch_tensor(value: Any) -> bool:
    """A torch.Tensor (or Parameter), recognised without importing torch."""
    return type(value).__module__.split(".", 1)[0] == "torch" and hasattr(value, "detach")


def any_torch(values: Any) -> bool:
    return any(is_torch_tensor(v) for v in values)


def import_torch(purpose: str) -> Any:
    """torch, or an ImportError that says what needed it and that the rest works without it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{purpose} needs PyTorch, which is not installed. pybertcore itself runs without it: use numpy "
            "instead (return_tensors=\"np\"), or install torch (pip install torch)."
        ) from None
    return torch


def to_torch(value: Any) -> Any:
    """numpy arrays inside ``value`` (a ModelOutput, a tuple, a dict or an array) as torch tensors sharing
    their memory; anything else unchanged."""
    if isinstance(value, np.ndarray):
        import torch  # already imported: the caller passed a torch tensor or asked for "pt"

        if not value.flags.writeable:  # torch.from_numpy warns on read-only arrays; ours are copies then
            value = value.copy()
        return torch.from_numpy(value)
    if isinstance(value, tuple):
        return tuple(to_torch(v) for v in value)
    if isinstance(value, dict):
        converted = {k: to_torch(v) for k, v in value.items()}
        if type(value) is dict:
            return converted
        for k, v in converted.items():  # a ModelOutput: same class, fields replaced in place
            value[k] = v
        return value
    return value


def follows_input_framework(forward: Callable) -> Callable:
    """Wraps a model's forward: when any argument is a torch tensor, the result's arrays become tensors."""

    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = forward(self, *args, **kwargs)
        if any_torch(args) or any_torch(kwargs.values()):
            return to_torch(result)
        return result

    return wrapper
