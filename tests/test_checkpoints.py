"""Checkpoint formats against torch and transformers: pytorch_model.bin (zip and legacy, fp32/fp16/bf16,
head prefixes, shared storages, views), the hostile-pickle refusal, sharded folders both ways, our .bin
and shards read back by torch/transformers, corrupt files, dtype arguments.

Tolerance: 1e-4 absolute on hidden states, as in test_bert_parity (float32 against float32; a half-
precision checkpoint is compared with transformers running the same weights up-cast to float32).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import struct
import zipfile

import numpy as np
import pytest
import torch
import transformers
from conftest import make_transformers_bert, max_abs_on, ragged_batch, run_transformers

import pybertcore
from pybertcore.checkpoints import (
    CheckpointError,
    load_safetensors,
    load_torch_bin,
    save_torch_bin,
)
from pybertcore.modeling_utils import load_checkpoint_folder

TOL = 1e-4
CFG = dict(hidden_size=96, num_attention_heads=3, intermediate_size=200, vocab_size=1013, num_hidden_layers=2)


def _compare(ours, theirs, seed=0):
    ids, mask = ragged_batch(np.random.default_rng(seed), CFG["vocab_size"], [7, 4, 1], 7)
    ref = run_transformers(theirs, ids, mask)
    got = ours(ids, attention_mask=mask)
    assert max_abs_on(got.last_hidden_state, ref.last_hidden_state.numpy(), mask) <= TOL
    assert np.abs(got.pooler_output - ref.pooler_output.numpy()).max() <= TOL


def _bin_folder(tmp_path, state_dict, config_folder, name="bin_model", **save_kwargs):
    """A folder with config.json and state_dict written by torch.save as pytorch_model.bin."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(config_folder / "config.json", folder / "config.json")
    torch.save(state_dict, folder / "pytorch_model.bin", **save_kwargs)
    return folder


def _upcast_reference(tf_model, state_dict):
    """transformers' model running ``state_dict`` (any dtype) up-cast to float32."""
    ref = transformers.BertModel(tf_model.config).eval()
    ref.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return ref


# --- pytorch_model.bin written by torch -------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_bin_from_torch_in_each_precision(tmp_path, dtype):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    sd = {k: v.to(dtype) for k, v in tf_model.state_dict().items()}
    bin_folder = _bin_folder(tmp_path, sd, folder)
    ours = pybertcore.BertModel.from_pretrained(bin_folder)
    for k, v in ours.state_dict().items():
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, sd[k].float().numpy())
    _compare(ours, _upcast_reference(tf_model, sd))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_safetensors(tmp_path, dtype):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    half = transformers.BertModel.from_pretrained(folder, dtype=dtype)
    half_folder = tmp_path / "half"
    half.save_pretrained(half_folder)
    ours = pybertcore.BertModel.from_pretrained(half_folder, dtype="auto")
    _compare(ours, _upcast_reference(tf_model, half.state_dict()))


def test_legacy_bin_format(tmp_path):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    bin_folder = _bin_folder(tmp_path, tf_model.state_dict(), folder, _use_new_zipfile_serialization=False)
    with open(bin_folder / "pytorch_model.bin", "rb") as f:
        assert f.read(2) != b"PK"  # really the legacy stream
    _compare(pybertcore.BertModel.from_pretrained(bin_folder), tf_model)


def test_bin_of_a_head_model_with_prefix(tmp_path, caplog):
    """BertForSequenceClassification's .bin (bert. prefix, classifier.*) loads into BertModel, reported once."""
    torch.manual_seed(0)
    config = transformers.BertConfig(attn_implementation="eager", **CFG)
    head = transformers.BertForSequenceClassification(config).eval()
    folder = tmp_path / "head"
    head.save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    sd = head.state_dict()
    sd["bert.embeddings.position_ids"] = torch.arange(config.max_position_embeddings)[None]  # older checkpoints
    torch.save(sd, folder / "pytorch_model.bin")
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        ours, info = pybertcore.BertModel.from_pretrained(folder, output_loading_info=True)
    assert sorted(info["unexpected_keys"]) == ["classifier.bias", "classifier.weight"]
    assert info["missing_keys"] == [] and info["mismatched_keys"] == []
    warnings = [r for r in caplog.records if r.name == "pybertcore"]
    assert len(warnings) == 1 and "were not used when initializing BertModel" in warnings[0].getMessage()
    _compare(ours, head.bert)


def test_gamma_beta_names_in_bin(tmp_path):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    sd = {}
    for k, v in tf_model.state_dict().items():
        if "LayerNorm" in k:
            k = k.replace(".weight", ".gamma").replace(".bias", ".beta")
        sd[k] = v
    _compare(pybertcore.BertModel.from_pretrained(_bin_folder(tmp_path, sd, folder)), tf_model)


def test_shared_storages_views_offsets_and_strides(tmp_path):
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    sd = {
        "whole": base,
        "tied": base,  # the same tensor twice: one storage
        "rows": base[2:5],  # storage offset 20
        "transposed": base.t(),  # strides (1, 10)
        "strided": base[1::2, ::3],  # offset and strides > 1
        "half": torch.linspace(-2, 2, 7, dtype=torch.float16),
        "bf16": torch.tensor([1.5, -3.25, 1e30, float("inf")], dtype=torch.bfloat16),
        "ids": torch.arange(5, dtype=torch.int64),
        "int32": torch.tensor([-1, 7], dtype=torch.int32),
        "flags": torch.tensor([True, False]),
        "scalar": torch.tensor(3.0),
        "empty": torch.zeros(0, 4),
    }
    path = tmp_path / "mixed.bin"
    torch.save(sd, path)
    with zipfile.ZipFile(path) as z:  # torch wrote each distinct storage once
        assert len([n for n in z.namelist() if "/data/" in n]) == 8
    got = load_torch_bin(path)
    assert list(got) == list(sd)
    for k, v in sd.items():
        want = v.float().numpy() if v.dtype == torch.bfloat16 else v.numpy()
        assert got[k].dtype == want.dtype, k
        np.testing.assert_array_equal(got[k], want, err_msg=k)
    assert np.shares_memory(got["whole"], got["tied"]) and np.shares_memory(got["whole"], got["transposed"])
    assert not got["whole"].flags.writeable  # views of the read-only file mapping, not copies


def test_bin_tensors_view_the_file(tmp_path):
    path = tmp_path / "w.bin"
    torch.save({"w": torch.randn(64, 32)}, path)
    w = load_torch_bin(path)["w"]
    base = w
    while getattr(base, "base", None) is not None:
        base = base.base
    assert not isinstance(base, np.ndarray) or not base.flags.owndata  # a buffer over the mmap, no copy


# --- hostile pickles -------------------------------------------------------------------------------

class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False])
def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    _, folder = make_transformers_bert(tmp_path, **CFG)
    evil = _bin_folder(
        tmp_path, {"embeddings.word_embeddings.weight": torch.zeros(2), "x": _Hostile(marker)}, folder,
        _use_new_zipfile_serialization=zip_format,
    )
    with pytest.raises(CheckpointError, match=r"refused to load: the pickle references (posix|os|nt)\.system") as e:
        pybertcore.BertModel.from_pretrained(evil)
    assert str(evil / "pytorch_model.bin") in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("torch.storage", "_load_from_bytes"),
                                          ("subprocess", "Popen"), ("torch", "Tensor")])
def test_other_globals_are_refused(tmp_path, module, name):
    pkl = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x001\x85R."
    path = tmp_path / "evil.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
    with pytest.raises(CheckpointError, match=f"references {module}.{name}"):
        load_torch_bin(path)


@pytest.mark.parametrize("pkl, opcode", [
    (b"\x80\x05\x96\x01\x00\x00\x00\x00\x00\x00\x00a\x98.", "BYTEARRAY8"),  # protocol-5 buffers
    (b"(ibuiltins\neval\n.", "INST"),
    (b"\x80\x02ccollections\nOrderedDict\n)\x81.", "NEWOBJ"),
    (b"\x80\x02\x82\x01.", "EXT1"),
])
def test_opcodes_a_state_dict_never_uses_are_refused(tmp_path, pkl, opcode):
    path = tmp_path / "odd.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
    with pytest.raises(CheckpointError, match=f"refused to load: the pickle uses the {opcode} opcode"):
        load_torch_bin(path)


def test_random_corruption_only_raises_checkpoint_error(tmp_path):
    """Flipped bytes and cuts anywhere in .bin (zip and legacy) and .safetensors files: CheckpointError or a
    successful read, never another exception or a crash."""
    import random

    from safetensors.torch import save_file

    sd = {"a": torch.randn(5, 7), "b": torch.randn(7).half(), "c": torch.randn(3, 3).bfloat16(), "d": torch.arange(4)}
    sd["e"] = sd["a"][1:3, ::2]
    files = {"zip.bin": load_torch_bin, "legacy.bin": load_torch_bin, "x.safetensors": load_safetensors}
    torch.save(sd, tmp_path / "zip.bin")
    torch.save(sd, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "x.safetensors"))
    rng = random.Random(0)
    for name, loader in files.items():
        raw = (tmp_path / name).read_bytes()
        for _ in range(150):
            data = bytearray(raw)
            if rng.random() < 0.2:
                data = data[: rng.randrange(len(data))]
            else:
                for _ in range(rng.randint(1, 4)):  # mostly in the headers and the pickle
                    data[rng.randrange(min(len(data), 800) if rng.random() < 0.8 else len(data))] = rng.randrange(256)
            path = tmp_path / f"bad_{name}"
            path.write_bytes(bytes(data))
            try:
                for value in loader(path).values():
                    np.asarray(value).tobytes()
            except CheckpointError:
                pass


def test_pickle_cannot_modify_the_allowed_stand_ins(tmp_path):
    """BUILD on an allowed global (setting its state) is refused, so one file cannot tamper with the next."""
    pkl = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x02\x00\x00\x00fnNsb."
    path = tmp_path / "evil.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
    with pytest.raises(CheckpointError, match="set the state"):
        load_torch_bin(path)


# --- our pytorch_model.bin, read by torch and transformers -----------------------------------------

def test_save_bin_read_by_torch_and_transformers(tmp_path):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    ours = pybertcore.BertModel.from_pretrained(folder)
    out = tmp_path / "ours_bin"
    ours.save_pretrained(out, safe_serialization=False)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "pytorch_model.bin"]
    loaded = torch.load(out / "pytorch_model.bin", weights_only=True)
    assert list(loaded) == list(ours.state_dict())
    for k, v in ours.state_dict().items():
        assert loaded[k].dtype == torch.float32 and loaded[k].is_contiguous()
        np.testing.assert_array_equal(loaded[k].numpy(), v)
    theirs = transformers.BertModel.from_pretrained(out, attn_implementation="eager").eval()
    _compare(ours, theirs)
    _compare(pybertcore.BertModel.from_pretrained(out), theirs)


def test_bin_writer_layout_matches_torch(tmp_path):
    """Records 64-byte aligned, stored; torch.load(mmap=True) works; dtypes and tied arrays as torch writes them."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    tensors = {"w": w, "tied": w, "h": np.ones(3, np.float16), "i": np.arange(4), "b": np.array([True]),
               "s": np.float32(2.5) * np.ones((), np.float32), "e": np.zeros((0, 3), np.float32)}
    path = tmp_path / "pytorch_model.bin"
    save_torch_bin(tensors, path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert names[0] == "pytorch_model/data.pkl" and "pytorch_model/byteorder" in names
        assert z.read("pytorch_model/byteorder") == b"little" and z.read("pytorch_model/version") == b"3\n"
        raw = path.read_bytes()
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
            assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0, info.filename
        assert len([n for n in names if "/data/" in n]) == 6  # "tied" shares w's storage
    for mmap in (False, True):
        loaded = torch.load(path, weights_only=True, mmap=mmap)
        assert list(loaded) == list(tensors)
        for k, v in tensors.items():
            np.testing.assert_array_equal(loaded[k].numpy(), v)
            assert loaded[k].shape == v.shape
        assert loaded["w"].untyped_storage().data_ptr() == loaded["tied"].untyped_storage().data_ptr()
    got = load_torch_bin(path)
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v)


def test_save_over_the_loaded_folder(tmp_path):
    """Weights still viewing the old file: saving over it writes a new file and renames it into place."""
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    ours = pybertcore.BertModel.from_pretrained(folder)
    ours.save_pretrained(folder)
    ours.save_pretrained(folder)
    _compare(pybertcore.BertModel.from_pretrained(folder), tf_model)
    np.testing.assert_array_equal(ours.state_dict()["pooler.dense.weight"], tf_model.pooler.dense.weight.detach().numpy())


# --- sharding --------------------------------------------------------------------------------------

@pytest.mark.parametrize("safe", [True, False])
def test_our_shards_read_by_transformers(tmp_path, safe):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    ours = pybertcore.BertModel.from_pretrained(folder)
    out = tmp_path / "sharded"
    ours.save_pretrained(out, safe_serialization=safe)  # a single file first: the sharded save replaces it
    ours.save_pretrained(out, max_shard_size="300KB", safe_serialization=safe)
    stem, ext, index_name = ("model", "safetensors", "model.safetensors.index.json") if safe else (
        "pytorch_model", "bin", "pytorch_model.bin.index.json")
    index = json.loads((out / index_name).read_text())
    shards = sorted(set(index["weight_map"].values()))
    n = len(shards)
    assert n > 2 and shards == [f"{stem}-{i:05d}-of-{n:05d}.{ext}" for i in range(1, n + 1)]
    assert sorted(p.name for p in out.iterdir()) == sorted(shards + [index_name, "config.json"])
    assert set(index["weight_map"]) == set(ours.state_dict())
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in ours.state_dict().values())
    assert (out / index_name).read_text() == json.dumps(index, indent=2, sort_keys=True) + "\n"
    for shard in shards:  # none above the limit, except a single tensor larger than it
        size = sum(v.nbytes for k, v in ours.state_dict().items() if index["weight_map"][k] == shard)
        keys = [k for k in index["weight_map"] if index["weight_map"][k] == shard]
        assert size <= 300_000 or len(keys) == 1
    theirs = transformers.BertModel.from_pretrained(out, attn_implementation="eager").eval()
    _compare(ours, theirs)
    _compare(pybertcore.BertModel.from_pretrained(out), theirs)
    # Saving again unsharded removes the old shards and index.
    ours.save_pretrained(out, safe_serialization=safe)
    assert sorted(p.name for p in out.iterdir()) == sorted(["config.json", f"{stem}.{ext}"])


def test_transformers_shards_read_by_us(tmp_path):
    tf_model, _ = make_transformers_bert(tmp_path, **CFG)
    out = tmp_path / "tf_sharded"
    tf_model.save_pretrained(out, max_shard_size="200KB")
    assert (out / "model.safetensors.index.json").is_file() and not (out / "model.safetensors").exists()
    _compare(pybertcore.BertModel.from_pretrained(out), tf_model)


def test_bin_shards_as_transformers_4_wrote_them(tmp_path):
    from huggingface_hub import split_torch_state_dict_into_shards

    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    out = tmp_path / "bin_sharded"
    out.mkdir()
    shutil.copy(folder / "config.json", out)
    sd = tf_model.state_dict()
    split = split_torch_state_dict_into_shards(sd, filename_pattern="pytorch_model{suffix}.bin", max_shard_size="200KB")
    assert split.is_sharded
    for filename, keys in split.filename_to_tensors.items():
        torch.save({k: sd[k].contiguous() for k in keys}, out / filename)
    (out / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": split.metadata, "weight_map": split.tensor_to_filename}, indent=2)
    )
    _compare(pybertcore.BertModel.from_pretrained(out), tf_model)


def test_split_matches_huggingface_hub():
    from huggingface_hub import split_torch_state_dict_into_shards

    from pybertcore.checkpoints import parse_size, split_into_shards

    rng = np.random.default_rng(0)
    tensors = {f"t{i}": np.zeros(int(rng.integers(1, 5000)), np.float32) for i in range(40)}
    tensors["big"] = np.zeros(60_000, np.float32)
    for limit in ("50KB", "100KB", 70_000):
        theirs = split_torch_state_dict_into_shards(
            {k: torch.from_numpy(v) for k, v in tensors.items()}, max_shard_size=limit
        ).filename_to_tensors
        assert split_into_shards(tensors, parse_size(limit)) == list(theirs.values())


def test_broken_index_and_missing_shard(tmp_path):
    tf_model, _ = make_transformers_bert(tmp_path, **CFG)
    out = tmp_path / "tf_sharded"
    tf_model.save_pretrained(out, max_shard_size="200KB")
    index = out / "model.safetensors.index.json"
    shard = json.loads(index.read_text())["weight_map"]["pooler.dense.weight"]
    (out / shard).unlink()
    with pytest.raises(CheckpointError, match=f"shard {shard} is missing"):
        pybertcore.BertModel.from_pretrained(out)
    index.write_text("{not json")
    with pytest.raises(CheckpointError, match="model.safetensors.index.json: not a valid shard index"):
        pybertcore.BertModel.from_pretrained(out)


@pytest.mark.parametrize("bad", [0, -1, "lots", "2XB", True])
def test_bad_max_shard_size(tmp_path, bad):
    model = pybertcore.BertModel(pybertcore.BertConfig(**CFG))
    with pytest.raises(ValueError, match="max_shard_size"):
        model.save_pretrained(tmp_path, max_shard_size=bad)


# --- corrupt and truncated files -------------------------------------------------------------------

def test_truncated_and_corrupt_safetensors(tmp_path):
    _, folder = make_transformers_bert(tmp_path, **CFG)
    path = folder / "model.safetensors"
    raw = path.read_bytes()
    for name, data, message in [
        ("cut", raw[: len(raw) // 2], "truncated safetensors file"),
        ("tiny", raw[:5], "truncated safetensors file"),
        ("header", b"\xff" * 8 + raw[8:], "not a valid safetensors file"),
        ("json", struct.pack("<Q", 10) + b"{not json}" + raw[18:], "header is not JSON"),
    ]:
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=message) as e:
            pybertcore.BertModel.from_pretrained(folder)
        assert str(path) in str(e.value), name
        assert isinstance(e.value, ValueError)


def test_truncated_and_corrupt_bin(tmp_path):
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    for zip_format in (True, False):
        bin_folder = _bin_folder(tmp_path, tf_model.state_dict(), folder, name=f"bin{zip_format}",
                                 _use_new_zipfile_serialization=zip_format)
        path = bin_folder / "pytorch_model.bin"
        raw = path.read_bytes()
        for data in (raw[: len(raw) // 2], raw[:100], b"", b"\x80\x02garbage" * 10, os.urandom(4000)):
            path.write_bytes(data)
            with pytest.raises(CheckpointError) as e:
                pybertcore.BertModel.from_pretrained(bin_folder)
            assert str(path) in str(e.value)


def test_bin_with_a_storage_too_small(tmp_path):
    """A data.pkl that claims more elements than its record holds is an error, not a read past the end."""
    path = tmp_path / "pytorch_model.bin"
    save_torch_bin({"w": np.ones((4, 4), np.float32)}, path)
    with zipfile.ZipFile(path) as z:
        records = {n: z.read(n) for n in z.namelist()}
    records["pytorch_model/data/0"] = records["pytorch_model/data/0"][:20]
    with zipfile.ZipFile(path, "w") as z:
        for n, data in records.items():
            z.writestr(n, data)
    with pytest.raises(CheckpointError, match="storage data/0 holds 20 bytes, expected 64"):
        load_torch_bin(path)


def test_unsupported_safetensors_dtype(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "f8.safetensors"
    save_file({"w": torch.zeros(3, dtype=torch.float8_e4m3fn)}, str(path))
    with pytest.raises(CheckpointError, match="dtype F8_E4M3"):
        load_safetensors(path)


# --- precision arguments ---------------------------------------------------------------------------

def test_dtype_arguments(tmp_path):
    _, folder = make_transformers_bert(tmp_path, **CFG)
    for kwargs in ({"dtype": "auto"}, {"dtype": "float32"}, {"dtype": torch.float32}, {"torch_dtype": torch.float32},
                   {"torch_dtype": "auto"}, {"dtype": np.float32}, {"dtype": {"": "float32"}}):
        assert pybertcore.BertModel.from_pretrained(folder, **kwargs) is not None, kwargs
    for bad in ("float16", torch.float16, torch.float64, np.float16):
        with pytest.raises(NotImplementedError, match=r"dtype='(float16|float64)': pybertcore computes in float32, bfloat16 or int8"):
            pybertcore.BertModel.from_pretrained(folder, dtype=bad)
    with pytest.raises(ValueError, match="is not a dtype"):
        pybertcore.BertModel.from_pretrained(folder, torch_dtype="float33")


def test_missing_weights_are_drawn_at_random_once(tmp_path):
    """Construction is deferred while loading: a weight the checkpoint lacks still gets transformers' init."""
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    tensors = dict(load_safetensors(folder / "model.safetensors"))
    del tensors["pooler.dense.weight"], tensors["pooler.dense.bias"]
    from pybertcore.checkpoints import save_safetensors

    save_safetensors(tensors, folder / "model.safetensors")
    pybertcore.set_seed(0)
    ours, info = pybertcore.BertModel.from_pretrained(folder, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]
    w = ours.state_dict()["pooler.dense.weight"]
    assert np.isfinite(w).all() and abs(float(w.std()) - 0.02) < 0.002
    np.testing.assert_array_equal(ours.state_dict()["pooler.dense.bias"], 0)
    ids, mask = ragged_batch(np.random.default_rng(0), CFG["vocab_size"], [5, 3], 5)
    ref = run_transformers(tf_model, ids, mask).last_hidden_state.numpy()
    assert max_abs_on(ours(ids, attention_mask=mask).last_hidden_state, ref, mask) <= TOL


def test_state_dict_pickle_roundtrip_after_load(tmp_path):
    """Parameters viewing the file behave as arrays: picklable, copyable, comparable."""
    _, folder = make_transformers_bert(tmp_path, **CFG)
    sd = pybertcore.BertModel.from_pretrained(folder).state_dict()
    again = pickle.loads(pickle.dumps(sd))
    for k in sd:
        np.testing.assert_array_equal(again[k], sd[k])


# --- choosing the weights file ---------------------------------------------------------------------

def test_use_safetensors_and_variant(tmp_path):
    tf0, folder = make_transformers_bert(tmp_path / "a", **CFG)
    tf1, _ = make_transformers_bert(tmp_path / "b", seed=1, **CFG)
    torch.save(tf1.state_dict(), folder / "pytorch_model.bin")  # both formats, different weights
    _compare(pybertcore.BertModel.from_pretrained(folder), tf0)  # safetensors preferred
    _compare(pybertcore.BertModel.from_pretrained(folder, use_safetensors=False), tf1)
    (folder / "model.safetensors").unlink()
    with pytest.raises(OSError, match="has no model.safetensors"):
        pybertcore.BertModel.from_pretrained(folder, use_safetensors=True)

    ours = pybertcore.BertModel.from_pretrained(folder)
    out = tmp_path / "variant"
    ours.save_pretrained(out, variant="v2", max_shard_size="300KB")
    assert (out / "model.safetensors.index.v2.json").is_file()
    assert any(p.name.startswith("model.v2-00001-of-") for p in out.iterdir())
    theirs = transformers.BertModel.from_pretrained(out, variant="v2", attn_implementation="eager").eval()
    _compare(ours, theirs)
    _compare(pybertcore.BertModel.from_pretrained(out, variant="v2"), theirs)
    with pytest.raises(OSError, match="has no model.safetensors"):
        pybertcore.BertModel.from_pretrained(out)


def test_half_checkpoint_saved_as_float32_config(tmp_path):
    """Weights load as float32, so a re-save must not claim the checkpoint's float16 in config.json."""
    _, folder = make_transformers_bert(tmp_path, **CFG)
    half = tmp_path / "half"
    transformers.BertModel.from_pretrained(folder, dtype=torch.float16).save_pretrained(half)
    assert json.loads((half / "config.json").read_text())["dtype"] == "float16"
    out = tmp_path / "resaved"
    pybertcore.BertModel.from_pretrained(half).save_pretrained(out)
    assert json.loads((out / "config.json").read_text()).get("dtype") == "float32"
    assert transformers.BertModel.from_pretrained(out, dtype="auto").dtype == torch.float32


# --- memory ------------------------------------------------------------------------------------------

_MEMORY_CHILD = """
import json, sys
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
import pybertcore
before = status("VmRSS")
model = pybertcore.BertModel.from_pretrained(sys.argv[1])
print(json.dumps({"peak": status("VmHWM") - before, "after": status("VmRSS") - before}))
"""


@pytest.mark.parametrize("kind", ["safetensors", "bin", "float16"])
def test_load_memory(tmp_path, kind):
    """Resident memory of from_pretrained on a 44 MB checkpoint (its float32 size), in a fresh process.

    The core is built piece by piece and each piece's file pages are released once it is packed (the word
    table block by block; float16 weights converted one piece at a time and kept as views of the file), so
    the peak is the packed weights plus about one layer's file pages: 1.10x measured here (embeddings are
    70% of this model), 1.08x on bert-base. The issue's bound is 1.3x; the old single-call build (file
    pages and packed copy both resident) reached 2.2x, 2.7x from float16. Afterwards the packed weights
    remain.
    """
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=256, num_attention_heads=4, intermediate_size=1024,
                                     num_hidden_layers=4, vocab_size=30000)
    folder = tmp_path / "mid"
    model = transformers.BertModel(config)
    if kind == "float16":
        model = model.half()
    model.save_pretrained(folder, safe_serialization=kind != "bin")
    size = sum(v.size * 4 for v in load_checkpoint_folder(folder).values())
    import subprocess
    import sys

    from conftest import CHILD_CWD, child_env

    proc = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(folder)], env=child_env(), capture_output=True,
                          text=True, timeout=120, cwd=CHILD_CWD)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout)
    assert measured["peak"] <= 1.3 * size, measured
    assert measured["after"] <= 1.15 * size, measured


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_released_pages_read_back(tmp_path, dtype):
    """After a load has released the file's pages, state_dict(), a rebuild in another precision and a
    re-save still see the checkpoint's values (the pages fault back in from the file; float16 weights,
    kept as views of the file, are converted on each read)."""
    tf_model, folder = make_transformers_bert(tmp_path, **CFG)
    if dtype == torch.float16:
        folder = tmp_path / "half"
        tf_model.half().save_pretrained(folder)
    stored = {k: np.array(v, dtype=np.float32) for k, v in load_safetensors(folder / "model.safetensors").items()}
    model = pybertcore.BertModel.from_pretrained(folder)
    ids = np.array([[101, 7, 8, 9, 102]])
    before = model(ids).last_hidden_state
    for name, value in model.state_dict().items():
        assert value.dtype == np.float32 and not value.flags.writeable
        np.testing.assert_array_equal(value, stored[name])
    model.to("bfloat16")
    model.to("float32")
    np.testing.assert_array_equal(model(ids).last_hidden_state, before)
    out = tmp_path / "resaved"
    model.save_pretrained(out)
    for name, value in load_safetensors(out / "model.safetensors").items():
        np.testing.assert_array_equal(value, stored[name])


def test_parameters_and_big_endian_records(tmp_path):
    """nn.Parameter entries (_rebuild_parameter) and a file whose byteorder record says big-endian."""
    sd = {"p": torch.nn.Parameter(torch.randn(3, 4)), "h": torch.randn(5).half(), "i": torch.arange(3)}
    path = tmp_path / "params.bin"
    torch.save(sd, path)
    for k, v in load_torch_bin(path).items():
        np.testing.assert_array_equal(v, sd[k].detach().numpy())
    with zipfile.ZipFile(path) as z:
        records = {n: z.read(n) for n in z.namelist()}
    itemsize = {"0": 4, "1": 2, "2": 8}
    big = {}
    for n, data in records.items():
        if n.endswith("/byteorder"):
            data = b"big"
        elif "/data/" in n and "serialization" not in n:
            data = np.frombuffer(data, dtype=f"<u{itemsize[n.rsplit('/', 1)[1]]}").byteswap().tobytes()
        big[n] = data
    big_path = tmp_path / "big.bin"
    with zipfile.ZipFile(big_path, "w") as z:
        for n, data in big.items():
            z.writestr(n, data)
    theirs = torch.load(big_path, weights_only=True)
    for k, v in load_torch_bin(big_path).items():
        np.testing.assert_array_equal(v, sd[k].detach().numpy())
        np.testing.assert_array_equal(v, theirs[k].detach().numpy())
