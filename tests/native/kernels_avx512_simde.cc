// kernels_avx512_simde.cc — the AVX-512 kernel level compiled against SIMDe (test only; see
// avx512_simde_test.cc).
#define PBC_SIMDE_AVX512 1
#include "kernels/avx512/kernels_avx512.cc"
