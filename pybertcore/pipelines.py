"""``pybertcore.pipeline(task, model=...)``: transformers' pipelines for encoder tasks, without torch.

Tasks: "feature-extraction", "text-classification" (alias "sentiment-analysis"), "token-classification"
(alias "ner"), "fill-mask", "question-answering", "zero-shot-classification" (any NLI sequence
classifier). Each returns the structures transformers' pipeline returns (lists of dicts with the same
keys, labels from ``config.id2label``, the same defaults for ``top_k``, ``function_to_apply``,
``aggregation_strategy``, ``ignore_labels``, ``targets``, ``hypothesis_template``); scores are Python
floats. "question-answering" follows the extractive pipeline of transformers 4.x (removed in 5.x):
question first, ``doc_stride`` windows over long contexts, spans scored by start x end probabilities.
The arguments are transformers' too: ``pipeline()``'s (``config``, ``revision``, ``token``, ``dtype``,
``torch_dtype``, ``device``/``device_map`` naming the CPU, ...), the tokenizer's ``truncation``/``max_length``
where transformers passes them on, and ``batch_size``/``num_workers`` at call time. A generator or a torch
``Dataset`` gives an iterator whose results are computed as it is consumed, as there.

Differences on purpose: inputs run in padded batches (``batch_size``, default 8) rather than one at a
time; the core's packed tokens make each result independent of its batch, so ``padding`` changes nothing
(transformers' feature-extraction with ``batch_size`` > 1 returns the batch's padding rows too; not here).
Inputs longer than the model's limit are truncated with one warning per call naming how many were cut,
where transformers would let the model fail. An argument a task does not take raises TypeError naming it
(transformers drops some silently, which hides typos); ``return_all_scores``, which transformers 5 ignores,
is ignored with a warning. ``return_tensors=True`` gives numpy arrays ("pt" gives torch tensors);
token-classification scores are Python floats (transformers': numpy float32). Left out:
``is_split_into_words``, token-classification ``stride``, devices other than the CPU.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import types
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from pybertcore.sentence import progress_bar, stderr_is_terminal
from pybertcore.tokenization import model_takes_token_types, model_token_limit

logger = logging.getLogger("pybertcore")

TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}

# task → (Auto class name in pybertcore.models.auto, the suffix of the family class it picks)
TASK_MODELS = {
    "feature-extraction": ("AutoModel", "Model"),
    "text-classification": ("AutoModelForSequenceClassification", "ForSequenceClassification"),
    "token-classification": ("AutoModelForTokenClassification", "ForTokenClassification"),
    "fill-mask": ("AutoModelForMaskedLM", "ForMaskedLM"),
    "question-answering": ("AutoModelForQuestionAnswering", "ForQuestionAnswering"),
    "zero-shot-classification": ("AutoModelForSequenceClassification", "ForSequenceClassification"),
}

def _softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32, copy=False)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _load_model_for_task(task: str, model: Any, kwargs: dict) -> Any:
    """A model object for ``task``: ``model`` itself, or loaded from a folder with the task's Auto class."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    from pybertcore.models import auto

    auto_name, suffix = TASK_MODELS[task]
    auto_class = getattr(auto, auto_name, None)
    if auto_class is not None:
        return auto_class.from_pretrained(model, **kwargs)
    # No Auto class for this head yet: the config's family module has "<Family>For<Task>".
    import importlib

    config = auto.AutoConfig.from_pretrained(model)
    family = type(config).__name__[: -len("Config")]
    package = importlib.import_module(type(config).__module__.rsplit(".", 1)[0])
    model_class = getattr(package, family + suffix, None)
    if model_class is None:
        raise ValueError(f"{task}: pybertcore has no {family + suffix} for model_type {config.model_type!r}")
    return model_class.from_pretrained(model, config=config, **kwargs)


def _infer_task(model: Any) -> str:
    from pybertcore.configuration_utils import PretrainedConfig

    if isinstance(model, (str, os.PathLike)):
        from pybertcore.models.auto import AutoConfig

        config = AutoConfig.from_pretrained(model)
    else:
        config = getattr(model, "config", None)
    architectures = list(getattr(config, "architectures", None) or []) if isinstance(config, PretrainedConfig) else []
    for arch in architectures:
        for task, (_, suffix) in TASK_MODELS.items():
            if task != "feature-extraction" and arch.endswith(suffix):
                return task
    if architectures:
        return "feature-extraction"
    raise ValueError("pipeline(): pass a task; the model's config names no architecture to infer it from")


class UnknownTaskError(KeyError, ValueError):
    """A task name pipeline() does not know: a KeyError as in transformers, and a ValueError as it was here."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def _is_cpu(device: Any) -> bool:
    """Whether a ``device`` or ``device_map`` of transformers' means the CPU: None, -1, "cpu", "cpu:0",
    torch.device("cpu"), "auto" (where the model fits), or a map of module names to those."""
    if isinstance(device, dict):
        return all(_is_cpu(d) for d in device.values())
    if device is None or device == -1 or device == "auto":
        return True
    return str(device).split(":")[0] == "cpu"


def pipeline(
    task: Optional[str] = None,
    model: Any = None,
    config: Any = None,
    tokenizer: Any = None,
    *,
    revision: Optional[str] = None,
    use_fast: bool = True,
    token: Any = None,
    device: Any = None,
    device_map: Any = None,
    dtype: Any = "auto",
    trust_remote_code: Optional[bool] = None,
    model_kwargs: Optional[dict] = None,
    batch_size: int = 8,
    **kwargs: Any,
) -> "Pipeline":
    """Builds the pipeline for ``task`` around ``model`` (a folder or a model object) and its tokenizer.

    transformers' signature: ``config`` and ``tokenizer`` (objects or folders) in that order; ``revision`` and
    ``token`` choose the files; ``dtype`` (or the deprecated ``torch_dtype``) is the compute precision of a
    model loaded here ("auto" and float32: float32; also "bfloat16", "int8"). ``use_fast`` and
    ``trust_remote_code`` change nothing: the tokenizer is always the fast one and the model classes are
    pybertcore's own, never code from the checkpoint. Keyword arguments that the task's ``__call__`` takes
    (``top_k``, ``aggregation_strategy``, ...) become the pipeline's defaults, as in transformers.
    """
    if model is None:
        raise ValueError(
            "pipeline(): pass model= (a folder with config.json and weights); pybertcore downloads no default"
        )
    for name, value in (("device", device), ("device_map", device_map)):
        if not _is_cpu(value):
            raise ValueError(f"{name}={value!r}: pybertcore runs on the CPU only")
    if "framework" in kwargs and kwargs["framework"] in (None, "pt"):
        kwargs.pop("framework")  # transformers 4 chose torch or TensorFlow with it; 5 takes "pt" and ignores it
    model_kwargs = dict(model_kwargs or {})
    torch_dtype = kwargs.pop("torch_dtype", None)
    if torch_dtype is not None:
        logger.warning("`torch_dtype` is deprecated! Use `dtype` instead!")
        dtype = torch_dtype if dtype == "auto" else dtype
    if "dtype" in model_kwargs or "torch_dtype" in model_kwargs:
        if dtype not in (None, "auto"):
            raise ValueError(
                'You cannot use both `pipeline(... dtype=..., model_kwargs={"dtype":...})` as those'
                " arguments might conflict, use only one.)"
            )
    elif dtype not in (None, "auto"):
        model_kwargs["dtype"] = dtype
    hub_kwargs = {k: v for k, v in (("revision", revision), ("token", token)) if v is not None}
    if task is None:
        task = _infer_task(model)
    canonical_task = TASK_ALIASES.get(task, task)  # the pipeline keeps the name it was given, as there
    if canonical_task not in PIPELINES:
        raise UnknownTaskError(
            f"Unknown task {task}, available tasks are {sorted(list(PIPELINES) + list(TASK_ALIASES))}"
        )
    if config is not None:
        if isinstance(config, (str, os.PathLike)):
            from pybertcore.models.auto import AutoConfig

            config = AutoConfig.from_pretrained(config, **hub_kwargs)
        model_kwargs["config"] = config
    model_source = model if isinstance(model, (str, os.PathLike)) else None
    model = _load_model_for_task(canonical_task, model, {**hub_kwargs, **model_kwargs})
    if tokenizer is None:
        source = model_source or getattr(model.config, "_name_or_path", None) or getattr(model, "name_or_path", None)
        if not source:
            raise ValueError("pipeline(): pass tokenizer= (the model object does not say which folder it came from)")
        tokenizer = source
    if isinstance(tokenizer, (str, os.PathLike)):
        from pybertcore.tokenization import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer, **hub_kwargs)
    return PIPELINES[canonical_task](model=model, tokenizer=tokenizer, task=task, batch_size=batch_size, **kwargs)


# The tokenizer's arguments text-classification takes as keywords, which transformers hands to its tokenizer
# (feature-extraction and fill-mask take any of the tokenizer's in tokenize_kwargs / tokenizer_kwargs).
TOKENIZER_PARAMS = ("truncation", "max_length", "padding", "pad_to_multiple_of", "add_special_tokens")
# Where rows are padded does not change a result here (each batch is padded to its longest row and the core
# packs the rows), so these are accepted and left out.
PADDING_PARAMS = ("padding", "pad_to_multiple_of", "padding_side")


def _check_batch_size(batch_size: Any) -> int:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return int(batch_size)


def _is_stream(inputs: Any) -> bool:
    """A generator or a torch Dataset (e.g. transformers' KeyDataset): the inputs transformers answers with
    an iterator. torch is not imported to tell: a torch Dataset exists only if the caller imported it."""
    if isinstance(inputs, types.GeneratorType):
        return True
    torch_data = sys.modules.get("torch.utils.data")
    return torch_data is not None and isinstance(inputs, torch_data.Dataset)


class Pipeline:
    """Tokenize, run the model in padded batches, post-process; subclasses define the task's parts."""

    def __init__(self, model: Any, tokenizer: Any, task: str = "", batch_size: int = 8,
                 num_workers: Optional[int] = None, **kwargs: Any) -> None:
        # num_workers: transformers' DataLoader processes, taken and unused: tokenization runs batched in
        # Rust and the core has its own threads.
        self.model = model
        self.tokenizer = tokenizer
        self.task = task
        self.batch_size = _check_batch_size(batch_size)
        self._defaults = kwargs
        self._check_params(kwargs)

    def _check_params(self, kwargs: dict) -> None:
        unknown = set(kwargs) - set(self.call_params)
        if unknown:
            raise TypeError(f"{self.task} pipeline: unexpected argument(s) {', '.join(sorted(unknown))}")

    call_params: tuple[str, ...] = ()

    def _params(self, kwargs: dict) -> dict:
        """The construction defaults with this call's keywords over them; ``batch_size`` always set."""
        kwargs = dict(kwargs)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("num_workers", None)
        self._check_params(kwargs)
        params = dict(self._defaults)
        params.update(kwargs)
        params["batch_size"] = self.batch_size if batch_size is None else _check_batch_size(batch_size)
        return params

    @property
    def device(self) -> Any:
        """``"cpu"``, with torch.device's ``type`` and ``index``: where transformers' pipelines say they run."""
        from pybertcore.modeling_utils import CpuDevice

        return CpuDevice()

    @property
    def max_length(self) -> int:
        """Tokens the model takes: the tokenizer's model_max_length, within the position table."""
        return model_token_limit(self.model.config, self.tokenizer)

    def _encode(self, texts: list, truncation: Union[bool, str, None] = None, max_length: Optional[int] = None,
                limit_strategy: Union[bool, str] = True, **tokenizer_kwargs: Any) -> Any:
        """Tokenizes a batch. ``truncation`` and ``max_length`` are the caller's, as transformers passes them
        to the tokenizer: asked for, the inputs are cut at ``max_length`` (at most the model's limit) without
        a word. Not asked for (transformers' default), inputs past the model's limit are cut there with
        ``limit_strategy`` and one warning per call naming how many, where transformers' model would fail."""
        for name in PADDING_PARAMS:
            tokenizer_kwargs.pop(name, None)
        limit = self.max_length
        # Asked for: truncation=True or a strategy, or a bare max_length (which truncates, as transformers'
        # tokenizer does with it).
        asked = truncation not in (None, False, "do_not_truncate") or (truncation is None and max_length is not None)
        if not asked:
            enc = self.tokenizer(texts, truncation=limit_strategy, max_length=limit, verbose=False,
                                 **tokenizer_kwargs)
            self._warn_truncated(enc.encodings)
            return enc
        cut_at = limit if max_length is None else min(int(max_length), limit)
        return self.tokenizer(texts, truncation=truncation, max_length=cut_at, verbose=False, **tokenizer_kwargs)

    def _warn_truncated(self, encodings: list) -> None:
        cut = sum(1 for e in encodings if e.overflowing)
        if cut:
            logger.warning(
                "%s: %d of %d inputs were longer than the model's limit of %d tokens and were truncated",
                self.task, cut, len(encodings), self.max_length,
            )

    def _run(self, encodings: list, batch_size: int) -> list[dict[str, np.ndarray]]:
        """The model's outputs for each ``tokenizers`` Encoding, sliced to its own tokens."""
        results: list[dict[str, np.ndarray]] = []
        pad_id = self.tokenizer.pad_token_id or 0
        use_types = "token_type_ids" in self.tokenizer.model_input_names and model_takes_token_types(self.model.config)
        n_batches = -(-len(encodings) // batch_size)
        bar = progress_bar(len(encodings), n_batches > 8 and stderr_is_terminal(), self.task)
        try:
            for start in range(0, len(encodings), batch_size):
                batch = encodings[start:start + batch_size]
                T = max(len(e.ids) for e in batch)
                ids = np.full((len(batch), T), pad_id, dtype=np.int64)
                mask = np.zeros((len(batch), T), dtype=np.int64)
                type_ids = np.zeros((len(batch), T), dtype=np.int64)
                for row, e in enumerate(batch):
                    n = len(e.ids)
                    ids[row, :n] = e.ids
                    mask[row, :n] = 1
                    type_ids[row, :n] = e.type_ids
                inputs = {"input_ids": ids, "attention_mask": mask}
                if use_types:
                    inputs["token_type_ids"] = type_ids
                out = self.model(**inputs)
                for row, e in enumerate(batch):
                    n = len(e.ids)
                    results.append({key: self._slice(key, out[key], row, n) for key in self._output_keys(out)})
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return results

    @staticmethod
    def _output_keys(out: Any) -> list[str]:
        return [k for k in ("logits", "start_logits", "end_logits", "last_hidden_state") if k in out and out[k] is not None]

    @staticmethod
    def _slice(key: str, value: np.ndarray, row: int, n: int) -> np.ndarray:
        if key == "logits" and value.ndim == 2:  # sequence classification: (B, num_labels)
            return value[row]
        return value[row, :n]

    @staticmethod
    def _stream(inputs: Any, batch_size: int, run_batch: Callable[[list], list]) -> Iterator:
        """transformers' answer to a generator or a torch Dataset: an iterator of one result per input,
        computed ``batch_size`` inputs at a time as it is consumed, so the inputs are never held whole."""
        if isinstance(inputs, types.GeneratorType):
            items = inputs
        else:  # a torch Dataset has __getitem__ and __len__, not always __iter__
            items = (inputs[i] for i in range(len(inputs)))

        def results() -> Iterator:
            while True:
                chunk = list(itertools.islice(items, batch_size))
                if not chunk:
                    return
                yield from run_batch(chunk)

        return results()

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def save_pretrained(self, save_directory: Union[str, os.PathLike], **kwargs: Any) -> None:
        """The model and the tokenizer into one folder, as transformers' ``Pipeline.save_pretrained``:
        ``pipeline(task, model=folder)`` of either library loads it back. ``kwargs`` go to both
        ``save_pretrained`` calls (``safe_serialization``, ...). Unlike transformers, which logs an error and
        writes nothing, a path naming a file raises."""
        if os.path.isfile(save_directory):
            raise OSError(f"save_pretrained: {save_directory} is a file, not a folder")
        os.makedirs(save_directory, exist_ok=True)
        self.model.save_pretrained(save_directory, **kwargs)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(save_directory, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, model={type(self.model).__name__}, batch_size={self.batch_size})"


def _as_text_list(inputs: Any, name: str = "inputs") -> tuple[list[str], bool]:
    if isinstance(inputs, str):
        return [inputs], True
    if not hasattr(inputs, "__iter__"):
        raise ValueError(f"{name} is {type(inputs).__name__}: expected a string or a list of strings")
    texts = list(inputs)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"{name}[{i}] is {type(t).__name__}, expected a string")
    return texts, False


class FeatureExtractionPipeline(Pipeline):
    """Token features: each text's ``last_hidden_state`` as a (1, T, H) nested list (or array)."""

    call_params = ("return_tensors", "truncation", "tokenize_kwargs")

    def __call__(self, inputs: Union[str, list[str]], **kwargs: Any) -> Any:
        params = self._params(kwargs)
        tokenize_kwargs = dict(params.get("tokenize_kwargs") or {})
        if params.get("truncation") is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError(
                    "truncation parameter defined twice (given as keyword argument as well as in tokenize_kwargs)"
                )
            tokenize_kwargs["truncation"] = params["truncation"]
        if _is_stream(inputs):
            return self._stream(inputs, params["batch_size"],
                                lambda chunk: self._features(_as_text_list(chunk)[0], tokenize_kwargs, params))
        texts, single = _as_text_list(inputs)
        results = self._features(texts, tokenize_kwargs, params)
        return results[0] if single else results

    def _features(self, texts: list, tokenize_kwargs: dict, params: dict) -> list:
        outputs = self._run(self._encode(texts, **tokenize_kwargs).encodings, params["batch_size"])
        return_tensors = params.get("return_tensors")
        results = []
        for out in outputs:
            features = out["last_hidden_state"][None]
            if return_tensors == "pt":  # torch asked for by name: the one case that imports it
                from pybertcore.frameworks import to_torch

                results.append(to_torch(features))
            else:
                results.append(features if return_tensors else features.tolist())
        return results


class TextClassificationPipeline(Pipeline):
    """Labels and scores per text (or text pair given as {"text", "text_pair"})."""

    call_params = ("top_k", "function_to_apply", "return_all_scores") + TOKENIZER_PARAMS

    def _check_params(self, kwargs: dict) -> None:
        super()._check_params(kwargs)
        if "return_all_scores" in kwargs:
            logger.warning(
                "%s: return_all_scores is ignored, as transformers 5 ignores it; pass top_k=None for every "
                "label's score", self.task,
            )

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        # transformers' quirks, kept: without top_k a label dict per text ("legacy"), and a single string
        # still gets a list around its result unless top_k was passed to this call.
        legacy = "top_k" not in kwargs and "top_k" not in self._defaults
        wrap_single = isinstance(inputs, str) and "top_k" not in kwargs
        params = self._params(kwargs)
        if _is_stream(inputs):
            return self._stream(inputs, params["batch_size"], lambda chunk: self._classify(chunk, params, legacy))
        single = isinstance(inputs, (str, dict))
        if not single and not hasattr(inputs, "__iter__"):
            raise ValueError(f"inputs is {type(inputs).__name__}: expected a string, a {{'text', 'text_pair'}} dict "
                             "or a list of those")
        results = self._classify([inputs] if single else list(inputs), params, legacy)
        if wrap_single:
            return [results[0]]
        return results[0] if single else results

    def _classify(self, items: list, params: dict, legacy: bool) -> list:
        texts: list = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                if set(item) - {"text", "text_pair"} or "text" not in item:
                    raise ValueError(f"inputs[{i}]: a text pair is a dict with keys 'text' and 'text_pair'")
                texts.append(item["text"] if item.get("text_pair") is None else (item["text"], item["text_pair"]))
            elif isinstance(item, str):
                texts.append(item)
            else:
                raise ValueError(
                    'The pipeline received invalid inputs, if you are trying to send text pairs, you can try to send '
                    'a dictionary `{"text": "My text", "text_pair": "My pair"}` in order to send a text pair.'
                )
        tokenizer_kwargs = {k: params[k] for k in TOKENIZER_PARAMS if k in params}
        outputs = self._run(self._encode(texts, **tokenizer_kwargs).encodings, params["batch_size"])
        top_k = params.get("top_k", 1)
        return [self._postprocess(out["logits"], params.get("function_to_apply"), top_k, legacy) for out in outputs]

    def _postprocess(self, logits: np.ndarray, function_to_apply: Optional[str], top_k: Optional[int], legacy: bool):
        config = self.model.config
        if function_to_apply is None:
            problem = getattr(config, "problem_type", None)
            if problem == "regression":
                function_to_apply = "none"
            elif problem == "multi_label_classification" or config.num_labels == 1:
                function_to_apply = "sigmoid"
            elif problem == "single_label_classification" or config.num_labels > 1:
                function_to_apply = "softmax"
            else:
                function_to_apply = getattr(config, "function_to_apply", None) or "none"
        function_to_apply = str(function_to_apply).lower()
        if function_to_apply == "sigmoid":
            scores = _sigmoid(logits)
        elif function_to_apply == "softmax":
            scores = _softmax(logits)
        elif function_to_apply == "none":
            scores = logits
        else:
            raise ValueError(f"Unrecognized `function_to_apply` argument: {function_to_apply}")
        id2label = config.id2label
        if top_k == 1 and legacy:
            return {"label": id2label[int(scores.argmax())], "score": float(scores.max())}
        entries = [{"label": id2label[i], "score": float(s)} for i, s in enumerate(scores)]
        if not legacy:
            entries.sort(key=lambda x: x["score"], reverse=True)
            if top_k is not None:
                entries = entries[:top_k]
        return entries


AGGREGATION_STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """Per-token labels (``aggregation_strategy="none"``) or grouped entities ("simple", "first", ...)."""

    call_params = ("aggregation_strategy", "ignore_labels")

    def __call__(self, inputs: Union[str, list[str]], **kwargs: Any) -> Any:
        params = self._params(kwargs)
        strategy = str(params.get("aggregation_strategy") or "none").lower()
        if strategy not in AGGREGATION_STRATEGIES:
            raise ValueError(f"aggregation_strategy={strategy!r}: expected one of {', '.join(AGGREGATION_STRATEGIES)}")
        ignore_labels = params.get("ignore_labels")
        ignore_labels = ["O"] if ignore_labels is None else list(ignore_labels)
        if _is_stream(inputs):
            return self._stream(inputs, params["batch_size"],
                                lambda chunk: self._entities(_as_text_list(chunk)[0], strategy, ignore_labels, params))
        texts, single = _as_text_list(inputs)
        results = self._entities(texts, strategy, ignore_labels, params)
        return results[0] if single else results

    def _entities(self, texts: list, strategy: str, ignore_labels: list, params: dict) -> list:
        enc = self._encode(texts)
        outputs = self._run(enc.encodings, params["batch_size"])
        results = []
        for text, e, out in zip(texts, enc.encodings, outputs):
            pre = self._gather_pre_entities(text, e, _softmax(out["logits"]))
            entities = self._aggregate(pre, strategy)
            results.append([
                x for x in entities
                if x.get("entity") not in ignore_labels and x.get("entity_group") not in ignore_labels
            ])
        return results

    def _gather_pre_entities(self, sentence: str, encoding: Any, scores: np.ndarray) -> list[dict]:
        tok = self.tokenizer
        subword_prefix = getattr(tok.backend_tokenizer.model, "continuing_subword_prefix", None)
        pre = []
        for idx, token_scores in enumerate(scores):
            if encoding.special_tokens_mask[idx]:
                continue
            token_id = encoding.ids[idx]
            word = tok.convert_ids_to_tokens(token_id)
            start, end = encoding.offsets[idx]
            word_ref = sentence[start:end]
            if subword_prefix:
                is_subword = len(word) != len(word_ref)
            else:
                is_subword = start > 0 and " " not in sentence[start - 1:start + 1]
            if token_id == tok.unk_token_id:
                word, is_subword = word_ref, False
            pre.append({"word": word, "scores": token_scores, "start": start, "end": end, "index": idx,
                        "is_subword": is_subword})
        return pre

    def _aggregate(self, pre: list[dict], strategy: str) -> list[dict]:
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = []
            for p in pre:
                i = int(p["scores"].argmax())
                entities.append({"entity": id2label[i], "score": float(p["scores"][i]), "index": p["index"],
                                 "word": p["word"], "start": p["start"], "end": p["end"]})
        else:
            entities = self._aggregate_words(pre, strategy)
        if strategy == "none":
            return entities
        return self._group_entities(entities)

    def _aggregate_word(self, entities: list[dict], strategy: str) -> dict:
        id2label = self.model.config.id2label
        word = self.tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if strategy == "first":
            scores = entities[0]["scores"]
        elif strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        else:  # average
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        i = int(scores.argmax())
        return {"entity": id2label[i], "score": float(scores[i]), "word": word,
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    def _aggregate_words(self, pre: list[dict], strategy: str) -> list[dict]:
        words, group = [], None
        for p in pre:
            if group is None:
                group = [p]
            elif p["is_subword"]:
                group.append(p)
            else:
                words.append(self._aggregate_word(group, strategy))
                group = [p]
        if group is not None:
            words.append(self._aggregate_word(group, strategy))
        return words

    @staticmethod
    def _tag(name: str) -> tuple[str, str]:
        if name.startswith("B-"):
            return "B", name[2:]
        if name.startswith("I-"):
            return "I", name[2:]
        return "I", name

    def _group(self, entities: list[dict]) -> dict:
        return {
            "entity_group": entities[0]["entity"].split("-", 1)[-1],
            "score": float(np.nanmean(np.array([e["score"] for e in entities], dtype=np.float32))),
            "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    def _group_entities(self, entities: list[dict]) -> list[dict]:
        groups, current = [], []
        for entity in entities:
            if not current:
                current.append(entity)
                continue
            bi, tag = self._tag(entity["entity"])
            _, last_tag = self._tag(current[-1]["entity"])
            if tag == last_tag and bi != "B":
                current.append(entity)
            else:
                groups.append(self._group(current))
                current = [entity]
        if current:
            groups.append(self._group(current))
        return groups


class FillMaskPipeline(Pipeline):
    """The ``top_k`` most likely tokens at each mask token, with the filled-in sequence."""

    call_params = ("top_k", "targets", "tokenizer_kwargs")

    def __call__(self, inputs: Union[str, list[str]], **kwargs: Any) -> Any:
        params = self._params(kwargs)
        tok = self.tokenizer
        if tok.mask_token_id is None:
            raise ValueError("fill-mask: the tokenizer defines no mask_token")
        top_k = 5 if params.get("top_k") is None else int(params["top_k"])
        target_ids = self._target_ids(params["targets"]) if params.get("targets") is not None else None
        if target_ids is not None and len(target_ids) < top_k:
            top_k = len(target_ids)
        if _is_stream(inputs):
            return self._stream(inputs, params["batch_size"],
                                lambda chunk: self._fill(_as_text_list(chunk)[0], top_k, target_ids, params))
        texts, single = _as_text_list(inputs)
        results = self._fill(texts, top_k, target_ids, params)
        if single or len(results) == 1:  # transformers unwraps a list of one too
            return results[0]
        return results

    def _fill(self, texts: list, top_k: int, target_ids: Optional[np.ndarray], params: dict) -> list:
        tok = self.tokenizer
        enc = self._encode(texts, **dict(params.get("tokenizer_kwargs") or {}))
        for i, e in enumerate(enc.encodings):
            if tok.mask_token_id not in e.ids:
                if any(tok.mask_token_id in o.ids for o in e.overflowing):
                    raise ValueError(
                        f"fill-mask: inputs[{i}] was truncated (the model's limit is {self.max_length} tokens) and "
                        f"its mask_token ({tok.mask_token}) was cut off; shorten the text around the mask"
                    )
                raise ValueError(f"fill-mask: no mask_token ({tok.mask_token}) found in inputs[{i}]: {texts[i]!r}")
        outputs = self._run(enc.encodings, params["batch_size"])
        return [self._postprocess(np.asarray(e.ids), out["logits"], top_k, target_ids)
                for e, out in zip(enc.encodings, outputs)]

    def _postprocess(self, input_ids: np.ndarray, logits: np.ndarray, top_k: int, target_ids: Optional[np.ndarray]):
        tok = self.tokenizer
        masked = np.nonzero(input_ids == tok.mask_token_id)[0]
        probs = _softmax(logits[masked])
        if target_ids is not None:
            probs = probs[:, target_ids]
        single_mask = len(masked) == 1
        result = []
        for i, row in enumerate(probs):
            order = np.argsort(-row, kind="stable")[:top_k]
            entries = []
            for p in order:
                token = int(target_ids[p]) if target_ids is not None else int(p)
                tokens = input_ids.copy()
                tokens[masked[i]] = token
                tokens = tokens[tokens != tok.pad_token_id]
                entries.append({
                    "score": float(row[p]),
                    "token": token,
                    "token_str": tok.decode([token]),
                    "sequence": tok.decode(tokens, skip_special_tokens=single_mask),
                })
            result.append(entries)
        return result[0] if single_mask else result

    def _target_ids(self, targets: Union[str, list[str]]) -> np.ndarray:
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            tid = vocab.get(target)
            if tid is None:
                pieces = self.tokenizer(target, add_special_tokens=False, return_attention_mask=False,
                                        return_token_type_ids=False, max_length=1, truncation=True)["input_ids"]
                if not pieces:
                    logger.warning("fill-mask: target %r is not in the vocabulary; ignoring it", target)
                    continue
                tid = pieces[0]
                logger.warning("fill-mask: target %r is not in the vocabulary; using %r", target,
                               self.tokenizer.convert_ids_to_tokens(tid))
            ids.append(tid)
        ids = sorted(set(ids))
        if not ids:
            raise ValueError("At least one target must be provided when passed.")
        return np.array(ids)


class QuestionAnsweringPipeline(Pipeline):
    """Extractive QA: the context span that answers the question, with its score and character offsets."""

    # padding: transformers 4 took it for the tokenizer; unused here as everywhere (see PADDING_PARAMS).
    call_params = ("top_k", "doc_stride", "max_answer_len", "max_seq_len", "max_question_len",
                   "handle_impossible_answer", "align_to_words", "padding")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        question = kwargs.pop("question", None)
        context = kwargs.pop("context", None)
        for name in ("X", "data"):
            if name in kwargs and not args:
                args = (kwargs.pop(name),)
        params = self._params(kwargs)
        top_k = 1 if params.get("top_k") is None else int(params["top_k"])
        if top_k < 1:
            raise ValueError(f"top_k parameter should be >= 1 (got {top_k})")
        max_answer_len = 15 if params.get("max_answer_len") is None else int(params["max_answer_len"])
        if max_answer_len < 1:
            raise ValueError(f"max_answer_len parameter should be >= 1 (got {max_answer_len})")
        params.update(top_k=top_k, max_answer_len=max_answer_len)
        if question is not None or context is not None:
            if question is None or context is None:
                raise ValueError("question-answering: pass both question= and context=")
            if args:
                raise ValueError("question-answering: pass either question=/context= or positional inputs, not both")
            examples = self._pairs(question, context)
        elif len(args) == 2 and all(isinstance(a, (str, list)) for a in args):
            examples = self._pairs(args[0], args[1])
        elif len(args) == 1 and _is_stream(args[0]):
            return self._stream(args[0], params["batch_size"],
                                lambda chunk: [self._answer(q, c, params) for q, c in self._examples(chunk)])
        elif len(args) == 1:
            examples = self._examples([args[0]] if isinstance(args[0], dict) else list(args[0]))
        else:
            raise ValueError("question-answering: pass question= and context= (strings or lists of strings)")
        results = [self._answer(q, c, params) for q, c in examples]
        # transformers 4 answers one example, however it was given (a dict, a list of one), without a list.
        return results[0] if len(results) == 1 else results

    def _examples(self, items: list) -> list[tuple[str, str]]:
        """(question, context) of each {"question", "context"} dict."""
        examples = []
        for i, x in enumerate(items):
            if not isinstance(x, dict) or "question" not in x or "context" not in x:
                raise ValueError(f"question-answering: inputs[{i}] must be a dict with 'question' and 'context'")
            examples.append((x["question"], x["context"]))
        self._check_examples(examples)
        return examples

    @staticmethod
    def _check_examples(examples: list[tuple[Any, Any]]) -> None:
        for i, (q, c) in enumerate(examples):
            if not isinstance(q, str) or not isinstance(c, str):
                raise ValueError(f"question-answering: example {i}: question and context must be strings")
            if not q:
                raise ValueError(f"question-answering: example {i}: `question` cannot be empty")
            if not c:
                raise ValueError(f"question-answering: example {i}: `context` cannot be empty")

    def _pairs(self, question: Any, context: Any) -> list[tuple[str, str]]:
        """(question, context) of each example given as question= and context= (strings or lists)."""
        if isinstance(question, str) and isinstance(context, str):
            examples = [(question, context)]
        elif isinstance(question, list) and isinstance(context, str):
            examples = [(q, context) for q in question]
        elif isinstance(question, list) and isinstance(context, list):
            if len(question) != len(context):
                raise ValueError("question-answering: question and context lists have different lengths")
            examples = list(zip(question, context))
        elif isinstance(question, str) and isinstance(context, list):
            examples = [(question, c) for c in context]
        else:
            raise ValueError("question-answering: question and context must be strings or lists of strings")
        self._check_examples(examples)
        return examples

    def _answer(self, question: str, context: str, params: dict) -> Any:
        tok = self.tokenizer
        top_k, max_answer_len = params["top_k"], params["max_answer_len"]
        handle_impossible = bool(params.get("handle_impossible_answer", False))
        align_to_words = params.get("align_to_words", True)
        max_seq_len = params.get("max_seq_len") or min(self.max_length, 384)
        max_seq_len = min(int(max_seq_len), self.max_length)
        doc_stride = params.get("doc_stride")
        doc_stride = min(max_seq_len // 2, 128) if doc_stride is None else int(doc_stride)
        if doc_stride > max_seq_len:
            raise ValueError(f"`doc_stride` ({doc_stride}) is larger than `max_seq_len` ({max_seq_len})")

        question_first = tok.padding_side == "right"
        first, second = (question, context) if question_first else (context, question)
        backend = tok.backend_tokenizer
        with tok._lock:  # truncation with a stride is set on the shared Rust tokenizer for this one call
            backend.enable_truncation(max_seq_len, stride=doc_stride,
                                      strategy="only_second" if question_first else "only_first")
            try:
                main = backend.encode(first, second, add_special_tokens=True)
            except Exception as e:
                raise ValueError(
                    f"question-answering: the question does not fit in max_seq_len={max_seq_len}: {e}"
                ) from None
            finally:
                backend.no_truncation()
        spans = [main] + list(main.overflowing)
        outputs = self._run(spans, params["batch_size"])

        min_null_score = 1000000.0
        answers = []
        context_index = 1 if question_first else 0
        for enc, out in zip(spans, outputs):
            seq_ids = enc.sequence_ids
            p_mask = np.array([(s != context_index) for s in seq_ids], dtype=np.int64)
            if tok.cls_token_id is not None:
                p_mask[np.asarray(enc.ids) == tok.cls_token_id] = 0
            starts, ends, scores, min_null_score = _select_starts_ends(
                out["start_logits"][None], out["end_logits"][None], p_mask, np.ones(len(enc.ids), dtype=np.int64),
                min_null_score, top_k, handle_impossible, max_answer_len,
            )
            for s, e, score in zip(starts, ends, scores):
                start_char, end_char = _char_span(enc, int(s), int(e), context_index, align_to_words)
                answers.append({"score": float(score), "start": start_char, "end": end_char,
                                "answer": context[start_char:end_char]})
        if handle_impossible:
            answers.append({"score": float(min_null_score), "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers


def _char_span(enc: Any, s: int, e: int, sequence_index: int, align_to_words: bool) -> tuple[int, int]:
    if align_to_words:
        try:
            start_word, end_word = enc.token_to_word(s), enc.token_to_word(e)
            return (enc.word_to_chars(start_word, sequence_index)[0], enc.word_to_chars(end_word, sequence_index)[1])
        except Exception:  # tokenizers without words: keep to token offsets
            pass
    return enc.offsets[s][0], enc.offsets[e][1]


def _decode_spans(start: np.ndarray, end: np.ndarray, topk: int, max_answer_len: int, desired: np.ndarray):
    """transformers' decode_spans: the top-k (start, end) pairs by start x end probability."""
    outer = np.matmul(start[..., :, None], end[..., None, :])
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    flat = candidates.flatten()
    if topk == 1:
        idx_sort = [np.argmax(flat)]
    elif len(flat) <= topk:
        idx_sort = np.argsort(-flat)
    else:
        idx = np.argpartition(-flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    keep = np.isin(starts, desired.nonzero()) & np.isin(ends, desired.nonzero())
    starts, ends = starts[keep], ends[keep]
    return starts, ends, candidates[0, starts, ends]


def _select_starts_ends(start, end, p_mask, attention_mask, min_null_score, top_k, handle_impossible, max_answer_len):
    """transformers' select_starts_ends: probabilities over context tokens only, then the best spans."""
    desired = np.abs(np.array(p_mask) - 1) & attention_mask
    undesired = desired == 0
    start = np.where(undesired, -10000.0, start)
    end = np.where(undesired, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible:
        min_null_score = min(min_null_score, float(start[0, 0] * end[0, 0]))
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = _decode_spans(start, end, top_k, max_answer_len, desired)
    return starts, ends, scores, min_null_score


class ZeroShotClassificationPipeline(Pipeline):
    """NLI-based zero-shot classification (transformers' algorithm): each candidate label becomes the hypothesis
    ``hypothesis_template.format(label)`` paired with the sequence (truncated "only_first", so the hypothesis
    stays whole); the entailment logit (the ``config.label2id`` label starting with "entail") scores the label.
    ``multi_label=False``: a softmax of the entailment logits over the labels; ``multi_label=True`` (or one
    label): per label, a softmax over (contradiction, entailment), contradiction being logit 0, or the last one
    when entailment is 0. All pairs of all sequences run through the model in batches of ``batch_size``."""

    # truncation: taken and dropped, as transformers' zero-shot pipeline drops it; the premise is always
    # truncated "only_first" at the model's limit.
    call_params = ("candidate_labels", "hypothesis_template", "multi_label", "truncation")
    default_template = "This example is {}."

    def __init__(self, model: Any, tokenizer: Any, task: str = "", batch_size: int = 8, **kwargs: Any) -> None:
        super().__init__(model, tokenizer, task, batch_size, **kwargs)
        if "candidate_labels" in self._defaults:
            self._defaults["candidate_labels"] = self._parse_labels(self._defaults["candidate_labels"])
        if self.entailment_id == -1:
            logger.warning(
                "Failed to determine 'entailment' label id from the label2id mapping in the model config. Setting to "
                "-1. Define a descriptive label2id mapping in the model config to ensure correct outputs."
            )

    @property
    def entailment_id(self) -> int:
        """The id of the first label2id label starting with "entail" (any case); -1 (the last logit) if none."""
        for label, index in (getattr(self.model.config, "label2id", None) or {}).items():
            if label.lower().startswith("entail"):
                return int(index)
        return -1

    @staticmethod
    def _parse_labels(labels: Any) -> Any:
        """A comma-separated string becomes its stripped, non-empty parts; a list stays as given."""
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(",") if label.strip()]
        return labels

    def __call__(self, sequences: Union[str, list[str]], *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and "candidate_labels" not in kwargs:
            kwargs["candidate_labels"] = args[0]
        elif args:
            raise ValueError(f"Unable to understand extra arguments {args}")
        if "candidate_labels" in kwargs:
            kwargs["candidate_labels"] = self._parse_labels(kwargs["candidate_labels"])
        params = self._params(kwargs)
        labels = params.get("candidate_labels")
        labels = [] if labels is None else list(labels)
        template = params.get("hypothesis_template", self.default_template)
        if not isinstance(template, str):
            raise ValueError(f"hypothesis_template must be a string with {{}} where the label goes, got "
                             f"{type(template).__name__}")
        multi_label = bool(params.get("multi_label", False))
        if _is_stream(sequences):
            return self._stream(sequences, params["batch_size"], lambda chunk: self._classify(
                _as_text_list(chunk, "sequences")[0], labels, template, multi_label, params["batch_size"]))
        texts, single = _as_text_list(sequences, "sequences")
        results = self._classify(texts, labels, template, multi_label, params["batch_size"])
        return results[0] if single else results

    def _classify(self, texts: list, labels: list, template: str, multi_label: bool, batch_size: int) -> list:
        for text in texts:
            if len(labels) == 0 or len(text) == 0:
                raise ValueError("You must include at least one label and at least one sequence.")
        if texts and template.format(labels[0]) == template:
            raise ValueError(
                f'The provided hypothesis_template "{template}" was not able to be formatted with the target labels. '
                "Make sure the passed template includes formatting syntax such as {} where the label should go."
            )
        hypotheses = [template.format(label) for label in labels]
        pairs = [(text, hypothesis) for text in texts for hypothesis in hypotheses]
        outputs = self._run(self._encode_pairs(pairs), batch_size) if pairs else []
        n = len(labels)
        results = []
        for k, text in enumerate(texts):
            logits = np.stack([out["logits"] for out in outputs[k * n:(k + 1) * n]]).astype(np.float32, copy=False)
            results.append(self._postprocess(text, labels, logits, multi_label))
        return results

    def _encode_pairs(self, pairs: list) -> list:
        """The pairs' encodings, truncated "only_first" at the model's limit; a pair whose hypothesis alone
        leaves no room ("too short") goes untruncated, as transformers does, one pair at a time."""
        try:
            return self._encode(pairs, limit_strategy="only_first").encodings
        except ValueError as e:
            if "too short" not in str(e):
                raise
        encodings = []
        for pair in pairs:
            try:
                encodings += self.tokenizer([pair], truncation="only_first", max_length=self.max_length,
                                            verbose=False).encodings
            except ValueError as e:
                if "too short" not in str(e):
                    raise
                encodings += self.tokenizer([pair], truncation=False, verbose=False).encodings
        self._warn_truncated(encodings)
        return encodings

    def _postprocess(self, sequence: str, labels: list, logits: np.ndarray, multi_label: bool) -> dict:
        """transformers' postprocess on one sequence's (labels, num_labels) float32 logits, formula for formula."""
        if multi_label or len(labels) == 1:
            entailment_id = self.entailment_id
            contradiction_id = -1 if entailment_id == 0 else 0
            entail_contr_logits = logits[..., [contradiction_id, entailment_id]]
            scores = np.exp(entail_contr_logits) / np.exp(entail_contr_logits).sum(-1, keepdims=True)
            scores = scores[..., 1]
        else:
            entail_logits = logits[..., self.entailment_id]
            scores = np.exp(entail_logits) / np.exp(entail_logits).sum(-1, keepdims=True)
        top = list(reversed(scores.argsort()))
        return {"sequence": sequence, "labels": [labels[i] for i in top], "scores": scores[top].tolist()}


PIPELINES: dict[str, type[Pipeline]] = {
    "feature-extraction": FeatureExtractionPipeline,
    "text-classification": TextClassificationPipeline,
    "token-classification": TokenClassificationPipeline,
    "fill-mask": FillMaskPipeline,
    "question-answering": QuestionAnsweringPipeline,
    "zero-shot-classification": ZeroShotClassificationPipeline,
}
