"""Ray Data: embed or classify a dataset across the machines of a Ray cluster (the ``ray`` extra).

    import ray, pybertcore.ray
    ds = ray.data.read_parquet("s3://bucket/corpus/")
    out = pybertcore.ray.embed_dataset(ds, "sentence-transformers/all-MiniLM-L6-v2")
    out.write_parquet("s3://bucket/embeddings/")

One model per actor, loaded in the actor (from a folder or hub id every node can read, or a SentenceEncoder /
pipeline object, which pickles as its recipe: pybertcore/recipes.py); an actor pool sized from the
cluster's CPUs when ``num_actors`` is None; each actor reserves ``cpus_per_actor`` CPUs and runs exactly that
many threads (its core and its tokenizer's pool). Batches travel as Arrow tables; the input columns pass
through unchanged and the results are appended: an embedding column of ``fixed_size_list<float32>[D]``
(``write_parquet`` writes a plain vector column), or ``labels`` / ``scores`` list columns as the
text-classification pipeline gives them (pybertcore/columns.py). Each row's numbers are those of a local
``encode`` / pipeline call, bit for bit: a text's result never depends on its batch or thread count.

Ray versions: the actor pool is ``compute=ray.data.ActorPoolStrategy(size=n)`` from Ray 2.51 (where
``concurrency`` was deprecated), ``concurrency=n`` before. Ray is imported when these functions are called,
never by ``import pybertcore``.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

DEFAULT_BATCH_SIZE = 256  # rows per Ray batch: enough for encode's length sorting, small in the object store


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError('pybertcore.ray needs Ray Data: pip install "pybertcore[ray]"') from None
    return ray


def _ray_version(ray: Any) -> tuple[int, int]:
    parts = ray.__version__.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return (99, 0)  # a development build: the newest API


def actor_pool_arguments(ray: Any, size: int) -> dict:
    """map_batches' argument for a pool of ``size`` actors, in the form this Ray version takes."""
    if _ray_version(ray) >= (2, 51):
        return {"compute": ray.data.ActorPoolStrategy(size=size)}
    return {"concurrency": size}


def _pool_size(ray: Any, num_actors: Optional[int], cpus_per_actor: float) -> int:
    if num_actors is not None:
        if isinstance(num_actors, bool) or not isinstance(num_actors, int) or num_actors < 1:
            raise ValueError(f"num_actors must be a positive integer or None, got {num_actors!r}")
        return num_actors
    cpus = ray.cluster_resources().get("CPU", 0) if ray.is_initialized() else os.cpu_count() or 1
    return max(1, int(cpus // cpus_per_actor))


def _check_arguments(ds: Any, column: str, batch_size: int, cpus_per_actor: Any, outputs: tuple[str, ...]) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(cpus_per_actor, bool) or not isinstance(cpus_per_actor, (int, float)) or cpus_per_actor < 1:
        raise ValueError(f"cpus_per_actor must be at least 1 (one thread per CPU), got {cpus_per_actor!r}")
    schema = ds.schema(fetch_if_missing=False)  # known without running anything, or None
    names = list(schema.names) if schema is not None else None
    if names is not None and column not in names:
        raise ValueError(f"the dataset has no column {column!r}; columns: {', '.join(names)}")
    if names is not None:
        taken = [name for name in outputs if name in names]
        if taken:
            raise ValueError(f"the dataset already has a column {taken[0]!r}; choose another output column name")


def _texts(batch: Any, column: str) -> list:
    if column not in batch.column_names:
        raise KeyError(f"the batch has no column {column!r}; columns: {', '.join(batch.column_names)}")
    return batch.column(column).to_pylist()


class _EmbedActor:
    """One per actor: the encoder, loaded here with the actor's thread budget."""

    def __init__(self, model: Any, threads: int, dtype: Optional[str], column: str, output_column: str,
                 normalize_embeddings: bool, encode_kwargs: dict) -> None:
        import pybertcore
        from pybertcore.sentence import SentenceEncoder

        pybertcore.set_num_threads(threads)  # before the first tokenization: the tokenizer's pool too
        if isinstance(model, SentenceEncoder):
            self.encoder = model
            if dtype is not None:
                self.encoder.to(dtype)
        else:
            self.encoder = SentenceEncoder.from_pretrained(model, model_kwargs={"dtype": dtype} if dtype else None)
        self.column, self.output_column = column, output_column
        self.kwargs = {**encode_kwargs, "normalize_embeddings": normalize_embeddings, "show_progress_bar": False}

    def __call__(self, batch: Any) -> Any:
        from pybertcore.columns import embedding_array

        vectors = self.encoder.encode(_texts(batch, self.column), **self.kwargs)
        if len(vectors) == 0:
            vectors = vectors.reshape(0, self.encoder.get_sentence_embedding_dimension())
        return batch.append_column(self.output_column, embedding_array(vectors))


class _ClassifyActor:
    def __init__(self, model: Any, threads: int, dtype: Optional[str], column: str, labels_column: str,
                 scores_column: str, top_k: Optional[int], pipeline_kwargs: dict) -> None:
        import pybertcore
        from pybertcore.pipelines import Pipeline, pipeline

        pybertcore.set_num_threads(threads)
        if isinstance(model, Pipeline):
            self.pipe = model
            if dtype is not None:
                self.pipe.model.to(dtype)
        else:
            self.pipe = pipeline("text-classification", model=model, model_kwargs={"dtype": dtype} if dtype else None)
        self.column, self.labels_column, self.scores_column = column, labels_column, scores_column
        self.top_k, self.pipeline_kwargs = top_k, pipeline_kwargs

    def __call__(self, batch: Any) -> Any:
        from pybertcore.columns import classification_arrays, classify_texts

        texts = _texts(batch, self.column)
        labels, scores = classification_arrays(*classify_texts(self.pipe, texts, self.top_k, **self.pipeline_kwargs))
        return batch.append_column(self.labels_column, labels).append_column(self.scores_column, scores)


def _map(ds: Any, actor: type, constructor: dict, batch_size: int, num_actors: Optional[int],
         cpus_per_actor: float) -> Any:
    ray = _import_ray()
    return ds.map_batches(
        actor,
        fn_constructor_kwargs=constructor,
        batch_size=batch_size,
        batch_format="pyarrow",
        num_cpus=cpus_per_actor,
        **actor_pool_arguments(ray, _pool_size(ray, num_actors, cpus_per_actor)),
    )


def embed_dataset(
    ds: Any,
    model: Union[str, os.PathLike, Any],
    *,
    column: str = "text",
    output_column: str = "embedding",
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_actors: Optional[int] = None,
    cpus_per_actor: int = 1,
    dtype: Optional[str] = None,
    normalize_embeddings: bool = False,
    **encode_kwargs: Any,
) -> Any:
    """``ds`` with ``output_column`` appended: each row's sentence embedding of ``column``, as a
    fixed_size_list<float32>[D]. ``model``: a folder or hub id each node can read, or a SentenceEncoder.
    ``batch_size`` rows go to an actor at a time; ``encode_kwargs`` go to ``SentenceEncoder.encode`` (its
    own ``batch_size`` is named ``encode_batch_size`` here). Lazy, as Ray Data is: nothing runs until the
    result is consumed (``write_parquet``, ``take``, ``materialize``)."""
    _import_ray()
    if "encode_batch_size" in encode_kwargs:
        encode_kwargs["batch_size"] = encode_kwargs.pop("encode_batch_size")
    unknown = sorted(set(encode_kwargs) - {"batch_size", "precision", "convert_to_numpy", "output_value"})
    if unknown:
        raise TypeError(f"embed_dataset() got unexpected keyword argument(s): {', '.join(unknown)}")
    _check_arguments(ds, column, batch_size, cpus_per_actor, (output_column,))
    constructor = dict(model=_portable(model), threads=int(cpus_per_actor), dtype=dtype, column=column,
                       output_column=output_column, normalize_embeddings=bool(normalize_embeddings),
                       encode_kwargs=encode_kwargs)
    return _map(ds, _EmbedActor, constructor, batch_size, num_actors, cpus_per_actor)


def classify_dataset(
    ds: Any,
    model: Union[str, os.PathLike, Any],
    *,
    column: str = "text",
    labels_column: str = "labels",
    scores_column: str = "scores",
    top_k: Optional[int] = 1,
    function_to_apply: Optional[str] = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_actors: Optional[int] = None,
    cpus_per_actor: int = 1,
    dtype: Optional[str] = None,
) -> Any:
    """``ds`` with ``labels_column`` (list of strings) and ``scores_column`` (list of floats) appended: per
    row, the text-classification pipeline's ``top_k`` labels and scores, best first (``top_k=None``: all).
    ``model``: a folder or hub id with a sequence-classification head, or a pipeline object."""
    _import_ray()
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    _check_arguments(ds, column, batch_size, cpus_per_actor, (labels_column, scores_column))
    constructor = dict(model=_portable(model), threads=int(cpus_per_actor), dtype=dtype, column=column,
                       labels_column=labels_column, scores_column=scores_column, top_k=top_k,
                       pipeline_kwargs={"function_to_apply": function_to_apply} if function_to_apply else {})
    return _map(ds, _ClassifyActor, constructor, batch_size, num_actors, cpus_per_actor)


def _portable(model: Any) -> Any:
    """A path as a string (an absolute one if it is a local folder); objects as they are (they pickle as
    their recipe)."""
    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        return os.path.abspath(text) if os.path.isdir(text) else text
    return model
