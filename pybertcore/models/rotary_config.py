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
    (popped) and the older ``rope_scaling`` (popped; GTE's NTK scaling), or the family's default."""
    theta = kwargs.pop("rope_theta", None)
    scaling = kwargs.pop("rope_scaling", None)
    rope = kwargs.pop("rope_parameters", None)
    if rope is None:
        rope = default_rope(default_theta if theta is None else theta)
        if scaling is not None:
            rope = {**rope, **({k: v for k, v in scaling.items() if k != "type"} if isinstance(scaling, dict) else {}),
                    "rope_type": scaling.get("type", scaling.get("rope_type")) if isinstance(scaling, dict) else scaling}
    return rope


def rope_theta(owner: str, rope: Any, where: str = "rope_parameters") -> float:
    """θ of a 'default' rope entry, or ValueError naming what is not supported."""
    theta, factor = rotary_base(owner, rope, where)
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        raise ValueError(f"{owner}: {where}: rope_type {describe(rope.get('rope_type'))} is not implemented by "
                         "pybertcore for this family; only 'default' rotary positions are")
    return theta


def rotary_base(owner: str, rope: Any, where: str = "rope_parameters") -> tuple[float, float]:
    """(θ, NTK factor) of a rope entry: factor 1 for 'default', the fixed NTK scaling of GTE's remote code
    for 'ntk' (without mixed_b); ValueError naming anything else."""
    if not isinstance(rope, dict):
        raise ValueError(f"{owner}: {where}: expected a dict such as {{'rope_type': 'default', 'rope_theta': "
                         f"10000.0}}, found {describe(rope)}")
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in ("default", "ntk"):
        raise ValueError(f"{owner}: {where}: rope_type {describe(kind)} is not implemented by pybertcore; only "
                         "'default' rotary positions (and GTE's fixed 'ntk' scaling) are")
    theta = rope.get("rope_theta")
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not 0 < theta < math.inf:
        raise ValueError(f"{owner}: {where}: rope_theta: expected a positive number, found {describe(theta)}")
    factor = 1.0
    if kind == "ntk":
        factor = rope.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
            raise ValueError(f"{owner}: {where}: factor: expected a positive number, found {describe(factor)}")
        if rope.get("mixed_b") is not None:
            raise ValueError(f"{owner}: {where}: mixed_b {describe(rope.get('mixed_b'))}: the mixed NTK scaling is "
                             "not implemented by pybertcore")
    return float(theta), float(factor)
