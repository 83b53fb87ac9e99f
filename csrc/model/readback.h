// readback.h — an encoder's weights back by the builder's names (model/builder.h), for state_dict()
// and the module tree: a float32 model keeps its weights only in the core, packed.
//
// Names: "word", "position", "token_type", "norm.{weight,bias}", "projection.{weight,bias}",
// "pooler.{weight,bias}", "final_norm.{weight,bias}" and "layers.<s>.<role>.{weight,bias}" for weight set s,
// roles as the builder's
// (q, k and v are rows of the fused QKV). Float32 matrices are unpacked exactly; a low-precision
// matrix is not held (std::invalid_argument). Unknown names raise std::invalid_argument naming them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/encoder.h"

namespace pbc {

std::vector<int64_t> weight_shape(const Encoder& enc, const std::string& name);
// Writes the weight into out (as many floats as its shape holds).
void read_weight(const Encoder& enc, const std::string& name, float* out);
// Whether read_weight(name) gives the weight exactly as it was given (every weight but the matrices
// of low-precision layers).
bool holds_exactly(const Encoder& enc, const std::string& name);

}  // namespace pbc
