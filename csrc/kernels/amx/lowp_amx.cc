// lowp_amx.cc — gemm_bf16 on AMX's tdpbf16ps and gemm_int8 on tdpbusd (compiled with -mamx-tile
// -mamx-bf16 -mamx-int8 on top of the AVX512-BF16 level's flags; dispatch.cc installs them as the `amx`
// level only when CPUID, XCR0 and Linux's permission allow AMX, and that level is then the default unless
// PYBERTCORE_AMX=0).
//
// Same numbers as the AVX-512 low-precision levels, different engine:
//   bf16: A rounded to bf16 (nearest even, quantize.h's bf16_from_float, as the avx512_bf16 level does)
//         once per call into the calling thread's scratch, or handed over already rounded by the previous
//         bf16 GEMM (the FFN's intermediate: GemmArgs::a_packed / c_packed); products of bf16 pairs
//         summed in fp32 by the tile unit over the whole of K (no K blocks), then simd/epilogue.h's
//         finish_out. Within the avx512_bf16 level's tolerance of the scalar reference
//         (bf16_rounds_activations), not its bits: the tile unit rounds its sums its own way
//         (tests/native/amx_tile_emulate.h).
//   int8: A quantized per row exactly as every level (simd/quantize_act.h), the same pair-safe s8
//         weights; exact int32 sums per weight group of 128 k in the C tiles, folded into fp32 with the
//         group's scales by the same FMAs in the same order as the avx512_vnni level, and finished by the
//         same int8_store_row (simd/gemm_int8.h): bit for bit the avx512_vnni level's result.
// Packed weights (chosen at load by the level's pack functions), panels of 32 output columns = two
// 16-column B tiles, K padded with zeros to whole tiles of K:
//   bf16: K to a multiple of 32; tile by tile (a k step of a panel: its two B tiles, 2 KiB in a row),
//         and so is bf16(A) (a k step of a 32-row block: its two A tiles);
//   int8: K to a multiple of 64; tile by tile too (a B tile row: W[j][4q .. 4q+3] for 16 columns j),
//         quantized A copied into the same tile layout; then scale_w, Σq_w, zc and the outliers'
//         bf16(W)ᵀ laid out as simd/gemm_int8.h lays them out.
// Tiles (amx/tile.h): C in tiles 0-3 (a 32 × 32 block of C), A in 4-5, B in 6-7. Each parallel unit
// configures the tiles of the thread running it (ldtilecfg) and releases them (tilerelease) when done,
// so no thread returns to the pool holding tile state. Rows past M read zero rows of the converted /
// quantized A (padded to 16 rows) and are never stored; columns past N are zero weights, never stored.
// Where the time goes (measured on an Emerald Rapids Xeon, bench/README.md): the tile unit itself runs at
// its peak only when one operand is in L1 and the other in L2; from memory (the weights of a whole model
// do not stay in cache) a core streams ~10 GB/s. So both GEMMs' units keep a block of panels in L2 over
// a run of rows and prefetch ahead (l2_grid, amx_walk_unit). The int8 GEMM's epilogue also gathers each
// row's outliers' bf16 weights, a cache line per outlier and panel: they count in the L2 budget too.
// Its fold of each 128-k group goes through memory between the tile unit's steps; placing the fold after
// the next group's steps (two accumulator buffers), so the tile unit would not wait for it, measured no
// faster.
#define PBC_LOWP_BF16_DOT 1  // vec_lowp_avx512.h's bf16 vocabulary (bf16_pairs16): AVX512-BF16 is in our flags
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_int8.h"
#include "kernels/amx/tile.h"
#include "kernels/l2_grid.h"
#include "runtime/cpu.h"

namespace pbc {
namespace {

constexpr int kNRa = 32;        // columns per weight panel: two B tiles
constexpr int kKTileBf16 = 32;  // k per A tile: 16 rows of 64 bytes = 32 bf16
constexpr int kKTileInt8 = 64;  // 64 u8
static_assert(kWeightGroup % kKTileInt8 == 0, "a weight group is whole K tiles");

inline int round_up(int x, int to) { return (x + to - 1) / to * to; }
inline int panels_of(int N) { return (N + kNRa - 1) / kNRa; }

// The rows each A and C tile holds: 16, or M when the whole GEMM has fewer.
inline int tile_rows(int M) { return M < 16 ? M : 16; }

// One row of C's 32-column block from a 32-float row of the tile store: epilogue and (partial) store.
inline void store_block_row(const GemmArgs& g, const float* row, int m, int n0, int cols) {
  store_out(g, v_load(row), m, n0, cols < kW ? cols : kW, true, false);
  if (cols > kW) store_out(g, v_load(row + kW), m, n0 + kW, cols - kW, true, false);
}

// --- the plan both GEMMs share ----------------------------------------------------------------------

// Both operands of both GEMMs are laid out tile by tile, so that every tile load reads 1 KiB of
// consecutive memory (one stream for the hardware prefetchers, not 16): a k step of a panel is its two B
// tiles (columns 0-15, then 16-31; 16 rows of 64 bytes: pairs of bf16 or quads of s8 of 16 columns), a k
// step of a 32-row A block its two A tiles (rows 0-15, then 16-31; 16 rows of 64 bytes: 32 bf16 or 64 u8).
constexpr int kStepBytes = 2048;

// Where row m of an A operand of `steps` k steps starts, in bytes from `base`: blocks of 32 rows, each a
// run of k steps, a step the block's two A tiles (rows 0-15, 16-31) of 16 rows of 64 bytes; the row's
// 64 bytes of each step follow 2 KiB apart.
inline char* tile_row(char* base, int steps, int m) {
  return base + static_cast<size_t>(m / 32) * steps * kStepBytes + (m % 32 / 16) * (kStepBytes / 2) + (m % 16) * 64;
}

// A row past M, zero in every step: the tile loads of a block's last rows read it.
inline void zero_tile_row(char* row, int steps) {
  for (int s = 0; s < steps; ++s) memset(row + static_cast<size_t>(s) * kStepBytes, 0, 64);
}

// Prefetches into L2, spread over a block's k steps: `lines` cache lines from `from`, `per` per step.
struct L2Prefetch {
  const char* from = nullptr;
  long lines = 0, per = 0;
  L2Prefetch() = default;
  L2Prefetch(const char* f, long bytes, int steps) : from(f), lines(bytes / 64), per((bytes / 64 + steps - 1) / steps) {}
  inline void step(int s) const {
    const long l1 = (s + 1) * per < lines ? (s + 1) * per : lines;
    for (long l = s * per; l < l1; ++l) _mm_prefetch(from + l * 64, _MM_HINT_T1);
  }
};

// One unit's walk, the same for both GEMMs: every A block of its run of rows against every panel of its
// block, block(a, panel, prefetch, m0, live, n0, cols) for each. While the first A block passes over the
// panels, the next panel is prefetched into L2 (it comes from memory); while the later ones do, the
// panels are already there and the next A block is prefetched instead, a slice per panel. A blocks and
// panels are `steps` k steps of kStepBytes each.
template <class Block>
inline void amx_walk_unit(const L2Grid& gr, long u, int M, int N, int steps, const char* ab, const char* b,
                          Block&& block) {
  const int m_begin = gr.row_begin(u), m_end = M - m_begin < gr.mc ? M : m_begin + gr.mc;
  const int p0 = gr.panel_begin(u), p1 = gr.panel_end(u);
  const long panel_bytes = static_cast<long>(steps) * kStepBytes;  // = an A block's
  const long slice = panel_bytes / (p1 - p0) / 64 * 64;           // of the next A block, per panel
  for (int m0 = m_begin; m0 < m_end; m0 += 32) {
    const int live = m_end - m0 < 32 ? m_end - m0 : 32;
    const char* a = ab + (m0 / 32) * panel_bytes;
    for (int p = p0; p < p1; ++p) {
      L2Prefetch pf;  // none when K = 0 (no steps to spread it over)
      if (m0 == m_begin && p + 1 < p1 && steps > 0) {
        pf = L2Prefetch(b + (p + 1) * panel_bytes, panel_bytes, steps);
      } else if (m0 + 32 < m_end && slice > 0) {
        pf = L2Prefetch(a + panel_bytes + (p - p0) * slice, slice, steps);
      }
      const int n0 = p * kNRa, cols = N - n0 < kNRa ? N - n0 : kNRa;
      block(a, b + p * panel_bytes, pf, m0, live, n0, cols);
    }
  }
}

// The C tiles (a 32 × 32 block of C; rows 16-31, tiles 2-3, only for TWO): zeroed, and stored to c
// (row stride kNRa).
template <bool TWO>
inline void c_tiles_zero() {
  tile_zero(0);
  tile_zero(1);
  if (TWO) {
    tile_zero(2);
    tile_zero(3);
  }
}

template <bool TWO, class T>
inline void c_tiles_store(T* c) {
  tile_store(0, c, kNRa * 4);
  tile_store(1, c + 16, kNRa * 4);
  if (TWO) {
    tile_store(2, c + 16 * kNRa, kNRa * 4);
    tile_store(3, c + 16 * kNRa + 16, kNRa * 4);
  }
}

// Steps [s0, s1) of A block a times panel b into the C tiles (INT8: tdpbusd, else tdpbf16ps), with the
// block's share of the prefetch.
template <bool TWO, bool INT8>
inline void tile_steps(const char* a, const char* b, const L2Prefetch& pf, int s0, int s1) {
  for (int s = s0; s < s1; ++s) {
    const char* as = a + static_cast<size_t>(s) * kStepBytes;
    const char* bs = b + static_cast<size_t>(s) * kStepBytes;
    if (pf.from) pf.step(s);
    tile_load(4, as, 64);
    tile_load(6, bs, 64);
    tile_load(7, bs + kStepBytes / 2, 64);
    if (INT8) {
      tile_dp_u8s8(0, 4, 6);
      tile_dp_u8s8(1, 4, 7);
    } else {
      tile_dp_bf16(0, 4, 6);
      tile_dp_bf16(1, 4, 7);
    }
    if (TWO) {
      tile_load(5, as + kStepBytes / 2, 64);
      if (INT8) {
        tile_dp_u8s8(2, 5, 6);
        tile_dp_u8s8(3, 5, 7);
      } else {
        tile_dp_bf16(2, 5, 6);
        tile_dp_bf16(3, 5, 7);
      }
    }
  }
}

// --- bf16 ------------------------------------------------------------------------------------------

constexpr int kStepHalves = kStepBytes / 2 / 2;  // uint16 offset of a step's second tile: 512

inline int k_steps(int K) { return round_up(K, kKTileBf16) / kKTileBf16; }

size_t packed_bf16_bytes_amx(int N, int K) {
  return static_cast<size_t>(panels_of(N)) * k_steps(K) * kStepBytes;
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
    uint16_t* col = dst + (j / 16) * kStepHalves + (j % 16) * 2;  // column j's place in a step's tiles
    for (int k = 0; k < Kp; ++k) {
      const uint16_t v = (n < pl.N && k < pl.K) ? bf16_from_float(src[k]) : 0;
      col[static_cast<size_t>(k / kKTileBf16) * (kStepBytes / 2) + (k % kKTileBf16) / 2 * 32 + (k & 1)] = v;
    }
  }
}

void pack_weight_bf16_amx(void* packed, const float* w, int N, int K) {
  AmxBf16Pack pl{static_cast<uint16_t*>(packed), w, N, K};
  parallel_for(panels_of(N), amx_bf16_pack_panel, &pl);
}

// dst[0..32) ← bf16(src[0..32)), nearest even exactly as bf16_from_float: one row of one k step.
inline void bf16_round_32(uint16_t* dst, const float* src) {
  uint32_t pairs[16];
  bf16_pairs16(pairs, src);
  bf16_pairs16(pairs + 8, src + 16);
  memcpy(dst, pairs, sizeof(pairs));
}

// dst ← bf16(src (K)) rounded to nearest even exactly as bf16_from_float, zeros past K: one row of a
// 32-row A block, its 32 values of each k step 2 KiB apart.
inline void bf16_convert_row(uint16_t* dst, const float* src, int K, int steps) {
  for (int s = 0; s < steps; ++s, dst += kStepBytes / 2) {
    const int k0 = s * kKTileBf16;
    if (k0 + kKTileBf16 <= K) {
      bf16_round_32(dst, src + k0);
    } else {
      for (int k = 0; k < kKTileBf16; ++k) dst[k] = k0 + k < K ? bf16_from_float(src[k0 + k]) : 0;
    }
  }
}

struct AmxBf16Plan {
  const GemmArgs* g;
  L2Grid grid;
  int steps, trows;
  uint16_t* ab;  // bf16(A), blocks of 32 rows laid out tile by tile, rows past M zero up to a multiple of 16
  const uint16_t* b;
  uint16_t* out = nullptr;  // g.c_packed: bf16(C) in the same layout, as the next GEMM's A (K = N)
  int out_steps = 0;
};

inline uint16_t* operand_row(uint16_t* base, int steps, int m) {
  return reinterpret_cast<uint16_t*>(tile_row(reinterpret_cast<char*>(base), steps, m));
}


// Whole 32-row blocks of k_steps(K) steps.
size_t packed_a_bf16_floats_amx(int M, int K) {
  return static_cast<size_t>((M + 31) / 32) * k_steps(K) * kStepBytes / sizeof(float);
}

void amx_bf16_convert_rows(void* ctx, long u, int /*worker*/) {
  const AmxBf16Plan& pl = *static_cast<const AmxBf16Plan*>(ctx);
  const GemmArgs& g = *pl.g;
  const int r0 = static_cast<int>(u) * 16, r1 = r0 + 16;
  for (int m = r0; m < r1; ++m) {
    uint16_t* dst = operand_row(pl.ab, pl.steps, m);
    if (m < g.M) {
      bf16_convert_row(dst, g.a + static_cast<size_t>(m) * g.lda, g.K, pl.steps);
    } else {
      zero_tile_row(reinterpret_cast<char*>(dst), pl.steps);
    }
  }
}

// Row m of C's 32 columns at n0 (a panel: one k step of the next GEMM, whose K is this N), finished as
// store_block_row finishes it, then rounded to bf16 as that GEMM rounds its A, into its layout (pl.out).
// Columns past N are zero: that K's padding.
inline void store_block_row_packed(const AmxBf16Plan& pl, const float* row, int m, int n0, int cols) {
  const GemmArgs& g = *pl.g;
  alignas(64) float v[kNRa];
  v_store(v, finish_out(g, v_load(row), m, n0, cols < kW ? cols : kW));
  v_store(v + kW, cols > kW ? finish_out(g, v_load(row + kW), m, n0 + kW, cols - kW) : v_zero());
  for (int j = cols; j < kNRa; ++j) v[j] = 0.0f;
  bf16_round_32(operand_row(pl.out, pl.out_steps, m) + static_cast<size_t>(n0 / kNRa) * (kStepBytes / 2), v);
}

// C[m0 : m0+live, n0 : n0+cols] = epilogue(A block a · panel b), live ≤ 32 (TWO: two row tiles), cols ≤ 32,
// the sums over the whole of K in the C tiles. (Blocking K so that an A block's slice stays in L1 while
// the panels pass measured no faster here: the tile loads from L2 keep up.)
template <bool TWO>
inline void amx_bf16_block(const AmxBf16Plan& pl, const char* a, const char* b, const L2Prefetch& pf, int m0,
                           int live, int n0, int cols) {
  c_tiles_zero<TWO>();
  tile_steps<TWO, false>(a, b, pf, 0, pl.steps);
  alignas(64) float c[32 * kNRa];
  c_tiles_store<TWO>(c);
  const GemmArgs& g = *pl.g;
  if (pl.out) {
    for (int r = 0; r < live; ++r) store_block_row_packed(pl, c + r * kNRa, m0 + r, n0, cols);
  } else {
    for (int r = 0; r < live; ++r) store_block_row(g, c + r * kNRa, m0 + r, n0, cols);
  }
}

void amx_bf16_unit(void* ctx, long u, int /*worker*/) {
  const AmxBf16Plan& pl = *static_cast<const AmxBf16Plan*>(ctx);
  tile_configure(pl.trows);
  amx_walk_unit(pl.grid, u, pl.g->M, pl.g->N, pl.steps, reinterpret_cast<const char*>(pl.ab),
                reinterpret_cast<const char*>(pl.b),
                [&pl](const char* a, const char* bp, const L2Prefetch& pf, int m0, int live, int n0, int cols) {
                  if (live > 16) {
                    amx_bf16_block<true>(pl, a, bp, pf, m0, live, n0, cols);
                  } else {
                    amx_bf16_block<false>(pl, a, bp, pf, m0, live, n0, cols);
                  }
                });
  tile_release();
}

// A comes converted here, or already in the layout from the previous bf16 GEMM (g.a_packed); C goes to
// g.c, or in the layout to the next one (g.c_packed, whose rows past M up to a multiple of 16 are
// zeroed here: its tile loads read them).
void gemm_bf16_amx(const GemmArgs& g) {
  const int M = g.M, N = g.N;
  if (M <= 0 || N <= 0) return;
  AmxBf16Plan pl{&g, l2_grid(M, panels_of(N), static_cast<long>(k_steps(g.K)) * kStepBytes, 32), k_steps(g.K), tile_rows(M), nullptr,
                 static_cast<const uint16_t*>(g.b_lowp)};
  if (g.c_packed) {
    pl.out = reinterpret_cast<uint16_t*>(g.c_packed);
    pl.out_steps = k_steps(N);
    for (int m = M; m < round_up(M, 16); ++m) zero_tile_row(tile_row(reinterpret_cast<char*>(pl.out), pl.out_steps, m), pl.out_steps);
  }
  float* heap = nullptr;
  if (g.a_packed) {
    pl.ab = reinterpret_cast<uint16_t*>(const_cast<float*>(g.a_packed));  // read only
  } else {  // bf16(A) in the calling thread's scratch
    const size_t floats = packed_a_bf16_floats_amx(M, g.K);
    float* scratch = thread_scratch(floats);
    if (!scratch) scratch = heap = new float[floats];  // only when out of memory: std::bad_alloc before any work
    pl.ab = reinterpret_cast<uint16_t*>(scratch);
    parallel_for(round_up(M, 16) / 16, amx_bf16_convert_rows, &pl);
  }
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

// Panel p: its k steps tile by tile (a step: the two B tiles, 16 quad rows of 16 columns × 4 k each), then
// its channels' scales, Σq, zc and bf16 outlier weights (simd/gemm_int8.h's int8_pack_panel with K padded
// to whole tiles).
void amx_int8_pack_panel(void* ctx, long p, int /*worker*/) {
  const AmxInt8Pack& pl = *static_cast<const AmxInt8Pack*>(ctx);
  const int K = pl.K, Kp = round_up(K, kKTileInt8);
  int8_t* dst = reinterpret_cast<int8_t*>(pl.packed) + static_cast<size_t>(p) * kNRa * Kp;
  const int G = weight_groups(K), npad = int8_n_pad(pl.N);
  float* scale = reinterpret_cast<float*>(pl.packed + amx_int8_panel_bytes(pl.N, K));  // (G, npad)
  int32_t* qsum = reinterpret_cast<int32_t*>(scale + static_cast<size_t>(G) * npad);   // (G, npad)
  float* zc = reinterpret_cast<float*>(qsum + static_cast<size_t>(G) * npad);          // (npad)
  uint16_t* wt = reinterpret_cast<uint16_t*>(pl.packed + amx_int8_outlier_offset(pl.N, K));
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
    int8_t* col = dst + (j / 16) * (kStepBytes / 2) + (j % 16) * 4;  // column j's place in a step's tiles
    for (int k = 0; k < Kp; ++k) {
      col[static_cast<size_t>(k / kKTileInt8) * kStepBytes + (k % kKTileInt8) / 4 * 64 + (k & 3)] =
          (n < pl.N && k < K) ? row[k] : 0;
    }
  }
  int8_pack_outliers(wt, pl.w, pl.N, K, p);
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
  Int8Plan q;  // A quantized row by row (q.aq), scales and the weights' tables, as simd/gemm_int8.h reads them
  L2Grid grid;
  int trows, steps;
  uint8_t* at;  // q.aq laid out as the tiles read it (blocks of 32 rows, k steps of two A tiles), zero rows to a multiple of 16
};

// Rows [16u, 16u + 16): quantized exactly as every level quantizes them, then copied into the tile layout.
void amx_int8_quantize_rows(void* ctx, long u, int worker) {
  const AmxInt8Plan& pl = *static_cast<const AmxInt8Plan*>(ctx);
  const Int8Plan& q = pl.q;
  int8_quantize_rows(const_cast<Int8Plan*>(&q), u, worker);
  for (int m = static_cast<int>(u) * 16, r1 = m + 16; m < r1; ++m) {
    char* dst = tile_row(reinterpret_cast<char*>(pl.at), pl.steps, m);
    if (m >= q.g->M) {
      zero_tile_row(dst, pl.steps);
      continue;
    }
    const uint8_t* src = q.aq + static_cast<size_t>(m) * q.Kp;
    for (int s = 0; s < pl.steps; ++s) memcpy(dst + static_cast<size_t>(s) * kStepBytes, src + s * kKTileInt8, 64);
  }
}

// C[m0 : m0+live, n0 : n0+cols] = epilogue(q(A) block a · panel b), live ≤ 32 (TWO: two row tiles):
// exact int32 sums per weight group of 128 k (two k steps) in the C tiles, folded into fp32 with the
// group's scales between groups.
template <bool TWO>
inline void amx_int8_block(const AmxInt8Plan& pl, const char* a, const char* b, const L2Prefetch& pf, int m0,
                           int live, int n0, int cols) {
  const Int8Plan& q = pl.q;
  alignas(64) float f[32 * kNRa];
  alignas(64) int32_t acc[32 * kNRa];
  const int frows = TWO ? 32 : 16;
  constexpr int kGroupSteps = kWeightGroup / kKTileInt8;
  for (int i = 0; i < frows * kNRa; i += kW) v_store(f + i, v_zero());
  for (int s0 = 0, gi = 0; s0 < pl.steps; s0 += kGroupSteps, ++gi) {
    const int s1 = s0 + kGroupSteps < pl.steps ? s0 + kGroupSteps : pl.steps;
    c_tiles_zero<TWO>();
    tile_steps<TWO, true>(a, b, pf, s0, s1);
    c_tiles_store<TWO>(acc);
    // The fold of simd/gemm_int8.h's micro-kernel, the same FMA per element and group.
    const size_t off = static_cast<size_t>(gi) * q.npad + n0;
    const VF w0 = v_load(q.sw + off), w1 = v_load(q.sw + off + kW);
    for (int r = 0; r < live; ++r) {
      float* fr = f + r * kNRa;
      const int32_t* ar = acc + r * kNRa;
      v_store(fr, v_fmadd(vi_to_float(vi_load(ar)), w0, v_load(fr)));
      v_store(fr + kW, v_fmadd(vi_to_float(vi_load(ar + kW)), w1, v_load(fr + kW)));
    }
  }
  for (int r = 0; r < live; ++r) {
    int8_store_row(q, v_load(f + r * kNRa), v_load(f + r * kNRa + kW), m0 + r, n0, cols < kW ? cols : kW, cols - kW);
  }
}

void amx_int8_unit(void* ctx, long u, int /*worker*/) {
  const AmxInt8Plan& pl = *static_cast<const AmxInt8Plan*>(ctx);
  tile_configure(pl.trows);
  amx_walk_unit(pl.grid, u, pl.q.g->M, pl.q.g->N, pl.steps, reinterpret_cast<const char*>(pl.at),
                reinterpret_cast<const char*>(pl.q.bq),
                [&pl](const char* a, const char* bp, const L2Prefetch& pf, int m0, int live, int n0, int cols) {
                  if (live > 16) {
                    amx_int8_block<true>(pl, a, bp, pf, m0, live, n0, cols);
                  } else {
                    amx_int8_block<false>(pl, a, bp, pf, m0, live, n0, cols);
                  }
                });
  tile_release();
}

void gemm_int8_amx(const GemmArgs& g) {
  const int M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  const int steps = round_up(K, kKTileInt8) / kKTileInt8;  // K = 0: no tiles, C = epilogue(0) as on the other levels
  // A panel's share of L2 counts its outliers' bf16 weights too (one 64-byte line per k): a run of rows
  // gathers from all of them, and kept in L2 they come from memory about once per run instead of once
  // per row block and outlier (bert-base's FFN GEMM at 4096 rows: 4.7 MB of lines against up to 200).
  const long panel_bytes = static_cast<long>(steps) * kStepBytes + static_cast<long>(K) * 64;
  AmxInt8Plan pl{Int8Plan(), l2_grid(M, panels_of(N), panel_bytes, 32), tile_rows(M), steps, nullptr};
  Int8Plan& q = pl.q;
  q.g = &g;
  q.Kp = steps * kKTileInt8;
  q.npad = int8_n_pad(N);
  const char* base = static_cast<const char*>(g.b_lowp);
  q.bq = reinterpret_cast<const int8_t*>(base);
  q.sw = reinterpret_cast<const float*>(base + amx_int8_panel_bytes(N, K));
  q.zc = q.sw + static_cast<size_t>(weight_groups(K)) * q.npad * 2;
  q.wt = reinterpret_cast<const uint16_t*>(base + amx_int8_outlier_offset(N, K));
  // In the calling thread's scratch: A quantized row by row (M rows), the same in the tiles' layout (whole
  // 32-row blocks), then the row scales, zero points and outliers.
  const size_t aq_floats = (static_cast<size_t>(M) * q.Kp + 3) / 4;
  const size_t at_floats = static_cast<size_t>((M + 31) / 32) * steps * kStepBytes / 4;
  const size_t scratch_floats = aq_floats + at_floats + (2 + 2 * kActOutliers) * static_cast<size_t>(M);
  float* scratch = thread_scratch(scratch_floats);
  float* heap = nullptr;  // only when no scratch could be had (out of memory): std::bad_alloc, before any work
  if (!scratch) scratch = heap = new float[scratch_floats];
  q.aq = reinterpret_cast<uint8_t*>(scratch);
  pl.at = reinterpret_cast<uint8_t*>(scratch + aq_floats);
  q.sa = scratch + aq_floats + at_floats;
  q.za = reinterpret_cast<int32_t*>(q.sa + M);
  q.oi = q.za + M;
  q.ov = reinterpret_cast<float*>(q.oi + static_cast<size_t>(M) * kActOutliers);
  parallel_for((M + 15) / 16, amx_int8_quantize_rows, &pl);
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
  k->bf16_takes_fp32_packed = false;
  k->packed_a_bf16_floats = packed_a_bf16_floats_amx;
  k->bf16_kernel = "amx (tdpbf16ps)";
  k->packed_int8_bytes = packed_int8_bytes_amx;
  k->pack_weight_int8 = pack_weight_int8_amx;
  k->gemm_int8 = gemm_int8_amx;
  k->quantize_act_row = quantize_act_row_simd;
  k->int8_kernel = "amx (tdpbusd)";
}

}  // namespace pbc
