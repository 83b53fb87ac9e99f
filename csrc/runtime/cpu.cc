// cpu.cc — cpu_features(): CPUID, XGETBV and Linux's AMX permission.
#include "runtime/cpu.h"

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define PBC_X86_HOST 1
#endif
#if defined(PBC_X86_HOST) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace pbc {
namespace {

#ifdef PBC_X86_HOST
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures probe() {
  CpuFeatures f;
#ifdef PBC_X86_HOST
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1)) return f;  // no OSXSAVE: no XGETBV
  const bool fma = (ecx >> 12) & 1, f16c = (ecx >> 29) & 1;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned max_subleaf = eax;
  f.fma = os_ymm && fma;
  f.f16c = os_ymm && f16c;
  f.avx2 = os_ymm && ((ebx >> 5) & 1);
  f.avx512f = os_zmm && ((ebx >> 16) & 1);
  f.avx512dq = os_zmm && ((ebx >> 17) & 1);
  f.avx512bw = os_zmm && ((ebx >> 30) & 1);
  f.avx512vl = os_zmm && ((ebx >> 31) & 1);
  f.avx512_vnni = os_zmm && ((ecx >> 11) & 1);
  f.amx_bf16 = (edx >> 22) & 1;
  f.amx_tile = (edx >> 24) & 1;
  f.amx_int8 = (edx >> 25) & 1;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512_bf16 = os_zmm && ((eax >> 5) & 1);
  }
  f.os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG (17) and XTILEDATA (18)
#if defined(__linux__)
  if (f.amx_tile && f.os_amx) {
    // Linux hands out AMX tile state only on request (ARCH_REQ_XCOMP_PERM = 0x1023, XTILEDATA = 18).
    f.amx_permitted = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
  }
#endif
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = probe();
  return f;
}

bool amx_tile_state_in_use() {
#ifdef PBC_X86_HOST
  static const bool xinuse = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1)) return false;  // no XGETBV
    if (__get_cpuid_max(0, nullptr) < 0xD) return false;
    __cpuid_count(0xD, 1, eax, ebx, ecx, edx);
    return ((eax >> 2) & 1) != 0;  // XGETBV with ECX = 1 reports XINUSE
  }();
  if (!xinuse) return false;
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
  return (lo & 0x60000u) != 0;
#else
  return false;
#endif
}

}  // namespace pbc
