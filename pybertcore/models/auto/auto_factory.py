"""AutoConfig and AutoModel: pick the family's class from ``model_type`` in config.json.

The registries below are the one place a family is listed; adding a family is adding its row.
"""

from __future__ import annotations

import os
from typing import Any

from pybertcore import models as _models
from pybertcore.configuration_utils import PretrainedConfig, apply_config_overrides, config_file_and_dict
from pybertcore.loading import HUB_KWARGS, parse_loading_arguments
from pybertcore.modeling_utils import check_dtype_argument
from pybertcore.untrusted import describe, errors_name_file

# model_type → (sub-package of pybertcore.models, class-name stem). One row per family.
FAMILIES: dict[str, tuple[str, str]] = {
    "bert": ("bert", "Bert"),
    "distilbert": ("distilbert", "DistilBert"),
    "roberta": ("roberta", "Roberta"),
    "xlm-roberta": ("xlm_roberta", "XLMRoberta"),
    "camembert": ("camembert", "Camembert"),
    "electra": ("electra", "Electra"),
    "albert": ("albert", "Albert"),
    "mpnet": ("mpnet", "MPNet"),
    "nomic_bert": ("nomic_bert", "NomicBert"),
    "gte": ("gte", "Gte"),
    "new": ("gte", "Gte"),  # GTE's remote-code checkpoints (Alibaba-NLP/gte-*-v1.5): read as GTE
    "modernbert": ("modernbert", "ModernBert"),
    "deberta-v2": ("deberta_v2", "DebertaV2"),
}


def _mapping(suffix: str) -> dict[str, type]:
    """model_type → the family's class named <stem><suffix>, for the families that have that head (as in
    transformers, NomicBERT and GTE have no question-answering or multiple-choice head)."""
    import importlib

    out = {}
    for model_type, (module, stem) in FAMILIES.items():
        package = importlib.import_module(f"{_models.__name__}.{module}")
        if hasattr(package, stem + suffix):
            out[model_type] = getattr(package, stem + suffix)
    return out


CONFIG_MAPPING: dict[str, type[PretrainedConfig]] = _mapping("Config")
MODEL_MAPPING: dict[str, type] = _mapping("Model")
MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING: dict[str, type] = _mapping("ForSequenceClassification")
MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING: dict[str, type] = _mapping("ForTokenClassification")
MODEL_FOR_QUESTION_ANSWERING_MAPPING: dict[str, type] = _mapping("ForQuestionAnswering")
MODEL_FOR_MASKED_LM_MAPPING: dict[str, type] = _mapping("ForMaskedLM")
MODEL_FOR_MULTIPLE_CHOICE_MAPPING: dict[str, type] = _mapping("ForMultipleChoice")


def _config_class_for(model_type: Any, source: str) -> type[PretrainedConfig]:
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
        raise ValueError(
            f"{source}: model_type {describe(model_type)} is not supported by pybertcore; supported model types: "
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
        hub_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_KWARGS}
        path, config_dict = config_file_and_dict(pretrained_model_name_or_path, **hub_kwargs)
        config_class = _config_class_for(config_dict.get("model_type"), path)
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        with errors_name_file(path):
            config = config_class.from_dict(config_dict)
        unused = apply_config_overrides(config, kwargs)  # num_labels before id2label, as transformers
        return (config, unused) if return_unused_kwargs else config


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
        """A randomly initialised model of the config's family. ``dtype``/``torch_dtype`` choose the compute
        precision and ``attn_implementation`` is checked, as from_pretrained takes them; other keyword
        arguments go to the model's ``__init__`` (TypeError for those it does not take, as transformers)."""
        dtype = kwargs.pop("dtype", None)
        torch_dtype = kwargs.pop("torch_dtype", None)
        compute_dtype = check_dtype_argument(dtype if dtype is not None else torch_dtype)
        parse_loading_arguments({"attn_implementation": kwargs.pop("attn_implementation", None)})
        model = cls._model_class_for(config)(config, **kwargs)
        return model.to(compute_dtype) if compute_dtype is not None else model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any):
        config = kwargs.pop("config", None)
        if config is None:
            # The config's own fields (num_labels=...) go to the config; the rest, with those the config does
            # not have, to the model class (whose from_pretrained refuses what its __init__ does not take).
            args = parse_loading_arguments(kwargs, init_names=("add_pooling_layer",))
            config, unused = AutoConfig.from_pretrained(
                pretrained_model_name_or_path, **args.hub, **args.config_overrides, return_unused_kwargs=True
            )
            kwargs = {k: v for k, v in kwargs.items() if k not in args.config_overrides or k in unused}
        model_class = cls._model_class_for(config)
        return model_class.from_pretrained(pretrained_model_name_or_path, *model_args, config=config, **kwargs)


class AutoModel(_BaseAutoModelClass):
    """``AutoModel.from_pretrained(path)`` loads the bare encoder of the family ``config.json`` names."""

    _model_mapping = MODEL_MAPPING


class AutoModelForSequenceClassification(_BaseAutoModelClass):
    """The family's ``...ForSequenceClassification``: ``logits`` (B, num_labels)."""

    _model_mapping = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING


class AutoModelForTokenClassification(_BaseAutoModelClass):
    """The family's ``...ForTokenClassification``: ``logits`` (B, T, num_labels)."""

    _model_mapping = MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING


class AutoModelForQuestionAnswering(_BaseAutoModelClass):
    """The family's ``...ForQuestionAnswering``: ``start_logits`` and ``end_logits`` (B, T)."""

    _model_mapping = MODEL_FOR_QUESTION_ANSWERING_MAPPING


class AutoModelForMaskedLM(_BaseAutoModelClass):
    """The family's ``...ForMaskedLM``: ``logits`` (B, T, V)."""

    _model_mapping = MODEL_FOR_MASKED_LM_MAPPING


class AutoModelForMultipleChoice(_BaseAutoModelClass):
    """The family's ``...ForMultipleChoice``: ``logits`` (B, C) for inputs (B, C, T)."""

    _model_mapping = MODEL_FOR_MULTIPLE_CHOICE_MAPPING
