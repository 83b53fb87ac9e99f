// module.cc — pybertcore._core: the only module that sees Python, as a list of its parts.
//
// Arrays cross as numpy: the Python layer converts dtype and contiguity (where the cost is visible),
// the bindings check ndim and shape and name the argument in their errors, copy weights once into the
// core's packed form, and release the GIL around every compute call. C++ std::invalid_argument becomes
// ValueError, std::runtime_error RuntimeError (pybind11's standard translation), NotEnoughMemory
// MemoryError. Test-only hooks live in the `testing` submodule.
#include <pybind11/pybind11.h>

#include "bindings/register.h"
#include "runtime/memory.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "pybertcore's C++ core: BERT-family encoder kernels and forward pass";
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pbc::NotEnoughMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
  pbc_py::register_runtime(m);
  pbc_py::register_encoder(m);
  pbc_py::register_dense(m);
  pbc_py::register_splade(m);
  pybind11::module_ testing = m.def_submodule("testing", "test hooks: kernels alone, number formats");
  pbc_py::register_testing(testing);
}
