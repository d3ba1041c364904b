#!/usr/bin/env python3
"""Rough WebSocket figures until the full load generator exists ([bench]).

Worker (release, threads: 1) pinned to CPU 0, this client pinned to CPU 1. Reports:
- fan-out to 1 topic x N subscribers: deliveries/s and server CPU microseconds per delivery;
- resident memory per idle authenticated connection at M connections.
Usage: ws-rough.py BINARY [subscribers] [publishes] [idle_connections]"""
import asyncio
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time

import websockets

SECRET = "rough-bench-secret-0123456789abcdef0123"


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def start(binary):
    directory = tempfile.mkdtemp()
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as f:
        f.write(f'worker_secret: "{SECRET}"\nws_port: 0\ninternal_port: 0\nws_bind: "127.0.0.1"\nthreads: 1\n'
                "log_level: warning\nsend_queue_frames: 100000\nsend_queue_bytes: 104857600\nmax_connections: 19000\n")
    log = open(os.path.join(directory, "log"), "w+")
    process = subprocess.Popen(["taskset", "-c", "0", binary, "-config", config, "-"][:-1], stdout=log, stderr=subprocess.STDOUT)
    # The ports are logged at info level, which warning hides: read them from /proc instead.
    deadline = time.monotonic() + 20
    ports = []
    while time.monotonic() < deadline and len(ports) < 2:
        out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        ports = sorted({int(m.group(1)) for m in re.finditer(r"127\.0\.0\.1:(\d+).*pid=%d," % process.pid, out)})
        time.sleep(0.05)
    return process, ports


def api(port, method, path, body=None, connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", port)
    conn.request(method, path, body=body, headers={"X-Worker-Secret": SECRET})
    response = conn.getresponse()
    data = response.read()
    return response.status, data


async def fan_out(ws_port, api_port, subscribers, publishes):
    api(api_port, "POST", "/internal/register", '{"topic":"fan","meta":{"require_token":false}}')
    sockets = []
    for _ in range(subscribers):
        ws = await websockets.connect(f"ws://127.0.0.1:{ws_port}/ws?topic=fan", max_queue=None, ping_interval=None)
        await ws.send('{"type":"auth"}')
        assert await ws.recv() == '{"type":"auth_ok"}'
        sockets.append(ws)
    received = [0] * subscribers
    done = asyncio.Event()

    async def reader(index, ws):
        while received[index] < publishes:
            await ws.recv()
            received[index] += 1
        if all(count == publishes for count in received):
            done.set()

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets)]
    return sockets, readers, done, received


def main():
    binary = sys.argv[1]
    subscribers = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    publishes = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    idle = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    os.sched_setaffinity(0, {1})
    process, ports = start(binary)
    # The lower port is not reliably either; ask: the internal one answers /internal/status.
    api_port = next(p for p in ports if api(p, "GET", "/internal/status")[0] == 200)
    ws_port = next(p for p in ports if p != api_port)

    async def run():
        sockets, readers, done, received = await fan_out(ws_port, api_port, subscribers, publishes)
        connection = http.client.HTTPConnection("127.0.0.1", api_port)
        cpu_before = cpu_seconds(process.pid)
        started = time.monotonic()
        loop = asyncio.get_running_loop()

        def publish_all():
            for index in range(publishes):
                api(api_port, "POST", "/internal/publish", '{"topic":"fan","payload":{"n":%d,"call":"DL1ABC"}}' % index, connection)

        await loop.run_in_executor(None, publish_all)
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(process.pid) - cpu_before
        deliveries = subscribers * publishes
        print(f"fan-out 1 topic x {subscribers}: {deliveries} deliveries in {elapsed:.2f}s = {deliveries / elapsed:,.0f}/s "
              f"(client-bound); server CPU {cpu:.3f}s = {cpu / deliveries * 1e6:.2f} us per delivery; lost {deliveries - sum(received)}")
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()

        # Idle authenticated connections.
        await asyncio.sleep(0.5)
        before = rss_kib(process.pid)
        idle_sockets = []
        for start_index in range(0, idle, 500):
            batch = await asyncio.gather(*[
                websockets.connect(f"ws://127.0.0.1:{ws_port}/ws?topic=fan", ping_interval=None)
                for _ in range(min(500, idle - start_index))])
            for ws in batch:
                await ws.send('{"type":"auth"}')
            for ws in batch:
                assert await ws.recv() == '{"type":"auth_ok"}'
            idle_sockets += batch
        await asyncio.sleep(0.5)
        after = rss_kib(process.pid)
        print(f"idle: {idle} authenticated connections: RSS {before} KiB -> {after} KiB = {(after - before) / idle:.2f} KiB per connection")
        for ws in idle_sockets:
            ws.transport.abort()

    try:
        asyncio.run(run())
    finally:
        process.terminate()
        process.wait(timeout=20)


if __name__ == "__main__":
    main()
