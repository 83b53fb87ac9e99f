// dense.h — the parameters a layer keeps: a linear layer packed for its kernels, a LayerNorm's vectors.
//
// A Dense is packed once, for one kernel level and one precision, and runs through that level's GEMM.
// The float32 form keeps its weight exactly (a permutation of the floats, read back by unpacked_weight);
// a low-precision one keeps only its packed bytes.
#pragma once

#include <vector>

#include "kernels/kernels.h"
#include "runtime/aligned.h"

namespace pbc {

// Every weight the core keeps as a plain vector (embeddings, biases, norms) starts on a cache line,
// like the packed matrices.
using WeightVector = std::vector<float, CacheLineAllocator<float>>;

// A linear layer y = act(x · Wᵀ + b), W (N, K) packed once for the kernels that will run it.
// `precision` picks the kernel table's gemm / gemm_bf16 / gemm_int8 and the matching packing (for
// the low precisions `packed` holds that entry's bytes; the fp32 weights are not kept).
struct Dense {
  int N = 0, K = 0;
  const Kernels* kernels = nullptr;  // the level whose layout `packed` is in
  Precision precision = Precision::kFloat32;
  AlignedBuffer packed;
  WeightVector bias;  // (N), empty for no bias

  Dense() = default;
  Dense(const Kernels& k, const float* weight, const float* bias_or_null, int N, int K,
        Precision precision = Precision::kFloat32);
  bool empty() const { return N == 0; }
  // out (M, N) with row stride ldo = act(x (M, K), row stride ldx, · Wᵀ + b) + residual
  void forward(float* out, int ldo, const float* x, int ldx, int M, Activation act,
               const float* residual = nullptr, int ldr = 0) const;
  // The same call as kernel arguments, for a caller that hands over packed operands
  // (GemmArgs::a_packed, c_packed), then runs it. Only layers that take_packed() take fp32 ones.
  GemmArgs args(float* out, int ldo, const float* x, int ldx, int M, Activation act,
                const float* residual = nullptr, int ldr = 0) const;
  void run(const GemmArgs& g) const;
  // fp32 layers, and bf16 layers of a level whose bf16 GEMM is the fp32 loop nest (Kernels::
  // bf16_takes_fp32_packed): they read and write the fp32 GEMM's packed operands.
  bool takes_packed() const {
    return precision == Precision::kFloat32 ||
           (precision == Precision::kBFloat16 && kernels->bf16_takes_fp32_packed);
  }
  // Whether this bf16 layer's level hands operands between bf16 GEMMs in its own layout
  // (Kernels::packed_a_bf16_floats: the AMX tiles).
  bool takes_packed_bf16() const {
    return precision == Precision::kBFloat16 && kernels->packed_a_bf16_floats != nullptr;
  }
  // The weight (N, K) as it was given, into w: exact for float32 layers (unpacked); a low-precision
  // layer no longer has it and throws std::logic_error.
  void unpacked_weight(float* w) const;
};

// A LayerNorm's parameters, (C) each. Families without a norm bias (ModernBERT's norm_bias=False) keep a
// bias of zeros: adding +0.0 leaves every value as it was, so one kernel serves both.
struct Norm {
  WeightVector weight, bias;
  bool empty() const { return weight.empty(); }
  // The kernel call normalising inp (N, C) into out (and `packed`, or null), C the norm's size.
  LayerNormArgs args(float* out, float* packed, const float* inp, int N, float eps) const;
};

}  // namespace pbc
