"""MPNet: RoBERTa's embeddings without token types (positions count from 2, after transformers' fixed
padding index 1), BERT's
post-LayerNorm layers under other names, and a relative-position bias per head shared by every layer
(``encoder.relative_attention_bias``, T5's bidirectional buckets), which the core adds to the scores.
The heads are RoBERTa's."""

from __future__ import annotations

from pybertcore.modeling_outputs import BaseModelOutputWithPooling
from pybertcore.models.encoder_model import (
    EncoderDims,
    EncoderLayout,
    EncoderModel,
    EncoderPreTrainedModel,
    padding_offset_position_ids,
)
from pybertcore.models.heads import (
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)
from pybertcore.models.module_trees import MPNET_TREE
from pybertcore.models.mpnet.configuration_mpnet import MPNetConfig
from pybertcore.models.roberta.modeling_roberta import ROBERTA_CHOICE_HEAD, ROBERTA_MLM_HEAD, ROBERTA_SEQUENCE_HEAD


# transformers' MPNetEmbeddings fixes its padding index at 1, whatever pad_token_id says: the embeddings'
# padding rows and the positions (counted from 2, padding on row 1) follow it.
MPNET_PADDING_IDX = 1


def mpnet_dims(c: MPNetConfig) -> EncoderDims:
    return EncoderDims(
        V=c.vocab_size, P=c.max_position_embeddings, TV=0, E=c.hidden_size, H=c.hidden_size,
        NH=c.num_attention_heads, I=c.intermediate_size, L=c.num_hidden_layers, groups=c.num_hidden_layers,
        inner=1, act=c.hidden_act, eps=float(c.layer_norm_eps), pad_token_id=MPNET_PADDING_IDX,
    )


MPNET_LAYOUT = EncoderLayout(
    dims=mpnet_dims,
    word_embeddings="embeddings.word_embeddings",
    position_embeddings="embeddings.position_embeddings",
    token_type_embeddings=None,
    embedding_norm="embeddings.LayerNorm",
    embedding_projection=None,
    layer="encoder.layer.{group}.",
    layer_params=(
        ("q", "attention.attn.q"),
        ("k", "attention.attn.k"),
        ("v", "attention.attn.v"),
        ("attn_out", "attention.attn.o"),
        ("attn_norm", "attention.LayerNorm"),
        ("ffn_in", "intermediate.dense"),
        ("ffn_out", "output.dense"),
        ("ffn_norm", "output.LayerNorm"),
    ),
    pooler="pooler.dense",
    output_class=BaseModelOutputWithPooling,
    embedding_order=("word", "position", "norm"),
    position_padding_row=True,
    position_ids=padding_offset_position_ids,
    relative_bias="encoder.relative_attention_bias",
)


class MPNetPreTrainedModel(EncoderPreTrainedModel):
    config_class = MPNetConfig
    base_model_prefix = "mpnet"
    layout = MPNET_LAYOUT
    module_tree = MPNET_TREE


class MPNetModel(MPNetPreTrainedModel, EncoderModel):
    """The bare MPNet encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""


class MPNetForSequenceClassification(MPNetPreTrainedModel, ForSequenceClassification):
    head_spec = ROBERTA_SEQUENCE_HEAD


class MPNetForTokenClassification(MPNetPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class MPNetForQuestionAnswering(MPNetPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class MPNetForMaskedLM(MPNetPreTrainedModel, ForMaskedLM):
    head_spec = ROBERTA_MLM_HEAD


class MPNetForMultipleChoice(MPNetPreTrainedModel, ForMultipleChoice):
    head_spec = ROBERTA_CHOICE_HEAD
