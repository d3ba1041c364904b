#!/usr/bin/env python3
"""The other side of the webhook benchmark, standard library only.

`receive --port P [--delay-ms N | --hang]`: a webhook endpoint that answers 200 after N ms, or
never (the worker's request times out after 5 s and is retried); prints requests and events
received on SIGTERM.
`churn --port P --key K`: Pusher sockets that each subscribe to a channel of their own and
close, one after another, so the worker has occupied and vacated events to send all along."""
import argparse
import base64
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def receive(port, delay_ms, hang):
    counts = {"requests": 0, "events": 0}
    lock = threading.Lock()
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                counts["requests"] += 1
                counts["events"] += len(json.loads(body)["events"])
            if hang:
                release.wait(600)
            elif delay_ms:
                time.sleep(delay_ms / 1000)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def stop(*_):
        release.set()
        print(json.dumps(counts), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


def frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81, 0x80 | len(payload)]) if len(payload) < 126 else bytes([0x81, 0xFE]) + len(payload).to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def churn(port, key):
    number = 0
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        number += 1
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            nonce = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /app/{key}?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            received = b""
            while b"connection_established" not in received:
                received += sock.recv(4096)
            sock.sendall(frame(json.dumps({"event": "pusher:subscribe", "data": {"channel": f"churn-{number}"}})))
            while b"subscription_succeeded" not in received:
                received += sock.recv(4096)
            sock.close()
        except OSError:
            time.sleep(0.1)
        time.sleep(0.005)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["receive", "churn"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--key", default="bench-key")
    args = parser.parse_args()
    if args.mode == "receive":
        receive(args.port, args.delay_ms, args.hang)
    else:
        churn(args.port, args.key)


if __name__ == "__main__":
    sys.exit(main())
