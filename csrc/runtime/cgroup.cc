// cgroup.cc — cgroup_v2_folders() from /proc/self/cgroup.
#include "runtime/cgroup.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace pbc {
namespace {

bool is_dir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// root + rel, then root + each ancestor of rel, then root.
std::vector<std::string> walk_up(const std::string& root, std::string rel) {
  std::vector<std::string> folders;
  while (!rel.empty() && rel != "/") {
    folders.push_back(root + rel);
    const size_t slash = rel.find_last_of('/');
    rel = slash == std::string::npos ? "" : rel.substr(0, slash);
  }
  folders.push_back(root);
  return folders;
}

}  // namespace

// /proc/self/cgroup lines are "id:controllers:/path"; v2's is "0::/path".
std::vector<std::string> cgroup_v2_folders() {
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) == 0) return walk_up("/sys/fs/cgroup", line.substr(3));
  }
  return {};
}

std::vector<std::string> cgroup_v1_folders(const std::string& controller) {
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  while (std::getline(self, line)) {
    const size_t first = line.find(':'), second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::stringstream names(controllers);
    std::string name;
    bool listed = false;
    while (std::getline(names, name, ',')) listed = listed || name == controller;
    if (!listed) continue;
    // Mounted as the controller list ("cpu,cpuacct") or the controller alone (often a link to it).
    for (const std::string& root : {"/sys/fs/cgroup/" + controllers, "/sys/fs/cgroup/" + controller}) {
      if (!is_dir(root)) continue;
      // In a container the mount shows the process's own group at its root: the path then names
      // nothing below it, and the root is the group.
      std::vector<std::string> folders = walk_up(root, line.substr(second + 1));
      return is_dir(folders.front()) ? folders : std::vector<std::string>{root};
    }
  }
  return {};
}

}  // namespace pbc
