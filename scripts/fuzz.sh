#!/usr/bin/env bash
# `make fuzz`: builds each libFuzzer target (docs/development.md "Fuzzing") and runs it for a
# bounded time from its committed seed corpus. FUZZ_SECONDS sets the time per target (default 60).
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds=${FUZZ_SECONDS:-60}
runtime=$(ls -d "$(dirname "$(command -v swift)")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
export SWIFT_BACKTRACE=enable=no
for target in ${FUZZ_TARGETS:-FuzzHTTPParser FuzzJSONReader FuzzWebSocketDecoder FuzzDeflateOffer FuzzPusherMessage FuzzPusherRequest FuzzRosterEntry FuzzReplicaMessage FuzzStreamPosition FuzzPublishBody}; do
  [ -d "Sources/$target" ] || continue
  corpus=corpus/$(echo "$target" | sed -e 's/^Fuzz//' -e 's/Parser$//' -e 's/Reader$//' -e 's/Decoder$//' | tr '[:upper:]' '[:lower:]')
  swift build --product "$target" --scratch-path ../.build-fuzz \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    -Xlinker "$runtime" -Xlinker -lstdc++ 2>&1 | grep -E "error|Compiling|Build" | tail -3
  work=corpus-work/$target
  mkdir -p "$work"
  echo "fuzzing $target for ${seconds}s (seed corpus $corpus)"
  "../.build-fuzz/debug/$target" "$work" "$corpus" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -12
done
