"""Memory you can predict: requests that cannot fit fail before allocating, a loaded model does not depend
on its checkpoint file, non-finite weights are reported, a long forward answers Ctrl-C.

The file-independence checks run in a child process: a regression there is a SIGBUS, which would
otherwise take pytest down with it instead of failing one test.
"""

from __future__ import annotations

import json
import logging
import mmap
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import CHILD_CWD, child_env
from family_models import make_transformers_model, ragged_inputs

import pybertcore
from pybertcore.checkpoints import load_safetensors, save_safetensors


def _tiny(**overrides):
    cfg = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=50)
    return pybertcore.BertModel(pybertcore.BertConfig(**{**cfg, **overrides}))


# --- requests that cannot fit --------------------------------------------------------------------------
def test_forward_that_cannot_fit_fails_before_allocating():
    """(8, 8192) tokens with output_attentions ask for 12·8·12·8192² floats (288 GiB) of attentions."""
    model = _tiny(hidden_size=96, num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=8192)
    ids = np.ones((8, 8192), dtype=np.int64)
    start = time.perf_counter()
    with pytest.raises(MemoryError) as error:
        model(ids, output_attentions=True)
    assert time.perf_counter() - start < 1.0  # refused at once, not after trying
    message = str(error.value)
    assert "input_ids of shape (8, 8192)" in message and "output_attentions" in message
    assert "attentions 288.0 GiB" in message and "can still allocate" in message
    assert model(ids[:1, :16]).last_hidden_state.shape == (1, 16, 96)  # the model is fine afterwards


def test_available_memory_is_reported():
    from pybertcore.memory import available_memory, check_allocation

    available, source = available_memory()
    assert 0 < available < 2**62 and source
    check_allocation(1 << 20, "a small request")
    with pytest.raises(MemoryError, match=r"the thing needs 8\.0 EiB, more than the .* \(" + source):
        check_allocation(2**63, "the thing")


def test_empty_input_ids_are_named():
    model = _tiny()
    for empty in ([], [[]], np.zeros((1, 0), dtype=np.int64)):
        with pytest.raises(ValueError, match=r"input_ids has no tokens"):
            model(empty)


# --- a loaded model does not depend on its checkpoint file -----------------------------------------------
def _viewed_mappings(model) -> list[str]:
    """Names of parameters (and head arrays) whose memory belongs to an mmap: none may remain."""
    found = []
    arrays = list(model._params.items()) + [(f"head op {i}", a) for i, op in enumerate(getattr(model, "_head_ops", []))
                                            for a in op[1:] if isinstance(a, np.ndarray)]
    for name, value in arrays:
        base = value
        while isinstance(base, np.ndarray) or isinstance(base, memoryview):
            base = base.base if isinstance(base, np.ndarray) else base.obj
        if isinstance(base, mmap.mmap):
            found.append(name)
    return found


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int8"])
@pytest.mark.parametrize("suffix", ["Model", "ForSequenceClassification", "ForMaskedLM"])
def test_loaded_model_keeps_no_view_of_the_file(tmp_path, dtype, suffix):
    make_transformers_model("bert", suffix, tmp_path)
    auto = getattr(pybertcore, {"Model": "AutoModel", "ForSequenceClassification": "AutoModelForSequenceClassification",
                                "ForMaskedLM": "AutoModelForMaskedLM"}[suffix])
    model = auto.from_pretrained(tmp_path, dtype=dtype)
    assert _viewed_mappings(model) == []
    assert model._mapped_pages is None


_CHANGED_FILE_CHILD = r"""
import json, os, sys
import numpy as np
import pybertcore
from family_models import ragged_inputs

folder, kind, how = sys.argv[1], sys.argv[2], sys.argv[3]
auto = {"Model": pybertcore.AutoModel, "ForSequenceClassification": pybertcore.AutoModelForSequenceClassification,
        "ForMaskedLM": pybertcore.AutoModelForMaskedLM}[kind]
inputs = ragged_inputs("bert", 0)
results = {}
for dtype in ("float32", "bfloat16", "int8"):
    model = auto.from_pretrained(folder, dtype=dtype)
    before = model(**inputs)[0]
    state = {k: v.copy() for k, v in model.state_dict().items()}
    weights = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith((".safetensors", ".bin"))]
    saved = {w: open(w, "rb").read() for w in weights}
    for w in weights:  # change the file under the loaded model, in place
        if how == "truncate":
            os.truncate(w, 0)
        else:
            with open(w, "r+b") as f:
                f.seek(len(saved[w]) // 2)
                f.write(b"\x7f" * (len(saved[w]) - len(saved[w]) // 2))
    ok = np.array_equal(model(**inputs)[0], before)
    after = model.state_dict()
    ok &= list(after) == list(state) and all(np.array_equal(after[k], state[k]) for k in state)
    model.save_pretrained(folder + "_copy")
    for target in ("bfloat16", "float32", dtype):
        model.to(target)
    ok &= np.array_equal(model(**inputs)[0], before)
    for w in weights:
        open(w, "wb").write(saved[w])
    copy = auto.from_pretrained(folder + "_copy")
    ok &= all(np.array_equal(copy.state_dict()[k], state[k]) for k in state)
    results[dtype] = bool(ok)
print(json.dumps(results))
"""


@pytest.mark.parametrize("how", ["truncate", "rewrite"])
@pytest.mark.parametrize("suffix,safe", [("Model", True), ("Model", False), ("ForSequenceClassification", True),
                                         ("ForMaskedLM", False)])
def test_model_survives_its_file_changing(tmp_path, how, suffix, safe):
    """After loading, the checkpoint truncated to nothing (SIGBUS for any read of a mapping of it) or
    rewritten with garbage of the same size: forward, state_dict, save_pretrained and repacking give what
    they gave before, in every compute precision."""
    folder = tmp_path / "model"
    make_transformers_model("bert", suffix, folder)
    if not safe:
        model = pybertcore.AutoModel.from_pretrained(folder) if suffix == "Model" else \
            getattr(pybertcore, "AutoModelFor" + suffix[3:]).from_pretrained(folder)
        (folder / "model.safetensors").unlink()
        model.save_pretrained(folder, safe_serialization=False)
    env = child_env()
    env["PYTHONPATH"] = str(__import__("pathlib").Path(__file__).parent) + ":" + env["PYTHONPATH"]
    proc = subprocess.run([sys.executable, "-c", _CHANGED_FILE_CHILD, str(folder), suffix, how], env=env,
                          cwd=CHILD_CWD, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"child died with {proc.returncode}: {proc.stderr[-2000:]}"
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"float32": True, "bfloat16": True, "int8": True}


def test_state_dict_is_the_checkpoint_exactly(tmp_path, isa):
    """Parameters the core holds come back bit for bit, on every level (the packed layout differs)."""
    make_transformers_model("albert", "ForMaskedLM", tmp_path)  # shared layers, a projection, a tied decoder
    stored = load_safetensors(tmp_path / "model.safetensors")
    for dtype in ("float32", "int8"):
        state = pybertcore.AutoModelForMaskedLM.from_pretrained(tmp_path, dtype=dtype).state_dict()
        for name, value in stored.items():
            if name in state:
                np.testing.assert_array_equal(state[name], value, err_msg=name)


def test_float32_model_keeps_each_weight_once():
    """A float32 encoder's parameters live in the core only: no numpy copy of any matrix beside it."""
    model = _tiny(hidden_size=64, intermediate_size=96)
    arrays = [name for name, value in model._params.items() if isinstance(value, np.ndarray)]
    assert arrays == []
    head = pybertcore.BertForSequenceClassification(pybertcore.BertConfig(
        hidden_size=64, num_hidden_layers=1, num_attention_heads=2, intermediate_size=96, vocab_size=50))
    assert [n for n, v in head._params.items() if isinstance(v, np.ndarray)] == []
    before = head.state_dict()
    head.to("int8")  # the int8 matrices cannot give float32 back: their originals become arrays again
    kept = {n for n, v in head._params.items() if isinstance(v, np.ndarray)}
    assert kept and all(n.startswith("bert.encoder.layer.") and n.endswith(".weight") for n in kept)
    head.to("float32")
    assert [n for n, v in head._params.items() if isinstance(v, np.ndarray)] == []
    after = head.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


# --- non-finite weights -----------------------------------------------------------------------------------
def test_non_finite_weights_are_reported_by_name(tmp_path, caplog):
    make_transformers_model("bert", "Model", tmp_path)
    tensors = dict(load_safetensors(tmp_path / "model.safetensors"))
    tensors = {k: np.array(v) for k, v in tensors.items()}
    tensors["encoder.layer.1.output.dense.weight"][3, 5] = np.nan
    tensors["embeddings.word_embeddings.weight"][7, 0] = -np.inf
    save_safetensors(tensors, tmp_path / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        model = pybertcore.AutoModel.from_pretrained(tmp_path)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "pybertcore")
    assert "not finite (NaN or inf)" in text
    assert "encoder.layer.1.output.dense.weight" in text and "embeddings.word_embeddings.weight" in text
    assert "encoder.layer.0.output.dense.weight" not in text
    assert np.isnan(model(ragged_inputs("bert", 0)["input_ids"]).last_hidden_state).any()


def test_finite_weights_load_without_that_warning(tmp_path, caplog):
    make_transformers_model("bert", "Model", tmp_path)
    with caplog.at_level(logging.WARNING, logger="pybertcore"):
        pybertcore.AutoModel.from_pretrained(tmp_path)
    assert "not finite" not in caplog.text


# --- Ctrl-C -------------------------------------------------------------------------------------------------
_LONG_FORWARD_CHILD = r"""
import signal, sys, time
import numpy as np
import pybertcore

if sys.argv[1] == "custom":  # a program's own handler: the pass completes, then the handler runs
    signal.signal(signal.SIGINT, lambda *a: print("handler", flush=True))
else:  # Python's own handler, even when started with SIGINT ignored (a job put in the background by a shell)
    signal.signal(signal.SIGINT, signal.default_int_handler)
config = pybertcore.BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                               vocab_size=100)
model = pybertcore.BertModel(config)
small = np.arange(1, 17, dtype=np.int64)[None]
expected = model(small).last_hidden_state
ids = np.ones((int(sys.argv[2]), 512), dtype=np.int64)
print("ready", flush=True)
start = time.perf_counter()
try:
    model(ids)
    print("finished", time.perf_counter() - start, flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, flush=True)
# the model and the thread pool work as before
print("same" if np.array_equal(model(small).last_hidden_state, expected) else "different", flush=True)
"""


def _run_interrupted(mode: str, batch: int) -> tuple[list[str], float]:
    proc = subprocess.Popen([sys.executable, "-c", _LONG_FORWARD_CHILD, mode, str(batch)], env=child_env(),
                            cwd=CHILD_CWD, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(1.0)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        lines = [proc.stdout.readline().strip()]
        answered = time.perf_counter() - sent
        lines += proc.stdout.read().split()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return lines, answered


def test_ctrl_c_stops_a_long_forward_within_a_fraction_of_a_second():
    """A forward of ~10 s (256 × 512 tokens) interrupted after 1 s: KeyboardInterrupt well before it ends."""
    lines, answered = _run_interrupted("default", 256)
    assert lines[0].startswith("interrupted"), lines
    assert answered < 0.5, f"KeyboardInterrupt came {answered:.2f} s after SIGINT"
    assert lines[-1] == "same"


def test_ctrl_c_with_a_handler_of_the_programs_own_lets_the_pass_finish():
    # 160 x 512 tokens: several seconds even on a fast CPU, so the signal comes while the pass runs
    lines, _ = _run_interrupted("custom", 160)
    # the handler runs as soon as the pass returns, before or after the child prints "finished"
    words = " ".join(lines).split()
    assert "finished" in words and "interrupted" not in words, lines
    assert "handler" in lines and lines[-1] == "same"


def test_token_head_logits_that_cannot_fit_are_refused_by_shape():
    """A masked-LM head over a huge vocabulary: (B, T, V) logits refused before numpy allocates them."""
    model = pybertcore.BertForMaskedLM(pybertcore.BertConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8, vocab_size=2_000_000,
        max_position_embeddings=4096))
    with pytest.raises(MemoryError, match=r"BertForMaskedLM: logits of shape \(2, 4000, 2000000\) needs"):
        model(np.ones((2, 4000), dtype=np.int64))


def _memory_cgroup_child_folder(name: str):
    """A new cgroup (v1 or v2) under this process's own memory group, or None where we may not make one."""
    from pathlib import Path

    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2
            base, limit_file = Path("/sys/fs/cgroup" + path), "memory.max"
        elif "memory" in controllers.split(","):
            base, limit_file = Path("/sys/fs/cgroup/memory" + path), "memory.limit_in_bytes"
        else:
            continue
        folder = base / name
        try:
            folder.mkdir()
            (folder / limit_file).write_text(str(1 << 30))
            return folder
        except OSError:
            if folder.exists():
                folder.rmdir()
    return None


def test_cgroup_memory_limit_is_what_is_available():
    """Inside a cgroup limited to 1 GiB, the available memory is the cgroup's headroom, and a forward pass
    needing more is refused naming that limit (containers: the machine's MemAvailable would overstate it).
    (8192, 512) tokens of H = 64: their last_hidden_state alone is 1 GiB (the workspace is capped at a pass)."""
    import os

    folder = _memory_cgroup_child_folder(f"pybertcore-test-{os.getpid()}")
    if folder is None:
        pytest.skip("this process may not create a memory cgroup")
    code = ("import numpy as np, pybertcore\n"
            "from pybertcore.memory import available_memory\n"
            "print(*available_memory(), sep='|')\n"
            "m = pybertcore.BertModel(pybertcore.BertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=2,"
            " intermediate_size=64, vocab_size=10))\n"
            "try:\n"
            "    m(np.ones((8192, 512), dtype=np.int64))\n"
            "except MemoryError as e:\n"
            "    print(e)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=child_env(), cwd=CHILD_CWD, capture_output=True,
                              text=True, timeout=120,
                              preexec_fn=lambda: (folder / "cgroup.procs").write_text(str(os.getpid())))
    finally:
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    assert proc.returncode == 0, proc.stderr
    first, refusal = proc.stdout.splitlines()[:2]
    available, source = first.split("|")
    assert int(available) <= 1 << 30 and source.startswith("cgroup memory")
    assert "input_ids of shape (8192, 512)" in refusal and "(cgroup memory" in refusal


_WIDEN_CHILD = r"""
import resource, sys
import pybertcore
from pybertcore.checkpoints import load_safetensors, load_torch_bin
size = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + (300 << 20), resource.RLIM_INFINITY))
for load, path in ((load_safetensors, sys.argv[1]), (load_torch_bin, sys.argv[2])):
    try:
        load(path)
        print("loaded")
    except MemoryError as e:
        print("MemoryError:", e)
"""


def test_bfloat16_checkpoint_too_big_to_widen_is_refused(tmp_path):
    """200 MB of bf16 weights become 400 MB of float32: under a 300 MB allowance, refused naming the file
    before the widening allocates, for safetensors and pytorch_model.bin alike."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    weights = {"w": torch.zeros(100 << 20, dtype=torch.bfloat16)}
    save_file(weights, tmp_path / "model.safetensors")
    torch.save(weights, tmp_path / "pytorch_model.bin")
    proc = subprocess.run([sys.executable, "-c", _WIDEN_CHILD, str(tmp_path / "model.safetensors"),
                           str(tmp_path / "pytorch_model.bin")], env=child_env(), cwd=CHILD_CWD, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("MemoryError: ") and "model.safetensors: its bfloat16 tensors widened to float32 " \
        "needs 400.0 MiB" in lines[0] and "RLIMIT_AS" in lines[0]
    assert lines[1].startswith("MemoryError: ") and "pytorch_model.bin: converting its bfloat16" in lines[1]
