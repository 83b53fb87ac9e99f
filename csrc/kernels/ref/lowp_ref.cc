// lowp_ref.cc — the scalar reference of the low-precision GEMMs: what gemm_bf16 and gemm_int8 mean.
//
// Baseline flags; also the fallback every higher level starts from. Formats: quantize.h.
//   bf16:  C = act(A · bf16(W)ᵀ + bias) + residual, A in fp32, products and sums in fp32, k in order.
//   int8:  A quantized per row (8-bit asymmetric, kActOutliers outliers taken out and multiplied in
//          fp32 by bf16 weights), W per output channel and group of kWeightGroup k (s8 symmetric,
//          pair-safe), exact int32 dot products per group, then the formula of quantize.h.
// Packed layouts (this level only): bf16 W (N, K) row-major; int8 [q_w (N, K) | pad to 64 bytes |
// scale_w (N, groups) | Σq_w (N, groups) int32 | zc (N) | bf16(W)ᵀ (K, N)].
#include <stdint.h>
#include <string.h>

#include <vector>

#include "kernels/activation.h"
#include "kernels/kernels.h"
#include "runtime/parallel.h"
#include "kernels/quantize.h"

namespace pbc {
namespace {

size_t packed_bf16_bytes_ref(int N, int K) { return static_cast<size_t>(N) * K * 2; }

void pack_weight_bf16_ref(void* packed, const float* w, int N, int K) {
  uint16_t* dst = static_cast<uint16_t*>(packed);
  const size_t n = static_cast<size_t>(N) * K;
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_from_float(w[i]);
}

inline float epilogue(const GemmArgs& g, float acc, int m, int n) {
  if (g.bias) acc += g.bias[n];
  acc = activation_scalar(acc, g.act);
  if (g.residual) acc += g.residual[static_cast<size_t>(m) * g.ldr + n];
  return acc;
}

void gemm_bf16_row_ref(void* ctx, long m, int /*worker*/) {
  const GemmArgs& g = *static_cast<const GemmArgs*>(ctx);
  const uint16_t* wq = static_cast<const uint16_t*>(g.b_lowp);
  const float* a = g.a + static_cast<size_t>(m) * g.lda;
  for (int n = 0; n < g.N; ++n) {
    const uint16_t* w = wq + static_cast<size_t>(n) * g.K;
    float acc = 0.0f;
    for (int k = 0; k < g.K; ++k) acc += a[k] * bf16_to_float(w[k]);
    g.c[static_cast<size_t>(m) * g.ldc + n] = epilogue(g, acc, static_cast<int>(m), n);
  }
}

void gemm_bf16_ref(const GemmArgs& g) { parallel_for(g.M, gemm_bf16_row_ref, const_cast<GemmArgs*>(&g)); }

size_t int8_q_bytes(int N, int K) { return (static_cast<size_t>(N) * K + 63) / 64 * 64; }

// Where the bf16 transposed copy the outliers are multiplied with, (K, N), starts: after zc.
size_t int8_outlier_offset(int N, int K) {
  return int8_q_bytes(N, K) + static_cast<size_t>(N) * weight_groups(K) * 8 + static_cast<size_t>(N) * 4;
}
size_t packed_int8_bytes_ref(int N, int K) { return int8_outlier_offset(N, K) + static_cast<size_t>(K) * N * 2; }
const uint16_t* int8_outlier_weights(const void* packed, int N, int K) {
  return reinterpret_cast<const uint16_t*>(static_cast<const char*>(packed) + int8_outlier_offset(N, K));
}

struct Int8PackRef {
  void* packed;
  const float* w;
  int N, K;
};

void pack_int8_row_ref(void* ctx, long n, int /*worker*/) {
  const Int8PackRef& pl = *static_cast<const Int8PackRef*>(ctx);
  const int N = pl.N, K = pl.K, G = weight_groups(K);
  float* scale = reinterpret_cast<float*>(static_cast<char*>(pl.packed) + int8_q_bytes(N, K));  // (N, G)
  int32_t* qsum = reinterpret_cast<int32_t*>(scale + static_cast<size_t>(N) * G);               // (N, G)
  float* zc = reinterpret_cast<float*>(qsum + static_cast<size_t>(N) * G);                       // (N)
  float* s = scale + static_cast<size_t>(n) * G;
  int32_t* qs = qsum + static_cast<size_t>(n) * G;
  quantize_weight_row(static_cast<int8_t*>(pl.packed) + static_cast<size_t>(n) * K, s, qs,
                      pl.w + static_cast<size_t>(n) * K, K);
  float c = 0.0f;
  for (int g = 0; g < G; ++g) c += s[g] * static_cast<float>(qs[g]);
  zc[n] = c;
  uint16_t* wt = const_cast<uint16_t*>(int8_outlier_weights(pl.packed, N, K));
  for (int k = 0; k < K; ++k) wt[static_cast<size_t>(k) * N + n] = bf16_from_float(pl.w[static_cast<size_t>(n) * K + k]);
}

void pack_weight_int8_ref(void* packed, const float* w, int N, int K) {
  Int8PackRef pl{packed, w, N, K};
  parallel_for(N, pack_int8_row_ref, &pl);
}

struct Int8Ref {
  const GemmArgs* g;
  const int8_t* wq;    // (N, K)
  const float* sw;     // (N, groups)
  const float* zc;     // (N)
  const uint16_t* wt;  // (K, N) bf16, the outliers' weights
  uint8_t* aq;         // (M, K) quantized A, with each row's scale, zero point and outliers
  float* sa;
  int32_t* za;
  int32_t* oi;
  float* ov;
};

void int8_quantize_row_ref(void* ctx, long m, int /*worker*/) {
  const Int8Ref& r = *static_cast<const Int8Ref*>(ctx);
  const GemmArgs& g = *r.g;
  quantize_act_row(r.aq + static_cast<size_t>(m) * g.K, r.sa + m, r.za + m, r.oi + static_cast<size_t>(m) * kActOutliers,
                   r.ov + static_cast<size_t>(m) * kActOutliers, g.a + static_cast<size_t>(m) * g.lda, g.K, g.K);
}

void int8_row_ref(void* ctx, long m, int /*worker*/) {
  const Int8Ref& r = *static_cast<const Int8Ref*>(ctx);
  const GemmArgs& g = *r.g;
  const int N = g.N, K = g.K, G = weight_groups(K);
  const uint8_t* a = r.aq + static_cast<size_t>(m) * K;
  for (int n = 0; n < N; ++n) {
    const int8_t* w = r.wq + static_cast<size_t>(n) * K;
    const float* s = r.sw + static_cast<size_t>(n) * G;
    float dot = 0.0f;
    for (int gi = 0; gi < G; ++gi) {
      const int k0 = gi * kWeightGroup, k1 = k0 + kWeightGroup < K ? k0 + kWeightGroup : K;
      int32_t acc = 0;
      for (int k = k0; k < k1; ++k) acc += static_cast<int32_t>(a[k]) * w[k];
      dot += static_cast<float>(acc) * s[gi];
    }
    float v = (dot - static_cast<float>(r.za[m]) * r.zc[n]) * r.sa[m];
    for (int o = 0; o < (K > 0 ? kActOutliers : 0); ++o) {
      const size_t i = static_cast<size_t>(m) * kActOutliers + o;
      v += r.ov[i] * bf16_to_float(r.wt[static_cast<size_t>(r.oi[i]) * N + n]);
    }
    g.c[static_cast<size_t>(m) * g.ldc + n] = epilogue(g, v, static_cast<int>(m), n);
  }
}

void gemm_int8_ref(const GemmArgs& g) {
  const int M = g.M, N = g.N, K = g.K;
  if (M <= 0 || N <= 0) return;
  const int G = weight_groups(K);
  std::vector<uint8_t> aq(static_cast<size_t>(M) * (K > 0 ? K : 1));
  std::vector<float> sa(M), ov(static_cast<size_t>(M) * kActOutliers);
  std::vector<int32_t> za(M), oi(static_cast<size_t>(M) * kActOutliers);
  Int8Ref r;
  r.g = &g;
  r.wq = static_cast<const int8_t*>(g.b_lowp);
  r.sw = reinterpret_cast<const float*>(static_cast<const char*>(g.b_lowp) + int8_q_bytes(N, K));
  r.zc = r.sw + static_cast<size_t>(N) * G * 2;
  r.wt = int8_outlier_weights(g.b_lowp, N, K);
  r.aq = aq.data();
  r.sa = sa.data();
  r.za = za.data();
  r.oi = oi.data();
  r.ov = ov.data();
  parallel_for(M, int8_quantize_row_ref, &r);
  parallel_for(M, int8_row_ref, &r);
}

}  // namespace

void fill_lowp_ref(Kernels* k) {
  k->packed_bf16_bytes = packed_bf16_bytes_ref;
  k->pack_weight_bf16 = pack_weight_bf16_ref;
  k->gemm_bf16 = gemm_bf16_ref;
  k->bf16_rounds_activations = false;
  k->bf16_kernel = "scalar";
  k->packed_int8_bytes = packed_int8_bytes_ref;
  k->pack_weight_int8 = pack_weight_int8_ref;
  k->gemm_int8 = gemm_int8_ref;
  k->quantize_act_row = quantize_act_row;
  k->int8_kernel = "scalar";
}

}  // namespace pbc
