// amx_emulate_test.cc — runs the AMX kernel level (csrc/kernels/amx/lowp_amx.cc) on a CPU without AMX,
// through amx_tile_emulate.h (the tile instructions in plain C++) and SIMDe (AVX-512), and checks it
// against the scalar reference level and, for int8, bit for bit against the AVX512-VNNI level (SIMDe).
//
// Build (test only, never shipped): cmake -DPYBERTCORE_AMX_EMULATE_TEST=ON ... && ninja amx_emulate_test
// Also checks the tile discipline: every thread that configured its tiles released them by the time a
// GEMM returns (the emulation aborts on a tile operation by a thread that has not configured its tiles).
// Exit status 0 when every check passes. Tolerances are avx512_simde_test.cc's (tests/test_kernels.py).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <random>
#include <vector>

#include "amx_tile_emulate.h"
#include "kernels/kernels.h"
#include "kernels/quantize.h"
#include "runtime/cpu.h"
#include "runtime/threads.h"

#if defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 11)  // compilers that know the AMX target
#include <immintrin.h>
#define PBC_AMX_HW_CHECK 1
#endif

using namespace pbc;

static int failures = 0;

static void check(bool ok, const char* what, double err) {
  printf("%-72s %s (err %.3g)\n", what, ok ? "ok" : "FAIL", err);
  if (!ok) ++failures;
}

static std::vector<float> randn(size_t n, std::mt19937& rng, float s = 1.0f) {
  std::normal_distribution<float> d(0.0f, s);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Run {
  std::vector<float> a, w, b, r, c;
};

// level k's gemm_bf16 or gemm_int8 of A (M, K) · W (N, K)ᵀ + b, then GELU (act 1) and the residual r
// (M, N), or plain (act 0: r unused).
static std::vector<float> run(const Kernels& k, bool int8, const std::vector<float>& a, const std::vector<float>& w,
                              const std::vector<float>& b, const std::vector<float>& r, int M, int N, int K, int act) {
  const size_t bytes = int8 ? k.packed_int8_bytes(N, K) : k.packed_bf16_bytes(N, K);
  std::vector<float> packed((bytes + 3) / 4 + 1);  // exact (+1 for K = 0): ASan builds check the bounds
  (int8 ? k.pack_weight_int8 : k.pack_weight_bf16)(packed.data(), w.data(), N, K);
  // Row strides past the row lengths (as an encoder's views into wider buffers have): A, C and the
  // residual each padded with values the GEMM must neither read into its results nor overwrite.
  const int lda = K + 3, ldc = N + 5, ldr = N + 2;
  std::vector<float> ap(static_cast<size_t>(M) * lda, NAN), rp(static_cast<size_t>(M) * ldr, NAN);
  std::vector<float> cp(static_cast<size_t>(M) * ldc, -7.0f);
  for (int m = 0; m < M; ++m) {
    for (int i = 0; i < K; ++i) ap[static_cast<size_t>(m) * lda + i] = a[static_cast<size_t>(m) * K + i];
    for (int n = 0; act && n < N; ++n) rp[static_cast<size_t>(m) * ldr + n] = r[static_cast<size_t>(m) * N + n];
  }
  GemmArgs g;
  g.M = M; g.N = N; g.K = K; g.lda = lda; g.bias = b.data(); g.act = static_cast<Activation>(act);
  g.residual = act ? rp.data() : nullptr; g.ldr = ldr; g.ldc = ldc;
  g.a = ap.data(); g.b_lowp = packed.data(); g.c = cp.data();
  {
    const ThreadLease lease;
    (int8 ? k.gemm_int8 : k.gemm_bf16)(g);
  }
  std::vector<float> c(static_cast<size_t>(M) * N);
  bool padding_kept = true;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) c[static_cast<size_t>(m) * N + n] = cp[static_cast<size_t>(m) * ldc + n];
    for (int n = N; n < ldc; ++n) padding_kept = padding_kept && cp[static_cast<size_t>(m) * ldc + n] == -7.0f;
  }
  if (!padding_kept) c.assign(c.size(), NAN);  // fails every comparison
  return c;
}

static void test_lowp(const Kernels& ref, const Kernels& amx, const Kernels& vnni, bool int8, int M, int N, int K, int act) {
  std::mt19937 rng(M * 131 + N * 7 + K + (int8 ? 1 : 0));
  auto a = randn(static_cast<size_t>(M) * K, rng), w = randn(static_cast<size_t>(N) * K, rng), b = randn(N, rng);
  if (K > 3) for (int m = 0; m < M; ++m) a[static_cast<size_t>(m) * K + 2] *= 30.0f;  // an outlier channel
  auto r = randn(static_cast<size_t>(M) * N, rng);
  auto a_ref = a;
  if (!int8) for (auto& x : a_ref) x = bf16_to_float(bf16_from_float(x));  // tdpbf16ps rounds A too
  const std::vector<float> c0 = run(ref, int8, a_ref, w, b, r, M, N, K, act);
  const std::vector<float> c1 = run(amx, int8, a, w, b, r, M, N, K, act);
  const bool released = pbc_emu_threads_holding_tiles.load() == 0 && !pbc_emu_tiles.configured;
  // Each element may differ by tol times the size of its dot product (1 + Σ|a·w|).
  const double tol = int8 ? 1e-5 : 2.4e-5;
  bool ok = true;
  double worst = 0;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double scale = 1;
      for (int i = 0; i < K; ++i) scale += fabs(a[static_cast<size_t>(m) * K + i] * w[static_cast<size_t>(n) * K + i]);
      const double e = fabs(c0[static_cast<size_t>(m) * N + n] - c1[static_cast<size_t>(m) * N + n]);
      worst = e > worst ? e : worst;
      if (!(e <= tol * scale)) ok = false;
    }
  }
  char what[160];
  snprintf(what, sizeof(what), "%s M=%d N=%d K=%d act=%d", int8 ? amx.int8_kernel : amx.bf16_kernel, M, N, K, act);
  check(ok, what, worst);
  snprintf(what, sizeof(what), "  tiles released on every thread after it");
  check(released, what, 0.0);
  if (int8) {
    const std::vector<float> c2 = run(vnni, int8, a, w, b, r, M, N, K, act);
    snprintf(what, sizeof(what), "  the same bits as %s", vnni.int8_kernel);
    check(memcmp(c1.data(), c2.data(), sizeof(float) * c1.size()) == 0, what, 0.0);
  }
}

// A row's result does not depend on the rows around it (tile rows, M < 16 tile shapes, the grid).
static void test_rows_independent(const Kernels& amx, bool int8, int M, int N, int K) {
  std::mt19937 rng(M + N + K);
  auto a = randn(static_cast<size_t>(M) * K, rng), w = randn(static_cast<size_t>(N) * K, rng), b = randn(N, rng);
  const std::vector<float> all = run(amx, int8, a, w, b, b, M, N, K, 0);
  bool ok = true;
  for (int m = 0; m < M; m += 7) {
    std::vector<float> row(a.begin() + static_cast<size_t>(m) * K, a.begin() + static_cast<size_t>(m + 1) * K);
    const std::vector<float> one = run(amx, int8, row, w, b, b, 1, N, K, 0);
    ok = ok && memcmp(one.data(), all.data() + static_cast<size_t>(m) * N, sizeof(float) * N) == 0;
  }
  char what[160];
  snprintf(what, sizeof(what), "%s M=%d N=%d K=%d: each row alone gives the same bits",
           int8 ? amx.int8_kernel : amx.bf16_kernel, M, N, K);
  check(ok, what, 0.0);
}

// The FFN's handover: gemm_bf16 writing bf16(GELU(A·W1ᵀ + b1)) into the tile layout (c_packed), the next
// reading it (a_packed) gives the bits of the two GEMMs through fp32 (the same rounding, done once). The
// handover buffer starts as NaN: whatever the second GEMM reads must have been written by the first.
static void test_bf16_handover(const Kernels& amx, int M, int I, int H) {
  std::mt19937 rng(M * 3 + I + H);
  auto a = randn(static_cast<size_t>(M) * H, rng), w1 = randn(static_cast<size_t>(I) * H, rng, 0.2f);
  auto b1 = randn(I, rng), w2 = randn(static_cast<size_t>(H) * I, rng, 0.2f), b2 = randn(H, rng);
  auto r = randn(static_cast<size_t>(M) * H, rng);
  const std::vector<float> zero(static_cast<size_t>(M) * I, 0.0f);
  const std::vector<float> mid = run(amx, false, a, w1, b1, zero, M, I, H, 1);  // GELU; + 0.0 keeps every value
  const std::vector<float> want = run(amx, false, mid, w2, b2, r, M, H, I, 1);
  std::vector<float> p1((amx.packed_bf16_bytes(I, H) + 3) / 4 + 1), p2((amx.packed_bf16_bytes(H, I) + 3) / 4 + 1);
  amx.pack_weight_bf16(p1.data(), w1.data(), I, H);
  amx.pack_weight_bf16(p2.data(), w2.data(), H, I);
  std::vector<float> handover(amx.packed_a_bf16_floats(M, I), NAN), got(static_cast<size_t>(M) * H);
  {
    const ThreadLease lease;
    GemmArgs g;
    g.M = M; g.N = I; g.K = H; g.a = a.data(); g.lda = H; g.bias = b1.data(); g.act = Activation::kGeluErf;
    g.b_lowp = p1.data(); g.c_packed = handover.data();
    amx.gemm_bf16(g);
    GemmArgs g2;
    g2.M = M; g2.N = H; g2.K = I; g2.a_packed = handover.data(); g2.bias = b2.data(); g2.act = Activation::kGeluErf;
    g2.residual = r.data(); g2.ldr = H; g2.b_lowp = p2.data(); g2.c = got.data(); g2.ldc = H;
    amx.gemm_bf16(g2);
  }
  char what[160];
  snprintf(what, sizeof(what), "%s M=%d I=%d H=%d: bf16 handover between GEMMs, the same bits", amx.bf16_kernel, M,
           I, H);
  check(memcmp(want.data(), got.data(), sizeof(float) * got.size()) == 0, what, 0.0);
}

#ifdef PBC_AMX_HW_CHECK
// Where the CPU has AMX: the emulation's tile operations against the hardware's on random tiles.
// tdpbusd must agree bit for bit. tdpbf16ps is emulated as the SDM's pseudo-code (an fp32 add rounded
// after every product); the hardware sums differently (undocumented: on an Emerald Rapids Xeon ~1/3 of
// the elements differ from the pseudo-code, ~1/10 from the closest model found, an fp32 tree of the
// products added to C last), so it is held to a tolerance: 2⁻¹⁹ of Σ|products| + |C| per element.
__attribute__((target("amx-tile,amx-bf16,amx-int8"))) static void check_emulation_against_hardware() {
  alignas(64) uint8_t cfg[64] = {};
  cfg[0] = 1;
  for (int t = 0; t < 8; ++t) cfg[16 + 2 * t] = 64, cfg[48 + t] = 16;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  long bf_bad = 0, i8_bad = 0, n = 0;
  double bf_worst = 0;
  for (int it = 0; it < 200; ++it) {
    alignas(64) uint16_t a[512], b[512];
    alignas(64) float c[256], c_hw[256], c_emu[256];
    alignas(64) uint8_t a8[1024], b8[1024];
    alignas(64) int32_t ci[256], ci_hw[256], ci_emu[256];
    for (int i = 0; i < 512; ++i) a[i] = bf16_from_float(nd(rng)), b[i] = bf16_from_float(nd(rng));
    for (int i = 0; i < 256; ++i) c[i] = nd(rng) * 4.0f, ci[i] = static_cast<int32_t>(rng());
    for (int i = 0; i < 1024; ++i) a8[i] = static_cast<uint8_t>(rng()), b8[i] = static_cast<uint8_t>(rng());
    _tile_loadconfig(cfg);
    _tile_loadd(0, c, 64);
    _tile_loadd(1, a, 64);
    _tile_loadd(2, b, 64);
    _tile_dpbf16ps(0, 1, 2);
    _tile_stored(0, c_hw, 64);
    _tile_loadd(3, ci, 64);
    _tile_loadd(4, a8, 64);
    _tile_loadd(5, b8, 64);
    _tile_dpbusd(3, 4, 5);
    _tile_stored(3, ci_hw, 64);
    _tile_release();
    pbc_emu_tile_loadconfig(cfg);
    pbc_emu_tile_loadd(0, c, 64);
    pbc_emu_tile_loadd(1, a, 64);
    pbc_emu_tile_loadd(2, b, 64);
    pbc_emu_tile_dpbf16ps(0, 1, 2);
    pbc_emu_tile_stored(0, c_emu, 64);
    pbc_emu_tile_loadd(3, ci, 64);
    pbc_emu_tile_loadd(4, a8, 64);
    pbc_emu_tile_loadd(5, b8, 64);
    pbc_emu_tile_dpbusd(3, 4, 5);
    pbc_emu_tile_stored(3, ci_emu, 64);
    pbc_emu_tile_release();
    for (int m = 0; m < 16; ++m) {
      for (int j = 0; j < 16; ++j) {
        double mag = fabs(c[m * 16 + j]);
        for (int k = 0; k < 32; ++k) mag += fabs(bf16_to_float(a[m * 32 + k]) * bf16_to_float(b[(k / 2) * 32 + 2 * j + k % 2]));
        const double e = fabs(static_cast<double>(c_hw[m * 16 + j]) - c_emu[m * 16 + j]);
        bf_worst = e / mag > bf_worst ? e / mag : bf_worst;
        bf_bad += e > mag * 0x1p-19;
        i8_bad += ci_hw[m * 16 + j] != ci_emu[m * 16 + j];
        ++n;
      }
    }
  }
  char what[160];
  snprintf(what, sizeof(what), "emulated tdpbusd = the hardware's, bit for bit (%ld elements)", n);
  check(i8_bad == 0, what, static_cast<double>(i8_bad));
  snprintf(what, sizeof(what), "emulated tdpbf16ps within 2^-19 of the hardware's (relative to the sums' size)");
  check(bf_bad == 0, what, bf_worst);
}
#endif

#include "attention_bf16_check.h"

int main() {
  Kernels ref;
  fill_kernels_ref(&ref);
  fill_lowp_ref(&ref);
  Kernels amx = ref, vnni = ref;
  fill_lowp_amx(&amx);
  fill_attention_amx(&amx);
  fill_lowp_avx512vnni(&vnni);
  printf("AMX kernels under test through the tile emulation: %s, %s\n", amx.bf16_kernel, amx.int8_kernel);
  // M: one row, under one tile, one tile, a tile and one, two tiles and one, several row blocks; N and
  // K off the tile sizes (16 columns, 32 bf16 / 64 u8 of K) and the weight group (128).
  const int shapes[][3] = {{1, 1, 1},    {1, 33, 7},    {5, 17, 300},  {13, 40, 1},  {16, 32, 64},
                           {17, 70, 129}, {33, 48, 256}, {7, 3, 513},   {75, 130, 97}, {140, 64, 200},
                           {1, 16, 0}};
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    printf("--- %d thread(s)\n", threads);
    for (auto& s : shapes) {
      for (int act = 0; act <= 1; ++act) {
        test_lowp(ref, amx, vnni, false, s[0], s[1], s[2], act);
        test_lowp(ref, amx, vnni, true, s[0], s[1], s[2], act);
      }
    }
  }
  test_rows_independent(amx, false, 40, 35, 150);
  test_rows_independent(amx, false, 600, 200, 100);  // runs of rows, blocks of panels, prefetches
  test_rows_independent(amx, true, 600, 200, 100);
  test_bf16_handover(amx, 1, 70, 33);
  test_bf16_handover(amx, 45, 130, 64);
  test_bf16_handover(amx, 300, 100, 40);
  test_rows_independent(amx, true, 40, 35, 150);
  // key counts off 16 and 32, a sequence of one token, head sizes off the tiles, several query blocks, a window
  test_attention_bf16(ref, amx, {1, 37, 70}, 3, 64, 0);
  test_attention_bf16(ref, amx, {130, 5}, 2, 40, 0);
  test_attention_bf16(ref, amx, {90}, 2, 24, 11);
  test_attention_bf16(ref, amx, {1, 37, 70}, 3, 64, 0, 1);
  test_attention_bf16(ref, amx, {90}, 2, 24, 11, 33);
#ifdef PBC_AMX_HW_CHECK
  const CpuFeatures& f = cpu_features();  // (asks Linux for the tile data permission)
  if (f.amx_tile && f.amx_bf16 && f.amx_int8 && f.os_amx && f.amx_permitted) {
    check_emulation_against_hardware();
  } else {
    printf("(no AMX on this CPU: the emulation is not compared with the hardware)\n");
  }
#endif
  printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
