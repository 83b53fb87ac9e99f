"""Shared by the Ray tests: a texts corpus of very uneven lengths, a classification model folder, the
runtime environment that lets Ray's workers import the pybertcore under test."""

from __future__ import annotations

import contextlib
import os
import random

from conftest import CHILD_CWD, PACKAGE_PARENT


def runtime_env() -> dict:
    # Workers start from Ray's own folder: they find this pybertcore through PYTHONPATH, and start quietly.
    return {"env_vars": {"PYTHONPATH": str(PACKAGE_PARENT), "TOKENIZERS_PARALLELISM": "true"}}


@contextlib.contextmanager
def outside_repository():
    """The driver's working directory moved out of the repository while Ray starts and runs: Ray puts the
    driver's directory on its workers' sys.path, and from the repository root they would import the
    source tree (no compiled core) instead of the package under test."""
    previous = os.getcwd()
    os.chdir(CHILD_CWD)
    try:
        yield
    finally:
        os.chdir(previous)


def uneven_texts(n: int, seed: int = 0) -> list[str]:
    """Empty, one word, and far past the model's 256-token limit."""
    rng = random.Random(seed)
    words = "pack my box with five dozen liquor jugs while the quick onyx goblin jumps".split()
    return [" ".join(rng.choice(words) for _ in range(rng.choice([0, 1, 4, 30, 120, 400]))) for _ in range(n)]
