// blocks.h — the forward pass's building blocks, each a plain function over named buffers and sizes
// (outputs first, then inputs, then weights), called in turn by Encoder::forward.
//
// Shapes use the core's vocabulary: N packed rows, H hidden, E embedding size, I intermediate,
// NH heads, HS head size. Every buffer holds packed rows (model/packing.h).
//
// Packed handovers: a producer may write its output a second time in the kernels' packed layout of the
// next GEMM's A operand (LayerNormArgs::packed, GemmArgs::c_packed), so that GEMM skips its packing
// pass. `handover_to(next, buffer)` is the one place that decides: the buffer when `next` takes packed
// operands (Dense::takes_packed: fp32 layers, and bf16 ones on the widening levels), else null. A null
// `*_packed` argument means "no handover".
//
// Norm placement is data (EncoderConfig::norm_first): post-LayerNorm blocks (BERT) normalise their
// output, x' = LN(x + f(x)), and hand the next block its packed input; pre-LayerNorm blocks
// (ModernBERT) normalise their input, x' = x + f(LN(x)), and pack it themselves.
#pragma once

#include <cstddef>

#include "kernels/kernels.h"
#include "model/dense.h"
#include "model/io.h"
#include "model/packing.h"
#include "model/weights.h"
#include "model/workspace.h"

namespace pbc {

inline float* handover_to(const Dense& next, float* packed) { return next.takes_packed() ? packed : nullptr; }
// Between two GEMMs (the FFN's): the buffer when `from` can write its output in the layout `to` reads,
// fp32's packed layout or the bf16 tile layout of a level that has one (rounded once, by from's
// epilogue, exactly as `to` would round it), else null.
inline float* gemm_handover(const Dense& from, const Dense& to, float* buffer) {
  const bool fp32 = from.takes_packed() && to.takes_packed();
  const bool bf16 = from.takes_packed_bf16() && to.takes_packed_bf16();
  return fp32 || bf16 ? buffer : nullptr;
}

// What every block of one call shares.
struct Pass {
  const EncoderConfig& c;
  const EncoderWeights& w;
  const Kernels& k;
  const TokenPacking& pk;
  const Activations& a;  // the call's buffers
  int N;                 // packed rows
  int T;                 // tokens per padded sequence
  int threads;           // the call's team size (attention scratch holds this many slices)
  size_t attn_scratch_per_thread;
  const int* pos_col;    // the disentangled terms' relative position map for this T (or null), and its span
  int rel_span;          // (also the relative bias's: P)
};

// x (N, H) = [projection ∘] LayerNorm(word + token type + position embeddings), or with
// projection_before_norm LayerNorm ∘ projection; a.emb (N, E) is the projection's input (unused without
// one). x_packed offers a buffer for x in the first layer's packed layout (or null); returns it when
// written, else null (an x projected after the norm comes out of a GEMM, unpacked).
const float* embeddings_forward(const Pass& p, float* x, float* x_packed, const ForwardInputs& in);

// One layer's attention, l its index (rotary table and window), in two steps. attention_context:
// a.ctx (N, H) = attn(x), or attn(LN(x)) pre-LN, for every row, or with query_rows > 0 for each
// sequence's first query_rows rows only (the other ctx rows are left as they were). x_packed is x packed
// for qkv (post-LN, from the previous block) or null. probs (B, NH, T, T) receives the attention
// probabilities, or is null. attention_output: post-LN x_mid = LN(a.ctx · Woᵀ + bo + x), with
// x_mid_packed receiving it for the FFN's first GEMM (or null); pre-LN x_mid = a.ctx · Woᵀ + bo + x.
void attention_context(const Pass& p, int l, float* probs, const float* x, const float* x_packed,
                       const LayerWeights& lw, int query_rows = 0);
void attention_output(const Pass& p, float* x_mid, float* x_mid_packed, const float* x, const LayerWeights& lw);
inline void attention_block(const Pass& p, int l, float* x_mid, float* x_mid_packed, float* probs, const float* x,
                            const float* x_packed, const LayerWeights& lw) {
  attention_context(p, l, probs, x, x_packed, lw);
  attention_output(p, x_mid, x_mid_packed, x, lw);
}

// One layer's FFN: post-LN x = LN(ffn(x_mid) + x_mid), with x_packed receiving it for the next layer's
// qkv (or null); pre-LN x = ffn(LN(x_mid)) + x_mid. ffn is act(·Wiᵀ + bi)·Woᵀ + bo, or gated
// (act(·Wgᵀ + bg) ⊙ (·Wiᵀ + bi))·Woᵀ + bo.
void ffn_block(const Pass& p, float* x, float* x_packed, const float* x_mid, const float* x_mid_packed,
               const LayerWeights& lw);

// x = final_norm(x), in place (pre-LN families).
void final_norm_forward(const Pass& p, float* x);

// first (B, C) = each sequence's first packed row of x (N, C), its position 0; first may be x itself
// (the rows then move up in place).
void gather_first_rows(float* first, const float* x, const TokenPacking& pk, int C);

// mean (B, C) = the mean of each sequence's real rows of x (N, C), [key_begin, row_end) (a masked position 0
// is a query row only), summed in double in row order; zeros for a sequence without real tokens. What
// sentence-transformers' mean pooling reads, without the padded (B, T, C) states.
void mean_real_rows(float* mean, const float* x, const TokenPacking& pk, int C);

// pooled (B, H) = tanh(first · Wpᵀ + bp), first (B, H) each sequence's position 0 (gather_first_rows).
void pooler_forward(const Pass& p, float* pooled, const float* first);

}  // namespace pbc
