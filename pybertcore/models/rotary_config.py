"""Rotary-position fields shared by the configs of NomicBERT, GTE and ModernBERT: transformers 5's
``rope_parameters`` (``{"rope_type": "default", "rope_theta": θ}``, per layer type for ModernBERT), read
also from the older top-level ``rope_theta`` that hub checkpoints carry; other rope types (scaled,
dynamic) are refused by name."""

from __future__ import annotations

import math
from typing import Any

from pybertcore.untrusted import describe


def default_rope(theta: float) -> dict[str, Any]:
    return {"rope_theta": float(theta), "rope_type": "default"}


def take_rope_parameters(kwargs: dict[str, Any], default_theta: float) -> dict[str, Any]:
    """``rope_parameters`` from the keyword arguments of a config: given, from a top-level ``rope_theta``
    (popped), or the family's default."""
    theta = kwargs.pop("rope_theta", None)
    rope = kwargs.pop("rope_parameters", None)
    if rope is None:
        rope = default_rope(default_theta if theta is None else theta)
    return rope


def rope_theta(owner: str, rope: Any, where: str = "rope_parameters") -> float:
    """θ of a default rope entry, or ValueError naming what is not supported."""
    if not isinstance(rope, dict):
        raise ValueError(f"{owner}: {where}: expected a dict such as {{'rope_type': 'default', 'rope_theta': "
                         f"10000.0}}, found {describe(rope)}")
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind != "default":
        raise ValueError(f"{owner}: {where}: rope_type {describe(kind)} is not implemented by pybertcore; only "
                         "'default' rotary positions are")
    theta = rope.get("rope_theta")
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not 0 < theta < math.inf:
        raise ValueError(f"{owner}: {where}: rope_theta: expected a positive number, found {describe(theta)}")
    return float(theta)
