"""permessage-deflate (RFC 7692) on /ws, through a real client (websockets, which offers it by
default) and a raw socket that inflates what it reads with Python's zlib.

Every wait is an awaited frame, close or answer with a timeout."""
import asyncio
import json
import os
import base64
import socket
import struct
import zlib
from urllib.parse import quote

from websockets.asyncio.client import connect as ws_connect

from conftest import register, request
from helpers import AUTH_OK, TIMEOUT, auth_message, open_ws, publish, recv, token_for, ws_url

ANSWER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
TAIL = b"\x00\x00\xff\xff"


def radio_status(index):
    """About 2 KiB of the JSON a radio-status push carries."""
    return json.dumps({"seq": index, "rigs": [{"call": f"DL{n}ABC", "freq": 14074000 + n, "mode": "FT8", "band": "20m",
                                               "power": 100, "snr": -12 + n % 7} for n in range(24)]}, separators=(",", ":"))


class RawClient:
    """A blocking WebSocket client that offers what the test says and reads RSV1."""

    def __init__(self, instance, topic, offer=None):
        self.sock = socket.create_connection(("127.0.0.1", instance.ws_port), timeout=TIMEOUT)
        lines = [f"GET /ws?topic={quote(topic, safe='')} HTTP/1.1", f"Host: 127.0.0.1:{instance.ws_port}",
                 "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                 f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}", "Origin: http://127.0.0.1"]
        if offer is not None:
            lines.append(f"Sec-WebSocket-Extensions: {offer}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101 "), head
        self.headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}

    def send(self, payload, opcode=0x1, rsv1=False):
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        self.sock.sendall(header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload)))

    def _take(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def frame(self):
        """(opcode, rsv1, payload as sent)."""
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        return first & 0x0F, bool(first & 0x40), self._take(length)

    def message(self):
        """(text, whether it came compressed), inflating as RFC 7692 §7.2.2 says."""
        opcode, rsv1, payload = self.frame()
        assert opcode == 0x1, (opcode, payload)
        if rsv1:
            payload = zlib.decompressobj(wbits=-15).decompress(payload + TAIL)
        return payload.decode(), rsv1

    def close(self):
        self.sock.close()


def test_offering_and_plain_clients_receive_the_same_payload_bytes_from_one_publish(worker):
    """websockets negotiates deflate; a client that does not offer it gets the plain frame of the same publish."""
    register(worker.internal_port, "radio.7")
    payloads = [radio_status(index) for index in range(5)] + ['"short"', "null", '{"é":"✓ \\u00e9"}']

    async def scenario():
        compressed = await ws_connect(ws_url(worker, "radio.7"), ping_interval=None, compression="deflate", open_timeout=TIMEOUT)
        plain = await open_ws(worker, "radio.7")
        assert compressed.response.headers["Sec-WebSocket-Extensions"] == ANSWER
        assert "Sec-WebSocket-Extensions" not in plain.response.headers
        for ws in (compressed, plain):
            await ws.send(auth_message(token_for("radio.7")))
            assert await recv(ws) == AUTH_OK
        for payload in payloads:
            publish(worker, "radio.7", payload)
        got = [[await recv(ws) for _ in payloads] for ws in (compressed, plain)]
        await compressed.close()
        await plain.close()
        return got

    compressed, plain = asyncio.run(scenario())
    expected = ['{"type":"push","payload":' + payload + "}" for payload in payloads]
    assert compressed == expected
    assert plain == expected


def test_pushes_are_compressed_from_the_threshold_and_small_ones_are_not(make_worker):
    instance = make_worker("websocket_compression_threshold: 300\n")
    register(instance.internal_port, "radio.8", require_token=False)
    client = RawClient(instance, "radio.8", offer="permessage-deflate; client_max_window_bits")
    assert client.headers["sec-websocket-extensions"] == ANSWER
    client.send(auth_message("").encode())
    assert client.message() == (AUTH_OK, False)
    big, small = radio_status(1), '"short"'
    publish(instance, "radio.8", big)
    publish(instance, "radio.8", small)
    text, was_compressed = client.message()
    assert (text, was_compressed) == ('{"type":"push","payload":' + big + "}", True)
    assert client.message() == ('{"type":"push","payload":' + small + "}", False)
    client.close()


def test_a_narrower_server_window_is_honoured_and_an_8_bit_one_declined(worker):
    register(worker.internal_port, "radio.9", require_token=False)
    narrow = RawClient(worker, "radio.9", offer="permessage-deflate; server_max_window_bits=10")
    assert narrow.headers["sec-websocket-extensions"] == ANSWER + "; server_max_window_bits=10"
    declined = RawClient(worker, "radio.9", offer="permessage-deflate; server_max_window_bits=8")
    assert "sec-websocket-extensions" not in declined.headers
    broken = RawClient(worker, "radio.9", offer="permessage-deflate; server_max_window_bits=10; server_max_window_bits=11")
    assert "sec-websocket-extensions" not in broken.headers, "a repeated parameter declines the offer, not the handshake"
    for client in (narrow, declined, broken):
        client.send(auth_message("").encode())
        assert client.message() == (AUTH_OK, False)
    payload = radio_status(2)
    publish(worker, "radio.9", payload)
    opcode, rsv1, raw = narrow.frame()
    assert rsv1
    # A decoder limited to a 1 KiB window must read it (RFC 7692 §7.1.2.1).
    assert zlib.decompressobj(wbits=-10).decompress(raw + TAIL).decode() == '{"type":"push","payload":' + payload + "}"
    for client in (declined, broken):
        assert client.message() == ('{"type":"push","payload":' + payload + "}", False)
        client.close()
    narrow.close()


def test_compressed_client_messages_are_read_and_a_deflate_bomb_is_closed_1009(worker):
    register(worker.internal_port, "radio.10")
    client = RawClient(worker, "radio.10", offer="permessage-deflate")
    compressor = zlib.compressobj(wbits=-15)
    auth = compressor.compress(auth_message(token_for("radio.10")).encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    client.send(auth[:-4], rsv1=True)
    assert client.message() == (AUTH_OK, False)
    bomb = zlib.compressobj(wbits=-15)
    payload = bomb.compress(b"{" + b" " * (1 << 20) + b"}") + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(payload) < 4096
    client.send(payload[:-4], rsv1=True)
    opcode, _, body = client.frame()
    assert (opcode, struct.unpack("!H", body[:2])[0]) == (0x8, 1009)
    client.close()


def test_compression_can_be_turned_off(make_worker):
    instance = make_worker("websocket_compression: false\n")
    register(instance.internal_port, "radio.11", require_token=False)
    client = RawClient(instance, "radio.11", offer="permessage-deflate; client_max_window_bits")
    assert "sec-websocket-extensions" not in client.headers
    client.close()
