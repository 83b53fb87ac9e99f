"""SparseEncoder: sentence-transformers' SPLADE API (``encode``, ``encode_query``, ``encode_document``,
``decode``, ``similarity``) on pybertcore's masked-LM encoders, without torch.

``SparseEncoder(folder)`` reads a folder saved by sentence-transformers (sparse_routes.py loads it):
- a SPLADE model (``modules.json``: a Transformer / MLMTransformer on a ``*ForMaskedLM`` checkpoint, then
  SpladePooling with its ``pooling_strategy`` max or sum and ``activation_function`` relu or log1p_relu), or
  a plain masked-LM checkpoint (SPLADE max pooling, as sentence-transformers makes it);
- an inference-free SPLADE model: a Router whose query route is a SparseStaticEmbedding (a fixed weight per
  token of the query) and whose document route is SPLADE; ``encode_query`` / ``encode_document`` / ``task=``
  pick the route as sentence-transformers' Router does;
- a CSR model: a dense SentenceTransformer pipeline (Transformer, Pooling, optional Dense / Normalize) whose
  vectors a SparseAutoEncoder makes sparse (its top-k latents; sparse_csr.py), alone or as a Router's route.
The MLM head, the log1p(ReLU) and the pooling run fused in the core (``_core.SpladeHead``,
csrc/model/splade.h) over row tiles of the vocabulary: the (tokens, vocabulary) logits are never stored, so a
call holds O(tokens × tile + batch × vocabulary) floats beyond the encoder's activations.

Outputs: ``scipy.sparse`` when scipy is installed (a ``csr_array`` (N, V); one text gives a 1-D
``coo_array`` (V,)), else ``SparseEmbeddings`` (indices and values per row); ``convert_to_tensor=True``
gives torch sparse COO tensors as sentence-transformers does, ``convert_to_sparse_tensor=False`` dense
arrays. ``decode`` and ``similarity`` take any of these.

``save`` writes sentence-transformers 6's folder layout (Transformer + SpladePooling, the CSR modules, or the
Router's), which
both libraries load to the same vectors. Unknown ``encode`` keywords raise ValueError, as there;
multi-process pools run in this process.

Numerics: SPLADE vectors match sentence-transformers within 1e-3 (the encoder within 1e-4, the head's float32
GEMMs and log1p) with the same non-zero set wherever a logit is not within rounding of zero; static vectors
are its weights, exactly; CSR vectors match within 1e-5. Left out: ``splade_pooling_chunk_size`` (the fused
head already bounds memory by its tiles: the property is kept and changes nothing).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import numpy as np

from pybertcore.frameworks import any_torch, import_torch, is_torch_tensor, to_torch
from pybertcore.hub import resolve_sentence_folder
from pybertcore.sentence import SentenceEncoder, progress_bar, stderr_is_terminal
from pybertcore.sentence_utils import (
    NO_INPUTS,
    SIMILARITY_FN_NAMES,
    as_top_k,
    check_batch_size,
    check_cpu_devices,
    check_encode_extras,
    folder_of_modules,
    inputs_argument,
    load_transformer,
    loading_arguments,
    merge_prompts,
    read_model_config,
    reject_unknown,
    resolve_prompt,
    similarity_name,
    TRANSFORMER_MODULE,
    TransformerHolder,
    texts_of,
    warn_once,
    write_folder_description,
)
from pybertcore.module_files import ROUTER_TYPE
from pybertcore.sparse_csr import CsrRoute
from pybertcore.sparse_routes import (
    DEFAULT_TILE_ROWS,
    SPLADE_POOLING_TYPE,
    STATIC_TYPE,
    SpladeRoute,
    StaticRoute,
    load_routes,
    save_route,
)
from pybertcore.untrusted import describe

logger = logging.getLogger("pybertcore")

_DEFAULT_PROMPTS = {"query": None, "document": None}


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


class SparseEncoder(TransformerHolder):
    """Texts to sparse lexical vectors (SPLADE), as ``sentence_transformers.SparseEncoder`` computes them.

        >>> model = SparseEncoder("naver/splade-cocondenser-ensembledistil")
        >>> q = model.encode_query(["what causes rain"])
        >>> model.decode(q[0], top_k=5)
    """

    SUPPORTED_SIMILARITY_FN_NAMES = SIMILARITY_FN_NAMES
    default_huggingface_organization: Optional[str] = "sparse-encoder"  # of a bare model name

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
            folder = resolve_sentence_folder(model_name_or_path, self.default_huggingface_organization, **hub)
        saved = read_model_config(folder / "config_sentence_transformers.json")
        model_kwargs = {**dict(model_kwargs or {}), **kwargs}
        config_kwargs = dict(config_kwargs or {})

        def load_tokenizer(module_folder: Path) -> Any:
            return AutoTokenizer.from_pretrained(module_folder, **tokenizer_kwargs)

        def make_splade(module_folder: Path, strategy: str, activation: str, max_seq_length: Optional[int],
                        do_lower_case: bool) -> SpladeRoute:
            model = load_transformer(AutoModelForMaskedLM, module_folder, model_kwargs, config_kwargs)
            return SpladeRoute(model, load_tokenizer(module_folder), strategy, activation, max_seq_length,
                               do_lower_case, tile_rows)

        def make_pipeline(modules: list, where: str) -> Any:
            return SentenceEncoder._pipeline(modules, where, (model_kwargs, config_kwargs, dict(tokenizer_kwargs)))

        self.routes = load_routes(folder, make_splade, load_tokenizer, make_pipeline)
        self.prompts, self.default_prompt_name = merge_prompts(
            _DEFAULT_PROMPTS, prompts, saved.get("prompts", {}), default_prompt_name, saved.get("default_prompt_name"))
        self._similarity_fn_name = similarity_name(similarity_fn_name)
        if self._similarity_fn_name is None and saved.get("similarity_fn_name") in SIMILARITY_FN_NAMES:
            self._similarity_fn_name = saved["similarity_fn_name"]
        self.max_active_dims = self._check_max_active_dims(
            max_active_dims if max_active_dims is not None else saved.get("max_active_dims"))
        self.model_card_data = model_card_data

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
        """The vocabulary size: one dimension per token (a Router's first route's, as sentence-transformers)."""
        return self.routes.first.dimension

    get_sentence_embedding_dimension = get_embedding_dimension

    def get_max_seq_length(self) -> int:
        return self.max_seq_length

    def get_model_kwargs(self) -> list[str]:
        """``["modality", "task"]`` for a Router model (they pick its route; every route here is text), else none."""
        return ["modality", "task"] if self.routes.router else []

    @property
    def max_seq_length(self) -> int:
        """Tokens kept per text: the routes' largest limit (one route: its limit); setting it sets every route's."""
        return max(route.max_seq_length for route in self.routes.distinct())

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        for route in self.routes.distinct():
            route.max_seq_length = value

    @property
    def tokenizer(self) -> Any:
        """The first route's tokenizer (sentence-transformers' Router gives the same); ``decode`` reads tokens
        with it."""
        return self.routes.first.tokenizer

    @property
    def model(self) -> Any:
        """The transformer of the default route (the masked LM of a SPLADE route, the encoder of a CSR route),
        else of the first route with one; None when every route is static."""
        route = self.routes.preferred(lambda route: not isinstance(route, StaticRoute))
        return route.model if route is not None else None

    def _splade_route(self) -> Optional[SpladeRoute]:
        """The SPLADE route: the default route if it is SPLADE, else the first SPLADE route; None if none is."""
        return self.routes.preferred(lambda route: isinstance(route, SpladeRoute))

    def _transformers(self) -> list:
        return [route.model for route in self.routes.distinct() if not isinstance(route, StaticRoute)]

    def _precision_changed(self) -> None:
        """A SPLADE head is packed for its model's precision: packed again after ``to``."""
        for route in self.routes.distinct():
            if isinstance(route, SpladeRoute):
                route.follow_model_precision()

    def _splade_setting(self, name: str) -> Any:
        splade = self._splade_route()
        return getattr(splade, name) if splade is not None else None

    head = property(lambda self: self._splade_setting("head"), doc="The SPLADE route's fused core head.")
    pooling_strategy = property(lambda self: self._splade_setting("pooling_strategy"),
                                doc="The SPLADE route's SpladePooling strategy: 'max' or 'sum'.")
    activation_function = property(lambda self: self._splade_setting("activation_function"),
                                   doc="The SPLADE route's activation: 'relu' or 'log1p_relu'.")
    do_lower_case = property(lambda self: self._splade_setting("do_lower_case"),
                             doc="Whether the SPLADE route lowercases texts first.")

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

    def _rows(self, route: Any, texts: list[str], prompt: Optional[str], batch_size: int,
              show_progress_bar: Optional[bool],
              max_active_dims: Optional[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(input indices, their (b, V) dense vectors) batch by batch, from ``route`` (which puts the prompt
        before each text)."""
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 8 * batch_size and stderr_is_terminal()
        bar = progress_bar(len(texts), show_progress_bar, "Encoding")
        try:
            for idx, vectors in route.batches(texts, batch_size, max_active_dims, prompt):
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
        ``task`` ("query"/"document") picks a Router model's route (``modality`` may only be "text"), and
        changes nothing for a model without one, as in sentence-transformers. ``sentences`` is the old name of
        ``inputs``. ``device`` may be the CPU or a list of CPUs and ``pool`` one from
        ``start_multi_process_pool``: either way the texts are encoded here, in this process, whose core already
        uses every core (``chunk_size`` therefore changes nothing). Other keywords raise ValueError naming
        them, as in sentence-transformers, but ``processing_kwargs`` (its per-call tokenizer settings)
        NotImplementedError.
        """
        inputs = inputs_argument("encode()", inputs, kwargs)
        modality = kwargs.get("modality")
        check_encode_extras(type(self).__name__, kwargs, tuple(self.get_model_kwargs()))
        if modality not in (None, "text"):  # a Router's route may be chosen by modality: ours are all text
            raise ValueError(f"modality {describe(modality)}: pybertcore's SparseEncoder encodes text only")
        check_cpu_devices(device)
        batch_size = check_batch_size(batch_size)
        if not self.routes.router and task not in (None, "query", "document"):
            raise ValueError(f"task must be 'query', 'document' or None, got {describe(task)}")
        route = self.routes.resolve(task)
        max_active_dims = self._check_max_active_dims(
            max_active_dims if max_active_dims is not None else self.max_active_dims)
        prompt = resolve_prompt(self.prompts, self.default_prompt_name, prompt, prompt_name)
        texts, single = texts_of(inputs)
        V = route.dimension
        torch = import_torch("convert_to_tensor=True") if convert_to_tensor else None

        if not convert_to_sparse_tensor:  # dense (N, V)
            dense = np.zeros((len(texts), V), dtype=np.float32)
            for idx, vectors in self._rows(route, texts, prompt, batch_size, show_progress_bar,
                                           max_active_dims) if texts else ():
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
        for idx, vectors in self._rows(route, texts, prompt, batch_size, show_progress_bar,
                                       max_active_dims) if texts else ():
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

    def tokenize(self, texts: Union[str, list[str]], **kwargs: Any) -> Any:
        """``preprocess``'s old name, with sentence-transformers' deprecation warning."""
        warn_once("The `tokenize` method is deprecated, please use `preprocess` instead.")
        return self.preprocess(texts, **kwargs)

    def preprocess(self, inputs: Union[str, list[str]], prompt: Optional[str] = None,
                   task: Optional[str] = None) -> Any:
        """The token ids and attention mask (and token types) the route ``task`` takes runs for ``inputs``,
        right-padded to the longest and cut at its length limit, as int64 numpy arrays (sentence-transformers
        gives torch tensors of the same values); a SparseStaticEmbedding route's have no special tokens."""
        route = self.routes.resolve(task)
        if isinstance(route, CsrRoute):
            return route.pipeline.preprocess(inputs, prompt)
        texts, _ = texts_of([inputs] if isinstance(inputs, str) else inputs)
        if prompt:
            texts = [prompt + t for t in texts]
        if isinstance(route, StaticRoute):
            return route.tokenizer(texts, padding=True, truncation=True, add_special_tokens=False,
                                   return_tensors="np", verbose=False)
        if route.do_lower_case:
            texts = [t.lower() for t in texts]
        return route.tokenizer(texts, padding=True, truncation=True, max_length=route.max_seq_length,
                               return_tensors="np", verbose=False)

    def set_pooling_include_prompt(self, include_prompt: bool) -> None:
        """Whether a CSR model's Pooling counts the prompt's tokens (SPLADE pooling always does)."""
        for route in self.routes.distinct():
            if isinstance(route, CsrRoute):
                route.pipeline.set_pooling_include_prompt(include_prompt)

    @property
    def splade_pooling_chunk_size(self) -> Optional[int]:
        """sentence-transformers' memory bound for SpladePooling (tokens per chunk). Kept as set and changes
        nothing: the fused head already holds one tile of the vocabulary's logits at a time."""
        return getattr(self, "_splade_pooling_chunk_size", None)

    @splade_pooling_chunk_size.setter
    def splade_pooling_chunk_size(self, value: Optional[int]) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"splade_pooling_chunk_size must be a positive integer or None, got {describe(value)}")
        self._splade_pooling_chunk_size = value

    def evaluate(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("evaluate(): pybertcore has no evaluators; run sentence-transformers' evaluator "
                                  "on embeddings from encode(), or on the model loaded in sentence-transformers")

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
        transformers saves them, then SpladePooling with this model's pooling and activation (a Router: its
        routes' modules in sentence-transformers 6's Router layout, a SparseStaticEmbedding as its tokenizer,
        weights and config), and the prompts, similarity function and ``max_active_dims``. ``model_name``,
        ``create_model_card`` and ``train_datasets`` only shape sentence-transformers' model card, which
        pybertcore does not write."""
        if path is None:
            return
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        route = self.routes.first
        if self.routes.router:
            self.routes.save_router(folder, lambda route, name: save_route(route, name, folder, safe_serialization))
            modules = [("", ROUTER_TYPE)]
        elif isinstance(route, CsrRoute):
            modules = route.save_modules(folder, None, safe_serialization)
        elif isinstance(route, SpladeRoute):
            route.save_modules(folder, folder / "1_SpladePooling", safe_serialization)
            modules = [TRANSFORMER_MODULE, ("1_SpladePooling", SPLADE_POOLING_TYPE)]
        else:
            route.save_module(folder, safe_serialization)
            modules = [("", STATIC_TYPE)]
        settings = {"prompts": self.prompts, "default_prompt_name": self.default_prompt_name,
                    "similarity_fn_name": self._similarity_fn_name}
        if self.max_active_dims is not None:
            settings["max_active_dims"] = self.max_active_dims
        write_folder_description(folder, "SparseEncoder", modules, settings)

    save_pretrained = save

    def __call__(self, inputs: Union[str, list[str]], **kwargs: Any) -> Any:
        return self.encode(inputs, **kwargs)

    def __repr__(self) -> str:
        def describe_route(route: Any) -> str:
            if isinstance(route, SpladeRoute):
                return (f"SPLADE(model={type(route.model).__name__}, max_seq_length={route.max_seq_length}, "
                        f"pooling_strategy={route.pooling_strategy!r}, activation_function="
                        f"{route.activation_function!r}, vocab={route.dimension}, tile_rows={route.head.tile_rows})")
            if isinstance(route, CsrRoute):
                return repr(route)
            return f"SparseStaticEmbedding(dim={route.dimension}, tokenizer={type(route.tokenizer).__name__})"

        if not self.routes.router:
            return f"SparseEncoder({describe_route(self.routes.first)})"
        routes = ", ".join(f"{name}={describe_route(route)}" for name, route in self.routes.routes.items())
        return f"SparseEncoder(Router({routes}, default_route={self.routes.default_route!r}))"
