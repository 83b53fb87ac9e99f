// encoder.h — the BERT-family encoder: weights, configuration and the forward pass over packed tokens.
//
// One structure serves every family (BERT, DistilBERT, RoBERTa, ELECTRA, ALBERT, ...): they differ
// only in data — whether token-type embeddings exist, whether an embedding projection E→H follows the
// embedding LayerNorm, which weight set each layer uses (ALBERT shares one), whether a pooler exists —
// and those are fields here, never branches on a family name. Python maps each family's checkpoint
// names onto these fields.
//
// Packed tokens: every matrix multiply runs over the real (unmasked) tokens of the whole batch,
// concatenated; attention runs per sequence over its own tokens; results are scattered back to
// (B, T, H) at the end. Padded positions of the outputs hold zeros, with one exception: when position
// 0 of a sequence is masked, that row is still computed as a query (never as a key), because the
// pooler and the classification heads read position 0 and transformers computes a value there.
// A sequence whose mask is all zeros attends to nothing (context 0); transformers' values there are
// an artefact of its additive mask and are not reproduced.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "runtime/aligned.h"

namespace pbc {

// Every weight the core keeps as a plain vector (embeddings, biases, norms) starts on a cache line,
// like the packed matrices.
using WeightVector = std::vector<float, CacheLineAllocator<float>>;

// A linear layer y = act(x · Wᵀ + b), W (N, K) packed once for the kernels that will run it.
// `precision` picks the kernel table's gemm / gemm_bf16 / gemm_int8 and the matching packing (for
// the low precisions `packed` holds that entry's bytes; the fp32 weights are not kept).
struct Dense {
  int N = 0, K = 0;
  const Kernels* kernels = nullptr;  // the level whose layout `packed` is in
  Precision precision = Precision::kFloat32;
  AlignedBuffer packed;
  WeightVector bias;  // (N), empty for no bias

  Dense() = default;
  Dense(const Kernels& k, const float* weight, const float* bias_or_null, int N, int K,
        Precision precision = Precision::kFloat32);
  bool empty() const { return N == 0; }
  // out (M, N) with row stride ldo = act(x (M, K), row stride ldx, · Wᵀ + b) + residual
  void forward(float* out, int ldo, const float* x, int ldx, int M, Activation act,
               const float* residual = nullptr, int ldr = 0) const;
  // The same call as kernel arguments, for a caller that hands over packed operands
  // (GemmArgs::a_packed, c_packed), then runs it. Only fp32 layers take those (takes_packed()).
  GemmArgs args(float* out, int ldo, const float* x, int ldx, int M, Activation act,
                const float* residual = nullptr, int ldr = 0) const;
  void run(const GemmArgs& g) const;
  bool takes_packed() const { return precision == Precision::kFloat32; }
  // The weight (N, K) as it was given, into w: exact for float32 layers (unpacked); a low-precision
  // layer no longer has it and throws std::logic_error.
  void unpacked_weight(float* w) const;
};

struct Norm {
  WeightVector weight, bias;  // (C)
};

struct LayerWeights {
  Dense qkv;       // (3H, H): query, key and value weights stacked in that order
  Dense attn_out;  // (H, H)
  Norm attn_norm;  // (H)
  Dense ffn_in;    // (I, H)
  Dense ffn_out;   // (H, I)
  Norm ffn_norm;   // (H)
};

struct EncoderConfig {
  int V = 0;        // vocab
  int P = 0;        // max positions
  int TV = 0;       // token types; 0 when the family has none (DistilBERT)
  int E = 0;        // embedding size (== H unless an embedding projection exists)
  int H = 0, NH = 0, I = 0;
  int L = 0;        // layers run; layer_map[l] picks the weight set of layer l
  Activation act = Activation::kGeluErf;
  float layer_norm_eps = 1e-12f;
};

struct EncoderWeights {
  WeightVector word_embeddings;        // (V, E)
  WeightVector position_embeddings;    // (P, E)
  WeightVector token_type_embeddings;  // (TV, E), empty when TV == 0
  Norm embedding_norm;                       // (E)
  Dense embedding_projection;                // (H, E), empty when E == H and the family has none
  std::vector<LayerWeights> layer_sets;
  std::vector<int> layer_map;                // (L) indices into layer_sets
  Dense pooler;                              // (H, H) + tanh, empty when the family has none
};

// Inputs of one forward call; all (B, T) row-major int64, every pointer but input_ids optional.
// position_ids defaults to the token's index t in its padded row.
struct ForwardInputs {
  int B = 0, T = 0;
  const int64_t* input_ids = nullptr;
  const int64_t* attention_mask = nullptr;  // nonzero = real token
  const int64_t* token_type_ids = nullptr;  // defaults to 0
  const int64_t* position_ids = nullptr;
};

// Output buffers, allocated by the caller; null where not wanted. The forward pass writes every
// element of each buffer it is given.
struct ForwardOutputs {
  float* last_hidden_state = nullptr;  // (B, T, H)
  float* pooler_output = nullptr;      // (B, H); needs a pooler
  float* hidden_states = nullptr;      // (L + 1, B, T, H): the embeddings' output, then each layer's
  float* attentions = nullptr;         // (L, B, NH, T, T)
};

// Activation memory of one forward call: a single 64-byte aligned block carved into the buffers of
// the pass. Encoders keep finished workspaces in a pool and hand them to later calls, so a steady
// stream of calls allocates nothing; concurrent calls each take their own.
struct Workspace {
  AlignedBuffer data;
  size_t capacity = 0;  // floats
};

class Encoder {
 public:
  Encoder(const EncoderConfig& config, EncoderWeights weights);
  const EncoderConfig& config() const { return config_; }
  bool has_pooler() const { return !weights_.pooler.empty(); }
  const EncoderWeights& weights() const { return weights_; }
  const Kernels& kernels() const { return *kernels_; }
  // The precision of the first layer's matrix multiplies (the model's compute precision).
  Precision layer_precision() const { return weights_.layer_sets[0].qkv.precision; }
  // Validates the inputs (std::invalid_argument naming the bad value), then runs. Thread-safe: the
  // weights are read-only and every call has its own workspace. When the calling thread's cancel flag
  // is set meanwhile (runtime/cancel.h), stops early and throws Cancelled; the outputs are then garbage.
  void forward(const ForwardInputs& in, const ForwardOutputs& out) const;
  // Bytes of the workspace a forward call over B sequences of T tokens, N of them real (packed rows),
  // takes on `threads` threads: for checking a call fits in memory before making it.
  size_t workspace_bytes(int B, int N, int T, bool pooled, int threads) const;
  // Floats held by pooled workspaces (for tests and memory accounting).
  size_t pooled_workspace_floats() const;

 private:
  // Where each buffer of a forward call starts in its workspace (floats from the start, each piece
  // 64-byte aligned), computed once per call from its sizes.
  struct WorkspaceLayout {
    WorkspaceLayout(const Encoder& e, int B, int N, int T, bool pooled, int threads);
    size_t x;             // (N, H) the running state
    size_t x_mid;         // (N, H) after attention
    size_t qkv;           // (N, 3H)
    size_t ctx;           // (N, H) attention's context
    size_t inter;         // (N, I) the FFN's intermediate, plain or packed
    size_t emb;           // (N, E) before the embedding projection (empty without one)
    size_t first;         // (B, H) the pooler's input, position 0 of each sequence (empty unpooled)
    size_t attn_scratch;  // attn_per_thread floats per thread
    size_t packed;        // (N, H) x or x_mid packed for the next GEMM
    size_t attn_per_thread;
    size_t total;
  };

  // A workspace of at least `floats`, from the pool when one fits. One much larger than the call
  // needs is dropped rather than reused, so a single huge batch does not pin its memory forever.
  std::unique_ptr<Workspace> acquire_workspace(size_t floats) const;
  void release_workspace(std::unique_ptr<Workspace> ws) const;

  EncoderConfig config_;
  EncoderWeights weights_;
  const Kernels* kernels_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Workspace>> pool_;
};

}  // namespace pbc
