// vec_lowp_avx2.h — the integer and bf16 vocabulary of simd/gemm_bf16.h and simd/gemm_int8.h, AVX2.
//
// Include after vec_avx2.h, only from a translation unit compiled with -mavx2 -mfma. Internal linkage.
// vec_lowp_avx512.h defines the same names for 512-bit registers.
#pragma once

#include <immintrin.h>
#include <stdint.h>

namespace pbc {
namespace {

using VI = __m256i;

// Rows per int8 micro-tile: 4×16 (8 int32 accumulators + 2 B + the broadcast A quad + the ones vector
// of the pair sum). bf16 runs in the fp32 GEMM's tiles (simd/gemm_bf16.h).
constexpr int kMRInt8 = 4;

inline VI vi_zero() { return _mm256_setzero_si256(); }
inline VI vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
inline VI vi_load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline VF vi_to_float(VI a) { return _mm256_cvtepi32_ps(a); }

// acc + Σ_{j<4} a.u8[4l+j] · b.s8[4l+j] in each 32-bit lane l. vpmaddubsw's int16 pair sums saturate
// above 32767; exact here because the weights are pair-safe (quantize.h: 255·128 = 32640).
inline VI vi_dot_u8s8(VI acc, VI a, VI b) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1)));
}

// Lanes holding integers in [0, 255] stored as kW bytes at p.
inline void v_store_u8(uint8_t* p, VF v) {
  const __m256i i = _mm256_cvtps_epi32(v);
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(w, w));
}

// bf16 values (kW of them at p) widened to fp32 exactly.
inline VF v_load_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

// A register of bf16 pairs (k even in the low half of each 32-bit lane, k odd in the high half) as
// two fp32 registers: one shift or one mask each, no conversion instruction.
inline VF v_bf16_even(VI x) { return _mm256_castsi256_ps(_mm256_slli_epi32(x, 16)); }
inline VF v_bf16_odd(VI x) { return _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32(-65536))); }

}  // namespace
}  // namespace pbc
