"""Kept for imports written before the formats moved to ``pybertcore.checkpoints``; use that package."""

from pybertcore.checkpoints import (  # noqa: F401
    SAFE_WEIGHTS_NAME,
    CheckpointError,
    load_safetensors,
    save_safetensors,
)
