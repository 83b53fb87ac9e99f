// simd/layernorm.h — LayerNorm over the last dimension, written once over vec_<isa>.h.
//
// Two passes per row like torch (mean, then the variance of the centred values); each sum runs in
// kW lanes and is reduced pairwise, with the last C mod kW elements added in index order after.
// Agrees with the scalar reference to ~1e-6 relative.
#pragma once

#include <math.h>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace pbc {
namespace {

constexpr int kLnRows = 8;  // rows per parallel unit

void layernorm_rows(void* ctx, long unit, int /*worker*/) {
  const LayerNormArgs& l = *static_cast<const LayerNormArgs*>(ctx);
  const int C = l.C, tail = l.C % kW, body = l.C - tail;
  const int n0 = static_cast<int>(unit) * kLnRows, n1 = n0 + kLnRows < l.N ? n0 + kLnRows : l.N;
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

void layernorm_simd(const LayerNormArgs& l) {
  parallel_for((l.N + kLnRows - 1) / kLnRows, layernorm_rows, const_cast<LayerNormArgs*>(&l));
}

}  // namespace
}  // namespace pbc
