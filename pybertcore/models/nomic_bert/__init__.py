from pybertcore.models.nomic_bert.configuration_nomic_bert import NomicBertConfig
from pybertcore.models.nomic_bert.modeling_nomic_bert import (
    NomicBertForMaskedLM,
    NomicBertForSequenceClassification,
    NomicBertForTokenClassification,
    NomicBertModel,
    NomicBertPreTrainedModel,
)

__all__ = [
    "NomicBertConfig",
    "NomicBertForMaskedLM",
    "NomicBertForSequenceClassification",
    "NomicBertForTokenClassification",
    "NomicBertModel",
    "NomicBertPreTrainedModel",
]
