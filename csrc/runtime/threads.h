// threads.h — how many threads the core's parallel loops use, and how concurrent calls share them.
//
// The default is the number of CPUs this process may actually use: its affinity mask
// (sched_getaffinity), capped by the cgroup CPU quota (cgroup v2 cpu.max, or v1 cfs_quota/period)
// that container runtimes set — never the host's core count, which oversubscribes a container.
#pragma once

namespace pbc {

struct ThreadInfo {
  int affinity_cpus = 1;  // CPUs in the affinity mask
  int cgroup_cpus = 0;    // ceil(quota / period), 0 when no quota is set
  int default_threads = 1;
};
ThreadInfo thread_info();
int num_threads();            // the current setting (default_threads until set_num_threads)
void set_num_threads(int n);  // n ≥ 1, else std::invalid_argument

// Claims threads for one top-level call (a forward pass, a Dense or LayerNorm call) from a
// process-wide budget of num_threads(), and sets the team size of the calling thread's parallel_for
// loops (runtime/parallel.h) to the claim. When several Python threads call at once, the first gets
// the full team and the others what is left (at least 1), so the process never runs more busy threads
// than the budget. A call made from inside a unit of a parallel loop runs on one thread.
class ThreadLease {
 public:
  ThreadLease();
  ~ThreadLease();
  ThreadLease(const ThreadLease&) = delete;
  ThreadLease& operator=(const ThreadLease&) = delete;
  int threads() const { return n_; }

 private:
  int n_ = 1;
  int claimed_ = 0;
  int prev_parallel_ = 0;
};

}  // namespace pbc
