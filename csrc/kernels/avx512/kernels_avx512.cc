// kernels_avx512.cc — the AVX-512 level (F, BW, DQ, VL; compiled with those flags only here; chosen
// only when CPUID and XCR0 say the CPU and OS support it).
//
// Holds every kernel of the table: the shared bodies in ../simd/ instantiated over 512-bit registers
// (vec_avx512.h: 16 lanes, opmask tails, a 12×32 GEMM micro-tile, K blocks of 192). Its packed weight
// layout (32-column panels) differs from the AVX2 level's, so a model is packed for one level.
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the line above defines)
#include "kernels/simd/math.h"
#include "kernels/simd/gemm.h"
#include "kernels/simd/attention.h"
#include "kernels/simd/layernorm.h"

namespace pbc {

void fill_kernels_avx512(Kernels* k) {
  k->name = "avx512";
  k->isa = Isa::kAvx512;
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
