// vec_lowp_avx512.h — the integer and bf16 vocabulary of simd/gemm_bf16.h and simd/gemm_int8.h,
// AVX-512 (F, BW): same names and meaning as vec_lowp_avx2.h.
//
// Include after vec_avx512.h. Two optional instruction sets, each only in its own translation unit
// with its own flag: PBC_LOWP_VNNI (-mavx512vnni) makes vi_dot_u8s8 one vpdpbusd; PBC_LOWP_BF16_DOT
// (-mavx512bf16) adds v_dot_bf16 (vdpbf16ps), used by gemm_bf16.h instead of widening.
#pragma once

#include <stdint.h>
#include <string.h>

#include "kernels/quantize.h"

namespace pbc {
namespace {

using VI = __m512i;

constexpr int kMRBf16 = 12;  // AVX512-BF16's own tiles (the widening level runs bf16 in the fp32 ones)
constexpr int kMRInt8 = 8;

inline VI vi_zero() { return _mm512_setzero_si512(); }
inline VI vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
inline VI vi_load(const void* p) { return _mm512_loadu_si512(p); }

#ifdef PBC_SIMDE_AVX512
// SIMDe 0.7.4's native alias of _mm512_madd_epi16 is declared with the wrong number of arguments, and
// it has no _mm512_cvtepi32_ps: spelled out here.
inline VI vi_madd_epi16(VI a, VI b) { return simde_mm512_madd_epi16(a, b); }
inline VF vi_cvt_ps(VI a) {
  int32_t i[16];
  float f[16];
  _mm512_storeu_si512(i, a);
  for (int l = 0; l < 16; ++l) f[l] = static_cast<float>(i[l]);
  return _mm512_loadu_ps(f);
}
#else
inline VI vi_madd_epi16(VI a, VI b) { return _mm512_madd_epi16(a, b); }
inline VF vi_cvt_ps(VI a) { return _mm512_cvtepi32_ps(a); }
#endif
inline VF vi_to_float(VI a) { return vi_cvt_ps(a); }

#if defined(PBC_LOWP_VNNI) && !defined(PBC_SIMDE_AVX512)
// One vpdpbusd, accumulating in place. Written in asm because GCC 12 does not keep the intrinsic's
// accumulator in its register: in the int8 micro-kernel it copied every accumulator to another
// register and back around each vpdpbusd (~30 extra moves and two spills per 16 of them): the int8
// GEMM ran at 65–77% of its speed with this form (bench_core, 1 thread, bert-base's shapes).
inline VI vi_dot_u8s8(VI acc, VI a, VI b) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}
#elif defined(PBC_LOWP_VNNI)
inline VI vi_dot_u8s8(VI acc, VI a, VI b) { return _mm512_dpbusd_epi32(acc, a, b); }
#else
// Exact for pair-safe weights (see vec_lowp_avx2.h).
inline VI vi_dot_u8s8(VI acc, VI a, VI b) {
  return _mm512_add_epi32(acc, vi_madd_epi16(_mm512_maddubs_epi16(a, b), _mm512_set1_epi16(1)));
}
#endif

#ifdef PBC_SIMDE_AVX512
inline VF v_load_bf16(const uint16_t* p) {
  float f[16];
  for (int l = 0; l < 16; ++l) {
    const uint32_t u = static_cast<uint32_t>(p[l]) << 16;
    memcpy(&f[l], &u, 4);
  }
  return _mm512_loadu_ps(f);
}
inline void v_store_u8(uint8_t* p, VF v) {  // (SIMDe 0.7.4 has no _mm512_cvtepi32_epi8)
  float f[16];
  _mm512_storeu_ps(f, v);
  for (int l = 0; l < 16; ++l) p[l] = static_cast<uint8_t>(static_cast<int>(nearbyintf(f[l])));
}
#else
// bf16 values (kW of them at p) widened to fp32 exactly.
inline VF v_load_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}
// Lanes holding integers in [0, 255] stored as kW bytes at p.
inline void v_store_u8(uint8_t* p, VF v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
}
#endif

inline VF v_bf16_even(VI x) { return _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)); }
inline VF v_bf16_odd(VI x) { return _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(-65536))); }

#ifdef PBC_LOWP_BF16_DOT
// acc + a.bf16[2l]·b.bf16[2l] + a.bf16[2l+1]·b.bf16[2l+1] per fp32 lane l.
inline __m512bh as_bh(VI x) {
  __m512bh r;
  memcpy(&r, &x, sizeof(r));
  return r;
}
inline VF v_dot_bf16(VF acc, VI a, VI b) { return _mm512_dpbf16_ps(acc, as_bh(a), as_bh(b)); }

#ifndef PBC_SIMDE_AVX512
// Each lane's float (its bits u) rounded exactly as quantize.h's bf16_from_float (nearest even, NaN kept
// quiet; denormals rounded, not flushed as vcvtne2ps2bf16 would), in the lane's low 16 bits.
inline __m512i bf16_round_lanes(__m512i u) {
  const __m512i hi = _mm512_srli_epi32(u, 16);
  const __m512i r = _mm512_srli_epi32(
      _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(hi, _mm512_set1_epi32(1)))), 16);
  const __mmask16 nan =
      _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(hi, _mm512_set1_epi32(0x40)));
}
#endif

// dst[j] (j < 8) ← the bf16 pair (src[2j], src[2j+1]) in one 32-bit lane, each rounded exactly as
// bf16_from_float: the activations' conversion of the vdpbf16ps GEMM, 16 floats at a time.
inline void bf16_pairs16(uint32_t* dst, const float* src) {
#ifdef PBC_SIMDE_AVX512
  for (int j = 0; j < 8; ++j) {
    dst[j] = static_cast<uint32_t>(bf16_from_float(src[2 * j])) |
             (static_cast<uint32_t>(bf16_from_float(src[2 * j + 1])) << 16);
  }
#else
  const __m512i v = bf16_round_lanes(_mm512_loadu_si512(src));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi32_epi16(v));
#endif
}

// dst[c] (c < 16) = (bf16(even[c]), bf16(odd[c])): 16 lanes of a pair row of a bf16 product's B operand
// (the summed dimension's values 2r and 2r + 1 for 16 output columns), each rounded as bf16_from_float
// (as bf16_pairs16 rounds). The attention products' K and V layouts (AMX tiles, vdpbf16ps panels).
inline void bf16_interleave_row(uint32_t* dst, VF even, VF odd) {
#ifdef PBC_SIMDE_AVX512
  alignas(64) float e[16], o[16];
  _mm512_store_ps(e, even);
  _mm512_store_ps(o, odd);
  for (int c = 0; c < 16; ++c) {
    dst[c] = static_cast<uint32_t>(bf16_from_float(e[c])) | (static_cast<uint32_t>(bf16_from_float(o[c])) << 16);
  }
#else
  const __m512i lo = bf16_round_lanes(_mm512_castps_si512(even));
  const __m512i hi = bf16_round_lanes(_mm512_castps_si512(odd));
  _mm512_storeu_si512(dst, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
#endif
}
#endif

}  // namespace
}  // namespace pbc
