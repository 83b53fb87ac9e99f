// kernels_avx512.cc — the AVX-512 level (F, BW, DQ, VL; compiled with those flags only here; chosen
// only when CPUID and XCR0 say the CPU and OS support it).
//
// Holds: a 12×16 register-blocked GEMM (one zmm per row of the micro-tile) over the same 16-column
// panels the AVX2 level packs, with the epilogue fused into a masked store. Everything else comes from
// the levels below. Numerics: an fp32 FMA chain over k in index order per output, like the AVX2 level.
#include <immintrin.h>

#include "kernels/activation.h"
#include "kernels/kernels.h"

namespace pbc {
namespace {

constexpr int kPanel = 16;  // one zmm of W columns, the layout of pack_weight_avx512
constexpr int kRows = 12;   // 12 accumulators + 1 B + 1 A broadcast of 32 zmm; leaves room to unroll

size_t packed_weight_size_avx512(int N, int K) {
  return static_cast<size_t>((N + kPanel - 1) / kPanel) * kPanel * K;
}

void pack_weight_avx512(float* packed, const float* w, int N, int K) {
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

inline void store_row(const GemmArgs& g, int m, int n0, int cols, __m512 acc) {
  const __mmask16 mask = static_cast<__mmask16>(cols >= 16 ? 0xFFFF : (1u << cols) - 1u);
  if (g.bias) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, g.bias + n0));
  if (g.act != Activation::kIdentity) {
    alignas(64) float tmp[kPanel];
    _mm512_store_ps(tmp, acc);
    for (int j = 0; j < cols; ++j) tmp[j] = activation_scalar(tmp[j], g.act);
    acc = _mm512_load_ps(tmp);
  }
  if (g.residual) {
    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, g.residual + static_cast<size_t>(m) * g.ldr + n0));
  }
  _mm512_mask_storeu_ps(g.c + static_cast<size_t>(m) * g.ldc + n0, mask, acc);
}

template <int ROWS>
inline void micro_tile(const GemmArgs& g, int m0, int p) {
  const float* bp = g.b_packed + static_cast<size_t>(p) * kPanel * g.K;
  __m512 acc[ROWS];
  for (int i = 0; i < ROWS; ++i) acc[i] = _mm512_setzero_ps();
  const float* a = g.a + static_cast<size_t>(m0) * g.lda;
  for (int k = 0; k < g.K; ++k) {
    const __m512 b = _mm512_loadu_ps(bp + static_cast<size_t>(k) * kPanel);
    for (int i = 0; i < ROWS; ++i) {
      acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[static_cast<size_t>(i) * g.lda + k]), b, acc[i]);
    }
  }
  const int n0 = p * kPanel;
  const int cols = g.N - n0 < kPanel ? g.N - n0 : kPanel;
  for (int i = 0; i < ROWS; ++i) store_row(g, m0 + i, n0, cols, acc[i]);
}

template <int... R>
struct TileTable {
  static constexpr void (*fn[sizeof...(R)])(const GemmArgs&, int, int) = {&micro_tile<R>...};
};

void gemm_avx512(const GemmArgs& g) {
  const int panels = (g.N + kPanel - 1) / kPanel;
  const int row_blocks = (g.M + kRows - 1) / kRows;
  const long tiles = static_cast<long>(panels) * row_blocks;
  // Tile index t → (rows - 1): a remainder block takes the narrower instantiation.
  using Table = TileTable<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>;
#pragma omp parallel for schedule(static)
  for (long t = 0; t < tiles; ++t) {
    const int p = static_cast<int>(t / row_blocks);
    const int m0 = static_cast<int>(t % row_blocks) * kRows;
    const int rows = g.M - m0 < kRows ? g.M - m0 : kRows;
    Table::fn[rows - 1](g, m0, p);
  }
}

}  // namespace

void fill_kernels_avx512(Kernels* k) {
  k->name = "avx512";
  k->isa = Isa::kAvx512;
  k->packed_weight_size = packed_weight_size_avx512;
  k->pack_weight = pack_weight_avx512;
  k->gemm = gemm_avx512;
}

}  // namespace pbc
