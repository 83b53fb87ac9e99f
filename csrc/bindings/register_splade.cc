// register_splade.cc — pybertcore._core.SpladeHead: the fused SPLADE head (model/splade.h) for Python.
//
// Weights cross once at construction and are packed; forward takes the packed real-token rows of a batch
// (N, H) float32 and the (B + 1) int32 row offsets of its sequences, releases the GIL, and returns the
// pooled (B, V) float32 sparse-lexical vectors. Shapes are checked here and named in the errors;
// Ctrl-C during a call raises KeyboardInterrupt, as the encoder's forward does.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/arrays.h"
#include "bindings/interrupt.h"
#include "bindings/register.h"
#include "kernels/kernels.h"
#include "model/builder.h"
#include "model/splade.h"
#include "runtime/cancel.h"
#include "runtime/threads.h"

namespace pbc_py {

using namespace pbc;

namespace {

using OffsetArray = py::array_t<int32_t, py::array::c_style>;

void check_shape(const FloatArray& a, std::initializer_list<py::ssize_t> shape, const char* name) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  py::ssize_t i = 0;
  for (py::ssize_t n : shape) ok = ok && a.shape(i++) == n;
  if (!ok) {
    std::string want = "(";
    i = 0;
    for (py::ssize_t n : shape) want += (i++ ? ", " : "") + std::to_string(n);
    throw std::invalid_argument(std::string(name) + " has shape " + shape_str(a) + ", expected " + want +
                                (shape.size() == 1 ? ",)" : ")"));
  }
}

const float* optional_vector(const py::object& v, py::ssize_t n, const char* name, FloatArray& keep) {
  if (v.is_none()) return nullptr;
  keep = v.cast<FloatArray>();
  check_shape(keep, {n}, name);
  return keep.data();
}

SpladeHead make_head(const FloatArray& transform_weight, const py::object& transform_bias, Activation act,
                     const FloatArray& norm_weight, const FloatArray& norm_bias, float eps,
                     const FloatArray& decoder_weight, const py::object& decoder_bias, int tile_rows,
                     const std::string& dtype, const py::object& isa) {
  if (transform_weight.ndim() != 2) {
    throw std::invalid_argument("transform_weight must be 2-D (X, H), got " + shape_str(transform_weight));
  }
  if (decoder_weight.ndim() != 2) {
    throw std::invalid_argument("decoder_weight must be 2-D (V, X), got " + shape_str(decoder_weight));
  }
  SpladeHeadWeights w;
  w.X = static_cast<int>(transform_weight.shape(0));
  w.H = static_cast<int>(transform_weight.shape(1));
  w.V = static_cast<int>(decoder_weight.shape(0));
  check_shape(decoder_weight, {w.V, w.X}, "decoder_weight");
  check_shape(norm_weight, {w.X}, "norm_weight");
  check_shape(norm_bias, {w.X}, "norm_bias");
  FloatArray tb, db;
  w.transform_weight = transform_weight.data();
  w.transform_bias = optional_vector(transform_bias, w.X, "transform_bias", tb);
  w.act = act;
  w.norm_weight = norm_weight.data();
  w.norm_bias = norm_bias.data();
  w.eps = eps;
  w.decoder_weight = decoder_weight.data();
  w.decoder_bias = optional_vector(decoder_bias, w.V, "decoder_bias", db);
  return SpladeHead(kernels_named(isa), w, tile_rows, parse_precision(dtype));
}

FloatArray splade_forward(const SpladeHead& head, const FloatArray& hidden, const OffsetArray& offsets,
                          const std::string& pooling, const std::string& activation) {
  if (hidden.ndim() != 2 || hidden.shape(1) != head.H()) {
    throw std::invalid_argument("hidden has shape " + shape_str(hidden) + ", expected (N, " +
                                std::to_string(head.H()) + ")");
  }
  if (offsets.ndim() != 1 || offsets.shape(0) < 1) {
    throw std::invalid_argument("offsets has shape " + shape_str(offsets) + ", expected (B + 1,)");
  }
  SpladeArgs a;
  if (pooling == "max") {
    a.pooling = SpladePooling::kMax;
  } else if (pooling == "sum") {
    a.pooling = SpladePooling::kSum;
  } else {
    throw std::invalid_argument("pooling_strategy '" + pooling + "' is unknown; expected 'max' or 'sum'");
  }
  if (activation == "relu") {
    a.log1p_times = 1;
  } else if (activation == "log1p_relu") {
    a.log1p_times = 2;
  } else {
    throw std::invalid_argument("activation_function '" + activation + "' is unknown; expected 'relu' or 'log1p_relu'");
  }
  a.B = static_cast<int>(offsets.shape(0) - 1);
  a.N = static_cast<int>(hidden.shape(0));
  a.offsets = offsets.data();
  a.hidden = hidden.data();
  FloatArray out({static_cast<py::ssize_t>(a.B), static_cast<py::ssize_t>(head.V())});
  a.out = out.mutable_data();
  CancelFlag cancel{false};
  bool cancelled = false;
  {
    SigintCancels interruptible(&cancel);
    py::gil_scoped_release release;
    const CancelScope scope(&cancel);
    const ThreadLease lease;
    try {
      head.forward(a);
    } catch (const Cancelled&) {
      cancelled = true;
    }
  }
  if (cancelled) raise_interrupt();
  return out;
}

}  // namespace

void register_splade(py::module_& m) {
  py::class_<SpladeHead>(m, "SpladeHead",
                         "the SPLADE head fused: MLM transform, decoder over vocabulary tiles, log1p(ReLU), "
                         "max/sum pooling per sequence; the (N, V) logits are never stored")
      .def(py::init(&make_head), py::arg("transform_weight"), py::arg("transform_bias"), py::arg("activation"),
           py::arg("norm_weight"), py::arg("norm_bias"), py::arg("eps"), py::arg("decoder_weight"),
           py::arg("decoder_bias"), py::arg("tile_rows") = 512, py::arg("dtype") = "float32",
           py::arg("isa") = py::none(),
           "packs transform (X, H), LayerNorm (X) and decoder (V, X) for `isa` (default: the active level); "
           "the decoder in `dtype` (float32, bfloat16, int8), in tiles of tile_rows vocabulary rows")
      .def_property_readonly("vocab_size", &SpladeHead::V)
      .def_property_readonly("hidden_size", &SpladeHead::H)
      .def_property_readonly("tile_rows", &SpladeHead::tile_rows)
      .def("scratch_bytes", [](const SpladeHead& h, int N) { return h.scratch_floats(N) * sizeof(float); },
           py::arg("N"), "bytes of scratch a call over N rows allocates")
      .def("forward", &splade_forward, py::arg("hidden"), py::arg("offsets"), py::arg("pooling_strategy") = "max",
           py::arg("activation_function") = "relu",
           "(B, V) pooled vectors of the sequences whose packed rows hidden[offsets[b]:offsets[b + 1]] holds");
}

}  // namespace pbc_py
