"""Attention alone: our fp32 kernel and a bf16 model's (attention_bf16: its products on AMX tiles where the
CPU has them, the fp32 kernel elsewhere) against PyTorch's scaled_dot_product_attention in fp32 and bf16,
at the shapes of the models bench.py runs, in one run.

    PYTHONPATH=. python bench/bench_attention.py [--threads 2] [--repeats 9]

Each engine takes the same q, k, v (ours packed as the encoder's QKV rows, every sequence full length;
PyTorch's as (B, heads, T, head size) tensors, no mask), alternating within each round; best of the rounds,
in ms. Ratios: PyTorch's time over ours (higher: ours faster). Not a pytest: timings belong here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# (name, heads, head size, batch, tokens)
SHAPES = [
    ("bert-base 1x128", 12, 64, 1, 128),
    ("bert-base 32x128", 12, 64, 32, 128),
    ("bert-base 8x512", 12, 64, 8, 512),
    ("MiniLM 1x128", 12, 32, 1, 128),
    ("MiniLM 64x128", 12, 32, 64, 128),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    import torch

    import pybertcore
    from pybertcore import _core

    pybertcore.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    info = pybertcore.cpu_info()
    print(f"level {info['active_isa']}, bf16 kernel {info['bf16_kernel']}, {args.threads} threads, "
          f"best of {args.repeats}")
    rng = np.random.default_rng(0)
    rows = []
    for name, NH, HS, B, T in SHAPES:
        H = NH * HS
        qkv = rng.standard_normal((B * T, 3 * H), dtype=np.float32)
        spans = np.array([[b * T, b * T, b * T + T] for b in range(B)], np.int32)
        slots = np.tile(np.arange(T, dtype=np.int32), B)
        scale = 1 / np.sqrt(HS)
        q, k, v = (torch.from_numpy(qkv[:, i * H:(i + 1) * H].copy()).view(B, T, NH, HS).transpose(1, 2).contiguous()
                   for i in range(3))
        qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
        engines = {
            "ours fp32": lambda: _core.testing.attention(qkv, spans, NH, T, scale, slots=slots),
            "ours bf16": lambda: _core.testing.attention(qkv, spans, NH, T, scale, slots=slots, bf16=True),
            "torch fp32": lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v),
            "torch bf16": lambda: torch.nn.functional.scaled_dot_product_attention(qb, kb, vb),
        }
        best = {e: float("inf") for e in engines}
        with torch.inference_mode():
            for fn in engines.values():  # warm up
                fn()
            for _ in range(args.repeats):
                for e, fn in engines.items():
                    t0 = time.perf_counter()
                    fn()
                    best[e] = min(best[e], time.perf_counter() - t0)
        rows.append((name, best))
    names = list(rows[0][1])
    print("| shape | " + " | ".join(f"{n} ms" for n in names) + " | ours bf16 / ours fp32 (speed) "
          "| torch fp32 / ours fp32 | torch bf16 / ours bf16 |")
    print("|---" * (len(names) + 4) + "|")
    for name, best in rows:
        ms = " | ".join(f"{best[n] * 1e3:.2f}" for n in names)
        print(f"| {name} | {ms} | {best['ours fp32'] / best['ours bf16']:.2f} | "
              f"{best['torch fp32'] / best['ours fp32']:.2f} | {best['torch bf16'] / best['ours bf16']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
