"""Every kernel of the core against its scalar reference (and numpy in float64), on every ISA level
this machine runs, with awkward shapes; plus the threads API, the workspace pool and long sequences.

Per-op tolerances (fp32), next to the tests that use them:
  GEMM          |got - ref| ≤ 2e-5 · (1 + Σ_k |a_k w_k|)  — FMA and K blocking change the rounding
                of the dot product, never by more than a few ulp of its absolute terms.
  activations   ≤ 1e-6 · max(1, |value|) against libm (the scalar level), over [-20, 20].
  LayerNorm     ≤ 2e-5 absolute (outputs are O(1)).
  attention     ≤ 2e-6 absolute on ctx and probabilities (a softmax of O(1) scores, values O(1)).
  whole model   1e-4 absolute against transformers (the parity bound of tests/test_bert_parity.py).
No timing assertions here: speed is bench/bench.py's business.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
from conftest import (CHILD_CWD, SUPPORTED_ISAS, child_env, make_transformers_bert, max_abs_on, ragged_batch,
                      run_transformers)

import pybertcore
from pybertcore import _core

A = _core.Activation
ACTS = [A.identity, A.gelu_erf, A.gelu_tanh, A.quick_gelu, A.relu, A.silu, A.tanh]
SIMD_ISAS = [i for i in SUPPORTED_ISAS if i != "scalar"]

# M = 1, rows not a multiple of the 6- or 12-row micro-tile, N not a multiple of the 16/32-column panel,
# K = 1, K not a multiple of the K block (256 on AVX2, 192 on AVX-512), K over several blocks.
GEMM_SHAPES = [(1, 1, 1), (1, 33, 7), (5, 17, 300), (13, 40, 1), (7, 3, 513), (75, 130, 97), (128, 96, 1000)]

packed_forward = _core.testing.dense_forward  # Dense.forward with packed operands (the handovers)


def _act_np(x, act):
    import math

    x = x.astype(np.float64)
    if act == A.identity:
        return x
    if act == A.gelu_erf:
        erf = np.vectorize(math.erf)
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))
    if act == A.gelu_tanh:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    if act == A.quick_gelu:
        return x / (1 + np.exp(-1.702 * x))
    if act == A.relu:
        return np.maximum(x, 0)
    if act == A.silu:
        return x / (1 + np.exp(-x))
    if act == A.tanh:
        return np.tanh(x)
    raise AssertionError(act)


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("M,N,K", GEMM_SHAPES)
def test_gemm_against_float64(isa, M, N, K):
    rng = np.random.default_rng(M * 1000 + N + K)
    x = rng.standard_normal((M, K), dtype=np.float32)
    w = rng.standard_normal((N, K), dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32)
    res = rng.standard_normal((M, N), dtype=np.float32)
    d = _core.Dense(w, b, isa=isa)
    assert d.isa == isa
    pre = x.astype(np.float64) @ w.T.astype(np.float64) + b
    scale = 1 + np.abs(x).astype(np.float64) @ np.abs(w).T.astype(np.float64)
    for act in ACTS:
        got = d.forward(x, act)
        assert got.shape == (M, N) and got.dtype == np.float32
        # act' ≤ ~1.13 everywhere, so the pre-activation bound carries through.
        assert (np.abs(got - _act_np(pre, act)) <= 2e-5 * 1.2 * scale).all(), act
    got = d.forward(x, A.gelu_erf, residual=res)
    assert (np.abs(got - (_act_np(pre, A.gelu_erf) + res)) <= 2.4e-5 * scale).all()


@pytest.mark.parametrize("isa", SIMD_ISAS)
def test_gemm_matches_scalar_level(isa):
    rng = np.random.default_rng(7)
    M, N, K = 37, 2 * 16 + 5, 2 * 256 + 11
    x = rng.standard_normal((M, K), dtype=np.float32)
    w = rng.standard_normal((N, K), dtype=np.float32)
    ref = _core.Dense(w, None, isa="scalar").forward(x)
    got = _core.Dense(w, None, isa=isa).forward(x)
    scale = 1 + np.abs(x) @ np.abs(w).T
    assert (np.abs(got - ref) <= 2e-5 * scale).all()



@pytest.mark.parametrize("isa", SIMD_ISAS)
@pytest.mark.parametrize("threads", [1, 3, 16])
@pytest.mark.parametrize("M", [1, 128, 300])
def test_gemm_column_runs_on_any_team(isa, threads, M):
    # With few row blocks the columns are split into shrinking runs, as many as the team size asks
    # for: every column must be computed exactly once, whatever the split.
    rng = np.random.default_rng(threads * 1000 + M)
    N, K = 16 * 125 + 3, 300
    x = rng.standard_normal((M, K), dtype=np.float32)
    w = rng.standard_normal((N, K), dtype=np.float32)
    b = rng.standard_normal(N, dtype=np.float32)
    res = rng.standard_normal((M, N), dtype=np.float32)
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + b + res
    scale = 1 + np.abs(x).astype(np.float64) @ np.abs(w).T.astype(np.float64)
    d = _core.Dense(w, b, isa=isa)
    before = pybertcore.get_num_threads()
    try:
        pybertcore.set_num_threads(threads)
        got = d.forward(x, A.identity, residual=res)
    finally:
        pybertcore.set_num_threads(before)
    assert (np.abs(got - ref) <= 2e-5 * scale).all()


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int8"])
def test_gemm_without_scratch_gives_the_same_bits(isa, dtype):
    # When no per-thread scratch can be had (out of memory) each GEMM falls back: the A block on the
    # stack, fewer rows at a time, or a heap buffer. The results must be the same bits. M = 1 packs all
    # of A up front (the columns are split), M = 150 and 301 pack per unit; K = 1600 spans several
    # K blocks of every level; the epilogue reads C's partial sums and a residual.
    rng = np.random.default_rng(11)
    for M, N, K in [(1, 70, 1600), (150, 700, 800), (301, 40, 1600)]:
        x = rng.standard_normal((M, K), dtype=np.float32)
        w = rng.standard_normal((N, K), dtype=np.float32) * 0.05
        res = rng.standard_normal((M, N), dtype=np.float32)
        d = _core.Dense(w, rng.standard_normal(N, dtype=np.float32), isa=isa, dtype=dtype)
        want = d.forward(x, A.gelu_erf, residual=res)
        before = _core.testing.refuse_thread_scratch(True)
        try:
            got = d.forward(x, A.gelu_erf, residual=res)
        finally:
            _core.testing.refuse_thread_scratch(before)
        np.testing.assert_array_equal(got, want, err_msg=f"M={M} N={N} K={K}")


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("M,threads", [(1, 2), (5, 2), (128, 2), (300, 3), (700, 1)])
def test_packed_handover_matches_plain_chain(isa, M, threads):
    # The encoder's LayerNorm -> GEMM -> GEMM chain with packed handovers (LayerNorm writes the first
    # GEMM's A packed, that GEMM writes the second one's A packed) must compute exactly what the plain
    # chain computes: the same operations, only stored elsewhere. M = 300 and 700 span several row
    # blocks (at 700 on one thread, enough that each unit takes every panel); N1 = 517 spans several
    # K blocks of the second GEMM and ends in a partial panel; K = 300 makes the first GEMM keep
    # partial sums between K blocks.
    before = pybertcore.get_num_threads()
    pybertcore.set_num_threads(threads)
    try:
        _check_packed_chain(isa, M)
    finally:
        pybertcore.set_num_threads(before)


def _check_packed_chain(isa, M):
    rng = np.random.default_rng(M)
    K, N1, N2 = 300, 517, 37
    x = rng.standard_normal((M, K), dtype=np.float32)
    ln_w, ln_b = rng.standard_normal(K, dtype=np.float32), rng.standard_normal(K, dtype=np.float32)
    d1 = _core.Dense(rng.standard_normal((N1, K), dtype=np.float32), rng.standard_normal(N1, dtype=np.float32), isa=isa)
    d2 = _core.Dense(rng.standard_normal((N2, N1), dtype=np.float32) * 0.05, rng.standard_normal(N2, dtype=np.float32),
                     isa=isa)
    res = rng.standard_normal((M, N2), dtype=np.float32)

    y = _core.layer_norm(x, ln_w, ln_b, 1e-12, isa=isa)
    h = d1.forward(y, A.gelu_erf)
    out = d2.forward(h, A.identity, residual=res)

    y2, y_packed = _core.testing.layer_norm_packed(x, ln_w, ln_b, 1e-12, isa=isa)
    np.testing.assert_array_equal(y2, y)
    assert y_packed.ndim == 1 and y_packed.size >= M * K
    np.testing.assert_array_equal(packed_forward(d1, y_packed, A.gelu_erf, packed_rows=M), h)
    h_packed = packed_forward(d1, y_packed, A.gelu_erf, packed_rows=M, packed_output=True)
    assert h_packed.ndim == 1 and h_packed.size >= M * N1
    np.testing.assert_array_equal(packed_forward(d2, h_packed, A.identity, residual=res, packed_rows=M), out)
    # And from a plain input to a packed output.
    np.testing.assert_array_equal(
        packed_forward(d2, packed_forward(d1, y, A.gelu_erf, packed_output=True), A.identity, residual=res,
                       packed_rows=M), out)


def test_packed_handover_refuses_bad_operands():
    rng = np.random.default_rng(0)
    d = _core.Dense(rng.standard_normal((8, 20), dtype=np.float32), None)
    packed = packed_forward(d, rng.standard_normal((3, 20), dtype=np.float32), packed_output=True)
    with pytest.raises(ValueError, match="packed input has shape"):
        packed_forward(_core.Dense(rng.standard_normal((4, 8), dtype=np.float32), None), packed[:-1], packed_rows=3)
    with pytest.raises(ValueError, match="packed_rows out of range"):
        packed_forward(d, packed, packed_rows=-1)
    low = _core.Dense(rng.standard_normal((8, 20), dtype=np.float32), None, dtype="int8")
    with pytest.raises(ValueError, match="packed operands are for float32 layers"):
        packed_forward(low, rng.standard_normal((3, 20), dtype=np.float32), packed_output=True)


@pytest.mark.parametrize("isa", SIMD_ISAS)
def test_activation_approximations(isa):
    # Through a K = 1 GEMM with weight 1, so the epilogue sees exactly x.
    x = np.linspace(-20, 20, 40001, dtype=np.float32)[:, None]
    w = np.ones((1, 1), np.float32)
    for act in ACTS:
        ref = _core.Dense(w, None, isa="scalar").forward(x, act)
        got = _core.Dense(w, None, isa=isa).forward(x, act)
        assert (np.abs(got - ref) <= 1e-6 * np.maximum(1.0, np.abs(ref))).all(), act
        assert np.isfinite(got).all()


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("N,C", [(1, 1), (3, 7), (5, 37), (64, 768), (2, 1000)])
def test_layer_norm(isa, N, C):
    rng = np.random.default_rng(C)
    x = (rng.standard_normal((N, C)) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(C, dtype=np.float32)
    b = rng.standard_normal(C, dtype=np.float32)
    got = _core.layer_norm(x, w, b, 1e-12, isa=isa)
    x64 = x.astype(np.float64)
    mean = x64.mean(1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(1, keepdims=True)
    ref = (x64 - mean) / np.sqrt(var + 1e-12) * w + b
    assert np.abs(got - ref).max() <= 2e-5


def _attention_np(qkv, spans, NH, T, scale, slots):
    N, H3 = qkv.shape
    H = H3 // 3
    HS = H // NH
    ctx = np.zeros((N, H))
    probs = np.zeros((len(spans), NH, T, T))
    q64 = qkv.astype(np.float64)
    for s, (r0, k0, r1) in enumerate(spans):
        for h in range(NH):
            q = q64[r0:r1, h * HS:(h + 1) * HS]
            k = q64[k0:r1, H + h * HS:H + (h + 1) * HS]
            v = q64[k0:r1, 2 * H + h * HS:2 * H + (h + 1) * HS]
            if r1 == k0:
                continue
            sc = q @ k.T * scale
            p = np.exp(sc - sc.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            ctx[r0:r1, h * HS:(h + 1) * HS] = p @ v
            for i, r in enumerate(range(r0, r1)):
                probs[s, h, slots[r], slots[k0:r1]] = p[i]
    return ctx, probs


def _spans(lengths, query_only):
    spans, slots, row = [], [], 0
    for n, qo in zip(lengths, query_only):
        r0 = row
        if qo:
            slots.append(0)
            row += 1
        k0 = row
        slots.extend(range(1 if qo else 0, (1 if qo else 0) + n))
        row += n
        spans.append((r0, k0, row))
    return np.array(spans, dtype=np.int32), np.array(slots, dtype=np.int32)


# (sequence lengths, query-only first row?, heads, head size, padded T). T = 1; a sequence with no keys;
# head sizes below, at and off the register width; T = 513 with one long sequence (several query blocks).
ATTENTION_CASES = [
    ([1], [False], 1, 4, 1),
    ([3, 0, 5], [False, True, True], 3, 9, 7),
    ([33, 1, 17], [False, False, True], 2, 16, 40),
    ([70], [False], 4, 24, 70),
    ([513], [False], 2, 64, 513),
    ([40, 511], [True, True], 2, 32, 513),
]


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("lengths,query_only,NH,HS,T", ATTENTION_CASES)
def test_attention(isa, lengths, query_only, NH, HS, T):
    rng = np.random.default_rng(sum(lengths) + NH * HS)
    spans, slots = _spans(lengths, query_only)
    N = int(spans[-1, 2])
    qkv = rng.standard_normal((N, 3 * NH * HS), dtype=np.float32)
    scale = 1 / np.sqrt(HS)
    ctx, probs = _core.testing.attention(qkv, spans, NH, T, scale, slots=slots, output_probs=True, isa=isa)
    ref_ctx, ref_probs = _attention_np(qkv, spans, NH, T, scale, slots)
    assert np.abs(ctx - ref_ctx).max() <= 2e-6
    assert np.abs(probs - ref_probs).max() <= 2e-6
    ctx2, none = _core.testing.attention(qkv, spans, NH, T, scale, isa=isa)
    assert none is None and np.array_equal(ctx, ctx2)



def _attention_bf16_np(qkv, spans, NH, T, scale, slots, window=0, rel_bias=None):
    """What attention_bf16 computes where its products run in bf16 (AVX512-BF16, AMX), in float64: scores of bf16(q)·bf16(k)ᵀ (scaled, the
    bias added after scaling), the softmax's exponentials e in full precision, context
    Σ bf16(e)·bf16(v) / Σ e over the keys within the window."""
    def bf16(x):
        return _core.testing.bf16_round(np.ascontiguousarray(x, dtype=np.float32)).astype(np.float64)

    N, H3 = qkv.shape
    H = H3 // 3
    HS = H // NH
    ctx = np.zeros((N, H))
    for r0, k0, r1 in spans:
        if r1 == k0:
            continue
        qs, ks = slots[r0:r1], slots[k0:r1]
        for h in range(NH):
            q = bf16(qkv[r0:r1, h * HS:(h + 1) * HS])
            k = bf16(qkv[k0:r1, H + h * HS:H + (h + 1) * HS])
            v = bf16(qkv[k0:r1, 2 * H + h * HS:2 * H + (h + 1) * HS])
            x = q @ k.T * scale
            if rel_bias is not None:
                x = x + rel_bias[h][ks[None, :] - qs[:, None] + T - 1]
            if window:
                x = np.where(np.abs(ks[None, :] - qs[:, None]) <= window, x, -np.inf)
            e = np.exp(x - x.max(1, keepdims=True))
            ctx[r0:r1, h * HS:(h + 1) * HS] = (bf16(e) @ v) / e.sum(1, keepdims=True)
    return ctx


# (sequence lengths, query-only first row?, heads, head size, padded T, window, relative bias?): head sizes
# off the tile widths (24: not 16·k; 40: not 32·k), one key, a sequence without keys, key counts off 16
# and 32, several query blocks (T = 513), a window shorter than the sequence, MPNet's bias.
ATTENTION_BF16_CASES = [
    ([1], [False], 1, 32, 1, 0, False),
    ([3, 0, 5], [False, True, True], 3, 24, 7, 0, False),
    ([33, 1, 17], [False, False, True], 2, 40, 40, 0, True),
    ([70, 128], [False, False], 4, 64, 128, 0, False),
    ([513, 31], [False, True], 2, 64, 513, 0, False),
    ([200, 90], [False, False], 2, 32, 200, 37, True),
]


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("lengths,query_only,NH,HS,T,window,biased", ATTENTION_BF16_CASES)
def test_attention_bf16(isa, lengths, query_only, NH, HS, T, window, biased):
    """A bf16 model's attention: the fp32 kernel itself where the CPU has no bf16 arithmetic; on AVX512-BF16
    (vdpbf16ps) and AMX (tiles) its products in bf16, within float32 rounding of the same products in
    float64, and batch = single bit for bit."""
    rng = np.random.default_rng(sum(lengths) + NH * HS + window)
    spans, slots = _spans(lengths, query_only)
    N = int(spans[-1, 2])
    qkv = rng.standard_normal((N, 3 * NH * HS), dtype=np.float32)
    scale = 1 / np.sqrt(HS)
    bias = rng.standard_normal((NH, 2 * T - 1), dtype=np.float32) if biased else None
    kwargs = dict(slots=slots, isa=isa, rel_bias=bias, window=window)
    ctx, probs = _core.testing.attention(qkv, spans, NH, T, scale, output_probs=True, bf16=True, **kwargs)
    fp32, fp32_probs = _core.testing.attention(qkv, spans, NH, T, scale, output_probs=True, **kwargs)
    if _core.lowp_info(isa)["bf16_attention"] is None:
        assert np.array_equal(ctx, fp32) and np.array_equal(probs, fp32_probs)
        return
    ref = _attention_bf16_np(qkv, spans, NH, T, scale, slots, window, bias)
    # (measured ≤ 2e-4 and ≤ 2e-7: an exponential rounded to the other bf16 neighbour in float32 than in
    # float64 moves one term by 2⁻⁸)
    assert np.abs(ctx - ref).max() <= 1e-3
    assert np.abs(ctx - ref).mean() <= 1e-6
    assert np.linalg.norm(ctx - fp32) <= 1e-2 * np.linalg.norm(fp32)  # bf16's rounding, no more
    # each sequence alone: the same bits
    for s, (r0, k0, r1) in enumerate(spans):
        one = np.array([[0, k0 - r0, r1 - r0]], np.int32)
        alone, _ = _core.testing.attention(np.ascontiguousarray(qkv[r0:r1]), one, NH, T, scale,
                                           slots=np.ascontiguousarray(slots[r0:r1]), isa=isa, rel_bias=bias,
                                           window=window, bf16=True)
        assert np.array_equal(alone, ctx[r0:r1])


def test_attention_bf16_keeps_disentangled_terms_in_fp32():
    """DeBERTa's terms: attention_bf16 hands the call to the fp32 attention, bit for bit."""
    rng = np.random.default_rng(5)
    NH, HS, T, R = 2, 32, 40, 16
    spans, slots = _spans([40, 9], [False, False])
    N = int(spans[-1, 2])
    qkv = rng.standard_normal((N, 3 * NH * HS), dtype=np.float32)
    pos_key = rng.standard_normal((R, NH * HS), dtype=np.float32)
    pos_query = rng.standard_normal((R, NH * HS), dtype=np.float32)
    pos_col = np.clip(np.arange(-(T - 1), T) // 4 + R // 2, 0, R - 1).astype(np.int32)
    kwargs = dict(slots=slots, pos_key=pos_key, pos_query=pos_query, pos_col=pos_col)
    a, _ = _core.testing.attention(qkv, spans, NH, T, 0.1, bf16=True, **kwargs)
    b, _ = _core.testing.attention(qkv, spans, NH, T, 0.1, **kwargs)
    assert np.array_equal(a, b)

def _attention_variant_np(qkv, spans, slots, NH, T, scale, rel_bias, window, pos=None):
    """softmax(q·kᵀ·scale + bias[h][j − i]) over the keys with |j − i| ≤ window (all when window is 0),
    in float64: what AttentionArgs' rel_bias and window mean. pos = (pos_key, pos_query, pos_col): the
    disentangled terms, (q·kᵀ + q·pos_key[c]ᵀ + k·pos_query[c]ᵀ)·scale with c = pos_col[i − j + T − 1]."""
    N, H3 = qkv.shape
    H = H3 // 3
    HS = H // NH
    ctx = np.zeros((N, H))
    q64 = qkv.astype(np.float64)
    for r0, k0, r1 in spans:
        ks = slots[k0:r1]
        for h in range(NH):
            for r in range(r0, r1):
                qs = slots[r]
                seen = np.ones(len(ks), bool) if window == 0 else np.abs(ks - qs) <= window
                if not seen.any():
                    continue
                k = q64[k0:r1, H + h * HS:H + (h + 1) * HS][seen]
                v = q64[k0:r1, 2 * H + h * HS:2 * H + (h + 1) * HS][seen]
                q = q64[r, h * HS:(h + 1) * HS]
                sc = k @ q
                if pos is not None:
                    pos_key, pos_query, pos_col = pos
                    col = pos_col[qs - ks[seen] + T - 1]
                    if pos_key is not None:
                        sc = sc + pos_key[col, h * HS:(h + 1) * HS].astype(np.float64) @ q
                    if pos_query is not None:
                        sc = sc + np.einsum("kd,kd->k", k, pos_query[col, h * HS:(h + 1) * HS].astype(np.float64))
                sc = sc * scale
                if rel_bias is not None:
                    sc = sc + rel_bias[h, ks[seen] - qs + T - 1]
                p = np.exp(sc - sc.max())
                ctx[r, h * HS:(h + 1) * HS] = (p / p.sum()) @ v
    return ctx


def _masked_spans(rng, T):
    """Three sequences of kept positions of T (gaps: masked tokens), two of them with a masked position 0
    kept as a query-only row: (spans, slots, rows)."""
    spans, slots, row = [], [], 0
    for keep_first in (True, False, True):
        kept = np.flatnonzero(rng.random(T) < 0.7)
        r0 = row
        if not keep_first or 0 not in kept:  # position 0 masked: a query-only row
            slots.append(0)
            row += 1
            kept = kept[kept != 0]
        k0 = row
        slots.extend(kept.tolist())
        row += len(kept)
        spans.append((r0, k0, row))
    return np.array(spans, np.int32), np.array(slots, np.int32), row


# (lengths as (kept positions of T), heads, head size, T, window): gaps in the kept positions (masked tokens),
# a masked position 0 kept as a query, windows shorter than the sequence, a window with no key in reach.
@pytest.mark.parametrize("biased", [False, True])
@pytest.mark.parametrize("NH,HS,T,window", [(2, 8, 9, 0), (3, 16, 70, 5), (2, 32, 300, 64), (1, 4, 12, 1)])
def test_attention_bias_and_window(isa, biased, NH, HS, T, window):
    rng = np.random.default_rng(NH * T + window)
    spans, slots, row = _masked_spans(rng, T)
    qkv = rng.standard_normal((row, 3 * NH * HS), dtype=np.float32)
    bias = rng.standard_normal((NH, 2 * T - 1), dtype=np.float32) if biased else None
    scale = 1 / np.sqrt(HS)
    ctx, probs = _core.testing.attention(qkv, spans, NH, T, scale, slots=slots, output_probs=True, isa=isa,
                                         rel_bias=bias, window=window)
    want = _attention_variant_np(qkv, spans, slots, NH, T, scale, bias, window)
    assert np.abs(ctx - want).max() <= 2e-5
    # probabilities: rows sum to 1 where a key is in reach, and nothing falls outside the window
    sums = probs.sum(-1)
    assert np.all((np.abs(sums - 1) < 1e-5) | (sums == 0))
    if window:
        i, j = np.indices((T, T))
        assert np.all(probs[..., np.abs(i - j) > window] == 0)
    if isa != "scalar":
        ref, _ = _core.testing.attention(qkv, spans, NH, T, scale, slots=slots, isa="scalar", rel_bias=bias,
                                         window=window)
        assert np.abs(ctx - ref).max() <= 2e-5


# DeBERTa's terms: c2p, p2c or both; tables with fewer rows than relative positions (clamped buckets, R < 2T − 1)
# and with more; a map with repeated rows (log buckets); head sizes off the register width; T = 1.
@pytest.mark.parametrize("terms", ["c2p", "p2c", "c2p|p2c"])
@pytest.mark.parametrize("NH,HS,T,R", [(2, 8, 9, 6), (3, 20, 70, 200), (2, 64, 160, 64), (1, 4, 1, 2)])
def test_attention_disentangled(isa, terms, NH, HS, T, R):
    rng = np.random.default_rng(NH * T + R)
    spans, slots, row = _masked_spans(rng, T)
    H = NH * HS
    qkv = rng.standard_normal((row, 3 * H), dtype=np.float32)
    pos_key = rng.standard_normal((R, H), dtype=np.float32) if "c2p" in terms else None
    pos_query = rng.standard_normal((R, H), dtype=np.float32) if "p2c" in terms else None
    d = np.arange(-(T - 1), T)
    pos_col = np.clip(np.sign(d) * np.minimum(np.abs(d), 3 + np.abs(d) // 3) + R // 2, 0, R - 1).astype(np.int32)
    scale = 1 / np.sqrt(3 * HS)
    ctx, probs = _core.testing.attention(qkv, spans, NH, T, scale, slots=slots, output_probs=True, isa=isa,
                                         pos_key=pos_key, pos_query=pos_query, pos_col=pos_col)
    want = _attention_variant_np(qkv, spans, slots, NH, T, scale, None, 0, (pos_key, pos_query, pos_col))
    assert np.abs(ctx - want).max() <= 2e-5
    sums = probs.sum(-1)
    assert np.all((np.abs(sums - 1) < 1e-5) | (sums == 0))
    if isa != "scalar":
        ref, _ = _core.testing.attention(qkv, spans, NH, T, scale, slots=slots, isa="scalar", pos_key=pos_key,
                                         pos_query=pos_query, pos_col=pos_col)
        assert np.abs(ctx - ref).max() <= 2e-5


def test_attention_rejects_bad_spans():
    qkv = np.zeros((4, 12), np.float32)
    with pytest.raises(ValueError, match="spans"):
        _core.testing.attention(qkv, np.array([[0, 0, 3]], np.int32), 2, 4, 1.0)
    with pytest.raises(ValueError, match="qkv"):
        _core.testing.attention(np.zeros((4, 10), np.float32), np.array([[0, 0, 4]], np.int32), 2, 4, 1.0)
    for bad in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="scale"):
            _core.testing.attention(qkv, np.array([[0, 0, 4]], np.int32), 2, 4, bad)


def test_long_sequence_model(tmp_path, isa):
    """T = 513 against a config with 1024 positions: attention's query blocks and long score rows."""
    cfg = dict(hidden_size=48, num_attention_heads=2, intermediate_size=67, vocab_size=211, num_hidden_layers=2,
               max_position_embeddings=1024)
    tf_model, folder = make_transformers_bert(tmp_path, **cfg)
    ours = pybertcore.BertModel.from_pretrained(folder)
    rng = np.random.default_rng(3)
    ids, mask = ragged_batch(rng, cfg["vocab_size"], [513, 300], 513, left=True)
    ref = run_transformers(tf_model, ids, mask, output_attentions=True)
    got = ours(ids, attention_mask=mask, output_attentions=True)
    assert max_abs_on(got.last_hidden_state, ref.last_hidden_state.numpy(), mask) <= 1e-4
    assert np.abs(got.pooler_output - ref.pooler_output.numpy()).max() <= 1e-4
    for g, r in zip(got.attentions, ref.attentions):
        assert max_abs_on(g.transpose(0, 2, 1, 3), r.numpy().transpose(0, 2, 1, 3), mask) <= 1e-4


def test_workspace_is_reused_and_concurrent_calls_agree(tmp_path):
    cfg = dict(hidden_size=64, num_attention_heads=4, intermediate_size=96, vocab_size=300, num_hidden_layers=2)
    _, folder = make_transformers_bert(tmp_path, **cfg)
    model = pybertcore.BertModel.from_pretrained(folder)
    enc = model._encoder
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 300, size=(4, 33))
    first = model(ids).last_hidden_state
    held = enc.pooled_workspace_bytes
    assert held > 0
    for _ in range(3):
        np.testing.assert_array_equal(model(ids).last_hidden_state, first)
    assert enc.pooled_workspace_bytes == held  # reused, not reallocated per call
    small = model(ids[:1, :5]).last_hidden_state  # a much smaller call reuses it (it is under one pass)
    assert small.shape == (1, 5, 64) and enc.pooled_workspace_bytes == held

    results, errors = {}, []

    def worker(i):
        try:
            for _ in range(5):
                results[i] = model(ids).last_hidden_state
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results.values():
        np.testing.assert_allclose(r, first, atol=1e-6, rtol=0)


def test_threads_api():
    info = pybertcore.cpu_info()
    for key in ("detected_isa", "active_isa", "compiled_isas", "num_threads", "default_num_threads",
                "affinity_cpus", "cgroup_cpus"):
        assert key in info
    if not ({"PYBERTCORE_NUM_THREADS", "OMP_NUM_THREADS"} & set(os.environ)):  # those may ask for more
        assert 1 <= info["default_num_threads"] <= info["affinity_cpus"]
    before = pybertcore.get_num_threads()
    try:
        pybertcore.set_num_threads(1)
        assert pybertcore.get_num_threads() == 1
        assert pybertcore.cpu_info()["num_threads"] == 1
        with pytest.raises(ValueError, match="at least 1"):
            pybertcore.set_num_threads(0)
    finally:
        pybertcore.set_num_threads(before)
    assert pybertcore.get_num_threads() == before


def test_forked_child_runs_the_model(tmp_path, isa):
    """A child forked after the pool started has none of its helper threads; it must still run, on
    every level and precision (the scalar level once used OpenMP, whose forked children hang)."""
    import signal
    import time

    cfg = dict(hidden_size=32, num_attention_heads=2, intermediate_size=40, vocab_size=100, num_hidden_layers=1)
    _, folder = make_transformers_bert(tmp_path, **cfg)
    models = [pybertcore.BertModel.from_pretrained(folder, dtype=d) for d in ("float32", "int8")]
    ids = np.random.default_rng(0).integers(1, 100, size=(3, 50))
    refs = [m(ids).last_hidden_state for m in models]
    out_file = tmp_path / "child.npz"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            np.savez(out_file, *[m(ids).last_hidden_state for m in models])
        finally:
            os._exit(0)
    deadline = time.monotonic() + 120
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child hung at isa={isa}")
        time.sleep(0.05)
    got = np.load(out_file)
    for i, ref in enumerate(refs):
        np.testing.assert_array_equal(got[f"arr_{i}"], ref)


_AFFINITY_CHILD = r"""
import os, sys, time
import numpy as np
import pybertcore
folder, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
pybertcore.set_num_threads(threads)
model = pybertcore.BertModel.from_pretrained(folder)
ids = np.random.default_rng(0).integers(1, 100, size=(2, 70))
allowed = os.sched_getaffinity(0)
for _ in range(12):  # idle gaps, so the helpers sleep and are woken again (and maybe placed badly)
    result = model(ids).last_hidden_state
    time.sleep(0.02)
masks = {tid: os.sched_getaffinity(int(tid)) for tid in os.listdir("/proc/self/task")}
np.savez(out, result=result, same=np.array([m == allowed for m in masks.values()]), n=len(masks))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="needs Linux's affinity calls and /proc")
def test_pool_leaves_thread_affinity_as_it_found_it(tmp_path):
    """A helper woken onto its caller's CPU narrows its own affinity for a moment to step off it
    (parallel.cc). Whether that happens is the scheduler's choice; what must hold either way: every
    thread ends with the process's mask, and a process allowed a single CPU but asked for 2 threads
    (its helper always shares the caller's CPU, with nowhere to go) runs and agrees with 1 thread."""
    import subprocess

    cfg = dict(hidden_size=48, num_attention_heads=3, intermediate_size=72, vocab_size=100, num_hidden_layers=2)
    _, folder = make_transformers_bert(tmp_path, **cfg)
    ref = pybertcore.BertModel.from_pretrained(folder)
    before = pybertcore.get_num_threads()
    try:
        pybertcore.set_num_threads(1)
        expected = ref(np.random.default_rng(0).integers(1, 100, size=(2, 70))).last_hidden_state
    finally:
        pybertcore.set_num_threads(before)
    one_cpu = min(os.sched_getaffinity(0))
    for name, preexec in (("all", None), ("one", lambda: os.sched_setaffinity(0, {one_cpu}))):
        out = tmp_path / f"{name}.npz"
        subprocess.run([sys.executable, "-c", _AFFINITY_CHILD, str(folder), str(out), "2"], env=child_env(),
                       cwd=CHILD_CWD, preexec_fn=preexec, check=True, timeout=300)
        got = np.load(out)
        assert got["n"] >= 2  # the caller and at least one helper
        assert got["same"].all(), f"a thread's affinity was left changed ({name})"
        np.testing.assert_allclose(got["result"], expected, atol=1e-5, rtol=0)


def test_core_loads_no_openmp_runtime():
    """The core runs on its own pool: importing it and running a model maps no OpenMP runtime (libgomp,
    libiomp, libomp), which a binary wheel would otherwise have to carry."""
    import subprocess

    code = ("import numpy as np, pybertcore\n"
            "m = pybertcore.BertModel(pybertcore.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,"
            " intermediate_size=37))\n"
            "m(np.array([[1, 2, 3]]))\n"
            "print(open('/proc/self/maps').read())\n")
    out = subprocess.run([sys.executable, "-c", code], env=child_env(), cwd=CHILD_CWD, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    mapped = {line.split()[-1] for line in out.splitlines() if "/" in line}
    assert "_core" in " ".join(mapped)
    assert not [p for p in mapped if any(name in os.path.basename(p) for name in ("libgomp", "libiomp", "libomp"))]


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("N,K", [(1, 1), (33, 7), (17, 300), (3, 513), (130, 97)])
def test_packed_weight_comes_back_exactly(isa, N, K):
    """A float32 layer keeps its weight only packed; Dense.weight() unpacks it bit for bit (state_dict())."""
    w = np.random.default_rng(N * 1000 + K).standard_normal((N, K), dtype=np.float32)
    b = np.arange(N, dtype=np.float32)
    dense = _core.Dense(w, b, isa=isa)
    np.testing.assert_array_equal(dense.weight(), w)
    np.testing.assert_array_equal(dense.bias(), b)
    assert _core.Dense(w, None, isa=isa).bias() is None
    with pytest.raises(ValueError, match="keeps no float32 weight"):
        _core.Dense(w, None, isa=isa, dtype="int8").weight()
