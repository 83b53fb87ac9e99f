// dense.cc — packing a linear layer for its level and precision, and running it through that GEMM.
#include "model/dense.h"

#include <stdexcept>

namespace pbc {

namespace {
size_t packed_floats(const Kernels& k, int N, int K, Precision p) {
  switch (p) {
    case Precision::kBFloat16: return (k.packed_bf16_bytes(N, K) + 3) / 4;
    case Precision::kInt8: return (k.packed_int8_bytes(N, K) + 3) / 4;
    default: return k.packed_weight_size(N, K);
  }
}
}  // namespace

LayerNormArgs Norm::args(float* out, float* packed, const float* inp, int N, float eps) const {
  LayerNormArgs ln;
  ln.out = out;
  ln.packed = packed;
  ln.inp = inp;
  ln.weight = weight.data();
  ln.bias = bias.data();
  ln.N = N;
  ln.C = static_cast<int>(weight.size());
  ln.eps = eps;
  return ln;
}

Dense::Dense(const Kernels& k, const float* weight, const float* bias_or_null, int n, int kdim, Precision p)
    : N(n), K(kdim), kernels(&k), precision(p), packed(aligned_floats(packed_floats(k, n, kdim, p))) {
  switch (p) {
    case Precision::kBFloat16: k.pack_weight_bf16(packed.get(), weight, N, K); break;
    case Precision::kInt8: k.pack_weight_int8(packed.get(), weight, N, K); break;
    default: k.pack_weight(packed.get(), weight, N, K);
  }
  if (bias_or_null) bias.assign(bias_or_null, bias_or_null + N);
}

GemmArgs Dense::args(float* out, int ldo, const float* x, int ldx, int M, Activation act, const float* residual,
                     int ldr) const {
  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.a = x;
  g.lda = ldx;
  g.b_packed = packed.get();
  g.bias = bias.empty() ? nullptr : bias.data();
  g.act = act;
  g.residual = residual;
  g.ldr = ldr;
  g.c = out;
  g.ldc = ldo;
  return g;
}

void Dense::run(const GemmArgs& args) const {
  if (args.M == 0) return;
  GemmArgs g = args;
  switch (precision) {
    case Precision::kBFloat16:
    case Precision::kInt8:
      if ((g.a_packed || g.c_packed) && !takes_packed() && !takes_packed_bf16()) {
        throw std::logic_error("packed operands are for fp32 layers and the bf16 layers of some levels");
      }
      g.b_lowp = packed.get();
      (precision == Precision::kBFloat16 ? kernels->gemm_bf16 : kernels->gemm_int8)(g);
      break;
    default: kernels->gemm(g);
  }
}

void Dense::unpacked_weight(float* w) const {
  if (precision != Precision::kFloat32) throw std::logic_error("a low-precision layer keeps no float32 weight");
  kernels->unpack_weight(w, packed.get(), N, K);
}

void Dense::forward(float* out, int ldo, const float* x, int ldx, int M, Activation act,
                    const float* residual, int ldr) const {
  run(args(out, ldo, x, ldx, M, act, residual, ldr));
}

}  // namespace pbc
