// bench_core.cc — times pybertcore's C++ core without Python: the packed GEMM and a whole encoder
// forward pass with random weights (bert-base or MiniLM shapes), for people embedding the library.
//
// Build: cmake -DPYBERTCORE_BUILD_BENCH=ON ... && ninja bench_core
// Run:   ./bench_core [--threads N] [--isa scalar|avx2|avx512|...|amx] [--dtype float32|bfloat16|int8]
//                     [--reps R] [--cpu-time] [--cold] [--gemm M N K]... [--model base|minilm --batch B --seq T]...
// --dtype: the precision of every linear layer (the GEMMs and the encoder's dense layers), as
// from_pretrained(torch_dtype=...) picks it; float32 by default.
// --cpu-time: time the calling thread's CPU time instead of the wall clock (single-thread runs on a
// shared core: time slices given to other work are not counted; their cache damage still is).
// --cold: each GEMM rep uses the next of several weight copies (together ≥ 96 MB, past L3), so the
// weights stream from memory as in a whole forward pass instead of staying cached between reps.
// With no --gemm/--model it runs the default set: the 4096×768·768×3072 GEMM, bert-base at 1×128 and
// 32×128, MiniLM at 1×128. Prints the median and best time of R runs after one warm-up.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "model/builder.h"
#include "model/encoder.h"
#include "runtime/threads.h"

using namespace pbc;

namespace {

struct Shape {
  std::string name;
  int L, H, NH, I, V = 30522, P = 512;
};

std::vector<float> random_vec(size_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

Precision g_precision = Precision::kFloat32;

Dense random_dense(const Kernels& k, int N, int K, std::mt19937& rng) {
  std::vector<float> w = random_vec(static_cast<size_t>(N) * K, rng, 0.02f);
  std::vector<float> b = random_vec(N, rng, 0.02f);
  return Dense(k, w.data(), b.data(), N, K, g_precision);
}

Norm random_norm(int C) { return Norm{WeightVector(C, 1.0f), WeightVector(C, 0.0f)}; }

WeightVector random_weights(size_t n, std::mt19937& rng, float scale) {
  std::vector<float> v = random_vec(n, rng, scale);
  return WeightVector(v.begin(), v.end());
}

bool g_cpu_time = false;
bool g_cold = false;

double now_ms() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
void time_it(const char* label, double gflop, int reps, F&& f) {
  f();  // warm-up: workspaces, page faults, thread team
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now_ms();
    f();
    ms.push_back(now_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  std::printf("%-34s median %9.2f ms  best %9.2f ms  %7.1f GFLOP/s\n", label, med, ms[0], gflop / (med / 1e3));
  std::fflush(stdout);
}

void bench_gemm(const Kernels& k, int M, int N, int K, int reps) {
  std::mt19937 rng(1);
  const size_t weight_bytes = static_cast<size_t>(N) * K * sizeof(float);
  const size_t copies = g_cold ? (96u << 20) / weight_bytes + 1 : 1;
  std::vector<Dense> d;
  for (size_t i = 0; i < copies; ++i) d.push_back(random_dense(k, N, K, rng));
  std::vector<float> a = random_vec(static_cast<size_t>(M) * K, rng, 1.0f);
  std::vector<float> c(static_cast<size_t>(M) * N);
  char label[96];
  std::snprintf(label, sizeof(label), "gemm %dx%dx%d %s%s", M, N, K, precision_name(g_precision),
                g_cold ? " cold" : "");
  size_t next = 0;
  time_it(label, 2.0 * M * N * K / 1e9, reps, [&] {
    const ThreadLease lease;
    d[next].forward(c.data(), N, a.data(), K, M, Activation::kIdentity);
    next = (next + 1) % copies;
  });
}

void bench_model(const Kernels& k, const Shape& s, int B, int T, int reps) {
  std::mt19937 rng(2);
  EncoderConfig c;
  c.V = s.V;
  c.P = s.P;
  c.TV = 2;
  c.E = s.H;
  c.H = s.H;
  c.NH = s.NH;
  c.I = s.I;
  c.L = s.L;
  EncoderWeights w;
  w.word_embeddings = random_weights(static_cast<size_t>(c.V) * c.H, rng, 0.02f);
  w.position_embeddings = random_weights(static_cast<size_t>(c.P) * c.H, rng, 0.02f);
  w.token_type_embeddings = random_weights(static_cast<size_t>(c.TV) * c.H, rng, 0.02f);
  w.embedding_norm = random_norm(c.H);
  for (int l = 0; l < c.L; ++l) {
    LayerWeights lw;
    lw.qkv = random_dense(k, 3 * c.H, c.H, rng);
    lw.attn_out = random_dense(k, c.H, c.H, rng);
    lw.attn_norm = random_norm(c.H);
    lw.ffn_in = random_dense(k, c.I, c.H, rng);
    lw.ffn_out = random_dense(k, c.H, c.I, rng);
    lw.ffn_norm = random_norm(c.H);
    w.layer_sets.push_back(std::move(lw));
    w.layer_map.push_back(l);
  }
  w.pooler = random_dense(k, c.H, c.H, rng);
  Encoder enc(c, std::move(w));
  std::vector<int64_t> ids(static_cast<size_t>(B) * T);
  std::uniform_int_distribution<int> tok(1000, c.V - 1);
  for (auto& id : ids) id = tok(rng);
  std::vector<float> last(static_cast<size_t>(B) * T * c.H), pooled(static_cast<size_t>(B) * c.H);
  ForwardInputs in;
  in.B = B;
  in.T = T;
  in.input_ids = ids.data();
  ForwardOutputs out;
  out.last_hidden_state = last.data();
  out.pooler_output = pooled.data();
  // Useful work: per layer 2·T·H·(3H + H + 2I) for the dense layers + 4·T²·H for attention.
  const double per_seq = c.L * (2.0 * T * c.H * (4.0 * c.H + 2.0 * c.I) + 4.0 * T * T * c.H);
  char label[96];
  std::snprintf(label, sizeof(label), "%s %dx%d %s", s.name.c_str(), B, T, precision_name(g_precision));
  time_it(label, B * per_seq / 1e9, reps, [&] { enc.forward(in, out); });
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10;
  std::vector<std::vector<int>> gemms;
  struct Run {
    std::string model;
    int B, T;
  };
  std::vector<Run> runs;
  std::string model = "base";
  int batch = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") {
      set_num_threads(std::atoi(next("--threads")));
    } else if (a == "--isa") {
      set_active_isa(parse_isa(next("--isa")));
    } else if (a == "--dtype") {
      g_precision = parse_precision(next("--dtype"));
    } else if (a == "--reps") {
      reps = std::max(1, std::atoi(next("--reps")));
    } else if (a == "--cpu-time") {
      g_cpu_time = true;
    } else if (a == "--cold") {
      g_cold = true;
    } else if (a == "--gemm") {
      const int M = std::atoi(next("M")), N = std::atoi(next("N")), K = std::atoi(next("K"));
      gemms.push_back({M, N, K});
    } else if (a == "--model") {
      model = next("--model");
    } else if (a == "--batch") {
      batch = std::atoi(next("--batch"));
    } else if (a == "--seq") {
      runs.push_back({model, batch, std::atoi(next("--seq"))});
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (gemms.empty() && runs.empty()) {
    gemms.push_back({4096, 3072, 768});
    runs = {{"base", 1, 128}, {"base", 32, 128}, {"minilm", 1, 128}};
  }
  const Kernels& k = active_kernels();
  std::printf("pybertcore core benchmark: isa %s (detected %s), %d threads, %d reps\n", k.name,
              isa_name(detected_isa()), num_threads(), reps);
  for (const auto& g : gemms) bench_gemm(k, g[0], g[1], g[2], reps);
  for (const Run& r : runs) {
    const Shape s = r.model == "minilm" ? Shape{"minilm", 6, 384, 12, 1536} : Shape{"bert-base", 12, 768, 12, 3072};
    bench_model(k, s, r.B, r.T, reps);
  }
  return 0;
}
