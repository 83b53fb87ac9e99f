// simd/pack.h — the packed operand layouts of the fp32 GEMM (simd/gemm.h), and the packing into them.
//
//   * W (N, K), packed once at load into panels of kNR = 2·kW columns: panel p holds
//     Wᵀ[:, kNR·p : kNR·p+kNR] as K rows of kNR floats, zero-padded past N, so the micro-kernel reads B
//     strictly sequentially and a K block of a panel is one contiguous slice.
//   * A (M, K), packed per call (ABlocks below): K blocks of kKC columns, each holding A's row tiles
//     of kMR (or kMRSmall) rows with (k, i) at [k·h + i]. A producer (LayerNorm, or a GEMM's
//     epilogue) may write its output in this layout directly, so that the GEMM reading it skips its
//     packing pass (GemmArgs::a_packed).
// Included by gemm.h after a vec_<isa>.h; written in that vocabulary.
#pragma once

#include "kernels/kernels.h"
#include "runtime/parallel.h"

namespace pbc {
namespace {

constexpr int kNR = 2 * kW;
// A GEMM's output tile (kNR columns) lies inside one K block of the next GEMM: what lets an epilogue
// write its tile straight into the next GEMM's packed A (GemmArgs::c_packed).
static_assert(kKC % kNR == 0, "K blocks must hold whole panels");

size_t packed_weight_size_simd(int N, int K) {
  return static_cast<size_t>((N + kNR - 1) / kNR) * kNR * K;
}

struct PackPlan {
  float* packed;
  const float* w;
  int N, K;
};

// dst[k·h + i] = src[i·ld + k] for k in [0, kc) and i in [0, h), rows i ≥ live read as 0: the rows of
// src written column by column, h floats per column. This is the layout of a packed A row tile (h =
// kMR or kMRSmall) and of a B panel (h = kNR; the rows are weight rows, or attention's keys). kW
// columns at a time go through a register transpose, a fraction of the instructions of one scalar
// move per float: attention per head ran 3-4% faster (keys packed this way), and loading weights
// packs every panel. At batch 1 packing A takes as long either way: its time is the loads of rows
// another core just wrote. h is at most 2·kW, and at most kW or a multiple of it.
inline void pack_transposed(float* dst, const float* src, size_t ld, int live, int h, int kc) {
  int k = 0;
  for (; k + kW <= kc; k += kW) {
    VF r[2][kW];
    for (int g = 0; g * kW < h; ++g) {
      for (int i = 0; i < kW; ++i) {
        const int row = g * kW + i;
        r[g][i] = row < live ? v_load(src + static_cast<size_t>(row) * ld + k) : v_zero();
      }
      v_transpose(r[g]);
    }
    // Column k+j: a register per group of kW rows. When h < kW a store runs kW − h floats into the
    // next column, which is stored after it; only where that would pass the end of dst does the
    // store stop at h floats.
    for (int j = 0; j < kW; ++j) {
      const size_t at = static_cast<size_t>(k + j) * h;
      for (int g = 0; g * kW < h; ++g) {
        if (at + (g + 1) * kW <= static_cast<size_t>(kc) * h) {
          v_store(dst + at + g * kW, r[g][j]);
        } else {
          v_store_tail(dst + at + g * kW, r[g][j], h - g * kW);
        }
      }
    }
  }
  for (; k < kc; ++k) {
    for (int i = 0; i < h; ++i) {
      dst[static_cast<size_t>(k) * h + i] = i < live ? src[static_cast<size_t>(i) * ld + k] : 0.0f;
    }
  }
}

void pack_panel(void* ctx, long p, int /*worker*/) {
  const PackPlan& pl = *static_cast<const PackPlan*>(ctx);
  const int n0 = static_cast<int>(p) * kNR;
  pack_transposed(pl.packed + static_cast<size_t>(p) * kNR * pl.K, pl.w + static_cast<size_t>(n0) * pl.K, pl.K,
                  pl.N - n0 < kNR ? pl.N - n0 : kNR, kNR, pl.K);
}

void pack_weight_simd(float* packed, const float* w, int N, int K) {
  PackPlan pl{packed, w, N, K};
  parallel_for((N + kNR - 1) / kNR, pack_panel, &pl);
}

// The inverse, a panel per unit: w[n·K + k] = panel p's row k, column i (n = p·kNR + i; the zero
// padding past N is dropped). Not on any hot path (state_dict(), a repack): plain loads and stores.
struct UnpackPlan {
  float* w;
  const float* packed;
  int N, K;
};

void unpack_panel(void* ctx, long p, int /*worker*/) {
  const UnpackPlan& pl = *static_cast<const UnpackPlan*>(ctx);
  const int n0 = static_cast<int>(p) * kNR;
  const int live = pl.N - n0 < kNR ? pl.N - n0 : kNR;
  const float* panel = pl.packed + static_cast<size_t>(p) * kNR * pl.K;
  for (int k = 0; k < pl.K; ++k) {
    for (int i = 0; i < live; ++i) {
      pl.w[static_cast<size_t>(n0 + i) * pl.K + k] = panel[static_cast<size_t>(k) * kNR + i];
    }
  }
}

void unpack_weight_simd(float* w, const float* packed, int N, int K) {
  UnpackPlan pl{w, packed, N, K};
  parallel_for((N + kNR - 1) / kNR, unpack_panel, &pl);
}

// The row tiles of an A block of `rows` rows: `big` tiles of kMR rows, then `small` tiles of
// kMRSmall rows (2/3 of kMR on every level). Up to two small tiles stand in for the last big one so
// that the padding is at most kMR / 6 rows: a 128-token sequence runs as 20×6 + 2×4 rows on AVX2
// instead of 22×6 (132 rows, 3% of the FMAs on zeros).
struct RowTiles {
  int big, small;
  explicit RowTiles(int rows) {
    const int q = rows / kMR, r = rows % kMR;
    if (r == 0) {
      big = q, small = 0;
    } else if (q > 0 && r <= 2 * kMRSmall - kMR) {
      big = q - 1, small = 2;
    } else if (r <= kMRSmall) {
      big = q, small = 1;
    } else {
      big = q + 1, small = 0;
    }
  }
  int count() const { return big + small; }
  int row(int t) const { return t < big ? t * kMR : big * kMR + (t - big) * kMRSmall; }
  int height(int t) const { return t < big ? kMR : kMRSmall; }
  int padded() const { return big * kMR + small * kMRSmall; }  // ≤ rows rounded up to kMR
};

// How the GEMM blocks A's M rows, and with it the layout of a packed (M, K) operand:
//   * the fewest A blocks of at most kMCMax rows, equal in size and each a whole number of kMR-row
//     tiles except the last: block ib is rows [ib·mc, ib·mc + rows(ib)), tiled by RowTiles(rows(ib));
//   * K blocks of kKC columns (the last one kc = K − k0) one after another, each m_pad·kc floats;
//   * inside K block k0, the row tile starting at row r (height h) at m_pad·k0 + r·kc, holding
//     (k, i) at [k·h + i], rows past M zero.
// It depends on M and the level only: a producer of M rows and the GEMM that reads them agree.
struct ABlocks {
  int M, mc, count, m_pad;
  explicit ABlocks(int rows) : M(rows) {
    const int blocks = (M + kMCMax - 1) / kMCMax;
    const int per = blocks > 0 ? (M + blocks - 1) / blocks : 0;
    mc = (per + kMR - 1) / kMR * kMR;
    count = mc > 0 ? (M + mc - 1) / mc : 0;
    m_pad = count > 0 ? (count - 1) * mc + RowTiles(rows_of(count - 1)).padded() : 0;
  }
  int rows_of(int ib) const { return M - ib * mc < mc ? M - ib * mc : mc; }
  // The width of K block k0 (a multiple of kKC) of an operand of K columns, and where the block starts.
  static int kc_at(int k0, int K) { return K - k0 < kKC ? K - k0 : kKC; }
  size_t k_block_offset(int k0) const { return static_cast<size_t>(m_pad) * k0; }
};

size_t packed_a_floats_simd(int M, int K) { return static_cast<size_t>(ABlocks(M).m_pad) * K; }

// ap ← row tiles [t0, t1) (RowTiles(rows)) of A rows [0, rows) × columns [0, kc) of a (row stride
// lda). Tile t of height h sits at ap + row(t)·kc with (k, i) at [k·h + i]; rows past `rows` are 0.
inline void pack_a_tiles(float* ap, const float* a, int lda, int rows, int kc, int t0, int t1) {
  const RowTiles rt(rows);
  for (int t = t0; t < t1; ++t) {
    const int h = rt.height(t), r0 = rt.row(t), live = rows - r0 < h ? rows - r0 : h;
    pack_transposed(ap + static_cast<size_t>(r0) * kc, a + static_cast<size_t>(r0) * lda, lda, live, h, kc);
  }
}

inline void pack_a(float* ap, const float* a, int lda, int rows, int kc) {
  pack_a_tiles(ap, a, lda, rows, kc, 0, RowTiles(rows).count());
}

// packed (ABlocks(M) layout of an (M, K) operand) ← row tiles [t0, t1) of A block ib, all K blocks:
// A's rows at a (row stride lda).
inline void pack_a_block_tiles(float* packed, const float* a, int lda, const ABlocks& ab, int K, int ib, int t0,
                               int t1) {
  const int m0 = ib * ab.mc, rows = ab.rows_of(ib);
  for (int k0 = 0; k0 < K; k0 += kKC) {
    const int kc = ABlocks::kc_at(k0, K);
    pack_a_tiles(packed + ab.k_block_offset(k0) + static_cast<size_t>(m0) * kc,
                 a + static_cast<size_t>(m0) * lda + k0, lda, rows, kc, t0, t1);
  }
}

}  // namespace
}  // namespace pbc
