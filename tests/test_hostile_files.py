"""The audit of pybertcore's readers of untrusted files, one regression test per finding.

Each hostile file (built in tests/hostile_inputs.py, at the audit's sizes) must raise the project's error
(CheckpointError for weights, OSError/ValueError for JSON files, as transformers raises them) with a
message that names the file and the problem. Files that used to crash the process or exhaust memory
are loaded in a child process under an address-space limit, so a regression fails one test instead of
killing pytest or the machine. Config files: tests/test_config_validation.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import hostile_inputs as H
import pybertcore
from conftest import CHILD_CWD, child_env
from pybertcore.checkpoints import CheckpointError, load_safetensors, load_torch_bin, load_weights_file, save_safetensors

# A child that loads a hostile file may use this much address space: the fixed reader needs a few
# hundred MB at most; the unfixed one asked for 2-16 GiB.
CHILD_ADDRESS_SPACE = 3 << 30


def load_in_child(path: Path, loader: str = "load_torch_bin") -> subprocess.CompletedProcess:
    """Loads ``path`` with pybertcore.checkpoints.<loader> in a fresh interpreter; it prints the exception's
    type and message, or "loaded"."""
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({CHILD_ADDRESS_SPACE}, resource.RLIM_INFINITY))
        from pybertcore.checkpoints import {loader} as load
        try:
            load(sys.argv[1])
        except Exception as e:
            print(type(e).__name__, e, sep=": ")
        else:
            print("loaded")
    """)
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                          cwd=CHILD_CWD, env=child_env())


def write(tmp_path: Path, data: bytes, name: str = "pytorch_model.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def check_child(result: subprocess.CompletedProcess, path: Path, message: str) -> None:
    assert result.returncode == 0, f"the child died (signal {-result.returncode}): {result.stderr[-2000:]}"
    assert result.stdout.startswith("CheckpointError: "), result.stdout + result.stderr[-2000:]
    assert str(path) in result.stdout and message in result.stdout, result.stdout


# --- pytorch_model.bin: crashes and memory bombs (in a child) ----------------------------------------

def test_deep_tuple_key_does_not_overflow_the_c_stack(tmp_path):
    """Audit: a ~200 KB .bin whose dict key is a 200,000-deep tuple segfaulted while the unpickler hashed it.
    The opcode scan now refuses nesting past 100 before anything is built."""
    path = write(tmp_path, H.deep_tuple_key_bin(200_000))
    check_child(load_in_child(path), path, "refused to load: it nests containers more than 100 deep")


def test_deep_tuple_key_at_depth_100k(tmp_path):
    """Audit: at depth 100,000 a raw RecursionError escaped."""
    path = write(tmp_path, H.deep_tuple_key_bin(100_000))
    with pytest.raises(CheckpointError, match="nests containers more than 100 deep") as e:
        load_torch_bin(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("index", [2**30, 2**27])
def test_memo_index_bomb(tmp_path, index):
    """Audit: a 9-byte pickle whose LONG_BINPUT index is 2**30 asked CPython for 16 GiB (2**27 loaded at
    2.1 GB). A memo index must be below the number of opcodes read so far."""
    path = write(tmp_path, H.memo_index_bomb(index))
    assert path.stat().st_size == 9
    check_child(load_in_child(path), path, f"memo index {index} at opcode 2 is larger than the pickle")


def test_billion_laughs_is_not_repred(tmp_path):
    """Audit: a ~700-byte pickle of shared references reached 3.1 GB because the error message repr()'d it;
    messages now describe an untrusted object by type and size."""
    path = write(tmp_path, H.billion_laughs_bin())
    assert path.stat().st_size < 1000
    check_child(load_in_child(path), path, "unsupported persistent id, a tuple of 10 items (expected a storage)")


def test_deflate_bomb(tmp_path):
    """Audit: a 1 MB zip whose deflated data/0 inflates to 1 GiB loaded at 3.1 GB. A compressed record may
    inflate at most 50:1 (plus 1 MiB); this one is refused before a byte is inflated."""
    path = write(tmp_path, H.deflate_bomb_bin(1.0))
    assert path.stat().st_size < 1_100_000
    check_child(load_in_child(path), path, "record data/0 claims to inflate")


def test_deflated_records_within_bounds_still_load(tmp_path):
    """torch never compresses records, but a re-zipped checkpoint (deflate, sane ratio) reads as before."""
    values = np.arange(16, dtype=np.float32)
    path = write(tmp_path, H.torch_zip(H.storage_pickle(16), {"0": values.tobytes()}, compress=zipfile.ZIP_DEFLATED))
    np.testing.assert_array_equal(load_torch_bin(path)["w"], values)


# --- pytorch_model.bin: raw exceptions ----------------------------------------------------------------

def _corrupt_deflate_stream(blob: bytes, member: str) -> bytes:
    """Overwrites the compressed bytes of ``member`` with 0xff (an invalid deflate block type)."""
    with zipfile.ZipFile(__import__("io").BytesIO(blob)) as z:
        info = z.getinfo(member)
    data = bytearray(blob)
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start:start + info.compress_size] = b"\xff" * info.compress_size
    return bytes(data)


@pytest.mark.parametrize("case, message", [
    # zlib.error escaped from a corrupt deflated record
    ("zlib", "corrupt or truncated checkpoint (record data/0: error: Error -3 while decompressing data"),
    # RuntimeError ("File is encrypted, password required") escaped
    ("encrypted", "record byteorder is encrypted; torch never writes encrypted records"),
    # TypeError escaped for a storage of -1 elements
    ("numel", "storage '0' has -1 elements, expected a non-negative integer"),
    # OverflowError escaped for a stride past int64
    ("stride", "a tensor of 2 dimensions has strides a tuple of 2 items; expected as many non-negative integers"),
    # OverflowError escaped for a shape past int64
    ("shape", "a tensor's shape of 2 dimensions needs more than 2**62 bytes"),
    # a tensor stored under a name that is not a string
    ("key", "a tensor is stored under an integer of 200 bits, not a string name"),
])
def test_bin_errors_are_checkpoint_errors(tmp_path, case, message):
    records = {"0": bytes(16)}
    data = {
        "zlib": lambda: _corrupt_deflate_stream(
            H.torch_zip(H.storage_pickle(256), {"0": np.arange(4, dtype=np.float32).tobytes() * 64},
                        compress=zipfile.ZIP_DEFLATED), "archive/data/0"),
        "encrypted": lambda: H.torch_zip(H.storage_pickle(4), records, encrypted=True),
        "numel": lambda: H.torch_zip(H.storage_pickle(-1, shape=(1,)), records),
        "stride": lambda: H.torch_zip(H.storage_pickle(4, shape=(2, 2), stride=(2**70, 1)), records),
        "shape": lambda: H.torch_zip(H.storage_pickle(4, shape=(2**40, 2**40), stride=(1, 1)), records),
        "key": lambda: H.torch_zip(H.storage_pickle(4).replace(H.short_binunicode("w"), H._int(2**199)), records),
    }[case]()
    path = write(tmp_path, data)
    with pytest.raises(CheckpointError) as e:
        for array in load_torch_bin(path).values():
            array.tobytes()
    assert str(path) in str(e.value) and message in str(e.value)


def test_ordered_dict_takes_no_arguments(tmp_path):
    """OrderedDict(d) copies d once per call: a quadratic memory bomb through GET references. torch
    pickles OrderedDict() with no arguments, the only form accepted."""
    pkl = (H.PROTO2 + H.EMPTY_DICT + H.BINPUT + b"\x00" + H.global_("collections", "OrderedDict")
           + H.BINGET + b"\x00" + H.TUPLE1 + b"R" + H.STOP)
    path = write(tmp_path, H.torch_zip(pkl))
    with pytest.raises(CheckpointError, match=r"_ordered_dict\(\) takes 0 positional arguments"):
        load_torch_bin(path)


def test_bf16_storage_is_widened_once(tmp_path):
    """Many tensors over one bf16 storage share one float32 copy, instead of one copy each."""
    shared = H.PROTO2 + H.EMPTY_DICT + H.MARK
    pkl = H.storage_pickle(4, storage="BFloat16Storage")
    tensor = pkl[pkl.index(H.global_("torch._utils", "_rebuild_tensor_v2")):pkl.rindex(b"s")]
    entries = b"".join(H.short_binunicode(f"w{i}") + tensor for i in range(50))
    path = write(tmp_path, H.torch_zip(shared + entries + b"u" + H.STOP, {"0": np.ones(4, "<u2").tobytes()}))
    arrays = list(load_torch_bin(path).values())
    assert len(arrays) == 50 and all(np.shares_memory(arrays[0], a) for a in arrays)


# --- model.safetensors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header, message", [
    # OverflowError escaped from np.prod
    ({"w": {"dtype": "F32", "shape": [2**64], "data_offsets": [0, 0]}},
     "tensor 'w': shape of 1 dimensions needs more than 2**62 bytes"),
    # TypeError: unhashable list
    ({"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, "tensor 'w': dtype is a JSON array, expected a string"),
    # TypeError comparing str offsets
    ({"w": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}},
     "tensor 'w': data_offsets must be two integers [begin, end]"),
    # int64 wrap-around: (2**62 + 1) * 4 elements * 4 bytes wrapped to 16 bytes and passed the size check
    ({"w": {"dtype": "F32", "shape": [2**62 + 1, 4], "data_offsets": [0, 16]}},
     "tensor 'w': shape of 2 dimensions needs more than 2**62 bytes"),
    ({"w": {"dtype": "F32", "shape": [2**30, 4], "data_offsets": [0, 16]}},
     "tensor 'w': shape [1073741824, 4] of F32 is 17179869184 bytes, data_offsets [0, 16] hold 16"),
    ({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}, "b": {"dtype": "BF16", "shape": [2], "data_offsets": [2, 6]}},
     "tensors 'a' and 'b' overlap"),
    ({"w": [1, 2]}, "tensor 'w': expected an object with dtype, shape and data_offsets"),
])
def test_safetensors_header_errors(tmp_path, header, message):
    path = write(tmp_path, H.safetensors_file(header, bytes(16)), "model.safetensors")
    with pytest.raises(CheckpointError) as e:
        load_safetensors(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_safetensors_deeply_nested_header(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    path = write(tmp_path, len(deep).to_bytes(8, "little") + deep, "model.safetensors")
    with pytest.raises(CheckpointError, match="header is not JSON: nested too deeply") as e:
        load_safetensors(path)
    assert str(path) in str(e.value)


# --- shard indexes -------------------------------------------------------------------------------------

def _index(folder: Path, weight_map: dict) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def test_self_referencing_index(tmp_path):
    """Audit: an index naming itself as a shard recursed until RecursionError."""
    path = _index(tmp_path, {"w": "model.safetensors.index.json"})
    with pytest.raises(CheckpointError) as e:
        load_weights_file(path)
    assert f"{path}: shard 'model.safetensors.index.json' is not a .safetensors file" in str(e.value)


def test_shard_name_too_long(tmp_path):
    """Audit: a 300-character shard name raised a raw ENAMETOOLONG OSError."""
    name = "x" * 300 + ".safetensors"
    path = _index(tmp_path, {"w": name})
    with pytest.raises(CheckpointError) as e:
        load_weights_file(path)
    assert str(path) in str(e.value) and "is not a valid file name" in str(e.value)


def test_shard_listed_under_two_spellings(tmp_path):
    save_safetensors({"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)}, tmp_path / "s-00001-of-00001.safetensors")
    path = _index(tmp_path, {"a": "s-00001-of-00001.safetensors", "b": "./s-00001-of-00001.safetensors"})
    with pytest.raises(CheckpointError, match="is listed under two spellings"):
        load_weights_file(path)


def test_deeply_nested_index(tmp_path):
    path = tmp_path / "model.safetensors.index.json"
    path.write_text('{"weight_map": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(CheckpointError) as e:
        load_weights_file(path)
    assert f"{path}: not a valid shard index (not valid JSON: nested deeper than the parser allows)" in str(e.value)


# --- sentence-transformers module files ---------------------------------------------------------------

@pytest.fixture()
def st_folder(tmp_path):
    """A sentence-transformers folder: a tiny BERT, mean pooling, a Dense layer 16 → 4."""
    config = pybertcore.BertConfig(vocab_size=20, hidden_size=16, num_attention_heads=2, intermediate_size=12,
                                   num_hidden_layers=1, max_position_embeddings=16)
    folder = tmp_path / "st"
    pybertcore.BertModel(config).save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]) + "\n")
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text('{"activation_function": "torch.nn.modules.activation.Tanh"}')
    save_safetensors({"linear.weight": np.ones((4, 16), np.float32), "linear.bias": np.zeros(4, np.float32)},
                     folder / "2_Dense" / "model.safetensors")
    assert pybertcore.SentenceEncoder.from_pretrained(folder).encode("hello").shape == (4,)
    return folder


def test_dense_weights_corrupt(st_folder):
    """Audit: a corrupt 2_Dense/model.safetensors raised the safetensors package's SafetensorError."""
    weights = st_folder / "2_Dense" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(CheckpointError) as e:
        pybertcore.SentenceEncoder.from_pretrained(st_folder)
    assert str(weights) in str(e.value) and "not a valid safetensors file" in str(e.value)


def test_dense_weight_missing(st_folder):
    """Audit: a Dense file without linear.weight raised KeyError."""
    weights = st_folder / "2_Dense" / "model.safetensors"
    save_safetensors({"other": np.ones(2, np.float32)}, weights)
    with pytest.raises(CheckpointError) as e:
        pybertcore.SentenceEncoder.from_pretrained(st_folder)
    assert str(weights) in str(e.value) and "a Dense module needs linear.weight" in str(e.value)


def test_dense_weight_of_the_wrong_width(st_folder):
    weights = st_folder / "2_Dense" / "model.safetensors"
    save_safetensors({"linear.weight": np.ones((4, 5), np.float32)}, weights)
    with pytest.raises(CheckpointError, match="linear.weight takes 5 features, the module before it gives 16"):
        pybertcore.SentenceEncoder.from_pretrained(st_folder)


@pytest.mark.parametrize("file, content, error, message", [
    ("modules.json", '[{"idx": "0", "path": "", "type": "Transformer"}, {"idx": 1, "path": "x", "type": "Pooling"}]',
     ValueError, "module 0: idx: expected an integer, found '0'"),
    ("modules.json", '[{"idx": 0, "path": "../..", "type": "Transformer"}]', ValueError,
     "module 0: path: expected a folder inside the model folder, found '../..'"),
    ("modules.json", '{"idx": 0}', OSError, "must hold a JSON array"),
    ("1_Pooling/config.json", '{"pooling_mode": 3}', ValueError, "pooling_mode: expected a mode name or a list of them"),
    ("2_Dense/config.json", '{"activation_function": ["tanh"]}', ValueError,
     "activation_function: expected a string, found a list of 1 items"),
    ("sentence_bert_config.json", '{"max_seq_length": "x"}', ValueError,
     "max_seq_length: expected a positive integer, found 'x'"),
    ("sentence_bert_config.json", '{"do_lower_case": [1]}', ValueError, "do_lower_case: expected true or false"),
    ("sentence_bert_config.json", "[" * 5000 + "]" * 5000, OSError, "is not valid JSON: nested deeper than"),
])
def test_sentence_module_files(st_folder, file, content, error, message):
    (st_folder / file).write_text(content)
    with pytest.raises(error) as e:
        pybertcore.SentenceEncoder.from_pretrained(st_folder)
    assert str(st_folder / file) in str(e.value) and message in str(e.value)


# --- tokenizer files ---------------------------------------------------------------------------------

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]


@pytest.fixture()
def tok_folder(tmp_path):
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return folder


@pytest.mark.parametrize("file, content, error, message", [
    ("tokenizer_config.json", '{"model_max_length": [1]}', ValueError,
     "model_max_length: expected a non-negative number, found a list of 1 items"),
    ("tokenizer_config.json", '{"model_max_length": -3}', ValueError, "model_max_length: expected a non-negative number"),
    ("tokenizer_config.json", '{"padding_side": 3}', ValueError, "padding_side: expected 'left' or 'right', found 3"),
    ("tokenizer_config.json", '{"model_input_names": "input_ids"}', ValueError,
     "model_input_names: expected a list of strings"),
    ("tokenizer_config.json", '{"do_lower_case": "yes"}', ValueError, "do_lower_case: expected true or false, found 'yes'"),
    ("tokenizer_config.json", '{"cls_token": "a:b"}', ValueError, "cls_token: 'a:b' cannot stand in BERT's template"),
    ("tokenizer_config.json", '{"sep_token": {"content": 3}}', ValueError,
     'sep_token: expected a string or an object with a string "content"'),
    ("tokenizer_config.json", "[" * 5000 + "]" * 5000, OSError, "is not valid JSON: nested deeper than"),
    ("tokenizer_config.json", "[1, 2]", OSError, "must hold a JSON object"),
    ("special_tokens_map.json", '{"cls_token": ["[CLS]"]}', ValueError,
     'cls_token: expected a string or an object with a string "content", found a list of 1 items'),
    ("special_tokens_map.json", '{"pad_token": ', OSError, "is not valid JSON"),
    ("tokenizer.json", '{"model": {"type": "WordPiece"}}', OSError, "the tokenizers library cannot load it"),
])
def test_tokenizer_files(tok_folder, file, content, error, message):
    (tok_folder / file).write_text(content)
    with pytest.raises(error) as e:
        pybertcore.AutoTokenizer.from_pretrained(tok_folder)
    assert str(tok_folder / file) in str(e.value) and message in str(e.value), str(e.value)


def test_vocab_not_utf8(tok_folder):
    (tok_folder / "vocab.txt").write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(OSError) as e:
        pybertcore.AutoTokenizer.from_pretrained(tok_folder)
    assert f"{tok_folder / 'vocab.txt'} is not UTF-8 text (byte 6: invalid start byte)" in str(e.value)


def test_special_tokens_with_spaces_build_the_template(tok_folder):
    """BERT's template is built from a list of pieces, so a special token may hold a space."""
    (tok_folder / "vocab.txt").write_text("\n".join(VOCAB + ["[C L S]"]) + "\n")
    (tok_folder / "tokenizer_config.json").write_text('{"cls_token": "[C L S]"}')
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(tok_folder)
    assert tokenizer("hello")["input_ids"] == [7, 5, 3]


def test_template_naming_an_undefined_special_token(tok_folder):
    """Found by fuzz/fuzz_tokenizer.py: a tokenizer.json whose pair template names a special token its
    post-processor does not define loads in the tokenizers library, then panics (PanicException, a
    BaseException) on the first encode of a pair. It is refused at load, naming the file and the token."""
    tokenizer = pybertcore.AutoTokenizer.from_pretrained(tok_folder)
    tokenizer.save_pretrained(tok_folder / "fast")
    path = tok_folder / "fast" / "tokenizer.json"
    data = json.loads(path.read_text())
    data["post_processor"]["pair"][0]["SpecialToken"]["id"] = "[<LS]"
    path.write_text(json.dumps(data))
    with pytest.raises(OSError) as e:
        pybertcore.AutoTokenizer.from_pretrained(tok_folder / "fast")
    assert f"{path}: post_processor's pair template uses special token '[<LS]', which its special_tokens do not " \
           "define" in str(e.value)
