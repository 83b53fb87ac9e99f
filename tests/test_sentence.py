"""SentenceEncoder against sentence-transformers' SentenceTransformer (the oracle) on MiniLM.

Tolerance: cosine ≥ 0.99999 per sentence between the two embeddings (the encoder agrees with
transformers within 1e-4 max abs; pooling is float32), and max abs ≤ 1e-4 on normalised vectors.
Variants of the MiniLM folder (no Normalize module, CLS / max pooling, no modules.json) share the weights
through a symlink.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np
import pytest

from pybertcore import SentenceEncoder

COS_MIN = 0.99999

TEXTS = [
    "A man is eating food.",
    "Hello!",
    "The new movie is awesome, and the popcorn was great too.",
    "",
    "Crème brûlée à l'hôtel, 北京欢迎你",
    "A man is riding a white horse on an enclosed ground.",
    "long " * 300,  # beyond max_seq_length=256: truncated
    "Two dogs.",
]


def variant(minilm_dir, tmp_path, modules=None, pooling=None, keep_modules=True):
    """A copy of the MiniLM folder (weights symlinked) with modules.json / pooling config replaced."""
    for item in minilm_dir.iterdir():
        if item.name in ("model.safetensors",):
            os.symlink(item, tmp_path / item.name)
        elif item.is_dir():
            shutil.copytree(item, tmp_path / item.name)
        else:
            shutil.copy(item, tmp_path / item.name)
    if modules is not None:
        (tmp_path / "modules.json").write_text(json.dumps(modules))
    if not keep_modules:
        for name in ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"):
            (tmp_path / name).unlink()
        shutil.rmtree(tmp_path / "1_Pooling")
    if pooling is not None:
        config = json.loads((tmp_path / "1_Pooling" / "config.json").read_text())
        for key in list(config):
            if key.startswith("pooling_mode"):
                config[key] = False
        config.update(pooling)
        (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return tmp_path


MODULES_NO_NORMALIZE = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
]


def reference(folder, texts, **kwargs):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return model.encode(texts, **kwargs)


def assert_close(ours, theirs):
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape
    cos = (ours * theirs).sum(-1) / (np.linalg.norm(ours, axis=-1) * np.linalg.norm(theirs, axis=-1))
    assert np.all(cos >= COS_MIN), cos


@pytest.fixture(scope="module")
def minilm_encoder(minilm_dir):
    return SentenceEncoder.from_pretrained(minilm_dir)


def test_minilm_matches_sentence_transformers(minilm_dir, minilm_encoder):
    ours = minilm_encoder.encode(TEXTS, batch_size=3)
    theirs = reference(minilm_dir, TEXTS, batch_size=3)
    assert_close(ours, theirs)
    assert np.abs(ours - theirs).max() <= 1e-4
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)  # modules.json has Normalize
    ours_n = minilm_encoder.encode(TEXTS, normalize_embeddings=True)
    assert_close(ours_n, theirs)


def test_without_normalize_module(minilm_dir, tmp_path):
    folder = variant(minilm_dir, tmp_path, modules=MODULES_NO_NORMALIZE)
    encoder = SentenceEncoder.from_pretrained(folder)
    for normalize in (False, True):
        ours = encoder.encode(TEXTS, batch_size=4, normalize_embeddings=normalize)
        theirs = reference(folder, TEXTS, batch_size=4, normalize_embeddings=normalize)
        assert_close(ours, theirs)
        np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
    unnormalised = encoder.encode(TEXTS[:3])
    assert not np.allclose(np.linalg.norm(unnormalised, axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(
        encoder.encode(TEXTS[:3], normalize=True), encoder.encode(TEXTS[:3], normalize_embeddings=True)
    )


@pytest.mark.parametrize(
    "pooling",
    [{"pooling_mode_cls_token": True}, {"pooling_mode_max_tokens": True},
     {"pooling_mode_mean_sqrt_len_tokens": True}, {"pooling_mode_weightedmean_tokens": True},
     {"pooling_mode_lasttoken": True},
     {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True},
     {"pooling_mode": ["lasttoken", "weightedmean", "mean_sqrt_len_tokens"]}],
    ids=["cls", "max", "mean_sqrt_len", "weightedmean", "lasttoken", "cls+mean+max", "three-modes-list"],
)
def test_pooling_modes(minilm_dir, tmp_path, pooling):
    folder = variant(minilm_dir, tmp_path, modules=MODULES_NO_NORMALIZE, pooling=pooling)
    texts = TEXTS[:4]
    ours = SentenceEncoder.from_pretrained(folder).encode(texts, batch_size=2)
    theirs = reference(folder, texts, batch_size=2)
    assert_close(ours, theirs)
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_plain_checkpoint_gets_mean_pooling(minilm_dir, tmp_path):
    folder = variant(minilm_dir, tmp_path, keep_modules=False)
    encoder = SentenceEncoder.from_pretrained(folder)
    assert encoder.pooling_modes == ("mean",)
    assert encoder.max_seq_length == 512
    texts = TEXTS[:3]
    assert_close(encoder.encode(texts), reference(folder, texts))


def test_original_order_and_batch_independence(minilm_encoder):
    texts = TEXTS[:6]
    base = minilm_encoder.encode(texts, batch_size=32)
    perm = np.random.default_rng(0).permutation(len(texts))
    shuffled = minilm_encoder.encode([texts[i] for i in perm], batch_size=2)
    np.testing.assert_allclose(shuffled, base[perm], atol=1e-5, rtol=0)
    one_by_one = np.stack([minilm_encoder.encode(t) for t in texts])
    np.testing.assert_allclose(one_by_one, base, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", [None, {"pooling_mode": ["cls", "max", "mean", "mean_sqrt_len_tokens",
                                                              "weightedmean", "lasttoken"]}], ids=["mean", "all-modes"])
def test_batch_independence_bit_for_bit(minilm_dir, tmp_path, pooling):
    """A text's vector and token states are the same bits whatever else is in its batch: the core's rows do not
    depend on the batch, and pooling reduces each text's own rows in order."""
    folder = minilm_dir if pooling is None else variant(minilm_dir, tmp_path, pooling=pooling)
    encoder = SentenceEncoder.from_pretrained(folder)
    texts = TEXTS[:6]
    together = encoder.encode(texts, batch_size=32)
    np.testing.assert_array_equal(np.stack([encoder.encode(t) for t in texts]), together)
    np.testing.assert_array_equal(encoder.encode(texts, batch_size=4, prompt="query: "),
                                  np.stack([encoder.encode(t, prompt="query: ") for t in texts]))
    tokens = encoder.encode(texts, output_value="token_embeddings", batch_size=4)
    for text, rows in zip(texts, tokens):
        np.testing.assert_array_equal(encoder.encode(text, output_value="token_embeddings"), rows)


def test_shapes(minilm_encoder):
    assert minilm_encoder.encode("Hello!").shape == (384,)
    assert minilm_encoder.encode(["Hello!"]).shape == (1, 384)
    assert minilm_encoder.encode([]).shape == (0, 384)
    assert minilm_encoder.get_sentence_embedding_dimension() == 384
    assert minilm_encoder.max_seq_length == 256


def test_truncation_warns_once_with_count(minilm_encoder, caplog):
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        minilm_encoder.encode(["long " * 300, "short", "word " * 400], batch_size=1)
    messages = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert messages == ["2 of 3 inputs were longer than max_seq_length=256 tokens and were truncated"]


def test_progress_bar_only_on_a_terminal(minilm_encoder, capsys):
    texts = ["a", "b", "c"] * 3  # more than 8 batches: long enough for a bar, were stderr a terminal
    minilm_encoder.encode(texts, batch_size=1)
    assert capsys.readouterr().err == ""
    minilm_encoder.encode(texts, batch_size=1, show_progress_bar=True)
    assert "Encoding" in capsys.readouterr().err


def test_bad_arguments(minilm_encoder):
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        minilm_encoder.encode(["ok", None])
    with pytest.raises(ValueError, match="batch_size"):
        minilm_encoder.encode(["ok"], batch_size=0)
    with pytest.raises(ValueError, match=r"additional keyword arguments .*: \['banana'\]"):  # as sentence-transformers 6
        minilm_encoder.encode(["ok"], banana=1)
    with pytest.raises(ValueError, match="output_value"):
        minilm_encoder.encode(["ok"], output_value="pooled")


def test_dense_module_saved_by_sentence_transformers(minilm_dir, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.dense import Dense

    base = SentenceTransformer(str(minilm_dir), device="cpu")
    torch.manual_seed(0)
    model = SentenceTransformer(modules=[base[0], base[1], Dense(in_features=384, out_features=16), base[2]],
                                device="cpu")
    model.save(str(tmp_path))
    encoder = SentenceEncoder.from_pretrained(tmp_path)
    from_modules = SentenceEncoder(modules=[base[0], base[1], model[2], base[2]])  # saved by it, then loaded
    np.testing.assert_array_equal(from_modules.encode(TEXTS[:3]), encoder.encode(TEXTS[:3]))
    assert encoder.get_sentence_embedding_dimension() == 16
    texts = TEXTS[:3]
    ours = encoder.encode(texts)
    theirs = SentenceTransformer(str(tmp_path), device="cpu").encode(texts)
    assert_close(ours, theirs)
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_from_pretrained_arguments_are_never_swallowed(minilm_dir):
    """sentence-transformers' loading arguments are taken; torch modules and unknown arguments raise by
    name instead of being ignored (truncate_dim=128 used to return 384 dimensions silently)."""
    assert SentenceEncoder.from_pretrained(minilm_dir, truncate_dim=128).encode("hi").shape == (128,)
    with pytest.raises(ValueError, match="model_name_or_path or modules, not both"):
        SentenceEncoder.from_pretrained(minilm_dir, modules=[object()])
    with pytest.raises(TypeError, match="unexpected keyword argument.*: banana"):
        SentenceEncoder.from_pretrained(minilm_dir, banana=1)
    with pytest.raises(NotImplementedError, match="CPU only"):
        SentenceEncoder.from_pretrained(minilm_dir, device="cuda")
    encoder = SentenceEncoder.from_pretrained(minilm_dir, device="cpu", local_files_only=True,
                                              model_kwargs={"dtype": "bfloat16"}, tokenizer_kwargs={})
    assert encoder.model.dtype == "bfloat16"
    assert SentenceEncoder.from_pretrained(minilm_dir, dtype="int8").model.dtype == "int8"
