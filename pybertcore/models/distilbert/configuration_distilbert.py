"""DistilBertConfig: transformers' field names (dim, n_layers, n_heads, hidden_dim, activation) and
defaults, with transformers' aliases (hidden_size → dim, num_attention_heads → n_heads,
num_hidden_layers → n_layers) readable, writable and accepted as keyword arguments."""

from __future__ import annotations

from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import check_heads_divide, check_initializer_range, check_positive_int


class DistilBertConfig(PretrainedConfig):
    """Configuration of a DistilBERT encoder (no token types, no pooler, LayerNorm eps fixed at 1e-12)."""

    model_type = "distilbert"
    attribute_map = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}
    _defaults: dict[str, Any] = {
        "vocab_size": 30522,
        "max_position_embeddings": 512,
        "sinusoidal_pos_embds": False,
        "n_layers": 6,
        "n_heads": 12,
        "dim": 768,
        "hidden_dim": 4 * 768,
        "dropout": 0.1,
        "attention_dropout": 0.1,
        "activation": "gelu",
        "initializer_range": 0.02,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "pad_token_id": 0,
        "eos_token_id": None,
        "bos_token_id": None,
        "tie_word_embeddings": True,
    }

    def __init__(self, **kwargs: Any) -> None:
        for alias, field in self.attribute_map.items():
            if alias in kwargs:
                kwargs[field] = kwargs.pop(alias)
        super().__init__(**kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(self.attribute_map.get(name, name), value)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        field = type(self).attribute_map.get(name)
        if field is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return getattr(self, field)

    def validate(self) -> None:
        super().validate()
        check_positive_int(self, "vocab_size", "max_position_embeddings", "n_layers", "n_heads", "dim", "hidden_dim")
        check_heads_divide(self, "dim", "n_heads")
        activation_from_name(self.activation, "activation")
        check_initializer_range(self)
