"""The SSE transport's wire details on the public port (/sse): response headers, `retry:` first,
heartbeats, token placements, CORS, every refusal, the router's 404/405, the `transports`
setting, and the exact bytes of a multi-line push.

Every wait on the worker is an awaited event (bytes on a socket, a log line, a status report,
a refused connect) bounded by an explicit timeout."""
import asyncio
import signal
import socket
import subprocess
import time
from urllib.parse import quote

import httpx
import pytest

from conftest import SECRET, register, worker_binary
from helpers import mint, publish, token_for, wait_for_log, wait_for_status
from transports import ACCEPTED, TIMEOUT, Outcome, RawSSE, attempt, open_subscriber, refusal

ORIGIN = "https://log.example.org"
PLAIN = "text/plain; charset=utf-8"


def target(topic, token=None):
    query = "topic=" + quote(topic, safe="")
    if token is not None:
        query += "&token=" + quote(token, safe="")
    return "/sse?" + query


def http(instance, method, path, headers=None):
    """One plain HTTP exchange on the public port (the body read to its length or to the close)."""
    with httpx.Client(trust_env=False, timeout=TIMEOUT) as client:
        return client.request(method, f"http://127.0.0.1:{instance.ws_port}{path}", headers=headers)


def answer(response):
    return response.status_code, response.headers.get("content-type"), response.text


def test_a_stream_starts_with_headers_and_retry_then_carries_push_events(worker):
    register(worker.internal_port, "session.42")
    stream = RawSSE(worker.ws_port, target("session.42"), {"Authorization": "Bearer " + token_for("session.42", user_id=1)})
    try:
        assert stream.status == 200, stream.status_line
        headers = stream.headers
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-cache"
        assert headers["x-accel-buffering"] == "no"
        assert headers["connection"].lower() == "close"
        assert "content-length" not in headers and "transfer-encoding" not in headers
        assert stream.read_exactly(len(b"retry: 3000\n\n")) == b"retry: 3000\n\n"
        publish(worker, "session.42", '"first"')
        publish(worker, "session.42", '{"a":"é"}')
        assert stream.read_block() == b'event: push\ndata: "first"\n\n'
        assert stream.read_block() == 'event: push\ndata: {"a":"é"}\n\n'.encode()
    finally:
        stream.close()


def test_an_allowed_origin_is_echoed_with_vary(make_worker):
    """With allowed_origins unset every origin is allowed and echoed; with it set, a listed one."""
    for config, origin in [("", "http://127.0.0.1:8123"), (f'allowed_origins:\n  - "{ORIGIN}"\n  - "https://other.example"\n', ORIGIN)]:
        instance = make_worker(config)
        register(instance.internal_port, "t", require_token=False)
        stream = RawSSE(instance.ws_port, target("t"), {"Origin": origin})
        try:
            assert stream.status == 200
            assert stream.headers["access-control-allow-origin"] == origin
            assert "origin" in [part.strip().lower() for part in stream.headers["vary"].split(",")]
            assert stream.read_block() == b"retry: 3000\n\n"
        finally:
            stream.close()


def test_heartbeat_and_retry_follow_the_configuration(make_worker):
    """`sse_retry: 1500ms` gives `retry: 1500`; `sse_heartbeat: 1s` a `: heartbeat` comment each second."""
    instance = make_worker("sse_heartbeat: 1s\nsse_retry: 1500ms\n")
    register(instance.internal_port, "beat", require_token=False)
    stream = RawSSE(instance.ws_port, target("beat"), timeout=5)
    try:
        # Awaited, not timed: a heartbeat comes unasked, pushes go between heartbeats, and
        # heartbeats go on after them (the interval is the benchmarks' business, not a test's).
        assert stream.read_block() == b"retry: 1500\n\n"
        assert stream.read_block() == b": heartbeat\n\n"
        publish(instance, "beat", "1")
        assert stream.read_block() == b"event: push\ndata: 1\n\n"
        assert stream.read_block() == b": heartbeat\n\n"
    finally:
        stream.close()


def test_multiline_payloads_give_one_data_line_per_line(worker):
    """The payload split at LF, each piece its own `data: ` line, byte for byte."""
    register(worker.internal_port, "lines", require_token=False)
    stream = RawSSE(worker.ws_port, target("lines"))
    try:
        assert stream.read_block() == b"retry: 3000\n\n"
        publish(worker, "lines", '{\n"a": 1,\n"b": [1,\n 2]\n}')
        publish(worker, "lines", '[\n\n"ü"\n]')
        publish(worker, "lines", '[1,\t2]')
        assert stream.read_block() == b'event: push\ndata: {\ndata: "a": 1,\ndata: "b": [1,\ndata:  2]\ndata: }\n\n'
        assert stream.read_block() == 'event: push\ndata: [\ndata: \ndata: "ü"\ndata: ]\n\n'.encode()
        assert stream.read_block() == b"event: push\ndata: [1,\t2]\n\n"
    finally:
        stream.close()


def test_the_token_may_come_in_the_header_or_the_query(worker):
    register(worker.internal_port, "placed")

    async def scenario():
        async with open_subscriber("sse", worker, "placed", token_for("placed", user_id=1), token_in="header") as header, \
                open_subscriber("sse", worker, "placed", token_for("placed", user_id=2), token_in="query") as query:
            assert await header.outcome() == ACCEPTED
            assert await query.outcome() == ACCEPTED
            await asyncio.to_thread(publish, worker, "placed", '"both"')
            return await header.next_push(), await query.next_push()

    assert asyncio.run(scenario()) == ('"both"', '"both"')
    for token_in in ("header", "query"):
        assert asyncio.run(attempt("sse", worker, "placed", "bad.token", token_in=token_in)) == refusal("sse", "unauthorized")
        assert asyncio.run(attempt("sse", worker, "placed", None, token_in=token_in)) == refusal("sse", "auth_required")
    assert asyncio.run(attempt("sse", worker, "placed", "", token_in="query")) == refusal("sse", "auth_required")


def test_every_refusal_is_plain_text_before_any_stream(make_worker):
    instance = make_worker(f'allowed_origins:\n  - "{ORIGIN}"\n')
    register(instance.internal_port, "session.42")
    register(instance.internal_port, "session.43")
    valid = token_for("session.42", user_id=7)
    auth = {"Authorization": "Bearer " + valid}
    expired = mint({"user_id": 7, "topic": "session.42", "expires": int(time.time()) - 5})
    cases = {
        "no topic": ("/sse", auth, 400, "missing topic\n"),
        "empty topic": ("/sse?topic=", auth, 400, "missing topic\n"),
        "topic over 256 bytes": (target("x" * 257), auth, 400, "bad request\n"),
        "topic of 256 bytes, unknown": (target("x" * 256), auth, 404, "topic not registered\n"),
        "unknown topic": (target("nope"), auth, 404, "topic not registered\n"),
        "origin not listed": (target("session.42"), {**auth, "Origin": "https://evil.example"}, 403, "forbidden\n"),
        "no token": (target("session.42"), {}, 401, "auth required\n"),
        "empty token in the query": (target("session.42", ""), {}, 401, "auth required\n"),
        "bad signature": (target("session.42"), {"Authorization": "Bearer " + valid[:-1] + ("0" if valid[-1] != "0" else "1")}, 401, "unauthorized\n"),
        "expired": (target("session.42", expired), {}, 401, "unauthorized\n"),
        "other topic": (target("session.43"), auth, 401, "unauthorized\n"),
        "malformed": (target("session.42", "garbage"), {}, 401, "unauthorized\n"),
    }
    got = {name: answer(http(instance, "GET", path, headers)) for name, (path, headers, _, _) in cases.items()}
    assert got == {name: (code, PLAIN, body) for name, (_, _, code, body) in cases.items()}
    # An absent Origin is accepted on /sse (same-origin EventSource sends none), still refused on /ws.
    stream = RawSSE(instance.ws_port, target("session.42"), auth)
    try:
        assert stream.status == 200 and stream.read_block() == b"retry: 3000\n\n"
    finally:
        stream.close()
    ws = asyncio.run(attempt("websocket", instance, "session.42", valid))
    assert ws.answer[:2] == ("http", 403)
    assert asyncio.run(attempt("websocket", instance, "session.42", valid, origin=ORIGIN)) == ACCEPTED
    assert wait_for_status(instance, lambda r: r["connected_sockets"] == 0)["connected_sockets"] == 0


def test_the_router_answers_405_and_404(worker):
    register(worker.internal_port, "t", require_token=False)
    for method in ("POST", "PUT", "DELETE"):
        response = http(worker, method, target("t"))
        assert answer(response) == (405, PLAIN, "method not allowed\n"), method
        allowed = [part.strip().upper() for part in response.headers["allow"].split(",")]
        assert "GET" in allowed and "OPTIONS" in allowed, response.headers["allow"]
        assert "POST" not in allowed
    response = http(worker, "POST", "/ws?topic=t")
    assert response.status_code == 405 and response.text == "method not allowed\n"
    assert "GET" in [part.strip().upper() for part in response.headers["allow"].split(",")]
    for path in ("/nope", "/sse/extra?topic=t", "/ssex?topic=t", "/"):
        assert answer(http(worker, "GET", path)) == (404, PLAIN, "not found\n"), path


def test_cors_preflight(make_worker):
    instance = make_worker(f'allowed_origins:\n  - "{ORIGIN}"\n')
    register(instance.internal_port, "session.42")
    response = http(instance, "OPTIONS", target("session.42"), {
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-methods"] == "GET"
    assert "authorization" in [part.strip().lower() for part in response.headers["access-control-allow-headers"].split(",")]
    assert response.content == b""


def test_the_transports_setting_turns_each_endpoint_off(make_worker):
    only_ws = make_worker("transports: [websocket]\n")
    only_sse = make_worker("transports:\n  - sse\n")
    for instance in (only_ws, only_sse):
        register(instance.internal_port, "t", require_token=False)
    assert answer(http(only_ws, "GET", target("t"))) == (404, PLAIN, "not found\n")
    assert asyncio.run(attempt("websocket", only_ws, "t")) == ACCEPTED
    assert asyncio.run(attempt("websocket", only_sse, "t")) == Outcome(False, ("http", 404, "not found\n"))
    assert asyncio.run(attempt("sse", only_sse, "t")) == ACCEPTED


def test_a_bad_transports_value_exits_non_zero_naming_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(f'worker_secret: "{SECRET}"\nws_port: 0\ninternal_port: 0\ntransports: [carrier-pigeon]\n')
    result = subprocess.run([worker_binary(), "-config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config: transports"), result.stderr
    assert "msg=listening" not in result.stdout + result.stderr


def test_websocket_and_sse_subscribers_share_topics_and_counts(worker):
    """One publish reaches both transports; one user on both is one client, two sockets."""
    register(worker.internal_port, "mixed")

    async def scenario():
        async with open_subscriber("websocket", worker, "mixed", token_for("mixed", user_id=5)) as ws, \
                open_subscriber("sse", worker, "mixed", token_for("mixed", user_id=5)) as sse, \
                open_subscriber("sse", worker, "mixed", token_for("mixed", user_id=6)) as other:
            for subscriber in (ws, sse, other):
                assert await subscriber.outcome() == ACCEPTED
            report = await asyncio.to_thread(wait_for_status, worker, lambda r: r["connected_sockets"] == 3)
            assert (report["connected_sockets"], report["connected_clients"], report["active_topic_list"]) == (3, 2, ["mixed"])
            await asyncio.to_thread(publish, worker, "mixed", '[1,\n 2]')
            return [await subscriber.next_push() for subscriber in (ws, sse, other)]

    assert asyncio.run(scenario()) == ["[1,\n 2]"] * 3


def unread_bytes(local_port, remote_port):
    """The receive queue of the server's end of a loopback connection (from /proc/net/tcp); None if absent."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, queues = fields[1], fields[2], fields[4]
            if local == f"0100007F:{local_port:04X}" and remote == f"0100007F:{remote_port:04X}":
                return int(queues.split(":")[1], 16)
    return None


def test_a_request_completed_while_shutting_down_gets_503(make_worker):
    """A request whose head was still arriving at SIGTERM is answered 503 `shutting down`."""
    instance = make_worker("drain_timeout: 15s\n")
    register(instance.internal_port, "late", require_token=False)
    late = socket.create_connection(("127.0.0.1", instance.ws_port), timeout=TIMEOUT)
    try:
        late.sendall(f"GET {target('late')} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
        # The worker has accepted the connection and read the unfinished head.
        client_port = late.getsockname()[1]
        deadline = time.monotonic() + TIMEOUT
        while unread_bytes(instance.ws_port, client_port) != 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a kernel table that has no event to await
        assert unread_bytes(instance.ws_port, client_port) == 0
        instance.process.send_signal(signal.SIGTERM)
        assert wait_for_log(instance, r'msg="shutting down"'), instance.read_log()
        # Every loop has closed its listener (and so begun draining) once a connect is refused.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", instance.ws_port), timeout=TIMEOUT).close()
            except ConnectionRefusedError:
                break
            time.sleep(0.01)  # polling for a listener to go away
        else:
            pytest.fail("the public port still accepts after SIGTERM")
        late.sendall(b"\r\n")
        data = b""
        while chunk := late.recv(65536):
            data += chunk
    finally:
        late.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"503", data
    assert b"content-type: text/plain; charset=utf-8" in head.lower()
    assert body == b"shutting down\n"
    assert instance.stop() == 0
