"""Each family's module tree as data: the attribute tree and printout of its transformers twin.

A spec (``pybertcore.module_tree``: Node, Layers and leaf specs) per family and head, written from
transformers' modules: the order of children is the order their ``__init__`` registers them (what
``print(model)`` and ``named_parameters()`` follow), dropout and activation modules included. Sizes are
names resolved per model (``module_tree_resolver``): the core's dimensions (V, P, TV, E, H, I, L, groups,
inner), ``num_labels``, ``pad`` (pad_token_id), ``eps``, or config fields (``"a|b"``: the first of a and b
that is not None, as ``classifier_dropout or hidden_dropout_prob`` reads in transformers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pybertcore.module_tree import (
    ActivationSpec as Act,
    DropoutSpec as Drop,
    EmbeddingSpec as Emb,
    LayerNormSpec as Norm,
    Layers,
    LinearSpec as Lin,
    Node,
    PlainSpec as Plain,
)


# --- BERT and the families built like it (RoBERTa, XLM-R, CamemBERT, ELECTRA) -------------------------
def bert_like_layer(F: str) -> Node:
    return Node(f"{F}Layer", (
        ("attention", Node(f"{F}Attention", (
            ("self", Node(f"{F}SelfAttention", (
                ("query", Lin("H", "H")), ("key", Lin("H", "H")), ("value", Lin("H", "H")),
                ("dropout", Drop("attention_probs_dropout_prob")),
            ))),
            ("output", Node(f"{F}SelfOutput", (
                ("dense", Lin("H", "H")), ("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob")),
            ))),
        ))),
        ("intermediate", Node(f"{F}Intermediate", (
            ("dense", Lin("H", "I")), ("intermediate_act_fn", Act("hidden_act")),
        ))),
        ("output", Node(f"{F}Output", (
            ("dense", Lin("I", "H")), ("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob")),
        ))),
    ))


def bert_like_model(F: str, with_pooler: bool, roberta_embeddings: bool = False, projection: bool = False) -> Node:
    """``<F>Model``: RoBERTa-style embeddings register the position table last, with a padding row."""
    word = ("word_embeddings", Emb("V", "E", "pad"))
    types = ("token_type_embeddings", Emb("TV", "E"))
    norm, dropout = ("LayerNorm", Norm("E")), ("dropout", Drop("hidden_dropout_prob"))
    if roberta_embeddings:
        embeddings = (word, types, norm, dropout, ("position_embeddings", Emb("P", "E", "pad")))
    else:
        embeddings = (word, ("position_embeddings", Emb("P", "E")), types, norm, dropout)
    children = [("embeddings", Node(f"{F}Embeddings", embeddings))]
    if projection:
        children.append(("embeddings_project", Lin("E", "H")))
    children.append(("encoder", Node(f"{F}Encoder", (("layer", Layers("L", bert_like_layer(F))),))))
    if with_pooler:
        children.append(("pooler", Node(f"{F}Pooler", (("dense", Lin("H", "H")), ("activation", Plain("Tanh"))))))
    return Node(f"{F}Model", tuple(children))


CLASSIFIER_DROPOUT = Drop("classifier_dropout|hidden_dropout_prob")


def bert_heads(F: str) -> dict[str, tuple]:
    """The head's children, by head kind, for BERT."""
    return {
        "sequence_classification": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", "num_labels"))),
        "token_classification": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", "num_labels"))),
        "question_answering": (("qa_outputs", Lin("H", "num_labels")),),
        "masked_lm": (("cls", Node(f"{F}OnlyMLMHead", (
            ("predictions", Node(f"{F}LMPredictionHead", (
                ("transform", Node(f"{F}PredictionHeadTransform", (
                    ("dense", Lin("H", "H")), ("transform_act_fn", Act("hidden_act")), ("LayerNorm", Norm("H")),
                ))),
                ("decoder", Lin("H", "V")),
            ), params=(("bias", ("V",)),))),
        ))),),
        "multiple_choice": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", 1))),
    }


def roberta_heads(F: str) -> dict[str, tuple]:
    return {
        "sequence_classification": (("classifier", Node(f"{F}ClassificationHead", (
            ("dense", Lin("H", "H")), ("dropout", CLASSIFIER_DROPOUT), ("out_proj", Lin("H", "num_labels")),
        ))),),
        "token_classification": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", "num_labels"))),
        "question_answering": (("qa_outputs", Lin("H", "num_labels")),),
        "masked_lm": (("lm_head", Node(f"{F}LMHead", (
            ("dense", Lin("H", "H")), ("layer_norm", Norm("H")), ("decoder", Lin("H", "V")),
        ), params=(("bias", ("V",)),))),),
        "multiple_choice": (("dropout", Drop("hidden_dropout_prob")), ("classifier", Lin("H", 1))),
    }


def electra_heads() -> dict[str, tuple]:
    return {
        "sequence_classification": (("classifier", Node("ElectraClassificationHead", (
            ("dense", Lin("H", "H")), ("activation", Act("hidden_act")), ("dropout", CLASSIFIER_DROPOUT),
            ("out_proj", Lin("H", "num_labels")),
        ))),),
        "token_classification": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", "num_labels"))),
        "question_answering": (("qa_outputs", Lin("H", "num_labels")),),
        "masked_lm": (
            ("generator_predictions", Node("ElectraGeneratorPredictions", (
                ("activation", Act("hidden_act")), ("LayerNorm", Norm("E")), ("dense", Lin("H", "E")),
            ))),
            ("generator_lm_head", Lin("E", "V")),
        ),
        "multiple_choice": (
            ("sequence_summary", Node("ElectraSequenceSummary", (
                ("summary", Lin("H", "H")), ("activation", Act("summary_activation")),
                ("first_dropout", Plain("Identity")), ("last_dropout", Drop("summary_last_dropout")),
            ))),
            ("classifier", Lin("H", 1)),
        ),
    }


# --- DistilBERT ------------------------------------------------------------------------------------
def distilbert_model() -> Node:
    block = Node("TransformerBlock", (
        ("attention", Node("DistilBertSelfAttention", (
            ("q_lin", Lin("H", "H")), ("k_lin", Lin("H", "H")), ("v_lin", Lin("H", "H")), ("out_lin", Lin("H", "H")),
            ("dropout", Drop("attention_dropout")),
        ))),
        ("sa_layer_norm", Norm("H")),
        ("ffn", Node("FFN", (
            ("dropout", Drop("dropout")), ("lin1", Lin("H", "I")), ("lin2", Lin("I", "H")), ("activation", Act("activation")),
        ))),
        ("output_layer_norm", Norm("H")),
    ))
    return Node("DistilBertModel", (
        ("embeddings", Node("Embeddings", (
            ("word_embeddings", Emb("V", "E", "pad")), ("position_embeddings", Emb("P", "E")),
            ("LayerNorm", Norm("E")), ("dropout", Drop("dropout")),
        ))),
        ("transformer", Node("Transformer", (("layer", Layers("L", block)),))),
    ))


DISTILBERT_HEADS = {
    "sequence_classification": (("pre_classifier", Lin("H", "H")), ("classifier", Lin("H", "num_labels")),
                                ("dropout", Drop("seq_classif_dropout"))),
    "token_classification": (("dropout", Drop("dropout")), ("classifier", Lin("H", "num_labels"))),
    "question_answering": (("qa_outputs", Lin("H", "num_labels")), ("dropout", Drop("qa_dropout"))),
    "masked_lm": (("vocab_transform", Lin("H", "H")), ("vocab_layer_norm", Norm("H")), ("vocab_projector", Lin("H", "V")),
                  ("mlm_loss_fct", Plain("CrossEntropyLoss"))),
    "multiple_choice": (("pre_classifier", Lin("H", "H")), ("classifier", Lin("H", 1)), ("dropout", Drop("seq_classif_dropout"))),
}
# DistilBertForMaskedLM registers its activation before the encoder.
DISTILBERT_HEADS_FIRST = {"masked_lm": (("activation", Act("activation")),)}


# --- ALBERT ----------------------------------------------------------------------------------------
def albert_model(with_pooler: bool) -> Node:
    layer = Node("AlbertLayer", (
        ("full_layer_layer_norm", Norm("H")),
        ("attention", Node("AlbertAttention", (
            ("attention_dropout", Drop("attention_probs_dropout_prob")), ("output_dropout", Drop("hidden_dropout_prob")),
            ("query", Lin("H", "H")), ("key", Lin("H", "H")), ("value", Lin("H", "H")), ("dense", Lin("H", "H")),
            ("LayerNorm", Norm("H")),
        ))),
        ("ffn", Lin("H", "I")), ("ffn_output", Lin("I", "H")), ("activation", Act("hidden_act")),
        ("dropout", Drop("hidden_dropout_prob")),
    ))
    children = [
        ("embeddings", Node("AlbertEmbeddings", (
            ("word_embeddings", Emb("V", "E", "pad")), ("position_embeddings", Emb("P", "E")),
            ("token_type_embeddings", Emb("TV", "E")), ("LayerNorm", Norm("E")), ("dropout", Drop("hidden_dropout_prob")),
        ))),
        ("encoder", Node("AlbertTransformer", (
            ("embedding_hidden_mapping_in", Lin("E", "H")),
            ("albert_layer_groups", Layers("groups", Node("AlbertLayerGroup", (
                ("albert_layers", Layers("inner", layer)),
            )))),
        ))),
    ]
    if with_pooler:
        children += [("pooler", Lin("H", "H")), ("pooler_activation", Plain("Tanh"))]
    return Node("AlbertModel", tuple(children))


ALBERT_HEADS = {
    "sequence_classification": (("dropout", Drop("classifier_dropout_prob")), ("classifier", Lin("H", "num_labels"))),
    "token_classification": (("dropout", Drop("classifier_dropout_prob")), ("classifier", Lin("H", "num_labels"))),
    "question_answering": (("qa_outputs", Lin("H", "num_labels")),),
    "masked_lm": (("predictions", Node("AlbertMLMHead", (
        ("LayerNorm", Norm("E")), ("dense", Lin("H", "E")), ("decoder", Lin("E", "V")), ("activation", Act("hidden_act")),
    ), params=(("bias", ("V",)),))),),
    "multiple_choice": (("dropout", Drop("classifier_dropout_prob")), ("classifier", Lin("H", 1))),
}


# --- MPNet -------------------------------------------------------------------------------------------
def mpnet_model(with_pooler: bool) -> Node:
    layer = Node("MPNetLayer", (
        ("attention", Node("MPNetAttention", (
            ("attn", Node("MPNetSelfAttention", (
                ("q", Lin("H", "H")), ("k", Lin("H", "H")), ("v", Lin("H", "H")), ("o", Lin("H", "H")),
                ("dropout", Drop("attention_probs_dropout_prob")),
            ))),
            ("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob")),
        ))),
        ("intermediate", Node("MPNetIntermediate", (
            ("dense", Lin("H", "I")), ("intermediate_act_fn", Act("hidden_act")),
        ))),
        ("output", Node("MPNetOutput", (
            ("dense", Lin("I", "H")), ("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob")),
        ))),
    ))
    children = [
        ("embeddings", Node("MPNetEmbeddings", (
            ("word_embeddings", Emb("V", "E", "pad")), ("position_embeddings", Emb("P", "E", "pad")),
            ("LayerNorm", Norm("E")), ("dropout", Drop("hidden_dropout_prob")),
        ))),
        ("encoder", Node("MPNetEncoder", (
            ("layer", Layers("L", layer)),
            ("relative_attention_bias", Emb("relative_attention_num_buckets", "NH")),
        ))),
    ]
    if with_pooler:
        children.append(("pooler", Node("MPNetPooler", (("dense", Lin("H", "H")), ("activation", Plain("Tanh"))))))
    return Node("MPNetModel", tuple(children))


# --- NomicBERT and GTE: rotary positions, gated MLP, the pooler right after the embeddings -------------
def rotary_model(F: str, with_pooler: bool, token_types: bool, linear_bias: frozenset, mlp_dropout: bool) -> Node:
    def lin(inp: str, out: str, role: str) -> Lin:
        return Lin(inp, out, bias=role in linear_bias)

    mlp = [("gate_proj", lin("H", "I", "ffn_gate")), ("up_proj", lin("H", "I", "ffn_in")),
           ("down_proj", lin("I", "H", "ffn_out")), ("act_fn", Act("hidden_act"))]
    if mlp_dropout:
        mlp.append(("dropout", Drop("hidden_dropout_prob")))
    layer = Node(f"{F}Layer", (
        ("post_attention_layernorm", Norm("H")),
        ("post_attention_dropout", Drop("hidden_dropout_prob")),
        ("post_mlp_dropout", Drop("hidden_dropout_prob")),
        ("mlp", Node(f"{F}MLP", tuple(mlp))),
        ("self_attn", Node(f"{F}Attention", (
            ("q_proj", lin("H", "H", "q")), ("k_proj", lin("H", "H", "k")), ("v_proj", lin("H", "H", "v")),
            ("o_proj", lin("H", "H", "attn_out")),
        ))),
        ("post_mlp_layernorm", Norm("H")),
    ))
    embeddings = [("word_embeddings", Emb("V", "E", "pad"))]
    if token_types:
        embeddings.append(("token_type_embeddings", Emb("TV", "E")))
    embeddings += [("LayerNorm", Norm("E")), ("dropout", Drop("hidden_dropout_prob"))]
    children = [("embeddings", Node(f"{F}Embeddings", tuple(embeddings)))]
    if with_pooler:
        children.append(("pooler", Node(f"{F}Pooler", (("dense", Lin("H", "H")), ("activation", Plain("Tanh"))))))
    children += [("rotary_emb", Plain(f"{F}RotaryEmbedding")), ("layers", Layers("L", layer))]
    return Node(f"{F}Model", tuple(children))


def rotary_heads(F: str, mlm: tuple) -> dict[str, tuple]:
    return {
        "sequence_classification": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", "num_labels"))),
        "token_classification": (("dropout", CLASSIFIER_DROPOUT), ("classifier", Lin("H", "num_labels"))),
        "masked_lm": mlm,
    }


NOMIC_BERT_MLM = (("cls", Node("NomicBertOnlyMLMHead", (
    ("predictions", Node("NomicBertLMPredictionHead", (
        ("transform", Node("NomicBertPredictionHeadTransform", (
            ("dense", Lin("H", "H")), ("transform_act_fn", Act("hidden_act")), ("layer_norm", Norm("H")),
        ))),
        ("decoder", Lin("H", "V")),
    ), params=(("bias", ("V",)),))),
))),)
GTE_MLM = (("lm_head", Node("GteLMHead", (
    ("dense", Lin("H", "H")), ("layer_norm", Norm("H")), ("decoder", Lin("H", "V")),
))),)


# --- ModernBERT --------------------------------------------------------------------------------------
def modernbert_layer(first: bool) -> Node:
    return Node("ModernBertEncoderLayer", (
        ("attn_norm", Plain("Identity") if first else Norm("H", bias="norm_bias")),
        ("attn", Node("ModernBertAttention", (
            ("Wqkv", Lin("H", "3*H", bias="attention_bias")), ("Wo", Lin("H", "H", bias="attention_bias")),
            ("out_drop", Drop("attention_dropout", identity_when_zero=True)),
        ))),
        ("mlp_norm", Norm("H", bias="norm_bias")),
        ("mlp", Node("ModernBertMLP", (
            ("Wi", Lin("H", "2*I", bias="mlp_bias")), ("act", Act("hidden_activation")), ("drop", Drop("mlp_dropout")),
            ("Wo", Lin("I", "H", bias="mlp_bias")),
        ))),
    ))


def modernbert_model() -> Node:
    return Node("ModernBertModel", (
        ("embeddings", Node("ModernBertEmbeddings", (
            ("tok_embeddings", Emb("V", "E", "pad")), ("norm", Norm("E", bias="norm_bias")),
            ("drop", Drop("embedding_dropout")),
        ))),
        ("layers", Layers("L", modernbert_layer(False), first=modernbert_layer(True))),
        ("final_norm", Norm("H", bias="norm_bias")),
        ("rotary_emb", Plain("ModernBertRotaryEmbedding")),
    ))


MODERNBERT_PREDICTION = ("head", Node("ModernBertPredictionHead", (
    ("dense", Lin("H", "H", bias="classifier_bias")), ("act", Act("classifier_activation")),
    ("norm", Norm("H", bias="norm_bias")),
)))
MODERNBERT_HEADS = {
    "sequence_classification": (MODERNBERT_PREDICTION, ("drop", Drop("classifier_dropout")),
                                ("classifier", Lin("H", "num_labels"))),
    "token_classification": (MODERNBERT_PREDICTION, ("drop", Drop("classifier_dropout")),
                             ("classifier", Lin("H", "num_labels"))),
    "question_answering": (MODERNBERT_PREDICTION, ("drop", Drop("classifier_dropout")),
                           ("classifier", Lin("H", "num_labels"))),
    "masked_lm": (MODERNBERT_PREDICTION, ("decoder", Lin("H", "V", bias="decoder_bias"))),
    "multiple_choice": (MODERNBERT_PREDICTION, ("drop", Drop("classifier_dropout")), ("classifier", Lin("H", 1))),
}


# --- DeBERTa-v2 ------------------------------------------------------------------------------------
def deberta_v2_model(d: Any, c: Any) -> Node:
    """The embeddings' tables and projection, the attention's position projections and the shared
    relative embeddings exist per config, as transformers creates them."""
    embeddings = [("word_embeddings", Emb("V", "E", "pad"))]
    if c.position_biased_input:
        embeddings.append(("position_embeddings", Emb("P", "E")))
    if d.TV > 0:
        embeddings.append(("token_type_embeddings", Emb("TV", "E")))
    if d.projection:
        embeddings.append(("embed_proj", Lin("E", "H", bias=False)))
    embeddings += [("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob"))]
    attention = [("query_proj", Lin("H", "H")), ("key_proj", Lin("H", "H")), ("value_proj", Lin("H", "H"))]
    shared = getattr(c, "share_att_key", False)
    if c.relative_attention:
        attention.append(("pos_dropout", Drop("hidden_dropout_prob")))
        terms = c.pos_att_type or ()
        if "c2p" in terms and not shared:
            attention.append(("pos_key_proj", Lin("H", "H")))
        if "p2c" in terms and not shared:
            attention.append(("pos_query_proj", Lin("H", "H")))
    attention.append(("dropout", Drop("attention_probs_dropout_prob")))
    layer = Node("DebertaV2Layer", (
        ("attention", Node("DebertaV2Attention", (
            ("self", Node("DisentangledSelfAttention", tuple(attention))),
            ("output", Node("DebertaV2SelfOutput", (
                ("dense", Lin("H", "H")), ("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob")),
            ))),
        ))),
        ("intermediate", Node("DebertaV2Intermediate", (
            ("dense", Lin("H", "I")), ("intermediate_act_fn", Act("hidden_act")),
        ))),
        ("output", Node("DebertaV2Output", (
            ("dense", Lin("I", "H")), ("LayerNorm", Norm("H")), ("dropout", Drop("hidden_dropout_prob")),
        ))),
    ))
    encoder = [("layer", Layers("L", layer))]
    if c.relative_attention:
        encoder.append(("rel_embeddings", Emb(2 * c.relative_span(), "H")))
    if "layer_norm" in [x.strip() for x in getattr(c, "norm_rel_ebd", "none").lower().split("|")]:
        encoder.append(("LayerNorm", Norm("H")))
    return Node("DebertaV2Model", (
        ("embeddings", Node("DebertaV2Embeddings", tuple(embeddings))),
        ("encoder", Node("DebertaV2Encoder", tuple(encoder))),
    ))


def _context_pooled(out: Any) -> tuple:
    return (
        ("pooler", Node("ContextPooler", (("dense", Lin("H", "H")), ("dropout", Drop("pooler_dropout"))))),
        ("classifier", Lin("H", out)),
        ("dropout", Drop("cls_dropout|hidden_dropout_prob")),
    )


def _deberta_v2_masked_lm(c: Any) -> tuple:
    """The legacy head (``cls``, transformers' default) or, with legacy=False, ``lm_predictions``, which
    multiplies by the word embeddings itself."""
    if c.legacy:
        return (("cls", Node("LegacyDebertaV2OnlyMLMHead", (
            ("predictions", Node("LegacyDebertaV2LMPredictionHead", (
                ("transform", Node("LegacyDebertaV2PredictionHeadTransform", (
                    ("dense", Lin("H", "E")), ("transform_act_fn", Act("hidden_act")), ("LayerNorm", Norm("E")),
                ))),
                ("decoder", Lin("E", "V")),
            ), params=(("bias", ("V",)),))),
        ))),)
    return (("lm_predictions", Node("DebertaV2OnlyMLMHead", (
        ("lm_head", Node("DebertaV2LMPredictionHead", (
            ("dense", Lin("H", "H")), ("transform_act_fn", Act("hidden_act")), ("LayerNorm", Norm("H")),
        ), params=(("bias", ("V",)),))),
    ))),)


# A head's children, or a function of the config giving them (DeBERTa's two masked-LM heads).
DEBERTA_V2_HEADS = {
    "sequence_classification": _context_pooled("num_labels"),
    "token_classification": (("dropout", Drop("hidden_dropout_prob")), ("classifier", Lin("H", "num_labels"))),
    "question_answering": (("qa_outputs", Lin("H", "num_labels")),),
    "masked_lm": _deberta_v2_masked_lm,
    "multiple_choice": _context_pooled(1),
}


def module_tree_resolver(config: Any, dims: Any):
    """Size names → values for one model (see the module doc)."""
    def resolve(size: Any) -> Any:
        if not isinstance(size, str):
            return size
        if "*" in size:  # "3*H": a fused module's rows
            factor, _, name = size.partition("*")
            return int(factor) * resolve(name)
        if size in ("V", "P", "TV", "E", "H", "NH", "I", "L", "groups", "inner", "eps"):
            return getattr(dims, size)
        if size == "pad":
            return dims.pad_token_id
        if size == "num_labels":
            return config.num_labels
        for field in size.split("|"):
            value: Optional[Any] = getattr(config, field, None)
            if value is not None:
                return value
        return None
    return resolve


# --- per family --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyTree:
    """A family's trees: the bare model's (given whether it has its pooler, the model's EncoderDims and its
    config) and, per head kind, the head's children, plus children a head registers before the encoder."""

    base: Callable[[bool, Any, Any], Node]
    heads: dict
    heads_first: dict = field(default_factory=dict)


BERT_TREE = FamilyTree(lambda pooler, d, c: bert_like_model("Bert", pooler), bert_heads("Bert"))
ROBERTA_TREE = FamilyTree(lambda pooler, d, c: bert_like_model("Roberta", pooler, roberta_embeddings=True),
                          roberta_heads("Roberta"))
XLM_ROBERTA_TREE = FamilyTree(lambda pooler, d, c: bert_like_model("XLMRoberta", pooler, roberta_embeddings=True),
                              roberta_heads("XLMRoberta"))
CAMEMBERT_TREE = FamilyTree(lambda pooler, d, c: bert_like_model("Camembert", pooler, roberta_embeddings=True),
                            roberta_heads("Camembert"))
ELECTRA_TREE = FamilyTree(lambda pooler, d, c: bert_like_model("Electra", False, projection=d.projection),
                          electra_heads())
DISTILBERT_TREE = FamilyTree(lambda pooler, d, c: distilbert_model(), DISTILBERT_HEADS, DISTILBERT_HEADS_FIRST)
ALBERT_TREE = FamilyTree(lambda pooler, d, c: albert_model(pooler), ALBERT_HEADS)
MPNET_TREE = FamilyTree(lambda pooler, d, c: mpnet_model(pooler), roberta_heads("MPNet"))
NOMIC_BERT_TREE = FamilyTree(
    lambda pooler, d, c: rotary_model("NomicBert", pooler, True, frozenset(), mlp_dropout=False),
    rotary_heads("NomicBert", NOMIC_BERT_MLM),
)
GTE_TREE = FamilyTree(
    lambda pooler, d, c: rotary_model("Gte", pooler, d.TV > 0, frozenset({"q", "k", "v", "attn_out", "ffn_out"}),
                                   mlp_dropout=True),
    rotary_heads("Gte", GTE_MLM),
)
MODERNBERT_TREE = FamilyTree(lambda pooler, d, c: modernbert_model(), MODERNBERT_HEADS)
DEBERTA_V2_TREE = FamilyTree(lambda pooler, d, c: deberta_v2_model(d, c), DEBERTA_V2_HEADS)
