// parallel.h — the thread pool the SIMD kernels and the encoder run their parallel loops on.
//
// Why not OpenMP here: an OpenMP region ends with a join that waits for every thread of the team,
// including one the OS has not scheduled yet. On a machine shared with other work that made a
// batch-1 forward pass 4x slower on 2 threads than on 1 (MiniLM 1x128: 198 ms vs 51 ms, measured
// here). In this pool the calling thread works too and units are claimed one at a time from a
// counter; the call returns when every unit is done, so a helper that wakes late finds nothing left
// and is never waited for. Helpers spin briefly between calls (a forward pass issues dozens of
// loops back to back) and then sleep. A helper woken onto its caller's CPU moves itself off it
// (parallel.cc: leave_callers_cpu).
//
// The interface is a plain function pointer + context so that ISA-flagged translation units can use
// it without instantiating any std:: template (see kernels.h).
#pragma once

#include <cstddef>

namespace pbc {

// fn(ctx, unit, worker) for every unit in [0, units); worker in [0, parallel_threads()) names the
// thread running it (for per-thread scratch). Runs on the calling thread alone when the current
// budget is 1, when another call is using the pool, or when called from inside a unit. Once the
// calling thread's cancel flag is set (runtime/cancel.h), units not yet started are skipped.
using ParallelFn = void (*)(void* ctx, long unit, int worker);
void parallel_for(long units, ParallelFn fn, void* ctx);
// parallel_for on at most max_threads threads (e.g. per-worker scratch holding that many slices):
// worker then stays below max_threads.
void parallel_for_limited(long units, int max_threads, ParallelFn fn, void* ctx);

// A 64-byte aligned buffer of at least `floats` floats owned by the calling thread, kept and reused by
// later calls on that thread (it grows, never shrinks; freed when the thread exits). Valid until this
// thread calls thread_scratch again. Returns null when the allocation fails (callers fall back).
float* thread_scratch(size_t floats);
// For tests: while set (any thread), thread_scratch returns null as when out of memory, so that the
// callers' fallbacks run. Returns the previous setting.
bool set_thread_scratch_refused(bool refused);

// Threads a parallel_for started now on this thread may use: the claim of the innermost ThreadLease
// on this thread (runtime/threads.h), or num_threads() outside any lease.
int parallel_threads();
// Set by ThreadLease; returns the previous value (0 = no lease).
int set_parallel_threads(int n);
// Whether the calling thread is running a unit of a parallel_for (nested loops run inline).
bool in_parallel_unit();

}  // namespace pbc
