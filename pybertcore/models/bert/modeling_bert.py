"""BertModel: transformers' parameter names mapped onto the core's canonical encoder weights.

The mapping is data: ``bert_layer_names`` says which transformers parameter is which canonical
weight; query, key and value are stacked into one (3H, H) matrix so the core runs a single GEMM.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from pybertcore import _core
from pybertcore.activations import activation_from_name
from pybertcore.inputs import encoder_inputs
from pybertcore.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions
from pybertcore.modeling_utils import (
    INIT_NORMAL,
    ParamSpec,
    PreTrainedModel,
    layer_norm_specs,
    linear_specs,
)
from pybertcore.models.bert.configuration_bert import BertConfig

# transformers name (within layer i) → canonical core name (within weight set i).
BERT_LAYER_NAMES = {
    "attention.output.dense": "attn_out",
    "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_norm",
}


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder: ``last_hidden_state`` and, with ``add_pooling_layer``, ``pooler_output``."""

    _init_kwargs = ("add_pooling_layer",)

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        self.add_pooling_layer = add_pooling_layer
        super().__init__(config)

    def _param_specs(self) -> list[ParamSpec]:
        c = self.config
        H, I = c.hidden_size, c.intermediate_size
        specs = [
            ParamSpec("embeddings.word_embeddings.weight", (c.vocab_size, H), INIT_NORMAL, padding_row=c.pad_token_id),
            ParamSpec("embeddings.position_embeddings.weight", (c.max_position_embeddings, H), INIT_NORMAL),
        ]
        if c.type_vocab_size > 0:
            specs.append(ParamSpec("embeddings.token_type_embeddings.weight", (c.type_vocab_size, H), INIT_NORMAL))
        specs += layer_norm_specs("embeddings.LayerNorm", H)
        for i in range(c.num_hidden_layers):
            p = f"encoder.layer.{i}."
            for proj in ("query", "key", "value"):
                specs += linear_specs(p + f"attention.self.{proj}", H, H)
            specs += linear_specs(p + "attention.output.dense", H, H)
            specs += layer_norm_specs(p + "attention.output.LayerNorm", H)
            specs += linear_specs(p + "intermediate.dense", I, H)
            specs += linear_specs(p + "output.dense", H, I)
            specs += layer_norm_specs(p + "output.LayerNorm", H)
        if self.add_pooling_layer:
            specs += linear_specs("pooler.dense", H, H)
        return specs

    def _canonical_weights(self) -> dict[str, np.ndarray]:
        """The core's names for this model's parameters."""
        p, c = self._params, self.config
        w = {
            "embeddings.word": p["embeddings.word_embeddings.weight"],
            "embeddings.position": p["embeddings.position_embeddings.weight"],
            "embeddings.norm.weight": p["embeddings.LayerNorm.weight"],
            "embeddings.norm.bias": p["embeddings.LayerNorm.bias"],
        }
        if c.type_vocab_size > 0:
            w["embeddings.token_type"] = p["embeddings.token_type_embeddings.weight"]
        for i in range(c.num_hidden_layers):
            src, dst = f"encoder.layer.{i}.", f"layers.{i}."
            for part in ("weight", "bias"):
                w[dst + "qkv." + part] = np.concatenate(
                    [p[src + f"attention.self.{proj}.{part}"] for proj in ("query", "key", "value")]
                )
                for name, canonical in BERT_LAYER_NAMES.items():
                    w[dst + f"{canonical}.{part}"] = p[src + f"{name}.{part}"]
        if self.add_pooling_layer:
            w["pooler.weight"] = p["pooler.dense.weight"]
            w["pooler.bias"] = p["pooler.dense.bias"]
        return w

    def _build(self) -> None:
        c = self.config
        core_config = _core.EncoderConfig()
        core_config.vocab_size = c.vocab_size
        core_config.max_positions = c.max_position_embeddings
        core_config.type_vocab_size = c.type_vocab_size
        core_config.embedding_size = c.hidden_size
        core_config.hidden_size = c.hidden_size
        core_config.num_heads = c.num_attention_heads
        core_config.intermediate_size = c.intermediate_size
        core_config.num_layers = c.num_hidden_layers
        core_config.activation = activation_from_name(c.hidden_act)
        core_config.layer_norm_eps = float(c.layer_norm_eps)
        self._encoder = _core.Encoder(core_config, self._canonical_weights(), list(range(c.num_hidden_layers)))

    def forward(
        self,
        input_ids: Any = None,
        attention_mask: Any = None,
        token_type_ids: Any = None,
        position_ids: Any = None,
        head_mask: Any = None,
        inputs_embeds: Any = None,
        output_attentions: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        return_dict: Optional[bool] = None,
    ):
        """Runs the encoder on token ids; see BaseModelOutputWithPoolingAndCrossAttentions for the outputs.

        Padded positions (attention_mask 0) of ``last_hidden_state`` and ``hidden_states`` hold zeros,
        except position 0, which holds the state transformers computes there (the pooler reads it).
        """
        if head_mask is not None:
            raise NotImplementedError("head_mask is not supported by pybertcore")
        if inputs_embeds is not None:
            raise NotImplementedError("inputs_embeds is not supported by pybertcore; pass input_ids")
        c = self.config
        output_attentions = c.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = c.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = c.use_return_dict if return_dict is None else return_dict

        ids, mask, types, positions = encoder_inputs(input_ids, attention_mask, token_type_ids, position_ids)
        out = self._encoder.forward(
            ids, mask, types, positions,
            output_hidden_states=bool(output_hidden_states),
            output_attentions=bool(output_attentions),
        )
        result = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=out["last_hidden_state"],
            pooler_output=out.get("pooler_output"),
            hidden_states=tuple(out["hidden_states"]) if output_hidden_states else None,
            attentions=tuple(out["attentions"]) if output_attentions else None,
        )
        return result if return_dict else result.to_tuple()

    __call__ = forward
