// epilogue.h — the store of finished GEMM accumulators (a register, a tile), shared by every precision's GEMM.
//
// A SIMD body: included after a vec_<isa>.h that defines VF, kW and the v_* operations, inside the
// including file's ISA-flagged translation unit. Applies, on the last K block only, bias, then the
// activation, then the residual, in that order (transformers' order: act(x·Wᵀ + b) + residual).
#pragma once

#include <stddef.h>

#include "kernels/kernels.h"

namespace pbc {
namespace {

// Bias, activation and residual of one register of a finished C row (cols < kW: its first cols lanes).
inline VF finish_out(const GemmArgs& g, VF v, int m, int n, int cols) {
  if (cols >= kW) {
    if (g.bias) v = v_add(v, v_load(g.bias + n));
    v = v_activation(v, g.act);
    if (g.residual) v = v_add(v, v_load(g.residual + static_cast<size_t>(m) * g.ldr + n));
  } else {
    if (g.bias) v = v_add(v, v_load_tail(g.bias + n, cols));
    v = v_activation(v, g.act);
    if (g.residual) v = v_add(v, v_load_tail(g.residual + static_cast<size_t>(m) * g.ldr + n, cols));
  }
  return v;
}

// One register of a finished C row: bias, activation, residual, then the (possibly partial) store.
inline void store_out(const GemmArgs& g, VF v, int m, int n, int cols, bool last, bool accumulate) {
  float* c = g.c + static_cast<size_t>(m) * g.ldc + n;
  if (cols >= kW) {
    if (accumulate) v = v_add(v, v_load(c));
    if (last) v = finish_out(g, v, m, n, cols);
    v_store(c, v);
  } else {
    if (accumulate) v = v_add(v, v_load_tail(c, cols));
    if (last) v = finish_out(g, v, m, n, cols);
    v_store_tail(c, v, cols);
  }
}

// A whole MR × 2·kW tile (rows and columns all inside C): bias, activation ACT, residual, store. The
// activation is a template argument so that the compiler can interleave the tile's 2·MR independent
// evaluations. One register at a time through store_out, GELU's erf chain (a division and an exp)
// ran closer to its latency: MiniLM's first FFN GEMM took ~3.5% longer (1 thread, in the forward
// pass). GELU still costs that GEMM ~9% over no activation.
template <int MR, Activation ACT>
inline void store_whole_tile(const GemmArgs& g, const VF* acc0, const VF* acc1, int m0, int n0, bool accumulate,
                             bool last) {
  const float* bias = last ? g.bias : nullptr;
  const float* res = last ? g.residual : nullptr;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* c = g.c + static_cast<size_t>(m0 + i) * g.ldc + n0;
    VF v0 = acc0[i], v1 = acc1[i];
    if (accumulate) v0 = v_add(v0, v_load(c)), v1 = v_add(v1, v_load(c + kW));
    if (bias) v0 = v_add(v0, v_load(bias + n0)), v1 = v_add(v1, v_load(bias + n0 + kW));
    if (last && ACT != Activation::kIdentity) v0 = v_activation(v0, ACT), v1 = v_activation(v1, ACT);
    if (res) {
      const float* r = res + static_cast<size_t>(m0 + i) * g.ldr + n0;
      v0 = v_add(v0, v_load(r)), v1 = v_add(v1, v_load(r + kW));
    }
    v_store(c, v0);
    v_store(c + kW, v1);
  }
}

// The whole tile with an activation, out of line: one call per tile, and the callers' inlined store
// of the identity case stays small (with every activation inlined into attention's strided
// micro-kernel, its loop ran ~40% slower).
template <int MR>
__attribute__((noinline)) void store_whole_tile_activated(const GemmArgs& g, const VF* acc0, const VF* acc1, int m0,
                                                          int n0, bool accumulate) {
  using A = Activation;
  switch (g.act) {
    case A::kIdentity: return store_whole_tile<MR, A::kIdentity>(g, acc0, acc1, m0, n0, accumulate, true);
    case A::kGeluErf: return store_whole_tile<MR, A::kGeluErf>(g, acc0, acc1, m0, n0, accumulate, true);
    case A::kGeluTanh: return store_whole_tile<MR, A::kGeluTanh>(g, acc0, acc1, m0, n0, accumulate, true);
    case A::kQuickGelu: return store_whole_tile<MR, A::kQuickGelu>(g, acc0, acc1, m0, n0, accumulate, true);
    case A::kRelu: return store_whole_tile<MR, A::kRelu>(g, acc0, acc1, m0, n0, accumulate, true);
    case A::kSilu: return store_whole_tile<MR, A::kSilu>(g, acc0, acc1, m0, n0, accumulate, true);
    case A::kTanh: return store_whole_tile<MR, A::kTanh>(g, acc0, acc1, m0, n0, accumulate, true);
  }
}

// Stores a finished MR × 2·kW register tile (acc0: columns n0.., acc1: n0+kW..) to C[m0 : m0+rows,
// n0 : n0+cols], adding C's partial sums when accumulating and applying the epilogue on the last K block.
template <int MR>
inline void store_tile(const GemmArgs& g, const VF* acc0, const VF* acc1, int m0, int rows, int n0, int cols,
                       bool accumulate, bool last) {
  // A whole tile stores inline: a call to store_out per register cost up to a tenth of a tile whose K
  // block is short (attention's Q·Kᵀ runs at a depth of the head size).
  if (rows == MR && cols == 2 * kW) {
    if (!last || g.act == Activation::kIdentity) {
      store_whole_tile<MR, Activation::kIdentity>(g, acc0, acc1, m0, n0, accumulate, last);
    } else {
      store_whole_tile_activated<MR>(g, acc0, acc1, m0, n0, accumulate);
    }
    return;
  }
  const int cols1 = cols - kW;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
    store_out(g, acc0[i], m0 + i, n0, cols < kW ? cols : kW, last, accumulate);
    if (cols1 > 0) store_out(g, acc1[i], m0 + i, n0 + kW, cols1, last, accumulate);
  }
}

}  // namespace
}  // namespace pbc
