"""How much a compute precision costs in accuracy, measured on the user's model and text.

``accuracy_report(model_or_path, "int8")`` runs the model in float32 and in the chosen precision on the
given texts (default: the ≥256 bundled sentences of ``pybertcore/data/sample_sentences.txt``) and
reports, against float32:

* ``cosine_min`` / ``cosine_mean``: cosine similarity of the mean-pooled last hidden states (the
  sentence-transformers embedding of most encoders), per sentence;
* ``max_abs_diff`` / ``mean_abs_diff``: of the last hidden state over real tokens.

The precisions (see README, "Precision"): ``bfloat16`` stores the encoder layers' weights in bfloat16
and multiplies in fp32 (AVX512-BF16 rounds the activations to bfloat16 too); ``int8`` quantizes the
weights per output channel and group of 128 inputs and the activations per token (8-bit, with each
token's 8 largest values multiplied in fp32), with exact int32 sums. Embeddings,
LayerNorm, softmax, attention's two products, residuals, the pooler and task heads stay float32.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

SAMPLE_SENTENCES = Path(__file__).parent / "data" / "sample_sentences.txt"


def sample_sentences() -> list[str]:
    """The bundled sample text: one sentence per line, varied topics and lengths."""
    lines = SAMPLE_SENTENCES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float64)
    return (hidden.astype(np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)


def _run(model: Any, batches: list[dict]) -> list[np.ndarray]:
    return [np.asarray(model(**b).last_hidden_state) for b in batches]


def accuracy_report(
    model_or_path: Any,
    dtype: Any = "int8",
    texts: Optional[Sequence[str]] = None,
    tokenizer: Any = None,
    max_length: int = 128,
    batch_size: int = 32,
) -> dict:
    """Runs ``model_or_path`` in float32 and in ``dtype`` on ``texts`` and compares (see the module doc).

    ``model_or_path``: a pybertcore model (its compute precision is restored afterwards) or a model
    folder / hub id. ``tokenizer``: defaults to the one saved with the model. Returns a dict with
    dtype, n_texts, cosine_min, cosine_mean, max_abs_diff, mean_abs_diff, worst_text (the sentence of
    cosine_min) and the kernels that ran (isa, kernel).
    """
    from pybertcore import _core
    from pybertcore.modeling_utils import check_dtype_argument
    from pybertcore.models.auto import AutoModel
    from pybertcore.tokenization import AutoTokenizer

    precision = check_dtype_argument(dtype) or "float32"
    if isinstance(model_or_path, (str, os.PathLike)):
        model = AutoModel.from_pretrained(model_or_path)
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(model_or_path)
    else:
        model = model_or_path
        if tokenizer is None:
            source = getattr(model.config, "name_or_path", "") or getattr(model.config, "_name_or_path", "")
            if not source:
                raise ValueError("accuracy_report: pass tokenizer= (the model does not say where it was loaded from)")
            tokenizer = AutoTokenizer.from_pretrained(source)
    texts = list(texts) if texts is not None else sample_sentences()
    if not texts:
        raise ValueError("accuracy_report: no texts")
    batches, masks = [], []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                        return_tensors="np")
        batch = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
        batches.append(batch)
        masks.append(np.asarray(batch["attention_mask"]))

    original = model.dtype
    try:
        model.to("float32")
        ref = _run(model, batches)
        model.to(precision)
        low = _run(model, batches)
    finally:
        model.to(original)

    cos, max_abs, abs_sum, count = [], 0.0, 0.0, 0
    for r, x, mask in zip(ref, low, masks):
        er, ex = _mean_pool(r, mask), _mean_pool(x, mask)
        cos.append((er * ex).sum(1) / (np.linalg.norm(er, axis=1) * np.linalg.norm(ex, axis=1)))
        sel = mask.astype(bool)
        diff = np.abs(r[sel].astype(np.float64) - x[sel])
        max_abs = max(max_abs, float(diff.max()))
        abs_sum += float(diff.sum())
        count += diff.size
    cos = np.concatenate(cos)
    info = _core.lowp_info()
    kernel = {"bfloat16": info["bf16_kernel"], "int8": info["int8_kernel"]}.get(precision, _core.active_isa())
    return {
        "dtype": precision,
        "n_texts": len(texts),
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
        "max_abs_diff": max_abs,
        "mean_abs_diff": abs_sum / max(count, 1),
        "worst_text": texts[int(cos.argmin())],
        "isa": _core.active_isa(),
        "kernel": kernel,
    }
