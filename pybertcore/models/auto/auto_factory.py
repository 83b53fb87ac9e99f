"""AutoConfig and AutoModel: pick the family's class from ``model_type`` in config.json.

The registries below are the one place a family is listed; adding a family is adding its row.
"""

from __future__ import annotations

import os
from typing import Any

from pybertcore.configuration_utils import _HUB_KWARGS, PretrainedConfig
from pybertcore.models.bert import BertConfig, BertModel

CONFIG_MAPPING: dict[str, type[PretrainedConfig]] = {
    "bert": BertConfig,
}

MODEL_MAPPING: dict[str, type] = {
    "bert": BertModel,
}


def _config_class_for(model_type: Any, source: str) -> type[PretrainedConfig]:
    if model_type not in CONFIG_MAPPING:
        raise ValueError(
            f"{source}: model_type {model_type!r} is not supported by pybertcore; supported model types: "
            f"{', '.join(sorted(CONFIG_MAPPING))}"
        )
    return CONFIG_MAPPING[model_type]


class AutoConfig:
    """``AutoConfig.from_pretrained(path)`` returns the config class its ``model_type`` names."""

    def __init__(self) -> None:
        raise OSError("AutoConfig is designed to be instantiated with AutoConfig.from_pretrained(path)")

    @classmethod
    def for_model(cls, model_type: str, **kwargs: Any) -> PretrainedConfig:
        return _config_class_for(model_type, "for_model")(**kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _HUB_KWARGS}
        config_dict = PretrainedConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        config_class = _config_class_for(config_dict.get("model_type"), str(pretrained_model_name_or_path))
        return config_class.from_dict(config_dict, **kwargs)


class _BaseAutoModelClass:
    _model_mapping: dict[str, type] = {}

    def __init__(self) -> None:
        raise OSError(
            f"{type(self).__name__} is designed to be instantiated with {type(self).__name__}.from_pretrained(path) "
            f"or {type(self).__name__}.from_config(config)"
        )

    @classmethod
    def _model_class_for(cls, config: PretrainedConfig) -> type:
        model_type = config.model_type
        if model_type not in cls._model_mapping:
            raise ValueError(
                f"{cls.__name__} has no model for model_type {model_type!r}; supported model types: "
                f"{', '.join(sorted(cls._model_mapping))}"
            )
        return cls._model_mapping[model_type]

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        return cls._model_class_for(config)(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any):
        config = kwargs.pop("config", None)
        if config is None:
            hub_kwargs = {k: kwargs[k] for k in kwargs if k in _HUB_KWARGS}
            config_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if not _is_loading_kwarg(k)}
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path, **hub_kwargs, **config_kwargs)
        model_class = cls._model_class_for(config)
        return model_class.from_pretrained(pretrained_model_name_or_path, *model_args, config=config, **kwargs)


_LOADING_KWARGS = ("ignore_mismatched_sizes", "output_loading_info", "dtype", "torch_dtype") + _HUB_KWARGS


def _is_loading_kwarg(key: str) -> bool:
    return key in _LOADING_KWARGS or key in ("add_pooling_layer",)


class AutoModel(_BaseAutoModelClass):
    """``AutoModel.from_pretrained(path)`` loads the bare encoder of the family ``config.json`` names."""

    _model_mapping = MODEL_MAPPING
