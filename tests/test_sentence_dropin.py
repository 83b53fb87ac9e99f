"""Code written for sentence-transformers 6's ``SentenceTransformer`` runs on pybertcore's by changing the import:
the same calls, on the real MiniLM folder, give the same results, types and errors in both libraries.

Covers what test_sentence*.py do not: encode's ``inputs`` argument (and its old name ``sentences``), the
keywords sentence-transformers takes beyond encode's own (``task``, ``pool``, ``chunk_size``,
``precision=None``) and the ValueError for the rest, bad inputs, the process-pool calls, ``similarity_pairwise``
of two vectors, ``preprocess``/``tokenize``, ``save`` read back by sentence-transformers, the deprecated
names, ``set_pooling_include_prompt`` and the torch-module calls that have a meaning on the CPU.

Tolerances: cosine >= 0.99999 per vector (test_sentence.py's); similarities within 1e-5; token ids exact;
a folder pybertcore saved and reloaded gives bit-identical vectors (the same weights, written as float32).
"""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import pytest

from pybertcore import SentenceTransformer
from pybertcore.sentence_utils import warn_once
from test_sentence import TEXTS, assert_close, variant

SHORT = TEXTS[:4]


@pytest.fixture(scope="module")
def ours(minilm_dir):
    return SentenceTransformer(minilm_dir, device="cpu")


@pytest.fixture(scope="module")
def theirs(minilm_dir):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(minilm_dir), device="cpu")


def reference(folder, **kwargs):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(folder), device="cpu", **kwargs)


def pybertcore_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "pybertcore"]


def test_inputs_keyword_and_its_old_name_sentences(ours, theirs, caplog):
    """sentence-transformers 6 named encode's first argument ``inputs``; ``sentences=`` still works with a warning."""
    assert_close(ours.encode(inputs=SHORT), theirs.encode(inputs=SHORT))
    assert_close(ours.encode_query(inputs=SHORT), theirs.encode_query(inputs=SHORT))
    # encode_query / encode_document take encode's arguments by position too (here batch_size=2)
    assert_close(ours.encode_document(SHORT, None, None, 2), theirs.encode_document(SHORT, None, None, 2))
    warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        assert_close(ours.encode(sentences=SHORT), theirs.encode(sentences=SHORT))
        assert_close(ours.encode_document(sentences=SHORT[0]), theirs.encode_document(sentences=SHORT[0]))
    assert pybertcore_warnings(caplog) == [
        "The `sentences` argument was renamed and is now deprecated. Please use `inputs` instead."]  # once
    for model in (ours, theirs):
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'inputs'"):
            model.encode()


@pytest.mark.parametrize("extra", [{"task": "query"}, {"pool": None, "chunk_size": 2}, {"precision": None},
                                   {"device": "cpu"}], ids=["task", "pool-chunk_size", "precision-None", "device"])
def test_keywords_sentence_transformers_takes(ours, theirs, extra):
    """encode keywords sentence-transformers 6 takes from any model used to raise TypeError here."""
    got, expected = ours.encode(SHORT, **extra), theirs.encode(SHORT, **extra)
    assert got.dtype == expected.dtype == np.float32
    assert_close(got, expected)


def test_unknown_keywords_and_bad_inputs_raise_as_sentence_transformers(ours, theirs):
    for model in (ours, theirs):
        with pytest.raises(ValueError, match=r"additional keyword arguments that this model does not use: "
                                             r"\['banana'\]"):
            model.encode(SHORT, banana=1)
        for bad in (None, 5):
            with pytest.raises(ValueError, match=f"Unsupported input type: {type(bad).__name__}"):
                model.encode(bad)
    with pytest.raises(NotImplementedError, match="processing_kwargs"):  # not ignored: it would change the tokens
        ours.encode(SHORT, processing_kwargs={"text": {"max_length": 8}})


def test_process_pool_calls_encode_in_this_process(ours, theirs):
    """start_multi_process_pool / encode(pool=...) / stop_multi_process_pool and a list of CPU devices run,
    here without processes (the core already uses every core), and give encode's vectors."""
    plain = ours.encode(TEXTS)
    pool = ours.start_multi_process_pool(["cpu", "cpu"])
    try:
        np.testing.assert_array_equal(ours.encode(TEXTS, pool=pool, chunk_size=3), plain)
        with pytest.warns(DeprecationWarning, match="encode_multi_process"):
            np.testing.assert_array_equal(ours.encode_multi_process(TEXTS, pool, batch_size=2), plain)
    finally:
        ours.stop_multi_process_pool(pool)
    np.testing.assert_array_equal(ours.encode(TEXTS, device=["cpu", "cpu"]), plain)
    assert_close(plain, theirs.encode(TEXTS))
    with pytest.raises(NotImplementedError, match="CPU only"):
        ours.start_multi_process_pool(["cuda:0"])
    with pytest.raises(NotImplementedError, match="CPU only"):
        ours.encode(SHORT, device=["cpu", "cuda:1"])


@pytest.mark.parametrize("name", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_pairwise_of_two_vectors_is_one_score(minilm_dir, ours, name):
    """Two 1-D vectors give a 0-d score, as sentence-transformers' (it gave shape (1,) here)."""
    import torch

    reference_model = reference(minilm_dir, similarity_fn_name=name)
    model = SentenceTransformer(minilm_dir, similarity_fn_name=name)
    a, b = ours.encode(SHORT[0]), ours.encode(SHORT[1])
    expected = reference_model.similarity_pairwise(a, b)
    got = model.similarity_pairwise(a, b)
    assert got.shape == tuple(expected.shape) == ()
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5, rtol=1e-6)
    as_torch = model.similarity_pairwise(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(as_torch, torch.Tensor) and as_torch.shape == ()
    assert model.similarity_pairwise(a[None], b[None]).shape == tuple(
        reference_model.similarity_pairwise(a[None], b[None]).shape) == (1,)


def test_preprocess_and_tokenize_give_sentence_transformers_tokens(minilm_dir, caplog):
    """The ids and masks sentence-transformers' preprocess gives (padded, cut at max_seq_length, prompt first),
    as numpy; tokenize is its deprecated name, with the same warning."""
    model, reference_model = SentenceTransformer(minilm_dir), reference(minilm_dir)
    texts = ["Hello world!", "word " * 30, "Crème brûlée"]
    for max_seq_length in (256, 8):
        model.max_seq_length = reference_model.max_seq_length = max_seq_length
        for prompt in (None, "query: "):
            got, expected = model.preprocess(texts, prompt=prompt), reference_model.preprocess(texts, prompt=prompt)
            for key in ("input_ids", "attention_mask", "token_type_ids"):
                assert isinstance(got[key], np.ndarray)
                np.testing.assert_array_equal(got[key], expected[key].numpy())
    assert got["input_ids"].shape == (3, 8)
    warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        tokens = model.tokenize(texts)
    np.testing.assert_array_equal(tokens["input_ids"], model.preprocess(texts)["input_ids"])
    assert pybertcore_warnings(caplog) == ["The `tokenize` method is deprecated, please use `preprocess` instead."]


def dense_folder(minilm_dir, tmp_path):
    """MiniLM + a Dense layer without bias and with Identity activation + Normalize, saved by
    sentence-transformers."""
    import torch
    from sentence_transformers import SentenceTransformer as Reference
    from sentence_transformers.base.modules.dense import Dense

    base = reference(minilm_dir)
    torch.manual_seed(0)
    dense = Dense(in_features=384, out_features=24, bias=False, activation_function=torch.nn.Identity())
    Reference(modules=[base[0], base[1], dense, base[2]], device="cpu").save(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("case", ["settings", "dense", "cls-without-prompt"])
def test_save_loads_back_in_sentence_transformers(minilm_dir, tmp_path, case):
    """save() writes a folder sentence-transformers loads with the same settings and embeddings, and
    pybertcore loads back bit for bit."""
    kwargs = {}
    if case == "settings":
        folder = minilm_dir
        kwargs = {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query",
                  "truncate_dim": 100, "similarity_fn_name": "dot"}
    elif case == "dense":
        folder = dense_folder(minilm_dir, tmp_path / "source")
    else:
        (tmp_path / "source").mkdir()
        folder = variant(minilm_dir, tmp_path / "source",
                         pooling={"pooling_mode_cls_token": True, "include_prompt": False})
        kwargs = {"prompts": {"query": "query: "}}
    model = SentenceTransformer(folder, **kwargs)
    model.max_seq_length = 64
    model.save_pretrained(tmp_path / "saved")
    from_reference = reference(tmp_path / "saved")
    reloaded = SentenceTransformer(tmp_path / "saved")
    for loaded in (from_reference, reloaded):
        assert loaded.prompts == model.prompts and loaded.default_prompt_name == model.default_prompt_name
        assert loaded.truncate_dim == model.truncate_dim and loaded.similarity_fn_name == model.similarity_fn_name
        assert loaded.max_seq_length == 64
        assert loaded.get_embedding_dimension() == model.get_embedding_dimension()
    texts = TEXTS  # one is longer than 64 tokens: cut alike
    for encode in ("encode", "encode_query"):
        expected = getattr(model, encode)(texts)
        assert_close(expected, getattr(from_reference, encode)(texts))
        np.testing.assert_array_equal(getattr(reloaded, encode)(texts), expected)
    modules = json.loads((tmp_path / "saved" / "modules.json").read_text())
    expected_types = ["Transformer", "Pooling"] + (["Dense"] if case == "dense" else []) + ["Normalize"]
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == expected_types
    # the transformer module as sentence-transformers 6 writes it: its task, and the length limit on the tokenizer
    assert json.loads((tmp_path / "saved" / "sentence_bert_config.json").read_text())["transformer_task"] == \
        "feature-extraction"
    assert json.loads((tmp_path / "saved" / "tokenizer_config.json").read_text())["model_max_length"] == 64


def test_deprecated_and_module_calls(minilm_dir, ours, theirs, caplog):
    """The calls sentence-transformers code makes on the model beyond encode: the deprecated
    truncate_sentence_embeddings (FutureWarning in both), set_pooling_include_prompt, the torch-module
    calls that mean something on the CPU, and training, which raises a clear error instead of AttributeError."""
    for model in (ours, theirs):
        with pytest.warns(FutureWarning, match="renamed to `truncate_embeddings`"):
            with model.truncate_sentence_embeddings(16):
                assert model.encode(SHORT).shape == (4, 16)
        assert model.encode(SHORT).shape == (4, 384)
    assert ours.device == "cpu" and ours.device.type == theirs.device.type == "cpu"
    assert ours.eval() is ours and ours.to("cpu") is ours and ours.cpu() is ours
    with pytest.raises(NotImplementedError, match="CPU only"):
        ours.to("cuda")
    for call in (ours.fit, ours.evaluate):
        with pytest.raises(NotImplementedError, match="pybertcore"):
            call(None)

    prompts = {"query": "Represent this question for retrieval: "}
    model, reference_model = SentenceTransformer(minilm_dir, prompts=prompts), reference(minilm_dir, prompts=prompts)
    with_prompt = model.encode_query(SHORT)
    for m in (model, reference_model):
        m.set_pooling_include_prompt(False)
    without_prompt = model.encode_query(SHORT)
    assert_close(without_prompt, reference_model.encode_query(SHORT))
    assert not np.allclose(with_prompt, without_prompt, atol=1e-3)

    # sentence-transformers 6.3's new constructor arguments are taken; the default prompt is announced
    warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        model = SentenceTransformer(minilm_dir, use_kernels=False, kernel_config=None, prompts=prompts,
                                    default_prompt_name="query")
    assert any("Default prompt name is set to 'query'" in m for m in pybertcore_warnings(caplog))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(model.encode(SHORT), reference(minilm_dir, prompts=prompts, default_prompt_name="query")
                     .encode(SHORT))


def test_config_kwargs_keep_config_fields_and_drop_the_rest(minilm_dir):
    """``config_kwargs`` go to the config loader as in sentence-transformers: a field of the config is set, a
    key that is none is dropped (transformers' config loader drops it), and the model still loads."""
    config_kwargs = {"hidden_dropout_prob": 0.25, "not_a_config_field": 1}
    ours = SentenceTransformer(minilm_dir, device="cpu", config_kwargs=config_kwargs)
    theirs = reference(minilm_dir, config_kwargs=config_kwargs)
    for config in (ours.model.config, theirs[0].auto_model.config):
        assert config.hidden_dropout_prob == 0.25
        assert not hasattr(config, "not_a_config_field")
    assert_close(ours.encode(SHORT), theirs.encode(SHORT))
