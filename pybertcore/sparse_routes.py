"""What a SparseEncoder runs on a text: its routes, read from a sentence-transformers folder, and saved back.

A route turns texts into (N, V) vectors over a vocabulary (or a CSR autoencoder's latents). Three kinds exist:

- ``SpladeRoute``: a masked LM (Transformer / MLMTransformer) followed by SpladePooling. The MLM head, the
  ReLU or log1p(ReLU) and the max or sum pooling run fused in the core (``_core.SpladeHead``) over row tiles
  of the vocabulary, so the (tokens, V) logits are never stored.
- ``StaticRoute``: sentence-transformers' SparseStaticEmbedding, the query side of "inference-free" SPLADE
  models: each token of the text (tokenized without special tokens) gets a fixed weight (e.g. an IDF), and
  a token that occurs several times counts once.
- ``CsrRoute`` (sparse_csr.py): a dense sentence pipeline whose vectors a SparseAutoEncoder makes sparse.

A folder with one SPLADE pipeline has one route. A folder whose only module is a ``Router`` (or its old
name ``Asym``) has several, each a list of module folders in ``router_config.json`` (older folders:
``config.json``), and picks one per call from the ``task`` ("query", "document") by sentence-transformers'
rule (module_files.py reads the Router and holds the rule). Modules shared by two routes are loaded once.

Files are untrusted: a config of the wrong shape raises ValueError naming the file and the field, module
ids must name folders inside the model folder, weights are read with pybertcore's own readers (never
``pickle.load``). A SparseStaticEmbedding whose config names an IDF JSON file (``path``) takes its weights
from it as sentence-transformers does (``idf_json_file``, ``idf_weights``); a Hub repository's ``idf.json`` is
read from the local Hugging Face cache only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

from pybertcore import _core, hub
from pybertcore.checkpoints.sharding import save_weights
from pybertcore.models.encoder_model import packed_sequences
from pybertcore.module_files import ROUTER_TYPES, Routes, module_entries, read_json
from pybertcore.module_files import load_router as read_router
from pybertcore.sentence import _sentence_bert_config
from pybertcore.sentence_static import float_tensor, module_tensors
from pybertcore.sparse_csr import CsrRoute
from pybertcore.sentence_utils import (
    length_sorted_batches,
    padded_batch,
    save_transformer_module,
    warn_truncated,
    write_json,
)
from pybertcore.tokenization import model_takes_token_types, model_token_limit
from pybertcore.untrusted import describe

SPLADE_POOLING_MODES = ("max", "sum")
SPLADE_ACTIVATIONS = ("relu", "log1p_relu")
# Vocabulary rows per decoder tile: the head's scratch is tokens × this many floats.
DEFAULT_TILE_ROWS = 512
# Tokens the encoder and the head take in one core call: a larger batch runs as several calls (a
# sequence's vector does not depend on its neighbours, bit for bit), so a call's activations stay near
# 4096 × (7H + I) floats (bert-base: about 140 MiB) whatever the batch size: at batch 64 × 256 the
# (tokens, vocab) logits alone would be 2 GiB.
TOKENS_PER_CALL = 4096

# Module types by class name (sentence-transformers 5 and 6 keep them in different packages).
_TRANSFORMER_TYPES = ("Transformer", "MLMTransformer")
SPLADE_POOLING_TYPE = "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling"
STATIC_TYPE = "sentence_transformers.sparse_encoder.modules.sparse_static_embedding.SparseStaticEmbedding"
TRANSFORMER_TYPE = "sentence_transformers.base.modules.transformer.Transformer"


def splade_pooling_config(path: Path) -> tuple[str, str]:
    """(pooling_strategy, activation_function) of a SpladePooling config.json."""
    config = read_json(path)
    strategy = config.get("pooling_strategy", "max")
    activation = config.get("activation_function", "relu")
    if strategy not in SPLADE_POOLING_MODES:
        raise ValueError(f"{path}: pooling_strategy: expected 'max' or 'sum', found {describe(strategy)}")
    if activation not in SPLADE_ACTIVATIONS:
        raise ValueError(f"{path}: activation_function: expected 'relu' or 'log1p_relu', found {describe(activation)}")
    return strategy, activation


def _token_chunks(idx: np.ndarray, ids_list: list, budget: int) -> Iterator[np.ndarray]:
    """``idx`` (longest first) in consecutive pieces of at most ``budget`` padded tokens (at least one
    sequence each)."""
    start = 0
    while start < len(idx):
        longest = len(ids_list[idx[start]])  # the piece's padded length: sorted, so its first sequence's
        end = start + max(1, budget // max(longest, 1))
        yield idx[start:end]
        start = end


class SpladeRoute:
    """A masked LM and its fused SPLADE head: texts to (N, V) vectors, a few thousand tokens per core call."""

    def __init__(self, model: Any, tokenizer: Any, pooling_strategy: str, activation_function: str,
                 max_seq_length: Optional[int], do_lower_case: bool, tile_rows: int) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.head = self._fused_head(tile_rows)
        self.pooling_strategy, self.activation_function = pooling_strategy, activation_function
        limit = model_token_limit(model.config, tokenizer)
        self.max_seq_length = limit if max_seq_length is None else min(int(max_seq_length), limit)
        self.do_lower_case = bool(do_lower_case)

    def _fused_head(self, tile_rows: int) -> Any:
        """The model's MLM head (transform, LayerNorm, decoder) packed into the core's fused SPLADE head."""
        ops = self.model._head_ops
        kinds = [op[0] for op in ops]
        if kinds != ["dense", "norm", "dense"] or ops[2][2] != _core.Activation.identity:
            raise NotImplementedError(f"{type(self.model).__name__}: an MLM head of steps {kinds} is not supported by "
                                      "pybertcore's SparseEncoder (expected dense + activation, LayerNorm, decoder)")
        (_, transform, act), (_, norm_w, norm_b), (_, decoder, _) = ops
        dtype = getattr(self.model, "dtype", "float32")
        self.head_dtype = dtype  # what the decoder was packed for: ``follow_model_precision`` compares it
        return _core.SpladeHead(transform.weight(), transform.bias(), act, norm_w, norm_b, float(self.model.dims.eps),
                                decoder.weight(), decoder.bias(), tile_rows=tile_rows,
                                dtype=dtype if dtype in ("float32", "bfloat16", "int8") else "float32")

    @property
    def dimension(self) -> int:
        return int(self.head.vocab_size)

    def follow_model_precision(self) -> None:
        """Packs the head again when the model's compute precision changed (``SparseEncoder.to``)."""
        if self.head_dtype != getattr(self.model, "dtype", "float32"):
            self.head = self._fused_head(int(self.head.tile_rows))

    # Pickled as the model (its recipe, pybertcore.recipes) and the settings; the core's head is packed again
    # from the model on the other side (Ray ships encoders this way).
    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k != "head"}
        state["tile_rows"] = int(self.head.tile_rows)
        return state

    def __setstate__(self, state: dict) -> None:
        tile_rows = state.pop("tile_rows")
        self.__dict__.update(state)
        self.head = self._fused_head(tile_rows)

    def batches(self, texts: list[str], batch_size: int, max_active_dims: Optional[int] = None,
                prompt: Optional[str] = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(input indices, their (b, V) vectors) of ``prompt`` + each text, batch by batch, longest texts first
        (``max_active_dims`` is applied by the encoder afterwards)."""
        if prompt:
            texts = [prompt + t for t in texts]
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length, verbose=False)
        ids_list = encoded["input_ids"]
        types_list = encoded.get("token_type_ids") if model_takes_token_types(self.model.config) else None
        warn_truncated(encoded, len(texts), self.max_seq_length)
        for idx in length_sorted_batches([len(ids) for ids in ids_list], batch_size):
            yield idx, np.concatenate([self._vectors(part, ids_list, types_list)
                                       for part in _token_chunks(idx, ids_list, TOKENS_PER_CALL)])

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

    def save_modules(self, folder: Path, pooling_folder: Path, safe_serialization: bool) -> None:
        """The Transformer module into ``folder`` and SpladePooling into ``pooling_folder``."""
        save_transformer_module(folder, self, "fill-mask", safe_serialization)
        pooling_folder.mkdir(parents=True, exist_ok=True)
        write_json(pooling_folder / "config.json", {
            "pooling_strategy": self.pooling_strategy, "activation_function": self.activation_function,
            "embedding_dimension": self.dimension})


class StaticRoute:
    """sentence-transformers' SparseStaticEmbedding: a text's vector holds ``weight[t]`` at every token t
    it contains (tokenized without special tokens, cut at the tokenizer's ``model_max_length``)."""

    def __init__(self, tokenizer: Any, weight: np.ndarray, frozen: bool = False) -> None:
        self.tokenizer, self.weight, self.frozen = tokenizer, weight, bool(frozen)
        # sentence-transformers reports the tokenizer's limit here, and setting max_seq_length changes only
        # this number: its SparseStaticEmbedding tokenizes with truncation at model_max_length regardless.
        self.max_seq_length = int(tokenizer.model_max_length)

    @property
    def dimension(self) -> int:
        return int(self.weight.shape[0])

    def batches(self, texts: list[str], batch_size: int, max_active_dims: Optional[int] = None,
                prompt: Optional[str] = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if prompt:
            texts = [prompt + t for t in texts]
        encoded = self.tokenizer(texts, truncation=True, add_special_tokens=False, verbose=False)
        ids_list = encoded["input_ids"]
        V = self.dimension
        for start in range(0, len(texts), batch_size):
            idx = np.arange(start, min(start + batch_size, len(texts)))
            vectors = np.zeros((len(idx), V), dtype=np.float32)
            for row, i in enumerate(idx):
                present = np.unique(np.asarray(ids_list[i], dtype=np.int64))
                if present.size and (present[0] < 0 or present[-1] >= V):
                    bad = present[(present < 0) | (present >= V)][0]
                    raise ValueError(f"inputs[{i}]: token id {bad} is outside this SparseStaticEmbedding's "
                                     f"{V} weights (the tokenizer and the weights disagree)")
                vectors[row, present] = self.weight[present]
            yield idx, vectors

    def save_module(self, folder: Path, safe_serialization: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(folder)
        save_weights({"weight": self.weight}, folder, safe_serialization)
        write_json(folder / "config.json", {"frozen": self.frozen})


def save_route(route: Any, name: str, folder: Path, safe_serialization: bool) -> list[tuple[str, str]]:
    """A route's module folders in a Router folder, as sentence-transformers 6 names them: (id, type) each."""
    if isinstance(route, CsrRoute):
        return route.save_modules(folder, name, safe_serialization)
    if isinstance(route, SpladeRoute):
        ids = [f"{name}_0_Transformer", f"{name}_1_SpladePooling"]
        route.save_modules(folder / ids[0], folder / ids[1], safe_serialization)
        return [(ids[0], TRANSFORMER_TYPE), (ids[1], SPLADE_POOLING_TYPE)]
    module_id = f"{name}_0_SparseStaticEmbedding"
    route.save_module(folder / module_id, safe_serialization)
    return [(module_id, STATIC_TYPE)]


def idf_json_file(path: Any, folder: Path, config_file: Path) -> Optional[Path]:
    """The IDF file a SparseStaticEmbedding's config names in ``path``, found where sentence-transformers looks:
    a file that exists (a relative path from the working directory, as there, or from the module folder), else
    ``idf.json`` of the Hub repository ``path`` names, here in the local Hugging Face cache only. None when
    ``path`` does not end in .json: sentence-transformers then ignores it and loads the folder's weights."""
    if not isinstance(path, str):
        raise ValueError(f"{config_file}: path: expected a string, found {describe(path)}")
    if not path.endswith(".json"):
        return None
    for candidate in (Path(path), folder / path):
        if "\0" not in path and candidate.is_file():
            return candidate
    if hub.is_repo_id(path):
        snapshot = hub.cached_snapshot(path, hub.hub_cache_dir())
        if snapshot is not None and (snapshot / "idf.json").is_file():
            return snapshot / "idf.json"
    raise OSError(f"{config_file}: path {describe(path)}: no such IDF file (looked from the working directory, "
                  f"from {folder}, and for a Hub repository's idf.json in {hub.hub_cache_dir()}; pybertcore does not "
                  "download it)")


def idf_weights(idf_file: Path, tokenizer: Any) -> np.ndarray:
    """sentence-transformers' SparseStaticEmbedding.from_json: zeros over the tokenizer's whole vocabulary (its
    added tokens too), then each listed token's weight at its id, in file order (a token the vocabulary lacks
    sets the unknown token's, as there)."""
    idf = read_json(idf_file)
    for token, value in idf.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ValueError(f"{idf_file}: the weight of {describe(token)} must be a finite number, found "
                             f"{describe(value)}")
    weight = np.zeros(len(tokenizer.get_vocab()), dtype=np.float32)
    for token_id, value in zip(tokenizer.convert_tokens_to_ids(list(idf)), idf.values()):
        if token_id is None or not 0 <= token_id < weight.shape[0]:
            raise ValueError(f"{idf_file}: token id {describe(token_id)} is outside the tokenizer's "
                             f"{weight.shape[0]} tokens")
        weight[token_id] = value
    return weight


def load_static_route(folder: Path, load_tokenizer: Callable[[Path], Any]) -> StaticRoute:
    """A SparseStaticEmbedding module folder: config.json, the tokenizer, and a 1-D ``weight`` tensor, or the IDF
    JSON file the config names."""
    config_file = folder / "config.json"
    config = read_json(config_file) if config_file.is_file() else {}
    unknown = sorted(set(config) - {"frozen", "path"})
    if unknown:  # sentence-transformers passes them to the constructor, which refuses them
        raise ValueError(f"{config_file}: unknown SparseStaticEmbedding settings {', '.join(map(describe, unknown))}")
    frozen = config.get("frozen", False)
    if not isinstance(frozen, bool):
        raise ValueError(f"{config_file}: frozen: expected true or false, found {describe(frozen)}")
    tokenizer = load_tokenizer(folder)
    idf_file = idf_json_file(config["path"], folder, config_file) if "path" in config else None
    if idf_file is not None:
        return StaticRoute(tokenizer, idf_weights(idf_file, tokenizer), frozen)
    state, weights_file = module_tensors(folder, "SparseStaticEmbedding")
    weight = float_tensor(state, "weight", weights_file, 1, "SparseStaticEmbedding")
    weight = np.array(weight, dtype=np.float32)  # a copy: the file's pages are not kept mapped
    return StaticRoute(tokenizer, weight, frozen)


# --- loading -------------------------------------------------------------------------------------------
def _transformer_settings(folder: Path) -> tuple[Optional[int], bool]:
    """(max_seq_length, do_lower_case) of a Transformer module folder that must be a fill-mask one."""
    sbert = folder / "sentence_bert_config.json"
    if not sbert.is_file():
        return None, False
    task = read_json(sbert).get("transformer_task", "fill-mask")
    if task != "fill-mask":
        raise NotImplementedError(f"{sbert}: transformer_task {describe(task)}: a SPLADE model needs 'fill-mask'")
    return _sentence_bert_config(sbert)


def _route_of(modules: list[tuple[str, Path]], where: str, make_splade: Callable, load_tokenizer: Callable,
              make_pipeline: Callable) -> Any:
    """One route from its modules, (type name, folder) in order: Transformer + SpladePooling,
    SparseStaticEmbedding alone, or a dense pipeline (Transformer + Pooling, Dense, Normalize) +
    SparseAutoEncoder (CSR)."""
    kinds = [kind for kind, _ in modules]
    if kinds == ["SparseStaticEmbedding"]:
        return load_static_route(modules[0][1], load_tokenizer)
    if len(kinds) >= 2 and kinds[-1] == "SparseAutoEncoder" and kinds[0] in _TRANSFORMER_TYPES:
        if "Pooling" not in kinds:
            raise ValueError(f"{where}: modules {kinds}: a SparseAutoEncoder takes a sentence embedding, and no "
                             "Pooling module makes one")
        return CsrRoute(make_pipeline([("Transformer", path) if kind in _TRANSFORMER_TYPES else (kind, path)
                                       for kind, path in modules[:-1]], where), modules[-1][1])
    if len(kinds) == 2 and kinds[0] in _TRANSFORMER_TYPES and kinds[1] == "SpladePooling":
        strategy, activation = splade_pooling_config(modules[1][1] / "config.json")
        return make_splade(modules[0][1], strategy, activation, *_transformer_settings(modules[0][1]))
    if "SpladePooling" not in kinds and all(k in _TRANSFORMER_TYPES or k in ("Pooling", "Normalize", "Dense")
                                            for k in kinds):
        raise NotImplementedError(f"{where}: no SpladePooling or SparseAutoEncoder module; pybertcore's "
                                  "SparseEncoder runs SPLADE and CSR models")
    raise NotImplementedError(f"{where}: modules {kinds} are not supported by pybertcore's SparseEncoder "
                              "(supported: Transformer/MLMTransformer + SpladePooling, SparseStaticEmbedding, "
                              "Transformer + Pooling (+ Dense, Normalize) + SparseAutoEncoder, and a Router of these)")


def load_router(folder: Path, make_splade: Callable, load_tokenizer: Callable, make_pipeline: Callable) -> Routes:
    """A Router module folder whose routes are SPLADE, SparseStaticEmbedding and CSR pipelines."""
    return read_router(folder, lambda modules, where: _route_of(modules, where, make_splade, load_tokenizer,
                                                                make_pipeline))


def load_routes(folder: Path, make_splade: Callable, load_tokenizer: Callable, make_pipeline: Callable) -> Routes:
    """The routes of a SparseEncoder folder: a Router's, one SPLADE pipeline's, or (no modules.json) a plain
    masked-LM checkpoint's with SPLADE max pooling and ReLU, as sentence-transformers makes one.

    ``make_splade(transformer_folder, strategy, activation, max_seq_length, do_lower_case)`` builds a
    SpladeRoute, ``load_tokenizer(folder)`` a tokenizer and ``make_pipeline(modules, where)`` a dense
    SentenceEncoder pipeline: the caller's loading arguments live in them."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return Routes({"": make_splade(folder, "max", "relu", None, False)})
    entries = module_entries(modules_file)
    kinds = [kind for kind, _ in entries]
    if any(kind in ROUTER_TYPES for kind in kinds):
        if len(entries) != 1:
            raise NotImplementedError(f"{modules_file}: modules {kinds}: pybertcore's SparseEncoder runs a Router "
                                      "only as the model's one module")
        return load_router(folder / entries[0][1], make_splade, load_tokenizer, make_pipeline)
    return Routes({"": _route_of([(kind, folder / path) for kind, path in entries], str(modules_file), make_splade,
                                 load_tokenizer, make_pipeline)})
