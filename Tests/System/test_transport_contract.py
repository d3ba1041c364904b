"""One contract for both browser transports of the public port, WebSocket (/ws) and SSE (/sse):
the same tokens give the same outcomes, every publish arrives in order with the payload bytes
exactly as published, an expiring token ends the stream, a stuck reader is cut off alone,
SIGTERM ends every stream, and /internal/status and the log count and name them alike.

Each test runs once per transport (transports.KINDS); the protocol-specific answers are in
transports.REFUSALS and transports.ENDINGS. Every wait is an awaited event bounded by a timeout."""
import asyncio
import json
import re
import signal
import socket
import time
from contextlib import AsyncExitStack

import pytest

from conftest import register
from helpers import (Publisher, kernel_send_buffer_max, mint, open_ws, parse_logfmt, publish, sign, token_for,
                     wait_for_log, wait_for_status)
from transports import (ACCEPTED, KINDS, StuckSubscriber, attempt, ending, open_subscriber, refusal, topic_query)

pytestmark = pytest.mark.parametrize("kind", KINDS)


def test_every_auth_outcome(kind, worker):
    """Public without token, valid tokens, and each refusal: missing, empty, bad signature, expired,
    bound to another topic, malformed, unknown topic."""
    for topic in ["session.42", "session.43", "room/é 1"]:
        register(worker.internal_port, topic)
    register(worker.internal_port, "public.feed", require_token=False)
    now = int(time.time())
    valid = token_for("session.42", user_id=7)
    h, signature = valid.split(".")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    cases = {
        # name: (topic, token or None for none at all, expected outcome)
        "public, no token": ("public.feed", None, ACCEPTED),
        "valid token": ("session.42", valid, ACCEPTED),
        "valid, no user_id": ("session.42", mint({"topic": "session.42", "expires": now + 60}), ACCEPTED),
        "valid, unicode topic": ("room/é 1", token_for("room/é 1", user_id=3), ACCEPTED),
        "missing token": ("session.42", None, refusal(kind, "auth_required")),
        "empty token": ("session.42", "", refusal(kind, "auth_required")),
        "bad signature": ("session.42", h + "." + flipped, refusal(kind, "unauthorized")),
        "expired": ("session.42", mint({"user_id": 7, "topic": "session.42", "expires": now - 5}), refusal(kind, "unauthorized")),
        "bound to another topic": ("session.43", valid, refusal(kind, "unauthorized")),
        "malformed, no dot": ("session.42", h + signature, refusal(kind, "unauthorized")),
        "malformed, not hex": ("session.42", "zz." + signature, refusal(kind, "unauthorized")),
        "malformed, claims not JSON": ("session.42", sign(b"not json".hex()), refusal(kind, "unauthorized")),
        "unknown topic": ("never.registered", token_for("never.registered"), refusal(kind, "not_registered")),
    }

    async def scenario():
        return {name: await attempt(kind, worker, topic, token) for name, (topic, token, _) in cases.items()}

    assert asyncio.run(scenario()) == {name: expected for name, (_, _, expected) in cases.items()}
    assert wait_for_status(worker, lambda r: r["connected_sockets"] == 0)["connected_sockets"] == 0


PAYLOADS = [
    r'"h\u00e9llo \"quoted\" back\\slash\nnew\tline\/ \ud83d\ude00"',
    '"héllo wörld ✓ 😀"',
    '{ "a" :  [ 1 , 2 ] }',
    '[1,\n 2]',
    '{\n"a": 1\n}',
    '{\n\t"k" :\n\n  [ "x" ,\n    "y" ]\n}',
    '[\t"tab" ,  "spaces"\t]',
    "null",
    "1.50e+3",
    "-0",
    "0.1E-07",
    "true",
    "[]",
    '""',
    '{"nested":{"deep":[[[{"x":null,"y":"\\u0000"}]]]}}',
    # ~100 KB on one line, and ~100 KB over many lines.
    json.dumps([f"élément {index} \"q\" \\ /" for index in range(4000)], ensure_ascii=False),
    json.dumps({f"key {index}": [index, "ü", None] for index in range(3000)}, ensure_ascii=False, indent=1),
]


def test_pushes_arrive_in_order_with_payload_bytes_exactly_as_published(kind, worker):
    """Two subscribers get every payload, in order, exactly; another topic's subscriber only its own."""
    assert all(len(PAYLOADS[index].encode()) > 90_000 for index in (-1, -2))
    register(worker.internal_port, "session.42")
    register(worker.internal_port, "open", require_token=False)

    async def scenario():
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(open_subscriber(kind, worker, "session.42", token_for("session.42", user_id=1)))
            second = await stack.enter_async_context(open_subscriber(kind, worker, "session.42", token_for("session.42", user_id=2)))
            bystander = await stack.enter_async_context(open_subscriber(kind, worker, "open"))
            for subscriber in (first, second, bystander):
                assert await subscriber.outcome() == ACCEPTED
            publisher = Publisher(worker)
            await asyncio.to_thread(publisher.publish_all, "session.42", PAYLOADS)
            await asyncio.to_thread(publish, worker, "open", '"marker"')
            received = {"first": [await first.next_push() for _ in PAYLOADS],
                        "second": [await second.next_push() for _ in PAYLOADS]}
            assert await bystander.next_push() == '"marker"'
            return received

    received = asyncio.run(scenario())
    assert received["first"] == PAYLOADS
    assert received["second"] == PAYLOADS


def test_a_publish_right_after_the_accept_is_delivered(kind, worker):
    """Once the subscriber has its answer (auth_ok / the stream's first bytes) it is subscribed."""
    register(worker.internal_port, "race")

    async def scenario():
        received = []
        for index in range(20):
            async with open_subscriber(kind, worker, "race", token_for("race", user_id=index + 1)) as subscriber:
                assert await subscriber.outcome() == ACCEPTED
                await asyncio.to_thread(publish, worker, "race", str(index))
                received.append(await subscriber.next_push())
        return received

    assert asyncio.run(scenario()) == [str(index) for index in range(20)]


def test_token_expiry_while_connected_ends_the_stream_with_auth_expired(kind, worker):
    """A token whose `expires` passes while connected gets auth_expired, then the server ends the
    stream; a subscriber with a longer token on the same topic keeps receiving."""
    register(worker.internal_port, "session.42")
    expires = int(time.time()) + 2

    async def scenario():
        async with open_subscriber(kind, worker, "session.42", mint({"user_id": 7, "topic": "session.42", "expires": expires})) as short, \
                open_subscriber(kind, worker, "session.42", token_for("session.42", user_id=8)) as long:
            assert await short.outcome() == ACCEPTED
            assert await long.outcome() == ACCEPTED
            end = await short.ended(timeout=15)
            arrived = time.time()
            await asyncio.to_thread(publish, worker, "session.42", '"after"')
            return end, arrived, await long.next_push()

    end, arrived, after = asyncio.run(scenario())
    assert end == ending(kind, "auth_expired")
    assert expires <= arrived  # valid through its expiry second, never ended early
    assert after == '"after"'


@pytest.mark.parametrize("limit", ["send_queue_frames: 50\n", "send_queue_bytes: 65536\n"], ids=["frames", "bytes"])
def test_a_stuck_reader_is_closed_while_others_get_everything(kind, limit, make_worker):
    """A subscriber that never reads is cut off after a gap-free prefix, with `client too slow`
    in the log, once its queue passes either limit; a reading subscriber of the same topic gets
    every push."""
    instance = make_worker(limit)
    register(instance.internal_port, "firehose")
    # The server's kernel send buffer (up to tcp_wmem's maximum) fills before its queue does.
    size = 8192
    count = kernel_send_buffer_max() // size + 200
    payloads = ['"' + f"{index:06d}" + "x" * (size - 8) + '"' for index in range(count)]

    stuck = StuckSubscriber(kind, instance, "firehose", token_for("firehose", user_id=1))
    try:
        async def scenario():
            async with open_subscriber(kind, instance, "firehose", token_for("firehose", user_id=2)) as reader:
                assert await reader.outcome() == ACCEPTED

                # The reader keeps up by construction: a batch smaller than either queue bound
                # is published, then read, so only the stuck subscriber can fall behind, on a
                # machine of any speed.
                publisher, batch, received = Publisher(instance), 4, []
                for start in range(0, len(payloads), batch):
                    await asyncio.to_thread(publisher.publish_all, "firehose", payloads[start:start + batch])
                    for _ in payloads[start:start + batch]:
                        received.append(await reader.next_push(timeout=30))
                return received

        received = asyncio.run(scenario())
        assert received == payloads

        too_slow = wait_for_log(instance, r'msg="client too slow"')
        assert len(too_slow) == 1, "no single `client too slow` in the log: " + instance.read_log()[-2000:]
        fields = parse_logfmt(too_slow[0])
        assert (fields["ip"], fields["topic"]) == ("127.0.0.1", "firehose")
        if kind == "sse":
            assert fields.get("transport") == "sse", too_slow[0]
        report = wait_for_status(instance, lambda r: r["connected_sockets"] == 0)
        assert report["connected_sockets"] == 0

        # The stuck client now reads: a gap-free prefix of the pushes, then the end.
        seen, how = stuck.read_remaining_pushes()
        assert seen == payloads[:len(seen)]
        assert len(seen) < count
        assert how in (("close 1013", "eof") if kind == "websocket" else ("eof", "reset"))
    finally:
        stuck.close()


def test_sigterm_ends_every_stream_and_exits_zero(kind, make_worker):
    """SIGTERM: the server ends every open stream (WebSocket close 1001; SSE connection closed) and exits 0."""
    instance = make_worker()
    register(instance.internal_port, "session.42")
    register(instance.internal_port, "public.feed", require_token=False)

    async def scenario():
        async with AsyncExitStack() as stack:
            subscribers = [await stack.enter_async_context(open_subscriber(kind, instance, "session.42", token_for("session.42", user_id=user)))
                           for user in (1, 2, 3)]
            subscribers.append(await stack.enter_async_context(open_subscriber(kind, instance, "public.feed")))
            for subscriber in subscribers:
                assert await subscriber.outcome() == ACCEPTED
            instance.process.send_signal(signal.SIGTERM)
            return await asyncio.gather(*(subscriber.ended(timeout=15) for subscriber in subscribers))

    assert asyncio.run(scenario()) == [ending(kind, "shutdown")] * 4
    assert instance.stop() == 0
    assert "msg=stopped" in instance.read_log()


def test_status_counts_sockets_clients_and_active_topics_exactly(kind, worker):
    """connected_sockets, connected_clients and active topics follow subscribes and closes exactly;
    a connection not yet subscribed and a refused one are not counted."""
    port = worker.internal_port
    for topic in ["stats.a", "stats.b", "stats.idle"]:
        register(port, topic)
    register(port, "stats.public", require_token=False)
    plan = [("stats.a", 1), ("stats.a", 1), ("stats.a", 2), ("stats.b", 2), ("stats.b", 0), ("stats.b", 0),
            ("stats.public", None), ("stats.public", None)]

    def observed(r):
        return r["connected_sockets"], r["connected_clients"], r["active_topics"], sorted(r["active_topic_list"])

    def settle(expected):
        return observed(wait_for_status(worker, lambda r: observed(r) == expected))

    async def scenario():
        async with AsyncExitStack() as stack:
            subscribers = []
            for topic, user_id in plan:
                token = None if user_id is None else token_for(topic, user_id=user_id)
                subscriber = await stack.enter_async_context(open_subscriber(kind, worker, topic, token))
                assert await subscriber.outcome() == ACCEPTED
                subscribers.append(subscriber)
            if kind == "websocket":
                pending = await stack.enter_async_context(open_ws(worker, "stats.idle"))  # upgraded, never authenticated
            else:
                pending = socket.create_connection(("127.0.0.1", worker.ws_port), timeout=10)  # request head unfinished
                stack.callback(pending.close)
                pending.sendall(f"GET /sse?{topic_query('stats.idle')} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            assert await attempt(kind, worker, "stats.idle", "bad.token") == refusal(kind, "unauthorized")
            # 8 sockets; users 1 and 2 once each, plus 4 anonymous ones.
            everything = ["stats.a", "stats.b", "stats.public"]
            assert await asyncio.to_thread(settle, (8, 6, 3, everything)) == (8, 6, 3, everything)
            await subscribers[0].close()  # user 1 still has another
            await subscribers[4].close()  # one anonymous fewer
            assert await asyncio.to_thread(settle, (6, 5, 3, everything)) == (6, 5, 3, everything)
            await subscribers[1].close()  # user 1 gone
            await subscribers[6].close()
            await subscribers[7].close()  # stats.public inactive
            assert await asyncio.to_thread(settle, (3, 2, 2, ["stats.a", "stats.b"])) == (3, 2, 2, ["stats.a", "stats.b"])
        assert await asyncio.to_thread(settle, (0, 0, 0, [])) == (0, 0, 0, [])

    asyncio.run(scenario())


def test_log_ip_comes_from_x_forwarded_for_then_x_real_ip(kind, worker):
    """ip= in the subscribed/unauthorized lines: the first X-Forwarded-For entry, else X-Real-IP, else the peer."""
    cases = {
        # topic: (headers, token is valid, expected ip)
        "ip.plain": ({}, True, "127.0.0.1"),
        "ip.forwarded": ({"X-Forwarded-For": "203.0.113.7, 10.0.0.1"}, True, "203.0.113.7"),
        "ip.real": ({"X-Real-IP": "198.51.100.4"}, True, "198.51.100.4"),
        "ip.both": ({"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "198.51.100.5"}, True, "203.0.113.9"),
        "ip.refused": ({"X-Forwarded-For": "203.0.113.8 ,10.0.0.1"}, False, "203.0.113.8"),
        "ip.refused.real": ({"X-Real-IP": "198.51.100.6"}, False, "198.51.100.6"),
    }
    for topic in cases:
        register(worker.internal_port, topic)

    async def scenario():
        for topic, (headers, valid, _) in cases.items():
            expected = ACCEPTED if valid else refusal(kind, "unauthorized")
            token = token_for(topic, user_id=1) if valid else "bad.token"
            assert await attempt(kind, worker, topic, token, headers=headers) == expected

    asyncio.run(scenario())
    for topic, (_, valid, ip) in cases.items():
        message = "client subscribed" if valid else "client unauthorized"
        lines = wait_for_log(worker, rf'msg="{message}" .*topic={re.escape(topic)}( |$)')
        assert len(lines) == 1, (topic, lines)
        assert parse_logfmt(lines[0])["ip"] == ip, lines[0]
