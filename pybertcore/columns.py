"""Results as Arrow columns, shared by the resumable job (pybertcore/corpus.py) and Ray (pybertcore/ray.py).

Embeddings are a ``fixed_size_list<float32>[D]`` column, so ``write_parquet`` gives a plain vector column
that pandas, Polars, DuckDB and vector stores read as one array per row; the floats are those ``encode``
returned, bit for bit. Classifications are two list columns, ``labels`` (strings) and ``scores`` (float64),
each row the text-classification pipeline's ``top_k`` entries, best first, as ``pipeline(...)(text,
top_k=k)`` gives them. pyarrow is imported here only, and only when called (the ``corpus`` extra).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

PYARROW_MISSING = ("{what} needs pyarrow, which is not installed: pip install \"pybertcore[corpus]\" "
                   "(or pip install pyarrow)")


def import_pyarrow(what: str) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ImportError(PYARROW_MISSING.format(what=what)) from None
    return pyarrow


def embedding_array(embeddings: np.ndarray) -> Any:
    """(N, D) float32 → a fixed_size_list<float32>[D] array of N rows, without copying the floats."""
    pa = import_pyarrow("an embedding column")
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {embeddings.shape}")
    flat = pa.array(embeddings.reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, embeddings.shape[1])


def classify_texts(pipe: Any, texts: list[str], top_k: Optional[int] = 1, **call_kwargs: Any) -> tuple[list, list]:
    """(labels, scores): per text, the pipeline's top_k labels and scores, best first (``call_kwargs``, e.g.
    ``function_to_apply``, go to the pipeline's call)."""
    results = pipe(texts, top_k=top_k, **call_kwargs) if texts else []
    labels, scores = [], []
    for result in results:
        entries = [result] if isinstance(result, dict) else result
        labels.append([entry["label"] for entry in entries])
        scores.append([float(entry["score"]) for entry in entries])
    return labels, scores


def classification_arrays(labels: list, scores: list) -> tuple[Any, Any]:
    pa = import_pyarrow("a classification column")
    return pa.array(labels, type=pa.list_(pa.string())), pa.array(scores, type=pa.list_(pa.float64()))
