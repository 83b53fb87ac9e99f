"""DeBERTa-v2 (and v3): BERT's post-LayerNorm layers with disentangled attention. Each score adds to
content·content a content→position term (the query against the relative embedding of i − j through the
key projection) and a position→content term (the key against it through the query projection), over
log-bucketed relative positions (``position_buckets``, ``max_relative_positions``), all scaled by
1/√(head size · (1 + terms)). One relative-embedding table (with its LayerNorm under ``norm_rel_ebd``) is
shared by every layer; each layer projects it with its own pos_key_proj / pos_query_proj, or with its
key_proj / query_proj under ``share_att_key``. The core keeps only those projections of the table, made
once at load. Absolute positions only with ``position_biased_input``; an ``embedding_size`` narrower
than hidden is projected (no bias) before the embedding LayerNorm.

Heads: a ContextPooler (dense + pooler_hidden_act on position 0) before the sequence and multiple-choice
classifiers; the legacy masked-LM head (``cls.predictions``, what every published checkpoint uses)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from pybertcore.modeling_outputs import BaseModelOutput
from pybertcore.models.deberta_v2.configuration_deberta_v2 import DebertaV2Config
from pybertcore.models.encoder_model import (
    LAYER_ROLES,
    AttentionPlan,
    DisentangledPlan,
    EncoderDims,
    EncoderLayout,
    EncoderModel,
    EncoderPreTrainedModel,
)
from pybertcore.models.heads import (
    Bias,
    EmbeddingDecoder,
    ForMaskedLM,
    ForMultipleChoice,
    ForQuestionAnswering,
    ForSequenceClassification,
    ForTokenClassification,
    Head,
    Linear,
    Norm,
    QUESTION_ANSWERING_HEAD,
    TOKEN_CLASSIFICATION_HEAD,
)
from pybertcore.models.module_trees import DEBERTA_V2_TREE


def deberta_v2_dims(c: DebertaV2Config) -> EncoderDims:
    E = c.embedding_width
    return EncoderDims(
        V=c.vocab_size, P=c.max_position_embeddings, TV=c.type_vocab_size, E=E, H=c.hidden_size,
        NH=c.num_attention_heads, I=c.intermediate_size, L=c.num_hidden_layers, groups=c.num_hidden_layers,
        inner=1, act=c.hidden_act, eps=float(c.layer_norm_eps), pad_token_id=c.pad_token_id,
        projection=E != c.hidden_size, positions=bool(c.position_biased_input),
    )


def log_bucket_positions(relative: np.ndarray, buckets: int, limit: int) -> np.ndarray:
    """transformers' make_log_bucket_position in float32: distances under buckets // 2 are their own
    bucket, longer ones share buckets on a log scale reaching `limit`. The logarithms are rounded once from
    float64 (torch's float32 log is correctly rounded but for rare last-bit differences; this matched it
    on every distance below 8192 for 300 random (buckets, limit) pairs)."""
    d = np.asarray(relative, dtype=np.int64)
    mid = buckets // 2
    far = np.where((d < mid) & (d > -mid), mid - 1, np.abs(d))
    ratio = (far.astype(np.float32) / np.float32(mid)).astype(np.float32)
    log_ratio = np.log(ratio.astype(np.float64)).astype(np.float32)
    log_span = np.float32(np.log(np.float64(np.float32((limit - 1) / mid))))
    log_pos = np.ceil((log_ratio / log_span).astype(np.float32) * np.float32(mid - 1)) + np.float32(mid)
    return np.where(far <= mid, d, (log_pos * np.sign(d)).astype(np.int64))


def relative_columns(c: DebertaV2Config) -> np.ndarray:
    """(2S − 1,) int32: for i − j from −(S − 1) to S − 1, the row of the relative-embedding table both
    terms read: clamp(bucket(i − j) + span, 0, 2·span − 1), as transformers' c2p_pos (and p2c_pos, which
    the buckets' symmetry makes the same row).

    S is the least span ≥ max_position_embeddings past which every distance reads the table's first row
    (i < j) or its last (i > j): the buckets grow with the distance and the clamp holds them at the ends,
    which they reach by the distance ``max_relative_positions`` (log buckets) or the span (linear). The
    core reads longer sequences by extending the map with those end values, as transformers takes any
    length when no absolute positions limit it. Not so when the ends lie past 65536 (S = 65536), nor for
    log buckets whose limit is within half the buckets (their logarithm falls with the distance and they
    never settle: S = max_position_embeddings)."""
    P, span, limit = c.max_position_embeddings, c.relative_span(), c.relative_limit()
    buckets = getattr(c, "position_buckets", -1)
    settles = buckets <= 0 or limit - 1 > buckets // 2
    reach = min(max(P, limit + 1, span + 1), max(P, 1 << 16)) if settles else P
    d = np.arange(-(reach - 1), reach, dtype=np.int64)
    columns = np.clip((log_bucket_positions(d, buckets, limit) if buckets > 0 else d) + span,
                      0, 2 * span - 1)
    first, last = np.flatnonzero(columns == 0), np.flatnonzero(columns == 2 * span - 1)
    if not settles or first.size == 0 or last.size == 0:
        return columns.astype(np.int32)
    S = max(P, 1 - int(d[first[-1]]), int(d[last[0]]) + 1)
    return np.ascontiguousarray(columns[reach - S:reach + S - 1], dtype=np.int32)


def deberta_v2_attention(c: DebertaV2Config, d: EncoderDims) -> AttentionPlan:
    # transformers counts the terms pos_att_type names in the scale even without relative_attention
    return AttentionPlan(score_scale_factor=1 + sum(t in (c.pos_att_type or ()) for t in ("c2p", "p2c")))


def deberta_v2_disentangled(c: DebertaV2Config, d: EncoderDims) -> Optional[DisentangledPlan]:
    norms = [x.strip() for x in getattr(c, "norm_rel_ebd", "none").lower().split("|")]
    if not c.relative_attention and "layer_norm" not in norms:
        return None
    terms, shared = c.position_terms(), bool(getattr(c, "share_att_key", False))
    return DisentangledPlan(
        embeddings="encoder.rel_embeddings" if c.relative_attention else None,
        norm="encoder.LayerNorm" if "layer_norm" in norms else None,
        rows=2 * c.relative_span() if c.relative_attention else 0,
        columns=relative_columns(c) if c.relative_attention else np.zeros(0, np.int32),
        pos_key=("k" if shared else "pos_key") if "c2p" in terms else None,
        pos_query=("q" if shared else "pos_query") if "p2c" in terms else None,
    )


def deberta_v2_omitted_roles(c: DebertaV2Config) -> frozenset:
    """The position projections a layer lacks: both under share_att_key, and those of absent terms."""
    shared, terms = bool(getattr(c, "share_att_key", False)), c.position_terms()
    return frozenset(role for role, term in (("pos_key", "c2p"), ("pos_query", "p2c")) if shared or term not in terms)


DEBERTA_V2_LAYOUT = EncoderLayout(
    dims=deberta_v2_dims,
    word_embeddings="embeddings.word_embeddings",
    position_embeddings="embeddings.position_embeddings",
    token_type_embeddings="embeddings.token_type_embeddings",
    embedding_norm="embeddings.LayerNorm",
    embedding_projection="embeddings.embed_proj",
    layer="encoder.layer.{group}.",
    layer_params=(
        ("q", "attention.self.query_proj"),
        ("k", "attention.self.key_proj"),
        ("v", "attention.self.value_proj"),
        ("pos_key", "attention.self.pos_key_proj"),
        ("pos_query", "attention.self.pos_query_proj"),
        ("attn_out", "attention.output.dense"),
        ("attn_norm", "attention.output.LayerNorm"),
        ("ffn_in", "intermediate.dense"),
        ("ffn_out", "output.dense"),
        ("ffn_norm", "output.LayerNorm"),
    ),
    pooler=None,
    output_class=BaseModelOutput,
    embedding_order=("word", "position", "token_type", "projection", "norm"),
    linear_bias=lambda c: frozenset(LAYER_ROLES),  # every linear but the embedding projection
    attention=deberta_v2_attention,
    disentangled=deberta_v2_disentangled,
    omitted_roles=deberta_v2_omitted_roles,
    projection_before_norm=True,
    ignores_token_types=True,
)

# ContextPooler: dense + pooler_hidden_act on position 0, then the classifier
CONTEXT_POOLER = Linear("pooler.dense", "H", act="config:pooler_hidden_act")


class DebertaV2PreTrainedModel(EncoderPreTrainedModel):
    config_class = DebertaV2Config
    base_model_prefix = "deberta"
    layout = DEBERTA_V2_LAYOUT
    module_tree = DEBERTA_V2_TREE
    # transformers' lists: v3 checkpoints carry a position table their config does not use
    _keys_to_ignore_on_load_unexpected = (r"position_ids$", "position_embeddings")


class DebertaV2Model(DebertaV2PreTrainedModel, EncoderModel):
    """The bare DeBERTa-v2 encoder: ``last_hidden_state`` (no pooler)."""


class DebertaV2ForSequenceClassification(DebertaV2PreTrainedModel, ForSequenceClassification):
    head_spec = Head("first", (CONTEXT_POOLER, Linear("classifier", "num_labels")))


class DebertaV2ForTokenClassification(DebertaV2PreTrainedModel, ForTokenClassification):
    head_spec = TOKEN_CLASSIFICATION_HEAD


class DebertaV2ForQuestionAnswering(DebertaV2PreTrainedModel, ForQuestionAnswering):
    head_spec = QUESTION_ANSWERING_HEAD


class DebertaV2ForMultipleChoice(DebertaV2PreTrainedModel, ForMultipleChoice):
    head_spec = Head("first", (CONTEXT_POOLER, Linear("classifier", 1)))


class DebertaV2ForMaskedLM(DebertaV2PreTrainedModel, ForMaskedLM):
    """``config.legacy`` (transformers' default): ``cls.predictions``, dense (H → E) → act → LayerNorm →
    decoder tied to the word embeddings. legacy=False: ``lm_predictions.lm_head``, dense → act →
    LayerNorm, then the word embeddings themselves plus a bias (no decoder module): the head the
    deberta-v3 checkpoints' weights are saved under, for fill-mask with them."""

    # the pre-training checkpoints' replaced-token head goes too (transformers joins the two lists)
    _keys_to_ignore_on_load_unexpected = (r"position_ids$", "position_embeddings", r"mask_predictions.*")

    head_spec = Head(
        "tokens",
        (
            Bias("cls.predictions.bias", "V", when="legacy"),
            Linear("cls.predictions.transform.dense", "E", act="config:hidden_act", when="legacy"),
            Norm("cls.predictions.transform.LayerNorm", "E", when="legacy"),
            Linear("cls.predictions.decoder", "V", inp="E", tied_weight="embeddings.word_embeddings.weight",
                   tied_bias="cls.predictions.bias", when="legacy"),
            Bias("lm_predictions.lm_head.bias", "V", when="!legacy"),
            Linear("lm_predictions.lm_head.dense", "H", act="config:hidden_act", when="!legacy"),
            Norm("lm_predictions.lm_head.LayerNorm", "H", when="!legacy"),
            EmbeddingDecoder("lm_predictions.lm_head.bias", when="!legacy"),
        ),
    )

    def get_output_embeddings(self):
        """As transformers: the decoder, or without the legacy head its dense layer."""
        if self.config.legacy:
            return super().get_output_embeddings()
        return self.get_submodule("lm_predictions.lm_head.dense")
