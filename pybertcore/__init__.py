"""pybertcore: BERT-family encoders on the CPU with a C++ SIMD core and transformers' Python API.

    >>> from pybertcore import BertConfig, BertModel, AutoModel
    >>> model = AutoModel.from_pretrained("path/to/folder")
    >>> out = model([[101, 7592, 999, 102]])
    >>> out.last_hidden_state.shape
"""

from __future__ import annotations

import os as _os

try:
    from pybertcore import _core
except ImportError as _error:  # the source tree, not an installed or in-place built package
    raise ImportError(
        f"pybertcore's compiled core (_core) is missing from {_os.path.dirname(__file__)}: this is the source "
        "tree, not an installed package. Install it with `pip install .` and run from outside the repository "
        "root (or use the `pybertcore` console script), or build it in place (README, Development)."
    ) from _error
from pybertcore.configuration_utils import PretrainedConfig, PreTrainedConfig
from pybertcore.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithCrossAttentions,
    BaseModelOutputWithPooling,
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    ModelOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from pybertcore.modeling_utils import PreTrainedModel, set_seed
from pybertcore.models.auto import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from pybertcore.models.bert import (
    BertConfig,
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)
from pybertcore.models.distilbert import (
    DistilBertConfig,
    DistilBertForMaskedLM,
    DistilBertForMultipleChoice,
    DistilBertForQuestionAnswering,
    DistilBertForSequenceClassification,
    DistilBertForTokenClassification,
    DistilBertModel,
    DistilBertPreTrainedModel,
)
from pybertcore.models.roberta import (
    RobertaConfig,
    RobertaForMaskedLM,
    RobertaForMultipleChoice,
    RobertaForQuestionAnswering,
    RobertaForSequenceClassification,
    RobertaForTokenClassification,
    RobertaModel,
    RobertaPreTrainedModel,
)
from pybertcore.models.mpnet import (
    MPNetConfig,
    MPNetForMaskedLM,
    MPNetForMultipleChoice,
    MPNetForQuestionAnswering,
    MPNetForSequenceClassification,
    MPNetForTokenClassification,
    MPNetModel,
    MPNetPreTrainedModel,
)
from pybertcore.models.deberta_v2 import (
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    DebertaV2ForMultipleChoice,
    DebertaV2ForQuestionAnswering,
    DebertaV2ForSequenceClassification,
    DebertaV2ForTokenClassification,
    DebertaV2Model,
    DebertaV2PreTrainedModel,
)
from pybertcore.models.modernbert import (
    ModernBertConfig,
    ModernBertForMaskedLM,
    ModernBertForMultipleChoice,
    ModernBertForQuestionAnswering,
    ModernBertForSequenceClassification,
    ModernBertForTokenClassification,
    ModernBertModel,
    ModernBertPreTrainedModel,
)
from pybertcore.models.nomic_bert import (
    NomicBertConfig,
    NomicBertForMaskedLM,
    NomicBertForSequenceClassification,
    NomicBertForTokenClassification,
    NomicBertModel,
    NomicBertPreTrainedModel,
)
from pybertcore.models.gte import (
    GteConfig,
    GteForMaskedLM,
    GteForSequenceClassification,
    GteForTokenClassification,
    GteModel,
    GtePreTrainedModel,
)
from pybertcore.models.xlm_roberta import (
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
    XLMRobertaForMultipleChoice,
    XLMRobertaForQuestionAnswering,
    XLMRobertaForSequenceClassification,
    XLMRobertaForTokenClassification,
    XLMRobertaModel,
    XLMRobertaPreTrainedModel,
)
from pybertcore.models.camembert import (
    CamembertConfig,
    CamembertForMaskedLM,
    CamembertForMultipleChoice,
    CamembertForQuestionAnswering,
    CamembertForSequenceClassification,
    CamembertForTokenClassification,
    CamembertModel,
    CamembertPreTrainedModel,
)
from pybertcore.models.electra import (
    ElectraConfig,
    ElectraForMaskedLM,
    ElectraForMultipleChoice,
    ElectraForQuestionAnswering,
    ElectraForSequenceClassification,
    ElectraForTokenClassification,
    ElectraModel,
    ElectraPreTrainedModel,
)
from pybertcore.models.albert import (
    AlbertConfig,
    AlbertForMaskedLM,
    AlbertForMultipleChoice,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
    AlbertPreTrainedModel,
)
from pybertcore.pipelines import Pipeline, pipeline
from pybertcore.precision import accuracy_report
from pybertcore.cross_encoder import CrossEncoder
from pybertcore.sentence import SentenceEncoder, SentenceTransformer
from pybertcore.sentence_utils import quantize_embeddings
from pybertcore.sparse_encoder import SparseEncoder
from pybertcore import util
from pybertcore.util import SimilarityFunction
from pybertcore.batch_encoding import BatchEncoding
from pybertcore.tokenization import (
    AlbertTokenizer,
    AlbertTokenizerFast,
    AutoTokenizer,
    BertTokenizer,
    BertTokenizerFast,
    DebertaV2Tokenizer,
    DebertaV2TokenizerFast,
    DistilBertTokenizer,
    DistilBertTokenizerFast,
    MPNetTokenizer,
    MPNetTokenizerFast,
    PreTrainedTokenizerFast,
    RobertaTokenizer,
    RobertaTokenizerFast,
    XLMRobertaTokenizer,
    XLMRobertaTokenizerFast,
)

__version__ = "0.1.0"

# A bad PYBERTCORE_ISA must not pass silently: the core ignores what it cannot parse, so check it here.
if _os.environ.get("PYBERTCORE_ISA"):
    _core.parse_isa(_os.environ["PYBERTCORE_ISA"])
_core.parse_amx(_os.environ.get("PYBERTCORE_AMX", ""))  # likewise: "1", "0" or unset
from pybertcore import thread_budget as _thread_budget

_thread_budget.check_environment()  # a bad PYBERTCORE_NUM_THREADS, by name


def cpu_info() -> dict:
    """What the core detected and uses.

    detected_isa: the best level this CPU and OS support; compiled_isas: the levels in this build;
    active_isa: the level new models are packed for (PYBERTCORE_ISA may lower it); num_threads: threads
    each call uses, and num_threads_source, where that number came from, first found wins:
    "set_num_threads", "PYBERTCORE_NUM_THREADS", "OMP_NUM_THREADS", "cgroup" (the cgroup CPU quota) or
    "affinity" (the affinity mask); default_num_threads: the budget without set_num_threads; affinity_cpus,
    cgroup_cpus (0 when no quota). tokenizer_threads / tokenizer_threads_source: the tokenizers package's
    pool, capped to the budget (pybertcore/thread_budget.py). bf16_kernel / int8_kernel: the low-precision GEMMs the active level runs;
    avx512_bf16, avx512_vnni, amx_tile, amx_bf16, amx_int8: CPUID (with the OS's register state);
    amx_permitted: Linux granted the AMX tile data (always False without AMX); amx_kernels: whether the
    bf16 / int8 GEMMs run on AMX tiles (the `amx` level: the default where detected, PYBERTCORE_AMX=0 opts
    out); amx_status: "on", or why they are off.
    """
    t = _core.thread_info()
    lowp = _core.lowp_info()
    return {
        "detected_isa": _core.detected_isa(),
        "active_isa": _core.active_isa(),
        "compiled_isas": _core.compiled_isas(),
        "num_threads": _core.get_num_threads(),
        "num_threads_source": t["source"],
        "default_num_threads": t["default_threads"],
        "affinity_cpus": t["affinity_cpus"],
        "cgroup_cpus": t["cgroup_cpus"],
        **_thread_budget.tokenizer_pool_info(),
        "bf16_kernel": lowp["bf16_kernel"],
        "int8_kernel": lowp["int8_kernel"],
        **{k: lowp[k] for k in ("avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8", "amx_permitted",
                                "amx_kernels", "amx_status")},
    }


def set_num_threads(n: int) -> None:
    """Threads each call of the core may use, process-wide. It overrides the default: PYBERTCORE_NUM_THREADS,
    else OMP_NUM_THREADS, else the CPUs this process may use (affinity mask and cgroup quota). Calls made at
    the same time from several Python threads share this budget rather than each starting a full team. Set
    before the first tokenization, it also sizes the tokenizers package's pool (see cpu_info())."""
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The thread budget set by set_num_threads, or its default."""
    return _core.get_num_threads()


__all__ = [
    "SimilarityFunction",
    "util",
    "AlbertConfig",
    "AlbertForMaskedLM",
    "AlbertForMultipleChoice",
    "AlbertForQuestionAnswering",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertModel",
    "AlbertPreTrainedModel",
    "AlbertTokenizer",
    "AlbertTokenizerFast",
    "AutoConfig",
    "AutoModel",
    "AutoModelForMaskedLM",
    "AutoModelForMultipleChoice",
    "AutoModelForQuestionAnswering",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoTokenizer",
    "BaseModelOutput",
    "BaseModelOutputWithCrossAttentions",
    "BaseModelOutputWithPooling",
    "BaseModelOutputWithPoolingAndCrossAttentions",
    "BatchEncoding",
    "BertConfig",
    "BertForMaskedLM",
    "BertForMultipleChoice",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "BertPreTrainedModel",
    "BertTokenizer",
    "BertTokenizerFast",
    "CamembertConfig",
    "CamembertForMaskedLM",
    "CamembertForMultipleChoice",
    "CamembertForQuestionAnswering",
    "CamembertForSequenceClassification",
    "CamembertForTokenClassification",
    "CamembertModel",
    "CamembertPreTrainedModel",
    "CrossEncoder",
    "DebertaV2Tokenizer",
    "DebertaV2TokenizerFast",
    "DistilBertConfig",
    "DistilBertForMaskedLM",
    "DistilBertForMultipleChoice",
    "DistilBertForQuestionAnswering",
    "DistilBertForSequenceClassification",
    "DistilBertForTokenClassification",
    "DistilBertModel",
    "DistilBertPreTrainedModel",
    "DistilBertTokenizer",
    "DistilBertTokenizerFast",
    "ElectraConfig",
    "ElectraForMaskedLM",
    "ElectraForMultipleChoice",
    "ElectraForQuestionAnswering",
    "ElectraForSequenceClassification",
    "ElectraForTokenClassification",
    "ElectraModel",
    "ElectraPreTrainedModel",
    "MPNetTokenizer",
    "MPNetTokenizerFast",
    "MaskedLMOutput",
    "ModelOutput",
    "MultipleChoiceModelOutput",
    "PreTrainedConfig",
    "PreTrainedModel",
    "PreTrainedTokenizerFast",
    "Pipeline",
    "PretrainedConfig",
    "QuestionAnsweringModelOutput",
    "NomicBertConfig",
    "NomicBertForMaskedLM",
    "NomicBertForSequenceClassification",
    "NomicBertForTokenClassification",
    "NomicBertModel",
    "NomicBertPreTrainedModel",
    "GteConfig",
    "GteForMaskedLM",
    "GteForSequenceClassification",
    "GteForTokenClassification",
    "GteModel",
    "GtePreTrainedModel",
    "DebertaV2Config",
    "DebertaV2ForMaskedLM",
    "DebertaV2ForMultipleChoice",
    "DebertaV2ForQuestionAnswering",
    "DebertaV2ForSequenceClassification",
    "DebertaV2ForTokenClassification",
    "DebertaV2Model",
    "DebertaV2PreTrainedModel",
    "ModernBertConfig",
    "ModernBertForMaskedLM",
    "ModernBertForMultipleChoice",
    "ModernBertForQuestionAnswering",
    "ModernBertForSequenceClassification",
    "ModernBertForTokenClassification",
    "ModernBertModel",
    "ModernBertPreTrainedModel",
    "MPNetConfig",
    "MPNetForMaskedLM",
    "MPNetForMultipleChoice",
    "MPNetForQuestionAnswering",
    "MPNetForSequenceClassification",
    "MPNetForTokenClassification",
    "MPNetModel",
    "MPNetPreTrainedModel",
    "RobertaConfig",
    "RobertaForMaskedLM",
    "RobertaForMultipleChoice",
    "RobertaForQuestionAnswering",
    "RobertaForSequenceClassification",
    "RobertaForTokenClassification",
    "RobertaModel",
    "RobertaPreTrainedModel",
    "RobertaTokenizer",
    "RobertaTokenizerFast",
    "SentenceEncoder",
    "SentenceTransformer",
    "SequenceClassifierOutput",
    "SparseEncoder",
    "TokenClassifierOutput",
    "XLMRobertaConfig",
    "XLMRobertaForMaskedLM",
    "XLMRobertaForMultipleChoice",
    "XLMRobertaForQuestionAnswering",
    "XLMRobertaForSequenceClassification",
    "XLMRobertaForTokenClassification",
    "XLMRobertaModel",
    "XLMRobertaPreTrainedModel",
    "XLMRobertaTokenizer",
    "XLMRobertaTokenizerFast",
    "cpu_info",
    "accuracy_report",
    "get_num_threads",
    "pipeline",
    "quantize_embeddings",
    "set_num_threads",
    "set_seed",
]
