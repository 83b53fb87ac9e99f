// register.h — the parts of pybertcore._core, one register_* per file (module.cc calls them in order).
#pragma once

#include <pybind11/pybind11.h>

namespace pbc_py {

namespace py = pybind11;

void register_runtime(py::module_& m);  // ISA levels, threads, memory, CPU features (register_runtime.cc)
void register_encoder(py::module_& m);  // Activation, EncoderConfig, EncoderBuilder, Encoder (register_encoder.cc)
void register_dense(py::module_& m);    // Dense and layer_norm, the heads' layers (register_dense.cc)
void register_splade(py::module_& m);   // SpladeHead, SparseEncoder's fused head (register_splade.cc)
void register_testing(py::module_& m);  // _core.testing: kernels alone and number formats (register_testing.cc)

}  // namespace pbc_py
