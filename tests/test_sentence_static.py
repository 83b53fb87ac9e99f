"""StaticEmbedding models (sentence-transformers' static-retrieval / static-similarity models, model2vec's potion
models): SentenceEncoder against sentence-transformers' SentenceTransformer on folders it saves here, with
a random table over the real MiniLM tokenizer.

Tolerance: 1e-6 absolute (both average float32 rows; torch's EmbeddingBag sums in float32, ours in float64).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pybertcore import SentenceTransformer
from pybertcore.checkpoints import CheckpointError, save_safetensors
from test_sentence import TEXTS

# an empty text (zeros), repeated tokens (each occurrence counts), and one past tokenizer.json's 128-token cut
TEXTS_STATIC = TEXTS[:6] + ["", "rain rain rain snow", "The weather is lovely today. " * 40]
DIM = 48


def reference(folder, **kwargs):
    from sentence_transformers import SentenceTransformer as Reference

    return Reference(str(folder), device="cpu", **kwargs)


def make_static(folder, minilm_dir, extra_modules=()):
    """A StaticEmbedding (random (V, 48) table on the MiniLM tokenizer.json) and ``extra_modules``, saved by
    sentence-transformers."""
    from sentence_transformers import SentenceTransformer as Reference
    from sentence_transformers.base.modules import Dense, Normalize
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer

    __import__("torch").manual_seed(0)  # the Dense layers' initial weights: the same model every run
    tokenizer = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    table = np.random.default_rng(0).standard_normal((tokenizer.get_vocab_size(), DIM)).astype(np.float32)
    modules = [StaticEmbedding(tokenizer, embedding_weights=table)]
    for name in extra_modules:
        modules.append(Dense(DIM, 16, activation_function=__import__("torch").nn.Tanh()) if name == "Dense"
                       else Normalize())
    Reference(modules=modules, device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="module")
def static_folders(minilm_dir, tmp_path_factory):
    return {extra: make_static(tmp_path_factory.mktemp("static-" + "-".join(extra)), minilm_dir, extra)
            for extra in [(), ("Dense", "Normalize")]}


@pytest.mark.parametrize("extra", [(), ("Dense", "Normalize")], ids=["alone", "dense-normalize"])
def test_encode_matches_sentence_transformers(static_folders, extra):
    folder = static_folders[extra]
    ours, theirs = SentenceTransformer(folder), reference(folder)
    assert ours.get_sentence_embedding_dimension() == theirs.get_embedding_dimension()
    assert ours.get_max_seq_length() == theirs.get_max_seq_length() == float("inf")
    a, b = ours.encode(TEXTS_STATIC), theirs.encode(TEXTS_STATIC)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    if not extra:
        assert (a[TEXTS_STATIC.index("")] == 0).all()
    for kwargs in ({"normalize_embeddings": True}, {"truncate_dim": 8}, {"prompt": "query: "},
                   {"convert_to_tensor": True}):
        np.testing.assert_allclose(np.asarray(ours.encode(TEXTS_STATIC, **kwargs)),
                                   np.asarray(theirs.encode(TEXTS_STATIC, **kwargs)), atol=1e-6, rtol=0)
    # quantized over enough texts that 1% is more than one code: a float within rounding of a bucket edge may
    # go either way (the tolerance), and 9 texts of 16 dimensions leave no room for a single one
    many = TEXTS_STATIC + [f"Sentence number {i} talks about {w}." for i, w in enumerate(
        "bread rivers music taxes stars football chemistry gardens trains poetry coffee volcanoes".split())]
    for precision in ("int8", "binary"):
        x, y = ours.encode(many, precision=precision), theirs.encode(many, precision=precision)
        assert x.dtype == y.dtype and (x == y).mean() >= 0.99
    one = ours.encode(TEXTS_STATIC[1])
    np.testing.assert_array_equal(one, a[1])  # a text's vector does not depend on its batch
    np.testing.assert_allclose(ours.similarity(a[:3], a[:3]), theirs.similarity(b[:3], b[:3]).numpy(), atol=1e-6)


def test_preprocess_attributes_and_token_embeddings(static_folders):
    folder = static_folders[()]
    ours, theirs = SentenceTransformer(folder), reference(folder)
    mine, ref = ours.preprocess(TEXTS_STATIC), theirs.preprocess(TEXTS_STATIC)
    assert set(mine) == {"input_ids", "offsets"}
    for key in mine:
        np.testing.assert_array_equal(mine[key], ref[key].numpy())
    assert ours.transformers_model is None and theirs.transformers_model is None
    assert ours.device == "cpu" and "StaticEmbedding" in repr(ours)
    assert ours.to("cpu") is ours
    with pytest.raises(NotImplementedError, match="StaticEmbedding model runs on the CPU, in float32"):
        ours.to("bfloat16")
    with pytest.raises(ValueError, match="no token embeddings"):
        ours.encode(TEXTS_STATIC, output_value="token_embeddings")


def test_save_loads_in_sentence_transformers(static_folders, tmp_path):
    for extra, folder in static_folders.items():
        ours = SentenceTransformer(folder, prompts={"query": "q: "}, truncate_dim=8 if extra else None)
        for safe in (True, False):
            out = tmp_path / f"{'-'.join(extra) or 'alone'}-{safe}"
            ours.save(str(out), safe_serialization=safe)
            expected = ours.encode_query(TEXTS_STATIC)
            np.testing.assert_allclose(reference(out).encode_query(TEXTS_STATIC), expected, atol=1e-6, rtol=0)
            np.testing.assert_array_equal(SentenceTransformer(out).encode_query(TEXTS_STATIC), expected)


def test_model2vec_tables(static_folders, tmp_path):
    """model2vec's layout: ``embeddings`` rows, a token → row ``mapping`` and per-token ``weights``, folded
    into one row per token as sentence-transformers folds them."""
    folder = tmp_path / "model2vec"
    shutil.copytree(static_folders[()], folder)
    rng = np.random.default_rng(3)
    vocab = 30522
    rows = rng.standard_normal((500, DIM)).astype(np.float32)
    save_safetensors({"embeddings": rows, "mapping": rng.integers(0, 500, vocab).astype(np.int64),
                      "weights": rng.uniform(0.1, 2, vocab).astype(np.float32)}, folder / "model.safetensors")
    np.testing.assert_allclose(SentenceTransformer(folder).encode(TEXTS_STATIC),
                               reference(folder).encode(TEXTS_STATIC), atol=1e-6, rtol=0)
    # int8 rows (model2vec's quantize_to="int8") with their per-token weights
    codes = rng.integers(-127, 128, (500, DIM)).astype(np.int8)
    save_safetensors({"embeddings": codes, "mapping": rng.integers(0, 500, vocab).astype(np.int64),
                      "weights": rng.uniform(0.001, 0.01, vocab).astype(np.float32)}, folder / "model.safetensors")
    np.testing.assert_allclose(SentenceTransformer(folder).encode(TEXTS_STATIC),
                               reference(folder).encode(TEXTS_STATIC), atol=1e-6, rtol=0)
    save_safetensors({"embeddings": rows[:1], "mapping": np.full(vocab, 7, np.int64)}, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="'mapping' names rows outside 'embeddings'"):
        SentenceTransformer(folder)


@pytest.mark.parametrize("name, edit, error, match", [
    ("no-table", lambda f: save_safetensors({"other": np.ones((2, 2), np.float32)}, f / "model.safetensors"),
     CheckpointError, "'embeddings'"),
    ("flat-table", lambda f: save_safetensors({"embedding.weight": np.ones(4, np.float32)}, f / "model.safetensors"),
     CheckpointError, "2-D float tensor"),
    ("no-weights", lambda f: (f / "model.safetensors").unlink(), OSError, "needs model.safetensors"),
    ("bad-tokenizer", lambda f: (f / "tokenizer.json").write_text("{not json"), OSError, "tokenizer.json"),
    ("short-table", lambda f: save_safetensors({"embedding.weight": np.ones((100, 4), np.float32)},
                                               f / "model.safetensors"), None, None),
    ("pooling-after", lambda f: (f / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.StaticEmbedding"},
         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])),
     NotImplementedError, "StaticEmbedding as the first module"),
])
def test_bad_static_folders(static_folders, tmp_path, name, edit, error, match):
    folder = tmp_path / name
    shutil.copytree(static_folders[()], folder)
    edit(folder)
    if error is None:  # loads, but a token past the table is named when it comes
        with pytest.raises(ValueError, match=r"inputs\[0\]: token id \d+ is outside the StaticEmbedding's 100 rows"):
            SentenceTransformer(folder).encode(["weather"])
        return
    with pytest.raises(error, match=match):
        SentenceTransformer(folder)
