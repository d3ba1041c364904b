#!/usr/bin/env bash
# Fails when a layer imports what docs/architecture.md "Targets" forbids: the hexagon's rule,
# checked on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

imports() {  # the modules imported by the Swift files under $1
  grep -rhoE '^\s*(@[A-Za-z_]+(\([^)]*\))? )*((public|internal|package|private|fileprivate) )?import +(class |struct |enum |func |protocol )?[A-Za-z_][A-Za-z0-9_]*' "$1" \
    --include='*.swift' | awk '{print $NF}' | sort -u
}

check() {  # $1 target dir, $2 allowed modules (regex)
  local bad
  bad=$(imports "$1" | grep -vxE "$2" || true)
  if [ -n "$bad" ]; then
    echo "check-layers: $1 imports $(echo $bad | tr '\n' ' ')(allowed: $2)" >&2
    failed=1
  fi
}

failed=0
check Sources/Domain 'Swift|_Concurrency'
check Sources/Application 'Swift|_Concurrency|Domain|Logging'
check Sources/Adapters 'Swift|_Concurrency|Domain|Application|Logging|Synchronization|Glibc|CYAML|COpenSSL|CHiredis|CLinux|CZlib|CUring|CCurl'
check Tests/DomainTests 'Swift|_Concurrency|Domain|Testing|TestSupport'
check Tests/ApplicationTests 'Swift|_Concurrency|Domain|Application|Logging|Testing|TestSupport'
if [ "$failed" -ne 0 ]; then exit 1; fi
echo "check-layers: Domain, Application and Adapters import only what their layer allows"
