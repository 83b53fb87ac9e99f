// simd/attention.h — fused multi-head self-attention over packed rows, written once over vec_<isa>.h.
//
// Per unit (sequence, head, run of query blocks): pack the head's keys and values as GEMM B panels in
// per-thread scratch, then for each block of kQB query rows compute the scores Q·Kᵀ and ctx = P·V with
// the GEMM micro-kernel of gemm.h (reading Q and P in place as its A rows) around a vectorised softmax,
// writing ctx straight into its rows and normalising it there. Only a kQB × T slice of the
// T × T score matrix exists at any time, so for T = 512 the working set (K, V, scores ≈ 330 KB at
// HS = 64) stays in L2. Units are (sequence, head) when there are enough of them to keep every
// thread busy, otherwise (sequence, head, query block) — batch 1 still uses every thread.
// What it leaves out: no online-softmax pass over key blocks; the attention-probabilities output needs
// whole rows anyway, and at the position limits of BERT-family models a row of scores fits in L1.
//
// The two products (scores and context) are a policy of the unit (Products): Fp32Products below runs
// them on the fp32 GEMM micro-kernel; amx/attention_amx.cc runs them on bf16 tiles for bf16 models.
// Masks, windows, biases, the softmax and the probabilities output are this file's, once for both.
// Numerics (Fp32Products): dot products and the P·V sums run over d and over keys in index order with FMA (the
// micro-kernel's order); e_j = 2^(c·x_j − c·max x) with c = scale·log2(e), one FMA and
// v_exp2_nonpositive (< 2 ulp; c·max x is rounded once per row, which scales a row's e_j alike and
// cancels in the normalisation); ctx is (Σ_j e_j·v_j) / Σ_j e_j
// rather than Σ_j (e_j / Σ e)·v_j. Agrees with the scalar reference to ~1e-6.
// Include after gemm.h.
#pragma once

#include <math.h>

#include "kernels/kernels.h"
#include "runtime/parallel.h"

namespace pbc {
namespace {

constexpr int kQB = 36;  // query rows per block, whole 6- or 12-row tiles: a 36 × 528 score slice is 76 KB

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

// The position-table rows a sequence of T tokens can reach: one per relative position, at most R.
inline int reachable_pos_rows(int T, int R) { return R <= 0 ? 0 : (2 * T - 1 < R ? 2 * T - 1 : R); }

size_t attention_scratch_floats_simd(int T, int HS, int pos_rows) {
  const size_t Tn = static_cast<size_t>(round_up(T, kNR)), HSn = static_cast<size_t>(round_up(HS, kNR));
  const size_t depth = static_cast<size_t>(T > HS ? T : HS);
  const size_t Cn = static_cast<size_t>(round_up(reachable_pos_rows(T, pos_rows), kNR));
  // disentangled terms: both tables' panels, the block's c2p rows and every key's p2c row
  const size_t disentangled = Cn ? 2 * Cn * HS + kQB * Cn + T * Cn : 0;
  return HS * Tn + HSn * T + kQB * Tn + kMR * depth + kQB + 4 * kW + disentangled;
}

// out (nrows, nc), row stride ld_out = A (nrows × kc, row stride lda) · B, with B's nc columns held in
// panels of kNR columns (kc rows of kNR floats, as pack_transposed writes them), panel_stride floats
// apart. Every product of the attention unit: scores, context, and the disentangled terms.
inline void rows_times_panels(float* out, int ld_out, const float* a, size_t lda, int nrows, const float* panels,
                              size_t panel_stride, int nc, int kc, float* tail) {
  GemmArgs g;
  g.M = nrows;
  g.N = nc;
  g.K = kc;
  g.c = out;
  g.ldc = ld_out;
  for (int p = 0; p * kNR < nc; ++p) {
    block_kernel_strided(g, kc, a, lda, panels + static_cast<size_t>(p) * panel_stride, kNR, nrows, p * kNR,
                         nc - p * kNR < kNR ? nc - p * kNR : kNR, tail);
  }
}

// kW floats of row p from column d0 (of n), zeros past n.
inline VF load_part(const float* p, int d0, int n) {
  return d0 + kW <= n ? v_load(p + d0) : d0 < n ? v_load_tail(p + d0, n - d0) : v_zero();
}

// The head's Q, K and V lines of the QKV output's packed rows [r0, r1) (Q only for query rows of the
// unit, [row0, row1)): just written by the GEMM, they are mostly out of L1 and L2, and the products'
// packing stalled on them. Both products fetch the next key block's rows while they pack this one's.
inline void prefetch_head_rows(const AttentionArgs& a, int h, int r0, int r1, int row0, int row1) {
  constexpr int kLine = 64 / sizeof(float);  // floats per cache line
  const int HS = a.HS, H = a.NH * a.HS, lines = (HS + kLine - 1) / kLine;
  for (int r = r0; r < r1; ++r) {
    const float* row = a.qkv + static_cast<size_t>(r) * a.ld_qkv + h * HS;
    for (int l = 0; l < lines; ++l) {
      if (r >= row0 && r < row1) __builtin_prefetch(row + l * kLine, 0, 3);
      __builtin_prefetch(row + H + l * kLine, 0, 3);
      __builtin_prefetch(row + 2 * H + l * kLine, 0, 3);
    }
  }
}

// ctx rows [0, nq) (row stride ld_ctx) = rows of `sums` (row stride ld_sums; it may be ctx itself) times
// inv[r]: the context's normalisation by 1 / Σ exp, HS values a row.
inline void scale_context_rows(float* ctx, int ld_ctx, const float* sums, int ld_sums, int nq, int HS,
                               const float* inv) {
  const int tail_d = HS % kW, body_d = HS - tail_d;
  for (int r = 0; r < nq; ++r) {
    float* c = ctx + static_cast<size_t>(r) * ld_ctx;
    const float* t = sums + static_cast<size_t>(r) * ld_sums;
    const VF vi = v_set1(inv[r]);
    for (int d = 0; d < body_d; d += kW) v_store(c + d, v_mul(v_load(t + d), vi));
    if (tail_d) v_store_tail(c + body_d, v_mul(v_load_tail(t + body_d, tail_d), vi), tail_d);
  }
}

// The products of one unit on the GEMM micro-kernel: K and V of the (sequence, head) packed as B panels
// once (the constructor), then per block of query rows scores (nq, kn) = Q · Kᵀ and the context
// (nq, HS) = E · V / Σ E over keys [j0, j0 + kn) (j0 a multiple of kNR; E the softmax's exponentials, in
// sc, and 1 / Σ E in inv). Q and E are read in place.
// (V read in place, rows 3H floats apart, ran slower at HS = 64: those rows fall into a few L1 sets.)
struct Fp32Products {
  static constexpr int kBlock = kQB;  // query rows per block (≤ kQB: the disentangled terms' buffers)
  const AttentionArgs& a;
  int h, nk, kpanels, ldsc;
  float *kp, *vp;           // K panels (kpanels, HS, kNR); V panels (vpanels, nk, kNR)
  float *sc, *tail, *inv;   // scores, then exp (kQB, ldsc); a last partial row tile; 1 / Σ exp per query row
  float* rest;              // the disentangled terms' buffers

  Fp32Products(const AttentionArgs& args, const SequenceSpan& sp, int head, int keys, int row0, int row1, float* scratch)
      : a(args), h(head), nk(keys) {
    const int HS = a.HS, H = a.NH * a.HS, ld = a.ld_qkv;
    kpanels = (nk + kNR - 1) / kNR;
    const int vpanels = (HS + kNR - 1) / kNR;
    ldsc = kpanels * kNR;
    kp = scratch;
    vp = kp + static_cast<size_t>(kpanels) * HS * kNR;
    sc = vp + static_cast<size_t>(vpanels) * nk * kNR;
    tail = sc + static_cast<size_t>(kQB) * ldsc;
    inv = tail + static_cast<size_t>(kMR) * (nk > HS ? nk : HS);
    rest = inv + kQB + 4 * kW;
    // While a panel's keys are packed, the next panel's rows are fetched (V is packed next and Q is read
    // where it lies).
    for (int p = 0; p < kpanels; ++p) {
      const int j0 = p * kNR, live = nk - j0 < kNR ? nk - j0 : kNR;
      const int next0 = j0 + kNR < nk ? j0 + kNR : nk, next1 = j0 + 2 * kNR < nk ? j0 + 2 * kNR : nk;
      prefetch_head_rows(a, h, sp.key_begin + next0, sp.key_begin + next1, row0, row1);
      const float* keys = a.qkv + static_cast<size_t>(sp.key_begin + j0) * ld + H + h * HS;
      pack_transposed(kp + static_cast<size_t>(p) * HS * kNR, keys, ld, live, kNR, HS);
    }
    // V panel p holds columns [p·kNR, p·kNR + kNR) of the head's values, one key per kNR floats, zero
    // past HS.
    const int padded_v = vpanels * kNR;
    for (int j = 0; j < nk; ++j) {
      const float* vr = a.qkv + static_cast<size_t>(sp.key_begin + j) * ld + 2 * H + h * HS;
      for (int d = 0; d < padded_v; d += kW) {
        v_store(vp + (static_cast<size_t>(d / kNR) * nk + j) * kNR + d % kNR, load_part(vr, d, HS));
      }
    }
  }

  // sc (nq, kn) = Q rows [q0, q0 + nq) · Kᵀ over keys [j0, j0 + kn), unscaled.
  void scores(int q0, int nq, int j0, int kn) {
    const size_t k_stride = static_cast<size_t>(a.HS) * kNR;
    const float* q = a.qkv + static_cast<size_t>(q0) * a.ld_qkv + h * a.HS;
    rows_times_panels(sc, ldsc, q, a.ld_qkv, nq, kp + (j0 / kNR) * k_stride, k_stride, kn, a.HS, tail);
  }

  // ctx (nq, HS), row stride ld_ctx, = sc (nq, kn) · V rows [j0, j0 + kn), each row then times inv[r].
  void context(float* ctx, int nq, int j0, int kn) {
    const int HS = a.HS;
    rows_times_panels(ctx, a.ld_ctx, sc, ldsc, nq, vp + static_cast<size_t>(j0) * kNR, static_cast<size_t>(nk) * kNR,
                      HS, kn, tail);
    scale_context_rows(ctx, a.ld_ctx, ctx, a.ld_ctx, nq, HS, inv);
  }
};

template <class Products>
void attention_unit(const AttentionArgs& a, int s, int h, int qb_begin, int qb_end, float* scratch) {
  const SequenceSpan sp = a.seqs[s];
  const int HS = a.HS, ld = a.ld_qkv;
  const int queries_end = query_rows_end(a, sp);
  const int row0 = sp.row_begin + qb_begin * kQB;
  const int row1 = sp.row_begin + qb_end * kQB < queries_end ? sp.row_begin + qb_end * kQB : queries_end;
  if (row0 >= row1) return;
  const int nk = sp.row_end - sp.key_begin;
  if (nk == 0) {
    for (int r = row0; r < row1; ++r) {
      float* c = a.ctx + static_cast<size_t>(r) * a.ld_ctx + h * HS;
      for (int d = 0; d < HS; ++d) c[d] = 0.0f;
    }
    return;
  }
  Products prod(a, sp, h, nk, row0, row1, scratch);
  float* const sc = prod.sc;
  float* const tail = prod.tail;
  float* const inv = prod.inv;
  const int ldsc = prod.ldsc;
  // Disentangled attention: the table rows [c_lo, c_lo + nc) are all this sequence's relative positions
  // reach (pos_col is nondecreasing, the slots ascending). Both tables' head slices are packed as B panels;
  // p2c (nk, ldc_pos) = K · pos_queryᵀ once for the unit, c2p (nq, ldc_pos) = Q · pos_keyᵀ per block.
  const bool disentangled = a.pos_key != nullptr || a.pos_query != nullptr;
  const int* pos_col = a.pos_col + (a.rel_span - 1);  // indexed by i − j
  int c_lo = 0, nc = 0, ldc_pos = 0;
  float *c2p = nullptr, *p2c = nullptr;
  const float* pk_panels = nullptr;
  if (disentangled) {
    const int reach = a.slot[sp.row_end - 1] - a.slot[sp.row_begin];
    c_lo = pos_col[-reach];
    nc = pos_col[reach] - c_lo + 1;
    ldc_pos = round_up(nc, kNR);
    float* pq_panels = prod.rest;
    float* pk = pq_panels + static_cast<size_t>(ldc_pos) * HS;
    c2p = pk + static_cast<size_t>(ldc_pos) * HS;
    p2c = c2p + static_cast<size_t>(kQB) * ldc_pos;
    for (int p = 0; p * kNR < nc; ++p) {
      const int live = nc - p * kNR < kNR ? nc - p * kNR : kNR;
      const size_t row = static_cast<size_t>(c_lo + p * kNR) * a.ld_pos + h * HS;
      if (a.pos_key) pack_transposed(pk + static_cast<size_t>(p) * HS * kNR, a.pos_key + row, a.ld_pos, live, kNR, HS);
      if (a.pos_query) {
        pack_transposed(pq_panels + static_cast<size_t>(p) * HS * kNR, a.pos_query + row, a.ld_pos, live, kNR, HS);
      }
    }
    if (a.pos_query) {
      const float* keys = a.qkv + static_cast<size_t>(sp.key_begin) * ld + a.NH * HS + h * HS;
      rows_times_panels(p2c, ldc_pos, keys, ld, nk, pq_panels, static_cast<size_t>(HS) * kNR, nc, HS, tail);
    }
    pk_panels = a.pos_key ? pk : nullptr;
  }
  // With a relative-position bias or disentangled terms the scores are formed as x·scale + bias or
  // (x + c2p + p2c)·scale first (the bias is added after scaling, as transformers adds it) and the
  // exponent's factor is log2(e) alone.
  const bool biased = a.rel_bias != nullptr;
  const bool prescaled = biased || disentangled;
  const float to_base2 = (prescaled ? 1.0f : a.scale) * 1.44269504088896341f;
  const VF c = v_set1(to_base2);
  const int* key_slot = a.slot + sp.key_begin;  // (nk) ascending: keys are packed in token order

  for (int q0 = row0; q0 < row1; q0 += Products::kBlock) {
    const int nq = row1 - q0 < Products::kBlock ? row1 - q0 : Products::kBlock;
    // The keys this block can see: all of them, or under a window those within ±window of some query
    // of the block, from j0 (a panel boundary) to j1; masked() then drops the rest per row.
    int j0 = 0, j1 = nk;
    if (a.window > 0) {
      const int lo = a.slot[q0] - a.window, hi = a.slot[q0 + nq - 1] + a.window;
      while (j0 < nk && key_slot[j0] < lo) ++j0;
      j1 = j0;
      while (j1 < nk && key_slot[j1] <= hi) ++j1;
      j0 -= j0 % kNR;
    }
    const int kn = j1 - j0;  // keys in this block's span of the score rows
    // scores (nq, kn) = Q · Kᵀ over keys [j0, j1) (j0 is a panel boundary), unscaled
    prod.scores(q0, nq, j0, kn);
    if (pk_panels) {
      const float* q = a.qkv + static_cast<size_t>(q0) * ld + h * HS;
      rows_times_panels(c2p, ldc_pos, q, ld, nq, pk_panels, static_cast<size_t>(HS) * kNR, nc, HS, tail);
    }
    // softmax over the kn keys of each row, left unnormalised: exp(scale · (x − max x)) =
    // 2^(c·x − c·max x) for scale > 0; the 1 / Σ is applied to the context row instead of to every
    // probability (HS products per row instead of kn)
    const int tail_k = kn % kW, body = kn - tail_k;
    for (int r = 0; r < nq; ++r) {
      float* row = sc + static_cast<size_t>(r) * ldsc;
      const int qs = a.slot[q0 + r];
      if (prescaled || a.window > 0) {
        // x·scale + bias[h][key − query] or (x + c2p + p2c)·scale, and −∞ outside the window (exp gives
        // exactly 0 below)
        const float* bias_row = biased ? a.rel_bias + static_cast<size_t>(h) * (2 * a.rel_span - 1) +
                                             (a.rel_span - 1) - qs
                                       : nullptr;
        const float* c2p_row = pk_panels ? c2p + static_cast<size_t>(r) * ldc_pos - c_lo : nullptr;
        const float* p2c_rows = a.pos_query ? p2c - c_lo : nullptr;
        for (int j = 0; j < kn; ++j) {
          const int ks = key_slot[j0 + j];
          if (a.window > 0 && (ks - qs > a.window || qs - ks > a.window)) {
            row[j] = -INFINITY;
            continue;
          }
          if (disentangled) {
            const int col = pos_col[qs - ks];
            float x = row[j];
            if (c2p_row) x += c2p_row[col];
            if (p2c_rows) x += p2c_rows[static_cast<size_t>(j0 + j) * ldc_pos + col];
            row[j] = x * a.scale;
          } else if (biased) {
            row[j] = row[j] * a.scale + bias_row[ks];
          }
        }
      }
      VF mx = v_set1(-INFINITY);
      for (int j = 0; j < body; j += kW) mx = v_max(mx, v_load(row + j));
      float m = v_reduce_max(mx);
      for (int j = body; j < kn; ++j) m = row[j] > m ? row[j] : m;
      if (m == -INFINITY) {  // no key in the window: context 0, as for a sequence without keys
        for (int j = 0; j < kn; ++j) row[j] = 0.0f;
        inv[r] = 0.0f;
        continue;
      }
      const VF minus_cm = v_set1(-(to_base2 * m));
      VF sum = v_zero();
      for (int j = 0; j < body; j += kW) {
        const VF e = v_exp2_nonpositive(v_fmadd(v_load(row + j), c, minus_cm));
        v_store(row + j, e);
        sum = v_add(sum, e);
      }
      if (tail_k) {
        const VF e = v_exp2_nonpositive(v_fmadd(v_load_tail(row + body, tail_k), c, minus_cm));
        v_store_tail(row + body, e, tail_k);
        sum = v_add(sum, v_load_tail(row + body, tail_k));
      }
      float total = v_reduce_add(sum);
      if (a.window > 0) {
        // v_exp2_nonpositive stops at 2^−126 rather than 0: masked keys must weigh exactly nothing
        for (int j = 0; j < kn; ++j) {
          const int ks = key_slot[j0 + j];
          if (ks - qs > a.window || qs - ks > a.window) {
            total -= row[j];
            row[j] = 0.0f;
          }
        }
      }
      inv[r] = 1.0f / total;
      if (a.probs) {
        float* prow = a.probs + ((static_cast<size_t>(s) * a.NH + h) * a.T + qs) * a.T;
        for (int j = 0; j < kn; ++j) prow[key_slot[j0 + j]] = row[j] * inv[r];
      }
    }
    // ctx (nq, HS) = exp · V over keys [j0, j1), written straight into the context rows, scaled by 1 / Σ
    float* ctx = a.ctx + static_cast<size_t>(q0) * a.ld_ctx + h * HS;
    prod.context(ctx, nq, j0, kn);
  }
}

struct AttentionPlan {
  const AttentionArgs* a;
  int split, per;
};

// Unit u of the plan (its (sequence, head) u / split, query blocks of part u % split) on the worker's
// scratch slice, with the given products.
template <class Products>
void attention_task(void* ctx, long u, int worker) {
  const AttentionPlan& pl = *static_cast<const AttentionPlan*>(ctx);
  const AttentionArgs& a = *pl.a;
  const int part = static_cast<int>(u % pl.split);
  const int sh = static_cast<int>(u / pl.split);
  attention_unit<Products>(a, sh / a.NH, sh % a.NH, part * pl.per, part * pl.per + pl.per,
                           a.scratch + static_cast<size_t>(worker) * a.scratch_floats);
}

// Every unit of the call through `task` (attention_task<Fp32Products>, or another level's).
void parallel_attention(const AttentionArgs& a, void (*task)(void*, long, int)) {
  const int queries = a.query_rows > 0 && a.query_rows < a.T ? a.query_rows : a.T;
  const int qblocks = (queries + kQB - 1) / kQB;
  const int threads = a.threads > 0 ? a.threads : 1;
  // Whole (sequence, head) units gather K and V once; split the query rows only when there are too
  // few units for the threads.
  AttentionPlan pl;
  pl.a = &a;
  pl.split = static_cast<long>(a.B) * a.NH >= 4L * threads ? 1 : qblocks;
  pl.per = (qblocks + pl.split - 1) / pl.split;
  // The scratch holds a.threads slices: never run on more threads than that.
  parallel_for_limited(static_cast<long>(a.B) * a.NH * pl.split, threads, task, &pl);
}

void attention_simd(const AttentionArgs& a) { parallel_attention(a, attention_task<Fp32Products>); }

// A bf16 model's attention on a level with bf16 products: every unit through `task`, except DeBERTa's
// disentangled terms, which keep the fp32 attention whole.
inline void attention_bf16_with(const AttentionArgs& a, ParallelFn task) {
  if (a.pos_key != nullptr || a.pos_query != nullptr) {
    attention_simd(a);
    return;
  }
  parallel_attention(a, task);
}

// The per-thread scratch of such a level, where either attention may run: the larger of the fp32
// attention's and the bf16 products' (bf16_floats for T tokens).
inline size_t attention_scratch_floats_either(size_t bf16_floats, int T, int HS, int pos_rows) {
  const size_t fp32 = attention_scratch_floats_simd(T, HS, pos_rows);
  return fp32 > bf16_floats ? fp32 : bf16_floats;
}

}  // namespace
}  // namespace pbc
