"""XLM-RoBERTa: RoBERTa's layout and heads under its own class names (parameters under ``roberta.``)."""

from __future__ import annotations

from pybertcore.models.xlm_roberta.configuration_xlm_roberta import XLMRobertaConfig
from pybertcore.models.encoder_model import EncoderModel, EncoderPreTrainedModel
from pybertcore.models.module_trees import XLM_ROBERTA_TREE
from pybertcore.models.heads import (
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)
from pybertcore.models.roberta.modeling_roberta import (
    ROBERTA_CHOICE_HEAD,
    ROBERTA_LAYOUT,
    ROBERTA_MLM_HEAD,
    ROBERTA_SEQUENCE_HEAD,
)


class XLMRobertaPreTrainedModel(EncoderPreTrainedModel):
    config_class = XLMRobertaConfig
    base_model_prefix = "roberta"
    layout = ROBERTA_LAYOUT
    module_tree = XLM_ROBERTA_TREE
    _head_params_first = True  # transformers' state_dict order for this family's heads


class XLMRobertaModel(XLMRobertaPreTrainedModel, EncoderModel):
    """The bare XLM-RoBERTa encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""


class XLMRobertaForSequenceClassification(XLMRobertaPreTrainedModel, ForSequenceClassification):
    head_spec = ROBERTA_SEQUENCE_HEAD


class XLMRobertaForTokenClassification(XLMRobertaPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class XLMRobertaForQuestionAnswering(XLMRobertaPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class XLMRobertaForMaskedLM(XLMRobertaPreTrainedModel, ForMaskedLM):
    head_spec = ROBERTA_MLM_HEAD


class XLMRobertaForMultipleChoice(XLMRobertaPreTrainedModel, ForMultipleChoice):
    head_spec = ROBERTA_CHOICE_HEAD
