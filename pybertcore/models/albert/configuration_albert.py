"""AlbertConfig: transformers' field names and defaults (albert-xxlarge's sizes, as transformers has them)."""

from __future__ import annotations

from typing import Any

from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import check_bert_like, check_positive_int


class AlbertConfig(PretrainedConfig):
    """Configuration of an ALBERT encoder: factorised embeddings (``embedding_size``) and layers shared
    in ``num_hidden_groups`` groups of ``inner_group_num`` layers."""

    model_type = "albert"
    _defaults: dict[str, Any] = {
        "vocab_size": 30000,
        "embedding_size": 128,
        "hidden_size": 4096,
        "num_hidden_layers": 12,
        "num_hidden_groups": 1,
        "num_attention_heads": 64,
        "intermediate_size": 16384,
        "inner_group_num": 1,
        "hidden_act": "gelu_new",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "classifier_dropout_prob": 0.1,
        "pad_token_id": 0,
        "bos_token_id": 2,
        "eos_token_id": 3,
        "tie_word_embeddings": True,
    }

    def validate(self) -> None:
        super().validate()
        check_bert_like(self)
        check_positive_int(self, "embedding_size", "num_hidden_groups", "inner_group_num")
        if self.num_hidden_groups > self.num_hidden_layers:
            raise ValueError(
                f"num_hidden_groups: {self.num_hidden_groups} groups for {self.num_hidden_layers} layers; "
                "each group needs at least one layer"
            )
