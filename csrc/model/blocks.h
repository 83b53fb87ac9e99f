// blocks.h — the forward pass's building blocks, each a plain function over named buffers and sizes
// (outputs first, then inputs, then weights), called in turn by Encoder::forward.
//
// Shapes use the core's vocabulary: N packed rows, H hidden, E embedding size, I intermediate,
// NH heads, HS head size. Every buffer holds packed rows (model/packing.h).
//
// Packed handovers: a producer may write its output a second time in the kernels' packed layout of the
// next GEMM's A operand (LayerNormArgs::packed, GemmArgs::c_packed), so that GEMM skips its packing
// pass. `handover_to(next, buffer)` is the one place that decides: the buffer when `next` takes packed
// operands (fp32 layers only), else null. A null `*_packed` argument means "no handover".
#pragma once

#include "kernels/kernels.h"
#include "model/dense.h"
#include "model/io.h"
#include "model/packing.h"
#include "model/weights.h"

namespace pbc {

inline float* handover_to(const Dense& next, float* packed) { return next.takes_packed() ? packed : nullptr; }

// What every block of one call shares.
struct Pass {
  const EncoderConfig& c;
  const Kernels& k;
  const TokenPacking& pk;
  int N;        // packed rows
  int threads;  // the call's team size (attention scratch holds this many slices)
};

// x (N, H) = [projection ∘] LayerNorm(word + token type + position embeddings); emb (N, E) is the
// projection's input (unused without one). x_packed offers a buffer for x in the first layer's packed
// layout (or null); returns it when written, else null (a projected x comes out of a GEMM, unpacked).
const float* embeddings_forward(const Pass& p, float* x, float* x_packed, float* emb, const ForwardInputs& in,
                        const EncoderWeights& w);

// x_mid (N, H) = LayerNorm(Attention(x) · Woᵀ + bo + x), post-LayerNorm as BERT; x_mid_packed receives it
// for the FFN's first GEMM, or is null. qkv (N, 3H), ctx (N, H) and the scratch are its temporaries;
// probs (B, NH, T, T) receives the attention probabilities, or is null.
void attention_block(const Pass& p, float* x_mid, float* x_mid_packed, float* qkv, float* ctx, float* probs,
                     float* scratch, size_t scratch_per_thread, const float* x, const float* x_packed, int T,
                     const LayerWeights& lw);

// x (N, H) = LayerNorm(act(x_mid · Wiᵀ + bi) · Wo2ᵀ + bo2 + x_mid); x_packed receives x for the next
// layer's qkv, or is null. inter (N, I) holds the intermediate (in the packed layout when both GEMMs
// take packed operands).
void ffn_block(const Pass& p, float* x, float* x_packed, float* inter, const float* x_mid, const float* x_mid_packed,
               const LayerWeights& lw);

// pooled (B, H) = tanh(x[first row of each sequence] · Wpᵀ + bp); first (B, H) holds the gathered rows.
void pooler_forward(const Pass& p, float* pooled, float* first, const float* x, const Dense& pooler);

}  // namespace pbc
