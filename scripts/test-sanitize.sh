#!/usr/bin/env bash
# make test-sanitize: every test (unit and end to end, the built regiond and regionctl
# included) under AddressSanitizer, then under ThreadSanitizer, each in its own build
# folder. A report in the test process or in a regiond it starts fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
status=0
for sanitizer in address thread; do
    scratch=.build-$([ "$sanitizer" = address ] && echo asan || echo tsan)
    echo "== $sanitizer: building in $scratch"
    if ! $SWIFT build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"; then
        status=1
        continue
    fi
    echo "== $sanitizer: running every test"
    # The end-to-end tests start these binaries; they inherit the options below.
    export REGIOND_BIN_DIR=$PWD/$scratch/debug
    # quarantine_size_mb: freed memory ASan holds back to catch use-after-free counts in
    # RSS; 64 MB keeps the memory-bound tests meaningful (docs/reliability.md).
    export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0:handle_abort=1:quarantine_size_mb=64"
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/Tests/sanitizers/tsan.supp"
    # Guards against hung tests wait this many times longer (Tests/EndToEndTests/Support/Deadline.swift).
    export REGIOND_TEST_SLOWDOWN=$([ "$sanitizer" = address ] && echo 3 || echo 6)
    if ! $SWIFT test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch"; then
        echo "== $sanitizer: FAILED"
        status=1
    else
        echo "== $sanitizer: clean"
    fi
done
exit $status
