// simd/gemm_bf16.h — C (M, N) = act(A (M, K) · bf16(W) (N, K)ᵀ + bias) + residual, over vec_<isa>.h and
// vec_lowp_<isa>.h, with bf16 weights packed once.
//
// Packed W: panels of kNRb = 2·kW columns; within a panel, K/2 pair rows (K rounded up to even, zero
// padded), each holding for every column j the pair (W[j][k], W[j][k+1]) as two bf16 in one 32-bit
// lane, so a pair row is two registers. This is the operand layout of AVX512-BF16's vdpbf16ps; the
// widening levels turn one register into two fp32 registers with a shift and a mask.
//
// Two GEMMs over it:
//   * widening (default: AVX2, AVX-512 without BF16): A stays fp32, so this is the fp32 GEMM with
//     another weight operand: simd/gemm.h's loop nest over Bf16PairPanels, whose micro-tile widens B
//     exactly and runs the fp32 FMAs, k in order within a K block, blocks summed in order. The same
//     tiles, A packing and packed handovers as fp32 layers (Kernels::bf16_takes_fp32_packed); the same
//     results as an fp32 layer holding the bf16-rounded weights. Its own nest (4-row tiles on AVX2,
//     A packed element by element, no handovers) ran at 0.82–0.97 of fp32's GFLOP/s on a Zen 3;
//     through the fp32 nest, 0.90–0.98 at M = 1024 on one thread (the widening's shifts and masks,
//     repeated in every row tile, take issue slots from the FMAs). An A block of three or more row tiles
//     therefore has each K slice of a panel widened once into the worker's scratch (kKC·kNR floats, in
//     L1) and runs the fp32 tile on it: 1.00–1.03 of fp32 there (Dense alone, alternated runs; on two
//     threads and at M ≤ 128 the difference was within the noise). Fewer rows, where the weights' memory
//     traffic dominates, widen in the tile.
//   * PBC_LOWP_BF16_DOT (AVX512-BF16): A rounded to bf16 (round to nearest even) and packed in pairs
//     too; vdpbf16ps accumulates the pair products in fp32. This is what "a bf16 matmul" means on that
//     hardware; its error against the widening levels is A's rounding (relative 2⁻⁹ per element).
//     Its own loop nest, shaped as simd/gemm.h's: units of (A block of ≤ kMCMax rows) × (run of panels); per K block
//     of kKCb (four times kKC, below) the A block is packed, each B slice is reused from L2 across the
//     row tiles while the next one is prefetched; partial sums of earlier K blocks go through C, the
//     epilogue runs on the last block. When several runs of panels
//     share an A block (small M: the units split N, 4 per thread), all of A is packed once up front,
//     in parallel, into the calling thread's scratch: packed per unit, a 1×128 bert-base GEMM
//     converted its A to bf16 8 times on 2 threads. Otherwise each unit packs its A block per K block
//     into its worker's slice. Either way the same packing: the same results.
// C must not overlap A or the residual.
#pragma once

#include <stdint.h>

#include "kernels/kernels.h"
#include "runtime/parallel.h"
#include "kernels/quantize.h"
#include "kernels/simd/epilogue.h"
#include "kernels/simd/gemm.h"

namespace pbc {
namespace {

constexpr int kNRb = 2 * kW;
static_assert(kKC % 2 == 0, "K blocks must hold whole pairs");

inline int even_up(int k) { return (k + 1) & ~1; }

size_t packed_bf16_bytes_simd(int N, int K) {
  return static_cast<size_t>((N + kNRb - 1) / kNRb) * kNRb * even_up(K) * sizeof(uint16_t);
}

struct Bf16PackPlan {
  uint16_t* packed;
  const float* w;
  int N, K;
};

void bf16_pack_panel(void* ctx, long p, int /*worker*/) {
  const Bf16PackPlan& pl = *static_cast<const Bf16PackPlan*>(ctx);
  const int Kp = even_up(pl.K);
  uint16_t* dst = pl.packed + static_cast<size_t>(p) * kNRb * Kp;
  for (int j = 0; j < kNRb; ++j) {
    const int n = static_cast<int>(p) * kNRb + j;
    const float* src = pl.w + static_cast<size_t>(n) * pl.K;
    for (int k = 0; k < Kp; ++k) {
      const uint16_t v = (n < pl.N && k < pl.K) ? bf16_from_float(src[k]) : 0;
      dst[(static_cast<size_t>(k / 2) * kNRb + j) * 2 + (k & 1)] = v;
    }
  }
}

void pack_weight_bf16_simd(void* packed, const float* w, int N, int K) {
  Bf16PackPlan pl{static_cast<uint16_t*>(packed), w, N, K};
  parallel_for((N + kNRb - 1) / kNRb, bf16_pack_panel, &pl);
}

#ifndef PBC_LOWP_BF16_DOT
// The weight operand of the widening levels for simd/gemm.h's loop nest: bf16 pair panels (above).
struct Bf16PairPanels {
  static_assert(kNRb == kNR, "a bf16 panel is as wide as the fp32 one");
  using Elem = uint16_t;
  static const Elem* base(const GemmArgs& g) { return static_cast<const uint16_t*>(g.b_lowp); }
  static size_t rows(int K) { return static_cast<size_t>(even_up(K)); }
  // dst (kc rows of kNR floats: Fp32Panels' layout) ← the panel's K block at b, widened exactly. The
  // loop nest runs a block of many row tiles on this copy with the fp32 tile, rather than product()
  // below, whose shifts and masks share the FMA ports in every row tile (header).
  static constexpr bool kWidens = true;
  static void widen(float* dst, const Elem* b, int kc) {
    for (int kk = 0; kk < kc / 2; ++kk) {
      const VI b0 = vi_load(b), b1 = vi_load(b + 2 * kW);
      v_store(dst, v_bf16_even(b0));
      v_store(dst + kW, v_bf16_even(b1));
      v_store(dst + kNR, v_bf16_odd(b0));
      v_store(dst + kNR + kW, v_bf16_odd(b1));
      dst += 2 * kNR;
      b += 4 * kW;
    }
    if (kc & 1) {
      v_store(dst, v_bf16_even(vi_load(b)));
      v_store(dst + kW, v_bf16_even(vi_load(b + 2 * kW)));
    }
  }
  // acc0/acc1 (MR × kNRb) = A tile (fp32, packed: (k, i) at [k·MR + i]) · the panel's K block at b,
  // pair row by pair row: the even k's widened weights, then the odd k's. An odd kc (the last K block
  // of an odd K) ends with its even half alone: A's tile has no column kc to pair with the padding.
  template <int MR>
  static void product(int kc, const float* a, const Elem* b, VF* acc0, VF* acc1) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = v_zero();
    // Not unrolled: unrolled, GCC spilled accumulators (1 thread, AVX2: ~80 → ~86 GFLOP/s).
#pragma GCC unroll 1
    for (int kk = 0; kk < kc / 2; ++kk) {
      const VI b0 = vi_load(b), b1 = vi_load(b + 2 * kW);
      VF lo = v_bf16_even(b0), hi = v_bf16_even(b1);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const VF av = v_set1(a[i]);
        acc0[i] = v_fmadd(av, lo, acc0[i]);
        acc1[i] = v_fmadd(av, hi, acc1[i]);
      }
      lo = v_bf16_odd(b0);
      hi = v_bf16_odd(b1);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const VF av = v_set1(a[MR + i]);
        acc0[i] = v_fmadd(av, lo, acc0[i]);
        acc1[i] = v_fmadd(av, hi, acc1[i]);
      }
      a += 2 * MR;
      b += 4 * kW;
    }
    if (kc & 1) {
      const VF lo = v_bf16_even(vi_load(b)), hi = v_bf16_even(vi_load(b + 2 * kW));
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const VF av = v_set1(a[i]);
        acc0[i] = v_fmadd(av, lo, acc0[i]);
        acc1[i] = v_fmadd(av, hi, acc1[i]);
      }
    }
  }
};

void gemm_bf16_simd(const GemmArgs& g) { gemm_nest<Bf16PairPanels>(g); }

#else
// K blocks of this GEMM: four times the fp32 nest's kKC. A C tile's partial sums make a round trip
// through memory per K block, and vdpbf16ps finishes a block in half the time fp32 FMAs take; a K block
// of 768 (bert-base's whole K) no longer fits its B slice (48 KB) in L1, but the slice streams from L2
// well. On a Zen 4, one thread, 4096 rows at bert-base's shapes: 162–179 GFLOP/s with blocks of 192,
// 177–192 with 768 (bf16 peak 234; bench/README.md); two threads, when both cores were free: 300–350
// against 360–400.
// The blocking sets the order of the sums (a block's sum joins C): it is a constant, never chosen per
// call, so that a row's result does not depend on M or on the path taken.
constexpr int kKCb = 768;
// ap (tiles of kRows rows; pair kk of row i at [kk·kRows + i], two bf16 in 32 bits) ← A rows
// [0, rows) × columns [0, kc), rounded to bf16; odd kc and rows past `rows` padded with zeros. With
// kRows = kNRb this is also a B panel of pairs (attention's keys: avx512/attention_avx512bf16.cc).
template <int kRows = kMRBf16>
inline void bf16_pack_a(void* ap_v, const float* a, int lda, int rows, int kc) {
  uint32_t* ap = static_cast<uint32_t*>(ap_v);
  const int pairs = (kc + 1) / 2, tiles = (rows + kRows - 1) / kRows;
  for (int t = 0; t < tiles; ++t) {
    uint32_t* dst = ap + static_cast<size_t>(t) * kRows * pairs;
    for (int i = 0; i < kRows; ++i) {
      const int r = t * kRows + i;
      const float* src = a + static_cast<size_t>(r) * lda;
      int kk = 0;
      if (r < rows) {  // 8 pairs at a time (bf16_pairs16, the same rounding), then one by one
        for (; 2 * kk + 16 <= kc; kk += 8) {
          uint32_t p8[8];
          bf16_pairs16(p8, src + 2 * kk);
          for (int j = 0; j < 8; ++j) dst[(kk + j) * kRows + i] = p8[j];
        }
      }
      for (; kk < pairs; ++kk) {
        uint32_t lo = 0, hi = 0;
        if (r < rows) {
          lo = bf16_from_float(src[2 * kk]);
          if (2 * kk + 1 < kc) hi = bf16_from_float(src[2 * kk + 1]);
        }
        dst[kk * kRows + i] = lo | (hi << 16);
      }
    }
  }
}
inline size_t bf16_a_tile_floats(int kc) { return static_cast<size_t>(kMRBf16) * ((kc + 1) / 2); }

// C[m0 : m0+rows, n0 : n0+cols] (+)= Ap (kMRBf16 rows, `pairs` pairs) · Bp (pairs × kNRb, bf16 pairs).
// Also prefetches pf_lines cache lines from pf into L2, and the C and residual rows the store will read
// (as simd/gemm.h's micro_kernel, for the same reasons).
inline void bf16_micro_kernel(const GemmArgs& g, int pairs, const float* ap, const uint16_t* bp, int m0, int rows,
                              int n0, int cols, bool accumulate, bool last, const char* pf, int pf_lines) {
  for (int l = 0; l < pf_lines; ++l) __builtin_prefetch(pf + l * 64, 0, 2);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < kNRb; j += 64 / sizeof(float)) {
      if (accumulate) __builtin_prefetch(g.c + static_cast<size_t>(m0 + i) * g.ldc + n0 + j, 1, 3);
      if (last && g.residual) __builtin_prefetch(g.residual + static_cast<size_t>(m0 + i) * g.ldr + n0 + j, 0, 3);
    }
  }
  VF acc0[kMRBf16], acc1[kMRBf16];
#pragma GCC unroll 16
  for (int i = 0; i < kMRBf16; ++i) acc0[i] = acc1[i] = v_zero();
  const uint32_t* a32 = reinterpret_cast<const uint32_t*>(ap);
#pragma GCC unroll 2
  for (int kk = 0; kk < pairs; ++kk) {
    const VI b0 = vi_load(bp), b1 = vi_load(bp + 2 * kW);
#pragma GCC unroll 16
    for (int i = 0; i < kMRBf16; ++i) {
      const VI av = vi_set1(static_cast<int32_t>(a32[i]));
      acc0[i] = v_dot_bf16(acc0[i], av, b0);
      acc1[i] = v_dot_bf16(acc1[i], av, b1);
    }
    a32 += kMRBf16;
    bp += 4 * kW;
  }
  store_tile<kMRBf16>(g, acc0, acc1, m0, rows, n0, cols, accumulate, last);
}

struct Bf16Plan {
  const GemmArgs* g;
  int panels, mc, mblocks, nb, kblocks;
  float* own;  // per-worker A block buffers, bf16_a_tile_floats(kKCb) · kMCMax / kMRBf16 floats each
  size_t own_floats;
  float* a_all;  // or all of A packed up front: block (ib, K block kb) at (ib · kblocks + kb) · own_floats
};

// Unit u = ib · kblocks + kb of the up-front packing: A block ib, K block kb, into its slot of a_all.
void bf16_pack_a_unit(void* ctx, long u, int /*worker*/) {
  const Bf16Plan& pl = *static_cast<const Bf16Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int ib = static_cast<int>(u / pl.kblocks), k0 = static_cast<int>(u % pl.kblocks) * kKCb;
  const int m0 = ib * pl.mc, rows = g.M - m0 < pl.mc ? g.M - m0 : pl.mc;
  const int kc = g.K - k0 < kKCb ? g.K - k0 : kKCb;
  bf16_pack_a(pl.a_all + static_cast<size_t>(u) * pl.own_floats, g.a + static_cast<size_t>(m0) * g.lda + k0, g.lda,
              rows, kc);
}

// Rows [m0, m0 + rows) of unit u (A block ib, panel run jb) × the run's panels, all of K. `own` holds
// the rows' packed A block when A is not packed up front (pl.a_all, whose blocks start at the unit's).
inline void bf16_rows(const Bf16Plan& pl, long u, int m0, int rows, float* own) {
  const GemmArgs& g = *pl.g;
  const int N = g.N, K = g.K, Kp = even_up(K);
  const uint16_t* B = static_cast<const uint16_t*>(g.b_lowp);
  const int jb = static_cast<int>(u / pl.mblocks), ib = static_cast<int>(u % pl.mblocks);
  const int p0 = jb * pl.nb, p1 = p0 + pl.nb < pl.panels ? p0 + pl.nb : pl.panels;
  for (int k0 = 0; k0 < K || k0 == 0; k0 += kKCb) {
    const int kc = K - k0 < kKCb ? K - k0 : kKCb, pairs = (kc + 1) / 2;
    const bool accumulate = k0 > 0, last = k0 + kKCb >= K;
    const float* ap = own;
    if (pl.a_all) {
      ap = pl.a_all + (static_cast<size_t>(ib) * pl.kblocks + k0 / kKCb) * pl.own_floats;
    } else {
      bf16_pack_a(own, g.a + static_cast<size_t>(m0) * g.lda + k0, g.lda, rows, kc);
    }
    const size_t tile = bf16_a_tile_floats(kc);
    const int tiles = (rows + kMRBf16 - 1) / kMRBf16;
    for (int p = p0; p < p1; ++p) {
      const uint16_t* bp = B + static_cast<size_t>(p) * kNRb * Kp + static_cast<size_t>(k0) * kNRb;
      const int n0 = p * kNRb, cols = N - n0 < kNRb ? N - n0 : kNRb;
      // The B slice needed next (the next panel, or the first panel's next K block) into L2, a share
      // per row tile, as simd/gemm.h does: slices lie Kp·kNRb apart and the hardware prefetcher
      // restarts at each.
      const uint16_t* next = p + 1 < p1       ? bp + static_cast<size_t>(kNRb) * Kp
                             : k0 + kKCb < K ? B + (static_cast<size_t>(p0) * Kp + k0 + kKCb) * kNRb
                                             : nullptr;
      const int next_kc = p + 1 < p1 ? kc : (K - k0 - kKCb < kKCb ? K - k0 - kKCb : kKCb);
      const int lines = next ? static_cast<int>(static_cast<size_t>(even_up(next_kc)) * kNRb * 2 / 64) : 0;
      const char* pf = reinterpret_cast<const char*>(next);
      for (int t = 0; t < tiles; ++t) {
        const int i = t * kMRBf16, l0 = lines * t / tiles, l1 = lines * (t + 1) / tiles;
        bf16_micro_kernel(g, pairs, ap + static_cast<size_t>(t) * tile, bp, m0 + i,
                          rows - i < kMRBf16 ? rows - i : kMRBf16, n0, cols, accumulate, last, pf + l0 * 64, l1 - l0);
      }
    }
  }
}

// The last resort when no heap scratch could be had: the unit's rows two tiles at a time, their A
// block on the stack (36 KB). Row tiles are independent, so the results are the same bits.
__attribute__((noinline)) void bf16_unit_stack(const Bf16Plan& pl, long u, int m0, int rows) {
  constexpr int kStackRows = 2 * kMRBf16;
  alignas(64) float own[kStackRows / kMRBf16 * (kMRBf16 * kKCb / 2)];
  static_assert(sizeof(own) / sizeof(float) >= (kStackRows / kMRBf16) * kMRBf16 * ((kKCb + 1) / 2), "A tiles fit");
  for (int i = 0; i < rows; i += kStackRows) {
    bf16_rows(pl, u, m0 + i, rows - i < kStackRows ? rows - i : kStackRows, own);
  }
}

void bf16_unit(void* ctx, long u, int worker) {
  const Bf16Plan& pl = *static_cast<const Bf16Plan*>(ctx);
  const int ib = static_cast<int>(u % pl.mblocks);
  const int m0 = ib * pl.mc, rows = pl.g->M - m0 < pl.mc ? pl.g->M - m0 : pl.mc;
  if (pl.a_all) {
    bf16_rows(pl, u, m0, rows, nullptr);
  } else if (pl.own) {
    bf16_rows(pl, u, m0, rows, pl.own + static_cast<size_t>(worker) * pl.own_floats);
  } else {
    bf16_unit_stack(pl, u, m0, rows);
  }
}

void gemm_bf16_simd(const GemmArgs& g) {
  const int M = g.M, N = g.N;
  if (M <= 0 || N <= 0) return;
  Bf16Plan pl;
  pl.g = &g;
  pl.panels = (N + kNRb - 1) / kNRb;
  const int threads = parallel_threads();
  int mblocks = (M + kMCMax - 1) / kMCMax;
  const int per = (M + mblocks - 1) / mblocks;
  pl.mc = ((per + kMRBf16 - 1) / kMRBf16) * kMRBf16;
  pl.mblocks = (M + pl.mc - 1) / pl.mc;
  int nb = pl.panels;
  while (nb > 1 && static_cast<long>(pl.mblocks) * ((pl.panels + nb - 1) / nb) < 4L * threads) nb = (nb + 1) / 2;
  pl.nb = nb;
  const long units = static_cast<long>(pl.mblocks) * ((pl.panels + nb - 1) / nb);
  // A block of mc rows (whole tiles), one K block: (mc / kMRBf16) tiles of bf16_a_tile_floats(kKCb).
  pl.own_floats = (static_cast<size_t>(pl.mc / kMRBf16) * bf16_a_tile_floats(kKCb) + 15) / 16 * 16;
  pl.kblocks = (g.K + kKCb - 1) / kKCb;
  pl.own = pl.a_all = nullptr;
  if ((pl.panels + nb - 1) / nb > 1 && g.K > 0) {
    pl.a_all = thread_scratch(static_cast<size_t>(pl.mblocks) * pl.kblocks * pl.own_floats);
    if (pl.a_all) parallel_for(static_cast<long>(pl.mblocks) * pl.kblocks, bf16_pack_a_unit, &pl);
  }
  if (!pl.a_all) pl.own = thread_scratch(static_cast<size_t>(threads) * pl.own_floats);
  parallel_for(units, bf16_unit, &pl);
}

#endif  // PBC_LOWP_BF16_DOT

}  // namespace
}  // namespace pbc
