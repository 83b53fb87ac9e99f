"""How a checkpoint becomes a model's parameters: from_pretrained's arguments, the state-dict matching, the
loading report.

``parse_loading_arguments`` sorts from_pretrained's keyword arguments once, for the model classes and the
Auto classes alike (transformers' rule: what is not a loading option is a config override).
``match_state_dict`` is pure: from the checkpoint's names and shapes and the model's, it decides what loads
where (legacy ``gamma``/``beta`` names, the base-model prefix either way, tied copies) and what is missing,
unexpected or mismatched; ``report_loading`` says it in transformers' words through the ``pybertcore``
logger, or raises transformers' size-mismatch error.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("pybertcore")

# Hub options: which files (configuration_utils and hub read them).
HUB_KWARGS = ("cache_dir", "revision", "local_files_only", "token", "force_download", "subfolder", "proxies")
# from_pretrained options that say how to load rather than what (never config fields).
LOADING_KWARGS = (
    "ignore_mismatched_sizes", "output_loading_info", "dtype", "torch_dtype", "use_safetensors", "variant",
    "low_cpu_mem_usage", "device_map", "trust_remote_code", "attn_implementation", "config",
)


@dataclass
class LoadingArguments:
    """from_pretrained's keyword arguments, sorted: how to load, which files, the model's own, the config's."""

    options: dict = field(default_factory=dict)  # LOADING_KWARGS given
    hub: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)  # arguments of the model class's __init__ (add_pooling_layer)
    config_overrides: dict = field(default_factory=dict)


def parse_loading_arguments(kwargs: dict[str, Any], init_names: tuple[str, ...] = ()) -> LoadingArguments:
    """Sorts ``kwargs`` (not modified). Placement options that mean what pybertcore does anyway are accepted
    and dropped (``low_cpu_mem_usage``, ``trust_remote_code``, an ``attn_implementation`` transformers
    knows, ``device_map`` on the CPU); others raise, naming them."""
    args = LoadingArguments()
    for key, value in kwargs.items():
        if key in HUB_KWARGS:
            args.hub[key] = value
        elif key in init_names:
            args.init[key] = value
        elif key in LOADING_KWARGS:
            args.options[key] = value
        else:
            args.config_overrides[key] = value
    attn = args.options.pop("attn_implementation", None)
    if attn not in (None, "eager", "sdpa", "flash_attention_2"):
        raise ValueError(f"attn_implementation: unknown value {attn!r}")
    device_map = args.options.pop("device_map", None)
    if device_map not in (None, "cpu", "auto") and not (isinstance(device_map, dict) and set(device_map.values()) <= {"cpu"}):
        raise NotImplementedError(f"device_map={device_map!r}: pybertcore runs on the CPU only")
    args.options.pop("low_cpu_mem_usage", None)  # loading is always lean
    args.options.pop("trust_remote_code", None)  # no checkpoint code is ever run
    return args


@dataclass
class LoadReport:
    """What a checkpoint gives a model: ``values`` (model name → checkpoint array, shapes checked) and what
    did not match, in transformers' terms. ``checkpoint_names``: the keys as the checkpoint spells them."""

    values: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)  # (name, checkpoint shape, model shape)

    def as_loading_info(self) -> dict[str, list]:
        """transformers' ``output_loading_info=True`` dict."""
        return {"missing_keys": self.missing, "unexpected_keys": self.unexpected, "mismatched_keys": self.mismatched,
                "error_msgs": []}


def _rename_legacy_key(key: str) -> str:
    """Old TF-converted checkpoints name LayerNorm parameters gamma/beta."""
    key = re.sub(r"\.gamma$", ".weight", key)
    return re.sub(r"\.beta$", ".bias", key)


def match_state_dict(
    checkpoint: dict[str, Any],
    shapes: dict[str, tuple],
    state_order: list[str],
    tied: dict[str, str],
    base_model_prefix: str = "",
    ignore_unexpected: tuple[str, ...] = (),
) -> LoadReport:
    """Matches a checkpoint (name → array) against a model's parameters (``shapes``: name → shape, tied names
    excluded; ``state_order``: every state_dict name, tied ones included; ``tied``: tied name → its source).

    A head model's checkpoint loads into the bare model (its prefix dropped) and a bare model's into a head
    model (the prefix added; unused keys are then reported under the checkpoint's own names). A tied
    parameter's copy in the checkpoint stands in for its source only when the source is absent. A name is
    missing together with its tied source. ``ignore_unexpected``: patterns of keys dropped silently.
    """
    renamed = {_rename_legacy_key(key): value for key, value in checkpoint.items()}
    expected = list(shapes)
    checkpoint_name: dict[str, str] = {}
    prefix = base_model_prefix + "." if base_model_prefix else ""
    model_has_prefix = bool(prefix) and any(k.startswith(prefix) for k in expected)
    ckpt_has_prefix = bool(prefix) and any(k.startswith(prefix) for k in renamed)
    if prefix and ckpt_has_prefix and not model_has_prefix:
        renamed = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in renamed.items()}
    elif prefix and model_has_prefix and not ckpt_has_prefix:
        renamed = {prefix + k: v for k, v in renamed.items()}
        checkpoint_name = {k: k[len(prefix):] for k in renamed}

    tied_copies = {name: renamed.pop(name) for name in tied if name in renamed}
    for name, value in tied_copies.items():
        renamed.setdefault(tied[name], value)

    report = LoadReport()
    for key in expected:
        if key not in renamed:
            report.missing.append(key)
            continue
        value = renamed[key]
        if tuple(value.shape) != tuple(shapes[key]):
            report.mismatched.append((key, tuple(value.shape), tuple(shapes[key])))
        else:
            report.values[key] = value
    if tied:
        missing_sources = set(report.missing)
        report.missing = [k for k in state_order if tied.get(k, k) in missing_sources]
    for key in renamed:
        if key not in shapes and not any(re.search(p, key) for p in ignore_unexpected):
            report.unexpected.append(checkpoint_name.get(key, key))
    return report


def report_loading(report: LoadReport, source: str, cls_name: str, ignore_mismatched_sizes: bool) -> None:
    """transformers' loading messages: the size-mismatch error (unless ignored), then the warnings."""
    if report.mismatched and not ignore_mismatched_sizes:
        lines = "\n\t".join(
            f"size mismatch for {k}: copying a param with shape {list(c)} from checkpoint, "
            f"the shape in current model is {list(m)}."
            for k, c, m in report.mismatched
        )
        raise RuntimeError(
            f"Error(s) in loading state_dict for {cls_name}:\n\t{lines}\n\tYou may consider adding "
            "`ignore_mismatched_sizes=True` in the model `from_pretrained` method."
        )
    if report.unexpected:
        logger.warning(
            "Some weights of the model checkpoint at %s were not used when initializing %s: %s\n"
            "- This IS expected if you are initializing %s from the checkpoint of a model trained on another "
            "task or with another architecture (e.g. initializing a BertForSequenceClassification model from "
            "a BertForPreTraining model).\n- This IS NOT expected if you are initializing %s from the "
            "checkpoint of a model that you expect to be exactly identical (initializing a "
            "BertForSequenceClassification model from a BertForSequenceClassification model).",
            source, cls_name, report.unexpected, cls_name, cls_name,
        )
    if report.missing:
        logger.warning(
            "Some weights of %s were not initialized from the model checkpoint at %s and are newly "
            "initialized: %s\nYou should probably TRAIN this model on a down-stream task to be able to use it "
            "for predictions and inference.",
            cls_name, source, report.missing,
        )
    if report.mismatched:
        details = "\n".join(
            f"- {k}: found shape {list(c)} in the checkpoint and {list(m)} in the model instantiated"
            for k, c, m in report.mismatched
        )
        logger.warning(
            "Some weights of %s were not initialized from the model checkpoint at %s and are newly "
            "initialized because the shapes did not match:\n%s\nYou should probably TRAIN this model on a "
            "down-stream task to be able to use it for predictions and inference.",
            cls_name, source, details,
        )


def report_nonfinite(names: list[str], source: str) -> None:
    if names:
        logger.warning(
            "Some weights of the model checkpoint at %s are not finite (NaN or inf): %s\nOutputs computed from "
            "them will be NaN or inf; the checkpoint is probably damaged (a diverged training run, a bad "
            "conversion or a corrupt download).",
            source, names,
        )

