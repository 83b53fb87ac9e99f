// cgroup.h — the control-group folders whose limits apply to this process.
#pragma once

#include <string>
#include <vector>

namespace pbc {

// The cgroup v2 folders of this process, its own group first, then each ancestor up to the root
// (/sys/fs/cgroup): a limit set on any of them applies. Empty without cgroup v2.
std::vector<std::string> cgroup_v2_folders();

// The same for a cgroup v1 controller ("memory", "cpu"), under its mount (/sys/fs/cgroup/memory,
// /sys/fs/cgroup/cpu,cpuacct, ...). Empty when the controller is not mounted as v1.
std::vector<std::string> cgroup_v1_folders(const std::string& controller);

}  // namespace pbc
