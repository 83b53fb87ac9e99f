"""Tiny random transformers models of every family, with odd sizes, and the batches to feed them.

Shared by test_families.py, test_heads.py and test_finetune_flow.py. transformers (torch, CPU) is the
oracle; pybertcore never imports torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# family → (transformers class-name stem, config keyword arguments). H = 60 with 3 heads (head size 20),
# I = 37, V = 101: none a power of two or a multiple of a SIMD width.
COMMON = dict(
    hidden_size=60, num_attention_heads=3, intermediate_size=37, vocab_size=101, num_hidden_layers=2,
    max_position_embeddings=40,
)
FAMILIES: dict[str, tuple[str, dict]] = {
    "bert": ("Bert", dict(COMMON)),
    "distilbert": ("DistilBert", dict(dim=60, n_heads=3, hidden_dim=37, vocab_size=101, n_layers=2,
                                      max_position_embeddings=40)),
    "roberta": ("Roberta", dict(COMMON, layer_norm_eps=1e-5)),
    "xlm-roberta": ("XLMRoberta", dict(COMMON, layer_norm_eps=1e-5)),
    "camembert": ("Camembert", dict(COMMON, layer_norm_eps=1e-5)),
    "electra": ("Electra", dict(COMMON, embedding_size=24)),
    "albert": ("Albert", dict(COMMON, embedding_size=24)),
    "mpnet": ("MPNet", dict(COMMON, layer_norm_eps=1e-5)),
    "nomic_bert": ("NomicBert", dict(COMMON, layer_norm_eps=1e-5)),
    "gte": ("Gte", dict(COMMON, type_vocab_size=2, layer_norm_eps=1e-5)),
    # layers [global, local]: the local one sees ±2 tokens, shorter than the batch's sequences
    "modernbert": ("ModernBert", dict(COMMON, local_attention=4, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                      cls_token_id=1, sep_token_id=2)),
    # DeBERTa-v3's layout: disentangled attention over 8 log buckets (sequences reach past them), shared key
    # projections, the relative table's LayerNorm, no absolute positions and no token types
    "deberta-v2": ("DebertaV2", dict(COMMON, relative_attention=True, position_buckets=8, pos_att_type="p2c|c2p",
                                     share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False,
                                     type_vocab_size=0, layer_norm_eps=1e-7)),
}
HEADS = ["ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForMaskedLM",
         "ForMultipleChoice"]
# The heads transformers has for a family, where that is not every one of HEADS.
FAMILY_HEADS: dict[str, list[str]] = {
    "nomic_bert": ["ForSequenceClassification", "ForTokenClassification", "ForMaskedLM"],
    "gte": ["ForSequenceClassification", "ForTokenClassification", "ForMaskedLM"],
}


def family_heads(family: str) -> list[str]:
    return FAMILY_HEADS.get(family, HEADS)


# (family, head) for every head of every family, and with the bare model.
HEAD_PAIRS = [(family, head) for family in FAMILIES for head in family_heads(family)]
CLASS_PAIRS = [(family, suffix) for family in FAMILIES for suffix in ["Model"] + family_heads(family)]
AUTO_FOR_HEAD = {
    "Model": "AutoModel",
    "ForSequenceClassification": "AutoModelForSequenceClassification",
    "ForTokenClassification": "AutoModelForTokenClassification",
    "ForQuestionAnswering": "AutoModelForQuestionAnswering",
    "ForMaskedLM": "AutoModelForMaskedLM",
    "ForMultipleChoice": "AutoModelForMultipleChoice",
}
# Families whose inputs carry token types (DistilBERT has none; DeBERTa-v3's tokenizer gives them for pairs
# and its model ignores them).
HAS_TOKEN_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "electra", "albert", "nomic_bert", "gte",
                   "deberta-v2"}


def transformers_config(family: str, **overrides):
    import transformers

    stem, kwargs = FAMILIES[family]
    return getattr(transformers, stem + "Config")(**{**kwargs, **overrides})


def make_transformers_model(family: str, suffix: str, folder: Path, seed: int = 0, **overrides):
    """A random transformers ``<Family><suffix>`` (eval, eager attention) saved to ``folder``."""
    import torch
    import transformers

    stem, _ = FAMILIES[family]
    torch.manual_seed(seed)
    config = transformers_config(family, attn_implementation="eager", **overrides)
    model = getattr(transformers, stem + suffix)(config).eval()
    # Non-trivial LayerNorm and bias values: default init leaves them at 1 and 0, which would hide bugs.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name.lower():
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(folder)
    return model


def ragged_inputs(family: str, pad_token_id: int, lengths=(9, 1, 5, 7), T: int = 9, seed: int = 0) -> dict:
    """Random ids padded on the right with ``pad_token_id``, the mask, and token types where the family
    has them (0 on the first half of each sequence, 1 after, as a pair would be)."""
    rng = np.random.default_rng(seed)
    B = len(lengths)
    ids = np.full((B, T), pad_token_id, dtype=np.int64)
    mask = np.zeros((B, T), dtype=np.int64)
    types = np.zeros((B, T), dtype=np.int64)
    real_ids = [i for i in range(101) if i != pad_token_id]
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.choice(real_ids, size=n)
        mask[b, :n] = 1
        types[b, n // 2:n] = 1
    out = {"input_ids": ids, "attention_mask": mask}
    if family in HAS_TOKEN_TYPES:
        out["token_type_ids"] = types
    return out


def choice_inputs(inputs: dict, num_choices: int = 3) -> dict:
    """(2, num_choices, T) inputs for multiple choice, from the rows of a (B, T) batch and its reverse."""
    out = {}
    for key, value in inputs.items():
        rows = np.concatenate([value, value[::-1]])[: 2 * num_choices]
        out[key] = rows.reshape(2, num_choices, -1)
    return out


def run_transformers(model, inputs: dict, **kwargs):
    import torch

    with torch.no_grad():
        return model(**{k: torch.tensor(v) for k, v in inputs.items()}, **kwargs)


def to_numpy(x):
    return x.detach().cpu().numpy()


def max_abs_on_mask(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Max |a - b| over the positions where the (..., T) mask is 1 (a, b shaped (..., T, ...))."""
    sel = mask.astype(bool)
    return float(np.abs(a[sel] - b[sel]).max())
