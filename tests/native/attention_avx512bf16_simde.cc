// attention_avx512bf16_simde.cc — csrc/kernels/avx512/attention_avx512bf16.cc compiled against SIMDe (test
// only; see avx512_simde_test.cc).
#define PBC_SIMDE_AVX512 1
#include "kernels/avx512/attention_avx512bf16.cc"
