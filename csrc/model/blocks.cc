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
  const float* we = e.w->word_embeddings.data() + static_cast<size_t>(e.in->input_ids[at]) * E;
  const float* te = nullptr;
  if (e.c->TV > 0) {
    const int64_t tt = e.in->token_type_ids ? e.in->token_type_ids[at] : 0;
    te = e.w->token_type_embeddings.data() + static_cast<size_t>(tt) * E;
  }
  const float* pe = e.c->absolute_positions
                        ? e.w->position_embeddings.data() + static_cast<size_t>(e.pk->position[r]) * E
                        : nullptr;
  float* row = e.emb + static_cast<size_t>(r) * E;
  for (int i = 0; i < E; ++i) row[i] = we[i];
  if (te) for (int i = 0; i < E; ++i) row[i] += te[i];
  if (pe) for (int i = 0; i < E; ++i) row[i] += pe[i];
}

// Rotary positions on q and k of every packed row, in place: for each head, features i and i + dim/2
// (i < dim/2) become (x₁·cos − x₂·sin, x₂·cos + x₁·sin), as transformers' q·cos + rotate_half(q)·sin.
struct Rotate {
  float* qkv;  // (N, 3H)
  const int* position;
  const RotaryTable* table;
  int H, NH, HS;
};

void rotate_row(void* ctx, long r, int /*worker*/) {
  const Rotate& ro = *static_cast<const Rotate*>(ctx);
  const int half = ro.table->dim / 2;
  const float* cs = ro.table->cos.data() + static_cast<size_t>(ro.position[r]) * half;
  const float* sn = ro.table->sin.data() + static_cast<size_t>(ro.position[r]) * half;
  float* row = ro.qkv + static_cast<size_t>(r) * 3 * ro.H;
  for (int part = 0; part < 2; ++part) {  // q, then k
    for (int h = 0; h < ro.NH; ++h) {
      float* v = row + part * ro.H + h * ro.HS;
      for (int i = 0; i < half; ++i) {
        const float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * cs[i] - x2 * sn[i];
        v[i + half] = x2 * cs[i] + x1 * sn[i];
      }
    }
  }
}

// gate (N, I) ⊙= up (N, I): the gated FFN's product, gate already activated by its GEMM's epilogue.
struct GateProduct {
  float* gate;
  const float* up;
  int I;
};

void gate_row(void* ctx, long r, int /*worker*/) {
  const GateProduct& g = *static_cast<const GateProduct*>(ctx);
  float* out = g.gate + static_cast<size_t>(r) * g.I;
  const float* up = g.up + static_cast<size_t>(r) * g.I;
  for (int i = 0; i < g.I; ++i) out[i] *= up[i];
}

}  // namespace

const float* embeddings_forward(const Pass& p, float* x, float* x_packed, const ForwardInputs& in) {
  const EncoderConfig& c = p.c;
  // Without a projection the rows are built in x itself. With one they need their own buffer even when
  // E == H (ALBERT always projects): the GEMM's output must not overlap its input.
  const bool projected = !p.w.embedding_projection.empty();
  float* rows = projected ? p.a.emb : x;
  Embed job{&c, &p.w, &in, &p.pk, rows};
  parallel_for(p.N, embed_row, &job);
  if (c.norm_first) x_packed = nullptr;  // a pre-LN layer packs its own normalised input
  if (projected && c.projection_before_norm) {  // DeBERTa: x = LN(rows · Wᵀ)
    p.w.embedding_projection.forward(x, c.H, rows, c.E, p.N, Activation::kIdentity);
    p.k.layernorm(p.w.embedding_norm.args(x, x_packed, x, p.N, c.layer_norm_eps));
    return x_packed;
  }
  if (projected) x_packed = nullptr;  // ALBERT: x = LN(rows) · Wᵀ + b comes out of a GEMM, unpacked
  p.k.layernorm(p.w.embedding_norm.args(rows, x_packed, rows, p.N, c.layer_norm_eps));
  if (projected) p.w.embedding_projection.forward(x, c.H, rows, c.E, p.N, Activation::kIdentity);
  return x_packed;
}

void attention_context(const Pass& p, int l, float* probs, const float* x, const float* x_packed,
                       const LayerWeights& lw, int query_rows) {
  const EncoderConfig& c = p.c;
  const int H = c.H, HS = c.H / c.NH;
  // pre-LN: qkv reads LN(x) (in ctx, free until attention writes it), packed on the way
  const float* in = x;
  if (c.norm_first) {
    x_packed = nullptr;
    if (!lw.attn_norm.empty()) {
      float* packed = handover_to(lw.qkv, p.a.packed);
      p.k.layernorm(lw.attn_norm.args(p.a.ctx, packed, x, p.N, c.layer_norm_eps));
      in = p.a.ctx;
      x_packed = packed;
    }
  }
  GemmArgs g = lw.qkv.args(p.a.qkv, 3 * H, in, H, p.N, Activation::kIdentity);
  g.a_packed = x_packed;
  lw.qkv.run(g);

  const int rotary = c.layer_rotary.empty() ? -1 : c.layer_rotary[l];
  if (rotary >= 0) {
    Rotate job{p.a.qkv, p.pk.position.data(), &p.w.rotary[rotary], H, c.NH, HS};
    parallel_for(p.N, rotate_row, &job);
  }

  AttentionArgs at;
  at.ctx = p.a.ctx;
  at.ld_ctx = H;
  at.probs = probs;
  at.slot = p.pk.slot.data();
  at.qkv = p.a.qkv;
  at.ld_qkv = 3 * H;
  at.seqs = p.pk.spans.data();
  at.B = static_cast<int>(p.pk.spans.size());
  at.NH = c.NH;
  at.HS = HS;
  at.T = p.T;
  at.scale = 1.0f / std::sqrt(static_cast<float>(HS * c.score_scale_factor));
  at.rel_bias = p.w.relative_bias.empty() ? nullptr : p.w.relative_bias.data();
  at.rel_span = p.rel_span;
  at.pos_key = lw.pos_key.empty() ? nullptr : lw.pos_key.data();
  at.pos_query = lw.pos_query.empty() ? nullptr : lw.pos_query.data();
  at.ld_pos = H;
  at.pos_col = p.pos_col;
  at.window = c.layer_window.empty() ? 0 : c.layer_window[l];
  at.query_rows = query_rows;
  at.scratch = p.a.attn_scratch;
  at.scratch_floats = p.attn_scratch_per_thread;
  at.threads = p.threads;
  // A bf16 model's attention runs its products in bf16 where the level has a kernel for it (AMX tiles).
  (lw.qkv.precision == Precision::kBFloat16 ? p.k.attention_bf16 : p.k.attention)(at);
}

void attention_output(const Pass& p, float* x_mid, float* x_mid_packed, const float* x, const LayerWeights& lw) {
  const EncoderConfig& c = p.c;
  const int H = c.H;
  // x_mid = ctx · Woᵀ + bo + x, normalised here when post-LN
  lw.attn_out.forward(x_mid, H, p.a.ctx, H, p.N, Activation::kIdentity, x, H);
  if (!c.norm_first) {
    p.k.layernorm(lw.attn_norm.args(x_mid, x_mid_packed, x_mid, p.N, c.layer_norm_eps));
  }
}

void ffn_block(const Pass& p, float* x, float* x_packed, const float* x_mid, const float* x_mid_packed,
               const LayerWeights& lw) {
  const EncoderConfig& c = p.c;
  const int H = c.H, I = c.I;
  // pre-LN: the FFN reads LN(x_mid) (in ctx, free again), packed on the way
  const float* in = x_mid;
  if (c.norm_first) {
    float* packed = handover_to(lw.ffn_in, p.a.packed);
    p.k.layernorm(lw.ffn_norm.args(p.a.ctx, packed, x_mid, p.N, c.layer_norm_eps));
    in = p.a.ctx;
    x_mid_packed = packed;
  }
  float* inter = p.a.inter;
  float* inter_packed = nullptr;
  if (c.gated_ffn) {
    // inter = act(in · Wgᵀ + bg) ⊙ (in · Wiᵀ + bi); both GEMMs read the same packed input
    GemmArgs g = lw.ffn_gate.args(inter, I, in, H, p.N, c.act);
    g.a_packed = lw.ffn_gate.takes_packed() ? x_mid_packed : nullptr;
    lw.ffn_gate.run(g);
    g = lw.ffn_in.args(p.a.up, I, in, H, p.N, Activation::kIdentity);
    g.a_packed = x_mid_packed;
    lw.ffn_in.run(g);
    GateProduct job{inter, p.a.up, I};
    parallel_for(p.N, gate_row, &job);
  } else {
    // The intermediate goes from ffn_in to ffn_out in ffn_out's operand layout when both take one.
    inter_packed = gemm_handover(lw.ffn_in, lw.ffn_out, inter);
    GemmArgs g = lw.ffn_in.args(inter, I, in, H, p.N, c.act);
    g.a_packed = x_mid_packed;
    g.c_packed = inter_packed;
    lw.ffn_in.run(g);
  }
  GemmArgs g = lw.ffn_out.args(x, H, inter, I, p.N, Activation::kIdentity, x_mid, H);
  g.a_packed = inter_packed;
  lw.ffn_out.run(g);
  if (!c.norm_first) p.k.layernorm(lw.ffn_norm.args(x, x_packed, x, p.N, c.layer_norm_eps));
}

void final_norm_forward(const Pass& p, float* x) {
  p.k.layernorm(p.w.final_norm.args(x, nullptr, x, p.N, p.c.layer_norm_eps));
}

void gather_first_rows(float* first, const float* x, const TokenPacking& pk, int C) {
  // first may be x itself: row b moves to b from row_begin ≥ b, and rows are visited in ascending
  // order, so no row is overwritten before it is read.
  for (size_t b = 0; b < pk.spans.size(); ++b) {
    const float* src = x + static_cast<size_t>(pk.spans[b].row_begin) * C;
    float* dst = first + b * C;
    if (src != dst) std::memmove(dst, src, sizeof(float) * C);
  }
}

namespace {

struct MeanRows {
  float* mean;
  const float* x;
  const SequenceSpan* spans;
  int C;
};

void mean_rows_of(void* ctx, long b, int /*worker*/) {
  const MeanRows& m = *static_cast<const MeanRows*>(ctx);
  const SequenceSpan sp = m.spans[b];
  float* out = m.mean + static_cast<size_t>(b) * m.C;
  const int n = sp.row_end - sp.key_begin;
  for (int c0 = 0; c0 < m.C; c0 += 64) {  // 64 double sums at a time stay in registers and L1
    const int width = m.C - c0 < 64 ? m.C - c0 : 64;
    double sum[64] = {};
    for (int r = sp.key_begin; r < sp.row_end; ++r) {
      const float* row = m.x + static_cast<size_t>(r) * m.C + c0;
      for (int c = 0; c < width; ++c) sum[c] += row[c];
    }
    for (int c = 0; c < width; ++c) out[c0 + c] = n > 0 ? static_cast<float>(sum[c] / n) : 0.0f;
  }
}

}  // namespace

void mean_real_rows(float* mean, const float* x, const TokenPacking& pk, int C) {
  MeanRows job{mean, x, pk.spans.data(), C};
  parallel_for(static_cast<long>(pk.spans.size()), mean_rows_of, &job);
}

void pooler_forward(const Pass& p, float* pooled, const float* first) {
  const int H = p.c.H, B = static_cast<int>(p.pk.spans.size());
  p.w.pooler.forward(pooled, H, first, H, B, Activation::kTanh);
}

}  // namespace pbc
