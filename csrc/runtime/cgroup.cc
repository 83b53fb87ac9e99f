// cgroup.cc — cgroup_v2_folders() from /proc/self/cgroup.
#include "runtime/cgroup.h"

#include <fstream>

namespace pbc {

std::vector<std::string> cgroup_v2_folders() {
  std::vector<std::string> folders;
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) != 0) continue;  // the v2 line: "0::/path/of/the/group"
    std::string rel = line.substr(3);
    while (!rel.empty() && rel != "/") {
      folders.push_back("/sys/fs/cgroup" + rel);
      const size_t slash = rel.find_last_of('/');
      rel = slash == std::string::npos ? "" : rel.substr(0, slash);
    }
    folders.push_back("/sys/fs/cgroup");
  }
  return folders;
}

}  // namespace pbc
