// amx/tile.h — the AMX tile vocabulary of amx/lowp_amx.cc: the tile configuration and the seven tile
// operations the kernels use, under names of our own.
//
// Natively these are GCC/Clang's <immintrin.h> intrinsics (the TU is compiled with -mamx-tile
// -mamx-bf16 -mamx-int8). A test build that defines PBC_AMX_TILE_EMULATED before including the kernel
// file supplies pbc_emu_* functions with the same meaning in plain C++ instead
// (tests/native/amx_tile_emulate.h), so that the kernel bodies run on CPUs without AMX. Tile numbers
// are literal constants: the native intrinsics paste them into the instruction.
#pragma once

#include <stdint.h>
#include <string.h>

#ifndef PBC_AMX_TILE_EMULATED
#include <immintrin.h>
// GCC's ldtilecfg declares only 8 bytes of the configuration as read, and tileloadd no memory at all:
// a compiler barrier (naming the configuration) before ldtilecfg keeps every store the unit made before
// it, the configuration's included, ahead of the tile instructions.
#define tile_config_load(cfg)                    \
  do {                                           \
    __asm__ volatile("" ::"r"(cfg) : "memory"); \
    _tile_loadconfig(cfg);                       \
  } while (0)
#define tile_release() _tile_release()
#define tile_zero(t) _tile_zero(t)
#define tile_load(t, base, stride) _tile_loadd(t, base, stride)
#define tile_store(t, base, stride) _tile_stored(t, base, stride)
#define tile_dp_bf16(c, a, b) _tile_dpbf16ps(c, a, b)
#define tile_dp_u8s8(c, a, b) _tile_dpbusd(c, a, b)
#else
#define tile_config_load(cfg) pbc_emu_tile_loadconfig(cfg)
#define tile_release() pbc_emu_tile_release()
#define tile_zero(t) pbc_emu_tile_zero(t)
#define tile_load(t, base, stride) pbc_emu_tile_loadd(t, base, stride)
#define tile_store(t, base, stride) pbc_emu_tile_stored(t, base, stride)
#define tile_dp_bf16(c, a, b) pbc_emu_tile_dpbf16ps(c, a, b)
#define tile_dp_u8s8(c, a, b) pbc_emu_tile_dpbusd(c, a, b)
#endif

namespace pbc {
namespace {

// The 64-byte operand of ldtilecfg (palette 1: 8 tiles of up to 16 rows × 64 bytes).
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "ldtilecfg reads 64 bytes");

// The one configuration both GEMMs use: tiles 0-3 the C accumulators (rows × 16 fp32 / int32), 4-5 the
// A tiles (rows × 64 bytes: 32 bf16 or 64 u8 of K), 6-7 the B tiles (16 rows of 64 bytes: 16 pairs or
// quads of K for 16 columns). rows = 16, or M when the whole GEMM has fewer rows (M = 1 then costs one
// row of work, not sixteen).
inline void tile_configure(int rows) {
  TileConfig cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = static_cast<uint8_t>(t >= 6 ? 16 : rows);
  }
  tile_config_load(&cfg);
}

}  // namespace
}  // namespace pbc
