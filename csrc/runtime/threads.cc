// threads.cc — thread budget: affinity + cgroup quota detection, and the per-call lease.
#include "runtime/threads.h"

#include "runtime/parallel.h"
#include "runtime/cgroup.h"

#include <unistd.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace pbc {
namespace {

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<int>(online) : 1;
  }
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

// ceil(quota / period) from a cgroup v2 "cpu.max" file ("max 100000" means no limit), or 0.
int read_cpu_max(const std::string& path) {
  std::ifstream f(path);
  std::string quota;
  double period = 0;
  if (!(f >> quota >> period) || quota == "max" || period <= 0) return 0;
  const double q = std::atof(quota.c_str());
  return q > 0 ? static_cast<int>(std::ceil(q / period)) : 0;
}

int cgroup_cpus() {
  int best = 0;
  auto take = [&best](int n) {
    if (n > 0 && (best == 0 || n < best)) best = n;
  };
  // cgroup v2: this process's group and every ancestor may carry a quota; the tightest wins.
  for (const std::string& dir : cgroup_v2_folders()) take(read_cpu_max(dir + "/cpu.max"));
  // cgroup v1: the same walk under the cpu controller's mount
  for (const std::string& dir : cgroup_v1_folders("cpu")) {
    std::ifstream q(dir + "/cpu.cfs_quota_us"), p(dir + "/cpu.cfs_period_us");
    double quota = 0, period = 0;
    if ((q >> quota) && (p >> period) && quota > 0 && period > 0) take(static_cast<int>(std::ceil(quota / period)));
  }
  return best;
}

// A positive integer from the environment variable `name`, or 0. `list_ok`: OMP_NUM_THREADS may be a
// comma-separated list of per-level counts; the first is the outermost level's, the one that applies.
int env_threads(const char* name, bool list_ok) {
  const char* value = std::getenv(name);
  if (value == nullptr) return 0;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  while (*end == ' ' || *end == '\t') ++end;
  if (end == value || (*end != '\0' && !(list_ok && *end == ',')) || n < 1 || n > 1 << 16) return 0;
  return static_cast<int>(n);
}

const ThreadInfo& detected() {
  static const ThreadInfo info = [] {
    ThreadInfo t;
    t.affinity_cpus = affinity_cpus();
    t.cgroup_cpus = cgroup_cpus();
    const bool quota = t.cgroup_cpus > 0 && t.cgroup_cpus < t.affinity_cpus;
    t.default_threads = quota ? t.cgroup_cpus : t.affinity_cpus;
    t.default_source = quota ? "cgroup" : "affinity";
    if (const int n = env_threads("OMP_NUM_THREADS", true)) {
      t.env_threads = t.default_threads = n;
      t.default_source = "OMP_NUM_THREADS";
    }
    if (const int n = env_threads("PYBERTCORE_NUM_THREADS", false)) {
      t.env_threads = t.default_threads = n;
      t.default_source = "PYBERTCORE_NUM_THREADS";
    }
    return t;
  }();
  return info;
}

std::atomic<int> g_threads{0};  // 0: not set, use the default
std::atomic<int> g_in_use{0};

}  // namespace

// A child forked during a call must not inherit the parent's claims on the budget.
struct ForkReset {
  ForkReset() {
    pthread_atfork(nullptr, nullptr, [] { g_in_use.store(0); });
  }
} g_fork_reset;

ThreadInfo thread_info() { return detected(); }

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : detected().default_threads;
}

bool num_threads_is_set() { return g_threads.load() > 0; }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("number of threads must be at least 1, got " + std::to_string(n));
  g_threads.store(n);
}

ThreadLease::ThreadLease() {
  if (in_parallel_unit()) {  // a call made from inside a unit of the pool runs on its thread alone
    n_ = 1;
  } else {
    const int want = num_threads();
    const int before = g_in_use.fetch_add(want);
    int got = want - before;
    if (got < 1) got = 1;
    if (got > want) got = want;
    if (got < want) g_in_use.fetch_sub(want - got);
    claimed_ = got;
    n_ = got;
  }
  prev_parallel_ = set_parallel_threads(n_);
}

ThreadLease::~ThreadLease() {
  set_parallel_threads(prev_parallel_);
  if (claimed_) g_in_use.fetch_sub(claimed_);
}

}  // namespace pbc
