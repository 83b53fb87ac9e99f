"""Checkpoint formats: safetensors, torch's pytorch_model.bin (read with no torch and no code execution),
sharded folders with their index, and what they share (CheckpointError, bf16 decoding, file mappings).

Loaders return ``{name: np.ndarray}`` in the stored dtype (bfloat16 widened to float32), as views of a
read-only mapping of the file where the layout allows; callers convert to the compute type.
"""

from pybertcore.checkpoints.common import CheckpointError, MappedPages, StateDict, bf16_to_float32, release_pages
from pybertcore.checkpoints.safetensors_io import (
    SAFE_WEIGHTS_INDEX_NAME,
    SAFE_WEIGHTS_NAME,
    load_safetensors,
    save_safetensors,
)
from pybertcore.checkpoints.sharding import (
    WEIGHTS_FILE_NAMES,
    add_variant,
    weights_file_names,
    find_weights_file,
    load_sharded,
    load_weights_file,
    parse_size,
    save_weights,
    shard_files,
    split_into_shards,
)
from pybertcore.checkpoints.torch_bin import WEIGHTS_INDEX_NAME, WEIGHTS_NAME, load_torch_bin
from pybertcore.checkpoints.torch_bin_writer import save_torch_bin

__all__ = [
    "SAFE_WEIGHTS_INDEX_NAME",
    "SAFE_WEIGHTS_NAME",
    "WEIGHTS_FILE_NAMES",
    "WEIGHTS_INDEX_NAME",
    "WEIGHTS_NAME",
    "add_variant",
    "weights_file_names",
    "CheckpointError",
    "MappedPages",
    "StateDict",
    "bf16_to_float32",
    "find_weights_file",
    "load_safetensors",
    "load_sharded",
    "load_torch_bin",
    "load_weights_file",
    "parse_size",
    "release_pages",
    "save_safetensors",
    "save_torch_bin",
    "save_weights",
    "shard_files",
    "split_into_shards",
]
