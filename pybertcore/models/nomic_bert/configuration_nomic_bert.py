"""NomicBertConfig: transformers' field names and defaults (nomic-embed-text-v1.5: post-LayerNorm layers
with rotary positions, SwiGLU, no biases, token types, 2048 positions).

Hub checkpoints written for the remote code (``n_embd``, ``n_head``, ``n_inner``, ``n_layer``,
``n_positions``, ``rotary_emb_base``, ``layer_norm_epsilon``, ``activation_function``) are read through
models/hub_configs.py."""

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
from pybertcore.models.hub_configs import NOMIC_REMOTE, translate
from pybertcore.models.rotary_config import rope_theta, take_rope_parameters
from pybertcore.untrusted import describe


class NomicBertConfig(PretrainedConfig):
    """Configuration of a NomicBERT encoder."""

    model_type = "nomic_bert"
    default_theta = 1000.0
    _defaults: dict[str, Any] = {
        "vocab_size": 30528,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "silu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 2048,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "classifier_dropout": None,
        "bos_token_id": None,
        "eos_token_id": None,
        "rope_parameters": None,
        "head_dim": None,
    }
    # transformers keeps this one as a class attribute: the input embeddings are always tied to the decoder
    tie_word_embeddings = True

    def __init__(self, **kwargs: Any) -> None:
        kwargs = translate(type(self).__name__, kwargs, NOMIC_REMOTE)
        kwargs["rope_parameters"] = take_rope_parameters(kwargs, self.default_theta)
        tie = kwargs.pop("tie_word_embeddings", True)
        super().__init__(**kwargs)
        if not tie:
            self.__dict__["tie_word_embeddings"] = False
        if self.head_dim is None and isinstance(self.hidden_size, int) and isinstance(self.num_attention_heads, int) \
                and self.num_attention_heads > 0:
            self.head_dim = self.hidden_size // self.num_attention_heads

    def validate(self) -> None:
        super().validate()
        check_positive_int(
            self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings",
        )
        check_non_negative_int(self, "type_vocab_size")
        check_heads_divide(self, "hidden_size", "num_attention_heads")
        check_head_dim(self)
        activation_from_name(self.hidden_act, "hidden_act")
        check_layer_norm_eps(self)
        check_initializer_range(self)
        rope_theta(type(self).__name__, self.rope_parameters)


def check_head_dim(config: PretrainedConfig) -> None:
    """The core's heads split hidden_size evenly: a head_dim other than hidden_size // num_attention_heads
    (projections wider or narrower than the hidden size) is refused by name."""
    head_dim = getattr(config, "head_dim", None)
    even = config.hidden_size // config.num_attention_heads
    if head_dim is not None and head_dim != even:
        raise ValueError(
            f"{type(config).__name__}: head_dim {describe(head_dim)} differs from hidden_size // num_attention_heads "
            f"= {even}; pybertcore runs heads that split the hidden size evenly"
        )
