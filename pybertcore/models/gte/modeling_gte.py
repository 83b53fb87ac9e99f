"""GTE: NomicBERT's layout (models/nomic_bert) with biases on q, k, v, the attention output and the FFN's
down projection, a GELU gate, token types only when type_vocab_size > 0, and a RoBERTa-like LM head."""

from __future__ import annotations

from dataclasses import replace

from pybertcore.models.encoder_model import EncoderModel, EncoderPreTrainedModel
from pybertcore.models.gte.configuration_gte import GteConfig
from pybertcore.models.heads import (
    ForMaskedLM,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
    POOLED_CLASSIFICATION_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)
from pybertcore.models.module_trees import GTE_TREE
from pybertcore.models.nomic_bert.modeling_nomic_bert import NOMIC_BERT_LAYOUT

GTE_LAYOUT = replace(
    NOMIC_BERT_LAYOUT,
    linear_bias=lambda c: frozenset({"q", "k", "v", "attn_out", "ffn_out"}),
    # the remote code's names (Alibaba-NLP/gte-*-v1.5, model_type "new"), as transformers' conversion_mapping
    hub_renames=(
        (r"^new\.", "gte."),
        (r"encoder\.layer\.", "layers."),
        (r"attention\.o_proj\.", "self_attn.o_proj."),
        (r"\.attn_ln\.", ".post_attention_layernorm."),
        (r"\.mlp_ln\.", ".post_mlp_layernorm."),
        (r"lm_head\.norm\.", "lm_head.layer_norm."),
    ),
    hub_splits=(
        ("attention.qkv_proj", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
        ("mlp.up_gate_proj", ("mlp.up_proj", "mlp.gate_proj")),
    ),
)


class GtePreTrainedModel(EncoderPreTrainedModel):
    config_class = GteConfig
    base_model_prefix = "gte"
    layout = GTE_LAYOUT
    module_tree = GTE_TREE


class GteModel(GtePreTrainedModel, EncoderModel):
    """The bare GTE encoder: ``last_hidden_state`` and, with ``add_pooling_layer=True``, ``pooler_output``."""

    def __init__(self, config: GteConfig, add_pooling_layer: bool = False) -> None:
        super().__init__(config, add_pooling_layer)


class GteForSequenceClassification(GtePreTrainedModel, ForSequenceClassification):
    head_spec = POOLED_CLASSIFICATION_HEAD


class GteForTokenClassification(GtePreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class GteForMaskedLM(GtePreTrainedModel, ForMaskedLM):
    head_spec = Head(
        "tokens",
        (
            Linear("lm_head.dense", "H", act="gelu"),
            Norm("lm_head.layer_norm"),
            Linear("lm_head.decoder", "V", tied_weight="embeddings.word_embeddings.weight"),
        ),
    )
