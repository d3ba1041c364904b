#!/usr/bin/env bash
# The conformance run on several pollers at once (see `make conformance`). Every poller gets the
# cases that differ in I/O: sections 1-10, and 12.1 and 13.1, which hold every message size and
# fragmentation of the permessage-deflate sections. The other deflate groups differ only in data
# (12.2-12.5) or in deflate parameters (13.2-13.7), the codec's business: they are dealt out
# round-robin, so each case runs once and the runs take about the same time. The shared cases also
# run once over TLS (the first poller), through the script's own TLS proxy.
# Usage: conformance-backends.sh BINARY BACKEND...
set -uo pipefail
cd "$(dirname "$0")/.."
binary=$1
shift
backends=("$@")
python=.build/venv/bin/python
shared=(1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.* 12.1.* 13.1.*)
variations=(12.2.* 13.2.* 12.3.* 13.3.* 12.4.* 13.4.* 12.5.* 13.5.* 13.6.* 13.7.*)
logs=$(mktemp -d)
pids=()
for index in "${!backends[@]}"; do
    cases=("${shared[@]}")
    for position in "${!variations[@]}"; do
        if [ $((position % ${#backends[@]})) = "$index" ]; then cases+=("${variations[$position]}"); fi
    done
    WAVELOG_IO_BACKEND=${backends[$index]} "$python" scripts/conformance.py "$binary" --cases "${cases[@]}" >"$logs/$index" 2>&1 &
    pids+=($!)
done
WAVELOG_IO_BACKEND=${backends[0]} "$python" scripts/conformance.py "$binary" --tls --cases "${shared[@]}" >"$logs/tls" 2>&1 &
tls_pid=$!
status=0
for index in "${!backends[@]}"; do
    wait "${pids[$index]}" || status=1
    cat "$logs/$index"
done
wait "$tls_pid" || status=1
cat "$logs/tls"
rm -rf "$logs"
exit $status
