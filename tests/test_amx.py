"""The AMX level natively: its bf16 (tdpbf16ps) and int8 (tdpbusd) GEMMs against fp64 references of the
same rounded inputs, awkward shapes around the tile sizes, and the PYBERTCORE_AMX gate.

Skipped only where the CPU, its OS or Linux's permission does not give AMX (the reason is
``cpu_info()["amx_status"]``); there the kernel bodies are checked through the tile emulation
(tests/native/amx_emulate_test.cc, run by .ci/run). Tolerances are tests/test_precision.py's; int8 must
also give the avx512_vnni level's bits (the same exact int32 sums, folded by the same FMAs).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import CHILD_CWD, child_env
from family_models import make_transformers_model, ragged_inputs
from test_precision import _int8_reference, _problem

import pybertcore
from pybertcore import _core

pytestmark = pytest.mark.skipif(_core.detected_isa() != "amx",
                                reason=f"no AMX here: {_core.lowp_info()['amx_status']}")

# M: one row, under a tile (tiles of M rows), one tile, a tile and one, two tiles and one, several row
# blocks; N around the 16-column tiles and 32-column panels; K around the tiles' 32 bf16 / 64 u8 and the
# int8 weight group (128); runs of rows and several blocks of panels (600, 600, 100: the bf16 grid then
# prefetches the next A block). bf16 also: a panel bigger than the L2 block (40, 70, 13000).
SHAPES = [(1, 1, 1), (1, 33, 7), (3, 16, 32), (15, 17, 63), (16, 32, 64), (17, 47, 65), (31, 70, 129),
          (33, 64, 255), (130, 70, 257), (129, 96, 700), (64, 31, 1000), (2, 5, 0), (600, 600, 100)]


@pytest.mark.parametrize("M,N,K", SHAPES + [(40, 70, 13000)])
def test_gemm_bf16_amx(M, N, K):
    x, w, b, r = _problem(M, N, K)
    assert _core.lowp_info("amx")["bf16_rounds_activations"]
    ref = _core.testing.bf16_round(x).astype(np.float64) @ _core.testing.bf16_round(w).astype(np.float64).T + b
    dense = _core.Dense(w, b, isa="amx", dtype="bfloat16")
    y = dense.forward(x)
    scale = max(np.abs(ref).max(), 1e-30)
    bound = 2e-6 * scale * max(1.0, np.sqrt(K / 64))
    assert np.abs(y - ref).max() <= bound
    y = dense.forward(x, activation=_core.Activation.gelu_erf, residual=r)
    from math import erf

    gelu = np.vectorize(lambda v: 0.5 * v * (1.0 + erf(v / np.sqrt(2.0))))
    assert np.abs(y - (gelu(ref) + r)).max() <= bound + 1e-5


# (M, I, H): one row, rows and columns off the tiles, an intermediate that is not whole panels, several
# runs of rows.
@pytest.mark.parametrize("M,I,H", [(1, 70, 33), (17, 96, 40), (45, 130, 64), (600, 100, 70)])
def test_bf16_handover_between_gemms(M, I, H):
    """The FFN's handover on AMX: the first GEMM's epilogue writes bf16(act(x·W1ᵀ + b1)) straight into the
    second's tile layout, which reads it without converting: bit for bit the two GEMMs through fp32, since
    the rounding is the one the second GEMM applies to its input."""
    rng = np.random.default_rng(M + I)
    x = rng.standard_normal((M, H), dtype=np.float32)
    res = rng.standard_normal((M, H), dtype=np.float32)
    d1 = _core.Dense(rng.standard_normal((I, H), dtype=np.float32) * 0.2, rng.standard_normal(I, dtype=np.float32),
                     isa="amx", dtype="bfloat16")
    d2 = _core.Dense(rng.standard_normal((H, I), dtype=np.float32) * 0.2, rng.standard_normal(H, dtype=np.float32),
                     isa="amx", dtype="bfloat16")
    gelu = _core.Activation.gelu_erf
    out = d2.forward(d1.forward(x, activation=gelu), residual=res)
    h_packed = _core.testing.dense_forward(d1, x, activation=gelu, packed_output=True)
    assert h_packed.ndim == 1 and h_packed.dtype == np.float32
    np.testing.assert_array_equal(_core.testing.dense_forward(d2, h_packed, residual=res, packed_rows=M), out)


@pytest.mark.parametrize("M,N,K", SHAPES)
def test_gemm_int8_amx(M, N, K):
    x, w, b, r = _problem(M, N, K)
    ref = _int8_reference(x, w, b)
    dense = _core.Dense(w, b, isa="amx", dtype="int8")
    y = dense.forward(x)
    scale = max(np.abs(ref).max(), 1e-30)
    assert np.abs(y - ref).max() <= 1e-6 * scale + 1e-6
    vnni = _core.Dense(w, b, isa="avx512_vnni", dtype="int8")
    np.testing.assert_array_equal(y, vnni.forward(x))
    y = dense.forward(x, activation=_core.Activation.relu, residual=r)
    np.testing.assert_array_equal(y, vnni.forward(x, activation=_core.Activation.relu, residual=r))
    assert np.abs(y - (np.maximum(ref, 0) + r)).max() <= 1e-6 * scale + 1e-5


@pytest.mark.parametrize("dtype", ["bfloat16", "int8"])
def test_rows_independent_of_batch_and_threads(dtype):
    """A row's result is the same bits alone, in any batch and on any number of threads."""
    x, w, b, _ = _problem(45, 100, 300, seed=5)
    dense = _core.Dense(w, b, isa="amx", dtype=dtype)
    previous = _core.get_num_threads()
    try:
        _core.set_num_threads(2)
        y = dense.forward(x)
        _core.set_num_threads(1)
        np.testing.assert_array_equal(dense.forward(x), y)
    finally:
        _core.set_num_threads(previous)
    for m in (0, 15, 16, 31, 44):
        np.testing.assert_array_equal(dense.forward(x[m:m + 1]), y[m:m + 1])
        np.testing.assert_array_equal(dense.forward(x[m:]), y[m:])


def test_model_on_amx_agrees_with_scalar(tmp_path):
    """A whole encoder in bf16 and int8 on the amx level against the scalar level (the bounds of
    test_precision.test_levels_agree_with_scalar_in_low_precision for a level that rounds activations)."""
    make_transformers_model("bert", "Model", tmp_path)
    inputs = ragged_inputs("bert", 0)
    mask = inputs["attention_mask"].astype(bool)
    previous = _core.active_isa()
    outs = {}
    try:
        for level in ("scalar", "amx"):
            _core.set_isa(level)
            for dtype in ("float32", "bfloat16", "int8"):
                model = pybertcore.AutoModel.from_pretrained(tmp_path, dtype=dtype)
                assert model._encoder.isa == level
                outs[level, dtype] = model(**inputs).last_hidden_state
    finally:
        _core.set_isa(previous)

    def diff(a, b):
        return float(np.abs(outs[a] - outs[b])[mask].max())

    assert diff(("scalar", "bfloat16"), ("amx", "bfloat16")) <= 2 * diff(("scalar", "float32"), ("scalar", "bfloat16"))
    assert diff(("scalar", "int8"), ("amx", "int8")) < 1e-3
    assert diff(("scalar", "float32"), ("amx", "float32")) < 1e-4


_PROBE = "import json, pybertcore; print(json.dumps(pybertcore.cpu_info()))"


def _child(**env_values):
    env = child_env()
    for key in ("PYBERTCORE_ISA", "PYBERTCORE_AMX"):
        env.pop(key, None)
    env.update(env_values)
    return subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120,
                          cwd=CHILD_CWD)


def test_gate():
    off = _child(PYBERTCORE_AMX="0")
    assert off.returncode == 0, off.stderr
    info = json.loads(off.stdout)
    assert info["detected_isa"] == "amx" and info["active_isa"] == "avx512_bf16"
    assert info["amx_kernels"] is False and info["amx_status"] == "off: PYBERTCORE_AMX=0"
    # PYBERTCORE_ISA only lowers: naming amx does not override the opt-out
    assert json.loads(_child(PYBERTCORE_AMX="0", PYBERTCORE_ISA="amx").stdout)["active_isa"] == "avx512_bf16"

    for on in (_child(), _child(PYBERTCORE_AMX="1")):  # the default, and said explicitly
        assert on.returncode == 0, on.stderr
        info = json.loads(on.stdout)
        assert info["active_isa"] == "amx" and info["amx_kernels"] is True and info["amx_status"] == "on"
        assert info["bf16_kernel"] == "amx (tdpbf16ps)" and info["int8_kernel"] == "amx (tdpbusd)"

    previous = _core.active_isa()
    try:
        _core.set_isa("amx")  # what the isa fixture does: the status follows the active level
        assert _core.lowp_info()["amx_kernels"] and _core.lowp_info()["amx_status"] == "on"
    finally:
        _core.set_isa(previous)

    lowered = json.loads(_child(PYBERTCORE_ISA="avx512_vnni").stdout)
    assert lowered["active_isa"] == "avx512_vnni" and lowered["amx_kernels"] is False
    assert "lower kernel level" in lowered["amx_status"]


@pytest.mark.parametrize("threads", [1, 2])
def test_tiles_released_when_the_work_ends(threads):
    """Each work unit configures its thread's tiles and releases them: after a GEMM, the calling thread
    (which ran every unit with 1 thread, some with 2) holds no tile state (XINUSE bits 17-18)."""
    during, after = _core.testing.amx_tile_state_probe()
    assert (during, after) == (True, False)  # the check below can see tile state on this CPU
    x, w, b, _ = _problem(70, 100, 300, seed=9)
    previous = _core.get_num_threads()
    try:
        _core.set_num_threads(threads)
        for dtype in ("bfloat16", "int8"):
            dense = _core.Dense(w, b, isa="amx", dtype=dtype)
            for rows in (1, 17, 70):
                dense.forward(x[:rows])
                assert not _core.testing.amx_tile_state_in_use(), (dtype, rows)
    finally:
        _core.set_num_threads(previous)
