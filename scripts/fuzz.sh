#!/usr/bin/env bash
# make fuzz: runs every fuzz target under libFuzzer for FUZZ_SECONDS each, merges what
# reaches new code into Tests/Fuzz/corpus/TARGET/, and prints executions per target.
# A crash or a broken rule leaves its input in Tests/Fuzz/crashes/ and fails the run;
# copy it to Tests/Fuzz/regressions/TARGET/ once fixed, so make test replays it for good.
#
# Usage: scripts/fuzz.sh SECONDS TARGET...   (the binary is built by `make fuzz`)
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=$1
shift
binary=.build-fuzz/debug/regiond-fuzz
[ -x "$binary" ] || { echo "fuzz: $binary is missing; run make fuzz"; exit 1; }
work=$(mktemp -d /tmp/regiond-fuzz-XXXXXX)
# libFuzzer and ASan report a crash themselves; Swift's own backtracer would ptrace the
# instrumented process for minutes first. LeakSanitizer: see Tests/sanitizers/lsan.supp.
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS=suppressions=$PWD/Tests/sanitizers/lsan.supp
mkdir -p Tests/Fuzz/crashes
failed=0
printf '%-16s %10s %14s %12s %10s\n' target seconds executions "execs/s" corpus
for target in "$@"; do
    mkdir -p "$work/$target" "Tests/Fuzz/corpus/$target"
    log="$work/$target.log"
    # New inputs go to the first directory; the saved corpus seeds the run.
    REGIOND_FUZZ_TARGET=$target "$binary" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="Tests/Fuzz/crashes/$target-" "$work/$target" "Tests/Fuzz/corpus/$target" >"$log" 2>&1
    status=$?
    executions=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log")
    rate=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log")
    # Keep only the inputs that reach new code.
    REGIOND_FUZZ_TARGET=$target "$binary" -merge=1 "Tests/Fuzz/corpus/$target" "$work/$target" >>"$log" 2>&1
    size=$(find "Tests/Fuzz/corpus/$target" -type f | wc -l)
    printf '%-16s %10s %14s %12s %10s\n' "$target" "$seconds" "${executions:-?}" "${rate:-?}" "$size"
    if [ $status -ne 0 ]; then
        failed=1
        echo "fuzz: $target FAILED (exit $status); its input is in Tests/Fuzz/crashes/, the log in $log:"
        grep -m5 -E 'regiond-fuzz|ERROR|Fatal error|SUMMARY' "$log" | sed 's/^/    /'
    fi
done
[ $failed -eq 0 ] && rm -rf "$work"
exit $failed
