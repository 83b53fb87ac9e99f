"""The families beside BERT against PyTorch (transformers), in one run: base-sized random models of BERT,
MPNet, NomicBERT, GTE, ModernBERT and DeBERTa-v3 at 1×128, 32×128 and a variable-length batch, and
ModernBERT's peak memory at 1 × 8192 tokens.

    PYTHONPATH=. python bench/bench_families.py             # full run (about 15 minutes on 2 cores)
    PYTHONPATH=. python bench/bench_families.py --quick     # fewer rounds
    PYTHONPATH=. python bench/bench_families.py --families deberta_v3,deberta_v3_norel --no-long   # DeBERTa alone
    options: --threads N   --families bert,modernbert   --engines pybertcore,torch,onnxruntime,pybertcore@DIR
             --long-only (only the 1×8192 memory rows)   --workdir DIR (checkpoints, reused)

Method (as bench/bench.py): each engine in its own worker process, loaded once; per configuration a
warm-up, then rounds in which the engines take turns (order rotating), SETTLE_S idle before each timed
call; medians. Latency (ms) for batch 1, throughput (sequences/s) otherwise. The variable-length set is
32 sequences of 16..256 tokens (seeded), padded to the longest with an attention mask: the engines that
skip padding gain there. GFLOP/s counts the useful work on real tokens (the dense layers, gated FFNs as
three matrices, attention over the keys each query sees: a local window caps them); "vs BERT" sets each
family's GFLOP/s beside BERT's at the same shape (a family off the fast path shows there).
Memory: a fresh worker per engine loads ModernBERT-base, resets the RSS high-water mark and runs one
forward pass at 1 × 8192; the report gives that pass's peak over the loaded model's resident size
(everything the pass allocates: activations, workspace, outputs; a later call reuses our pooled
workspace, so the first call is the one to count). PyTorch runs its default attention (SDPA).
ONNX Runtime (engine "onnxruntime") runs each family's graph exported by torch.onnx (the TorchScript
exporter, dynamic batch and length; made once in --workdir) with all graph optimisations, 1 inter-op thread.
DeBERTa: "deberta_v3" is deberta-v3-base's geometry (256 log buckets, shared key projections, both
terms); "deberta_v3_norel" the same model without relative attention. Run together, the report gives the
share of each engine's time spent on the relative-position terms, 1 − t(norel) / t(v3).
The machine may be shared and noisy: compare ratios from one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import REPO, Engine as _Engine, _status, log  # noqa: E402  (one protocol for both benches)

SETTLE_S = 0.2

# microsoft/deberta-v3-base's config.json
DEBERTA_V3_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                       vocab_size=128100, max_position_embeddings=512, relative_attention=True, position_buckets=256,
                       max_relative_positions=-1, pos_att_type=["p2c", "c2p"], share_att_key=True,
                       norm_rel_ebd="layer_norm", position_biased_input=False, type_vocab_size=0, layer_norm_eps=1e-7)
# transformers config class and keyword arguments of a base-sized model of each family (random weights)
FAMILIES = {
    "bert": ("BertConfig", {}),
    "mpnet": ("MPNetConfig", {}),
    "nomic_bert": ("NomicBertConfig", {}),
    "gte": ("GteConfig", {"vocab_size": 30528}),
    "modernbert": ("ModernBertConfig", {}),
    "deberta_v3": ("DebertaV2Config", DEBERTA_V3_BASE),
    "deberta_v3_norel": ("DebertaV2Config", dict(DEBERTA_V3_BASE, relative_attention=False, pos_att_type=None)),
}
# (batch, tokens or "var", timed rounds full, --quick)
CONFIGS = [(1, 128, 15, 3), (32, 128, 3, 1), (32, "var", 3, 1)]
LONG_T = 8192


class Engine(_Engine):
    """bench.py's worker protocol, served by this file's worker."""

    def __init__(self, name: str, threads: int):
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self.name = name
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", name, "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._read()


def batch(B: int, T, vocab: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(16, 257, size=B) if T == "var" else np.full(B, T)
    width = int(lengths.max())
    ids = rng.integers(1000, min(vocab, 30000), size=(B, width)).astype(np.int64)
    mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
    ids[mask == 0] = 0
    return ids, mask


def worker(engine: str, threads: int) -> None:
    import numpy as np

    engine, _, where = engine.partition("@")
    if where:
        sys.path.insert(0, os.path.abspath(where))
    if engine == "pybertcore":
        import pybertcore

        pybertcore.set_num_threads(threads)
    elif engine == "onnxruntime":
        import onnxruntime as ort
    else:
        import torch
        import transformers

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    models = {}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "load":
                t0 = time.perf_counter()
                if engine == "pybertcore":
                    models[cmd["name"]] = pybertcore.AutoModel.from_pretrained(cmd["path"])
                elif engine == "onnxruntime":
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = threads
                    opts.inter_op_num_threads = 1
                    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    models[cmd["name"]] = ort.InferenceSession(str(Path(cmd["path"]) / "model.onnx"), opts,
                                                               providers=["CPUExecutionProvider"])
                else:
                    models[cmd["name"]] = transformers.AutoModel.from_pretrained(cmd["path"]).eval()
                reply = {"seconds": time.perf_counter() - t0}
            elif cmd["op"] == "run":
                ids, mask = batch(cmd["B"], cmd["T"], cmd["vocab"], cmd.get("seed", 0))
                model = models[cmd["name"]]
                t0 = time.perf_counter()
                if engine == "pybertcore":
                    out = model(ids, attention_mask=mask).last_hidden_state
                elif engine == "onnxruntime":
                    feeds = {"input_ids": ids, "attention_mask": mask}
                    out = model.run(["last_hidden_state"], {i.name: feeds[i.name] for i in model.get_inputs()})[0]
                else:
                    with torch.inference_mode():
                        out = model(input_ids=torch.from_numpy(ids),
                                    attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
                reply = {"seconds": time.perf_counter() - t0,
                         "sample": np.asarray(out)[0, :4, :8].tolist() if cmd.get("checksum") else None}
            elif cmd["op"] == "rss":
                reply = {"rss": _status("VmRSS"), "hwm": _status("VmHWM")}
            elif cmd["op"] == "reset_hwm":
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                reply = {"rss": _status("VmRSS")}
            else:
                reply = {"error": f"unknown op {cmd['op']}"}
        except Exception as e:  # report, keep serving
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


def prepare(workdir: Path, families: list[str], onnx: bool) -> dict[str, Path]:
    paths = {}
    for family in families:
        path = workdir / f"{family}-base"
        if not (path / "config.json").exists():
            cls, kwargs = FAMILIES[family]
            log(f"making a random base-sized {family} checkpoint (transformers {cls}(), seed 0) ...")
            subprocess.run([sys.executable, "-c", (
                "import json, sys, torch, transformers; torch.manual_seed(0); "
                "c = getattr(transformers, sys.argv[1])(**json.loads(sys.argv[3])); "
                "transformers.AutoModel.from_config(c).eval().save_pretrained(sys.argv[2])"),
                cls, str(path), json.dumps(kwargs)], check=True)
        if onnx and not (path / "model.onnx").exists():
            log(f"exporting {family} to ONNX (torch.onnx, TorchScript exporter, dynamic batch and length) ...")
            subprocess.run([sys.executable, "-c", (
                "import os, sys, torch, transformers; m = transformers.AutoModel.from_pretrained(sys.argv[1]).eval(); "
                "ids = torch.randint(1000, 2000, (2, 16)); dyn = {0: 'batch', 1: 'tokens'}\n"
                "class ByName(torch.nn.Module):  # the families' forward signatures differ past these two\n"
                "    def __init__(self, m): super().__init__(); self.m = m\n"
                "    def forward(self, input_ids, attention_mask): return self.m(input_ids=input_ids, "
                "attention_mask=attention_mask).last_hidden_state\n"
                "torch.onnx.export(ByName(m), (ids, torch.ones_like(ids)), sys.argv[1] + '/model.onnx.tmp', "
                "input_names=['input_ids', 'attention_mask'], output_names=['last_hidden_state'], "
                "dynamic_axes={'input_ids': dyn, 'attention_mask': dyn, 'last_hidden_state': dyn}, dynamo=False, "
                "opset_version=17); os.replace(sys.argv[1] + '/model.onnx.tmp', sys.argv[1] + '/model.onnx')"),
                str(path)], check=True, stderr=subprocess.DEVNULL)
        paths[family] = path
    return paths


def useful_gflop(family: str, config: dict, lengths: list[int]) -> float:
    """Dense layers plus attention over the keys each query sees, on real tokens only; DeBERTa's
    position terms as the two products of each sequence's queries and keys with the relative table's rows
    it reaches."""
    H, I, L = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    gated = family in ("nomic_bert", "gte", "modernbert")
    dense = 2.0 * H * (4 * H + (3 if gated else 2) * I)
    windows = [0] * L
    if family == "modernbert":
        every = 3
        windows = [0 if i % every == 0 else config.get("local_attention", 128) // 2 for i in range(L)]
    terms = len(config.get("pos_att_type") or ()) if config.get("relative_attention") else 0
    span = config.get("position_buckets", 0) if config.get("position_buckets", -1) > 0 else config.get(
        "max_position_embeddings", 512)
    total = 0.0
    for n in lengths:
        for w in windows:
            keys = n if w == 0 else min(n, 2 * w + 1)
            total += n * dense + 4.0 * n * keys * H + terms * 2.0 * n * min(2 * n - 1, 2 * span) * H
    return total / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--engines", default="pybertcore,torch")
    ap.add_argument("--long-only", action="store_true")
    ap.add_argument("--no-long", action="store_true")
    ap.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "pybertcore-bench"))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.threads)
        return
    sys.path.insert(0, str(REPO))
    import pybertcore

    threads = args.threads or pybertcore.get_num_threads()
    families = [f for f in args.families.split(",") if f]
    engines = [e for e in args.engines.split(",") if e]
    info = pybertcore.cpu_info()
    log(f"isa {info['active_isa']}, {threads} threads; engines {', '.join(engines)}; families {', '.join(families)}")
    paths = prepare(Path(args.workdir), sorted(set(families) | ({"modernbert"} if not args.no_long else set())),
                    onnx="onnxruntime" in engines)
    configs = {f: json.loads((paths[f] / "config.json").read_text()) for f in paths}

    results: dict = {}
    if not args.long_only:
        procs = {e: Engine(e, threads) for e in engines}
        try:
            for family in families:
                vocab = configs[family]["vocab_size"]
                for e in engines:
                    procs[e].ask(op="load", name=family, path=str(paths[family]))
                for B, T, full, quick in CONFIGS:
                    reps = quick if args.quick else full
                    samples = {e: procs[e].ask(op="run", name=family, B=B, T=T, vocab=vocab, checksum=True)["sample"]
                               for e in engines}
                    times = {e: [] for e in engines}
                    for rnd in range(reps):
                        for e in engines[rnd % len(engines):] + engines[:rnd % len(engines)]:
                            time.sleep(SETTLE_S)
                            times[e].append(procs[e].ask(op="run", name=family, B=B, T=T, vocab=vocab,
                                                         seed=rnd + 1)["seconds"])
                    med = {e: statistics.median(v) for e, v in times.items()}
                    lengths = [int(n) for n in batch(B, T, vocab, 1)[1].sum(axis=1)]
                    diff = max(abs(a - b) for e in engines for ra, rb in zip(samples[e], samples[engines[0]])
                               for a, b in zip(ra, rb))
                    results[(family, B, T)] = (med, useful_gflop(family, configs[family], lengths), diff)
                    log(f"{family} {B}x{T}: " + ", ".join(f"{e} {med[e] * 1e3:.1f} ms" for e in engines))
        finally:
            for p in procs.values():
                p.close()
        report(results, engines)
    if not args.no_long:
        long_memory(paths["modernbert"], [e for e in engines if e != "onnxruntime"], threads,
                    configs["modernbert"]["vocab_size"])


def report(results: dict, engines: list[str]) -> None:
    ours, peers = engines[0], engines[1:]
    head = ["model", "config", "unit"] + engines + [f"ours/{p}" for p in peers] + ["GFLOP/s ours", "vs BERT", "max |diff|"]
    rows = []
    for (family, B, T), (med, gflop, diff) in results.items():
        latency = B == 1
        vals = [f"{med[e] * 1e3:.1f}" if latency else f"{B / med[e]:.2f}" for e in engines]
        ratios = [f"{med[ours] / med[p]:.2f}" if latency else f"{med[p] / med[ours]:.2f}" for p in peers]
        gf = gflop / med[ours]
        bert = results.get(("bert", B, T))
        vs = f"{gf / (bert[1] / bert[0][ours]):.2f}" if bert else "-"
        rows.append([family, f"{B}x{T}", "ms" if latency else "seq/s"] + vals + ratios + [f"{gf:.1f}", vs, f"{diff:.1e}"])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print()
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print("ratios: ms rows ours/peer latency (lower is better); seq/s rows ours/peer throughput (higher is better)")
    shares = [(B, T) for (family, B, T) in results if family == "deberta_v3" and ("deberta_v3_norel", B, T) in results]
    if shares:
        print("DeBERTa-v3: share of each engine's time in the relative-position terms, 1 - t(norel) / t(v3)")
        for B, T in shares:
            full, norel = results[("deberta_v3", B, T)][0], results[("deberta_v3_norel", B, T)][0]
            print(f"  {B}x{T}: " + ", ".join(f"{e} {1 - norel[e] / full[e]:.0%}" for e in engines))


def long_memory(path: Path, engines: list[str], threads: int, vocab: int) -> None:
    print()
    print(f"ModernBERT-base at 1 x {LONG_T} tokens (fresh process per engine):")
    peaks = {}
    for e in engines:
        proc = Engine(e, threads)
        try:
            proc.ask(op="load", name="m", path=str(path))
            before = proc.ask(op="reset_hwm")["rss"]  # the model loaded, nothing run yet
            seconds = proc.ask(op="run", name="m", B=1, T=LONG_T, vocab=vocab)["seconds"]
            hwm = proc.ask(op="rss")["hwm"]
        finally:
            proc.close()
        peaks[e] = hwm - before
        print(f"  {e:28s} first forward {seconds:.2f} s; its peak over the loaded model {peaks[e] / 2**20:.0f} MiB "
              f"(loaded: {before / 2**20:.0f} MiB resident)")
    for p in engines[1:]:
        if peaks[p] > 0:
            print(f"  ours/{p} peak: {peaks[engines[0]] / peaks[p]:.2f}")


if __name__ == "__main__":
    main()
