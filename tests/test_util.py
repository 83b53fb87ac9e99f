"""pybertcore.util against sentence_transformers.util (the oracle) on the same embeddings: similarity functions
within 1e-6, searches with the same ids (random scores: no ties), clusters identical; numpy in → numpy out,
torch in → torch out."""

from __future__ import annotations

import numpy as np
import pytest

from pybertcore import SimilarityFunction, util
from test_sentence import TEXTS


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((7, 32)).astype(np.float32), rng.standard_normal((300, 32)).astype(np.float32)


def st_util():
    from sentence_transformers import util as reference

    return reference


@pytest.mark.parametrize("name", ["cos_sim", "dot_score", "euclidean_sim", "manhattan_sim", "pytorch_cos_sim",
                                  "pairwise_cos_sim", "pairwise_dot_score", "pairwise_euclidean_sim",
                                  "pairwise_manhattan_sim"])
def test_similarity_functions(data, name):
    import torch

    q, c = data
    b = c[:7] if name.startswith("pairwise") else c
    ours, theirs = getattr(util, name)(q, b), getattr(st_util(), name)(q, b)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float32 and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-5)
    as_torch = getattr(util, name)(torch.from_numpy(q), torch.from_numpy(b))
    assert isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_torch.numpy(), ours, rtol=0, atol=0)


def test_semantic_search(data):
    import torch

    q, c = data
    reference = st_util()
    for kwargs in ({}, {"top_k": 5, "query_chunk_size": 3, "corpus_chunk_size": 64}, {"top_k": 500},
                   {"score_function": util.dot_score, "top_k": 3}):
        ref_kwargs = dict(kwargs)
        if "score_function" in kwargs:
            ref_kwargs["score_function"] = reference.dot_score
        ours = util.semantic_search(q, c, **kwargs)
        theirs = reference.semantic_search(torch.from_numpy(q), torch.from_numpy(c), **ref_kwargs)
        assert [[hit["corpus_id"] for hit in row] for row in ours] == [[hit["corpus_id"] for hit in row]
                                                                       for row in theirs]
        np.testing.assert_allclose([[hit["score"] for hit in row] for row in ours],
                                   [[hit["score"] for hit in row] for row in theirs], rtol=1e-5, atol=1e-5)
    # one query as a vector, torch inputs, and a score function of the caller's that returns torch
    one = util.semantic_search(torch.from_numpy(q[0]), torch.from_numpy(c), score_function=reference.cos_sim)
    assert [h["corpus_id"] for h in one[0]] == [h["corpus_id"] for h in util.semantic_search(q[:1], c)[0]]
    assert util.information_retrieval is util.semantic_search
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        util.semantic_search(q, c, top_k=0)


def test_semantic_search_over_sparse_embeddings(tmp_path, minilm_dir):
    from pybertcore import SparseEncoder
    from test_sparse_encoder import TEXTS_REAL, make_splade

    encoder = SparseEncoder(make_splade(tmp_path, minilm_dir))
    queries, docs = encoder.encode_query(TEXTS_REAL[:3]), encoder.encode_document(TEXTS_REAL)
    hits = util.semantic_search(queries, docs, top_k=4, score_function=util.dot_score)
    dense = util.semantic_search(queries.toarray(), docs.toarray(), top_k=4, score_function=util.dot_score)
    assert [[h["corpus_id"] for h in row] for row in hits] == [[h["corpus_id"] for h in row] for row in dense]
    np.testing.assert_allclose(util.cos_sim(queries, docs), util.cos_sim(queries.toarray(), docs.toarray()),
                               atol=1e-5)


def test_paraphrase_mining(minilm_dir):
    from pybertcore import SentenceTransformer
    from sentence_transformers import SentenceTransformer as Reference

    texts = TEXTS + ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
                     "A man is riding a horse.", "A woman is playing violin.", "A man is riding a white horse."]
    ours = util.paraphrase_mining(SentenceTransformer(minilm_dir), texts, top_k=3, max_pairs=12)
    theirs = st_util().paraphrase_mining(Reference(str(minilm_dir), device="cpu"), texts, top_k=3, max_pairs=12)
    assert [(i, j) for _, i, j in ours] == [(i, j) for _, i, j in theirs]
    np.testing.assert_allclose([s for s, _, _ in ours], [s for s, _, _ in theirs], atol=1e-5)


def test_paraphrase_mining_embeddings_in_chunks(data):
    import torch

    _, c = data
    kwargs = dict(query_chunk_size=50, corpus_chunk_size=70, max_pairs=40, top_k=4)
    ours = util.paraphrase_mining_embeddings(c, **kwargs)
    theirs = st_util().paraphrase_mining_embeddings(torch.from_numpy(c), **kwargs)
    assert len(ours) == 40 and [(i, j) for _, i, j in ours] == [(i, j) for _, i, j in theirs]
    np.testing.assert_allclose([s for s, _, _ in ours], [s for s, _, _ in theirs], atol=1e-5)


def test_community_detection():
    import torch

    rng = np.random.default_rng(1)
    centres = rng.standard_normal((6, 24)).astype(np.float32)
    points = np.concatenate([centre + 0.25 * rng.standard_normal((n, 24)).astype(np.float32)
                             for centre, n in zip(centres, (40, 25, 12, 9, 30, 3))])
    points = points[rng.permutation(len(points))]
    for kwargs in ({"threshold": 0.8, "min_community_size": 10}, {"threshold": 0.9, "min_community_size": 5,
                                                                  "batch_size": 17}):
        ours = util.community_detection(points, **kwargs)
        assert ours == st_util().community_detection(torch.from_numpy(points), **kwargs)
        assert ours and all(len(community) >= kwargs["min_community_size"] for community in ours)
    assert util.community_detection(points[:3], min_community_size=10) == []
    assert util.community_detection(np.zeros((0, 4), np.float32)) == []


def test_normalize_truncate_and_similarity_function_names():
    import torch

    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(util.normalize_embeddings(x), [[0.6, 0.8, 0.0], [0.0, 0.0, 0.0]])
    assert isinstance(util.normalize_embeddings(torch.from_numpy(x)), torch.Tensor)
    assert util.truncate_embeddings(x, 2).shape == (2, 2) and util.truncate_embeddings(x, None).shape == (2, 3)
    assert SimilarityFunction.possible_values() == ["cosine", "dot", "euclidean", "manhattan"]
    assert SimilarityFunction.to_similarity_fn("dot") is util.dot_score
    assert SimilarityFunction.to_similarity_fn(SimilarityFunction.COSINE) is util.cos_sim
    assert SimilarityFunction.to_similarity_pairwise_fn("manhattan") is util.pairwise_manhattan_sim
    with pytest.raises(ValueError):
        SimilarityFunction.to_similarity_fn("maxsim-of-something")


def test_model_takes_the_enum(minilm_dir):
    from pybertcore import SentenceTransformer

    model = SentenceTransformer(minilm_dir, similarity_fn_name=SimilarityFunction.DOT_PRODUCT)
    assert model.similarity_fn_name == "dot"
    e = model.encode(TEXTS[:3])
    np.testing.assert_allclose(model.similarity(e, e), util.dot_score(e, e), atol=1e-6)


def test_models_answer_sentence_transformers_questions(minilm_dir, tmp_path):
    """The small introspection calls of sentence-transformers 6 (modalities, supports, is_singular_input,
    get_model_kwargs, SUPPORTED_SIMILARITY_FN_NAMES, get_max_seq_length), as it answers them."""
    from pybertcore import CrossEncoder, SentenceTransformer
    from sentence_transformers import CrossEncoder as RefCross, SentenceTransformer as Reference
    from test_cross_encoder import make_checkpoint

    pairs = {"ours": SentenceTransformer(minilm_dir), "theirs": Reference(str(minilm_dir), device="cpu")}
    for model in pairs.values():
        assert model.modalities == ["text"] and model.supports("text") and not model.supports("image")
        assert model.is_singular_input("a") and not model.is_singular_input(["a"])
        assert model.get_model_kwargs() == []
        assert tuple(model.SUPPORTED_SIMILARITY_FN_NAMES) == ("cosine", "dot", "euclidean", "manhattan")
    folder = make_checkpoint(tmp_path, minilm_dir, 1)
    for model in (CrossEncoder(folder), RefCross(str(folder), device="cpu")):
        assert model.is_singular_input(("q", "d")) and not model.is_singular_input([("q", "d")])
        assert model.get_max_seq_length() == model.max_seq_length
