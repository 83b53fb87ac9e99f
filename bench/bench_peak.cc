// bench_peak.cc — the arithmetic peak of one core, measured: how many multiply-add instructions of each
// kind it retires per second when nothing else limits them (no loads, independent accumulators).
//
// Build: cmake -DPYBERTCORE_BUILD_BENCH=ON ... && ninja bench_peak
// Run:   ./bench_peak [--seconds S]      (one thread; prints one line per instruction this CPU runs)
//
// Why measured and not computed from a datasheet: the ratio between the kinds is not the same on every
// CPU, and the clock under load is not the nominal one. On the Emerald Rapids Xeon these benches were
// run on, vdpbf16ps retires at less than half the rate of vfmadd231ps, so its "bf16 doubles fp32"
// paper peak was four times what the unit can do; on Zen 4 the same instruction does double it. The
// fractions of peak bench_gemm.py reports are against these numbers (--bench-peak).
//
// Each loop runs 12 independent accumulators (more than latency × ports on the CPUs we target) in
// inline asm, so the compiler can neither merge the chains nor add register copies around them. Each
// kind runs in a function compiled for its own instruction set and only when CPUID (and the OS, for
// AMX) allows it; nothing else in the program is built for those sets.
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/cpu.h"

namespace {

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// 12 copies of one instruction on accumulators 4..15 (ymm/zmm), sources in register 0 and 1.
#define PBC_TWELVE(op, reg)                                                                                  \
  op " %%" reg "1, %%" reg "0, %%" reg "4\n\t" op " %%" reg "1, %%" reg "0, %%" reg "5\n\t" op " %%" reg      \
     "1, %%" reg "0, %%" reg "6\n\t" op " %%" reg "1, %%" reg "0, %%" reg "7\n\t" op " %%" reg "1, %%" reg    \
     "0, %%" reg "8\n\t" op " %%" reg "1, %%" reg "0, %%" reg "9\n\t" op " %%" reg "1, %%" reg "0, %%" reg     \
     "10\n\t" op " %%" reg "1, %%" reg "0, %%" reg "11\n\t" op " %%" reg "1, %%" reg "0, %%" reg "12\n\t" op    \
     " %%" reg "1, %%" reg "0, %%" reg "13\n\t" op " %%" reg "1, %%" reg "0, %%" reg "14\n\t" op " %%" reg     \
     "1, %%" reg "0, %%" reg "15\n\t"
#define PBC_VEC_CLOBBERS                                                                                     \
  "xmm0", "xmm1", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
      "xmm15"

// One loop per kind, compiled for its own instruction set; sources 0 and 1 start at zero (fp32 chains
// stay finite, integer lanes wrap harmlessly).
#define PBC_PEAK_LOOP(name, isa, op, reg)                                                                  \
  __attribute__((target(isa))) void name(long n) {                                                         \
    asm volatile("vpxor %%xmm0, %%xmm0, %%xmm0\n\tvpxor %%xmm1, %%xmm1, %%xmm1" ::: "xmm0", "xmm1");      \
    for (long i = 0; i < n; ++i) asm volatile(PBC_TWELVE(op, reg) ::: PBC_VEC_CLOBBERS);                  \
  }
PBC_PEAK_LOOP(fma_ymm, "avx2,fma", "vfmadd231ps", "ymm")
PBC_PEAK_LOOP(fma_zmm, "avx512f", "vfmadd231ps", "zmm")
PBC_PEAK_LOOP(bf16_zmm, "avx512f,avx512bf16", "vdpbf16ps", "zmm")
PBC_PEAK_LOOP(vnni_zmm, "avx512f,avx512vnni", "vpdpbusd", "zmm")

// int8 without VNNI (AVX2, AVX-512 F/BW): what simd/vec_lowp_*.h's vi_dot_u8s8 runs, vpmaddubsw to int16
// pair sums, vpmaddwd by ones to int32 quad sums, vpaddd into the accumulator: three instructions per
// 4 multiply-adds a lane, two of them on the multiply ports. Six chains (accumulators 4..9, temporaries
// 10..15, the ones in register 2).
#define PBC_DOT_U8S8(reg, t, acc)                                                                          \
  "vpmaddubsw %%" reg "1, %%" reg "0, %%" reg t "\n\tvpmaddwd %%" reg "2, %%" reg t ", %%" reg t             \
  "\n\tvpaddd %%" reg t ", %%" reg acc ", %%" reg acc "\n\t"
#define PBC_SIX_DOTS(reg)                                                                                   \
  PBC_DOT_U8S8(reg, "10", "4") PBC_DOT_U8S8(reg, "11", "5") PBC_DOT_U8S8(reg, "12", "6")                    \
      PBC_DOT_U8S8(reg, "13", "7") PBC_DOT_U8S8(reg, "14", "8") PBC_DOT_U8S8(reg, "15", "9")
#define PBC_DOT_LOOP(name, isa, reg)                                                                       \
  __attribute__((target(isa))) void name(long n) {                                                         \
    asm volatile("vpxor %%xmm0, %%xmm0, %%xmm0\n\tvpxor %%xmm1, %%xmm1, %%xmm1\n\t"                      \
                 "vpxor %%xmm2, %%xmm2, %%xmm2" ::: "xmm0", "xmm1", "xmm2");                               \
    for (long i = 0; i < n; ++i) asm volatile(PBC_SIX_DOTS(reg) ::: "xmm2", PBC_VEC_CLOBBERS);               \
  }
PBC_DOT_LOOP(dot_u8s8_ymm, "avx2", "ymm")
PBC_DOT_LOOP(dot_u8s8_zmm, "avx512f,avx512bw", "zmm")

// AMX: tiles 0-3 accumulate 16 × 16 int32/fp32 from tiles 4-7 (16 rows × 64 bytes), all zero. The
// palette-1 configuration is 64 bytes: palette, then 16-bit row widths of tiles 0..7 from byte 16 and
// 8-bit row counts from byte 48.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
void amx_configure() {
  static TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  asm volatile("ldtilecfg %0" ::"m"(cfg));
  asm volatile("tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3\n\t"
               "tilezero %%tmm4\n\ttilezero %%tmm5\n\ttilezero %%tmm6\n\ttilezero %%tmm7" ::);
}
#define PBC_EIGHT_TILES(op)                                                                                 \
  op " %%tmm4, %%tmm5, %%tmm0\n\t" op " %%tmm6, %%tmm7, %%tmm1\n\t" op " %%tmm4, %%tmm6, %%tmm2\n\t" op      \
     " %%tmm5, %%tmm7, %%tmm3\n\t" op " %%tmm4, %%tmm5, %%tmm0\n\t" op " %%tmm6, %%tmm7, %%tmm1\n\t" op        \
     " %%tmm4, %%tmm6, %%tmm2\n\t" op " %%tmm5, %%tmm7, %%tmm3\n\t"
__attribute__((target("amx-tile,amx-bf16"))) void amx_bf16(long n) {
  amx_configure();
  for (long i = 0; i < n; ++i) asm volatile(PBC_EIGHT_TILES("tdpbf16ps") ::);
  asm volatile("tilerelease" ::);
}
__attribute__((target("amx-tile,amx-int8"))) void amx_int8(long n) {
  amx_configure();
  for (long i = 0; i < n; ++i) asm volatile(PBC_EIGHT_TILES("tdpbusd") ::);
  asm volatile("tilerelease" ::);
}

struct Kind {
  const char* name;
  const char* unit;
  double ops_per_iteration;  // multiply-adds × 2 per loop iteration
  void (*loop)(long);
  bool runs;
};

// Best of 5 rounds of about `seconds` each, in G operations per second of this thread's CPU time.
double measure(const Kind& k, double seconds) {
  long n = 1000;
  for (;;) {  // size the rounds
    const double t0 = thread_seconds();
    k.loop(n);
    const double t = thread_seconds() - t0;
    if (t > seconds / 4 || n > (1L << 40)) break;
    n *= 4;
  }
  double best = 0.0;
  for (int r = 0; r < 5; ++r) {
    const double t0 = thread_seconds();
    k.loop(n);
    const double t = thread_seconds() - t0;
    const double g = k.ops_per_iteration * static_cast<double>(n) / t / 1e9;
    best = g > best ? g : best;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0.2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown argument %s (usage: bench_peak [--seconds S])\n", argv[i]);
      return 2;
    }
  }
  const pbc::CpuFeatures& f = pbc::cpu_features();  // also asks Linux for the AMX tile data permission
  const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl;
  const bool amx = f.amx_tile && f.os_amx && f.amx_permitted;
  // An AMX tdp* on 16 × 64-byte tiles is 16 · 16 · 32 (bf16) or 16 · 16 · 64 (int8) multiply-adds.
  const Kind kinds[] = {
      {"fp32_fma_avx2", "GFLOP/s", 12 * 8 * 2, fma_ymm, f.avx2 && f.fma},
      {"fp32_fma_avx512", "GFLOP/s", 12 * 16 * 2, fma_zmm, avx512},
      {"bf16_vdpbf16ps", "GFLOP/s", 12 * 32 * 2, bf16_zmm, avx512 && f.avx512_bf16},
      {"int8_vpdpbusd", "GOP/s", 12 * 64 * 2, vnni_zmm, avx512 && f.avx512_vnni},
      {"int8_maddubs_avx2", "GOP/s", 6 * 32 * 2, dot_u8s8_ymm, f.avx2},
      {"int8_maddubs_avx512", "GOP/s", 6 * 64 * 2, dot_u8s8_zmm, avx512},
      {"bf16_amx", "GFLOP/s", 8 * 16 * 16 * 32 * 2, amx_bf16, amx && f.amx_bf16},
      {"int8_amx", "GOP/s", 8 * 16 * 16 * 64 * 2, amx_int8, amx && f.amx_int8},
  };
  std::printf("one core's peak, best of 5 rounds of %.2f s of thread CPU time\n", seconds);
  for (const Kind& k : kinds) {
    if (!k.runs) {
      std::printf("peak %-16s not on this CPU\n", k.name);
      continue;
    }
    std::printf("peak %-16s %9.1f %s\n", k.name, measure(k, seconds), k.unit);
  }
  return 0;
}
