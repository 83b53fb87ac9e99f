"""Turning what users pass as token ids (lists, numpy, torch tensors, tokenizer outputs) into the
(B, T) int64 C-contiguous arrays the core takes, with errors that name the argument and the problem.

Range checks (ids < vocab_size, ...) happen in the core, which knows the model's sizes.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np


def _to_numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, possibly requiring grad
        value = value.detach().cpu()
    try:
        arr = np.asarray(value)
    except ValueError as e:  # numpy refuses ragged nested lists
        raise ValueError(
            f"{name}: sequences have different lengths ({e}); pad them to one length and pass an attention_mask"
        ) from None
    if arr.dtype == object:
        raise ValueError(
            f"{name}: could not be read as a rectangular array of integers (ragged lists or mixed types); "
            "pad the sequences to one length and pass an attention_mask"
        )
    return arr


def as_token_array(value: Any, name: str, allow_float_01: bool = False) -> np.ndarray:
    """A (B, T) int64 C-contiguous array from ``value``; a 1-D sequence becomes a batch of one."""
    arr = _to_numpy(value, name)
    if arr.size == 0 and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        arr = arr.astype(np.int64)  # numpy reads [] and [[]] as float64: they are empty, not floats
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (batch, tokens) or 1-D (tokens), got shape {tuple(arr.shape)}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.floating) and allow_float_01:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name}: a float mask must hold only 0 and 1")
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.unsignedinteger) and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} contains a value too large for int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def encoder_inputs(
    input_ids: Any,
    attention_mask: Any = None,
    token_type_ids: Any = None,
    position_ids: Any = None,
) -> tuple[np.ndarray, Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]:
    """All four inputs as (B, T) int64 arrays (None stays None), their shapes checked against input_ids."""
    if input_ids is None:
        raise ValueError("input_ids is required (inputs_embeds is not supported)")
    ids = as_token_array(input_ids, "input_ids")
    if ids.shape[1] == 0:
        raise ValueError("input_ids has no tokens (shape {}); every sequence needs at least one".format(ids.shape))
    out = [ids]
    for name, value, allow_float in (
        ("attention_mask", attention_mask, True),
        ("token_type_ids", token_type_ids, False),
        ("position_ids", position_ids, False),
    ):
        if value is None:
            out.append(None)
            continue
        if name == "attention_mask":
            value = _to_numpy(value, name)
            if value.ndim > 2:  # transformers adds these to the scores as they are; the core masks keys
                raise ValueError(
                    f"attention_mask has shape {tuple(value.shape)}: pybertcore takes the 2-D (batch, tokens) "
                    f"padding mask (1 for real tokens, 0 for padding), not a {value.ndim}-D mask over heads or queries"
                )
        arr = as_token_array(value, name, allow_float_01=allow_float)
        if name == "position_ids" and arr.shape[0] == 1 and ids.shape[0] != 1 and arr.shape[1] == ids.shape[1]:
            arr = np.ascontiguousarray(np.broadcast_to(arr, ids.shape))  # (1, T) applies to every sequence
        if arr.shape != ids.shape:
            raise ValueError(f"{name} has shape {tuple(arr.shape)} but input_ids has shape {tuple(ids.shape)}")
        out.append(arr)
    return tuple(out)  # type: ignore[return-value]
