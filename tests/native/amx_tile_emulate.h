// amx_tile_emulate.h — AMX's tile operations in plain C++ (test only), so that tests/native/amx_emulate_test.cc
// runs the AMX kernel bodies (csrc/kernels/amx/lowp_amx.cc) on CPUs without AMX.
//
// Semantics from Intel's SDM pseudo-code, palette 1 (8 tiles of at most 16 rows × 64 bytes):
//   ldtilecfg / tilerelease: per thread, like the hardware's tile state (thread_local here); any tile
//     operation on a thread that has not configured its tiles aborts (the hardware raises #UD);
//   tileloadd / tilestored: rows × colsb bytes with a byte stride; a load zeroes the rest of the tile;
//   tilezero;
//   tdpbf16ps: C.fp32[m][n] += A.bf16[m][2k]·B.bf16[k][2n], then += A.bf16[m][2k+1]·B.bf16[k][2n+1], k in
//     order, each an fp32 add rounded to nearest even; bf16 denormal inputs read as zero and denormal
//     results are flushed (DAZ, FTZ, as the instruction does regardless of MXCSR). That is the SDM's
//     pseudo-code, not the hardware's rounding: measured on an Emerald Rapids Xeon, ~1/3 of the elements
//     differ from it in the last bits (the hardware's summation order and internal precision are not
//     documented), so bf16 results are compared with tolerances, never bits (amx_emulate_test checks
//     the emulation against the hardware where there is AMX);
//   tdpbusd: C.s32[m][n] += Σ_{j<4} A.u8[m][4k+j] · B.s8[k][4n+j], wrapping (as the hardware) but computed
//     in uint32 so that no overflow is undefined behaviour here; bit for bit the hardware's.
// Shapes are checked as the hardware checks them (A's rows = C's rows, A's colsb / 4 = B's rows, B's and
// C's colsb equal): a mismatch aborts with a message.
#pragma once

#include <math.h>
#include <stdint.h>

#include <atomic>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PBC_AMX_TILE_EMULATED 1

struct PbcEmuTiles {
  bool configured = false;
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  alignas(64) uint8_t data[8][16 * 64] = {};
  long configs = 0, releases = 0;  // counted per thread, for the test's checks
};
inline thread_local PbcEmuTiles pbc_emu_tiles;
// Threads whose tiles are configured right now, over all threads: 0 whenever no kernel is running if
// every thread that configured its tiles also released them.
inline std::atomic<int> pbc_emu_threads_holding_tiles{0};

[[noreturn]] inline void pbc_emu_fail(const char* what) {
  fprintf(stderr, "AMX emulation: %s\n", what);
  abort();
}

inline void pbc_emu_need(int t) {
  if (!pbc_emu_tiles.configured) pbc_emu_fail("tile operation before ldtilecfg on this thread (#UD)");
  if (t < 0 || t >= 8 || pbc_emu_tiles.rows[t] == 0) pbc_emu_fail("tile not configured");
}

inline void pbc_emu_tile_loadconfig(const void* cfg) {
  const uint8_t* c = static_cast<const uint8_t*>(cfg);
  if (c[0] != 1) pbc_emu_fail("palette must be 1");
  PbcEmuTiles& s = pbc_emu_tiles;
  for (int t = 0; t < 8; ++t) {
    uint16_t cb;
    memcpy(&cb, c + 16 + 2 * t, 2);
    s.colsb[t] = cb;
    s.rows[t] = c[48 + t];
    if (cb > 64 || s.rows[t] > 16 || (cb == 0) != (s.rows[t] == 0)) pbc_emu_fail("bad tile shape in ldtilecfg");
  }
  memset(s.data, 0, sizeof(s.data));
  if (!s.configured) ++pbc_emu_threads_holding_tiles;
  s.configured = true;
  ++s.configs;
}

inline void pbc_emu_tile_release() {
  PbcEmuTiles& s = pbc_emu_tiles;
  if (s.configured) --pbc_emu_threads_holding_tiles;
  s.configured = false;
  memset(s.rows, 0, sizeof(s.rows));
  memset(s.colsb, 0, sizeof(s.colsb));
  memset(s.data, 0, sizeof(s.data));
  ++s.releases;
}

inline void pbc_emu_tile_zero(int t) {
  pbc_emu_need(t);
  memset(pbc_emu_tiles.data[t], 0, 16 * 64);
}

inline void pbc_emu_tile_loadd(int t, const void* base, long stride) {
  pbc_emu_need(t);
  PbcEmuTiles& s = pbc_emu_tiles;
  memset(s.data[t], 0, 16 * 64);
  for (int r = 0; r < s.rows[t]; ++r) memcpy(s.data[t] + 64 * r, static_cast<const uint8_t*>(base) + r * stride, s.colsb[t]);
}

inline void pbc_emu_tile_stored(int t, void* base, long stride) {
  pbc_emu_need(t);
  PbcEmuTiles& s = pbc_emu_tiles;
  for (int r = 0; r < s.rows[t]; ++r) memcpy(static_cast<uint8_t*>(base) + r * stride, s.data[t] + 64 * r, s.colsb[t]);
}

inline void pbc_emu_check_dp(int c, int a, int b) {
  pbc_emu_need(c);
  pbc_emu_need(a);
  pbc_emu_need(b);
  const PbcEmuTiles& s = pbc_emu_tiles;
  if (s.rows[a] != s.rows[c] || s.colsb[a] / 4 != s.rows[b] || s.colsb[b] != s.colsb[c] || s.colsb[a] % 4 != 0) {
    pbc_emu_fail("tile shapes do not match for a dot product");
  }
  if (c == a || c == b || a == b) pbc_emu_fail("tile operands must be distinct");
}

inline float pbc_emu_bf16(const uint8_t* p) {  // DAZ: a denormal bf16 reads as (signed) zero
  uint16_t h;
  memcpy(&h, p, 2);
  if ((h & 0x7f80u) == 0) h &= 0x8000u;
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

inline float pbc_emu_ftz(float x) {
  return (x != 0.0f && fabsf(x) < 1.17549435e-38f) ? copysignf(0.0f, x) : x;
}

inline void pbc_emu_tile_dpbf16ps(int c, int a, int b) {
  pbc_emu_check_dp(c, a, b);
  PbcEmuTiles& s = pbc_emu_tiles;
  const int M = s.rows[c], N = s.colsb[c] / 4, K = s.colsb[a] / 4;
  for (int m = 0; m < M; ++m) {
    for (int k = 0; k < K; ++k) {
      for (int n = 0; n < N; ++n) {
        float acc;
        memcpy(&acc, s.data[c] + 64 * m + 4 * n, 4);
        for (int j = 0; j < 2; ++j) {
          const float x = pbc_emu_bf16(s.data[a] + 64 * m + 4 * k + 2 * j);
          const float y = pbc_emu_bf16(s.data[b] + 64 * k + 4 * n + 2 * j);
          acc = pbc_emu_ftz(acc + x * y);  // the product of two bf16 is exact in fp32
        }
        memcpy(s.data[c] + 64 * m + 4 * n, &acc, 4);
      }
    }
  }
}

inline void pbc_emu_tile_dpbusd(int c, int a, int b) {
  pbc_emu_check_dp(c, a, b);
  PbcEmuTiles& s = pbc_emu_tiles;
  const int M = s.rows[c], N = s.colsb[c] / 4, K = s.colsb[a] / 4;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      uint32_t acc;
      memcpy(&acc, s.data[c] + 64 * m + 4 * n, 4);
      for (int k = 0; k < K; ++k) {
        for (int j = 0; j < 4; ++j) {
          const int32_t x = s.data[a][64 * m + 4 * k + j];
          const int32_t y = static_cast<int8_t>(s.data[b][64 * k + 4 * n + j]);
          acc += static_cast<uint32_t>(x * y);
        }
      }
      memcpy(s.data[c] + 64 * m + 4 * n, &acc, 4);
    }
  }
}
