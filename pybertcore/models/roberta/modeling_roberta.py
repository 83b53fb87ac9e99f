"""RoBERTa: BERT's names and encoder; positions count from ``pad_token_id + 1`` and skip padding
(computed here from input_ids, passed to the core as position ids). XLM-R and CamemBERT reuse it."""

from __future__ import annotations

from dataclasses import replace

from pybertcore.models.bert.modeling_bert import BERT_LAYOUT
from pybertcore.models.encoder_model import EncoderModel, EncoderPreTrainedModel, padding_offset_position_ids
from pybertcore.models.module_trees import ROBERTA_TREE
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
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)
from pybertcore.models.roberta.configuration_roberta import RobertaConfig

ROBERTA_LAYOUT = replace(
    BERT_LAYOUT,
    embedding_order=("word", "token_type", "norm", "position"),
    position_padding_row=True,
    position_ids=padding_offset_position_ids,
)

# Heads shared by RoBERTa, XLM-R and CamemBERT.
ROBERTA_SEQUENCE_HEAD = Head(
    "first", (Linear("classifier.dense", "H", act="tanh"), Linear("classifier.out_proj", "num_labels"))
)
ROBERTA_MLM_HEAD = Head(
    "tokens",
    (
        Bias("lm_head.bias", "V"),
        Linear("lm_head.dense", "H", act="gelu"),
        Norm("lm_head.layer_norm"),
        Linear("lm_head.decoder", "V", tied_weight="embeddings.word_embeddings.weight", tied_bias="lm_head.bias"),
    ),
)
ROBERTA_CHOICE_HEAD = Head("pooled", (Linear("classifier", 1),))


class RobertaPreTrainedModel(EncoderPreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"
    layout = ROBERTA_LAYOUT
    module_tree = ROBERTA_TREE


class RobertaModel(RobertaPreTrainedModel, EncoderModel):
    """The bare RoBERTa encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""


class RobertaForSequenceClassification(RobertaPreTrainedModel, ForSequenceClassification):
    head_spec = ROBERTA_SEQUENCE_HEAD


class RobertaForTokenClassification(RobertaPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class RobertaForQuestionAnswering(RobertaPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class RobertaForMaskedLM(RobertaPreTrainedModel, ForMaskedLM):
    head_spec = ROBERTA_MLM_HEAD


class RobertaForMultipleChoice(RobertaPreTrainedModel, ForMultipleChoice):
    head_spec = ROBERTA_CHOICE_HEAD
