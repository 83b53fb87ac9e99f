"""Refusing allocations that cannot fit, before they are made.

A config, a checkpoint or an input that asks for more memory than this process can still take fails
at once with a ``MemoryError`` that names the bytes and what asks for them, instead of numpy's
"Unable to allocate 1.36 PiB", a bare ``std::bad_alloc`` deep in the core, or minutes of swapping.
What is available comes from the core (``runtime/memory.h``): the tightest of the machine's
MemAvailable, the cgroup memory limit and RLIMIT_AS.
"""

from __future__ import annotations

from pybertcore import _core


def available_memory() -> tuple[int, str]:
    """(bytes this process can still take, the limit that sets it: "MemAvailable", "cgroup memory.max", ...)."""
    return _core.available_memory()


def format_bytes(nbytes: int) -> str:
    return _core.format_bytes(int(min(nbytes, 2**64 - 1)))


def check_allocation(nbytes: int, what: str) -> None:
    """Raises MemoryError when ``nbytes`` (an exact int: may exceed 2**64) cannot fit; ``what`` says who asks,
    e.g. "BertConfig: vocab_size=10**12 × hidden_size=768 (word_embeddings)"."""
    available, source = available_memory()
    if nbytes > available:
        raise MemoryError(
            f"{what} needs {format_bytes(nbytes)}, more than the {format_bytes(available)} this process can "
            f"still allocate ({source})"
        )
