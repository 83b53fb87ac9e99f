"""DistilBERT: BERT's encoder under other names, without token types or pooler, LayerNorm eps 1e-12."""

from __future__ import annotations

import numpy as np

from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.modeling_outputs import BaseModelOutput
from pybertcore.models.distilbert.configuration_distilbert import DistilBertConfig
from pybertcore.models.encoder_model import EncoderDims, EncoderLayout, EncoderModel, EncoderPreTrainedModel
from pybertcore.models.module_trees import DISTILBERT_TREE
from pybertcore.models.heads import (
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)


def distilbert_dims(c: PretrainedConfig) -> EncoderDims:
    return EncoderDims(
        V=c.vocab_size, P=c.max_position_embeddings, TV=0, E=c.dim, H=c.dim, NH=c.n_heads, I=c.hidden_dim,
        L=c.n_layers, groups=c.n_layers, inner=1, act=c.activation, eps=1e-12, pad_token_id=c.pad_token_id,
    )


def sinusoidal_positions(shape: tuple) -> np.ndarray:
    """transformers' fixed sinusoidal table (P, dim): sin on even columns, cos on odd, in float64."""
    n_pos, dim = shape
    angle = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = np.empty(shape, dtype=np.float32)
    out[:, 0::2] = np.sin(angle[:, 0::2])
    out[:, 1::2] = np.cos(angle[:, 1::2])
    return out


def distilbert_position_init(config: PretrainedConfig):
    return sinusoidal_positions if config.sinusoidal_pos_embds else None


DISTILBERT_LAYOUT = EncoderLayout(
    dims=distilbert_dims,
    word_embeddings="embeddings.word_embeddings",
    position_embeddings="embeddings.position_embeddings",
    token_type_embeddings=None,
    embedding_norm="embeddings.LayerNorm",
    embedding_projection=None,
    layer="transformer.layer.{group}.",
    layer_params=(
        ("q", "attention.q_lin"),
        ("k", "attention.k_lin"),
        ("v", "attention.v_lin"),
        ("attn_out", "attention.out_lin"),
        ("attn_norm", "sa_layer_norm"),
        ("ffn_in", "ffn.lin1"),
        ("ffn_out", "ffn.lin2"),
        ("ffn_norm", "output_layer_norm"),
    ),
    pooler=None,
    output_class=BaseModelOutput,
    position_init=distilbert_position_init,
)


class DistilBertPreTrainedModel(EncoderPreTrainedModel):
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    layout = DISTILBERT_LAYOUT
    module_tree = DISTILBERT_TREE


class DistilBertModel(DistilBertPreTrainedModel, EncoderModel):
    """The bare DistilBERT encoder: ``last_hidden_state`` (no pooler, no token types)."""


class DistilBertForSequenceClassification(DistilBertPreTrainedModel, ForSequenceClassification):
    head_spec = Head("first", (Linear("pre_classifier", "H", act="relu"), Linear("classifier", "num_labels")))


class DistilBertForTokenClassification(DistilBertPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class DistilBertForMaskedLM(DistilBertPreTrainedModel, ForMaskedLM):
    head_spec = Head(
        "tokens",
        (
            Linear("vocab_transform", "H", act="config:activation"),
            Norm("vocab_layer_norm"),
            Linear("vocab_projector", "V", tied_weight="embeddings.word_embeddings.weight"),
        ),
    )


class DistilBertForMultipleChoice(DistilBertPreTrainedModel, ForMultipleChoice):
    head_spec = Head("first", (Linear("pre_classifier", "H", act="relu"), Linear("classifier", 1)))
