#!/usr/bin/env python3
"""Cluster figures: cross-node publish-to-receive latency, and the extra server CPU a publish
costs in cluster mode compared with single-node mode, measured in one run.

Usage: cluster.py BINARY [publishes]   (needs redis-server; release build recommended)"""
import asyncio
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

SECRET = "cluster-bench-secret-0123456789abcdef0123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_worker(binary, extra=""):
    directory = tempfile.mkdtemp()
    ws, internal = free_port(), free_port()
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as f:
        f.write(f'worker_secret: "{SECRET}"\nws_port: {ws}\ninternal_port: {internal}\nws_bind: "127.0.0.1"\nthreads: 1\nlog_level: warning\n{extra}')
    process = subprocess.Popen([binary, "-config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            api(internal, "GET", "/internal/status")
            return process, ws, internal
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("worker did not start")


def api(port, method, path, body=None, connection=None):
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers={"X-Worker-Secret": SECRET})
    response = conn.getresponse()
    return response.status, response.read()


def publish_cpu(process, port, count):
    api(port, "POST", "/internal/register", '{"topic":"cpu","meta":{"require_token":false}}')
    connection = http.client.HTTPConnection("127.0.0.1", port)
    before = cpu_seconds(process.pid)
    for index in range(count):
        api(port, "POST", "/internal/publish", '{"topic":"cpu","payload":{"n":%d}}' % index, connection)
    return (cpu_seconds(process.pid) - before) / count * 1e6


async def latency(ws_port_b, internal_a, count):
    api(internal_a, "POST", "/internal/register", '{"topic":"lat","meta":{"require_token":false}}')
    ws = await websockets.connect(f"ws://127.0.0.1:{ws_port_b}/ws?topic=lat", ping_interval=None)
    await ws.send('{"type":"auth"}')
    assert await ws.recv() == '{"type":"auth_ok"}'
    connection = http.client.HTTPConnection("127.0.0.1", internal_a)
    samples = []
    loop = asyncio.get_running_loop()
    for index in range(count):
        sent = time.monotonic()
        await loop.run_in_executor(None, api, internal_a, "POST", "/internal/publish", '{"topic":"lat","payload":%d}' % index, connection)
        message = await asyncio.wait_for(ws.recv(), 10)
        samples.append(time.monotonic() - sent)
        assert json.loads(message)["payload"] == index
        await asyncio.sleep(0.005)
    await ws.close()
    return samples


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [redis]
    try:
        time.sleep(0.3)
        single, _, single_internal = start_worker(binary)
        processes.append(single)
        redis_line = f"redis_url: redis://127.0.0.1:{redis_port}/0\n"
        a, _, internal_a = start_worker(binary, redis_line)
        b, ws_b, _ = start_worker(binary, redis_line)
        processes += [a, b]
        single_us = publish_cpu(single, single_internal, count)
        cluster_us = publish_cpu(a, internal_a, count)
        samples = sorted(asyncio.run(latency(ws_b, internal_a, min(count, 1000))))
        p50 = samples[len(samples) // 2] * 1000
        p99 = samples[int(len(samples) * 0.99) - 1] * 1000
        print(f"publish CPU (keep-alive, no subscribers, {count} publishes): single node {single_us:.1f} us, "
              f"cluster node {cluster_us:.1f} us, ratio {cluster_us / single_us:.2f}x")
        print(f"cross-node publish-to-receive latency over {len(samples)} publishes (HTTP request included): "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {samples[-1] * 1000:.2f} ms")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
