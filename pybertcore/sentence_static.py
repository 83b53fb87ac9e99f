"""sentence-transformers' StaticEmbedding: a text's vector is the mean of its tokens' rows in one embedding table.

Static embedding models (sentence-transformers' static-retrieval-mrl-en-v1 and static-similarity models,
model2vec's potion models) skip the transformer altogether; they are the fastest CPU encoders there are,
and a SentenceTransformer folder whose first module is a StaticEmbedding loads as one.

The folder holds ``tokenizer.json`` (run with the ``tokenizers`` package as sentence-transformers runs it:
no special tokens, no padding, the file's own truncation kept) and the table in ``model.safetensors`` (or
``pytorch_model.bin``): ``embedding.weight`` (V, D) as sentence-transformers saves it, or model2vec's
``embeddings`` with an optional ``mapping`` (token id → row) and per-token ``weights``, folded into one row
per token id as sentence-transformers folds them.

Numerics: the mean sums in float64 and rounds once, so vectors are within a few float32 ulps of torch's
EmbeddingBag (which sums in float32); a text without tokens gets zeros, as there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pybertcore.checkpoints import CheckpointError
from pybertcore.checkpoints.sharding import find_weights_file, load_weights_file, save_weights

STATIC_EMBEDDING_TYPE = "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding"


def module_tensors(folder: Path, module: str) -> tuple[dict, Path]:
    """The tensors of a sentence-transformers module folder (model.safetensors, else pytorch_model.bin, read
    without pickle) and their file; OSError naming the module when it has neither (as sentence-transformers)."""
    weights_file = find_weights_file(folder, ("model.safetensors", "pytorch_model.bin"))
    if weights_file is None:
        raise OSError(f"{folder}: a {module} module needs model.safetensors or pytorch_model.bin")
    return load_weights_file(weights_file), weights_file


def float_tensor(state: dict, name: str, weights_file: Path, ndim: int, module: str,
                 integers: bool = False) -> np.ndarray:
    """``state[name]``: a non-empty ``ndim``-D float tensor (or integer, where model2vec quantizes its rows),
    else CheckpointError naming the file, the module and the tensor."""
    value = state.get(name)
    kinds = (np.floating, np.integer) if integers else (np.floating,)
    if value is None or value.ndim != ndim or not any(np.issubdtype(value.dtype, k) for k in kinds) or value.size == 0:
        found = "nothing" if value is None else f"{value.dtype} of shape {value.shape}"
        raise CheckpointError(f"{weights_file}: a {module} module needs {name!r}, a non-empty {ndim}-D "
                              f"{'numeric' if integers else 'float'} tensor; found {found}")
    return value


def _fold_model2vec(state: dict, weights_file: Path) -> np.ndarray:
    """model2vec's tables as one row per token id: ``embeddings[mapping[t]] * weights[t]``."""
    # model2vec may store int8 rows
    table = float_tensor(state, "embeddings", weights_file, 2, "StaticEmbedding", integers=True)
    mapping, weights = state.get("mapping"), state.get("weights")
    if mapping is not None:
        if mapping.ndim != 1 or not np.issubdtype(mapping.dtype, np.integer):
            raise CheckpointError(f"{weights_file}: 'mapping' must be a 1-D integer tensor, found {mapping.dtype} "
                                  f"of shape {mapping.shape}")
        if mapping.size and (mapping.min() < 0 or mapping.max() >= table.shape[0]):
            raise CheckpointError(f"{weights_file}: 'mapping' names rows outside 'embeddings' ({table.shape[0]} rows)")
        table = table[mapping]
    if weights is not None:
        weights = float_tensor(state, "weights", weights_file, 1, "StaticEmbedding")
        if weights.shape[0] != table.shape[0]:
            raise CheckpointError(f"{weights_file}: 'weights' has {weights.shape[0]} entries for {table.shape[0]} "
                                  "token rows")
        table = table.astype(np.float32) * weights.astype(np.float32)[:, None]
    return table


class StaticEmbedding:
    """A tokenizer and a (V, D) table: ``embed(texts)`` is each text's mean token row."""

    def __init__(self, tokenizer: Any, table: np.ndarray) -> None:
        self.tokenizer = tokenizer
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer.no_padding()

    @classmethod
    def load(cls, folder: Path) -> "StaticEmbedding":
        from tokenizers import Tokenizer

        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise OSError(f"{folder}: a StaticEmbedding module needs tokenizer.json")
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as e:  # the tokenizers package raises its own Exception type for a bad file
            raise OSError(f"{tokenizer_file} is not a tokenizer the tokenizers package reads: {e}") from None
        state, weights_file = module_tensors(folder, "StaticEmbedding")
        if "embedding.weight" in state:
            table = float_tensor(state, "embedding.weight", weights_file, 2, "StaticEmbedding")
        else:
            table = _fold_model2vec(state, weights_file)
        return cls(tokenizer, np.array(table, dtype=np.float32))  # a copy: the file is not kept mapped

    @property
    def dimension(self) -> int:
        return int(self.table.shape[1])

    # sentence-transformers' StaticEmbedding module's names (model[0] of a static model)
    embedding_dim = dimension
    max_seq_length = math.inf  # the tokenizer.json's own truncation applies

    @property
    def num_embeddings(self) -> int:
        return int(self.table.shape[0])

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        ids = [encoding.ids for encoding in encodings]
        V = self.table.shape[0]
        for i, row in enumerate(ids):
            if row and max(row) >= V:
                raise ValueError(f"inputs[{i}]: token id {max(row)} is outside the StaticEmbedding's {V} rows (the "
                                 "tokenizer and the table disagree)")
        return ids

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), D): each text's mean token row (zeros for a text without tokens)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, ids in enumerate(self.token_ids(texts)):
            if ids:
                out[i] = self.table[ids].sum(axis=0, dtype=np.float64) / len(ids)
        return out

    def save(self, folder: Path, safe_serialization: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_weights({"embedding.weight": self.table}, folder, safe_serialization)
        self.tokenizer.save(str(folder / "tokenizer.json"))

    def __repr__(self) -> str:
        return f"StaticEmbedding(vocab={self.table.shape[0]}, dim={self.dimension})"


def check_static_modules(kinds: list, where: Any) -> None:
    """A StaticEmbedding comes first and alone before Dense / Normalize modules."""
    if kinds.count("StaticEmbedding") != 1 or kinds[0] != "StaticEmbedding" or any(
            k not in ("Dense", "Normalize") for k in kinds[1:]):
        raise NotImplementedError(f"{where}: modules {kinds}: pybertcore runs a StaticEmbedding as the first module, "
                                  "followed only by Dense and Normalize modules")
