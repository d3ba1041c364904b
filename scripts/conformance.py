#!/usr/bin/env python3
"""Autobahn TestSuite cases (through kosoku) against the worker's WebSocket adapter in echo mode.

Usage: [WAVELOG_IO_BACKEND=uring|epoll|poll] conformance.py WORKER_BINARY [--cases 1.* 2.* ...]
Prints a table of verdicts per section and the ids of failed cases; exits 1 on any FAILED or
ERROR verdict. Sections 12 and 13 (permessage-deflate) take most of the run's time: the client
compresses a thousand messages per case."""
import argparse
import asyncio
import collections
import re
import subprocess
import sys
import time

from kosoku import FailureError, run_fuzzingclient

SECTIONS = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*", "12.*", "13.*"]


def start_echo(binary):
    process = subprocess.Popen([binary, "-echo-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r":(\d+) io_backend=(\w+)$", line.strip())
    if not match:
        process.kill()
        sys.exit(f"echo server did not start: {line!r}")
    return process, int(match.group(1)), match.group(2)


async def run(port, cases):
    try:
        return await run_fuzzingclient(f"ws://127.0.0.1:{port}", cases=cases, concurrency=2)
    except FailureError as failure:
        return failure.results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--cases", nargs="*", default=SECTIONS)
    args = parser.parse_args()

    process, port, backend = start_echo(args.binary)
    started = time.monotonic()
    try:
        results = asyncio.run(run(port, args.cases))
    finally:
        process.terminate()
        process.wait(timeout=20)

    table = collections.defaultdict(collections.Counter)
    bad = []
    for result in results:
        section = result.case_id.split(".")[0]
        verdict = result.behavior.value
        close = result.behavior_close.value
        table[section][verdict] += 1
        if verdict in ("FAILED", "ERROR") or close in ("FAILED", "FAILED_BY_CLIENT", "UNCLEAN", "WRONG CODE", "WRONG_CODE"):
            if verdict not in ("INFORMATIONAL", "UNIMPLEMENTED") or close not in ("INFORMATIONAL",):
                bad.append(f"{result.case_id} ({verdict}, close {close}): {result.result} {result.result_close}".rstrip())

    verdicts = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR"]
    print(f"{'section':<8}" + "".join(f"{v:>15}" for v in verdicts))
    for section in sorted(table, key=int):
        print(f"{section:<8}" + "".join(f"{table[section][v]:>15}" for v in verdicts))
    total = sum(sum(counter.values()) for counter in table.values())
    print(f"{total} cases in {time.monotonic() - started:.1f}s on io_backend={backend}")
    if bad:
        print("failed:\n  " + "\n  ".join(bad))
        sys.exit(1)
    print("conformance: no FAILED case")


if __name__ == "__main__":
    main()
