// arrays.h — numpy arrays at the boundary: the array types the core takes, shape messages, and weight
// dicts turned into the core's WeightPiece (model/builder.h).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/builder.h"

namespace pbc_py {

namespace py = pybind11;
using FloatArray = py::array_t<float, py::array::c_style>;
using IdArray = py::array_t<int64_t, py::array::c_style>;

std::string shape_str(const py::array& a);

// A float32 C-contiguous array or std::invalid_argument naming `what`.
FloatArray float_array(const py::handle& obj, const std::string& what);

// The dict's arrays as a WeightPiece; `keep` holds the arrays alive while the piece is used (the GIL
// may be released meanwhile: nothing of Python is touched through the piece).
pbc::WeightPiece weight_piece(const py::dict& weights, std::vector<FloatArray>& keep);

// The kernel table of `isa` (a level's name), or the active one for None.
const pbc::Kernels& kernels_named(const py::object& isa);

// A new float32 array of the given shape filled from data.
FloatArray copy_to_array(const float* data, const std::vector<py::ssize_t>& shape);

}  // namespace pbc_py
