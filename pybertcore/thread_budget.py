"""The process's thread budget on the Python side: the environment check and the tokenizer's pool.

The core decides the budget (csrc/runtime/threads.h), first found wins: ``set_num_threads(n)``, then
``PYBERTCORE_NUM_THREADS``, then ``OMP_NUM_THREADS`` (what Ray, Spark and Dask set for a worker given k
CPUs), then the cgroup CPU quota and the affinity mask. This file adds two things the core cannot do:

- a bad ``PYBERTCORE_NUM_THREADS`` raises ValueError naming it at import (the core skips what it cannot
  parse, as it must for ``OMP_NUM_THREADS``, which other libraries read too);
- the ``tokenizers`` package's own pool (Rust, rayon) gets the same cap. Rayon sizes its global pool
  once, from ``RAYON_NUM_THREADS``, when the pool first runs, so ``cap_tokenizer_pool()`` sets that
  variable to the budget just before pybertcore's first batch tokenization, unless the user set it. A
  later ``set_num_threads`` cannot resize a pool already running; ``cpu_info()["tokenizer_threads"]``
  says what the pool got. If other code ran the tokenizers pool in this process first, it keeps the
  size it started with. Child processes inherit the environment: pybertcore's own value is marked
  (``_PYBERTCORE_RAYON_NUM_THREADS``) so that a child (a Ray or multiprocessing worker with its own budget)
  replaces it rather than taking it for the user's.
"""

from __future__ import annotations

import os
import threading
from typing import Optional

from pybertcore import _core

_MARK = "_PYBERTCORE_RAYON_NUM_THREADS"  # the RAYON_NUM_THREADS value pybertcore set, for child processes
_lock = threading.Lock()
_pool_threads: Optional[int] = None  # the size pybertcore gave the tokenizers pool, once it ran
_pool_source: Optional[str] = None


def check_environment() -> None:
    """PYBERTCORE_NUM_THREADS, when set, must be a positive integer."""
    value = os.environ.get("PYBERTCORE_NUM_THREADS")
    if value is None or value.strip() == "":
        return
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1 or n > 1 << 16:
        raise ValueError(f"PYBERTCORE_NUM_THREADS={value!r}: expected a positive integer (threads per call)")


def cap_tokenizer_pool() -> None:
    """Before the first batch tokenization: RAYON_NUM_THREADS := the core's budget, unless the user set it."""
    global _pool_threads, _pool_source
    if _pool_threads is not None:
        return
    with _lock:
        if _pool_threads is not None:
            return
        user = _user_value()
        if user:
            _pool_threads, _pool_source = _parse_positive(user), "RAYON_NUM_THREADS"
        else:
            n = _core.get_num_threads()
            os.environ["RAYON_NUM_THREADS"] = os.environ[_MARK] = str(n)
            _pool_threads, _pool_source = n, "pybertcore"


def tokenizer_pool_info() -> dict:
    """tokenizer_threads: the tokenizers pool's size (None until pybertcore first tokenizes a batch, then the
    budget it was given, or the user's RAYON_NUM_THREADS); tokenizer_threads_source: who chose it."""
    if _pool_threads is None:
        user = _user_value()
        if user:
            return {"tokenizer_threads": _parse_positive(user), "tokenizer_threads_source": "RAYON_NUM_THREADS"}
        return {"tokenizer_threads": _core.get_num_threads(), "tokenizer_threads_source": "not started"}
    return {"tokenizer_threads": _pool_threads, "tokenizer_threads_source": _pool_source}


def _user_value() -> Optional[str]:
    """RAYON_NUM_THREADS as the user set it; None when unset or inherited from a parent pybertcore."""
    value = os.environ.get("RAYON_NUM_THREADS")
    if not value or value == os.environ.get(_MARK):
        return None
    return value


def _parse_positive(value: str) -> Optional[int]:
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if n > 0 else None
