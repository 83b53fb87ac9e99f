"""pybertcore: BERT-family encoders on the CPU with a C++ SIMD core and transformers' Python API.

    >>> from pybertcore import BertConfig, BertModel, AutoModel
    >>> model = AutoModel.from_pretrained("path/to/folder")
    >>> out = model([[101, 7592, 999, 102]])
    >>> out.last_hidden_state.shape
"""

from __future__ import annotations

import os as _os

from pybertcore import _core
from pybertcore.configuration_utils import PretrainedConfig, PreTrainedConfig
from pybertcore.modeling_outputs import BaseModelOutput, BaseModelOutputWithPoolingAndCrossAttentions, ModelOutput
from pybertcore.modeling_utils import PreTrainedModel, set_seed
from pybertcore.models.auto import AutoConfig, AutoModel
from pybertcore.models.bert import BertConfig, BertModel, BertPreTrainedModel
from pybertcore.pipelines import Pipeline, pipeline
from pybertcore.sentence import SentenceEncoder
from pybertcore.tokenization import (
    AutoTokenizer,
    BatchEncoding,
    BertTokenizer,
    BertTokenizerFast,
    PreTrainedTokenizerFast,
)

__version__ = "0.1.0"

# A bad PYBERTCORE_ISA must not pass silently: the core ignores what it cannot parse, so check it here.
if _os.environ.get("PYBERTCORE_ISA"):
    _core.parse_isa(_os.environ["PYBERTCORE_ISA"])


def cpu_info() -> dict:
    """What the core detected and uses: ISA levels, threads."""
    return {
        "detected_isa": _core.detected_isa(),
        "active_isa": _core.active_isa(),
        "compiled_isas": _core.compiled_isas(),
        "num_threads": _core.get_num_threads(),
    }


def set_num_threads(n: int) -> None:
    """Threads the core's OpenMP regions use."""
    _core.set_num_threads(n)


def get_num_threads() -> int:
    return _core.get_num_threads()


__all__ = [
    "AutoConfig",
    "AutoModel",
    "AutoTokenizer",
    "BatchEncoding",
    "BaseModelOutput",
    "BaseModelOutputWithPoolingAndCrossAttentions",
    "BertConfig",
    "BertModel",
    "BertPreTrainedModel",
    "BertTokenizer",
    "BertTokenizerFast",
    "ModelOutput",
    "PreTrainedConfig",
    "PreTrainedModel",
    "PreTrainedTokenizerFast",
    "Pipeline",
    "PretrainedConfig",
    "SentenceEncoder",
    "cpu_info",
    "get_num_threads",
    "pipeline",
    "set_num_threads",
    "set_seed",
]
