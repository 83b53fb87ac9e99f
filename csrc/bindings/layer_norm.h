// layer_norm.h — LayerNorm on a numpy array, shared by _core.layer_norm (the heads) and the packed
// variant in _core.testing.
#pragma once

#include "bindings/arrays.h"

namespace pbc_py {

// LayerNorm over the last dimension of a 2-D float32 array on level `k` (shapes checked, GIL released
// around the kernel), into a new array; with `packed`, also into a new 1-D array in the level's packed
// layout of an (N, C) GEMM operand (LayerNormArgs::packed).
FloatArray run_layer_norm(const pbc::Kernels& k, const FloatArray& x, const FloatArray& weight,
                          const FloatArray& bias, float eps, FloatArray* packed = nullptr);

}  // namespace pbc_py
