// simd/attention.h — fused multi-head self-attention over packed rows, written once over vec_<isa>.h.
//
// Per unit (sequence, head, block of query rows): gather the head's keys transposed (HS, nk) and its
// values (nk, HSp) into per-thread scratch, then for each block of kQB query rows compute the scores
// (vectorised along keys, 4 query rows per pass so each key register feeds 4 FMAs), a masked softmax,
// and ctx = P·V (vectorised along the head dimension, 2 rows per pass). Only a kQB × T slice of the
// T × T score matrix exists at any time, so for T = 512 the working set (K, V, scores ≈ 330 KB at
// HS = 64) stays in L2. Units are (sequence, head) when there are enough of them to keep every
// thread busy, otherwise (sequence, head, query block) — batch 1 still uses every thread.
// What it leaves out: no online-softmax pass over key blocks; the attention-probabilities output needs
// whole rows anyway, and at the position limits of BERT-family models a row of scores fits in L1.
//
// Numerics: dot products and the P·V sums run over d and over keys in index order with FMA; exp is
// v_exp (≈ 2 ulp). Agrees with the scalar reference to ~1e-6.
#pragma once

#include <math.h>

#include "kernels/kernels.h"
#include "kernels/parallel.h"

namespace pbc {
namespace {

constexpr int kQB = 32;  // query rows per block: a 32 × 520 score slice is 66 KB

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

size_t attention_scratch_floats_simd(int T, int HS) {
  const size_t Tp = static_cast<size_t>(round_up(T, kW)), HSp = static_cast<size_t>(round_up(HS, kW));
  return HS * Tp + T * HSp + kQB * Tp + 2 * kW;
}

// ctx rows [q0, q0+nq) · head h ← softmax(Q·Kᵀ·scale)·V, keys/values already gathered.
template <int NV>
inline void pv_rows(float* c0, float* c1, const float* p0, const float* p1, const float* v, int nk,
                    int HSp, int cols) {
  VF a0[NV], a1[NV];
  for (int u = 0; u < NV; ++u) a0[u] = a1[u] = v_zero();
  for (int j = 0; j < nk; ++j) {
    const VF pa = v_set1(p0[j]), pb = v_set1(p1[j]);
    const float* vr = v + static_cast<size_t>(j) * HSp;
    for (int u = 0; u < NV; ++u) {
      const VF vv = v_load(vr + u * kW);
      a0[u] = v_fmadd(pa, vv, a0[u]);
      a1[u] = v_fmadd(pb, vv, a1[u]);
    }
  }
  for (int u = 0; u < NV; ++u) {
    const int n = cols - u * kW;
    if (n <= 0) break;
    if (n >= kW) {
      v_store(c0 + u * kW, a0[u]);
      if (c1) v_store(c1 + u * kW, a1[u]);
    } else {
      v_store_tail(c0 + u * kW, a0[u], n);
      if (c1) v_store_tail(c1 + u * kW, a1[u], n);
    }
  }
}

void attention_unit_simd(const AttentionArgs& a, int s, int h, int qb_begin, int qb_end, float* scratch) {
  const SequenceSpan sp = a.seqs[s];
  const int HS = a.HS, H = a.NH * a.HS, ld = a.ld_qkv;
  const int row0 = sp.row_begin + qb_begin * kQB;
  const int row1 = sp.row_begin + qb_end * kQB < sp.row_end ? sp.row_begin + qb_end * kQB : sp.row_end;
  if (row0 >= row1) return;
  const int nk = sp.row_end - sp.key_begin;
  if (nk == 0) {
    for (int r = row0; r < row1; ++r) {
      float* c = a.ctx + static_cast<size_t>(r) * a.ld_ctx + h * HS;
      for (int d = 0; d < HS; ++d) c[d] = 0.0f;
    }
    return;
  }
  const int nkp = round_up(nk, kW), HSp = round_up(HS, kW);
  float* kt = scratch;                                  // (HS, nkp) keys, transposed
  float* vv = kt + static_cast<size_t>(HS) * nkp;       // (nk, HSp) values, zero-padded columns
  float* sc = vv + static_cast<size_t>(nk) * HSp;       // (kQB, nkp) scores, then probabilities
  for (int j = 0; j < nk; ++j) {
    const float* kr = a.qkv + static_cast<size_t>(sp.key_begin + j) * ld + H + h * HS;
    for (int d = 0; d < HS; ++d) kt[static_cast<size_t>(d) * nkp + j] = kr[d];
    const float* vr = kr + H;
    float* dst = vv + static_cast<size_t>(j) * HSp;
    for (int d = 0; d < HS; ++d) dst[d] = vr[d];
    for (int d = HS; d < HSp; ++d) dst[d] = 0.0f;
  }
  for (int d = 0; d < HS; ++d) {
    for (int j = nk; j < nkp; ++j) kt[static_cast<size_t>(d) * nkp + j] = 0.0f;
  }
  const VF scale = v_set1(a.scale);
  const int tail = nk % kW, body = nk - tail;

  for (int q0 = row0; q0 < row1; q0 += kQB) {
    const int nq = row1 - q0 < kQB ? row1 - q0 : kQB;
    // scores (nq, nk) = Q · Kᵀ · scale, four query rows per pass
    for (int r = 0; r < nq; r += 4) {
      const float* q[4];
      for (int u = 0; u < 4; ++u) {
        const int rr = r + u < nq ? r + u : nq - 1;  // a short last pass repeats its last row
        q[u] = a.qkv + static_cast<size_t>(q0 + rr) * ld + h * HS;
      }
      for (int j = 0; j < nkp; j += kW) {
        VF acc0 = v_zero(), acc1 = v_zero(), acc2 = v_zero(), acc3 = v_zero();
        const float* kc = kt + j;
        for (int d = 0; d < HS; ++d) {
          const VF kv = v_load(kc + static_cast<size_t>(d) * nkp);
          acc0 = v_fmadd(v_set1(q[0][d]), kv, acc0);
          acc1 = v_fmadd(v_set1(q[1][d]), kv, acc1);
          acc2 = v_fmadd(v_set1(q[2][d]), kv, acc2);
          acc3 = v_fmadd(v_set1(q[3][d]), kv, acc3);
        }
        float* out = sc + static_cast<size_t>(r) * nkp + j;
        v_store(out, v_mul(acc0, scale));
        if (r + 1 < nq) v_store(out + nkp, v_mul(acc1, scale));
        if (r + 2 < nq) v_store(out + 2 * nkp, v_mul(acc2, scale));
        if (r + 3 < nq) v_store(out + 3 * nkp, v_mul(acc3, scale));
      }
    }
    // softmax over the nk real keys of each row
    for (int r = 0; r < nq; ++r) {
      float* row = sc + static_cast<size_t>(r) * nkp;
      VF mx = v_set1(-INFINITY);
      for (int j = 0; j < body; j += kW) mx = v_max(mx, v_load(row + j));
      float m = v_reduce_max(mx);
      for (int j = body; j < nk; ++j) m = row[j] > m ? row[j] : m;
      const VF vm = v_set1(m);
      VF sum = v_zero();
      for (int j = 0; j < body; j += kW) {
        const VF e = v_exp(v_sub(v_load(row + j), vm));
        v_store(row + j, e);
        sum = v_add(sum, e);
      }
      if (tail) {
        v_store_tail(row + body, v_exp(v_sub(v_load_tail(row + body, tail), vm)), tail);
        sum = v_add(sum, v_load_tail(row + body, tail));
      }
      const VF inv = v_set1(1.0f / v_reduce_add(sum));
      for (int j = 0; j < body; j += kW) v_store(row + j, v_mul(v_load(row + j), inv));
      if (tail) v_store_tail(row + body, v_mul(v_load_tail(row + body, tail), inv), tail);
      if (a.probs) {
        float* prow = a.probs + ((static_cast<size_t>(s) * a.NH + h) * a.T + a.slot[q0 + r]) * a.T;
        for (int j = 0; j < nk; ++j) prow[a.slot[sp.key_begin + j]] = row[j];
      }
    }
    // ctx (nq, HS) = P · V, two query rows per pass, up to 4 registers of the head dimension at once
    for (int r = 0; r < nq; r += 2) {
      const bool two = r + 1 < nq;
      const float* p0 = sc + static_cast<size_t>(r) * nkp;
      const float* p1 = two ? p0 + nkp : p0;
      float* c0 = a.ctx + static_cast<size_t>(q0 + r) * a.ld_ctx + h * HS;
      float* c1 = two ? c0 + a.ld_ctx : nullptr;
      for (int d0 = 0; d0 < HSp; d0 += 4 * kW) {
        const int nv = (HSp - d0) / kW;
        const float* v = vv + d0;
        const int cols = HS - d0;
        switch (nv >= 4 ? 4 : nv) {
          case 4: pv_rows<4>(c0 + d0, c1 ? c1 + d0 : nullptr, p0, p1, v, nk, HSp, cols); break;
          case 3: pv_rows<3>(c0 + d0, c1 ? c1 + d0 : nullptr, p0, p1, v, nk, HSp, cols); break;
          case 2: pv_rows<2>(c0 + d0, c1 ? c1 + d0 : nullptr, p0, p1, v, nk, HSp, cols); break;
          default: pv_rows<1>(c0 + d0, c1 ? c1 + d0 : nullptr, p0, p1, v, nk, HSp, cols); break;
        }
      }
    }
  }
}

struct AttentionPlan {
  const AttentionArgs* a;
  int split, per;
};

void attention_task(void* ctx, long u, int worker) {
  const AttentionPlan& pl = *static_cast<const AttentionPlan*>(ctx);
  const AttentionArgs& a = *pl.a;
  const int part = static_cast<int>(u % pl.split);
  const int sh = static_cast<int>(u / pl.split);
  attention_unit_simd(a, sh / a.NH, sh % a.NH, part * pl.per, part * pl.per + pl.per,
                      a.scratch + static_cast<size_t>(worker) * a.scratch_floats);
}

void attention_simd(const AttentionArgs& a) {
  const int qblocks = (a.T + kQB - 1) / kQB;
  const int threads = a.threads > 0 ? a.threads : 1;
  // Whole (sequence, head) units gather K and V once; split the query rows only when there are too
  // few units for the threads.
  AttentionPlan pl;
  pl.a = &a;
  pl.split = static_cast<long>(a.B) * a.NH >= 4L * threads ? 1 : qblocks;
  pl.per = (qblocks + pl.split - 1) / pl.split;
  // The scratch holds a.threads slices: never run on more threads than that.
  const int prev = set_parallel_threads(threads < parallel_threads() ? threads : parallel_threads());
  parallel_for(static_cast<long>(a.B) * a.NH * pl.split, attention_task, &pl);
  set_parallel_threads(prev);
}

}  // namespace
}  // namespace pbc
