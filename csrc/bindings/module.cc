// module.cc — pybertcore._core: the only file that sees Python.
//
// Arrays cross as numpy: the Python layer converts dtype and contiguity (where the cost is visible),
// this file checks ndim and shape and names the argument in its error, copies weights once into the
// core's packed form, and releases the GIL around every compute call. C++ std::invalid_argument
// becomes ValueError, std::runtime_error RuntimeError (pybind11's standard translation).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quantize.h"
#include "model/encoder.h"
#include "runtime/threads.h"
#include "bindings/interrupt.h"
#include "runtime/cancel.h"
#include "runtime/cpu.h"
#include "runtime/memory.h"

namespace py = pybind11;
using namespace pbc;

namespace {

using FloatArray = py::array_t<float, py::array::c_style>;
using IdArray = py::array_t<int64_t, py::array::c_style>;

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// The float32 C-contiguous array stored under `key`, checked against `shape`.
FloatArray take(const py::dict& weights, const std::string& key, const std::vector<py::ssize_t>& shape) {
  if (!weights.contains(key)) throw std::invalid_argument("encoder weights: missing '" + key + "'");
  py::object obj = weights[py::str(key)];
  if (!py::isinstance<FloatArray>(obj)) {
    throw std::invalid_argument("encoder weights: '" + key + "' must be a float32 C-contiguous array");
  }
  FloatArray a = obj.cast<FloatArray>();
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(i) == shape[i];
  if (!ok) {
    throw std::invalid_argument("encoder weights: '" + key + "' has shape " + shape_str(a) +
                                ", expected " + shape_str(shape));
  }
  return a;
}

WeightVector take_vector(const py::dict& w, const std::string& key, const std::vector<py::ssize_t>& shape) {
  FloatArray a = take(w, key, shape);
  return WeightVector(a.data(), a.data() + a.size());
}

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

Norm take_norm(const py::dict& w, const std::string& prefix, int C) {
  return Norm{take_vector(w, prefix + ".weight", {C}), take_vector(w, prefix + ".bias", {C})};
}

// Loading frees hundreds of MB of temporaries (dtype conversions, unpacked copies), and glibc keeps
// much of it in its heap after free. The end of from_pretrained, or else the first forward pass after a
// build (by then Python has dropped them), hands that memory back, so the resident size is the weights:
// on bert-base 498 → 422 MiB over the interpreter's baseline, for 418 MiB of packed weights.
std::atomic<bool> g_trim_pending{false};

void release_freed_heap() {
  if (!g_trim_pending.exchange(false)) return;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Builds an Encoder one piece at a time, so the caller can let each piece's source pages go once it is
// packed (peak memory during a load: the packed weights plus one layer's sources, not both copies of
// everything). Pieces, as dicts of float32 C-contiguous arrays under these names:
//   embeddings(): position (P, E), token_type (TV, E) when TV > 0, norm.{weight,bias} (E),
//                 projection.{weight (H, E), bias (H)} optional; copied into the core's aligned storage.
//   word_embedding_rows(begin, rows): rows (n, E) of the word table, from row `begin`, in order until all V
//                 are given: the caller converts and releases the table block by block (on XLM-R, 250k x
//                 768, it is most of the weights).
//   add_layer_set(): {q,k,v,attn_out}.{weight (H, H), bias (H)}, attn_norm.{weight,bias} (H),
//                 ffn_in.{weight (I, H), bias (I)}, ffn_out.{weight (H, I), bias (H)}, ffn_norm.{weight,bias}
//                 (H); weight sets are numbered in the order they are added. q, k and v are packed into
//                 the fused (3H, H) QKV panel through one reused staging buffer (no caller-side concat).
//   pooler(): weight (H, H), bias (H).
// `precision` applies to the layers' four matrix multiplies (qkv, attn_out, ffn_in, ffn_out); the
// embedding projection and the pooler stay fp32, and so does every layer named in keep_float32
// ("layers.<s>.<role>", s counting the weight sets added), for layers whose accuracy a measurement showed
// to be sensitive. build() validates the whole (Encoder's constructor) and hands the encoder over; the
// builder is then spent. This is the only way to make an Encoder from Python.
class EncoderBuilder {
 public:
  EncoderBuilder(const EncoderConfig& c, const std::vector<int>& layer_map, const std::string& precision,
                 const std::vector<std::string>& keep_float32)
      : c_(c), lowp_(parse_precision(precision)), keep_float32_(keep_float32), k_(&active_kernels()) {
    if (c.H <= 0 || c.E <= 0 || c.I <= 0 || c.V <= 0 || c.P <= 0 || c.TV < 0) {
      throw std::invalid_argument("EncoderConfig: sizes must be positive");
    }
    ew_.layer_map = layer_map;
  }

  void embeddings(const py::dict& w) {
    check_open();
    if (have_embeddings_) throw std::invalid_argument("EncoderBuilder: embeddings were already given");
    FloatArray position = take(w, "position", {c_.P, c_.E});
    FloatArray token_type = c_.TV > 0 ? take(w, "token_type", {c_.TV, c_.E}) : FloatArray();
    Norm norm = take_norm(w, "norm", c_.E);
    const bool projection = w.contains("projection.weight");
    FloatArray pw = projection ? take(w, "projection.weight", {c_.H, c_.E}) : FloatArray();
    FloatArray pb = projection ? take(w, "projection.bias", {c_.H}) : FloatArray();
    {
      py::gil_scoped_release release;
      ew_.word_embeddings.reserve(static_cast<size_t>(c_.V) * c_.E);  // filled in order by word_embedding_rows
      ew_.position_embeddings.assign(position.data(), position.data() + position.size());
      if (c_.TV > 0) ew_.token_type_embeddings.assign(token_type.data(), token_type.data() + token_type.size());
      ew_.embedding_norm = std::move(norm);
      if (projection) ew_.embedding_projection = Dense(*k_, pw.data(), pb.data(), c_.H, c_.E);
    }
    have_embeddings_ = true;
  }

  void word_embedding_rows(py::ssize_t begin, const py::object& rows_obj) {
    check_open();
    if (!have_embeddings_) throw std::invalid_argument("EncoderBuilder: word_embedding_rows() before embeddings()");
    if (begin != word_rows_) {
      throw std::invalid_argument("EncoderBuilder: word embedding rows must come in order: expected row " +
                                  std::to_string(word_rows_) + ", got " + std::to_string(begin));
    }
    if (!py::isinstance<FloatArray>(rows_obj)) {
      throw std::invalid_argument("encoder weights: word embedding rows must be a float32 C-contiguous array");
    }
    FloatArray rows = rows_obj.cast<FloatArray>();
    if (rows.ndim() != 2 || rows.shape(1) != c_.E || begin + rows.shape(0) > c_.V) {
      throw std::invalid_argument("encoder weights: word embedding rows have shape " + shape_str(rows) + " at row " +
                                  std::to_string(begin) + ", expected (n, " + std::to_string(c_.E) +
                                  ") within " + std::to_string(c_.V) + " rows");
    }
    {
      py::gil_scoped_release release;
      ew_.word_embeddings.insert(ew_.word_embeddings.end(), rows.data(), rows.data() + rows.size());
    }
    word_rows_ += rows.shape(0);
  }

  void add_layer_set(const py::dict& w) {
    check_open();
    const int H = c_.H, I = c_.I;
    const std::string name = "layers." + std::to_string(ew_.layer_sets.size()) + ".";
    FloatArray qkv_w[3], qkv_b[3];
    const char* parts[3] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
      qkv_w[i] = take(w, std::string(parts[i]) + ".weight", {H, H});
      qkv_b[i] = take(w, std::string(parts[i]) + ".bias", {H});
    }
    FloatArray ao_w = take(w, "attn_out.weight", {H, H}), ao_b = take(w, "attn_out.bias", {H});
    FloatArray fi_w = take(w, "ffn_in.weight", {I, H}), fi_b = take(w, "ffn_in.bias", {I});
    FloatArray fo_w = take(w, "ffn_out.weight", {H, I}), fo_b = take(w, "ffn_out.bias", {H});
    LayerWeights lw;
    lw.attn_norm = take_norm(w, "attn_norm", H);
    lw.ffn_norm = take_norm(w, "ffn_norm", H);
    {
      py::gil_scoped_release release;
      const size_t HH = static_cast<size_t>(H) * H;
      if (!qkv_stage_) qkv_stage_ = aligned_floats(3 * HH + 3 * static_cast<size_t>(H));
      float* stage_w = qkv_stage_.get();
      float* stage_b = stage_w + 3 * HH;
      for (int i = 0; i < 3; ++i) {
        std::copy(qkv_w[i].data(), qkv_w[i].data() + HH, stage_w + i * HH);
        std::copy(qkv_b[i].data(), qkv_b[i].data() + H, stage_b + i * H);
      }
      lw.qkv = Dense(*k_, stage_w, stage_b, 3 * H, H, precision_of(name + "qkv"));
      lw.attn_out = Dense(*k_, ao_w.data(), ao_b.data(), H, H, precision_of(name + "attn_out"));
      lw.ffn_in = Dense(*k_, fi_w.data(), fi_b.data(), I, H, precision_of(name + "ffn_in"));
      lw.ffn_out = Dense(*k_, fo_w.data(), fo_b.data(), H, I, precision_of(name + "ffn_out"));
    }
    ew_.layer_sets.push_back(std::move(lw));
  }

  void pooler(const py::dict& w) {
    check_open();
    FloatArray pw = take(w, "weight", {c_.H, c_.H}), pb = take(w, "bias", {c_.H});
    py::gil_scoped_release release;
    ew_.pooler = Dense(*k_, pw.data(), pb.data(), c_.H, c_.H);
  }

  std::unique_ptr<Encoder> build() {
    check_open();
    if (!have_embeddings_) throw std::invalid_argument("EncoderBuilder: build() before embeddings()");
    if (word_rows_ != c_.V) {
      throw std::invalid_argument("EncoderBuilder: build() with " + std::to_string(word_rows_) + " of " +
                                  std::to_string(c_.V) + " word embedding rows given");
    }
    spent_ = true;
    qkv_stage_.reset();
    auto enc = std::make_unique<Encoder>(c_, std::move(ew_));
    g_trim_pending.store(true);
    return enc;
  }

 private:
  void check_open() const {
    if (spent_) throw std::runtime_error("EncoderBuilder: build() was already called");
  }
  Precision precision_of(const std::string& name) const {
    return std::find(keep_float32_.begin(), keep_float32_.end(), name) != keep_float32_.end() ? Precision::kFloat32
                                                                                              : lowp_;
  }

  EncoderConfig c_;
  Precision lowp_;
  std::vector<std::string> keep_float32_;
  const Kernels* k_;
  EncoderWeights ew_;
  AlignedBuffer qkv_stage_;  // (3H, H) weights then (3H) bias, reused across layer sets
  py::ssize_t word_rows_ = 0;  // word embedding rows given so far
  bool have_embeddings_ = false;
  bool spent_ = false;
};

// A weight back from the core, by the builder's names (see EncoderBuilder): "word", "position",
// "token_type", "norm.{weight,bias}", "projection.{weight,bias}", "pooler.{weight,bias}" and
// "layers.<s>.<role>.{weight,bias}" for weight set s. Float32 matrices are unpacked exactly; q, k and
// v are rows of the fused QKV. A low-precision matrix is not held: ValueError. Returns a new array.
FloatArray dense_weight(const Dense& d, py::ssize_t row0 = 0, py::ssize_t rows = -1) {
  if (d.precision != Precision::kFloat32) {
    throw std::invalid_argument(std::string("this layer is packed in ") + precision_name(d.precision) +
                                " and keeps no float32 weight");
  }
  if (rows < 0) rows = d.N;
  FloatArray out({rows, static_cast<py::ssize_t>(d.K)});
  if (row0 == 0 && rows == d.N) {
    py::gil_scoped_release release;
    d.unpacked_weight(out.mutable_data());
    return out;
  }
  std::vector<float> all(static_cast<size_t>(d.N) * d.K);
  {
    py::gil_scoped_release release;
    d.unpacked_weight(all.data());
  }
  std::copy(all.begin() + row0 * d.K, all.begin() + (row0 + rows) * d.K, out.mutable_data());
  return out;
}

FloatArray vector_array(const float* data, py::ssize_t rows, py::ssize_t cols = -1) {
  FloatArray out = cols < 0 ? FloatArray(rows) : FloatArray({rows, cols});
  std::copy(data, data + out.size(), out.mutable_data());
  return out;
}

FloatArray encoder_weight(const Encoder& enc, const std::string& name) {
  const EncoderWeights& w = enc.weights();
  const EncoderConfig& c = enc.config();
  auto unknown = [&]() { return std::invalid_argument("encoder weight: no weight named '" + name + "'"); };
  auto bias_of = [&](const Dense& d, py::ssize_t row0, py::ssize_t rows) {
    if (d.bias.empty()) throw unknown();
    return vector_array(d.bias.data() + row0, rows);
  };
  if (name == "word") return vector_array(w.word_embeddings.data(), c.V, c.E);
  if (name == "position") return vector_array(w.position_embeddings.data(), c.P, c.E);
  if (name == "token_type" && c.TV > 0) return vector_array(w.token_type_embeddings.data(), c.TV, c.E);
  if (name == "norm.weight") return vector_array(w.embedding_norm.weight.data(), c.E);
  if (name == "norm.bias") return vector_array(w.embedding_norm.bias.data(), c.E);
  const Dense* whole = nullptr;
  std::string part;
  if (name.rfind("projection.", 0) == 0 && !w.embedding_projection.empty()) {
    whole = &w.embedding_projection, part = name.substr(11);
  } else if (name.rfind("pooler.", 0) == 0 && !w.pooler.empty()) {
    whole = &w.pooler, part = name.substr(7);
  }
  if (whole) {
    if (part == "weight") return dense_weight(*whole);
    if (part == "bias") return bias_of(*whole, 0, whole->N);
    throw unknown();
  }
  // layers.<s>.<role>.<part>
  if (name.rfind("layers.", 0) != 0) throw unknown();
  const size_t dot1 = name.find('.', 7), dot2 = dot1 == std::string::npos ? dot1 : name.find('.', dot1 + 1);
  if (dot2 == std::string::npos) throw unknown();
  size_t s = 0;
  try {
    s = std::stoul(name.substr(7, dot1 - 7));
  } catch (const std::exception&) {
    throw unknown();
  }
  if (s >= w.layer_sets.size()) throw unknown();
  const LayerWeights& lw = w.layer_sets[s];
  const std::string role = name.substr(dot1 + 1, dot2 - dot1 - 1);
  part = name.substr(dot2 + 1);
  const int H = c.H;
  const Norm* norm = role == "attn_norm" ? &lw.attn_norm : role == "ffn_norm" ? &lw.ffn_norm : nullptr;
  if (norm) {
    if (part == "weight") return vector_array(norm->weight.data(), H);
    if (part == "bias") return vector_array(norm->bias.data(), H);
    throw unknown();
  }
  const Dense* d = nullptr;
  py::ssize_t row0 = 0, rows = -1;
  if (role == "q" || role == "k" || role == "v") {
    d = &lw.qkv, row0 = (role == "q" ? 0 : role == "k" ? 1 : 2) * H, rows = H;
  } else if (role == "attn_out") {
    d = &lw.attn_out;
  } else if (role == "ffn_in") {
    d = &lw.ffn_in;
  } else if (role == "ffn_out") {
    d = &lw.ffn_out;
  } else {
    throw unknown();
  }
  if (part == "weight") return dense_weight(*d, row0, rows);
  if (part == "bias") return bias_of(*d, row0, rows < 0 ? d->N : rows);
  throw unknown();
}

// Whether encoder_weight(name) gives the weight exactly as it was given (every weight but the
// matrices of low-precision layers).
bool encoder_holds_exactly(const Encoder& enc, const std::string& name) {
  const EncoderWeights& w = enc.weights();
  if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0) return true;
  if (name.rfind("layers.", 0) != 0) return true;  // embeddings, projection and pooler stay fp32
  const size_t dot1 = name.find('.', 7);
  const size_t s = std::stoul(name.substr(7, dot1 - 7));
  const std::string role = name.substr(dot1 + 1, name.size() - 7 - dot1 - 1);
  const LayerWeights& lw = w.layer_sets.at(s);
  const Dense* d = role == "q" || role == "k" || role == "v" ? &lw.qkv
                   : role == "attn_out"                       ? &lw.attn_out
                   : role == "ffn_in"                         ? &lw.ffn_in
                   : role == "ffn_out"                        ? &lw.ffn_out
                                                              : nullptr;
  return d == nullptr || d->precision == Precision::kFloat32;
}

// A (B, T) int64 input, or null when None; `name` goes into the error.
const int64_t* optional_ids(const py::object& obj, const char* name, py::ssize_t B, py::ssize_t T,
                            std::vector<IdArray>& keep) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<IdArray>(obj)) {
    throw std::invalid_argument(std::string(name) + " must be an int64 C-contiguous array");
  }
  IdArray a = obj.cast<IdArray>();
  if (a.ndim() != 2 || a.shape(0) != B || a.shape(1) != T) {
    throw std::invalid_argument(std::string(name) + " has shape " + shape_str(a) +
                                " but input_ids has shape (" + std::to_string(B) + ", " +
                                std::to_string(T) + ")");
  }
  keep.push_back(a);
  return a.data();
}

py::dict encoder_forward(const Encoder& enc, const IdArray& input_ids, const py::object& attention_mask,
                         const py::object& token_type_ids, const py::object& position_ids,
                         bool output_hidden_states, bool output_attentions, bool pooled) {
  if (input_ids.ndim() != 2) {
    throw std::invalid_argument("input_ids must be 2-D (batch, tokens), got shape " + shape_str(input_ids));
  }
  const EncoderConfig& c = enc.config();
  const py::ssize_t B = input_ids.shape(0), T = input_ids.shape(1);
  if (B > std::numeric_limits<int>::max() || T > std::numeric_limits<int>::max() ||
      static_cast<uint64_t>(B) * static_cast<uint64_t>(T) > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("input_ids has shape " + shape_str(input_ids) + ": at most " +
                                std::to_string(std::numeric_limits<int>::max()) + " tokens per call");
  }
  std::vector<IdArray> keep;
  ForwardInputs in;
  in.B = static_cast<int>(B);
  in.T = static_cast<int>(T);
  in.input_ids = input_ids.data();
  in.attention_mask = optional_ids(attention_mask, "attention_mask", B, T, keep);
  in.token_type_ids = optional_ids(token_type_ids, "token_type_ids", B, T, keep);
  in.position_ids = optional_ids(position_ids, "position_ids", B, T, keep);

  // Everything this call allocates, checked against what the process can take before any of it is.
  {
    py::ssize_t rows = 0;  // packed rows: real tokens, plus position 0 where it is masked
    if (in.attention_mask) {
      for (py::ssize_t b = 0; b < B; ++b) {
        const int64_t* m = in.attention_mask + b * T;
        rows += (m[0] == 0);
        for (py::ssize_t t = 0; t < T; ++t) rows += (m[t] != 0);
      }
    } else {
      rows = B * T;
    }
    const bool pool = pooled && enc.has_pooler();
    const uint64_t H = c.H, L = c.L, NH = c.NH, b = B, t = T;
    std::vector<std::pair<std::string, uint64_t>> parts = {
        {"last_hidden_state", product_bytes({b, t, H, 4})},
        {"pooler_output", pool ? product_bytes({b, H, 4}) : 0},
        {"hidden_states", output_hidden_states ? product_bytes({L + 1, b, t, H, 4}) : 0},
        {"attentions", output_attentions ? product_bytes({L, b, NH, t, t, 4}) : 0},
        {"workspace", enc.workspace_bytes(static_cast<int>(B), static_cast<int>(rows), static_cast<int>(T), pool,
                                          num_threads()) + product_bytes({static_cast<uint64_t>(rows), 8})},
    };
    require_memory("a forward pass over input_ids of shape (" + std::to_string(B) + ", " + std::to_string(T) + ")" +
                       (output_attentions ? " with output_attentions" : "") +
                       (output_hidden_states ? " with output_hidden_states" : ""),
                   parts, "; pass fewer sequences or shorter ones at a time");
  }

  FloatArray last({B, T, static_cast<py::ssize_t>(c.H)});
  py::dict result;
  ForwardOutputs out;
  out.last_hidden_state = last.mutable_data();
  result["last_hidden_state"] = last;
  if (pooled && enc.has_pooler()) {
    FloatArray pool({B, static_cast<py::ssize_t>(c.H)});
    out.pooler_output = pool.mutable_data();
    result["pooler_output"] = pool;
  }
  if (output_hidden_states) {
    FloatArray hs({static_cast<py::ssize_t>(c.L) + 1, B, T, static_cast<py::ssize_t>(c.H)});
    out.hidden_states = hs.mutable_data();
    result["hidden_states"] = hs;
  }
  if (output_attentions) {
    FloatArray att({static_cast<py::ssize_t>(c.L), B, static_cast<py::ssize_t>(c.NH), T, T});
    out.attentions = att.mutable_data();
    result["attentions"] = att;
  }
  CancelFlag cancel{false};
  bool cancelled = false;
  {
    SigintCancels interruptible(&cancel);
    py::gil_scoped_release release;
    release_freed_heap();
    const CancelScope scope(&cancel);
    try {
      enc.forward(in, out);
    } catch (const Cancelled&) {
      cancelled = true;
    }
  }
  if (cancelled) raise_interrupt();
  return result;
}

// d.forward on a (M, K) input; for tests of the packed handover (GemmArgs::a_packed, c_packed), x may
// instead be a 1-D operand of `packed_rows` rows in the level's packed layout, and packed_output
// returns the result in that layout (1-D) instead of as (M, N).
py::array dense_forward(const Dense& d, const FloatArray& x, Activation act, const py::object& residual,
                        const py::object& packed_rows, bool packed_output) {
  if ((!packed_rows.is_none() || packed_output) && !d.takes_packed()) {
    throw std::invalid_argument("packed operands are for float32 layers only");
  }
  py::ssize_t M = 0;
  if (packed_rows.is_none()) {
    if (x.ndim() != 2 || x.shape(1) != d.K) {
      throw std::invalid_argument("input has shape " + shape_str(x) + ", expected (M, " +
                                  std::to_string(d.K) + ")");
    }
    M = x.shape(0);
  } else {
    M = packed_rows.cast<py::ssize_t>();
    if (M < 0 || M > std::numeric_limits<int>::max()) throw std::invalid_argument("packed_rows out of range");
    const size_t want = d.kernels->packed_a_floats(static_cast<int>(M), d.K);
    if (x.ndim() != 1 || static_cast<size_t>(x.shape(0)) != want) {
      throw std::invalid_argument("packed input has shape " + shape_str(x) + ", expected (" + std::to_string(want) +
                                  ",)");
    }
  }
  const float* rp = nullptr;
  FloatArray res;
  if (!residual.is_none()) {
    if (!py::isinstance<FloatArray>(residual)) {
      throw std::invalid_argument("residual must be a float32 C-contiguous array");
    }
    res = residual.cast<FloatArray>();
    if (res.ndim() != 2 || res.shape(0) != M || res.shape(1) != d.N) {
      throw std::invalid_argument("residual has shape " + shape_str(res) + ", expected (" +
                                  std::to_string(M) + ", " + std::to_string(d.N) + ")");
    }
    rp = res.data();
  }
  FloatArray y;
  if (packed_output) {
    y = FloatArray(static_cast<py::ssize_t>(d.kernels->packed_a_floats(static_cast<int>(M), d.N)));
  } else {
    y = FloatArray({M, static_cast<py::ssize_t>(d.N)});
  }
  GemmArgs g = d.args(y.mutable_data(), d.N, x.data(), d.K, static_cast<int>(M), act, rp, d.N);
  if (!packed_rows.is_none()) g.a_packed = x.data(), g.a = nullptr;
  if (packed_output) g.c_packed = y.mutable_data(), g.c = nullptr;
  {
    py::gil_scoped_release release;
    const ThreadLease lease;
    d.run(g);
  }
  return y;
}

// The kernel table of `isa` (a name), or the active one for None.
const Kernels& kernels_named(const py::object& isa) {
  if (isa.is_none()) return active_kernels();
  return kernels_for(parse_isa(isa.cast<std::string>().c_str()));
}

// The attention kernel alone, for tests: qkv (N, 3H); spans (B, 3) int32 rows [row_begin, key_begin,
// row_end) of each sequence; slots (N) int32 token index of each row within its padded sequence
// (needed for the probabilities). Returns (ctx (N, H), probs (B, NH, T, T) or None).
py::tuple attention_forward(const FloatArray& qkv, const py::array_t<int32_t, py::array::c_style>& spans,
                            int num_heads, int T, float scale, const py::object& slots, bool output_probs,
                            const py::object& isa) {
  const Kernels& k = kernels_named(isa);
  if (qkv.ndim() != 2 || num_heads < 1 || qkv.shape(1) % (3 * num_heads) != 0) {
    throw std::invalid_argument("qkv has shape " + shape_str(qkv) + ", expected (N, 3 * num_heads * head_size)");
  }
  if (spans.ndim() != 2 || spans.shape(1) != 3) {
    throw std::invalid_argument("spans has shape " + shape_str(spans) + ", expected (B, 3)");
  }
  if (!(scale > 0.0f) || !std::isfinite(scale)) {
    throw std::invalid_argument("scale must be a positive finite number, got " + std::to_string(scale));
  }
  const int N = static_cast<int>(qkv.shape(0)), H = static_cast<int>(qkv.shape(1) / 3);
  const int B = static_cast<int>(spans.shape(0));
  std::vector<SequenceSpan> seqs(B);
  int prev = 0;
  for (int b = 0; b < B; ++b) {
    const int32_t* s = spans.data() + 3 * b;
    if (s[0] != prev || s[1] < s[0] || s[2] < s[1] || s[2] > N || s[2] - s[0] > T) {
      throw std::invalid_argument("spans row " + std::to_string(b) + " is not a valid contiguous span");
    }
    seqs[b] = SequenceSpan{s[0], s[1], s[2]};
    prev = s[2];
  }
  if (prev != N) throw std::invalid_argument("spans do not cover the N rows of qkv");
  std::vector<int> slot(N);
  if (!slots.is_none()) {
    auto sl = slots.cast<py::array_t<int32_t, py::array::c_style>>();
    if (sl.ndim() != 1 || sl.shape(0) != N) throw std::invalid_argument("slots must have shape (N,)");
    for (int r = 0; r < N; ++r) {
      if (sl.data()[r] < 0 || sl.data()[r] >= T) throw std::invalid_argument("slots out of [0, T)");
      slot[r] = sl.data()[r];
    }
  } else {
    for (const SequenceSpan& sp : seqs) {
      for (int r = sp.row_begin; r < sp.row_end; ++r) slot[r] = r - sp.row_begin;
    }
  }
  FloatArray ctx({static_cast<py::ssize_t>(N), static_cast<py::ssize_t>(H)});
  py::object probs_obj = py::none();
  float* probs = nullptr;
  if (output_probs) {
    FloatArray p({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(num_heads), static_cast<py::ssize_t>(T),
                  static_cast<py::ssize_t>(T)});
    std::fill(p.mutable_data(), p.mutable_data() + p.size(), 0.0f);
    probs = p.mutable_data();
    probs_obj = p;
  }
  AttentionArgs a;
  a.ctx = ctx.mutable_data();
  a.ld_ctx = H;
  a.probs = probs;
  a.slot = slot.data();
  a.qkv = qkv.data();
  a.ld_qkv = 3 * H;
  a.seqs = seqs.data();
  a.B = B;
  a.NH = num_heads;
  a.HS = H / num_heads;
  a.T = T;
  a.scale = scale;
  {
    py::gil_scoped_release release;
    const ThreadLease lease;
    a.threads = lease.threads();
    a.scratch_floats = k.attention_scratch_floats(T, a.HS);
    AlignedBuffer scratch = aligned_floats(a.scratch_floats * a.threads);
    a.scratch = scratch.get();
    k.attention(a);
  }
  return py::make_tuple(ctx, probs_obj);
}

// LayerNorm of a 2-D array; with packed, returns (y, y in the level's packed layout of an (N, C) GEMM
// operand, 1-D) for tests of the packed handover.
py::object layer_norm(const FloatArray& x, const FloatArray& weight, const FloatArray& bias, float eps,
                      const py::object& isa, bool packed) {
  const Kernels& k = kernels_named(isa);
  if (x.ndim() != 2) throw std::invalid_argument("input must be 2-D, got shape " + shape_str(x));
  const py::ssize_t C = x.shape(1);
  if (weight.ndim() != 1 || weight.shape(0) != C || bias.ndim() != 1 || bias.shape(0) != C) {
    throw std::invalid_argument("LayerNorm weight and bias must have shape (" + std::to_string(C) + ",)");
  }
  FloatArray y({x.shape(0), C});
  LayerNormArgs ln;
  ln.out = y.mutable_data();
  ln.inp = x.data();
  ln.weight = weight.data();
  ln.bias = bias.data();
  ln.N = static_cast<int>(x.shape(0));
  ln.C = static_cast<int>(C);
  ln.eps = eps;
  FloatArray yp;
  if (packed) {
    yp = FloatArray(static_cast<py::ssize_t>(k.packed_a_floats(ln.N, ln.C)));
    ln.packed = yp.mutable_data();
  }
  {
    py::gil_scoped_release release;
    const ThreadLease lease;
    k.layernorm(ln);
  }
  if (packed) return py::make_tuple(y, yp);
  return std::move(y);
}

// Test helpers: the number formats of quantize.h, exactly as the kernels apply them.
FloatArray bf16_round(const FloatArray& x) {
  FloatArray y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const float* src = x.data();
  float* dst = y.mutable_data();
  for (py::ssize_t i = 0; i < x.size(); ++i) dst[i] = bf16_to_float(bf16_from_float(src[i]));
  return y;
}

py::tuple quantize_activations(const FloatArray& x, const py::object& isa) {
  if (x.ndim() != 2) throw std::invalid_argument("x must be 2-D (rows, K), got " + shape_str(x));
  const Kernels& k = kernels_named(isa);
  const py::ssize_t M = x.shape(0), K = x.shape(1);
  py::array_t<uint8_t> q({M, K});
  FloatArray scale(M);
  py::array_t<int32_t> zero(M);
  py::array_t<int32_t> idx({M, static_cast<py::ssize_t>(kActOutliers)});
  FloatArray res({M, static_cast<py::ssize_t>(kActOutliers)});
  for (py::ssize_t m = 0; m < M; ++m) {
    k.quantize_act_row(q.mutable_data() + m * K, scale.mutable_data() + m, zero.mutable_data() + m,
                     idx.mutable_data() + m * kActOutliers, res.mutable_data() + m * kActOutliers, x.data() + m * K,
                     static_cast<int>(K), static_cast<int>(K));
  }
  return py::make_tuple(q, scale, zero, idx, res);
}

py::tuple quantize_weights(const FloatArray& w) {
  if (w.ndim() != 2) throw std::invalid_argument("weight must be 2-D (out, in), got " + shape_str(w));
  const py::ssize_t N = w.shape(0), K = w.shape(1);
  const py::ssize_t G = weight_groups(static_cast<int>(K));
  py::array_t<int8_t> q({N, K});
  FloatArray scale({N, G});
  py::array_t<int32_t> qsum({N, G});
  for (py::ssize_t n = 0; n < N; ++n) {
    quantize_weight_row(q.mutable_data() + n * K, scale.mutable_data() + n * G, qsum.mutable_data() + n * G,
                        w.data() + n * K, static_cast<int>(K));
  }
  return py::make_tuple(q, scale, qsum);
}

std::vector<std::string> compiled_isas() {
  std::vector<std::string> names{"scalar"};
#ifdef PBC_HAVE_X86_KERNELS
  names.push_back("avx2");
  names.push_back("avx512");
  names.push_back("avx512_vnni");
  names.push_back("avx512_bf16");
#endif
  return names;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pybertcore's C++ core: BERT-family encoder kernels and forward pass";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NotEnoughMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });

  py::enum_<Activation>(m, "Activation")
      .value("identity", Activation::kIdentity)
      .value("gelu_erf", Activation::kGeluErf)
      .value("gelu_tanh", Activation::kGeluTanh)
      .value("quick_gelu", Activation::kQuickGelu)
      .value("relu", Activation::kRelu)
      .value("silu", Activation::kSilu)
      .value("tanh", Activation::kTanh);

  m.def("compiled_isas", &compiled_isas, "ISA levels this build contains, lowest first");
  m.def("bf16_round", &bf16_round, py::arg("x"), "x rounded to bfloat16 (nearest even), as float32");
  m.def("quantize_activations", &quantize_activations, py::arg("x"), py::arg("isa") = py::none(),
        "the int8 GEMM's per-row 8-bit quantization of a (rows, K) float32 array, as level `isa` computes it "
        "(default: the active one): (q uint8, scale, zero_point, outlier_index (rows, 8), outlier_value (rows, 8))");
  m.def("quantize_weights", &quantize_weights, py::arg("weight"),
        "the int8 GEMM's s8 quantization of (N, K) float32 per output channel and group of 128 k: (q int8, "
        "scale (N, groups), sum of q (N, groups))");
  m.def("lowp_info", [](const py::object& isa) {
    const Kernels& k = kernels_named(isa);
    const CpuFeatures& f = cpu_features();
    py::dict d;
    d["bf16_kernel"] = k.bf16_kernel;
    d["int8_kernel"] = k.int8_kernel;
    d["bf16_rounds_activations"] = k.bf16_rounds_activations;
    d["avx512_bf16"] = f.avx512_bf16;
    d["avx512_vnni"] = f.avx512_vnni;
    d["amx_tile"] = f.amx_tile;
    d["amx_bf16"] = f.amx_bf16;
    d["amx_int8"] = f.amx_int8;
    d["os_amx"] = f.os_amx;
    d["amx_permitted"] = f.amx_permitted;
    d["amx_kernels"] = false;  // not built: never validated on AMX hardware
    return d;
  }, py::arg("isa") = py::none(), "the low-precision kernels of a level (default: active) and the CPU's bf16/int8 features");
  m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); },
        "the best ISA level this CPU and OS support (and the build contains)");
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); },
        "the ISA level new models are packed for and run with");
  m.def("set_isa", [](const std::string& name) { set_active_isa(parse_isa(name.c_str())); },
        py::arg("name"), "force an ISA level no higher than detected_isa(); affects models built afterwards");
  m.def("parse_isa", [](const std::string& name) { return std::string(isa_name(parse_isa(name.c_str()))); },
        py::arg("name"));
  m.def("get_num_threads", &pbc::num_threads, "threads each call of the core uses (the process-wide budget)");
  m.def("set_num_threads", &pbc::set_num_threads, py::arg("n"),
        "set the budget; concurrent calls share it instead of each starting a full team");
  m.def("thread_info", [] {
    const ThreadInfo t = thread_info();
    py::dict d;
    d["affinity_cpus"] = t.affinity_cpus;
    d["cgroup_cpus"] = t.cgroup_cpus;
    d["env_threads"] = t.env_threads;
    d["default_threads"] = t.default_threads;
    d["default_source"] = t.default_source;
    d["source"] = num_threads_is_set() ? "set_num_threads" : t.default_source;
    return d;
  }, "where the thread budget came from: set_num_threads, PYBERTCORE_NUM_THREADS, OMP_NUM_THREADS, cgroup "
     "quota or affinity mask");

  m.def("release_freed_heap", [] {
    py::gil_scoped_release release;
    release_freed_heap();
  }, "hands the heap a build left behind back to the OS (malloc_trim), once per build; for from_pretrained");
  m.def("available_memory", [] {
    const MemoryLimit limit = available_memory();
    return py::make_tuple(limit.available_bytes, limit.source);
  }, "(bytes, source): the memory this process can still take, the tightest of MemAvailable, the cgroup "
     "limit and RLIMIT_AS (runtime/memory.h); source names which one");
  m.def("format_bytes", &format_bytes, py::arg("bytes"), "a size for messages: '1.5 GiB'");

  py::class_<EncoderConfig>(m, "EncoderConfig")
      .def(py::init<>())
      .def_readwrite("vocab_size", &EncoderConfig::V)
      .def_readwrite("max_positions", &EncoderConfig::P)
      .def_readwrite("type_vocab_size", &EncoderConfig::TV)
      .def_readwrite("embedding_size", &EncoderConfig::E)
      .def_readwrite("hidden_size", &EncoderConfig::H)
      .def_readwrite("num_heads", &EncoderConfig::NH)
      .def_readwrite("intermediate_size", &EncoderConfig::I)
      .def_readwrite("num_layers", &EncoderConfig::L)
      .def_readwrite("activation", &EncoderConfig::act)
      .def_readwrite("layer_norm_eps", &EncoderConfig::layer_norm_eps);

  py::class_<EncoderBuilder>(m, "EncoderBuilder")
      .def(py::init<const EncoderConfig&, const std::vector<int>&, const std::string&, const std::vector<std::string>&>(),
           py::arg("config"), py::arg("layer_map"), py::arg("precision") = "float32",
           py::arg("keep_float32") = std::vector<std::string>{},
           "an Encoder built piece by piece (see module.cc): embeddings(), word_embedding_rows() until every row "
           "is given, add_layer_set() per weight set, "
           "pooler() optional, then build()")
      .def("embeddings", &EncoderBuilder::embeddings, py::arg("weights"))
      .def("word_embedding_rows", &EncoderBuilder::word_embedding_rows, py::arg("begin"), py::arg("rows"))
      .def("add_layer_set", &EncoderBuilder::add_layer_set, py::arg("weights"))
      .def("pooler", &EncoderBuilder::pooler, py::arg("weights"))
      .def("build", &EncoderBuilder::build);

  py::class_<Encoder>(m, "Encoder", "a packed encoder, made by EncoderBuilder.build()")
      .def_property_readonly("precision", [](const Encoder& e) {
        // The layers' precision: that of the first layer's qkv (keep_float32 may exempt some layers).
        return std::string(precision_name(e.layer_precision()));
      })
      .def_property_readonly("isa", [](const Encoder& e) { return std::string(e.kernels().name); })
      .def_property_readonly("has_pooler", &Encoder::has_pooler)
      .def("weight", &encoder_weight, py::arg("name"),
           "a weight back from the core by the builder's name (module.cc, encoder_weight): a new float32 array, "
           "exactly as given for every weight but low-precision matrices (ValueError)")
      .def("holds_exactly", &encoder_holds_exactly, py::arg("name"),
           "whether weight(name) returns the weight exactly as given")
      .def_property_readonly("pooled_workspace_bytes",
                             [](const Encoder& e) { return e.pooled_workspace_floats() * sizeof(float); })
      .def("forward", &encoder_forward, py::arg("input_ids"), py::arg("attention_mask") = py::none(),
           py::arg("token_type_ids") = py::none(), py::arg("position_ids") = py::none(),
           py::arg("output_hidden_states") = false, py::arg("output_attentions") = false,
           py::arg("pooled") = true,
           "run the encoder; returns a dict of float32 arrays (padded positions are zero)");

  py::class_<Dense>(m, "Dense")
      .def(py::init([](const FloatArray& weight, const py::object& bias, const py::object& isa, const std::string& dtype) {
             const Kernels& k = kernels_named(isa);
             const Precision p = parse_precision(dtype);
             if (weight.ndim() != 2) throw std::invalid_argument("weight must be 2-D (out, in), got " + shape_str(weight));
             const int N = static_cast<int>(weight.shape(0)), K = static_cast<int>(weight.shape(1));
             if (bias.is_none()) return Dense(k, weight.data(), nullptr, N, K, p);
             FloatArray b = bias.cast<FloatArray>();
             if (b.ndim() != 1 || b.shape(0) != N) {
               throw std::invalid_argument("bias has shape " + shape_str(b) + ", expected (" + std::to_string(N) + ",)");
             }
             return Dense(k, weight.data(), b.data(), N, K, p);
           }),
           py::arg("weight"), py::arg("bias") = py::none(), py::arg("isa") = py::none(), py::arg("dtype") = "float32",
           "a linear layer y = act(x · weightᵀ + bias), packed once for `isa` (default: the active level) "
           "in precision `dtype` (float32, bfloat16, int8)")
      .def_property_readonly("isa", [](const Dense& d) { return std::string(d.kernels->name); })
      .def_property_readonly("dtype", [](const Dense& d) { return std::string(precision_name(d.precision)); })
      .def_readonly("out_features", &Dense::N)
      .def("weight", [](const Dense& d) { return dense_weight(d); },
           "the (out, in) float32 weight, unpacked exactly (float32 layers only)")
      .def("bias", [](const Dense& d) -> py::object {
             if (d.bias.empty()) return py::none();
             return vector_array(d.bias.data(), d.N);
           }, "the bias as given, or None")
      .def_readonly("in_features", &Dense::K)
      .def("forward", &dense_forward, py::arg("x"), py::arg("activation") = Activation::kIdentity,
           py::arg("residual") = py::none(), py::arg("packed_rows") = py::none(), py::arg("packed_output") = false,
           "act(x · weightᵀ + bias) + residual; for tests, x or the result may be in the level's packed "
           "GEMM-operand layout (x 1-D of packed_rows rows; packed_output)");

  m.def("layer_norm", &layer_norm, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
        py::arg("isa") = py::none(), py::arg("packed") = false,
        "LayerNorm over the last dimension of a 2-D float32 array; with packed, also the result in the "
        "level's packed GEMM-operand layout (for tests)");
  m.def("attention", &attention_forward, py::arg("qkv"), py::arg("spans"), py::arg("num_heads"), py::arg("T"),
        py::arg("scale"), py::arg("slots") = py::none(), py::arg("output_probs") = false, py::arg("isa") = py::none(),
        "the attention kernel alone (for tests): returns (ctx, probs or None)");
}
