// activation.h — scalar activation functions, the definition every SIMD version must reproduce.
//
// Everything here has internal linkage (an anonymous namespace): this header is included by files
// compiled with different ISA flags, and a shared weak symbol could hand AVX code to a baseline caller.
// erf/tanh/exp come from libm, so these are accurate to about 1 ulp in fp32.
#pragma once

#include <math.h>

#include "kernels/kernels.h"

namespace pbc {
namespace {

inline float activation_scalar(float x, Activation act) {
  switch (act) {
    case Activation::kIdentity: return x;
    case Activation::kGeluErf: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case Activation::kGeluTanh: {
      const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + tanhf(inner));
    }
    case Activation::kQuickGelu: return x / (1.0f + expf(-1.702f * x));
    case Activation::kRelu: return x > 0.0f ? x : 0.0f;
    case Activation::kSilu: return x / (1.0f + expf(-x));
    case Activation::kTanh: return tanhf(x);
  }
  return x;
}

}  // namespace
}  // namespace pbc
