"""SparseEncoder (SPLADE) against sentence-transformers' SparseEncoder (the oracle) on small random SPLADE
models built here with transformers + sentence-transformers (BERT and DistilBERT MLMs; max and sum pooling;
relu and log1p_relu), on real text, including sentence-transformers 6's argument names and ``save`` folders
that it loads back; and the fused core head (``_core.SpladeHead``) against a numpy
reference on every ISA level this machine runs.

Tolerances: vectors within 1e-3 (the issue's; the encoder is within 1e-4 of transformers, the head adds
float32 GEMM rounding and log1p), and the same non-zero set. Over 30522 vocabulary entries some sequence's
largest logit lands within 1e-7 of zero (measured: 3e-8 on the BERT model here), where float rounding alone
decides the sign; so an entry may be non-zero on one side only if its value there is below 1e-6
(log1p of that logit), and every other entry must agree on being zero. The fused head against the numpy
reference: 1e-4 (same float32 inputs). Tile size, batch composition and thread count change nothing, bit
for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from pybertcore import SparseEncoder, _core
from pybertcore import sparse_encoder as sparse_module
from pybertcore import sparse_routes
from test_sentence import TEXTS

TEXTS_REAL = TEXTS[:6] + [
    "How many people live in Berlin?",
    "Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.",
    "What are the effects of climate change on coral reefs?",
]


def make_splade(folder, minilm_dir, family="bert", strategy="max", activation="relu", seed=0):
    """A random MLM with a decoder bias that leaves most of the vocabulary inactive (as trained SPLADE
    models do), saved by sentence-transformers with SpladePooling(strategy, activation)."""
    import torch
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling
    from transformers import (BertConfig, BertForMaskedLM, BertTokenizerFast, DistilBertConfig,
                              DistilBertForMaskedLM)

    tokenizer = BertTokenizerFast.from_pretrained(minilm_dir)
    tokenizer.model_max_length = 60
    torch.manual_seed(seed)
    if family == "bert":
        model = BertForMaskedLM(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=36, num_hidden_layers=2,
                                           num_attention_heads=3, intermediate_size=50, max_position_embeddings=64,
                                           initializer_range=0.05))
        bias = model.cls.predictions.bias
    else:
        model = DistilBertForMaskedLM(DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=36, n_layers=2, n_heads=3,
                                                       hidden_dim=50, max_position_embeddings=64,
                                                       initializer_range=0.05))
        bias = model.vocab_projector.bias
    with torch.no_grad():
        bias.copy_(torch.randn(bias.shape) * 0.3 - 0.5)
    model.eval().save_pretrained(folder / "mlm")
    tokenizer.save_pretrained(folder / "mlm")
    transformer = Transformer(str(folder / "mlm"), transformer_task="fill-mask")
    Reference(modules=[transformer, SpladePooling(pooling_strategy=strategy, activation_function=activation)],
              device="cpu").save(str(folder / "splade"))
    return folder / "splade"


def reference(folder, **kwargs):
    from sentence_transformers import SparseEncoder as Reference

    return Reference(str(folder), device="cpu", **kwargs)


def to_dense(x):
    return x.to_dense().numpy() if hasattr(x, "to_dense") else x.toarray()


def assert_same_vectors(ours, theirs):
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-3, rtol=0)
    differ = (ours != 0) != (theirs != 0)
    assert np.maximum(ours, theirs)[differ].max(initial=0) < 1e-6, "non-zero sets differ beyond rounding at 0"
    assert differ.sum() <= 1e-4 * differ.size


@pytest.fixture(scope="module")
def splade_folders(minilm_dir, tmp_path_factory):
    out = {}
    for family, strategy, activation in [("bert", "max", "relu"), ("bert", "sum", "relu"),
                                         ("bert", "max", "log1p_relu"), ("distilbert", "max", "relu"),
                                         ("distilbert", "sum", "log1p_relu")]:
        out[family, strategy, activation] = make_splade(tmp_path_factory.mktemp(f"{family}-{strategy}-{activation}"),
                                                        minilm_dir, family, strategy, activation)
    return out


@pytest.mark.parametrize("key", [("bert", "max", "relu"), ("bert", "sum", "relu"), ("bert", "max", "log1p_relu"),
                                 ("distilbert", "max", "relu"), ("distilbert", "sum", "log1p_relu")],
                         ids=lambda k: "-".join(k))
def test_encode_matches_sentence_transformers(splade_folders, key):
    folder = splade_folders[key]
    ours, theirs = SparseEncoder(folder), reference(folder)
    assert (ours.pooling_strategy, ours.activation_function) == key[1:]
    a, b = ours.encode(TEXTS_REAL, batch_size=4), theirs.encode(TEXTS_REAL, batch_size=4)
    assert a.shape == tuple(b.shape) == (len(TEXTS_REAL), ours.get_embedding_dimension())
    assert_same_vectors(a.toarray(), to_dense(b))
    sparsity = ours.sparsity(a)["sparsity_ratio"]
    assert 0.3 < sparsity < 0.999  # a real mix of zeros and non-zeros
    one = ours.encode(TEXTS_REAL[1])
    assert one.shape == (ours.get_embedding_dimension(),)
    assert_same_vectors(one.toarray(), to_dense(theirs.encode(TEXTS_REAL[1])))


def test_queries_documents_prompts_and_max_active_dims(splade_folders):
    folder = splade_folders["bert", "max", "relu"]
    prompts = {"query": "query: ", "document": "passage: "}
    ours, theirs = SparseEncoder(folder, prompts=prompts), reference(folder, prompts=prompts)
    assert_same_vectors(ours.encode_query(TEXTS_REAL).toarray(), to_dense(theirs.encode_query(TEXTS_REAL)))
    assert_same_vectors(ours.encode_document(TEXTS_REAL).toarray(), to_dense(theirs.encode_document(TEXTS_REAL)))
    a = ours.encode(TEXTS_REAL, max_active_dims=16).toarray()
    b = to_dense(theirs.encode(TEXTS_REAL, max_active_dims=16))
    assert ((a != 0).sum(axis=1) <= 16).all()
    assert_same_vectors(a, b)
    limited = SparseEncoder(folder, max_active_dims=8)
    assert ((limited.encode(TEXTS_REAL).toarray() != 0).sum(axis=1) <= 8).all()


def test_output_formats_decode_and_similarity(splade_folders):
    import torch

    folder = splade_folders["bert", "max", "relu"]
    ours, theirs = SparseEncoder(folder), reference(folder)
    t = ours.encode(TEXTS_REAL, convert_to_tensor=True)
    ref = theirs.encode(TEXTS_REAL)
    assert isinstance(t, torch.Tensor) and t.is_sparse and t.shape == ref.shape
    assert_same_vectors(t.to_dense().numpy(), ref.to_dense().numpy())
    dense = ours.encode(TEXTS_REAL, convert_to_sparse_tensor=False)
    assert isinstance(dense, np.ndarray) and dense.dtype == np.float32
    assert_same_vectors(dense, ref.to_dense().numpy())
    listed = ours.encode(TEXTS_REAL[:2], convert_to_tensor=False)
    assert isinstance(listed, list) and listed[0].shape == (ours.get_embedding_dimension(),)
    # decode: the same tokens in the same order where the weights are apart, weights within 1e-3
    for mine, theirs_decoded in zip(ours.decode(ours.encode(TEXTS_REAL), top_k=5), theirs.decode(ref, top_k=5)):
        assert [tok for tok, _ in mine] == [tok for tok, _ in theirs_decoded] or \
            min(np.diff(sorted(w for _, w in theirs_decoded))) < 1e-3
        np.testing.assert_allclose([w for _, w in mine], [w for _, w in theirs_decoded], atol=1e-3)
    (top_token, top_weight), = ours.decode(ours.encode(TEXTS_REAL[0]))[:1]   # one text: one list, not a list of lists
    (their_token, their_weight), = theirs.decode(theirs.encode(TEXTS_REAL[0]))[:1]
    assert top_token == their_token and top_weight == pytest.approx(their_weight, abs=1e-3)
    q, d = ours.encode(TEXTS_REAL[:3]), ours.encode(TEXTS_REAL[3:])
    qr, dr = theirs.encode(TEXTS_REAL[:3]), theirs.encode(TEXTS_REAL[3:])
    dr3 = theirs.encode(TEXTS_REAL[3:6])  # torch cannot slice a sparse tensor
    assert ours.similarity_fn_name == theirs.similarity_fn_name == "dot"
    for name in ("dot", "cosine", "euclidean", "manhattan"):
        ours.similarity_fn_name = theirs.similarity_fn_name = name
        expected = theirs.similarity(qr, dr).numpy()
        np.testing.assert_allclose(ours.similarity(q, d), expected, atol=2e-3, rtol=1e-4)
        from_torch = ours.similarity(qr, dr)  # sentence-transformers' torch sparse tensors in, torch out
        assert isinstance(from_torch, torch.Tensor)
        np.testing.assert_allclose(from_torch.numpy(), expected, atol=2e-3, rtol=1e-4)
        np.testing.assert_allclose(ours.similarity_pairwise(q, d[:3]),
                                   theirs.similarity_pairwise(qr, dr3).numpy(), atol=2e-3, rtol=1e-4)


def test_from_sentence_transformers_modules(splade_folders):
    folder = splade_folders["bert", "sum", "relu"]
    theirs = reference(folder)
    ours = SparseEncoder(modules=[theirs[0], theirs[1]])  # saved by sentence-transformers, then loaded
    assert ours.pooling_strategy == "sum"
    assert_same_vectors(ours.encode(TEXTS_REAL).toarray(), to_dense(theirs.encode(TEXTS_REAL)))


def test_intersection_and_sparsity(splade_folders):
    folder = splade_folders["bert", "max", "relu"]
    ours, theirs = SparseEncoder(folder), reference(folder)
    q, d = ours.encode_query(TEXTS_REAL[6]), ours.encode_document(TEXTS_REAL[7:])
    qr, dr = theirs.encode_query(TEXTS_REAL[6]), theirs.encode_document(TEXTS_REAL[7:])
    expected = theirs.intersection(qr, dr).to_dense().numpy()
    shared = ours.intersection(q, d)
    assert shared.shape == expected.shape
    assert_same_vectors(shared.toarray(), expected)
    one = ours.intersection(q, d[1])
    assert one.shape == (ours.get_embedding_dimension(),)
    np.testing.assert_array_equal(one.toarray(), shared.toarray()[1])
    for mine, ref in zip(ours.decode(shared, top_k=3), theirs.decode(theirs.intersection(qr, dr), top_k=3)):
        np.testing.assert_allclose([w for _, w in mine], [w for _, w in ref], atol=1e-3)
    from_torch = ours.intersection(qr, dr)
    assert from_torch.is_sparse and from_torch.shape == expected.shape
    with pytest.raises(ValueError, match="one vector for embeddings_1"):
        ours.intersection(d, d)
    got, want = ours.sparsity(ours.encode(TEXTS_REAL)), theirs.sparsity(theirs.encode(TEXTS_REAL))
    assert abs(got["active_dims"] - want["active_dims"]) <= 2
    assert abs(got["sparsity_ratio"] - want["sparsity_ratio"]) < 1e-4


def test_plain_masked_lm_checkpoint(splade_folders):
    mlm = splade_folders["bert", "max", "relu"].parent / "mlm"
    ours, theirs = SparseEncoder(mlm), reference(mlm)
    assert (ours.pooling_strategy, ours.activation_function) == ("max", "relu")
    assert_same_vectors(ours.encode(TEXTS_REAL).toarray(), to_dense(theirs.encode(TEXTS_REAL)))


def test_tiles_batches_and_threads_change_nothing(splade_folders, monkeypatch):
    folder = splade_folders["bert", "sum", "relu"]
    base = SparseEncoder(folder).encode(TEXTS_REAL, batch_size=32).toarray()
    for tile in (1, 7, 100, 4096, 40000):
        np.testing.assert_array_equal(SparseEncoder(folder, tile_rows=tile).encode(TEXTS_REAL, batch_size=3).toarray(),
                                      base)
    encoder = SparseEncoder(folder)
    one_by_one = np.stack([encoder.encode(t).toarray() for t in TEXTS_REAL])
    np.testing.assert_array_equal(one_by_one, base)
    monkeypatch.setattr(sparse_routes, "TOKENS_PER_CALL", 20)  # a batch split into many core calls
    np.testing.assert_array_equal(encoder.encode(TEXTS_REAL).toarray(), base)
    monkeypatch.undo()
    import pybertcore

    threads = pybertcore.get_num_threads()
    try:
        pybertcore.set_num_threads(1)
        np.testing.assert_array_equal(encoder.encode(TEXTS_REAL).toarray(), base)
    finally:
        pybertcore.set_num_threads(threads)


@pytest.mark.parametrize("dtype", ["bfloat16", "int8"])
def test_low_precision_close_to_float32(splade_folders, dtype):
    """The encoder and the decoder tiles in bf16 / int8 (the transform stays float32): on this model the
    vectors keep a cosine of 0.999 or better to our float32 ones (measured: 0.999998 bf16, 0.99999 int8)."""
    folder = splade_folders["bert", "max", "relu"]
    base = SparseEncoder(folder).encode(TEXTS_REAL).toarray()
    low = SparseEncoder(folder, dtype=dtype).encode(TEXTS_REAL).toarray()
    cos = (low * base).sum(1) / (np.linalg.norm(low, axis=1) * np.linalg.norm(base, axis=1))
    assert cos.min() >= 0.999


def test_without_scipy(splade_folders, monkeypatch):
    folder = splade_folders["bert", "max", "relu"]
    encoder = SparseEncoder(folder)
    expected = encoder.encode(TEXTS_REAL).toarray()
    monkeypatch.setattr(sparse_module, "_scipy_sparse", lambda: None)
    out = encoder.encode(TEXTS_REAL)
    assert isinstance(out, sparse_module.SparseEmbeddings) and out.shape == expected.shape
    np.testing.assert_array_equal(out.toarray(), expected)
    for row, (idx, val) in enumerate(zip(out.indices, out.values)):
        np.testing.assert_array_equal(idx, np.flatnonzero(expected[row]))
    np.testing.assert_allclose(encoder.similarity(out, out), expected @ expected.T, rtol=1e-5, atol=1e-5)
    assert encoder.decode(encoder.encode(TEXTS_REAL[0]), top_k=3) == encoder.decode(expected[0], top_k=3)


def test_bad_input(splade_folders, minilm_dir):
    folder = splade_folders["bert", "max", "relu"]
    encoder = SparseEncoder(folder)
    with pytest.raises(ValueError, match="additional keyword arguments .*normalize_embeddings"):
        encoder.encode(TEXTS_REAL, normalize_embeddings=True)
    with pytest.raises(TypeError, match="SparseEncoder\\(\\) got unexpected keyword argument\\(s\\): truncate_dim"):
        SparseEncoder(folder, truncate_dim=4)
    with pytest.raises(ValueError, match="max_active_dims must be a positive integer"):
        encoder.encode(TEXTS_REAL, max_active_dims=0)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        encoder.decode(encoder.encode("x"), top_k=0)
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        encoder.encode(["ok", 3])
    with pytest.raises(NotImplementedError, match="SpladePooling|Pooling"):
        SparseEncoder(minilm_dir)  # a SentenceTransformer folder: not SPLADE
    assert encoder.encode([]).shape == (0, encoder.get_embedding_dimension())


# --- sentence-transformers 6's argument names, extra arguments, attributes and save ---------------------------
def test_inputs_keyword_and_extra_arguments_as_sentence_transformers(splade_folders):
    folder = splade_folders["bert", "max", "relu"]
    prompts = {"query": "query: ", "document": "passage: "}
    ours, theirs = SparseEncoder(folder, prompts=prompts), reference(folder, prompts=prompts)
    # sentence-transformers 6 names the texts `inputs` (`sentences` is its old name, still taken)
    for method in ("encode", "encode_query", "encode_document"):
        for name in ("inputs", "sentences"):
            assert_same_vectors(getattr(ours, method)(**{name: TEXTS_REAL}).toarray(),
                                to_dense(getattr(theirs, method)(**{name: TEXTS_REAL})))
    # the multi-process forms run in this one process, to the single-process vectors
    expected = to_dense(theirs.encode(TEXTS_REAL))
    pool = ours.start_multi_process_pool(["cpu", "cpu"])
    for kwargs in ({"pool": None, "chunk_size": None}, {"pool": pool, "chunk_size": 2}, {"device": ["cpu", "cpu"]}):
        assert_same_vectors(ours.encode(TEXTS_REAL, **kwargs).toarray(), expected)
    ours.stop_multi_process_pool(pool)
    # a keyword the model does not use: ValueError in both, naming it
    for model in (ours, theirs):
        with pytest.raises(ValueError, match="normalize_embeddings"):
            model.encode(TEXTS_REAL, normalize_embeddings=True)
        with pytest.raises(ValueError, match="normalize_embeddings"):
            model.encode_query(TEXTS_REAL, normalize_embeddings=True)
        with pytest.raises(ValueError, match="modality"):  # a Router's keyword: not this model's
            model.encode(TEXTS_REAL, modality="text")
    with pytest.raises(NotImplementedError, match="processing_kwargs"):
        ours.encode(TEXTS_REAL, processing_kwargs={"text": {"max_length": 8}})


def test_constructor_extras_attributes_and_decode_top_k(splade_folders):
    folder = splade_folders["bert", "max", "relu"]
    kwargs = {"use_kernels": False, "kernel_config": None}  # torch kernel choices: nothing to choose here
    ours, theirs = SparseEncoder(folder, **kwargs), reference(folder, **kwargs)
    assert ours.device == str(theirs.device) == "cpu" and ours.device.type == theirs.device.type
    assert type(ours.transformers_model).__name__ == type(theirs.transformers_model).__name__ == "BertForMaskedLM"
    a, b = ours.encode(TEXTS_REAL), theirs.encode(TEXTS_REAL)
    top = np.int64(3)  # e.g. from numpy arithmetic: sentence-transformers' torch.topk takes it
    for mine, ref in zip(ours.decode(a, top_k=top), theirs.decode(b, top_k=top)):
        assert len(mine) == len(ref) == 3
        np.testing.assert_allclose([w for _, w in mine], [w for _, w in ref], atol=1e-3)
    for model, embeddings in ((ours, a), (theirs, b)):
        with pytest.raises(TypeError):
            model.decode(embeddings, top_k=2.5)


@pytest.mark.parametrize("key", [("bert", "max", "relu"), ("distilbert", "sum", "log1p_relu")],
                         ids=lambda k: "-".join(k))
def test_save_loads_in_sentence_transformers(splade_folders, tmp_path, key):
    ours = SparseEncoder(splade_folders[key], prompts={"query": "query: "}, max_active_dims=40,
                         similarity_fn_name="cosine")
    ours.max_seq_length = 24  # shorter than the longest text: the saved limit must cut it the same way
    ours.save(str(tmp_path / "saved"))
    theirs, back = reference(tmp_path / "saved"), SparseEncoder(tmp_path / "saved")
    assert (back.pooling_strategy, back.activation_function) == key[1:]
    for model in (theirs, back):
        assert model.max_seq_length == 24 and model.max_active_dims == 40
        assert model.similarity_fn_name == "cosine" and model.prompts["query"] == "query: "
    expected = ours.encode_query(TEXTS_REAL).toarray()
    assert_same_vectors(expected, to_dense(theirs.encode_query(TEXTS_REAL)))
    np.testing.assert_array_equal(back.encode_query(TEXTS_REAL).toarray(), expected)
    plain = SparseEncoder(splade_folders[key].parent / "mlm")  # a plain masked LM saves as a SPLADE folder too
    plain.save_pretrained(tmp_path / "plain")
    assert_same_vectors(plain.encode(TEXTS_REAL).toarray(), to_dense(reference(tmp_path / "plain").encode(TEXTS_REAL)))


# --- the fused core head against numpy ---------------------------------------------------------------------
def numpy_splade(hidden, offsets, tw, tb, nw, nb, eps, dw, db, strategy, times):
    from math import erf

    x = hidden.astype(np.float64) @ tw.T + tb
    x = x * 0.5 * (1 + np.vectorize(erf)(x / np.sqrt(2)))
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps) * nw + nb
    f = np.maximum(x @ dw.T + db, 0)
    for _ in range(times):
        f = np.log1p(f)
    out = np.zeros((len(offsets) - 1, dw.shape[0]))
    for b in range(len(offsets) - 1):
        seg = f[offsets[b]:offsets[b + 1]]
        if len(seg):
            out[b] = seg.max(0) if strategy == "max" else seg.sum(0)
    return out


@pytest.mark.parametrize("strategy", ["max", "sum"])
@pytest.mark.parametrize("activation", ["relu", "log1p_relu"])
def test_fused_head_matches_numpy(isa, strategy, activation):
    rng = np.random.default_rng(0)
    H, X, V = 20, 13, 301  # odd sizes: V not a multiple of the tile or of the 64-column pooling blocks
    tw, tb = rng.normal(0, 0.3, (X, H)).astype(np.float32), rng.normal(0, 0.1, X).astype(np.float32)
    nw, nb = rng.normal(1, 0.1, X).astype(np.float32), rng.normal(0, 0.1, X).astype(np.float32)
    dw, db = rng.normal(0, 0.5, (V, X)).astype(np.float32), rng.normal(-0.3, 0.3, V).astype(np.float32)
    offsets = np.array([0, 1, 1, 9, 30], dtype=np.int32)  # T=1, an empty sequence, longer ones
    hidden = rng.normal(0, 1, (30, H)).astype(np.float32)
    expected = numpy_splade(hidden, offsets, tw, tb, nw, nb, 1e-12, dw, db, strategy,
                            1 if activation == "relu" else 2)
    for tile in (1, 64, 100, 512):
        head = _core.SpladeHead(tw, tb, _core.Activation.gelu_erf, nw, nb, 1e-12, dw, db, tile_rows=tile, isa=isa)
        out = head.forward(hidden, offsets, strategy, activation)
        assert out.shape == (4, V) and out.dtype == np.float32
        np.testing.assert_allclose(out, expected, atol=1e-4, rtol=1e-4)
        assert (out[1] == 0).all()
        # each sequence alone gives the same floats as in the batch
        for b in range(4):
            alone = head.forward(np.ascontiguousarray(hidden[offsets[b]:offsets[b + 1]]),
                                 np.array([0, offsets[b + 1] - offsets[b]], dtype=np.int32), strategy, activation)
            np.testing.assert_array_equal(alone[0], out[b])


def test_fused_head_scratch_does_not_grow_with_the_vocabulary():
    rng = np.random.default_rng(1)
    H = X = 16
    tw, nw, nb = rng.normal(size=(X, H)).astype(np.float32), np.ones(X, np.float32), np.zeros(X, np.float32)
    small = _core.SpladeHead(tw, None, _core.Activation.gelu_erf, nw, nb, 1e-12,
                             rng.normal(size=(1000, X)).astype(np.float32), None, tile_rows=128)
    large = _core.SpladeHead(tw, None, _core.Activation.gelu_erf, nw, nb, 1e-12,
                             rng.normal(size=(30522, X)).astype(np.float32), None, tile_rows=128)
    N = 64 * 256
    assert small.scratch_bytes(N) == large.scratch_bytes(N)
    assert large.scratch_bytes(N) < N * 30522 * 4 / 50  # vs the (N, V) logits


def test_fused_head_bad_input():
    rng = np.random.default_rng(2)
    tw, nw, nb = rng.normal(size=(8, 8)).astype(np.float32), np.ones(8, np.float32), np.zeros(8, np.float32)
    dw = rng.normal(size=(50, 8)).astype(np.float32)
    with pytest.raises(ValueError, match="decoder_weight has shape \\(50, 7\\), expected \\(50, 8\\)"):
        _core.SpladeHead(tw, None, _core.Activation.gelu_erf, nw, nb, 1e-12, dw[:, :7].copy(), None)
    head = _core.SpladeHead(tw, None, _core.Activation.gelu_erf, nw, nb, 1e-12, dw, None)
    hidden = np.zeros((5, 8), np.float32)
    with pytest.raises(ValueError, match="hidden has shape \\(5, 7\\)"):
        head.forward(np.zeros((5, 7), np.float32), np.array([0, 5], np.int32))
    with pytest.raises(ValueError, match="offsets must start at 0 and end at N=5"):
        head.forward(hidden, np.array([0, 4], np.int32))
    with pytest.raises(ValueError, match="offsets decrease at sequence 1"):
        head.forward(hidden, np.array([0, 6, 5], np.int32))
    with pytest.raises(ValueError, match="pooling_strategy 'mean' is unknown"):
        head.forward(hidden, np.array([0, 5], np.int32), "mean")
    with pytest.raises(ValueError, match="activation_function 'gelu' is unknown"):
        head.forward(hidden, np.array([0, 5], np.int32), "max", "gelu")
