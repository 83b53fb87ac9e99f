"""Where a model's files are: a local folder today; hub ids in the Hugging Face cache build on this.

``from_pretrained(folder)`` never touches the network.
"""

from __future__ import annotations

import os
from pathlib import Path

from pybertcore.configuration_utils import CONFIG_NAME


def resolve_model_folder(name_or_path: str | os.PathLike, **hub_kwargs) -> Path:
    """The folder holding the model's files, or an OSError that names what was looked for and where."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    raise OSError(
        f"{str(name_or_path)!r} is not a local folder. pybertcore.from_pretrained takes a folder written by "
        "save_pretrained (config.json plus model.safetensors); save or download the model to a folder first."
    )


def resolve_config_file(name_or_path: str | os.PathLike, **hub_kwargs) -> Path:
    """``config.json`` of a model folder, or the path itself when it is a JSON file."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    folder = resolve_model_folder(name_or_path, **hub_kwargs)
    config = folder / CONFIG_NAME
    if not config.is_file():
        raise OSError(f"{folder} has no {CONFIG_NAME}; a model folder needs one (save_pretrained writes it)")
    return config
