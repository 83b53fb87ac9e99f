// encoder.cc — checking an encoder's weights once, and the forward pass as a sequence of blocks
// (model/blocks.h). All validation of a call happens in validate_inputs(), before the first parallel
// region.
#include "model/encoder.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/blocks.h"
#include "model/packing.h"
#include "runtime/cancel.h"
#include "runtime/threads.h"

namespace pbc {

namespace {

void check_dense(const Dense& d, int N, int K, const Kernels* k, const std::string& what) {
  if (d.N != N || d.K != K) {
    throw std::invalid_argument(what + ": expected shape (" + std::to_string(N) + ", " + std::to_string(K) +
                                "), got (" + std::to_string(d.N) + ", " + std::to_string(d.K) + ")");
  }
  if (d.kernels != k) throw std::invalid_argument(what + ": packed for a different kernel level");
}

void check_size(size_t got, size_t want, const std::string& what) {
  if (got != want) {
    throw std::invalid_argument(what + ": expected " + std::to_string(want) + " values, got " + std::to_string(got));
  }
}

void check_norm(const Norm& n, int C, const std::string& what) {
  check_size(n.weight.size(), C, what + " weight");
  check_size(n.bias.size(), C, what + " bias");
}

void validate_ids(const int64_t* ids, size_t n, int64_t limit, const char* what, const char* limit_name) {
  if (!ids) return;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= limit) {
      throw std::invalid_argument(std::string(what) + " contains " + std::to_string(ids[i]) + " at flat index " +
                                  std::to_string(i) + ", outside [0, " + std::to_string(limit) + ") (" +
                                  limit_name + ")");
    }
  }
}

// The span of the disentangled terms' map (|i − j| < span), and whether it is clamped: its ends are the
// tables' first and last rows, which it then reads at every farther distance too (it is nondecreasing).
int map_span(const EncoderWeights& w) { return static_cast<int>(w.pos_col.size() + 1) / 2; }
bool map_clamped(const EncoderConfig& c, const EncoderWeights& w) {
  return !w.pos_col.empty() && w.pos_col.front() == 0 && w.pos_col.back() == c.pos_rows - 1;
}

void validate_inputs(const EncoderConfig& c, const EncoderWeights& w, const ForwardInputs& in,
                     const ForwardOutputs& out) {
  if (in.B < 0 || in.T < 1) throw std::invalid_argument("input_ids must hold at least one token per sequence");
  if (!in.input_ids) throw std::invalid_argument("input_ids is required");
  // Positions 0 .. T − 1 made here index tables of P rows (absolute embeddings, rotary); the relative
  // bias is indexed by token distance, whatever the position ids say. Without those, nothing limits T
  // but the disentangled map (DeBERTa-v3's has no absolute positions: transformers takes any length).
  bool rotary = false;
  for (int r : c.layer_rotary) rotary = rotary || r >= 0;
  const bool made_positions = !in.position_ids && (c.absolute_positions || rotary);
  if ((made_positions || !w.relative_bias.empty()) && in.T > c.P) {
    throw std::invalid_argument("sequence length " + std::to_string(in.T) + " exceeds max_position_embeddings " +
                                std::to_string(c.P));
  }
  if (!w.pos_col.empty() && in.T > map_span(w) && !map_clamped(c, w)) {
    throw std::invalid_argument("sequence length " + std::to_string(in.T) + " exceeds the relative positions' reach " +
                                std::to_string(map_span(w)) + " (max_position_embeddings " + std::to_string(c.P) +
                                ")");
  }
  const size_t BT = static_cast<size_t>(in.B) * in.T;
  validate_ids(in.input_ids, BT, c.V, "input_ids", "vocab_size");
  if (c.TV > 0) {
    validate_ids(in.token_type_ids, BT, c.TV, "token_type_ids", "type_vocab_size");
  } else if (in.token_type_ids) {
    validate_ids(in.token_type_ids, BT, 1, "token_type_ids", "this model has no token type embeddings");
  }
  validate_ids(in.position_ids, BT, c.P, "position_ids", "max_position_embeddings");
  if (out.pooler_output && w.pooler.empty()) throw std::invalid_argument("this encoder has no pooler");
}

}  // namespace

Encoder::Encoder(const EncoderConfig& c, EncoderWeights w) : config_(c), weights_(std::move(w)) {
  if (c.V <= 0 || c.P <= 0 || c.TV < 0 || c.E <= 0 || c.H <= 0 || c.NH <= 0 || c.I <= 0 || c.L < 0) {
    throw std::invalid_argument("encoder config: every size must be positive");
  }
  if (c.H % c.NH != 0) {
    throw std::invalid_argument("encoder config: hidden size " + std::to_string(c.H) +
                                " is not a multiple of the number of attention heads " + std::to_string(c.NH));
  }
  check_size(weights_.word_embeddings.size(), static_cast<size_t>(c.V) * c.E, "word embeddings");
  check_size(weights_.position_embeddings.size(), c.absolute_positions ? static_cast<size_t>(c.P) * c.E : 0,
             "position embeddings");
  check_size(weights_.token_type_embeddings.size(), static_cast<size_t>(c.TV) * c.E, "token type embeddings");
  check_norm(weights_.embedding_norm, c.projection_before_norm ? c.H : c.E, "embedding LayerNorm");
  if (weights_.layer_sets.empty()) throw std::invalid_argument("encoder weights: no layer weight sets");
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
    if (!(c.norm_first && lw.attn_norm.empty())) check_norm(lw.attn_norm, c.H, name + " attention LayerNorm");
    check_dense(lw.ffn_in, c.I, c.H, kernels_, name + " intermediate");
    if (c.gated_ffn) {
      check_dense(lw.ffn_gate, c.I, c.H, kernels_, name + " gate");
    } else if (!lw.ffn_gate.empty()) {
      throw std::invalid_argument(name + ": a gate without gated_ffn");
    }
    check_dense(lw.ffn_out, c.H, c.I, kernels_, name + " output");
    check_norm(lw.ffn_norm, c.H, name + " output LayerNorm");
    // Every set has the same disentangled terms (the attention kernel's scratch counts on pos_rows).
    const LayerWeights& first = weights_.layer_sets[0];
    if (lw.pos_key.empty() != first.pos_key.empty() || lw.pos_query.empty() != first.pos_query.empty()) {
      throw std::invalid_argument(name + ": disentangled position terms differ from layer set 0's");
    }
    const size_t table = static_cast<size_t>(c.pos_rows) * c.H;
    if (!lw.pos_key.empty()) check_size(lw.pos_key.size(), table, name + " position key table");
    if (!lw.pos_query.empty()) check_size(lw.pos_query.size(), table, name + " position query table");
  }
  if (c.score_scale_factor < 1) throw std::invalid_argument("encoder config: score_scale_factor must be >= 1");
  const bool disentangled = !weights_.layer_sets[0].pos_key.empty() || !weights_.layer_sets[0].pos_query.empty();
  if (disentangled || !weights_.pos_col.empty()) {
    if (!disentangled || c.pos_rows <= 0) {
      throw std::invalid_argument("encoder weights: a relative position map without position tables");
    }
    if (!weights_.relative_bias.empty()) {
      throw std::invalid_argument("encoder weights: a relative bias and disentangled position terms together");
    }
    if (weights_.pos_col.size() % 2 == 0 || weights_.pos_col.size() < 2 * static_cast<size_t>(c.P) - 1) {
      throw std::invalid_argument("relative position map: expected an odd number of at least " +
                                  std::to_string(2 * static_cast<size_t>(c.P) - 1) + " values (2S - 1, S >= " +
                                  "max_position_embeddings), got " + std::to_string(weights_.pos_col.size()));
    }
    for (size_t i = 0; i < weights_.pos_col.size(); ++i) {
      const int col = weights_.pos_col[i];
      if (col < 0 || col >= c.pos_rows || (i > 0 && col < weights_.pos_col[i - 1])) {
        throw std::invalid_argument("relative position map: entry " + std::to_string(i) + " (" + std::to_string(col) +
                                    ") must be within [0, " + std::to_string(c.pos_rows) + ") and nondecreasing");
      }
    }
  }
  check_size(weights_.layer_map.size(), c.L, "layer map");
  for (int s : weights_.layer_map) {
    if (s < 0 || s >= static_cast<int>(weights_.layer_sets.size())) {
      throw std::invalid_argument("layer map: weight set " + std::to_string(s) + " does not exist");
    }
  }
  if (!weights_.pooler.empty()) check_dense(weights_.pooler, c.H, c.H, kernels_, "pooler");
  if (c.norm_first) {
    check_norm(weights_.final_norm, c.H, "final LayerNorm");
  } else if (!weights_.final_norm.empty()) {
    throw std::invalid_argument("encoder weights: a final LayerNorm without norm_first");
  }
  if (!weights_.relative_bias.empty()) {
    check_size(weights_.relative_bias.size(), static_cast<size_t>(c.NH) * (2 * static_cast<size_t>(c.P) - 1),
               "relative attention bias");
  }
  if (!c.layer_window.empty()) {
    check_size(c.layer_window.size(), c.L, "layer windows");
    for (int w : c.layer_window) {
      if (w < 0) throw std::invalid_argument("layer windows: " + std::to_string(w) + " is negative");
    }
  }
  const int HS = c.H / c.NH;
  for (size_t i = 0; i < weights_.rotary.size(); ++i) {
    const RotaryTable& r = weights_.rotary[i];
    const std::string name = "rotary table " + std::to_string(i);
    if (r.dim <= 0 || r.dim % 2 != 0 || r.dim > HS) {
      throw std::invalid_argument(name + ": dim " + std::to_string(r.dim) + " must be even and within the head size " +
                                  std::to_string(HS));
    }
    check_size(r.cos.size(), static_cast<size_t>(c.P) * (r.dim / 2), name + " cos");
    check_size(r.sin.size(), static_cast<size_t>(c.P) * (r.dim / 2), name + " sin");
  }
  if (!c.layer_rotary.empty()) {
    check_size(c.layer_rotary.size(), c.L, "layer rotary tables");
    for (int r : c.layer_rotary) {
      if (r < -1 || r >= static_cast<int>(weights_.rotary.size())) {
        throw std::invalid_argument("layer rotary tables: table " + std::to_string(r) + " does not exist");
      }
    }
  }
}

namespace {

// Consecutive sequences [begin, end) whose rows sum to at most max(cap, T): whole sequences, greedily.
// A sequence's rows are those pack_tokens gives it (its spans), so the rule of which tokens become rows
// lives in model/packing.cc alone.
struct Group {
  int begin, end, rows;
};

std::vector<Group> group_sequences(const TokenPacking& whole, int cap) {
  std::vector<Group> groups;
  const int B = static_cast<int>(whole.spans.size());
  for (int b = 0; b < B; ++b) {
    const int rows = whole.spans[b].row_end - whole.spans[b].row_begin;
    if (groups.empty() || groups.back().rows + rows > cap) {
      groups.push_back(Group{b, b + 1, rows});
    } else {
      groups.back().end = b + 1;
      groups.back().rows += rows;
    }
  }
  return groups;
}

// The disentangled terms' map for sequences of T tokens: the weights' own, or, for a longer T, a clamped
// map extended by its end values to span T.
struct RelativeMap {
  std::vector<int> extended;
  const int* col = nullptr;
  int span = 0;
};

RelativeMap relative_map(const EncoderConfig& c, const EncoderWeights& w, int T) {
  RelativeMap m;
  m.span = c.P;  // the relative bias's (and unused without either)
  if (w.pos_col.empty()) return m;
  const int S = map_span(w);
  m.col = w.pos_col.data();
  m.span = S;
  if (T <= S) return m;
  m.extended.resize(2 * static_cast<size_t>(T) - 1);
  for (int d = -(T - 1); d < T; ++d) m.extended[d + T - 1] = w.pos_col[std::clamp(d, -(S - 1), S - 1) + S - 1];
  m.col = m.extended.data();
  m.span = T;
  return m;
}

}  // namespace

WorkspaceLayout Encoder::layout(int B, int N, int T, bool pooled, int threads) const {
  return WorkspaceLayout(config_, *kernels_, !weights_.embedding_projection.empty(), B, N, T, pooled, threads);
}

size_t Encoder::workspace_bytes(int B, int N, int T, bool pooled, int threads) const {
  // A group holds whole sequences: at most kPassRows rows, or one sequence of up to T.
  const int rows = std::min(N, std::max(kPassRows, T));
  return layout(B, rows, T, pooled, threads).total * sizeof(float);
}

void Encoder::forward(const ForwardInputs& in, const ForwardOutputs& out) const {
  const EncoderConfig& c = config_;
  validate_inputs(c, weights_, in, out);
  const ThreadLease lease;  // sets this call's team size; concurrent calls share the budget
  const TokenPacking whole = pack_tokens(in);
  const std::vector<Group> groups = group_sequences(whole, kPassRows);
  int max_B = 0, max_rows = 0;
  for (const Group& g : groups) {
    max_B = std::max(max_B, g.end - g.begin);
    max_rows = std::max(max_rows, g.rows);
  }
  // One workspace for every group: a layout only grows with B and N, so the largest group's fits all.
  // A pooled one up to the size of a full pass (of one-token sequences, or of sequences as long as the
  // model takes) is reused, however short this call.
  const int full_T = std::max(in.T, std::min(c.P, kPassRows));
  const BorrowedWorkspace ws(pool_, layout(max_B, max_rows, in.T, out.pooler_output != nullptr, lease.threads()).total,
                             layout(kPassRows, kPassRows, full_T, true, lease.threads()).total);
  const RelativeMap rel = relative_map(c, weights_, in.T);
  const size_t T = static_cast<size_t>(in.T), H = c.H, NH = c.NH;
  const Strides strides{static_cast<size_t>(in.B) * T * H, static_cast<size_t>(in.B) * NH * T * T};
  if (out.attentions) std::memset(out.attentions, 0, sizeof(float) * c.L * strides.layer_probs);
  for (const Group& g : groups) {
    if (cancel_requested()) break;
    const size_t b = static_cast<size_t>(g.begin);
    auto at = [b, &in](const int64_t* p) { return p ? p + b * in.T : nullptr; };
    ForwardInputs gi = in;
    gi.B = g.end - g.begin;
    gi.input_ids = at(in.input_ids);
    gi.attention_mask = at(in.attention_mask);
    gi.token_type_ids = at(in.token_type_ids);
    gi.position_ids = at(in.position_ids);
    ForwardOutputs go;
    go.last_hidden_state = out.last_hidden_state ? out.last_hidden_state + b * T * H : nullptr;
    go.pooler_output = out.pooler_output ? out.pooler_output + b * H : nullptr;
    go.hidden_states = out.hidden_states ? out.hidden_states + b * T * H : nullptr;
    go.attentions = out.attentions ? out.attentions + b * NH * T * T : nullptr;
    go.first_hidden_state = out.first_hidden_state ? out.first_hidden_state + b * H : nullptr;
    go.mean_pooled = out.mean_pooled ? out.mean_pooled + b * H : nullptr;
    // the group's rows start where its first sequence's do in the whole call's packing
    go.packed_rows = out.packed_rows ? out.packed_rows + static_cast<size_t>(whole.spans[b].row_begin) * H : nullptr;
    const TokenPacking part = groups.size() > 1 ? slice_packing(whole, g.begin, g.end) : TokenPacking();
    pass(gi, go, groups.size() > 1 ? part : whole, strides, ws.data(), lease.threads(), rel.col, rel.span);
  }
  if (cancel_requested()) throw Cancelled();
}

void Encoder::pass(const ForwardInputs& in, const ForwardOutputs& out, const TokenPacking& pk, const Strides& strides,
                   float* workspace, int threads, const int* pos_col, int rel_span) const {
  const EncoderConfig& c = config_;
  const int B = in.B, T = in.T, H = c.H, L = c.L;
  const WorkspaceLayout plan = layout(B, pk.rows(), T, out.pooler_output != nullptr, threads);
  const Activations a = plan.carve(workspace);
  const Pass p{c, weights_, *kernels_, pk, a, pk.rows(), T, threads, plan.attn_per_thread, pos_col, rel_span};

  const float* x_packed = embeddings_forward(p, a.x, L > 0 ? handover_to(layer(0).qkv, a.packed) : nullptr, in);
  if (out.hidden_states) scatter_rows(out.hidden_states, a.x, pk, B, T, H);

  // When nothing but position 0 is read after the last layer (a classification head, CLS pooling), that
  // layer's attention computes the B position-0 queries alone, and its output projection and FFN run on
  // those B rows instead of N (MiniLM-L6 on pairs of 53 tokens: 13% of the work). Each row's
  // arithmetic is the same as in the full layer, so are its bits.
  const bool first_only = L > 0 && !out.last_hidden_state && !out.hidden_states && !out.attentions &&
                          !out.mean_pooled && !out.packed_rows;
  for (int l = 0; l < L && !cancel_requested(); ++l) {
    const LayerWeights& lw = layer(l);
    float* x_mid_packed = handover_to(lw.ffn_in, a.packed);
    if (first_only && l + 1 == L) {
      attention_context(p, l, nullptr, a.x, x_packed, lw, /*query_rows=*/1);
      gather_first_rows(a.ctx, a.ctx, pk, H);  // in place: rows 0 .. B − 1 of ctx and x
      gather_first_rows(a.x, a.x, pk, H);
      Pass first = p;
      first.N = B;
      attention_output(first, a.x_mid, x_mid_packed, a.x, lw);
      ffn_block(first, a.x, nullptr, a.x_mid, x_mid_packed, lw);
      if (!weights_.final_norm.empty()) final_norm_forward(first, a.x);
      break;
    }
    float* probs = out.attentions ? out.attentions + l * strides.layer_probs : nullptr;
    attention_block(p, l, a.x_mid, x_mid_packed, probs, a.x, x_packed, lw);
    float* next_packed = l + 1 < L ? handover_to(layer(l + 1).qkv, a.packed) : nullptr;
    ffn_block(p, a.x, next_packed, a.x_mid, x_mid_packed, lw);
    x_packed = next_packed;
    // transformers' last hidden state is the one after the final norm (pre-LN families)
    if (l + 1 == L && !weights_.final_norm.empty()) final_norm_forward(p, a.x);
    if (out.hidden_states) scatter_rows(out.hidden_states + (l + 1) * strides.layer_out, a.x, pk, B, T, H);
  }
  if (L == 0 && !weights_.final_norm.empty()) final_norm_forward(p, a.x);

  if (out.last_hidden_state) scatter_rows(out.last_hidden_state, a.x, pk, B, T, H);
  if (out.mean_pooled) mean_real_rows(out.mean_pooled, a.x, pk, H);
  if (out.packed_rows) std::memcpy(out.packed_rows, a.x, sizeof(float) * static_cast<size_t>(pk.rows()) * H);
  // position 0 of each sequence, (B, H): rows 0 .. B − 1 of x after a first-only pass
  const float* first = a.x;
  if (!first_only && (out.first_hidden_state || out.pooler_output)) {
    float* rows = out.first_hidden_state ? out.first_hidden_state : a.first;
    gather_first_rows(rows, a.x, pk, H);
    first = rows;
  }
  if (first_only && out.first_hidden_state) {
    std::memcpy(out.first_hidden_state, a.x, sizeof(float) * static_cast<size_t>(B) * H);
  }
  if (out.pooler_output) pooler_forward(p, out.pooler_output, first);
}

}  // namespace pbc
