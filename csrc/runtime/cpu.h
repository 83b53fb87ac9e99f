// cpu.h — what this CPU and its OS let us run: CPUID feature bits, each gated by the register state the
// OS saves on context switches (XCR0 via XGETBV), and Linux's permission for AMX tile data.
//
// Facts only: which kernel level they allow is kernels/dispatch.cc's business.
#pragma once

namespace pbc {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;  // with the OS saving YMM state
  bool avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false;  // with ZMM and opmask state
  bool avx512_vnni = false;  // CPUID.(7,0):ECX[11]
  bool avx512_bf16 = false;  // CPUID.(7,1):EAX[5]
  bool amx_bf16 = false, amx_tile = false, amx_int8 = false;  // CPUID.(7,0):EDX[22, 24, 25]
  bool os_amx = false;         // XCR0 bits 17-18 (XTILECFG, XTILEDATA)
  bool amx_permitted = false;  // Linux granted XTILEDATA (arch_prctl ARCH_REQ_XCOMP_PERM), asked once
};

// Probed once, on first use.
const CpuFeatures& cpu_features();

// Whether the calling thread's AMX tile state (XTILECFG or XTILEDATA) is in use right now: XINUSE bits
// 17-18 (XGETBV with ECX = 1), which tilerelease clears. False where XGETBV cannot report XINUSE. For
// tests: a kernel must not return with its thread's tiles still configured.
bool amx_tile_state_in_use();

}  // namespace pbc
