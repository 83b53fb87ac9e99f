"""GteConfig: transformers' field names and defaults (gte-multilingual-base: post-LayerNorm layers with
rotary positions θ = 160000, a gated GELU FFN, 8192 positions, one token type).

Hub checkpoints of the original remote code (``model_type: "new"``, ``NewModel``) are read through
models/hub_configs.py; their NTK rope scaling (``rope_scaling: {"type": "ntk", "factor": f}``) becomes
``rope_parameters: {"rope_type": "ntk", "rope_theta": θ, "factor": f}``, computed as the remote code's
NTKScalingRotaryEmbedding does (a pybertcore extension: transformers' GteConfig has no such rope type)."""

from __future__ import annotations

from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import (
    check_heads_divide,
    check_initializer_range,
    check_layer_norm_eps,
    check_non_negative_int,
    check_positive_int,
)
from pybertcore.models.hub_configs import GTE_NEW, translate
from pybertcore.models.rotary_config import rotary_base, take_rope_parameters


class GteConfig(PretrainedConfig):
    """Configuration of a GTE encoder."""

    model_type = "gte"
    default_theta = 160000.0
    _defaults: dict[str, Any] = {
        "vocab_size": 250048,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 8192,
        "type_vocab_size": 1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 1,
        "classifier_dropout": None,
        "bos_token_id": None,
        "eos_token_id": None,
        "tie_word_embeddings": True,
        "rope_parameters": None,
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs = translate(type(self).__name__, kwargs, GTE_NEW)
        kwargs["rope_parameters"] = take_rope_parameters(kwargs, self.default_theta)
        super().__init__(**kwargs)

    def validate(self) -> None:
        super().validate()
        check_positive_int(
            self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings",
        )
        check_non_negative_int(self, "type_vocab_size")
        check_heads_divide(self, "hidden_size", "num_attention_heads")
        activation_from_name(self.hidden_act, "hidden_act")
        check_layer_norm_eps(self)
        check_initializer_range(self)
        rotary_base(type(self).__name__, self.rope_parameters)
