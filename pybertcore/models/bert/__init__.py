from pybertcore.models.bert.configuration_bert import BertConfig
from pybertcore.models.bert.modeling_bert import BertModel, BertPreTrainedModel

__all__ = ["BertConfig", "BertModel", "BertPreTrainedModel"]
