// simd/math.h — exp, erf, tanh and the activations over one register, written once in the vocabulary
// of vec_<isa>.h (include that first).
//
// Accuracy (fp32, against libm): exp ≈ 2 ulp (Cephes expf polynomial after n·ln2 range reduction),
// and the softmax's 2^t (t ≤ 0) under 2 ulp;
// erf absolute error < 4e-7 (a rational fit, below); tanh absolute error < 3e-7 (Cephes odd
// polynomial below 0.625, 1 − 2/(e^{2x}+1) above). tests/test_kernels.py checks every activation
// through the GEMM epilogue over [-20, 20] to 1e-6 of max(1, |value|); the parity bound of the whole
// model is 1e-4 absolute, two orders of magnitude looser.
#pragma once

#include "kernels/kernels.h"

namespace pbc {
namespace {

// c[0]·x^(N−1) + c[1]·x^(N−2) + … + c[N−1] by Horner's rule, one FMA per coefficient after the first.
template <int N>
inline VF v_horner(VF x, const float (&c)[N]) {
  VF p = v_set1(c[0]);
#pragma GCC unroll 16
  for (int i = 1; i < N; ++i) p = v_fmadd(p, x, v_set1(c[i]));
  return p;
}

inline VF v_exp(VF x) {
  // Clamp to where e^x is a normal float; below, the result is ~1e-38 instead of 0, which no softmax
  // or sigmoid here can tell apart.
  x = v_min(v_max(x, v_set1(-87.33654f)), v_set1(88.3762626647949f));
  const VF n = v_round(v_mul(x, v_set1(1.44269504088896341f)));
  // r = x − n·ln2, with ln2 split in two so the product is exact to fp32.
  VF r = v_fnmadd(n, v_set1(0.693359375f), x);
  r = v_fnmadd(n, v_set1(-2.12194440e-4f), r);
  constexpr float c[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                         1.6666665459e-1f, 5.0000001201e-1f};
  const VF p = v_fmadd(v_horner(r, c), v_mul(r, r), v_add(r, v_set1(1.0f)));
  return v_mul(p, v_pow2i(n));
}

// 2^t for t ≤ 0: the softmax's exponent once the row maximum is subtracted, in base 2 so that the
// scale, the change of base and the subtraction are one FMA (attention.h). Below −126 the result
// stays 2^−126 (~1e-38) instead of going to 0. 2^f on [−½, ½] is a degree-6 polynomial fitted for
// this file (Lawson-weighted least squares on the relative error: 2.0e-9 in exact arithmetic, under
// 2 ulp evaluated in fp32). 14 operations to v_exp's 20: no upper clamp, no ln2 range reduction.
inline VF v_exp2_nonpositive(VF t) {
  t = v_max(t, v_set1(-126.0f));
  const VF n = v_round(t);
  const VF f = v_sub(t, n);
  constexpr float c[] = {1.535336196e-4f, 1.339887502e-3f, 9.618436918e-3f, 5.550332367e-2f,
                         2.402264774e-1f, 6.931471825e-1f, 1.0f};
  return v_mul(v_horner(f, c), v_pow2i(n));
}

inline VF v_sign_bits(VF x) { return v_and(x, v_set1(-0.0f)); }
inline VF v_abs(VF x) { return v_andnot(v_set1(-0.0f), x); }

// erf(x) = x·P(x²)/Q(x²) on |x| < 3.92, ±1 beyond (erf rounds to 1 in fp32 there). P has degree 5
// and Q degree 5 in x², fitted for this file by Lawson-weighted least squares to erf on [0, 3.92]
// (1.6e-8 in exact arithmetic; the fp32 evaluation adds a few ulp). One division and ten FMAs: the
// Abramowitz–Stegun form (a division, a polynomial and an exp) cost twice as much per register, and
// the FFN's GELU epilogue ran at about that cost.
inline VF v_erf(VF x) {
  const VF bound = v_set1(3.92f);
  const VF xc = v_min(v_max(x, v_sub(v_zero(), bound)), bound);
  const VF s = v_mul(xc, xc);
  constexpr float cp[] = {2.03444618e-06f, 2.87450848e-04f, 3.86811029e-03f, 5.30597647e-02f, 1.92762206e-01f,
                          1.12837902e+00f};
  constexpr float cq[] = {3.80661368e-05f, 1.18801755e-03f, 1.51718930e-02f, 1.15083420e-01f, 5.04162731e-01f,
                          1.0f};
  const VF r = v_div(v_mul(xc, v_horner(s, cp)), v_horner(s, cq));
  return v_select_lt(v_abs(x), bound, r, v_or(v_set1(1.0f), v_sign_bits(x)));
}

inline VF v_tanh(VF x) {
  const VF ax = v_min(v_abs(x), v_set1(9.0f));  // tanh(9) rounds to 1 in fp32
  // Small |x|: x + x³·P(x²) avoids the cancellation of 1 − 2/(e^{2x}+1).
  const VF z = v_mul(ax, ax);
  constexpr float c[] = {-5.70498872745e-3f, 2.06390887954e-2f, -5.37397155531e-2f, 1.33314422036e-1f,
                         -3.33332819422e-1f};
  const VF small = v_fmadd(v_mul(v_horner(z, c), z), ax, ax);
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
