"""ModernBERT: pre-LayerNorm layers (layer 0 reads the embeddings' norm directly) with a final norm,
fused Wqkv and Wi (GeGLU: act of the first half times the second), no biases unless configured, rotary
positions with a θ per layer type, and local layers that attend to ±sliding_window tokens. The heads run
dense → act → norm, then the classifier or the tied decoder; sequence and multiple-choice heads pool by
classifier_pooling ('cls': position 0, or for multiple choice the first real token; 'mean': over real
tokens)."""

from __future__ import annotations

from pybertcore.modeling_outputs import BaseModelOutput
import math
from typing import Callable, Optional

import numpy as np

from pybertcore.models.encoder_model import (
    AttentionPlan,
    EncoderDims,
    EncoderLayout,
    EncoderModel,
    EncoderPreTrainedModel,
    truncated_normal,
)
from pybertcore.models.heads import (
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
)
from pybertcore.models.modernbert.configuration_modernbert import ModernBertConfig
from pybertcore.models.module_trees import MODERNBERT_TREE
from pybertcore.models.rotary_config import rope_theta


def modernbert_dims(c: ModernBertConfig) -> EncoderDims:
    return EncoderDims(
        V=c.vocab_size, P=c.max_position_embeddings, TV=0, E=c.hidden_size, H=c.hidden_size,
        NH=c.num_attention_heads, I=c.intermediate_size, L=c.num_hidden_layers, groups=c.num_hidden_layers,
        inner=1, act=c.hidden_activation, eps=float(c.norm_eps), pad_token_id=c.pad_token_id,
    )


def modernbert_attention(c: ModernBertConfig, d: EncoderDims) -> AttentionPlan:
    """One rotary table per layer type in use, and the window of the sliding layers."""
    kinds = sorted(set(c.layer_types))
    tables = tuple((rope_theta(type(c).__name__, c.rope_parameters[k], f"rope_parameters[{k!r}]"), d.H // d.NH, 1.0)
                   for k in kinds)
    return AttentionPlan(
        rotary=tables,
        layer_rotary=tuple(kinds.index(t) for t in c.layer_types),
        layer_window=tuple(c.sliding_window if t == "sliding_attention" else 0 for t in c.layer_types),
    )


def modernbert_init(c: ModernBertConfig, name: str) -> Optional[Callable[[tuple], np.ndarray]]:
    """transformers' _init_weights: truncated normals, std initializer_range for the embeddings, Wqkv and Wi,
    initializer_range / sqrt(2 L) for the output projections and the head's dense and decoder,
    hidden_size^-0.5 for a classifier."""
    cutoff = 3.0 if c.initializer_cutoff_factor is None else float(c.initializer_cutoff_factor)
    std_in = c.initializer_range
    std_out = c.initializer_range / math.sqrt(2.0 * c.num_hidden_layers)
    if name.endswith((".Wo.weight", "head.dense.weight", "decoder.weight")):
        return truncated_normal(std_out, cutoff)
    if name.startswith("classifier."):
        return truncated_normal(c.hidden_size ** -0.5, cutoff)
    if name.endswith(("tok_embeddings.weight", ".Wqkv.weight", ".Wi.weight")):
        return truncated_normal(std_in, cutoff)
    return None


MODERNBERT_LAYOUT = EncoderLayout(
    dims=modernbert_dims,
    word_embeddings="embeddings.tok_embeddings",
    position_embeddings=None,
    token_type_embeddings=None,
    embedding_norm="embeddings.norm",
    embedding_projection=None,
    layer="layers.{group}.",
    layer_params=(
        ("attn_norm", "attn_norm"),
        ("q", "attn.Wqkv", 0, 3),
        ("k", "attn.Wqkv", 1, 3),
        ("v", "attn.Wqkv", 2, 3),
        ("attn_out", "attn.Wo"),
        ("ffn_norm", "mlp_norm"),
        ("ffn_gate", "mlp.Wi", 0, 2),
        ("ffn_in", "mlp.Wi", 1, 2),
        ("ffn_out", "mlp.Wo"),
    ),
    pooler=None,
    output_class=BaseModelOutput,
    embedding_order=("word", "norm"),
    norm_first=True,
    final_norm="final_norm",
    first_attn_norm=False,
    gated_ffn=True,
    linear_bias=lambda c: frozenset(({"q", "k", "v", "attn_out"} if c.attention_bias else set())
                                    | ({"ffn_gate", "ffn_in", "ffn_out"} if c.mlp_bias else set())),
    norm_bias=lambda c: bool(c.norm_bias),
    attention=modernbert_attention,
    weight_init=modernbert_init,
)

# ModernBertPredictionHead: dense (classifier_bias) → classifier_activation → LayerNorm (norm_bias)
PREDICTION_HEAD = (
    Linear("head.dense", "H", act="config:classifier_activation", bias="config:classifier_bias"),
    Norm("head.norm", bias="config:norm_bias"),
)


class ModernBertPreTrainedModel(EncoderPreTrainedModel):
    config_class = ModernBertConfig
    base_model_prefix = "model"
    layout = MODERNBERT_LAYOUT
    module_tree = MODERNBERT_TREE


class ModernBertModel(ModernBertPreTrainedModel, EncoderModel):
    """The bare ModernBERT encoder: ``last_hidden_state`` (after the final norm)."""


class ModernBertForMaskedLM(ModernBertPreTrainedModel, ForMaskedLM):
    head_spec = Head("tokens", PREDICTION_HEAD + (
        Linear("decoder", "V", tied_weight="embeddings.tok_embeddings.weight", bias="config:decoder_bias"),
    ))


class ModernBertForSequenceClassification(ModernBertPreTrainedModel, ForSequenceClassification):
    head_spec = Head("config:classifier_pooling", PREDICTION_HEAD + (Linear("classifier", "num_labels"),))


class ModernBertForTokenClassification(ModernBertPreTrainedModel, ForTokenClassification):
    head_spec = Head("tokens", PREDICTION_HEAD + (Linear("classifier", "num_labels"),))


class ModernBertForQuestionAnswering(ModernBertPreTrainedModel, ForQuestionAnswering):
    head_spec = Head("tokens", PREDICTION_HEAD + (Linear("classifier", "num_labels"),))


class ModernBertForMultipleChoice(ModernBertPreTrainedModel, ForMultipleChoice):
    head_spec = Head("config:classifier_pooling", PREDICTION_HEAD + (Linear("classifier", 1),), cls_input="first_real")
