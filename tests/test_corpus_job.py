"""The resumable corpus job (pybertcore/corpus.py, `pybertcore embed|classify --input --output`) and
SentenceEncoder.encode_iter: results row for row those of encode / the pipeline, bit for bit; killed with
SIGKILL at any moment and rerun, exactly the uninterrupted output; corrupt or truncated parts redone; bad
input refused by name with finished parts left alone; the input streamed."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pybertcore
from conftest import child_env
from pybertcore.corpus import InputError, JobConflict, JobSpec, read_chunks, run_job


def corpus(n: int, seed: int = 0) -> list[str]:
    """Texts of very uneven lengths: empty, one word, and past the model's 256-token limit."""
    rng = random.Random(seed)
    words = "the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches".split()
    out = []
    for i in range(n):
        length = rng.choice([0, 1, 3, 12, 40, 90, 300])
        out.append(" ".join(rng.choice(words) for _ in range(length)) + ("" if length == 0 else f" #{i}"))
    return out


def write_jsonl(path, texts, ids=None):
    with open(path, "w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            record = {"text": text} if ids is None else {"id": ids[i], "text": text}
            f.write(json.dumps(record) + "\n")
    return path


def read_output(folder) -> pa.Table:
    return pq.read_table(folder)


def cli(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "pybertcore", *map(str, args)], cwd=cwd, env=child_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def encoder(minilm_dir):
    return pybertcore.SentenceEncoder.from_pretrained(minilm_dir)


def assert_embeddings(table: pa.Table, expected_ids: list, expected: np.ndarray) -> None:
    assert table.column_names == ["id", "embedding"]
    assert pa.types.is_fixed_size_list(table.schema.field("embedding").type)
    assert table.schema.field("embedding").type.value_type == pa.float32()
    assert table.column("id").to_pylist() == expected_ids
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    np.testing.assert_array_equal(vectors, expected)


# ---------------------------------------------------------------------------------------------- results
def test_jsonl_job_gives_encode_row_for_row(tmp_path, minilm_dir, encoder):
    texts = corpus(120)
    ids = [f"doc-{i}" for i in range(len(texts))]
    write_jsonl(tmp_path / "in.jsonl", texts, ids)
    done = cli("embed", "--model", minilm_dir, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "out",
               "--chunk-size", 50, "--batch-size", 7, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("part-*")) == [f"part-0000{i}.parquet" for i in range(3)]
    assert_embeddings(read_output(tmp_path / "out"), ids, encoder.encode(texts))
    assert "text/s" not in done.stderr and "120 rows in 3 parts" in done.stderr  # no bar when not a terminal
    assert json.loads((tmp_path / "out" / "_SUCCESS").read_text()) == {"rows": 120, "parts": 3}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "txt"])
def test_other_formats(tmp_path, minilm_dir, encoder, fmt):
    texts = [t.replace("\n", " ") for t in corpus(45, seed=1)]
    path = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        ids = list(range(1000, 1045))
        pq.write_table(pa.table({"body": texts, "key": ids}), path, row_group_size=16)
    elif fmt == "csv":
        ids = [f"r{i}" for i in range(45)]
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "text", "other"])
            writer.writerows([ids[i], t, "x"] for i, t in enumerate(texts))
    else:
        ids = list(range(45))
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spec = JobSpec(task="embed", input=str(path), output=str(tmp_path / "out"), model=str(minilm_dir),
                   chunk_size=20, **({"text_column": "body", "id_column": "key"} if fmt == "parquet" else {}))
    result = run_job(spec, show_progress=False, log=open(os.devnull, "w"))
    assert (result["rows"], result["parts"], result["written"]) == (45, 3, 3)
    assert_embeddings(read_output(tmp_path / "out"), ids, encoder.encode(texts))


def test_classify_job_gives_the_pipeline_row_for_row(tmp_path, minilm_dir):
    model = pybertcore.BertForSequenceClassification.from_pretrained(
        minilm_dir, num_labels=3, id2label={0: "neg", 1: "mid", 2: "pos"})
    model.save_pretrained(tmp_path / "clf")
    pybertcore.AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(tmp_path / "clf")
    texts = corpus(30, seed=2)
    write_jsonl(tmp_path / "in.jsonl", texts)
    done = cli("classify", "--model", tmp_path / "clf", "--input", tmp_path / "in.jsonl", "--output",
               tmp_path / "out", "--chunk-size", 13, "--top-k", 2, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = read_output(tmp_path / "out")
    assert table.column_names == ["id", "labels", "scores"]
    expected = pybertcore.pipeline("text-classification", model=str(tmp_path / "clf"))(texts, top_k=2)
    assert table.column("id").to_pylist() == list(range(30))
    assert table.column("labels").to_pylist() == [[e["label"] for e in row] for row in expected]
    assert table.column("scores").to_pylist() == [[e["score"] for e in row] for row in expected]


def test_progress_bar_shows_texts_per_second_when_asked(tmp_path, minilm_dir, capsys):
    write_jsonl(tmp_path / "in.jsonl", corpus(10))
    run_job(JobSpec(task="embed", input=str(tmp_path / "in.jsonl"), output=str(tmp_path / "out"),
                    model=str(minilm_dir), chunk_size=5), show_progress=True)
    assert "text/s" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- resuming
def start_job(tmp_path, minilm_dir, out, chunk_size=20):
    return subprocess.Popen([sys.executable, "-m", "pybertcore", "embed", "--model", str(minilm_dir), "--input",
                             str(tmp_path / "in.jsonl"), "--output", str(out), "--chunk-size", str(chunk_size)],
                            cwd=tmp_path, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_mid_way_and_rerun_gives_the_uninterrupted_output(tmp_path, minilm_dir):
    write_jsonl(tmp_path / "in.jsonl", corpus(150, seed=3), [f"d{i}" for i in range(150)])
    assert cli("embed", "--model", minilm_dir, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "whole",
               "--chunk-size", 10, cwd=tmp_path).returncode == 0
    out = tmp_path / "killed"
    job = start_job(tmp_path, minilm_dir, out, chunk_size=10)
    deadline = time.monotonic() + 120
    while not (out / "part-00002.parquet").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL
    parts = list(out.glob("part-*.parquet"))
    assert 3 <= len(parts) < 15 and not (out / "_SUCCESS").exists()
    done = cli("embed", "--model", minilm_dir, "--input", tmp_path / "in.jsonl", "--output", out,
               "--chunk-size", 10, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{15 - len(parts)} written now, {len(parts)} already done" in done.stderr
    assert read_output(out).equals(read_output(tmp_path / "whole"))
    assert not list(out.glob(".*tmp*"))


def test_killed_at_random_moments_and_rerun_gives_the_uninterrupted_output(tmp_path, minilm_dir, encoder):
    texts = corpus(120, seed=4)
    write_jsonl(tmp_path / "in.jsonl", texts)
    out = tmp_path / "out"
    rng = random.Random(5)
    for _ in range(5):  # model loading included: some kills land before the first part, some mid-write
        job = start_job(tmp_path, minilm_dir, out, chunk_size=10)
        time.sleep(rng.uniform(0.2, 2.0))
        job.send_signal(signal.SIGKILL)
        job.wait()
    done = cli("embed", "--model", minilm_dir, "--input", tmp_path / "in.jsonl", "--output", out,
               "--chunk-size", 10, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_embeddings(read_output(out), list(range(120)), encoder.encode(texts))
    assert not list(out.glob(".*tmp*"))


def test_corrupt_truncated_and_missing_parts_are_redone(tmp_path, minilm_dir):
    write_jsonl(tmp_path / "in.jsonl", corpus(100, seed=6))
    spec = JobSpec(task="embed", input=str(tmp_path / "in.jsonl"), output=str(tmp_path / "out"),
                   model=str(minilm_dir), chunk_size=20)
    run_job(spec, show_progress=False, log=open(os.devnull, "w"))
    whole = read_output(tmp_path / "out")
    out = tmp_path / "out"
    truncated = (out / "part-00001.parquet").read_bytes()
    (out / "part-00001.parquet").write_bytes(truncated[: len(truncated) // 2])
    flipped = bytearray((out / "part-00003.parquet").read_bytes())
    flipped[len(flipped) // 3] ^= 0xFF  # inside a data page: its checksum catches it
    (out / "part-00003.parquet").write_bytes(bytes(flipped))
    (out / "part-00004.parquet").unlink()
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        result = run_job(spec, show_progress=False, log=f)
    assert (result["written"], result["redone"]) == (3, 2)
    text = log.read_text()
    assert "part-00001.parquet: redoing it: unreadable" in text and "part-00003.parquet: redoing it" in text
    assert read_output(out).equals(whole)


def test_rerun_with_other_settings_is_refused(tmp_path, minilm_dir):
    write_jsonl(tmp_path / "in.jsonl", corpus(10))
    spec = dict(task="embed", input=str(tmp_path / "in.jsonl"), output=str(tmp_path / "out"), model=str(minilm_dir))
    run_job(JobSpec(**spec, chunk_size=4), show_progress=False, log=open(os.devnull, "w"))
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("part-*")}
    with pytest.raises(JobConflict, match="chunk_size: 4 then, 5 now"):
        run_job(JobSpec(**spec, chunk_size=5), show_progress=False)
    write_jsonl(tmp_path / "in.jsonl", corpus(11))
    with pytest.raises(JobConflict, match="input_file"):
        run_job(JobSpec(**spec, chunk_size=4), show_progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").glob("part-*")} == before


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name, content, message", [
    ("in.jsonl", '{"body": "a"}\n', r"in.jsonl:1: no text field 'text' \(--text-column\); fields: body"),
    ("in.jsonl", '{"text": "a"}\n[1]\n', r"in.jsonl:2: expected a JSON object per line, found list"),
    ("in.jsonl", '{"text": 3}\n', r"row 0: the text is int, expected a string"),
    ("in.jsonl", '{"id": 1, "text": "a"}\n{"id": null, "text": "b"}\n', r"row 1: the id is missing \(null\)"),
    ("in.csv", "id,body\n1,a\n", r"in.csv: no text column 'text' \(--text-column\); columns: id, body"),
    ("in.csv", "", r"in.csv: empty CSV file"),
    ("in.parquet", b"not a parquet file", r"in.parquet: not a readable parquet file"),
    ("in.txt", b"ok\n\xff\xfe\n", r"in.txt:2: not UTF-8 text"),
    ("in.txt", "", r"in.txt: no rows to embed"),
    ("in.jsonl", "\n\n", r"in.jsonl: no rows to embed"),
    ("in.xlsx", "", r"unknown input format '.xlsx'"),
])
def test_bad_input_is_refused_by_name(tmp_path, minilm_dir, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError, match=message):
        run_job(JobSpec(task="embed", input=str(path), output=str(tmp_path / "out"), model=str(minilm_dir)),
                show_progress=False)
    assert not list((tmp_path / "out").glob("part-*"))  # (no folder: no parts either)


def test_missing_file_and_missing_id_column_via_the_cli(tmp_path, minilm_dir):
    done = cli("embed", "--input", tmp_path / "nope.jsonl", "--output", tmp_path / "out", "--model", minilm_dir,
               cwd=tmp_path)
    assert done.returncode == 1 and "nope.jsonl: no such file" in done.stderr
    pq.write_table(pa.table({"text": ["a", "b"]}), tmp_path / "in.parquet")
    done = cli("embed", "--input", tmp_path / "in.parquet", "--output", tmp_path / "out", "--model", minilm_dir,
               "--id-column", "doc_id", cwd=tmp_path)
    assert done.returncode == 1 and "no id column 'doc_id' (--id-column); columns: text" in done.stderr
    done = cli("embed", "a text", "--input", tmp_path / "in.parquet", "--output", tmp_path / "out", cwd=tmp_path)
    assert done.returncode != 0 and "not both" in done.stderr


def test_bad_row_mid_way_leaves_finished_parts_alone(tmp_path, minilm_dir):
    lines = [json.dumps({"text": t}) for t in corpus(50, seed=7)]
    lines[45] = '{"text": "cut'
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in.jsonl:46: not a JSON line"):
        run_job(JobSpec(task="embed", input=str(tmp_path / "in.jsonl"), output=str(tmp_path / "out"),
                        model=str(minilm_dir), chunk_size=20), show_progress=False, log=open(os.devnull, "w"))
    parts = sorted(p.name for p in (tmp_path / "out").glob("part-*"))
    assert parts == ["part-00000.parquet", "part-00001.parquet"]
    assert read_output(tmp_path / "out").num_rows == 40 and not (tmp_path / "out" / "_SUCCESS").exists()


def test_input_is_streamed(tmp_path):
    """Reading a 40 MB corpus in chunks of 1,000 texts holds about one chunk, not the corpus."""
    line = "word " * 100
    with open(tmp_path / "big.txt", "w", encoding="utf-8") as f:
        for _ in range(80_000):
            f.write(line + "\n")
    spec = JobSpec(task="embed", input=str(tmp_path / "big.txt"), output="unused", model="unused", chunk_size=1000)
    tracemalloc.start()
    try:
        rows = sum(len(texts) for _, texts in read_chunks(spec))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows == 80_000
    assert peak < 5 * 1000 * len(line)  # a few chunks' worth at most; the file is 80 times one chunk


# ---------------------------------------------------------------------------------------------- encode_iter
def test_encode_iter_yields_encode_chunk_by_chunk(encoder):
    texts = corpus(70, seed=8)
    chunks = list(encoder.encode_iter(iter(texts), batch_size=4, chunk_size=32, normalize_embeddings=True))
    assert [len(c) for c in chunks] == [32, 32, 6]
    np.testing.assert_array_equal(np.concatenate(chunks), encoder.encode(texts, normalize_embeddings=True))
    with pytest.raises(TypeError, match="iterable of texts"):
        next(encoder.encode_iter("one text"))
    with pytest.raises(ValueError, match="chunk_size"):
        next(encoder.encode_iter(texts, chunk_size=0))
    with pytest.raises(TypeError, match="bogus"):
        next(encoder.encode_iter(texts, bogus=1))
