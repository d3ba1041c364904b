#!/usr/bin/env bash
# Publish throughput and server CPU per request over keep-alive and over a new connection per
# request (as PHP's curl does), at threads: 1 (worker pinned to CPU 0, wrk to CPU 1) and threads: 2.
# Usage: bench/http-publish.sh [seconds]   (needs wrk; builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
if [ -z "${WORKER_BIN:-}" ]; then
  swift build -c release --product wavelog-worker >/dev/null
fi
bin="${WORKER_BIN:-$(swift build -c release --show-bin-path)/wavelog-worker}"
export WORKER_SECRET=bench-secret-0123456789abcdef0123456789
dir=$(mktemp -d)
clk=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_case() {  # threads, pin(yes/no), mode(keepalive/close), connections
  local threads=$1 pin=$2 mode=$3 conns=$4 port=$((19101 + RANDOM % 500))
  printf 'worker_secret: "%s"\ninternal_port: %d\nws_port: 0\nws_bind: "127.0.0.1"\nthreads: %d\nlog_level: warning\n' \
    "$WORKER_SECRET" "$port" "$threads" > "$dir/config.yaml"
  if [ "$pin" = yes ]; then taskset -c 0 "$bin" -config "$dir/config.yaml" & else "$bin" -config "$dir/config.yaml" & fi
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
  curl -s -H "X-Worker-Secret: $WORKER_SECRET" -d '{"topic":"bench"}' "http://127.0.0.1:$port/internal/register"
  local extra=() wrkpin=()
  [ "$mode" = close ] && extra=(-H "Connection: close")
  [ "$pin" = yes ] && wrkpin=(taskset -c 1)
  local before; before=$(cpu_ticks $pid)
  local out; out=$("${wrkpin[@]}" wrk -t1 -c"$conns" -d"${seconds}s" -s bench/publish.lua "${extra[@]}" "http://127.0.0.1:$port/internal/publish")
  local after; after=$(cpu_ticks $pid)
  kill -TERM $pid; wait $pid || true
  local requests; requests=$(echo "$out" | awk '/requests in/ {print $1}')
  local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  local us; us=$(awk -v t=$((after - before)) -v c="$clk" -v r="$requests" 'BEGIN { printf "%.1f", t / c * 1e6 / r }')
  printf '%-8s %-10s %-5s %6s %12s %14s %s\n' "$threads" "$mode" "$conns" "$pin" "$rps" "$us" "${non2xx:-0}"
}

printf '%-8s %-10s %-5s %6s %12s %14s %s\n' threads mode conns pinned "requests/s" "cpu us/req" non-2xx
run_case 1 yes keepalive 8
run_case 1 yes close 8
run_case 2 no keepalive 8
run_case 2 no close 8
rm -rf "$dir"
