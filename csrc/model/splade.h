// splade.h — the SPLADE head fused: MLM transform, vocabulary decoder, log1p(ReLU) and pooling over each
// sequence, run over row tiles of the vocabulary so that the (N, V) logits are never stored.
//
// What it computes (sentence-transformers' MLMTransformer + SpladePooling, for one batch of packed rows):
//   t       = LayerNorm(act(hidden · Wtᵀ + bt))                 (N, X)   the MLM head's transform
//   logit   = t · Wdᵀ + bd                                      (N, V)   never stored: VT columns at a time
//   f(x)    = log1p(max(x, 0)), applied twice for "log1p_relu"
//   out[b]  = max or sum over the rows of sequence b of f(logit)  (B, V)
// For max pooling f is applied once per output (f is non-decreasing, so max f(x) = f(max x)); for sum,
// once per logit, summed in row order.
//
// Memory of a call: t and its packed copy (N·X each), one tile of logits (N·VT) and the output (B·V),
// i.e. O(N·VT + B·V) beyond the hidden states, never O(N·V).
// Numerics: the GEMMs are the encoder's kernels (per-row results independent of the batch and the
// thread count); each pooled value is reduced by one thread in row order, so a sequence's output is
// bit-for-bit the same whatever batch it is in and however many threads run.
// Left out: the pooling's chunk_size (irrelevant here), SparseAutoEncoder (CSR) models.
#pragma once

#include <vector>

#include "kernels/kernels.h"
#include "model/dense.h"

namespace pbc {

enum class SpladePooling : int { kMax = 0, kSum = 1 };

// The head's weights as given (transformers' names for BERT: cls.predictions.transform.dense,
// .transform.LayerNorm, cls.predictions.decoder + cls.predictions.bias). X is the transform's width
// (H, or ALBERT's embedding size E).
struct SpladeHeadWeights {
  int H = 0, X = 0, V = 0;
  const float* transform_weight = nullptr;  // (X, H)
  const float* transform_bias = nullptr;    // (X) or null
  Activation act = Activation::kGeluErf;
  const float* norm_weight = nullptr;       // (X)
  const float* norm_bias = nullptr;         // (X)
  float eps = 1e-12f;
  const float* decoder_weight = nullptr;    // (V, X)
  const float* decoder_bias = nullptr;      // (V) or null
};

// One forward call's arguments: the packed rows of B sequences, sequence b owning rows
// [offsets[b], offsets[b + 1]).
struct SpladeArgs {
  float* out = nullptr;          // (B, V)
  const float* hidden = nullptr;  // (N, H)
  const int* offsets = nullptr;  // (B + 1), offsets[0] = 0, non-decreasing, offsets[B] = N
  int B = 0, N = 0;
  SpladePooling pooling = SpladePooling::kMax;
  int log1p_times = 1;  // 1: "relu" (log1p(relu(x))), 2: "log1p_relu" (log1p(log1p(relu(x))))
};

class SpladeHead {
 public:
  // Packs the weights for `k` in `precision`; the decoder in tiles of `tile_rows` vocabulary rows.
  SpladeHead(const Kernels& k, const SpladeHeadWeights& w, int tile_rows, Precision precision);
  int H() const { return H_; }
  int V() const { return V_; }
  int tile_rows() const { return tile_rows_; }
  // Validates the arguments (std::invalid_argument naming the bad value), then runs on the calling
  // thread's team. Thread-safe: weights are read-only, each call allocates its own scratch. Throws
  // Cancelled when the calling thread's cancel flag was set meanwhile.
  void forward(const SpladeArgs& a) const;
  // Floats of scratch a call over N rows takes (for memory checks before the call).
  size_t scratch_floats(int N) const;

 private:
  const Kernels* kernels_;
  int H_, X_, V_, tile_rows_;
  Activation act_;
  float eps_;
  Dense transform_;
  Norm norm_;
  std::vector<Dense> tiles_;  // decoder rows [i·tile_rows, min(V, (i+1)·tile_rows))
};

}  // namespace pbc
