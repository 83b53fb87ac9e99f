"""SentenceEncoder's sentence-transformers features against sentence-transformers itself on the real MiniLM
folder: prompts (kept in pooling or left out, ``include_prompt``), ``truncate_dim`` at load and per call,
each ``precision``, ``output_value="token_embeddings"``, ``convert_to_tensor``, ``similarity`` with each
``similarity_fn_name``, and unknown arguments.

Tolerances (the issue's): cosine ≥ 0.99999 per vector; quantized outputs the same dtype and shape with
≥ 99% of elements equal (a float that sits on a bucket edge may round either way), binary exactly equal
wherever the two float inputs have the same sign; token states and similarities within 1e-4.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pybertcore import SentenceEncoder
from pybertcore.sentence import SentenceTransformer
from test_sentence import TEXTS, assert_close, variant

PROMPTS = {"query": "query: ", "passage": "passage: ", "classification": "Classify the topic of this text: "}

# Enough texts that the int8/uint8 ranges come from more than a handful of vectors.
MANY = TEXTS[:6] + [f"Sentence number {i} talks about {w}." for i, w in enumerate(
    "bread rivers music taxes stars football chemistry gardens trains poetry coffee volcanoes "
    "banking snow elections robots painting oceans medicine chess".split())]


def with_st_config(minilm_dir, tmp_path, st_config=None, pooling=None):
    folder = variant(minilm_dir, tmp_path, pooling=pooling)
    if st_config is not None:
        (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config))
    return folder


def st_model(folder, **kwargs):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(folder), device="cpu", **kwargs)


@pytest.fixture(scope="module")
def prompt_folder(minilm_dir, tmp_path_factory):
    return with_st_config(minilm_dir, tmp_path_factory.mktemp("prompts"), {"prompts": PROMPTS})


@pytest.mark.parametrize("include_prompt", [True, False])
@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "weightedmean", "lasttoken"])
def test_prompts_as_sentence_transformers(minilm_dir, tmp_path, include_prompt, pooling):
    """prompt_name, prompt, encode_query/encode_document; with include_prompt false the prompt's tokens
    (CLS included, as sentence-transformers counts them) are left out of pooling."""
    keys = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens",
            "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}
    folder = with_st_config(minilm_dir, tmp_path, {"prompts": PROMPTS},
                            pooling={keys[pooling]: True, "include_prompt": include_prompt})
    ours, theirs = SentenceEncoder(folder), st_model(folder)
    assert ours.prompts == theirs.prompts
    texts = TEXTS[:5]
    for kwargs in ({"prompt_name": "query"}, {"prompt_name": "classification"}, {"prompt": "custom prefix: "}):
        assert_close(ours.encode(texts, batch_size=2, **kwargs), theirs.encode(texts, batch_size=2, **kwargs))
    assert_close(ours.encode_query(texts), theirs.encode_query(texts))
    assert_close(ours.encode_document(texts), theirs.encode_document(texts))  # "passage" is its prompt here
    plain = ours.encode(texts)
    assert not np.allclose(ours.encode(texts, prompt_name="query"), plain, atol=1e-3)
    with pytest.raises(ValueError, match="Prompt name 'nope' not found"):
        ours.encode(texts, prompt_name="nope")


def test_default_prompt_name_and_constructor_prompts(minilm_dir, tmp_path):
    folder = with_st_config(minilm_dir, tmp_path, {"prompts": PROMPTS, "default_prompt_name": "query"})
    ours, theirs = SentenceEncoder(folder), st_model(folder)
    assert ours.default_prompt_name == theirs.default_prompt_name == "query"
    texts = TEXTS[:4]
    assert_close(ours.encode(texts), theirs.encode(texts))
    assert_close(ours.encode(texts), ours.encode(texts, prompt="query: "))
    assert_close(ours.encode(texts, prompt=""), theirs.encode(texts, prompt=""))  # an empty prompt wins
    user = {"query": "search_query: ", "extra": "x: "}
    ours, theirs = SentenceEncoder(folder, prompts=user, default_prompt_name="extra"), st_model(
        folder, prompts=user, default_prompt_name="extra")
    assert ours.prompts == theirs.prompts and ours.default_prompt_name == "extra"
    assert_close(ours.encode(texts), theirs.encode(texts))
    assert_close(ours.encode_query(texts), theirs.encode_query(texts))
    with pytest.raises(ValueError, match="Default prompt name 'missing' not found"):
        SentenceEncoder(folder, default_prompt_name="missing")


def test_truncate_dim_at_load_and_per_call(minilm_dir, tmp_path):
    texts = TEXTS
    ours, theirs = SentenceEncoder(minilm_dir, truncate_dim=128), st_model(minilm_dir, truncate_dim=128)
    assert ours.get_sentence_embedding_dimension() == theirs.get_embedding_dimension() == 128
    for normalize in (False, True):
        a = ours.encode(texts, normalize_embeddings=normalize)
        b = theirs.encode(texts, normalize_embeddings=normalize)
        assert a.shape == b.shape == (len(texts), 128)
        assert_close(a, b)
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=0)
    # cut after the Normalize module: not unit length unless asked
    assert not np.allclose(np.linalg.norm(ours.encode(texts), axis=1), 1.0, atol=1e-3)
    assert_close(ours.encode(texts, truncate_dim=32), theirs.encode(texts, truncate_dim=32))
    full = SentenceEncoder(minilm_dir)
    assert_close(full.encode(texts, truncate_dim=64), theirs.encode(texts, truncate_dim=64))
    with full.truncate_embeddings(16):
        assert full.encode("hi").shape == (16,)
    assert full.encode("hi").shape == (384,)
    folder = with_st_config(minilm_dir, tmp_path, {"truncate_dim": 48, "similarity_fn_name": "dot"})
    saved = SentenceEncoder(folder)
    assert saved.truncate_dim == st_model(folder).truncate_dim == 48
    assert saved.similarity_fn_name == "dot"
    for bad in (0, -3, 2.5, "64"):
        with pytest.raises(ValueError, match="truncate_dim"):
            full.encode("hi", truncate_dim=bad)


@pytest.mark.parametrize("precision", ["float32", "int8", "uint8", "binary", "ubinary"])
def test_precision_as_quantize_embeddings(minilm_dir, minilm_encoder, precision):
    theirs_model = st_model(minilm_dir)
    ours = minilm_encoder.encode(MANY, precision=precision)
    theirs = theirs_model.encode(MANY, precision=precision)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if precision == "float32":
        assert_close(ours, theirs)
        return
    assert (ours == theirs).mean() >= 0.99
    if precision.endswith("binary"):
        f_ours, f_theirs = minilm_encoder.encode(MANY), theirs_model.encode(MANY)
        agree = np.packbits((f_ours > 0) == (f_theirs > 0), axis=-1) == 255  # all 8 signs of a byte agree
        np.testing.assert_array_equal(ours[agree], theirs[agree])
    from sentence_transformers.util import quantize_embeddings as reference
    from pybertcore import quantize_embeddings

    floats = minilm_encoder.encode(MANY)
    np.testing.assert_array_equal(quantize_embeddings(floats, precision), reference(floats, precision))
    calibration = minilm_encoder.encode(MANY[::-1][:10])
    np.testing.assert_array_equal(quantize_embeddings(floats, precision, calibration_embeddings=calibration),
                                  reference(floats, precision, calibration_embeddings=calibration))


def test_precision_edges(minilm_encoder):
    with pytest.raises(ValueError, match="single embedding"):  # as sentence-transformers: no ranges from one
        minilm_encoder.encode("one text", precision="int8")
    assert minilm_encoder.encode("one text", precision="ubinary").shape == (48,)
    with pytest.raises(ValueError, match="Precision 'int4' is not supported"):
        minilm_encoder.encode(["a", "b"], precision="int4")
    assert minilm_encoder.encode(MANY, precision="binary", truncate_dim=20).shape == (len(MANY), 3)


def test_token_embeddings(minilm_dir, minilm_encoder):
    theirs = st_model(minilm_dir).encode(TEXTS[:4], output_value="token_embeddings")
    ours = minilm_encoder.encode(TEXTS[:4], output_value="token_embeddings", batch_size=3)
    assert isinstance(ours, list) and len(ours) == 4
    for a, b in zip(ours, theirs):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4, rtol=0)
    one = minilm_encoder.encode("Hello!", output_value="token_embeddings")
    assert one.shape == (4, 384)
    # quantized with one set of ranges over every token, as sentence-transformers does
    for precision in ("int8", "ubinary"):
        q_ours = minilm_encoder.encode(TEXTS[:4], output_value="token_embeddings", precision=precision)
        q_theirs = st_model(minilm_dir).encode(TEXTS[:4], output_value="token_embeddings", precision=precision)
        for a, b in zip(q_ours, q_theirs):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert (a == b).mean() >= 0.99


@pytest.mark.parametrize("include_prompt", [True, False])
def test_every_output_as_sentence_transformers(minilm_dir, tmp_path, include_prompt):
    """output_value=None: per text, every feature of its padded batch, batched as sentence-transformers batches
    (so the same padded lengths); token embeddings within 1e-4 on real tokens (padding holds zeros here)."""
    folder = with_st_config(minilm_dir, tmp_path, pooling={"pooling_mode_mean_tokens": True,
                                                           "include_prompt": include_prompt})
    ours, theirs = SentenceEncoder(folder), st_model(folder)
    texts = MANY + ["", "x"]
    for kwargs in ({}, {"prompt": "query: ", "truncate_dim": 10, "batch_size": 4, "normalize_embeddings": True}):
        mine, reference = ours.encode(texts, output_value=None, **kwargs), theirs.encode(texts, output_value=None,
                                                                                       **kwargs)
        assert len(mine) == len(reference) == len(texts)
        for a, b in zip(mine, reference):
            assert set(a) == set(b)
            assert a["modality"] == b["modality"] and a.get("prompt_length") == b.get("prompt_length")
            for name in ("input_ids", "attention_mask", "token_type_ids"):
                np.testing.assert_array_equal(a[name], b[name].numpy())
            real = a["attention_mask"].astype(bool)
            assert a["token_embeddings"].shape == tuple(b["token_embeddings"].shape)
            np.testing.assert_allclose(a["token_embeddings"][real], b["token_embeddings"].numpy()[real], atol=1e-4)
            assert (a["token_embeddings"][~real] == 0).all()
            np.testing.assert_allclose(a["sentence_embedding"], b["sentence_embedding"].numpy(), atol=1e-5)
    one = ours.encode("Hello!", output_value=None)
    assert one["token_embeddings"].shape == (4, 384) and one["sentence_embedding"].shape == (384,)
    assert ours.encode([], output_value=None) == []
    with pytest.raises(ValueError, match="precision='int8'"):
        ours.encode(texts, output_value=None, precision="int8")


def test_convert_to_tensor(minilm_dir, minilm_encoder):
    import torch

    ours = minilm_encoder.encode(TEXTS[:3], convert_to_tensor=True)
    theirs = st_model(minilm_dir).encode(TEXTS[:3], convert_to_tensor=True)
    assert isinstance(ours, torch.Tensor) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert_close(ours.numpy(), theirs.numpy())
    assert isinstance(minilm_encoder.encode("Hi", convert_to_tensor=True), torch.Tensor)
    listed = minilm_encoder.encode(TEXTS[:3], convert_to_numpy=False)
    assert isinstance(listed, list) and all(isinstance(t, torch.Tensor) for t in listed)
    quantized = minilm_encoder.encode(MANY, convert_to_tensor=True, precision="int8")
    assert quantized.dtype == torch.int8


@pytest.mark.parametrize("name", ["cosine", "dot", "euclidean", "manhattan"])
def test_similarity_functions(minilm_dir, name):
    ours, theirs = SentenceEncoder(minilm_dir, similarity_fn_name=name), st_model(minilm_dir, similarity_fn_name=name)
    assert ours.similarity_fn_name == theirs.similarity_fn_name == name
    a, b = ours.encode(TEXTS[:4]), ours.encode(TEXTS[4:])
    expected = theirs.similarity(a, b).numpy()
    got = ours.similarity(a, b)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == (4, 4)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours.similarity_pairwise(a, b), theirs.similarity_pairwise(a, b).numpy(),
                               atol=1e-4, rtol=0)
    import torch

    as_torch = ours.similarity(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(as_torch, torch.Tensor)


def test_similarity_fn_name_setter_and_default(minilm_encoder, minilm_dir):
    from sentence_transformers import SimilarityFunction

    encoder = SentenceEncoder(minilm_dir)
    assert encoder.similarity_fn_name == "cosine"
    encoder.similarity_fn_name = SimilarityFunction.DOT_PRODUCT
    assert encoder.similarity_fn_name == "dot"
    with pytest.raises(ValueError, match="similarity_fn_name must be one of"):
        encoder.similarity_fn_name = "maxsim"


def test_unknown_arguments_raise_type_error_naming_them(minilm_dir, minilm_encoder):
    with pytest.raises(TypeError, match="SentenceEncoder\\(\\) got unexpected keyword argument\\(s\\): banana, cherry"):
        SentenceEncoder(minilm_dir, banana=1, cherry=2)
    for method in (minilm_encoder.encode, minilm_encoder.encode_query, minilm_encoder.encode_document):
        # ValueError, as sentence-transformers 6's encode (tests/test_sentence_dropin.py compares the two)
        with pytest.raises(ValueError, match=r"additional keyword arguments .*: \['promt_name'\]"):
            method(["hi"], promt_name="query")
    assert SentenceTransformer is SentenceEncoder
    card = object()
    assert SentenceTransformer(minilm_dir, model_card_data=card).model_card_data is card


@pytest.fixture(scope="module")
def minilm_encoder(minilm_dir):
    return SentenceEncoder.from_pretrained(minilm_dir)


@pytest.mark.parametrize("config, message", [
    ({"prompts": ["query: "]}, "prompts: expected an object"),
    ({"prompts": {"query": 3}}, "prompts: expected an object"),
    ({"truncate_dim": 0}, "truncate_dim: unexpected value"),
    ({"truncate_dim": "64"}, "truncate_dim: unexpected value"),
    ({"default_prompt_name": 1}, "default_prompt_name: unexpected value"),
    ({"prompts": {"query": "q: "}, "default_prompt_name": "passage"}, "Default prompt name 'passage' not found"),
])
def test_bad_config_sentence_transformers(minilm_dir, tmp_path, config, message):
    folder = with_st_config(minilm_dir, tmp_path, config)
    with pytest.raises(ValueError, match=message):
        SentenceEncoder(folder)


def test_config_sentence_transformers_not_json(minilm_dir, tmp_path):
    folder = with_st_config(minilm_dir, tmp_path)
    (folder / "config_sentence_transformers.json").write_text("{not json")
    with pytest.raises(OSError, match="config_sentence_transformers.json"):
        SentenceEncoder(folder)
