"""Sentence embeddings: sentence-transformers' ``SentenceTransformer`` on pybertcore's encoder, without torch.

``SentenceEncoder(folder)`` (also ``SentenceTransformer``, ``SentenceEncoder.from_pretrained``) reads a
sentence-transformers folder: ``modules.json`` (Transformer, Pooling, optional Dense with safetensors
weights, Normalize), the pooling config (``1_Pooling/config.json``: cls / max / mean / mean_sqrt_len_tokens /
weightedmean / lasttoken, concatenated in sentence-transformers' order, and ``include_prompt``),
``sentence_bert_config.json`` (``max_seq_length``, ``do_lower_case``) and ``config_sentence_transformers.json``
(``prompts``, ``default_prompt_name``, ``similarity_fn_name``, ``truncate_dim``). A plain checkpoint (no
``modules.json``) gets mean pooling and the model's own length limit. A StaticEmbedding model (a token
table averaged per text, then optional Dense / Normalize: sentence_static.py) runs without a transformer.
An asymmetric model (a ``Router`` first, then optional Dense / Normalize) holds one such pipeline per route,
each a SentenceEncoder of its own, and encodes each call on the route its ``task`` picks (``encode_query``:
"query", ``encode_document``: "document"; the rule: module_files.py); prompts, truncate_dim and precision
stay the model's.

``encode`` prepends the resolved prompt, tokenizes everything once, sorts the texts by token count so each
batch carries little padding, runs the batches, restores the original order, then cuts to ``truncate_dim``,
normalises if asked and quantizes (``precision``) over the whole call, in sentence-transformers' order.
Inputs longer than ``max_seq_length`` tokens are cut, with one warning per call (logger "pybertcore").

Files are untrusted: a module file that is not the JSON it should be raises OSError naming it, a field of
the wrong type or value ValueError naming the file and the field, Dense weights CheckpointError (a
ValueError) naming the weights file; module paths must stay inside the model folder.

``save`` writes the folder back in sentence-transformers 6's layout, which both libraries load to the same
embeddings. A multi-process pool (``start_multi_process_pool``, ``encode(pool=...)``, a list of CPU devices)
is taken and encodes in this process: the core already spreads one call over every core.

Pooling runs on the packed rows (no padded (B, T, H) states): mean or CLS alone in the core, the other
modes, and any mode with the prompt left out, in numpy over each text's rows (``pool_packed``).

Numerics: the encoder matches transformers within 1e-4; pooling sums in double, so embeddings agree
with sentence-transformers to a cosine of 1 - 1e-6 or better; quantized codes are equal wherever the float
inputs round to the same bucket. Dense layers run on the core's GEMM, so a text's vector is the same bits
alone and in any batch (numpy's matmul is not: BLAS sums one row in another order than many). Left out:
training (``fit`` and ``evaluate`` raise NotImplementedError), model cards. Deliberately unlike
sentence-transformers (no torch unless asked): ``similarity`` of numpy arrays, token embeddings and the
features ``output_value=None`` gives are numpy; ``encode([])`` is (0, D) float32, not sentence-transformers'
(0,) float64.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import numpy as np

from pybertcore import _core
from pybertcore.checkpoints import CheckpointError, save_safetensors
from pybertcore.frameworks import import_torch
from pybertcore.hub import resolve_sentence_folder
from pybertcore.module_files import ROUTER_TYPE, ROUTER_TYPES, load_router, module_entries, read_json
from pybertcore.sentence_modules import module_list
from pybertcore.sentence_static import STATIC_EMBEDDING_TYPE, StaticEmbedding, check_static_modules, module_tensors
from pybertcore.models.encoder_model import packed_sequences
from pybertcore.tokenization import model_takes_token_types, model_token_limit
from pybertcore.sentence_utils import (
    as_requested,
    ALLOWED_PRECISIONS,
    NO_INPUTS,
    SIMILARITY_FN_NAMES,
    check_batch_size,
    check_cpu_devices,
    check_encode_extras,
    check_truncate_dim,
    folder_of_modules,
    inputs_argument,
    length_sorted_batches,
    load_transformer,
    loading_arguments,
    merge_prompts,
    padded_batch,
    quantize_embeddings,
    read_model_config,
    reject_unknown,
    resolve_prompt,
    save_transformer_module,
    similarity,
    similarity_name,
    TRANSFORMER_MODULE,
    TransformerHolder,
    texts_of,
    warn_once,
    warn_truncated,
    write_folder_description,
    write_json,
)
from pybertcore.untrusted import describe, errors_name_file

logger = logging.getLogger("pybertcore")

POOLING_ORDER = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x))  # no overflow for large |x|


def _identity(x: np.ndarray) -> np.ndarray:
    return x


# A Dense module's activation by torch class name (sentence-transformers saves "torch.nn.modules.activation.Tanh";
# older folders "torch.nn.Tanh"): the core's fused activation, then one in numpy. Tanh stays numpy's, as it
# always was here; GELU (exact, torch's default) and SiLU are the core's, as the encoder computes them.
_ACTIVATIONS = {
    "Tanh": (None, np.tanh),
    "Identity": (None, _identity),
    "ReLU": (None, lambda x: np.maximum(x, 0)),
    "Sigmoid": (None, _sigmoid),
    "GELU": ("gelu_erf", _identity),
    "SiLU": ("silu", _identity),
}


def pooling_modes_from_config(config: dict) -> tuple[str, ...]:
    """The pooling modes a Pooling config.json names, in sentence-transformers' concatenation order."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode) if isinstance(mode, list) else (mode,)
        if not modes or not all(isinstance(m, str) for m in modes):
            raise ValueError(f"pooling_mode: expected a mode name or a list of them, found {describe(mode)}")
    else:
        modes = tuple(m for key, m in _LEGACY_POOLING_KEYS.items() if config.get(key, False)) or ("mean",)
    for mode in modes:
        if mode not in POOLING_ORDER:
            raise ValueError(f"pooling mode {describe(mode)} is unknown; known modes: {', '.join(POOLING_ORDER)}")
    return modes


def pool_packed(rows: np.ndarray, index: np.ndarray, mask: np.ndarray, modes: Iterable[str],
                skip: int = 0) -> np.ndarray:
    """Sentence vectors (B, len(modes) · H), as sentence-transformers' Pooling makes them from the padded
    states, here from the core's packed rows: ``rows`` (N, H) at flat places ``index`` of the (B, T) batch
    whose attention mask is ``mask`` (every sequence's position 0 among them, csrc/model/io.h). ``skip``:
    the prompt's tokens, left out of pooling (``include_prompt: false``) after any left padding.

    One sequence at a time, on its own rows (numpy's reduceat over the whole batch was ~8x slower than these
    per-sequence reductions); sums in float64, row by row."""
    B, T = mask.shape
    N, H = rows.shape
    starts, real = packed_sequences(mask, index)
    ends = np.r_[starts[1:], N]
    first_real = mask.argmax(axis=1)  # sentence-transformers' pad length
    out = np.empty((B, len(modes) * H), dtype=np.float32)
    for b in range(B):
        x, pos = rows[starts[b]:ends[b]], index[starts[b]:ends[b]] - b * T
        pooled = real[starts[b]:ends[b]] & (pos >= first_real[b] + skip)
        kept = x if pooled.all() else x[pooled]  # the pooled rows, in order
        total = None  # their sum, shared by mean and mean_sqrt_len_tokens
        for j, mode in enumerate(modes):
            if mode == "cls":  # the first pooled token, else position 0 (the argmax of an all-zero mask)
                vec = kept[0] if len(kept) else x[0]
            elif mode == "max":  # -inf where nothing is pooled, as masked_fill(-inf).max
                vec = kept.max(axis=0) if len(kept) else np.float32(-np.inf)
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                if total is None:
                    total = kept.sum(axis=0, dtype=np.float64)
                count = max(len(kept), 1e-9)
                vec = total / (count if mode == "mean" else np.sqrt(count))
            elif mode == "weightedmean":  # weights 1, 2, ... from the first real token, as sentence-transformers
                w = (pos[pooled] + 1 - first_real[b]).astype(np.float32)
                vec = (kept * w[:, None]).sum(axis=0, dtype=np.float64) / max(w.sum(dtype=np.float64), 1e-9)
            elif mode == "lasttoken":  # the last pooled token, else zeros
                vec = kept[-1] if len(kept) else np.float32(0)
            else:
                raise ValueError(f"pooling mode {mode!r} is not supported")
            out[b, j * H:(j + 1) * H] = vec
    return out


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalised rows, as torch.nn.functional.normalize (eps 1e-12)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class _Dense:
    """sentence-transformers' Dense module: activation(x @ W.T + b), weights from model.safetensors or
    pytorch_model.bin (older models, e.g. distiluse's, have only the latter)."""

    def __init__(self, folder: Path) -> None:
        config_file = folder / "config.json"
        config = read_json(config_file)
        name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if not isinstance(name, str):
            raise ValueError(f"{config_file}: activation_function: expected a string, found {describe(name)}")
        class_name = name.rsplit(".", 1)[-1]
        if not name.startswith("torch.nn.") or class_name not in _ACTIVATIONS:
            raise NotImplementedError(f"{folder}: Dense activation {describe(name)} is not supported by pybertcore "
                                      f"(supported: torch.nn's {', '.join(_ACTIVATIONS)})")
        fused, self.activation = _ACTIVATIONS[class_name]
        self.fused_activation = _core.Activation.identity if fused is None else getattr(_core.Activation, fused)
        self.activation_function = name  # written back by SentenceEncoder.save
        tensors, weights_file = module_tensors(folder, "Dense")  # safetensors, else .bin (read without pickle)
        weight, bias = tensors.get("linear.weight"), tensors.get("linear.bias")
        if weight is None or weight.ndim != 2 or not np.issubdtype(weight.dtype, np.floating):
            raise CheckpointError(f"{weights_file}: a Dense module needs linear.weight, a 2-D float tensor; "
                                  f"found {'none' if weight is None else f'{weight.dtype} of shape {weight.shape}'}")
        if bias is not None and (bias.shape != weight.shape[:1] or not np.issubdtype(bias.dtype, np.floating)):
            raise CheckpointError(f"{weights_file}: linear.bias has shape {bias.shape} ({bias.dtype}); "
                                  f"expected ({weight.shape[0]},) floats for linear.weight of shape {weight.shape}")
        self.folder, self.weights_file = folder, weights_file
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = None if bias is None else bias.astype(np.float32)
        for array in (self.weight, self.bias):
            if array is not None:
                array.flags.writeable = False  # changes come as new arrays, which pickling can tell apart
        self._loaded = (self.weight, self.bias)

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    def get_embedding_dimension(self) -> int:
        return self.out_features

    def __repr__(self) -> str:
        return (f"Dense({{'in_features': {self.in_features}, 'out_features': {self.out_features}, "
                f"'bias': {self.bias is not None}, 'activation_function': '{self.activation_function}'}})")

    def __reduce__(self) -> tuple:
        """Its folder (pybertcore.recipes), and the weight or bias only if a new one was assigned since."""
        weight, bias = self._loaded
        return (_rebuild_dense, (self.folder, None if self.weight is weight else self.weight,
                                 None if self.bias is bias else self.bias))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # The core's Dense, not numpy's matmul: BLAS picks a different summation order for one row than for
        # many, so a text's vector would depend on its batch. Packed again when a new weight or bias is set.
        packed_from = getattr(self, "_packed_from", (None, None))
        if packed_from[0] is not self.weight or packed_from[1] is not self.bias:
            self._packed = _core.Dense(np.ascontiguousarray(self.weight, dtype=np.float32),
                                       None if self.bias is None else np.ascontiguousarray(self.bias, dtype=np.float32))
            self._packed_from = (self.weight, self.bias)
        y = self._packed.forward(np.ascontiguousarray(x, dtype=np.float32), activation=self.fused_activation)
        return self.activation(y).astype(np.float32, copy=False)


def _rebuild_dense(folder: Path, weight: Optional[np.ndarray], bias: Optional[np.ndarray]) -> _Dense:
    layer = _Dense(folder)
    if weight is not None:
        layer.weight = weight
    if bias is not None:
        layer.bias = bias
    return layer


def _sentence_bert_config(path: Path) -> tuple[Optional[int], bool]:
    """(max_seq_length, do_lower_case) from sentence_bert_config.json."""
    config = read_json(path)
    max_seq_length, do_lower_case = config.get("max_seq_length"), config.get("do_lower_case", False)
    if max_seq_length is not None and (isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int)
                                       or max_seq_length < 1):
        raise ValueError(f"{path}: max_seq_length: expected a positive integer, found {describe(max_seq_length)}")
    if not isinstance(do_lower_case, bool):
        raise ValueError(f"{path}: do_lower_case: expected true or false, found {describe(do_lower_case)}")
    return max_seq_length, do_lower_case


def _check_dense_inputs(dense: list, widths: list) -> None:
    """Each Dense layer must take the width the module before it gives (``widths``: the first layer's input,
    one value per route that feeds it)."""
    for layer in dense:
        if any(layer.weight.shape[1] != width for width in widths):
            raise CheckpointError(f"{layer.weights_file}: linear.weight takes {layer.weight.shape[1]} features, "
                                  f"the module before it gives {' or '.join(map(str, widths))}")
        widths = [layer.weight.shape[0]]


def module_place(route_name: Optional[str]) -> Callable[[int, str], str]:
    """Where module ``i`` of class ``name`` is saved: a model's first module at the root and the others in
    ``{i}_{name}``; a Router route's in ``{route}_{i}_{name}``."""
    if route_name is None:
        return lambda i, name: "" if i == 0 else f"{i}_{name}"
    return lambda i, name: f"{route_name}_{i}_{name}"


# The prompts every SentenceTransformer has (empty unless the folder or the caller sets them).
_DEFAULT_PROMPTS = {"query": None, "document": None}


class SentenceEncoder(TransformerHolder):
    """Text to sentence vectors, as ``sentence_transformers.SentenceTransformer`` computes them.

    ``SentenceEncoder(path, ...)`` (also importable as ``SentenceTransformer``) and
    ``SentenceEncoder.from_pretrained(path, ...)`` take sentence-transformers' constructor arguments.

        >>> model = SentenceTransformer("all-MiniLM-L6-v2-folder", truncate_dim=128)
        >>> q = model.encode_query(["how do I bake bread"], precision="int8")
    """

    SUPPORTED_SIMILARITY_FN_NAMES = SIMILARITY_FN_NAMES
    default_huggingface_organization: Optional[str] = "sentence-transformers"  # of a bare model name

    def __init__(
        self,
        model_name_or_path: Optional[Union[str, os.PathLike]] = None,
        *,
        modules: Optional[list] = None,
        device: Optional[str] = None,
        prompts: Optional[dict] = None,
        default_prompt_name: Optional[str] = None,
        cache_folder: Optional[Union[str, os.PathLike]] = None,
        trust_remote_code: bool = False,
        revision: Optional[str] = None,
        local_files_only: bool = False,
        token: Any = None,
        use_auth_token: Any = None,
        model_kwargs: Optional[dict] = None,
        processor_kwargs: Optional[dict] = None,
        tokenizer_kwargs: Optional[dict] = None,
        config_kwargs: Optional[dict] = None,
        use_kernels: bool = False,
        kernel_config: Any = None,
        model_card_data: Any = None,
        backend: str = "torch",
        similarity_fn_name: Any = None,
        truncate_dim: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        """Loads a sentence-transformers folder, or a plain checkpoint folder (mean pooling).

        ``cache_folder``, ``revision``, ``local_files_only`` and ``token`` choose the files;
        ``model_kwargs`` (e.g. ``{"dtype": "int8"}``), ``tokenizer_kwargs`` (or ``processor_kwargs``) and
        ``config_kwargs`` go to the model, tokenizer and config loading; ``prompts``,
        ``default_prompt_name``, ``similarity_fn_name`` and ``truncate_dim`` override what the folder's
        ``config_sentence_transformers.json`` says; ``model_card_data`` is kept as given (pybertcore writes
        no model cards); ``device`` may only be the CPU; ``trust_remote_code`` changes nothing (no checkpoint
        code is ever run), nor do ``use_kernels`` and ``kernel_config`` (they choose torch kernels; pybertcore
        runs its own). ``dtype``/``torch_dtype`` may also be given directly. ``modules`` (sentence-transformers'
        torch modules) are saved by sentence-transformers into a temporary folder, which is then loaded;
        anything else unknown raises TypeError, by name.
        """
        reject_unknown("SentenceEncoder()", {k: v for k, v in kwargs.items() if k not in ("dtype", "torch_dtype")})
        if model_name_or_path is None and modules is None:
            raise ValueError("SentenceEncoder needs model_name_or_path (or modules): a folder or a Hub model id")
        token, tokenizer_kwargs = loading_arguments(device, backend, token, use_auth_token, tokenizer_kwargs,
                                                    processor_kwargs)
        hub = {"cache_dir": cache_folder, "revision": revision, "local_files_only": local_files_only, "token": token}
        model_kwargs = {**dict(model_kwargs or {}), **kwargs}
        if modules is not None:  # sentence-transformers' torch modules: saved by it, then loaded like any folder
            folder = folder_of_modules(self, modules, "SentenceTransformer", model_name_or_path)
        else:
            folder = resolve_sentence_folder(model_name_or_path, self.default_huggingface_organization, **hub)
        loading = (model_kwargs, dict(config_kwargs or {}), dict(tokenizer_kwargs or {}))
        modules_file = folder / "modules.json"
        self.routes = None
        if not modules_file.is_file():  # a plain checkpoint: mean pooling, as sentence-transformers makes it
            self._load_modules([("Transformer", folder)], str(folder), loading, settings_file=False)
        else:
            entries = [(kind, folder / path) for kind, path in module_entries(modules_file)]
            kinds = [kind for kind, _ in entries]
            if any(kind in ROUTER_TYPES for kind in kinds):
                self._load_router(entries, modules_file, loading)
            else:
                self._load_modules(entries, str(modules_file), loading)
        saved = read_model_config(folder / "config_sentence_transformers.json")
        self.prompts, self.default_prompt_name = merge_prompts(
            _DEFAULT_PROMPTS, prompts, saved.get("prompts", {}), default_prompt_name, saved.get("default_prompt_name"))
        self._similarity_fn_name = similarity_name(similarity_fn_name)
        if self._similarity_fn_name is None and saved.get("similarity_fn_name") in SIMILARITY_FN_NAMES:
            self._similarity_fn_name = saved["similarity_fn_name"]
        self.truncate_dim = check_truncate_dim(truncate_dim if truncate_dim is not None else saved.get("truncate_dim"))
        self.model_card_data = model_card_data
        if self.default_prompt_name:
            warn_once(f"Default prompt name is set to '{self.default_prompt_name}'. This prompt applies unless "
                      "overridden by `prompt`, `prompt_name`, or a method-specific prompt, including an empty prompt.")

    def _load_modules(self, entries: list[tuple[str, Path]], where: str, loading: tuple,
                      settings_file: bool = True) -> None:
        """One pipeline from its modules ((class name, folder) in order): a Transformer and Pooling (mean when
        there is none), or a StaticEmbedding, then Dense and Normalize. ``loading``: (model_kwargs,
        config_kwargs, tokenizer_kwargs); ``settings_file``: whether the Transformer's sentence_bert_config.json
        counts (not for a plain checkpoint, as in sentence-transformers)."""
        from pybertcore.models.auto import AutoModel
        from pybertcore.tokenization import AutoTokenizer

        model_kwargs, config_kwargs, tokenizer_kwargs = loading
        transformer_folder, pooling, dense, normalize = None, None, [], False
        include_prompt, max_seq_length, do_lower_case, static = True, None, False, None
        kinds = [kind for kind, _ in entries]
        if "StaticEmbedding" in kinds:
            check_static_modules(kinds, where)
        for kind, path in entries:
            if kind == "StaticEmbedding":
                static = StaticEmbedding.load(path)
            elif kind == "Transformer":
                transformer_folder = path
            elif kind == "Pooling":
                with errors_name_file(path / "config.json"):
                    pooling_config = read_json(path / "config.json")
                    pooling = pooling_modes_from_config(pooling_config)
                    include_prompt = pooling_config.get("include_prompt", True)
                    if not isinstance(include_prompt, bool):
                        raise ValueError(f"include_prompt: expected true or false, found {describe(include_prompt)}")
            elif kind == "Dense":
                dense.append(_Dense(path))
            elif kind == "Normalize":
                normalize = True
            else:
                raise NotImplementedError(
                    f"{where}: module type {describe(kind)} is not supported by pybertcore "
                    "(supported: Transformer, Pooling, Dense, Normalize, StaticEmbedding, and a Router of these)"
                )
        if static is None and transformer_folder is None:
            raise NotImplementedError(f"{where}: modules {kinds}: no Transformer or StaticEmbedding module to start "
                                      "from")
        if pooling is None:
            pooling = () if static is not None else ("mean",)
        if static is None:
            for name in ("sentence_bert_config.json", "sentence_distilbert_config.json") if settings_file else ():
                if (transformer_folder / name).is_file():
                    max_seq_length, do_lower_case = _sentence_bert_config(transformer_folder / name)
                    break
            model = load_transformer(AutoModel, transformer_folder, model_kwargs, config_kwargs)
            tokenizer = AutoTokenizer.from_pretrained(transformer_folder, **tokenizer_kwargs)
            width = int(model.config.hidden_size) * len(pooling)
        else:  # no transformer: the table gives the vectors
            model, tokenizer, width = None, static.tokenizer, static.dimension
            if any(loading):
                # sentence-transformers passes these to Transformer modules only, so it ignores them here too
                logger.warning("model_kwargs, config_kwargs and tokenizer_kwargs change nothing for a StaticEmbedding "
                               "model (it runs its table in float32 and its tokenizer.json as it is); ignored: %s",
                               ", ".join(sorted({**model_kwargs, **config_kwargs, **tokenizer_kwargs})))
        _check_dense_inputs(dense, [width])
        self.model = model
        self.tokenizer = tokenizer
        self.static = static
        self.pooling_modes = tuple(pooling)
        self.include_prompt = include_prompt
        if static is not None:
            self._max_seq_length = math.inf  # sentence-transformers': the tokenizer.json's own truncation applies
        else:
            limit = model_token_limit(model.config, tokenizer)
            self._max_seq_length = limit if max_seq_length is None else min(int(max_seq_length), limit)
        self.do_lower_case = bool(do_lower_case)
        self.dense = dense
        self.normalize = normalize
        self._prompt_lengths: dict[str, int] = {}

    def _load_router(self, entries: list[tuple[str, Path]], modules_file: Path, loading: tuple) -> None:
        """A Router (first) and the Dense / Normalize modules after it. Each route is a pipeline of its own (a
        SentenceEncoder without prompts or settings: ``_load_modules``); the default route's transformer stands
        for the model (``model``, ``config``), the first route's tokenizer for its tokenizer, as
        sentence-transformers' Router answers them."""
        kinds = [kind for kind, _ in entries]
        if kinds[0] not in ROUTER_TYPES or any(kind not in ("Dense", "Normalize") for kind in kinds[1:]):
            raise NotImplementedError(f"{modules_file}: modules {kinds}: pybertcore runs a Router as the first module, "
                                      "followed only by Dense and Normalize modules")

        self.routes = load_router(entries[0][1], lambda modules, where: self._pipeline(modules, where, loading))
        self.dense = [_Dense(path) for kind, path in entries[1:] if kind == "Dense"]
        self.normalize = "Normalize" in kinds[1:]
        _check_dense_inputs(self.dense, sorted({route._untruncated_dimension() for route in self.routes.distinct()}))
        with_model = self.routes.preferred(lambda route: route.model is not None)
        self.model = None if with_model is None else with_model.model
        self.tokenizer = self.routes.first.tokenizer
        self.static, self.pooling_modes, self.include_prompt, self.do_lower_case = None, (), True, False
        self._prompt_lengths = {}

    @classmethod
    def _pipeline(cls, modules: list[tuple[str, Path]], where: str, loading: tuple) -> "SentenceEncoder":
        """A model of ``modules`` alone ((class name, folder) in order; ``_load_modules``), without prompts or
        settings: a Router's route, or what a CSR SparseEncoder makes sparse (those apply around it)."""
        pipeline = cls.__new__(cls)
        pipeline.routes = None
        pipeline._load_modules(modules, where, loading)
        pipeline.prompts, pipeline.default_prompt_name, pipeline._similarity_fn_name = {}, None, None
        pipeline.truncate_dim, pipeline.model_card_data = None, None
        return pipeline

    @classmethod
    def from_pretrained(cls, model_name_or_path: Union[str, os.PathLike], **kwargs: Any) -> "SentenceEncoder":
        """``SentenceEncoder(model_name_or_path, **kwargs)``: the same arguments."""
        return cls(model_name_or_path, **kwargs)

    # --- what the model is --------------------------------------------------------------------------
    def get_sentence_embedding_dimension(self) -> int:
        """The width ``encode`` returns: the last module's, cut to ``truncate_dim`` when set."""
        full = self._untruncated_dimension()
        return full if self.truncate_dim is None else min(full, self.truncate_dim)

    get_embedding_dimension = get_sentence_embedding_dimension

    def _untruncated_dimension(self, route: Optional["SentenceEncoder"] = None) -> int:
        """The last module's width; behind a Router, that of ``route`` (else the first route, as
        sentence-transformers' Router answers it) unless Dense layers follow the Router."""
        if self.dense:
            return int(self.dense[-1].weight.shape[0])
        if self.routes is not None:
            return (route or self.routes.first)._untruncated_dimension()
        if self.static is not None:
            return self.static.dimension
        return int(self.model.config.hidden_size) * len(self.pooling_modes)

    def get_max_seq_length(self) -> int:
        return self.max_seq_length

    @property
    def max_seq_length(self) -> Any:
        """Inputs longer than this many tokens are cut; behind a Router, the largest of the routes' (setting it
        sets every route's), as sentence-transformers' Router."""
        if self.routes is not None:
            return max(route.max_seq_length for route in self.routes.distinct())
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: Any) -> None:
        if self.routes is not None:
            for route in self.routes.distinct():
                route.max_seq_length = value
        else:
            self._max_seq_length = value

    def get_model_kwargs(self) -> list[str]:
        """``["modality", "task"]`` for a Router model (they pick its route; every route here is text), else none."""
        return ["modality", "task"] if self.routes is not None else []

    def _transformers(self) -> list:
        if self.routes is not None:
            return [route.model for route in self.routes.distinct() if route.model is not None]
        return [] if self.model is None else [self.model]

    @property
    def similarity_fn_name(self) -> str:
        """The similarity ``similarity`` computes: the folder's, the caller's, else "cosine"."""
        if self._similarity_fn_name is None:
            self._similarity_fn_name = "cosine"
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: Any) -> None:
        self._similarity_fn_name = similarity_name(value)

    @contextlib.contextmanager
    def truncate_embeddings(self, truncate_dim: Optional[int]) -> Iterator[None]:
        """Within this block ``encode`` cuts its vectors to ``truncate_dim``."""
        previous, self.truncate_dim = self.truncate_dim, check_truncate_dim(truncate_dim)
        try:
            yield
        finally:
            self.truncate_dim = previous

    @contextlib.contextmanager
    def truncate_sentence_embeddings(self, truncate_dim: Optional[int]) -> Iterator[None]:
        """``truncate_embeddings``'s old name, with sentence-transformers' FutureWarning."""
        warnings.warn("The `truncate_sentence_embeddings` method has been renamed to `truncate_embeddings`.",
                      FutureWarning, stacklevel=3)
        with self.truncate_embeddings(truncate_dim):
            yield

    # --- sentence-transformers' module list (views: sentence_modules.py) ----------------------------------
    def __getitem__(self, index: Any) -> Any:
        """``model[0]`` (Transformer or StaticEmbedding), ``model[1]`` (Pooling), then Dense and Normalize."""
        return module_list(self)[index]

    def __len__(self) -> int:
        return len(module_list(self))

    def __iter__(self) -> Iterator[Any]:
        return iter(module_list(self))

    def _first_module(self) -> Any:
        return self[0]

    def _last_module(self) -> Any:
        return self[-1]

    def set_pooling_include_prompt(self, include_prompt: bool) -> None:
        """Whether pooling counts the prompt's tokens (the Pooling config's ``include_prompt``; behind a
        Router, every route's)."""
        self.include_prompt = bool(include_prompt)
        for route in self.routes.distinct() if self.routes is not None else ():
            route.set_pooling_include_prompt(include_prompt)

    # --- encoding -----------------------------------------------------------------------------------
    def _prompt_length(self, prompt: str) -> int:
        """The prompt's own token count, its trailing special token (SEP) left out, as sentence-transformers
        measures it: pooling without the prompt drops this many leading positions."""
        if prompt not in self._prompt_lengths:
            text = prompt.lower() if self.do_lower_case else prompt
            ids = self.tokenizer([text], truncation=True, max_length=self.max_seq_length, verbose=False)["input_ids"][0]
            n = len(ids)
            if ids and ids[-1] in set(self.tokenizer.all_special_ids):
                n -= 1
            self._prompt_lengths[prompt] = n
        return self._prompt_lengths[prompt]

    def encode_query(self, inputs: Any = NO_INPUTS, prompt_name: Optional[str] = None,
                     prompt: Optional[str] = None, *args: Any, **kwargs: Any) -> Any:
        """``encode`` with the "query" prompt unless a prompt is given, and ``task="query"`` (a Router's query
        route) unless a task is given (``args``: encode's, from batch_size on)."""
        inputs = inputs_argument("encode_query()", inputs, kwargs)
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        kwargs.setdefault("task", "query")
        return self.encode(inputs, prompt_name, prompt, *args, **kwargs)

    def encode_document(self, inputs: Any = NO_INPUTS, prompt_name: Optional[str] = None,
                        prompt: Optional[str] = None, *args: Any, **kwargs: Any) -> Any:
        """``encode`` with the first of the "document", "passage", "corpus" prompts unless a prompt is given, and
        ``task="document"`` unless a task is given (``args``: encode's, from batch_size on)."""
        inputs = inputs_argument("encode_document()", inputs, kwargs)
        if prompt_name is None and prompt is None:
            prompt_name = next((n for n in ("document", "passage", "corpus") if n in self.prompts), None)
        kwargs.setdefault("task", "document")
        return self.encode(inputs, prompt_name, prompt, *args, **kwargs)

    def tokenize(self, texts: Union[str, list[str]], **kwargs: Any) -> Any:
        """``preprocess``'s old name, with sentence-transformers' deprecation warning."""
        warn_once("The `tokenize` method is deprecated, please use `preprocess` instead.")
        return self.preprocess(texts, **kwargs)

    def preprocess(self, inputs: Union[str, list[str]], prompt: Optional[str] = None,
                   task: Optional[str] = None) -> Any:
        """The token ids, attention mask (and token types) ``encode`` runs for ``inputs``, right-padded to the
        longest and cut at ``max_seq_length``, as int64 numpy arrays (sentence-transformers gives torch
        tensors of the same values; ``encode`` itself does not pad, it batches by length)."""
        if self.routes is not None:  # the route ``task`` takes prepares them
            return self.routes.resolve(task).preprocess(inputs, prompt)
        texts, _ = texts_of([inputs] if isinstance(inputs, str) else inputs)
        if prompt:
            texts = [prompt + t for t in texts]
        if self.static is not None:  # sentence-transformers' StaticEmbedding: flat ids and each text's offset
            ids = self.static.token_ids(texts)
            return {"input_ids": np.array([t for row in ids for t in row], dtype=np.int64),
                    "offsets": np.cumsum([0] + [len(row) for row in ids[:-1]]).astype(np.int64)}
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        return self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                              return_tensors="np", verbose=False)

    def encode(
        self,
        inputs: Any = NO_INPUTS,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: Optional[str] = "sentence_embedding",
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        normalize_embeddings: bool = False,
        truncate_dim: Optional[int] = None,
        pool: Optional[dict] = None,
        chunk_size: Optional[int] = None,
        normalize: Optional[bool] = None,
        **kwargs: Any,
    ) -> Any:
        """(N, D) sentence vectors in input order (a single string gives (D,)), as sentence-transformers'
        ``encode``: the prompt (``prompt``, else ``prompts[prompt_name]``, else the default prompt) is
        prepended, and its tokens left out of pooling when the Pooling config says ``include_prompt:
        false``; vectors are cut to ``truncate_dim`` (the call's, else the model's) after the modules, then
        normalised if ``normalize_embeddings``; ``precision`` quantizes them over the whole call as
        ``quantize_embeddings``. ``output_value="token_embeddings"`` gives each text's (tokens, H) states,
        ``output_value=None`` a dict of every feature per text (``_every_output``).
        ``convert_to_tensor`` gives one torch tensor, ``convert_to_numpy=False`` a list of them.

        ``inputs`` is a string or a list of strings (``sentences=``, its name before sentence-transformers 6,
        still works). ``device`` may be the CPU or a list of CPUs, and ``pool`` one from
        ``start_multi_process_pool``: either way the texts are encoded here, in this process, whose core
        already uses every core (``chunk_size`` therefore changes nothing). ``task`` ("query", "document", ...)
        picks a Router model's route (``modality`` may only be "text") and changes nothing for a model without
        one, as in sentence-transformers; other unknown keywords raise ValueError naming them.
        """
        inputs = inputs_argument("encode()", inputs, kwargs)
        task, modality = kwargs.get("task"), kwargs.get("modality")
        check_encode_extras(type(self).__name__, kwargs, tuple(self.get_model_kwargs()))
        if modality not in (None, "text"):  # a Router's route may be chosen by modality: ours are all text
            raise ValueError(f"modality {describe(modality)}: pybertcore's SentenceTransformer encodes text only")
        route = self.routes.resolve(task) if self.routes is not None else self
        check_cpu_devices(device)
        if precision is None:  # sentence-transformers reads None as no quantization
            precision = "float32"
        if output_value not in ("sentence_embedding", "token_embeddings", None):
            raise ValueError("output_value must be 'sentence_embedding', 'token_embeddings' or None, got "
                             f"{describe(output_value)}")
        if precision not in ALLOWED_PRECISIONS:
            raise ValueError(f"Precision {precision!r} is not supported, must be one of {ALLOWED_PRECISIONS}")
        check_batch_size(batch_size)
        if normalize is not None:
            normalize_embeddings = normalize
        truncate_dim = check_truncate_dim(truncate_dim) if truncate_dim is not None else self.truncate_dim
        prompt = resolve_prompt(self.prompts, self.default_prompt_name, prompt, prompt_name)
        if convert_to_tensor:
            convert_to_numpy = False
        if output_value != "sentence_embedding":
            convert_to_tensor = convert_to_numpy = False

        texts, single = texts_of(inputs)
        full_dim = self._untruncated_dimension(route)
        dim = full_dim if truncate_dim is None else min(full_dim, truncate_dim)
        if not texts:
            empty = np.zeros((0, dim), dtype=np.float32)
            if output_value == "token_embeddings" or not (convert_to_numpy or convert_to_tensor):
                return []
            return import_torch("convert_to_tensor=True").from_numpy(empty) if convert_to_tensor else empty
        if output_value is None:  # every feature of each text's padded batch
            if precision != "float32":
                raise ValueError(f"precision={precision!r} quantizes sentence embeddings: it needs "
                                 "output_value='sentence_embedding'")
            if route.static is not None:
                raise ValueError("output_value=None: a StaticEmbedding model has no token features "
                                 "(it averages a table's rows)")
            # as sentence-transformers: truncated, and normalised only by the model's own Normalize module
            rows = route._every_output(texts, prompt, batch_size, lambda v: self._finish(route, v, dim, False))
            return rows[0] if single else rows
        if prompt:
            texts = [prompt + t for t in texts]

        def finish(vectors: np.ndarray) -> np.ndarray:
            return self._finish(route, vectors, dim, normalize_embeddings)

        if route.static is not None:
            if output_value == "token_embeddings":
                raise ValueError("output_value='token_embeddings': a StaticEmbedding model has no token embeddings "
                                 "(it averages a table's rows)")
            out = finish(route.static.embed(texts))
        else:
            out, tokens_out = route._run_transformer(texts, prompt, batch_size, show_progress_bar, output_value, dim,
                                                     finish)
        if output_value == "token_embeddings":
            if precision != "float32":
                tokens_out = quantize_embeddings(tokens_out, precision=precision)
            return tokens_out[0] if single else tokens_out
        if precision != "float32":
            out = quantize_embeddings(out, precision=precision)
        return as_requested(out, convert_to_tensor, convert_to_numpy, single)

    def _finish(self, route: "SentenceEncoder", vectors: np.ndarray, dim: int,
                normalize_embeddings: bool) -> np.ndarray:
        """The modules after pooling (Dense, Normalize): ``route``'s, then, behind a Router, the model's own
        after it; then the cut to ``dim`` and the call's normalisation."""
        for owner in (route,) if route is self else (route, self):
            for layer in owner.dense:
                vectors = layer(vectors)
            if owner.normalize:
                vectors = normalize_rows(vectors)
        vectors = vectors[:, :dim]
        if normalize_embeddings:
            vectors = normalize_rows(vectors)
        return vectors

    def _run_transformer(self, texts: list[str], prompt: Optional[str], batch_size: int,
                         show_progress_bar: Optional[bool], output_value: str, dim: int,
                         finish: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, list]:
        """(N, dim) sentence vectors (``output_value="sentence_embedding"``: pooled, then ``finish``ed) or each
        text's token states, from the transformer and pooling, in batches of similar length."""
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        skip = self._prompt_length(prompt) if prompt and not self.include_prompt else 0
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length, verbose=False)
        ids_list = encoded["input_ids"]
        types_list = encoded.get("token_type_ids") if model_takes_token_types(self.model.config) else None
        warn_truncated(encoded, len(texts), self.max_seq_length)

        tokens_out: list = [None] * len(texts)
        out = np.empty((len(texts), dim), dtype=np.float32)
        # The core gives the pooled states for CLS or mean pooling alone (for CLS its last layer computes
        # nothing else), and the packed rows for the rest: never the padded (B, T, H) states.
        reads_only = "packed"
        if output_value == "sentence_embedding" and not skip:
            # right-padded: a sequence's first real token is its position 0
            reads_only = {("cls",): "position0", ("mean",): "mean"}.get(self.pooling_modes, "packed")
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 8 * batch_size and stderr_is_terminal()
        bar = progress_bar(len(texts), show_progress_bar, "Encoding")
        try:
            for idx in length_sorted_batches([len(ids) for ids in ids_list], batch_size):
                ids, mask, types = padded_batch(idx, ids_list, types_list, self.tokenizer.pad_token_id)
                states, _ = self.model._encode(ids, mask, types, None, None, None, False, False, reads_only=reads_only)
                if output_value == "token_embeddings":
                    # each text's real tokens, as sentence-transformers' token_emb[attention_mask.bool()] (the
                    # core also computes position 0 of a text without any: left out here)
                    starts, real = packed_sequences(mask, states["packed_index"])
                    pieces = zip(np.split(states["packed_rows"], starts[1:]), np.split(real, starts[1:]))
                    for i, (rows, keep) in zip(idx, pieces):
                        tokens_out[i] = rows[keep]
                else:
                    if reads_only == "packed":
                        vectors = pool_packed(states["packed_rows"], states["packed_index"], mask,
                                              self.pooling_modes, skip)
                    else:
                        vectors = states.get("mean_pooled", states.get("first_hidden_state"))
                    out[idx] = finish(vectors)
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out, tokens_out

    def _every_output(self, texts: list[str], prompt: Optional[str], batch_size: int,
                      finish: Callable[[np.ndarray], np.ndarray]) -> list[dict]:
        """``output_value=None``: for each text a dict of its batch's features, as sentence-transformers gives
        them: ``input_ids``, ``attention_mask`` (and ``token_type_ids``) of the padded batch, ``modality``,
        ``prompt_length`` with a prompt, ``token_embeddings`` (T, H) and ``sentence_embedding`` (pooled, then
        ``finish``ed). The texts are batched as sentence-transformers batches them (longest in characters
        first, ``batch_size`` at a time), so each text's arrays have the same padded length as there; the core
        computes no padded position, whose token embeddings are zeros here (sentence-transformers gives the
        transformer's outputs there)."""
        prompt_length = self._prompt_length(prompt) if prompt else 0
        skip = prompt_length if not self.include_prompt else 0
        order = np.argsort([-len(text) for text in texts])  # sentence-transformers' order, its ties included
        rows: list = [None] * len(texts)
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            features = self.preprocess([texts[i] for i in idx], prompt)
            mask = features["attention_mask"]
            types = features.get("token_type_ids") if model_takes_token_types(self.model.config) else None
            states, _ = self.model._encode(features["input_ids"], mask, types, None, None, None, False, False,
                                           reads_only="packed")
            B, T = mask.shape
            tokens = np.zeros((B * T, states["packed_rows"].shape[1]), dtype=np.float32)
            tokens[states["packed_index"]] = states["packed_rows"]
            tokens = tokens.reshape(B, T, -1)
            tokens[mask == 0] = 0  # a text without tokens: its computed position 0 is padding
            vectors = finish(pool_packed(states["packed_rows"], states["packed_index"], mask, self.pooling_modes,
                                         skip))
            for row, i in enumerate(idx):
                item = {name: np.asarray(value)[row] for name, value in features.items()}
                item["modality"] = "text"
                if prompt:
                    item["prompt_length"] = prompt_length
                item["token_embeddings"], item["sentence_embedding"] = tokens[row], vectors[row]
                rows[i] = item
        return rows

    def encode_iter(self, sentences: Iterable[str], batch_size: int = 32, chunk_size: int = 1024,
                    **kwargs: Any) -> Iterator[np.ndarray]:
        """Embeddings of an iterable of texts of any length, chunk by chunk in input order: yields (n, D)
        float32 arrays for chunk_size texts at a time (the last may be shorter), so memory holds one chunk
        whatever the corpus. Each vector is bit for bit the one ``encode`` gives (a text's result never
        depends on its batch). Takes ``encode``'s keyword arguments (normalize_embeddings, ...); the
        progress bar is never shown (the caller knows its corpus; see ``pybertcore embed --input``)."""
        if isinstance(sentences, str):
            raise TypeError("encode_iter() takes an iterable of texts; for one text use encode()")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        # encode_iter is pybertcore's own: a misspelt keyword is a TypeError here, by Python's convention,
        # where encode raises sentence-transformers' ValueError.
        encode_keywords = (set(inspect.signature(self.encode).parameters) | {"task", "processing_kwargs"}
                           | set(self.get_model_kwargs()))
        reject_unknown("encode_iter()", {k: v for k, v in kwargs.items() if k not in encode_keywords})
        kwargs["show_progress_bar"] = False
        chunk: list = []
        for text in sentences:
            chunk.append(text)
            if len(chunk) == chunk_size:
                yield self.encode(chunk, batch_size=batch_size, **kwargs)
                chunk = []
        if chunk:
            yield self.encode(chunk, batch_size=batch_size, **kwargs)

    # --- sentence-transformers' process pool (TransformerHolder's): encoding stays in this process -----------
    def encode_multi_process(self, sentences: list[str], pool: dict, **kwargs: Any) -> np.ndarray:
        """``encode(sentences, pool=pool, ...)``, as sentence-transformers' deprecated method."""
        warnings.warn("The `encode_multi_process` method has been deprecated, and its functionality has been "
                      "integrated into `encode`.", DeprecationWarning, stacklevel=2)
        return self.encode(sentences, pool=pool, **kwargs)

    # --- training is sentence-transformers' ----------------------------------------------------------------
    def fit(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("fit(): pybertcore runs inference only; train with sentence-transformers, "
                                  "save the model and load the folder with pybertcore")

    def evaluate(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("evaluate(): pybertcore has no evaluators; run sentence-transformers' evaluator "
                                  "on embeddings from encode(), or on the model loaded in sentence-transformers")

    # --- saving -------------------------------------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike], model_name: Optional[str] = None, create_model_card: bool = True,
             train_datasets: Optional[list] = None, safe_serialization: bool = True) -> None:
        """Writes a sentence-transformers folder that sentence-transformers and pybertcore load back to the same
        embeddings: the encoder and tokenizer at the root, ``sentence_bert_config.json``, the Pooling, Dense
        and Normalize modules (a StaticEmbedding model: its table and tokenizer.json, then Dense and
        Normalize; a Router model: each route's modules in the Router's layout, router_config.json, then the
        modules after it), ``modules.json`` and ``config_sentence_transformers.json`` (prompts, default
        prompt, similarity function, truncate_dim). No model card is written (``model_name``,
        ``create_model_card`` and ``train_datasets`` are for it); Dense weights are always safetensors."""
        folder = Path(path)
        if self.routes is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.routes.save_router(folder, lambda route, name: route._save_modules(folder, name, safe_serialization))
            modules = self._save_after(folder, None, [("", ROUTER_TYPE)])
        else:
            modules = self._save_modules(folder, None, safe_serialization)
        settings = {"prompts": self.prompts, "default_prompt_name": self.default_prompt_name,
                    "similarity_fn_name": self.similarity_fn_name}
        if self.truncate_dim is not None:
            settings["truncate_dim"] = self.truncate_dim
        write_folder_description(folder, "SentenceTransformer", modules, settings)

    def _save_modules(self, folder: Path, route_name: Optional[str], safe_serialization: bool) -> list:
        """This pipeline's module folders, and their (path, type) in order. A model's first module goes to the
        folder's root and the others to ``{i}_{Class}``; a route's (``route_name``) to ``{route}_{i}_{Class}``,
        as sentence-transformers' Router writes them."""
        place = module_place(route_name)
        if self.static is not None:  # the table and tokenizer.json, as sentence-transformers
            self.static.save(folder / place(0, "StaticEmbedding"), safe_serialization)
            return self._save_after(folder, route_name, [(place(0, "StaticEmbedding"), STATIC_EMBEDDING_TYPE)])
        save_transformer_module(folder / place(0, "Transformer"), self, "feature-extraction", safe_serialization)
        pooling_folder = folder / place(1, "Pooling")
        pooling_folder.mkdir(exist_ok=True)
        modes = self.pooling_modes
        write_json(pooling_folder / "config.json", {
            "embedding_dimension": int(self.model.config.hidden_size),
            "pooling_mode": modes[0] if len(modes) == 1 else list(modes),
            "include_prompt": self.include_prompt,
        })
        modules = [(place(0, "Transformer"), TRANSFORMER_MODULE[1]),
                   (pooling_folder.name, "sentence_transformers.sentence_transformer.modules.pooling.Pooling")]
        return self._save_after(folder, route_name, modules)

    def _save_after(self, folder: Path, route_name: Optional[str], modules: list) -> list:
        """``modules`` and this pipeline's Dense and Normalize modules after them, written."""
        place = module_place(route_name)
        for layer in self.dense:
            dense_folder = folder / place(len(modules), "Dense")
            dense_folder.mkdir(exist_ok=True)
            write_json(dense_folder / "config.json", {
                "in_features": int(layer.weight.shape[1]), "out_features": int(layer.weight.shape[0]),
                "bias": layer.bias is not None, "activation_function": layer.activation_function,
            })
            tensors = {"linear.weight": layer.weight} if layer.bias is None else {
                "linear.weight": layer.weight, "linear.bias": layer.bias}
            save_safetensors(tensors, dense_folder / "model.safetensors")
            modules.append((dense_folder.name, "sentence_transformers.base.modules.dense.Dense"))
        if self.normalize:
            (folder / place(len(modules), "Normalize")).mkdir(exist_ok=True)
            modules.append((place(len(modules), "Normalize"), "sentence_transformers.base.modules.normalize.Normalize"))
        return modules

    save_pretrained = save

    # --- comparing ----------------------------------------------------------------------------------
    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """The (len(a), len(b)) matrix of ``similarity_fn_name`` scores (torch in → torch out)."""
        return similarity(self.similarity_fn_name, embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        """``similarity_fn_name`` of embeddings1[i] and embeddings2[i] for each i."""
        return similarity(self.similarity_fn_name, embeddings1, embeddings2, pairwise=True)

    def __call__(self, sentences: Union[str, list[str]], **kwargs: Any) -> Any:
        return self.encode(sentences, **kwargs)

    def __repr__(self) -> str:
        if self.routes is not None:
            routes = ", ".join(f"{name}={route!r}" for name, route in self.routes.routes.items())
            return (f"SentenceEncoder(Router({routes}, default_route={self.routes.default_route!r}), "
                    f"dense={len(self.dense)}, normalize={self.normalize})")
        first = repr(self.static) if self.static is not None else type(self.model).__name__
        return (
            f"SentenceEncoder(model={first}, max_seq_length={self.max_seq_length}, "
            f"pooling={self.pooling_modes}, include_prompt={self.include_prompt}, dense={len(self.dense)}, "
            f"normalize={self.normalize}, dim={self.get_sentence_embedding_dimension()})"
        )


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int, show: bool, desc: str):
    """A tqdm bar on stderr, or None when not shown (or tqdm is missing)."""
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="text", file=sys.stderr, leave=False)


SentenceTransformer = SentenceEncoder
