"""pybertcore.ray on a local Ray cluster (ray.init(num_cpus=2)): per id, exactly the vectors of a local
encode and the labels of a local pipeline; one thread per 1-CPU actor; write_parquet gives a vector column;
the actor-pool argument of each Ray version; bad arguments refused by name."""

from __future__ import annotations

import types

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ray  # the ray extra, in the test extra too: CI runs these, never skips them

import pybertcore
import pybertcore.ray as pbray
from ray_helpers import outside_repository, runtime_env, uneven_texts


@pytest.fixture(scope="module")
def local_ray():
    with outside_repository():
        ray.init(num_cpus=2, runtime_env=runtime_env(), include_dashboard=False, log_to_driver=False)
        yield
        ray.shutdown()


@pytest.fixture(scope="module")
def texts_ds(local_ray):
    texts = uneven_texts(60)
    return texts, ray.data.from_items([{"id": 1000 + i, "text": t} for i, t in enumerate(texts)])


def test_actor_with_one_cpu_runs_one_thread(local_ray, minilm_dir):
    @ray.remote(num_cpus=1)
    class Probe:
        def budget(self, folder):
            import pybertcore

            pybertcore.AutoTokenizer.from_pretrained(folder)(["a", "b"])  # starts the tokenizer's pool
            info = pybertcore.cpu_info()
            return info["num_threads"], info["num_threads_source"], info["tokenizer_threads"]

    assert ray.get(Probe.remote().budget.remote(str(minilm_dir))) == (1, "OMP_NUM_THREADS", 1)


def test_embed_dataset_gives_local_encode_per_id(texts_ds, minilm_dir, tmp_path):
    texts, ds = texts_ds
    out = pbray.embed_dataset(ds, minilm_dir, num_actors=2, cpus_per_actor=1, batch_size=7)
    table = pa.concat_tables(ray.get(out.to_arrow_refs()))
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 384)
    expected = pybertcore.SentenceEncoder.from_pretrained(minilm_dir).encode(texts)
    got = dict(zip(table.column("id").to_pylist(), table.column("embedding").to_pylist()))
    assert sorted(got) == [1000 + i for i in range(len(texts))]
    for i in range(len(texts)):
        np.testing.assert_array_equal(np.asarray(got[1000 + i], dtype=np.float32), expected[i])
    out.write_parquet(str(tmp_path / "vectors"))
    written = pq.read_table(tmp_path / "vectors")
    assert written.schema.field("embedding").type == pa.list_(pa.float32(), 384)  # a plain vector column
    assert written.sort_by("id").column("embedding").to_pylist() == [got[k] for k in sorted(got)]


def test_embed_dataset_normalizes_and_takes_an_encoder_object(texts_ds, minilm_dir):
    texts, ds = texts_ds
    encoder = pybertcore.SentenceEncoder.from_pretrained(minilm_dir)
    out = pbray.embed_dataset(ds, encoder, output_column="vec", normalize_embeddings=True, encode_batch_size=4)
    rows = sorted(out.take_all(), key=lambda r: r["id"])
    np.testing.assert_array_equal(np.stack([np.asarray(r["vec"], np.float32) for r in rows]),
                                  encoder.encode(texts, normalize_embeddings=True))


def test_classify_dataset_gives_the_local_pipeline_per_id(local_ray, minilm_dir, tmp_path):
    model = pybertcore.BertForSequenceClassification.from_pretrained(
        minilm_dir, num_labels=3, id2label={0: "neg", 1: "mid", 2: "pos"})
    model.save_pretrained(tmp_path / "clf")
    pybertcore.AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(tmp_path / "clf")
    texts = uneven_texts(25, seed=1)
    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    rows = sorted(pbray.classify_dataset(ds, tmp_path / "clf", top_k=2, num_actors=2, batch_size=4).take_all(),
                  key=lambda r: r["id"])
    expected = pybertcore.pipeline("text-classification", model=str(tmp_path / "clf"))(texts, top_k=2)
    assert [list(r["labels"]) for r in rows] == [[e["label"] for e in row] for row in expected]
    assert [list(r["scores"]) for r in rows] == [[e["score"] for e in row] for row in expected]
    raw = sorted(pbray.classify_dataset(ds, tmp_path / "clf", top_k=None, function_to_apply="none",
                                        num_actors=1).take_all(), key=lambda r: r["id"])
    expected = pybertcore.pipeline("text-classification", model=str(tmp_path / "clf"))(
        texts, top_k=None, function_to_apply="none")
    assert [list(r["scores"]) for r in raw] == [[e["score"] for e in row] for row in expected]
    assert all(len(r["labels"]) == 3 for r in raw)


def test_bad_arguments_are_refused_by_name(texts_ds, minilm_dir):
    _, ds = texts_ds
    with pytest.raises(ValueError, match="no column 'body'; columns: id, text"):
        pbray.embed_dataset(ds, minilm_dir, column="body")
    with pytest.raises(ValueError, match="already has a column 'text'"):
        pbray.embed_dataset(ds, minilm_dir, output_column="text")
    with pytest.raises(ValueError, match="cpus_per_actor must be at least 1"):
        pbray.embed_dataset(ds, minilm_dir, cpus_per_actor=0)
    with pytest.raises(ValueError, match="num_actors"):
        pbray.embed_dataset(ds, minilm_dir, num_actors=0)
    with pytest.raises(TypeError, match="bogus"):
        pbray.embed_dataset(ds, minilm_dir, bogus=1)
    with pytest.raises(ValueError, match="top_k"):
        pbray.classify_dataset(ds, minilm_dir, top_k=0)


@pytest.mark.parametrize("version, key", [("2.9.3", "concurrency"), ("2.50.1", "concurrency"),
                                          ("2.51.0", "compute"), ("2.60.0", "compute"), ("3.0.0", "compute")])
def test_actor_pool_argument_follows_the_ray_version(version, key):
    fake = types.SimpleNamespace(__version__=version, data=ray.data)
    arguments = pbray.actor_pool_arguments(fake, 3)
    assert list(arguments) == [key]
    if key == "compute":
        assert isinstance(arguments["compute"], ray.data.ActorPoolStrategy)
    else:
        assert arguments["concurrency"] == 3
