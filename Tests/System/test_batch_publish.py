"""Many topics in one call (docs/protocol.md "Internal API"): `topics` in place of `topic` on
`/internal/publish`, and `/internal/batch`; the Go worker's single-topic form unchanged."""
import asyncio
import json

from conftest import register, request
from helpers import nothing_more, push, recv, subscribe


def test_one_payload_to_many_topics_reaches_each_once(worker):
    for topic in ("s.1", "s.2", "s.3"):
        register(worker.internal_port, topic)

    async def scenario():
        sockets = [await subscribe(worker, topic) for topic in ("s.1", "s.2", "s.3")]
        status, _, body = request(worker.internal_port, "POST", "/internal/publish", '{"topics":["s.1","s.2","s.1","s.3"],"payload":{"n":1}}')
        assert (status, body) == (200, b"")
        for ws in sockets:
            assert await recv(ws) == push('{"n":1}')
            await nothing_more(ws)  # s.1 was listed twice and gets it once
            await ws.close()

    asyncio.run(scenario())


def test_unknown_topics_are_listed_and_the_known_ones_still_published(worker):
    register(worker.internal_port, "known.1")
    register(worker.internal_port, "known.2")

    async def scenario():
        ws = await subscribe(worker, "known.2")
        status, headers, body = request(worker.internal_port, "POST", "/internal/publish",
                                        '{"topics":["gone.1","known.2","gone.2"],"payload":"p"}')
        assert (status, headers["content-type"]) == (404, "application/json")
        assert json.loads(body) == {"error": "topic not registered", "unknown_topics": ["gone.1", "gone.2"], "published": 1}
        assert await recv(ws) == push('"p"')
        await ws.close()

    asyncio.run(scenario())


def test_a_batch_publishes_each_payload_in_order(worker):
    register(worker.internal_port, "b.1")
    register(worker.internal_port, "b.2")

    async def scenario():
        one, two = await subscribe(worker, "b.1"), await subscribe(worker, "b.2")
        batch = '[{"topic":"b.1","payload":{"i": 1}},{"topic":"b.2","payload":[2]},{"topic":"nope","payload":0},{"topic":"b.1","payload":3}]'
        status, _, body = request(worker.internal_port, "POST", "/internal/batch", batch)
        assert status == 404 and json.loads(body) == {"error": "topic not registered", "unknown_topics": ["nope"], "published": 3}
        assert [await recv(one), await recv(one)] == [push('{"i": 1}'), push("3")]
        assert await recv(two) == push("[2]")
        status, _, body = request(worker.internal_port, "POST", "/internal/batch", '[{"topic":"b.2","payload":4}]')
        assert (status, body) == (200, b"")
        assert await recv(two) == push("4")
        await one.close()
        await two.close()

    asyncio.run(scenario())


def test_a_malformed_element_refuses_the_whole_batch(worker):
    register(worker.internal_port, "m.1")

    async def scenario():
        ws = await subscribe(worker, "m.1")
        port = worker.internal_port
        status, headers, body = request(port, "POST", "/internal/batch", '[{"topic":"m.1","payload":1},{"topic":"m.1"}]')
        assert (status, headers["content-type"], json.loads(body)) == (400, "application/json", {"error": "missing payload", "index": 1})
        status, _, body = request(port, "POST", "/internal/batch", '[{"topic":"m.1","payload":1},"m.1"]')
        assert (status, json.loads(body)) == (400, {"error": "bad request", "index": 1})
        assert request(port, "POST", "/internal/batch", '{"topic":"m.1","payload":1}')[0::2] == (400, b"bad request\n")
        assert request(port, "POST", "/internal/batch", "[]")[0::2] == (400, b"missing topic\n")
        too_many = json.dumps([{"topic": "m.1", "payload": i} for i in range(101)])
        assert request(port, "POST", "/internal/batch", too_many)[0::2] == (400, b"too many topics\n")
        too_many = json.dumps({"topics": [f"t.{i}" for i in range(101)], "payload": 1})
        assert request(port, "POST", "/internal/publish", too_many)[0::2] == (400, b"too many topics\n")
        assert request(port, "POST", "/internal/publish", '{"topic":"m.1","topics":["m.1"],"payload":1}')[0::2] == (400, b"bad request\n")
        assert request(port, "GET", "/internal/batch")[0] == 405
        assert request(port, "POST", "/internal/batch", '[{"topic":"m.1","payload":1}]', secret="wrong")[0] == 403
        await nothing_more(ws)  # none of the refused requests published anything
        await ws.close()

    asyncio.run(scenario())
