#!/usr/bin/env python3
"""A wave of WebSocket clients that resume at once: each subscribes to a topic with history,
naming a position, and reads the missed pushes replayed to it. For bench/run.py's history
section; standard library only (raw sockets, one thread, selectors), so it runs wherever the
bench does.

Usage: resume_wave.py --port P --secret S --topic T --since POSITION|auto --clients N --expect M
Prints JSON: {"clients", "completed", "replayed", "seconds"}.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import selectors
import socket
import struct
import time


def token(secret, topic):
    claims = json.dumps({"user_id": 1, "topic": topic, "expires": int(time.time()) + 3600}, separators=(",", ":"))
    head = claims.encode().hex()
    return head + "." + hmac.new(secret.encode(), head.encode(), hashlib.sha256).hexdigest()


def masked_text(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


class Client:
    def __init__(self, port, topic, auth):
        self.socket = socket.create_connection(("127.0.0.1", port))
        self.socket.setblocking(False)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws?topic={topic} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n\r\n")
        self.pending = request.encode() + masked_text(auth)
        self.buffer = b""
        self.upgraded = False
        self.frames = 0

    def readable(self):
        data = self.socket.recv(1 << 16)
        if not data:
            return False
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return True
            assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer[:100]
            self.buffer = self.buffer[end + 4:]
            self.upgraded = True
        while len(self.buffer) >= 2:
            length = self.buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(self.buffer) < 4:
                    break
                length, offset = struct.unpack("!H", self.buffer[2:4])[0], 4
            elif length == 127:
                if len(self.buffer) < 10:
                    break
                length, offset = struct.unpack("!Q", self.buffer[2:10])[0], 10
            if len(self.buffer) < offset + length:
                break
            self.buffer = self.buffer[offset + length:]
            self.frames += 1
        return True


def probe_position(port, secret, topic):
    """The topic's latest position, from the `auth_ok` of a client that names none."""
    client = Client(port, topic, json.dumps({"type": "auth", "token": token(secret, topic)}))
    client.socket.setblocking(True)
    client.socket.sendall(client.pending)
    data = b""
    while True:
        data += client.socket.recv(1 << 16)
        end = data.find(b"\r\n\r\n")
        if end >= 0 and len(data) >= end + 6 and len(data) >= end + 6 + data[end + 5]:
            frame = data[end + 4:]
            answer = json.loads(frame[2:2 + frame[1]])
            client.socket.close()
            return answer["offset"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--since", required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--expect", type=int, default=100, help="replayed pushes per client")
    parser.add_argument("--timeout", type=float, default=60)
    arguments = parser.parse_args()
    since = arguments.since
    if since == "auto":  # as far back as --expect messages before the latest
        epoch, offset = probe_position(arguments.port, arguments.secret, arguments.topic).split("-")
        since = f"{epoch}-{int(offset) - arguments.expect}"
    auth = json.dumps({"type": "auth", "token": token(arguments.secret, arguments.topic), "since": since})
    selector = selectors.DefaultSelector()
    started = time.monotonic()
    clients = []
    for _ in range(arguments.clients):
        client = Client(arguments.port, arguments.topic, auth)
        clients.append(client)
        selector.register(client.socket, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
    wanted = arguments.expect + 1  # auth_ok, then the replay
    done = 0
    deadline = started + arguments.timeout
    while done < len(clients) and time.monotonic() < deadline:
        for key, events in selector.select(timeout=1):
            client = key.data
            if events & selectors.EVENT_WRITE and client.pending:
                sent = client.socket.send(client.pending)
                client.pending = client.pending[sent:]
                if not client.pending:
                    selector.modify(client.socket, selectors.EVENT_READ, client)
            if events & selectors.EVENT_READ:
                before = client.frames
                alive = client.readable()
                if before < wanted <= client.frames:
                    done += 1
                if not alive:
                    selector.unregister(client.socket)
    seconds = time.monotonic() - started
    for client in clients:
        client.socket.close()
    print(json.dumps({"clients": len(clients), "completed": done, "replayed": sum(max(0, c.frames - 1) for c in clients),
                      "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
