// splade.cc — the fused SPLADE head (splade.h): transform, tiled decoder, log1p(ReLU), pooling.
//
// Per call: one GEMM + LayerNorm for the transform (the LayerNorm also writes its output in the level's
// packed GEMM-operand layout, so the decoder tiles skip packing A), then for each vocabulary tile one
// GEMM into an (N, VT) scratch and one parallel pass that folds those logits into the (B, V) output.
// A unit of that pass is one sequence × one block of 64 columns: it reads the sequence's rows in order
// and writes its outputs once, so no two threads touch the same output and the reduction order is fixed.
#include "model/splade.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "runtime/aligned.h"
#include "runtime/cancel.h"
#include "runtime/parallel.h"

namespace pbc {

namespace {

constexpr int kColumnBlock = 64;  // columns of a tile one unit of the pooling pass reduces

inline float splade_activation(float x, int times) {
  float y = x > 0.0f ? x : 0.0f;  // ReLU (NaN → 0, as the mask multiply of a masked row would not be)
  for (int i = 0; i < times; ++i) y = std::log1p(y);
  return y;
}

struct PoolTile {
  const float* logits;  // (N, vt)
  const int* offsets;   // (B + 1)
  float* out;           // (B, V), columns [v0, v0 + vt) written
  int vt, v0, V, blocks, log1p_times;
  SpladePooling pooling;
};

void pool_tile_unit(void* ctx, long unit, int /*worker*/) {
  const PoolTile& p = *static_cast<const PoolTile*>(ctx);
  const int b = static_cast<int>(unit / p.blocks);
  const int c0 = static_cast<int>(unit % p.blocks) * kColumnBlock;
  const int width = std::min(kColumnBlock, p.vt - c0);
  const int r0 = p.offsets[b], r1 = p.offsets[b + 1];
  float acc[kColumnBlock];
  float* out = p.out + static_cast<size_t>(b) * p.V + p.v0 + c0;
  if (p.pooling == SpladePooling::kMax) {
    // f is non-decreasing: max over rows of f(x) is f(max over rows of x), one f per output.
    std::fill(acc, acc + width, 0.0f);  // starting at 0 applies the ReLU
    for (int r = r0; r < r1; ++r) {
      const float* row = p.logits + static_cast<size_t>(r) * p.vt + c0;
      for (int j = 0; j < width; ++j) acc[j] = std::max(acc[j], row[j]);
    }
    for (int j = 0; j < width; ++j) out[j] = splade_activation(acc[j], p.log1p_times);
  } else {
    std::fill(acc, acc + width, 0.0f);
    for (int r = r0; r < r1; ++r) {
      const float* row = p.logits + static_cast<size_t>(r) * p.vt + c0;
      for (int j = 0; j < width; ++j) acc[j] += splade_activation(row[j], p.log1p_times);
    }
    for (int j = 0; j < width; ++j) out[j] = acc[j];
  }
}

}  // namespace

SpladeHead::SpladeHead(const Kernels& k, const SpladeHeadWeights& w, int tile_rows, Precision precision)
    : kernels_(&k), H_(w.H), X_(w.X), V_(w.V), tile_rows_(tile_rows), act_(w.act), eps_(w.eps) {
  if (w.H < 1 || w.X < 1 || w.V < 1) {
    throw std::invalid_argument("SpladeHead: sizes must be positive, got H=" + std::to_string(w.H) +
                                " X=" + std::to_string(w.X) + " V=" + std::to_string(w.V));
  }
  if (tile_rows < 1) throw std::invalid_argument("SpladeHead: tile_rows must be positive, got " +
                                                 std::to_string(tile_rows));
  if (!w.transform_weight || !w.norm_weight || !w.norm_bias || !w.decoder_weight) {
    throw std::invalid_argument("SpladeHead: the transform, LayerNorm and decoder weights are required");
  }
  // The transform is small (X × H) and runs once per call: float32 keeps its LayerNorm input exact.
  transform_ = Dense(k, w.transform_weight, w.transform_bias, X_, H_, Precision::kFloat32);
  norm_.weight.assign(w.norm_weight, w.norm_weight + X_);
  norm_.bias.assign(w.norm_bias, w.norm_bias + X_);
  for (int v0 = 0; v0 < V_; v0 += tile_rows_) {
    const int rows = std::min(tile_rows_, V_ - v0);
    tiles_.emplace_back(k, w.decoder_weight + static_cast<size_t>(v0) * X_,
                        w.decoder_bias ? w.decoder_bias + v0 : nullptr, rows, X_, precision);
  }
}

size_t SpladeHead::scratch_floats(int N) const {
  const size_t n = static_cast<size_t>(std::max(N, 0));
  return n * X_ + kernels_->packed_a_floats(std::max(N, 0), X_) + n * tile_rows_;
}

void SpladeHead::forward(const SpladeArgs& a) const {
  if (a.B < 0 || a.N < 0) throw std::invalid_argument("SpladeHead: negative batch or row count");
  if (a.log1p_times != 1 && a.log1p_times != 2) {
    throw std::invalid_argument("SpladeHead: log1p_times must be 1 or 2, got " + std::to_string(a.log1p_times));
  }
  if (!a.offsets || a.offsets[0] != 0 || a.offsets[a.B] != a.N) {
    throw std::invalid_argument("SpladeHead: offsets must start at 0 and end at N=" + std::to_string(a.N));
  }
  for (int b = 0; b < a.B; ++b) {
    if (a.offsets[b + 1] < a.offsets[b]) {
      throw std::invalid_argument("SpladeHead: offsets decrease at sequence " + std::to_string(b));
    }
  }
  if (a.B == 0) return;
  if (!a.out || (a.N > 0 && !a.hidden)) throw std::invalid_argument("SpladeHead: null output or hidden states");
  if (a.N == 0) {
    std::fill(a.out, a.out + static_cast<size_t>(a.B) * V_, 0.0f);
    return;
  }
  const Kernels& k = *kernels_;
  const bool hand_over = tiles_.front().takes_packed();
  AlignedBuffer t = aligned_floats(static_cast<size_t>(a.N) * X_);                            // (N, X)
  AlignedBuffer t_packed = hand_over ? aligned_floats(k.packed_a_floats(a.N, X_)) : AlignedBuffer();
  AlignedBuffer logits = aligned_floats(static_cast<size_t>(a.N) * tile_rows_);              // (N, VT)

  transform_.forward(t.get(), X_, a.hidden, H_, a.N, act_);
  k.layernorm(norm_.args(t.get(), t_packed.get(), t.get(), a.N, eps_));

  for (size_t i = 0; i < tiles_.size(); ++i) {
    const Dense& tile = tiles_[i];
    GemmArgs g = tile.args(logits.get(), tile.N, t.get(), X_, a.N, Activation::kIdentity);
    if (hand_over) g.a_packed = t_packed.get(), g.a = nullptr;
    tile.run(g);
    PoolTile p;
    p.logits = logits.get();
    p.offsets = a.offsets;
    p.out = a.out;
    p.vt = tile.N;
    p.v0 = static_cast<int>(i) * tile_rows_;
    p.V = V_;
    p.blocks = (tile.N + kColumnBlock - 1) / kColumnBlock;
    p.log1p_times = a.log1p_times;
    p.pooling = a.pooling;
    parallel_for(static_cast<long>(a.B) * p.blocks, pool_tile_unit, &p);
  }
  if (cancel_requested()) throw Cancelled();
}

}  // namespace pbc
