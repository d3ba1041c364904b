"""The node's limits, each at its edge: max_connections (503 before the upgrade), connections and
handshakes per client address (429), trusted proxies; every refusal counted in /metrics by reason
and logged at most once per interval, and service to everybody else unaffected."""
import asyncio
import time

from conftest import connect, read_response, register, request
from helpers import AUTH_OK, auth_message, close_code, handshake_headers, metrics, open_ws, publish, recv, status, token_for

LIMITS = "auth_timeout: 60s\n"


def handshake(worker, topic, forwarded=None, path="/ws"):
    """A WebSocket handshake on a new connection; returns (status, body, socket left open)."""
    sock = connect(worker.ws_port)
    lines = [f"GET {path}?topic={topic} HTTP/1.1", f"Host: 127.0.0.1:{worker.ws_port}"]
    lines += [f"{name}: {value}" for name, value in handshake_headers().items()]
    if forwarded:
        lines.append(f"X-Forwarded-For: {forwarded}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    code, _, body, _ = read_response(sock)
    return code, body, sock


def refused(samples, reason):
    return samples.get(("wavelog_refused_total", (("reason", reason),)), 0)


def refusal_lines(worker, reason):
    return [line for line in worker.read_log().splitlines()
            if "connections refused" in line and f"reason={reason}" in line]


def close_all(sockets):
    for sock in sockets:
        sock.close()


def test_max_connections_answers_503_before_the_upgrade_and_the_node_keeps_serving(make_worker):
    worker = make_worker(LIMITS + "max_connections: 4\n")
    register(worker.internal_port, "full.1", require_token=False)

    async def scenario():
        subscriber = await open_ws(worker, "full.1")
        await subscriber.send(auth_message(""))
        assert await recv(subscriber) == AUTH_OK
        idle = [connect(worker.ws_port) for _ in range(3)]
        for sock in idle:  # an answer on each: the node has accepted all three and is full now
            assert request(worker.ws_port, "GET", "/healthz", secret=None, sock=sock)[0] == 200
        try:
            code, body, sock = handshake(worker, "full.1")
            assert (code, body) == (503, b"server full\n")
            assert sock.recv(1) == b""  # and the connection is closed after the answer
            sock.close()
            # Health probes, the internal API and the subscriber already in are unaffected.
            code, _, body = request(worker.ws_port, "GET", "/healthz", secret=None)
            assert code == 200
            publish(worker, "full.1", '"still here"')
            assert await recv(subscriber) == '{"type":"push","payload":"still here"}'
        finally:
            close_all(idle)
        # Room again once the idle connections are gone.
        assert wait_until(lambda: handshake_succeeds(worker, "full.1"))
        samples = metrics(worker)
        assert refused(samples, "max_connections") >= 1
        await subscriber.close()

    asyncio.run(scenario())
    assert len(refusal_lines(worker, "max_connections")) >= 1


def handshake_succeeds(worker, topic):
    code, _, sock = handshake(worker, topic)
    sock.close()
    return code == 101


def test_connections_per_address_come_from_a_trusted_proxy_and_are_released_on_close(make_worker):
    worker = make_worker(LIMITS + "max_connections_per_ip: 2\n")
    register(worker.internal_port, "per-ip.1", require_token=False)
    held = []
    try:
        for _ in range(2):
            code, _, sock = handshake(worker, "per-ip.1", forwarded="198.51.100.7")
            assert code == 101
            held.append(sock)
        refusals = 5
        for _ in range(refusals):
            code, body, sock = handshake(worker, "per-ip.1", forwarded="198.51.100.7, 10.0.0.1")
            assert (code, body) == (429, b"too many connections\n")
            sock.close()
        # Another client behind the same proxy is not affected.
        code, _, other = handshake(worker, "per-ip.1", forwarded="198.51.100.8")
        assert code == 101
        held.append(other)
        assert refused(metrics(worker), "per_ip_connections") == refusals
        # One connection of the full address closes: its place is free once the node has seen it.
        held.pop(0).close()
        assert wait_until(lambda: websocket_connections(worker) == 2)
        code, _, again = handshake(worker, "per-ip.1", forwarded="198.51.100.7")
        held.append(again)
        assert code == 101
    finally:
        close_all(held)
    # The first refusal is logged at once, the others are counted in its interval, not logged each.
    assert 1 <= len(refusal_lines(worker, "per_ip_connections")) < refusals


def websocket_connections(worker):
    return metrics(worker).get(("wavelog_connections", (("transport", "websocket"),)), 0)


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)  # polling a figure that has no event to await
    return True


def test_forwarded_headers_from_an_untrusted_peer_do_not_name_the_client(make_worker):
    worker = make_worker(LIMITS + "max_connections_per_ip: 1\ntrusted_proxies: [10.0.0.0/8]\n")
    register(worker.internal_port, "per-ip.2", require_token=False)
    code, _, first = handshake(worker, "per-ip.2", forwarded="198.51.100.1")
    try:
        assert code == 101
        # The peer is 127.0.0.1, which is not a trusted proxy here: a new X-Forwarded-For is no new client.
        code, body, sock = handshake(worker, "per-ip.2", forwarded="198.51.100.2")
        sock.close()
        assert (code, body) == (429, b"too many connections\n")
    finally:
        first.close()


def test_the_handshake_rate_per_address_is_a_token_bucket(make_worker):
    # A rate so slow that no token comes back during the test: exactly the burst gets through.
    worker = make_worker(LIMITS + "handshake_rate_per_ip: 0.001\nhandshake_burst_per_ip: 3\n")
    register(worker.internal_port, "rate.1", require_token=False)
    outcomes = []
    for _ in range(10):
        code, body, sock = handshake(worker, "rate.1", forwarded="203.0.113.5", path="/sse")
        outcomes.append((code, body if code != 200 else b""))
        sock.close()
    assert outcomes[:3] == [(200, b"")] * 3
    assert outcomes[3:] == [(429, b"too many requests\n")] * 7
    code, _, sock = handshake(worker, "rate.1", forwarded="203.0.113.6")
    sock.close()
    assert code == 101
    samples = metrics(worker)
    assert refused(samples, "per_ip_rate") == 7
    assert 1 <= len(refusal_lines(worker, "per_ip_rate")) < 7


def test_metrics_count_bytes_closes_by_code_and_auth_failures_by_reason(make_worker):
    worker = make_worker(LIMITS + 'allowed_origins: ["https://log.example"]\n')
    register(worker.internal_port, "counted.1")
    before = metrics(worker)

    async def scenario():
        async with open_ws(worker, "counted.1", origin="https://log.example") as ws:
            token = token_for("counted.1")
            await ws.send(auth_message(token[:-1] + ("0" if token[-1] != "0" else "1")))
            assert "unauthorized" in await recv(ws)
            assert await close_code(ws) == 1008

    asyncio.run(scenario())
    code, _, sock = handshake(worker, "counted.1")  # no Origin: 403
    sock.close()
    assert code == 403
    code, _, sock = handshake(worker, "never.registered")
    sock.close()
    assert code == 404
    after = metrics(worker)

    def grew(name, labels=()):
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert grew("wavelog_auth_failures_total", (("reason", "bad_signature"),)) == 1
    assert grew("wavelog_closes_total", (("code", "1008"),)) == 1
    assert grew("wavelog_refused_total", (("reason", "origin"),)) == 1
    assert grew("wavelog_refused_total", (("reason", "topic_not_registered"),)) == 1
    assert grew("wavelog_bytes_received_total") > 0 and grew("wavelog_bytes_sent_total") > 0
    assert status(worker)["connected_sockets"] == 0
