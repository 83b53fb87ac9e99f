// simd/gemm.h — packed-weight GEMM with a fused epilogue, written once over vec_<isa>.h.
//
//   C (M, N) = act(A (M, K) · W (N, K)ᵀ + bias) + residual
//
// Plan, pack, execute (the BLIS loop nest; the packed layouts are pack.h's):
//   * W was packed at load into panels of kNR columns.
//   * Work is split into units of (A block of at most kMCMax rows) × (a run of panels). Per unit and
//     K block of kKC, the A block is packed into row tiles — it stays in L2 — and each B micro-panel
//     slice stays in L1 while all row tiles run. When the panels are split over several units, all
//     of A is packed once up front instead, or not at all when the caller hands it over packed
//     (GemmArgs::a_packed).
//   * The micro-kernel keeps a kMR × kNR tile of C in registers for one K block; partial sums of
//     earlier K blocks go through C itself, and the epilogue runs on the last block's store — into
//     C, or transposed into the next GEMM's packed A (GemmArgs::c_packed).
// Units are numbered N-block-major so consecutive units reuse one run of B panels across A blocks;
// the panels are split into runs only when the A blocks are too few to give every thread work, and
// then into shrinking runs so the threads finish together.
//
// Numerics: per output an fp32 FMA chain over k in index order within a K block, blocks summed in
// order — within ~1e-6 relative of the scalar reference at the sizes the tests use. The packed forms
// change where values are stored, never how they are computed.
// C must not overlap A or the residual (partial sums are written to C before the residual is read).
//
// The weight operand is a template parameter (a Panels policy: its element type, the rows of a panel,
// and the micro-tile's product over one K block): Fp32Panels here; bf16 weights widened in the kernel
// on levels without bf16 arithmetic (simd/gemm_bf16.h). Everything else (A blocks and their packed
// handovers, the split into units, the epilogue) is this one loop nest.
#pragma once

#include "kernels/kernels.h"
#include "runtime/parallel.h"
#include "kernels/simd/epilogue.h"
#include "kernels/simd/pack.h"

namespace pbc {
namespace {

// acc0/acc1 (MR × kNR) = A · B over kc steps: A's element (i, k) at a[i·a_row + k·a_step], B's row k
// (kNR floats) at b + k·ldb. Called with constant strides for packed operands (a_row 1, a_step MR,
// ldb kNR), which inline into the plain pointer walk of the packed kernel.
template <int MR>
__attribute__((always_inline)) inline void tile_product(int kc, const float* a, size_t a_row, size_t a_step,
                                                        const float* b, size_t ldb, VF* acc0, VF* acc1) {
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = v_zero();
#pragma GCC unroll 4
  for (int k = 0; k < kc; ++k) {
    const VF b0 = v_load(b);
    const VF b1 = v_load(b + kW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const VF av = v_set1(a[i * a_row]);
      acc0[i] = v_fmadd(av, b0, acc0[i]);
      acc1[i] = v_fmadd(av, b1, acc1[i]);
    }
    a += a_step;
    b += ldb;
  }
}

// The fp32 weight operand: panels of kNR columns packed at load (pack.h), K rows of kNR floats each.
struct Fp32Panels {
  using Elem = float;
  static constexpr bool kWidens = false;  // see Bf16PairPanels (simd/gemm_bf16.h)
  static void widen(float*, const Elem*, int) {}
  static const Elem* base(const GemmArgs& g) { return g.b_packed; }
  static size_t rows(int K) { return static_cast<size_t>(K); }  // a panel is rows(K) · kNR elements
  // acc0/acc1 (MR × kNR) = A tile (packed: (k, i) at [k·MR + i]) · the panel's K block at b.
  template <int MR>
  static void product(int kc, const float* a, const Elem* b, VF* acc0, VF* acc1) {
    tile_product<MR>(kc, a, 1, MR, b, kNR, acc0, acc1);
  }
};

// Where the tiles of one panel go when C is written packed (GemmArgs::c_packed: C as an (M, N)
// operand, ABlocks layout): the panel's ≤ kNR columns lie in one of the next GEMM's K blocks (static_
// assert in pack.h), at `block` (kc columns wide), from its column `col`. The tile of height MR that
// starts at row m0 — a row tile of this GEMM's blocking of M, which is the next GEMM's too — lands
// at block + m0·kc + col·MR: one run of cols·MR floats that no other tile touches. Set per panel by
// gemm_unit_with, so the tiles do no layout arithmetic.
struct PackedC {
  float* block;
  int kc, col;
};

// Stores a tile as store_tile does, but into its run of the packed C. Partial sums of earlier K
// blocks wait in the run row by row (row stride cols); the last K block's finished tile is
// transposed into it.
template <int MR>
inline void store_tile_packed(const GemmArgs& g, const VF* acc0, const VF* acc1, const PackedC& pc, int m0, int rows,
                              int n0, int cols, bool accumulate, bool last) {
  float* run = pc.block + static_cast<size_t>(m0) * pc.kc + static_cast<size_t>(pc.col) * MR;
  GemmArgs tile = g;  // the tile alone: rows of `cols` floats at `run`, bias and residual from (m0, n0)
  tile.c = run;
  tile.ldc = cols;
  tile.c_packed = nullptr;
  if (g.bias) tile.bias = g.bias + n0;
  if (g.residual) tile.residual = g.residual + static_cast<size_t>(m0) * g.ldr + n0;
  store_tile<MR>(tile, acc0, acc1, 0, rows, 0, cols, accumulate, last);
  if (!last) return;
  alignas(64) float rowwise[MR * kNR];
  for (int i = 0; i < rows * cols; ++i) rowwise[i] = run[i];
  pack_transposed(run, rowwise, static_cast<size_t>(cols), rows, MR, cols);
}

// C[m0 : m0+rows, n0 : n0+cols] (+)= Ap (MR × kc, packed) · Bp (kc × kNR, packed); rows ≤ MR, cols ≤ kNR.
// Also prefetches pf_lines cache lines from pf into L2 (see block_kernel).
template <class Panels, int MR>
inline void micro_kernel(const GemmArgs& g, int kc, const float* ap, const typename Panels::Elem* bp, int m0,
                         int rows, int n0, int cols, bool accumulate, bool last, const PackedC* pc, const char* pf,
                         int pf_lines) {
  for (int l = 0; l < pf_lines; ++l) __builtin_prefetch(pf + l * 64, 0, 2);
  // The C rows (partial sums of earlier K blocks) and residual rows the store will read: fetched now,
  // while the K loop runs, instead of stalling the store on L3 (a C block of M = 4096 is far past L2).
  // A tile row is kNR floats: one cache line on AVX2, two on AVX-512.
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < kNR; j += 64 / sizeof(float)) {
      if (accumulate && g.c) __builtin_prefetch(g.c + static_cast<size_t>(m0 + i) * g.ldc + n0 + j, 1, 3);
      if (last && g.residual) __builtin_prefetch(g.residual + static_cast<size_t>(m0 + i) * g.ldr + n0 + j, 0, 3);
    }
  }
  VF acc0[MR], acc1[MR];
  Panels::template product<MR>(kc, ap, bp, acc0, acc1);
  if (pc) {
    store_tile_packed<MR>(g, acc0, acc1, *pc, m0, rows, n0, cols, accumulate, last);
  } else {
    store_tile<MR>(g, acc0, acc1, m0, rows, n0, cols, accumulate, last);
  }
}

// The same tile with both operands read where they lie, one K block, no accumulation: row i of A
// at a + i·lda, row k of B (kNR floats) at b + k·ldb. Attention multiplies Q and P in place this
// way: packing them cost about as much as the products at T = 128 and small head sizes.
template <int MR>
inline void micro_kernel_strided(const GemmArgs& g, int kc, const float* a, size_t lda, const float* b,
                                 size_t ldb, int m0, int rows, int n0, int cols) {
  VF acc0[MR], acc1[MR];
  tile_product<MR>(kc, a, lda, 1, b, ldb, acc0, acc1);
  store_tile<MR>(g, acc0, acc1, m0, rows, n0, cols, false, true);
}

// C[0 : rows, n0 : n0+cols] = A (rows × kc, row stride lda) · B (kc rows of kNR, row stride ldb), row tile
// by row tile (RowTiles). A tile that would run past the last row reads a zero-padded copy of its
// rows from `tail` (kMR · kc floats) instead, so nothing past A's rows is read.
inline void block_kernel_strided(const GemmArgs& g, int kc, const float* a, size_t lda, const float* b,
                                 size_t ldb, int rows, int n0, int cols, float* tail) {
  const RowTiles rt(rows);
  for (int t = 0; t < rt.count(); ++t) {
    const int i = rt.row(t), h = rt.height(t), live = rows - i < h ? rows - i : h;
    const float* at = a + static_cast<size_t>(i) * lda;
    size_t ld = lda;
    if (live < h) {
      for (int r = 0; r < h; ++r) {
        for (int k = 0; k < kc; ++k) tail[static_cast<size_t>(r) * kc + k] = r < live ? at[r * lda + k] : 0.0f;
      }
      at = tail;
      ld = static_cast<size_t>(kc);
    }
    if (t < rt.big) {
      micro_kernel_strided<kMR>(g, kc, at, ld, b, ldb, i, live, n0, cols);
    } else {
      micro_kernel_strided<kMRSmall>(g, kc, at, ld, b, ldb, i, live, n0, cols);
    }
  }
}

// C[m0 : m0+rows, n0 : n0+cols] (+)= A block (rows × kc, packed by pack_a) · Bp (kc × kNR, packed),
// row tile by row tile against one B slice. pf_lines cache lines from pf are prefetched into L2, a
// share per tile (the slice the caller needs next).
template <class Panels>
inline void block_kernel(const GemmArgs& g, int kc, const float* ap, const typename Panels::Elem* bp, int m0,
                         int rows, int n0, int cols, bool accumulate, bool last, const PackedC* pc, const char* pf,
                         int pf_lines) {
  const RowTiles rt(rows);
  const int tiles = rt.count();
  for (int t = 0; t < tiles; ++t) {
    const int i = rt.row(t), h = rt.height(t), live = rows - i < h ? rows - i : h;
    const int l0 = pf_lines * t / tiles, l1 = pf_lines * (t + 1) / tiles;
    const float* at = ap + static_cast<size_t>(i) * kc;
    const char* pt = pf + l0 * 64;
    if (t < rt.big) {
      micro_kernel<Panels, kMR>(g, kc, at, bp, m0 + i, live, n0, cols, accumulate, last, pc, pt, l1 - l0);
    } else {
      micro_kernel<Panels, kMRSmall>(g, kc, at, bp, m0 + i, live, n0, cols, accumulate, last, pc, pt, l1 - l0);
    }
  }
}

constexpr int kMaxRuns = 256;

struct GemmPlan {
  const GemmArgs* g;
  int panels, mc, mblocks;
  float* wide;            // per-worker kKC·kNR floats for widened B slices (Panels::kWidens), or null
  int run_start[kMaxRuns + 1];  // panel runs: run j is panels [run_start[j], run_start[j + 1])
  const float* a_packed;  // all of A packed (ABlocks layout), or null: each unit packs its own block
  float* a_scratch;       // where this call packs all of A up front (a_packed points here), or null
  int m_pad;              // rows of A with each block's row-tile padding (ABlocks::m_pad)
  int groups;       // pack_a_unit's groups of 8 row tiles per A block
  float* own;       // without a_packed: per-worker A block buffers, kMCMax·kKC floats each
};

// Packs 8 row tiles of one A block for one K block into the shared buffer: unit = (K block, A block,
// group of 8 tiles).
void pack_a_unit(void* ctx, long u, int /*worker*/) {
  const GemmPlan& pl = *static_cast<const GemmPlan*>(ctx);
  const GemmArgs& g = *pl.g;
  const long per_k = static_cast<long>(pl.mblocks) * pl.groups;
  const int kb = static_cast<int>(u / per_k), ib = static_cast<int>(u % per_k / pl.groups);
  const int grp = static_cast<int>(u % pl.groups);
  const int k0 = kb * kKC, kc = g.K - k0 < kKC ? g.K - k0 : kKC;
  const int m0 = ib * pl.mc, rows = g.M - m0 < pl.mc ? g.M - m0 : pl.mc;
  const int tiles = RowTiles(rows).count(), t0 = grp * 8, t1 = t0 + 8 < tiles ? t0 + 8 : tiles;
  if (t0 >= t1) return;
  // Every block before the last is mc rows, a whole number of big tiles: block ib starts at row m0.
  // (pack_a_block_tiles does the same for all K blocks at once; here K blocks are units of their own.)
  float* dst = pl.a_scratch + static_cast<size_t>(pl.m_pad) * k0 + static_cast<size_t>(m0) * kc;
  pack_a_tiles(dst, g.a + static_cast<size_t>(m0) * g.lda + k0, g.lda, rows, kc, t0, t1);
}

// A block of at least this many rows runs a panel's K slice widened once to fp32 (Panels::kWidens): the
// widening is then shared by three or more row tiles instead of repeated in each tile's inner loop.
constexpr int kWidenMinRows = 2 * kMR + 1;

// One unit: A block ib (mc rows) × panel run jb, all of K; `own` holds this worker's A block when
// A is not packed up front, `wide` (or null) its kKC·kNR floats for widened B slices.
template <class Panels>
inline void gemm_unit_with(const GemmPlan& pl, long u, float* own, float* wide) {
  using Elem = typename Panels::Elem;
  const GemmArgs& g = *pl.g;
  const int M = g.M, N = g.N, K = g.K;
  const Elem* panels = Panels::base(g);
  const size_t panel_rows = Panels::rows(K);
  const int jb = static_cast<int>(u / pl.mblocks), ib = static_cast<int>(u % pl.mblocks);
  const int m0 = ib * pl.mc, rows = M - m0 < pl.mc ? M - m0 : pl.mc;
  const int p0 = pl.run_start[jb], p1 = pl.run_start[jb + 1];
  // K == 0 still runs one (empty) block so the epilogue writes C.
  for (int k0 = 0; k0 < K || k0 == 0; k0 += kKC) {
    const int kc = K - k0 < kKC ? K - k0 : kKC;
    const bool accumulate = k0 > 0, last = k0 + kKC >= K;
    const float* apack = own;
    if (pl.a_packed) {
      apack = pl.a_packed + static_cast<size_t>(pl.m_pad) * k0 + static_cast<size_t>(m0) * kc;
    } else {
      pack_a(own, g.a + static_cast<size_t>(m0) * g.lda + k0, g.lda, rows, kc);
    }
    for (int p = p0; p < p1; ++p) {
      const Elem* bp = panels + (static_cast<size_t>(p) * panel_rows + k0) * kNR;
      const int n0 = p * kNR, cols = N - n0 < kNR ? N - n0 : kNR;
      // The B slice this unit needs next (the next panel, or the first panel's next K block) is
      // prefetched into L2 a share per row tile while this one runs: the hardware prefetcher
      // restarts at every slice (they are K·kNR floats apart), and fetching each slice from L3 or
      // memory on first use cost ~7% at M = 128.
      const Elem* next = p + 1 < p1 ? bp + panel_rows * kNR
                         : k0 + kKC < K ? panels + (static_cast<size_t>(p0) * panel_rows + k0 + kKC) * kNR
                                        : nullptr;
      const int next_kc = p + 1 < p1 ? kc : (K - k0 - kKC < kKC ? K - k0 - kKC : kKC);
      const int lines = next ? static_cast<int>(static_cast<size_t>(next_kc) * kNR * sizeof(Elem) / 64) : 0;
      PackedC pc{nullptr, 0, 0};
      if (g.c_packed) {
        const int c0 = n0 / kKC * kKC;  // the next GEMM's K block holding this panel
        pc = PackedC{g.c_packed + static_cast<size_t>(pl.m_pad) * c0, ABlocks::kc_at(c0, N), n0 - c0};
      }
      const char* pf = reinterpret_cast<const char*>(next);
      if (Panels::kWidens && wide && rows >= kWidenMinRows) {
        // The same FMAs in the same order as the widening tile: the same bits, whichever path runs.
        Panels::widen(wide, bp, kc);
        block_kernel<Fp32Panels>(g, kc, apack, wide, m0, rows, n0, cols, accumulate, last, pc.block ? &pc : nullptr,
                                 pf, lines);
      } else {
        block_kernel<Panels>(g, kc, apack, bp, m0, rows, n0, cols, accumulate, last, pc.block ? &pc : nullptr, pf,
                             lines);
      }
    }
  }
}

// The last resort when no heap scratch could be had: the A block on the stack (132 KB on AVX2), kept
// out of the normal path so that callers on small thread stacks never pay for it.
template <class Panels>
__attribute__((noinline)) void gemm_unit_stack(const GemmPlan& pl, long u) {
  alignas(64) float own[kMCMax * kKC];
  gemm_unit_with<Panels>(pl, u, own, nullptr);
}

template <class Panels>
void gemm_unit(void* ctx, long u, int worker) {
  const GemmPlan& pl = *static_cast<const GemmPlan*>(ctx);
  float* wide = pl.wide ? pl.wide + static_cast<size_t>(worker) * kKC * kNR : nullptr;
  if (pl.a_packed || pl.own) {
    gemm_unit_with<Panels>(pl, u, pl.own ? pl.own + static_cast<size_t>(worker) * kMCMax * kKC : nullptr, wide);
  } else {
    gemm_unit_stack<Panels>(pl, u);
  }
}

// C = act(A · Wᵀ + bias) + residual through the loop nest, W in Panels' packed form.
template <class Panels>
void gemm_nest(const GemmArgs& g) {
  const int M = g.M, N = g.N;
  if (M <= 0 || N <= 0) return;
  GemmPlan pl;
  pl.g = &g;
  pl.panels = (N + kNR - 1) / kNR;
  const int threads = parallel_threads();
  const ABlocks ab(M);
  pl.mc = ab.mc;
  pl.mblocks = ab.count;
  // A unit takes every panel when there are enough A blocks to go round, so each A block is packed
  // once per K block and B streams through L1 from L3. With few A blocks (batch-1 shapes) the
  // panels are split into runs claimed in order, largest first and shrinking to a single panel
  // (guided scheduling): the threads then finish within about a panel of each other. Equal runs of
  // an eighth of the work (2 threads) could leave one thread idle for up to a run at the end of
  // every GEMM.
  // Runs of at least 1/128 of the panels keep the count bounded (a vocabulary-sized N on many threads).
  const bool split = pl.mblocks < 4L * threads;
  const int min_run = (pl.panels + 127) / 128;
  int runs = 0;
  for (int p = 0; p < pl.panels; ++runs) {
    const int left = pl.panels - p;
    int run = (left + 2 * threads - 1) / (2 * threads);
    if (run < min_run) run = min_run;
    if (!split || run > left || runs == kMaxRuns - 1) run = left;
    pl.run_start[runs] = p;
    p += run;
  }
  pl.run_start[runs] = pl.panels;
  const long units = static_cast<long>(pl.mblocks) * runs;
  // When the panels are split, several units share an A block: pack all of A once, in parallel,
  // instead of once per unit (at batch-1 shapes that repacking cost ~8% of the GEMM) — unless the
  // caller's producer already wrote it packed.
  // Otherwise each worker packs its A blocks into its own slice of the caller's scratch. Both live
  // in the calling thread's reusable scratch (parallel.h), so nothing is allocated per call once warm.
  pl.a_packed = g.a_packed;
  pl.a_scratch = nullptr;
  pl.own = nullptr;
  pl.wide = nullptr;
  pl.m_pad = ab.m_pad;
  pl.groups = (RowTiles(pl.mc).count() + 7) / 8;
  // One scratch holds what this call packs (all of A, or each worker's A block) followed by the
  // workers' widened B slices; each part starts on a 64-byte line (lengths are multiples of 16 floats).
  const size_t wide_floats = Panels::kWidens && ab.mc >= kWidenMinRows ? static_cast<size_t>(threads) * kKC * kNR : 0;
  if (!pl.a_packed && runs > 1 && g.K > 0) {
    const size_t a_floats = (static_cast<size_t>(pl.m_pad) * g.K + 15) / 16 * 16;
    pl.a_scratch = thread_scratch(a_floats + wide_floats);
    if (pl.a_scratch) {
      const int kblocks = (g.K + kKC - 1) / kKC;
      parallel_for(static_cast<long>(kblocks) * pl.mblocks * pl.groups, pack_a_unit, &pl);
      pl.a_packed = pl.a_scratch;
      if (wide_floats) pl.wide = pl.a_scratch + a_floats;
    }
  } else if (pl.a_packed && wide_floats) {
    pl.wide = thread_scratch(wide_floats);
  }
  if (!pl.a_packed) {
    const size_t own_floats = static_cast<size_t>(threads) * kMCMax * kKC;
    pl.own = thread_scratch(own_floats + wide_floats);
    if (pl.own && wide_floats) pl.wide = pl.own + own_floats;
  }
  parallel_for(units, gemm_unit<Panels>, &pl);
}

void gemm_simd(const GemmArgs& g) { gemm_nest<Fp32Panels>(g); }

}  // namespace
}  // namespace pbc
