"""MPNetConfig: transformers' field names and defaults (mpnet-base: RoBERTa's sizes, a relative-position
bias of 32 buckets shared by every layer, no token types)."""

from __future__ import annotations

from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import (
    check_encoder_only,
    check_heads_divide,
    check_initializer_range,
    check_layer_norm_eps,
    check_positive_int,
)

MPNET_DEFAULTS: dict[str, Any] = {
    "vocab_size": 30527,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "relative_attention_num_buckets": 32,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "tie_word_embeddings": True,
}


class MPNetConfig(PretrainedConfig):
    """Configuration of an MPNet encoder. Positions start after the padding index, which transformers fixes
    at 1 whatever ``pad_token_id`` says (the tokenizer's pad id still comes from here); attention
    adds a learned bias per head and relative-position bucket (transformers buckets into 32 whatever
    ``relative_attention_num_buckets`` says, and the table must have at least that many rows)."""

    model_type = "mpnet"
    _defaults: dict[str, Any] = MPNET_DEFAULTS

    def validate(self) -> None:
        super().validate()
        check_positive_int(
            self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "relative_attention_num_buckets",
        )
        check_heads_divide(self, "hidden_size", "num_attention_heads")
        activation_from_name(self.hidden_act, "hidden_act")
        check_encoder_only(self)
        check_layer_norm_eps(self)
        check_initializer_range(self)
        if self.relative_attention_num_buckets < 32:
            raise ValueError(
                f"relative_attention_num_buckets: {self.relative_attention_num_buckets} rows, but MPNet's attention "
                "looks up buckets 0..31 (transformers' compute_position_bias always uses 32)"
            )
        if self.max_position_embeddings < 3:
            raise ValueError(
                f"max_position_embeddings: {self.max_position_embeddings}; MPNet's positions start at 2 (after its "
                "padding index 1), so it must be at least 3"
            )
