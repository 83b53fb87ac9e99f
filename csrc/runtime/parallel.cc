// parallel.cc — the work-claiming thread pool of parallel.h. Compiled with baseline flags.
#include "runtime/parallel.h"

#include "runtime/aligned.h"
#include "runtime/cancel.h"
#include "runtime/threads.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define PBC_PAUSE() _mm_pause()
#else
#define PBC_PAUSE() std::this_thread::yield()
#endif

namespace pbc {

namespace {

thread_local int t_lease_threads = 0;  // 0: no lease on this thread
thread_local bool t_in_unit = false;

// About 0.2–0.5 ms of pause instructions: longer than the gap between two loops of one forward
// pass, short enough not to steal a shared core for long after the call returns.
constexpr int kSpinIterations = 8000;

class Pool {
 public:
  // Runs the job; returns false (and does nothing) when the pool is busy with another caller.
  bool run(long units, int threads, ParallelFn fn, void* ctx) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    grow(threads - 1);
    fn_ = fn;
    ctx_ = ctx;
    cancel_ = current_cancel_flag();
    units_ = units;
    slots_ = threads - 1;
    next_.store(0);
    done_.store(0);
    joined_.store(0);
    caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> hold(wake_);
      generation_.fetch_add(1);
      open_.store(true);
    }
    if (sleeping_.load() > 0) cv_.notify_all();
    work(0);
    // Close the job, then wait for units claimed by helpers and for helpers still inside the job to
    // leave it (they read its fields). A helper that arrives after the close sees open_ false and
    // touches nothing, so the next job may rewrite the fields once active_ is 0.
    open_.store(false);
    int spins = 0;
    while (done_.load() < units_ || active_.load() > 0) {
      if (++spins < 4096) {
        PBC_PAUSE();
      } else {
        std::this_thread::yield();
      }
    }
    return true;
  }

 private:
  void work(int worker) {
    const bool outer = t_in_unit;
    t_in_unit = true;
    for (long u = next_.fetch_add(1); u < units_; u = next_.fetch_add(1)) {
      // A cancelled call's remaining units are claimed and counted, not run (runtime/cancel.h).
      if (!cancel_ || !cancel_->load(std::memory_order_relaxed)) fn_(ctx_, u, worker);
      done_.fetch_add(1);
    }
    t_in_unit = outer;
  }

  static int current_cpu() {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
  }

  // A helper woken onto the CPU its caller is running on adds nothing: the two take turns on one
  // CPU while another sits idle, and the kernel leaves them stacked until a balancing tick (10 ms at
  // HZ=100, a whole MiniLM forward pass). On the 2-vCPU VM of our benchmarks (a kernel booted with a
  // vCPU-packing option) wake-ups after idle gaps often did exactly that: perf sched showed both
  // threads on one vCPU, and streaks of batch-1 calls ran at one-thread speed. So the helper steps
  // off the caller's CPU: it narrows its own affinity to the other allowed CPUs, which migrates it
  // at once, then restores the mask it had, leaving the scheduler free to place it afterwards.
  void leave_callers_cpu() {
#if defined(__linux__)
    const int caller = caller_cpu_.load(std::memory_order_relaxed);
    if (caller < 0 || current_cpu() != caller) return;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || !CPU_ISSET(caller, &allowed)) return;
    cpu_set_t others = allowed;
    CPU_CLR(caller, &others);
    if (CPU_COUNT(&others) == 0) return;
    if (sched_setaffinity(0, sizeof(others), &others) == 0) sched_setaffinity(0, sizeof(allowed), &allowed);
#endif
  }

  void grow(int helpers) {
    while (static_cast<int>(threads_.size()) < helpers) {
      threads_.emplace_back([this] { helper(); });
      threads_.back().detach();
    }
  }

  void helper() {
    uint64_t seen = generation_.load();
    while (true) {
      for (int i = 0; i < kSpinIterations && generation_.load() == seen; ++i) PBC_PAUSE();
      if (generation_.load() == seen) {
        std::unique_lock<std::mutex> lock(wake_);
        sleeping_.fetch_add(1);
        cv_.wait(lock, [&] { return generation_.load() != seen; });
        sleeping_.fetch_sub(1);
      }
      seen = generation_.load();
      active_.fetch_add(1);
      leave_callers_cpu();
      if (open_.load()) {
        const int slot = joined_.fetch_add(1);
        if (slot < slots_) work(slot + 1);
      }
      active_.fetch_sub(1);
    }
  }

  std::mutex busy_;  // one job at a time
  std::mutex wake_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;  // detached helpers; the pool lives until the process exits
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> open_{false};
  std::atomic<int> caller_cpu_{-1};  // where the current job's caller started it, or -1
  std::atomic<int> sleeping_{0}, active_{0}, joined_{0};
  std::atomic<long> next_{0}, done_{0};
  // The current job, written by the caller before generation_ moves and read by helpers after.
  ParallelFn fn_ = nullptr;
  void* ctx_ = nullptr;
  const CancelFlag* cancel_ = nullptr;  // the caller's flag (runtime/cancel.h), or null
  long units_ = 0;
  int slots_ = 0;
};

Pool* g_pool = nullptr;
std::once_flag g_pool_once;

// A forked child has none of the parent's helper threads (and may have inherited a pool caught
// mid-call): give it a fresh pool; the old one is abandoned, never touched again.
void reset_pool_in_child() { g_pool = new Pool(); }

Pool& pool() {
  std::call_once(g_pool_once, [] {
    g_pool = new Pool();  // never destroyed: helpers may still be asleep at exit
    pthread_atfork(nullptr, nullptr, reset_pool_in_child);
  });
  return *g_pool;
}

}  // namespace

namespace {
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  ~Scratch() { aligned_release(p); }
};
thread_local Scratch t_scratch;
std::atomic<bool> g_scratch_refused{false};
}  // namespace

bool set_thread_scratch_refused(bool refused) { return g_scratch_refused.exchange(refused); }

float* thread_scratch(size_t floats) {
  if (g_scratch_refused.load(std::memory_order_relaxed)) return nullptr;
  if (floats <= t_scratch.n) return t_scratch.p;
  const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  void* p = aligned_allocate(bytes);
  if (!p) return nullptr;
  aligned_release(t_scratch.p);
  t_scratch.p = static_cast<float*>(p);
  t_scratch.n = bytes / sizeof(float);
  return t_scratch.p;
}

int parallel_threads() { return t_lease_threads > 0 ? t_lease_threads : num_threads(); }

bool in_parallel_unit() { return t_in_unit; }

int set_parallel_threads(int n) {
  const int prev = t_lease_threads;
  t_lease_threads = n;
  return prev;
}

void parallel_for_limited(long units, int max_threads, ParallelFn fn, void* ctx) {
  const int limit = max_threads > 0 ? max_threads : 1;
  const int prev = set_parallel_threads(limit < parallel_threads() ? limit : parallel_threads());
  parallel_for(units, fn, ctx);
  set_parallel_threads(prev);
}

void parallel_for(long units, ParallelFn fn, void* ctx) {
  if (units <= 0 || cancel_requested()) return;
  int threads = parallel_threads();
  if (threads > units) threads = static_cast<int>(units);
  if (threads <= 1 || t_in_unit || !pool().run(units, threads, fn, ctx)) {
    for (long u = 0; u < units && !cancel_requested(); ++u) fn(ctx, u, 0);
  }
}

}  // namespace pbc
