// readback.cc — resolving a builder name to the vector or packed matrix that holds it.
#include "model/readback.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "model/builder.h"

namespace pbc {

namespace {

// Where a named weight lives: a plain vector (data), or rows [row0, row0 + rows) of a Dense's matrix.
struct WeightRef {
  const float* data = nullptr;  // a vector, or a Dense's bias
  const Dense* dense = nullptr;  // a matrix
  int64_t row0 = 0, rows = 0, cols = 0;  // cols 0: a 1-D weight
};

std::invalid_argument unknown(const std::string& name) {
  return std::invalid_argument("encoder weight: no weight named '" + name + "'");
}

WeightRef vector_ref(const float* data, int64_t rows, int64_t cols = 0) { return WeightRef{data, nullptr, 0, rows, cols}; }

// part "weight" or "bias" of rows [row0, row0 + rows) of d (rows < 0: all of it)
WeightRef dense_ref(const Dense& d, const std::string& part, const std::string& name, int64_t row0 = 0,
                    int64_t rows = -1) {
  if (rows < 0) rows = d.N;
  if (part == "weight") return WeightRef{nullptr, &d, row0, rows, d.K};
  if (part == "bias" && !d.bias.empty()) return vector_ref(d.bias.data() + row0, rows);
  throw unknown(name);
}

WeightRef resolve(const Encoder& enc, const std::string& name) {
  const EncoderWeights& w = enc.weights();
  const EncoderConfig& c = enc.config();
  if (name == "word") return vector_ref(w.word_embeddings.data(), c.V, c.E);
  if (name == "position") return vector_ref(w.position_embeddings.data(), c.P, c.E);
  if (name == "token_type" && c.TV > 0) return vector_ref(w.token_type_embeddings.data(), c.TV, c.E);
  if (name == "norm.weight") return vector_ref(w.embedding_norm.weight.data(), c.E);
  if (name == "norm.bias") return vector_ref(w.embedding_norm.bias.data(), c.E);
  if (name.rfind("projection.", 0) == 0 && !w.embedding_projection.empty()) {
    return dense_ref(w.embedding_projection, name.substr(11), name);
  }
  if (name.rfind("pooler.", 0) == 0 && !w.pooler.empty()) return dense_ref(w.pooler, name.substr(7), name);
  if (name == "final_norm.weight" && !w.final_norm.empty()) return vector_ref(w.final_norm.weight.data(), c.H);
  if (name == "final_norm.bias" && !w.final_norm.empty()) return vector_ref(w.final_norm.bias.data(), c.H);
  // layers.<s>.<role>.<part>
  if (name.rfind("layers.", 0) != 0) throw unknown(name);
  const size_t dot1 = name.find('.', 7), dot2 = dot1 == std::string::npos ? dot1 : name.find('.', dot1 + 1);
  if (dot2 == std::string::npos || dot1 == 7) throw unknown(name);
  const std::string index = name.substr(7, dot1 - 7);
  if (index.size() > 9 || !std::all_of(index.begin(), index.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    throw unknown(name);
  }
  const size_t s = std::stoul(index);
  if (s >= w.layer_sets.size()) throw unknown(name);
  const LayerWeights& lw = w.layer_sets[s];
  const std::string role = name.substr(dot1 + 1, dot2 - dot1 - 1), part = name.substr(dot2 + 1);
  const int H = c.H;
  const Norm* norm = role == "attn_norm" ? &lw.attn_norm : role == "ffn_norm" ? &lw.ffn_norm : nullptr;
  if (norm && !norm->empty()) {
    if (part == "weight") return vector_ref(norm->weight.data(), H);
    if (part == "bias") return vector_ref(norm->bias.data(), H);
    throw unknown(name);
  }
  if (role == "q" || role == "k" || role == "v") {
    return dense_ref(lw.qkv, part, name, (role == "q" ? 0 : role == "k" ? 1 : 2) * H, H);
  }
  if (role == "attn_out") return dense_ref(lw.attn_out, part, name);
  if (role == "ffn_in") return dense_ref(lw.ffn_in, part, name);
  if (role == "ffn_gate" && !lw.ffn_gate.empty()) return dense_ref(lw.ffn_gate, part, name);
  if (role == "ffn_out") return dense_ref(lw.ffn_out, part, name);
  throw unknown(name);
}

}  // namespace

std::vector<int64_t> weight_shape(const Encoder& enc, const std::string& name) {
  const WeightRef r = resolve(enc, name);
  if (r.cols == 0) return {r.rows};
  return {r.rows, r.cols};
}

void read_weight(const Encoder& enc, const std::string& name, float* out) {
  const WeightRef r = resolve(enc, name);
  const size_t count = static_cast<size_t>(r.rows) * static_cast<size_t>(r.cols == 0 ? 1 : r.cols);
  if (!r.dense) {
    std::memcpy(out, r.data, sizeof(float) * count);
    return;
  }
  const Dense& d = *r.dense;
  if (d.precision != Precision::kFloat32) {
    throw std::invalid_argument("encoder weight '" + name + "': this layer is packed in " +
                                precision_name(d.precision) + " and keeps no float32 weight");
  }
  if (r.row0 == 0 && r.rows == d.N) {
    d.unpacked_weight(out);
    return;
  }
  std::vector<float> all(static_cast<size_t>(d.N) * d.K);
  d.unpacked_weight(all.data());
  std::memcpy(out, all.data() + r.row0 * d.K, sizeof(float) * count);
}

bool holds_exactly(const Encoder& enc, const std::string& name) {
  const WeightRef r = resolve(enc, name);
  return !r.dense || r.dense->precision == Precision::kFloat32;
}

}  // namespace pbc
