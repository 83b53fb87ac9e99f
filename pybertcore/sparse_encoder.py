"""SparseEncoder: sentence-transformers' SPLADE API (``encode``, ``encode_query``, ``encode_document``,
``decode``, ``similarity``) on pybertcore's masked-LM encoders, without torch.

``SparseEncoder(folder)`` reads a SPLADE folder saved by sentence-transformers (``modules.json``: a
Transformer / MLMTransformer on a ``*ForMaskedLM`` checkpoint, then SpladePooling with its
``pooling_strategy`` max or sum and ``activation_function`` relu or log1p_relu) or a plain masked-LM
checkpoint (SPLADE max pooling, as sentence-transformers makes it). The MLM head, the log1p(ReLU) and the
pooling run fused in the core (``_core.SpladeHead``, csrc/model/splade.h) over row tiles of the
vocabulary: the (tokens, vocabulary) logits are never stored, so a call holds O(tokens × tile + batch ×
vocabulary) floats beyond the encoder's activations.

Outputs: ``scipy.sparse`` when scipy is installed (a ``csr_array`` (N, V); one text gives a 1-D
``coo_array`` (V,)), else ``SparseEmbeddings`` (indices and values per row); ``convert_to_tensor=True``
gives torch sparse COO tensors as sentence-transformers does, ``convert_to_sparse_tensor=False`` dense
arrays. ``decode`` and ``similarity`` take any of these.

``save`` writes sentence-transformers 6's folder layout (Transformer + SpladePooling), which both libraries
load to the same vectors. Unknown ``encode`` keywords raise ValueError, as there; multi-process pools run
in this process.

Numerics: vectors match sentence-transformers within 1e-3 (the encoder within 1e-4, the head's float32
GEMMs and log1p) with the same non-zero set wherever a logit is not within rounding of zero. Left out:
SparseAutoEncoder (CSR) and SparseStaticEmbedding models, Router, ``splade_pooling_chunk_size`` (the fused
head already bounds memory by its tiles).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Union

import numpy as np

from pybertcore import _core
from pybertcore.frameworks import any_torch, import_torch, is_torch_tensor, to_torch
from pybertcore.hub import resolve_model_folder
from pybertcore.models.encoder_model import packed_sequences
from pybertcore.sentence import _module_entries, _read_json, _sentence_bert_config, progress_bar, stderr_is_terminal
from pybertcore.sentence_utils import (
    NO_INPUTS,
    SIMILARITY_FN_NAMES,
    as_top_k,
    check_batch_size,
    check_cpu_devices,
    check_encode_extras,
    folder_of_modules,
    inputs_argument,
    length_sorted_batches,
    load_transformer,
    loading_arguments,
    merge_prompts,
    padded_batch,
    read_model_config,
    reject_unknown,
    resolve_prompt,
    save_transformer_module,
    similarity_name,
    TRANSFORMER_MODULE,
    TransformerHolder,
    texts_of,
    warn_truncated,
    write_folder_description,
    write_json,
)
from pybertcore.tokenization import model_takes_token_types, model_token_limit
from pybertcore.untrusted import describe

logger = logging.getLogger("pybertcore")

_DEFAULT_PROMPTS = {"query": None, "document": None}
SPLADE_POOLING_MODES = ("max", "sum")
SPLADE_ACTIVATIONS = ("relu", "log1p_relu")
# Vocabulary rows per decoder tile: the head's scratch is tokens × this many floats.
DEFAULT_TILE_ROWS = 512
# Tokens the encoder and the head take in one core call: a larger batch runs as several calls (a
# sequence's vector does not depend on its neighbours, bit for bit), so a call's activations stay near
# 4096 × (7H + I) floats (bert-base: about 140 MiB) whatever the batch size: at batch 64 × 256 the
# (tokens, vocab) logits alone would be 2 GiB.
TOKENS_PER_CALL = 4096


@dataclass
class SparseEmbeddings:
    """Sparse rows without scipy: row i holds ``values[i]`` at columns ``indices[i]`` (ascending)."""

    indices: list
    values: list
    shape: tuple

    def toarray(self) -> np.ndarray:
        out = np.zeros((len(self.indices), self.shape[-1]), dtype=np.float32)
        for row, (idx, val) in enumerate(zip(self.indices, self.values)):
            out[row, idx] = val
        return out[0] if len(self.shape) == 1 else out

    def __len__(self) -> int:
        return self.shape[0]


def _scipy_sparse() -> Any:
    try:
        import scipy.sparse as sparse
    except ImportError:
        return None
    return sparse


def _splade_pooling_config(path: Any) -> tuple[str, str]:
    config = _read_json(path)
    strategy = config.get("pooling_strategy", "max")
    activation = config.get("activation_function", "relu")
    if strategy not in SPLADE_POOLING_MODES:
        raise ValueError(f"{path}: pooling_strategy: expected 'max' or 'sum', found {describe(strategy)}")
    if activation not in SPLADE_ACTIVATIONS:
        raise ValueError(f"{path}: activation_function: expected 'relu' or 'log1p_relu', found {describe(activation)}")
    return strategy, activation


def _as_dense_rows(embeddings: Any, name: str) -> tuple[Any, bool]:
    """(rows as a scipy CSR matrix or a dense float32 2-D array, whether the input was one vector)."""
    sparse = _scipy_sparse()
    if isinstance(embeddings, SparseEmbeddings):
        one = len(embeddings.shape) == 1
        if sparse is None:
            return np.atleast_2d(embeddings.toarray()), one
        indptr = np.cumsum([0] + [len(i) for i in embeddings.indices])
        matrix = sparse.csr_array((np.concatenate(embeddings.values) if embeddings.values else np.zeros(0, np.float32),
                                   np.concatenate(embeddings.indices) if embeddings.indices else np.zeros(0, np.int64),
                                   indptr), shape=(len(embeddings.indices), embeddings.shape[-1]))
        return matrix, one
    if sparse is not None and sparse.issparse(embeddings):
        one = embeddings.ndim == 1
        matrix = sparse.csr_array(embeddings.reshape(1, -1) if one else embeddings)
        return matrix.astype(np.float32), one
    if is_torch_tensor(embeddings):
        t = embeddings.detach().cpu()
        if t.is_sparse or getattr(t, "layout", None) is not None and "sparse" in str(t.layout):
            t = t.to_dense()
        embeddings = t.float().numpy()
    if isinstance(embeddings, (list, tuple)) and embeddings and (
            is_torch_tensor(embeddings[0]) or (sparse is not None and sparse.issparse(embeddings[0]))):
        rows = [_as_dense_rows(e, name)[0] for e in embeddings]
        if sparse is not None and all(sparse.issparse(r) for r in rows):
            return sparse.vstack(rows, format="csr"), False
        return np.vstack([r.toarray() if hasattr(r, "toarray") else r for r in rows]), False
    arr = np.asarray(embeddings)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name}: expected sparse or dense embeddings, found {describe(embeddings)}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: expected one vector or a matrix, found shape {arr.shape}")
    return np.atleast_2d(arr.astype(np.float32, copy=False)), arr.ndim == 1


def _dense(x: Any) -> np.ndarray:
    return x.toarray() if hasattr(x, "toarray") else x


def _row_norms(x: Any) -> np.ndarray:
    sq = x.multiply(x).sum(axis=1) if hasattr(x, "multiply") else (x * x).sum(axis=1)
    return np.sqrt(np.asarray(sq, dtype=np.float64).reshape(-1))


def sparse_similarity(name: str, a: Any, b: Any, pairwise: bool = False) -> Any:
    """The similarity matrix (or pairwise vector) of sparse or dense embeddings, computed sparse where the
    function allows (dot, cosine, euclidean); torch in → torch out."""
    x, _ = _as_dense_rows(a, "embeddings1")
    y, _ = _as_dense_rows(b, "embeddings2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"embeddings have different widths: {x.shape[1]} and {y.shape[1]}")
    if pairwise and x.shape[0] != y.shape[0]:
        raise ValueError(f"similarity_pairwise needs as many embeddings on each side: {x.shape[0]} and {y.shape[0]}")
    if name == "manhattan":
        xd, yd = _dense(x).astype(np.float64), _dense(y).astype(np.float64)
        out = -np.abs(xd - yd).sum(-1) if pairwise else -np.abs(xd[:, None, :] - yd[None, :, :]).sum(-1)
    else:
        if pairwise:
            dot = np.asarray(_dense(x.multiply(y) if hasattr(x, "multiply") else x * _dense(y)).sum(axis=1),
                             dtype=np.float64).reshape(-1)
        else:
            dot = np.asarray(_dense(x @ y.T), dtype=np.float64)
        nx, ny = _row_norms(x), _row_norms(y)
        if name == "dot":
            out = dot
        elif name == "cosine":
            out = dot / (np.maximum(nx, 1e-12)[:, None] * np.maximum(ny, 1e-12)[None, :]) if not pairwise else \
                dot / (np.maximum(nx, 1e-12) * np.maximum(ny, 1e-12))
        else:
            sq = (nx ** 2 + ny ** 2 - 2 * dot) if pairwise else (nx[:, None] ** 2 + ny[None, :] ** 2 - 2 * dot)
            out = -np.sqrt(np.maximum(sq, 0))
    out = np.asarray(out, dtype=np.float32)
    return to_torch(out) if any_torch((a, b)) else out


def _token_chunks(idx: np.ndarray, ids_list: list, budget: int) -> Iterator[np.ndarray]:
    """``idx`` (longest first) in consecutive pieces of at most ``budget`` padded tokens (at least one
    sequence each)."""
    start = 0
    while start < len(idx):
        longest = len(ids_list[idx[start]])  # the piece's padded length: sorted, so its first sequence's
        end = start + max(1, budget // max(longest, 1))
        yield idx[start:end]
        start = end


class SparseEncoder(TransformerHolder):
    """Texts to sparse lexical vectors (SPLADE), as ``sentence_transformers.SparseEncoder`` computes them.

        >>> model = SparseEncoder("naver/splade-cocondenser-ensembledistil")
        >>> q = model.encode_query(["what causes rain"])
        >>> model.decode(q[0], top_k=5)
    """

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
        max_active_dims: Optional[int] = None,
        tile_rows: int = DEFAULT_TILE_ROWS,
        **kwargs: Any,
    ) -> None:
        """Loads a SPLADE folder (or a plain masked-LM checkpoint: max pooling, ReLU).

        Arguments as sentence-transformers' SparseEncoder; ``dtype`` (or ``model_kwargs={"dtype": ...}``)
        sets the encoder's and the decoder's precision. ``tile_rows`` (pybertcore's own) is the number of
        vocabulary rows the fused head computes at a time. ``use_kernels`` and ``kernel_config`` change nothing
        (pybertcore always runs its own kernels). ``modules`` (sentence-transformers' torch modules)
        are saved by it into a temporary folder, which is then loaded; anything else unknown raises
        TypeError, by name.
        """
        from pybertcore.models.auto import AutoModelForMaskedLM
        from pybertcore.tokenization import AutoTokenizer

        reject_unknown("SparseEncoder()", {k: v for k, v in kwargs.items() if k not in ("dtype", "torch_dtype")})
        if model_name_or_path is None and modules is None:
            raise ValueError("SparseEncoder needs model_name_or_path (or modules): a folder or a Hub model id")
        if isinstance(tile_rows, bool) or not isinstance(tile_rows, int) or tile_rows < 1:
            raise ValueError(f"tile_rows must be a positive integer, got {describe(tile_rows)}")
        token, tokenizer_kwargs = loading_arguments(device, backend, token, use_auth_token, tokenizer_kwargs,
                                                    processor_kwargs)
        hub = {"cache_dir": cache_folder, "revision": revision, "local_files_only": local_files_only, "token": token}
        if modules is not None:  # sentence-transformers' torch modules: saved by it, then loaded like any folder
            folder = folder_of_modules(self, modules, "SparseEncoder", model_name_or_path)
        else:
            folder = resolve_model_folder(model_name_or_path, need_weights=False, **hub)
        transformer_folder, strategy, activation = folder, "max", "relu"
        max_seq_length, do_lower_case = None, False
        modules_file = folder / "modules.json"
        if modules_file.is_file():
            found_pooling = False
            for kind, module_path in _module_entries(modules_file):
                path = folder / module_path
                if kind in ("Transformer", "MLMTransformer"):
                    transformer_folder = path
                elif kind == "SpladePooling":
                    strategy, activation = _splade_pooling_config(path / "config.json")
                    found_pooling = True
                else:
                    raise NotImplementedError(f"{modules_file}: module type {describe(kind)} is not supported by "
                                              "pybertcore's SparseEncoder (supported: Transformer/MLMTransformer "
                                              "+ SpladePooling)")
            if not found_pooling:
                raise NotImplementedError(f"{modules_file}: no SpladePooling module; pybertcore's SparseEncoder "
                                          "runs SPLADE models only")
            sbert = transformer_folder / "sentence_bert_config.json"
            if sbert.is_file():
                task = _read_json(sbert).get("transformer_task", "fill-mask")
                if task != "fill-mask":
                    raise NotImplementedError(f"{sbert}: transformer_task {describe(task)}: a SPLADE model needs "
                                              "'fill-mask'")
                max_seq_length, do_lower_case = _sentence_bert_config(sbert)
        saved = read_model_config(folder / "config_sentence_transformers.json")
        model_kwargs = {**dict(model_kwargs or {}), **kwargs}
        self.model = load_transformer(AutoModelForMaskedLM, transformer_folder, model_kwargs, dict(config_kwargs or {}))
        self.tokenizer = AutoTokenizer.from_pretrained(transformer_folder, **tokenizer_kwargs)
        self.head = self._fused_head(tile_rows)
        self.pooling_strategy, self.activation_function = strategy, activation
        limit = model_token_limit(self.model.config, self.tokenizer)
        self.max_seq_length = limit if max_seq_length is None else min(int(max_seq_length), limit)
        self.do_lower_case = bool(do_lower_case)
        self.prompts, self.default_prompt_name = merge_prompts(
            _DEFAULT_PROMPTS, prompts, saved.get("prompts", {}), default_prompt_name, saved.get("default_prompt_name"))
        self._similarity_fn_name = similarity_name(similarity_fn_name)
        if self._similarity_fn_name is None and saved.get("similarity_fn_name") in SIMILARITY_FN_NAMES:
            self._similarity_fn_name = saved["similarity_fn_name"]
        self.max_active_dims = self._check_max_active_dims(
            max_active_dims if max_active_dims is not None else saved.get("max_active_dims"))
        self.model_card_data = model_card_data

    def _fused_head(self, tile_rows: int) -> Any:
        """The model's MLM head (transform, LayerNorm, decoder) packed into the core's fused SPLADE head."""
        ops = self.model._head_ops
        kinds = [op[0] for op in ops]
        if kinds != ["dense", "norm", "dense"] or ops[2][2] != _core.Activation.identity:
            raise NotImplementedError(f"{type(self.model).__name__}: an MLM head of steps {kinds} is not supported by "
                                      "pybertcore's SparseEncoder (expected dense + activation, LayerNorm, decoder)")
        (_, transform, act), (_, norm_w, norm_b), (_, decoder, _) = ops
        dtype = getattr(self.model, "dtype", "float32")
        return _core.SpladeHead(transform.weight(), transform.bias(), act, norm_w, norm_b, float(self.model.dims.eps),
                                decoder.weight(), decoder.bias(), tile_rows=tile_rows,
                                dtype=dtype if dtype in ("float32", "bfloat16", "int8") else "float32")

    @staticmethod
    def _check_max_active_dims(value: Any) -> Optional[int]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"max_active_dims must be a positive integer, got {describe(value)}.")
        return int(value)

    @classmethod
    def from_pretrained(cls, model_name_or_path: Union[str, os.PathLike], **kwargs: Any) -> "SparseEncoder":
        """``SparseEncoder(model_name_or_path, **kwargs)``: the same arguments."""
        return cls(model_name_or_path, **kwargs)

    # --- what the model is --------------------------------------------------------------------------
    def get_embedding_dimension(self) -> int:
        """The vocabulary size: one dimension per token."""
        return int(self.head.vocab_size)

    get_sentence_embedding_dimension = get_embedding_dimension

    def get_max_seq_length(self) -> int:
        return self.max_seq_length

    @property
    def similarity_fn_name(self) -> str:
        """The similarity ``similarity`` computes: the folder's, the caller's, else "dot"."""
        if self._similarity_fn_name is None:
            self._similarity_fn_name = "dot"
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: Any) -> None:
        self._similarity_fn_name = similarity_name(value)

    # --- encoding -----------------------------------------------------------------------------------
    def encode_query(self, inputs: Any = NO_INPUTS, prompt_name: Optional[str] = None,
                     prompt: Optional[str] = None, **kwargs: Any) -> Any:
        """``encode`` with the "query" prompt unless a prompt is given."""
        if prompt_name is None and prompt is None and "query" in self.prompts:
            prompt_name = "query"
        kwargs.setdefault("task", "query")
        return self.encode(inputs, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def encode_document(self, inputs: Any = NO_INPUTS, prompt_name: Optional[str] = None,
                        prompt: Optional[str] = None, **kwargs: Any) -> Any:
        """``encode`` with the first of the "document", "passage", "corpus" prompts unless a prompt is given."""
        if prompt_name is None and prompt is None:
            prompt_name = next((n for n in ("document", "passage", "corpus") if n in self.prompts), None)
        kwargs.setdefault("task", "document")
        return self.encode(inputs, prompt_name=prompt_name, prompt=prompt, **kwargs)

    def _rows(self, texts: list[str], batch_size: int, show_progress_bar: Optional[bool],
              max_active_dims: Optional[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(input indices, their (b, V) dense vectors) batch by batch, longest texts first."""
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length, verbose=False)
        ids_list = encoded["input_ids"]
        types_list = encoded.get("token_type_ids") if model_takes_token_types(self.model.config) else None
        warn_truncated(encoded, len(texts), self.max_seq_length)
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 8 * batch_size and stderr_is_terminal()
        bar = progress_bar(len(texts), show_progress_bar, "Encoding")
        try:
            for idx in length_sorted_batches([len(ids) for ids in ids_list], batch_size):
                vectors = np.concatenate([self._vectors(part, ids_list, types_list)
                                          for part in _token_chunks(idx, ids_list, TOKENS_PER_CALL)])
                if max_active_dims is not None and max_active_dims < vectors.shape[1]:
                    keep = np.argpartition(-np.abs(vectors), max_active_dims - 1, axis=1)[:, :max_active_dims]
                    selected = np.zeros_like(vectors)
                    np.put_along_axis(selected, keep, np.take_along_axis(vectors, keep, axis=1), axis=1)
                    vectors = selected
                yield idx, vectors
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()

    def _vectors(self, idx: np.ndarray, ids_list: list, types_list: Optional[list]) -> np.ndarray:
        """(len(idx), V) SPLADE vectors of the sequences ``idx``: encoder, then the fused head on their
        packed real-token rows."""
        ids, mask, types = padded_batch(idx, ids_list, types_list, self.tokenizer.pad_token_id)
        out, _ = self.model._encode(ids, mask, types, None, None, None, False, False, reads_only="packed")
        rows = out["packed_rows"]  # (N, H): the real tokens, and a masked position 0 where a text has none
        _, real = packed_sequences(mask, out["packed_index"])
        if not real.all():
            rows = rows[real]
        offsets = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int32)
        return self.head.forward(rows, offsets, self.pooling_strategy, self.activation_function)

    def encode(
        self,
        inputs: Any = NO_INPUTS,
        prompt_name: Optional[str] = None,
        prompt: Optional[str] = None,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        convert_to_tensor: Optional[bool] = None,
        convert_to_sparse_tensor: bool = True,
        save_to_cpu: bool = False,
        device: Optional[str] = None,
        max_active_dims: Optional[int] = None,
        pool: Any = None,
        chunk_size: Optional[int] = None,
        task: Optional[str] = None,
        **kwargs: Any,
    ) -> Any:
        """Sparse (N, V) vectors of the texts ``inputs`` in input order (one string gives one (V,) vector): scipy
        sparse by default (``SparseEmbeddings`` without scipy), torch sparse COO with
        ``convert_to_tensor=True``, dense with ``convert_to_sparse_tensor=False``, a list of rows with
        ``convert_to_tensor=False``. ``max_active_dims`` keeps each vector's largest weights only.
        ``task`` ("query"/"document") is taken and changes nothing (there is no Router), as in
        sentence-transformers for models without one. ``sentences`` is the old name of ``inputs``. ``device``
        may be the CPU or a list of CPUs and ``pool`` one from ``start_multi_process_pool``: either way the
        texts are encoded here, in this process, whose core already uses every core (``chunk_size``
        therefore changes nothing). Other keywords raise ValueError naming them, as in sentence-transformers,
        but ``processing_kwargs`` (its per-call tokenizer settings) NotImplementedError.
        """
        inputs = inputs_argument("encode()", inputs, kwargs)
        check_encode_extras(type(self).__name__, kwargs)
        check_cpu_devices(device)
        batch_size = check_batch_size(batch_size)
        if task not in (None, "query", "document"):
            raise ValueError(f"task must be 'query', 'document' or None, got {describe(task)}")
        max_active_dims = self._check_max_active_dims(
            max_active_dims if max_active_dims is not None else self.max_active_dims)
        prompt = resolve_prompt(self.prompts, self.default_prompt_name, prompt, prompt_name)
        texts, single = texts_of(inputs)
        if prompt:
            texts = [prompt + t for t in texts]
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        V = self.get_embedding_dimension()
        torch = import_torch("convert_to_tensor=True") if convert_to_tensor else None

        if not convert_to_sparse_tensor:  # dense (N, V)
            dense = np.zeros((len(texts), V), dtype=np.float32)
            for idx, vectors in self._rows(texts, batch_size, show_progress_bar, max_active_dims) if texts else ():
                dense[idx] = vectors
            if convert_to_tensor:
                result = torch.from_numpy(dense)
            elif convert_to_tensor is False:
                result = list(dense)
            else:
                result = dense
            return result[0] if single else result

        indices: list = [None] * len(texts)
        values: list = [None] * len(texts)
        for idx, vectors in self._rows(texts, batch_size, show_progress_bar, max_active_dims) if texts else ():
            for row, i in enumerate(idx):
                nz = np.flatnonzero(vectors[row])
                indices[i], values[i] = nz, vectors[row, nz]
        if convert_to_tensor:
            rows = [torch.sparse_coo_tensor(torch.from_numpy(i[None, :].astype(np.int64)), torch.from_numpy(v),
                                            (V,), check_invariants=False).coalesce() for i, v in zip(indices, values)]
            if single:
                return rows[0]
            if not rows:
                return torch.zeros((0, V)).to_sparse()
            return torch.stack(rows).coalesce()
        sparse = _scipy_sparse()
        if sparse is None:
            result = SparseEmbeddings(indices, values, (V,) if single else (len(texts), V))
            if convert_to_tensor is False:
                return [SparseEmbeddings([i], [v], (V,)) for i, v in zip(indices, values)]
            return result
        if single or convert_to_tensor is False:
            rows = [sparse.coo_array((v, (i,)), shape=(V,)) for i, v in zip(indices, values)]
            return rows[0] if single else rows
        indptr = np.cumsum([0] + [len(i) for i in indices])
        data = np.concatenate(values) if values else np.zeros(0, np.float32)
        cols = np.concatenate(indices) if indices else np.zeros(0, np.int64)
        return sparse.csr_array((data.astype(np.float32), cols, indptr), shape=(len(texts), V))

    def decode(self, embeddings: Any, top_k: Optional[int] = None) -> list:
        """(token, weight) pairs of each vector's non-zero entries, by descending weight (``top_k``: the
        first ``top_k`` of them); one vector gives one list, a matrix a list per row."""
        top_k = as_top_k(top_k)
        if top_k is not None and top_k <= 0:
            raise ValueError(f"top_k must be a positive integer, got {top_k}.")
        rows, one = _as_dense_rows(embeddings, "embeddings")
        if rows.shape[1] != self.get_embedding_dimension():
            raise ValueError(f"embeddings have {rows.shape[1]} dimensions; this model's vocabulary has "
                             f"{self.get_embedding_dimension()}")
        results = []
        for r in range(rows.shape[0]):
            row = rows[[r]] if hasattr(rows, "tocsr") else rows[r]
            dense = np.asarray(_dense(row), dtype=np.float32).reshape(-1)
            nz = np.flatnonzero(dense)
            order = nz[np.argsort(-dense[nz], kind="stable")][:top_k]
            tokens = self.tokenizer.convert_ids_to_tokens([int(i) for i in order])
            results.append(list(zip(tokens, dense[order].tolist())))
        return results[0] if one else results

    @staticmethod
    def intersection(embeddings_1: Any, embeddings_2: Any) -> Any:
        """The dimensions both vectors activate: their element-wise product where it is positive, shaped
        like ``embeddings_2`` (one vector or a matrix); ``embeddings_1`` is one vector. Sparse as the
        inputs (scipy, torch, or ``SparseEmbeddings``); use ``decode`` to read the shared tokens."""
        one, one_is_vector = _as_dense_rows(embeddings_1, "embeddings_1")
        two, two_is_vector = _as_dense_rows(embeddings_2, "embeddings_2")
        if not one_is_vector:
            raise ValueError(f"Expected one vector for embeddings_1, but got shape {one.shape}.")
        if one.shape[1] != two.shape[1]:
            raise ValueError(f"Vocab dimension mismatch: embeddings_1 has {one.shape[1]}, embeddings_2 has "
                             f"{two.shape[1]}.")
        sparse = _scipy_sparse()
        if sparse is not None and sparse.issparse(two):
            product = sparse.csr_array(two.multiply(one))
            product.data[product.data < 0] = 0  # only dimensions both activate (SPLADE weights are ≥ 0)
            product.eliminate_zeros()
            dense_rows = None
        else:
            dense_rows = np.maximum(two * _dense(one), 0).astype(np.float32)
            product = sparse.csr_array(dense_rows) if sparse is not None else None
        if is_torch_tensor(embeddings_2):
            out = to_torch(np.asarray(_dense(product) if dense_rows is None else dense_rows, dtype=np.float32))
            out = out[0] if two_is_vector else out
            return out.to_sparse()
        if product is None or isinstance(embeddings_2, SparseEmbeddings):
            rows = np.atleast_2d(_dense(product) if dense_rows is None else dense_rows)
            idx = [np.flatnonzero(r) for r in rows]
            shape = (rows.shape[1],) if two_is_vector else rows.shape
            return SparseEmbeddings(idx, [r[i] for r, i in zip(rows, idx)], shape)
        return sparse.coo_array(product.toarray()[0]) if two_is_vector else product

    @staticmethod
    def sparsity(embeddings: Any) -> dict:
        """``{"active_dims": mean non-zeros per vector, "sparsity_ratio": mean share of zeros}``."""
        rows, _ = _as_dense_rows(embeddings, "embeddings")
        if rows.shape[0] == 0 or rows.shape[1] == 0:
            return {"active_dims": 0.0, "sparsity_ratio": 1.0}
        nnz = rows.getnnz(axis=1) if hasattr(rows, "getnnz") else (rows != 0).sum(axis=1)
        nnz = np.asarray(nnz, dtype=np.float64).reshape(-1)
        return {"active_dims": float(nnz.mean()), "sparsity_ratio": float(1 - nnz.mean() / rows.shape[1])}

    # --- comparing ----------------------------------------------------------------------------------
    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """The (len(a), len(b)) matrix of ``similarity_fn_name`` scores, dense float32 (torch in → torch out)."""
        return sparse_similarity(self.similarity_fn_name, embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        return sparse_similarity(self.similarity_fn_name, embeddings1, embeddings2, pairwise=True)

    def save(self, path: Union[str, os.PathLike], model_name: Optional[str] = None, create_model_card: bool = True,
             train_datasets: Optional[list] = None, safe_serialization: bool = True) -> None:
        """Writes a folder sentence-transformers' SparseEncoder loads (and ours): the masked LM and tokenizer as
        transformers saves them, then SpladePooling with this model's pooling and activation, and the
        prompts, similarity function and ``max_active_dims``. ``model_name``, ``create_model_card`` and
        ``train_datasets`` only shape sentence-transformers' model card, which pybertcore does not write."""
        if path is None:
            return
        folder = save_transformer_module(path, self, "fill-mask", safe_serialization)
        (folder / "1_SpladePooling").mkdir(exist_ok=True)
        write_json(folder / "1_SpladePooling" / "config.json", {
            "pooling_strategy": self.pooling_strategy, "activation_function": self.activation_function,
            "embedding_dimension": self.get_embedding_dimension()})
        modules = [TRANSFORMER_MODULE,
                   ("1_SpladePooling", "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling")]
        settings = {"prompts": self.prompts, "default_prompt_name": self.default_prompt_name,
                    "similarity_fn_name": self._similarity_fn_name}
        if self.max_active_dims is not None:
            settings["max_active_dims"] = self.max_active_dims
        write_folder_description(folder, "SparseEncoder", modules, settings)

    save_pretrained = save

    def __call__(self, inputs: Union[str, list[str]], **kwargs: Any) -> Any:
        return self.encode(inputs, **kwargs)

    def __repr__(self) -> str:
        return (f"SparseEncoder(model={type(self.model).__name__}, max_seq_length={self.max_seq_length}, "
                f"pooling_strategy={self.pooling_strategy!r}, activation_function={self.activation_function!r}, "
                f"vocab={self.get_embedding_dimension()}, tile_rows={self.head.tile_rows})")
