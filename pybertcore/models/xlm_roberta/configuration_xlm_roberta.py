"""XLMRobertaConfig: RoBERTa's fields; transformers' defaults (vocab_size 30522, as transformers has it)."""

from __future__ import annotations

from typing import Any

from pybertcore.models.roberta.configuration_roberta import ROBERTA_DEFAULTS, RobertaConfig


class XLMRobertaConfig(RobertaConfig):
    model_type = "xlm-roberta"
    _defaults: dict[str, Any] = {**ROBERTA_DEFAULTS, "vocab_size": 30522}
