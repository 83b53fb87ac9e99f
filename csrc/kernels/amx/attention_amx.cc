// attention_amx.cc — attention's two products on AMX tiles in bf16, for models whose linear layers run
// in bf16 (Kernels::attention_bf16 of the `amx` level; compiled with lowp_amx.cc's flags).
//
// simd/attention.h's unit with AmxBf16Products in place of its fp32 products: masks, windows, the
// relative-position bias, the softmax and the probabilities output are that file's. Per (sequence,
// head): K and V rounded to bf16 once, into the tile layouts tdpbf16ps reads (the B operand: 16 rows of
// 64 bytes, a row one pair of the summed dimension for 16 output columns). Per block of query rows:
//   scores (nq, kn) = bf16(Q) · bf16(K)ᵀ, summed in fp32 by the tile unit (C tiles stored straight into
//                     the score rows);
//   context (nq, HS) = bf16(E) · bf16(V), E the softmax's unnormalised exponentials (in [0, 1], computed
//                     in fp32, as the probabilities output and Σ E are), then scaled by 1 / Σ E.
// Rounding points as PyTorch's and OpenVINO's bf16 attention. Measured on all-MiniLM-L6-v2 over the
// bundled sentences, these products alone (fp32 everywhere else) keep a min cosine of 0.999994 against
// fp32, and the whole bf16 model 0.99994 (0.99995 with fp32 attention); the bound is 0.9999
// (tests/test_precision.py). Speed (bench/README.md): 1.3–1.9× the fp32 attention; at 128 tokens what
// is left is reading Q, K and V out of the QKV output, the fp32 softmax and the conversions.
// DeBERTa's disentangled terms keep the fp32 attention whole (attention_bf16_amx hands those calls on).
// Tiles: each unit configures 16-row tiles (amx/tile.h) and releases them when done: C in 0-3, A in 4-5,
// B in 6-7, a block of up to 2 × 2 tiles of C per pass over the summed dimension.
#define PBC_LOWP_BF16_DOT 1  // bf16_pairs16 (vec_lowp_avx512.h)
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm.h"
#include "kernels/simd/pack.h"
#include "kernels/simd/attention.h"
#include "kernels/quantize.h"
#include "kernels/amx/tile.h"

namespace pbc {
namespace {

constexpr int kTileBytes = 1024;  // 16 rows of 64 bytes
constexpr int kBlockRows = 32;    // a query block's rows: two row tiles (≤ kQB)
static_assert(kBlockRows <= kQB, "the units' query ranges are counted in kQB rows");

inline int ceil_div(int x, int d) { return (x + d - 1) / d; }

// dst[0 .. npad) ← bf16(src[0 .. n)) rounded as quantize.h's bf16_from_float, zeros past n.
inline void bf16_row(uint16_t* dst, const float* src, int n, int npad) {
  int i = 0;
  for (; i + 16 <= n; i += 16) bf16_pairs16(reinterpret_cast<uint32_t*>(dst + i), src + i);
  for (; i < n; ++i) dst[i] = bf16_from_float(src[i]);
  for (; i < npad; ++i) dst[i] = 0;
}

// out (row tiles × col tiles of 16 × 16 fp32, row stride ldo floats) = Σ_s A_s · B_s: A's row tile i,
// step s at a + i·16·a_stride + s·64 bytes (row stride a_stride bytes); B's column tile c, step s at
// b + c·b_col_stride + s·kTileBytes. Blocks of up to 2 × 2 C tiles: each A and B tile load feeds two
// products.
template <bool R2, bool C2>
inline void tile_block(float* out, int ldo, const char* a, int a_stride, const char* b, size_t b_col_stride, int steps) {
  tile_zero(0);
  if (C2) tile_zero(1);
  if (R2) tile_zero(2);
  if (R2 && C2) tile_zero(3);
  for (int s = 0; s < steps; ++s) {
    tile_load(4, a + s * 64, a_stride);
    tile_load(6, b + static_cast<size_t>(s) * kTileBytes, 64);
    if (C2) tile_load(7, b + b_col_stride + static_cast<size_t>(s) * kTileBytes, 64);
    tile_dp_bf16(0, 4, 6);
    if (C2) tile_dp_bf16(1, 4, 7);
    if (R2) {
      tile_load(5, a + 16 * a_stride + s * 64, a_stride);
      tile_dp_bf16(2, 5, 6);
      if (C2) tile_dp_bf16(3, 5, 7);
    }
  }
  tile_store(0, out, ldo * 4);
  if (C2) tile_store(1, out + 16, ldo * 4);
  if (R2) tile_store(2, out + 16 * ldo, ldo * 4);
  if (R2 && C2) tile_store(3, out + 16 * ldo + 16, ldo * 4);
}

inline void tile_product(float* out, int ldo, const char* a, int a_stride, int row_tiles, const char* b,
                         size_t b_col_stride, int col_tiles, int steps) {
  for (int i = 0; i < row_tiles; i += 2) {
    const char* ai = a + static_cast<size_t>(i) * 16 * a_stride;
    float* oi = out + static_cast<size_t>(i) * 16 * ldo;
    const bool r2 = i + 1 < row_tiles;
    for (int c = 0; c < col_tiles; c += 2) {
      const char* bc = b + c * b_col_stride;
      float* o = oi + c * 16;
      if (c + 1 < col_tiles) {
        if (r2) tile_block<true, true>(o, ldo, ai, a_stride, bc, b_col_stride, steps);
        else tile_block<false, true>(o, ldo, ai, a_stride, bc, b_col_stride, steps);
      } else {
        if (r2) tile_block<true, false>(o, ldo, ai, a_stride, bc, b_col_stride, steps);
        else tile_block<false, false>(o, ldo, ai, a_stride, bc, b_col_stride, steps);
      }
    }
  }
}

// The scratch of one unit, in floats, laid out in this order (T keys at most, head size HS).
struct AmxAttentionLayout {
  int dsteps, dtiles, ktiles, ksteps, ldsc;
  size_t kt, vt, sc, pb, qb, cb, inv, total;
  AmxAttentionLayout(int T, int HS) {
    dsteps = ceil_div(HS, 32);  // k steps of the scores product (32 d each)
    dtiles = ceil_div(HS, 16);  // column tiles of the context
    ktiles = ceil_div(T, 16);   // column tiles of the scores (16 keys each)
    ksteps = ceil_div(T, 32);   // k steps of the context product (32 keys each)
    ldsc = ksteps * 32;
    constexpr size_t kTileFloats = kTileBytes / 4;
    kt = 0;                                                                      // K tiles (ktiles, dsteps)
    vt = kt + static_cast<size_t>(ktiles) * dsteps * kTileFloats;               // V tiles (dtiles, ksteps)
    sc = vt + static_cast<size_t>(dtiles) * ksteps * kTileFloats;               // scores (kBlockRows, ldsc)
    pb = sc + static_cast<size_t>(kBlockRows) * ldsc;                           // bf16(E) (kBlockRows, ldsc)
    qb = pb + static_cast<size_t>(kBlockRows) * ldsc / 2;                       // bf16(Q) (kBlockRows, dsteps·32)
    cb = qb + static_cast<size_t>(kBlockRows) * dsteps * 16;                    // context tiles (kBlockRows, dtiles·16)
    inv = cb + static_cast<size_t>(kBlockRows) * dtiles * 16;                   // 1 / Σ E (kBlockRows)
    total = inv + kBlockRows;
  }
};

struct AmxBf16Products {
  static constexpr int kBlock = kBlockRows;
  const AttentionArgs& a;
  int h, nk;
  AmxAttentionLayout lay;
  char *kt, *vt;
  uint16_t *pb, *qb;
  float *sc, *cb, *inv;
  float* tail = nullptr;  // (the disentangled terms' buffers: never used here, attention_bf16_amx
  float* rest = nullptr;  //  hands those calls to the fp32 attention)
  int ldsc;

  AmxBf16Products(const AttentionArgs& args, const SequenceSpan& sp, int head, int keys, int row0, int row1,
                  float* scratch)
      : a(args), h(head), nk(keys), lay(keys, args.HS) {
    kt = reinterpret_cast<char*>(scratch + lay.kt);
    vt = reinterpret_cast<char*>(scratch + lay.vt);
    sc = scratch + lay.sc;
    pb = reinterpret_cast<uint16_t*>(scratch + lay.pb);
    qb = reinterpret_cast<uint16_t*>(scratch + lay.qb);
    cb = scratch + lay.cb;
    inv = scratch + lay.inv;
    ldsc = lay.ldsc;
    const int HS = a.HS, H = a.NH * a.HS, ld = a.ld_qkv;
    const float* k_rows = a.qkv + static_cast<size_t>(sp.key_begin) * ld + H + h * HS;
    const float* v_rows = k_rows + H;
    // K tile (t, s): row r is the d pair (32s + 2r, 32s + 2r + 1), column c key 16t + c: the transpose of
    // 16 keys × 16 d, two of them per step (d 32s .. 32s + 15, then .. 32s + 31).
    // While a key tile is transposed, the next one's rows are fetched (prefetch_head_rows).
    for (int t = 0; t < lay.ktiles; ++t) {
      const int live = nk - 16 * t < 16 ? nk - 16 * t : 16;
      const int next0 = 16 * t + 16 < nk ? 16 * t + 16 : nk, next1 = 16 * t + 32 < nk ? 16 * t + 32 : nk;
      prefetch_head_rows(a, h, sp.key_begin + next0, sp.key_begin + next1, row0, row1);
      for (int s = 0; s < lay.dsteps; ++s) {
        uint32_t* tile = reinterpret_cast<uint32_t*>(kt + (static_cast<size_t>(t) * lay.dsteps + s) * kTileBytes);
        for (int half = 0; half < 2; ++half) {
          const int d0 = 32 * s + 16 * half;
          VF r[kW];
          for (int i = 0; i < kW; ++i) {
            r[i] = i < live ? load_part(k_rows + static_cast<size_t>(16 * t + i) * ld, d0, HS) : v_zero();
          }
          v_transpose(r);  // r[x]: d0 + x for the 16 keys
          for (int x = 0; x < 8; ++x) bf16_interleave_row(tile + (8 * half + x) * 16, r[2 * x], r[2 * x + 1]);
        }
      }
    }
    // V tile (t, s): row r is the key pair (32s + 2r, 32s + 2r + 1), column c the value d = 16t + c.
    for (int s = 0; s < lay.ksteps; ++s) {
      for (int r = 0; r < 16; ++r) {
        const int j = 32 * s + 2 * r;
        const float* even = j < nk ? v_rows + static_cast<size_t>(j) * ld : nullptr;
        const float* odd = j + 1 < nk ? v_rows + static_cast<size_t>(j + 1) * ld : nullptr;
        for (int t = 0; t < lay.dtiles; ++t) {
          uint32_t* row = reinterpret_cast<uint32_t*>(vt + (static_cast<size_t>(t) * lay.ksteps + s) * kTileBytes) + r * 16;
          bf16_interleave_row(row, even ? load_part(even, 16 * t, HS) : v_zero(), odd ? load_part(odd, 16 * t, HS) : v_zero());
        }
      }
    }
  }

  // sc (nq, kn) = bf16(Q rows [q0, q0 + nq)) · bf16(K)ᵀ over keys [j0, j0 + kn) (j0 a multiple of 32),
  // columns up to kn rounded up to 16 written (ldsc holds them), rows up to nq rounded up to 16.
  void scores(int q0, int nq, int j0, int kn) {
    const int row_tiles = ceil_div(nq, 16), dpad = lay.dsteps * 32;
    for (int r = 0; r < row_tiles * 16; ++r) {
      uint16_t* dst = qb + static_cast<size_t>(r) * dpad;
      if (r < nq) {
        bf16_row(dst, a.qkv + static_cast<size_t>(q0 + r) * a.ld_qkv + h * a.HS, a.HS, dpad);
      } else {
        memset(dst, 0, sizeof(uint16_t) * dpad);
      }
    }
    tile_product(sc, ldsc, reinterpret_cast<const char*>(qb), dpad * 2, row_tiles,
                 kt + static_cast<size_t>(j0 / 16) * lay.dsteps * kTileBytes,
                 static_cast<size_t>(lay.dsteps) * kTileBytes, ceil_div(kn, 16), lay.dsteps);
  }

  // ctx (nq, HS), row stride ld_ctx, = bf16(sc (nq, kn)) · bf16(V rows [j0, j0 + kn)), each row times inv[r]
  // on its way out of the tiles.
  void context(float* ctx, int nq, int j0, int kn) {
    const int row_tiles = ceil_div(nq, 16), steps = ceil_div(kn, 32), kpad = steps * 32;
    for (int r = 0; r < row_tiles * 16; ++r) {
      uint16_t* dst = pb + static_cast<size_t>(r) * kpad;
      if (r < nq) {
        bf16_row(dst, sc + static_cast<size_t>(r) * ldsc, kn, kpad);
      } else {
        memset(dst, 0, sizeof(uint16_t) * kpad);
      }
    }
    const int ldcb = lay.dtiles * 16;
    tile_product(cb, ldcb, reinterpret_cast<const char*>(pb), kpad * 2, row_tiles,
                 vt + static_cast<size_t>(j0 / 32) * kTileBytes, static_cast<size_t>(lay.ksteps) * kTileBytes,
                 lay.dtiles, steps);
    scale_context_rows(ctx, a.ld_ctx, cb, ldcb, nq, a.HS, inv);
  }
};

// A unit with this thread's tiles configured, and released before it returns to the pool.
void amx_attention_task(void* ctx, long u, int worker) {
  tile_configure(16);
  attention_task<AmxBf16Products>(ctx, u, worker);
  tile_release();
}

void attention_bf16_amx(const AttentionArgs& a) { attention_bf16_with(a, amx_attention_task); }

size_t attention_scratch_floats_amx(int T, int HS, int pos_rows) {
  return attention_scratch_floats_either(AmxAttentionLayout(T, HS).total, T, HS, pos_rows);
}

}  // namespace

void fill_attention_amx(Kernels* k) {
  k->attention_bf16 = attention_bf16_amx;
  k->attention_scratch_floats = attention_scratch_floats_amx;
  k->bf16_attention = "amx (tdpbf16ps)";
}

}  // namespace pbc
