// builder.cc — EncoderBuilder: every array checked against its expected shape before anything is packed.
#include "model/builder.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/memory.h"

namespace pbc {

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// The array stored under `key`, checked against `shape`.
const float* take(const WeightPiece& w, const std::string& key, const std::vector<int64_t>& shape) {
  const auto it = w.find(key);
  if (it == w.end()) throw std::invalid_argument("encoder weights: missing '" + key + "'");
  if (it->second.shape != shape) {
    throw std::invalid_argument("encoder weights: '" + key + "' has shape " + shape_str(it->second.shape) +
                                ", expected " + shape_str(shape));
  }
  return it->second.data;
}

// The array under `key` checked against `shape`, or null when the piece has none.
const float* optional(const WeightPiece& w, const std::string& key, const std::vector<int64_t>& shape) {
  return w.count(key) ? take(w, key, shape) : nullptr;
}

WeightVector take_vector(const WeightPiece& w, const std::string& key, int64_t n) {
  const float* p = take(w, key, {n});
  return WeightVector(p, p + n);
}

// A LayerNorm; a norm without bias (its family's norm_bias=False) gets zeros.
// Keys "<prefix>.weight" and "<prefix>.bias", or "weight" and "bias" for an empty prefix.
Norm take_norm(const WeightPiece& w, const std::string& prefix, int C) {
  const std::string at = prefix.empty() ? "" : prefix + ".";
  Norm n{take_vector(w, at + "weight", C), WeightVector(static_cast<size_t>(C), 0.0f)};
  if (const float* b = optional(w, at + "bias", {C})) n.bias.assign(b, b + C);
  return n;
}

}  // namespace

Precision parse_precision(const std::string& s) {
  if (s == "float32") return Precision::kFloat32;
  if (s == "bfloat16") return Precision::kBFloat16;
  if (s == "int8") return Precision::kInt8;
  throw std::invalid_argument("unknown precision '" + s + "'; expected one of: float32, bfloat16, int8");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kBFloat16: return "bfloat16";
    case Precision::kInt8: return "int8";
    default: return "float32";
  }
}

EncoderBuilder::EncoderBuilder(const EncoderConfig& c, std::vector<int> layer_map, Precision precision,
                               std::vector<std::string> keep_float32)
    : c_(c), lowp_(precision), keep_float32_(std::move(keep_float32)), k_(&active_kernels()) {
  if (c.H <= 0 || c.E <= 0 || c.I <= 0 || c.V <= 0 || c.P <= 0 || c.TV < 0) {
    throw std::invalid_argument("EncoderConfig: sizes must be positive");
  }
  ew_.layer_map = std::move(layer_map);
}

void EncoderBuilder::check_open() const {
  if (spent_) throw std::runtime_error("EncoderBuilder: build() was already called");
}

Precision EncoderBuilder::precision_of(const std::string& name) const {
  return std::find(keep_float32_.begin(), keep_float32_.end(), name) != keep_float32_.end() ? Precision::kFloat32
                                                                                            : lowp_;
}

void EncoderBuilder::embeddings(const WeightPiece& w) {
  check_open();
  if (have_embeddings_) throw std::invalid_argument("EncoderBuilder: embeddings were already given");
  const float* position = c_.absolute_positions ? take(w, "position", {c_.P, c_.E}) : nullptr;
  if (!c_.absolute_positions && w.count("position")) {
    throw std::invalid_argument("encoder weights: a position table for a config without absolute positions");
  }
  const float* token_type = c_.TV > 0 ? take(w, "token_type", {c_.TV, c_.E}) : nullptr;
  Norm norm = take_norm(w, "norm", c_.projection_before_norm ? c_.H : c_.E);
  const float* pw = optional(w, "projection.weight", {c_.H, c_.E});
  const float* pb = pw ? optional(w, "projection.bias", {c_.H}) : nullptr;
  const float* rel = optional(w, "relative_bias", {c_.NH, 2 * static_cast<int64_t>(c_.P) - 1});
  ew_.word_embeddings.reserve(static_cast<size_t>(c_.V) * c_.E);  // filled in order by word_embedding_rows
  if (position) ew_.position_embeddings.assign(position, position + static_cast<size_t>(c_.P) * c_.E);
  if (token_type) ew_.token_type_embeddings.assign(token_type, token_type + static_cast<size_t>(c_.TV) * c_.E);
  ew_.embedding_norm = std::move(norm);
  if (pw) ew_.embedding_projection = Dense(*k_, pw, pb, c_.H, c_.E);
  if (rel) ew_.relative_bias.assign(rel, rel + static_cast<size_t>(c_.NH) * (2 * static_cast<size_t>(c_.P) - 1));
  have_embeddings_ = true;
}

void EncoderBuilder::relative_positions(const WeightPiece& w, std::vector<int> columns) {
  check_open();
  const int R = c_.pos_rows, H = c_.H;
  if (R <= 0) throw std::invalid_argument("encoder weights: relative positions for a config without pos_rows");
  if (!relative_.empty()) throw std::invalid_argument("EncoderBuilder: relative positions were already given");
  if (!ew_.layer_sets.empty()) throw std::invalid_argument("EncoderBuilder: relative_positions() after add_layer_set()");
  const float* rel = take(w, "embeddings", {R, H});
  const size_t n = static_cast<size_t>(R) * H;
  relative_.assign(rel, rel + n);
  if (w.count("norm.weight")) {
    const Norm norm = take_norm(w, "norm", H);
    k_->layernorm(norm.args(relative_.data(), nullptr, relative_.data(), R, c_.layer_norm_eps));
  }
  ew_.pos_col = std::move(columns);
}

void EncoderBuilder::add_rotary(const WeightPiece& w) {
  check_open();
  const auto it = w.find("cos");
  if (it == w.end() || it->second.shape.size() != 2) {
    throw std::invalid_argument("encoder weights: a rotary table needs 'cos' of shape (P, dim / 2)");
  }
  const int64_t half = it->second.shape[1];
  const float* cs = take(w, "cos", {c_.P, half});
  const float* sn = take(w, "sin", {c_.P, half});
  RotaryTable t;
  t.dim = static_cast<int>(2 * half);
  t.cos.assign(cs, cs + static_cast<size_t>(c_.P) * half);
  t.sin.assign(sn, sn + static_cast<size_t>(c_.P) * half);
  ew_.rotary.push_back(std::move(t));
}

void EncoderBuilder::final_norm(const WeightPiece& w) {
  check_open();
  ew_.final_norm = take_norm(w, "", c_.H);
}

void EncoderBuilder::word_embedding_rows(int64_t begin, const WeightArray& rows) {
  check_open();
  if (!have_embeddings_) throw std::invalid_argument("EncoderBuilder: word_embedding_rows() before embeddings()");
  if (begin != word_rows_) {
    throw std::invalid_argument("EncoderBuilder: word embedding rows must come in order: expected row " +
                                std::to_string(word_rows_) + ", got " + std::to_string(begin));
  }
  if (rows.shape.size() != 2 || rows.shape[1] != c_.E || rows.shape[0] < 0 || begin + rows.shape[0] > c_.V) {
    throw std::invalid_argument("encoder weights: word embedding rows have shape " + shape_str(rows.shape) +
                                " at row " + std::to_string(begin) + ", expected (n, " + std::to_string(c_.E) +
                                ") within " + std::to_string(c_.V) + " rows");
  }
  ew_.word_embeddings.insert(ew_.word_embeddings.end(), rows.data, rows.data + rows.shape[0] * rows.shape[1]);
  word_rows_ += rows.shape[0];
}

void EncoderBuilder::add_layer_set(const WeightPiece& w) {
  check_open();
  const int H = c_.H, I = c_.I;
  const std::string name = "layers." + std::to_string(ew_.layer_sets.size()) + ".";
  // Linears may come without bias (a family's bias=False); q, k and v have one each or none.
  const float* qkv_w[3];
  const float* qkv_b[3];
  const char* parts[3] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    qkv_w[i] = take(w, std::string(parts[i]) + ".weight", {H, H});
    qkv_b[i] = optional(w, std::string(parts[i]) + ".bias", {H});
  }
  if ((qkv_b[0] == nullptr) != (qkv_b[1] == nullptr) || (qkv_b[0] == nullptr) != (qkv_b[2] == nullptr)) {
    throw std::invalid_argument("encoder weights: q, k and v must all have a bias or none");
  }
  const float* ao_w = take(w, "attn_out.weight", {H, H});
  const float* ao_b = optional(w, "attn_out.bias", {H});
  const float* fi_w = take(w, "ffn_in.weight", {I, H});
  const float* fi_b = optional(w, "ffn_in.bias", {I});
  const float* fg_w = c_.gated_ffn ? take(w, "ffn_gate.weight", {I, H}) : nullptr;
  const float* fg_b = c_.gated_ffn ? optional(w, "ffn_gate.bias", {I}) : nullptr;
  if (!c_.gated_ffn && w.count("ffn_gate.weight")) {
    throw std::invalid_argument("encoder weights: a gate for a config without gated_ffn");
  }
  const float* fo_w = take(w, "ffn_out.weight", {H, I});
  const float* fo_b = optional(w, "ffn_out.bias", {H});
  LayerWeights lw;
  // A pre-LN layer may have no first norm (ModernBERT's layer 0 reads the embeddings' norm).
  if (!c_.norm_first || w.count("attn_norm.weight")) lw.attn_norm = take_norm(w, "attn_norm", H);
  lw.ffn_norm = take_norm(w, "ffn_norm", H);
  const size_t HH = static_cast<size_t>(H) * H;
  if (!qkv_stage_) qkv_stage_ = aligned_floats(3 * HH + 3 * static_cast<size_t>(H));
  float* stage_w = qkv_stage_.get();
  float* stage_b = stage_w + 3 * HH;
  for (int i = 0; i < 3; ++i) {
    std::copy(qkv_w[i], qkv_w[i] + HH, stage_w + i * HH);
    if (qkv_b[i]) std::copy(qkv_b[i], qkv_b[i] + H, stage_b + i * H);
  }
  lw.qkv = Dense(*k_, stage_w, qkv_b[0] ? stage_b : nullptr, 3 * H, H, precision_of(name + "qkv"));
  lw.attn_out = Dense(*k_, ao_w, ao_b, H, H, precision_of(name + "attn_out"));
  lw.ffn_in = Dense(*k_, fi_w, fi_b, I, H, precision_of(name + "ffn_in"));
  if (fg_w) lw.ffn_gate = Dense(*k_, fg_w, fg_b, I, H, precision_of(name + "ffn_gate"));
  lw.ffn_out = Dense(*k_, fo_w, fo_b, H, I, precision_of(name + "ffn_out"));
  // Disentangled attention: the relative embeddings through this set's position projections, once.
  const char* pos_parts[2] = {"pos_key", "pos_query"};
  WeightVector* pos_tables[2] = {&lw.pos_key, &lw.pos_query};
  for (int i = 0; i < 2; ++i) {
    const float* pw = optional(w, std::string(pos_parts[i]) + ".weight", {H, H});
    if (!pw) continue;
    if (relative_.empty()) {
      throw std::invalid_argument(std::string("encoder weights: '") + pos_parts[i] +
                                  ".weight' without relative positions (relative_positions() comes first)");
    }
    const Dense projection(*k_, pw, optional(w, std::string(pos_parts[i]) + ".bias", {H}), H, H);
    pos_tables[i]->resize(static_cast<size_t>(c_.pos_rows) * H);
    projection.forward(pos_tables[i]->data(), H, relative_.data(), H, c_.pos_rows, Activation::kIdentity);
  }
  ew_.layer_sets.push_back(std::move(lw));
}

void EncoderBuilder::pooler(const WeightPiece& w) {
  check_open();
  const float* pw = take(w, "weight", {c_.H, c_.H});
  const float* pb = optional(w, "bias", {c_.H});
  ew_.pooler = Dense(*k_, pw, pb, c_.H, c_.H);
}

std::unique_ptr<Encoder> EncoderBuilder::build() {
  check_open();
  if (!have_embeddings_) throw std::invalid_argument("EncoderBuilder: build() before embeddings()");
  if (word_rows_ != c_.V) {
    throw std::invalid_argument("EncoderBuilder: build() with " + std::to_string(word_rows_) + " of " +
                                std::to_string(c_.V) + " word embedding rows given");
  }
  spent_ = true;
  qkv_stage_.reset();
  relative_ = WeightVector();
  auto enc = std::make_unique<Encoder>(c_, std::move(ew_));
  note_freed_heap();
  return enc;
}

}  // namespace pbc
