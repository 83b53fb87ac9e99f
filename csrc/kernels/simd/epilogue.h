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

// One register of a finished C row: bias, activation, residual, then the (possibly partial) store.
inline void store_out(const GemmArgs& g, VF v, int m, int n, int cols, bool last, bool accumulate) {
  float* c = g.c + static_cast<size_t>(m) * g.ldc + n;
  if (cols >= kW) {
    if (accumulate) v = v_add(v, v_load(c));
    if (last) {
      if (g.bias) v = v_add(v, v_load(g.bias + n));
      v = v_activation(v, g.act);
      if (g.residual) v = v_add(v, v_load(g.residual + static_cast<size_t>(m) * g.ldr + n));
    }
    v_store(c, v);
  } else {
    if (accumulate) v = v_add(v, v_load_tail(c, cols));
    if (last) {
      if (g.bias) v = v_add(v, v_load_tail(g.bias + n, cols));
      v = v_activation(v, g.act);
      if (g.residual) v = v_add(v, v_load_tail(g.residual + static_cast<size_t>(m) * g.ldr + n, cols));
    }
    v_store_tail(c, v, cols);
  }
}

// Stores a finished MR × 2·kW register tile (acc0: columns n0.., acc1: n0+kW..) to C[m0 : m0+rows,
// n0 : n0+cols], adding C's partial sums when accumulating and applying the epilogue on the last K block.
template <int MR>
inline void store_tile(const GemmArgs& g, const VF* acc0, const VF* acc1, int m0, int rows, int n0, int cols,
                       bool accumulate, bool last) {
  // A whole tile with no activation to apply stores inline: a call to store_out per register cost
  // up to a tenth of a tile whose K block is short (attention's Q·Kᵀ runs at a depth of the head size).
  if (rows == MR && cols == 2 * kW && (!last || g.act == Activation::kIdentity)) {
    const float* bias = last ? g.bias : nullptr;
    const float* res = last ? g.residual : nullptr;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      float* c = g.c + static_cast<size_t>(m0 + i) * g.ldc + n0;
      VF v0 = acc0[i], v1 = acc1[i];
      if (accumulate) v0 = v_add(v0, v_load(c)), v1 = v_add(v1, v_load(c + kW));
      if (bias) v0 = v_add(v0, v_load(bias + n0)), v1 = v_add(v1, v_load(bias + n0 + kW));
      if (res) {
        const float* r = res + static_cast<size_t>(m0 + i) * g.ldr + n0;
        v0 = v_add(v0, v_load(r)), v1 = v_add(v1, v_load(r + kW));
      }
      v_store(c, v0);
      v_store(c + kW, v1);
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
