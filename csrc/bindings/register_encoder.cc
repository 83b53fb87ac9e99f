// register_encoder.cc — Activation, EncoderConfig, EncoderBuilder and Encoder: making an encoder from
// numpy weights (model/builder.h) and running it.
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings/arrays.h"
#include "bindings/interrupt.h"
#include "bindings/register.h"
#include "model/builder.h"
#include "model/encoder.h"
#include "model/packing.h"
#include "model/readback.h"
#include "runtime/cancel.h"
#include "runtime/memory.h"
#include "runtime/threads.h"

namespace pbc_py {

namespace {

using pbc::Encoder;
using pbc::EncoderBuilder;
using pbc::EncoderConfig;

// The builder with numpy pieces: arrays are checked and held here, the building runs without the GIL.
class PyEncoderBuilder {
 public:
  PyEncoderBuilder(const EncoderConfig& c, std::vector<int> layer_map, const std::string& precision,
                   std::vector<std::string> keep_float32)
      : b_(c, std::move(layer_map), pbc::parse_precision(precision), std::move(keep_float32)) {}

  void embeddings(const py::dict& w) { with_piece(w, [this](const pbc::WeightPiece& p) { b_.embeddings(p); }); }
  void add_layer_set(const py::dict& w) {
    with_piece(w, [this](const pbc::WeightPiece& p) { b_.add_layer_set(p); });
  }
  void pooler(const py::dict& w) { with_piece(w, [this](const pbc::WeightPiece& p) { b_.pooler(p); }); }
  void relative_positions(const py::dict& w, std::vector<int> columns) {
    with_piece(w, [this, &columns](const pbc::WeightPiece& p) { b_.relative_positions(p, std::move(columns)); });
  }
  void add_rotary(const py::dict& w) { with_piece(w, [this](const pbc::WeightPiece& p) { b_.add_rotary(p); }); }
  void final_norm(const py::dict& w) { with_piece(w, [this](const pbc::WeightPiece& p) { b_.final_norm(p); }); }
  void word_embedding_rows(int64_t begin, const py::object& rows_obj) {
    FloatArray rows = float_array(rows_obj, "encoder weights: word embedding rows");
    pbc::WeightArray a{rows.data(), std::vector<int64_t>(rows.shape(), rows.shape() + rows.ndim())};
    py::gil_scoped_release release;
    b_.word_embedding_rows(begin, a);
  }
  std::unique_ptr<Encoder> build() {
    py::gil_scoped_release release;
    return b_.build();
  }

 private:
  template <class F>
  void with_piece(const py::dict& w, F&& f) {
    std::vector<FloatArray> keep;
    const pbc::WeightPiece piece = weight_piece(w, keep);
    py::gil_scoped_release release;
    f(piece);
  }
  EncoderBuilder b_;
};

FloatArray encoder_weight(const Encoder& enc, const std::string& name) {
  const std::vector<int64_t> shape = pbc::weight_shape(enc, name);
  FloatArray out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
  float* dst = out.mutable_data();
  py::gil_scoped_release release;
  pbc::read_weight(enc, name, dst);
  return out;
}

// A (B, T) int64 input, or null when None; `name` goes into the error.
const int64_t* optional_ids(const py::object& obj, const char* name, py::ssize_t B, py::ssize_t T,
                            std::vector<IdArray>& keep) {
  if (obj.is_none()) return nullptr;
  if (!py::isinstance<IdArray>(obj)) throw std::invalid_argument(std::string(name) + " must be an int64 C-contiguous array");
  IdArray a = obj.cast<IdArray>();
  if (a.ndim() != 2 || a.shape(0) != B || a.shape(1) != T) {
    throw std::invalid_argument(std::string(name) + " has shape " + shape_str(a) + " but input_ids has shape (" +
                                std::to_string(B) + ", " + std::to_string(T) + ")");
  }
  keep.push_back(a);
  return a.data();
}

// What a forward call gives of the last hidden state (Encoder.forward's last_state).
enum class LastState { kPadded, kPosition0, kMean, kPacked };

LastState parse_last_state(const std::string& name) {
  if (name == "padded") return LastState::kPadded;
  if (name == "position0") return LastState::kPosition0;
  if (name == "mean") return LastState::kMean;
  if (name == "packed") return LastState::kPacked;
  throw std::invalid_argument("last_state: expected 'padded', 'position0', 'mean' or 'packed', got '" + name + "'");
}

// Everything a forward call allocates, checked against what the process can take before any of it is.
void require_forward_memory(const Encoder& enc, const pbc::ForwardInputs& in, py::ssize_t rows, bool hidden_states,
                            bool attentions, bool pool, LastState last) {
  const EncoderConfig& c = enc.config();
  using pbc::product_bytes;
  const uint64_t H = c.H, L = c.L, NH = c.NH, b = in.B, t = in.T, n = static_cast<uint64_t>(rows);
  const char* last_name = last == LastState::kPadded      ? "last_hidden_state"
                          : last == LastState::kPosition0 ? "first_hidden_state"
                          : last == LastState::kMean      ? "mean_pooled"
                                                          : "packed_rows";
  const uint64_t last_bytes = last == LastState::kPadded   ? product_bytes({b, t, H, 4})
                              : last == LastState::kPacked ? product_bytes({n, H, 4}) + product_bytes({n, 8})
                                                           : product_bytes({b, H, 4});
  std::vector<std::pair<std::string, uint64_t>> parts = {
      {last_name, last_bytes},
      {"pooler_output", pool ? product_bytes({b, H, 4}) : 0},
      {"hidden_states", hidden_states ? product_bytes({L + 1, b, t, H, 4}) : 0},
      {"attentions", attentions ? product_bytes({L, b, NH, t, t, 4}) : 0},
      {"workspace", enc.workspace_bytes(in.B, static_cast<int>(rows), in.T, pool, pbc::num_threads()) +
                        product_bytes({n, 8})},
  };
  pbc::require_memory("a forward pass over input_ids of shape (" + std::to_string(in.B) + ", " + std::to_string(in.T) +
                          ")" + (attentions ? " with output_attentions" : "") +
                          (hidden_states ? " with output_hidden_states" : ""),
                      parts, "; pass fewer sequences or shorter ones at a time");
}

py::dict encoder_forward(const Encoder& enc, const IdArray& input_ids, const py::object& attention_mask,
                         const py::object& token_type_ids, const py::object& position_ids, bool output_hidden_states,
                         bool output_attentions, bool pooled, const std::string& last_state) {
  const LastState last = parse_last_state(last_state);
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
  pbc::ForwardInputs in;
  in.B = static_cast<int>(B);
  in.T = static_cast<int>(T);
  in.input_ids = input_ids.data();
  in.attention_mask = optional_ids(attention_mask, "attention_mask", B, T, keep);
  in.token_type_ids = optional_ids(token_type_ids, "token_type_ids", B, T, keep);
  in.position_ids = optional_ids(position_ids, "position_ids", B, T, keep);
  const bool pool = pooled && enc.has_pooler();
  // The rows the core computes, by its own rule (pack_tokens: real tokens, plus position 0 where it is
  // masked), which sizes the packed output. No tokens: no rows (the forward pass then raises).
  const pbc::TokenPacking packing = T > 0 ? pbc::pack_tokens(in) : pbc::TokenPacking();
  const py::ssize_t rows = packing.rows();
  require_forward_memory(enc, in, rows, output_hidden_states, output_attentions, pool, last);

  const py::ssize_t H = c.H, L = c.L, NH = c.NH;
  py::dict result;
  pbc::ForwardOutputs out;
  if (last == LastState::kPosition0) {
    FloatArray first({B, H});
    out.first_hidden_state = first.mutable_data();
    result["first_hidden_state"] = first;
  } else if (last == LastState::kMean) {
    FloatArray mean({B, H});
    out.mean_pooled = mean.mutable_data();
    result["mean_pooled"] = mean;
  } else if (last == LastState::kPacked) {
    FloatArray packed({rows, H});
    out.packed_rows = packed.mutable_data();
    result["packed_rows"] = packed;
    IdArray index({rows});  // each row's flat place in (B, T)
    int64_t* place = index.mutable_data();
    for (py::ssize_t r = 0; r < rows; ++r) place[r] = static_cast<int64_t>(packing.batch[r]) * T + packing.slot[r];
    result["packed_index"] = index;
  } else {
    FloatArray states({B, T, H});
    out.last_hidden_state = states.mutable_data();
    result["last_hidden_state"] = states;
  }
  if (pool) {
    FloatArray p({B, H});
    out.pooler_output = p.mutable_data();
    result["pooler_output"] = p;
  }
  if (output_hidden_states) {
    FloatArray hs({L + 1, B, T, H});
    out.hidden_states = hs.mutable_data();
    result["hidden_states"] = hs;
  }
  if (output_attentions) {
    FloatArray att({L, B, NH, T, T});
    out.attentions = att.mutable_data();
    result["attentions"] = att;
  }
  pbc::CancelFlag cancel{false};
  bool cancelled = false;
  {
    pbc::SigintCancels interruptible(&cancel);
    py::gil_scoped_release release;
    pbc::release_freed_heap();
    const pbc::CancelScope scope(&cancel);
    try {
      enc.forward(in, out);
    } catch (const pbc::Cancelled&) {
      cancelled = true;
    }
  }
  if (cancelled) pbc::raise_interrupt();
  return result;
}

}  // namespace

void register_encoder(py::module_& m) {
  using pbc::Activation;
  py::enum_<Activation>(m, "Activation")
      .value("identity", Activation::kIdentity)
      .value("gelu_erf", Activation::kGeluErf)
      .value("gelu_tanh", Activation::kGeluTanh)
      .value("quick_gelu", Activation::kQuickGelu)
      .value("relu", Activation::kRelu)
      .value("silu", Activation::kSilu)
      .value("tanh", Activation::kTanh);

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
      .def_readwrite("layer_norm_eps", &EncoderConfig::layer_norm_eps)
      .def_readwrite("absolute_positions", &EncoderConfig::absolute_positions)
      .def_readwrite("norm_first", &EncoderConfig::norm_first)
      .def_readwrite("gated_ffn", &EncoderConfig::gated_ffn)
      .def_readwrite("layer_window", &EncoderConfig::layer_window)
      .def_readwrite("layer_rotary", &EncoderConfig::layer_rotary)
      .def_readwrite("projection_before_norm", &EncoderConfig::projection_before_norm)
      .def_readwrite("pos_rows", &EncoderConfig::pos_rows)
      .def_readwrite("score_scale_factor", &EncoderConfig::score_scale_factor);

  py::class_<PyEncoderBuilder>(m, "EncoderBuilder")
      .def(py::init<const EncoderConfig&, std::vector<int>, const std::string&, std::vector<std::string>>(),
           py::arg("config"), py::arg("layer_map"), py::arg("precision") = "float32",
           py::arg("keep_float32") = std::vector<std::string>{},
           "an Encoder built piece by piece (model/builder.h): embeddings(), word_embedding_rows() until every "
           "row is given, relative_positions() (DeBERTa) before add_layer_set() per weight set, add_rotary() per "
           "rotary table, final_norm() and pooler() where the family has them, then build()")
      .def("embeddings", &PyEncoderBuilder::embeddings, py::arg("weights"))
      .def("word_embedding_rows", &PyEncoderBuilder::word_embedding_rows, py::arg("begin"), py::arg("rows"))
      .def("add_layer_set", &PyEncoderBuilder::add_layer_set, py::arg("weights"))
      .def("pooler", &PyEncoderBuilder::pooler, py::arg("weights"))
      .def("relative_positions", &PyEncoderBuilder::relative_positions, py::arg("weights"), py::arg("columns"))
      .def("add_rotary", &PyEncoderBuilder::add_rotary, py::arg("weights"))
      .def("final_norm", &PyEncoderBuilder::final_norm, py::arg("weights"))
      .def("build", &PyEncoderBuilder::build);

  py::class_<Encoder>(m, "Encoder", "a packed encoder, made by EncoderBuilder.build()")
      .def_property_readonly("precision", [](const Encoder& e) {
        // The layers' precision: that of the first layer's qkv (keep_float32 may exempt some layers).
        return std::string(pbc::precision_name(e.layer_precision()));
      })
      .def_property_readonly("isa", [](const Encoder& e) { return std::string(e.kernels().name); })
      .def_property_readonly("has_pooler", &Encoder::has_pooler)
      .def("weight", &encoder_weight, py::arg("name"),
           "a weight back from the core by the builder's name (model/readback.h): a new float32 array, "
           "exactly as given for every weight but low-precision matrices (ValueError)")
      .def("holds_exactly", &pbc::holds_exactly, py::arg("name"),
           "whether weight(name) returns the weight exactly as given")
      .def_property_readonly_static("pass_rows", [](const py::object&) { return Encoder::kPassRows; },
                                    "rows (real tokens) one pass through the layers takes at most: a call over "
                                    "more runs its sequences in groups (model/encoder.h)")
      .def_property_readonly("pooled_workspace_bytes",
                             [](const Encoder& e) { return e.pooled_workspace_floats() * sizeof(float); })
      .def("forward", &encoder_forward, py::arg("input_ids"), py::arg("attention_mask") = py::none(),
           py::arg("token_type_ids") = py::none(), py::arg("position_ids") = py::none(),
           py::arg("output_hidden_states") = false, py::arg("output_attentions") = false, py::arg("pooled") = true,
           py::arg("last_state") = "padded",
           "run the encoder; returns a dict of float32 arrays. last_state, what is given of the last hidden "
           "state: 'padded', last_hidden_state (B, T, H), padded positions zero; 'position0', "
           "first_hidden_state (B, H), each sequence's position 0 (without hidden states or attentions the "
           "last layer then computes nothing else: same values); 'mean', mean_pooled (B, H), the mean of "
           "each sequence's real tokens; 'packed', packed_rows (N, H), the rows the core computes, sequence "
           "after sequence in token order: the real tokens, preceded by position 0 where it is masked "
           "(model/io.h). The last three never make the padded states");
}

}  // namespace pbc_py
