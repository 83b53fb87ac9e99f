// simd/quantize_act.h — quantize.h's per-row activation quantization, vectorised over vec_<isa>.h.
//
// Every level must hand the integer GEMM the very codes, scale, zero point and outliers the scalar
// quantize_act_row computes (quantize.h), so this is the same arithmetic, reorganised:
//   1. one pass keeps, per lane, the kActOutliers largest |a| (an insertion network of max/min); the
//      largest kActOutliers of those lanes' lists are the row's, so T, the smallest outlier magnitude,
//      is exact (max/min are exact in any order);
//   2. one pass takes the range of the values below T (vector min/max, as the scalar code) and visits
//      only the lanes with |a| ≥ T: all with |a| > T are outliers, and of those equal to T the first by
//      index, exactly the order (|a| descending, then index) the scalar insertion keeps; ties left
//      out join the range, as in the scalar code;
//   3. one pass forms the codes with the same IEEE multiply and round-to-nearest-even; the
//      outliers' codes are then set to the zero point.
// Rows shorter than kActOutliers or holding a NaN take the scalar path (rare; its NaN rules are
// simplest stated once). Measured: the scalar version took ~40% of an int8 GEMM at N = 768.
#pragma once

#include <stdint.h>

#include "kernels/quantize.h"

namespace pbc {
namespace {

inline void quantize_act_row_simd(uint8_t* q, float* scale, int32_t* zero, int32_t* out_idx, float* out_val,
                                  const float* a, int K, int Kp) {
  constexpr int kO = kActOutliers;
  const VF sign = v_set1(-0.0f);
  const int Kv = K / kW * kW;  // whole registers; the tail [Kv, K) is read masked (zeros)
  // 1. Each lane's kO largest magnitudes, largest first; tail lanes read 0, which cannot change the
  //    kO-th largest of a row of ≥ kO values (a row with fewer than kO non-zeros has T = 0 anyway).
  VF top[kO];
  for (int j = 0; j < kO; ++j) top[j] = v_set1(-1.0f);
  bool nan = false;
  for (int k = 0; k < K; k += kW) {
    const VF x = k < Kv ? v_load(a + k) : v_load_tail(a + k, K - k);
    nan = nan || v_mask_nan(x) != 0;
    VF m = v_andnot(sign, x);
#pragma GCC unroll 16
    for (int j = 0; j < kO; ++j) {
      const VF hi = v_max(top[j], m);
      m = v_min(top[j], m);
      top[j] = hi;
    }
  }
  if (K < kO || nan) {
    quantize_act_row(q, scale, zero, out_idx, out_val, a, K, Kp);
    return;
  }
  alignas(64) float cand[kO * kW];
  for (int j = 0; j < kO; ++j) v_store(cand + j * kW, top[j]);
  // The kO largest candidates, largest first: a merge of the kW lanes' lists, each sorted largest
  // first by the insertion network (kO steps over the kW list heads). Only the values matter, and they
  // are those of any selection. (A selection of kO passes over all kO·kW candidates took ~1000
  // compare-selects per row: more than the three passes over a row of a few hundred values.)
  float mag[kO];
  float headv[kW];  // each lane's largest candidate not yet taken (-1: none left)
  int depth[kW];
  for (int l = 0; l < kW; ++l) headv[l] = cand[l], depth[l] = 0;
  for (int j = 0; j < kO; ++j) {
    int best = 0;
    for (int l = 1; l < kW; ++l) best = headv[l] > headv[best] ? l : best;
    mag[j] = headv[best];
    const int d = ++depth[best];
    headv[best] = d < kO ? cand[d * kW + best] : -1.0f;
  }
  const float T = mag[kO - 1];
  int n_gt = 0;  // outliers strictly above T; the other kO − n_gt tie with it
  for (int j = 0; j < kO; ++j) n_gt += mag[j] > T;

  // 2. The range of the non-outliers, and the outliers' indices.
  int idx[kO];
  int found_gt = 0, found_eq = 0;
  const VF vT = v_set1(T), zero_v = v_zero();
  VF vlo = zero_v, vhi = zero_v;
  float lo = 0.0f, hi = 0.0f;  // ties with T that are not outliers
  for (int k = 0; k < K; k += kW) {
    const int n = K - k < kW ? K - k : kW;
    const VF x = k < Kv ? v_load(a + k) : v_load_tail(a + k, n);
    const VF m = v_andnot(sign, x);
    const VF below = v_select_lt(m, vT, x, zero_v);  // |a| < T: in the range; tail lanes read 0
    vlo = v_min(vlo, below);
    vhi = v_max(vhi, below);
    unsigned big = v_mask_ge(m, vT) & ((1u << n) - 1u);
    while (big) {
      const int l = __builtin_ctz(big);
      big &= big - 1;
      const float v = a[k + l];
      if (fabsf(v) > T) {
        idx[found_gt + found_eq] = k + l;
        ++found_gt;
      } else if (found_eq < kO - n_gt) {
        idx[found_gt + found_eq] = k + l;
        ++found_eq;
      } else {
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    }
  }
  lo = v_reduce_min(vlo) < lo ? v_reduce_min(vlo) : lo;
  hi = v_reduce_max(vhi) > hi ? v_reduce_max(vhi) : hi;
  // The outliers in the scalar code's order: |a| descending, then index (insertion sort of kO).
  for (int i = 1; i < kO; ++i) {
    const int k = idx[i];
    int j = i;
    while (j > 0 && (fabsf(a[idx[j - 1]]) < fabsf(a[k]) || (fabsf(a[idx[j - 1]]) == fabsf(a[k]) && idx[j - 1] > k))) {
      idx[j] = idx[j - 1];
      --j;
    }
    idx[j] = k;
  }

  // 3. Scale, zero point and codes: the scalar code's expressions, lane by lane.
  const ActQuant aq = act_quant(lo, hi);
  const int z = static_cast<int>(aq.zf);
  const VF vinv = v_set1(aq.inv), vz = v_set1(aq.zf), vqmax = v_set1(static_cast<float>(kActQMax));
  for (int k = 0; k < Kv; k += kW) {
    const VF r = v_min(v_max(v_add(v_round(v_mul(v_load(a + k), vinv)), vz), zero_v), vqmax);
    v_store_u8(q + k, r);
  }
  for (int k = Kv; k < K; ++k) q[k] = act_code(a[k], aq);
  for (int k = K; k < Kp; ++k) q[k] = static_cast<uint8_t>(z);
  for (int o = 0; o < kO; ++o) {
    out_idx[o] = idx[o];
    out_val[o] = a[idx[o]];
    q[idx[o]] = static_cast<uint8_t>(z);
  }
  *scale = aq.scale;
  *zero = z;
}

}  // namespace
}  // namespace pbc
