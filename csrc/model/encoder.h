// encoder.h — a built encoder: validated weights, and the forward pass over packed tokens.
//
// Packed tokens (model/packing.h): every matrix multiply runs over the real (unmasked) tokens of the
// batch, concatenated (up to kPassRows of them per pass); attention runs per sequence over its own
// tokens; results are scattered back to (B, T, H) at the end. Padded positions of the outputs hold zeros, with one exception: when
// position 0 of a sequence is masked, that row is still computed as a query (never as a key), because
// the pooler and the classification heads read position 0 and transformers computes a value there.
// A sequence whose mask is all zeros attends to nothing (context 0); transformers' values there are
// an artefact of its additive mask and are not reproduced.
#pragma once

#include <cstddef>

#include "kernels/kernels.h"
#include "model/io.h"
#include "model/weights.h"
#include "model/workspace.h"

namespace pbc {

struct TokenPacking;  // model/packing.h

class Encoder {
 public:
  // Checks every size and weight shape (std::invalid_argument naming the part); model/builder.h makes
  // the weights.
  Encoder(const EncoderConfig& config, EncoderWeights weights);
  const EncoderConfig& config() const { return config_; }
  bool has_pooler() const { return !weights_.pooler.empty(); }
  const EncoderWeights& weights() const { return weights_; }
  const Kernels& kernels() const { return *kernels_; }
  // The precision of the first layer's matrix multiplies (the model's compute precision).
  Precision layer_precision() const { return weights_.layer_sets[0].qkv.precision; }
  // Rows (real tokens) one pass through the layers takes at most: a call over more runs its sequences
  // in consecutive groups of whole sequences, each group a pass of its own over one workspace, so the
  // activation memory stays bounded whatever the batch (MiniLM over 32 × 256 tokens: 10.6 MiB instead
  // of 132). Results do not change: no row's arithmetic depends on the other rows of its pass (the batch
  // invariance the tests pin). Speed should not either: a pass of 1024 rows does 1024 multiply-adds per
  // weight it reads, so its GEMMs stay compute-bound, and the fork/join of its ~10 parallel regions per
  // layer is microseconds against milliseconds of work.
  static constexpr int kPassRows = 1024;
  // Validates the inputs (std::invalid_argument naming the bad value), then runs. Thread-safe: the
  // weights are read-only and every call has its own workspace. When the calling thread's cancel flag
  // is set meanwhile (runtime/cancel.h), stops early and throws Cancelled; the outputs are then garbage.
  void forward(const ForwardInputs& in, const ForwardOutputs& out) const;
  // Bytes of the workspace a forward call over B sequences of T tokens, N of them real (packed rows),
  // takes on `threads` threads (its largest group's, at most kPassRows or T rows): for checking a call
  // fits in memory before making it.
  size_t workspace_bytes(int B, int N, int T, bool pooled, int threads) const;
  // Floats held by pooled workspaces (for tests and memory accounting).
  size_t pooled_workspace_floats() const { return pool_.pooled_floats(); }

 private:
  // Floats between layers of the whole call's hidden_states and attentions outputs.
  struct Strides {
    size_t layer_out, layer_probs;
  };
  WorkspaceLayout layout(int B, int N, int T, bool pooled, int threads) const;
  // One group's pass: `in` and `out` point at the group's first sequence, pk is its packing,
  // `workspace` fits its layout; pos_col (span rel_span) the call's relative position map, or null.
  void pass(const ForwardInputs& in, const ForwardOutputs& out, const TokenPacking& pk, const Strides& strides,
            float* workspace, int threads, const int* pos_col, int rel_span) const;
  const LayerWeights& layer(int l) const { return weights_.layer_sets[weights_.layer_map[l]]; }

  EncoderConfig config_;
  EncoderWeights weights_;
  const Kernels* kernels_;
  mutable WorkspacePool pool_;
};

}  // namespace pbc
