"""sentence-transformers' ``util`` for what inference code calls, so ``from sentence_transformers import util``
becomes ``from pybertcore import util``: the similarity functions (``cos_sim``, ``dot_score``, ...,
their ``pairwise_`` forms), ``semantic_search`` / ``information_retrieval``, ``paraphrase_mining`` (and
``_embeddings``), ``community_detection``, ``normalize_embeddings``, ``truncate_embeddings``,
``quantize_embeddings`` and ``SimilarityFunction``.

In numpy, without torch: results are numpy arrays unless a torch tensor comes in (then torch, as
sentence-transformers always returns); searches return the same lists of dicts / triplets / index lists.
Scores are float32 as there; equal scores may come in another order than torch.topk gives them. Sparse
embeddings (scipy, torch sparse, ``SparseEmbeddings``) are taken by the similarity functions and
``semantic_search``. Left out: training helpers (``mine_hard_negatives``, distributed gathers), the
multi-vector MaxSim family and ``pairwise_angle_sim``.
"""

from __future__ import annotations

import heapq
from enum import Enum
from operator import itemgetter
from typing import Any, Callable, Optional

import numpy as np

from pybertcore.frameworks import is_torch_tensor, to_torch
from pybertcore.sentence_utils import (
    _as_float_matrix,
    _normalize,
    check_positive_int,
    quantize_embeddings,
    similarity,
)

__all__ = [
    "SimilarityFunction", "community_detection", "cos_sim", "dot_score", "euclidean_sim", "information_retrieval",
    "manhattan_sim", "normalize_embeddings", "pairwise_cos_sim", "pairwise_dot_score", "pairwise_euclidean_sim",
    "pairwise_manhattan_sim", "paraphrase_mining", "paraphrase_mining_embeddings", "pytorch_cos_sim",
    "quantize_embeddings", "semantic_search", "truncate_embeddings",
]


def _is_sparse(x: Any) -> bool:
    from pybertcore.sparse_encoder import SparseEmbeddings

    if isinstance(x, SparseEmbeddings) or (is_torch_tensor(x) and x.is_sparse):
        return True
    return hasattr(x, "tocsr") and hasattr(x, "nnz")  # scipy.sparse, without importing scipy


def _scores(name: str, a: Any, b: Any, pairwise: bool = False) -> Any:
    if _is_sparse(a) or _is_sparse(b):
        from pybertcore.sparse_encoder import sparse_similarity

        return sparse_similarity(name, a, b, pairwise=pairwise)
    return similarity(name, a, b, pairwise=pairwise)


def cos_sim(a: Any, b: Any) -> Any:
    """(len(a), len(b)) cosine similarities; a vector counts as one row."""
    return _scores("cosine", a, b)


def dot_score(a: Any, b: Any) -> Any:
    """(len(a), len(b)) dot products."""
    return _scores("dot", a, b)


def euclidean_sim(a: Any, b: Any) -> Any:
    """(len(a), len(b)) negative euclidean distances."""
    return _scores("euclidean", a, b)


def manhattan_sim(a: Any, b: Any) -> Any:
    """(len(a), len(b)) negative manhattan distances."""
    return _scores("manhattan", a, b)


pytorch_cos_sim = cos_sim


def pairwise_cos_sim(a: Any, b: Any) -> Any:
    """cos_sim(a[i], b[i]) for each i."""
    return _scores("cosine", a, b, pairwise=True)


def pairwise_dot_score(a: Any, b: Any) -> Any:
    return _scores("dot", a, b, pairwise=True)


def pairwise_euclidean_sim(a: Any, b: Any) -> Any:
    return _scores("euclidean", a, b, pairwise=True)


def pairwise_manhattan_sim(a: Any, b: Any) -> Any:
    return _scores("manhattan", a, b, pairwise=True)


class SimilarityFunction(Enum):
    """sentence-transformers' names of the similarity functions (``similarity_fn_name`` takes these too)."""

    COSINE = "cosine"
    DOT_PRODUCT = "dot"
    DOT = "dot"
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"

    @staticmethod
    def to_similarity_fn(similarity_function: Any) -> Callable[[Any, Any], Any]:
        name = SimilarityFunction(getattr(similarity_function, "value", similarity_function)).value
        return {"cosine": cos_sim, "dot": dot_score, "euclidean": euclidean_sim, "manhattan": manhattan_sim}[name]

    @staticmethod
    def to_similarity_pairwise_fn(similarity_function: Any) -> Callable[[Any, Any], Any]:
        name = SimilarityFunction(getattr(similarity_function, "value", similarity_function)).value
        return {"cosine": pairwise_cos_sim, "dot": pairwise_dot_score, "euclidean": pairwise_euclidean_sim,
                "manhattan": pairwise_manhattan_sim}[name]

    @staticmethod
    def possible_values() -> list[str]:
        return [member.value for member in SimilarityFunction]


def normalize_embeddings(embeddings: Any) -> Any:
    """Each row scaled to unit L2 norm (a zero row stays zero); torch in → torch out."""
    out = _normalize(_as_float_matrix(embeddings, "embeddings"))
    out = out.reshape(np.shape(embeddings)) if np.ndim(embeddings) == 1 else out
    return to_torch(out) if is_torch_tensor(embeddings) else out


def truncate_embeddings(embeddings: Any, truncate_dim: Optional[int]) -> Any:
    """The first ``truncate_dim`` dimensions (all of them for None), as a view."""
    return embeddings[..., :truncate_dim]


def _as_numpy_scores(scores: Any) -> np.ndarray:
    """A score function's (q, c) result as float32 numpy (a user's function may return torch)."""
    if is_torch_tensor(scores):
        scores = scores.detach().cpu().float().numpy()
    return np.atleast_2d(np.asarray(scores, dtype=np.float32))


def _top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k largest scores and their columns, largest first."""
    k = min(k, scores.shape[1])
    if k <= 0:
        empty = np.zeros((scores.shape[0], 0))
        return empty.astype(scores.dtype), empty.astype(np.int64)
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
        np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    values = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _rows(x: Any, start: int, end: int) -> Any:
    if is_torch_tensor(x) and x.is_sparse:
        return x.to_dense()[start:end]
    return x[start:end]


def _row_count(x: Any, name: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    if len(shape) not in (1, 2):
        raise ValueError(f"{name}: expected a vector or a matrix, found shape {tuple(shape)}")
    return 1 if len(shape) == 1 else int(shape[0])


def semantic_search(query_embeddings: Any, corpus_embeddings: Any, query_chunk_size: int = 100,
                    corpus_chunk_size: int = 500000, top_k: int = 10,
                    score_function: Callable[[Any, Any], Any] = cos_sim) -> list[list[dict]]:
    """For each query, the ``top_k`` corpus entries by ``score_function`` (cosine by default), best first:
    ``[[{"corpus_id": int, "score": float}, ...], ...]``, scanning the corpus ``corpus_chunk_size`` rows
    and the queries ``query_chunk_size`` rows at a time (memory: one (query chunk, corpus chunk) matrix)."""
    query_chunk_size = check_positive_int(query_chunk_size, "query_chunk_size")
    corpus_chunk_size = check_positive_int(corpus_chunk_size, "corpus_chunk_size")
    top_k = check_positive_int(top_k, "top_k")
    if not _is_sparse(query_embeddings) and np.ndim(query_embeddings) == 1:
        query_embeddings = np.asarray(query_embeddings)[None, :] if not is_torch_tensor(query_embeddings) \
            else query_embeddings[None, :]
    n_queries = _row_count(query_embeddings, "query_embeddings")
    n_corpus = _row_count(corpus_embeddings, "corpus_embeddings")
    results: list[list] = [[] for _ in range(n_queries)]  # min-heaps of (score, corpus_id)
    for c0 in range(0, n_corpus, corpus_chunk_size):
        corpus_chunk = _rows(corpus_embeddings, c0, min(c0 + corpus_chunk_size, n_corpus))
        for q0 in range(0, n_queries, query_chunk_size):
            q1 = min(q0 + query_chunk_size, n_queries)
            scores = _as_numpy_scores(score_function(_rows(query_embeddings, q0, q1), corpus_chunk))
            values, idx = _top_k(scores, top_k)
            for heap, row_values, row_idx in zip(results[q0:q1], values.tolist(), (idx + c0).tolist()):
                for candidate in zip(row_values, row_idx):
                    if len(heap) < top_k:
                        heapq.heappush(heap, candidate)
                    else:
                        heapq.heappushpop(heap, candidate)
    return [[{"corpus_id": corpus_id, "score": score}
             for score, corpus_id in sorted(heap, key=itemgetter(0), reverse=True)] for heap in results]


information_retrieval = semantic_search


def paraphrase_mining_embeddings(embeddings: Any, query_chunk_size: int = 5000, corpus_chunk_size: int = 100000,
                                 max_pairs: int = 500000, top_k: int = 100,
                                 score_function: Callable[[Any, Any], Any] = cos_sim) -> list[list]:
    """The ``max_pairs`` most similar pairs among the embeddings, each text against its ``top_k`` nearest
    others: ``[[score, i, j], ...]`` with i < j, best first (``score_function`` assumed symmetric)."""
    query_chunk_size = check_positive_int(query_chunk_size, "query_chunk_size")
    corpus_chunk_size = check_positive_int(corpus_chunk_size, "corpus_chunk_size")
    max_pairs, top_k = check_positive_int(max_pairs, "max_pairs"), check_positive_int(top_k, "top_k")
    n = _row_count(embeddings, "embeddings")
    pairs: list = []  # min-heap of (score, i, j), at most max_pairs
    queued: set = set()
    min_score = float("-inf")
    for q0 in range(0, n, query_chunk_size):
        queries = _rows(embeddings, q0, q0 + query_chunk_size)
        best_values = best_idx = None
        for c0 in range(0, n, corpus_chunk_size):
            scores = _as_numpy_scores(score_function(queries, _rows(embeddings, c0, c0 + corpus_chunk_size)))
            values, idx = _top_k(scores, top_k + 1)
            idx = idx + c0
            if best_values is not None:
                values, idx = np.concatenate([best_values, values], 1), np.concatenate([best_idx, idx], 1)
                values, order = _top_k(values, top_k + 1)
                idx = np.take_along_axis(idx, order, axis=1)
            best_values, best_idx = values, idx
        for row, (row_values, row_idx) in enumerate(zip(best_values.tolist(), best_idx.tolist())):
            i = q0 + row
            for j, score in [(j, s) for j, s in zip(row_idx, row_values) if j != i][:top_k]:
                if score <= min_score:
                    continue
                pair = (i, j) if i < j else (j, i)
                if pair in queued:
                    continue
                queued.add(pair)
                if len(pairs) < max_pairs:
                    heapq.heappush(pairs, (score, *pair))
                else:
                    evicted = heapq.heappushpop(pairs, (score, *pair))
                    queued.discard(evicted[1:])
                    min_score = evicted[0]
    return sorted(([score, i, j] for score, i, j in pairs), key=lambda x: x[0], reverse=True)


def paraphrase_mining(model: Any, sentences: list, show_progress_bar: bool = False, batch_size: int = 32,
                      query_chunk_size: int = 5000, corpus_chunk_size: int = 100000, max_pairs: int = 500000,
                      top_k: int = 100, score_function: Callable[[Any, Any], Any] = cos_sim,
                      truncate_dim: Optional[int] = None, prompt_name: Optional[str] = None,
                      prompt: Optional[str] = None) -> list[list]:
    """``paraphrase_mining_embeddings`` of ``model.encode(sentences)``."""
    embeddings = model.encode(sentences, show_progress_bar=show_progress_bar, batch_size=batch_size,
                              truncate_dim=truncate_dim, prompt_name=prompt_name, prompt=prompt)
    return paraphrase_mining_embeddings(embeddings, query_chunk_size=query_chunk_size,
                                        corpus_chunk_size=corpus_chunk_size, max_pairs=max_pairs, top_k=top_k,
                                        score_function=score_function)


def community_detection(embeddings: Any, threshold: float = 0.75, min_community_size: int = 10,
                        batch_size: int = 1024, show_progress_bar: bool = False) -> list[list[int]]:
    """Groups of at least ``min_community_size`` embeddings whose cosine similarity to a central one is at least
    ``threshold``, largest first, each starting with its centre; an embedding joins one group at most."""
    batch_size = check_positive_int(batch_size, "batch_size")
    min_community_size = check_positive_int(min_community_size, "min_community_size")
    if _row_count(embeddings, "embeddings") == 0:
        return []
    x = _as_float_matrix(embeddings, "embeddings")
    if len(x) < min_community_size:
        return []
    x = _normalize(x)
    found = []
    sort_max_size = min(max(2 * min_community_size, 50), len(x))
    starts = range(0, len(x), batch_size)
    if show_progress_bar:
        from pybertcore.sentence import progress_bar

        bar = progress_bar(len(starts), True, "Finding clusters")
    else:
        bar = None
    for start in starts:
        scores = x[start:start + batch_size] @ x.T
        kth, _ = _top_k(scores, min_community_size)
        large_enough = kth[:, -1] >= threshold
        if bar is not None:
            bar.update(1)
        if not large_enough.any():
            continue
        scores = scores[large_enough]
        values, indices = _top_k(scores, sort_max_size)
        while sort_max_size < len(x) and (values[:, -1] >= threshold).any():
            sort_max_size = min(2 * sort_max_size, len(x))
            values, indices = _top_k(scores, sort_max_size)
        counts = (values >= threshold).sum(1)
        for center, count, row in zip((np.flatnonzero(large_enough) + start).tolist(), counts.tolist(), indices):
            found.append((center, row[:count].astype(np.int64)))
    if bar is not None:
        bar.close()
    found.sort(key=lambda c: len(c[1]), reverse=True)
    communities = []
    used = np.zeros(len(x), dtype=bool)
    for center, members in found:
        if used[center]:
            continue
        free = members[~used[members]]
        if len(free) >= min_community_size:
            community = [center] + free[free != center].tolist()
            communities.append(community)
            used[community] = True
    return sorted(communities, key=len, reverse=True)

