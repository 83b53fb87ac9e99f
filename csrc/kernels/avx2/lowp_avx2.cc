// lowp_avx2.cc — the low-precision GEMMs of the AVX2 level (compiled with -mavx2 -mfma -mf16c).
//
// bf16: weights bf16 in vdpbf16ps' pair layout, widened exactly (shift / mask) in the fp32 GEMM's
// micro-tile and multiplied with fp32 activations in fp32 FMAs: fp32's speed with half its weight
// memory (AVX2 has no bf16 arithmetic). int8: vpmaddubsw + vpmaddwd on u8 activations and pair-safe
// s8 weights, exact int32 sums, 32 multiply-adds per three instructions against eight per FMA.
// Bodies: ../simd/gemm_bf16.h, gemm_int8.h; formats: ../quantize.h.
#include "kernels/simd/vec_avx2.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx2.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_bf16.h"
#include "kernels/simd/gemm_int8.h"

namespace pbc {

void fill_lowp_avx2(Kernels* k) {
  k->packed_bf16_bytes = packed_bf16_bytes_simd;
  k->pack_weight_bf16 = pack_weight_bf16_simd;
  k->gemm_bf16 = gemm_bf16_simd;
  k->bf16_rounds_activations = false;
  k->bf16_takes_fp32_packed = true;
  k->bf16_kernel = "avx2 (bf16 weights widened, fp32 FMA)";
  k->packed_int8_bytes = packed_int8_bytes_simd;
  k->pack_weight_int8 = pack_weight_int8_simd;
  k->gemm_int8 = gemm_int8_simd;
  k->quantize_act_row = quantize_act_row_simd;
  k->int8_kernel = "avx2 (vpmaddubsw, pair-safe weights)";
}

}  // namespace pbc
