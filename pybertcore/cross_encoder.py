"""CrossEncoder: sentence-transformers' reranker API (``predict``, ``rank``) on pybertcore's sequence
classification models, without torch.

``CrossEncoder(folder)`` takes any sequence-classification checkpoint of a family pybertcore runs: a plain
transformers folder, or one saved by sentence-transformers (``modules.json`` with its one Transformer
module, ``sentence_bert_config.json``, ``config_sentence_transformers.json``). The activation applied to
the logits is chosen as sentence-transformers chooses it: the ``activation_fn`` argument, else the saved
``activation_fn`` (config_sentence_transformers.json, then config.json's ``sentence_transformers`` /
``sbert_ce_default_activation_function``), else Sigmoid for one label and Identity for more. Saved
activations are names, never code: torch's Sigmoid, Identity, Tanh and ReLU are known; any other raises
NotImplementedError by name (a name outside torch is ignored with a warning, as sentence-transformers does
without ``trust_remote_code``).

Pairs are tokenized together (truncation longest_first to ``max_seq_length``), sorted by length, run in
batches through the packed core (no work on padding) and put back in input order. Numerics: logits match
transformers within 1e-4 (the core's bound); activations and softmax are float32 numpy.

sentence-transformers' older calls are taken as its 6.x takes them (the v5.3 positional order, the renamed
keywords, ``max_length`` / ``default_activation_function`` attributes), with its warnings. ``save`` writes
its 6.x folder layout, which both libraries load to the same scores. Deliberately unlike it: unknown
keywords of ``predict`` raise TypeError (it ignores them), ``activation_fn`` is pybertcore's ``Activation``
for the torch activations it knows (same repr, no torch), multi-process pools run in this process.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import warnings
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from pybertcore.frameworks import import_torch
from pybertcore.hub import resolve_sentence_folder
from pybertcore.module_files import module_entries, read_json
from pybertcore.sentence import _sentence_bert_config, progress_bar, stderr_is_terminal
from pybertcore.sentence_utils import (
    as_requested,
    as_top_k,
    check_batch_size,
    check_cpu_devices,
    folder_of_modules,
    length_sorted_batches,
    load_transformer,
    loading_arguments,
    merge_prompts,
    padded_batch,
    read_model_config,
    reject_unknown,
    resolve_prompt,
    save_transformer_module,
    TRANSFORMER_MODULE,
    TransformerHolder,
    warn_once,
    warn_truncated,
    write_folder_description,
)
from pybertcore.tokenization import model_takes_token_types, model_token_limit
from pybertcore.untrusted import describe

logger = logging.getLogger("pybertcore")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


# Saved activation names (sentence-transformers' fullname of the module) → what they compute.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "torch.nn.modules.activation.Sigmoid": _sigmoid,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
}
ACTIVATIONS.update({f"torch.nn.{name.rsplit('.', 1)[1]}": fn for name, fn in list(ACTIVATIONS.items())})


class Activation:
    """A named activation the core's float32 logits go through (``torch.nn.Sigmoid()`` and the like have
    the same effect on the same numbers)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fn = ACTIVATIONS[name]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"{self.name.rsplit('.', 1)[1]}()"


def _activation_from_name(name: Any, where: str) -> Optional[Activation]:
    if not isinstance(name, str):
        raise ValueError(f"{where}: activation_fn: expected a dotted name, found {describe(name)}")
    if name in ACTIVATIONS:
        return Activation(name)
    if not name.startswith("torch."):
        logger.warning("%s: activation function %r is not trusted (pybertcore never imports code named by a "
                       "checkpoint); using the default activation function instead.", where, name)
        return None
    raise NotImplementedError(f"{where}: activation function {name!r} is not supported by pybertcore "
                              f"(known: {', '.join(sorted(n for n in ACTIVATIONS if '.modules.' in n))})")


def _as_activation(fn: Any) -> Callable[[np.ndarray], Any]:
    """A caller's ``activation_fn`` as a function of the float32 logits: torch's Sigmoid / Identity / Tanh /
    ReLU modules by their name; any other torch callable gets a torch tensor (as in sentence-transformers)
    and gives back numpy; a plain callable gets the numpy array."""
    if isinstance(fn, Activation):
        return fn
    kind = type(fn)
    name = f"{kind.__module__}.{kind.__qualname__}"
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if not callable(fn):
        raise ValueError(f"activation_fn must be callable, got {describe(fn)}")
    if "torch" in sys.modules:
        torch = sys.modules["torch"]

        def through_torch(x: np.ndarray) -> np.ndarray:
            out = fn(torch.from_numpy(x))
            return out.detach().cpu().float().numpy() if isinstance(out, torch.Tensor) else np.asarray(out, np.float32)

        return through_torch
    return lambda x: np.asarray(fn(x), dtype=np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _is_single_pair(inputs: Any) -> bool:
    """sentence-transformers' is_singular_input: a list/tuple whose first item is not itself a list/tuple."""
    if isinstance(inputs, (list, tuple)):
        return len(inputs) > 0 and not isinstance(inputs[0], (list, tuple))
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind in ("U", "O"):
        return inputs.size > 0 and inputs.ndim < 2
    return True


# The arguments sentence-transformers' CrossEncoder took by position after model_name_or_path (its v5.3 order):
# 6.x still takes them so, with a warning, and so do we.
LEGACY_POSITIONAL_ARGUMENTS = ("num_labels", "max_length", "activation_fn", "device", "cache_folder",
                               "trust_remote_code", "revision", "local_files_only", "token", "model_kwargs",
                               "tokenizer_kwargs", "config_kwargs", "model_card_data", "backend")
# Old keyword names sentence-transformers 6 still maps to the current ones (its
# cross_encoder_init_args_decorator); a current name given too wins, as there.
RENAMED_ARGUMENTS = {"model_name": "model_name_or_path", "automodel_args": "model_kwargs",
                     "tokenizer_args": "tokenizer_kwargs", "config_args": "config_kwargs", "cache_dir": "cache_folder",
                     "default_activation_function": "activation_fn"}


def _takes_legacy_arguments(init: Callable) -> Callable:
    """``CrossEncoder.__init__`` taking sentence-transformers' old positional and keyword arguments, mapped to
    the current names with the warning sentence-transformers gives; the signature stays the current one."""

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > 1 + len(LEGACY_POSITIONAL_ARGUMENTS):
            raise TypeError(f"CrossEncoder() takes at most {1 + len(LEGACY_POSITIONAL_ARGUMENTS)} positional "
                            f"arguments, got {len(args)}")
        if args:
            if "model_name_or_path" in kwargs:
                raise TypeError("CrossEncoder() got multiple values for argument 'model_name_or_path'")
            kwargs["model_name_or_path"] = args[0]
        for name, value in zip(LEGACY_POSITIONAL_ARGUMENTS, args[1:]):
            logger.warning("Passing `%s` as a positional argument to CrossEncoder is deprecated. Please pass `%s` "
                           "as a keyword argument instead.", name, name)
            kwargs.setdefault(name, value)
        for old, new in RENAMED_ARGUMENTS.items():
            if old in kwargs:
                logger.warning("The CrossEncoder `%s` argument was renamed and is now deprecated. Please use `%s` "
                               "instead.", old, new)
                value = kwargs.pop(old)
                if new == "tokenizer_kwargs" and "processor_kwargs" in kwargs:
                    continue  # processor_kwargs is the newest name of the same thing
                kwargs.setdefault(new, value)
        if "classifier_dropout" in kwargs:  # only changes training; kept in the config as sentence-transformers does
            kwargs["config_kwargs"] = {**(kwargs.get("config_kwargs") or {}),
                                       "classifier_dropout": kwargs.pop("classifier_dropout")}
        init(self, **kwargs)

    return wrapper


def _activation_name(fn: Any) -> str:
    """The dotted name sentence-transformers saves for an activation (its ``fullname``): the class's module
    and name, e.g. torch.nn.modules.activation.Sigmoid; a plain function gives "function", which loads back
    as the default activation, in both libraries."""
    if isinstance(fn, Activation):
        return next(name for name, known in ACTIVATIONS.items() if known is fn.fn and ".modules." in name)
    kind = type(fn)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


class CrossEncoder(TransformerHolder):
    """Scores (text, text) pairs, as ``sentence_transformers.CrossEncoder`` does.

        >>> model = CrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2")
        >>> model.predict([("query", "passage one"), ("query", "passage two")])
        >>> model.rank("query", ["passage one", "passage two"], top_k=1, return_documents=True)
    """

    default_huggingface_organization: Optional[str] = "cross-encoder"  # of a bare model name

    @_takes_legacy_arguments
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
        num_labels: Optional[int] = None,
        max_length: Optional[int] = None,
        activation_fn: Optional[Callable] = None,
        keep_in_fp32_modules: Optional[list] = None,
        **kwargs: Any,
    ) -> None:
        """Loads a sequence-classification folder (plain transformers, or saved by sentence-transformers).

        Arguments as sentence-transformers' CrossEncoder: ``num_labels`` goes to the config, ``max_length``
        caps the tokens of a pair, ``activation_fn`` overrides the default activation; ``model_kwargs`` (e.g.
        ``{"dtype": "bfloat16"}``), ``tokenizer_kwargs``/``processor_kwargs`` and ``config_kwargs`` go to the
        loaders; ``dtype`` may also be given directly. Its old names (``default_activation_function``,
        ``model_name``, ``automodel_args``, ``tokenizer_args``, ``config_args``, ``cache_dir``,
        ``classifier_dropout``) and the old positional order are taken with its warning. ``use_kernels`` and
        ``kernel_config`` change nothing (pybertcore always runs its own kernels); ``keep_in_fp32_modules`` is
        met by a float32 model (every layer computes in float32) and raises NotImplementedError for a lower
        precision. ``modules`` (sentence-transformers' torch modules) are saved by it into a temporary folder,
        which is then loaded; anything else unknown raises TypeError, by name.
        """
        from pybertcore.models.auto import AutoModelForSequenceClassification
        from pybertcore.tokenization import AutoTokenizer

        reject_unknown("CrossEncoder()", {k: v for k, v in kwargs.items() if k not in ("dtype", "torch_dtype")})
        if model_name_or_path is None and modules is None:
            raise ValueError("CrossEncoder needs model_name_or_path (or modules): a folder or a Hub model id")
        token, tokenizer_kwargs = loading_arguments(device, backend, token, use_auth_token, tokenizer_kwargs,
                                                    processor_kwargs)
        if max_length is not None:
            if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
                raise ValueError(f"max_length must be a positive integer, got {describe(max_length)}")
            tokenizer_kwargs["model_max_length"] = max_length
        config_kwargs = dict(config_kwargs or {})
        if num_labels is not None:
            config_kwargs["num_labels"] = num_labels
        hub = {"cache_dir": cache_folder, "revision": revision, "local_files_only": local_files_only, "token": token}
        if modules is not None:  # sentence-transformers' torch modules: saved by it, then loaded like any folder
            folder = folder_of_modules(self, modules, "CrossEncoder", model_name_or_path)
        else:
            folder = resolve_sentence_folder(model_name_or_path, self.default_huggingface_organization, **hub)
        transformer_folder, max_seq_length, do_lower_case = folder, None, False
        modules_file = folder / "modules.json"
        if modules_file.is_file():
            for kind, module_path in module_entries(modules_file):
                if kind != "Transformer":
                    raise NotImplementedError(f"{modules_file}: module type {describe(kind)} is not supported by "
                                              "pybertcore's CrossEncoder (supported: one Transformer)")
                transformer_folder = folder / module_path
            sbert = transformer_folder / "sentence_bert_config.json"
            if sbert.is_file():
                task = read_json(sbert).get("transformer_task", "sequence-classification")
                if task != "sequence-classification":
                    raise NotImplementedError(f"{sbert}: transformer_task {describe(task)} is not supported by "
                                              "pybertcore's CrossEncoder (supported: sequence-classification)")
                max_seq_length, do_lower_case = _sentence_bert_config(sbert)
        saved = read_model_config(folder / "config_sentence_transformers.json")
        model_kwargs = {**dict(model_kwargs or {}), **kwargs}
        self.model = load_transformer(AutoModelForSequenceClassification, transformer_folder, model_kwargs,
                                      config_kwargs)
        if keep_in_fp32_modules and getattr(self.model, "dtype", "float32") != "float32":
            raise NotImplementedError(f"keep_in_fp32_modules={keep_in_fp32_modules!r}: pybertcore runs a "
                                      f"{self.model.dtype} model in that precision throughout; load it in float32")
        self.tokenizer = AutoTokenizer.from_pretrained(transformer_folder, **tokenizer_kwargs)
        limit = model_token_limit(self.model.config, self.tokenizer)
        self.max_seq_length = limit if max_seq_length is None else min(int(max_seq_length), limit)
        self.do_lower_case = bool(do_lower_case)
        self.prompts, self.default_prompt_name = merge_prompts(
            {}, prompts, saved.get("prompts", {}), default_prompt_name, saved.get("default_prompt_name"))
        self.model_card_data = model_card_data
        if activation_fn is not None:
            self.activation_fn = activation_fn
        else:
            self.activation_fn = self._saved_activation(saved, folder) or self.get_default_activation_fn()

    @classmethod
    def from_pretrained(cls, model_name_or_path: Union[str, os.PathLike], **kwargs: Any) -> "CrossEncoder":
        """``CrossEncoder(model_name_or_path, **kwargs)``: the same arguments."""
        return cls(model_name_or_path, **kwargs)

    def _saved_activation(self, saved: dict, folder: Any) -> Optional[Activation]:
        if saved.get("activation_fn") is not None:
            return _activation_from_name(saved["activation_fn"], str(folder / "config_sentence_transformers.json"))
        return None

    def get_default_activation_fn(self) -> Callable:
        """config.json's ``sentence_transformers.activation_fn`` (or the older
        ``sbert_ce_default_activation_function``), else Sigmoid for one label and Identity for more."""
        config = self.model.config
        name = None
        st = getattr(config, "sentence_transformers", None)
        if isinstance(st, dict) and "activation_fn" in st:
            name = st["activation_fn"]
        elif getattr(config, "sbert_ce_default_activation_function", None) is not None:
            name = config.sbert_ce_default_activation_function
        if name is not None:
            resolved = _activation_from_name(name, "config.json")
            if resolved is not None:
                return resolved
        return Activation("torch.nn.modules.activation.Sigmoid" if self.num_labels == 1
                          else "torch.nn.modules.linear.Identity")

    @property
    def num_labels(self) -> int:
        return int(self.model.config.num_labels)

    is_singular_input = staticmethod(_is_single_pair)

    def get_max_seq_length(self) -> int:
        return self.max_seq_length

    @property
    def max_length(self) -> int:
        """The old name of ``max_seq_length``, deprecated as in sentence-transformers."""
        warnings.warn("The `max_length` property was renamed and is now deprecated. Please use `max_seq_length` "
                      "instead.", DeprecationWarning, stacklevel=2)
        return self.max_seq_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        warnings.warn("The `max_length` property was renamed and is now deprecated. Please use `max_seq_length` "
                      "instead.", DeprecationWarning, stacklevel=2)
        self.max_seq_length = value

    @property
    def default_activation_function(self) -> Callable:
        """The old name of ``activation_fn``, deprecated as in sentence-transformers."""
        warnings.warn("The `default_activation_function` property was renamed and is now deprecated. Please use "
                      "`activation_fn` instead.", DeprecationWarning, stacklevel=2)
        return self.activation_fn

    def _model_inputs(self, pairs: list, prompt: Optional[str]) -> list:
        """What the tokenizer gets for ``pairs``: the prompt before each first text, lowercased if the model
        says so; pairs as tuples (single texts stay strings)."""
        pairs = [[t] if isinstance(t, str) else list(t) for t in pairs]
        if prompt:
            pairs = [[prompt + p[0], *p[1:]] for p in pairs]
        if self.do_lower_case:
            pairs = [[t.lower() for t in p] for p in pairs]
        return [tuple(p) if len(p) == 2 else p[0] for p in pairs]

    def tokenize(self, texts: Any, **kwargs: Any) -> Any:
        """``preprocess``'s old name, with sentence-transformers' deprecation warning."""
        warn_once("The `tokenize` method is deprecated, please use `preprocess` instead.")
        return self.preprocess(texts, **kwargs)

    def preprocess(self, inputs: Any, prompt: Optional[str] = None) -> Any:
        """The token ids, attention mask (and token types) ``predict`` runs for ``inputs`` (a list of (text, text)
        pairs, or of single texts), right-padded to the longest and cut at ``max_seq_length``, as int64 numpy arrays
        (sentence-transformers gives torch tensors of the same values; ``predict`` itself does not pad, it
        batches by length)."""
        if isinstance(inputs, str):  # a list of two texts is two texts here, as in sentence-transformers
            inputs = [inputs]
        items = [t.tolist() if isinstance(t, np.ndarray) else t for t in inputs]
        for i, item in enumerate(items):
            if not (isinstance(item, str) or (isinstance(item, (list, tuple)) and len(item) == 2
                                              and all(isinstance(t, str) for t in item))):
                raise ValueError(f"inputs[{i}] is {describe(item)}: expected a text or a pair of two texts")
        if len({isinstance(item, str) for item in items}) > 1:
            raise ValueError("inputs mixes single texts and pairs: give one kind")
        return self.tokenizer(self._model_inputs(items, prompt), padding=True, truncation=True,
                              max_length=self.max_seq_length, return_tensors="np", verbose=False)

    def predict(
        self,
        inputs: Any = None,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Optional[Callable] = None,
        apply_softmax: Optional[bool] = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        device: Optional[str] = None,
        pool: Any = None,
        chunk_size: Optional[int] = None,
        sentences: Any = None,
        activation_fct: Optional[Callable] = None,
        **kwargs: Any,
    ) -> Any:
        """Scores of the (text, text) pairs ``inputs`` (one pair gives one score): (N,) float32 for one label,
        (N, num_labels) for more; the activation (this call's, else the model's) is applied to the logits,
        then softmax over the labels if ``apply_softmax``. ``convert_to_tensor`` gives a torch tensor,
        ``convert_to_numpy=False`` a list of them. ``sentences``/``activation_fct`` are the old names.
        ``device`` may be the CPU or a list of CPUs and ``pool`` one from ``start_multi_process_pool``: either
        way the pairs are scored here, in this process, whose core already uses every core (``chunk_size``
        therefore changes nothing). Unknown keywords raise TypeError (sentence-transformers ignores them, so a
        misspelt one would change nothing there without a word).
        """
        kwargs.pop("num_workers", None)  # sentence-transformers ignores it too
        reject_unknown("predict()", kwargs)
        check_cpu_devices(device)
        if inputs is None:
            inputs = sentences
        if inputs is None:
            raise ValueError("predict() needs inputs: a (text, text) pair or a list of them")
        if activation_fn is None:
            activation_fn = activation_fct
        batch_size = check_batch_size(batch_size)
        single = _is_single_pair(inputs)
        if single:
            inputs = [list(inputs.tolist() if isinstance(inputs, np.ndarray) else inputs)]
        pairs = [list(p.tolist() if isinstance(p, np.ndarray) else p) for p in inputs]
        for i, pair in enumerate(pairs):
            if len(pair) != 2 or not all(isinstance(t, str) for t in pair):
                raise ValueError(f"inputs[{i}] is {describe(pair)}: expected a pair of two strings")
        prompt = resolve_prompt(self.prompts, self.default_prompt_name, prompt, prompt_name)
        activation = _as_activation(self.activation_fn if activation_fn is None else activation_fn)
        if not pairs:
            if convert_to_tensor:
                return import_torch("convert_to_tensor=True").tensor([])
            return np.array([]) if convert_to_numpy else []
        encoded = self.tokenizer(self._model_inputs(pairs, prompt), truncation=True, max_length=self.max_seq_length,
                                 verbose=False)
        ids_list = encoded["input_ids"]
        types_list = encoded.get("token_type_ids") if model_takes_token_types(self.model.config) else None
        warn_truncated(encoded, len(pairs), self.max_seq_length)
        num_labels = self.num_labels
        scores: Optional[np.ndarray] = None
        if show_progress_bar is None:
            show_progress_bar = len(pairs) > 8 * batch_size and stderr_is_terminal()
        bar = progress_bar(len(pairs), show_progress_bar, "Scoring")
        try:
            for idx in length_sorted_batches([len(ids) for ids in ids_list], batch_size):
                ids, mask, types = padded_batch(idx, ids_list, types_list, self.tokenizer.pad_token_id)
                logits = np.asarray(self.model(ids, attention_mask=mask, token_type_ids=types).logits,
                                    dtype=np.float32)
                batch = np.asarray(activation(logits), dtype=np.float32)
                if num_labels == 1 and batch.ndim > 1:
                    batch = batch.squeeze(-1)
                if apply_softmax and batch.ndim > 1:
                    batch = _softmax(batch)
                if scores is None:
                    scores = np.empty((len(pairs),) + batch.shape[1:], dtype=np.float32)
                scores[idx] = batch
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return as_requested(scores, convert_to_tensor, convert_to_numpy, single)

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: Optional[int] = None,
        return_documents: bool = False,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Optional[Callable] = None,
        device: Optional[str] = None,
        pool: Any = None,
        chunk_size: Optional[int] = None,
        **kwargs: Any,
    ) -> list[dict]:
        """``documents`` sorted by their score against ``query``, best first, as dicts with ``corpus_id``
        (the index in ``documents``), ``score`` (a Python float) and, with ``return_documents``, ``text``;
        only the first ``top_k`` when given. Models with one label only, as in sentence-transformers."""
        for old in ("num_workers", "apply_softmax", "convert_to_numpy", "convert_to_tensor"):
            kwargs.pop(old, None)  # sentence-transformers accepts and ignores these
        if "activation_fct" in kwargs and activation_fn is None:
            activation_fn = kwargs.pop("activation_fct")
        reject_unknown("rank()", kwargs)
        if self.num_labels != 1:
            raise ValueError("CrossEncoder.rank() only works for models with num_labels=1. "
                             "Consider using CrossEncoder.predict() with input pairs instead.")
        if not isinstance(query, str):
            raise ValueError(f"query must be a string, got {describe(query)}")
        top_k = as_top_k(top_k)
        documents = list(documents)
        scores = self.predict([[query, doc] for doc in documents], prompt_name=prompt_name, prompt=prompt,
                              batch_size=batch_size, show_progress_bar=show_progress_bar,
                              activation_fn=activation_fn, device=device, pool=pool, chunk_size=chunk_size)
        results = []
        for i, score in enumerate(np.asarray(scores).tolist()):
            results.append({"corpus_id": i, "score": score})
            if return_documents:
                results[-1]["text"] = documents[i]
        results.sort(key=lambda r: r["score"], reverse=True)
        return results[:top_k]

    def save(self, path: Union[str, os.PathLike], model_name: Optional[str] = None, create_model_card: bool = True,
             train_datasets: Optional[list] = None, safe_serialization: bool = True) -> None:
        """Writes a folder sentence-transformers' CrossEncoder loads (and ours): the model and tokenizer as
        transformers saves them, ``modules.json`` with its one Transformer, and ``max_seq_length``, the
        activation and the prompts. ``model_name``, ``create_model_card`` and ``train_datasets`` only shape
        sentence-transformers' model card, which pybertcore does not write."""
        if path is None:
            return
        if inspect.isroutine(self.activation_fn) or isinstance(self.activation_fn, functools.partial):
            logger.warning("Saving activation function %r: plain functions can't be restored from the "
                           "configuration, so loading it will use the default activation function. Please use a "
                           "`torch.nn.Module` instead, e.g. `torch.nn.Identity()` instead of `lambda x: x`.",
                           self.activation_fn)
        folder = save_transformer_module(path, self, "sequence-classification", safe_serialization)
        write_folder_description(folder, "CrossEncoder", [TRANSFORMER_MODULE], {
            "activation_fn": _activation_name(self.activation_fn),
            "prompts": self.prompts, "default_prompt_name": self.default_prompt_name})

    save_pretrained = save

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        return self.predict(inputs, **kwargs)

    def __repr__(self) -> str:
        return (f"CrossEncoder(model={type(self.model).__name__}, num_labels={self.num_labels}, "
                f"max_seq_length={self.max_seq_length}, activation_fn={self.activation_fn!r})")
