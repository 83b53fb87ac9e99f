// encoder.cc — the forward pass: embeddings, L post-LayerNorm transformer layers, the tanh pooler.
//
// Reads top to bottom as buffer arithmetic plus kernel calls. All validation happens in
// validate_inputs(), before the first parallel region. Compiled with baseline flags: the SIMD work is
// in the kernels this encoder was packed for.
#include "model/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/parallel.h"
#include "runtime/threads.h"
#include "runtime/cancel.h"

namespace pbc {

namespace {
size_t packed_floats(const Kernels& k, int N, int K, Precision p) {
  switch (p) {
    case Precision::kBFloat16: return (k.packed_bf16_bytes(N, K) + 3) / 4;
    case Precision::kInt8: return (k.packed_int8_bytes(N, K) + 3) / 4;
    default: return k.packed_weight_size(N, K);
  }
}
}  // namespace

Dense::Dense(const Kernels& k, const float* weight, const float* bias_or_null, int n, int kdim, Precision p)
    : N(n), K(kdim), kernels(&k), precision(p), packed(aligned_floats(packed_floats(k, n, kdim, p))) {
  switch (p) {
    case Precision::kBFloat16: k.pack_weight_bf16(packed.get(), weight, N, K); break;
    case Precision::kInt8: k.pack_weight_int8(packed.get(), weight, N, K); break;
    default: k.pack_weight(packed.get(), weight, N, K);
  }
  if (bias_or_null) bias.assign(bias_or_null, bias_or_null + N);
}

GemmArgs Dense::args(float* out, int ldo, const float* x, int ldx, int M, Activation act, const float* residual,
                     int ldr) const {
  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.a = x;
  g.lda = ldx;
  g.b_packed = packed.get();
  g.bias = bias.empty() ? nullptr : bias.data();
  g.act = act;
  g.residual = residual;
  g.ldr = ldr;
  g.c = out;
  g.ldc = ldo;
  return g;
}

void Dense::run(const GemmArgs& args) const {
  if (args.M == 0) return;
  GemmArgs g = args;
  switch (precision) {
    case Precision::kBFloat16:
    case Precision::kInt8:
      if (g.a_packed || g.c_packed) throw std::logic_error("packed operands are for fp32 layers only");
      g.b_lowp = packed.get();
      (precision == Precision::kBFloat16 ? kernels->gemm_bf16 : kernels->gemm_int8)(g);
      break;
    default: kernels->gemm(g);
  }
}

void Dense::unpacked_weight(float* w) const {
  if (precision != Precision::kFloat32) throw std::logic_error("a low-precision layer keeps no float32 weight");
  kernels->unpack_weight(w, packed.get(), N, K);
}

void Dense::forward(float* out, int ldo, const float* x, int ldx, int M, Activation act,
                    const float* residual, int ldr) const {
  run(args(out, ldo, x, ldx, M, act, residual, ldr));
}

namespace {

void check_dense(const Dense& d, int N, int K, const Kernels* k, const std::string& what) {
  if (d.N != N || d.K != K) {
    throw std::invalid_argument(what + ": expected shape (" + std::to_string(N) + ", " +
                                std::to_string(K) + "), got (" + std::to_string(d.N) + ", " +
                                std::to_string(d.K) + ")");
  }
  if (d.kernels != k) throw std::invalid_argument(what + ": packed for a different kernel level");
}

void check_size(size_t got, size_t want, const std::string& what) {
  if (got != want) {
    throw std::invalid_argument(what + ": expected " + std::to_string(want) + " values, got " +
                                std::to_string(got));
  }
}

void check_norm(const Norm& n, int C, const std::string& what) {
  check_size(n.weight.size(), C, what + " weight");
  check_size(n.bias.size(), C, what + " bias");
}

// Where each packed row came from, and each sequence's row range.
struct Packing {
  std::vector<int> batch;  // (N) sequence index
  std::vector<int> slot;   // (N) token index t within the padded sequence
  std::vector<SequenceSpan> spans;  // (B)
  int rows() const { return static_cast<int>(slot.size()); }
};

Packing pack_tokens(const ForwardInputs& in) {
  Packing p;
  p.spans.resize(in.B);
  for (int b = 0; b < in.B; ++b) {
    const int64_t* mask = in.attention_mask ? in.attention_mask + static_cast<size_t>(b) * in.T : nullptr;
    SequenceSpan& s = p.spans[b];
    s.row_begin = p.rows();
    if (mask && mask[0] == 0) {  // position 0 masked: a query-only row for the pooler
      p.batch.push_back(b);
      p.slot.push_back(0);
    }
    s.key_begin = p.rows();
    for (int t = 0; t < in.T; ++t) {
      if (mask && mask[t] == 0) continue;
      p.batch.push_back(b);
      p.slot.push_back(t);
    }
    s.row_end = p.rows();
  }
  return p;
}

// (N, C) packed rows → (B, T, C), padded rows zero.
struct Scatter {
  float* out;
  const float* rows;
  const Packing* p;
  int T, C;
};

void scatter_row(void* ctx, long r, int /*worker*/) {
  const Scatter& s = *static_cast<const Scatter*>(ctx);
  std::memcpy(s.out + (static_cast<size_t>(s.p->batch[r]) * s.T + s.p->slot[r]) * s.C,
              s.rows + static_cast<size_t>(r) * s.C, sizeof(float) * s.C);
}

void scatter_rows(float* out, const float* rows, const Packing& p, int B, int T, int C) {
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(B) * T * C);
  Scatter s{out, rows, &p, T, C};
  parallel_for(p.rows(), scatter_row, &s);
}

// Embedding rows: word + token type + position, in transformers' summation order.
struct Embed {
  const EncoderConfig* c;
  const EncoderWeights* w;
  const ForwardInputs* in;
  const Packing* pk;
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

}  // namespace

std::unique_ptr<Workspace> Encoder::acquire_workspace(size_t floats) const {
  {
    std::lock_guard<std::mutex> hold(pool_mutex_);
    // Best fit among pooled workspaces; one over 4x the need is not taken (and is freed below).
    size_t best = pool_.size();
    for (size_t i = 0; i < pool_.size(); ++i) {
      const size_t cap = pool_[i]->capacity;
      if (cap >= floats && cap <= 4 * floats + 4096 &&
          (best == pool_.size() || cap < pool_[best]->capacity)) {
        best = i;
      }
    }
    if (best < pool_.size()) {
      std::unique_ptr<Workspace> ws = std::move(pool_[best]);
      pool_.erase(pool_.begin() + static_cast<long>(best));
      return ws;
    }
    // Nothing fits: drop the smallest pooled one (it would only be outgrown) so the pool stays
    // bounded by the number of concurrent callers.
    if (!pool_.empty()) {
      size_t smallest = 0;
      for (size_t i = 1; i < pool_.size(); ++i) {
        if (pool_[i]->capacity < pool_[smallest]->capacity) smallest = i;
      }
      pool_.erase(pool_.begin() + static_cast<long>(smallest));
    }
  }
  auto ws = std::make_unique<Workspace>();
  ws->data = aligned_floats(floats);
  ws->capacity = floats;
  return ws;
}

void Encoder::release_workspace(std::unique_ptr<Workspace> ws) const {
  if (!ws) return;
  std::lock_guard<std::mutex> hold(pool_mutex_);
  pool_.push_back(std::move(ws));
}

size_t Encoder::pooled_workspace_floats() const {
  std::lock_guard<std::mutex> hold(pool_mutex_);
  size_t total = 0;
  for (const auto& ws : pool_) total += ws->capacity;
  return total;
}

Encoder::Encoder(const EncoderConfig& c, EncoderWeights w) : config_(c), weights_(std::move(w)) {
  if (c.V <= 0 || c.P <= 0 || c.TV < 0 || c.E <= 0 || c.H <= 0 || c.NH <= 0 || c.I <= 0 || c.L < 0) {
    throw std::invalid_argument("encoder config: every size must be positive");
  }
  if (c.H % c.NH != 0) {
    throw std::invalid_argument("encoder config: hidden size " + std::to_string(c.H) +
                                " is not a multiple of the number of attention heads " +
                                std::to_string(c.NH));
  }
  check_size(weights_.word_embeddings.size(), static_cast<size_t>(c.V) * c.E, "word embeddings");
  check_size(weights_.position_embeddings.size(), static_cast<size_t>(c.P) * c.E, "position embeddings");
  check_size(weights_.token_type_embeddings.size(), static_cast<size_t>(c.TV) * c.E,
             "token type embeddings");
  check_norm(weights_.embedding_norm, c.E, "embedding LayerNorm");
  if (weights_.layer_sets.empty()) {
    throw std::invalid_argument("encoder weights: no layer weight sets");
  }
  kernels_ = weights_.layer_sets[0].qkv.kernels;
  if (!weights_.embedding_projection.empty()) {
    check_dense(weights_.embedding_projection, c.H, c.E, kernels_, "embedding projection");
  } else if (c.E != c.H) {
    throw std::invalid_argument("encoder config: embedding size differs from hidden size but there is "
                                "no embedding projection");
  }
  for (size_t i = 0; i < weights_.layer_sets.size(); ++i) {
    const LayerWeights& lw = weights_.layer_sets[i];
    const std::string name = "layer set " + std::to_string(i);
    check_dense(lw.qkv, 3 * c.H, c.H, kernels_, name + " qkv");
    check_dense(lw.attn_out, c.H, c.H, kernels_, name + " attention output");
    check_norm(lw.attn_norm, c.H, name + " attention LayerNorm");
    check_dense(lw.ffn_in, c.I, c.H, kernels_, name + " intermediate");
    check_dense(lw.ffn_out, c.H, c.I, kernels_, name + " output");
    check_norm(lw.ffn_norm, c.H, name + " output LayerNorm");
  }
  check_size(weights_.layer_map.size(), c.L, "layer map");
  for (int s : weights_.layer_map) {
    if (s < 0 || s >= static_cast<int>(weights_.layer_sets.size())) {
      throw std::invalid_argument("layer map: weight set " + std::to_string(s) + " does not exist");
    }
  }
  if (!weights_.pooler.empty()) check_dense(weights_.pooler, c.H, c.H, kernels_, "pooler");
}

namespace {

void validate_ids(const int64_t* ids, size_t n, int64_t limit, const char* what, const char* limit_name) {
  if (!ids) return;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= limit) {
      throw std::invalid_argument(std::string(what) + " contains " + std::to_string(ids[i]) +
                                  " at flat index " + std::to_string(i) + ", outside [0, " +
                                  std::to_string(limit) + ") (" + limit_name + ")");
    }
  }
}

}  // namespace

namespace {
size_t piece(size_t floats) { return (floats + 15) / 16 * 16; }  // 64-byte aligned pieces
}  // namespace

Encoder::WorkspaceLayout::WorkspaceLayout(const Encoder& e, int B, int N, int T, bool pooled, int threads) {
  const EncoderConfig& c = e.config_;
  const Kernels& k = *e.kernels_;
  const size_t n = static_cast<size_t>(N);
  size_t at = 0;
  auto take = [&at](size_t floats) {
    const size_t offset = at;
    at += piece(floats);
    return offset;
  };
  x = take(n * c.H);
  x_mid = take(n * c.H);
  qkv = take(n * 3 * c.H);
  ctx = take(n * c.H);
  inter = take(std::max(n * c.I, k.packed_a_floats(N, c.I)));
  emb = take(e.weights_.embedding_projection.empty() ? 0 : n * c.E);
  first = take(pooled ? static_cast<size_t>(B) * c.H : 0);
  attn_per_thread = piece(k.attention_scratch_floats(T, c.H / c.NH));
  attn_scratch = take(attn_per_thread * threads);
  packed = take(k.packed_a_floats(N, c.H));
  total = at;
}

size_t Encoder::workspace_bytes(int B, int N, int T, bool pooled, int threads) const {
  return WorkspaceLayout(*this, B, N, T, pooled, threads).total * sizeof(float);
}

void Encoder::forward(const ForwardInputs& in, const ForwardOutputs& out) const {
  const EncoderConfig& c = config_;
  const int B = in.B, T = in.T, H = c.H, E = c.E, I = c.I, NH = c.NH, HS = c.H / c.NH;

  // ---- validation: everything that can throw, before any parallel region --------------------------
  if (B < 0 || T < 1) throw std::invalid_argument("input_ids must hold at least one token per sequence");
  if (!in.input_ids) throw std::invalid_argument("input_ids is required");
  if (!in.position_ids && T > c.P) {
    throw std::invalid_argument("sequence length " + std::to_string(T) +
                                " exceeds max_position_embeddings " + std::to_string(c.P));
  }
  const size_t BT = static_cast<size_t>(B) * T;
  validate_ids(in.input_ids, BT, c.V, "input_ids", "vocab_size");
  if (c.TV > 0) {
    validate_ids(in.token_type_ids, BT, c.TV, "token_type_ids", "type_vocab_size");
  } else if (in.token_type_ids) {
    validate_ids(in.token_type_ids, BT, 1, "token_type_ids", "this model has no token type embeddings");
  }
  validate_ids(in.position_ids, BT, c.P, "position_ids", "max_position_embeddings");
  if (out.pooler_output && weights_.pooler.empty()) {
    throw std::invalid_argument("this encoder has no pooler");
  }

  const Packing pk = pack_tokens(in);
  const int N = pk.rows();
  const Kernels& k = *kernels_;
  const ThreadLease lease;  // sets this call's team size; concurrent calls share the budget

  // ---- workspace: one block, carved into the named buffers of WorkspaceLayout --------------------
  const WorkspaceLayout layout(*this, B, N, T, out.pooler_output != nullptr, lease.threads());
  std::unique_ptr<Workspace> ws = acquire_workspace(layout.total);
  struct Return {  // gives the workspace back to the pool however this call ends
    const Encoder* self;
    std::unique_ptr<Workspace>* ws;
    ~Return() { self->release_workspace(std::move(*ws)); }
  } give_back{this, &ws};
  float* const base = ws->data.get();
  float* const x = base + layout.x;
  float* const x_mid = base + layout.x_mid;
  float* const qkv = base + layout.qkv;
  float* const ctx = base + layout.ctx;
  float* const inter = base + layout.inter;
  float* const emb_wide = base + layout.emb;
  float* const first = base + layout.first;
  float* const attn_scratch = base + layout.attn_scratch;
  float* const packed = base + layout.packed;
  const bool projected = !weights_.embedding_projection.empty();

  // Packed handovers: a LayerNorm writes its output a second time in the kernels' packed layout of
  // the next GEMM's A (LayerNormArgs::packed), and the first FFN GEMM writes its output only in that
  // layout (GemmArgs::c_packed), so the GEMMs that read them skip their packing pass. `packed` holds
  // x for the next qkv, then x_mid for ffn_in. Only fp32 layers take packed operands; the attention
  // output (ctx) is packed by its GEMM as usual.
  auto layer = [&](int l) -> const LayerWeights& { return weights_.layer_sets[weights_.layer_map[l]]; };
  const float* x_packed = nullptr;  // packed x for layer l's qkv, or null

  // ---- embeddings: word + token type + position, LayerNorm, optional projection E → H -------------
  {
    // (N, E): written in place when there is no projection. With one, it needs its own buffer even
    // when E == H (ALBERT always projects): the GEMM's output must not overlap its input.
    float* emb = projected ? emb_wide : x;
    Embed job{&c, &weights_, &in, &pk, emb};
    parallel_for(N, embed_row, &job);
    LayerNormArgs ln;
    ln.out = emb;
    ln.inp = emb;
    ln.weight = weights_.embedding_norm.weight.data();
    ln.bias = weights_.embedding_norm.bias.data();
    ln.N = N;
    ln.C = E;
    ln.eps = c.layer_norm_eps;
    if (!projected && c.L > 0 && layer(0).qkv.takes_packed()) {
      ln.packed = packed;
      x_packed = packed;
    }
    k.layernorm(ln);
    if (projected) {
      weights_.embedding_projection.forward(x, H, emb, E, N, Activation::kIdentity);
    }
  }
  const size_t layer_out_size = BT * H;
  if (out.hidden_states) scatter_rows(out.hidden_states, x, pk, B, T, H);
  if (out.attentions) {
    std::memset(out.attentions, 0, sizeof(float) * static_cast<size_t>(c.L) * B * NH * T * T);
  }

  // ---- transformer layers (post-LayerNorm) --------------------------------------------------------
  for (int l = 0; l < c.L && !cancel_requested(); ++l) {
    const LayerWeights& lw = layer(l);
    GemmArgs g = lw.qkv.args(qkv, 3 * H, x, H, N, Activation::kIdentity);
    g.a_packed = x_packed;
    lw.qkv.run(g);

    AttentionArgs at;
    at.ctx = ctx;
    at.ld_ctx = H;
    at.probs = out.attentions ? out.attentions + static_cast<size_t>(l) * B * NH * T * T : nullptr;
    at.slot = pk.slot.data();
    at.qkv = qkv;
    at.ld_qkv = 3 * H;
    at.seqs = pk.spans.data();
    at.B = B;
    at.NH = NH;
    at.HS = HS;
    at.T = T;
    at.scale = 1.0f / std::sqrt(static_cast<float>(HS));
    at.scratch = attn_scratch;
    at.scratch_floats = layout.attn_per_thread;
    at.threads = lease.threads();
    k.attention(at);

    LayerNormArgs ln;
    ln.N = N;
    ln.C = H;
    ln.eps = c.layer_norm_eps;
    // x_mid = LayerNorm(ctx · Woᵀ + bo + x)
    lw.attn_out.forward(x_mid, H, ctx, H, N, Activation::kIdentity, x, H);
    ln.out = x_mid;
    ln.inp = x_mid;
    ln.weight = lw.attn_norm.weight.data();
    ln.bias = lw.attn_norm.bias.data();
    ln.packed = lw.ffn_in.takes_packed() ? packed : nullptr;
    k.layernorm(ln);
    // x = LayerNorm(act(x_mid · Wiᵀ + bi) · Wo2ᵀ + bo2 + x_mid)
    const bool inter_packed = lw.ffn_in.takes_packed() && lw.ffn_out.takes_packed();
    g = lw.ffn_in.args(inter, I, x_mid, H, N, c.act);
    g.a_packed = ln.packed;
    if (inter_packed) g.c_packed = inter;
    lw.ffn_in.run(g);
    g = lw.ffn_out.args(x, H, inter, I, N, Activation::kIdentity, x_mid, H);
    if (inter_packed) g.a_packed = inter;
    lw.ffn_out.run(g);
    ln.out = x;
    ln.inp = x;
    ln.weight = lw.ffn_norm.weight.data();
    ln.bias = lw.ffn_norm.bias.data();
    ln.packed = l + 1 < c.L && layer(l + 1).qkv.takes_packed() ? packed : nullptr;
    x_packed = ln.packed;
    k.layernorm(ln);

    if (out.hidden_states) {
      scatter_rows(out.hidden_states + (l + 1) * layer_out_size, x, pk, B, T, H);
    }
  }

  if (out.last_hidden_state) scatter_rows(out.last_hidden_state, x, pk, B, T, H);

  // ---- pooler: dense + tanh on position 0 of each sequence (the first row of its span) --------------
  if (out.pooler_output) {
    for (int b = 0; b < B; ++b) {
      std::memcpy(first + static_cast<size_t>(b) * H,
                  x + static_cast<size_t>(pk.spans[b].row_begin) * H, sizeof(float) * H);
    }
    weights_.pooler.forward(out.pooler_output, H, first, H, B, Activation::kTanh);
  }
  if (cancel_requested()) throw Cancelled();
}

}  // namespace pbc
