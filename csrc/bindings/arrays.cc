// arrays.cc — the boundary's array helpers.
#include "bindings/arrays.h"

#include <algorithm>

namespace pbc_py {

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

FloatArray float_array(const py::handle& obj, const std::string& what) {
  if (!py::isinstance<FloatArray>(obj)) throw std::invalid_argument(what + " must be a float32 C-contiguous array");
  return obj.cast<FloatArray>();
}

pbc::WeightPiece weight_piece(const py::dict& weights, std::vector<FloatArray>& keep) {
  pbc::WeightPiece piece;
  for (const auto& item : weights) {
    const std::string key = py::str(item.first);
    FloatArray a = float_array(item.second, "encoder weights: '" + key + "'");
    pbc::WeightArray w;
    w.data = a.data();
    w.shape.assign(a.shape(), a.shape() + a.ndim());
    piece[key] = std::move(w);
    keep.push_back(std::move(a));
  }
  return piece;
}

const pbc::Kernels& kernels_named(const py::object& isa) {
  if (isa.is_none()) return pbc::active_kernels();
  return pbc::kernels_for(pbc::parse_isa(isa.cast<std::string>().c_str()));
}

FloatArray copy_to_array(const float* data, const std::vector<py::ssize_t>& shape) {
  FloatArray out(shape);
  std::copy(data, data + out.size(), out.mutable_data());
  return out;
}

}  // namespace pbc_py
