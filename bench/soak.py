#!/usr/bin/env python3
"""`make bench-soak`: a long run that must end where it began (a benchmark, not a test).

One release worker, pinned to CPU 0 as in bench/run.py, gets:
1. connect/authenticate/disconnect cycles (1,000,000 by default): wavelog-load runs that open
   --batch authenticated WebSockets each, then exit, which closes them all;
2. mixed load for --mixed-seconds (600 by default): 100 topics x 10 subscribers receiving 100
   publishes per second, while further batches of 1,000 sockets connect, authenticate and go.

Resident memory and open descriptors of the worker are sampled every 10 s and printed as one
line each. The verdict: descriptors at the end (after the load stopped) equal those after
one warm-up batch, and resident memory at the end is no higher than its peak during the first
phase plus --rss-bound-kib. Batches overlap (one closes while the next connects), so the first
phase sets the working size; what counts is that 10 minutes more of load add nothing to it.
Exits 1 otherwise.

Usage: bench/soak.py [--bin DIR] [--cycles N] [--batch N] [--mixed-seconds S] [--rss-bound-kib K]
"""
import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (the benchmark's own server and load-generator helpers)

SAMPLE_SECONDS = 10


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler(threading.Thread):
    """Every SAMPLE_SECONDS: elapsed seconds, phase, resident KiB, descriptors, cycles so far."""

    def __init__(self, pid, progress):
        super().__init__(daemon=True)
        self.pid, self.progress = pid, progress
        self.series = []
        self.stopping = threading.Event()
        self.started = time.monotonic()

    def take(self):
        row = (time.monotonic() - self.started, self.progress["phase"], resident_kib(self.pid), descriptors(self.pid),
               self.progress["cycles"])
        self.series.append(row)
        print(f"{row[0]:7.0f} s  {row[1]:<8} rss {row[2]:7d} KiB  fds {row[3]:5d}  cycles {row[4]:9d}", flush=True)
        return row

    def run(self):
        while not self.stopping.wait(SAMPLE_SECONDS):
            self.take()


def settle(pid, quiet_seconds=2, limit=120):
    """Waits until the worker's descriptor count stays the same for `quiet_seconds`: the load
    generator's exit closes its sockets at once, the worker notices over the next turns."""
    deadline = time.monotonic() + limit
    last, since = descriptors(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)  # polling /proc: the worker reports no event for it
        now = descriptors(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return


def connect_batch(bindir, server, sockets):
    topics = max(1, sockets // 100)
    report = bench.load(bindir, server, "worker", f"--mode connect --topics {topics} --subscribers {sockets // topics}")
    return report.get("connections", sockets)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=None, help="folder with release wavelog-worker and wavelog-load")
    parser.add_argument("--cycles", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--mixed-seconds", type=float, default=600)
    parser.add_argument("--rss-bound-kib", type=int, default=1024,
                        help="how much more resident memory the end may have than the first phase's peak")
    args = parser.parse_args()
    bindir = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], capture_output=True,
                                        text=True, check=True).stdout.strip()

    server = bench.start_worker(os.path.join(bindir, "wavelog-worker"))
    progress = {"phase": "warm-up", "cycles": 0}
    sampler = Sampler(server.process.pid, progress)
    try:
        progress["cycles"] += connect_batch(bindir, server, args.batch)
        settle(server.process.pid)
        first = sampler.take()
        sampler.start()

        progress["phase"] = "cycles"
        while progress["cycles"] < args.cycles + args.batch:  # the warm-up batch is not counted
            progress["cycles"] += connect_batch(bindir, server, args.batch)

        progress["phase"] = "mixed"
        fanout = subprocess.Popen(
            ["taskset", "-c", bench.CLIENT_CPU, os.path.join(bindir, "wavelog-load"), "--dialect", "worker",
             "--ws-port", str(server.ws_port), "--http-port", str(server.http_port), "--secret", bench.SECRET,
             "--mode", "fanout", "--topics", "100", "--subscribers", "10", "--rate", "100",
             "--seconds", str(args.mixed_seconds), "--payload-bytes", "512"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        mixed_until = time.monotonic() + args.mixed_seconds
        while time.monotonic() < mixed_until and fanout.poll() is None:
            progress["cycles"] += connect_batch(bindir, server, 1000)
        out, err = fanout.communicate(timeout=args.mixed_seconds + 120)
        if fanout.returncode != 0 and not out.strip():
            raise RuntimeError(f"the fan-out load failed: {err.strip()}")

        progress["phase"] = "idle"
        sampler.stopping.set()
        sampler.join()
        settle(server.process.pid)
        last = sampler.take()
        peak = max(row[2] for row in sampler.series)
        working = max(row[2] for row in sampler.series if row[1] in ("warm-up", "cycles"))
        mixed = [row[2] for row in sampler.series if row[1] == "mixed"]
        print(f"\nfan-out during the mixed phase: {out.strip()}")
        print(f"start: rss {first[2]} KiB, fds {first[3]}; peak of the cycles phase: rss {working} KiB; mixed phase: "
              f"rss {min(mixed, default=0)}..{max(mixed, default=0)} KiB; end: rss {last[2]} KiB, fds {last[3]}; "
              f"peak rss {peak} KiB; {progress['cycles'] - args.batch} cycles after the warm-up, {last[0] / 60:.1f} min")
        grown = last[2] - working
        if last[3] != first[3] or grown > args.rss_bound_kib:
            print(f"NOT FLAT: descriptors {first[3]} -> {last[3]}, resident memory {grown:+d} KiB over the cycles "
                  f"phase's peak (bound {args.rss_bound_kib} KiB)")
            return 1
        print(f"flat: descriptors equal, resident memory {grown:+d} KiB against the cycles phase's peak "
              f"(bound {args.rss_bound_kib} KiB)")
        return 0
    finally:
        sampler.stopping.set()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
