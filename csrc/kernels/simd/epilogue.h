// epilogue.h — the store of a finished GEMM accumulator register, shared by every precision's GEMM.
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

}  // namespace
}  // namespace pbc
