// attention_bf16_check.h — the native tests' check of a bf16 attention (avx512_simde_test.cc,
// amx_emulate_test.cc). Include after the including file's check() and randn().
#pragma once

#include <math.h>
#include <stdio.h>

#include <random>
#include <vector>

#include "kernels/kernels.h"

// attention_bf16 of a level whose products run in bf16 (avx512/attention_avx512bf16.cc, amx/attention_amx.cc)
// against the scalar level's fp32 attention: sequences of `lengths` tokens packed one after another, NH
// heads of HS, random q, k, v. bf16 products: within bf16's rounding (relative error of the whole context
// ≤ 1e-2; measured ~3e-3).
// query_rows > 0: each sequence's first query_rows rows alone (the other ctx rows must stay as they were).
static void test_attention_bf16(const Kernels& ref, const Kernels& bf16, std::vector<int> lengths, int NH, int HS,
                                int window, int query_rows = 0) {
  std::mt19937 rng(static_cast<unsigned>(NH * 131 + HS + window));
  const int H = NH * HS;
  std::vector<SequenceSpan> seqs;
  std::vector<int> slot;
  int N = 0, T = 0;
  for (int n : lengths) {
    SequenceSpan sp;
    sp.row_begin = sp.key_begin = N;
    sp.row_end = N + n;
    seqs.push_back(sp);
    for (int i = 0; i < n; ++i) slot.push_back(i);
    N += n;
    T = n > T ? n : T;
  }
  const std::vector<float> qkv = randn(static_cast<size_t>(N) * 3 * H, rng);
  std::vector<float> out[2];
  for (int which = 0; which < 2; ++which) {
    const Kernels& k = which ? bf16 : ref;
    AttentionArgs a;
    out[which].assign(static_cast<size_t>(N) * H, -7.0f);
    a.ctx = out[which].data();
    a.ld_ctx = H;
    a.slot = slot.data();
    a.qkv = qkv.data();
    a.ld_qkv = 3 * H;
    a.seqs = seqs.data();
    a.B = static_cast<int>(seqs.size());
    a.NH = NH;
    a.HS = HS;
    a.T = T;
    a.scale = 1.0f / sqrtf(static_cast<float>(HS));
    a.rel_span = T;
    a.window = window;
    a.query_rows = query_rows;
    a.threads = 2;
    a.scratch_floats = k.attention_scratch_floats(T, HS, 0);
    std::vector<float> scratch(a.scratch_floats * a.threads);
    a.scratch = scratch.data();
    (which ? k.attention_bf16 : k.attention)(a);
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < out[0].size(); ++i) {
    num += (out[1][i] - out[0][i]) * static_cast<double>(out[1][i] - out[0][i]);
    den += out[0][i] * static_cast<double>(out[0][i]);
  }
  const double rel = sqrt(num / (den > 0 ? den : 1));
  char what[128];
  bool untouched = true;  // rows past each sequence's first query_rows: as filled
  for (const SequenceSpan& sp : seqs) {
    for (int r = sp.row_begin + query_rows; query_rows > 0 && r < sp.row_end; ++r) {
      for (int c = 0; c < H; ++c) untouched = untouched && out[1][static_cast<size_t>(r) * H + c] == -7.0f;
    }
  }
  snprintf(what, sizeof(what), "attention_bf16 %zu sequences (longest %d), %d heads of %d, window %d, query_rows %d",
           lengths.size(), T, NH, HS, window, query_rows);
  check(rel <= 1e-2 && rel == rel && untouched, what, rel);
}
