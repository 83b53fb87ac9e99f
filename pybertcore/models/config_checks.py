"""Checks shared by the family configs, and whether the model a config describes fits in memory.

A config the core cannot run raises ValueError naming the field, expected vs found: sizes are positive
integers that fit the core's int (it indexes with int32), ``initializer_range`` a finite non-negative
number, ``layer_norm_eps`` a finite positive one. Field types are checked by ``PretrainedConfig.validate``.

``check_model_size`` is for the model's construction, not the config's: a ``BertConfig(vocab_size=10**12)``
is a valid object (transformers builds one too; it is the model that allocates), but building its
model, from code or from_pretrained, must fail before the first numpy allocation. It counts every
parameter the model class would allocate, as exact Python ints, from the family's layout and head, and
raises MemoryError naming the field that dominates when they cannot fit in this process.
"""

from __future__ import annotations

import math
from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import INT32_MAX, PretrainedConfig
from pybertcore.memory import check_allocation
from pybertcore.untrusted import describe


def _size_error(config: PretrainedConfig, field: str, kind: str, value: Any) -> ValueError:
    return ValueError(f"{type(config).__name__}: {field}: expected {kind} (at most {INT32_MAX}, the core's int), "
                      f"found {describe(value)}")


def check_positive_int(config: PretrainedConfig, *fields: str) -> None:
    for field in fields:
        value = getattr(config, field)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= INT32_MAX:
            raise _size_error(config, field, "a positive integer", value)


def check_non_negative_int(config: PretrainedConfig, field: str) -> None:
    value = getattr(config, field)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        raise _size_error(config, field, "a non-negative integer", value)


def check_heads_divide(config: PretrainedConfig, hidden_field: str, heads_field: str) -> None:
    hidden, heads = getattr(config, hidden_field), getattr(config, heads_field)
    if hidden % heads != 0:
        raise ValueError(f"{hidden_field}: {hidden} is not a multiple of {heads_field} ({heads})")


def check_layer_norm_eps(config: PretrainedConfig, field: str = "layer_norm_eps") -> None:
    value = getattr(config, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{field}: expected a positive number, got {describe(value)}")


def check_initializer_range(config: PretrainedConfig) -> None:
    """The standard deviation of random weights: numpy refuses a negative one, NaN would fill the model."""
    value = getattr(config, "initializer_range", 0.02)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValueError(f"{type(config).__name__}: initializer_range: expected a finite non-negative number, "
                         f"found {describe(value)}")


def check_encoder_only(config: PretrainedConfig) -> None:
    """Fields some checkpoints carry that select variants the core does not run."""
    position_embedding_type = getattr(config, "position_embedding_type", "absolute")
    if position_embedding_type != "absolute":
        raise ValueError(
            f"position_embedding_type: {describe(position_embedding_type)} is not implemented by pybertcore; "
            "only 'absolute' is"
        )
    if getattr(config, "is_decoder", False):
        raise ValueError("is_decoder: pybertcore runs encoders only; decoder configs are not supported")
    if getattr(config, "add_cross_attention", False):
        raise ValueError("add_cross_attention: cross-attention (encoder-decoder use) is not supported")


def check_bert_like(config: PretrainedConfig) -> None:
    """BERT's field names: BERT, RoBERTa, XLM-R, CamemBERT, ELECTRA, ALBERT."""
    check_positive_int(
        config, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "max_position_embeddings",
    )
    check_non_negative_int(config, "type_vocab_size")
    check_heads_divide(config, "hidden_size", "num_attention_heads")
    activation_from_name(config.hidden_act, "hidden_act")
    check_encoder_only(config)
    check_layer_norm_eps(config)
    check_initializer_range(config)


# --- the model's size ------------------------------------------------------------------------------

# The config field behind each of the core's sizes (EncoderDims), by family spelling: the first one the
# config class declares names it in messages.
_DIM_FIELDS = {
    "V": ("vocab_size",),
    "P": ("max_position_embeddings",),
    "TV": ("type_vocab_size",),
    "E": ("embedding_size", "hidden_size", "dim"),
    "H": ("hidden_size", "dim"),
    "I": ("intermediate_size", "hidden_dim"),
    "L": ("num_hidden_layers", "n_layers"),
    "groups": ("num_hidden_groups", "num_hidden_layers", "n_layers"),
    "inner": ("inner_group_num",),
}
# Bytes per layer the core runs, beyond its weights: the layer map's Python list entry and C++ int.
_BYTES_PER_LAYER_RUN = 12
# Layers the core runs at most. ALBERT shares one layer's weights among num_hidden_layers, so its memory
# check cannot stop num_hidden_layers=10**9: building that layer map alone took minutes, and a forward pass
# through it would take years. The deepest published encoders run a few hundred layers.
MAX_LAYERS_RUN = 1 << 16


def _field(config: PretrainedConfig, dim: str, value: int) -> str:
    declared = type(config)._defaults
    name = next((f for f in _DIM_FIELDS[dim] if f in declared), dim)
    return f"{name}={value}"


def config_flag_holds(flag: Any, config: PretrainedConfig) -> bool:
    """A head step's ``when``: None (always), a boolean config field, or "!<field>" (its negation)."""
    if not flag:
        return True
    negated = flag.startswith("!")
    return bool(getattr(config, flag.lstrip("!"), False)) is not negated


def parameter_counts(config: PretrainedConfig, model_class: type) -> list[tuple[int, str]]:
    """(parameters, what they are, naming the config fields) for every weight ``model_class(config)``
    allocates, as exact ints; [] for a class without an encoder layout."""
    layout = getattr(model_class, "layout", None)
    if layout is None:
        return []
    d = layout.dims(config)
    for dim in ("V", "P", "TV", "E", "H", "I", "L", "groups", "inner"):
        value = getattr(d, dim)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{type(config).__name__}: {_field(config, dim, describe(value))}: expected a "
                             "non-negative integer")
    V, P, TV, E, H, I = d.V, d.P, d.TV, d.E, d.H, d.I  # noqa: E741 (the dimension letters of encoder_model)
    f = lambda dim, value: _field(config, dim, value)  # noqa: E731
    counts = [(V * E, f"{f('V', V)} × {f('E', E)} (the word embeddings)"), (2 * E, "the embedding LayerNorm")]
    if layout.position_embeddings is not None and d.positions:
        counts.append((P * E, f"{f('P', P)} × {f('E', E)} (the position embeddings)"))
    if layout.token_type_embeddings is not None and TV > 0:
        counts.append((TV * E, f"{f('TV', TV)} × {f('E', E)} (the token type embeddings)"))
    if layout.embedding_projection is not None and d.projection:
        counts.append((E * H + H, f"{f('E', E)} × {f('H', H)} (the embedding projection)"))
    per_layer = 4 * H * H + 2 * H * I + 9 * H + I  # q, k, v, output, FFN in and out, biases, two LayerNorms
    if layout.gated_ffn:
        per_layer += H * I + I  # the gate
    sets = f"{f('groups', d.groups)} × {f('inner', d.inner)}" if d.inner != 1 or d.groups != d.L else f('L', d.L)
    counts.append((d.groups * d.inner * per_layer,
                   f"{sets} layers of 4 × {f('H', H)}² + 2 × {f('H', H)} × {f('I', I)} (the encoder layers)"))
    relative = layout.disentangled(config, d) if layout.disentangled else None
    if relative is not None:  # DeBERTa: the shared relative table and each layer's position projections
        omitted = layout.omitted_roles(config) if layout.omitted_roles else frozenset()
        projections = sum(role not in omitted for role in ("pos_key", "pos_query"))
        counts.append((relative.rows * H + d.L * projections * (H * H + H),
                       f"{relative.rows} relative positions × {f('H', H)} and {f('L', d.L)} layers of "
                       f"{projections} position projections"))
    head = getattr(model_class, "head_spec", None)
    if layout.pooler is not None and (head is None or head.input == "pooled"):
        counts.append((H * H + H, f"{f('H', H)}² (the pooler)"))
    if head is not None:
        counts += _head_counts(config, head, d)
    return counts


def _head_counts(config: PretrainedConfig, head: Any, d: Any) -> list[tuple[int, str]]:
    """A head's steps (models/heads.py: Linear, Norm, Bias) as parameter counts."""
    def size(value: Any) -> tuple[int, str]:
        if isinstance(value, int):
            return value, str(value)
        if value == "num_labels":
            return config.num_labels, f"num_labels={config.num_labels}"
        return getattr(d, value), f(value, getattr(d, value))

    f = lambda dim, value: _field(config, dim, value)  # noqa: E731
    tie = bool(getattr(config, "tie_word_embeddings", True))
    counts = []
    for step in head.steps:
        if not config_flag_holds(getattr(step, "when", None), config) or not hasattr(step, "name"):
            continue  # a step without parameters of its own (EmbeddingDecoder)
        if hasattr(step, "out"):  # Linear
            (out, out_text), (inp, inp_text) = size(step.out), size(step.inp)
            weight = 0 if step.tied_weight and tie else out * inp
            bias = 0 if step.tied_bias and tie else out
            counts.append((weight + bias, f"{out_text} × {inp_text} (the head's {step.name})"))
        else:  # Norm (a weight and a bias) or Bias
            n, text = size(step.size)
            counts.append((2 * n if type(step).__name__ == "Norm" else n, f"{text} (the head's {step.name})"))
    return counts


def check_model_size(config: PretrainedConfig, model_class: type) -> None:
    """Raises before ``model_class(config)`` allocates anything it cannot hold: MemoryError naming the
    dominant field when the float32 parameters (plus the layer map) need more memory than this process can
    still allocate, ValueError when the model would run more than MAX_LAYERS_RUN layers."""
    counts = parameter_counts(config, model_class)
    if not counts:
        return
    d = model_class.layout.dims(config)
    total = sum(n for n, _ in counts)
    largest = max(counts, key=lambda c: c[0])[1]
    check_allocation(
        4 * total + _BYTES_PER_LAYER_RUN * d.L * d.inner,
        f"{model_class.__name__}({type(config).__name__}): float32 storage for {total:,} parameters, "
        f"mostly {largest},",
    )
    if d.L * d.inner > MAX_LAYERS_RUN:
        layers = _field(config, "L", d.L) + (f" × {_field(config, 'inner', d.inner)}" if d.inner != 1 else "")
        raise ValueError(
            f"{type(config).__name__}: {layers} layers = {d.L * d.inner}: pybertcore runs at most {MAX_LAYERS_RUN} "
            "layers (the deepest published encoders run a few hundred)"
        )
