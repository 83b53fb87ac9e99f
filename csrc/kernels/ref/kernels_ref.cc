// kernels_ref.cc — the scalar reference level: plain loops that define what every kernel means.
//
// Compiled with the baseline flags, so it runs on any CPU. It is also the fallback for entries a SIMD
// level does not override. Reductions run in index order with fp32 accumulators (fp64 would drift
// further from transformers, which accumulates in fp32 too). Rows (and attention heads) run on the
// same thread pool as the SIMD levels (parallel.h), not OpenMP: a child forked after an OpenMP team
// existed hangs in libgomp on its next parallel region.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/kernels.h"
#include "runtime/parallel.h"

namespace pbc {
namespace {

// The reference "packing" keeps W as it is: (N, K) row-major.
size_t packed_weight_size_ref(int N, int K) { return static_cast<size_t>(N) * K; }

void pack_weight_ref(float* packed, const float* w, int N, int K) {
  memcpy(packed, w, sizeof(float) * static_cast<size_t>(N) * K);
}

void unpack_weight_ref(float* w, const float* packed, int N, int K) {
  memcpy(w, packed, sizeof(float) * static_cast<size_t>(N) * K);
}

// Row m of C (M, N) = act(A (M, K) · W (N, K)ᵀ + bias) + residual
void gemm_row_ref(void* ctx, long m, int /*worker*/) {
  const GemmArgs& g = *static_cast<const GemmArgs*>(ctx);
  const float* a = g.a + static_cast<size_t>(m) * g.lda;
  for (int n = 0; n < g.N; ++n) {
    const float* w = g.b_packed + static_cast<size_t>(n) * g.K;
    float acc = 0.0f;
    for (int k = 0; k < g.K; ++k) acc += a[k] * w[k];
    if (g.bias) acc += g.bias[n];
    acc = activation_scalar(acc, g.act);
    if (g.residual) acc += g.residual[static_cast<size_t>(m) * g.ldr + n];
    g.c[static_cast<size_t>(m) * g.ldc + n] = acc;
  }
}

// The reference's packed layout of an (M, K) operand is A itself, row-major.
size_t packed_a_floats_ref(int M, int K) { return static_cast<size_t>(M) * K; }

void gemm_ref(const GemmArgs& args) {
  GemmArgs g = args;
  if (g.a_packed) g.a = g.a_packed, g.lda = g.K;
  if (g.c_packed) g.c = g.c_packed, g.ldc = g.N;
  parallel_for(g.M, gemm_row_ref, &g);
}

// One (sequence, head) pair: softmax(q·Kᵀ·scale)·V for each query row, scores kept in `scores` (T).
void attention_head_ref(const AttentionArgs& a, int s, int h, float* scores) {
  const SequenceSpan span = a.seqs[s];
  const int H = a.NH * a.HS;
  const int n_keys = span.row_end - span.key_begin;
  const int queries_end = query_rows_end(a, span);
  for (int r = span.row_begin; r < queries_end; ++r) {
    float* ctx = a.ctx + static_cast<size_t>(r) * a.ld_ctx + h * a.HS;
    if (n_keys == 0) {
      for (int d = 0; d < a.HS; ++d) ctx[d] = 0.0f;
      continue;
    }
    const float* q = a.qkv + static_cast<size_t>(r) * a.ld_qkv + h * a.HS;
    const int qs = a.slot[r];
    float max_score = -INFINITY;
    for (int j = 0; j < n_keys; ++j) {
      const int ks = a.slot[span.key_begin + j];
      if (a.window > 0 && (ks - qs > a.window || qs - ks > a.window)) {
        scores[j] = -INFINITY;  // outside the window: exp gives 0
        continue;
      }
      const float* k = a.qkv + static_cast<size_t>(span.key_begin + j) * a.ld_qkv + H + h * a.HS;
      float dot = 0.0f;
      for (int d = 0; d < a.HS; ++d) dot += q[d] * k[d];
      if (a.pos_key || a.pos_query) {  // disentangled terms at the table row of this relative position
        const size_t row = static_cast<size_t>(a.pos_col[qs - ks + a.rel_span - 1]) * a.ld_pos + h * a.HS;
        float c2p = 0.0f, p2c = 0.0f;
        if (a.pos_key) for (int d = 0; d < a.HS; ++d) c2p += q[d] * a.pos_key[row + d];
        if (a.pos_query) for (int d = 0; d < a.HS; ++d) p2c += k[d] * a.pos_query[row + d];
        dot += c2p + p2c;
      }
      scores[j] = dot * a.scale;
      if (a.rel_bias) scores[j] += a.rel_bias[static_cast<size_t>(h) * (2 * a.rel_span - 1) + (ks - qs + a.rel_span - 1)];
      if (scores[j] > max_score) max_score = scores[j];
    }
    if (max_score == -INFINITY) {  // no key in the window
      for (int d = 0; d < a.HS; ++d) ctx[d] = 0.0f;
      continue;
    }
    float sum = 0.0f;
    for (int j = 0; j < n_keys; ++j) {
      scores[j] = expf(scores[j] - max_score);
      sum += scores[j];
    }
    const float inv_sum = 1.0f / sum;
    for (int j = 0; j < n_keys; ++j) scores[j] *= inv_sum;
    for (int d = 0; d < a.HS; ++d) ctx[d] = 0.0f;
    for (int j = 0; j < n_keys; ++j) {
      const float* v = a.qkv + static_cast<size_t>(span.key_begin + j) * a.ld_qkv + 2 * H + h * a.HS;
      for (int d = 0; d < a.HS; ++d) ctx[d] += scores[j] * v[d];
    }
    if (a.probs) {
      float* row = a.probs + ((static_cast<size_t>(s) * a.NH + h) * a.T + a.slot[r]) * a.T;
      for (int j = 0; j < n_keys; ++j) row[a.slot[span.key_begin + j]] = scores[j];
    }
  }
}

size_t attention_scratch_floats_ref(int T, int /*HS*/, int /*pos_rows*/) { return static_cast<size_t>(T > 0 ? T : 1); }

void attention_pair_ref(void* ctx, long p, int worker) {
  const AttentionArgs& a = *static_cast<const AttentionArgs*>(ctx);
  attention_head_ref(a, static_cast<int>(p / a.NH), static_cast<int>(p % a.NH),
                     a.scratch + static_cast<size_t>(worker) * a.scratch_floats);
}

void attention_ref(const AttentionArgs& a) {
  // The scratch holds a.threads slices: never run on more threads than that.
  parallel_for_limited(static_cast<long>(a.B) * a.NH, a.threads, attention_pair_ref, const_cast<AttentionArgs*>(&a));
}

// Two passes per row (mean, then variance of the centred values), as torch's LayerNorm computes it.
void layernorm_row_ref(void* ctx, long n, int /*worker*/) {
  const LayerNormArgs& l = *static_cast<const LayerNormArgs*>(ctx);
  const float* x = l.inp + static_cast<size_t>(n) * l.C;
  float* y = l.out + static_cast<size_t>(n) * l.C;
  float mean = 0.0f;
  for (int c = 0; c < l.C; ++c) mean += x[c];
  mean /= static_cast<float>(l.C);
  float var = 0.0f;
  for (int c = 0; c < l.C; ++c) var += (x[c] - mean) * (x[c] - mean);
  var /= static_cast<float>(l.C);
  const float rstd = 1.0f / sqrtf(var + l.eps);
  for (int c = 0; c < l.C; ++c) y[c] = (x[c] - mean) * rstd * l.weight[c] + l.bias[c];
  if (l.packed) memcpy(l.packed + static_cast<size_t>(n) * l.C, y, sizeof(float) * l.C);
}

void layernorm_ref(const LayerNormArgs& l) { parallel_for(l.N, layernorm_row_ref, const_cast<LayerNormArgs*>(&l)); }

}  // namespace

void fill_kernels_ref(Kernels* k) {
  k->name = "scalar";
  k->isa = Isa::kScalar;
  k->packed_weight_size = packed_weight_size_ref;
  k->pack_weight = pack_weight_ref;
  k->unpack_weight = unpack_weight_ref;
  k->gemm = gemm_ref;
  k->packed_a_floats = packed_a_floats_ref;
  k->attention = attention_ref;
  k->attention_bf16 = attention_ref;
  k->attention_scratch_floats = attention_scratch_floats_ref;
  k->layernorm = layernorm_ref;
}

}  // namespace pbc
