"""sentence-transformers models by hub id, offline, in a synthetic Hugging Face cache: a bare name gets the
class's organisation as sentence-transformers gives it (``all-MiniLM-L6-v2`` is
``sentence-transformers/all-MiniLM-L6-v2``), whole snapshots with subfolders (Pooling, a Router's routes, a
StaticEmbedding without config.json) load, and sentence-transformers reads the same cache to the same
vectors. The download path runs against a stand-in huggingface_hub (no network) in a subprocess."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_hub import _run, stand_in_hub

from pybertcore import CrossEncoder, SentenceTransformer, SparseEncoder
from pybertcore.hub import sentence_files_to_fetch, sentence_repo_id

COMMIT = "d" * 40
TEXTS = ["A man is eating food.", "The weather is lovely today.", "He drove to the stadium."]


def cache_snapshot(cache: Path, repo_id: str, folder: Path) -> Path:
    """``folder`` (subfolders too) as the main snapshot of ``repo_id`` in the cache layout."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return repo / "snapshots" / COMMIT


def test_bare_names_take_the_class_organisation():
    assert sentence_repo_id("all-MiniLM-L6-v2", "sentence-transformers") == "sentence-transformers/all-MiniLM-L6-v2"
    assert sentence_repo_id("ms-marco-MiniLM-L6-v2", "cross-encoder") == "cross-encoder/ms-marco-MiniLM-L6-v2"
    assert sentence_repo_id("org/name", "sentence-transformers") == "org/name"
    assert sentence_repo_id("bert-base-uncased", "sentence-transformers") == "bert-base-uncased"  # a legacy name
    assert sentence_repo_id("name", None) == "name"
    assert SentenceTransformer.default_huggingface_organization == "sentence-transformers"
    assert CrossEncoder.default_huggingface_organization == "cross-encoder"
    assert SparseEncoder.default_huggingface_organization == "sparse-encoder"


def test_files_a_download_fetches():
    files = ["modules.json", "config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json",
             "1_Pooling/config.json", "onnx/model.onnx", "onnx/model_qint8_avx512.onnx", "openvino/openvino_model.xml",
             "tf_model.h5", "flax_model.msgpack", "rust_model.ot", ".gitattributes", "README.md",
             "query_0_SparseStaticEmbedding/model.safetensors", "document_0_Transformer/pytorch_model.bin",
             "checkpoint-500/optimizer.pt", "rng_state.pth", "last.ckpt"]
    assert sentence_files_to_fetch(files) == [
        "modules.json", "config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json", "README.md",
        "query_0_SparseStaticEmbedding/model.safetensors", "document_0_Transformer/pytorch_model.bin"]


def test_sentence_transformer_by_bare_name_from_the_cache(tmp_path, minilm_dir):
    from sentence_transformers import SentenceTransformer as Reference

    cache = tmp_path / "hub"
    cache_snapshot(cache, "sentence-transformers/all-MiniLM-L6-v2", minilm_dir)
    expected = SentenceTransformer(minilm_dir).encode(TEXTS)
    ours = SentenceTransformer("all-MiniLM-L6-v2", cache_folder=str(cache), local_files_only=True)
    assert ours.pooling_modes == ("mean",) and ours.normalize  # the folder's modules, not a plain checkpoint's
    np.testing.assert_array_equal(ours.encode(TEXTS), expected)
    theirs = Reference("all-MiniLM-L6-v2", cache_folder=str(cache), local_files_only=True, device="cpu")
    np.testing.assert_allclose(theirs.encode(TEXTS), expected, atol=1e-5)
    with pytest.raises(OSError, match="sentence-transformers/other-model.*modules.json or config.json"):
        SentenceTransformer("other-model", cache_folder=str(cache), local_files_only=True)
    with pytest.raises(NotADirectoryError, match="is a file"):
        SentenceTransformer(str(minilm_dir / "modules.json"))


def test_models_without_a_root_config_by_hub_id(tmp_path, minilm_dir):
    """A StaticEmbedding model and an inference-free SPLADE Router hold no config.json at their root."""
    from test_sentence_static import make_static
    from test_sparse_router import TEXTS as SPARSE_TEXTS, make_router_model

    cache = tmp_path / "hub"
    static = make_static(tmp_path / "static", minilm_dir)
    router = make_router_model(tmp_path / "router-build", minilm_dir)
    assert not (static / "config.json").exists() and not (router / "config.json").exists()
    cache_snapshot(cache, "sentence-transformers/static-test", static)
    cache_snapshot(cache, "sparse-encoder/router-test", router)
    np.testing.assert_array_equal(
        SentenceTransformer("static-test", cache_folder=str(cache), local_files_only=True).encode(TEXTS),
        SentenceTransformer(static).encode(TEXTS))
    by_id = SparseEncoder("router-test", cache_folder=str(cache), local_files_only=True)
    np.testing.assert_array_equal(by_id.encode_query(SPARSE_TEXTS).toarray(),
                                  SparseEncoder(router).encode_query(SPARSE_TEXTS).toarray())


def test_cross_encoder_by_bare_name(tmp_path, minilm_dir):
    from test_cross_encoder import make_checkpoint

    folder = make_checkpoint(tmp_path / "ce", minilm_dir, 1)
    cache = tmp_path / "hub"
    cache_snapshot(cache, "cross-encoder/tiny-ce", folder)
    pairs = [("a question", TEXTS[0]), ("a question", TEXTS[1])]
    np.testing.assert_array_equal(CrossEncoder("tiny-ce", cache_folder=str(cache), local_files_only=True).predict(pairs),
                                  CrossEncoder(folder).predict(pairs))




def test_download_fetches_the_whole_model_but_other_formats(tmp_path, minilm_dir):
    remote = tmp_path / "remote" / "sentence-transformers" / "all-MiniLM-L6-v2"
    shutil.copytree(minilm_dir, remote)
    (remote / "onnx").mkdir(exist_ok=True)
    (remote / "onnx" / "model.onnx").write_bytes(b"not fetched")
    (remote / "pytorch_model.bin").write_bytes(b"not fetched either: model.safetensors is here")
    env, log = stand_in_hub(tmp_path)
    code = ("import json, pybertcore; m = pybertcore.SentenceTransformer('all-MiniLM-L6-v2'); "
            f"print(json.dumps(m.encode({TEXTS!r}).tolist()))")
    for offline in (False, True):  # the second run is served by the cache, offline
        proc = _run(code, {**env, **({"HF_HUB_OFFLINE": "1"} if offline else {})})
        assert proc.returncode == 0, proc.stderr[-2000:]
        np.testing.assert_array_equal(np.array(json.loads(proc.stdout), dtype=np.float32),
                                      SentenceTransformer(minilm_dir).encode(TEXTS))
        if not offline:
            fetched = set(log.read_text().split())
            assert {"modules.json", "1_Pooling/config.json", "model.safetensors", "tokenizer.json"} <= fetched
            assert not {"onnx/model.onnx", "pytorch_model.bin"} & fetched
            log.unlink()
    assert not log.exists()
    # a plain checkpoint in the cache (transformers filled it: no modules.json) while the hub cannot be reached
    # (not flagged offline): the cached checkpoint is used, as huggingface_hub falls back to its cache
    repo = tmp_path / "home" / "hub" / "models--cross-encoder--tiny"
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(minilm_dir / name, repo / "snapshots" / COMMIT / name)
    # not an OSError: huggingface_hub 1.x raises httpx's errors
    env, _ = stand_in_hub(tmp_path, "\nclass ConnectError(Exception):\n    pass\n\n"
                                    "def list_repo_files(*args, **kwargs):\n    raise ConnectError('network is unreachable')\n")
    code = "import pybertcore; print(pybertcore.hub.resolve_sentence_folder('tiny', 'cross-encoder'))"
    proc = _run(code, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(repo / "snapshots" / COMMIT)
