"""The GEMM alone, per engine, at bert-base's shapes: GFLOP/s and the fraction of that engine's peak.

Engines (each skipped, with the reason, where this CPU does not run its level):
  fp32          the fp32 GEMM of the best non-AMX level (AVX-512 FMA, or AVX2)
  bf16, int8 at that level   only where the CPU lacks AVX512-BF16 / VNNI: bf16 widened into the fp32
                FMAs, int8 on vpmaddubsw + vpmaddwd (peak: bench_peak's int8_maddubs_*)
  bf16 avx512   gemm_bf16 on vdpbf16ps (level avx512_bf16)
  int8 vnni     gemm_int8 on vpdpbusd (level avx512_vnni)
  bf16 amx      gemm_bf16 on tdpbf16ps (level amx)
  int8 amx      gemm_int8 on tdpbusd (level amx)
Each call is y = x · Wᵀ + b through pybertcore._core.Dense (weights packed once, outside the timing);
the low-precision GEMMs include what they do per call (bf16 rounding / 8-bit quantization of x, the
fp32 epilogue). 2·M·N·K operations per call; int8 "GFLOP/s" counts integer multiply-adds the same way.

Peaks are per core per cycle × threads × GHz, the GHz from --ghz (default: /proc/cpuinfo's "cpu MHz",
the nominal clock; turbo or AVX-512/AMX licence clocks move the real one, so read the fractions as
estimates): fp32 2 FMA ports × 16 lanes × 2 = 64 (AVX-512; AVX2: 32), vdpbf16ps 128, vpdpbusd 256,
AMX tdpbf16ps 1024, tdpbusd 2048 (Sapphire Rapids' TMUL: 16 × 16 × 32 bf16 / 16 cycles; int8 twice).
On a CPU with 512-bit work split over two 256-bit halves (Zen 4) pass --fp32-per-cycle 32: the other
AVX-512 peaks scale with it.

Those paper peaks can be far off: on an Emerald Rapids Xeon vdpbf16ps retires at half the rate of
vfmadd231ps (a 2x "bf16 peak" there is 4x what the unit does), and the clock under load is not the
nominal one. --bench-peak build/.../bench_peak (built with -DPYBERTCORE_BUILD_BENCH=ON) measures each
instruction's peak on one core first (bench/bench_peak.cc) and reports the fractions against those,
times the thread count.

Run the real timing alone on the machine (other load skews it):
    PYTHONPATH=. python bench/bench_gemm.py                 # M 128 and 4096 × bert-base's (N, K), 2 threads
    PYTHONPATH=. python bench/bench_gemm.py --quick         # a smoke test (tiny, one round)
    PYTHONPATH=. python bench/bench_gemm.py --threads 1 --ghz 2.0 --m 1 128
    PYTHONPATH=. python bench/bench_gemm.py --threads 1 --bench-peak build/dev/bench_peak
Engines alternate within each round (rotating order); the table shows the median over rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import numpy as np

from pybertcore import _core

AMX_PER_CYCLE = {"bfloat16": 1024, "int8": 2048}


def nominal_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) / 1000.0
    except (OSError, ValueError):
        pass
    return None


# bench_peak's name for the instruction each engine's inner loop runs
PEAK_KIND = {"fp32 avx512": "fp32_fma_avx512", "fp32 avx2": "fp32_fma_avx2", "bf16 avx512_bf16": "bf16_vdpbf16ps",
             "int8 avx512_vnni": "int8_vpdpbusd", "bf16 amx": "bf16_amx", "int8 amx": "int8_amx",
             "bf16 avx2": "fp32_fma_avx2", "int8 avx2": "int8_maddubs_avx2",
             "bf16 avx512": "fp32_fma_avx512", "int8 avx512": "int8_maddubs_avx512"}


def measured_peaks(bench_peak: str) -> dict[str, float]:
    """One core's measured peak (G operations/s) per bench_peak kind."""
    out = subprocess.run([bench_peak], check=True, capture_output=True, text=True).stdout
    peaks = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "peak":
            try:
                peaks[parts[1]] = float(parts[2])
            except ValueError:
                pass  # "not on this CPU"
    return peaks


def engines(fp32_per_cycle: float):
    """(label, isa, dtype, ops per core per cycle) for every engine, and the reason it cannot run here (or None)."""
    levels = _core.compiled_isas()
    detected = _core.detected_isa()
    runs = levels[: levels.index(detected) + 1]
    fp32_isa = next((i for i in ("avx512_bf16", "avx512", "avx2", "scalar") if i in runs), "scalar")
    fp32_peak = fp32_per_cycle if fp32_isa.startswith("avx512") else fp32_per_cycle / 2
    fp32_label = "fp32 " + ("avx512" if fp32_isa.startswith("avx512") else fp32_isa)  # the level's FMA GEMM
    out = [(fp32_label, fp32_isa, "float32", fp32_peak)]
    # Without bf16 or VNNI arithmetic, the low precisions run on the fp32 level's registers: bf16 widened
    # into FMAs (the fp32 peak), int8 as vpmaddubsw + vpmaddwd (about twice it).
    wide = fp32_label.split()[1]
    if wide in ("avx2", "avx512"):
        if "avx512_bf16" not in runs:
            out.append((f"bf16 {wide}", wide, "bfloat16", fp32_peak))
        if "avx512_vnni" not in runs:
            out.append((f"int8 {wide}", wide, "int8", 2 * fp32_peak))
    for label, isa, dtype, peak in (("bf16 avx512_bf16", "avx512_bf16", "bfloat16", 2 * fp32_per_cycle),
                                    ("int8 avx512_vnni", "avx512_vnni", "int8", 4 * fp32_per_cycle),
                                    ("bf16 amx", "amx", "bfloat16", AMX_PER_CYCLE["bfloat16"]),
                                    ("int8 amx", "amx", "int8", AMX_PER_CYCLE["int8"])):
        out.append((label, isa, dtype, peak))
    result = []
    for label, isa, dtype, peak in out:
        why = None
        if isa not in levels:
            why = "not in this build"
        elif isa not in runs:
            why = "this CPU does not run it" + (f" ({_core.lowp_info()['amx_status']})" if isa == "amx" else "")
        result.append((label, isa, dtype, peak, why))
    return result


def time_calls(dense, x, reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        dense.forward(x)
    return (time.perf_counter() - t0) / reps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m", type=int, nargs="+", default=[128, 4096], help="rows of x (tokens)")
    ap.add_argument("--nk", default="768x768,3072x768,768x3072", help="comma-separated NxK weight shapes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.2, help="time per engine per round (sets reps)")
    ap.add_argument("--ghz", type=float, default=None, help="clock for the peaks (default: /proc/cpuinfo)")
    ap.add_argument("--fp32-per-cycle", type=float, default=64.0, help="fp32 FLOP per core per cycle (AVX-512 FMA)")
    ap.add_argument("--bench-peak", default=None, metavar="PATH",
                    help="bench_peak executable: measure each instruction's peak instead of the paper peaks")
    ap.add_argument("--quick", action="store_true", help="tiny shapes, one round: checks that it runs")
    args = ap.parse_args()
    peaks = measured_peaks(args.bench_peak) if args.bench_peak else None
    if args.quick:
        args.m, args.nk, args.rounds, args.min_seconds = [16], "64x96", 1, 0.01
    ghz = args.ghz or nominal_ghz()
    shapes = [(m, *map(int, nk.split("x"))) for m in args.m for nk in args.nk.split(",")]
    _core.set_num_threads(args.threads)
    eng = engines(args.fp32_per_cycle)
    if peaks:
        print(f"threads {args.threads}, peaks measured by {args.bench_peak} (one core) × threads; "
              f"detected level {_core.detected_isa()}")
    else:
        print(f"threads {args.threads}, clock {ghz if ghz else '?'} GHz (peaks: ops/core/cycle × threads × GHz); "
              f"detected level {_core.detected_isa()}")
    for label, _, _, peak, why in eng:
        if why:
            print(f"  {label}: skipped, {why}")
    live = [e for e in eng if e[4] is None]
    print()
    print("| M | N | K | engine | ms | GFLOP/s | peak GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for M, N, K in shapes:
        x = rng.standard_normal((M, K), dtype=np.float32)
        w = (rng.standard_normal((N, K), dtype=np.float32) * 0.05).astype(np.float32)
        b = rng.standard_normal(N, dtype=np.float32)
        denses = [_core.Dense(w, b, isa=isa, dtype=dtype) for _, isa, dtype, _, _ in live]
        reps = []
        for d in denses:  # warm up (scratch, pages, the pool), then size the repetitions
            d.forward(x)
            t = time_calls(d, x, 1)
            reps.append(max(1, int(args.min_seconds / max(t, 1e-6))))
        times = [[] for _ in live]
        for r in range(args.rounds):
            for j in range(len(live)):
                i = (j + r) % len(live)
                times[i].append(time_calls(denses[i], x, reps[i]))
        for (label, _, _, peak, _), ts in zip(live, times):
            t = statistics.median(ts)
            gflops = 2.0 * M * N * K / t / 1e9
            if peaks:
                peak_g = peaks.get(PEAK_KIND.get(label, ""), 0.0) * args.threads or None
            else:
                peak_g = peak * args.threads * ghz if ghz else None
            frac = f"{100 * gflops / peak_g:.0f}%" if peak_g else "?"
            print(f"| {M} | {N} | {K} | {label} | {t * 1e3:.3f} | {gflops:.1f} | "
                  f"{peak_g:.0f} | {frac} |" if peak_g else f"| {M} | {N} | {K} | {label} | {t * 1e3:.3f} | "
                  f"{gflops:.1f} | ? | ? |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
