"""Model folders: which weights file(s) they hold, sharded or not, and writing them as transformers does.

Reading prefers, as transformers does: ``model.safetensors``, ``model.safetensors.index.json`` (shards),
``pytorch_model.bin``, ``pytorch_model.bin.index.json``. Writing splits a state dict in order into
shards of at most ``max_shard_size`` bytes (a tensor larger than that gets a shard of its own) named
``model-00001-of-00003.safetensors`` / ``pytorch_model-00001-of-00003.bin``, plus the index
``{"metadata": {"total_parameters": ..., "total_size": ...}, "weight_map": {name: shard}}`` written with
``indent=2, sort_keys=True`` — the same split huggingface_hub's ``split_torch_state_dict_into_shards`` makes.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np

from pybertcore.checkpoints.common import CheckpointError, StateDict, new_state_dict
from pybertcore.checkpoints.safetensors_io import (
    SAFE_WEIGHTS_INDEX_NAME,
    SAFE_WEIGHTS_NAME,
    load_safetensors,
    save_safetensors,
)
from pybertcore.checkpoints.torch_bin import WEIGHTS_INDEX_NAME, WEIGHTS_NAME, load_torch_bin
from pybertcore.checkpoints.torch_bin_writer import save_torch_bin
from pybertcore.untrusted import describe, load_json

# In transformers' order of preference.
WEIGHTS_FILE_NAMES = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)
_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def add_variant(name: str, variant: Optional[str]) -> str:
    """transformers' variant naming: ``model.safetensors`` → ``model.fp16.safetensors``."""
    if not variant:
        return name
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{variant}.{ext}"


def weights_file_names(use_safetensors: Optional[bool] = None, variant: Optional[str] = None) -> tuple[str, ...]:
    """The weights files to look for, best first: safetensors then .bin (None), only one kind (True/False)."""
    safe, binary = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME), (WEIGHTS_NAME, WEIGHTS_INDEX_NAME)
    names = safe if use_safetensors else binary if use_safetensors is False else safe + binary
    return tuple(add_variant(n, variant) for n in names)


def parse_size(size: Union[int, str]) -> int:
    """``max_shard_size`` in bytes: an int, or "5GB"/"500MB"/"2GiB" (decimal units, as huggingface_hub reads them)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"max_shard_size must be positive, got {size}")
        return int(size)
    if isinstance(size, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]I?B)\s*", size.upper())
        if match:
            value = int(float(match.group(1)) * _UNITS[match.group(2)])
            if value > 0:
                return value
    raise ValueError(f"max_shard_size: cannot read {size!r}; pass bytes as an int or a string like '2GB' or '500MB'")


def find_weights_file(folder: Path, names: tuple[str, ...] = WEIGHTS_FILE_NAMES) -> Path | None:
    """The weights file (or shard index) transformers would load from ``folder``, or None."""
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def load_weights_file(path: Path) -> StateDict:
    """A ``.safetensors``/``.bin`` file, or every shard an index names."""
    name = path.name
    if name.endswith(".json") and ".index." in name:
        return load_sharded(path)
    if name.endswith(".safetensors"):
        return load_safetensors(path)
    return load_torch_bin(path)


# A path component, and a shard's whole relative path: longer ones fail in the OS (ENAMETOOLONG).
_MAX_NAME_BYTES = 255
_MAX_PATH_BYTES = 1024


def shard_files(index_path: Path) -> tuple[list[str], dict[str, str]]:
    """The shard files an index lists (in order of first use) and its weight_map.

    Every shard must be a file of the index's own format inside the folder (``model-00001-of-00002.safetensors``
    for ``model.safetensors.index.json``): an index naming an index (itself, say) would recurse, a name the
    OS cannot hold would fail far from here.
    """
    index = load_json(index_path, lambda reason: CheckpointError(f"{index_path}: not a valid shard index ({reason})"))
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(f"{index_path}: not a valid shard index (no \"weight_map\" of name → file)")
    suffix = ".safetensors" if index_path.name.split(".index")[0].endswith(".safetensors") else ".bin"
    files = list(dict.fromkeys(weight_map.values()))
    for file in files:
        if os.path.isabs(file) or ".." in Path(file).parts:
            raise CheckpointError(f"{index_path}: shard {describe(file)} is outside the model folder")
        if not file.endswith(suffix) or not Path(file).name.removesuffix(suffix):
            raise CheckpointError(f"{index_path}: shard {describe(file)} is not a {suffix} file, as the index's name says")
        too_long = len(file.encode("utf-8", "surrogatepass")) > _MAX_PATH_BYTES or any(
            len(part.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES for part in Path(file).parts)
        if too_long or "\0" in file:
            raise CheckpointError(f"{index_path}: shard {describe(file)} is not a valid file name")
    return files, weight_map


def load_sharded(index_path: Path) -> StateDict:
    files, weight_map = shard_files(index_path)
    folder = index_path.parent
    out = new_state_dict()
    loaded: set[str] = set()
    for file in files:
        # "a.bin" and "./a.bin" are one file: loading it twice would double its converted (bf16) copies.
        normalized = os.path.normpath(file)
        if normalized in loaded:
            raise CheckpointError(f"{index_path}: shard {file} is listed under two spellings")
        loaded.add(normalized)
        shard_path = folder / file
        try:
            present = shard_path.is_file()
        except OSError as e:
            raise CheckpointError(f"{index_path}: shard {file} cannot be opened ({e.strerror})") from None
        if not present:
            raise CheckpointError(f"{index_path}: shard {file} is missing from {folder}")
        shard = load_weights_file(shard_path)
        out.mappings.extend(shard.mappings)
        for key, value in shard.items():
            if weight_map.get(key, file) == file:  # a tensor the index places elsewhere is ignored, as in transformers
                out[key] = value
    absent = [k for k, f in weight_map.items() if k not in out]
    if absent:
        raise CheckpointError(f"{index_path}: {len(absent)} weights listed in the index are missing from their shards, "
                              f"e.g. {describe(absent[0])} (in {describe(weight_map[absent[0]])})")
    return out


def split_into_shards(tensors: Mapping[str, np.ndarray], max_shard_size: int) -> list[list[str]]:
    """Names per shard, in order, as huggingface_hub splits (a tensor larger than the limit stands alone)."""
    shards: list[list[str]] = []
    current: list[str] = []
    current_size = 0
    for name, array in tensors.items():
        size = np.asarray(array).nbytes
        if size > max_shard_size:
            shards.append([name])
            continue
        if current_size + size > max_shard_size:
            shards.append(current)
            current, current_size = [], 0
        current.append(name)
        current_size += size
    if current or not shards:
        shards.append(current)
    return shards


def save_weights(
    tensors: Mapping[str, np.ndarray],
    folder: Path,
    safe_serialization: bool = True,
    max_shard_size: Union[int, str] = "50GB",
    variant: Optional[str] = None,
) -> list[Path]:
    """Writes ``tensors`` into ``folder`` as one file or shards plus index; returns the files written.

    Shards, an index or a single file of the same format left by an earlier save are removed, so the
    folder holds exactly one set of weights of that format (a stale ``model.safetensors`` next to a new
    index would otherwise be loaded first, by us and by transformers).
    """
    limit = parse_size(max_shard_size)
    single, index_name = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME) if safe_serialization else (WEIGHTS_NAME, WEIGHTS_INDEX_NAME)
    single, index_name = add_variant(single, variant), add_variant(index_name, variant)
    stem, ext = single.rsplit(".", 1)
    shard_re = re.compile(re.escape(stem) + r"-\d{5}-of-\d{5}\." + re.escape(ext))
    save = save_safetensors if safe_serialization else save_torch_bin
    shards = split_into_shards(tensors, limit)
    if len(shards) == 1:
        names = [single]
    else:
        names = [f"{stem}-{i + 1:05d}-of-{len(shards):05d}.{ext}" for i in range(len(shards))]

    for old in os.listdir(folder):
        if old not in names and shard_re.fullmatch(old):
            os.remove(folder / old)
    stale = index_name if len(shards) == 1 else single  # the other layout of this format, if an earlier save left it
    if (folder / stale).is_file():
        os.remove(folder / stale)

    written = []
    for name, keys in zip(names, shards):
        save({k: tensors[k] for k in keys}, folder / name)
        written.append(folder / name)
    if len(shards) > 1:
        index = {
            "metadata": {
                "total_parameters": int(sum(np.asarray(tensors[k]).size for k in tensors)),
                "total_size": int(sum(np.asarray(tensors[k]).nbytes for k in tensors)),
            },
            "weight_map": {k: name for name, keys in zip(names, shards) for k in keys},
        }
        with open(folder / index_name, "w", encoding="utf-8") as f:
            f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
        written.append(folder / index_name)
    return written
