from pybertcore.models.gte.configuration_gte import GteConfig
from pybertcore.models.gte.modeling_gte import (
    GteForMaskedLM,
    GteForSequenceClassification,
    GteForTokenClassification,
    GteModel,
    GtePreTrainedModel,
)

__all__ = [
    "GteConfig",
    "GteForMaskedLM",
    "GteForSequenceClassification",
    "GteForTokenClassification",
    "GteModel",
    "GtePreTrainedModel",
]
