"""RobertaConfig: transformers' field names and defaults (roberta-base's vocabulary and special ids)."""

from __future__ import annotations

from typing import Any

from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import check_bert_like
from pybertcore.untrusted import describe

# transformers' RobertaConfig fields and defaults; XLM-R and CamemBERT share the names.
ROBERTA_DEFAULTS: dict[str, Any] = {
    "vocab_size": 50265,
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
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "use_cache": True,
    "classifier_dropout": None,
    "is_decoder": False,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
}


class RobertaConfig(PretrainedConfig):
    """Configuration of a RoBERTa encoder. Positions start after ``pad_token_id`` (the padding index)."""

    model_type = "roberta"
    _defaults: dict[str, Any] = ROBERTA_DEFAULTS

    def validate(self) -> None:
        super().validate()
        check_bert_like(self)
        pad = self.pad_token_id
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < self.max_position_embeddings - 1:
            raise ValueError(
                f"pad_token_id: {describe(pad)} is the padding index positions start after; it must be an integer in "
                f"[0, max_position_embeddings - 1) = [0, {self.max_position_embeddings - 1})"
            )
