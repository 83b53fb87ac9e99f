// memory.cc — available_memory(): /proc/meminfo, the cgroup limits, RLIMIT_AS.
#include "runtime/memory.h"

#include "runtime/cgroup.h"

#include <sys/resource.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <atomic>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace pbc {
namespace {

void take(MemoryLimit& best, uint64_t bytes, const char* source) {
  if (bytes < best.available_bytes) {
    best.available_bytes = bytes;
    best.source = source;
  }
}

// A value in kB from /proc/meminfo or /proc/self/status ("MemAvailable:  123456 kB"), or -1.
long long proc_kb(const char* path, const std::string& key) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      return std::atoll(line.c_str() + key.size() + 1);
    }
  }
  return -1;
}

// A number from a one-line cgroup file; -1 when absent or "max".
long long read_number(const std::string& path) {
  std::ifstream f(path);
  std::string word;
  if (!(f >> word) || word == "max") return -1;
  char* end = nullptr;
  const long long v = std::strtoll(word.c_str(), &end, 10);
  return end && *end == '\0' && v >= 0 ? v : -1;
}

void cgroup_limits(MemoryLimit& best) {
  // cgroup v2: every ancestor of this process's group may carry a limit; each leaves its own headroom.
  for (const std::string& dir : cgroup_v2_folders()) {
    const long long limit = read_number(dir + "/memory.max"), used = read_number(dir + "/memory.current");
    if (limit >= 0 && used >= 0) take(best, limit > used ? limit - used : 0, "cgroup memory.max");
  }
  // cgroup v1 (a limit of "unlimited" reads as a huge page-rounded number, which never wins)
  for (const std::string& dir : cgroup_v1_folders("memory")) {
    const long long limit = read_number(dir + "/memory.limit_in_bytes");
    const long long used = read_number(dir + "/memory.usage_in_bytes");
    if (limit >= 0 && used >= 0) take(best, limit > used ? limit - used : 0, "cgroup memory.limit_in_bytes");
  }
}

}  // namespace

MemoryLimit available_memory() {
  MemoryLimit best;
  const long long avail_kb = proc_kb("/proc/meminfo", "MemAvailable");
  if (avail_kb >= 0) take(best, static_cast<uint64_t>(avail_kb) * 1024, "MemAvailable");
  cgroup_limits(best);
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const long long vm_kb = proc_kb("/proc/self/status", "VmSize");
    const uint64_t used = vm_kb >= 0 ? static_cast<uint64_t>(vm_kb) * 1024 : 0;
    take(best, as.rlim_cur > used ? as.rlim_cur - used : 0, "RLIMIT_AS (ulimit -v)");
  }
  return best;
}

uint64_t product_bytes(std::initializer_list<uint64_t> factors) {
  unsigned __int128 p = 1;
  for (uint64_t f : factors) {
    p *= f;
    if (p > UINT64_MAX) return UINT64_MAX;
  }
  return static_cast<uint64_t>(p);
}

void require_memory(const std::string& call, const std::vector<std::pair<std::string, uint64_t>>& parts,
                    const std::string& hint) {
  uint64_t total = 0;
  for (const auto& part : parts) total = total > UINT64_MAX - part.second ? UINT64_MAX : total + part.second;
  const MemoryLimit limit = available_memory();
  if (total <= limit.available_bytes) return;
  std::string detail;
  for (const auto& part : parts) {
    if (part.second == 0) continue;
    detail += (detail.empty() ? "" : ", ") + part.first + " " + format_bytes(part.second);
  }
  throw NotEnoughMemory(call + " needs " + format_bytes(total) + " (" + detail + "), more than the " +
                        format_bytes(limit.available_bytes) + " this process can still allocate (" + limit.source +
                        ")" + hint);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  char buf[64];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu bytes", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  }
  return buf;
}

namespace {
std::atomic<bool> g_trim_pending{false};
}  // namespace

void note_freed_heap() { g_trim_pending.store(true); }

void release_freed_heap() {
  if (!g_trim_pending.exchange(false)) return;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace pbc
