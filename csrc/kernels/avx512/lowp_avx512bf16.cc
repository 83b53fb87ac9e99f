// lowp_avx512bf16.cc — gemm_bf16 on AVX512-BF16's vdpbf16ps (compiled with -mavx512bf16 on top of the
// AVX-512 level's flags; installed by dispatch.cc only when CPUID.(7,1):EAX[5] says the CPU has it).
//
// Both operands are bf16 here (A is rounded to nearest even while it is packed), products summed in
// fp32 by the instruction; the weights' layout is the widening levels' (simd/gemm_bf16.h), so a model
// packed by lowp_avx512.cc runs here unchanged. Validated on CPUs without AVX512-BF16 through SIMDe
// (tests/native/avx512_simde_test.cc).
#define PBC_LOWP_BF16_DOT 1
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_bf16.h"

namespace pbc {

void fill_lowp_avx512bf16(Kernels* k) {
  k->packed_bf16_bytes = packed_bf16_bytes_simd;
  k->pack_weight_bf16 = pack_weight_bf16_simd;
  k->gemm_bf16 = gemm_bf16_simd;
  k->bf16_rounds_activations = true;
  k->bf16_takes_fp32_packed = false;
  k->bf16_kernel = "avx512_bf16 (vdpbf16ps)";
}

}  // namespace pbc
