"""A SparseEncoder route for CSR models: a dense sentence embedding made sparse by sentence-transformers'
SparseAutoEncoder ("Beyond Matryoshka: Revisiting Sparse Coding for Adaptive Representation").

The route runs a SentenceTransformer pipeline (Transformer, Pooling, optional Dense / Normalize: a
SentenceEncoder of its own, sentence.py), then the autoencoder's encoder on each text's vector, as
sentence-transformers runs it at inference:

    x ← (x − mean(x)) / (std(x) + 1e-5)       only with ``normalize`` (std with Bessel's correction, as torch)
    z ← W (x − pre_bias) + latent_bias        hidden_dim values
    vector ← ReLU(the k largest of z, the rest 0)   k: the call's max_active_dims, else the module's k

W (hidden_dim, input_dim) is the encoder's weight, which sentence-transformers saves under the tied decoder's
name (``decoder.linear.weight``) or its own (``encoder.weight``). The product runs on the core's Dense, so a
text's vector does not depend on its batch. Where several entries of z tie for the last places, the one
kept may differ from torch's topk. The training statistics (``stats_last_nonzero``) are kept only to be
saved back. The weights are untrusted: shapes that do not fit raise CheckpointError naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from pybertcore import _core
from pybertcore.checkpoints import CheckpointError
from pybertcore.checkpoints.sharding import save_weights
from pybertcore.module_files import read_json
from pybertcore.sentence import module_place
from pybertcore.sentence_static import float_tensor, module_tensors
from pybertcore.sentence_utils import write_json
from pybertcore.untrusted import describe

SPARSE_AUTO_ENCODER_TYPE = "sentence_transformers.sparse_encoder.modules.sparse_auto_encoder.SparseAutoEncoder"
# Texts per pipeline call: the (texts, hidden_dim) codes of one chunk are made at a time.
_TEXTS_PER_CHUNK = 1024
_LN_EPS = 1e-5  # sentence-transformers' SparseAutoEncoder.LN


class CsrRoute:
    """A dense pipeline and the SparseAutoEncoder after it: texts to (N, hidden_dim) vectors of ≤ k non-zeros."""

    def __init__(self, pipeline: Any, folder: Path) -> None:
        self.pipeline = pipeline
        config_file = folder / "config.json"
        config = read_json(config_file)
        settings = {}
        for name, default in (("input_dim", None), ("hidden_dim", 512), ("k", 8), ("k_aux", 512),
                              ("dead_threshold", 30)):
            value = config.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name != "k_aux" else 0):
                raise ValueError(f"{config_file}: {name}: expected a positive integer, found {describe(value)}")
            settings[name] = value
        normalize = config.get("normalize", False)
        if not isinstance(normalize, bool):
            raise ValueError(f"{config_file}: normalize: expected true or false, found {describe(normalize)}")
        self.input_dim, self.hidden_dim, self.k = settings["input_dim"], settings["hidden_dim"], settings["k"]
        self.k_aux, self.dead_threshold, self.normalize = settings["k_aux"], settings["dead_threshold"], normalize

        state, weights_file = module_tensors(folder, "SparseAutoEncoder")
        weight_name = "encoder.weight" if "encoder.weight" in state else "decoder.linear.weight"
        weight = float_tensor(state, weight_name, weights_file, 2, "SparseAutoEncoder")
        pre_bias = float_tensor(state, "pre_bias", weights_file, 1, "SparseAutoEncoder")
        latent_bias = float_tensor(state, "latent_bias", weights_file, 1, "SparseAutoEncoder")
        shapes = {weight_name: (self.hidden_dim, self.input_dim), "pre_bias": (self.input_dim,),
                  "latent_bias": (self.hidden_dim,)}
        for name, array in ((weight_name, weight), ("pre_bias", pre_bias), ("latent_bias", latent_bias)):
            if array.shape != shapes[name]:
                raise CheckpointError(f"{weights_file}: {name} has shape {array.shape}; the config's input_dim "
                                      f"{self.input_dim} and hidden_dim {self.hidden_dim} give {shapes[name]}")
        width = pipeline._untruncated_dimension()
        if width != self.input_dim:
            raise CheckpointError(f"{config_file}: input_dim {self.input_dim}, but the modules before the "
                                  f"SparseAutoEncoder give {width} features")
        stats = state.get("stats_last_nonzero")
        if stats is None or stats.shape != (self.hidden_dim,):
            stats = np.zeros(self.hidden_dim, dtype=np.int64)
        # copies: the file's pages are not kept mapped
        self.weight = np.array(weight, dtype=np.float32)
        self.pre_bias = np.array(pre_bias, dtype=np.float32)
        self.latent_bias = np.array(latent_bias, dtype=np.float32)
        self.stats_last_nonzero = np.array(stats, dtype=np.int64)
        self._encoder = _core.Dense(self.weight, self.latent_bias)

    # Pickled without the core's packed encoder, which is packed again from the weights on the other side.
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_encoder"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._encoder = _core.Dense(self.weight, self.latent_bias)

    # --- what the SparseEncoder asks of a route --------------------------------------------------------
    @property
    def dimension(self) -> int:
        return self.hidden_dim

    @property
    def model(self) -> Any:
        return self.pipeline.model

    @property
    def tokenizer(self) -> Any:
        return self.pipeline.tokenizer

    @property
    def max_seq_length(self) -> Any:
        return self.pipeline.max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: Any) -> None:
        self.pipeline.max_seq_length = value

    def batches(self, texts: list[str], batch_size: int, max_active_dims: Optional[int] = None,
                prompt: Optional[str] = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(input indices, their (b, hidden_dim) vectors), a chunk of texts at a time in input order; the
        pipeline puts ``prompt`` before each text (and leaves it out of pooling if its Pooling says so) and
        sorts each chunk by length into batches of ``batch_size``."""
        k = min(max_active_dims if max_active_dims is not None else self.k, self.hidden_dim)
        for start in range(0, len(texts), _TEXTS_PER_CHUNK):
            chunk = texts[start:start + _TEXTS_PER_CHUNK]
            dense = self.pipeline.encode(chunk, prompt=prompt, batch_size=batch_size, show_progress_bar=False)
            yield np.arange(start, start + len(chunk)), self.codes(dense, k)

    def codes(self, x: np.ndarray, k: int) -> np.ndarray:
        """The autoencoder's sparse codes of the (n, input_dim) vectors ``x``, keeping the k largest."""
        x = np.asarray(x, dtype=np.float32)
        if self.normalize:
            x = x - x.mean(axis=1, keepdims=True)
            std = x.std(axis=1, ddof=1, keepdims=True) if x.shape[1] > 1 else np.zeros((len(x), 1), np.float32)
            x = x / (std + np.float32(_LN_EPS))
        z = self._encoder.forward(np.ascontiguousarray(x - self.pre_bias, dtype=np.float32))
        out = np.zeros_like(z)
        if len(z):
            keep = np.argpartition(-z, k - 1, axis=1)[:, :k]
            np.put_along_axis(out, keep, np.maximum(np.take_along_axis(z, keep, axis=1), 0), axis=1)
        return out

    def save_modules(self, folder: Path, route_name: Optional[str], safe_serialization: bool) -> list:
        """The pipeline's modules, then the SparseAutoEncoder's folder; their (path, type) in order."""
        modules = self.pipeline._save_modules(folder, route_name, safe_serialization)
        name = module_place(route_name)(len(modules), "SparseAutoEncoder")
        (folder / name).mkdir(parents=True, exist_ok=True)
        write_json(folder / name / "config.json", {
            "input_dim": self.input_dim, "hidden_dim": self.hidden_dim, "k": self.k, "k_aux": self.k_aux,
            "normalize": self.normalize, "dead_threshold": self.dead_threshold})
        # under the names torch writes: safetensors keeps one name of the tied weight, a .bin state dict both
        tensors = {"pre_bias": self.pre_bias, "decoder.linear.weight": self.weight, "latent_bias": self.latent_bias,
                   "stats_last_nonzero": self.stats_last_nonzero}
        if not safe_serialization:
            tensors["encoder.weight"] = self.weight
        save_weights(tensors, folder / name, safe_serialization)
        return modules + [(name, SPARSE_AUTO_ENCODER_TYPE)]

    def __repr__(self) -> str:
        return (f"CSR({self.pipeline!r}, SparseAutoEncoder(input_dim={self.input_dim}, hidden_dim={self.hidden_dim}, "
                f"k={self.k}, normalize={self.normalize}))")
