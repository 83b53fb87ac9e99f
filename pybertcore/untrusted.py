"""Reading files a stranger may have written: JSON with bounded nesting, and values named safely in errors.

Every reader of a model folder (config.json, tokenizer files, sentence-transformers modules, shard
indexes) parses JSON through ``load_json``: malformed text, bytes that are not UTF-8, numbers Python
refuses and nesting deeper than ``MAX_JSON_DEPTH`` all become the caller's error type naming the file.
The depth bound is what keeps later recursive walks (``copy.deepcopy`` of a config, ``json.dumps`` when
saving it) from ending in a RecursionError far from the file that caused it.

``describe`` names an untrusted value in an error message without ``repr``-ing it whole: a container is
described by its type and length, a string is cut. A repr of a structure built from shared references
(a pickle's "billion laughs") or of a 10,000-digit integer costs memory or raises; a description never does.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Callable, Iterator, Optional

# Deeper than any real config or tokenizer file (tokenizer.json nests about 6 levels), shallow enough
# that a recursive walk of the parsed value stays far below Python's recursion limit.
MAX_JSON_DEPTH = 100
_TEXT_LIMIT = 80


def describe(value: Any, limit: int = _TEXT_LIMIT) -> str:
    """A short, bounded description of an untrusted value: ``'abc'``, ``12``, ``a list of 3 items``."""
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 128 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, (str, bytes)):
        text = repr(value[:limit])
        return text + "..." if len(value) > limit else text
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__[:limit]}"


def type_name(value: Any) -> str:
    """JSON's names for the types a JSON file can hold, Python's otherwise."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
             int: "integer", float: "number"}
    return names.get(type(value), type(value).__name__[:_TEXT_LIMIT])


def nesting_depth(value: Any, limit: int) -> int:
    """Depth of nested lists/dicts in ``value`` (a scalar is 0), counted without recursion; stops past ``limit``."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))
    return deepest


def load_json(path: str | os.PathLike, error: Optional[Callable[[str], Exception]] = None,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in ``path``; a problem with its content raises ``error(reason)``.

    ``reason`` reads after "is": "not valid JSON: Expecting value: line 1 column 1 (char 0)", "not UTF-8
    text (...)", "nested deeper than 100 levels". The default error is ``ValueError("<path> is <reason>")``.
    An unreadable file raises the OSError ``open`` raises (it names the file).
    """
    if error is None:
        error = lambda reason: ValueError(f"{os.fspath(path)} is {reason}")  # noqa: E731
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"not UTF-8 text (byte {e.start}: {e.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"not valid JSON: {e}") from None
    except RecursionError:
        raise error("not valid JSON: nested deeper than the parser allows") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise error(f"not valid JSON: {str(e)[:200]}") from None
    if nesting_depth(data, max_depth) > max_depth:
        raise error(f"nested deeper than {max_depth} levels, more than any real file")
    return data


@contextlib.contextmanager
def errors_name_file(path: str | os.PathLike) -> Iterator[None]:
    """A ValueError or MemoryError raised inside (a bad field, a size that cannot fit) names the file the
    values came from; both keep their type."""
    try:
        yield
    except (ValueError, MemoryError) as e:
        if str(path) in str(e):
            raise
        raise (ValueError if isinstance(e, ValueError) else MemoryError)(f"{path}: {e}") from None
