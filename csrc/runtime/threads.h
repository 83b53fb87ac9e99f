// threads.h — how many threads the core's parallel loops use, and how concurrent calls share them.
//
// The budget, first found wins: set_num_threads(n); PYBERTCORE_NUM_THREADS; OMP_NUM_THREADS (what Ray,
// Spark and Dask set for a worker given k CPUs; for a list "4,2" its first, outermost entry); else the
// number of CPUs this process may actually use: its affinity mask (sched_getaffinity), capped by the
// cgroup CPU quota (cgroup v2 cpu.max, or v1 cfs_quota/period) that container runtimes set — never the
// host's core count, which oversubscribes a container. The environment is read once, at the first use
// (as OpenMP reads OMP_NUM_THREADS once); a value that is not a positive integer is skipped here
// (pybertcore/__init__.py rejects a bad PYBERTCORE_NUM_THREADS by name at import).
#pragma once

namespace pbc {

struct ThreadInfo {
  int affinity_cpus = 1;  // CPUs in the affinity mask
  int cgroup_cpus = 0;    // ceil(quota / period), 0 when no quota is set
  int env_threads = 0;    // from PYBERTCORE_NUM_THREADS or OMP_NUM_THREADS, 0 when neither is usable
  int default_threads = 1;
  const char* default_source = "affinity";  // "PYBERTCORE_NUM_THREADS", "OMP_NUM_THREADS", "cgroup", "affinity"
};
ThreadInfo thread_info();
int num_threads();            // the current setting (default_threads until set_num_threads)
void set_num_threads(int n);  // n ≥ 1, else std::invalid_argument
bool num_threads_is_set();    // set_num_threads has been called

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
