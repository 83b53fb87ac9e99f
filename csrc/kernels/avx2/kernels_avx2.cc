// kernels_avx2.cc — the AVX2+FMA level (compiled with -mavx2 -mfma; chosen only when CPUID and XCR0
// say the CPU and OS support it).
//
// Holds every kernel of the table: the shared bodies in ../simd/ instantiated over 256-bit registers
// (vec_avx2.h: 8 lanes, a 6×16 GEMM micro-tile, K blocks of 256). See each body for its numerics;
// all agree with the scalar reference within the tolerances of tests/test_kernels.py.
#include "kernels/simd/vec_avx2.h"
// (the order matters: the bodies are written in the vocabulary the line above defines)
#include "kernels/simd/math.h"
#include "kernels/simd/gemm.h"
#include "kernels/simd/attention.h"
#include "kernels/simd/layernorm.h"

namespace pbc {

void fill_kernels_avx2(Kernels* k) {
  k->name = "avx2";
  k->isa = Isa::kAvx2;
  k->packed_weight_size = packed_weight_size_simd;
  k->pack_weight = pack_weight_simd;
  k->unpack_weight = unpack_weight_simd;
  k->gemm = gemm_simd;
  k->packed_a_floats = packed_a_floats_simd;
  k->attention = attention_simd;
  k->attention_bf16 = attention_simd;
  k->attention_scratch_floats = attention_scratch_floats_simd;
  k->layernorm = layernorm_simd;
}

}  // namespace pbc
