// lowp_avx512.cc — the low-precision GEMMs of the AVX-512 level (F, BW, DQ, VL), for CPUs with neither
// AVX512-BF16 nor AVX512-VNNI: the AVX2 level's method on 512-bit registers (bf16 widened, int8 through
// vpmaddubsw on pair-safe weights). lowp_avx512bf16.cc and lowp_avx512vnni.cc override the entries
// when CPUID reports those extensions. Bodies: ../simd/gemm_bf16.h, gemm_int8.h.
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_bf16.h"
#include "kernels/simd/gemm_int8.h"

namespace pbc {

void fill_lowp_avx512(Kernels* k) {
  k->packed_bf16_bytes = packed_bf16_bytes_simd;
  k->pack_weight_bf16 = pack_weight_bf16_simd;
  k->gemm_bf16 = gemm_bf16_simd;
  k->bf16_rounds_activations = false;
  k->bf16_takes_fp32_packed = true;
  k->bf16_kernel = "avx512 (bf16 weights widened, fp32 FMA)";
  k->packed_int8_bytes = packed_int8_bytes_simd;
  k->pack_weight_int8 = pack_weight_int8_simd;
  k->gemm_int8 = gemm_int8_simd;
  k->quantize_act_row = quantize_act_row_simd;
  k->int8_kernel = "avx512 (vpmaddubsw, pair-safe weights)";
}

}  // namespace pbc
