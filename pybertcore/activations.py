"""transformers' activation names (``hidden_act``) mapped onto the activations the C++ core implements."""

from __future__ import annotations

from pybertcore._core import Activation
from pybertcore.untrusted import describe

# Several transformers names compute the same function: gelu_new, gelu_pytorch_tanh and gelu_fast are all
# the tanh approximation of GELU (written differently, equal to fp32 rounding).
ACTIVATIONS: dict[str, Activation] = {
    "gelu": Activation.gelu_erf,
    "gelu_python": Activation.gelu_erf,
    "gelu_new": Activation.gelu_tanh,
    "gelu_pytorch_tanh": Activation.gelu_tanh,
    "gelu_fast": Activation.gelu_tanh,
    "quick_gelu": Activation.quick_gelu,
    "relu": Activation.relu,
    "silu": Activation.silu,
    "swish": Activation.silu,
    "tanh": Activation.tanh,
    "linear": Activation.identity,
}


def activation_from_name(name: object, field: str = "hidden_act") -> Activation:
    """The core's activation for a transformers name; ValueError naming ``field`` otherwise."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(
            f"{field}: activation {describe(name)} is not implemented by pybertcore; "
            f"supported: {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[name]
