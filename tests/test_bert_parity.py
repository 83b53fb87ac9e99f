"""BertModel against transformers' BertModel (the oracle), on every ISA level this machine runs.

Tolerance: fp32, max abs diff ≤ 1e-4 on real (unmasked) token positions for last_hidden_state, every
hidden_states entry and attentions (query rows of real tokens), and on pooler_output.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import make_transformers_bert, max_abs_on, ragged_batch, run_transformers

import pybertcore

TOL = 1e-4

SMALL_CONFIGS = {
    # H not a power of two, NH=3, I=200, V=1013: the shapes of the foundation issue.
    "h96": dict(hidden_size=96, num_attention_heads=3, intermediate_size=200, vocab_size=1013, num_hidden_layers=3),
    # head size 8, I=37 (odd), short max positions.
    "h32": dict(hidden_size=32, num_attention_heads=4, intermediate_size=37, vocab_size=101, num_hidden_layers=2,
                max_position_embeddings=16),
}

ACTIVATIONS = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu", "swish"]


def compare_all(tf_model, ours, ids, mask, types):
    ref = run_transformers(tf_model, ids, mask, types, output_hidden_states=True, output_attentions=True)
    got = ours(ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True, output_attentions=True)
    assert got.last_hidden_state.dtype == np.float32
    assert got.last_hidden_state.shape == tuple(ref.last_hidden_state.shape)
    assert max_abs_on(got.last_hidden_state, ref.last_hidden_state.numpy(), mask) <= TOL
    assert np.abs(got.pooler_output - ref.pooler_output.numpy()).max() <= TOL
    assert len(got.hidden_states) == len(ref.hidden_states)
    for g, r in zip(got.hidden_states, ref.hidden_states):
        assert max_abs_on(g, r.numpy(), mask) <= TOL
    assert len(got.attentions) == len(ref.attentions)
    for g, r in zip(got.attentions, ref.attentions):
        assert g.shape == tuple(r.shape)
        # (B, NH, T, T) → (B, T, NH, T) so the mask selects query rows of real tokens.
        assert max_abs_on(g.transpose(0, 2, 1, 3), r.numpy().transpose(0, 2, 1, 3), mask) <= TOL
    # Padded positions hold zeros (position 0 excepted: it is computed for the pooler).
    padded = (mask == 0)
    padded[:, 0] = False
    assert not got.last_hidden_state[padded].any()
    return got


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_ragged_right_padded_batch(tmp_path, isa, name):
    cfg = SMALL_CONFIGS[name]
    tf_model, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    rng = np.random.default_rng(1)
    T = 7
    ids, mask = ragged_batch(rng, cfg["vocab_size"], [7, 3, 1, 5], T)
    types = rng.integers(0, 2, size=ids.shape)
    compare_all(tf_model, ours, ids, mask, types)


def test_left_padding_and_pooler(tmp_path, isa):
    """Position 0 masked: the pooler still reads what transformers computes there."""
    cfg = SMALL_CONFIGS["h96"]
    tf_model, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    ids, mask = ragged_batch(np.random.default_rng(2), cfg["vocab_size"], [9, 4, 6], 9, left=True)
    got = compare_all(tf_model, ours, ids, mask, None)
    ref = run_transformers(tf_model, ids, mask)
    np.testing.assert_allclose(got.last_hidden_state[:, 0], ref.last_hidden_state.numpy()[:, 0], atol=TOL, rtol=0)


def test_single_token_and_no_mask(tmp_path, isa):
    cfg = SMALL_CONFIGS["h32"]
    tf_model, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    for T in (1, 16):  # T=1 and T = max_position_embeddings
        ids = np.random.default_rng(T).integers(0, cfg["vocab_size"], size=(2, T))
        mask = np.ones_like(ids)
        compare_all(tf_model, ours, ids, mask, None)
        # Without a mask the result is the all-ones mask's.
        got = ours(ids)
        np.testing.assert_array_equal(got.last_hidden_state, ours(ids, attention_mask=mask).last_hidden_state)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_each_activation(tmp_path, isa, act):
    cfg = dict(SMALL_CONFIGS["h32"], hidden_act=act)
    tf_model, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    ids, mask = ragged_batch(np.random.default_rng(3), cfg["vocab_size"], [5, 2], 5)
    compare_all(tf_model, ours, ids, mask, np.ones_like(ids) * (mask > 0))


def test_output_is_independent_of_batch_mates(tmp_path):
    """Packed tokens: a sequence's output does not depend on what else is in the batch."""
    cfg = SMALL_CONFIGS["h96"]
    _, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    ids, mask = ragged_batch(np.random.default_rng(4), cfg["vocab_size"], [6, 2, 11], 11)
    batch = ours(ids, attention_mask=mask).last_hidden_state
    alone = ours(ids[1:2, :2]).last_hidden_state
    np.testing.assert_allclose(batch[1, :2], alone[0], atol=1e-6, rtol=0)


def test_minilm_real_text(minilm_dir, isa):
    """The real all-MiniLM-L6-v2 checkpoint on real sentences, tokenized by its own tokenizer.json."""
    import transformers
    from tokenizers import Tokenizer

    sentences = [
        "Hello!",
        "I've been waiting for a HuggingFace course my whole life.",
        "The quick brown fox jumps over the lazy dog, again and again, until the dog finally wakes up.",
        "Café au lait, naïve façade — résumé.",
        "这是一个测试。",
    ]
    tok = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc])
    mask = np.array([e.attention_mask for e in enc])
    types = np.array([e.type_ids for e in enc])

    ref_model = transformers.BertModel.from_pretrained(minilm_dir, attn_implementation="eager").eval()
    ours = pybertcore.AutoModel.from_pretrained(minilm_dir)
    assert isinstance(ours, pybertcore.BertModel)
    compare_all(ref_model, ours, ids, mask, types)


def test_return_forms_and_inputs(tmp_path):
    """Output by attribute, key and index; inputs as lists, any int dtype, non-contiguous, __array__ objects."""
    import torch

    cfg = SMALL_CONFIGS["h32"]
    _, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    ids = [[5, 6, 7, 8], [9, 10, 11, 12]]
    out = ours(ids)
    assert out["last_hidden_state"] is out.last_hidden_state
    assert out[0] is out.last_hidden_state and out[1] is out.pooler_output
    assert list(out.keys()) == ["last_hidden_state", "pooler_output"]
    assert out.hidden_states is None and out.attentions is None
    ref = out.last_hidden_state
    for variant in (
        np.array(ids, dtype=np.int32),
        np.array(ids, dtype=np.uint16),
        np.asfortranarray(np.array(ids)),
        np.array([[5, 9], [6, 10], [7, 11], [8, 12]]).T,  # a transposed (non-contiguous) view
        torch.tensor(ids),
    ):
        np.testing.assert_array_equal(ours(variant).last_hidden_state, ref)
    np.testing.assert_array_equal(ours(input_ids=ids, attention_mask=[[True] * 4] * 2).last_hidden_state, ref)
    np.testing.assert_array_equal(ours(**{"input_ids": ids, "token_type_ids": [[0] * 4] * 2}).last_hidden_state, ref)
    # A 1-D sequence is a batch of one.
    np.testing.assert_array_equal(ours(ids[0]).last_hidden_state, ref[:1])
    as_tuple = ours(ids, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    hs = ours(ids, output_hidden_states=True)
    assert len(hs.hidden_states) == cfg["num_hidden_layers"] + 1 and hs[2] is hs.hidden_states


def test_concurrent_calls_release_the_gil(tmp_path):
    """Several Python threads on one model: same results as serial calls, and the GIL is released."""
    cfg = dict(hidden_size=128, num_attention_heads=4, intermediate_size=256, vocab_size=500, num_hidden_layers=4)
    _, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 500, size=(4, 64)) for _ in range(4)]
    serial = [ours(b).last_hidden_state for b in batches]
    results = [None] * len(batches)

    def work(i):
        for _ in range(3):
            results[i] = ours(batches[i]).last_hidden_state

    ticks = 0
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        ticks += 1  # runs only while the workers are inside native code without the GIL
        threads[0].join(0.0005)
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)
    assert ticks > 0
