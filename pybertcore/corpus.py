"""``pybertcore embed|classify --input FILE --output DIR``: a resumable job over a corpus of any size.

The input (``.parquet``, ``.jsonl``/``.ndjson``, ``.csv``, ``.txt`` with one text a line) is streamed in
chunks of ``chunk_size`` rows; chunk k becomes ``DIR/part-{k:05d}.parquet`` with an ``id`` column (the
input's id column, ``--id-column``, default ``id`` when the input has one; else the row number, counted
from 0) and the results: ``embedding`` (fixed_size_list<float32>[D]) or ``labels`` / ``scores``
(pybertcore/columns.py). At most one chunk of texts and its results are in memory, whatever the corpus.

Guarantees:
- a part is written to a temporary name, fsynced, renamed, and its folder fsynced: a part either exists
  whole or not at all, whenever the job is killed (SIGKILL included);
- a rerun with the same settings skips every part that reads back whole (footer, page checksums, its
  chunk's row count and ids) and redoes the others, saying why; the rows come out exactly once, and the
  numbers are those of an uninterrupted run bit for bit (a text's result never depends on its batch);
- ``DIR/_job.json`` records the settings and the input's size and modification time: a rerun with other
  settings or a changed input is refused, naming what differs, rather than mixing two jobs' parts;
- bad input (unreadable file, unknown format, missing column, a row that is not text, no rows at all)
  raises InputError (a ValueError) naming the file and the row; parts already written stay as they are;
- one job per folder at a time (an advisory lock, ``DIR/_job.lock``); ``DIR/_SUCCESS`` marks a job done.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from pybertcore.columns import classification_arrays, classify_texts, embedding_array, import_pyarrow

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
           ".txt": "txt"}
MANIFEST, SUCCESS, LOCK = "_job.json", "_SUCCESS", "_job.lock"
PART = "part-{:05d}.parquet"
_READ_ROWS = 8192  # rows per read of a parquet input; chunks are cut from these
_ROW_NUMBER = object()  # what a reader yields as the id when the input has no id column


class InputError(ValueError):
    """The input cannot be read as the job's settings say: names the file, and the row when there is one."""


class JobConflict(ValueError):
    """The output folder holds another job (other settings, a changed input) or a job running now."""


@dataclass
class JobSpec:
    task: str  # "embed" or "classify"
    input: str
    output: str
    model: str
    text_column: str = "text"
    id_column: Optional[str] = None  # None: "id" when the input has it, else row numbers
    dtype: Optional[str] = None
    batch_size: int = 32
    chunk_size: int = 4096
    normalize: bool = False  # embed
    top_k: int = 1  # classify

    def settings(self) -> dict:
        """What must agree between a job and its rerun (the output folder is where they meet)."""
        out = asdict(self)
        out.pop("output")
        out["input"] = os.path.abspath(self.input)
        return out


# ---------------------------------------------------------------------------------------------- reading
def input_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown input format {path.suffix or '(no extension)'!r}; "
                         f"expected one of {', '.join(sorted(FORMATS))}")
    return fmt


def _pick_id(columns: list, spec: JobSpec, path: Path) -> Optional[str]:
    if spec.id_column is not None:
        if spec.id_column not in columns:
            raise InputError(f"{path}: no id column {spec.id_column!r} (--id-column); columns: {', '.join(map(str, columns))}")
        return spec.id_column
    return "id" if "id" in columns else None


def _need_text(columns: list, spec: JobSpec, path: Path) -> None:
    if spec.text_column not in columns:
        raise InputError(f"{path}: no text column {spec.text_column!r} (--text-column); "
                         f"columns: {', '.join(map(str, columns)) or 'none'}")


def _rows_parquet(path: Path, spec: JobSpec) -> Iterator[tuple[Any, Any]]:
    pa = import_pyarrow("reading a parquet input")
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: not a readable parquet file ({e})") from None
    columns = reader.schema_arrow.names
    _need_text(columns, spec, path)
    id_column = _pick_id(columns, spec, path)
    wanted = [spec.text_column] + ([id_column] if id_column else [])
    try:
        for batch in reader.iter_batches(batch_size=_READ_ROWS, columns=wanted):
            texts = batch.column(spec.text_column).to_pylist()
            ids = batch.column(id_column).to_pylist() if id_column else [_ROW_NUMBER] * len(texts)
            yield from zip(ids, texts)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: the parquet file cannot be read to its end ({e})") from None


def _open_binary(path: Path):
    try:
        return open(path, "rb")
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from None


def _lines(f, path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, the line as text with its ending), decoded line by line so that an error names
    the line; a UTF-8 byte-order mark at the start is dropped."""
    number = 0
    try:
        for number, raw in enumerate(f, 1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{path}:{number}: not UTF-8 text ({e.reason} at byte {e.start} of the line)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from None


def _rows_jsonl(path: Path, spec: JobSpec) -> Iterator[tuple[Any, Any]]:
    id_column = spec.id_column
    decided = id_column is not None
    with _open_binary(path) as f:
        for number, line in _lines(f, path):
            if not line.strip():
                continue  # a blank line (a trailing newline, a separator) is no record
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{number}: not a JSON line ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line, found {type(record).__name__}")
            if spec.text_column not in record:
                raise InputError(f"{path}:{number}: no text field {spec.text_column!r} (--text-column); "
                                 f"fields: {', '.join(record) or 'none'}")
            if not decided:  # the default id column: "id" when the first record has it
                id_column, decided = ("id" if "id" in record else None), True
            if id_column is not None and id_column not in record:
                raise InputError(f"{path}:{number}: no id field {id_column!r} (--id-column); fields: {', '.join(record)}")
            yield (record[id_column] if id_column else _ROW_NUMBER), record[spec.text_column]


def _rows_csv(path: Path, spec: JobSpec) -> Iterator[tuple[Any, Any]]:
    csv.field_size_limit(1 << 28)  # long passages; the default (128 KiB) would cut a corpus of books
    with _open_binary(path) as f:
        reader = csv.reader(line for _, line in _lines(f, path))
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}: empty CSV file (no header row)") from None
        except csv.Error as e:
            raise InputError(f"{path}:1: not CSV ({e})") from None
        _need_text(header, spec, path)
        id_column = _pick_id(header, spec, path)
        text_at, id_at = header.index(spec.text_column), (header.index(id_column) if id_column else None)
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise InputError(f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(header)}")
                yield (row[id_at] if id_at is not None else _ROW_NUMBER), row[text_at]
        except csv.Error as e:
            raise InputError(f"{path}:{reader.line_num}: not CSV ({e})") from None


def _rows_txt(path: Path, spec: JobSpec) -> Iterator[tuple[Any, Any]]:
    if spec.id_column is not None:
        raise InputError(f"{path}: a .txt input has no columns, so no id column {spec.id_column!r}; "
                         "its ids are the line numbers, from 0")
    with _open_binary(path) as f:  # a line is what ends in \n (or \r\n); every line is a text
        for _, line in _lines(f, path):
            yield _ROW_NUMBER, line.rstrip("\r\n")


READERS = {"parquet": _rows_parquet, "jsonl": _rows_jsonl, "csv": _rows_csv, "txt": _rows_txt}


def read_chunks(spec: JobSpec) -> Iterator[tuple[list, list]]:
    """(ids, texts) of each chunk of spec.chunk_size rows, in order; ids are row numbers without an id column."""
    path = Path(spec.input)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; --input takes one file")
    if not path.exists():
        raise InputError(f"{path}: no such file")
    rows = READERS[input_format(path)](path, spec)
    ids: list = []
    texts: list = []
    row = 0
    for key, text in rows:
        if not isinstance(text, str):
            raise InputError(f"{path}: row {row}: the text is {'missing (null)' if text is None else type(text).__name__}, "
                             "expected a string")
        if key is not _ROW_NUMBER and (isinstance(key, bool) or not isinstance(key, (int, str))):
            raise InputError(f"{path}: row {row}: the id is {'missing (null)' if key is None else type(key).__name__}, "
                             "expected an integer or a string")
        ids.append(row if key is _ROW_NUMBER else key)
        texts.append(text)
        row += 1
        if len(texts) == spec.chunk_size:
            yield ids, texts
            ids, texts = [], []
    if texts:
        yield ids, texts


def input_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def count_rows(path: Path) -> Optional[int]:
    """The row count when it costs nothing (a parquet footer), for the progress bar's total."""
    if input_format(path) != "parquet":
        return None
    try:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    except Exception:
        return None  # read_chunks says what is wrong with it


# ---------------------------------------------------------------------------------------------- writing
def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(folder: Path, name: str, write) -> None:
    """``write(file)`` into a temporary file, fsync it, rename it to ``name``, fsync the folder."""
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(folder)


def write_part(folder: Path, name: str, table: Any) -> None:
    import pyarrow.parquet as pq

    write_atomically(folder, name, lambda f: pq.write_table(table, f, write_page_checksum=True))


def part_problem(path: Path, ids: list, result_columns: tuple[str, ...]) -> Optional[str]:
    """None when ``path`` is a whole part of this chunk, else why it must be (re)done."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        return "missing"
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except (OSError, pa.ArrowException) as e:
        return f"unreadable ({str(e).splitlines()[0][:200]})"
    if table.column_names != ["id", *result_columns]:
        return f"columns {table.column_names}, expected {['id', *result_columns]}"
    if table.num_rows != len(ids):
        return f"{table.num_rows} rows, this chunk has {len(ids)}"
    if table.column("id").to_pylist() != ids:
        return "its ids are not this chunk's"
    return None


class _Worker:
    """The model, loaded at the first chunk that needs it (a finished job's rerun loads nothing)."""

    def __init__(self, spec: JobSpec) -> None:
        self.spec = spec
        self.runner: Any = None

    def result_columns(self) -> tuple[str, ...]:
        return ("embedding",) if self.spec.task == "embed" else ("labels", "scores")

    def table(self, ids: list, texts: list, path: Path) -> Any:
        import pyarrow as pa

        spec = self.spec
        if self.runner is None:
            model_kwargs = {"dtype": spec.dtype} if spec.dtype else {}
            if spec.task == "embed":
                from pybertcore.sentence import SentenceEncoder

                self.runner = SentenceEncoder.from_pretrained(spec.model, model_kwargs=model_kwargs)
            else:
                from pybertcore.pipelines import pipeline

                self.runner = pipeline("text-classification", model=spec.model, model_kwargs=model_kwargs,
                                       batch_size=spec.batch_size)
        try:
            id_array = pa.array(ids)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise InputError(f"{path}: the ids of rows {ids[0]!r}..{ids[-1]!r} mix types ({e})") from None
        if spec.task == "embed":
            vectors = self.runner.encode(texts, batch_size=spec.batch_size, normalize_embeddings=spec.normalize,
                                         show_progress_bar=False)
            return pa.table({"id": id_array, "embedding": embedding_array(vectors)})
        labels, scores = classification_arrays(*classify_texts(self.runner, texts, spec.top_k))
        return pa.table({"id": id_array, "labels": labels, "scores": scores})


# ---------------------------------------------------------------------------------------------- the job
def _claim(folder: Path) -> Any:
    lock = open(folder / LOCK, "a+")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        lock.close()
        if e.errno in (errno.EAGAIN, errno.EACCES):
            raise JobConflict(f"{folder}: another job is writing this folder now") from None
        raise
    return lock


def _check_manifest(folder: Path, manifest: dict) -> bool:
    """True when the folder already holds this job's manifest; JobConflict when it holds another job's."""
    path = folder / MANIFEST
    if not path.exists():
        return False
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise JobConflict(f"{path}: unreadable ({e}); remove the folder to start over") from None
    if not isinstance(saved, dict):
        raise JobConflict(f"{path}: not a pybertcore job manifest; remove the folder to start over")
    differ = sorted(k for k in set(saved) | set(manifest) if saved.get(k) != manifest.get(k))
    if differ:
        details = "; ".join(f"{k}: {saved.get(k)!r} then, {manifest.get(k)!r} now" for k in differ)
        raise JobConflict(f"{folder} holds a job with other settings or another input ({details}); "
                          "use another --output folder, or remove this one to start over")
    return True


def run_job(spec: JobSpec, show_progress: Optional[bool] = None, log=sys.stderr) -> dict:
    """Runs (or resumes) the job; returns {"rows", "parts", "written", "redone"}."""
    import_pyarrow(f"pybertcore {spec.task} --input")
    if spec.batch_size < 1 or spec.chunk_size < 1:
        raise ValueError(f"--batch-size and --chunk-size must be at least 1, got {spec.batch_size} and {spec.chunk_size}")
    source, folder = Path(spec.input), Path(spec.output)
    input_format(source)
    if folder.exists() and not folder.is_dir():
        raise JobConflict(f"--output {folder}: is a file, expected a folder (it will hold the parts)")
    if not source.is_file():
        raise InputError(f"{source}: {'is a folder; --input takes one file' if source.is_dir() else 'no such file'}")
    manifest = {**spec.settings(), "input_file": input_fingerprint(source), "format_version": 1}
    folder.mkdir(parents=True, exist_ok=True)
    lock = _claim(folder)
    try:
        have_manifest = _check_manifest(folder, manifest)
        for stale in folder.glob(".part-*.parquet.tmp-*"):  # a killed run's unfinished writes
            stale.unlink(missing_ok=True)
        worker = _Worker(spec)
        if show_progress is None:
            show_progress = _stderr_is_terminal()
        bar = _progress(count_rows(source), show_progress, spec.task)
        rows = parts = written = redone = 0
        try:
            for index, (ids, texts) in enumerate(read_chunks(spec)):
                if not have_manifest:
                    write_atomically(folder, MANIFEST, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
                    have_manifest = True
                name = PART.format(index)
                problem = part_problem(folder / name, ids, worker.result_columns())
                if problem is not None:
                    if problem != "missing":
                        print(f"pybertcore: {folder / name}: redoing it: {problem}", file=log)
                        redone += 1
                    write_part(folder, name, worker.table(ids, texts, source))
                    written += 1
                rows += len(texts)
                parts += 1
                if bar is not None:
                    bar.update(len(texts))
        finally:
            if bar is not None:
                bar.close()
        if rows == 0:
            raise InputError(f"{source}: no rows to {spec.task}")
        write_atomically(folder, SUCCESS, lambda f: f.write(json.dumps({"rows": rows, "parts": parts}).encode()))
        print(f"pybertcore: {folder}: {rows} rows in {parts} parts ({written} written now, "
              f"{parts - written} already done{f', {redone} redone' if redone else ''})", file=log)
        return {"rows": rows, "parts": parts, "written": written, "redone": redone}
    finally:
        lock.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _progress(total: Optional[int], show: bool, task: str):
    """A tqdm bar with texts/s on stderr, or None (not shown, or tqdm not installed: the corpus extra)."""
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=f"pybertcore {task}", unit="text", unit_scale=True, file=sys.stderr,
                smoothing=0.1, mininterval=0.5)
