"""ModernBertConfig: transformers' field names and defaults (ModernBERT-base: 22 pre-LayerNorm layers,
every third one global, the others attending to ±64 tokens, rotary θ 160000 global / 10000 local, GeGLU,
no biases, 8192 positions).

Hub checkpoints older than transformers 5 give the layer pattern as ``global_attn_every_n_layers`` and
the thetas as ``global_rope_theta`` / ``local_rope_theta``: read here as transformers reads them (the
first kept as an extra key, as transformers keeps it)."""

from __future__ import annotations

import copy
from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import (
    check_heads_divide,
    check_initializer_range,
    check_layer_norm_eps,
    check_positive_int,
)
from pybertcore.models.rotary_config import rope_theta
from pybertcore.untrusted import describe

LAYER_TYPES = ("full_attention", "sliding_attention")


class ModernBertConfig(PretrainedConfig):
    """Configuration of a ModernBERT encoder."""

    model_type = "modernbert"
    default_theta = {"global": 160000.0, "local": 10000.0}
    _defaults: dict[str, Any] = {
        "vocab_size": 50368,
        "hidden_size": 768,
        "intermediate_size": 1152,
        "num_hidden_layers": 22,
        "num_attention_heads": 12,
        "hidden_activation": "gelu",
        "max_position_embeddings": 8192,
        "initializer_range": 0.02,
        "initializer_cutoff_factor": 2.0,
        "norm_eps": 1e-05,
        "norm_bias": False,
        "pad_token_id": 50283,
        "eos_token_id": 50282,
        "bos_token_id": 50281,
        "cls_token_id": 50281,
        "sep_token_id": 50282,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "layer_types": None,
        "rope_parameters": None,
        "local_attention": 128,
        "embedding_dropout": 0.0,
        "mlp_bias": False,
        "mlp_dropout": 0.0,
        "decoder_bias": True,
        "classifier_pooling": "cls",
        "classifier_dropout": 0.0,
        "classifier_bias": False,
        "classifier_activation": "gelu",
        "deterministic_flash_attn": False,
        "sparse_prediction": False,
        "sparse_pred_ignore_index": -100,
        "tie_word_embeddings": True,
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("reference_compile", None)  # a torch.compile switch transformers drops too
        global_theta = kwargs.pop("global_rope_theta", self.default_theta["global"])
        local_theta = kwargs.pop("local_rope_theta", self.default_theta["local"])
        rope_scaling = kwargs.pop("rope_scaling", None)
        layers = kwargs.get("num_hidden_layers", self._defaults["num_hidden_layers"])
        if kwargs.get("layer_types") is None and isinstance(layers, int) and not isinstance(layers, bool) \
                and 0 <= layers <= 1 << 16:
            every = kwargs.get("global_attn_every_n_layers", 3)  # kept as an extra key, as transformers keeps it
            if isinstance(every, bool) or not isinstance(every, int) or every < 1:
                raise ValueError(f"global_attn_every_n_layers: expected a positive integer, found {describe(every)}")
            kwargs["layer_types"] = ["sliding_attention" if i % every else "full_attention" for i in range(layers)]
        rope = copy.deepcopy(kwargs.get("rope_parameters"))
        if rope is None:
            rope = {"sliding_attention": {"rope_type": "default"}, "full_attention": {"rope_type": "default"}}
        if isinstance(rope, dict):
            for kind, theta in (("full_attention", global_theta), ("sliding_attention", local_theta)):
                entry = rope.get(kind)
                if entry is None:
                    entry = rope[kind] = {"rope_type": "default"}
                if isinstance(entry, dict):
                    if rope_scaling is not None:
                        entry.update(rope_scaling)
                    entry.setdefault("rope_theta", theta)
        kwargs["rope_parameters"] = rope
        super().__init__(**kwargs)

    @property
    def sliding_window(self) -> int:
        """Half the local window: a sliding layer's token sees the tokens within ±sliding_window."""
        return self.local_attention // 2

    def validate(self) -> None:
        super().validate()
        owner = type(self).__name__
        check_positive_int(
            self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "local_attention",
        )
        check_heads_divide(self, "hidden_size", "num_attention_heads")
        activation_from_name(self.hidden_activation, "hidden_activation")
        activation_from_name(self.classifier_activation, "classifier_activation")
        check_layer_norm_eps(self, "norm_eps")
        check_initializer_range(self)
        types = self.layer_types
        if not isinstance(types, list) or len(types) != self.num_hidden_layers or any(t not in LAYER_TYPES for t in types):
            raise ValueError(f"{owner}: layer_types: expected a list of {self.num_hidden_layers} entries among "
                             f"{list(LAYER_TYPES)}, found {describe(types)}")
        if not isinstance(self.rope_parameters, dict):
            raise ValueError(f"{owner}: rope_parameters: expected a dict per layer type, found "
                             f"{describe(self.rope_parameters)}")
        for kind in set(types):
            rope_theta(owner, self.rope_parameters.get(kind), f"rope_parameters[{kind!r}]")
        if self.classifier_pooling not in ("cls", "mean"):
            raise ValueError(f"{owner}: classifier_pooling: expected 'cls' or 'mean', found "
                             f"{describe(self.classifier_pooling)}")
