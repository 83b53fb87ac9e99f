// lowp_amx.cc — gemm_bf16 on AMX's tdpbf16ps and gemm_int8 on tdpbusd (compiled with -mamx-tile
// -mamx-bf16 -mamx-int8 on top of the AVX512-BF16 level's flags; dispatch.cc installs them as the `amx`
// level only when CPUID, XCR0 and Linux's permission allow AMX, and that level is then the default unless
// PYBERTCORE_AMX=0).
//
// Same numbers as the AVX-512 low-precision levels, different engine:
//   bf16: A rounded to bf16 (nearest even, quantize.h's bf16_from_float, as the avx512_bf16 level does)
//         once per call into the calling thread's scratch; products of bf16 pairs summed in fp32 by the
//         tile unit over the whole of K (no K blocks), then simd/epilogue.h's store_out. Within the
//         avx512_bf16 level's tolerance of the scalar reference (bf16_rounds_activations), not its bits:
//         the tile unit rounds its sums its own way (tests/native/amx_tile_emulate.h).
//   int8: A quantized per row exactly as every level (simd/quantize_act.h), the same pair-safe s8
//         weights; exact int32 sums per weight group of 128 k in the C tiles, folded into fp32 with the
//         group's scales by the same FMAs in the same order as the avx512_vnni level, and finished by the
//         same int8_store_row (simd/gemm_int8.h): bit for bit the avx512_vnni level's result.
// Packed weights (chosen at load by the level's pack functions), panels of 32 output columns = two
// 16-column B tiles, K padded with zeros to whole tiles of K:
//   bf16: K to a multiple of 32; pair row kk of a panel holds (W[j][2kk], W[j][2kk+1]) for its 32 columns
//         j: 128 bytes, of which a B tile reads 64 with a stride of 128 (the avx512_bf16 layout with K
//         padded further);
//   int8: K to a multiple of 64; quad row q holds W[j][4q .. 4q+3] for the 32 columns (128 bytes); then
//         scale_w, Σq_w, zc and the outliers' bf16(W)ᵀ laid out as simd/gemm_int8.h lays them out.
// Tiles (amx/tile.h): C in tiles 0-3 (a 32 × 32 block of C), A in 4-5, B in 6-7. Each parallel unit
// configures the tiles of the thread running it (ldtilecfg) and releases them (tilerelease) when done,
// so no thread returns to the pool holding tile state. Rows past M read zero rows of the converted /
// quantized A (padded to 16 rows) and are never stored; columns past N are zero weights, never stored.
// Timed (bench/README.md: bf16 3.6–5.6× the vdpbf16ps level on an Emerald Rapids Xeon) but not tuned:
// the GEMMs reach 10–14% of the tile unit's peak. The int8 fold of each 128-k group goes through memory
// between the tile unit's steps, and a 32-row A block and a panel over the whole of K do not fit L1
// together, so both operands stream from L2 on every tile step.
#define PBC_LOWP_BF16_DOT 1  // vec_lowp_avx512.h's bf16 vocabulary (bf16_pairs16): AVX512-BF16 is in our flags
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_int8.h"
#include "kernels/amx/tile.h"
#include "runtime/cpu.h"

namespace pbc {
namespace {

constexpr int kNRa = 32;        // columns per weight panel: two B tiles
constexpr int kMCAmx = 128;     // rows per A block of a work unit (a multiple of 32)
constexpr int kKTileBf16 = 32;  // k per A tile: 16 rows of 64 bytes = 32 bf16
constexpr int kKTileInt8 = 64;  // 64 u8
static_assert(kWeightGroup % kKTileInt8 == 0, "a weight group is whole K tiles");

inline int round_up(int x, int to) { return (x + to - 1) / to * to; }
inline int panels_of(int N) { return (N + kNRa - 1) / kNRa; }

// How C is cut into work units: blocks of up to kMCAmx rows × runs of nb panels, at least 4 units per
// thread when the shape allows it (as simd/gemm_bf16.h).
struct AmxGrid {
  int mc, mblocks, panels, nb;
  long units;
  AmxGrid(int M, int N) {
    panels = panels_of(N);
    mblocks = (M + kMCAmx - 1) / kMCAmx;
    const int per = (M + mblocks - 1) / mblocks;
    mc = round_up(per, 32);
    mblocks = (M + mc - 1) / mc;
    const int threads = parallel_threads();
    nb = panels;
    while (nb > 1 && static_cast<long>(mblocks) * ((panels + nb - 1) / nb) < 4L * threads) nb = (nb + 1) / 2;
    units = static_cast<long>(mblocks) * ((panels + nb - 1) / nb);
  }
};

// The rows each A and C tile holds: 16, or M when the whole GEMM has fewer.
inline int tile_rows(int M) { return M < 16 ? M : 16; }

// One row of C's 32-column block from a 32-float row of the tile store: epilogue and (partial) store.
inline void store_block_row(const GemmArgs& g, const float* row, int m, int n0, int cols) {
  store_out(g, v_load(row), m, n0, cols < kW ? cols : kW, true, false);
  if (cols > kW) store_out(g, v_load(row + kW), m, n0 + kW, cols - kW, true, false);
}

// --- bf16 ------------------------------------------------------------------------------------------

size_t packed_bf16_bytes_amx(int N, int K) {
  return static_cast<size_t>(panels_of(N)) * kNRa * round_up(K, kKTileBf16) * sizeof(uint16_t);
}

struct AmxBf16Pack {
  uint16_t* packed;
  const float* w;
  int N, K;
};

void amx_bf16_pack_panel(void* ctx, long p, int /*worker*/) {
  const AmxBf16Pack& pl = *static_cast<const AmxBf16Pack*>(ctx);
  const int Kp = round_up(pl.K, kKTileBf16);
  uint16_t* dst = pl.packed + static_cast<size_t>(p) * kNRa * Kp;
  for (int j = 0; j < kNRa; ++j) {
    const int n = static_cast<int>(p) * kNRa + j;
    const float* src = pl.w + static_cast<size_t>(n) * pl.K;
    for (int k = 0; k < Kp; ++k) {
      const uint16_t v = (n < pl.N && k < pl.K) ? bf16_from_float(src[k]) : 0;
      dst[(static_cast<size_t>(k / 2) * kNRa + j) * 2 + (k & 1)] = v;
    }
  }
}

void pack_weight_bf16_amx(void* packed, const float* w, int N, int K) {
  AmxBf16Pack pl{static_cast<uint16_t*>(packed), w, N, K};
  parallel_for(panels_of(N), amx_bf16_pack_panel, &pl);
}

// dst (Kp) ← bf16(src (K)) rounded to nearest even exactly as bf16_from_float, zeros past K.
inline void bf16_convert_row(uint16_t* dst, const float* src, int K, int Kp) {
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    uint32_t pairs[8];
    bf16_pairs16(pairs, src + k);
    memcpy(dst + k, pairs, sizeof(pairs));
  }
  for (; k < K; ++k) dst[k] = bf16_from_float(src[k]);
  for (; k < Kp; ++k) dst[k] = 0;
}

struct AmxBf16Plan {
  const GemmArgs* g;
  AmxGrid grid;
  int Kp, trows;
  uint16_t* ab;  // (round_up(M, 16), Kp) bf16(A), zero padded
  const uint16_t* b;
};

void amx_bf16_convert_rows(void* ctx, long u, int /*worker*/) {
  const AmxBf16Plan& pl = *static_cast<const AmxBf16Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int r0 = static_cast<int>(u) * 16, r1 = r0 + 16;
  for (int m = r0; m < r1; ++m) {
    uint16_t* dst = pl.ab + static_cast<size_t>(m) * pl.Kp;
    if (m < g.M) {
      bf16_convert_row(dst, g.a + static_cast<size_t>(m) * g.lda, g.K, pl.Kp);
    } else {
      memset(dst, 0, sizeof(uint16_t) * pl.Kp);
    }
  }
}

// C[m0 : m0+live, n0 : n0+cols] = epilogue(A rows · panel bp), live ≤ 32 (TWO: two row tiles), cols ≤ 32.
template <bool TWO>
inline void amx_bf16_block(const AmxBf16Plan& pl, const uint16_t* bp, int m0, int live, int n0, int cols) {
  const int Kp = pl.Kp;
  const long lda = static_cast<long>(Kp) * 2;  // bytes
  const char* a = reinterpret_cast<const char*>(pl.ab + static_cast<size_t>(m0) * Kp);
  const char* b = reinterpret_cast<const char*>(bp);
  tile_zero(0);
  tile_zero(1);
  if (TWO) {
      tile_zero(2);
      tile_zero(3);
    }
  for (int k0 = 0; k0 < Kp; k0 += kKTileBf16) {
    const char* bk = b + static_cast<size_t>(k0 / 2) * kNRa * 4;  // 16 pair rows of 128 bytes
    tile_load(4, a + k0 * 2, lda);
    tile_load(6, bk, kNRa * 4);
    tile_load(7, bk + 64, kNRa * 4);
    tile_dp_bf16(0, 4, 6);
    tile_dp_bf16(1, 4, 7);
    if (TWO) {
      tile_load(5, a + 16 * lda + k0 * 2, lda);
      tile_dp_bf16(2, 5, 6);
      tile_dp_bf16(3, 5, 7);
    }
  }
  alignas(64) float c[32 * kNRa];
  tile_store(0, c, kNRa * 4);
  tile_store(1, c + 16, kNRa * 4);
  if (TWO) {
    tile_store(2, c + 16 * kNRa, kNRa * 4);
    tile_store(3, c + 16 * kNRa + 16, kNRa * 4);
  }
  const GemmArgs& g = *pl.g;
  for (int r = 0; r < live; ++r) store_block_row(g, c + r * kNRa, m0 + r, n0, cols);
}

void amx_bf16_unit(void* ctx, long u, int /*worker*/) {
  const AmxBf16Plan& pl = *static_cast<const AmxBf16Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const AmxGrid& gr = pl.grid;
  const int jb = static_cast<int>(u / gr.mblocks), ib = static_cast<int>(u % gr.mblocks);
  const int m0 = ib * gr.mc, rows = g.M - m0 < gr.mc ? g.M - m0 : gr.mc;
  const int p0 = jb * gr.nb, p1 = p0 + gr.nb < gr.panels ? p0 + gr.nb : gr.panels;
  tile_configure(pl.trows);
  for (int p = p0; p < p1; ++p) {
    const uint16_t* bp = pl.b + static_cast<size_t>(p) * kNRa * pl.Kp;
    const int n0 = p * kNRa, cols = g.N - n0 < kNRa ? g.N - n0 : kNRa;
    for (int i = 0; i < rows; i += 32) {
      const int live = rows - i < 32 ? rows - i : 32;
      if (live > 16) {
        amx_bf16_block<true>(pl, bp, m0 + i, live, n0, cols);
      } else {
        amx_bf16_block<false>(pl, bp, m0 + i, live, n0, cols);
      }
    }
  }
  tile_release();
}

void gemm_bf16_amx(const GemmArgs& g) {
  const int M = g.M, N = g.N;
  if (M <= 0 || N <= 0) return;
  AmxBf16Plan pl{&g, AmxGrid(M, N), round_up(g.K, kKTileBf16), tile_rows(M), nullptr,
                 static_cast<const uint16_t*>(g.b_lowp)};
  const int Mp = round_up(M, 16);
  const size_t floats = (static_cast<size_t>(Mp) * pl.Kp + 1) / 2;
  float* scratch = thread_scratch(floats);
  float* heap = nullptr;  // only when no scratch could be had (out of memory): std::bad_alloc, before any work
  if (!scratch) scratch = heap = new float[floats];
  pl.ab = reinterpret_cast<uint16_t*>(scratch);
  parallel_for(Mp / 16, amx_bf16_convert_rows, &pl);
  parallel_for(pl.grid.units, amx_bf16_unit, &pl);
  delete[] heap;
}

// --- int8 ------------------------------------------------------------------------------------------

inline size_t amx_int8_panel_bytes(int N, int K) {
  return static_cast<size_t>(panels_of(N)) * kNRa * round_up(K, kKTileInt8);
}
inline size_t amx_int8_outlier_offset(int N, int K) {
  return amx_int8_panel_bytes(N, K) + static_cast<size_t>(int8_n_pad(N)) * (weight_groups(K) * 8 + 4);
}
size_t packed_int8_bytes_amx(int N, int K) {
  return amx_int8_outlier_offset(N, K) + static_cast<size_t>(K) * int8_n_pad(N) * 2;
}

struct AmxInt8Pack {
  char* packed;
  const float* w;
  int N, K;
};

// Panel p: its quad rows, then its channels' scales, Σq, zc and bf16 outlier weights (simd/gemm_int8.h's
// int8_pack_panel with K padded to whole tiles).
void amx_int8_pack_panel(void* ctx, long p, int /*worker*/) {
  const AmxInt8Pack& pl = *static_cast<const AmxInt8Pack*>(ctx);
  const int K = pl.K, Kp = round_up(K, kKTileInt8);
  int8_t* dst = reinterpret_cast<int8_t*>(pl.packed) + static_cast<size_t>(p) * kNRa * Kp;
  const int G = weight_groups(K), npad = int8_n_pad(pl.N);
  float* scale = reinterpret_cast<float*>(pl.packed + amx_int8_panel_bytes(pl.N, K));  // (G, npad)
  int32_t* qsum = reinterpret_cast<int32_t*>(scale + static_cast<size_t>(G) * npad);   // (G, npad)
  float* zc = reinterpret_cast<float*>(qsum + static_cast<size_t>(G) * npad);          // (npad)
  uint16_t* wt = reinterpret_cast<uint16_t*>(pl.packed + amx_int8_outlier_offset(pl.N, K));  // (K, npad)
  int8_t* row = new int8_t[K > 0 ? K : 1];
  float* rs = new float[G > 0 ? G : 1];
  int32_t* rq = new int32_t[G > 0 ? G : 1];
  for (int j = 0; j < kNRa; ++j) {
    const int n = static_cast<int>(p) * kNRa + j;
    if (n < pl.N) quantize_weight_row(row, rs, rq, pl.w + static_cast<size_t>(n) * K, K);
    float c = 0.0f;
    for (int g = 0; g < G; ++g) {
      scale[static_cast<size_t>(g) * npad + n] = n < pl.N ? rs[g] : 0.0f;
      qsum[static_cast<size_t>(g) * npad + n] = n < pl.N ? rq[g] : 0;
      if (n < pl.N) c += rs[g] * static_cast<float>(rq[g]);
    }
    zc[n] = c;
    for (int k = 0; k < Kp; ++k) {
      dst[(static_cast<size_t>(k / 4) * kNRa + j) * 4 + (k & 3)] = (n < pl.N && k < K) ? row[k] : 0;
    }
  }
  for (int k = 0; k < K; ++k) {
    uint16_t* dst_k = wt + static_cast<size_t>(k) * npad + static_cast<size_t>(p) * kNRa;
    for (int j = 0; j < kNRa; ++j) {
      const int n = static_cast<int>(p) * kNRa + j;
      dst_k[j] = n < pl.N ? bf16_from_float(pl.w[static_cast<size_t>(n) * K + k]) : 0;
    }
  }
  delete[] row;
  delete[] rs;
  delete[] rq;
}

void pack_weight_int8_amx(void* packed, const float* w, int N, int K) {
  static_assert(kNRa == kNRi, "the scales' padding (int8_n_pad) assumes the VNNI level's panel width");
  AmxInt8Pack pl{static_cast<char*>(packed), w, N, K};
  parallel_for(panels_of(N), amx_int8_pack_panel, &pl);
}

struct AmxInt8Plan {
  Int8Plan q;  // quantized A, scales and the weights' tables, as simd/gemm_int8.h reads them
  AmxGrid grid;
  int trows, Mp;
};

void amx_int8_zero_pad_rows(const AmxInt8Plan& pl) {
  for (int m = pl.q.g->M; m < pl.Mp; ++m) memset(pl.q.aq + static_cast<size_t>(m) * pl.q.Kp, 0, pl.q.Kp);
}

// C[m0 : m0+live, n0 : n0+cols] = epilogue(q(A) rows · panel bp), live ≤ 32 (TWO: two row tiles).
template <bool TWO>
inline void amx_int8_block(const AmxInt8Plan& pl, const int8_t* bp, int m0, int live, int n0, int cols) {
  const Int8Plan& q = pl.q;
  const int Kp = q.Kp;
  const char* a = reinterpret_cast<const char*>(q.aq + static_cast<size_t>(m0) * Kp);
  const char* b = reinterpret_cast<const char*>(bp);
  alignas(64) float f[32 * kNRa];
  alignas(64) int32_t acc[32 * kNRa];
  const int frows = TWO ? 32 : 16;
  for (int i = 0; i < frows * kNRa; i += kW) v_store(f + i, v_zero());
  for (int k0 = 0, gi = 0; k0 < Kp; k0 += kWeightGroup, ++gi) {
    const int k1 = k0 + kWeightGroup < Kp ? k0 + kWeightGroup : Kp;
    tile_zero(0);
    tile_zero(1);
    if (TWO) {
      tile_zero(2);
      tile_zero(3);
    }
    for (int k = k0; k < k1; k += kKTileInt8) {
      const char* bk = b + static_cast<size_t>(k / 4) * kNRa * 4;  // 16 quad rows of 128 bytes
      tile_load(4, a + k, Kp);
      tile_load(6, bk, kNRa * 4);
      tile_load(7, bk + 64, kNRa * 4);
      tile_dp_u8s8(0, 4, 6);
      tile_dp_u8s8(1, 4, 7);
      if (TWO) {
        tile_load(5, a + 16L * Kp + k, Kp);
        tile_dp_u8s8(2, 5, 6);
        tile_dp_u8s8(3, 5, 7);
      }
    }
    tile_store(0, acc, kNRa * 4);
    tile_store(1, acc + 16, kNRa * 4);
    if (TWO) {
      tile_store(2, acc + 16 * kNRa, kNRa * 4);
      tile_store(3, acc + 16 * kNRa + 16, kNRa * 4);
    }
    // The fold of simd/gemm_int8.h's micro-kernel, the same FMA per element and group.
    const size_t off = static_cast<size_t>(gi) * q.npad + n0;
    const VF s0 = v_load(q.sw + off), s1 = v_load(q.sw + off + kW);
    for (int r = 0; r < live; ++r) {
      float* fr = f + r * kNRa;
      const int32_t* ar = acc + r * kNRa;
      v_store(fr, v_fmadd(vi_to_float(vi_load(ar)), s0, v_load(fr)));
      v_store(fr + kW, v_fmadd(vi_to_float(vi_load(ar + kW)), s1, v_load(fr + kW)));
    }
  }
  for (int r = 0; r < live; ++r) {
    int8_store_row(q, v_load(f + r * kNRa), v_load(f + r * kNRa + kW), m0 + r, n0, cols < kW ? cols : kW, cols - kW);
  }
}

void amx_int8_unit(void* ctx, long u, int /*worker*/) {
  const AmxInt8Plan& pl = *static_cast<const AmxInt8Plan*>(ctx);
  const GemmArgs& g = *pl.q.g;
  const AmxGrid& gr = pl.grid;
  const int jb = static_cast<int>(u / gr.mblocks), ib = static_cast<int>(u % gr.mblocks);
  const int m0 = ib * gr.mc, rows = g.M - m0 < gr.mc ? g.M - m0 : gr.mc;
  const int p0 = jb * gr.nb, p1 = p0 + gr.nb < gr.panels ? p0 + gr.nb : gr.panels;
  tile_configure(pl.trows);
  for (int p = p0; p < p1; ++p) {
    const int8_t* bp = pl.q.bq + static_cast<size_t>(p) * kNRa * pl.q.Kp;
    const int n0 = p * kNRa, cols = g.N - n0 < kNRa ? g.N - n0 : kNRa;
    for (int i = 0; i < rows; i += 32) {
      const int live = rows - i < 32 ? rows - i : 32;
      if (live > 16) {
        amx_int8_block<true>(pl, bp, m0 + i, live, n0, cols);
      } else {
        amx_int8_block<false>(pl, bp, m0 + i, live, n0, cols);
      }
    }
  }
  tile_release();
}

void gemm_int8_amx(const GemmArgs& g) {
  const int M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  AmxInt8Plan pl{Int8Plan(), AmxGrid(M, N), tile_rows(M), round_up(M, 16)};
  Int8Plan& q = pl.q;
  q.g = &g;
  q.Kp = round_up(K, kKTileInt8);  // K = 0: no tiles, C = epilogue(0) as on the other levels
  q.npad = int8_n_pad(N);
  const char* base = static_cast<const char*>(g.b_lowp);
  q.bq = reinterpret_cast<const int8_t*>(base);
  q.sw = reinterpret_cast<const float*>(base + amx_int8_panel_bytes(N, K));
  q.zc = q.sw + static_cast<size_t>(weight_groups(K)) * q.npad * 2;
  q.wt = reinterpret_cast<const uint16_t*>(base + amx_int8_outlier_offset(N, K));
  // Quantized A (Mp rows), then the row scales, zero points and outliers, in the calling thread's scratch.
  const size_t a_floats = (static_cast<size_t>(pl.Mp) * q.Kp + 3) / 4;
  const size_t scratch_floats = a_floats + (2 + 2 * kActOutliers) * static_cast<size_t>(M);
  float* scratch = thread_scratch(scratch_floats);
  float* heap = nullptr;  // only when no scratch could be had (out of memory): std::bad_alloc, before any work
  if (!scratch) scratch = heap = new float[scratch_floats];
  q.aq = reinterpret_cast<uint8_t*>(scratch);
  q.sa = scratch + a_floats;
  q.za = reinterpret_cast<int32_t*>(q.sa + M);
  q.oi = q.za + M;
  q.ov = reinterpret_cast<float*>(q.oi + static_cast<size_t>(M) * kActOutliers);
  parallel_for((M + 15) / 16, int8_quantize_rows, &q);
  amx_int8_zero_pad_rows(pl);
  parallel_for(pl.grid.units, amx_int8_unit, &pl);
  delete[] heap;
}

}  // namespace

#ifndef PBC_AMX_TILE_EMULATED
void amx_tile_state_probe(bool* while_configured, bool* after_release) {
  tile_configure(16);
  tile_zero(0);
  *while_configured = amx_tile_state_in_use();
  tile_release();
  *after_release = amx_tile_state_in_use();
}
#endif

void fill_lowp_amx(Kernels* k) {
  k->packed_bf16_bytes = packed_bf16_bytes_amx;
  k->pack_weight_bf16 = pack_weight_bf16_amx;
  k->gemm_bf16 = gemm_bf16_amx;
  k->bf16_rounds_activations = true;
  k->bf16_kernel = "amx (tdpbf16ps)";
  k->packed_int8_bytes = packed_int8_bytes_amx;
  k->pack_weight_int8 = pack_weight_int8_amx;
  k->gemm_int8 = gemm_int8_amx;
  k->quantize_act_row = quantize_act_row_simd;
  k->int8_kernel = "amx (tdpbusd)";
}

}  // namespace pbc
