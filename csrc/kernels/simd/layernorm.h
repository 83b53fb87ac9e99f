// simd/layernorm.h — LayerNorm over the last dimension, written once over vec_<isa>.h.
//
// Two passes per row like torch (mean, then the variance of the centred values); each sum runs in
// kW lanes and is reduced pairwise, with the last C mod kW elements added in index order after.
// Agrees with the scalar reference to ~1e-6 relative.
#pragma once

#include <math.h>

#include "kernels/kernels.h"
#include "runtime/parallel.h"
#include "kernels/simd/pack.h"

namespace pbc {
namespace {

constexpr int kLnRows = 8;  // rows per parallel unit

// out rows [n0, n1) = LayerNorm(inp rows [n0, n1)).
inline void layernorm_range(const LayerNormArgs& l, int n0, int n1) {
  const int C = l.C, tail = l.C % kW, body = l.C - tail;
  for (int n = n0; n < n1; ++n) {
    const float* x = l.inp + static_cast<size_t>(n) * C;
    float* y = l.out + static_cast<size_t>(n) * C;
    VF s = v_zero();
    for (int c = 0; c < body; c += kW) s = v_add(s, v_load(x + c));
    float mean = v_reduce_add(s);
    for (int c = body; c < C; ++c) mean += x[c];
    mean /= static_cast<float>(C);
    const VF vm = v_set1(mean);
    VF q = v_zero();
    for (int c = 0; c < body; c += kW) {
      const VF d = v_sub(v_load(x + c), vm);
      q = v_fmadd(d, d, q);
    }
    float var = v_reduce_add(q);
    for (int c = body; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
    var /= static_cast<float>(C);
    const VF rstd = v_set1(1.0f / sqrtf(var + l.eps));
    for (int c = 0; c < body; c += kW) {
      const VF d = v_mul(v_sub(v_load(x + c), vm), rstd);
      v_store(y + c, v_fmadd(d, v_load(l.weight + c), v_load(l.bias + c)));
    }
    if (tail) {
      const VF d = v_mul(v_sub(v_load_tail(x + body, tail), vm), rstd);
      v_store_tail(y + body, v_fmadd(d, v_load_tail(l.weight + body, tail), v_load_tail(l.bias + body, tail)),
                   tail);
    }
  }
}

void layernorm_rows(void* ctx, long unit, int /*worker*/) {
  const LayerNormArgs& l = *static_cast<const LayerNormArgs*>(ctx);
  const int n0 = static_cast<int>(unit) * kLnRows;
  layernorm_range(l, n0, n0 + kLnRows < l.N ? n0 + kLnRows : l.N);
}

// With a packed copy for the next GEMM: a unit is kLnTiles row tiles of one A block (pack.h's
// ABlocks), normalised and then packed by the same thread while its rows are still in L1. Packing
// in the GEMM instead read rows that the other threads had written, a cache line at a time from
// their caches, and took a parallel loop of its own.
constexpr int kLnTiles = 2;

struct LayerNormPackPlan {
  const LayerNormArgs* l;
  ABlocks ab;
  int groups;  // units per A block
};

void layernorm_pack_rows(void* ctx, long unit, int /*worker*/) {
  const LayerNormPackPlan& pl = *static_cast<const LayerNormPackPlan*>(ctx);
  const LayerNormArgs& l = *pl.l;
  const int ib = static_cast<int>(unit / pl.groups), m0 = ib * pl.ab.mc, rows = pl.ab.rows_of(ib);
  const RowTiles rt(rows);
  const int t0 = static_cast<int>(unit % pl.groups) * kLnTiles;
  const int t1 = t0 + kLnTiles < rt.count() ? t0 + kLnTiles : rt.count();
  if (t0 >= t1) return;
  const int r1 = t1 < rt.count() ? rt.row(t1) : rows;
  layernorm_range(l, m0 + rt.row(t0), m0 + r1);
  pack_a_block_tiles(l.packed, l.out, l.C, pl.ab, l.C, ib, t0, t1);
}

void layernorm_simd(const LayerNormArgs& l) {
  if (!l.packed) {
    parallel_for((l.N + kLnRows - 1) / kLnRows, layernorm_rows, const_cast<LayerNormArgs*>(&l));
    return;
  }
  LayerNormPackPlan pl{&l, ABlocks(l.N), 0};
  if (pl.ab.count == 0) return;
  pl.groups = (RowTiles(pl.ab.mc).count() + kLnTiles - 1) / kLnTiles;
  parallel_for(static_cast<long>(pl.ab.count) * pl.groups, layernorm_pack_rows, &pl);
}

}  // namespace
}  // namespace pbc
