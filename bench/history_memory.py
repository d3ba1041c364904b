#!/usr/bin/env python3
"""Resident memory per retained history message: one worker with a `history` rule, 100 topics
x 1,000 messages published through the internal API (nobody subscribed, so every byte that
stays is the history's), RSS before and after. Run per thread count: every loop keeps the
history (the frames are shared between loops, the bookkeeping is per loop).

Usage: bench/history_memory.py BINARY [--payload BYTES] [--threads N ...]
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import tempfile
import time

SECRET = "0123456789abcdef0123456789abcdef"
TOPICS = 100
MESSAGES = 1000


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(binary, payload_bytes, threads):
    ws_port, internal_port = free_port(), free_port()
    config = f"""worker_secret: "{SECRET}"
ws_port: {ws_port}
internal_port: {internal_port}
threads: {threads}
log_level: warning
history:
  - {{topics: "h.*", size: {MESSAGES}, ttl: 1h}}
history_max_bytes: 1000000000
history_topic_max_bytes: 100000000
"""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "config.yaml")
        with open(path, "w") as file:
            file.write(config)
        worker = subprocess.Popen([binary, "-config", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", internal_port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)  # start-up has no event to await from outside
            connection = http.client.HTTPConnection("127.0.0.1", internal_port)
            headers = {"X-Worker-Secret": SECRET, "Content-Type": "application/json"}

            def call(path, body):
                connection.request("POST", path, json.dumps(body), headers)
                answer = connection.getresponse()
                answer.read()
                assert answer.status == 200, answer.status

            topics = [f"h.{index}" for index in range(TOPICS)]
            for topic in topics:
                call("/internal/register", {"topic": topic, "meta": {"require_token": True}})
            filler = "x" * max(0, payload_bytes - 20)
            before = rss_kib(worker.pid)
            for number in range(MESSAGES):
                for topic in topics:
                    call("/internal/publish", {"topic": topic, "payload": {"n": number, "d": filler}})
            # The other loops record from their queues microseconds behind the last answer,
            # which is nothing next to 100,000 publishes.
            after = rss_kib(worker.pid)
            return before, after
        finally:
            worker.terminate()
            worker.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--payload", type=int, default=120, help="bytes of JSON per message")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    arguments = parser.parse_args()
    for threads in arguments.threads:
        before, after = measure(arguments.binary, arguments.payload, threads)
        count = TOPICS * MESSAGES
        print(f"threads {threads}, payload {arguments.payload} B: RSS {before} -> {after} KiB, "
              f"{(after - before) * 1024 / count:.0f} bytes per retained message")


if __name__ == "__main__":
    main()
