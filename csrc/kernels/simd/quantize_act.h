// simd/quantize_act.h — quantize.h's per-row activation quantization, vectorised over vec_<isa>.h.
//
// Every level must hand the integer GEMM the very codes, scale, zero point and outliers the scalar
// quantize_act_row computes (quantize.h), so this is the same arithmetic, reorganised. The outliers and
// the range of the other values come one of two ways:
//   - usually (act_outliers_by_candidates) from one pass for the lanes' maxima (on AVX2 also their
//     second largest values), which bounds T, the smallest outlier magnitude, from below by θ, and
//     one pass that takes the range of the values below θ (vector min/max) and lists the few at or
//     above it; ranked in the scalar code's order,
//     the first kActOutliers of the list are its outliers, and the rest joins the range;
//   - when that list would be long (ties near the top, fewer non-zeros than outliers:
//     act_outliers_by_network), from a pass keeping each lane's kActOutliers largest |a| (an insertion
//     network of max/min), whose largest kActOutliers give T exactly, and a pass taking the range of the
//     values below T while visiting only the lanes with |a| ≥ T: all above T are outliers, and of those
//     equal to T the first by index, the order (|a| descending, then index) the scalar insertion keeps.
// Then one pass forms the codes with the same IEEE multiply and round-to-nearest-even, and the
// outliers' codes are set to the zero point. Rows shorter than kActOutliers or holding a NaN take the
// scalar path (rare; its NaN rules are simplest stated once). Measured: the scalar version took ~40% of
// an int8 GEMM at N = 768; on rows in L2 the candidates are about 1.9x (K = 384) to 1.55x (K = 3072)
// faster than the network (bench/README.md, sixth session).
#pragma once

#include <stdint.h>

#include "kernels/quantize.h"

namespace pbc {
namespace {

// The network way (the header): the row's kO outliers (indices in the scalar code's order) and
// the range [lo, hi] of the other values, by an insertion network per lane. Any row of ≥ kO values
// without NaN.
inline void act_outliers_by_network(const float* a, int K, int* idx, float* lo_out, float* hi_out) {
  constexpr int kO = kActOutliers;
  const VF sign = v_set1(-0.0f);
  const int Kv = K / kW * kW;  // whole registers; the tail [Kv, K) is read masked (zeros)
  // 1. Each lane's kO largest magnitudes, largest first; tail lanes read 0, which cannot change the
  //    kO-th largest of a row of ≥ kO values (a row with fewer than kO non-zeros has T = 0 anyway).
  VF top[kO];
  for (int j = 0; j < kO; ++j) top[j] = v_set1(-1.0f);
  for (int k = 0; k < K; k += kW) {
    const VF x = k < Kv ? v_load(a + k) : v_load_tail(a + k, K - k);
    VF m = v_andnot(sign, x);
#pragma GCC unroll 16
    for (int j = 0; j < kO; ++j) {
      const VF hi = v_max(top[j], m);
      m = v_min(top[j], m);
      top[j] = hi;
    }
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
  *lo_out = v_reduce_min(vlo) < lo ? v_reduce_min(vlo) : lo;
  *hi_out = v_reduce_max(vhi) > hi ? v_reduce_max(vhi) : hi;
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
}

// The same outliers and range from a short list of candidates: kFound, or kNaN for a row holding a
// NaN, or kCrowded when the list would pass kCandidates (many values tied near the top, or fewer than
// kO non-zeros), and the caller then takes the network. θ is a lane maximum (or a lane's second largest
// value) that kO of those reach: kO distinct values are at least θ (lanes past a short row's end read
// 0, and θ = 0 bounds anything), so θ ≤ T and every outlier is among the values with |a| ≥ θ, the
// candidates; everything below θ is in the range. Ranking the candidates by the scalar code's order (|a| descending, then index) picks
// its outliers in its order: the values left out of the list are all smaller than those it keeps.
constexpr int kCandidates = 64;
enum class Candidates { kFound, kNaN, kCrowded };
inline Candidates act_outliers_by_candidates(const float* a, int K, int* idx, float* lo_out, float* hi_out) {
  constexpr int kO = kActOutliers;
  static_assert(kW >= kO, "θ needs kO lanes");
  const VF sign = v_set1(-0.0f), zero_v = v_zero();
  const int Kv = K / kW * kW;
  // Both passes: whole registers, then the tail read masked (zeros).
  // Pass 1 keeps each lane's largest magnitude and, where a register has fewer than 2·kO lanes (AVX2:
  // 8 lanes, 8 outliers), its second largest too. With the maxima alone θ there is the smallest of the
  // 8 lane maxima: MiniLM's activations then gave 22 candidates a row on average (a rank pass of n²/kW)
  // and now and then more than kCandidates (the network's slower way); with both, about 9 and at most 16.
  constexpr bool kTwoPerLane = kW < 2 * kO;
  VF lane_max = zero_v, lane_second = zero_v;
  unsigned nan = 0;
  auto widen = [&](VF x) {
    nan |= v_mask_nan(x);
    const VF m = v_andnot(sign, x);
    if (kTwoPerLane) lane_second = v_max(lane_second, v_min(lane_max, m));
    lane_max = v_max(lane_max, m);
  };
  for (int k = 0; k < Kv; k += kW) widen(v_load(a + k));
  if (Kv < K) widen(v_load_tail(a + Kv, K - Kv));
  if (nan) return Candidates::kNaN;
  // θ: the largest of those values that at least kO of them (itself included) reach, without a branch
  // on the data (a scalar sorting network here mispredicted its way to ~1000 cycles a row). They are
  // magnitudes of distinct elements (a lane's two largest are two of its elements) or zeros (lanes past
  // a short row's end), and θ = 0 bounds anything.
  constexpr int kLaneValues = kTwoPerLane ? 2 * kW : kW;
  alignas(64) float lanes[2 * kW];
  v_store(lanes, lane_max);
  v_store(lanes + kW, lane_second);
  float th = 0.0f;
  for (int l = 0; l < kLaneValues; ++l) {
    const VF v = v_set1(lanes[l]);
    int reach = __builtin_popcount(v_mask_ge(lane_max, v));
    if (kTwoPerLane) reach += __builtin_popcount(v_mask_ge(lane_second, v));
    th = reach >= kO && lanes[l] > th ? lanes[l] : th;
  }
  const VF theta = v_set1(th);
  // Pass 2 and the selection run without branches on the data: on random rows which registers hold
  // candidates, and where each goes, is a coin toss the predictor loses (~1000 cycles a row).
  int cand[kCandidates + kW];  // kW of room for the last store
  int n = 0;
  VF vlo = zero_v, vhi = zero_v;
  auto scan = [&](VF x, int k, unsigned live) {
    const VF m = v_andnot(sign, x);
    const VF below = v_select_lt(m, theta, x, zero_v);
    vlo = v_min(vlo, below);
    vhi = v_max(vhi, below);
    n += v_store_lane_indices(cand + n, v_mask_ge(m, theta) & live, k);
  };
  for (int k = 0; k < Kv && n <= kCandidates; k += kW) scan(v_load(a + k), k, ~0u);
  if (Kv < K && n <= kCandidates) scan(v_load_tail(a + Kv, K - Kv), Kv, (1u << (K - Kv)) - 1u);
  if (n > kCandidates) return Candidates::kCrowded;
  // Each candidate's rank in the scalar code's order (|a| descending, then index: the list is in index
  // order): those ranked below kO are the outliers, in rank order; the others join the range.
  alignas(64) float mag[kCandidates + kW];
  for (int c = 0; c < n; ++c) mag[c] = fabsf(a[cand[c]]);
  for (int c = n; c < n + kW; ++c) mag[c] = -1.0f;  // below every magnitude: never ahead
  int slot_of_rank[kO + 1];  // the last: where the others go
  float lo = v_reduce_min(vlo), hi = v_reduce_max(vhi);
  for (int c = 0; c < n; ++c) {
    const VF mc = v_set1(mag[c]);
    int rank = 0;
    for (int c0 = 0; c0 < n; c0 += kW) {
      const VF m = v_load(mag + c0);
      const unsigned not_below = v_mask_ge(m, mc), not_above = v_mask_ge(mc, m);
      const int before = c - c0 <= 0 ? 0 : c - c0 >= kW ? kW : c - c0;  // lanes of this register before c
      const unsigned earlier = before == kW ? ~0u : (1u << before) - 1u;
      rank += __builtin_popcount(not_below & ~not_above) + __builtin_popcount(not_below & not_above & earlier);
    }
    slot_of_rank[rank < kO ? rank : kO] = c;
    const float v = rank < kO ? 0.0f : a[cand[c]];  // 0 leaves the range as it is (lo ≤ 0 ≤ hi)
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  for (int j = 0; j < kO; ++j) idx[j] = cand[slot_of_rank[j]];
  *lo_out = lo;
  *hi_out = hi;
  return Candidates::kFound;
}

inline void quantize_act_row_simd(uint8_t* q, float* scale, int32_t* zero, int32_t* out_idx, float* out_val,
                                  const float* a, int K, int Kp) {
  constexpr int kO = kActOutliers;
  int idx[kO];
  float lo, hi;
  const Candidates found = K < kO ? Candidates::kNaN : act_outliers_by_candidates(a, K, idx, &lo, &hi);
  if (found == Candidates::kNaN) {  // or a row shorter than kO: the scalar code, whose rules are simplest stated once
    quantize_act_row(q, scale, zero, out_idx, out_val, a, K, Kp);
    return;
  }
  if (found == Candidates::kCrowded) act_outliers_by_network(a, K, idx, &lo, &hi);
  const int keep = settle_outliers(a, idx, kO, &lo, &hi);
  const int Kv = K / kW * kW;

  // Scale, zero point and codes: the scalar code's expressions, lane by lane.
  const ActQuant aq = act_quant(lo, hi);
  const int z = static_cast<int>(aq.zf);
  const VF zero_v = v_zero(), vinv = v_set1(aq.inv), vz = v_set1(aq.zf), vqmax = v_set1(static_cast<float>(kActQMax));
  for (int k = 0; k < Kv; k += kW) {
    const VF r = v_min(v_max(v_add(v_round(v_mul(v_load(a + k), vinv)), vz), zero_v), vqmax);
    v_store_u8(q + k, r);
  }
  for (int k = Kv; k < K; ++k) q[k] = act_code(a[k], aq);
  for (int k = K; k < Kp; ++k) q[k] = static_cast<uint8_t>(z);
  for (int o = 0; o < kO; ++o) {
    out_idx[o] = o < keep ? idx[o] : 0;
    out_val[o] = o < keep ? a[idx[o]] : 0.0f;
    if (o < keep) q[idx[o]] = static_cast<uint8_t>(z);
  }
  *scale = aq.scale;
  *zero = z;
}

}  // namespace
}  // namespace pbc
