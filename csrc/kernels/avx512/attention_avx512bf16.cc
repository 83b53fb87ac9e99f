// attention_avx512bf16.cc — attention's two products on AVX512-BF16's vdpbf16ps, for models whose linear
// layers run in bf16 (Kernels::attention_bf16 of the avx512_bf16 level; compiled with lowp_avx512bf16.cc's
// flags, installed by dispatch.cc only when the CPU has AVX512_BF16).
//
// simd/attention.h's unit with Bf16DotProducts in place of its fp32 products, as amx/attention_amx.cc
// does with tiles, and with the same rounding points (PyTorch's and OpenVINO's bf16 attention):
//   scores (nq, kn) = bf16(Q) · bf16(K)ᵀ, pair products summed in fp32;
//   context (nq, HS) = bf16(E) · bf16(V), E the softmax's unnormalised exponentials (fp32, as the
//                      probabilities output and Σ E are), then scaled by 1 / Σ E.
// Both run on simd/gemm_bf16.h's micro-kernel: Q and E packed as its A tiles (bf16_pack_a), K and V as
// its B panels, kNRb columns of pairs of the summed dimension (d for K, keys for V), packed once per
// (sequence, head). The masks, windows, biases, softmax and probabilities output are attention.h's.
// DeBERTa's disentangled terms keep the fp32 attention whole, as on AMX.
#define PBC_LOWP_BF16_DOT 1
#include "kernels/simd/vec_avx512.h"
// (the order matters: the bodies are written in the vocabulary the lines above and below define)
#include "kernels/simd/vec_lowp_avx512.h"
#include "kernels/simd/math.h"
#include "kernels/simd/gemm_bf16.h"
#include "kernels/simd/attention.h"

namespace pbc {
namespace {

static_assert(kNRb == kNR, "a key panel of the scores is a key block of attention.h (j0 is a multiple of kNR)");

// The scratch of one unit, in floats, in this order (nk keys, head size HS); each part starts a whole
// number of cache lines past the scratch.
struct Bf16AttentionLayout {
  int hs_even, nk_even, kpanels, vpanels, ldsc;
  size_t kp, vp, sc, qa, ea, inv, total;
  Bf16AttentionLayout(int nk, int HS) {
    hs_even = even_up(HS);
    nk_even = even_up(nk);
    kpanels = (nk + kNRb - 1) / kNRb;
    vpanels = (HS + kNRb - 1) / kNRb;
    ldsc = kpanels * kNRb;
    const int tiles = (kQB + kMRBf16 - 1) / kMRBf16;
    auto lines = [](size_t floats) { return (floats + 15) / 16 * 16; };
    kp = 0;                                                                       // K panels (pairs over d)
    vp = kp + lines(static_cast<size_t>(kpanels) * kNRb * hs_even / 2);           // V panels (pairs over keys)
    sc = vp + lines(static_cast<size_t>(vpanels) * kNRb * nk_even / 2);           // scores, then E (kQB, ldsc)
    qa = sc + lines(static_cast<size_t>(kQB) * ldsc);                             // bf16(Q) A tiles
    ea = qa + lines(static_cast<size_t>(tiles) * bf16_a_tile_floats(HS));         // bf16(E) A tiles
    inv = ea + lines(static_cast<size_t>(tiles) * bf16_a_tile_floats(ldsc));      // 1 / Σ E (kQB)
    total = inv + lines(kQB);
  }
};

struct Bf16DotProducts {
  static constexpr int kBlock = kQB;
  const AttentionArgs& a;
  int h, nk;
  Bf16AttentionLayout lay;
  uint16_t *kp, *vp;
  float *sc, *qa, *ea, *inv;
  float* tail = nullptr;  // (the disentangled terms' buffers: never used here, attention_bf16_avx512bf16
  float* rest = nullptr;  //  hands those calls to the fp32 attention)
  int ldsc;
  GemmArgs out;  // the micro-kernel's store: plain fp32 rows, no epilogue

  Bf16DotProducts(const AttentionArgs& args, const SequenceSpan& sp, int head, int keys, int row0, int row1,
                  float* scratch)
      : a(args), h(head), nk(keys), lay(keys, args.HS) {
    kp = reinterpret_cast<uint16_t*>(scratch + lay.kp);
    vp = reinterpret_cast<uint16_t*>(scratch + lay.vp);
    sc = scratch + lay.sc;
    qa = scratch + lay.qa;
    ea = scratch + lay.ea;
    inv = scratch + lay.inv;
    ldsc = lay.ldsc;
    const int HS = a.HS, H = a.NH * a.HS, ld = a.ld_qkv;
    const float* k_rows = a.qkv + static_cast<size_t>(sp.key_begin) * ld + H + h * HS;
    const float* v_rows = k_rows + H;
    // K panel p, pair row r, lane j: (bf16(K[32p + j][2r]), bf16(K[32p + j][2r + 1])), zeros past nk and HS:
    // the A packing with tiles of kNRb keys. While a panel's keys are packed, the next panel's rows are
    // fetched (prefetch_head_rows).
    for (int p = 0; p < lay.kpanels; ++p) {
      const int j0 = p * kNRb, next0 = j0 + kNRb < nk ? j0 + kNRb : nk, next1 = j0 + 2 * kNRb < nk ? j0 + 2 * kNRb : nk;
      prefetch_head_rows(a, h, sp.key_begin + next0, sp.key_begin + next1, row0, row1);
      bf16_pack_a<kNRb>(kp + static_cast<size_t>(p) * kNRb * lay.hs_even, k_rows + static_cast<size_t>(j0) * ld, ld,
                        nk - j0 < kNRb ? nk - j0 : kNRb, HS);
    }
    // V panel t, pair row r, lane c: (bf16(V[2r][32t + c]), bf16(V[2r + 1][32t + c])), zeros past nk and HS.
    for (int t = 0; t < lay.vpanels; ++t) {
      uint32_t* panel = reinterpret_cast<uint32_t*>(vp) + static_cast<size_t>(t) * kNRb * (lay.nk_even / 2);
      for (int r = 0; r < lay.nk_even / 2; ++r) {
        const float* even = v_rows + static_cast<size_t>(2 * r) * ld;
        const float* odd = 2 * r + 1 < nk ? even + ld : nullptr;
        for (int half = 0; half < kNRb / kW; ++half) {
          const int d0 = t * kNRb + half * kW;
          bf16_interleave_row(panel + r * kNRb + half * kW, load_part(even, d0, HS),
                              odd ? load_part(odd, d0, HS) : v_zero());
        }
      }
    }
  }

  // C rows [0, nq) × columns [n0, n0 + cols) at c (row stride ldc) = the A tiles at ap (`pairs` pairs) ·
  // the B panel at bp.
  void rows_times_panel(float* c, int ldc, const float* ap, int pairs, int nq, const uint16_t* bp, int n0,
                        int cols) {
    out.c = c;
    out.ldc = ldc;
    const size_t tile = bf16_a_tile_floats(2 * pairs);
    for (int i = 0; i < nq; i += kMRBf16) {
      bf16_micro_kernel(out, pairs, ap + static_cast<size_t>(i / kMRBf16) * tile, bp, i,
                        nq - i < kMRBf16 ? nq - i : kMRBf16, n0, cols, false, true, nullptr, 0);
    }
  }

  // sc (nq, kn) = bf16(Q rows [q0, q0 + nq)) · bf16(K)ᵀ over keys [j0, j0 + kn) (j0 a multiple of kNRb).
  void scores(int q0, int nq, int j0, int kn) {
    const int pairs = lay.hs_even / 2;
    bf16_pack_a(qa, a.qkv + static_cast<size_t>(q0) * a.ld_qkv + h * a.HS, a.ld_qkv, nq, a.HS);
    for (int n0 = 0; n0 < kn; n0 += kNRb) {
      const uint16_t* bp = kp + static_cast<size_t>((j0 + n0) / kNRb) * kNRb * lay.hs_even;
      rows_times_panel(sc, ldsc, qa, pairs, nq, bp, n0, kn - n0 < kNRb ? kn - n0 : kNRb);
    }
  }

  // ctx (nq, HS), row stride ld_ctx, = bf16(sc (nq, kn)) · bf16(V rows [j0, j0 + kn)), each row then times
  // inv[r].
  void context(float* ctx, int nq, int j0, int kn) {
    const int pairs = (kn + 1) / 2, HS = a.HS;
    bf16_pack_a(ea, sc, ldsc, nq, kn);
    for (int t = 0; t < lay.vpanels; ++t) {
      const uint16_t* bp = vp + static_cast<size_t>(t) * kNRb * lay.nk_even + static_cast<size_t>(j0) * kNRb;
      const int n0 = t * kNRb;
      rows_times_panel(ctx, a.ld_ctx, ea, pairs, nq, bp, n0, HS - n0 < kNRb ? HS - n0 : kNRb);
    }
    scale_context_rows(ctx, a.ld_ctx, ctx, a.ld_ctx, nq, HS, inv);
  }
};

void attention_bf16_avx512bf16(const AttentionArgs& a) { attention_bf16_with(a, attention_task<Bf16DotProducts>); }

size_t attention_scratch_floats_avx512bf16(int T, int HS, int pos_rows) {
  return attention_scratch_floats_either(Bf16AttentionLayout(T, HS).total, T, HS, pos_rows);
}

}  // namespace

void fill_attention_avx512bf16(Kernels* k) {
  k->attention_bf16 = attention_bf16_avx512bf16;
  k->attention_scratch_floats = attention_scratch_floats_avx512bf16;
  k->bf16_attention = "avx512_bf16 (vdpbf16ps)";
}

}  // namespace pbc
