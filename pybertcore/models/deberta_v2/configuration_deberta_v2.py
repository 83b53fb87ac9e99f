"""DebertaV2Config: transformers' field names and defaults (those of deberta-v2-xlarge; DeBERTa-v3 checkpoints
set relative_attention, position_buckets 256, share_att_key, pos_att_type "p2c|c2p", norm_rel_ebd
"layer_norm" and position_biased_input false in their config.json).

The fields transformers reads with getattr and a default of its own (position_buckets, share_att_key,
norm_rel_ebd, embedding_size, attention_head_size, conv_kernel_size) are extras here too, read through
the helpers below with those defaults. ``pos_att_type`` given as "p2c|c2p" becomes the list transformers
makes of it."""

from __future__ import annotations

from typing import Any

from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.models.config_checks import (
    check_encoder_only,
    check_heads_divide,
    check_initializer_range,
    check_layer_norm_eps,
    check_non_negative_int,
    check_positive_int,
)
from pybertcore.untrusted import describe

POSITION_TERMS = ("c2p", "p2c")


class DebertaV2Config(PretrainedConfig):
    """Configuration of a DeBERTa-v2 (and v3) encoder: disentangled attention over relative positions."""

    model_type = "deberta-v2"
    _defaults: dict[str, Any] = {
        "vocab_size": 128100,
        "hidden_size": 1536,
        "num_hidden_layers": 24,
        "num_attention_heads": 24,
        "intermediate_size": 6144,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512,
        "type_vocab_size": 0,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-7,
        "relative_attention": False,
        "max_relative_positions": -1,
        "pad_token_id": 0,
        "bos_token_id": None,
        "eos_token_id": None,
        "position_biased_input": True,
        "pos_att_type": None,
        "pooler_dropout": 0.0,
        "pooler_hidden_act": "gelu",
        "legacy": True,
        "tie_word_embeddings": True,
    }

    def __init__(self, **kwargs: Any) -> None:
        terms = kwargs.get("pos_att_type")
        if isinstance(terms, str):  # the "p2c|c2p" form older checkpoints use
            kwargs["pos_att_type"] = [t.strip() for t in terms.lower().split("|")]
        kwargs.setdefault("pooler_hidden_size", kwargs.get("hidden_size", self._defaults["hidden_size"]))
        super().__init__(**kwargs)

    # --- the fields transformers reads with getattr(config, name, default) -------------------------------
    @property
    def embedding_width(self) -> int:
        return getattr(self, "embedding_size", None) or self.hidden_size

    def relative_span(self) -> int:
        """Relative positions per side: position_buckets when bucketed, else max_relative_positions
        (max_position_embeddings when below 1)."""
        buckets = getattr(self, "position_buckets", -1)
        return buckets if buckets > 0 else self.relative_limit()

    def relative_limit(self) -> int:
        return self.max_relative_positions if self.max_relative_positions >= 1 else self.max_position_embeddings

    def position_terms(self) -> tuple[str, ...]:
        """The disentangled terms in use ("c2p", "p2c"): none without relative_attention."""
        if not self.relative_attention:
            return ()
        return tuple(t for t in POSITION_TERMS if t in (self.pos_att_type or ()))

    def validate(self) -> None:
        super().validate()
        check_positive_int(
            self, "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "max_position_embeddings", "pooler_hidden_size",
        )
        check_non_negative_int(self, "type_vocab_size")
        check_heads_divide(self, "hidden_size", "num_attention_heads")
        activation_from_name(self.hidden_act, "hidden_act")
        activation_from_name(self.pooler_hidden_act, "pooler_hidden_act")
        check_encoder_only(self)
        check_layer_norm_eps(self)
        check_initializer_range(self)
        for field in ("relative_attention", "position_biased_input", "legacy"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"DebertaV2Config: {field}: expected a boolean, found {describe(getattr(self, field))}")
        terms = self.pos_att_type
        if terms is not None and (not isinstance(terms, (list, tuple)) or not all(isinstance(t, str) for t in terms)):
            raise ValueError(f"DebertaV2Config: pos_att_type: expected a list of 'c2p' / 'p2c' or a string "
                             f"such as 'p2c|c2p', found {describe(terms)}")
        unknown = [t for t in terms or () if t not in POSITION_TERMS]
        if unknown:
            raise ValueError(f"DebertaV2Config: pos_att_type: unknown terms {unknown}; DeBERTa-v2 has "
                             f"{list(POSITION_TERMS)}")
        for field, default in (("position_buckets", -1), ("conv_kernel_size", 0)):
            value = getattr(self, field, default)
            if isinstance(value, bool) or not isinstance(value, int) or not -(1 << 31) < value < (1 << 31):
                raise ValueError(f"DebertaV2Config: {field}: expected an integer, found {describe(value)}")
        if isinstance(self.max_relative_positions, bool) or not isinstance(self.max_relative_positions, int):
            raise ValueError(f"DebertaV2Config: max_relative_positions: expected an integer, found "
                             f"{describe(self.max_relative_positions)}")
        if not isinstance(getattr(self, "share_att_key", False), bool):
            raise ValueError(f"DebertaV2Config: share_att_key: expected a boolean, found "
                             f"{describe(getattr(self, 'share_att_key'))}")
        norm = getattr(self, "norm_rel_ebd", "none")
        if not isinstance(norm, str):
            raise ValueError(f"DebertaV2Config: norm_rel_ebd: expected a string such as 'layer_norm', found "
                             f"{describe(norm)}")
        width = getattr(self, "embedding_size", None)
        if width is not None:
            check_positive_int(self, "embedding_size")
        if self.pooler_hidden_size != self.hidden_size:
            raise ValueError(f"DebertaV2Config: pooler_hidden_size ({describe(self.pooler_hidden_size)}) must equal "
                             f"hidden_size ({self.hidden_size}): transformers' ContextPooler reads the hidden state")
        head_size = getattr(self, "attention_head_size", None)
        if head_size is not None and head_size != self.hidden_size // self.num_attention_heads:
            raise ValueError(f"DebertaV2Config: attention_head_size {describe(head_size)} differs from hidden_size / "
                             f"num_attention_heads ({self.hidden_size // self.num_attention_heads}); pybertcore runs "
                             "heads of that size only")
        if getattr(self, "conv_kernel_size", 0) > 0:
            raise ValueError(f"DebertaV2Config: conv_kernel_size {self.conv_kernel_size}: the convolution layer of the "
                             "larger DeBERTa-v2 models (deberta-v2-xlarge, -xxlarge) is not supported by pybertcore")
        if self.relative_attention and self.relative_span() < 1:
            raise ValueError("DebertaV2Config: relative attention needs position_buckets or max_relative_positions "
                             "(or max_position_embeddings) of at least 1")
