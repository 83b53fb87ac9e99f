// kernels_avx2.cc — the AVX2+FMA level (compiled with -mavx2 -mfma; chosen only when CPUID and XCR0
// say the CPU and OS support it).
//
// Holds: weight packing into 16-column panels and a 6×16 register-blocked GEMM with the epilogue
// (bias, activation, residual) applied at the store. Attention and LayerNorm come from the level below.
// Numerics: each output is an fp32 FMA chain over k in index order, so results differ from the scalar
// reference only by FMA's single rounding (relative ~1e-6 on the parity test sizes).
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/kernels.h"

namespace pbc {
namespace {

constexpr int kPanel = 16;  // columns of W per packed panel: two ymm registers
constexpr int kRows = 6;    // rows of A per micro-tile: 6×2 accumulators + 2 B + 1 A = 15 of 16 ymm

// Packed layout: panel p holds columns [16p, 16p+16) of Wᵀ as K consecutive rows of 16 floats,
// zero-padded past N, so the micro-kernel reads B strictly sequentially.
size_t packed_weight_size_avx2(int N, int K) {
  return static_cast<size_t>((N + kPanel - 1) / kPanel) * kPanel * K;
}

void pack_weight_avx2(float* packed, const float* w, int N, int K) {
  const int panels = (N + kPanel - 1) / kPanel;
  for (int p = 0; p < panels; ++p) {
    float* dst = packed + static_cast<size_t>(p) * kPanel * K;
    for (int k = 0; k < K; ++k) {
      for (int j = 0; j < kPanel; ++j) {
        const int n = p * kPanel + j;
        dst[static_cast<size_t>(k) * kPanel + j] = n < N ? w[static_cast<size_t>(n) * K + k] : 0.0f;
      }
    }
  }
}

// Applies bias, activation and residual to one finished 16-wide accumulator row and stores `cols` of it.
inline void store_row(const GemmArgs& g, int m, int n0, int cols, __m256 lo, __m256 hi) {
  float tmp[kPanel];
  _mm256_storeu_ps(tmp, lo);
  _mm256_storeu_ps(tmp + 8, hi);
  float* c = g.c + static_cast<size_t>(m) * g.ldc + n0;
  const float* res = g.residual ? g.residual + static_cast<size_t>(m) * g.ldr + n0 : nullptr;
  for (int j = 0; j < cols; ++j) {
    float v = tmp[j];
    if (g.bias) v += g.bias[n0 + j];
    v = activation_scalar(v, g.act);
    if (res) v += res[j];
    c[j] = v;
  }
}

// One micro-tile: rows [m0, m0+rows) × panel p, full K.
template <int ROWS>
inline void micro_tile(const GemmArgs& g, int m0, int p) {
  const float* bp = g.b_packed + static_cast<size_t>(p) * kPanel * g.K;
  __m256 acc[ROWS][2];
  for (int i = 0; i < ROWS; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float* a = g.a + static_cast<size_t>(m0) * g.lda;
  for (int k = 0; k < g.K; ++k) {
    const __m256 b0 = _mm256_loadu_ps(bp + static_cast<size_t>(k) * kPanel);
    const __m256 b1 = _mm256_loadu_ps(bp + static_cast<size_t>(k) * kPanel + 8);
    for (int i = 0; i < ROWS; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + static_cast<size_t>(i) * g.lda + k);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  const int n0 = p * kPanel;
  const int cols = g.N - n0 < kPanel ? g.N - n0 : kPanel;
  for (int i = 0; i < ROWS; ++i) store_row(g, m0 + i, n0, cols, acc[i][0], acc[i][1]);
}

void gemm_avx2(const GemmArgs& g) {
  const int panels = (g.N + kPanel - 1) / kPanel;
  const int row_blocks = (g.M + kRows - 1) / kRows;
  const long tiles = static_cast<long>(panels) * row_blocks;
  // Tiles are numbered panel-major, so a thread's contiguous share reuses each B panel from cache
  // across several row blocks.
#pragma omp parallel for schedule(static)
  for (long t = 0; t < tiles; ++t) {
    const int p = static_cast<int>(t / row_blocks);
    const int m0 = static_cast<int>(t % row_blocks) * kRows;
    switch (g.M - m0 < kRows ? g.M - m0 : kRows) {
      case 6: micro_tile<6>(g, m0, p); break;
      case 5: micro_tile<5>(g, m0, p); break;
      case 4: micro_tile<4>(g, m0, p); break;
      case 3: micro_tile<3>(g, m0, p); break;
      case 2: micro_tile<2>(g, m0, p); break;
      default: micro_tile<1>(g, m0, p); break;
    }
  }
}

}  // namespace

void fill_kernels_avx2(Kernels* k) {
  k->name = "avx2";
  k->isa = Isa::kAvx2;
  k->packed_weight_size = packed_weight_size_avx2;
  k->pack_weight = pack_weight_avx2;
  k->gemm = gemm_avx2;
}

}  // namespace pbc
