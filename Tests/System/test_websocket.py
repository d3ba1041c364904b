"""docs/protocol.md "Browser endpoint (WebSocket)" against the built binary, through real
WebSocket clients.

Every wait on the worker is an awaited event (a message, a close, a status report) bounded by
an explicit timeout; nothing sleeps to synchronise except where a throttle is the behaviour
under test."""
import asyncio
import hashlib
import hmac
import json
import re
import signal
import struct
import time


from conftest import register, request
from helpers import (AUTH_EXPIRED, AUTH_OK, AUTH_REQUIRED, Publisher, RawWebSocket, UNAUTHORIZED, auth_message,
                     auth_outcome, close_code, handshake_headers, kernel_send_buffer_max, mint, mint_php_escaped,
                     open_ws, parse_logfmt, publish, recv, sign, subscribe, token_for, wait_for_log, wait_for_status)

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
        await ws.send('{"type":"auth","token":"again"}')  # a refresh, refused; the socket stays
        await ws.send('{"type":"status"}')  # only answered on worker.status
        await ws.send("y" * 4096)  # exactly 4 KiB is allowed
        assert await recv(ws) == UNAUTHORIZED
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
