"""Run-time ISA selection: CPUID picks the best level; PYBERTCORE_ISA only lowers it; bad values raise."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CHILD_CWD, COMPILED_ISAS, SUPPORTED_ISAS, child_env

import pybertcore

_PROBE = "import json, pybertcore; print(json.dumps(pybertcore.cpu_info()))"


def _cpu_info_with(env_value, amx=None):
    env = child_env()
    env.pop("PYBERTCORE_ISA", None)
    env.pop("PYBERTCORE_AMX", None)
    if env_value is not None:
        env["PYBERTCORE_ISA"] = env_value
    if amx is not None:
        env["PYBERTCORE_AMX"] = amx
    proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120,
                          cwd=CHILD_CWD)
    return proc


def test_default_is_the_detected_level():
    """The detected level, amx included; PYBERTCORE_AMX=0 keeps an AMX machine on avx512_bf16."""
    proc = _cpu_info_with(None)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["detected_isa"] == pybertcore._core.detected_isa()
    assert info["active_isa"] == info["detected_isa"]
    assert info["amx_kernels"] is (info["detected_isa"] == "amx")
    assert (info["amx_status"] == "on") is info["amx_kernels"]
    assert "scalar" in info["compiled_isas"]
    proc = _cpu_info_with(None, amx="0")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    expected = "avx512_bf16" if info["detected_isa"] == "amx" else info["detected_isa"]
    assert info["active_isa"] == expected and info["amx_kernels"] is False


def test_bad_amx_value_raises_at_import():
    proc = _cpu_info_with(None, amx="yes")
    assert proc.returncode != 0
    assert "PYBERTCORE_AMX='yes' is not a valid value" in proc.stderr
    with pytest.raises(ValueError, match="PYBERTCORE_AMX='2'"):
        pybertcore._core.parse_amx("2")
    assert pybertcore._core.parse_amx("1") is True and pybertcore._core.parse_amx("") is True
    assert pybertcore._core.parse_amx("0") is False


@pytest.mark.parametrize("level", SUPPORTED_ISAS)
def test_environment_forces_a_lower_level(level):
    proc = _cpu_info_with(level)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["active_isa"] == level


def test_environment_cannot_raise_the_level():
    detected = pybertcore._core.detected_isa()
    above = [name for name in COMPILED_ISAS if COMPILED_ISAS.index(name) > COMPILED_ISAS.index(detected)]
    if not above:
        pytest.skip("this machine runs the highest compiled level")
    proc = _cpu_info_with(above[0])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["active_isa"] == detected
    with pytest.raises(ValueError, match="not supported on this CPU"):
        pybertcore._core.set_isa(above[0])


def test_bad_environment_value_raises_at_import():
    proc = _cpu_info_with("sse9")
    assert proc.returncode != 0
    assert "unknown ISA level 'sse9'" in proc.stderr


def test_models_remember_their_level(isa):
    model = pybertcore.BertModel(pybertcore.BertConfig(hidden_size=16, num_attention_heads=2, intermediate_size=8,
                                                       num_hidden_layers=1, vocab_size=10))
    assert model._encoder.isa == isa
