// vec_avx512.h — the vector vocabulary of simd/*.h for AVX-512 (F, DQ, BW, VL).
//
// Include only from a translation unit compiled with the AVX-512 flags. Same names and meaning as
// vec_avx2.h; tails use opmask registers instead of a mask vector.
#pragma once

#ifdef PBC_SIMDE_AVX512
// Test-only: tests/native/avx512_simde_test.cc runs this level on CPUs without AVX-512 through SIMDe's
// portable implementations of the same intrinsics.
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <math.h>
#include <stdint.h>
#include <simde/x86/avx512.h>
// The few intrinsics older SIMDe releases (0.7.x) lack, spelled out lane by lane.
namespace pbc {
namespace {
inline simde__m512i simde_fill_cvtps_epi32(simde__m512 a) {
  float f[16];
  int32_t r[16];
  simde_mm512_storeu_ps(f, a);
  for (int i = 0; i < 16; ++i) r[i] = static_cast<int32_t>(nearbyintf(f[i]));
  return simde_mm512_loadu_si512(r);
}
inline simde__m256 simde_fill_extractf32x8_ps(simde__m512 a, int hi) {
  return simde_mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(a), hi));
}
inline simde__m512 simde_fill_maskz_loadu_ps(uint16_t m, const float* p) {
  float f[16];
  for (int i = 0; i < 16; ++i) f[i] = (m >> i) & 1 ? p[i] : 0.0f;
  return simde_mm512_loadu_ps(f);
}
inline void simde_fill_mask_storeu_ps(float* p, uint16_t m, simde__m512 a) {
  float f[16];
  simde_mm512_storeu_ps(f, a);
  for (int i = 0; i < 16; ++i) {
    if ((m >> i) & 1) p[i] = f[i];
  }
}
}  // namespace
}  // namespace pbc
#define _mm512_cvtps_epi32 simde_fill_cvtps_epi32
#define _mm512_extractf32x8_ps simde_fill_extractf32x8_ps
#define _mm512_maskz_loadu_ps simde_fill_maskz_loadu_ps
#define _mm512_mask_storeu_ps simde_fill_mask_storeu_ps
#ifndef _mm512_shuffle_f32x4  // SIMDe 0.7.x has the operation but no native alias for it
#define _mm512_shuffle_f32x4(a, b, imm8) simde_mm512_shuffle_f32x4(a, b, imm8)
#endif
#else
#include <immintrin.h>
#endif

namespace pbc {
namespace {

using VF = __m512;
constexpr int kW = 16;

// 12×32 micro-tile: 12×2 accumulators + 2 B + 1 broadcast = 27 of 32 zmm. kKC·32 floats = 24 KB of B
// per micro-panel slice (L1 is 48 KB on the AVX-512 parts we target); the A block (132·192 floats =
// 99 KB) stays in L2 and, as on AVX2, covers a 128-token sequence in one block.
constexpr int kMR = 12;
constexpr int kMRSmall = 8;  // the tile for a block's last rows (simd/pack.h RowTiles): 16 FMA chains
constexpr int kKC = 192;
constexpr int kMCMax = 132;

inline VF v_zero() { return _mm512_setzero_ps(); }
inline VF v_set1(float x) { return _mm512_set1_ps(x); }
inline VF v_load(const float* p) { return _mm512_loadu_ps(p); }
inline void v_store(float* p, VF v) { _mm512_storeu_ps(p, v); }
inline VF v_add(VF a, VF b) { return _mm512_add_ps(a, b); }
inline VF v_sub(VF a, VF b) { return _mm512_sub_ps(a, b); }
inline VF v_mul(VF a, VF b) { return _mm512_mul_ps(a, b); }
inline VF v_div(VF a, VF b) { return _mm512_div_ps(a, b); }
inline VF v_fmadd(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
inline VF v_fnmadd(VF a, VF b, VF c) { return _mm512_fnmadd_ps(a, b, c); }
inline VF v_max(VF a, VF b) { return _mm512_max_ps(a, b); }
inline VF v_min(VF a, VF b) { return _mm512_min_ps(a, b); }
inline VF v_and(VF a, VF b) { return _mm512_and_ps(a, b); }
inline VF v_or(VF a, VF b) { return _mm512_or_ps(a, b); }
inline VF v_andnot(VF a, VF b) { return _mm512_andnot_ps(a, b); }
inline VF v_round(VF a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline VF v_pow2i(VF n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
inline VF v_select_lt(VF a, VF b, VF t, VF f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t); }
inline unsigned v_mask_ge(VF a, VF b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
inline unsigned v_mask_nan(VF a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
// dst[0 .. popcount(mask)) ← base + l for each lane l set in mask, in order; writes up to kW ints (the
// caller leaves that much room) and returns the count. (Compressed in a register, then stored whole:
// vpcompressd to memory is slow on Zen 4.)
inline int v_store_lane_indices(int* dst, unsigned mask, int base) {
  const __m512i lanes = _mm512_add_epi32(_mm512_set1_epi32(base),
                                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  _mm512_storeu_si512(dst, _mm512_maskz_compress_epi32(static_cast<__mmask16>(mask), lanes));
  return __builtin_popcount(mask);
}

inline __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline VF v_load_tail(const float* p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
inline void v_store_tail(float* p, VF v, int n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }

// r[0..kW) in place from rows to columns (the AVX2 level's v_transpose, one 128-bit lane step deeper).
inline void v_transpose(VF r[kW]) {
  VF t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // per 128-bit lane L: column 4L..4L+3 of rows i..i+3
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int h = 0; h < 16; h += 8) {  // lanes: column j, j+8 of rows h..h+3, then of rows h+4..h+7
    for (int j = 0; j < 4; ++j) {
      t[h + j] = _mm512_shuffle_f32x4(u[h + j], u[h + j + 4], 0x88);
      t[h + j + 4] = _mm512_shuffle_f32x4(u[h + j], u[h + j + 4], 0xDD);
    }
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
  }
}

// Fixed-order pairwise reductions (the same tree shape as the AVX2 level's, one level deeper).
inline float v_reduce_add(VF v) {
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float v_reduce_max(VF v) {
  __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float v_reduce_min(VF v) {
  __m256 h = _mm256_min_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace pbc
