"""The thread budget's order, each case in a fresh interpreter (the environment is read once per process):
set_num_threads(n) > PYBERTCORE_NUM_THREADS > OMP_NUM_THREADS > cgroup quota / affinity mask; the
tokenizers package's pool capped to the same number; cpu_info() naming the source."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import child_env, minilm_path

_BUDGET_ENV = ("PYBERTCORE_NUM_THREADS", "OMP_NUM_THREADS", "RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM",
               "_PYBERTCORE_RAYON_NUM_THREADS")

REPORT = """
import json, sys
import pybertcore
if len(sys.argv) > 1:
    pybertcore.set_num_threads(int(sys.argv[1]))
info = pybertcore.cpu_info()
print(json.dumps({k: info[k] for k in ("num_threads", "num_threads_source", "default_num_threads",
                                        "affinity_cpus", "cgroup_cpus")}))
"""

# Counts the threads the tokenizers pool starts: nothing else in this child starts one (no model runs).
TOKENIZER_POOL = """
import json, os, sys
import pybertcore
from pybertcore import AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
if len(sys.argv) > 2:
    pybertcore.set_num_threads(int(sys.argv[2]))
before = len(os.listdir("/proc/self/task"))
tokenizer([f"text number {i}, long enough to be worth splitting" for i in range(512)], padding=True)
started = len(os.listdir("/proc/self/task")) - before
info = pybertcore.cpu_info()
print(json.dumps({"started": started, "rayon": os.environ.get("RAYON_NUM_THREADS"),
                  "tokenizer_threads": info["tokenizer_threads"], "source": info["tokenizer_threads_source"]}))
"""


def run_child(tmp_path, script, *args, **env_vars):
    env = child_env({k: v for k, v in os.environ.items() if k not in _BUDGET_ENV})
    env.update(env_vars)
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    return done


def report(tmp_path, *args, **env_vars) -> dict:
    done = run_child(tmp_path, REPORT, *args, **env_vars)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_default_is_the_cpus_this_process_may_use(tmp_path):
    info = report(tmp_path)
    allowed = len(os.sched_getaffinity(0))
    assert info["affinity_cpus"] == allowed
    quota = info["cgroup_cpus"]
    expected = quota if 0 < quota < allowed else allowed
    assert info["num_threads"] == info["default_num_threads"] == expected
    assert info["num_threads_source"] == ("cgroup" if 0 < quota < allowed else "affinity")


def test_omp_num_threads_one_gives_one_thread(tmp_path):
    info = report(tmp_path, OMP_NUM_THREADS="1")
    assert (info["num_threads"], info["num_threads_source"]) == (1, "OMP_NUM_THREADS")


def test_omp_list_takes_its_outermost_level(tmp_path):
    info = report(tmp_path, OMP_NUM_THREADS="3,1")
    assert (info["num_threads"], info["num_threads_source"]) == (3, "OMP_NUM_THREADS")


def test_unusable_omp_value_is_skipped(tmp_path):
    """OMP_NUM_THREADS belongs to every OpenMP library in the process: pybertcore skips what it cannot read."""
    info = report(tmp_path, OMP_NUM_THREADS="many")
    assert info["num_threads_source"] in ("cgroup", "affinity")
    assert info["num_threads"] == report(tmp_path)["num_threads"]


def test_pybertcore_variable_beats_omp(tmp_path):
    info = report(tmp_path, PYBERTCORE_NUM_THREADS="3", OMP_NUM_THREADS="1")
    assert (info["num_threads"], info["num_threads_source"]) == (3, "PYBERTCORE_NUM_THREADS")
    assert info["default_num_threads"] == 3


def test_set_num_threads_beats_the_environment(tmp_path):
    info = report(tmp_path, 2, PYBERTCORE_NUM_THREADS="3", OMP_NUM_THREADS="1")
    assert (info["num_threads"], info["num_threads_source"]) == (2, "set_num_threads")
    assert info["default_num_threads"] == 3


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_pybertcore_variable_is_refused_by_name(tmp_path, value):
    done = run_child(tmp_path, "import pybertcore", PYBERTCORE_NUM_THREADS=value)
    assert done.returncode != 0
    assert "ValueError" in done.stderr and "PYBERTCORE_NUM_THREADS" in done.stderr and repr(value) in done.stderr


@pytest.mark.parametrize("env, args, expected, source", [
    ({"OMP_NUM_THREADS": "1"}, (), 1, "pybertcore"),
    # 3 is above this 2-CPU machine's count, so the pool's size is pybertcore's cap, not rayon's default.
    ({"PYBERTCORE_NUM_THREADS": "3"}, (), 3, "pybertcore"),
    ({"OMP_NUM_THREADS": "1"}, (3,), 3, "pybertcore"),  # set_num_threads before the first tokenization
    ({"PYBERTCORE_NUM_THREADS": "3", "RAYON_NUM_THREADS": "1"}, (), 1, "RAYON_NUM_THREADS"),  # the user's own
])
def test_tokenizer_pool_gets_the_same_cap(tmp_path, env, args, expected, source):
    done = run_child(tmp_path, TOKENIZER_POOL, minilm_path(), *args, **env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"started": expected, "rayon": str(expected), "tokenizer_threads": expected, "source": source}



PARENT_THEN_CHILD = """
import os, subprocess, sys
import pybertcore
from pybertcore import AutoTokenizer
pybertcore.set_num_threads(3)
AutoTokenizer.from_pretrained(sys.argv[1])(["a text", "another"])  # pybertcore sets RAYON_NUM_THREADS=3
assert os.environ["RAYON_NUM_THREADS"] == "3"
child = dict(os.environ, OMP_NUM_THREADS="1")  # a worker given 1 CPU, inheriting the parent's environment
print(subprocess.run([sys.executable, "-c", sys.argv[2], sys.argv[1]], env=child, capture_output=True, text=True,
                     check=True).stdout)
"""


def test_a_child_replaces_the_cap_it_inherits(tmp_path):
    """RAYON_NUM_THREADS set by a parent's pybertcore is not the user's: a child with its own budget (a Ray
    or multiprocessing worker given 1 CPU) sizes its tokenizer pool from that budget."""
    done = run_child(tmp_path, PARENT_THEN_CHILD, minilm_path(), TOKENIZER_POOL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"started": 1, "rayon": "1", "tokenizer_threads": 1, "source": "pybertcore"}
