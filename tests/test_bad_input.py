"""Bad input raises a clear Python exception naming the problem: never a crash, hang or garbage."""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest

import pybertcore

CFG = dict(hidden_size=32, num_attention_heads=4, intermediate_size=37, vocab_size=101, num_hidden_layers=2,
           max_position_embeddings=16, type_vocab_size=2)


@pytest.fixture(scope="module")
def model():
    return pybertcore.BertModel(pybertcore.BertConfig(**CFG))


@pytest.fixture()
def saved(tmp_path, model):
    model.save_pretrained(tmp_path / "m")
    return tmp_path / "m"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_ids": [[1, 2, 101]]}, r"input_ids contains 101 .*outside \[0, 101\)"),
        ({"input_ids": [[1, -1, 3]]}, r"input_ids contains -1"),
        ({"input_ids": [[1, 2]], "token_type_ids": [[0, 2]]}, r"token_type_ids contains 2 .*type_vocab_size"),
        ({"input_ids": [[1] * 17]}, r"sequence length 17 exceeds max_position_embeddings 16"),
        ({"input_ids": [[1, 2]], "position_ids": [[0, 16]]}, r"position_ids contains 16"),
        ({"input_ids": [[1, 2, 3], [4, 5]]}, r"input_ids: sequences have different lengths"),
        ({"input_ids": [[1.0, 2.0]]}, r"input_ids must hold integers, got dtype float64"),
        ({"input_ids": np.zeros((1, 2, 3), dtype=np.int64)}, r"input_ids must be 2-D .*\(1, 2, 3\)"),
        ({"input_ids": np.int64(3)}, r"input_ids must be 2-D"),
        ({"input_ids": np.zeros((2, 0), dtype=np.int64)}, r"input_ids has no tokens"),
        ({"input_ids": [[1, 2, 3]], "attention_mask": [[1, 1]]}, r"attention_mask has shape \(1, 2\) but input_ids has shape \(1, 3\)"),
        ({"input_ids": [[1, 2, 3]], "attention_mask": [[1, 0.5, 1]]}, r"attention_mask: a float mask must hold only 0 and 1"),
        ({"input_ids": [["a", "b"]]}, r"input_ids must hold integers"),
        ({"input_ids": None}, r"input_ids is required"),
    ],
)
def test_bad_model_inputs(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model(**kwargs)


def test_unsupported_arguments(model):
    with pytest.raises(NotImplementedError, match="inputs_embeds"):
        model(input_ids=None, inputs_embeds=np.zeros((1, 2, 32), np.float32))
    with pytest.raises(TypeError):
        model([[1, 2]], not_an_argument=True)


def test_missing_folder_and_files(tmp_path, saved):
    with pytest.raises(OSError, match="not a local folder"):
        pybertcore.BertModel.from_pretrained(tmp_path / "nope")
    no_config = tmp_path / "no_config"
    shutil.copytree(saved, no_config)
    (no_config / "config.json").unlink()
    with pytest.raises(OSError, match="no config.json"):
        pybertcore.BertModel.from_pretrained(no_config)
    no_weights = tmp_path / "no_weights"
    shutil.copytree(saved, no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(OSError, match="no model.safetensors"):
        pybertcore.BertModel.from_pretrained(no_weights)


@pytest.mark.parametrize(
    "text, message",
    [("{not json", "not valid JSON"), ("[1, 2]", "must hold a JSON object"), ('{"hidden_size": 30, "num_attention_heads": 4}', "hidden_size")],
)
def test_corrupt_config(saved, text, message):
    (saved / "config.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        pybertcore.BertModel.from_pretrained(saved)


def _weights_error(folder):
    with pytest.raises(ValueError, match="model.safetensors"):
        pybertcore.BertModel.from_pretrained(folder)


def test_truncated_safetensors(saved):
    path = saved / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _weights_error(saved)
    path.write_bytes(data[:5])
    _weights_error(saved)


def test_safetensors_header_past_the_end(saved):
    path = saved / "model.safetensors"
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    key = next(k for k in header if k != "__metadata__")
    header[key]["data_offsets"][1] += 10_000_000
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data[8 + n :])
    _weights_error(saved)
    path.write_bytes(struct.pack("<Q", 1 << 40) + data[8:])  # header length far past the file
    _weights_error(saved)


def test_weight_shape_mismatch_names_the_key(saved):
    """A checkpoint whose tensor has the wrong shape for the config: error naming key and both shapes."""
    config = json.loads((saved / "config.json").read_text())
    config["intermediate_size"] = 40
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(RuntimeError, match=r"size mismatch for encoder.layer.0.intermediate.dense.weight: .*\[37, 32\].*\[40, 32\]"):
        pybertcore.BertModel.from_pretrained(saved)


def test_bad_isa_override():
    with pytest.raises(ValueError, match="unknown ISA level 'sse9'"):
        pybertcore._core.set_isa("sse9")


def test_encoder_builder_misuse():
    """The core's piece-by-piece builder names the missing piece, the bad shape, and a second build()."""
    from pybertcore import _core

    c = _core.EncoderConfig()
    c.vocab_size, c.max_positions, c.type_vocab_size, c.embedding_size = 11, 8, 2, 8
    c.hidden_size, c.num_heads, c.intermediate_size, c.num_layers = 8, 2, 12, 1
    f = lambda *shape: np.zeros(shape, dtype=np.float32)  # noqa: E731
    emb = {"position": f(8, 8), "token_type": f(2, 8), "norm.weight": f(8), "norm.bias": f(8)}
    layer = {f"{r}.{p}": f(8, 8) if p == "weight" else f(8) for r in ("q", "k", "v", "attn_out") for p in ("weight", "bias")}
    layer.update({"ffn_in.weight": f(12, 8), "ffn_in.bias": f(12), "ffn_out.weight": f(8, 12), "ffn_out.bias": f(8)})
    layer.update({f"{n}.{p}": f(8) for n in ("attn_norm", "ffn_norm") for p in ("weight", "bias")})
    b = _core.EncoderBuilder(c, [0])
    with pytest.raises(ValueError, match=r"build\(\) before embeddings"):
        b.build()
    with pytest.raises(ValueError, match=r"'position' has shape \(7, 8\), expected \(8, 8\)"):
        b.embeddings({**emb, "position": f(7, 8)})
    b.embeddings(emb)
    b.word_embedding_rows(0, f(6, 8))
    with pytest.raises(ValueError, match="must come in order: expected row 6, got 0"):
        b.word_embedding_rows(0, f(5, 8))
    with pytest.raises(ValueError, match=r"rows have shape \(6, 8\) at row 6, expected \(n, 8\) within 11 rows"):
        b.word_embedding_rows(6, f(6, 8))
    with pytest.raises(ValueError, match=r"build\(\) with 6 of 11 word embedding rows given"):
        b.build()
    b.word_embedding_rows(6, f(5, 8))
    with pytest.raises(ValueError, match="missing 'v.weight'"):
        b.add_layer_set({k: v for k, v in layer.items() if k != "v.weight"})
    # biases are optional (families with bias=False), but q, k and v share one choice
    with pytest.raises(ValueError, match="q, k and v must all have a bias or none"):
        b.add_layer_set({k: v for k, v in layer.items() if k != "v.bias"})
    with pytest.raises(ValueError, match="a gate for a config without gated_ffn"):
        b.add_layer_set({**layer, "ffn_gate.weight": f(12, 8)})
    b.add_layer_set(layer)
    enc = b.build()
    assert enc.forward(np.array([[1, 2, 3]]))["last_hidden_state"].shape == (1, 3, 8)
    with pytest.raises(RuntimeError, match=r"build\(\) was already called"):
        b.build()
