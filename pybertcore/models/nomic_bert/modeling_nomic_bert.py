"""NomicBERT: word and token-type embeddings (no position table), post-LayerNorm layers whose attention
rotates q and k (one rotary table over the whole head) and whose FFN is SwiGLU, act(x·Wg) ⊙ x·Wu, with no
bias anywhere in the layers; a pooler only when asked for (add_pooling_layer=False by default) and,
in transformers' module order, registered right after the embeddings. GTE shares this layout."""

from __future__ import annotations

from pybertcore.modeling_outputs import BaseModelOutputWithPooling
from pybertcore.models.encoder_model import (
    AttentionPlan,
    EncoderDims,
    EncoderLayout,
    EncoderModel,
    EncoderPreTrainedModel,
)
from pybertcore.models.heads import (
    Bias,
    ForMaskedLM,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
    POOLED_CLASSIFICATION_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)
from pybertcore.models.module_trees import NOMIC_BERT_TREE
from pybertcore.models.nomic_bert.configuration_nomic_bert import NomicBertConfig
from pybertcore.models.rotary_config import rotary_base


def rotary_dims(c) -> EncoderDims:
    """NomicBERT's and GTE's sizes: E == H, token types as configured."""
    return EncoderDims(
        V=c.vocab_size, P=c.max_position_embeddings, TV=c.type_vocab_size, E=c.hidden_size, H=c.hidden_size,
        NH=c.num_attention_heads, I=c.intermediate_size, L=c.num_hidden_layers, groups=c.num_hidden_layers,
        inner=1, act=c.hidden_act, eps=float(c.layer_norm_eps), pad_token_id=c.pad_token_id,
    )


def one_rotary_table(c, d: EncoderDims) -> AttentionPlan:
    """Every layer rotates the whole head with the config's θ."""
    theta, ntk_factor = rotary_base(type(c).__name__, c.rope_parameters)
    return AttentionPlan(rotary=((theta, d.H // d.NH, ntk_factor),), layer_rotary=(0,) * d.L)


# (canonical role, module) in transformers' registration order: the norms around the MLP and attention.
ROTARY_LAYER_PARAMS = (
    ("attn_norm", "post_attention_layernorm"),
    ("ffn_gate", "mlp.gate_proj"),
    ("ffn_in", "mlp.up_proj"),
    ("ffn_out", "mlp.down_proj"),
    ("q", "self_attn.q_proj"),
    ("k", "self_attn.k_proj"),
    ("v", "self_attn.v_proj"),
    ("attn_out", "self_attn.o_proj"),
    ("ffn_norm", "post_mlp_layernorm"),
)

NOMIC_BERT_LAYOUT = EncoderLayout(
    dims=rotary_dims,
    word_embeddings="embeddings.word_embeddings",
    position_embeddings=None,
    token_type_embeddings="embeddings.token_type_embeddings",
    embedding_norm="embeddings.LayerNorm",
    embedding_projection=None,
    layer="layers.{group}.",
    layer_params=ROTARY_LAYER_PARAMS,
    pooler="pooler.dense",
    output_class=BaseModelOutputWithPooling,
    embedding_order=("word", "token_type", "norm"),
    pooler_after_embeddings=True,
    gated_ffn=True,
    linear_bias=lambda c: frozenset(),
    attention=one_rotary_table,
    # the remote code's names (nomic-embed-text-v1 and v1.5 on the hub), as transformers' conversion_mapping
    hub_renames=(
        (r"encoder\.layers\.", "layers."),
        (r"emb_ln\.", "embeddings.LayerNorm."),
        (r"attn\.out_proj\.", "self_attn.o_proj."),
        (r"mlp\.fc11\.", "mlp.up_proj."),
        (r"mlp\.fc12\.", "mlp.gate_proj."),
        (r"mlp\.fc2\.", "mlp.down_proj."),
        (r"\.norm1\.", ".post_attention_layernorm."),
        (r"\.norm2\.", ".post_mlp_layernorm."),
    ),
    hub_splits=(("attn.Wqkv", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),),
)


class NomicBertPreTrainedModel(EncoderPreTrainedModel):
    config_class = NomicBertConfig
    base_model_prefix = "nomic_bert"
    layout = NOMIC_BERT_LAYOUT
    module_tree = NOMIC_BERT_TREE


class NomicBertModel(NomicBertPreTrainedModel, EncoderModel):
    """The bare NomicBERT encoder: ``last_hidden_state`` and, with ``add_pooling_layer=True``, ``pooler_output``."""

    def __init__(self, config: NomicBertConfig, add_pooling_layer: bool = False) -> None:
        super().__init__(config, add_pooling_layer)


class NomicBertForSequenceClassification(NomicBertPreTrainedModel, ForSequenceClassification):
    head_spec = POOLED_CLASSIFICATION_HEAD


class NomicBertForTokenClassification(NomicBertPreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class NomicBertForMaskedLM(NomicBertPreTrainedModel, ForMaskedLM):
    head_spec = Head(
        "tokens",
        (
            Bias("cls.predictions.bias", "V"),
            Linear("cls.predictions.transform.dense", "H", act="config:hidden_act"),
            Norm("cls.predictions.transform.layer_norm"),
            Linear(
                "cls.predictions.decoder", "V", tied_weight="embeddings.word_embeddings.weight",
                tied_bias="cls.predictions.bias",
            ),
        ),
    )
