"""PretrainedConfig: the base of every model configuration, in transformers' dialect.

A config is a bag of attributes: the class's own fields with their defaults, the fields every model
shares (labels, output flags, ...), and any unknown key a checkpoint carries, kept and written back.
Serialisation follows transformers: ``print(config)`` and ``config.json`` hold the sorted JSON of every
field that is not a shared default, ``id2label`` keys are ints in memory and strings in JSON.

A config.json may come from anyone: every field with a default is checked against the default's type
(``validate``), the label maps before they are built, and a key that would shadow a method is refused;
an error raised while reading a file names the file. Sizes are checked by the family configs
(``models/config_checks.py``); whether the model they describe fits in memory is checked where the
model is built (``check_model_size``), so a config that is never instantiated may be as large as
transformers allows.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import math
import os
from typing import Any, ClassVar

from pybertcore.hub import CONFIG_NAME, resolve_config_file
from pybertcore.loading import HUB_KWARGS
from pybertcore.memory import check_allocation
from pybertcore.untrusted import describe, errors_name_file, load_json


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


# The C++ core indexes with int32: every size a config gives it must fit.
INT32_MAX = 2**31 - 1
# What one label costs at the peak: id2label plus label2id hold two dict slots, an int and a "LABEL_<n>"
# string (~200 bytes, measured); printing or saving the config copies both into JSON (~800 at the peak).
_BYTES_PER_LABEL = 800


def _default_id2label(num_labels: int) -> dict[int, str]:
    return {i: f"LABEL_{i}" for i in range(num_labels)}


def check_num_labels(owner: str, num_labels: Any) -> int:
    """``num_labels`` as an int, before ``range(num_labels)`` labels are made: ValueError for a wrong type,
    MemoryError for more labels than this process can hold (10**9 would take minutes and hundreds of GB)."""
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or not 0 <= num_labels <= INT32_MAX:
        raise ValueError(f"{owner}: num_labels: expected a non-negative integer (at most {INT32_MAX}), "
                         f"found {describe(num_labels)}")
    check_allocation(num_labels * _BYTES_PER_LABEL, f"{owner}: num_labels={num_labels} (the id2label and label2id maps)")
    return num_labels


def _label_id(owner: str, field: str, value: Any) -> int:
    """A label id as id2label's keys and label2id's values hold it: an int, or its string (JSON keys)."""
    if isinstance(value, str) and len(value) <= 20:
        try:
            return int(value)
        except ValueError:
            pass
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{owner}: {field}: label ids must be integers, found {describe(value)}")


def checked_id2label(owner: str, id2label: Any) -> dict[int, str]:
    if not isinstance(id2label, dict):
        raise ValueError(f"{owner}: id2label: expected an object of label id → name, found {describe(id2label)}")
    out = {}
    for key, name in id2label.items():
        if not isinstance(name, str):
            raise ValueError(f"{owner}: id2label: label names must be strings, found {describe(name)} "
                             f"for id {describe(key)}")
        out[_label_id(owner, "id2label", key)] = name
    return out


def checked_label2id(owner: str, label2id: Any) -> dict[str, int]:
    if not isinstance(label2id, dict):
        raise ValueError(f"{owner}: label2id: expected an object of label name → id, found {describe(label2id)}")
    if not all(isinstance(name, str) for name in label2id):
        raise ValueError(f"{owner}: label2id: label names must be strings")
    return {name: _label_id(owner, "label2id", value) for name, value in label2id.items()}


def _expected_kind(field: str, default: Any) -> tuple[str, Any] | None:
    """(what a field must hold, a test) from its default's type; None for fields left unchecked."""
    if field.endswith("_token_id"):  # None or an id; eos may also be a list of ids (transformers 5)
        return "null or a token id (an integer), or a list of them", _is_token_ids
    if field == "architectures":
        return "null or a list of class names (strings)", lambda v: v is None or (
            isinstance(v, list) and all(isinstance(x, str) for x in v))
    if field == "classifier_dropout":
        return "null or a number", lambda v: v is None or _is_number(v)
    if isinstance(default, bool):
        return "true or false", lambda v: isinstance(v, bool)
    if isinstance(default, int):
        return "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)
    if isinstance(default, float):
        return "a number", _is_number
    if isinstance(default, str):
        return "a string", lambda v: v is None or isinstance(v, str)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_token_ids(value: Any) -> bool:
    if isinstance(value, list):
        return all(_is_token_ids(v) and v is not None and not isinstance(v, list) for v in value)
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


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
        owner = type(self).__name__
        for key in kwargs:  # a key naming a method or property ("validate", "__class__") would break the config
            if hasattr(type(self), key) and key not in ("num_labels", "name_or_path"):
                raise ValueError(f"{owner}: {describe(key)} is not a config field: it names a {owner} attribute")

        for key, value in _COMMON_DEFAULTS.items():
            setattr(self, key, copy.deepcopy(kwargs.pop(key, value)))
        for key, value in self._defaults.items():
            setattr(self, key, copy.deepcopy(kwargs.pop(key, value)))

        num_labels = kwargs.pop("num_labels", None)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        if num_labels is not None:
            check_num_labels(owner, num_labels)
        if id2label is not None:
            id2label = checked_id2label(owner, id2label)
        if label2id is not None:
            label2id = checked_label2id(owner, label2id)
        if id2label is not None and num_labels is not None and num_labels != len(id2label):
            # transformers' behaviour: num_labels wins, the labels become LABEL_0..LABEL_{n-1}.
            logging.getLogger("pybertcore").warning(
                "You passed `num_labels=%s` which is incompatible to the `id2label` map of length `%s`.",
                num_labels, len(id2label),
            )
            id2label = label2id = None
        if id2label is not None:
            self.id2label = id2label
        else:
            self.id2label = _default_id2label(num_labels if num_labels is not None else _DEFAULT_NUM_LABELS)
        if label2id is not None:
            self.label2id = label2id
        else:
            self.label2id = {v: k for k, v in self.id2label.items()}

        self._name_or_path = str(kwargs.pop("name_or_path", kwargs.pop("_name_or_path", "")))
        # Whatever is left is a key this class does not know: kept, and written back on save.
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.validate()
        if self.problem_type == "single_label_classification" and self.num_labels == 1:  # transformers 5's check
            raise ValueError(
                '`problem_type="single_label_classification"` requires `num_labels > 1`. For binary '
                'classification use `num_labels=2`, or use `problem_type="regression"` for a '
                "single-output regression head."
            )

    # --- checks --------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raises ValueError naming the field when a value is one the core cannot run or of the wrong type
        (every field with a default must hold that default's type, as transformers' strict configs check)."""
        owner = type(self).__name__
        for field, default in {**_COMMON_DEFAULTS, **self._defaults}.items():
            kind = _expected_kind(field, default)
            value = getattr(self, field, default)
            if kind is not None and not kind[1](value):
                raise ValueError(f"{owner}: {field}: expected {kind[0]}, found {describe(value)}")
        if self.problem_type not in (None, "regression", "single_label_classification", "multi_label_classification"):
            raise ValueError(f"{owner}: problem_type: unsupported value {describe(self.problem_type)}")
        if not isinstance(self.id2label, dict) or not isinstance(self.label2id, dict):
            raise ValueError(f"{owner}: id2label and label2id must be objects (label id ↔ name)")

    # --- labels --------------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        check_num_labels(type(self).__name__, num_labels)
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
        """Builds a config from a dict; keyword arguments that name a field of the config override it
        (``apply_config_overrides``), the others are left unused, as transformers leaves them.

        With ``return_unused_kwargs=True`` returns ``(config, unused keyword arguments)``.
        """
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        config = cls(**config_dict)
        unused = apply_config_overrides(config, kwargs)
        return (config, unused) if return_unused_kwargs else config

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike):
        config_dict = read_config_dict(json_file)
        with errors_name_file(json_file):
            return cls(**config_dict)

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
        return config_file_and_dict(pretrained_model_name_or_path, **kwargs)[1]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Reads ``config.json`` from a folder (or a JSON file path); keyword arguments that name a field
        override it, others are dropped (returned with ``return_unused_kwargs=True``), as in transformers."""
        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_KWARGS}
        path, config_dict = config_file_and_dict(pretrained_model_name_or_path, **hub_kwargs)
        model_type = config_dict.get("model_type")
        if cls.model_type and model_type and model_type != cls.model_type:
            logging.getLogger("pybertcore").warning(
                "You are using a model of type %s to instantiate a model of type %s. This is not supported "
                "for all configurations of models and can yield errors.",
                describe(model_type),
                cls.model_type,
            )
        with errors_name_file(path):
            return cls.from_dict(config_dict, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Writes ``config.json`` into ``save_directory`` (created if needed)."""
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory: {save_directory} is a file, expected a folder")
        os.makedirs(save_directory, exist_ok=True)
        self.to_json_file(os.path.join(save_directory, CONFIG_NAME), use_diff=True)


# Keyword arguments transformers' config loaders take and drop (telemetry; remote code, never run here).
DROPPED_KWARGS = ("_from_auto", "_from_pipeline", "trust_remote_code")
# Keyword arguments that are fields whether or not the config has them as attributes.
_LABEL_FIELDS = ("num_labels", "id2label", "label2id", "name_or_path")
# Keyword arguments a config takes as transformers' does, though not as attributes of its own.
_LOADING_FIELDS = ("dtype", "torch_dtype", "attn_implementation")


def is_config_field(config: PretrainedConfig, key: str) -> bool:
    """Whether from_pretrained's keyword argument ``key`` sets a field of ``config``: transformers' rule
    (``hasattr(config, key)``: the class's fields, the shared ones, keys config.json brought, aliases such
    as DistilBERT's ``hidden_size``), methods excepted."""
    if key in _LABEL_FIELDS:
        return True
    if inspect.isroutine(getattr(type(config), key, None)):
        return False
    return hasattr(config, key)


def apply_config_overrides(config: PretrainedConfig, overrides: dict[str, Any]) -> dict[str, Any]:
    """Sets from_pretrained's keyword arguments that name a field of ``config`` (``num_labels=8``,
    ``id2label=...``, ``hidden_dropout_prob=0.2``) as transformers does, and returns the others: unused,
    which a model's from_pretrained refuses (its ``__init__`` does not take them) and a config's drops.

    ``num_labels`` goes first: when it disagrees with an ``id2label`` config.json holds (a config writes it
    unless it is the default two labels) it replaces the labels with LABEL_0..LABEL_{n-1} and says so, in
    transformers' words; an ``id2label`` passed with it then names them (keys become ints).
    """
    overrides = {k: v for k, v in overrides.items() if k not in DROPPED_KWARGS}
    if not overrides:
        return {}
    unused = {k: v for k, v in overrides.items() if not is_config_field(config, k) and k not in _LOADING_FIELDS}
    overrides = {k: v for k, v in overrides.items() if k not in unused}
    if "num_labels" in overrides:
        num_labels = overrides.pop("num_labels")
        saved_labels = config.id2label != _default_id2label(_DEFAULT_NUM_LABELS)
        if num_labels != config.num_labels and saved_labels:
            logging.getLogger("pybertcore").warning(
                "You passed `num_labels=%s` which is incompatible to the `id2label` map of length `%s`.",
                num_labels, config.num_labels,
            )
        config.num_labels = num_labels
    if "id2label" in overrides:
        id2label = checked_id2label(type(config).__name__, overrides.pop("id2label"))
        config.id2label = id2label
        if "label2id" not in overrides:
            config.label2id = {v: k for k, v in id2label.items()}
    if "label2id" in overrides:
        config.label2id = checked_label2id(type(config).__name__, overrides.pop("label2id"))
    for key in ("torch_dtype", "dtype"):  # "auto" leaves the saved dtype, as in transformers
        if key in overrides:
            value = overrides.pop(key)
            if value is not None and value != "auto":
                config.dtype = str(value).replace("torch.", "")
    overrides.pop("attn_implementation", None)  # an attention kernel choice: the core has one
    for key, value in overrides.items():
        setattr(config, key, value)
    config.validate()
    return unused


def read_config_dict(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in ``path``, or a ValueError/OSError that names the file and the problem."""
    try:
        data = load_json(path, lambda reason: ValueError(f"config file {path} is {reason}"))
    except FileNotFoundError:
        raise OSError(f"config file not found: {path}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a JSON object, found {type(data).__name__}")
    return data


def config_file_and_dict(pretrained_model_name_or_path: str | os.PathLike, **hub_kwargs: Any) -> tuple[str, dict]:
    """(the config.json path, its contents with ``_name_or_path`` set to where it was loaded from)."""
    path = resolve_config_file(pretrained_model_name_or_path, **hub_kwargs)
    config_dict = read_config_dict(path)
    config_dict["_name_or_path"] = str(pretrained_model_name_or_path)  # where it was loaded from, as transformers
    return str(path), config_dict


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
