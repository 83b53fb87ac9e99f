// vec_avx2.h — the vector vocabulary the shared kernel bodies (simd/*.h) are written in, for AVX2+FMA.
//
// Include only from a translation unit compiled with -mavx2 -mfma. Everything is internal linkage
// (anonymous namespace) so no symbol compiled with AVX flags can be shared with baseline code.
// vec_avx512.h defines the same names for 512-bit registers; a body that uses only these compiles to
// either level.
#pragma once

#include <immintrin.h>

namespace pbc {
namespace {

using VF = __m256;
constexpr int kW = 8;  // floats per register

// GEMM blocking of this level. kMR×(2·kW) micro-tile: 6×2 accumulators + 2 B + 1 broadcast = 15 of
// the 16 ymm registers. kKC: a B micro-panel slice is kKC·16 floats = 16 KB, half of a 32 KB L1, so
// it stays resident while every row tile of the A block runs against it. kMCMax: the packed A block
// (kMCMax·kKC floats = 132 KB) stays in L2 (512 KB); 132 rows cover a 128-token sequence in one
// block, so at batch 1 the threads split the weights' columns and each streams only its own share
// of them from memory (measured ~3-10% faster on bert-base 1×128 than 72-row blocks).
constexpr int kMR = 6;
// The smaller row tile that absorbs a block's last rows (simd/pack.h RowTiles): 4×2 accumulators are
// still the 8 independent FMA chains two FMA ports with a 4-cycle latency need to stay busy.
constexpr int kMRSmall = 4;
constexpr int kKC = 256;
constexpr int kMCMax = 132;

inline VF v_zero() { return _mm256_setzero_ps(); }
inline VF v_set1(float x) { return _mm256_set1_ps(x); }
inline VF v_load(const float* p) { return _mm256_loadu_ps(p); }
inline void v_store(float* p, VF v) { _mm256_storeu_ps(p, v); }
inline VF v_add(VF a, VF b) { return _mm256_add_ps(a, b); }
inline VF v_sub(VF a, VF b) { return _mm256_sub_ps(a, b); }
inline VF v_mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
inline VF v_div(VF a, VF b) { return _mm256_div_ps(a, b); }
inline VF v_fmadd(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }    // a·b + c
inline VF v_fnmadd(VF a, VF b, VF c) { return _mm256_fnmadd_ps(a, b, c); }  // c − a·b
inline VF v_max(VF a, VF b) { return _mm256_max_ps(a, b); }
inline VF v_min(VF a, VF b) { return _mm256_min_ps(a, b); }
inline VF v_and(VF a, VF b) { return _mm256_and_ps(a, b); }
inline VF v_or(VF a, VF b) { return _mm256_or_ps(a, b); }
inline VF v_andnot(VF a, VF b) { return _mm256_andnot_ps(a, b); }  // ~a & b
inline VF v_round(VF a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
// 2^n for integral n in [-126, 127].
inline VF v_pow2i(VF n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
// a < b ? t : f, lane by lane
inline VF v_select_lt(VF a, VF b, VF t, VF f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }

// Bit l set where lane l of a ≥ b (false for NaN) / where lane l is NaN.
inline unsigned v_mask_ge(VF a, VF b) { return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GE_OQ))); }
inline unsigned v_mask_nan(VF a) { return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(a, a, _CMP_UNORD_Q))); }
// dst[0 .. popcount(mask)) ← base + l for each lane l set in mask, in order; returns the count (AVX2
// has no compress: lane by lane).
inline int v_store_lane_indices(int* dst, unsigned mask, int base) {
  int n = 0;
  for (; mask; mask &= mask - 1) dst[n++] = base + __builtin_ctz(mask);
  return n;
}

// Masked tails: lanes [0, n) of p, the others read as 0 / left unwritten. n in [0, kW].
alignas(64) const int kTailMask[2 * kW] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
inline __m256i tail_mask(int n) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + kW - n)); }
inline VF v_load_tail(const float* p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
inline void v_store_tail(float* p, VF v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }

// r[0..kW) in place from rows to columns: afterwards lane i of r[j] is lane j of the old r[i]. Packing
// (simd/pack.h pack_transposed) turns rows into the column-major tiles the micro-kernel reads with it.
inline void v_transpose(VF r[kW]) {
  VF t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);  // per 128-bit lane: r_i[0] r_i+1[0] r_i[1] r_i+1[1]
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // per lane: column 0..3 of rows i..i+3
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
  }
}

// Horizontal reductions, in a fixed order (pairwise halves).
inline float v_reduce_add(VF v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float v_reduce_max(VF v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float v_reduce_min(VF v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace pbc
