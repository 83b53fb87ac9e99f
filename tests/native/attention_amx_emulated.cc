// attention_amx_emulated.cc — csrc/kernels/amx/attention_amx.cc compiled against the plain-C++ tile
// emulation (amx_tile_emulate.h) and SIMDe's AVX-512 (test only; see amx_emulate_test.cc).
#define PBC_SIMDE_AVX512 1
#include "amx_tile_emulate.h"
#include "kernels/amx/attention_amx.cc"
