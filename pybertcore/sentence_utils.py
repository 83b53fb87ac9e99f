"""What SentenceEncoder, CrossEncoder and SparseEncoder share, as sentence-transformers defines it:
``quantize_embeddings`` (its calibration and bit packing), the similarity functions behind
``similarity_fn_name``, prompt resolution, ``config_sentence_transformers.json``, the argument checks
(``inputs`` and its old name ``sentences``, extra ``encode`` keywords, devices, ``top_k``), the process pool
that runs in this process, and the Transformer module a saved folder starts with.

Numerics: quantization is the same numpy arithmetic as ``sentence_transformers.util.quantize_embeddings``
(float32 ranges, ``floor((x - start) / step)``), so identical float inputs give identical codes; cosine and
dot are float32 matrix products, euclidean and manhattan float32 distances. Torch is imported only when the
caller handed torch tensors (outputs then come back as torch) or asked for tensors by name.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np

from pybertcore.frameworks import any_torch, import_torch, is_torch_tensor, to_torch
from pybertcore.untrusted import describe, load_json

logger = logging.getLogger("pybertcore")

ALLOWED_PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
SIMILARITY_FN_NAMES = ("cosine", "dot", "euclidean", "manhattan")


def reject_unknown(where: str, kwargs: dict) -> None:
    """TypeError naming every keyword ``where`` does not take."""
    if kwargs:
        raise TypeError(f"{where} got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")


# encode's ``inputs`` when the caller gave none (it may come as the old keyword ``sentences``).
NO_INPUTS: Any = object()


@functools.lru_cache(maxsize=None)
def warn_once(message: str) -> None:
    """``logger.warning`` once per process and message, as transformers' ``warning_once``, which
    sentence-transformers uses for its deprecations and the default prompt."""
    logger.warning(message)


def inputs_argument(where: str, inputs: Any, kwargs: dict) -> Any:
    """encode's texts: ``inputs``, or ``sentences=``, its name before sentence-transformers 6, which still takes
    it with this warning (``inputs`` wins when both are given)."""
    if "sentences" in kwargs:
        warn_once("The `sentences` argument was renamed and is now deprecated. Please use `inputs` instead.")
        old = kwargs.pop("sentences")
        if inputs is NO_INPUTS:
            inputs = old
    if inputs is NO_INPUTS:
        raise TypeError(f"{where} missing 1 required positional argument: 'inputs'")
    return inputs


def texts_of(inputs: Any) -> tuple[list, bool]:
    """(the texts, whether ``inputs`` was one text): a string is one text, a list, tuple, numpy array or other
    iterable of strings a batch. Anything else raises ValueError, as sentence-transformers does."""
    if isinstance(inputs, str):
        return [inputs], True
    if isinstance(inputs, (dict, bytes)) or not isinstance(inputs, Iterable):
        raise ValueError(f"Unsupported input type: {type(inputs).__name__}. Expected a string or a list of strings")
    texts = list(inputs)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"inputs[{i}] is {type(text).__name__}, expected a string")
    return texts, False


def check_encode_extras(owner: str, kwargs: dict, model_kwargs: tuple = ()) -> None:
    """sentence-transformers 6 hands encode's extra keywords to its modules and raises ValueError naming those
    no module takes. ``task`` it takes from every model (only a Router reads it); ``model_kwargs`` are the
    others this model takes (get_model_kwargs), read by the caller. ``processing_kwargs`` (tokenizer
    settings for one call) is not supported."""
    kwargs.pop("task", None)
    for name in model_kwargs:
        kwargs.pop(name, None)
    if kwargs.pop("processing_kwargs", None):
        raise NotImplementedError("encode(processing_kwargs=...) is not supported by pybertcore; set the model's "
                                  "max_seq_length instead")
    if kwargs:
        raise ValueError(f"{owner}.encode() has been called with additional keyword arguments that this model "
                         f"does not use: {sorted(kwargs)}.")


def as_top_k(top_k: Any) -> Optional[int]:
    """``top_k`` as an int: any integer (numpy's too, as slicing takes them in sentence-transformers); other
    types raise TypeError, as slicing does there."""
    if top_k is None:
        return None
    try:
        return operator.index(top_k)
    except TypeError:
        raise TypeError(f"top_k must be an integer or None, got {describe(top_k)}") from None


def check_cpu_devices(device: Any) -> None:
    """``device``: None, the CPU, or a list of CPUs (sentence-transformers' multi-process form, which runs here
    in this one process: the core already spreads a call over every thread it is given)."""
    for one in device if isinstance(device, (list, tuple)) else [device]:
        check_cpu(one)


def start_multi_process_pool(target_devices: Optional[list] = None) -> dict:
    """A pool ``predict``/``encode(pool=...)`` take, without processes: the core already spreads one call
    over every core, which is what sentence-transformers' CPU processes are for."""
    check_cpu_devices(target_devices)
    return {"input": None, "output": None, "processes": []}


def stop_multi_process_pool(pool: dict) -> None:
    """Nothing to stop: ``start_multi_process_pool`` starts no processes."""


class TransformerHolder:
    """What sentence-transformers' SentenceTransformer, CrossEncoder and SparseEncoder answer about the
    transformer they hold (``self.model`` here) and its process pool, which runs in this process."""

    model: Any

    @property
    def transformers_model(self) -> Any:
        return self.model

    @property
    def device(self) -> Any:
        """The CPU: "cpu" with torch.device's ``type`` (``PreTrainedModel.device``; torch takes it as a device),
        also for a model without a transformer."""
        from pybertcore.modeling_utils import CpuDevice

        return CpuDevice()

    start_multi_process_pool = staticmethod(start_multi_process_pool)
    stop_multi_process_pool = staticmethod(stop_multi_process_pool)

    # sentence-transformers 6's questions about inputs (its models also take images and messages)
    @property
    def modalities(self) -> list[str]:
        return ["text"]

    def supports(self, modality: Any) -> bool:
        return modality == "text"

    @staticmethod
    def is_singular_input(inputs: Any) -> bool:
        return isinstance(inputs, str)

    def get_model_kwargs(self) -> list[str]:
        """The extra keywords ``encode`` / ``predict`` take for this model (a Router's ``task``): none here."""
        return []

    # --- the torch module's calls that mean something without torch (PreTrainedModel's, for every
    # transformer the model runs) ---------------------------------------------------------------------------
    training = False

    def _transformers(self) -> list:
        """The transformers this model runs: none for a StaticEmbedding model, several for a Router's routes."""
        return [] if self.model is None else [self.model]

    def _precision_changed(self) -> None:
        """Runs after ``to`` changed the transformers' compute precision (a SparseEncoder repacks its heads)."""

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """``model.to("cpu")`` does nothing; ``model.to("bfloat16")`` / ``to(torch.bfloat16)`` /
        ``to(dtype="int8")`` changes every transformer's compute precision (``PreTrainedModel.to``); other
        devices raise. A model without a transformer (StaticEmbedding) takes the CPU only."""
        models = self._transformers()
        if not models:
            from pybertcore.modeling_utils import _dtype_name

            for value in (*args, *kwargs.values()):
                if value is not None and not str(value).startswith("cpu") and _dtype_name(value) != "float32":
                    raise NotImplementedError(f"to({value!r}): a StaticEmbedding model runs on the CPU, in float32")
            return self
        for model in models:
            model.to(*args, **kwargs)
        self._precision_changed()
        return self

    def float(self) -> Any:
        return self.to("float32")

    def bfloat16(self) -> Any:
        return self.to("bfloat16")

    def half(self) -> Any:
        raise NotImplementedError("half(): pybertcore computes in float32, bfloat16 or int8; use model.bfloat16() or "
                                  "model.to('bfloat16')")

    def cpu(self) -> Any:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("cuda(): pybertcore runs on the CPU only")

    def eval(self) -> Any:
        return self

    def train(self, mode: bool = True) -> Any:
        if mode:
            raise NotImplementedError(f"{type(self).__name__}.train(): pybertcore runs inference only; train with "
                                      "sentence-transformers")
        return self

    @property
    def dtype(self) -> str:
        """The transformer's compute precision ("float32", "bfloat16" or "int8"; ``PreTrainedModel.dtype``)."""
        models = self._transformers()
        return models[0].dtype if models else "float32"

    @property
    def config(self) -> Any:
        """The transformer's config (sentence-transformers' ``model.config``); None without a transformer."""
        return None if self.model is None else self.model.config

    @property
    def processor(self) -> Any:
        """The tokenizer: sentence-transformers 6's name for what prepares a text model's inputs."""
        return self.tokenizer


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def save_transformer_module(path: Union[str, os.PathLike], owner: Any, transformer_task: str,
                            safe_serialization: bool) -> Path:
    """The first module of a sentence-transformers folder, in the folder's root, as sentence-transformers 6
    writes it: the model and tokenizer as transformers saves them (the tokenizer's model_max_length set to
    ``owner.max_seq_length``) and ``sentence_bert_config.json``."""
    folder = Path(path)
    owner.model.save_pretrained(folder, safe_serialization=safe_serialization)
    owner.tokenizer.save_pretrained(folder)
    tokenizer_config = folder / "tokenizer_config.json"
    # written here rather than set on the tokenizer: saving must not change the loaded model
    write_json(tokenizer_config, {**json.loads(tokenizer_config.read_text(encoding="utf-8")),
                                  "model_max_length": int(owner.max_seq_length)})
    # max_seq_length and do_lower_case are read by sentence-transformers 2 to 6 (6 writes neither by default)
    write_json(folder / "sentence_bert_config.json", {"transformer_task": transformer_task,
                                                      "max_seq_length": int(owner.max_seq_length),
                                                      "do_lower_case": bool(owner.do_lower_case)})
    return folder


# The module every saved folder starts with: the transformer, at the folder's root (save_transformer_module).
TRANSFORMER_MODULE = ("", "sentence_transformers.base.modules.transformer.Transformer")


def write_folder_description(folder: Path, model_type: str, modules: list, settings: dict) -> None:
    """The two files that make a folder a sentence-transformers model: ``modules.json`` listing ``modules``
    ((path inside the folder, module type) in order, TRANSFORMER_MODULE first) and
    ``config_sentence_transformers.json`` with ``model_type``, the version that wrote it and ``settings``."""
    import pybertcore

    write_json(folder / "modules.json", [{"idx": i, "name": str(i), "path": module_path, "type": kind}
                                         for i, (module_path, kind) in enumerate(modules)])
    write_json(folder / "config_sentence_transformers.json",
               {"model_type": model_type, "__version__": {"pybertcore": pybertcore.__version__}, **settings})


def load_transformer(auto_class: Any, folder: Path, model_kwargs: dict, config_kwargs: dict) -> Any:
    """The folder's transformer as sentence-transformers loads it: ``config_kwargs`` go to the config loader,
    which keeps the keys that are fields of the config and drops the others (transformers' rule), then the
    model loads with that config and ``model_kwargs`` (unknown ones raise, naming them)."""
    if not config_kwargs:
        return auto_class.from_pretrained(folder, **model_kwargs)
    from pybertcore.models.auto import AutoConfig

    config, _dropped = AutoConfig.from_pretrained(folder, return_unused_kwargs=True, **config_kwargs)
    return auto_class.from_pretrained(folder, config=config, **model_kwargs)


def _as_float_matrix(x: Any, name: str) -> np.ndarray:
    if is_torch_tensor(x):
        x = x.detach().cpu().float().numpy()
    elif isinstance(x, (list, tuple)) and x and is_torch_tensor(x[0]):
        x = np.stack([v.detach().cpu().float().numpy() for v in x])
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name}: expected an array of numbers, found {describe(x)}")
    arr = np.atleast_2d(arr.astype(np.float32, copy=False))
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a vector or a matrix (N, D), found shape {arr.shape}")
    return arr


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _check_widths(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings have different widths: {a.shape[1]} and {b.shape[1]}")


def cos_sim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (_normalize(a) @ _normalize(b).T).astype(np.float32, copy=False)


def dot_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T).astype(np.float32, copy=False)


def euclidean_sim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a[:, None, :].astype(np.float64) - b[None, :, :]
    return (-np.sqrt((d * d).sum(-1))).astype(np.float32)


def manhattan_sim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (-np.abs(a[:, None, :].astype(np.float64) - b[None, :, :]).sum(-1)).astype(np.float32)


_MATRIX = {"cosine": cos_sim, "dot": dot_score, "euclidean": euclidean_sim, "manhattan": manhattan_sim}
_PAIRWISE = {
    "cosine": lambda a, b: (_normalize(a) * _normalize(b)).sum(-1),
    "dot": lambda a, b: (a * b).sum(-1),
    "euclidean": lambda a, b: -np.sqrt(((a.astype(np.float64) - b) ** 2).sum(-1)),
    "manhattan": lambda a, b: -np.abs(a.astype(np.float64) - b).sum(-1),
}


def similarity_name(value: Any) -> Optional[str]:
    """A similarity function's name from a string or sentence-transformers' SimilarityFunction enum."""
    if value is None:
        return None
    name = getattr(value, "value", value)
    if name == "dot_product":
        name = "dot"
    if name not in SIMILARITY_FN_NAMES:
        raise ValueError(f"similarity_fn_name must be one of {SIMILARITY_FN_NAMES}, got {describe(value)}")
    return name


def similarity(name: str, a: Any, b: Any, pairwise: bool = False) -> Any:
    """The (len(a), len(b)) similarity matrix (or the len(a) pairwise vector) under function ``name``;
    torch tensors in → a torch tensor out."""
    x, y = _as_float_matrix(a, "embeddings1"), _as_float_matrix(b, "embeddings2")
    _check_widths(x, y)
    if pairwise:
        if x.shape[0] != y.shape[0]:
            raise ValueError("similarity_pairwise needs as many embeddings on each side: "
                             f"{x.shape[0]} and {y.shape[0]}")
        out = np.asarray(_PAIRWISE[name](x, y), dtype=np.float32)
        if np.ndim(a) == 1 and np.ndim(b) == 1:  # two vectors: one score, 0-d, as sentence-transformers' sum(-1)
            out = out.reshape(())
    else:
        out = _MATRIX[name](x, y)
    return to_torch(out) if any_torch((a, b)) else out


def _quantization_ranges(embeddings: np.ndarray, precision: str, calibration: Optional[np.ndarray]) -> np.ndarray:
    if calibration is None:
        if embeddings.ndim == 1 or embeddings.shape[0] == 1:
            raise ValueError(
                f"Cannot compute {precision} quantization ranges from a single embedding. "
                "Call `quantize_embeddings` with `ranges` or `calibration_embeddings` "
                "from a representative set of embeddings instead."
            )
        if embeddings.shape[0] < 100:
            logger.warning(
                "Computing %s quantization buckets based on %d embeddings. %s quantization is more stable with "
                "`ranges` calculated from more embeddings or a `calibration_embeddings` that can be used to "
                "calculate the buckets.", precision, len(embeddings), precision,
            )
        calibration = embeddings
    return np.vstack((np.min(calibration, axis=0), np.max(calibration, axis=0)))


def quantize_embeddings(
    embeddings: Any,
    precision: str,
    ranges: Optional[np.ndarray] = None,
    calibration_embeddings: Optional[np.ndarray] = None,
) -> np.ndarray:
    """``sentence_transformers.quantize_embeddings``: int8/uint8 by per-dimension ranges (from ``ranges``,
    else ``calibration_embeddings``, else the embeddings themselves) cut into 255 steps; binary/ubinary by
    the sign bit, packed 8 to a byte (binary shifted by -128 into int8). A list of (tokens, dim) matrices
    gives a list, quantized with one set of ranges."""
    if precision not in ALLOWED_PRECISIONS:
        raise ValueError(f"Precision {precision!r} is not supported, must be one of {ALLOWED_PRECISIONS}")
    if is_torch_tensor(embeddings):
        embeddings = embeddings.detach().cpu().numpy()
    elif isinstance(embeddings, list):
        if not embeddings:
            return []
        embeddings = [e.detach().cpu().numpy() if is_torch_tensor(e) else e for e in embeddings]
        if isinstance(embeddings[0], np.ndarray) and embeddings[0].ndim == 2:
            # variable-length (tokens, dim) matrices: one calibration for all of them
            if precision.endswith("int8") and ranges is None:
                data = np.concatenate(embeddings, axis=0) if calibration_embeddings is None else calibration_embeddings
                if len(data):
                    ranges = _quantization_ranges(data, precision, calibration_embeddings)
            return [quantize_embeddings(m, precision, ranges, calibration_embeddings) for m in embeddings]
        embeddings = np.array(embeddings)
    embeddings = np.asarray(embeddings)
    if embeddings.dtype in (np.uint8, np.int8):
        raise ValueError("Embeddings to quantize must be float rather than int8 or uint8.")
    if embeddings.ndim == 2 and embeddings.shape[0] == 0:
        dim = embeddings.shape[1]
        if precision.endswith("int8"):
            return np.zeros((0, dim), dtype=np.int8 if precision == "int8" else np.uint8)
        if precision.endswith("binary"):
            return np.zeros((0, (dim + 7) // 8), dtype=np.int8 if precision == "binary" else np.uint8)
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision.endswith("int8"):
        if ranges is None:
            ranges = _quantization_ranges(embeddings, precision, calibration_embeddings)
        ranges = np.asarray(ranges).astype(np.float32, copy=False)
        starts = ranges[0, :]
        steps = (ranges[1, :] - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        q_vals = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        return q_vals.astype(np.uint8) if precision == "uint8" else (q_vals - 128).astype(np.int8)
    if precision == "binary":
        return (np.packbits(embeddings > 0, axis=-1) - 128).astype(np.int8)
    return np.packbits(embeddings > 0, axis=-1)


def resolve_prompt(prompts: dict, default_prompt_name: Optional[str], prompt: Optional[str],
                   prompt_name: Optional[str]) -> Optional[str]:
    """The prompt text ``encode`` prepends: ``prompt``, else ``prompts[prompt_name]``, else the default."""
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError(f"prompt: expected a string, found {describe(prompt)}")
    if prompt is None:
        if prompt_name is not None:
            if prompt_name not in prompts:
                raise ValueError(f"Prompt name '{prompt_name}' not found in the configured prompts dictionary "
                                 f"with keys {list(prompts.keys())!r}.")
            return prompts[prompt_name]
        if default_prompt_name is not None:
            return prompts.get(default_prompt_name)
    elif prompt_name is not None:
        logger.warning("Provide either a `prompt`, a `prompt_name`, or neither, but not both. "
                       "Ignoring the `prompt_name` in favor of `prompt`.")
    return prompt


def merge_prompts(defaults: dict, user: Optional[dict], saved: dict, default_prompt_name: Optional[str],
                  saved_default: Optional[str]) -> tuple[dict, Optional[str]]:
    """sentence-transformers' precedence: the user's prompts, then the saved ones for keys the user left
    unset, then the class defaults as empty strings; the default prompt name must name one of them."""
    if user is not None and (not isinstance(user, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in user.items())):
        raise ValueError(f"prompts: expected a dict of prompt names to prompt strings, found {describe(user)}")
    prompts = {**defaults, **(user or {})}
    for name, text in saved.items():
        if prompts.get(name) is None:
            prompts[name] = text
    prompts = {k: ("" if v is None else v) for k, v in prompts.items()}
    if default_prompt_name is None:
        default_prompt_name = saved_default
    if default_prompt_name is not None and default_prompt_name not in prompts:
        raise ValueError(f"Default prompt name '{default_prompt_name}' not found in the configured prompts "
                         f"dictionary with keys {list(prompts.keys())!r}.")
    return prompts, default_prompt_name


def read_model_config(path: Path) -> dict:
    """``config_sentence_transformers.json`` (an empty dict when absent), its fields checked: prompts (names
    to strings), default_prompt_name, similarity_fn_name, truncate_dim, model_type."""
    if not path.is_file():
        return {}
    config = load_json(path, lambda reason: OSError(f"{path} is {reason}"))
    if not isinstance(config, dict):
        raise OSError(f"{path} must hold a JSON object, found {describe(config)}")
    prompts = config.get("prompts", {})
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise ValueError(f"{path}: prompts: expected an object of prompt names to strings, found {describe(prompts)}")
    checks: dict[str, Callable[[Any], bool]] = {
        "default_prompt_name": lambda v: v is None or isinstance(v, str),
        "similarity_fn_name": lambda v: v is None or isinstance(v, str),
        "truncate_dim": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
    }
    for key, ok in checks.items():
        if key in config and not ok(config[key]):
            raise ValueError(f"{path}: {key}: unexpected value {describe(config[key])}")
    return config


def check_truncate_dim(value: Any, name: str = "truncate_dim") -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {describe(value)}")
    return int(value)


def length_sorted_batches(lengths: list[int], batch_size: int) -> Iterator[np.ndarray]:
    """Indices in batches of ``batch_size``, longest first, so each batch carries little padding (the core
    packs the rows anyway; this keeps the padded (B, T) arrays small)."""
    order = np.argsort([-n for n in lengths], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def padded_batch(idx: np.ndarray, ids_list: list, types_list: Optional[list], pad_token_id: Optional[int]
                 ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """(ids, mask, token types) (B, T) int64 for the sequences ``idx``, right-padded."""
    T = max(len(ids_list[i]) for i in idx)
    ids = np.full((len(idx), T), pad_token_id or 0, dtype=np.int64)
    mask = np.zeros((len(idx), T), dtype=np.int64)
    types = np.zeros((len(idx), T), dtype=np.int64) if types_list is not None else None
    for row, i in enumerate(idx):
        n = len(ids_list[i])
        ids[row, :n] = ids_list[i]
        mask[row, :n] = 1
        if types is not None:
            types[row, :n] = types_list[i]
    return ids, mask, types


def as_requested(values: np.ndarray, convert_to_tensor: bool, convert_to_numpy: bool, single: bool) -> Any:
    """``encode``/``predict`` results as sentence-transformers returns them: one torch tensor
    (``convert_to_tensor``), the numpy array (``convert_to_numpy``), else a list of torch tensors; the
    first alone for a single input."""
    if convert_to_tensor:
        result = import_torch("convert_to_tensor=True").from_numpy(values)
    elif convert_to_numpy:
        result = values
    else:
        result = list(import_torch("convert_to_numpy=False").from_numpy(values))
    return result[0] if single else result


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int, or ValueError naming ``name`` (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {describe(value)}")
    return int(value)


def check_batch_size(batch_size: Any) -> int:
    return check_positive_int(batch_size, "batch_size")


def check_cpu(device: Any) -> None:
    if device not in (None, "cpu") and not str(device).startswith("cpu"):
        raise NotImplementedError(f"device={device!r}: pybertcore runs on the CPU only")


def warn_truncated(encoded: Any, n: int, max_seq_length: int) -> None:
    n_cut = sum(1 for e in encoded.encodings if e.overflowing)
    if n_cut:
        logger.warning("%d of %d inputs were longer than max_seq_length=%d tokens and were truncated",
                       n_cut, n, max_seq_length)


def loading_arguments(device: Any, backend: str, token: Any, use_auth_token: Any, tokenizer_kwargs: Optional[dict],
                      processor_kwargs: Optional[dict]) -> tuple[Any, dict]:
    """The constructor arguments the three sentence-transformers classes share, checked: (token, the
    tokenizer's kwargs). ``processor_kwargs`` is sentence-transformers 6's name for ``tokenizer_kwargs``."""
    check_cpu(device)
    if backend != "torch":
        raise NotImplementedError(f"backend={backend!r}: pybertcore is its own backend; leave backend='torch'")
    if use_auth_token is not None:
        if token is not None:
            raise ValueError("Both `token` and `use_auth_token` are specified. Please only specify the `token` "
                             "argument.")
        token = use_auth_token
    if processor_kwargs is not None and tokenizer_kwargs is not None:
        raise ValueError("give tokenizer_kwargs or processor_kwargs (its newer name), not both")
    return token, dict((processor_kwargs if tokenizer_kwargs is None else tokenizer_kwargs) or {})


def folder_of_modules(owner: Any, modules: Any, kind: str, model_name_or_path: Any) -> Path:
    """sentence-transformers modules (``modules=[Transformer(...), Pooling(...)]``: its torch objects, so it is
    installed), saved by sentence-transformers' ``kind`` into a temporary folder for pybertcore to load; the
    folder goes when ``owner`` does."""
    import shutil
    import tempfile
    import weakref

    if model_name_or_path is not None:
        raise ValueError("give model_name_or_path or modules, not both")
    if not isinstance(modules, (list, tuple, dict)) or not modules:
        raise ValueError("modules: expected a non-empty list of sentence-transformers modules, found "
                         f"{describe(modules)}")
    try:
        import sentence_transformers
    except ImportError:
        raise ValueError("modules: expected sentence-transformers modules, but sentence-transformers is not "
                         "installed") from None
    folder = tempfile.mkdtemp(prefix="pybertcore-modules-")
    weakref.finalize(owner, shutil.rmtree, folder, True)
    getattr(sentence_transformers, kind)(modules=modules, device="cpu").save(folder)
    return Path(folder)
