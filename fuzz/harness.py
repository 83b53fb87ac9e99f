"""What every fuzz harness shares: the verdict on one input, the temp folder, the multi-file input format.

A harness hands each input to a public loading path and calls it a finding (by raising, which makes
atheris write the input as ``crash-*`` and exit non-zero) when:

* an exception escapes that is not the project's error family: OSError, ValueError (CheckpointError is
  one) but not the raw UnicodeDecodeError or JSONDecodeError, NotImplementedError (a feature pybertcore
  refuses by name), MemoryError only when ``pybertcore.memory.check_allocation`` raised it (its message
  says "this process can still allocate"), RuntimeError only for the transformers-worded weight shape
  mismatch; a weights harness narrows this to CheckpointError (``judge(..., allowed_types=...)``);
* an error raised while a file is read does not name it (``names_file``);
* the input took longer than ``1 s + 100 ms per kilobyte`` (plus what it explicitly asks for: a config
  of N labels is allowed the time to build N labels, see ``judge``);
* or, outside Python's reach, the process crashed, ran past libFuzzer's ``-timeout`` or its
  ``-rss_limit_mb`` (fuzz.sh passes both).

Memory: each harness limits its address space to what it has mapped at start plus
``ADDRESS_SPACE_HEADROOM``; pybertcore's ``check_allocation`` reads that limit, so a request for more
memory than the harness may use is refused with the project's MemoryError before anything is allocated,
the same way it is refused on a machine with less memory.

Inputs made of several files use a plain text container, so seeds stay readable and mutations can
add, drop or rename files: each file starts with a line ``#### <name>`` and ends with the newline before
the next such line (or the input's last newline); names outside the harness's list are ignored (an
input never writes outside its folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

# What a harness may map beyond its start: below fuzz.sh's -rss_limit_mb (2048, with room for the
# interpreter), so a request check_allocation lets through fits, and a regression fails with a
# MemoryError instead of swapping a shared CI machine.
ADDRESS_SPACE_HEADROOM = 1 << 30
SECONDS_BASE, SECONDS_PER_KB = 1.0, 0.1

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Finding(Exception):
    """Raised for an input that broke a rule that is not an exception of its own (too slow)."""


def limit_address_space() -> None:
    """RLIMIT_AS = what this process has mapped now + ADDRESS_SPACE_HEADROOM (call it once set up)."""
    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + ADDRESS_SPACE_HEADROOM
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


PROJECT_ERRORS = (OSError, ValueError, NotImplementedError)


def allowed(error: BaseException, allowed_types: tuple = PROJECT_ERRORS) -> bool:
    """Whether ``error`` is one the project means to raise for bad input."""
    if isinstance(error, MemoryError):
        return "this process can still allocate" in str(error)
    if isinstance(error, RuntimeError) and not isinstance(error, NotImplementedError):
        return str(error).startswith("Error(s) in loading state_dict")
    if isinstance(error, (UnicodeError, json.JSONDecodeError)):  # ValueErrors, but raw ones
        return False
    return isinstance(error, allowed_types)


@contextlib.contextmanager
def names_file(path: Path):
    """An allowed error raised inside must name ``path`` (a file, or the folder holding the files)."""
    try:
        yield
    except BaseException as e:  # noqa: B902
        if allowed(e) and str(path) not in str(e):
            raise Finding(f"the error does not name {path}: {type(e).__name__}: {str(e)[:500]}") from e
        raise


def judge(load, data: bytes, allowed_types: tuple = PROJECT_ERRORS, extra: float = 0.0) -> None:
    """Runs ``load()`` on one input; raises the escaped exception, or Finding for a slow input.

    ``extra``: seconds the input is entitled to beyond what its size pays for, for work it asks for by
    name, such as the ``num_labels`` label names a config makes (as transformers does).
    """
    start = time.perf_counter()
    try:
        load()
    except BaseException as e:  # noqa: B902: the verdict is the point
        if isinstance(e, Finding) or not allowed(e, allowed_types):
            raise
    elapsed = time.perf_counter() - start
    budget = SECONDS_BASE + SECONDS_PER_KB * len(data) / 1024 + extra
    if elapsed > budget:
        raise Finding(f"input of {len(data)} bytes took {elapsed:.2f} s, more than its {budget:.2f} s budget")


def work_folder(name: str) -> Path:
    """A fresh folder for this process's inputs, removed at exit."""
    import atexit

    folder = Path(tempfile.mkdtemp(prefix=f"pybertcore-fuzz-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


_SECTION = re.compile(rb"(?:^|\n)#### ([^\n]*)\n")


def split_files(data: bytes, names: tuple[str, ...]) -> dict[str, bytes]:
    """The files of a multi-file input (see the module docstring); the last copy of a name wins."""
    parts = _SECTION.split(data)
    if parts and parts[-1].endswith(b"\n"):
        parts[-1] = parts[-1][:-1]
    files = {}
    for i in range(1, len(parts) - 1, 2):
        name = parts[i].decode("utf-8", "replace").strip()
        if name in names:
            files[name] = parts[i + 1]
    return files


def join_files(files: dict[str, bytes]) -> bytes:
    """The inverse of split_files, for writing seeds."""
    return b"".join(b"#### " + name.encode() + b"\n" + content + b"\n" for name, content in files.items())


def write_files(folder: Path, files: dict[str, bytes], names: tuple[str, ...]) -> None:
    """Replaces ``names`` in ``folder`` by ``files`` (a name absent from the input is removed)."""
    for name in names:
        path = folder / name
        if name in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[name])
        elif path.exists():
            path.unlink()


def run(test_one_input) -> None:
    """atheris' main loop over ``test_one_input`` (sys.argv carries libFuzzer's flags and corpus folders)."""
    import atheris

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def instrumented_imports(*extra: str):
    """``with instrumented_imports(): import pybertcore...``: coverage for pybertcore (and ``extra`` modules)."""
    import atheris

    return atheris.instrument_imports(include=["pybertcore", *extra])
