"""BertConfig: transformers' field names and defaults, checked against what the core can run."""

from __future__ import annotations

from typing import Any

from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import check_bert_like


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
        check_bert_like(self)
