// avx512_simde_test.cc — runs the AVX-512 kernel level on a CPU without AVX-512, through SIMDe's
// emulation of the intrinsics, and checks every kernel against the scalar reference level.
//
// Build (test only, never shipped): cmake -DPYBERTCORE_SIMDE_AVX512_TEST=ON ... && ninja avx512_simde_test
// It compiles csrc/kernels/avx512/kernels_avx512.cc with -DPBC_SIMDE_AVX512 (vec_avx512.h then takes
// the intrinsics from <simde/x86/avx512.h>) and AVX2 flags only. Exit status 0 when every check passes.
// Tolerances are those of tests/test_kernels.py.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quantize.h"
#include "runtime/threads.h"

using namespace pbc;

static int failures = 0;

static void check(bool ok, const char* what, double err) {
  printf("%-60s %s (err %.3g)\n", what, ok ? "ok" : "FAIL", err);
  if (!ok) ++failures;
}

static std::vector<float> randn(size_t n, std::mt19937& rng, float s = 1.0f) {
  std::normal_distribution<float> d(0.0f, s);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

#include "attention_bf16_check.h"

// Compares two GEMM outputs c0 (the reference) and c1 of A (M, K) · W (N, K)ᵀ: each element may differ
// by tol times the size of its dot product (1 + Σ|a·w|). Returns whether all do; *worst gets the
// largest absolute difference.
static bool within_dot_tolerance(const std::vector<float>& a, const std::vector<float>& w, const std::vector<float>& c0,
                                 const std::vector<float>& c1, int M, int N, int K, double tol, double* worst) {
  bool ok = true;
  *worst = 0;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double scale = 1;
      for (int i = 0; i < K; ++i) scale += fabs(a[static_cast<size_t>(m) * K + i] * w[static_cast<size_t>(n) * K + i]);
      const double e = fabs(c0[static_cast<size_t>(m) * N + n] - c1[static_cast<size_t>(m) * N + n]);
      *worst = e > *worst ? e : *worst;
      if (!(e <= tol * scale)) ok = false;
    }
  }
  return ok;
}

static void test_gemm(const Kernels& ref, const Kernels& k, int M, int N, int K, Activation act, bool residual) {
  std::mt19937 rng(M * 131 + N * 7 + K);
  auto a = randn(static_cast<size_t>(M) * K, rng), w = randn(static_cast<size_t>(N) * K, rng), b = randn(N, rng);
  auto r = randn(static_cast<size_t>(M) * N, rng);
  std::vector<float> pr(ref.packed_weight_size(N, K)), pk(k.packed_weight_size(N, K));
  ref.pack_weight(pr.data(), w.data(), N, K);
  k.pack_weight(pk.data(), w.data(), N, K);
  std::vector<float> c0(static_cast<size_t>(M) * N), c1(static_cast<size_t>(M) * N);
  GemmArgs g;
  g.M = M; g.N = N; g.K = K; g.a = a.data(); g.lda = K; g.bias = b.data(); g.act = act;
  g.residual = residual ? r.data() : nullptr; g.ldr = N; g.ldc = N;
  g.b_packed = pr.data(); g.c = c0.data(); ref.gemm(g);
  g.b_packed = pk.data(); g.c = c1.data(); k.gemm(g);
  double worst;
  const bool ok = within_dot_tolerance(a, w, c0, c1, M, N, K, 2.4e-5, &worst);
  char what[128];
  snprintf(what, sizeof(what), "gemm M=%d N=%d K=%d act=%d residual=%d", M, N, K, static_cast<int>(act), residual);
  check(ok, what, worst);
}

static void test_activations(const Kernels& ref, const Kernels& k) {
  const int M = 40001;
  std::vector<float> x(M), w{1.0f}, pr(ref.packed_weight_size(1, 1)), pk(k.packed_weight_size(1, 1));
  for (int i = 0; i < M; ++i) x[i] = -20.0f + 40.0f * i / (M - 1);
  ref.pack_weight(pr.data(), w.data(), 1, 1);
  k.pack_weight(pk.data(), w.data(), 1, 1);
  for (int act = 0; act <= 6; ++act) {
    std::vector<float> c0(M), c1(M);
    GemmArgs g;
    g.M = M; g.N = 1; g.K = 1; g.a = x.data(); g.lda = 1; g.act = static_cast<Activation>(act); g.ldc = 1;
    g.b_packed = pr.data(); g.c = c0.data(); ref.gemm(g);
    g.b_packed = pk.data(); g.c = c1.data(); k.gemm(g);
    double worst = 0;
    for (int i = 0; i < M; ++i) worst = fmax(worst, fabs(c0[i] - c1[i]) / fmax(1.0, fabs(c0[i])));
    char what[64];
    snprintf(what, sizeof(what), "activation %d over [-20, 20] (error / max(1, |value|))", act);
    check(worst <= 1e-6, what, worst);
  }
}

static void test_layernorm(const Kernels& ref, const Kernels& k, int N, int C) {
  std::mt19937 rng(C);
  auto x = randn(static_cast<size_t>(N) * C, rng, 3.0f), w = randn(C, rng), b = randn(C, rng);
  std::vector<float> y0(x.size()), y1(x.size());
  LayerNormArgs l;
  l.inp = x.data(); l.weight = w.data(); l.bias = b.data(); l.N = N; l.C = C; l.eps = 1e-12f;
  l.out = y0.data(); ref.layernorm(l);
  l.out = y1.data(); k.layernorm(l);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = fmax(worst, fabs(y0[i] - y1[i]));
  char what[64];
  snprintf(what, sizeof(what), "layernorm N=%d C=%d", N, C);
  check(worst <= 2e-5, what, worst);
}

// The encoder's LayerNorm -> GEMM -> GEMM chain on level k with packed handovers (LayerNorm writes the
// first GEMM's A packed, that GEMM writes the second's A packed) against the same chain done plainly on
// k: the same operations stored elsewhere, so bit for bit.
static void test_packed_chain(const Kernels& k, int M, int K, int N1, int N2) {
  std::mt19937 rng(M + K + N1);
  auto x = randn(static_cast<size_t>(M) * K, rng, 3.0f), lw = randn(K, rng), lb = randn(K, rng);
  auto w1 = randn(static_cast<size_t>(N1) * K, rng), b1 = randn(N1, rng);
  auto w2 = randn(static_cast<size_t>(N2) * N1, rng, 0.05f), b2 = randn(N2, rng);
  auto res = randn(static_cast<size_t>(M) * N2, rng);
  std::vector<float> p1(k.packed_weight_size(N1, K)), p2(k.packed_weight_size(N2, N1));
  k.pack_weight(p1.data(), w1.data(), N1, K);
  k.pack_weight(p2.data(), w2.data(), N2, N1);
  std::vector<float> y(x.size()), yp(k.packed_a_floats(M, K)), h(static_cast<size_t>(M) * N1);
  std::vector<float> hp(k.packed_a_floats(M, N1)), out0(static_cast<size_t>(M) * N2), out1(out0.size());
  LayerNormArgs l;
  l.inp = x.data(); l.out = y.data(); l.weight = lw.data(); l.bias = lb.data(); l.N = M; l.C = K; l.eps = 1e-12f;
  GemmArgs g1;
  g1.M = M; g1.N = N1; g1.K = K; g1.a = y.data(); g1.lda = K; g1.b_packed = p1.data(); g1.bias = b1.data();
  g1.act = Activation::kGeluErf; g1.c = h.data(); g1.ldc = N1;
  GemmArgs g2;
  g2.M = M; g2.N = N2; g2.K = N1; g2.a = h.data(); g2.lda = N1; g2.b_packed = p2.data(); g2.bias = b2.data();
  g2.residual = res.data(); g2.ldr = N2; g2.c = out0.data(); g2.ldc = N2;
  k.layernorm(l);
  k.gemm(g1);
  k.gemm(g2);
  l.packed = yp.data();
  k.layernorm(l);
  g1.a = nullptr; g1.a_packed = yp.data(); g1.c = nullptr; g1.c_packed = hp.data();
  k.gemm(g1);
  g2.a = nullptr; g2.a_packed = hp.data(); g2.c = out1.data();
  k.gemm(g2);
  double worst = 0;
  for (size_t i = 0; i < out0.size(); ++i) worst = fmax(worst, fabs(out0[i] - out1[i]));
  char what[96];
  snprintf(what, sizeof(what), "packed handover M=%d K=%d N1=%d N2=%d (bit for bit)", M, K, N1, N2);
  check(memcmp(out0.data(), out1.data(), sizeof(float) * out0.size()) == 0, what, worst);
}

// lengths[i] real tokens, query_only[i]: an extra first row that is a query only. R > 0 adds DeBERTa's
// disentangled terms: both (R, H) position tables, read through a nondecreasing clamped map. query_rows > 0
// computes each sequence's first query_rows rows alone (every other ctx row must stay as it was).
static void test_attention(const Kernels& ref, const Kernels& k, std::vector<int> lengths, std::vector<int> query_only,
                           int NH, int HS, int T, int R = 0, int query_rows = 0) {
  std::vector<SequenceSpan> spans;
  std::vector<int> slot;
  int row = 0;
  for (size_t s = 0; s < lengths.size(); ++s) {
    SequenceSpan sp;
    sp.row_begin = row;
    if (query_only[s]) { slot.push_back(0); ++row; }
    sp.key_begin = row;
    for (int t = 0; t < lengths[s]; ++t) slot.push_back(t + query_only[s]);
    row += lengths[s];
    sp.row_end = row;
    spans.push_back(sp);
  }
  const int N = row, H = NH * HS, B = static_cast<int>(lengths.size());
  std::mt19937 rng(N + H);
  auto qkv = randn(static_cast<size_t>(N) * 3 * H, rng);
  std::vector<float> pos_key, pos_query;
  std::vector<int> pos_col;
  if (R > 0) {
    pos_key = randn(static_cast<size_t>(R) * H, rng);
    pos_query = randn(static_cast<size_t>(R) * H, rng);
    for (int d = -(T - 1); d < T; ++d) {  // log-like buckets: distances share rows past ±3
      const int far = d < 0 ? -d : d, bucket = far <= 3 ? far : 3 + (far - 3) / 4;
      const int col = (d < 0 ? -bucket : bucket) + R / 2;
      pos_col.push_back(col < 0 ? 0 : col >= R ? R - 1 : col);
    }
  }
  double worst = 0;
  std::vector<float> ctx[2], probs[2];
  const Kernels* ks[2] = {&ref, &k};
  for (int i = 0; i < 2; ++i) {
    ctx[i].assign(static_cast<size_t>(N) * H, -1.0f);
    probs[i].assign(static_cast<size_t>(B) * NH * T * T, 0.0f);
    const ThreadLease lease;
    AttentionArgs a;
    a.ctx = ctx[i].data(); a.ld_ctx = H; a.probs = probs[i].data(); a.slot = slot.data(); a.qkv = qkv.data();
    a.ld_qkv = 3 * H; a.seqs = spans.data(); a.B = B; a.NH = NH; a.HS = HS; a.T = T; a.scale = 1.0f / sqrtf(HS);
    a.threads = lease.threads();
    a.query_rows = query_rows;
    if (R > 0) {
      a.pos_key = pos_key.data(); a.pos_query = pos_query.data(); a.ld_pos = H; a.pos_col = pos_col.data();
      a.rel_span = T; a.scale = 1.0f / sqrtf(3.0f * HS);
    }
    a.scratch_floats = ks[i]->attention_scratch_floats(T, HS, R);
    std::vector<float> scratch(a.scratch_floats * a.threads);
    a.scratch = scratch.data();
    ks[i]->attention(a);
  }
  for (size_t i = 0; i < ctx[0].size(); ++i) worst = fmax(worst, fabs(ctx[0][i] - ctx[1][i]));
  for (size_t i = 0; i < probs[0].size(); ++i) worst = fmax(worst, fabs(probs[0][i] - probs[1][i]));
  char what[96];
  snprintf(what, sizeof(what), "attention B=%d NH=%d HS=%d T=%d R=%d query_rows=%d", B, NH, HS, T, R, query_rows);
  check(worst <= (R > 0 ? 2e-5 : 2e-6), what, worst);
}

// gemm_bf16 / gemm_int8 of level k against the scalar reference. For a level whose bf16 GEMM rounds
// the activations (AVX512-BF16's vdpbf16ps), the reference gets A rounded to bf16 beforehand.
// Tolerances: bf16 as the fp32 GEMM's (2.4e-5 of Σ|a·w|); int8: the int32 sums are exact, the
// epilogue's fp32 rounding remains (1e-5 of Σ|a·w|).
static void test_lowp(const Kernels& ref, const Kernels& k, bool int8, int M, int N, int K, Activation act, bool residual) {
  std::mt19937 rng(M * 131 + N * 7 + K + (int8 ? 1 : 0));
  auto a = randn(static_cast<size_t>(M) * K, rng), w = randn(static_cast<size_t>(N) * K, rng), b = randn(N, rng);
  if (K > 3) for (int m = 0; m < M; ++m) a[static_cast<size_t>(m) * K + 2] *= 30.0f;  // an outlier channel
  auto r = randn(static_cast<size_t>(M) * N, rng);
  auto a_ref = a;
  if (!int8 && k.bf16_rounds_activations) {
    for (auto& x : a_ref) x = bf16_to_float(bf16_from_float(x));
  }
  const size_t br = int8 ? ref.packed_int8_bytes(N, K) : ref.packed_bf16_bytes(N, K);
  const size_t bk = int8 ? k.packed_int8_bytes(N, K) : k.packed_bf16_bytes(N, K);
  std::vector<float> pr((br + 3) / 4 + 16), pk((bk + 3) / 4 + 16);
  if (int8) {
    ref.pack_weight_int8(pr.data(), w.data(), N, K);
    k.pack_weight_int8(pk.data(), w.data(), N, K);
  } else {
    ref.pack_weight_bf16(pr.data(), w.data(), N, K);
    k.pack_weight_bf16(pk.data(), w.data(), N, K);
  }
  std::vector<float> c0(static_cast<size_t>(M) * N), c1(static_cast<size_t>(M) * N);
  GemmArgs g;
  g.M = M; g.N = N; g.K = K; g.lda = K; g.bias = b.data(); g.act = act;
  g.residual = residual ? r.data() : nullptr; g.ldr = N; g.ldc = N;
  g.a = a_ref.data(); g.b_lowp = pr.data(); g.c = c0.data();
  (int8 ? ref.gemm_int8 : ref.gemm_bf16)(g);
  g.a = a.data(); g.b_lowp = pk.data(); g.c = c1.data();
  (int8 ? k.gemm_int8 : k.gemm_bf16)(g);
  double worst;
  const bool ok = within_dot_tolerance(a, w, c0, c1, M, N, K, int8 ? 1e-5 : 2.4e-5, &worst);
  char what[160];
  snprintf(what, sizeof(what), "%s %s M=%d N=%d K=%d act=%d residual=%d", int8 ? "gemm_int8" : "gemm_bf16",
           int8 ? k.int8_kernel : k.bf16_kernel, M, N, K, static_cast<int>(act), residual);
  check(ok, what, worst);
}

// The vectorised activation quantizer against the scalar one: identical codes, scale, zero point,
// outliers and residuals, on rows with outlier channels, ties, zeros, a NaN and an inf.
static void test_quantize_act(const Kernels& ref, const Kernels& k, int K) {
  std::mt19937 rng(K);
  std::vector<std::vector<float>> rows;
  rows.push_back(randn(K, rng));
  rows.push_back(rows[0]);
  for (int i : {0, K / 2, K - 1}) rows.back()[i] *= 40.0f;
  rows.push_back(std::vector<float>(K, 0.0f));
  rows.push_back(std::vector<float>(K, 1.0f));
  rows.push_back(randn(K, rng, 2.0f));
  for (float& x : rows.back()) x = nearbyintf(x);  // ties
  rows.push_back(rows[0]);
  rows.back()[K / 3] = NAN;
  rows.push_back(rows[0]);
  rows.back()[K / 2] = INFINITY;
  bool ok = true;
  for (const auto& a : rows) {
    std::vector<uint8_t> q0(K), q1(K);
    float s0, s1, r0[kActOutliers], r1[kActOutliers];
    int32_t z0, z1, i0[kActOutliers], i1[kActOutliers];
    ref.quantize_act_row(q0.data(), &s0, &z0, i0, r0, a.data(), K, K);
    k.quantize_act_row(q1.data(), &s1, &z1, i1, r1, a.data(), K, K);
    ok = ok && q0 == q1 && s0 == s1 && z0 == z1 && memcmp(i0, i1, sizeof(i0)) == 0;
    for (int o = 0; o < kActOutliers; ++o) ok = ok && (r0[o] == r1[o] || (r0[o] != r0[o] && r1[o] != r1[o]));
  }
  char what[128];
  snprintf(what, sizeof(what), "quantize_act_row K=%d (%zu rows, bit for bit)", K, rows.size());
  check(ok, what, 0.0);
}

// pack_weight then unpack_weight gives the weight back bit for bit (state_dict() of a float32 model).
static void test_unpack(const Kernels& k, int N, int K) {
  std::mt19937 rng(N * 1000 + K);
  std::vector<float> w = randn(static_cast<size_t>(N) * K, rng), back(w.size(), -1.0f);
  std::vector<float> packed(k.packed_weight_size(N, K) + 16);
  k.pack_weight(packed.data(), w.data(), N, K);
  k.unpack_weight(back.data(), packed.data(), N, K);
  char what[128];
  snprintf(what, sizeof(what), "unpack_weight N=%d K=%d (bit for bit)", N, K);
  check(memcmp(w.data(), back.data(), sizeof(float) * w.size()) == 0, what, 0.0);
}

int main() {
  Kernels ref, k;
  fill_kernels_ref(&ref);
  k = ref;
  fill_kernels_avx512(&k);
  printf("level under test: %s (SIMDe emulation)\n", k.name);
  const int shapes[][3] = {{1, 1, 1}, {1, 33, 7}, {5, 17, 300}, {13, 40, 1}, {7, 3, 513}, {75, 130, 97}, {30, 70, 400}};
  for (auto& s : shapes) {
    for (int act = 0; act <= 6; ++act) test_gemm(ref, k, s[0], s[1], s[2], static_cast<Activation>(act), act == 1);
  }
  test_activations(ref, k);
  const int unpack[][2] = {{1, 1}, {33, 7}, {17, 300}, {3, 513}, {130, 97}};
  for (auto& s : unpack) test_unpack(k, s[0], s[1]);
  const int ln[][2] = {{1, 1}, {3, 7}, {5, 37}, {64, 768}, {2, 1000}};
  for (auto& s : ln) test_layernorm(ref, k, s[0], s[1]);
  // M spanning several row blocks; N1 over several K blocks of the second GEMM, ending in a partial panel.
  const int chains[][4] = {{1, 7, 5, 3}, {13, 300, 517, 37}, {128, 384, 416, 40}, {300, 200, 70, 9}};
  for (auto& s : chains) test_packed_chain(k, s[0], s[1], s[2], s[3]);
  test_attention(ref, k, {1}, {0}, 1, 4, 1);
  test_attention(ref, k, {3, 0, 5}, {0, 1, 1}, 3, 9, 7);
  test_attention(ref, k, {33, 1, 17}, {0, 0, 1}, 2, 16, 40);
  test_attention(ref, k, {70}, {0}, 4, 24, 70);
  test_attention(ref, k, {513}, {0}, 2, 64, 513);
  test_attention(ref, k, {33, 1, 17}, {0, 0, 1}, 2, 16, 40, 0, 1);
  test_attention(ref, k, {70, 2}, {1, 0}, 3, 24, 71, 0, 40);
  test_attention(ref, k, {40, 511}, {1, 1}, 2, 32, 513);
  test_attention(ref, k, {3, 0, 5}, {0, 1, 1}, 3, 9, 7, 6);
  test_attention(ref, k, {33, 1, 17}, {0, 0, 1}, 2, 16, 40, 64);
  test_attention(ref, k, {300}, {1}, 2, 64, 301, 512);
  test_attention(ref, k, {33, 1, 17}, {0, 0, 1}, 2, 16, 40, 64, 1);
  // Low precision: the AVX-512 level's own (widening bf16, vpmaddubsw int8), then AVX512-BF16's and
  // AVX512-VNNI's, which dispatch.cc installs only when CPUID reports them.
  Kernels ref_lowp = ref, k_lowp = k;
  fill_lowp_ref(&ref_lowp);
  fill_lowp_avx512(&k_lowp);
  Kernels k_bf16 = k_lowp, k_vnni = k_lowp;
  fill_lowp_avx512bf16(&k_bf16);
  fill_lowp_avx512vnni(&k_vnni);
  const int lowp_shapes[][3] = {{1, 1, 1}, {1, 33, 7}, {5, 17, 300}, {13, 40, 1}, {7, 3, 513}, {75, 130, 97}, {30, 70, 400}, {140, 64, 256}};
  for (auto& s : lowp_shapes) {
    for (int act = 0; act <= 1; ++act) {
      test_lowp(ref_lowp, k_lowp, false, s[0], s[1], s[2], static_cast<Activation>(act), act == 1);
      test_lowp(ref_lowp, k_bf16, false, s[0], s[1], s[2], static_cast<Activation>(act), act == 1);
      test_lowp(ref_lowp, k_lowp, true, s[0], s[1], s[2], static_cast<Activation>(act), act == 1);
      test_lowp(ref_lowp, k_vnni, true, s[0], s[1], s[2], static_cast<Activation>(act), act == 1);
    }
  }
  // AVX512-BF16's attention products (a bf16 model's attention_bf16): odd head sizes (a lone last d),
  // head sizes off the 32-column panels, key counts off 32 and odd, several query blocks, windows.
  Kernels k_bf16_attention = k;
  fill_attention_avx512bf16(&k_bf16_attention);
  test_attention_bf16(ref, k_bf16_attention, {1, 37, 70}, 3, 64, 0);
  test_attention_bf16(ref, k_bf16_attention, {130, 5}, 2, 40, 0);
  test_attention_bf16(ref, k_bf16_attention, {3, 33, 1}, 2, 9, 0);
  test_attention_bf16(ref, k_bf16_attention, {90}, 2, 24, 11);
  test_attention_bf16(ref, k_bf16_attention, {1, 37, 70}, 3, 64, 0, 1);
  test_attention_bf16(ref, k_bf16_attention, {90}, 2, 24, 11, 33);
  test_attention_bf16(ref, k_bf16_attention, {513, 31}, 2, 64, 0);
  const int qk[] = {1, 3, 4, 5, 15, 16, 17, 33, 100, 768};
  for (int K : qk) test_quantize_act(ref_lowp, k_lowp, K);
  printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
