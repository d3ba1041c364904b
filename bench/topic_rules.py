#!/usr/bin/env python3
"""Figures for topic rules and the paced drain (docs/adr/0024), in one run:

1. bursts: 100 browsers on a contest session; the backend sends bursts of 10 publishes, one
   HTTP request each as PHP does; the pushes each browser gets per burst (each one an AJAX
   refetch from PHP), with `coalesce: 250ms` and without.
2. cpu: 1 x 10,000 subscribers, publishes at a fixed high rate (wavelog-load), server CPU per
   published message and subscriber, on a coalescing topic and on a plain one.
3. drain: 10,000 clients on node A, each reconnecting to node B 1 s after A closed it, as
   Wavelog's pages do; SIGTERM to A with `drain_period: 10s` and with `0`: the most reconnects
   in any 100 ms.

Servers are pinned to CPU 0, clients to CPU 1, as in bench/run.py (whose helpers start them).
The clients here are the standard library's (raw sockets, selectors, one thread).

Usage: bench/topic_rules.py [--runs N] [--bin DIR] [--only bursts,cpu,drain] [--clients N]
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (bench/run.py: start_worker, load, SECRET)

COALESCE = 'topic_rules:\n  - {topics: "%s", coalesce: 250ms}\n'


def token(topic):
    claims = json.dumps({"user_id": 1, "topic": topic, "expires": int(time.time()) + 3600}, separators=(",", ":"))
    head = claims.encode().hex()
    return head + "." + hmac.new(run.SECRET.encode(), head.encode(), hashlib.sha256).hexdigest()


def masked_text(text):
    payload = text.encode()
    mask = os.urandom(4)
    length = len(payload)
    header = bytes([0x81, 0x80 | length]) if length < 126 else bytes([0x81, 0x80 | 126]) + struct.pack("!H", length)
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


class Client:
    """One WebSocket subscriber: upgrade and auth in one write, then frames counted."""

    def __init__(self, port, topic):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setblocking(False)
        self.socket.connect_ex(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws?topic={topic} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.pending = request.encode() + masked_text(json.dumps({"type": "auth", "token": token(topic)}))
        self.buffer = b""
        self.upgraded = False
        self.subscribed = False
        self.pushes = 0
        self.close_code = None
        self.ended = False

    def writable(self):
        if self.pending:
            try:
                sent = self.socket.send(self.pending)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.ended = True
                return
            self.pending = self.pending[sent:]

    def readable(self):
        try:
            data = self.socket.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer[:80]
            self.upgraded = True
            self.buffer = self.buffer[end + 4:]
        while len(self.buffer) >= 2:
            length = self.buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, start = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, start = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < start + length:
                return
            opcode, payload = self.buffer[0] & 0x0F, self.buffer[start:start + length]
            self.buffer = self.buffer[start + length:]
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.ended = True
                return
            if opcode == 0x1:
                if payload.startswith(b'{"type":"auth_ok"'):
                    self.subscribed = True
                elif payload.startswith(b'{"type":"push"'):
                    self.pushes += 1


class Crowd:
    """Many clients on one selector."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.clients = set()

    def add(self, client):
        self.clients.add(client)
        self.selector.register(client.socket, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def drop(self, client):
        self.clients.discard(client)
        self.selector.unregister(client.socket)
        client.socket.close()

    def turn(self, timeout=0.01):
        for key, events in self.selector.select(timeout):
            client = key.data
            if events & selectors.EVENT_WRITE:
                client.writable()
                if not client.pending and not client.ended:
                    self.selector.modify(client.socket, selectors.EVENT_READ, client)
            if events & selectors.EVENT_READ:
                client.readable()

    def run_until(self, done, timeout):
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.turn()
        return done()

    def run_for(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.turn()


def register(server, topic):
    run.request(server.http_port, "/internal/register", {"topic": topic, "meta": {"require_token": True}})


def bursts(binary, runs, browsers=100, count=5):
    """Pushes per browser per burst of 10 publishes: the AJAX requests a burst causes."""
    found = {"plain": [], "coalesce": []}
    for _ in range(runs):
        for case in found:
            server = run.start_worker(binary, extra=COALESCE % "contest_session.*" if case == "coalesce" else "")
            try:
                register(server, "contest_session.1")
                crowd = Crowd()
                for _ in range(browsers):
                    crowd.add(Client(server.ws_port, "contest_session.1"))
                assert crowd.run_until(lambda: all(c.subscribed for c in crowd.clients), 30), "not all subscribed"
                php = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
                for burst in range(count):
                    for n in range(10):
                        body = json.dumps({"topic": "contest_session.1", "payload": {"qso": burst * 10 + n}})
                        php.request("POST", "/internal/publish", body, {"X-Worker-Secret": run.SECRET})
                        answer = php.getresponse()
                        answer.read()
                        assert answer.status == 200
                    # A benchmark's schedule, not a synchronisation: longer than the window, so
                    # the trailing push is in and the next burst starts a new window.
                    crowd.run_for(0.6)
                php.close()
                found[case].append(statistics.mean(c.pushes for c in crowd.clients) / count)
                for client in list(crowd.clients):
                    crowd.drop(client)
            finally:
                server.stop()
    return {case: statistics.median(values) for case, values in found.items()}


def cpu(bindir, runs, rate=100, seconds=5):
    """Server CPU per published message and subscriber, 1 x 10,000 at a fixed rate."""
    binary = os.path.join(bindir, "wavelog-worker")
    flags = f"--mode fanout --topics 1 --subscribers 10000 --rate {rate} --seconds {seconds} --drain-seconds 1"
    found = {"plain": [], "coalesce": []}
    pushes = {"plain": [], "coalesce": []}
    rates = {"plain": [], "coalesce": []}
    for _ in range(runs):
        for case in found:
            server = run.start_worker(binary, extra=COALESCE % "bench.*" if case == "coalesce" else "")
            try:
                report = run.load(bindir, server, "worker", flags)
            finally:
                server.stop()
            intended = report["publishes"] * 10000
            found[case].append(report["server_cpu_s"] * 1e6 / intended)
            pushes[case].append(report["deliveries"] / intended)
            rates[case].append(report["publishes"] / report["seconds"])
    return tuple({case: statistics.median(values) for case, values in figures.items()} for figures in (found, pushes, rates))


def drain(binary, runs, clients):
    """The most reconnects in any 100 ms after a SIGTERM, paced and not."""
    found = {"drain_period: 10s": [], "drain_period: 0": []}
    spans = {case: [] for case in found}
    for _ in range(runs):
        for case in found:
            node_a = run.start_worker(binary, extra=case + "\ndrain_timeout: 10s\n")
            node_b = run.start_worker(binary)
            try:
                for node in (node_a, node_b):
                    register(node, "contest_session.1")
                crowd = Crowd()
                for start in range(0, clients, 500):
                    for _ in range(start, min(clients, start + 500)):
                        crowd.add(Client(node_a.ws_port, "contest_session.1"))
                    crowd.run_until(lambda: all(c.subscribed or c.ended for c in crowd.clients), 60)
                assert sum(c.subscribed for c in crowd.clients) == clients, "not all subscribed on node A"
                node_a.process.send_signal(signal.SIGTERM)
                closed_at = []
                reconnects = []
                due = []  # (time, ) of reconnects waiting for their second
                deadline = time.monotonic() + 60
                while (len(reconnects) < clients) and time.monotonic() < deadline:
                    crowd.turn(0.005)
                    now = time.monotonic()
                    for client in [c for c in crowd.clients if c.ended]:
                        crowd.drop(client)
                        if not client.subscribed:
                            continue
                        closed_at.append(now)
                        due.append(now + 1.0)
                    due.sort()
                    while due and due[0] <= now:
                        due.pop(0)
                        reconnects.append(now)
                        fresh = Client(node_b.ws_port, "contest_session.1")
                        crowd.add(fresh)
                reconnects.sort()
                peak, low = 0, 0
                for high, moment in enumerate(reconnects):
                    while reconnects[low] < moment - 0.1:
                        low += 1
                    peak = max(peak, high - low + 1)
                found[case].append(peak)
                spans[case].append(reconnects[-1] - reconnects[0] if reconnects else 0)
                crowd.run_until(lambda: sum(c.subscribed for c in crowd.clients) >= len(reconnects), 60)
                for client in list(crowd.clients):
                    crowd.drop(client)
            finally:
                node_a.stop()
                node_b.stop()
    return {case: statistics.median(values) for case, values in found.items()}, {case: statistics.median(v) for case, v in spans.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--bin")
    parser.add_argument("--only", default="bursts,cpu,drain")
    parser.add_argument("--clients", type=int, default=10000)
    args = parser.parse_args()
    bindir = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], capture_output=True,
                                        text=True, check=True).stdout.strip()
    binary = os.path.join(bindir, "wavelog-worker")
    only = set(args.only.split(","))
    if "bursts" in only:
        found = bursts(binary, args.runs)
        print(f"bursts: pushes (AJAX refetches) per browser per 10-publish burst: coalesce 250ms {found['coalesce']:.2f}, "
              f"plain {found['plain']:.2f}, ratio {found['coalesce'] / found['plain']:.2f}x")
    if "cpu" in only:
        found, pushes, rates = cpu(bindir, args.runs)
        print(f"cpu: server CPU per published message and subscriber, 1 x 10,000, publishing at up to 100/s: "
              f"coalesce {found['coalesce']:.4f} us, plain {found['plain']:.4f} us, ratio {found['coalesce'] / found['plain']:.2f}x "
              f"(pushes per message and subscriber: {pushes['coalesce']:.3f} and {pushes['plain']:.3f}; "
              f"publishes/s reached: {rates['coalesce']:.0f} and {rates['plain']:.0f}, the plain server saturated)")
    if "drain" in only:
        found, spans = drain(binary, args.runs, args.clients)
        paced, burst = found["drain_period: 10s"], found["drain_period: 0"]
        print(f"drain: most reconnects in any 100 ms, {args.clients} clients reconnecting 1 s after their close: "
              f"paced {paced}, all at once {burst}, ratio {paced / burst:.3f}x "
              f"(reconnects spread over {spans['drain_period: 10s']:.2f} s and {spans['drain_period: 0']:.2f} s)")


if __name__ == "__main__":
    main()
