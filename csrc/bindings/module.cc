// module.cc — pybertcore._core: the only file that sees Python.
//
// Arrays cross as numpy: the Python layer converts dtype and contiguity (where the cost is visible),
// this file checks ndim and shape and names the argument in its error, copies weights once into the
// core's packed form, and releases the GIL around every compute call. C++ std::invalid_argument
// becomes ValueError, std::runtime_error RuntimeError (pybind11's standard translation).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <omp.h>

#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/encoder.h"

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

std::vector<float> take_vector(const py::dict& w, const std::string& key, const std::vector<py::ssize_t>& shape) {
  FloatArray a = take(w, key, shape);
  return std::vector<float>(a.data(), a.data() + a.size());
}

Dense take_dense(const Kernels& k, const py::dict& w, const std::string& prefix, int N, int K, bool bias = true) {
  FloatArray weight = take(w, prefix + ".weight", {N, K});
  if (!bias) return Dense(k, weight.data(), nullptr, N, K);
  FloatArray b = take(w, prefix + ".bias", {N});
  return Dense(k, weight.data(), b.data(), N, K);
}

Norm take_norm(const py::dict& w, const std::string& prefix, int C) {
  return Norm{take_vector(w, prefix + ".weight", {C}), take_vector(w, prefix + ".bias", {C})};
}

// Canonical weight names (the Python layer maps each family's checkpoint names onto these):
//   embeddings.word (V, E), embeddings.position (P, E), embeddings.token_type (TV, E) when TV > 0,
//   embeddings.norm.{weight,bias} (E), embeddings.projection.{weight (H, E), bias (H)} optional,
//   layers.<s>.{qkv (3H, H), attn_out (H, H), attn_norm (H), ffn_in (I, H), ffn_out (H, I),
//   ffn_norm (H)}.{weight,bias} for each weight set s = 0, 1, ..., pooler.{weight,bias} optional.
std::unique_ptr<Encoder> make_encoder(const EncoderConfig& c, const py::dict& w, const std::vector<int>& layer_map) {
  if (c.H <= 0 || c.E <= 0 || c.I <= 0 || c.V <= 0 || c.P <= 0 || c.TV < 0) {
    throw std::invalid_argument("EncoderConfig: sizes must be positive");
  }
  const Kernels& k = active_kernels();
  EncoderWeights ew;
  {
    FloatArray word = take(w, "embeddings.word", {c.V, c.E});
    ew.word_embeddings.assign(word.data(), word.data() + word.size());
  }
  ew.position_embeddings = take_vector(w, "embeddings.position", {c.P, c.E});
  if (c.TV > 0) ew.token_type_embeddings = take_vector(w, "embeddings.token_type", {c.TV, c.E});
  ew.embedding_norm = take_norm(w, "embeddings.norm", c.E);
  if (w.contains("embeddings.projection.weight")) {
    ew.embedding_projection = take_dense(k, w, "embeddings.projection", c.H, c.E);
  }
  for (int s = 0;; ++s) {
    const std::string p = "layers." + std::to_string(s) + ".";
    if (!w.contains(p + "qkv.weight")) break;
    LayerWeights lw;
    lw.qkv = take_dense(k, w, p + "qkv", 3 * c.H, c.H);
    lw.attn_out = take_dense(k, w, p + "attn_out", c.H, c.H);
    lw.attn_norm = take_norm(w, p + "attn_norm", c.H);
    lw.ffn_in = take_dense(k, w, p + "ffn_in", c.I, c.H);
    lw.ffn_out = take_dense(k, w, p + "ffn_out", c.H, c.I);
    lw.ffn_norm = take_norm(w, p + "ffn_norm", c.H);
    ew.layer_sets.push_back(std::move(lw));
  }
  ew.layer_map = layer_map;
  if (w.contains("pooler.weight")) ew.pooler = take_dense(k, w, "pooler", c.H, c.H);
  return std::make_unique<Encoder>(c, std::move(ew));
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
  std::vector<IdArray> keep;
  ForwardInputs in;
  in.B = static_cast<int>(B);
  in.T = static_cast<int>(T);
  in.input_ids = input_ids.data();
  in.attention_mask = optional_ids(attention_mask, "attention_mask", B, T, keep);
  in.token_type_ids = optional_ids(token_type_ids, "token_type_ids", B, T, keep);
  in.position_ids = optional_ids(position_ids, "position_ids", B, T, keep);

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
  {
    py::gil_scoped_release release;
    enc.forward(in, out);
  }
  return result;
}

FloatArray dense_forward(const Dense& d, const FloatArray& x, Activation act) {
  if (x.ndim() != 2 || x.shape(1) != d.K) {
    throw std::invalid_argument("input has shape " + shape_str(x) + ", expected (M, " +
                                std::to_string(d.K) + ")");
  }
  const py::ssize_t M = x.shape(0);
  FloatArray y({M, static_cast<py::ssize_t>(d.N)});
  float* yp = y.mutable_data();
  const float* xp = x.data();
  {
    py::gil_scoped_release release;
    d.forward(yp, d.N, xp, d.K, static_cast<int>(M), act);
  }
  return y;
}

FloatArray layer_norm(const FloatArray& x, const FloatArray& weight, const FloatArray& bias, float eps) {
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
  {
    py::gil_scoped_release release;
    active_kernels().layernorm(ln);
  }
  return y;
}

std::vector<std::string> compiled_isas() {
  std::vector<std::string> names{"scalar"};
#ifdef PBC_HAVE_X86_KERNELS
  names.push_back("avx2");
  names.push_back("avx512");
#endif
  return names;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "pybertcore's C++ core: BERT-family encoder kernels and forward pass";

  py::enum_<Activation>(m, "Activation")
      .value("identity", Activation::kIdentity)
      .value("gelu_erf", Activation::kGeluErf)
      .value("gelu_tanh", Activation::kGeluTanh)
      .value("quick_gelu", Activation::kQuickGelu)
      .value("relu", Activation::kRelu)
      .value("silu", Activation::kSilu)
      .value("tanh", Activation::kTanh);

  m.def("compiled_isas", &compiled_isas, "ISA levels this build contains, lowest first");
  m.def("detected_isa", [] { return std::string(isa_name(detected_isa())); },
        "the best ISA level this CPU and OS support (and the build contains)");
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); },
        "the ISA level new models are packed for and run with");
  m.def("set_isa", [](const std::string& name) { set_active_isa(parse_isa(name.c_str())); },
        py::arg("name"), "force an ISA level no higher than detected_isa(); affects models built afterwards");
  m.def("parse_isa", [](const std::string& name) { return std::string(isa_name(parse_isa(name.c_str()))); },
        py::arg("name"));
  m.def("get_num_threads", [] { return omp_get_max_threads(); });
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw std::invalid_argument("number of threads must be at least 1, got " + std::to_string(n));
    omp_set_num_threads(n);
  }, py::arg("n"));

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

  py::class_<Encoder>(m, "Encoder")
      .def(py::init(&make_encoder), py::arg("config"), py::arg("weights"), py::arg("layer_map"),
           "pack the canonical weights (see module.cc) with the active ISA level")
      .def_property_readonly("isa", [](const Encoder& e) { return std::string(e.kernels().name); })
      .def_property_readonly("has_pooler", &Encoder::has_pooler)
      .def("forward", &encoder_forward, py::arg("input_ids"), py::arg("attention_mask") = py::none(),
           py::arg("token_type_ids") = py::none(), py::arg("position_ids") = py::none(),
           py::arg("output_hidden_states") = false, py::arg("output_attentions") = false,
           py::arg("pooled") = true,
           "run the encoder; returns a dict of float32 arrays (padded positions are zero)");

  py::class_<Dense>(m, "Dense")
      .def(py::init([](const FloatArray& weight, const py::object& bias) {
             if (weight.ndim() != 2) throw std::invalid_argument("weight must be 2-D (out, in), got " + shape_str(weight));
             const int N = static_cast<int>(weight.shape(0)), K = static_cast<int>(weight.shape(1));
             if (bias.is_none()) return Dense(active_kernels(), weight.data(), nullptr, N, K);
             FloatArray b = bias.cast<FloatArray>();
             if (b.ndim() != 1 || b.shape(0) != N) {
               throw std::invalid_argument("bias has shape " + shape_str(b) + ", expected (" + std::to_string(N) + ",)");
             }
             return Dense(active_kernels(), weight.data(), b.data(), N, K);
           }),
           py::arg("weight"), py::arg("bias") = py::none(), "a linear layer y = act(x · weightᵀ + bias), packed once")
      .def_readonly("out_features", &Dense::N)
      .def_readonly("in_features", &Dense::K)
      .def("forward", &dense_forward, py::arg("x"), py::arg("activation") = Activation::kIdentity);

  m.def("layer_norm", &layer_norm, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
        "LayerNorm over the last dimension of a 2-D float32 array");
}
