"""BERT: the base layout (transformers' parameter names → the core's canonical weights) and the heads.

The other families reuse pieces of this layout: RoBERTa-style families keep every name and add their
position ids; ELECTRA adds an embedding projection.
"""

from __future__ import annotations

from pybertcore.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions
from pybertcore.models.bert.configuration_bert import BertConfig
from pybertcore.models.encoder_model import EncoderLayout, EncoderModel, EncoderPreTrainedModel, bert_dims
from pybertcore.models.module_trees import BERT_TREE
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

# (canonical role, transformers module within encoder.layer.<i>) in transformers' state_dict order.
BERT_LAYER_PARAMS = (
    ("q", "attention.self.query"),
    ("k", "attention.self.key"),
    ("v", "attention.self.value"),
    ("attn_out", "attention.output.dense"),
    ("attn_norm", "attention.output.LayerNorm"),
    ("ffn_in", "intermediate.dense"),
    ("ffn_out", "output.dense"),
    ("ffn_norm", "output.LayerNorm"),
)

BERT_LAYOUT = EncoderLayout(
    dims=bert_dims,
    word_embeddings="embeddings.word_embeddings",
    position_embeddings="embeddings.position_embeddings",
    token_type_embeddings="embeddings.token_type_embeddings",
    embedding_norm="embeddings.LayerNorm",
    embedding_projection=None,
    layer="encoder.layer.{group}.",
    layer_params=BERT_LAYER_PARAMS,
    pooler="pooler.dense",
    output_class=BaseModelOutputWithPoolingAndCrossAttentions,
)


class BertPreTrainedModel(EncoderPreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"
    layout = BERT_LAYOUT
    module_tree = BERT_TREE


class BertModel(BertPreTrainedModel, EncoderModel):
    """The bare BERT encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""


class BertForSequenceClassification(BertPreTrainedModel, ForSequenceClassification):
    head_spec = POOLED_CLASSIFICATION_HEAD


class BertForTokenClassification(BertPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class BertForQuestionAnswering(BertPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class BertForMaskedLM(BertPreTrainedModel, ForMaskedLM):
    head_spec = Head(
        "tokens",
        (
            Bias("cls.predictions.bias", "V"),
            Linear("cls.predictions.transform.dense", "H", act="config:hidden_act"),
            Norm("cls.predictions.transform.LayerNorm"),
            Linear(
                "cls.predictions.decoder", "V", tied_weight="embeddings.word_embeddings.weight",
                tied_bias="cls.predictions.bias",
            ),
        ),
    )


class BertForMultipleChoice(BertPreTrainedModel, ForMultipleChoice):
    head_spec = Head("pooled", (Linear("classifier", 1),))
