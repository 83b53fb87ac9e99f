"""BertConfig: transformers' field names and defaults, checked against what the core can run."""

from __future__ import annotations

from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig


def check_positive_int(config: PretrainedConfig, *fields: str) -> None:
    for field in fields:
        value = getattr(config, field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{field}: expected a positive integer, got {value!r}")


class BertConfig(PretrainedConfig):
    """Configuration of a BERT encoder (defaults: bert-base-uncased)."""

    model_type = "bert"
    _defaults: dict[str, Any] = {
        "vocab_size": 30522,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "classifier_dropout": None,
        "is_decoder": False,
        "add_cross_attention": False,
        "bos_token_id": None,
        "eos_token_id": None,
        "tie_word_embeddings": True,
    }

    def validate(self) -> None:
        super().validate()
        check_positive_int(
            self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings",
        )
        if isinstance(self.type_vocab_size, bool) or not isinstance(self.type_vocab_size, int) or self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size: expected a non-negative integer, got {self.type_vocab_size!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size: {self.hidden_size} is not a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        activation_from_name(self.hidden_act, "hidden_act")
        if self.position_embedding_type != "absolute":
            raise ValueError(
                f"position_embedding_type: {self.position_embedding_type!r} is not implemented by pybertcore; "
                "only 'absolute' is"
            )
        if self.is_decoder:
            raise ValueError("is_decoder: pybertcore runs encoders only; decoder configs are not supported")
        if self.add_cross_attention:
            raise ValueError("add_cross_attention: cross-attention (encoder-decoder use) is not supported")
        if not isinstance(self.layer_norm_eps, (int, float)) or self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps: expected a positive number, got {self.layer_norm_eps!r}")
