"""Sentence embeddings: sentence-transformers' ``encode`` on pybertcore's encoder, without torch.

``SentenceEncoder.from_pretrained(folder)`` reads a sentence-transformers folder: ``modules.json``
(Transformer, Pooling, optional Dense with safetensors weights, Normalize), the pooling config
(``1_Pooling/config.json``: cls / max / mean / mean_sqrt_len_tokens / lasttoken, concatenated in
sentence-transformers' order) and ``sentence_bert_config.json`` (``max_seq_length``, ``do_lower_case``).
A plain checkpoint (no ``modules.json``) gets mean pooling and the model's own length limit.

``encode`` tokenizes everything once, sorts the texts by token count so each batch carries little padding,
runs the batches, and restores the original order. Inputs longer than ``max_seq_length`` tokens are cut,
with one warning per call (logger "pybertcore") naming how many were cut.

Files are untrusted: a module file that is not the JSON it should be raises OSError naming it, a field of
the wrong type or value ValueError naming the file and the field, Dense weights CheckpointError (a
ValueError) naming the weights file; module paths must stay inside the model folder.

Numerics: the encoder matches transformers within 1e-4; pooling is float32 numpy, so embeddings agree
with sentence-transformers to a cosine of 1 - 1e-6 or better. Left out: prompts, weightedmean pooling,
multi-process pools, fp16/int8 outputs.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

import numpy as np

from pybertcore.checkpoints import CheckpointError, load_safetensors
from pybertcore.hub import resolve_model_folder
from pybertcore.tokenization import model_takes_token_types, model_token_limit
from pybertcore.untrusted import describe, errors_name_file, load_json

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
_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.Tanh": np.tanh,
    "torch.nn.Identity": lambda x: x,
}


def _read_json(path: Path, kind: type = dict) -> Any:
    """A module file's JSON value, which must be a ``kind`` (an object, or modules.json's list)."""
    data = load_json(path, lambda reason: OSError(f"{path} is {reason}"))
    if not isinstance(data, kind):
        raise OSError(f"{path} must hold a JSON {'object' if kind is dict else 'array'}, found {describe(data)}")
    return data


def _module_entries(modules_file: Path) -> list[tuple[str, str]]:
    """modules.json as (type name without its package, path) in ``idx`` order; paths stay in the folder."""
    entries = []
    for position, module in enumerate(_read_json(modules_file, list)):
        if not isinstance(module, dict):
            raise ValueError(f"{modules_file}: module {position} is {describe(module)}, expected an object")
        idx, path, kind = module.get("idx", 0), module.get("path", ""), module.get("type", "")
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ValueError(f"{modules_file}: module {position}: idx: expected an integer, found {describe(idx)}")
        if not isinstance(path, str) or os.path.isabs(path) or ".." in Path(path).parts or "\0" in path:
            raise ValueError(f"{modules_file}: module {position}: path: expected a folder inside the model folder, "
                             f"found {describe(path)}")
        if not isinstance(kind, str):
            raise ValueError(f"{modules_file}: module {position}: type: expected a string, found {describe(kind)}")
        entries.append((idx, kind.rsplit(".", 1)[-1], path))
    return [(kind, path) for _, kind, path in sorted(entries, key=lambda e: e[0])]


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
        if mode == "weightedmean":
            raise NotImplementedError("weightedmean pooling is not supported by pybertcore's SentenceEncoder")
    return modes


def pool(hidden: np.ndarray, mask: np.ndarray, modes: Iterable[str]) -> np.ndarray:
    """Sentence vectors (B, len(modes) * H) from token states ``hidden`` (B, T, H) and ``mask`` (B, T)."""
    mask_f = mask.astype(np.float32)[:, :, None]
    out = []
    for mode in modes:
        if mode == "cls":
            first = mask.argmax(axis=1)
            out.append(hidden[np.arange(hidden.shape[0]), first])
        elif mode == "max":
            out.append(np.where(mask_f > 0, hidden, -np.inf).max(axis=1).astype(np.float32))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            summed = (hidden * mask_f).sum(axis=1, dtype=np.float32)
            count = np.maximum(mask_f.sum(axis=1), 1e-9)
            out.append(summed / (count if mode == "mean" else np.sqrt(count)))
        elif mode == "lasttoken":
            T = mask.shape[1]
            last = T - 1 - mask[:, ::-1].argmax(axis=1)
            out.append(hidden[np.arange(hidden.shape[0]), last] * mask_f[np.arange(hidden.shape[0]), last])
        else:
            raise ValueError(f"pooling mode {mode!r} is not supported")
    return np.concatenate(out, axis=-1).astype(np.float32, copy=False)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalised rows, as torch.nn.functional.normalize (eps 1e-12)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class _Dense:
    """sentence-transformers' Dense module: activation(x @ W.T + b), weights from model.safetensors."""

    def __init__(self, folder: Path) -> None:
        config_file = folder / "config.json"
        config = _read_json(config_file)
        name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if not isinstance(name, str):
            raise ValueError(f"{config_file}: activation_function: expected a string, found {describe(name)}")
        if name not in _ACTIVATIONS:
            raise NotImplementedError(f"{folder}: Dense activation {describe(name)} is not supported by pybertcore")
        self.activation = _ACTIVATIONS[name]
        weights_file = folder / "model.safetensors"
        if not weights_file.is_file():
            raise OSError(f"{folder}: Dense module needs model.safetensors (pytorch_model.bin needs torch)")
        tensors = load_safetensors(weights_file)
        weight, bias = tensors.get("linear.weight"), tensors.get("linear.bias")
        if weight is None or weight.ndim != 2 or not np.issubdtype(weight.dtype, np.floating):
            raise CheckpointError(f"{weights_file}: a Dense module needs linear.weight, a 2-D float tensor; "
                                  f"found {'none' if weight is None else f'{weight.dtype} of shape {weight.shape}'}")
        if bias is not None and (bias.shape != weight.shape[:1] or not np.issubdtype(bias.dtype, np.floating)):
            raise CheckpointError(f"{weights_file}: linear.bias has shape {bias.shape} ({bias.dtype}); "
                                  f"expected ({weight.shape[0]},) floats for linear.weight of shape {weight.shape}")
        self.folder = folder
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = None if bias is None else bias.astype(np.float32)
        for array in (self.weight, self.bias):
            if array is not None:
                array.flags.writeable = False  # changes come as new arrays, which pickling can tell apart
        self._loaded = (self.weight, self.bias)

    def __reduce__(self) -> tuple:
        """Its folder (pybertcore.recipes), and the weight or bias only if a new one was assigned since."""
        weight, bias = self._loaded
        return (_rebuild_dense, (self.folder, None if self.weight is weight else self.weight,
                                 None if self.bias is bias else self.bias))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
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
    config = _read_json(path)
    max_seq_length, do_lower_case = config.get("max_seq_length"), config.get("do_lower_case", False)
    if max_seq_length is not None and (isinstance(max_seq_length, bool) or not isinstance(max_seq_length, int)
                                       or max_seq_length < 1):
        raise ValueError(f"{path}: max_seq_length: expected a positive integer, found {describe(max_seq_length)}")
    if not isinstance(do_lower_case, bool):
        raise ValueError(f"{path}: do_lower_case: expected true or false, found {describe(do_lower_case)}")
    return max_seq_length, do_lower_case


# sentence-transformers' constructor arguments that pybertcore does not implement yet.
_SENTENCE_TRANSFORMERS_NOT_YET = ("modules", "prompts", "default_prompt_name", "similarity_fn_name", "truncate_dim",
                                  "model_card_data")


class SentenceEncoder:
    """Text to sentence vectors, as ``sentence_transformers.SentenceTransformer`` computes them."""

    def __init__(self, model: Any, tokenizer: Any, pooling_modes: tuple[str, ...] = ("mean",),
                 max_seq_length: Optional[int] = None, do_lower_case: bool = False,
                 dense: Optional[list] = None, normalize: bool = False) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.pooling_modes = tuple(pooling_modes)
        limit = model_token_limit(model.config, tokenizer)
        self.max_seq_length = limit if max_seq_length is None else min(int(max_seq_length), limit)
        self.do_lower_case = bool(do_lower_case)
        self.dense = list(dense or [])
        self.normalize = bool(normalize)

    @classmethod
    def from_pretrained(
        cls,
        model_name_or_path: Union[str, os.PathLike],
        *,
        device: Optional[str] = None,
        cache_folder: Optional[Union[str, os.PathLike]] = None,
        revision: Optional[str] = None,
        local_files_only: bool = False,
        token: Any = None,
        trust_remote_code: bool = False,
        model_kwargs: Optional[dict] = None,
        tokenizer_kwargs: Optional[dict] = None,
        config_kwargs: Optional[dict] = None,
        backend: str = "torch",
        **kwargs: Any,
    ) -> "SentenceEncoder":
        """Loads a sentence-transformers folder, or a plain checkpoint folder (mean pooling).

        Takes sentence-transformers' constructor arguments: ``cache_folder``, ``revision``,
        ``local_files_only`` and ``token`` choose the files; ``model_kwargs`` (e.g. ``{"dtype": "int8"}``),
        ``tokenizer_kwargs`` and ``config_kwargs`` go to the model, tokenizer and config loading;
        ``device`` may only be the CPU; ``trust_remote_code`` changes nothing (no checkpoint code is ever
        run). ``dtype``/``torch_dtype`` may also be given directly. Arguments sentence-transformers has that
        pybertcore does not implement yet raise NotImplementedError, anything else TypeError, by name.
        """
        from pybertcore.models.auto import AutoModel
        from pybertcore.tokenization import AutoTokenizer

        not_yet = sorted(k for k in kwargs if k in _SENTENCE_TRANSFORMERS_NOT_YET)
        if not_yet:
            raise NotImplementedError(f"SentenceEncoder.from_pretrained: {', '.join(not_yet)} is not supported by "
                                      "pybertcore yet")
        unknown = sorted(k for k in kwargs if k not in ("dtype", "torch_dtype"))
        if unknown:
            raise TypeError(f"SentenceEncoder.from_pretrained() got unexpected keyword argument(s): {', '.join(unknown)}")
        if device not in (None, "cpu") and not str(device).startswith("cpu"):
            raise NotImplementedError(f"device={device!r}: pybertcore runs on the CPU only")
        if backend != "torch":
            raise NotImplementedError(f"backend={backend!r}: pybertcore is its own backend; leave backend='torch'")
        hub = {"cache_dir": cache_folder, "revision": revision, "local_files_only": local_files_only, "token": token}
        model_kwargs = {**dict(model_kwargs or {}), **kwargs, **dict(config_kwargs or {})}
        folder = resolve_model_folder(model_name_or_path, need_weights=False, **hub)
        transformer_folder, pooling, dense, dense_files, normalize = folder, ("mean",), [], [], False
        max_seq_length, do_lower_case = None, False
        modules_file = folder / "modules.json"
        if modules_file.is_file():
            pooling = None
            for kind, module_path in _module_entries(modules_file):
                path = folder / module_path
                if kind == "Transformer":
                    transformer_folder = path
                elif kind == "Pooling":
                    with errors_name_file(path / "config.json"):
                        pooling = pooling_modes_from_config(_read_json(path / "config.json"))
                elif kind == "Dense":
                    dense.append(_Dense(path))
                    dense_files.append(path / "model.safetensors")
                elif kind == "Normalize":
                    normalize = True
                else:
                    raise NotImplementedError(
                        f"{modules_file}: module type {describe(kind)} is not supported by pybertcore "
                        "(supported: Transformer, Pooling, Dense, Normalize)"
                    )
            if pooling is None:
                pooling = ("mean",)
            for name in ("sentence_bert_config.json", "sentence_distilbert_config.json"):
                if (transformer_folder / name).is_file():
                    max_seq_length, do_lower_case = _sentence_bert_config(transformer_folder / name)
                    break
        model = AutoModel.from_pretrained(transformer_folder, **model_kwargs)
        tokenizer = AutoTokenizer.from_pretrained(transformer_folder, **dict(tokenizer_kwargs or {}))
        width = int(model.config.hidden_size) * len(pooling)
        for layer, weights_file in zip(dense, dense_files):
            if layer.weight.shape[1] != width:
                raise CheckpointError(f"{weights_file}: linear.weight takes {layer.weight.shape[1]} features, "
                                      f"the module before it gives {width}")
            width = layer.weight.shape[0]
        return cls(model, tokenizer, pooling, max_seq_length, do_lower_case, dense, normalize)

    def get_sentence_embedding_dimension(self) -> int:
        if self.dense:
            return int(self.dense[-1].weight.shape[0])
        return int(self.model.config.hidden_size) * len(self.pooling_modes)

    def encode(
        self,
        sentences: Union[str, list[str]],
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        output_value: str = "sentence_embedding",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        normalize: Optional[bool] = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """(N, D) float32 sentence vectors in input order; a single string gives (D,)."""
        kwargs.pop("device", None)
        if kwargs.pop("precision", "float32") != "float32":
            raise NotImplementedError("pybertcore's encode returns float32 embeddings only")
        if kwargs:
            raise TypeError(f"encode() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if output_value != "sentence_embedding":
            raise NotImplementedError("encode(output_value=...) supports only 'sentence_embedding'")
        if convert_to_tensor:
            raise NotImplementedError("convert_to_tensor=True needs torch; pybertcore returns numpy arrays")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if normalize is not None:
            normalize_embeddings = normalize
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise ValueError(f"sentences[{i}] is {type(t).__name__}, expected a string")
        dim = self.get_sentence_embedding_dimension()
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        if self.do_lower_case:
            texts = [t.lower() for t in texts]

        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length, verbose=False)
        ids_list = encoded["input_ids"]
        types_list = encoded.get("token_type_ids") if model_takes_token_types(self.model.config) else None
        n_cut = sum(1 for e in encoded.encodings if e.overflowing)
        if n_cut:
            logger.warning(
                "%d of %d inputs were longer than max_seq_length=%d tokens and were truncated",
                n_cut, len(texts), self.max_seq_length,
            )

        order = np.argsort([-len(ids) for ids in ids_list], kind="stable")
        out = np.empty((len(texts), dim), dtype=np.float32)
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 8 * batch_size and stderr_is_terminal()
        bar = progress_bar(len(texts), show_progress_bar, "Encoding")
        try:
            for start in range(0, len(texts), batch_size):
                idx = order[start:start + batch_size]
                T = max(len(ids_list[i]) for i in idx)
                ids = np.zeros((len(idx), T), dtype=np.int64)
                if self.tokenizer.pad_token_id:
                    ids.fill(self.tokenizer.pad_token_id)
                mask = np.zeros((len(idx), T), dtype=np.int64)
                types = np.zeros((len(idx), T), dtype=np.int64) if types_list is not None else None
                for row, i in enumerate(idx):
                    n = len(ids_list[i])
                    ids[row, :n] = ids_list[i]
                    mask[row, :n] = 1
                    if types is not None:
                        types[row, :n] = types_list[i]
                hidden = self.model(ids, attention_mask=mask, token_type_ids=types).last_hidden_state
                vectors = pool(hidden, mask, self.pooling_modes)
                for layer in self.dense:
                    vectors = layer(vectors)
                if self.normalize or normalize_embeddings:
                    vectors = normalize_rows(vectors)
                out[idx] = vectors
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        return out[0] if single else out

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
        kwargs["show_progress_bar"] = False
        chunk: list = []
        for text in sentences:
            chunk.append(text)
            if len(chunk) == chunk_size:
                yield self.encode(chunk, batch_size=batch_size, **kwargs)
                chunk = []
        if chunk:
            yield self.encode(chunk, batch_size=batch_size, **kwargs)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity matrix (len(a), len(b))."""
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        return normalize_rows(a) @ normalize_rows(b).T

    def __call__(self, sentences: Union[str, list[str]], **kwargs: Any) -> np.ndarray:
        return self.encode(sentences, **kwargs)

    def __repr__(self) -> str:
        return (
            f"SentenceEncoder(model={type(self.model).__name__}, max_seq_length={self.max_seq_length}, "
            f"pooling={self.pooling_modes}, dense={len(self.dense)}, normalize={self.normalize}, "
            f"dim={self.get_sentence_embedding_dimension()})"
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
