#!/usr/bin/env bash
# The Swift tests and the system tests against builds with ThreadSanitizer and with
# AddressSanitizer (SANITIZERS="thread address" by default). Each build has its own scratch
# directory. Every sanitized process writes its reports to files, so a report from a worker the
# system tests started (whose exit status nobody reads) fails the run like one from `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
export SWIFT_BACKTRACE=enable=no  # the sanitizer's report is the one wanted

for sanitizer in ${SANITIZERS:-thread address}; do
    started=$SECONDS
    flags=(--sanitize="$sanitizer" --scratch-path ".build/sanitize-$sanitizer")
    # Locked's ThreadSanitizer annotations (Sources/Adapters/IO/Locked.swift).
    [ "$sanitizer" = thread ] && flags+=(-Xswiftc -DTHREAD_SANITIZER)
    swift build --build-tests "${flags[@]}"
    swift build --product wavelog-worker "${flags[@]}"
    reports=$(mktemp -d)
    # Leak detection is off: the Swift runtime keeps its metadata caches until exit.
    export TSAN_OPTIONS="log_path=$reports/report second_deadlock_stack=1"
    export ASAN_OPTIONS="log_path=$reports/report detect_leaks=0"
    status=0
    swift test --skip-build "${flags[@]}" || status=$?
    # The workers run on io_uring, whose buffers the kernel fills (make test covers epoll too).
    WORKER_BIN="$(swift build --show-bin-path "${flags[@]}")/wavelog-worker" WORKER_SANITIZER="$sanitizer" WAVELOG_THREADS=2 \
        WAVELOG_IO_BACKEND="${SANITIZE_IO_BACKEND:-uring}" .build/venv/bin/pytest -q -n 2 Tests/System || status=$?  # two at a time: mostly waiting, which a sanitizer lengthens
    unset TSAN_OPTIONS ASAN_OPTIONS
    found=$(find "$reports" -type f | wc -l)
    if [ "$found" -gt 0 ]; then
        cat "$reports"/*
        echo "sanitize: $sanitizer: $found report file(s)" >&2
        status=1
    fi
    rm -rf "$reports"
    echo "sanitize: $sanitizer lane done in $((SECONDS - started)) s, status $status"
    [ "$status" -eq 0 ] || exit "$status"
done
