#!/usr/bin/env bash
# CI: every fuzz harness in fuzz/ (one per reader of untrusted input) runs for a bounded time against its
# seed corpus, two at a time (the machine has 2 cores); any finding fails the script. A finding is an
# exception outside the project's error family, a crash, an input slower than its budget (fuzz/harness.py),
# one past -timeout seconds, or the process growing past -rss_limit_mb.
#
#   bash .ci/fuzz.sh                     # FUZZ_SECONDS per harness (default 40: 3 rounds of 2, ~2.2 min)
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh    # longer; see fuzz/README.md for one harness at a time
#
# Uses the active Python, which must import pybertcore (.ci/run's venv after `pip install ".[test]"`).
# New inputs go to a temporary folder, never into fuzz/corpus/; findings are copied to fuzz-findings/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH="${FUZZ_SECONDS:-40}"
python -m pip install --quiet "atheris==3.0.0"

repo="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
findings="$repo/fuzz-findings"

run_one() {  # harness name → exit status of its run; log in $work/<name>.log
  local name="$1"
  mkdir -p "$work/$name/new" "$work/$name/artifacts"
  # Children run outside the repository: `python fuzz/x.py` puts fuzz/ (not the source tree) on sys.path.
  (cd "$work" && python "$repo/fuzz/fuzz_$name.py" \
      -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 -max_len=32768 \
      -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" \
      "$work/$name/new" "$repo/fuzz/corpus/$name") >"$work/$name.log" 2>&1
}

harnesses=(torch_bin safetensors shard_index config tokenizer sentence)
failed=()
for ((i = 0; i < ${#harnesses[@]}; i += 2)); do
  pids=()
  for name in "${harnesses[@]:i:2}"; do
    run_one "$name" &
    pids+=("$!:$name")
  done
  for entry in "${pids[@]}"; do
    name="${entry#*:}"
    if wait "${entry%%:*}"; then
      execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$name.log" | grep -o '[0-9]*$' || echo "?")
      echo "fuzz $name: ok, $execs inputs in ${SECONDS_EACH}s"
    else
      failed+=("$name")
      echo "fuzz $name: FINDING (log follows)"
      grep -v '^INFO: Instrumenting' "$work/$name.log" | tail -60
      mkdir -p "$findings/$name"
      cp -r "$work/$name/artifacts/." "$findings/$name/" 2>/dev/null || true
    fi
  done
done

if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]} (inputs in $findings/)"
  exit 1
fi
echo "fuzzing: all ${#harnesses[@]} harnesses ran clean"
