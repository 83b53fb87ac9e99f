"""What a batch costs in memory: a forward call runs its sequences in passes of at most
``_core.Encoder.pass_rows`` real tokens over one workspace, so the activation memory is bounded whatever
the batch, and the results are bit for bit those of one sequence at a time, in every family; the real
all-MiniLM-L6-v2 loaded and encoding a long batch in a fresh process stays within a budget derived from
its checkpoint's tensor sizes (issue 18: the workspace of a 64 × 256 batch was 264 MiB, 3× the weights).

The resident-size checks run in a child interpreter started outside the repository: nothing else has
allocated there, so VmHWM (the kernel's peak resident size) measures the load and the batch alone.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import CHILD_CWD, child_env, minilm_path
from family_models import FAMILIES, make_transformers_model

import pybertcore
from pybertcore import _core

PASS_ROWS = _core.Encoder.pass_rows
MiB = 1 << 20


def _ragged_batch(B: int, T: int, vocab: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, T) ids and a right-padded mask of lengths 1..T (real tokens sum to well over 2 passes)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[:3] = (T, 1, T)  # a full sequence first, a one-token one
    ids = rng.integers(3, vocab, size=(B, T)).astype(np.int64)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.int64)
    return ids * mask, mask


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_batch_over_several_passes_is_each_sequence_alone(tmp_path, family):
    """One call over several passes of rows gives, bit for bit, what each sequence gives alone: the last
    hidden state, every layer's hidden state and attentions, and the pooler where the family has one."""
    make_transformers_model(family, "Model", tmp_path)
    model = pybertcore.AutoModel.from_pretrained(tmp_path)
    T = 38  # within the tiny models' 40 positions (RoBERTa's start after its padding index 1)
    ids, mask = _ragged_batch(B=270, T=T, vocab=101, seed=1)
    assert mask.sum() > 2 * PASS_ROWS
    whole = model(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    fields = ["last_hidden_state", "hidden_states", "attentions"]
    if getattr(whole, "pooler_output", None) is not None:
        fields.append("pooler_output")
    for b in range(ids.shape[0]):
        alone = model(ids[b:b + 1], attention_mask=mask[b:b + 1], output_hidden_states=True,
                      output_attentions=True)
        for field in fields:
            got, want = getattr(whole, field), getattr(alone, field)
            if isinstance(want, tuple):
                for layer, (g, w) in enumerate(zip(got, want)):
                    np.testing.assert_array_equal(g[b:b + 1], w, err_msg=f"{field}[{layer}] of sequence {b}")
            else:
                np.testing.assert_array_equal(got[b:b + 1], want, err_msg=f"{field} of sequence {b}")


def test_workspace_is_that_of_one_pass_whatever_the_batch():
    """The core's own counter: after a call over 8 passes of rows, the pooled workspace is exactly that of
    a call over one pass (it would be 8× without the passes)."""
    config = pybertcore.BertConfig(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=200,
                                   vocab_size=50, max_position_embeddings=256)
    one_pass = PASS_ROWS // 256  # sequences of 256 tokens
    ids = np.full((8 * one_pass, 256), 7, dtype=np.int64)
    small, large = pybertcore.BertModel(config), pybertcore.BertModel(config)
    small(ids[:one_pass])
    large(ids)
    assert large._encoder.pooled_workspace_bytes == small._encoder.pooled_workspace_bytes > 0


def test_short_calls_after_a_long_one_reuse_its_workspace():
    """Long and short batches in turn (encode's length-sorted batches) keep one workspace of up to a pass
    instead of freeing it for each short call and reallocating it for the next long one."""
    config = pybertcore.BertConfig(hidden_size=96, num_hidden_layers=2, num_attention_heads=4, intermediate_size=200,
                                   vocab_size=50, max_position_embeddings=256)
    model = pybertcore.BertModel(config)
    ids = np.full((64, 256), 7, dtype=np.int64)
    model(ids)
    held = model._encoder.pooled_workspace_bytes
    for short in (ids[:1, :3], ids[:32, :11], ids[:2, :256]):
        model(short)
        assert model._encoder.pooled_workspace_bytes == held, short.shape


_MINILM_CHILD = r"""
import json, sys
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))
import numpy as np
import pybertcore
bare = status("VmRSS")
encoder = pybertcore.SentenceEncoder.from_pretrained(sys.argv[1])
loaded_peak, loaded = status("VmHWM"), status("VmRSS")
vocab = sorted(w for w in encoder.tokenizer.get_vocab() if w.isalpha() and len(w) > 3)
texts = [" ".join(vocab[(i * 7919 + j * 104729) % len(vocab)] for j in range(300)) for i in range(64)]
vectors = encoder.encode(texts, batch_size=64)
assert vectors.shape == (64, 384)
print(json.dumps({"bare": bare, "loaded_peak": loaded_peak, "loaded": loaded, "peak": status("VmHWM")}))
"""


def _safetensors_bytes(path) -> int:
    """Bytes of the tensors in a .safetensors file, from its header (8-byte length, then JSON)."""
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    return sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in header.items() if k != "__metadata__")


def test_minilm_load_and_a_long_batch_stay_within_budget():
    """all-MiniLM-L6-v2 (86.6 MiB of float32 weights) in a fresh process: loading peaks at the weights
    plus the tokenizer (no second copy of any tensor, no transient of the whole file), and encoding one
    batch of 64 texts at the 256-token limit (16,384 rows) peaks at most half the weights plus
    3× the batch's (B, T, H) hidden state over the loaded model: the hidden state itself, one pass's
    workspace, and slack for thread scratch and the heap (measured: 43 MiB of the 115 allowed). Before
    passes, that batch's workspace alone was 264 MiB and the peak 320 MiB."""
    folder = minilm_path()
    weights = _safetensors_bytes(folder / "model.safetensors")
    proc = subprocess.run([sys.executable, "-c", _MINILM_CHILD, str(folder)], env=child_env(), cwd=CHILD_CWD,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    report = {k: f"{v / MiB:.1f} MiB" for k, v in m.items()} | {"weights": f"{weights / MiB:.1f} MiB"}
    # The tokenizer (tokenizers' Rust vocabulary and its thread pool) takes about 15 MiB.
    assert m["loaded_peak"] - m["bare"] <= 1.15 * weights + 24 * MiB, report
    batch = 64 * 256 * 384 * 4  # the (B, T, H) float32 last hidden state
    assert m["peak"] - m["loaded"] <= 0.5 * weights + 3 * batch, report
