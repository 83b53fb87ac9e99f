"""Pooled states from the core, never the padded (B, T, H) ones.

Position 0 alone: when a caller reads nothing of the last layer but each sequence's position 0 (a
sequence-classification or multiple-choice head, a pooler, CLS pooling), that layer computes only those
rows (csrc/model/encoder.cc). The values must be those of the full pass, bit for bit: on every family,
kernel level and precision, over ragged and left-padded batches and calls longer than one pass of the
core. transformers' own numbers for these heads are checked by test_heads.py and test_families.py,
which now run through this path.

The mean over real tokens (sentence-transformers' mean pooling) is summed on the packed rows in double:
within 1e-6 of numpy's float32 mean of the padded states.

The packed rows themselves (token heads, SPLADE, every other pooling) are the padded states' computed
rows, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from family_models import FAMILIES, family_heads, make_transformers_model

import pybertcore
from pybertcore import _core


def _batch(model, B: int, T: int, seed: int = 0) -> dict:
    """B sequences of 1 to T tokens, right-padded, one of them left-padded, token types where taken."""
    rng = np.random.default_rng(seed)
    pad = model.config.pad_token_id or 0
    real = [i for i in range(model.config.vocab_size) if i != pad]
    ids = np.full((B, T), pad, dtype=np.int64)
    mask = np.zeros((B, T), dtype=np.int64)
    for b in range(B):
        n = 1 if b == 1 else int(rng.integers(1, T + 1))
        start = T - n if b == 2 else 0  # left padding: position 0 masked, still computed as a query
        ids[b, start:start + n] = rng.choice(real, size=n)
        mask[b, start:start + n] = 1
    types = (np.arange(T)[None, :] >= T // 2).astype(np.int64) * mask
    return {"ids": ids, "mask": mask, "types": types if model.dims.TV > 0 else None}


def _both(model, inputs: dict) -> tuple[dict, dict]:
    args = (inputs["ids"], inputs["mask"], inputs["types"], None)
    full = model._encoder.forward(*args)
    first = model._encoder.forward(*args, last_state="position0")
    return full, first


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int8"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_first_token_only_is_the_full_pass(tmp_path, isa, family, dtype):
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path, dtype=dtype)
    assert model._encoder.isa == isa
    inputs = _batch(model, B=9, T=31)
    full, first = _both(model, inputs)
    assert "last_hidden_state" not in first
    np.testing.assert_array_equal(first["first_hidden_state"], full["last_hidden_state"][:, 0])
    assert ("pooler_output" in first) == ("pooler_output" in full)
    if "pooler_output" in full:
        np.testing.assert_array_equal(first["pooler_output"], full["pooler_output"])


@pytest.mark.parametrize("family", ["bert", "modernbert", "deberta-v2"])
def test_calls_longer_than_one_pass(tmp_path, family):
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    B, T = 70, 40  # ~1400 rows: the core runs the sequences in groups of at most pass_rows
    inputs = _batch(model, B, T, seed=1)
    assert inputs["mask"].sum() > _core.Encoder.pass_rows
    full, first = _both(model, inputs)
    np.testing.assert_array_equal(first["first_hidden_state"], full["last_hidden_state"][:, 0])


def test_asking_for_more_runs_the_full_layer(tmp_path):
    make_transformers_model("bert", "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    inputs = _batch(model, B=5, T=12)
    args = (inputs["ids"], inputs["mask"], inputs["types"], None)
    full = model._encoder.forward(*args, output_hidden_states=True, output_attentions=True)
    first = model._encoder.forward(*args, output_hidden_states=True, output_attentions=True, last_state="position0")
    assert "last_hidden_state" not in first
    np.testing.assert_array_equal(first["first_hidden_state"], full["last_hidden_state"][:, 0])
    np.testing.assert_array_equal(first["hidden_states"], full["hidden_states"])
    np.testing.assert_array_equal(first["attentions"], full["attentions"])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_sequence_heads_read_position_0_alone(tmp_path, family):
    """A head's logits are those of the full pass (asking for hidden states runs it)."""
    for head in [h for h in family_heads(family) if h in ("ForSequenceClassification", "ForMultipleChoice")]:
        folder = tmp_path / head
        make_transformers_model(family, head, folder)
        model = getattr(pybertcore, "AutoModel" + head).from_pretrained(folder)
        inputs = _batch(model, B=6, T=14)
        kwargs = {"input_ids": inputs["ids"], "attention_mask": inputs["mask"]}
        if inputs["types"] is not None:
            kwargs["token_type_ids"] = inputs["types"]
        if head == "ForMultipleChoice":
            kwargs = {k: v.reshape(2, 3, -1) for k, v in kwargs.items()}
        fast = model(**kwargs).logits
        full = model(**kwargs, output_hidden_states=True).logits
        np.testing.assert_array_equal(fast, full)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("left_padded", [False, True])
def test_modernbert_classifier_pooling(tmp_path, left_padded, pooling):
    """ModernBERT's "cls" pooling reads each sequence's first real token: position 0 alone when every
    sequence starts there, the packed rows when one is left-padded; "mean" pooling the core's mean. Asking
    for hidden states (the full last layer) gives the same logits, bit for bit."""
    make_transformers_model("modernbert", "ForSequenceClassification", tmp_path, classifier_pooling=pooling)
    model = pybertcore.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    inputs = _batch(model, B=5, T=11)
    mask = inputs["mask"]
    if not left_padded:  # row 2 of _batch is
        mask[2] = 0
        mask[2, :4] = 1
    fast = model(inputs["ids"], attention_mask=mask).logits
    full = model(inputs["ids"], attention_mask=mask, output_hidden_states=True).logits
    np.testing.assert_array_equal(fast, full)


def test_sentence_encoder_cls_pooling(minilm_dir, tmp_path):
    """CLS pooling alone takes position 0 from the core; with the prompt left out of pooling, or with other
    modes beside it, the full pass."""
    import json
    import shutil

    folder = tmp_path / "cls"
    shutil.copytree(minilm_dir, folder)
    config_path = folder / "1_Pooling" / "config.json"
    config = json.loads(config_path.read_text())
    for key in list(config):
        if key.startswith("pooling_mode"):
            config[key] = False
    config["pooling_mode_cls_token"] = True
    config_path.write_text(json.dumps(config))
    encoder = pybertcore.SentenceEncoder(str(folder))
    assert encoder.pooling_modes == ("cls",)
    texts = ["A man is eating food.", "rain", "The quick brown fox jumps over the lazy dog near the river bank."]
    ours = encoder.encode(texts, normalize_embeddings=False)
    # the same vectors from the whole last hidden state
    enc = encoder.tokenizer(texts, padding=True, return_tensors="np")
    states = encoder.model(enc["input_ids"], attention_mask=enc["attention_mask"],
                           token_type_ids=enc["token_type_ids"]).last_hidden_state[:, 0]
    expected = states / np.linalg.norm(states, axis=1, keepdims=True)  # the folder's Normalize module
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("family", ["bert", "distilbert", "mpnet", "modernbert", "deberta-v2"])
def test_mean_pooled_is_the_mean_of_real_tokens(tmp_path, isa, family, dtype):
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path, dtype=dtype)
    inputs = _batch(model, B=70, T=31, seed=2)  # two passes of the core
    inputs["mask"][5] = 0  # no real token: zeros, as sentence-transformers' sum / clamp(count)
    assert inputs["mask"].sum() > _core.Encoder.pass_rows
    args = (inputs["ids"], inputs["mask"], inputs["types"], None)
    full = model._encoder.forward(*args)
    mean = model._encoder.forward(*args, last_state="mean")
    assert "last_hidden_state" not in mean
    m = inputs["mask"].astype(np.float32)[:, :, None]
    expected = (full["last_hidden_state"] * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    np.testing.assert_allclose(mean["mean_pooled"], expected, atol=1e-6, rtol=0)
    assert not mean["mean_pooled"][5].any()


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_packed_rows_are_the_computed_rows(tmp_path, isa, family, dtype):
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path, dtype=dtype)
    inputs = _batch(model, B=9, T=31)
    inputs["mask"][4] = 0  # no real token: its position 0 alone is computed
    args = (inputs["ids"], inputs["mask"], inputs["types"], None)
    full = model._encoder.forward(*args)
    packed = model._encoder.forward(*args, last_state="packed")
    assert "last_hidden_state" not in packed
    computed = inputs["mask"] != 0  # the rule: real tokens, and position 0 where it is masked
    computed[:, 0] = True
    index = np.flatnonzero(computed)
    np.testing.assert_array_equal(packed["packed_index"], index)
    H = model.config.hidden_size
    np.testing.assert_array_equal(packed["packed_rows"], full["last_hidden_state"].reshape(-1, H)[index])
    if "pooler_output" in full:
        np.testing.assert_array_equal(packed["pooler_output"], full["pooler_output"])


@pytest.mark.parametrize("family", ["bert", "modernbert"])
def test_packed_rows_over_passes_and_without_a_mask(tmp_path, family):
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    inputs = _batch(model, B=70, T=40, seed=3)  # ~1400 rows: groups of at most pass_rows
    assert inputs["mask"].sum() > _core.Encoder.pass_rows
    args = (inputs["ids"], inputs["mask"], inputs["types"], None)
    full = model._encoder.forward(*args)["last_hidden_state"]
    packed = model._encoder.forward(*args, last_state="packed")
    computed = inputs["mask"] != 0
    computed[:, 0] = True
    np.testing.assert_array_equal(packed["packed_rows"], full[computed])
    np.testing.assert_array_equal(packed["packed_index"], np.flatnonzero(computed))
    ids = inputs["ids"][:3, :7]
    no_mask = model._encoder.forward(ids, last_state="packed")
    np.testing.assert_array_equal(no_mask["packed_rows"],
                                  model._encoder.forward(ids)["last_hidden_state"].reshape(-1, full.shape[-1]))
    np.testing.assert_array_equal(no_mask["packed_index"], np.arange(ids.size))


def test_an_unknown_last_state_raises(tmp_path):
    make_transformers_model("bert", "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="last_state: expected .* got 'first'"):
        model._encoder.forward(np.ones((1, 3), dtype=np.int64), last_state="first")
