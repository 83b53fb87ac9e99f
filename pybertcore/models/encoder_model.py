"""EncoderModel: every BERT-family encoder on the one C++ core, each family's differences held as data.

A family is an ``EncoderLayout``: where its checkpoint keeps each canonical weight the core takes (the
names csrc/model/builder.h lists, a role possibly a block of rows of a fused module as ModernBERT's Wqkv),
how its config gives the core's sizes, which layer weight set each layer runs (ALBERT shares them),
whether position ids derive from the input ids (RoBERTa), its architecture's variants (norm placement,
biases, a gated FFN, rotary or relative positions, local windows: ``EncoderLayout`` fields and
``AttentionPlan``), and which output class its bare model returns. The layout is chosen when the class
is defined; nothing in the forward pass asks which family it runs.

Shapes: ``B`` batch, ``T`` tokens, ``H`` hidden, ``E`` embedding size (== H unless the family projects
E→H after the embedding LayerNorm), ``I`` intermediate, ``V`` vocab, ``P`` positions, ``TV`` token types.
Weights are (out, in), as in transformers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Iterator, Optional

import numpy as np

from pybertcore import _core
from pybertcore.activations import activation_from_name
from pybertcore.configuration_utils import PretrainedConfig
from pybertcore.frameworks import follows_input_framework
from pybertcore.inputs import encoder_inputs
from pybertcore.module_tree import Node
from pybertcore.models.module_trees import module_tree_resolver
from pybertcore.modeling_utils import (
    INIT_NORMAL,
    CoreParam,
    all_finite,
    ParamSpec,
    PreTrainedModel,
    as_float32,
    layer_norm_specs,
    linear_specs,
)


def packed_sequences(mask: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How the packed rows at flat places ``index`` (the core's ``packed_index``) divide: ``starts`` (B),
    each sequence's first row (its position 0, always computed), and ``real`` (N), whether a row is a real
    token (a masked position 0 is not)."""
    B, T = mask.shape
    return np.searchsorted(index, np.arange(B) * T), mask.reshape(-1)[index] != 0


def first_real_rows(mask: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(B) the packed row of each sequence's first real token (transformers' argmax of the mask: position 0
    where a sequence has none), from the packed rows' flat places ``index``."""
    B, T = mask.shape
    first = np.argmax(mask != 0, axis=1) + np.arange(B) * T  # flat place of each sequence's first real token
    return np.searchsorted(index, first)


@dataclass(frozen=True)
class EncoderDims:
    """The core's sizes for one config."""

    V: int
    P: int
    TV: int  # 0 when the family has no token types
    E: int
    H: int
    NH: int
    I: int
    L: int  # transformers' layers (num_hidden_layers)
    groups: int  # layer weight groups: L, or ALBERT's num_hidden_groups
    inner: int  # layers per group call: 1, or ALBERT's inner_group_num
    act: str  # transformers' activation name
    eps: float
    pad_token_id: Optional[int]
    projection: bool = False  # whether the layout's embedding projection E → H exists for this config
    positions: bool = True  # whether the layout's learned position table exists for this config

    def layer_map(self) -> list[int]:
        """For each layer the core runs, its weight set; ALBERT's groups, else the identity.

        transformers picks the group of layer i as int(i / (L / groups)) and runs that group's ``inner``
        layers in turn; weight set g * inner + j is layer j of group g.
        """
        out = []
        for i in range(self.L):
            g = int(i / (self.L / self.groups))
            out += [g * self.inner + j for j in range(self.inner)]
        return out


def bert_dims(config: PretrainedConfig) -> EncoderDims:
    """BERT, RoBERTa, XLM-R, CamemBERT: E == H, one weight set per layer."""
    c = config
    return EncoderDims(
        V=c.vocab_size, P=c.max_position_embeddings, TV=c.type_vocab_size, E=c.hidden_size, H=c.hidden_size,
        NH=c.num_attention_heads, I=c.intermediate_size, L=c.num_hidden_layers, groups=c.num_hidden_layers,
        inner=1, act=c.hidden_act, eps=float(c.layer_norm_eps), pad_token_id=c.pad_token_id,
    )


# Canonical layer roles and their shapes: (out, in) of a linear layer, or the size of a LayerNorm.
# ffn_gate exists in gated layouts only: the activated half, act(x·Wgᵀ) ⊙ x·Wiᵀ. pos_key and pos_query
# project the shared relative embeddings for DeBERTa's disentangled terms (the core keeps only their
# products with those embeddings, model/builder.h).
LAYER_ROLES = ("q", "k", "v", "pos_key", "pos_query", "attn_out", "attn_norm", "ffn_in", "ffn_gate", "ffn_out",
               "ffn_norm")
POSITION_ROLES = ("pos_key", "pos_query")


def _role_shape(role: str, d: EncoderDims) -> tuple[int, ...]:
    return {
        "q": (d.H, d.H), "k": (d.H, d.H), "v": (d.H, d.H), "pos_key": (d.H, d.H), "pos_query": (d.H, d.H),
        "attn_out": (d.H, d.H), "ffn_in": (d.I, d.H), "ffn_gate": (d.I, d.H), "ffn_out": (d.H, d.I),
        "attn_norm": (d.H,), "ffn_norm": (d.H,),
    }[role]


@dataclass(frozen=True)
class AttentionPlan:
    """How each layer's attention sees positions, from a config: rotary tables as (theta, dim, ntk_factor)
    (dim: the features of each head rotated, NeoX half-split; ntk_factor 1 unless GTE's NTK scaling),
    each layer's table index (-1: none) and its window (0: full; w: keys within ±w tokens), and the scores'
    scale 1/√(head size · score_scale_factor) (DeBERTa counts its position terms in the factor)."""

    rotary: tuple[tuple[float, int, float], ...] = ()
    layer_rotary: tuple[int, ...] = ()
    layer_window: tuple[int, ...] = ()
    score_scale_factor: int = 1


@dataclass(frozen=True)
class DisentangledPlan:
    """DeBERTa's relative positions for one config: the shared table of ``rows`` relative embeddings (its
    module, and its LayerNorm's or None), the table row each relative position i − j in (−S, S) reads
    (``columns``, (2S − 1,) int32, S ≥ P; the core extends a map that ends on the table's first and last
    rows to longer sequences by those rows), and which terms exist (content→position reads pos_key,
    position→content pos_query: each a layer role, possibly the attention's own key / query projection
    when the config shares them; neither when the config names no term, and the table is then unused).
    A config may have the table's LayerNorm without the table (transformers makes it from norm_rel_ebd
    alone): ``embeddings`` is then None."""

    embeddings: Optional[str]
    norm: Optional[str]
    rows: int
    columns: np.ndarray
    pos_key: Optional[str]  # the layer role projecting the table for c2p ("pos_key", or "k" when shared)
    pos_query: Optional[str]  # for p2c ("pos_query", or "q")

    @property
    def has_terms(self) -> bool:
        return self.pos_key is not None or self.pos_query is not None


def rotary_table(theta: float, dim: int, positions: int, ntk_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin (positions, dim / 2) as transformers computes them in float32: inv_freq =
    1 / theta^(arange(0, dim, 2) / dim), then position · inv_freq. With GTE's fixed NTK scaling (factor
    f > 1, its remote code's NTKScalingRotaryEmbedding): θ·f as the base, inv_freq divided by f^(2/dim)."""
    exponent = np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / np.float32(dim)
    base = theta * ntk_factor if ntk_factor > 1 else theta
    inv_freq = (np.float32(1.0) / np.power(np.float32(base), exponent, dtype=np.float32)).astype(np.float32)
    if ntk_factor > 1:
        inv_freq = (inv_freq / np.float32(ntk_factor ** (2 / dim))).astype(np.float32)
    freqs = np.arange(positions, dtype=np.float32)[:, None] * inv_freq[None, :]
    return np.cos(freqs).astype(np.float32), np.sin(freqs).astype(np.float32)


def relative_position_buckets(span: int, num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """MPNet's (T5's bidirectional) bucket of each relative position d = key − query in (−span, span),
    in float32 as transformers' relative_position_bucket computes it; (2·span − 1,) int64."""
    d = np.arange(-(span - 1), span, dtype=np.int64)
    n = -d
    half = num_buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    small = n < max_exact
    safe = np.where(small, max_exact, n)  # log(0) is never taken: those distances are their own buckets
    ratio = np.log(safe.astype(np.float32) / np.float32(max_exact)) / np.float32(np.log(max_distance / max_exact))
    large = max_exact + (ratio * np.float32(half - max_exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return ret + np.where(small, n, large)


@dataclass(frozen=True)
class EncoderLayout:
    """Where a family keeps the core's weights, by transformers module name (without the model prefix)."""

    dims: Callable[[PretrainedConfig], EncoderDims]
    word_embeddings: str
    position_embeddings: Optional[str]  # None: no learned position table (rotary families)
    token_type_embeddings: Optional[str]  # None: the family has no token types
    embedding_norm: str
    embedding_projection: Optional[str]  # Linear(E → H) after the embedding LayerNorm, or None
    layer: str  # one weight set's module prefix, with {group} and {inner} (its index within the group)
    # (canonical role, module under `layer`) in state_dict order, or (role, module, part, parts) for a role
    # held as rows [part·n, (part + 1)·n) of a module fusing `parts` of them (ModernBERT's Wqkv, Wi)
    layer_params: tuple[tuple, ...]
    pooler: Optional[str]  # Linear(H → H) + tanh on position 0, or None
    output_class: type
    # the embedding parameters' order in transformers' state_dict
    embedding_order: tuple[str, ...] = ("word", "position", "token_type", "norm")
    # nn.Embedding(padding_idx=pad_token_id) on the position table too (RoBERTa): that row starts at zero.
    position_padding_row: bool = False
    # the position table's initialiser for a config (shape → values), or None for N(0, initializer_range)
    position_init: Optional[Callable[[PretrainedConfig], Optional[Callable[[tuple], np.ndarray]]]] = None
    # position ids from input ids when the caller passes none; None: the token's index t
    position_ids: Optional[Callable[[np.ndarray, EncoderDims], np.ndarray]] = None
    # the pooler's parameters right after the embeddings' (NomicBERT, GTE register it there)
    pooler_after_embeddings: bool = False
    # MPNet's relative_attention_bias, nn.Embedding(num_buckets, NH), shared by every layer
    relative_bias: Optional[str] = None
    norm_first: bool = False  # pre-LayerNorm layers; final_norm then follows the last layer
    final_norm: Optional[str] = None
    first_attn_norm: bool = True  # False: layer 0 has no attention norm (ModernBERT's Identity)
    gated_ffn: bool = False  # layer_params include ffn_gate
    # the roles whose linears have a bias, for a config (None: every linear has one), and whether the
    # LayerNorms have one
    linear_bias: Optional[Callable[[PretrainedConfig], frozenset]] = None
    norm_bias: Optional[Callable[[PretrainedConfig], bool]] = None
    attention: Optional[Callable[[PretrainedConfig, EncoderDims], AttentionPlan]] = None
    # DeBERTa's disentangled attention for a config, or None (also when it returns None)
    disentangled: Optional[Callable[[PretrainedConfig, EncoderDims], Optional[DisentangledPlan]]] = None
    # the layer roles a config leaves out of layer_params (DeBERTa's pos_key / pos_query)
    omitted_roles: Optional[Callable[[PretrainedConfig], frozenset]] = None
    # the embedding projection runs before the LayerNorm (DeBERTa's embed_proj; the norm is then of size H)
    projection_before_norm: bool = False
    # token_type_ids are ignored, not refused, when the config has no token types (DeBERTa-v3's tokenizer
    # gives them for pairs and its embeddings drop them)
    ignores_token_types: bool = False
    # Older names hub checkpoints carry (the remote code's), as transformers' conversion_mapping reads them:
    # (regex, replacement) applied in order to every key, then (fused module, its parts' modules) splitting
    # a fused weight's rows evenly among its parts (views, no copy).
    # A family's own initialiser for a randomly made weight, by its name without the model prefix (config,
    # name → shape → values), or None there for the default N(0, initializer_range)
    weight_init: Optional[Callable[[PretrainedConfig, str], Optional[Callable[[tuple], np.ndarray]]]] = None
    hub_renames: tuple[tuple[str, str], ...] = ()
    hub_splits: tuple[tuple[str, tuple[str, ...]], ...] = ()


def padding_offset_position_ids(input_ids: np.ndarray, dims: EncoderDims) -> np.ndarray:
    """RoBERTa's positions: cumsum(input_ids != pad) * (input_ids != pad) + pad, so real tokens count from
    pad + 1 and padding sits on pad's own row. (B, T) int64."""
    pad = dims.pad_token_id
    real = (input_ids != pad).astype(np.int64)
    positions = np.cumsum(real, axis=1) * real + pad
    longest = int(real.sum(axis=1).max()) if real.size else 0
    if longest + pad >= dims.P:
        raise ValueError(
            f"input_ids: a sequence of {longest} tokens needs position {longest + pad}, but "
            f"max_position_embeddings is {dims.P} (positions start after padding_idx {pad}); "
            f"the longest sequence this model takes is {dims.P - pad - 1} tokens"
        )
    return np.ascontiguousarray(positions)


class EncoderPreTrainedModel(PreTrainedModel):
    """A model whose parameters include a family encoder, under ``_encoder_prefix``."""

    layout: ClassVar[EncoderLayout]
    # The family's module tree (models/module_trees.py) and, for a task head, which head it is.
    module_tree: ClassVar[Any]
    head_kind: ClassVar[Optional[str]] = None
    # "" for the bare model; "<base_model_prefix>." for the task heads.
    _encoder_prefix: ClassVar[str] = ""
    # Whether this model's encoder has its pooler; set by __init__ before the parameters are made.
    _with_pooler: bool = False

    @property
    def dims(self) -> EncoderDims:
        return self.layout.dims(self.config)

    # --- the module tree -----------------------------------------------------------------------------
    def _tree_spec(self) -> Node:
        family, d = self.module_tree, self.dims
        base = family.base(self._with_pooler, d, self.config)
        if self.head_kind is None:
            return Node(type(self).__name__, base.children)
        head = family.heads[self.head_kind]
        if callable(head):  # children that depend on the config
            head = head(self.config)
        encoder = ((self.base_model_prefix, base),)
        children = family.heads_first.get(self.head_kind, ()) + (
            head + encoder if getattr(self, "_head_params_first", False) else encoder + head)
        return Node(type(self).__name__, children)

    def _tree_resolver(self):
        return module_tree_resolver(self.config, self.dims)

    def get_input_embeddings(self):
        return self.get_submodule(self._encoder_prefix + self.layout.word_embeddings)

    def _from_hub_layout(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        lay = self.layout
        if not lay.hub_renames and not lay.hub_splits:
            return checkpoint
        out: dict[str, Any] = {}
        for key, value in checkpoint.items():
            for pattern, replacement in lay.hub_renames:
                key = re.sub(pattern, replacement, key)
            split = next(((fused, parts) for fused, parts in lay.hub_splits if f".{fused}." in f".{key}"), None)
            if split is None:
                out[key] = value
                continue
            fused, parts = split
            n = value.shape[0] // len(parts) if getattr(value, "ndim", 0) >= 1 else 0
            if n * len(parts) != (value.shape[0] if n else -1):
                out[key] = value  # not evenly divisible: left as it is, reported unused by name
                continue
            for i, part in enumerate(parts):
                out[key.replace(fused, part, 1)] = value[i * n:(i + 1) * n]
        return out

    def get_output_embeddings(self):
        """The masked-LM decoder (tied to the input embeddings), or None."""
        head = getattr(self, "head_spec", None)
        for step in getattr(head, "steps", ()):
            if getattr(step, "tied_weight", None):
                return self.get_submodule(step.name)
        return None

    # --- parameters ----------------------------------------------------------------------------------
    def _initialised(self, specs: list[ParamSpec]) -> list[ParamSpec]:
        """The specs with the family's own initialisers (EncoderLayout.weight_init) where it has them."""
        init = self.layout.weight_init
        if init is None:
            return specs
        pre = self._encoder_prefix
        for spec in specs:
            if spec.init == INIT_NORMAL:
                own = init(self.config, spec.name[len(pre):] if spec.name.startswith(pre) else spec.name)
                if own is not None:
                    spec.init = own
        return specs

    def _has_bias(self, role: str) -> bool:
        lay = self.layout
        if role.endswith("norm"):
            return lay.norm_bias is None or bool(lay.norm_bias(self.config))
        return lay.linear_bias is None or role in lay.linear_bias(self.config)

    def _layer_modules(self, layer_index: int) -> list[tuple[str, list[tuple[str, int, int]]]]:
        """Weight set ``layer_index``'s modules in state_dict order: (module, [(role, part, parts), ...])."""
        modules: dict[str, list[tuple[str, int, int]]] = {}
        omitted = self.layout.omitted_roles(self.config) if self.layout.omitted_roles else frozenset()
        for entry in self.layout.layer_params:
            role, module = entry[0], entry[1]
            part, parts = (entry[2], entry[3]) if len(entry) == 4 else (0, 1)
            if role in omitted or (role == "attn_norm" and layer_index == 0 and not self.layout.first_attn_norm):
                continue
            modules.setdefault(module, []).append((role, part, parts))
        return list(modules.items())

    def _encoder_param_specs(self) -> list[ParamSpec]:
        lay, d, pre = self.layout, self.dims, self._encoder_prefix
        pad = d.pad_token_id
        embeddings = {
            "word": [ParamSpec(f"{pre}{lay.word_embeddings}.weight", (d.V, d.E), INIT_NORMAL, padding_row=pad)],
            "position": [],
            "token_type": [],
            "norm": layer_norm_specs(pre + lay.embedding_norm, d.E, self._has_bias("norm")),
        }
        if lay.position_embeddings is not None and d.positions:
            embeddings["position"] = [
                ParamSpec(
                    f"{pre}{lay.position_embeddings}.weight", (d.P, d.E),
                    (lay.position_init(self.config) if lay.position_init else None) or INIT_NORMAL,
                    padding_row=pad if lay.position_padding_row else None,
                )
            ]
        if lay.token_type_embeddings is not None and d.TV > 0:
            embeddings["token_type"] = [ParamSpec(f"{pre}{lay.token_type_embeddings}.weight", (d.TV, d.E), INIT_NORMAL)]
        if lay.embedding_projection is not None and d.projection:
            embeddings["projection"] = linear_specs(pre + lay.embedding_projection, d.H, d.E,
                                                    self._has_bias("embedding_projection"))
        if lay.projection_before_norm:
            embeddings["norm"] = layer_norm_specs(pre + lay.embedding_norm, d.H, self._has_bias("norm"))
        order = lay.embedding_order + (() if "projection" in lay.embedding_order else ("projection",))
        specs = [spec for part in order for spec in embeddings.get(part, [])]
        pooler = linear_specs(pre + lay.pooler, d.H, d.H) if self._with_pooler else []
        if lay.pooler_after_embeddings:
            specs, pooler = specs + pooler, []
        set_index = 0
        for group in range(d.groups):
            for inner in range(d.inner):
                p = pre + lay.layer.format(group=group, inner=inner)
                for module, roles in self._layer_modules(set_index):
                    role = roles[0][0]
                    shape = _role_shape(role, d)
                    if len(shape) == 2:
                        specs += linear_specs(p + module, shape[0] * roles[0][2], shape[1], self._has_bias(role))
                    else:
                        specs += layer_norm_specs(p + module, shape[0], self._has_bias(role))
                set_index += 1
        if lay.relative_bias is not None:
            buckets = self.config.relative_attention_num_buckets
            specs.append(ParamSpec(f"{pre}{lay.relative_bias}.weight", (buckets, d.NH), INIT_NORMAL))
        disentangled = self._disentangled_plan()
        if disentangled is not None:
            if disentangled.embeddings is not None:
                specs.append(ParamSpec(f"{pre}{disentangled.embeddings}.weight", (disentangled.rows, d.H), INIT_NORMAL))
            if disentangled.norm is not None:
                specs += layer_norm_specs(pre + disentangled.norm, d.H)
        if lay.final_norm is not None:
            specs += layer_norm_specs(pre + lay.final_norm, d.H, self._has_bias("final_norm"))
        return specs + pooler

    def _attention_plan(self) -> AttentionPlan:
        return self.layout.attention(self.config, self.dims) if self.layout.attention else AttentionPlan()

    def _disentangled_plan(self) -> Optional[DisentangledPlan]:
        return self.layout.disentangled(self.config, self.dims) if self.layout.disentangled else None

    def _core_disentangled(self) -> Optional[DisentangledPlan]:
        """The plan when the core runs its terms; None also where the table exists but no term reads it."""
        plan = self._disentangled_plan()
        return plan if plan is not None and plan.has_terms else None

    def _canonical_names(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The encoder's parameters as the core's builder takes them (csrc/model/builder.h), one piece at a
        time, as {builder key: source}: ("embeddings", ...), ("layer_set", ...) per weight set in order,
        ("final_norm", ...), ("pooler", ...). A source is a parameter name, or (name, part, parts) for
        rows [part·n, (part + 1)·n) of a fused parameter. DeBERTa's ("relative_positions", ...) comes
        before the layer sets, whose pos_key / pos_query entries name the projections of its table."""
        lay, d, pre = self.layout, self.dims, self._encoder_prefix
        emb: dict[str, Any] = {
            "word": f"{pre}{lay.word_embeddings}.weight",
            "norm.weight": f"{pre}{lay.embedding_norm}.weight",
        }
        if self._has_bias("norm"):
            emb["norm.bias"] = f"{pre}{lay.embedding_norm}.bias"
        if lay.position_embeddings is not None and d.positions:
            emb["position"] = f"{pre}{lay.position_embeddings}.weight"
        if lay.token_type_embeddings is not None and d.TV > 0:
            emb["token_type"] = f"{pre}{lay.token_type_embeddings}.weight"
        if lay.embedding_projection is not None and d.projection:
            parts = ("weight", "bias") if self._has_bias("embedding_projection") else ("weight",)
            for part in parts:
                emb[f"projection.{part}"] = f"{pre}{lay.embedding_projection}.{part}"
        yield "embeddings", emb
        disentangled = self._core_disentangled()
        if disentangled is not None:
            rel = {"embeddings": f"{pre}{disentangled.embeddings}.weight"}
            if disentangled.norm is not None:
                rel.update({f"norm.{kind}": f"{pre}{disentangled.norm}.{kind}" for kind in ("weight", "bias")})
            yield "relative_positions", rel
        set_index = 0
        for group in range(d.groups):
            for inner in range(d.inner):
                src = pre + lay.layer.format(group=group, inner=inner)
                piece: dict[str, Any] = {}
                for module, roles in self._layer_modules(set_index):
                    for role, part, parts in roles:
                        kinds = ("weight", "bias") if self._has_bias(role) else ("weight",)
                        for kind in kinds:
                            name = f"{src}{module}.{kind}"
                            piece[f"{role}.{kind}"] = name if parts == 1 else (name, part, parts)
                if disentangled is not None:  # the terms' projections: their own, or the attention's shared
                    for term, role in (("pos_key", disentangled.pos_key), ("pos_query", disentangled.pos_query)):
                        if role is not None and role != term:
                            piece.update({f"{term}.{kind}": piece[f"{role}.{kind}"] for kind in ("weight", "bias")
                                          if f"{role}.{kind}" in piece})
                yield "layer_set", piece
                set_index += 1
        if lay.final_norm is not None:
            kinds = ("weight", "bias") if self._has_bias("final_norm") else ("weight",)
            yield "final_norm", {kind: f"{pre}{lay.final_norm}.{kind}" for kind in kinds}
        if self._with_pooler:
            yield "pooler", {"weight": f"{pre}{lay.pooler}.weight", "bias": f"{pre}{lay.pooler}.bias"}

    def _source(self, source: Any) -> Any:
        """A canonical source's value: the parameter, or its block of rows (a view) for a fused one."""
        if isinstance(source, str):
            return self._params[source]
        name, part, parts = source
        value = self._params[name]
        if isinstance(value, CoreParam):  # a repack: the fused parameter comes back whole
            value = as_float32(value)
        n = value.shape[0] // parts
        return value[part * n:(part + 1) * n]

    def _build_encoder(self, nonfinite: Optional[list] = None) -> set[str]:
        """Packs the encoder piece by piece; the file pages behind each piece are released once it is
        packed, so a load's peak is the packed weights plus one layer's file pages, not two copies.
        Then every parameter the core holds exactly becomes a CoreParam read back from it: a float32
        model keeps its weights once, in the core, and none of them in the checkpoint file. Returns the
        names of the parameters the encoder holds; appends those holding NaN or inf to ``nonfinite``."""
        d, lay = self.dims, self.layout
        plan = self._attention_plan()
        disentangled = self._core_disentangled()
        core = _core.EncoderConfig()
        core.vocab_size = d.V
        core.max_positions = d.P
        core.type_vocab_size = d.TV if lay.token_type_embeddings is not None else 0
        core.embedding_size = d.E
        core.hidden_size = d.H
        core.num_heads = d.NH
        core.intermediate_size = d.I
        layer_map = d.layer_map()
        core.num_layers = len(layer_map)
        core.activation = activation_from_name(d.act)
        core.layer_norm_eps = d.eps
        core.absolute_positions = lay.position_embeddings is not None and d.positions
        core.projection_before_norm = lay.projection_before_norm
        core.score_scale_factor = plan.score_scale_factor
        if disentangled is not None:
            core.pos_rows = disentangled.rows
        core.norm_first = lay.norm_first
        core.gated_ffn = lay.gated_ffn
        core.layer_window = list(plan.layer_window)
        core.layer_rotary = list(plan.layer_rotary)
        builder = _core.EncoderBuilder(
            core, layer_map, precision=self._compute_dtype, keep_float32=self._float32_layers(len(layer_map)),
        )
        f32 = lambda weights: {k: np.ascontiguousarray(as_float32(v)) for k, v in weights.items()}  # noqa: E731
        core_sources: dict[str, Any] = {}  # its name in the core (csrc/model/readback.h) → source
        # A low-precision core keeps no float32 copy of its layers' matrices, so the model keeps their
        # originals (state_dict(), a lossless repack): the values read back from a float32 core on a repack
        # (else the old core would stay alive), or a copy of the checkpoint's made while the piece's file
        # pages are still resident (copying them all after the build faulted the pages back in: a load
        # peak of 2.5x the weights on bert-base int8 instead of 1.7x).
        keep_originals = self._compute_dtype != "float32"
        originals: dict[str, np.ndarray] = {}
        layer_sets = 0
        for kind, names in self._canonical_names():
            weights = {key: self._source(source) for key, source in names.items()}
            # What the core keeps only as products (DeBERTa's relative embeddings through each layer's
            # position projections): read for the build, never held, so not the core's to give back.
            derived = {key for key in names if kind == "relative_positions" or key.split(".")[0] in POSITION_ROLES}
            params = {key: source if isinstance(source, str) else source[0] for key, source in names.items()}
            if nonfinite is not None:  # each piece while its pages are being read anyway
                nonfinite += sorted({params[key] for key, value in weights.items() if not all_finite(value)})
            if kind == "embeddings":  # the word table goes block by block: converted, copied, released
                word = weights.pop("word")
                if isinstance(word, CoreParam):  # a repack: the table comes back from the current core whole
                    word = as_float32(word)
                block = max(1, (8 << 20) // (4 * d.E))
                piece = f32(weights)
                if lay.relative_bias is not None:
                    piece["relative_bias"] = self._relative_bias_table()
                builder.embeddings(piece)
                for begin in range(0, d.V, block):
                    builder.word_embedding_rows(begin, as_float32(word[begin:begin + block]))
                    self._release_pages([word[begin:begin + block]])
                prefix = ""
            elif kind == "relative_positions":
                builder.relative_positions(f32(weights), disentangled.columns.tolist())
                prefix = ""
            elif kind == "layer_set":
                values = f32(weights)
                builder.add_layer_set(values)
                prefix, layer_sets = f"layers.{layer_sets}.", layer_sets + 1
                if keep_originals:
                    for key in weights.keys() - derived:
                        name = params[key]
                        if key.endswith(".weight") and not key.endswith("norm.weight") and name not in originals:
                            whole = self._params[name]
                            originals[name] = self._own_copy(whole, as_float32(whole))
            elif kind == "final_norm":
                builder.final_norm(f32(weights))
                prefix = "final_norm."
            else:
                builder.pooler(f32(weights))
                prefix = "pooler."
            core_sources.update({f"{prefix}{key}": source for key, source in names.items() if key not in derived})
            self._release_pages(weights.values())
        for theta, dim, ntk_factor in plan.rotary:
            cos, sin = rotary_table(theta, dim, d.P, ntk_factor)
            builder.add_rotary({"cos": cos, "sin": sin})
        self._encoder = builder.build()
        encoder = self._encoder
        fused: dict[str, list] = {}  # a fused parameter → its parts' core names, in part order
        for core_name, source in core_sources.items():
            if isinstance(source, tuple):
                fused.setdefault(source[0], []).append((source[1], core_name))
            elif encoder.holds_exactly(core_name):
                self._params[source] = CoreParam(self._params[source].shape, functools.partial(encoder.weight, core_name))
            elif source in originals:
                self._params[source] = originals[source]
        for name, parts in fused.items():
            core_names = [core_name for _, core_name in sorted(parts)]
            if all(encoder.holds_exactly(n) for n in core_names):
                self._params[name] = CoreParam(self._params[name].shape, functools.partial(_concatenated, encoder, core_names))
            elif name in originals:
                self._params[name] = originals[name]
        return {source if isinstance(source, str) else source[0] for source in core_sources.values()}

    def _relative_bias_table(self) -> np.ndarray:
        """(NH, 2P − 1): the relative_attention_bias row of each relative position's bucket, per head."""
        d = self.dims
        weight = as_float32(self._params[f"{self._encoder_prefix}{self.layout.relative_bias}.weight"])
        buckets = relative_position_buckets(d.P)  # transformers always buckets into 32 (compute_position_bias)
        return np.ascontiguousarray(weight[buckets].T)

    def _own_copy(self, param: Any, as_read: np.ndarray) -> np.ndarray:
        """A parameter as an array the model owns: what was read back for a CoreParam, a copy of a view of
        the checkpoint file (float16 stays float16), an owned array as it is."""
        if isinstance(param, CoreParam):
            return as_read
        if self._mapped_pages is not None and self._mapped_pages.views(param):
            return np.array(param)
        return param

    def _float32_layers(self, num_layers: int) -> list[str]:
        """Layers kept in float32 whatever the compute precision (the core's names, model/builder.h,
        "layers.<s>.<role>"). None: for bfloat16 the bound holds with every layer converted; for int8,
        measured on MiniLM over the bundled sentences (with per-channel weight scales, before the
        per-group ones), keeping one role of every layer in float32 lifted the worst cosine from 0.9933
        to at most 0.9975 (ffn_out; qkv 0.9957, ffn_in 0.9945, attn_out
        none) and no single layer stands out, so no layer is worth its fp32 cost. Subclasses may
        override this."""
        return []

    # --- forward -------------------------------------------------------------------------------------
    def _flags(self, output_attentions, output_hidden_states, return_dict) -> tuple[bool, bool, bool]:
        c = self.config
        return (
            bool(c.output_attentions if output_attentions is None else output_attentions),
            bool(c.output_hidden_states if output_hidden_states is None else output_hidden_states),
            bool(c.use_return_dict if return_dict is None else return_dict),
        )

    def _encode(
        self,
        input_ids: Any,
        attention_mask: Any,
        token_type_ids: Any,
        position_ids: Any,
        head_mask: Any,
        inputs_embeds: Any,
        output_attentions: bool,
        output_hidden_states: bool,
        reads_only: Optional[str] = None,
    ) -> tuple[dict[str, Any], Optional[np.ndarray]]:
        """Runs the core; returns its outputs (hidden_states/attentions as tuples) and the (B, T) mask.

        ``reads_only``: what the caller reads of the last hidden state, when not all of it; the core then makes
        no padded (B, T, H) states, and the outputs hold in place of ``last_hidden_state``:
          - ``"position0"`` (a pooler, ``[:, 0]``) or ``"first_real"`` (each sequence's first real token, as
            transformers' argmax of the mask): ``first_hidden_state`` (B, H). Where that is position 0 of
            every sequence and no hidden states or attentions are asked for, the last layer computes nothing
            else (the same values: csrc/model/encoder.cc);
          - ``"mean"``: ``mean_pooled`` (B, H), the mean of each sequence's real tokens;
          - ``"packed"``: ``packed_rows`` (N, H), the rows the core computes, with ``packed_index`` (N), their
            flat indices into (B, T), and ``packed_shape`` (B, T)."""
        if head_mask is not None:
            raise NotImplementedError("head_mask is not supported by pybertcore")
        if inputs_embeds is not None:
            raise NotImplementedError("inputs_embeds is not supported by pybertcore; pass input_ids")
        ids, mask, types, positions = encoder_inputs(input_ids, attention_mask, token_type_ids, position_ids)
        if self.layout.ignores_token_types and self.dims.TV == 0:
            types = None
        if positions is None and self.layout.position_ids is not None:
            positions = self.layout.position_ids(ids, self.dims)
        if reads_only not in (None, "position0", "first_real", "mean", "packed"):
            raise ValueError("reads_only: expected None, 'position0', 'first_real', 'mean' or 'packed', "
                             f"got {reads_only!r}")
        last_state = {None: "padded", "position0": "position0", "mean": "mean", "packed": "packed"}.get(reads_only)
        if reads_only == "first_real":  # position 0 unless a sequence is left-padded: then from the packed rows
            last_state = "position0" if mask is None or bool(mask[:, 0].all()) else "packed"
        out = self._encoder.forward(
            ids, mask, types, positions,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            pooled=self._with_pooler,
            last_state=last_state,
        )
        if last_state == "packed":
            if reads_only == "first_real":
                index = out.pop("packed_index")
                out["first_hidden_state"] = out.pop("packed_rows")[first_real_rows(mask, index)]
            else:
                out["packed_shape"] = ids.shape
        out["hidden_states"] = tuple(out["hidden_states"]) if output_hidden_states else None
        out["attentions"] = tuple(out["attentions"]) if output_attentions else None
        return out, mask

    def _base_output(self, input_ids: Any, attention_mask: Any, token_type_ids: Any, position_ids: Any, head_mask: Any,
                     inputs_embeds: Any, output_attentions: Optional[bool], output_hidden_states: Optional[bool],
                     return_dict: Optional[bool]) -> Any:
        """The bare model's output (its family's class), from this model's encoder: the bare model's forward,
        and a head model's base model called on its own (``model.bert(...)``), pooled where it has a pooler."""
        output_attentions, output_hidden_states, return_dict = self._flags(
            output_attentions, output_hidden_states, return_dict
        )
        out, _ = self._encode(
            input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
            output_attentions, output_hidden_states,
        )
        result = _make_output(
            self.layout.output_class,
            last_hidden_state=out["last_hidden_state"],
            pooler_output=out.get("pooler_output"),
            hidden_states=out["hidden_states"],
            attentions=out["attentions"],
            # transformers returns an empty tuple here whenever attentions are asked for (encoders only)
            cross_attentions=() if output_attentions else None,
        )
        return result if return_dict else result.to_tuple()


class EncoderModel(EncoderPreTrainedModel):
    """The bare encoder: ``last_hidden_state`` and, where the family has a pooler, ``pooler_output``."""

    _init_kwargs = ("add_pooling_layer",)

    def __init__(self, config: PretrainedConfig, add_pooling_layer: bool = True) -> None:
        self.add_pooling_layer = add_pooling_layer
        self._with_pooler = bool(add_pooling_layer) and self.layout.pooler is not None
        super().__init__(config)

    def _param_specs(self) -> list[ParamSpec]:
        return self._initialised(self._encoder_param_specs())

    def _build(self, nonfinite: Optional[list] = None) -> None:
        self._build_encoder(nonfinite)

    @follows_input_framework
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
        """Runs the encoder on token ids; see the output class for the fields.

        Padded positions (attention_mask 0) of ``last_hidden_state`` and ``hidden_states`` hold zeros,
        except position 0, which holds the state transformers computes there (the pooler reads it).
        """
        return self._base_output(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                                 output_attentions, output_hidden_states, return_dict)

    __call__ = forward


def _make_output(cls: type, **values: Any):
    """An output of class ``cls`` from the values it has fields for (DistilBERT's has no pooler_output)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def truncated_normal(std: float, cutoff: float) -> Callable[[tuple], np.ndarray]:
    """N(0, std) cut at ±cutoff·std, as torch's trunc_normal_ (redrawn, not clipped)."""
    def draw(shape: tuple) -> np.ndarray:
        from pybertcore.modeling_utils import random_generator

        rng = random_generator()
        out = rng.normal(0.0, std, size=shape)
        bad = np.abs(out) > cutoff * std
        while bad.any():
            out[bad] = rng.normal(0.0, std, size=int(bad.sum()))
            bad = np.abs(out) > cutoff * std
        return out.astype(np.float32)
    return draw


def _concatenated(encoder: Any, core_names: list[str]) -> np.ndarray:
    """A fused parameter read back from the core: its parts' rows, in order."""
    return np.concatenate([encoder.weight(name) for name in core_names])
