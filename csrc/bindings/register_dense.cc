// register_dense.cc — Dense and layer_norm: the layers the task heads run (models/heads.py), each call
// on its own thread lease with the GIL released.
#include <pybind11/stl.h>

#include <limits>
#include <string>

#include "bindings/arrays.h"
#include "bindings/layer_norm.h"
#include "bindings/register.h"
#include "model/builder.h"
#include "model/dense.h"
#include "runtime/threads.h"

namespace pbc_py {

namespace {

using pbc::Activation;
using pbc::Dense;

Dense make_dense(const FloatArray& weight, const py::object& bias, const py::object& isa, const std::string& dtype) {
  const pbc::Kernels& k = kernels_named(isa);
  const pbc::Precision p = pbc::parse_precision(dtype);
  if (weight.ndim() != 2) throw std::invalid_argument("weight must be 2-D (out, in), got " + shape_str(weight));
  if (weight.shape(0) > std::numeric_limits<int>::max() || weight.shape(1) > std::numeric_limits<int>::max()) {
    throw std::invalid_argument("weight has shape " + shape_str(weight) + ": too large");
  }
  const int N = static_cast<int>(weight.shape(0)), K = static_cast<int>(weight.shape(1));
  const float* bp = nullptr;
  FloatArray b;
  if (!bias.is_none()) {
    b = float_array(bias, "bias");
    if (b.ndim() != 1 || b.shape(0) != N) {
      throw std::invalid_argument("bias has shape " + shape_str(b) + ", expected (" + std::to_string(N) + ",)");
    }
    bp = b.data();
  }
  py::gil_scoped_release release;
  return Dense(k, weight.data(), bp, N, K, p);
}

FloatArray dense_forward(const Dense& d, const FloatArray& x, Activation act, const py::object& residual) {
  if (x.ndim() != 2 || x.shape(1) != d.K) {
    throw std::invalid_argument("input has shape " + shape_str(x) + ", expected (M, " + std::to_string(d.K) + ")");
  }
  if (x.shape(0) > std::numeric_limits<int>::max()) throw std::invalid_argument("input has too many rows");
  const int M = static_cast<int>(x.shape(0));
  const float* rp = nullptr;
  FloatArray res;
  if (!residual.is_none()) {
    res = float_array(residual, "residual");
    if (res.ndim() != 2 || res.shape(0) != M || res.shape(1) != d.N) {
      throw std::invalid_argument("residual has shape " + shape_str(res) + ", expected (" + std::to_string(M) + ", " +
                                  std::to_string(d.N) + ")");
    }
    rp = res.data();
  }
  FloatArray y({static_cast<py::ssize_t>(M), static_cast<py::ssize_t>(d.N)});
  float* out = y.mutable_data();
  py::gil_scoped_release release;
  const pbc::ThreadLease lease;
  d.forward(out, d.N, x.data(), d.K, M, act, rp, d.N);
  return y;
}

FloatArray layer_norm(const FloatArray& x, const FloatArray& weight, const FloatArray& bias, float eps,
                      const py::object& isa) {
  return run_layer_norm(kernels_named(isa), x, weight, bias, eps);
}

}  // namespace

FloatArray run_layer_norm(const pbc::Kernels& k, const FloatArray& x, const FloatArray& weight,
                          const FloatArray& bias, float eps, FloatArray* packed) {
  if (x.ndim() != 2) throw std::invalid_argument("input must be 2-D, got shape " + shape_str(x));
  const py::ssize_t C = x.shape(1);
  if (weight.ndim() != 1 || weight.shape(0) != C || bias.ndim() != 1 || bias.shape(0) != C) {
    throw std::invalid_argument("LayerNorm weight and bias must have shape (" + std::to_string(C) + ",)");
  }
  FloatArray y({x.shape(0), C});
  pbc::LayerNormArgs ln;
  ln.out = y.mutable_data();
  ln.inp = x.data();
  ln.weight = weight.data();
  ln.bias = bias.data();
  ln.N = static_cast<int>(x.shape(0));
  ln.C = static_cast<int>(C);
  ln.eps = eps;
  if (packed) {
    *packed = FloatArray(static_cast<py::ssize_t>(k.packed_a_floats(ln.N, ln.C)));
    ln.packed = packed->mutable_data();
  }
  py::gil_scoped_release release;
  const pbc::ThreadLease lease;
  k.layernorm(ln);
  return y;
}

void register_dense(py::module_& m) {
  py::class_<Dense>(m, "Dense")
      .def(py::init(&make_dense), py::arg("weight"), py::arg("bias") = py::none(), py::arg("isa") = py::none(),
           py::arg("dtype") = "float32",
           "a linear layer y = act(x · weightᵀ + bias), packed once for `isa` (default: the active level) "
           "in precision `dtype` (float32, bfloat16, int8)")
      .def_property_readonly("isa", [](const Dense& d) { return std::string(d.kernels->name); })
      .def_property_readonly("dtype", [](const Dense& d) { return std::string(pbc::precision_name(d.precision)); })
      .def_readonly("out_features", &Dense::N)
      .def_readonly("in_features", &Dense::K)
      .def("weight", [](const Dense& d) {
             if (d.precision != pbc::Precision::kFloat32) {
               throw std::invalid_argument(std::string("this layer is packed in ") + pbc::precision_name(d.precision) +
                                           " and keeps no float32 weight");
             }
             FloatArray w({static_cast<py::ssize_t>(d.N), static_cast<py::ssize_t>(d.K)});
             float* out = w.mutable_data();
             py::gil_scoped_release release;
             d.unpacked_weight(out);
             return w;
           }, "the (out, in) float32 weight, unpacked exactly (float32 layers only)")
      .def("bias", [](const Dense& d) -> py::object {
             if (d.bias.empty()) return py::none();
             return copy_to_array(d.bias.data(), {static_cast<py::ssize_t>(d.N)});
           }, "the bias as given, or None")
      .def("forward", &dense_forward, py::arg("x"), py::arg("activation") = Activation::kIdentity,
           py::arg("residual") = py::none(), "act(x · weightᵀ + bias) + residual");

  m.def("layer_norm", &layer_norm, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
        py::arg("isa") = py::none(), "LayerNorm over the last dimension of a 2-D float32 array");
}

}  // namespace pbc_py
