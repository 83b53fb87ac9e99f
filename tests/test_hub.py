"""Hub ids resolved offline in a synthetic Hugging Face cache (the layout huggingface_hub writes), by id,
bare legacy name, revision (branch, tag, commit), cache_dir / HF_HOME / HF_HUB_CACHE; the not-found
error's wording; local folders and the cache never import huggingface_hub. No network is used: the
processes that resolve ids run with HF_HUB_OFFLINE=1 or local_files_only=True.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CHILD_CWD, PACKAGE_PARENT, make_transformers_bert

import pybertcore
from pybertcore.hub import hub_cache_dir, resolve_model_folder

CFG = dict(hidden_size=96, num_attention_heads=3, intermediate_size=200, vocab_size=1013, num_hidden_layers=2)


def add_snapshot(cache: Path, repo_id: str, folder: Path, commit: str, refs=("main",), symlinks=True) -> Path:
    """Puts ``folder``'s files in the cache as huggingface_hub does: blobs by hash, snapshot symlinks, refs."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for file in folder.iterdir():
        blob = repo / "blobs" / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copy(file, blob)
        if symlinks:
            (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
        else:
            shutil.copy(file, snapshot / file.name)
    (repo / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return snapshot


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two random models (two revisions of one repo): their folders and a pooled output of each."""
    root = tmp_path_factory.mktemp("hub_models")
    out = {}
    for seed in (0, 1):
        _, folder = make_transformers_bert(root / f"m{seed}", seed=seed, **CFG)
        out[seed] = folder
    return out


COMMIT_A = "a" * 40
COMMIT_B = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hf_home(tmp_path, models):
    """HF_HOME with org/name at main (model 0) and tag v1 (model 1), and google-bert/bert-base-cased."""
    cache = tmp_path / "hf_home" / "hub"
    add_snapshot(cache, "org/name", models[0], COMMIT_A, refs=("main",))
    add_snapshot(cache, "org/name", models[1], COMMIT_B, refs=("v1",), symlinks=False)
    add_snapshot(cache, "google-bert/bert-base-cased", models[1], COMMIT_B)
    return tmp_path / "hf_home"


def _pooled(folder_or_id, **kwargs) -> np.ndarray:
    return pybertcore.BertModel.from_pretrained(folder_or_id, **kwargs)([[5, 6, 7, 8]]).pooler_output


def _run(code: str, env_extra: dict, block_hub: bool = False) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter with a clean hub environment plus ``env_extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(env_extra)
    # Stand-in modules a test puts on PYTHONPATH come before the folder pybertcore is imported from
    # (site-packages after `pip install`, which holds the real huggingface_hub).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(PACKAGE_PARENT)) if p)
    prelude = "import sys\n"
    if block_hub:  # importing huggingface_hub now raises ImportError
        prelude += "sys.modules['huggingface_hub'] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=CHILD_CWD)


def test_resolve_by_id_and_revision_in_a_subprocess_with_hf_home(hf_home, models):
    code = """
import json, pybertcore
out = {}
for key, kwargs in [("main", {}), ("v1", {"revision": "v1"}), ("commit", {"revision": "%s"}),
                    ("bare", {}), ("auto", {})]:
    name = "bert-base-cased" if key == "bare" else "org/name"
    cls = pybertcore.AutoModel if key == "auto" else pybertcore.BertModel
    model = cls.from_pretrained(name, **kwargs)
    out[key] = model([[5, 6, 7, 8]]).pooler_output.tolist()
    out[key + "_path"] = model.config.name_or_path
print(json.dumps(out))
""" % COMMIT_A
    proc = _run(code, {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}, block_hub=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    want0, want1 = _pooled(models[0]), _pooled(models[1])
    np.testing.assert_allclose(out["main"], want0, atol=1e-6)
    np.testing.assert_allclose(out["commit"], want0, atol=1e-6)
    np.testing.assert_allclose(out["auto"], want0, atol=1e-6)
    np.testing.assert_allclose(out["v1"], want1, atol=1e-6)
    np.testing.assert_allclose(out["bare"], want1, atol=1e-6)  # found as models--google-bert--bert-base-cased
    assert out["main_path"] == "org/name"


def test_hf_hub_cache_and_cache_dir(hf_home, models, monkeypatch):
    for var in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = hf_home / "hub"
    np.testing.assert_allclose(_pooled("org/name", cache_dir=cache), _pooled(models[0]), atol=1e-6)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert hub_cache_dir() == cache
    np.testing.assert_allclose(_pooled("org/name", revision="v1"), _pooled(models[1]), atol=1e-6)
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    assert hub_cache_dir() == cache
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(hf_home.parent))
    assert hub_cache_dir() == hf_home.parent / "huggingface" / "hub"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert hub_cache_dir() == Path.home() / ".cache" / "huggingface" / "hub"


def test_config_resolves_without_weights(hf_home, monkeypatch):
    """AutoConfig needs only config.json: a snapshot without weights is enough for it, not for the model."""
    cache = hf_home / "hub"
    snapshot = cache / "models--org--name" / "snapshots" / COMMIT_A
    (snapshot / "model.safetensors").unlink()
    config = pybertcore.AutoConfig.from_pretrained("org/name", cache_dir=cache, local_files_only=True)
    assert config.hidden_size == CFG["hidden_size"]
    with pytest.raises(OSError, match="no complete copy"):
        pybertcore.BertModel.from_pretrained("org/name", cache_dir=cache, local_files_only=True)


def test_not_found_error_names_it_where_and_how(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cache = tmp_path / "empty_cache"
    with pytest.raises(OSError) as e:
        pybertcore.BertModel.from_pretrained("someone/missing-model", cache_dir=cache, local_files_only=True)
    text = str(e.value)
    assert "'someone/missing-model' is not a local folder" in text
    assert str(cache / "models--someone--missing-model") in text
    assert "local_files_only=True" in text
    assert "hf download someone/missing-model" in text and "pybertcore[hub]" in text
    with pytest.raises(OSError, match="at revision 'v9'"):
        pybertcore.BertModel.from_pretrained("org/name", cache_dir=cache, revision="v9", local_files_only=True)


def test_not_found_offline_by_environment_in_a_subprocess(tmp_path):
    code = """
import pybertcore
try:
    pybertcore.BertModel.from_pretrained("bert-base-cased")
except OSError as e:
    print(e)
"""
    proc = _run(code, {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "'bert-base-cased' is not a local folder" in text and "HF_HUB_OFFLINE is set" in text
    for folder in ("models--bert-base-cased", "models--google-bert--bert-base-cased"):
        assert str(tmp_path / "hub" / folder) in text


def test_download_needs_huggingface_hub(tmp_path):
    """Online but without huggingface_hub: the error says which extra to install (nothing is fetched)."""
    code = """
import pybertcore
try:
    pybertcore.BertModel.from_pretrained("org/absent", cache_dir=%r)
except OSError as e:
    print(e)
""" % str(tmp_path)
    proc = _run(code, {}, block_hub=True)
    assert proc.returncode == 0, proc.stderr
    assert "needs huggingface_hub, which is not installed" in proc.stdout and "pybertcore[hub]" in proc.stdout


def test_local_folder_never_imports_huggingface_hub(models):
    code = """
import pybertcore
pybertcore.BertModel.from_pretrained(%r)
pybertcore.AutoModel.from_pretrained(%r)
assert "huggingface_hub" not in sys.modules or sys.modules["huggingface_hub"] is None
print("ok")
""" % (str(models[0]), str(models[0]))
    proc = _run(code, {}, block_hub=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_paths_that_are_not_ids(tmp_path):
    for name in (str(tmp_path / "nope"), "./relative/missing", "a/b/c", "org--x/name"):
        with pytest.raises(OSError, match="is not a local folder"):
            resolve_model_folder(name, local_files_only=True, cache_dir=tmp_path)


def test_subfolder(tmp_path, models, hf_home):
    parent = tmp_path / "parent"
    shutil.copytree(models[0], parent / "encoder")
    np.testing.assert_allclose(_pooled(parent, subfolder="encoder"), _pooled(models[0]), atol=1e-6)
    with pytest.raises(OSError, match="no subfolder 'nope'"):
        resolve_model_folder(parent, subfolder="nope")


def test_sharded_snapshot_needs_every_shard(tmp_path, models):
    """A cached index whose shards are not all there is incomplete (offline: not found, not a crash)."""
    import transformers

    model = transformers.BertModel.from_pretrained(models[0])
    sharded = tmp_path / "sharded"
    model.save_pretrained(sharded, max_shard_size="200KB")
    cache = tmp_path / "cache"
    snapshot = add_snapshot(cache, "org/sharded", sharded, COMMIT_A)
    np.testing.assert_allclose(_pooled("org/sharded", cache_dir=cache, local_files_only=True),
                               _pooled(models[0]), atol=1e-6)
    next(snapshot.glob("model-00002-of-*.safetensors")).unlink()
    with pytest.raises(OSError, match="no complete copy"):
        resolve_model_folder("org/sharded", cache_dir=cache, local_files_only=True)


_FAKE_HUB = '''
"""A stand-in for huggingface_hub: lists and "downloads" $FAKE_HUB_REMOTE/<repo_id>/ into the cache."""
import os, shutil
from pathlib import Path
from huggingface_hub.errors import EntryNotFoundError

def _remote(repo_id):
    return Path(os.environ["FAKE_HUB_REMOTE"]) / repo_id

def list_repo_files(repo_id, revision=None, token=None, **kwargs):
    root = _remote(repo_id)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

def hf_hub_download(repo_id, filename, subfolder=None, revision=None, cache_dir=None, token=None,
                    force_download=False, **kwargs):
    with open(os.environ["FAKE_HUB_LOG"], "a") as log:
        log.write(filename + "\\n")
    source = _remote(repo_id) / filename
    if not source.is_file():
        raise EntryNotFoundError(f"{filename} not in {repo_id}")
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    commit = "c" * 40
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / (revision or "main")).write_text(commit)
    target = repo / "snapshots" / commit / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return str(target)
'''


def stand_in_hub(tmp_path: Path, extra: str = "") -> tuple[dict, Path]:
    """A stand-in huggingface_hub serving the folders under tmp_path/remote (``extra``: source appended to
    the module): the environment that puts it first on the path, and the log of the files it hands out."""
    fake = tmp_path / "fake" / "huggingface_hub"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text(_FAKE_HUB + extra)
    (fake / "errors.py").write_text("class EntryNotFoundError(Exception):\n    pass\n")
    log = tmp_path / "calls.log"
    return {"FAKE_HUB_REMOTE": str(tmp_path / "remote"), "FAKE_HUB_LOG": str(log), "HF_HOME": str(tmp_path / "home"),
            "PYTHONPATH": str(tmp_path / "fake")}, log


def test_download_prefers_safetensors_then_bin_shards(tmp_path, models):
    """The download path with a stand-in huggingface_hub (no network): config, then the first weights
    file the repository has, every shard of an index; the next load is served by the cache offline."""
    import torch
    import transformers
    from huggingface_hub import split_torch_state_dict_into_shards

    remote = tmp_path / "remote" / "org" / "binonly"
    remote.mkdir(parents=True)
    shutil.copy(models[0] / "config.json", remote)
    sd = transformers.BertModel.from_pretrained(models[0]).state_dict()
    split = split_torch_state_dict_into_shards(sd, filename_pattern="pytorch_model{suffix}.bin", max_shard_size="300KB")
    for filename, keys in split.filename_to_tensors.items():
        torch.save({k: sd[k].contiguous() for k in keys}, remote / filename)
    (remote / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": split.metadata,
                                                                      "weight_map": split.tensor_to_filename}))
    env, log = stand_in_hub(tmp_path)
    code = "import pybertcore; print(pybertcore.BertModel.from_pretrained('org/binonly')([[5, 6, 7, 8]]).pooler_output.tolist())"
    proc = _run(code, env)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(json.loads(proc.stdout), _pooled(models[0]), atol=1e-6)
    calls = log.read_text().split()
    assert calls[:5] == ["config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                         "pytorch_model.bin.index.json"]
    assert sorted(calls[5:]) == sorted(split.filename_to_tensors)
    log.unlink()
    proc = _run(code, {**env, "HF_HUB_OFFLINE": "1"})  # now from the cache, offline, nothing fetched
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(json.loads(proc.stdout), _pooled(models[0]), atol=1e-6)
    assert not log.exists()


def test_damaged_cache_refs_are_refused(tmp_path):
    """A ref holding anything but a commit hash (binary junk, a path out of the cache) is an OSError naming it."""
    from pybertcore.hub import cached_snapshot, repo_folder_name

    repo = tmp_path / repo_folder_name("org/model")
    (repo / "refs").mkdir(parents=True)
    (repo / "snapshots").mkdir()
    for content in (b"\xff\xfe\x00junk", b"../../../etc", b"a" * 5000):
        (repo / "refs" / "main").write_bytes(content)
        with pytest.raises(OSError, match=r"refs/main: not a commit hash"):
            cached_snapshot("org/model", tmp_path)
    with pytest.raises(ValueError, match="is not a branch, tag or commit name"):
        cached_snapshot("org/model", tmp_path, revision="../../x")
    (repo / "refs" / "main").write_text("0" * 40 + "\n")
    (repo / "snapshots" / ("0" * 40)).mkdir()
    assert cached_snapshot("org/model", tmp_path) == repo / "snapshots" / ("0" * 40)


def test_tokenizer_download_fetches_its_files(tmp_path, models, minilm_dir):
    """A snapshot the model's download made (config and weights) does not serve a tokenizer: its files are
    fetched, those the repository has, and the next load is served offline."""
    remote = tmp_path / "remote" / "org" / "tok"
    remote.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(models[0] / name, remote)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_dir / name, remote)
    env, log = stand_in_hub(tmp_path)
    model = "import pybertcore; pybertcore.BertModel.from_pretrained('org/tok'); print('ok')"
    proc = _run(model, env)
    assert proc.returncode == 0, proc.stderr
    assert "vocab.txt" not in log.read_text().split()
    tokenize = "import pybertcore; print(pybertcore.AutoTokenizer.from_pretrained('org/tok')('Hello world')['input_ids'])"
    for offline in (False, True):
        proc = _run(tokenize, {**env, **({"HF_HUB_OFFLINE": "1"} if offline else {})})
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == [101, 7592, 2088, 102]
        if not offline:
            assert {"tokenizer.json", "vocab.txt", "tokenizer_config.json"} <= set(log.read_text().split())
            log.unlink()
    assert not log.exists()
