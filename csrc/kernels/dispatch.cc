// dispatch.cc — picks the kernel level at run time.
//
// A level is usable only when three things agree: the CPU advertises the instructions and the OS saves
// the register state they need (runtime/cpu.h), and this build compiled the level. The choice is made once; PYBERTCORE_ISA (or set_active_isa, for tests) may only lower it.
// The amx level is detected like the others (plus Linux's permission for tile data) and is the default
// where detected; PYBERTCORE_AMX=0 keeps a process on avx512_bf16 instead. Timed on an Emerald Rapids
// Xeon (bench/README.md): bf16 on tiles ran 4.9–5.9× the vdpbf16ps path (which is slower than fp32 there)
// and int8 1.4–1.7× VNNI; fp32 is the same code on both levels.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/kernels.h"
#include "runtime/cpu.h"

namespace pbc {
namespace {

// AMX tiles, bf16 and int8 in the CPU, tile state saved by the OS, and Linux's permission granted.
bool amx_usable(const CpuFeatures& f) {
  return f.amx_tile && f.amx_bf16 && f.amx_int8 && f.os_amx && f.amx_permitted;
}

// The best level the CPU's features allow, among those this build compiled.
Isa probe_cpu() {
#ifdef PBC_HAVE_X86_KERNELS
  const CpuFeatures& f = cpu_features();
  if (f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl) {
#ifdef PBC_HAVE_AMX_KERNELS
    if (f.avx512_vnni && f.avx512_bf16 && amx_usable(f)) return Isa::kAmx;
#endif
    if (f.avx512_vnni && f.avx512_bf16) return Isa::kAvx512Bf16;
    if (f.avx512_vnni) return Isa::kAvx512Vnni;
    return Isa::kAvx512;
  }
  if (f.avx2 && f.fma && f.f16c) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

// The tables of the levels this CPU supports; the others stay copies of the best one below and are
// never handed out (kernels_for). A level's fill function lives in its ISA-flagged translation unit,
// where the compiler may use that ISA even for filling a table: GCC merged adjacent pointer stores of
// fill_kernels_avx512 into one AVX-512 store, an illegal instruction on this AVX2 machine. So it runs
// only where the level does. Each level starts as a copy of the one below and overrides what it has.
struct Tables {
  Kernels level[kIsaLevels];
  Tables() {
    fill_kernels_ref(&level[0]);
    fill_lowp_ref(&level[0]);
    for (int i = 1; i < kIsaLevels; ++i) level[i] = level[0];
    fill_x86_levels(detected_isa());
    for (int i = 0; i < kIsaLevels; ++i) {
      level[i].isa = static_cast<Isa>(i);
      level[i].name = isa_name(level[i].isa);
    }
  }

  void fill_x86_levels(Isa best) {
#ifdef PBC_HAVE_X86_KERNELS
    if (best < Isa::kAvx2) return;
    fill_kernels_avx2(&level[1]);
    fill_lowp_avx2(&level[1]);
    for (int i = 2; i < kIsaLevels; ++i) level[i] = level[1];
    if (best < Isa::kAvx512) return;
    fill_kernels_avx512(&level[2]);
    fill_lowp_avx512(&level[2]);
    for (int i = 3; i < kIsaLevels; ++i) level[i] = level[2];
    if (best < Isa::kAvx512Vnni) return;
    fill_lowp_avx512vnni(&level[3]);
    for (int i = 4; i < kIsaLevels; ++i) level[i] = level[3];
    if (best < Isa::kAvx512Bf16) return;
    fill_lowp_avx512bf16(&level[4]);
    fill_attention_avx512bf16(&level[4]);
    level[5] = level[4];
#ifdef PBC_HAVE_AMX_KERNELS
    if (best < Isa::kAmx) return;
    fill_lowp_amx(&level[5]);
    fill_attention_amx(&level[5]);
#endif
#else
    (void)best;
#endif
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

std::atomic<int> g_active{-1};
std::once_flag g_init;

void init_active() {
  std::call_once(g_init, [] {
    Isa isa = default_isa();
    if (const char* env = std::getenv("PYBERTCORE_ISA")) {
      if (*env) {
        // A bad value here cannot be reported as an exception from a static initialiser; it is
        // re-parsed (and raised) by pybertcore's Python layer at import, so fall back silently.
        try {
          Isa wanted = parse_isa(env);
          if (static_cast<int>(wanted) < static_cast<int>(isa)) isa = wanted;
        } catch (const std::exception&) {
        }
      }
    }
    g_active.store(static_cast<int>(isa));
  });
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512_vnni";
    case Isa::kAvx512Bf16: return "avx512_bf16";
    case Isa::kAmx: return "amx";
  }
  return "unknown";
}

Isa parse_isa(const char* name) {
  const std::string s(name);
  if (s == "scalar" || s == "ref") return Isa::kScalar;
  if (s == "avx2") return Isa::kAvx2;
  if (s == "avx512") return Isa::kAvx512;
  if (s == "avx512_vnni") return Isa::kAvx512Vnni;
  if (s == "avx512_bf16") return Isa::kAvx512Bf16;
  if (s == "amx") return Isa::kAmx;
  throw std::invalid_argument("unknown ISA level '" + s +
                              "'; expected one of: scalar, avx2, avx512, avx512_vnni, avx512_bf16, amx");
}

bool parse_amx_flag(const char* value) {
  const std::string s(value ? value : "");
  if (s == "0") return false;
  if (s.empty() || s == "1") return true;
  throw std::invalid_argument("PYBERTCORE_AMX='" + s + "' is not a valid value; expected 1 / unset (use the AMX "
                              "kernels where the CPU has them) or 0 (do not)");
}

Isa default_isa() {
  static const Isa isa = [] {
    const Isa best = detected_isa();
    if (best != Isa::kAmx) return best;
    bool wanted = true;
    try {
      wanted = parse_amx_flag(std::getenv("PYBERTCORE_AMX"));
    } catch (const std::exception&) {  // raised by pybertcore at import (see init_active)
    }
    return wanted ? Isa::kAmx : Isa::kAvx512Bf16;
  }();
  return isa;
}

const char* amx_status() {
#ifndef PBC_HAVE_AMX_KERNELS
  return "off: this build has no AMX kernels (its compiler lacks -mamx-tile)";
#else
  const CpuFeatures& f = cpu_features();
  if (!(f.amx_tile && f.amx_bf16 && f.amx_int8)) return "off: the CPU has no AMX (amx_tile, amx_bf16, amx_int8)";
  if (!f.os_amx) return "off: the OS does not enable AMX tile state (XCR0 bits 17-18)";
  if (!f.amx_permitted) return "off: Linux refused the AMX tile data permission (arch_prctl ARCH_REQ_XCOMP_PERM)";
  if (detected_isa() != Isa::kAmx) return "off: the CPU or OS lacks the avx512_bf16 level AMX builds on";
  if (active_isa() == Isa::kAmx) return "on";
  if (default_isa() != Isa::kAmx) return "off: PYBERTCORE_AMX=0";
  return "off: a lower kernel level is active (PYBERTCORE_ISA or set_isa)";
#endif
}

Isa detected_isa() {
  static const Isa isa = probe_cpu();
  return isa;
}

Isa active_isa() {
  init_active();
  return static_cast<Isa>(g_active.load());
}

void set_active_isa(Isa isa) {
  init_active();
  if (static_cast<int>(isa) > static_cast<int>(detected_isa())) {
    throw std::invalid_argument(std::string("ISA level '") + isa_name(isa) +
                                "' is not supported on this CPU (best available: '" +
                                isa_name(detected_isa()) + "')");
  }
  g_active.store(static_cast<int>(isa));
}

const Kernels& kernels_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detected_isa())) {
    throw std::invalid_argument(std::string("ISA level '") + isa_name(isa) + "' is not supported here");
  }
  return tables().level[static_cast<int>(isa)];
}

const Kernels& active_kernels() { return kernels_for(active_isa()); }

}  // namespace pbc
