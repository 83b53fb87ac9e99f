// blocks.cc — the forward pass's blocks: buffer arithmetic plus kernel calls, nothing validated here
// (Encoder::forward validates everything before the first parallel region). Compiled with baseline
// flags: the SIMD work is in the kernels the weights were packed for.
#include "model/blocks.h"

#include <cmath>
#include <cstring>

#include "runtime/parallel.h"

namespace pbc {

namespace {

// One embedding row per packed row: word + token type + position, in transformers' summation order.
struct Embed {
  const EncoderConfig* c;
  const EncoderWeights* w;
  const ForwardInputs* in;
  const TokenPacking* pk;
  float* emb;  // (N, E)
};

void embed_row(void* ctx, long r, int /*worker*/) {
  const Embed& e = *static_cast<const Embed*>(ctx);
  const int E = e.c->E, T = e.in->T;
  const size_t at = static_cast<size_t>(e.pk->batch[r]) * T + e.pk->slot[r];
  const int64_t id = e.in->input_ids[at];
  const int64_t pos = e.in->position_ids ? e.in->position_ids[at] : e.pk->slot[r];
  const float* we = e.w->word_embeddings.data() + static_cast<size_t>(id) * E;
  const float* pe = e.w->position_embeddings.data() + static_cast<size_t>(pos) * E;
  float* row = e.emb + static_cast<size_t>(r) * E;
  if (e.c->TV > 0) {
    const int64_t tt = e.in->token_type_ids ? e.in->token_type_ids[at] : 0;
    const float* te = e.w->token_type_embeddings.data() + static_cast<size_t>(tt) * E;
    for (int i = 0; i < E; ++i) row[i] = (we[i] + te[i]) + pe[i];
  } else {
    for (int i = 0; i < E; ++i) row[i] = we[i] + pe[i];
  }
}

LayerNormArgs layer_norm_args(float* out, float* packed, const float* inp, const Norm& norm, int N, int C,
                              float eps) {
  LayerNormArgs ln;
  ln.out = out;
  ln.packed = packed;
  ln.inp = inp;
  ln.weight = norm.weight.data();
  ln.bias = norm.bias.data();
  ln.N = N;
  ln.C = C;
  ln.eps = eps;
  return ln;
}

}  // namespace

const float* embeddings_forward(const Pass& p, float* x, float* x_packed, float* emb, const ForwardInputs& in,
                                const EncoderWeights& w) {
  const EncoderConfig& c = p.c;
  // Without a projection the rows are built in x itself. With one they need their own buffer even when
  // E == H (ALBERT always projects): the GEMM's output must not overlap its input.
  const bool projected = !w.embedding_projection.empty();
  float* rows = projected ? emb : x;
  Embed job{&c, &w, &in, &p.pk, rows};
  parallel_for(p.N, embed_row, &job);
  if (projected) x_packed = nullptr;
  p.k.layernorm(layer_norm_args(rows, x_packed, rows, w.embedding_norm, p.N, c.E, c.layer_norm_eps));
  if (projected) w.embedding_projection.forward(x, c.H, emb, c.E, p.N, Activation::kIdentity);
  return x_packed;
}

void attention_block(const Pass& p, float* x_mid, float* x_mid_packed, float* qkv, float* ctx, float* probs,
                     float* scratch, size_t scratch_per_thread, const float* x, const float* x_packed, int T,
                     const LayerWeights& lw) {
  const EncoderConfig& c = p.c;
  const int H = c.H, HS = c.H / c.NH;
  GemmArgs g = lw.qkv.args(qkv, 3 * H, x, H, p.N, Activation::kIdentity);
  g.a_packed = x_packed;
  lw.qkv.run(g);

  AttentionArgs at;
  at.ctx = ctx;
  at.ld_ctx = H;
  at.probs = probs;
  at.slot = p.pk.slot.data();
  at.qkv = qkv;
  at.ld_qkv = 3 * H;
  at.seqs = p.pk.spans.data();
  at.B = static_cast<int>(p.pk.spans.size());
  at.NH = c.NH;
  at.HS = HS;
  at.T = T;
  at.scale = 1.0f / std::sqrt(static_cast<float>(HS));
  at.scratch = scratch;
  at.scratch_floats = scratch_per_thread;
  at.threads = p.threads;
  p.k.attention(at);

  // x_mid = LayerNorm(ctx · Woᵀ + bo + x)
  lw.attn_out.forward(x_mid, H, ctx, H, p.N, Activation::kIdentity, x, H);
  p.k.layernorm(layer_norm_args(x_mid, x_mid_packed, x_mid, lw.attn_norm, p.N, H, c.layer_norm_eps));
}

void ffn_block(const Pass& p, float* x, float* x_packed, float* inter, const float* x_mid, const float* x_mid_packed,
               const LayerWeights& lw) {
  const EncoderConfig& c = p.c;
  const int H = c.H, I = c.I;
  // The intermediate goes from ffn_in to ffn_out in the packed layout when both take it.
  float* inter_packed = lw.ffn_out.takes_packed() ? handover_to(lw.ffn_in, inter) : nullptr;
  GemmArgs g = lw.ffn_in.args(inter, I, x_mid, H, p.N, c.act);
  g.a_packed = x_mid_packed;
  g.c_packed = inter_packed;
  lw.ffn_in.run(g);
  g = lw.ffn_out.args(x, H, inter, I, p.N, Activation::kIdentity, x_mid, H);
  g.a_packed = inter_packed;
  lw.ffn_out.run(g);
  p.k.layernorm(layer_norm_args(x, x_packed, x, lw.ffn_norm, p.N, H, c.layer_norm_eps));
}

void pooler_forward(const Pass& p, float* pooled, float* first, const float* x, const Dense& pooler) {
  const int H = p.c.H, B = static_cast<int>(p.pk.spans.size());
  for (int b = 0; b < B; ++b) {
    std::memcpy(first + static_cast<size_t>(b) * H, x + static_cast<size_t>(p.pk.spans[b].row_begin) * H,
                sizeof(float) * H);
  }
  pooler.forward(pooled, H, first, H, B, Activation::kTanh);
}

}  // namespace pbc
