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

WeightVector take_vector(const WeightPiece& w, const std::string& key, int64_t n) {
  const float* p = take(w, key, {n});
  return WeightVector(p, p + n);
}

Norm take_norm(const WeightPiece& w, const std::string& prefix, int C) {
  return Norm{take_vector(w, prefix + ".weight", C), take_vector(w, prefix + ".bias", C)};
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
  const float* position = take(w, "position", {c_.P, c_.E});
  const float* token_type = c_.TV > 0 ? take(w, "token_type", {c_.TV, c_.E}) : nullptr;
  Norm norm = take_norm(w, "norm", c_.E);
  const bool projection = w.count("projection.weight") > 0;
  const float* pw = projection ? take(w, "projection.weight", {c_.H, c_.E}) : nullptr;
  const float* pb = projection ? take(w, "projection.bias", {c_.H}) : nullptr;
  ew_.word_embeddings.reserve(static_cast<size_t>(c_.V) * c_.E);  // filled in order by word_embedding_rows
  ew_.position_embeddings.assign(position, position + static_cast<size_t>(c_.P) * c_.E);
  if (token_type) ew_.token_type_embeddings.assign(token_type, token_type + static_cast<size_t>(c_.TV) * c_.E);
  ew_.embedding_norm = std::move(norm);
  if (projection) ew_.embedding_projection = Dense(*k_, pw, pb, c_.H, c_.E);
  have_embeddings_ = true;
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
  const float* qkv_w[3];
  const float* qkv_b[3];
  const char* parts[3] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    qkv_w[i] = take(w, std::string(parts[i]) + ".weight", {H, H});
    qkv_b[i] = take(w, std::string(parts[i]) + ".bias", {H});
  }
  const float* ao_w = take(w, "attn_out.weight", {H, H});
  const float* ao_b = take(w, "attn_out.bias", {H});
  const float* fi_w = take(w, "ffn_in.weight", {I, H});
  const float* fi_b = take(w, "ffn_in.bias", {I});
  const float* fo_w = take(w, "ffn_out.weight", {H, I});
  const float* fo_b = take(w, "ffn_out.bias", {H});
  LayerWeights lw;
  lw.attn_norm = take_norm(w, "attn_norm", H);
  lw.ffn_norm = take_norm(w, "ffn_norm", H);
  const size_t HH = static_cast<size_t>(H) * H;
  if (!qkv_stage_) qkv_stage_ = aligned_floats(3 * HH + 3 * static_cast<size_t>(H));
  float* stage_w = qkv_stage_.get();
  float* stage_b = stage_w + 3 * HH;
  for (int i = 0; i < 3; ++i) {
    std::copy(qkv_w[i], qkv_w[i] + HH, stage_w + i * HH);
    std::copy(qkv_b[i], qkv_b[i] + H, stage_b + i * H);
  }
  lw.qkv = Dense(*k_, stage_w, stage_b, 3 * H, H, precision_of(name + "qkv"));
  lw.attn_out = Dense(*k_, ao_w, ao_b, H, H, precision_of(name + "attn_out"));
  lw.ffn_in = Dense(*k_, fi_w, fi_b, I, H, precision_of(name + "ffn_in"));
  lw.ffn_out = Dense(*k_, fo_w, fo_b, H, I, precision_of(name + "ffn_out"));
  ew_.layer_sets.push_back(std::move(lw));
}

void EncoderBuilder::pooler(const WeightPiece& w) {
  check_open();
  const float* pw = take(w, "weight", {c_.H, c_.H});
  const float* pb = take(w, "bias", {c_.H});
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
  auto enc = std::make_unique<Encoder>(c_, std::move(ew_));
  note_freed_heap();
  return enc;
}

}  // namespace pbc
