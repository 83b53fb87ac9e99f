"""ALBERT: factorised embeddings (E, projected to H in the encoder) and layers shared in groups — weight
set g·inner + j is layer j of group g, and the core's layer map repeats the sets as transformers does."""

from __future__ import annotations

from dataclasses import replace

from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.modeling_outputs import BaseModelOutputWithPooling
from pybertcore.models.albert.configuration_albert import AlbertConfig
from pybertcore.models.encoder_model import EncoderDims, EncoderLayout, EncoderModel, EncoderPreTrainedModel, bert_dims
from pybertcore.models.module_trees import ALBERT_TREE
from pybertcore.models.heads import (
    Bias,
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
    POOLED_CLASSIFICATION_HEAD,
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)


def albert_dims(c: PretrainedConfig) -> EncoderDims:
    """BERT's sizes with embeddings of ``embedding_size`` (always projected) and layers shared in groups."""
    return replace(
        bert_dims(c), E=c.embedding_size, groups=c.num_hidden_groups, inner=c.inner_group_num, projection=True
    )


ALBERT_LAYOUT = EncoderLayout(
    dims=albert_dims,
    word_embeddings="embeddings.word_embeddings",
    position_embeddings="embeddings.position_embeddings",
    token_type_embeddings="embeddings.token_type_embeddings",
    embedding_norm="embeddings.LayerNorm",
    embedding_projection="encoder.embedding_hidden_mapping_in",
    layer="encoder.albert_layer_groups.{group}.albert_layers.{inner}.",
    layer_params=(
        ("ffn_norm", "full_layer_layer_norm"),
        ("q", "attention.query"),
        ("k", "attention.key"),
        ("v", "attention.value"),
        ("attn_out", "attention.dense"),
        ("attn_norm", "attention.LayerNorm"),
        ("ffn_in", "ffn"),
        ("ffn_out", "ffn_output"),
    ),
    pooler="pooler",
    output_class=BaseModelOutputWithPooling,
)


class AlbertPreTrainedModel(EncoderPreTrainedModel):
    config_class = AlbertConfig
    base_model_prefix = "albert"
    layout = ALBERT_LAYOUT
    module_tree = ALBERT_TREE


class AlbertModel(AlbertPreTrainedModel, EncoderModel):
    """The bare ALBERT encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""


class AlbertForSequenceClassification(AlbertPreTrainedModel, ForSequenceClassification):
    head_spec = POOLED_CLASSIFICATION_HEAD


class AlbertForTokenClassification(AlbertPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class AlbertForQuestionAnswering(AlbertPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class AlbertForMaskedLM(AlbertPreTrainedModel, ForMaskedLM):
    head_spec = Head(
        "tokens",
        (
            Bias("predictions.bias", "V"),
            Linear("predictions.dense", "E", act="config:hidden_act"),
            Norm("predictions.LayerNorm", "E"),
            Linear(
                "predictions.decoder", "V", inp="E", tied_weight="embeddings.word_embeddings.weight",
                tied_bias="predictions.bias",
            ),
        ),
        order=("predictions.bias", "predictions.LayerNorm", "predictions.dense", "predictions.decoder"),
    )


class AlbertForMultipleChoice(AlbertPreTrainedModel, ForMultipleChoice):
    head_spec = Head("pooled", (Linear("classifier", 1),))
