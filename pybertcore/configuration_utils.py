"""PretrainedConfig: the base of every model configuration, in transformers' dialect.

A config is a bag of attributes: the class's own fields with their defaults, the fields every model
shares (labels, output flags, ...), and any unknown key a checkpoint carries, kept and written back.
Serialisation follows transformers: ``print(config)`` and ``config.json`` hold the sorted JSON of every
field that is not a shared default, ``id2label`` keys are ints in memory and strings in JSON.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from typing import Any, ClassVar

CONFIG_NAME = "config.json"

# Fields every config has, with transformers' defaults (PreTrainedConfig). id2label/label2id default to
# two labels; they are handled apart because num_labels derives them.
_COMMON_DEFAULTS: dict[str, Any] = {
    "architectures": None,
    "output_hidden_states": False,
    "output_attentions": False,
    "return_dict": True,
    "dtype": None,
    "chunk_size_feed_forward": 0,
    "is_encoder_decoder": False,
    "problem_type": None,
}
_DEFAULT_NUM_LABELS = 2
# Keys that only describe where a config came from; never written by to_diff_dict.
_NOT_SERIALIZED_IN_DIFF = ("_name_or_path",)


def _default_id2label(num_labels: int) -> dict[int, str]:
    return {i: f"LABEL_{i}" for i in range(num_labels)}


class PretrainedConfig:
    """Base configuration. Subclasses set ``model_type`` and ``_defaults`` (their own fields)."""

    model_type: ClassVar[str] = ""
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        if "torch_dtype" in kwargs:  # transformers' older name for dtype
            torch_dtype = kwargs.pop("torch_dtype")
            kwargs.setdefault("dtype", torch_dtype)
        if "dtype" in kwargs and kwargs["dtype"] is not None and not isinstance(kwargs["dtype"], str):
            kwargs["dtype"] = str(kwargs["dtype"]).replace("torch.", "")
        kwargs.pop("model_type", None)  # a class attribute, never an instance field

        for key, value in _COMMON_DEFAULTS.items():
            setattr(self, key, copy.deepcopy(kwargs.pop(key, value)))
        for key, value in self._defaults.items():
            setattr(self, key, copy.deepcopy(kwargs.pop(key, value)))

        num_labels = kwargs.pop("num_labels", None)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        if id2label is not None and num_labels is not None and num_labels != len(id2label):
            # transformers' behaviour: num_labels wins, the labels become LABEL_0..LABEL_{n-1}.
            logging.getLogger("pybertcore").warning(
                "You passed `num_labels=%s` which is incompatible to the `id2label` map of length `%s`.",
                num_labels, len(id2label),
            )
            id2label = label2id = None
        if id2label is not None:
            self.id2label = {int(k): v for k, v in id2label.items()}
        else:
            self.id2label = _default_id2label(num_labels if num_labels is not None else _DEFAULT_NUM_LABELS)
        if label2id is not None:
            self.label2id = {k: int(v) for k, v in label2id.items()}
        else:
            self.label2id = {v: k for k, v in self.id2label.items()}

        self._name_or_path = str(kwargs.pop("name_or_path", kwargs.pop("_name_or_path", "")))
        # Whatever is left is a key this class does not know: kept, and written back on save.
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.validate()

    # --- checks --------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raises ValueError naming the field when a value is one the core cannot run."""
        if self.problem_type not in (None, "regression", "single_label_classification", "multi_label_classification"):
            raise ValueError(f"problem_type: unsupported value {self.problem_type!r}")

    # --- labels --------------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        if num_labels != len(self.id2label):
            self.id2label = _default_id2label(num_labels)
            self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def use_return_dict(self) -> bool:
        return bool(self.return_dict)

    @property
    def name_or_path(self) -> str:
        return self._name_or_path

    @name_or_path.setter
    def name_or_path(self, value: str) -> None:
        self._name_or_path = str(value)

    # --- dict / JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field, including the shared defaults, plus ``model_type``."""
        out = copy.deepcopy({k: v for k, v in self.__dict__.items()})
        out["model_type"] = self.model_type
        return out

    def to_diff_dict(self) -> dict[str, Any]:
        """The fields that differ from the shared defaults, plus every field of the class and the extras."""
        default_labels = _default_id2label(_DEFAULT_NUM_LABELS)
        shared_defaults = dict(_COMMON_DEFAULTS)
        shared_defaults["id2label"] = default_labels
        shared_defaults["label2id"] = {v: k for k, v in default_labels.items()}
        out = {}
        for key, value in self.to_dict().items():
            if key in _NOT_SERIALIZED_IN_DIFF:
                continue
            if key in shared_defaults and value == shared_defaults[key]:
                continue
            out[key] = value
        return out

    def to_json_string(self, use_diff: bool = True) -> str:
        data = self.to_diff_dict() if use_diff else self.to_dict()
        return json.dumps(_jsonable(data), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike, use_diff: bool = True) -> None:
        with open(json_file_path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string(use_diff=use_diff))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__} {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def update(self, config_dict: dict[str, Any]) -> None:
        for key, value in config_dict.items():
            setattr(self, key, value)

    # --- construction --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any):
        """Builds a config from a dict; keyword arguments override its entries.

        With ``return_unused_kwargs=True`` returns ``(config, {})``: every keyword becomes a field.
        """
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        config = cls(**{**config_dict, **kwargs})
        return (config, {}) if return_unused_kwargs else config

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike):
        return cls(**read_config_dict(json_file))

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
        from pybertcore.hub import resolve_config_file

        path = resolve_config_file(pretrained_model_name_or_path, **kwargs)
        config_dict = read_config_dict(path)
        config_dict["_name_or_path"] = str(pretrained_model_name_or_path)  # where it was loaded from, as transformers
        return config_dict

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Reads ``config.json`` from a folder (or a JSON file path); keyword arguments override fields."""
        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _HUB_KWARGS}
        config_dict = cls.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        model_type = config_dict.get("model_type")
        if cls.model_type and model_type and model_type != cls.model_type:
            logging.getLogger("pybertcore").warning(
                "You are using a model of type %s to instantiate a model of type %s. This is not supported "
                "for all configurations of models and can yield errors.",
                model_type,
                cls.model_type,
            )
        return cls.from_dict(config_dict, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Writes ``config.json`` into ``save_directory`` (created if needed)."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory: {save_directory} is a file, expected a folder")
        os.makedirs(save_directory, exist_ok=True)
        self.to_json_file(os.path.join(save_directory, CONFIG_NAME), use_diff=True)


# Keyword arguments of from_pretrained that choose where files come from, not config fields.
_HUB_KWARGS = ("cache_dir", "revision", "local_files_only", "token", "force_download", "subfolder", "proxies")


def read_config_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in ``path``, or a ValueError/OSError that names the file and the problem."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise OSError(f"config file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"config file {path} is not UTF-8 text: {e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"config file {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a JSON object, found {type(data).__name__}")
    return data


def _jsonable(value: Any) -> Any:
    """JSON-ready copy: dict keys become strings (as json.dumps would), numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


PreTrainedConfig = PretrainedConfig  # transformers 5's spelling
