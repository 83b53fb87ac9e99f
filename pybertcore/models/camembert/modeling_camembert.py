"""CamemBERT: RoBERTa's layout and heads under its own class names (parameters under ``roberta.``)."""

from __future__ import annotations

from pybertcore.models.camembert.configuration_camembert import CamembertConfig
from pybertcore.models.encoder_model import EncoderModel, EncoderPreTrainedModel
from pybertcore.models.module_trees import CAMEMBERT_TREE
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


class CamembertPreTrainedModel(EncoderPreTrainedModel):
    config_class = CamembertConfig
    base_model_prefix = "roberta"
    layout = ROBERTA_LAYOUT
    module_tree = CAMEMBERT_TREE
    _head_params_first = True  # transformers' state_dict order for this family's heads


class CamembertModel(CamembertPreTrainedModel, EncoderModel):
    """The bare CamemBERT encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""


class CamembertForSequenceClassification(CamembertPreTrainedModel, ForSequenceClassification):
    head_spec = ROBERTA_SEQUENCE_HEAD


class CamembertForTokenClassification(CamembertPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class CamembertForQuestionAnswering(CamembertPreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class CamembertForMaskedLM(CamembertPreTrainedModel, ForMaskedLM):
    head_spec = ROBERTA_MLM_HEAD


class CamembertForMultipleChoice(CamembertPreTrainedModel, ForMultipleChoice):
    head_spec = ROBERTA_CHOICE_HEAD
