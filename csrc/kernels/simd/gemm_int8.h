// simd/gemm_int8.h — C (M, N) = act(dequant(q(A) · q(W)ᵀ) + bias) + residual, over vec_<isa>.h and
// vec_lowp_<isa>.h; formats and the exact-int32 guarantee in quantize.h.
//
// Packed W (once, at load): panels of kNRi = 2·kW output channels; within a panel, ⌈K/4⌉ quad rows,
// each holding for every channel j the four s8 weights W[j][4q .. 4q+3] in one 32-bit lane (zero
// padded past K and past N) — the operand layout of vpmaddubsw pairs and of VNNI's vpdpbusd. After
// the panels: scale_w (N rounded up to kNRi, fp32) and Σ_k q_w (same length, int32).
// Per call: every row of A is quantized once (7-bit, per row) into the calling thread's scratch,
// K padded to whole quads with the row's zero point. Units of (64-row block) × (run of panels); the
// micro-kernel (kMRInt8 rows × kNRi channels) keeps int32 accumulators over all of K — the sums are
// exact, so there are no partial sums through C — and dequantizes in the epilogue:
//   C = scale_w[n] · (scale_a[m] · (acc − z[m]·Σq_w[n]) + Σ_o r[m][o] · q_w[n][k_o]) + bias, activation,
//   residual (the outliers' weights read back from the panel: one lane extract per outlier),
// the same fp32 operations as the scalar reference (which may differ by an FMA contraction: ~1 ulp).
// C must not overlap A or the residual.
#pragma once

#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/parallel.h"
#include "kernels/quantize.h"

namespace pbc {
namespace {

constexpr int kNRi = 2 * kW;
constexpr int kMCInt8 = 64;  // rows per A block: 64·K bytes of quantized A (192 KB at K = 3072) in L2

inline int quads(int K) { return (K + 3) / 4; }
inline size_t int8_panel_bytes(int N, int K) {
  return static_cast<size_t>((N + kNRi - 1) / kNRi) * kNRi * quads(K) * 4;
}
inline int int8_n_pad(int N) { return (N + kNRi - 1) / kNRi * kNRi; }

size_t packed_int8_bytes_simd(int N, int K) { return int8_panel_bytes(N, K) + static_cast<size_t>(int8_n_pad(N)) * 8; }

struct Int8PackPlan {
  char* packed;
  const float* w;
  int N, K;
};

void int8_pack_panel(void* ctx, long p, int /*worker*/) {
  const Int8PackPlan& pl = *static_cast<const Int8PackPlan*>(ctx);
  const int K = pl.K, Kq = quads(K);
  int8_t* dst = reinterpret_cast<int8_t*>(pl.packed) + static_cast<size_t>(p) * kNRi * Kq * 4;
  float* scale = reinterpret_cast<float*>(pl.packed + int8_panel_bytes(pl.N, K));
  int32_t* qsum = reinterpret_cast<int32_t*>(scale + int8_n_pad(pl.N));
  int8_t* row = new int8_t[K > 0 ? K : 1];
  for (int j = 0; j < kNRi; ++j) {
    const int n = static_cast<int>(p) * kNRi + j;
    if (n < pl.N) {
      scale[n] = quantize_weight_row(row, qsum + n, pl.w + static_cast<size_t>(n) * K, K);
    } else {
      scale[n] = 0.0f;
      qsum[n] = 0;
    }
    for (int k = 0; k < Kq * 4; ++k) {
      dst[(static_cast<size_t>(k / 4) * kNRi + j) * 4 + (k & 3)] = (n < pl.N && k < K) ? row[k] : 0;
    }
  }
  delete[] row;
}

void pack_weight_int8_simd(void* packed, const float* w, int N, int K) {
  Int8PackPlan pl{static_cast<char*>(packed), w, N, K};
  parallel_for((N + kNRi - 1) / kNRi, int8_pack_panel, &pl);
}

struct Int8Plan {
  const GemmArgs* g;
  int panels, mblocks, nb, Kp;
  uint8_t* aq;   // (M, Kp) quantized A
  float* sa;     // (M) row scales
  int32_t* za;   // (M) row zero points
  int32_t* oi;   // (M, kActOutliers) outlier columns
  float* orr;    // (M, kActOutliers) their fp32 residuals
  const int8_t* bq;
  const float* sw;
  const int32_t* wsum;
};

void int8_quantize_rows(void* ctx, long u, int /*worker*/) {
  const Int8Plan& pl = *static_cast<const Int8Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int r0 = static_cast<int>(u) * 16, r1 = r0 + 16 < g.M ? r0 + 16 : g.M;
  for (int m = r0; m < r1; ++m) {
    quantize_act_row(pl.aq + static_cast<size_t>(m) * pl.Kp, pl.sa + m, pl.za + m, pl.oi + static_cast<size_t>(m) * kActOutliers,
                     pl.orr + static_cast<size_t>(m) * kActOutliers, g.a + static_cast<size_t>(m) * g.lda, g.K, pl.Kp);
  }
}

inline int32_t load_quad(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

// One dequantized register of C row m, columns n .. n+cols (cols ≤ kW); `panel` is the packed panel
// holding these columns, `half` which of its two registers they are (for the outliers' weights).
inline void int8_store(const Int8Plan& pl, VI acc, const int8_t* panel, int half, int m, int n, int cols) {
  const VI corr = vi_mullo(vi_set1(pl.za[m]), vi_load(pl.wsum + n));
  VF v = v_mul(vi_to_float(vi_sub(acc, corr)), v_set1(pl.sa[m]));
#pragma GCC unroll 8
  for (int o = 0; o < kActOutliers; ++o) {
    const int k = pl.oi[static_cast<size_t>(m) * kActOutliers + o];
    const VI quad = vi_load(panel + (static_cast<size_t>(k / 4) * 2 + half) * 4 * kW);
    v = v_fmadd(v_set1(pl.orr[static_cast<size_t>(m) * kActOutliers + o]), v_s8_lane(quad, k & 3), v);
  }
  v = v_mul(v, v_load(pl.sw + n));
  lowp_store(*pl.g, v, m, n, cols, true, false);
}

// C[m0 : m0+rows, n0 : n0+cols] = epilogue(q(A) rows · panel bp); rows ≤ kMRInt8, cols ≤ kNRi.
inline void int8_micro_kernel(const Int8Plan& pl, const int8_t* bp, int m0, int rows, int n0, int cols) {
  const uint8_t* a[kMRInt8];
#pragma GCC unroll 16
  for (int i = 0; i < kMRInt8; ++i) a[i] = pl.aq + static_cast<size_t>(m0 + (i < rows ? i : rows - 1)) * pl.Kp;
  VI acc0[kMRInt8], acc1[kMRInt8];
#pragma GCC unroll 16
  for (int i = 0; i < kMRInt8; ++i) acc0[i] = acc1[i] = vi_zero();
  const int Kq = pl.Kp / 4;
  const int8_t* const panel = bp;
#pragma GCC unroll 2
  for (int q = 0; q < Kq; ++q) {
    const VI b0 = vi_load(bp), b1 = vi_load(bp + 4 * kW);
#pragma GCC unroll 16
    for (int i = 0; i < kMRInt8; ++i) {
      const VI av = vi_set1(load_quad(a[i] + 4 * q));
      acc0[i] = vi_dot_u8s8(acc0[i], av, b0);
      acc1[i] = vi_dot_u8s8(acc1[i], av, b1);
    }
    bp += 8 * kW;
  }
  const int cols1 = cols - kW;
#pragma GCC unroll 16
  for (int i = 0; i < kMRInt8; ++i) {
    if (i >= rows) break;
    int8_store(pl, acc0[i], panel, 0, m0 + i, n0, cols < kW ? cols : kW);
    if (cols1 > 0) int8_store(pl, acc1[i], panel, 1, m0 + i, n0 + kW, cols1);
  }
}

void int8_unit(void* ctx, long u, int /*worker*/) {
  const Int8Plan& pl = *static_cast<const Int8Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int jb = static_cast<int>(u / pl.mblocks), ib = static_cast<int>(u % pl.mblocks);
  const int m0 = ib * kMCInt8, rows = g.M - m0 < kMCInt8 ? g.M - m0 : kMCInt8;
  const int p0 = jb * pl.nb, p1 = p0 + pl.nb < pl.panels ? p0 + pl.nb : pl.panels;
  for (int p = p0; p < p1; ++p) {
    const int8_t* bp = pl.bq + static_cast<size_t>(p) * kNRi * pl.Kp;
    const int n0 = p * kNRi, cols = g.N - n0 < kNRi ? g.N - n0 : kNRi;
    for (int i = 0; i < rows; i += kMRInt8) {
      int8_micro_kernel(pl, bp, m0 + i, rows - i < kMRInt8 ? rows - i : kMRInt8, n0, cols);
    }
  }
}

void gemm_int8_simd(const GemmArgs& g) {
  const int M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  Int8Plan pl;
  pl.g = &g;
  pl.Kp = quads(K) * 4;
  pl.panels = (N + kNRi - 1) / kNRi;
  pl.mblocks = (M + kMCInt8 - 1) / kMCInt8;
  const char* base = static_cast<const char*>(g.b_lowp);
  pl.bq = reinterpret_cast<const int8_t*>(base);
  pl.sw = reinterpret_cast<const float*>(base + int8_panel_bytes(N, K));
  pl.wsum = reinterpret_cast<const int32_t*>(pl.sw + int8_n_pad(N));
  // Quantized A, then the row scales and zero points, in the calling thread's reusable scratch.
  const size_t a_floats = (static_cast<size_t>(M) * (pl.Kp > 0 ? pl.Kp : 4) + 3) / 4;
  const size_t scratch_floats = a_floats + (2 + 2 * kActOutliers) * static_cast<size_t>(M);
  float* scratch = thread_scratch(scratch_floats);
  float* heap = nullptr;  // only when no scratch could be had (out of memory): std::bad_alloc, before any work
  if (!scratch) scratch = heap = new float[scratch_floats];
  pl.aq = reinterpret_cast<uint8_t*>(scratch);
  pl.sa = scratch + a_floats;
  pl.za = reinterpret_cast<int32_t*>(pl.sa + M);
  pl.oi = pl.za + M;
  pl.orr = reinterpret_cast<float*>(pl.oi + static_cast<size_t>(M) * kActOutliers);
  parallel_for((M + 15) / 16, int8_quantize_rows, &pl);
  const int threads = parallel_threads();
  int nb = pl.panels;
  while (nb > 1 && static_cast<long>(pl.mblocks) * ((pl.panels + nb - 1) / nb) < 4L * threads) nb = (nb + 1) / 2;
  pl.nb = nb;
  parallel_for(static_cast<long>(pl.mblocks) * ((pl.panels + nb - 1) / nb), int8_unit, &pl);
  delete[] heap;
}

}  // namespace
}  // namespace pbc
