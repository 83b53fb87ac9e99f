// quantize.h — the number formats of the low-precision GEMMs, defined once in plain scalar code.
//
// Every level (scalar, AVX2, AVX-512, AVX512-BF16, AVX512-VNNI) rounds and quantizes through these
// functions, so the bf16 weights and the int8 weights/activations are bit-identical across levels:
// the integer GEMM then agrees exactly in its int32 accumulators, and the levels differ only in the
// fp32 epilogue's rounding.
//
//   bf16: round-to-nearest-even of the fp32 bits (NaN stays NaN, quiet).
//   int8 weights: per output channel (row of W (N, K)) and group of kWeightGroup consecutive k,
//     symmetric s8 in [-127, 127], **pair-safe**: the scale is the larger of max|w| / 127 and
//     max(|w_k| + |w_k+1|) / 128 over the group's same-sign pairs (k even), and a pair whose rounding
//     still lands on |q_k| + |q_k+1| = 129 gives up one step on the element rounded up the most. So
//     every pair of adjacent codes satisfies |q_k·a_k + q_k+1·a_k+1| ≤ 255·128 = 32640 for 8-bit
//     activations (an opposite-sign pair: ≤ 255·127): AVX2's vpmaddubsw (two u8·s8 products summed
//     into a *saturating* int16) is then exact, and agrees with VNNI's vpdpbusd and the scalar sum.
//     Why groups: one scale per channel cost MiniLM's worst sentence a cosine of 0.9946 against fp32
//     (weights alone), groups of 128 / 64 / 32 give 0.9985 / 0.9988 / 0.9992 (bundled sentences); with
//     the whole scheme below, groups of 64 measured the same as 128 (0.9991 / 0.9990) but folding
//     twice as often cost ~15% of the AVX2 GEMM.
//   int8 activations: per token row, asymmetric **8-bit** unsigned: q in [0, 255], zero point z,
//     a ≈ scale · (q − z), the range [min(a, 0), max(a, 0)] of the row *without its outliers*: of its
//     kActOutliers largest magnitudes, those more than kOutlierGap (1.5) times the largest of the
//     other values (BERT's hidden states have a few channels up to ~20× the row's RMS, above all on
//     [CLS]). Outliers take the code z, so they add nothing to the integer sums, and are multiplied in
//     fp32 by a bf16 copy of their weights in the epilogue; a row whose top values stand close to the
//     rest has none, or fewer, and skips that work (the unused slots hold index 0, value 0). Taking
//     all kActOutliers always instead: min cosine 0.99902 rather than 0.99871 on MiniLM, and one core
//     12-16% slower on that real checkpoint at 1×128 and 16×128 (gap 1.25: 0.99881, 7-9% slower).
//   Measured on all-MiniLM-L6-v2, 276 bundled sentences, min cosine of mean-pooled embeddings vs fp32
//     (`pybertcore.accuracy_report`): this scheme 0.9990 (with all kActOutliers taken; 0.9987 with the
//     gap); the previous one (7-bit activations, 4
//     outliers clamped into range with fp32 residuals times their int8 weights) 0.9961. In a numpy
//     emulation, 7-bit activations alone cost 0.9979 and 8-bit ones 0.9996 (the pair-safe weights
//     pay for the eighth bit), 8 outliers instead of 4 gain ~0.0006, and multiplying them by bf16
//     rather than int8 weights ~0.001.
//   GEMM: per group g, acc_g[m][n] = Σ_{k∈g} q_a[m][k] · q_w[n][k] (exact int32, and exact in fp32 too:
//     |acc_g| ≤ 128·255·127 < 2²⁴), then, with zc[n] = Σ_g scale_w[n][g] · Σ_{k∈g} q_w[n][k] (fp32, at
//     pack time: the zero point's share, so the inner loop needs no multiply by z),
//     C = scale_a[m] · (Σ_g scale_w[n][g] · acc_g − z[m] · zc[n]) + Σ_o a[m][k_o] · bf16(W[n][k_o])
//     + bias, activation and residual (groups and outliers summed in order, in fp32).
//
// Everything has internal linkage (included by files compiled with different ISA flags).
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

namespace pbc {
namespace {

constexpr int kActQMax = 255;     // 8-bit activations
constexpr int kActOutliers = 8;   // per row, multiplied in fp32 (bf16 weights)
constexpr int kWeightQMax = 127;
constexpr int kPairQMax = 128;    // |q_k| + |q_k+1| of a same-sign pair: 255·128 < 32768
constexpr int kWeightGroup = 128;  // k per weight scale; a multiple of 4 (whole quads)

inline int weight_groups(int K) { return (K + kWeightGroup - 1) / kWeightGroup; }

inline uint16_t bf16_from_float(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// q (K) ← the pair-safe symmetric s8 quantization of one weight row w (K), group by group: scale[g]
// and qsum[g] = Σ q over the group, for g < weight_groups(K).
inline void quantize_weight_row(int8_t* q, float* scale, int32_t* qsum, const float* w, int K) {
  for (int g = 0; g * kWeightGroup < K; ++g) {
    const int k0 = g * kWeightGroup, k1 = k0 + kWeightGroup < K ? k0 + kWeightGroup : K;
    float amax = 0.0f, pmax = 0.0f;
    for (int k = k0; k < k1; ++k) amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax;
    for (int k = k0; k + 1 < k1; k += 2) {  // groups start at even k: these are vpmaddubsw's pairs
      const float p = fabsf(w[k]) + fabsf(w[k + 1]);
      if ((w[k] > 0.0f && w[k + 1] > 0.0f) || (w[k] < 0.0f && w[k + 1] < 0.0f)) pmax = p > pmax ? p : pmax;
    }
    float s = amax / static_cast<float>(kWeightQMax);
    const float sp = pmax / static_cast<float>(kPairQMax);
    s = sp > s ? sp : s;
    if (!(s > 0.0f)) s = 1.0f;
    const float inv = 1.0f / s;
    int32_t sum = 0;
    for (int k = k0; k < k1; ++k) {
      int v = static_cast<int>(nearbyintf(w[k] * inv));
      v = v < -kWeightQMax ? -kWeightQMax : (v > kWeightQMax ? kWeightQMax : v);
      q[k] = static_cast<int8_t>(v);
    }
    // |w_k| + |w_k+1| ≤ 128·s, but both may round up: step back the one rounded up the most.
    for (int k = k0; k + 1 < k1; k += 2) {
      const int a = q[k], b = q[k + 1];
      if ((a > 0) != (b > 0) || a == 0 || b == 0 || abs(a) + abs(b) <= kPairQMax) continue;
      const float up_a = static_cast<float>(abs(a)) - fabsf(w[k] * inv);
      const float up_b = static_cast<float>(abs(b)) - fabsf(w[k + 1] * inv);
      const int j = up_b > up_a ? k + 1 : k;
      q[j] = static_cast<int8_t>(q[j] > 0 ? q[j] - 1 : q[j] + 1);
    }
    for (int k = k0; k < k1; ++k) sum += q[k];
    scale[g] = s;
    qsum[g] = sum;
  }
}

// An activation row's scale s (a ≈ s·(q − z)), its inverse and its zero point z (as a float), from the
// range [lo, hi] ∋ 0 of its non-outliers; and the code of one value. Shared by every level's quantizer.
struct ActQuant {
  float scale, inv, zf;
};
inline ActQuant act_quant(float lo, float hi) {
  float s = (hi - lo) / static_cast<float>(kActQMax);
  if (!(s > 0.0f) || !(s < INFINITY)) s = 1.0f;
  const float inv = 1.0f / s;
  float zf = nearbyintf(-lo * inv);
  zf = zf > 0.0f ? zf : 0.0f;
  zf = zf < static_cast<float>(kActQMax) ? zf : static_cast<float>(kActQMax);
  return ActQuant{s, inv, zf};
}
inline uint8_t act_code(float a, const ActQuant& aq) {
  float r = nearbyintf(a * aq.inv) + aq.zf;
  r = r > 0.0f ? r : 0.0f;  // NaN → 0
  r = r < static_cast<float>(kActQMax) ? r : static_cast<float>(kActQMax);
  return static_cast<uint8_t>(static_cast<int>(r));
}

// An outlier candidate stays an outlier only when its magnitude is more than kOutlierGap times the
// largest of the row's other values; the rest join the range (the header: 1.5 measured best).
constexpr float kOutlierGap = 1.5f;

// Of a row's n outlier candidates idx (|a| descending), the other values spanning [lo, hi]: those with
// |a| > kOutlierGap · max(−lo, hi), a prefix, stay outliers; the others join [lo, hi]. Returns how many
// stay. Shared by every level's quantizer, so all make the same choice from the same numbers.
inline int settle_outliers(const float* a, const int* idx, int n, float* lo, float* hi) {
  const float bar = kOutlierGap * (-*lo > *hi ? -*lo : *hi);
  int keep = 0;
  while (keep < n && fabsf(a[idx[keep]]) > bar) ++keep;
  for (int o = keep; o < n; ++o) {
    const float v = a[idx[o]];
    *lo = v < *lo ? v : *lo;
    *hi = v > *hi ? v : *hi;
  }
  return keep;
}

// q (Kp) ← the asymmetric 8-bit quantization of one activation row a (K); q[K..Kp) = z (padding,
// multiplied by zero weights). Writes the row's scale and zero point, and its outliers in kActOutliers
// slots: the indices of the largest |a| (first index wins a tie) that settle_outliers keeps, in that
// order, and their values, then index 0 with value 0 in the slots left; the outliers' codes are z.
inline void quantize_act_row(uint8_t* q, float* scale, int32_t* zero, int32_t* out_idx, float* out_val,
                             const float* a, int K, int Kp) {
  int idx[kActOutliers];
  float mag[kActOutliers];
  int n_out = 0;
  for (int k = 0; k < K; ++k) {
    const float m = fabsf(a[k]);
    if (!(m == m)) continue;  // NaN: never an outlier
    if (n_out < kActOutliers) {
      int j = n_out++;
      while (j > 0 && mag[j - 1] < m) { mag[j] = mag[j - 1]; idx[j] = idx[j - 1]; --j; }
      mag[j] = m;
      idx[j] = k;
    } else if (m > mag[kActOutliers - 1]) {
      int j = kActOutliers - 1;
      while (j > 0 && mag[j - 1] < m) { mag[j] = mag[j - 1]; idx[j] = idx[j - 1]; --j; }
      mag[j] = m;
      idx[j] = k;
    }
  }
  // The range of the other values: those below the smallest outlier's magnitude T, plus any that tie
  // with T without being one of the outliers (rare: checked one by one).
  const float T = n_out == kActOutliers ? mag[kActOutliers - 1] : INFINITY;
  float lo = 0.0f, hi = 0.0f;
  bool ties = false;
  for (int k = 0; k < K; ++k) {
    const float v = fabsf(a[k]) < T ? a[k] : 0.0f;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    ties = ties || fabsf(a[k]) == T;
  }
  if (ties && n_out == kActOutliers) {
    for (int k = 0; k < K; ++k) {
      if (fabsf(a[k]) != T) continue;
      bool outlier = false;
      for (int o = 0; o < n_out; ++o) outlier = outlier || idx[o] == k;
      if (outlier) continue;
      lo = a[k] < lo ? a[k] : lo;
      hi = a[k] > hi ? a[k] : hi;
    }
  }
  const int keep = settle_outliers(a, idx, n_out, &lo, &hi);
  const ActQuant aq = act_quant(lo, hi);
  const int z = static_cast<int>(aq.zf);
  for (int k = 0; k < K; ++k) q[k] = act_code(a[k], aq);
  for (int k = K; k < Kp; ++k) q[k] = static_cast<uint8_t>(z);
  for (int o = 0; o < kActOutliers; ++o) {
    if (o < keep) {
      out_idx[o] = idx[o];
      out_val[o] = a[idx[o]];
      q[idx[o]] = static_cast<uint8_t>(z);
    } else {
      out_idx[o] = 0;
      out_val[o] = 0.0f;
    }
  }
  *scale = aq.scale;
  *zero = z;
}

}  // namespace
}  // namespace pbc
