// simd/gemm_int8.h — C (M, N) = act(dequant(q(A) · q(W)ᵀ) + bias) + residual, over vec_<isa>.h and
// vec_lowp_<isa>.h; formats and the exact-int32 guarantee in quantize.h.
//
// Packed W (once, at load): panels of kNRi = 2·kW output channels; within a panel, ⌈K/4⌉ quad rows,
// each holding for every channel j the four s8 weights W[j][4q .. 4q+3] in one 32-bit lane (zero
// padded past K and past N) — the operand layout of vpmaddubsw pairs and of VNNI's vpdpbusd. After
// the panels: scale_w and Σ q_w of each weight group (quantize.h), each (groups, N rounded up to kNRi),
// then zc (N rounded up): the zero point's share of every channel; then the outliers' weights, bf16(W)
// panel by panel: for each k, the panel's kNRi values (one cache line on AVX-512), the K lines of a
// panel contiguous (int8_outlier_row).
// Per call: every row of A is quantized once (8-bit, per row; simd/quantize_act.h) into the calling
// thread's scratch, K padded to whole quads with the row's zero point. Units of (run of 64-row blocks)
// × (block of panels), l2_grid.h; the micro-kernel (kMRInt8 rows × kNRi channels) keeps int32
// accumulators over each weight group (exact), folds them into fp32 accumulators with the group's
// scales, and finishes in the epilogue:
//   C = scale_a[m] · (Σ_g scale_w · acc_g − z[m]·zc[n]) + Σ_o a[m][k_o] · bf16(W[n][k_o]) + bias,
//   activation, residual,
// the same fp32 operations as the scalar reference (which may differ by an FMA contraction: ~1 ulp).
// C must not overlap A or the residual.
#pragma once

#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "runtime/parallel.h"
#include "kernels/l2_grid.h"
#include "kernels/quantize.h"
#include "kernels/simd/epilogue.h"
#include "kernels/simd/quantize_act.h"

namespace pbc {
namespace {

constexpr int kNRi = 2 * kW;
constexpr int kMCInt8 = 64;  // rows per A block: 64·K bytes of quantized A (192 KB at K = 3072) in L2

inline int quads(int K) { return (K + 3) / 4; }
inline size_t int8_panel_bytes(int N, int K) {
  return static_cast<size_t>((N + kNRi - 1) / kNRi) * kNRi * quads(K) * 4;
}
inline int int8_n_pad(int N) { return (N + kNRi - 1) / kNRi * kNRi; }

inline size_t int8_outlier_offset(int N, int K) {
  return int8_panel_bytes(N, K) + static_cast<size_t>(int8_n_pad(N)) * (weight_groups(K) * 8 + 4);
}
size_t packed_int8_bytes_simd(int N, int K) {
  return int8_outlier_offset(N, K) + static_cast<size_t>(K) * int8_n_pad(N) * 2;
}

// Where the outliers' bf16 weights of input k for the panel starting at column n0 lie: kNRi values.
// Panel-major, so that the lines one panel's rows gather from (all their outliers' k) are one
// contiguous run of K lines, which stays in cache over the row blocks of a unit; laid out k-major
// across all of N instead, lines of one panel were N·2 bytes apart and fell into a few cache sets.
inline size_t int8_outlier_row(int K, int k, int n0) {
  return (static_cast<size_t>(n0 / kNRi) * K + k) * kNRi;
}

// The outliers' bf16 copy of panel p's kNRi channels (W is (N, K)) into wt, as int8_outlier_row reads
// it. The AMX level's panels are as wide (lowp_amx.cc asserts it) and share this layout.
inline void int8_pack_outliers(uint16_t* wt, const float* w, int N, int K, long p) {
  for (int k = 0; k < K; ++k) {
    uint16_t* dst_k = wt + int8_outlier_row(K, k, static_cast<int>(p) * kNRi);
    for (int j = 0; j < kNRi; ++j) {
      const int n = static_cast<int>(p) * kNRi + j;
      dst_k[j] = n < N ? bf16_from_float(w[static_cast<size_t>(n) * K + k]) : 0;
    }
  }
}

struct Int8PackPlan {
  char* packed;
  const float* w;
  int N, K;
};

void int8_pack_panel(void* ctx, long p, int /*worker*/) {
  const Int8PackPlan& pl = *static_cast<const Int8PackPlan*>(ctx);
  const int K = pl.K, Kq = quads(K);
  int8_t* dst = reinterpret_cast<int8_t*>(pl.packed) + static_cast<size_t>(p) * kNRi * Kq * 4;
  const int G = weight_groups(K), npad = int8_n_pad(pl.N);
  float* scale = reinterpret_cast<float*>(pl.packed + int8_panel_bytes(pl.N, K));  // (G, npad)
  int32_t* qsum = reinterpret_cast<int32_t*>(scale + static_cast<size_t>(G) * npad);  // (G, npad)
  float* zc = reinterpret_cast<float*>(qsum + static_cast<size_t>(G) * npad);         // (npad)
  uint16_t* wt = reinterpret_cast<uint16_t*>(pl.packed + int8_outlier_offset(pl.N, K));
  int8_t* row = new int8_t[K > 0 ? K : 1];
  float* rs = new float[G > 0 ? G : 1];
  int32_t* rq = new int32_t[G > 0 ? G : 1];
  for (int j = 0; j < kNRi; ++j) {
    const int n = static_cast<int>(p) * kNRi + j;
    if (n < pl.N) quantize_weight_row(row, rs, rq, pl.w + static_cast<size_t>(n) * K, K);
    float c = 0.0f;
    for (int g = 0; g < G; ++g) {
      scale[static_cast<size_t>(g) * npad + n] = n < pl.N ? rs[g] : 0.0f;
      qsum[static_cast<size_t>(g) * npad + n] = n < pl.N ? rq[g] : 0;
      if (n < pl.N) c += rs[g] * static_cast<float>(rq[g]);
    }
    zc[n] = c;
    for (int k = 0; k < Kq * 4; ++k) {
      dst[(static_cast<size_t>(k / 4) * kNRi + j) * 4 + (k & 3)] = (n < pl.N && k < K) ? row[k] : 0;
    }
  }
  int8_pack_outliers(wt, pl.w, pl.N, K, p);
  delete[] row;
  delete[] rs;
  delete[] rq;
}

void pack_weight_int8_simd(void* packed, const float* w, int N, int K) {
  Int8PackPlan pl{static_cast<char*>(packed), w, N, K};
  parallel_for((N + kNRi - 1) / kNRi, int8_pack_panel, &pl);
}

struct Int8Plan {
  const GemmArgs* g;
  int Kp, npad;
  L2Grid grid;   // the units (l2_grid.h): runs of kMCInt8-row blocks × blocks of panels
  uint8_t* aq;   // (M, Kp) quantized A
  float* sa;     // (M) row scales
  int32_t* za;   // (M) row zero points
  int32_t* oi;   // (M, kActOutliers) outlier columns
  float* ov;     // (M, kActOutliers) their values
  const int8_t* bq;
  const float* sw;      // (groups, npad) weight scales
  const float* zc;      // (npad) Σ_g scale_w · Σ q_w: the zero point's share
  const uint16_t* wt;   // the outliers' bf16 weights (int8_outlier_row)
};

void int8_quantize_rows(void* ctx, long u, int /*worker*/) {
  const Int8Plan& pl = *static_cast<const Int8Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int r0 = static_cast<int>(u) * 16, r1 = r0 + 16 < g.M ? r0 + 16 : g.M;
  for (int m = r0; m < r1; ++m) {
    quantize_act_row_simd(pl.aq + static_cast<size_t>(m) * pl.Kp, pl.sa + m, pl.za + m, pl.oi + static_cast<size_t>(m) * kActOutliers,
                     pl.ov + static_cast<size_t>(m) * kActOutliers, g.a + static_cast<size_t>(m) * g.lda, g.K, pl.Kp);
  }
}

inline int32_t load_quad(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

// The two finished registers of C row m, columns n .. n+kW+cols1 (cols0 ≤ kW, cols1 ≤ kW, 0: none):
// `dot0`, `dot1` hold Σ_g scale_w · acc_g. Each outlier's value and weight row are looked up once for
// both registers.
inline void int8_store_row(const Int8Plan& pl, VF dot0, VF dot1, int m, int n, int cols0, int cols1) {
  const VF za = v_set1(static_cast<float>(pl.za[m])), sa = v_set1(pl.sa[m]);
  VF v0 = v_mul(v_fnmadd(za, v_load(pl.zc + n), dot0), sa);
  VF v1 = v_mul(v_fnmadd(za, v_load(pl.zc + n + kW), dot1), sa);
  const int outliers = pl.g->K > 0 ? kActOutliers : 0;
#pragma GCC unroll 8
  for (int o = 0; o < outliers; ++o) {
    const size_t i = static_cast<size_t>(m) * kActOutliers + o;
    if (pl.ov[i] == 0.0f) break;  // the row's outliers end (an outlier is never 0)
    const VF val = v_set1(pl.ov[i]);
    const uint16_t* w = pl.wt + int8_outlier_row(pl.g->K, pl.oi[i], n);
    v0 = v_fmadd(val, v_load_bf16(w), v0);
    v1 = v_fmadd(val, v_load_bf16(w + kW), v1);
  }
  store_out(*pl.g, v0, m, n, cols0, true, false);
  if (cols1 > 0) store_out(*pl.g, v1, m, n + kW, cols1, true, false);
}

// C[m0 : m0+rows, n0 : n0+cols] = epilogue(q(A) rows · panel bp); rows ≤ kMRInt8, cols ≤ kNRi. Exact
// int32 sums over each weight group, folded into fp32 with the group's scales.
inline void int8_micro_kernel(const Int8Plan& pl, const int8_t* bp, int m0, int rows, int n0, int cols) {
  const uint8_t* a[kMRInt8];
#pragma GCC unroll 16
  for (int i = 0; i < kMRInt8; ++i) a[i] = pl.aq + static_cast<size_t>(m0 + (i < rows ? i : rows - 1)) * pl.Kp;
  VF f0[kMRInt8], f1[kMRInt8];
#pragma GCC unroll 16
  for (int i = 0; i < kMRInt8; ++i) f0[i] = f1[i] = v_zero();
  const int Kq = pl.Kp / 4;
  constexpr int kQuadsPerGroup = kWeightGroup / 4;
  for (int q0 = 0, g = 0; q0 < Kq; q0 += kQuadsPerGroup, ++g) {
    const int q1 = q0 + kQuadsPerGroup < Kq ? q0 + kQuadsPerGroup : Kq;
    VI acc0[kMRInt8], acc1[kMRInt8];
#pragma GCC unroll 16
    for (int i = 0; i < kMRInt8; ++i) acc0[i] = acc1[i] = vi_zero();
    // Not unrolled: GCC unrolling this loop ran out of the 16 ymm registers and spilled accumulators
    // (measured 1 thread, AVX2: 115 → 150 GFLOP/s-equivalent at the bert-base shapes).
#pragma GCC unroll 1
    for (int q = q0; q < q1; ++q) {
      const VI b0 = vi_load(bp), b1 = vi_load(bp + 4 * kW);
#pragma GCC unroll 16
      for (int i = 0; i < kMRInt8; ++i) {
        const VI av = vi_set1(load_quad(a[i] + 4 * q));
        acc0[i] = vi_dot_u8s8(acc0[i], av, b0);
        acc1[i] = vi_dot_u8s8(acc1[i], av, b1);
      }
      bp += 8 * kW;
    }
    const size_t off = static_cast<size_t>(g) * pl.npad + n0;
    const VF s0 = v_load(pl.sw + off), s1 = v_load(pl.sw + off + kW);
#pragma GCC unroll 16
    for (int i = 0; i < kMRInt8; ++i) {
      f0[i] = v_fmadd(vi_to_float(acc0[i]), s0, f0[i]);
      f1[i] = v_fmadd(vi_to_float(acc1[i]), s1, f1[i]);
    }
  }
  const int cols1 = cols - kW;
#pragma GCC unroll 16
  for (int i = 0; i < kMRInt8; ++i) {
    if (i >= rows) break;
    int8_store_row(pl, f0[i], f1[i], m0 + i, n0, cols < kW ? cols : kW, cols1);
  }
}

// One unit: every block of kMCInt8 rows of its run against every panel of its block. The panels (and
// their outliers' weights) stay in L2 while the blocks pass; a block's quantized rows stay in L2 while
// it meets the panels, and a panel in L1 while its row tiles run.
void int8_unit(void* ctx, long u, int /*worker*/) {
  const Int8Plan& pl = *static_cast<const Int8Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int m_begin = pl.grid.row_begin(u), m_end = g.M - m_begin < pl.grid.mc ? g.M : m_begin + pl.grid.mc;
  const int p0 = pl.grid.panel_begin(u), p1 = pl.grid.panel_end(u);
  for (int m0 = m_begin; m0 < m_end; m0 += kMCInt8) {
    const int rows = m_end - m0 < kMCInt8 ? m_end - m0 : kMCInt8;
    for (int p = p0; p < p1; ++p) {
      const int8_t* bp = pl.bq + static_cast<size_t>(p) * kNRi * pl.Kp;
      const int n0 = p * kNRi, cols = g.N - n0 < kNRi ? g.N - n0 : kNRi;
      for (int i = 0; i < rows; i += kMRInt8) {
        int8_micro_kernel(pl, bp, m0 + i, rows - i < kMRInt8 ? rows - i : kMRInt8, n0, cols);
      }
    }
  }
}

void gemm_int8_simd(const GemmArgs& g) {
  const int M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  Int8Plan pl;
  pl.g = &g;
  pl.Kp = quads(K) * 4;
  const char* base = static_cast<const char*>(g.b_lowp);
  pl.bq = reinterpret_cast<const int8_t*>(base);
  pl.npad = int8_n_pad(N);
  pl.sw = reinterpret_cast<const float*>(base + int8_panel_bytes(N, K));
  pl.zc = pl.sw + static_cast<size_t>(weight_groups(K)) * pl.npad * 2;
  pl.wt = reinterpret_cast<const uint16_t*>(base + int8_outlier_offset(N, K));
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
  pl.ov = reinterpret_cast<float*>(pl.oi + static_cast<size_t>(M) * kActOutliers);
  parallel_for((M + 15) / 16, int8_quantize_rows, &pl);
  // A panel brings its s8 weights (kNRi · Kp bytes) and its outliers' bf16 weights (kNRi · K · 2).
  const long panel_bytes = static_cast<long>(kNRi) * pl.Kp + static_cast<long>(kNRi) * K * 2;
  pl.grid = l2_grid(M, (N + kNRi - 1) / kNRi, panel_bytes, kMCInt8);
  parallel_for(pl.grid.units, int8_unit, &pl);
  delete[] heap;
}

}  // namespace
}  // namespace pbc
