// lowp_avx512vnni.cc — gemm_int8 on AVX512-VNNI's vpdpbusd (compiled with -mavx512vnni on top of the
// AVX-512 level's flags; installed by dispatch.cc only when CPUID.(7,0):ECX[11] says the CPU has it).
//
// One instruction per 64 multiply-adds into int32, no int16 intermediate; the same integers as the
// other levels (pair-safe weights, quantize.h); the packed layout is lowp_avx512.cc's.
// Validated on CPUs without VNNI through SIMDe (tests/native/avx512_simde_test.cc).
#define PBC_LOWP_VNNI 1
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_bf16.h"
#include "kernels/simd/gemm_int8.h"

namespace pbc {

void fill_lowp_avx512vnni(Kernels* k) {
  k->packed_int8_bytes = packed_int8_bytes_simd;
  k->pack_weight_int8 = pack_weight_int8_simd;
  k->gemm_int8 = gemm_int8_simd;
  k->quantize_act_row = quantize_act_row_simd;
  k->int8_kernel = "avx512_vnni (vpdpbusd)";
}

}  // namespace pbc
