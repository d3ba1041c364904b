#!/usr/bin/env bash
# The conformance run on several pollers at once: all cases on the first, the cases that differ
# in I/O on the others (see `make conformance`). Usage: conformance-backends.sh BINARY BACKEND...
set -uo pipefail
cd "$(dirname "$0")/.."
binary=$1
shift
first=$1
shift
python=.build/venv/bin/python
io_cases=(1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.* 12.1.* 13.1.*)
logs=$(mktemp -d)
pids=()
for backend in "$@"; do
    WAVELOG_IO_BACKEND=$backend "$python" scripts/conformance.py "$binary" --cases "${io_cases[@]}" >"$logs/$backend" 2>&1 &
    pids+=($!)
done
status=0
WAVELOG_IO_BACKEND=$first "$python" scripts/conformance.py "$binary" || status=1
index=0
for backend in "$@"; do
    wait "${pids[$index]}" || status=1
    cat "$logs/$backend"
    index=$((index + 1))
done
rm -rf "$logs"
exit $status
