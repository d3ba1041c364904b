"""docs/protocol.md "Browser endpoint (WebSocket)" against the built binary, through real
WebSocket clients.

Every wait on the worker is an awaited event (a message, a close, a status report) bounded by
an explicit timeout; nothing sleeps to synchronise except where a throttle is the behaviour
under test."""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import struct
import time
from urllib.parse import quote

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from conftest import SECRET, register, request

TIMEOUT = 10  # seconds for any single awaited event
AUTH_OK = '{"type":"auth_ok"}'
AUTH_REQUIRED = '{"type":"error","code":"auth_required","message":"first frame must be {type:auth,token:...}"}'
UNAUTHORIZED = '{"type":"error","code":"unauthorized","message":"invalid or expired token"}'
AUTH_EXPIRED = '{"type":"error","code":"auth_expired","message":"token expired"}'


# --- tokens --------------------------------------------------------------------------------------

def sign(h):
    """PHP: $h . '.' . hash_hmac('sha256', $h, $secret)."""
    return h + "." + hmac.new(SECRET.encode(), h.encode(), hashlib.sha256).hexdigest()


def mint(claims):
    """PHP: bin2hex(json_encode($claims)), signed; Python's compact JSON without escaping."""
    return sign(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode().hex())


def mint_php_escaped(claims):
    """json_encode's default escaping: "/" as "\\/" and non-ASCII as lowercase \\uXXXX."""
    text = json.dumps(claims, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")
    return sign(text.encode().hex())


def token_for(topic, user_id=0, ttl=3600):
    return mint({"user_id": user_id, "topic": topic, "expires": int(time.time()) + ttl})


def auth_message(token):
    return json.dumps({"type": "auth", "token": token})


# --- internal API --------------------------------------------------------------------------------

def status(instance):
    code, _, body = request(instance.internal_port, "GET", "/internal/status")
    assert code == 200, body
    return json.loads(body)


def publish(instance, topic, payload):
    """Publishes the JSON text `payload` verbatim."""
    body = ('{"topic":' + json.dumps(topic, ensure_ascii=False) + ',"payload":' + payload + "}").encode()
    code, _, answer = request(instance.internal_port, "POST", "/internal/publish", body)
    assert code == 200, answer


class Publisher:
    """A keep-alive connection to the internal API, for many publishes."""

    def __init__(self, instance):
        self.connection = http.client.HTTPConnection("127.0.0.1", instance.internal_port, timeout=30)

    def publish(self, topic, payload):
        body = ('{"topic":' + json.dumps(topic) + ',"payload":' + payload + "}").encode()
        self.connection.request("POST", "/internal/publish", body, {"X-Worker-Secret": SECRET})
        response = self.connection.getresponse()
        assert (response.status, response.read()) == (200, b"")

    def publish_all(self, topic, payloads):
        for payload in payloads:
            self.publish(topic, payload)
        self.connection.close()


def wait_for_status(instance, predicate, timeout=TIMEOUT):
    """Polls /internal/status until `predicate(report)` holds; returns the last report."""
    deadline = time.monotonic() + timeout
    while True:
        report = status(instance)
        if predicate(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.05)  # polling a report that has no event to await


def wait_for_log(instance, pattern, timeout=TIMEOUT):
    """Polls the log until a line matches `pattern`; returns the matching lines."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in instance.read_log().splitlines() if re.search(pattern, line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)  # polling a log file that has no event to await


def parse_logfmt(line):
    """Strict logfmt: `key=value` pairs separated by single spaces; values bare or quoted with \\-escapes."""
    fields = {}
    position = 0
    token = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')
    while position < len(line):
        match = token.match(line, position)
        assert match, f"logfmt line broken at {position}: {line!r}"
        value = match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        assert match.group(1) not in fields, f"duplicate key {match.group(1)} in {line!r}"
        fields[match.group(1)] = value
        position = match.end()
    return fields


def kernel_send_buffer_max():
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


# --- WebSocket clients ---------------------------------------------------------------------------

def ws_url(instance, topic):
    return f"ws://127.0.0.1:{instance.ws_port}/ws?topic={quote(topic, safe='')}"


def open_ws(instance, topic, **options):
    return ws_connect(ws_url(instance, topic), ping_interval=None, compression=None,
                      open_timeout=TIMEOUT, close_timeout=TIMEOUT, **options)


async def recv(ws, timeout=TIMEOUT, decode=None):
    return await asyncio.wait_for(ws.recv(decode=decode), timeout)


async def subscribe(instance, topic, token, **options):
    """Opens a socket and authenticates it; returns the open connection."""
    ws = await open_ws(instance, topic, **options)
    await ws.send(auth_message(token))
    assert await recv(ws) == AUTH_OK
    return ws


async def close_code(ws, timeout=TIMEOUT):
    """Awaits the end of the connection; returns the close code the server sent (None if none)."""
    try:
        while True:
            message = await recv(ws, timeout)
            raise AssertionError(f"expected a close, got a message: {message!r}")
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def auth_outcome(instance, topic, first_message):
    """Sends a first message (a callable is called then); returns (reply, close code or None on auth_ok)."""
    async with open_ws(instance, topic) as ws:
        await ws.send(first_message() if callable(first_message) else first_message)
        reply = await recv(ws)
        if reply == AUTH_OK:
            return reply, None
        return reply, await close_code(ws)


def handshake_headers(version="13", origin=None):
    headers = {"Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Sec-WebSocket-Version": version}
    if origin is not None:
        headers["Origin"] = origin
    return headers


class RawWebSocket:
    """A minimal blocking client whose reading the test controls (for the slow consumer)."""

    def __init__(self, instance, topic, receive_buffer=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", instance.ws_port))
        lines = [f"GET /ws?topic={quote(topic, safe='')} HTTP/1.1", f"Host: 127.0.0.1:{instance.ws_port}"]
        lines += [f"{name}: {value}" for name, value in handshake_headers().items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101 "), head

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        assert len(payload) < 65536
        length = bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(b"\x81" + length + mask + masked)

    def _take(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_frame(self):
        """(opcode, payload) of the next server frame; EOFError when the connection ended."""
        first, second = self._take(2)
        assert second & 0x80 == 0, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        return first & 0x0F, self._take(length)

    def close(self):
        self.sock.close()


# --- tests ---------------------------------------------------------------------------------------

def test_auth_outcomes_answer_exact_errors_and_close_1008(make_worker):
    """Every first-message outcome of rule 1: auth_ok, auth_required, unauthorized, timeout."""
    instance = make_worker("auth_timeout: 2s\n")
    port = instance.internal_port
    for topic in ["session.42", "session.43", "contest_session.42", "room/é 1"]:
        register(port, topic)
    register(port, "public.feed", require_token=False)
    now = int(time.time())
    valid = token_for("session.42", user_id=7)
    h, signature = valid.split(".")
    php = mint_php_escaped({"user_id": 3, "topic": "room/é 1", "expires": now + 60})
    assert '"room\\/\\u00e9 1"' in bytes.fromhex(php.split(".")[0]).decode()  # signed over the escaped bytes
    cases = {
        # name: (topic, first message, expected reply, expected close code)
        "valid token": ("session.42", auth_message(valid), AUTH_OK, None),
        "valid, no user_id": ("session.42", auth_message(mint({"topic": "session.42", "expires": now + 60})), AUTH_OK, None),
        # Minted when sent: valid through its expiry second (now <= expires).
        "valid until the next second": ("session.42", lambda: auth_message(mint({"topic": "session.42", "expires": int(time.time()) + 1})), AUTH_OK, None),
        "PHP-escaped claims": ("room/é 1", auth_message(php), AUTH_OK, None),
        "legacy session_id number": ("session.42", auth_message(mint({"user_id": 3, "session_id": 42, "expires": now + 60})), AUTH_OK, None),
        "legacy session_id string": ("session.42", auth_message(mint({"user_id": 3, "session_id": "42", "expires": now + 60})), AUTH_OK, None),
        "legacy session_id, contest topic": ("contest_session.42", auth_message(mint({"session_id": 42, "expires": now + 60})), AUTH_OK, None),
        "wrong type": ("session.42", json.dumps({"type": "hello", "token": valid}), AUTH_REQUIRED, 1008),
        "not JSON": ("session.42", "hello", AUTH_REQUIRED, 1008),
        "JSON array": ("session.42", "[1,2]", AUTH_REQUIRED, 1008),
        "missing token": ("session.42", '{"type":"auth"}', AUTH_REQUIRED, 1008),
        "empty token": ("session.42", auth_message(""), AUTH_REQUIRED, 1008),
        "bad signature": ("session.42", auth_message(h + "." + signature[:-1] + ("0" if signature[-1] != "0" else "1")), UNAUTHORIZED, 1008),
        "uppercase signature": ("session.42", auth_message(h + "." + signature.upper()), UNAUTHORIZED, 1008),
        "signed with another secret": ("session.42", auth_message(h + "." + hmac.new(b"x" * 40, h.encode(), hashlib.sha256).hexdigest()), UNAUTHORIZED, 1008),
        "expired": ("session.42", auth_message(mint({"user_id": 7, "topic": "session.42", "expires": now - 5})), UNAUTHORIZED, 1008),
        "other topic": ("session.43", auth_message(valid), UNAUTHORIZED, 1008),
        "topic prefix only": ("session.42", auth_message(token_for("session.4")), UNAUTHORIZED, 1008),
        "legacy session_id mismatch": ("session.43", auth_message(mint({"session_id": 42, "expires": now + 60})), UNAUTHORIZED, 1008),
        "bound to nothing": ("session.42", auth_message(mint({"user_id": 7, "expires": now + 60})), UNAUTHORIZED, 1008),
        "no expires": ("session.42", auth_message(mint({"user_id": 7, "topic": "session.42"})), UNAUTHORIZED, 1008),
        "claims not JSON, validly signed": ("session.42", auth_message(sign(b"not json".hex())), UNAUTHORIZED, 1008),
        "no dot": ("session.42", auth_message(h + signature), UNAUTHORIZED, 1008),
        "not hex": ("session.42", auth_message("zz." + signature), UNAUTHORIZED, 1008),
        "garbage": ("session.42", auth_message("garbage"), UNAUTHORIZED, 1008),
        "public, missing token": ("public.feed", '{"type":"auth"}', AUTH_OK, None),
        "public, empty token": ("public.feed", auth_message(""), AUTH_OK, None),
        "public, garbage token": ("public.feed", auth_message("garbage"), AUTH_OK, None),
        "public, still needs auth": ("public.feed", '{"type":"subscribe"}', AUTH_REQUIRED, 1008),
    }

    async def scenario():
        outcomes = {name: await auth_outcome(instance, topic, first) for name, (topic, first, _, _) in cases.items()}
        # Silence after the upgrade: closed 1008 once auth_timeout (2 s) passes.
        async with open_ws(instance, "session.42") as ws:
            started = time.monotonic()
            outcomes["no first message"] = (None, await close_code(ws, timeout=15))
            elapsed = time.monotonic() - started
        return outcomes, elapsed

    outcomes, elapsed = asyncio.run(scenario())
    expected = {name: (reply, code) for name, (_, _, reply, code) in cases.items()}
    expected["no first message"] = (None, 1008)
    assert outcomes == expected
    assert elapsed < 8


def test_pre_upgrade_answers_and_allowed_origins(make_worker):
    """400/404/426 before the upgrade; 403 for an origin outside allowed_origins; allowed ones upgrade."""
    instance = make_worker('allowed_origins:\n  - "https://log.example.org"\n')
    register(instance.internal_port, "room/é 1")
    port = instance.ws_port
    good = "https://log.example.org"
    assert request(port, "GET", "/ws", secret=None, headers=handshake_headers(origin=good))[0::2] == (400, b"missing topic\n")
    assert request(port, "GET", "/ws?topic=", secret=None, headers=handshake_headers(origin=good))[0::2] == (400, b"missing topic\n")
    assert request(port, "GET", "/ws?topic=nope", secret=None, headers=handshake_headers(origin=good))[0::2] == (404, b"topic not registered\n")
    code, headers, _ = request(port, "GET", "/ws?topic=room%2F%C3%A9%201", secret=None, headers=handshake_headers("12", good))
    assert (code, headers.get("sec-websocket-version")) == (426, "13")
    assert request(port, "GET", "/ws?topic=room%2F%C3%A9%201", secret=None, headers=handshake_headers(origin="https://evil.example"))[0] == 403
    assert request(port, "GET", "/ws?topic=room%2F%C3%A9%201", secret=None, headers=handshake_headers())[0] == 403
    code, headers, _ = request(port, "GET", "/ws?topic=room%2F%C3%A9%201", secret=None, headers=handshake_headers(origin=good))
    assert code == 101 and headers["upgrade"].lower() == "websocket"

    async def scenario():
        ws = await subscribe(instance, "room/é 1", token_for("room/é 1"), origin=good)
        await ws.close()

    asyncio.run(scenario())


def test_pushes_arrive_in_order_with_payload_bytes_exactly_as_published(worker):
    """Each push is `{"type":"push","payload":` + the published payload bytes + `}`, in publish order."""
    payloads = [
        r'"h\u00e9llo \"quoted\" back\\slash\nnew\tline\/ \ud83d\ude00"',
        '"héllo wörld ✓ 😀"',
        '{ "a" :  [ 1 , 2 ] }',
        '{\t"k"\r\n:\n[ ]\n}',
        "null",
        "1.50e+3",
        "-0",
        "0.1E-07",
        "true",
        "[]",
        '""',
        '{"nested":{"deep":[[[{"x":null,"y":"\\u0000"}]]]}}',
        '"' + "z" * 5000 + '"',
    ]
    register(worker.internal_port, "session.42")
    register(worker.internal_port, "open", require_token=False)

    async def scenario():
        first = await subscribe(worker, "session.42", token_for("session.42", user_id=1))
        second = await subscribe(worker, "session.42", token_for("session.42", user_id=2))
        bystander = await subscribe(worker, "open", "")
        for payload in payloads:
            await asyncio.to_thread(publish, worker, "session.42", payload)
        await asyncio.to_thread(publish, worker, "open", '"marker"')
        received = {}
        for name, ws in [("first", first), ("second", second)]:
            received[name] = [await recv(ws, decode=False) for _ in payloads]
        # The other topic's subscriber got only its own push.
        assert await recv(bystander, decode=False) == b'{"type":"push","payload":"marker"}'
        for ws in (first, second, bystander):
            await ws.close()
        return received

    received = asyncio.run(scenario())
    expected = [b'{"type":"push","payload":' + payload.encode() + b"}" for payload in payloads]
    assert received["first"] == expected
    assert received["second"] == expected


def test_a_thousand_subscribers_each_receive_every_publish_in_order(worker):
    """1,000 sockets on one topic each receive all of 100 publishes, in order."""
    subscribers, publishes = 1000, 100
    register(worker.internal_port, "crowd")
    payloads = [f'{{"n":{index},"text":"event {index}"}}' for index in range(publishes)]
    expected = [f'{{"type":"push","payload":{payload}}}' for payload in payloads]

    async def scenario():
        gate = asyncio.Semaphore(50)

        async def join(user_id):
            async with gate:
                return await subscribe(worker, "crowd", token_for("crowd", user_id=user_id), max_queue=None)

        sockets = await asyncio.gather(*(join(index + 1) for index in range(subscribers)))
        report = await asyncio.to_thread(wait_for_status, worker, lambda r: r["connected_sockets"] == subscribers)
        assert (report["connected_sockets"], report["connected_clients"]) == (subscribers, subscribers)

        async def collect(ws):
            return [await recv(ws, timeout=60) for _ in range(publishes)]

        readers = [asyncio.create_task(collect(ws)) for ws in sockets]
        await asyncio.to_thread(Publisher(worker).publish_all, "crowd", payloads)
        results = await asyncio.wait_for(asyncio.gather(*readers), 120)
        await asyncio.gather(*(ws.close() for ws in sockets))
        return results

    results = asyncio.run(scenario())
    wrong = [index for index, messages in enumerate(results) if messages != expected]
    assert wrong == [], f"{len(wrong)} subscribers got other messages, e.g. #{wrong[:1]}"
    assert wait_for_status(worker, lambda r: r["connected_sockets"] == 0)["connected_sockets"] == 0


def test_token_expiry_while_connected_sends_auth_expired_and_closes_1008(worker):
    """A token whose `expires` passes while the socket is open gets auth_expired, then close 1008."""
    register(worker.internal_port, "session.42")
    expires = int(time.time()) + 3

    async def scenario():
        ws = await subscribe(worker, "session.42", mint({"user_id": 7, "topic": "session.42", "expires": expires}))
        message = await recv(ws, timeout=15)
        arrived = time.time()
        return message, arrived, await close_code(ws)

    message, arrived, code = asyncio.run(scenario())
    assert (message, code) == (AUTH_EXPIRED, 1008)
    assert expires <= arrived < expires + 4  # valid through the expiry second, closed soon after


def test_worker_status_topic_answers_status_requests_throttled(worker):
    """worker.status subscribers get `{"type":"status",...}` without topic lists, at most one per 700 ms."""
    register(worker.internal_port, "session.42")

    async def scenario():
        ws = await subscribe(worker, "worker.status", token_for("worker.status", user_id=1))
        await ws.send('{"type":"status"}')
        first = await recv(ws)
        await ws.send('{"type":"status"}')  # immediately after: inside the 700 ms window, ignored
        await asyncio.sleep(0.8)  # the throttle window is the behaviour under test
        await ws.send('{"type":"status"}')  # answered
        third = await recv(ws)
        # A push published now is queued after any answer to the second request: count what came before it.
        await asyncio.to_thread(publish, worker, "worker.status", '"marker"')
        after = await recv(ws)
        await ws.close()
        return first, third, after

    first, third, after = asyncio.run(scenario())
    for answer in (first, third):
        message = json.loads(answer)
        assert message["type"] == "status" and set(message) == {"type", "payload"}
        payload = message["payload"]
        assert payload["status"] == "ok" and payload["connected_sockets"] == 1
        assert "topic_list" not in payload and "active_topic_list" not in payload
        assert {"uptime", "uptime_seconds", "registered_topics", "active_topics", "connected_clients", "cluster_nodes"} <= set(payload)
    assert after == '{"type":"push","payload":"marker"}', "the second, too early, request was answered"


def test_status_counts_sockets_clients_and_active_topics_exactly(worker):
    """connected_sockets, connected_clients and active topics follow subscribes and closes exactly."""
    port = worker.internal_port
    for topic in ["stats.a", "stats.b", "stats.idle"]:
        register(port, topic)
    register(port, "stats.public", require_token=False)
    plan = [("stats.a", 1), ("stats.a", 1), ("stats.a", 2), ("stats.b", 2), ("stats.b", 0), ("stats.b", 0),
            ("stats.public", None), ("stats.public", None)]

    def matches(sockets, clients, active):
        return lambda r: (r["connected_sockets"], r["connected_clients"], r["active_topics"], sorted(r["active_topic_list"])) == (
            sockets, clients, len(active), sorted(active))

    def observed(r):
        return r["connected_sockets"], r["connected_clients"], r["active_topics"], sorted(r["active_topic_list"])

    async def scenario():
        sockets = []
        for topic, user_id in plan:
            token = "" if user_id is None else token_for(topic, user_id=user_id)
            sockets.append(await subscribe(worker, topic, token))
        pending = await open_ws(worker, "stats.idle")  # upgraded, never authenticated: not counted
        # 8 sockets; users 1 and 2 once each, plus 4 anonymous sockets.
        report = await asyncio.to_thread(wait_for_status, worker, matches(8, 6, ["stats.a", "stats.b", "stats.public"]))
        assert observed(report) == (8, 6, 3, ["stats.a", "stats.b", "stats.public"])
        await sockets[0].close()  # user 1 still has another socket
        await sockets[4].close()  # one anonymous socket fewer
        report = await asyncio.to_thread(wait_for_status, worker, matches(6, 5, ["stats.a", "stats.b", "stats.public"]))
        assert observed(report) == (6, 5, 3, ["stats.a", "stats.b", "stats.public"])
        await sockets[1].close()  # user 1 gone
        await sockets[6].close()
        await sockets[7].close()  # stats.public inactive
        report = await asyncio.to_thread(wait_for_status, worker, matches(3, 2, ["stats.a", "stats.b"]))
        assert observed(report) == (3, 2, 2, ["stats.a", "stats.b"])
        for ws in sockets[2:4] + sockets[5:6] + [pending]:
            await ws.close()
        report = await asyncio.to_thread(wait_for_status, worker, matches(0, 0, []))
        assert observed(report) == (0, 0, 0, [])

    asyncio.run(scenario())


def test_slow_consumer_is_closed_1013_while_others_get_everything(make_worker):
    """A subscriber that stops reading is closed 1013 after a prefix of pushes; a reading one gets all."""
    instance = make_worker("send_queue_frames: 50\n")
    register(instance.internal_port, "firehose")
    # The server's kernel send buffer (up to tcp_wmem's maximum) fills before its queue of 50 does.
    count = kernel_send_buffer_max() // 1024 + 1000
    payloads = ['"' + f"{index:06d}" + "x" * 1018 + '"' for index in range(count)]

    stuck = RawWebSocket(instance, "firehose", receive_buffer=4096)
    stuck.send_text(auth_message(token_for("firehose", user_id=1)))
    assert stuck.read_frame() == (0x1, AUTH_OK.encode())

    async def scenario():
        reader = await subscribe(instance, "firehose", token_for("firehose", user_id=2))
        publisher = Publisher(instance)
        received = []
        # The reader is waited for after each batch, so a busy test machine cannot make it fall 50
        # frames behind as the stuck client does: only the client that stops reading is too slow.
        for start in range(0, count, 20):
            batch = payloads[start:start + 20]
            await asyncio.to_thread(publisher.publish_all, "firehose", batch)
            received += [await recv(reader, timeout=30) for _ in batch]
        await reader.close()
        return received

    received = asyncio.run(scenario())
    assert received == ['{"type":"push","payload":' + payload + "}" for payload in payloads]

    too_slow = wait_for_log(instance, r'msg="client too slow"')
    report = wait_for_status(instance, lambda r: r["connected_sockets"] == 0)
    assert too_slow, "no `client too slow` in the log: " + instance.read_log()[-2000:]
    assert report["connected_sockets"] == 0

    # The stuck client now reads: a gap-free prefix of the pushes, then close 1013 (or the end).
    seen, close = [], None
    try:
        while True:
            opcode, data = stuck.read_frame()
            if opcode == 0x8:
                close = struct.unpack("!H", data[:2])[0]
                break
            assert opcode == 0x1
            seen.append(data.decode())
    except (EOFError, ConnectionResetError):
        pass
    stuck.close()
    assert seen == ['{"type":"push","payload":' + payload + "}" for payload in payloads[:len(seen)]]
    assert len(seen) < count
    assert close in (1013, None)


def test_oversized_messages_close_1009_and_other_frames_are_ignored(worker):
    """After auth, binary and unknown text frames are ignored; a message over 4 KiB closes 1009."""
    register(worker.internal_port, "session.42")

    async def scenario():
        ws = await subscribe(worker, "session.42", token_for("session.42", user_id=1))
        await ws.send(b"\x00\xffbinary garbage")
        await ws.send("not json at all")
        await ws.send('{"type":"auth","token":"again"}')
        await ws.send('{"type":"status"}')  # only answered on worker.status
        await ws.send("y" * 4096)  # exactly 4 KiB is allowed
        await asyncio.to_thread(publish, worker, "session.42", "1")
        still_open = await recv(ws)
        await ws.send("y" * 4097)
        return still_open, await close_code(ws)

    still_open, code = asyncio.run(scenario())
    assert still_open == '{"type":"push","payload":1}'
    assert code == 1009
    report = wait_for_status(worker, lambda r: r["connected_sockets"] == 0)
    assert report["connected_sockets"] == 0


def test_sigterm_closes_every_socket_1001_and_exits_zero(make_worker):
    """SIGTERM sends close 1001 to every open socket and the process exits 0."""
    instance = make_worker()
    register(instance.internal_port, "session.42")

    async def scenario():
        sockets = [await subscribe(instance, "session.42", token_for("session.42", user_id=user)) for user in (1, 2, 3)]
        instance.process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*(close_code(ws, timeout=15) for ws in sockets))

    assert asyncio.run(scenario()) == [1001, 1001, 1001]
    assert instance.stop() == 0
    assert "msg=stopped" in instance.read_log()


def test_log_ip_comes_from_x_forwarded_for_and_is_sanitised(worker):
    """ip= in the subscribed/unauthorized lines is the first X-Forwarded-For entry, safely quoted."""
    for topic in ["ip.plain", "ip.forwarded", "ip.refused", "ip.hostile"]:
        register(worker.internal_port, topic)
    hostile = '198.51.100.9" evil="1 \\'

    async def scenario():
        ws = await subscribe(worker, "ip.plain", token_for("ip.plain", user_id=1))
        await ws.close()
        ws = await subscribe(worker, "ip.forwarded", token_for("ip.forwarded", user_id=1),
                             additional_headers={"X-Forwarded-For": "203.0.113.7, 10.0.0.1"})
        await ws.close()
        for topic, forwarded in [("ip.refused", " 203.0.113.8 ,10.0.0.1"), ("ip.hostile", hostile + ", 10.0.0.1")]:
            async with open_ws(worker, topic, additional_headers={"X-Forwarded-For": forwarded}) as ws:
                await ws.send(auth_message("bad.token"))
                assert (await recv(ws), await close_code(ws)) == (UNAUTHORIZED, 1008)

    asyncio.run(scenario())

    def line_for(message, topic):
        lines = wait_for_log(worker, rf'msg="{message}" .*topic={re.escape(topic)}( |$)')
        assert len(lines) == 1, lines
        return parse_logfmt(lines[0])

    assert line_for("client subscribed", "ip.plain")["ip"] == "127.0.0.1"
    assert line_for("client subscribed", "ip.forwarded")["ip"] == "203.0.113.7"
    assert line_for("client unauthorized", "ip.refused")["ip"] == "203.0.113.8"
    fields = line_for("client unauthorized", "ip.hostile")
    assert set(fields) == {"ts", "level", "msg", "ip", "topic", "reason"}
    assert fields["ip"].startswith("198.51.100.9")
    assert fields["ip"] == hostile, "escaped twice: a logfmt reader does not get the header's text back"
