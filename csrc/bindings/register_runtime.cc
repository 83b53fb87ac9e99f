// register_runtime.cc — ISA levels, the thread budget, memory and CPU features, as _core functions.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/arrays.h"
#include "bindings/register.h"
#include "kernels/kernels.h"
#include "runtime/cpu.h"
#include "runtime/memory.h"
#include "runtime/threads.h"

namespace pbc_py {

namespace {

std::vector<std::string> compiled_isas() {
  std::vector<std::string> names{"scalar"};
#ifdef PBC_HAVE_X86_KERNELS
  names.push_back("avx2");
  names.push_back("avx512");
  names.push_back("avx512_vnni");
  names.push_back("avx512_bf16");
#endif
#ifdef PBC_HAVE_AMX_KERNELS
  names.push_back("amx");
#endif
  return names;
}

py::dict lowp_info(const py::object& isa) {
  const pbc::Kernels& k = kernels_named(isa);
  const pbc::CpuFeatures& f = pbc::cpu_features();
  py::dict d;
  d["bf16_kernel"] = k.bf16_kernel;
  d["int8_kernel"] = k.int8_kernel;
  d["bf16_rounds_activations"] = k.bf16_rounds_activations;
  d["bf16_takes_fp32_packed"] = k.bf16_takes_fp32_packed;  // bf16 runs in the fp32 GEMM's loop nest
  // a bf16 model's attention products in bf16 (which kernel), or None: the fp32 attention
  d["bf16_attention"] = k.bf16_attention ? py::object(py::str(k.bf16_attention)) : py::object(py::none());
  d["avx512_bf16"] = f.avx512_bf16;
  d["avx512_vnni"] = f.avx512_vnni;
  d["amx_tile"] = f.amx_tile;
  d["amx_bf16"] = f.amx_bf16;
  d["amx_int8"] = f.amx_int8;
  d["os_amx"] = f.os_amx;
  d["amx_permitted"] = f.amx_permitted;
  d["amx_kernels"] = k.isa == pbc::Isa::kAmx;  // this level's bf16/int8 GEMMs run on AMX tiles
  d["amx_status"] = pbc::amx_status();          // why the active level does or does not
  return d;
}

}  // namespace

void register_runtime(py::module_& m) {
  using pbc::isa_name;
  using pbc::parse_isa;
  m.def("compiled_isas", &compiled_isas, "ISA levels this build contains, lowest first");
  m.def("lowp_info", &lowp_info, py::arg("isa") = py::none(),
        "the low-precision kernels of a level (default: active) and the CPU's bf16/int8 features");
  m.def("detected_isa", [] { return std::string(isa_name(pbc::detected_isa())); },
        "the best ISA level this CPU and OS support (and the build contains)");
  m.def("default_isa", [] { return std::string(isa_name(pbc::default_isa())); },
        "the level the core starts at: detected_isa(), but not amx with PYBERTCORE_AMX=0");
  m.def("parse_amx", [](const std::string& value) { return pbc::parse_amx_flag(value.c_str()); }, py::arg("value"),
        "PYBERTCORE_AMX's meaning: '1' or '' True, '0' False, anything else ValueError");
  m.def("active_isa", [] { return std::string(isa_name(pbc::active_isa())); },
        "the ISA level new models are packed for and run with");
  m.def("set_isa", [](const std::string& name) { pbc::set_active_isa(parse_isa(name.c_str())); }, py::arg("name"),
        "force an ISA level no higher than detected_isa(); affects models built afterwards");
  m.def("parse_isa", [](const std::string& name) { return std::string(isa_name(parse_isa(name.c_str()))); },
        py::arg("name"));
  m.def("get_num_threads", &pbc::num_threads, "threads each call of the core uses (the process-wide budget)");
  m.def("set_num_threads", &pbc::set_num_threads, py::arg("n"),
        "set the budget; concurrent calls share it instead of each starting a full team");
  m.def("thread_info", [] {
    const pbc::ThreadInfo t = pbc::thread_info();
    py::dict d;
    d["affinity_cpus"] = t.affinity_cpus;
    d["cgroup_cpus"] = t.cgroup_cpus;
    d["env_threads"] = t.env_threads;
    d["default_threads"] = t.default_threads;
    d["default_source"] = t.default_source;
    d["source"] = pbc::num_threads_is_set() ? "set_num_threads" : t.default_source;
    return d;
  }, "where the thread budget came from: set_num_threads, PYBERTCORE_NUM_THREADS, OMP_NUM_THREADS, cgroup "
     "quota or affinity mask");
  m.def("release_freed_heap", [] {
    py::gil_scoped_release release;
    pbc::release_freed_heap();
  }, "hands the heap a build left behind back to the OS (malloc_trim), once per build; for from_pretrained");
  m.def("available_memory", [] {
    const pbc::MemoryLimit limit = pbc::available_memory();
    return py::make_tuple(limit.available_bytes, limit.source);
  }, "(bytes, source): the memory this process can still take, the tightest of MemAvailable, the cgroup "
     "limit and RLIMIT_AS (runtime/memory.h); source names which one");
  m.def("format_bytes", &pbc::format_bytes, py::arg("bytes"), "a size for messages: '1.5 GiB'");
}

}  // namespace pbc_py
