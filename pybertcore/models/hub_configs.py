"""Config fields of the hub's older checkpoints (written for remote code before transformers had the
family), mapped onto transformers' current fields as data: renamed keys, keys whose value must be one the
current architecture has (else ValueError naming the key and the value), and keys dropped because they
only steered the remote code's kernels. ``translate`` is called by a config's __init__ when the older
spelling is present; the config then saves in transformers' current layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pybertcore.untrusted import describe


@dataclass(frozen=True)
class HubConfigLayout:
    marker: str  # a key only the older layout has
    renames: dict[str, str]  # older key → current key
    required: dict[str, Any]  # older key → the only value the current architecture runs
    dropped: tuple[str, ...] = ()  # keys that steered the remote code's kernels only
    convert: dict[str, Callable[[Any], Any]] = field(default_factory=dict)  # current key → value conversion


def translate(owner: str, kwargs: dict[str, Any], layout: HubConfigLayout) -> dict[str, Any]:
    """kwargs in the current layout when they carry ``layout.marker``, else as given."""
    if layout.marker not in kwargs:
        return kwargs
    out = dict(kwargs)
    for key, wanted in layout.required.items():
        if key in out:
            value = out.pop(key)
            if value != wanted:
                raise ValueError(f"{owner}: {key}={describe(value)} selects a variant pybertcore does not run "
                                 f"(it runs {key}={describe(wanted)})")
    for key in layout.dropped:
        out.pop(key, None)
    for old, new in layout.renames.items():
        if old in out:
            value = out.pop(old)
            out[new] = layout.convert[new](value) if new in layout.convert else value
    return out


def _nomic_activation(name: Any) -> str:
    gated = {"swiglu": "silu", "geglu": "gelu"}
    if name not in gated:
        raise ValueError(f"NomicBertConfig: activation_function={describe(name)}: pybertcore runs the gated "
                         "'swiglu' and 'geglu' MLPs of NomicBERT")
    return gated[name]


# nomic-ai/nomic-embed-text-v1 and v1.5 (NomicBertModel remote code, GPT-2 style names)
NOMIC_REMOTE = HubConfigLayout(
    marker="n_embd",
    renames={
        "n_embd": "hidden_size", "n_head": "num_attention_heads", "n_layer": "num_hidden_layers",
        "n_inner": "intermediate_size", "n_positions": "max_position_embeddings",
        "layer_norm_epsilon": "layer_norm_eps", "resid_pdrop": "hidden_dropout_prob",
        "attn_pdrop": "attention_probs_dropout_prob", "rotary_emb_base": "rope_theta",
        "activation_function": "hidden_act",
    },
    required={
        "rotary_emb_fraction": 1.0, "rotary_emb_interleaved": False, "rotary_scaling_factor": None,
        "qkv_proj_bias": False, "mlp_fc1_bias": False, "mlp_fc2_bias": False, "prenorm": False, "causal": False,
        "use_rms_norm": False, "parallel_block": False, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
    },
    dropped=(
        "embd_pdrop", "fused_bias_fc", "fused_dropout_add_ln", "dense_seq_output", "use_flash_attn", "use_xentropy",
        "reorder_and_upcast_attn", "pad_vocab_size_multiple", "parallel_block_tied_norm", "rotary_emb_scale_base",
        "max_trained_positions", "summary_activation", "summary_first_dropout", "summary_proj_to_labels",
        "summary_type", "summary_use_proj", "use_cache", "n_ctx",
    ),
    convert={"hidden_act": _nomic_activation},
)

# Alibaba-NLP/gte-*-v1.5 and gte-multilingual (model_type "new", NewModel remote code)
GTE_NEW = HubConfigLayout(
    marker="position_embedding_type",
    renames={},
    required={"position_embedding_type": "rope", "layer_norm_type": "layer_norm", "logn_attention_scale": False,
              "logn_attention_clip1": False},
    dropped=("unpad_inputs", "use_memory_efficient_attention", "pack_qkv"),
)
