#!/usr/bin/env python3
"""User-space instructions per operation under callgrind: repeatable on a noisy machine, where
CPU time is not (valgrind counts instructions, whatever else runs). Kernel work is not counted,
so pair it with bench/run.py for the whole cost.

Each binary runs under `valgrind --tool=callgrind` once idle and once per workload; the
difference divided by the operations is the figure. Workloads: N connections set up
(handshake + auth, and the close when the generator leaves), N keep-alive publishes, N/2
publishes each on a connection of its own (accept, request, answer, close), and N/10 publishes
to 100 subscribers (per delivery, publish cost included).

Usage: bench/instructions.py BINARY [BINARY...] [--connections N] [--publishes N] [--io-backend NAME]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import SECRET, free_port, wait_listening  # noqa: E402


def instructions(binary, load, flags, io_backend):
    directory = tempfile.mkdtemp(prefix="bench-callgrind-")
    ws, internal = free_port(), free_port()
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as f:
        f.write(f'worker_secret: "{SECRET}"\nws_port: {ws}\nws_bind: "127.0.0.1"\ninternal_port: {internal}\n'
                f"threads: 1\nlog_level: warning\nmax_connections: 19000\nio_backend: {io_backend}\n")
    out = os.path.join(directory, "callgrind.out")
    process = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "-config", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(ws, process, "wavelog-worker under callgrind")
        wait_listening(internal, process, "wavelog-worker under callgrind")
        if flags:
            subprocess.run([load, "--dialect", "worker", "--ws-port", str(ws), "--http-port", str(internal),
                            "--secret", SECRET, "--drain-seconds", "60", *flags], check=True, capture_output=True, timeout=600)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    text = open(out).read()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    return int(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--publishes", type=int, default=2000)
    parser.add_argument("--load", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       ".build", "release", "wavelog-load"))
    # epoll by default: a worker on io_uring did not stop within 120 s of SIGTERM under valgrind.
    parser.add_argument("--io-backend", default="epoll")
    args = parser.parse_args()
    load = args.load

    def measure(binary, flags):
        return instructions(binary, load, flags, args.io_backend)
    workloads = [
        ("per connection set-up", args.connections,
         ["--mode", "connect", "--topics", "10", "--subscribers", str(args.connections // 10)]),
        ("per keep-alive publish", args.publishes,
         ["--mode", "publish", "--publishers", "1", "--seconds", "600", "--max-publishes", str(args.publishes)]),
        ("per new-connection publish", args.publishes // 2,
         ["--mode", "publish", "--publishers", "1", "--new-connection", "--seconds", "600",
          "--max-publishes", str(args.publishes // 2)]),
    ]
    subscribers = ["--topics", "1", "--subscribers", "100"]
    print(f"{'binary':40} {'workload':26} {'instructions':>14}")
    for binary in args.binaries:
        idle = measure(binary, [])
        for name, count, flags in workloads:
            total = measure(binary, flags)
            print(f"{os.path.basename(binary):40} {name:26} {(total - idle) / count:>14,.0f}")
            sys.stdout.flush()
        # Deliveries: 1 x 100 subscribers with and without the publishes, the difference per push.
        connected = measure(binary, ["--mode", "connect", *subscribers])
        fanned = measure(binary, ["--mode", "fanout", *subscribers, "--publishers", "1", "--seconds", "600",
                                             "--max-publishes", str(args.publishes // 10)])
        deliveries = args.publishes // 10 * 100
        print(f"{os.path.basename(binary):40} {'per delivery (1 x 100)':26} {(fanned - connected) / deliveries:>14,.0f}")


if __name__ == "__main__":
    main()
