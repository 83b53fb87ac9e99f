// simd/math.h — exp, erf, tanh and the activations over one register, written once in the vocabulary
// of vec_<isa>.h (include that first).
//
// Accuracy (fp32, measured against libm over [-20, 20] by tests/test_kernels.py through the GEMM
// epilogue): exp ≈ 2 ulp (Cephes expf polynomial after n·ln2 range reduction); erf absolute error
// < 5e-7 (Abramowitz–Stegun 7.1.26, the form PyTorch's vectorised erf uses); tanh absolute error
// < 3e-7 (Cephes odd polynomial below 0.625, 1 − 2/(e^{2x}+1) above). The parity bound of the whole
// model is 1e-4 absolute, so these are two to three orders of magnitude inside it.
#pragma once

#include "kernels/kernels.h"

namespace pbc {
namespace {

inline VF v_exp(VF x) {
  // Clamp to where e^x is a normal float; below, the result is ~1e-38 instead of 0, which no softmax
  // or sigmoid here can tell apart.
  x = v_min(v_max(x, v_set1(-87.33654f)), v_set1(88.3762626647949f));
  const VF n = v_round(v_mul(x, v_set1(1.44269504088896341f)));
  // r = x − n·ln2, with ln2 split in two so the product is exact to fp32.
  VF r = v_fnmadd(n, v_set1(0.693359375f), x);
  r = v_fnmadd(n, v_set1(-2.12194440e-4f), r);
  VF p = v_set1(1.9875691500e-4f);
  p = v_fmadd(p, r, v_set1(1.3981999507e-3f));
  p = v_fmadd(p, r, v_set1(8.3334519073e-3f));
  p = v_fmadd(p, r, v_set1(4.1665795894e-2f));
  p = v_fmadd(p, r, v_set1(1.6666665459e-1f));
  p = v_fmadd(p, r, v_set1(5.0000001201e-1f));
  p = v_fmadd(p, v_mul(r, r), v_add(r, v_set1(1.0f)));
  return v_mul(p, v_pow2i(n));
}

inline VF v_sign_bits(VF x) { return v_and(x, v_set1(-0.0f)); }
inline VF v_abs(VF x) { return v_andnot(v_set1(-0.0f), x); }

inline VF v_erf(VF x) {
  const VF ax = v_abs(x);
  const VF t = v_div(v_set1(1.0f), v_fmadd(v_set1(0.3275911f), ax, v_set1(1.0f)));
  VF p = v_set1(1.061405429f);
  p = v_fmadd(p, t, v_set1(-1.453152027f));
  p = v_fmadd(p, t, v_set1(1.421413741f));
  p = v_fmadd(p, t, v_set1(-0.284496736f));
  p = v_fmadd(p, t, v_set1(0.254829592f));
  p = v_mul(p, t);
  const VF e = v_exp(v_mul(v_sub(v_zero(), ax), ax));
  const VF y = v_fnmadd(p, e, v_set1(1.0f));  // erf(|x|)
  return v_or(y, v_sign_bits(x));
}

inline VF v_tanh(VF x) {
  const VF ax = v_min(v_abs(x), v_set1(9.0f));  // tanh(9) rounds to 1 in fp32
  // Small |x|: x + x³·P(x²) avoids the cancellation of 1 − 2/(e^{2x}+1).
  const VF z = v_mul(ax, ax);
  VF p = v_set1(-5.70498872745e-3f);
  p = v_fmadd(p, z, v_set1(2.06390887954e-2f));
  p = v_fmadd(p, z, v_set1(-5.37397155531e-2f));
  p = v_fmadd(p, z, v_set1(1.33314422036e-1f));
  p = v_fmadd(p, z, v_set1(-3.33332819422e-1f));
  const VF small = v_fmadd(v_mul(p, z), ax, ax);
  const VF e2 = v_exp(v_add(ax, ax));
  const VF large = v_sub(v_set1(1.0f), v_div(v_set1(2.0f), v_add(e2, v_set1(1.0f))));
  const VF y = v_select_lt(ax, v_set1(0.625f), small, large);
  return v_or(y, v_sign_bits(x));
}

inline VF v_sigmoid(VF x) { return v_div(v_set1(1.0f), v_add(v_set1(1.0f), v_exp(v_sub(v_zero(), x)))); }

// The vector twin of activation_scalar (activation.h).
inline VF v_activation(VF x, Activation act) {
  switch (act) {
    case Activation::kIdentity: return x;
    case Activation::kGeluErf: {
      const VF half_x = v_mul(v_set1(0.5f), x);
      return v_fmadd(half_x, v_erf(v_mul(x, v_set1(0.70710678118654752f))), half_x);
    }
    case Activation::kGeluTanh: {
      const VF x3 = v_mul(v_mul(x, x), x);
      const VF inner = v_mul(v_set1(0.79788456080286536f), v_fmadd(v_set1(0.044715f), x3, x));
      const VF half_x = v_mul(v_set1(0.5f), x);
      return v_fmadd(half_x, v_tanh(inner), half_x);
    }
    case Activation::kQuickGelu: return v_mul(x, v_sigmoid(v_mul(v_set1(1.702f), x)));
    case Activation::kRelu: return v_max(x, v_zero());
    case Activation::kSilu: return v_mul(x, v_sigmoid(x));
    case Activation::kTanh: return v_tanh(x);
  }
  return x;
}

}  // namespace
}  // namespace pbc
