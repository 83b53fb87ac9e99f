"""Checks shared by the family configs: a config the core cannot run raises ValueError naming the field."""

from __future__ import annotations

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig


def check_positive_int(config: PretrainedConfig, *fields: str) -> None:
    for field in fields:
        value = getattr(config, field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{field}: expected a positive integer, got {value!r}")


def check_non_negative_int(config: PretrainedConfig, field: str) -> None:
    value = getattr(config, field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field}: expected a non-negative integer, got {value!r}")


def check_heads_divide(config: PretrainedConfig, hidden_field: str, heads_field: str) -> None:
    hidden, heads = getattr(config, hidden_field), getattr(config, heads_field)
    if hidden % heads != 0:
        raise ValueError(f"{hidden_field}: {hidden} is not a multiple of {heads_field} ({heads})")


def check_layer_norm_eps(config: PretrainedConfig, field: str = "layer_norm_eps") -> None:
    value = getattr(config, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{field}: expected a positive number, got {value!r}")


def check_encoder_only(config: PretrainedConfig) -> None:
    """Fields some checkpoints carry that select variants the core does not run."""
    position_embedding_type = getattr(config, "position_embedding_type", "absolute")
    if position_embedding_type != "absolute":
        raise ValueError(
            f"position_embedding_type: {position_embedding_type!r} is not implemented by pybertcore; "
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
