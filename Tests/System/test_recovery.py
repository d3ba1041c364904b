"""Recovery across a reconnect (docs/protocol.md "History and resume", docs/sse.md "Resume"):
positions on pushes of topics with history, `Last-Event-ID` for SSE, `since` for WebSocket,
`resync` / `recovered:false` when the gap cannot be filled, on one node and across a cluster.

Every wait is an awaited event (bytes on a socket, a reply) bounded by a timeout; the only
graces are the "nothing more" checks, which assert an absence."""
import asyncio
import json
import re
import subprocess

import pytest
from websockets.asyncio.client import connect as ws_connect

from conftest import SECRET, register
from helpers import (Cluster, Publisher, REDIS_CLI, TIMEOUT, auth_message, metrics, nothing_more, open_ws, publish, recv,
                     token_for, wait_for, wait_for_status, ws_url)
from transports import RawSSE

HISTORY = 'history:\n  - {topics: "contest_session.*", size: 20, ttl: 5m}\n'
POSITION = re.compile(r"^[0-9a-f]{16}-[0-9]+$")


def sse(instance, topic, last_event_id=None, query_id=None):
    target = f"/sse?topic={topic}&token={token_for(topic)}"
    if query_id is not None:
        target += "&lastEventId=" + query_id
    headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
    stream = RawSSE(instance.ws_port, target, headers)
    assert stream.status == 200, stream.status_line
    assert stream.read_block() == b"retry: 3000\n\n"
    return stream


def fields(block):
    """The `id`, `event` and joined `data` of one SSE block."""
    parsed = {"data": []}
    for line in block.decode().rstrip("\n").split("\n"):
        name, _, value = line.partition(": ")
        if name == "data":
            parsed["data"].append(value)
        else:
            parsed[name] = value
    parsed["data"] = "\n".join(parsed["data"])
    return parsed


def publish_many(instance, topic, numbers):
    publisher = Publisher(instance)
    for number in numbers:
        publisher.publish(topic, json.dumps({"n": number}))
    publisher.close()


def offset_of(position):
    return int(position.split("-")[1])


# MARK: - One node


def test_sse_pushes_carry_ids_and_a_reconnect_with_last_event_id_gets_exactly_the_missed_ones(make_worker):
    worker = make_worker(HISTORY)
    topic = "contest_session.7"
    register(worker.internal_port, topic, require_token=True)
    stream = sse(worker, topic)
    # Nothing published yet: a node alone knows the topic stands at offset 0, and says so.
    start = fields(stream.read_block())
    assert start["event"] == "position" and offset_of(start["id"]) == 0, start
    assert json.loads(start["data"]) == {"type": "position", "offset": start["id"]}
    publish_many(worker, topic, range(3))
    seen = [fields(stream.read_block()) for _ in range(3)]
    stream.close()
    assert [json.loads(item["data"])["n"] for item in seen] == [0, 1, 2]
    assert all(item["event"] == "push" and POSITION.match(item["id"]) for item in seen), seen
    assert [offset_of(item["id"]) for item in seen] == [1, 2, 3]
    publish_many(worker, topic, range(3, 6))  # nobody listens: kept in the history
    resumed = sse(worker, topic, last_event_id=seen[-1]["id"])
    try:
        missed = [fields(resumed.read_block()) for _ in range(3)]
        assert [json.loads(item["data"])["n"] for item in missed] == [3, 4, 5]
        assert [offset_of(item["id"]) for item in missed] == [4, 5, 6]
        publish(worker, topic, json.dumps({"n": 6}))
        live = fields(resumed.read_block())
        assert json.loads(live["data"]) == {"n": 6} and offset_of(live["id"]) == 7
    finally:
        resumed.close()
    # The query parameter, for proxies that drop the header, resumes the same way.
    by_query = sse(worker, topic, query_id=seen[0]["id"])
    try:
        assert [json.loads(fields(by_query.read_block())["data"])["n"] for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    finally:
        by_query.close()
    samples = metrics(worker)
    assert samples[("wavelog_resumes_total", (("outcome", "recovered"),))] == 2
    assert samples[("wavelog_resumes_total", (("outcome", "resync"),))] == 0
    assert samples[("wavelog_messages_replayed_total", ())] == 9


def test_a_resumed_stream_starting_at_the_latest_position_gets_only_live_pushes(make_worker):
    worker = make_worker(HISTORY)
    topic = "contest_session.1"
    register(worker.internal_port, topic, require_token=True)
    publish_many(worker, topic, range(2))
    first = sse(worker, topic)
    try:
        # A stream that saw no push yet is given the latest position, as a `position` event.
        start = fields(first.read_block())
        assert start["event"] == "position" and offset_of(start["id"]) == 2, start
    finally:
        first.close()
    again = sse(worker, topic, last_event_id=start["id"])
    try:
        publish(worker, topic, '"live"')
        block = fields(again.read_block())
        assert block["data"] == '"live"' and offset_of(block["id"]) == 3, block
    finally:
        again.close()


@pytest.mark.parametrize("value", [
    "garbage", "00000000000000zz-1", "-1", "1-", "1--2", "0123456789abcdef0-1", "1-99999999999999999999999",
    "x" * 100_00, "ABCDEF0123456789-1",
])
def test_an_unusable_last_event_id_gets_one_resync_event_then_live_pushes(make_worker, value):
    worker = make_worker(HISTORY)
    topic = "contest_session.2"
    register(worker.internal_port, topic, require_token=True)
    publish_many(worker, topic, range(2))
    stream = sse(worker, topic, last_event_id=value)
    try:
        resync = fields(stream.read_block())
        assert resync["event"] == "resync" and json.loads(resync["data"]) == {"type": "resync"}
        assert offset_of(resync["id"]) == 2
        publish(worker, topic, '"after"')
        assert fields(stream.read_block())["data"] == '"after"'
    finally:
        stream.close()


def test_positions_from_another_epoch_the_future_or_beyond_the_history_get_resync(make_worker):
    worker = make_worker('history:\n  - {topics: "contest_session.*", size: 3, ttl: 5m}\n')
    topic = "contest_session.3"
    register(worker.internal_port, topic, require_token=True)
    stream = sse(worker, topic)
    publish(worker, topic, '"one"')
    first = fields(stream.read_block())
    stream.close()
    epoch, offset = first["id"].split("-")
    foreign = ("0" if epoch[0] != "0" else "1") + epoch[1:]
    publish_many(worker, topic, range(5))  # offsets 2-6; the history keeps 4-6
    for value in [f"{foreign}-{offset}", f"{epoch}-7", first["id"]]:
        again = sse(worker, topic, last_event_id=value)
        try:
            block = fields(again.read_block())
            assert block["event"] == "resync", (value, block)
            assert block["id"] == f"{epoch}-6"
        finally:
            again.close()
    # From offset 3 on, the history holds everything missed.
    again = sse(worker, topic, last_event_id=f"{epoch}-3")
    try:
        assert [offset_of(fields(again.read_block())["id"]) for _ in range(3)] == [4, 5, 6]
    finally:
        again.close()


def test_topics_without_history_keep_the_old_wire_format(make_worker):
    worker = make_worker(HISTORY)
    register(worker.internal_port, "other.1", require_token=True)
    stream = sse(worker, "other.1", last_event_id="0000000000000001-1")
    try:
        # A position for a topic without history cannot be honoured: resync, with an empty id.
        assert stream.read_block() == b'id: \nevent: resync\ndata: {"type":"resync"}\n\n'
        publish(worker, "other.1", '"plain"')
        assert stream.read_block() == b'event: push\ndata: "plain"\n\n'
    finally:
        stream.close()

    async def websocket():
        async with open_ws(worker, "other.1") as ws:
            await ws.send(auth_message(token_for("other.1")))
            assert json.loads(await recv(ws)) == {"type": "auth_ok"}
            publish(worker, "other.1", '"plain"')
            assert await recv(ws) == '{"type":"push","payload":"plain"}'

    asyncio.run(websocket())


async def ws_resume(instance, topic, since=None, extra=None):
    ws = await open_ws(instance, topic)
    message = {"type": "auth", "token": token_for(topic)}
    if since is not None:
        message["since"] = since
    message.update(extra or {})
    await ws.send(json.dumps(message))
    return ws, json.loads(await recv(ws))


def test_websocket_pushes_carry_offsets_and_since_resumes_with_recovered_true(make_worker):
    worker = make_worker(HISTORY)
    topic = "contest_session.4"
    register(worker.internal_port, topic, require_token=True)

    async def scenario():
        ws, ok = await ws_resume(worker, topic)
        # Nothing published yet: a node alone knows the topic stands at offset 0.
        assert set(ok) == {"type", "offset"} and offset_of(ok["offset"]) == 0, ok
        await ws.close()
        publish_many(worker, topic, range(2))
        # Away before the first push: the resume from offset 0 gets both.
        ws, ok = await ws_resume(worker, topic, since=ok["offset"])
        assert ok["recovered"] is True, ok
        pushes = [json.loads(await recv(ws)) for _ in range(2)]
        assert [push["payload"] for push in pushes] == [{"n": 0}, {"n": 1}]
        assert all(POSITION.match(push["offset"]) for push in pushes), pushes
        await ws.close()
        publish_many(worker, topic, range(2, 5))
        ws, ok = await ws_resume(worker, topic, since=pushes[-1]["offset"])
        assert ok["type"] == "auth_ok" and ok["recovered"] is True and offset_of(ok["offset"]) == 5, ok
        missed = [json.loads(await recv(ws)) for _ in range(3)]
        assert [push["payload"]["n"] for push in missed] == [2, 3, 4]
        publish(worker, topic, '"live"')
        live = json.loads(await recv(ws))
        assert live["payload"] == "live" and offset_of(live["offset"]) == 6
        await nothing_more(ws)
        await ws.close()
        # A client without `since` is told where the stream stands.
        ws, ok = await ws_resume(worker, topic)
        assert ok == {"type": "auth_ok", "offset": live["offset"]}
        await ws.close()
        for index, since in enumerate(["nonsense", "f" * 1000, 17, None, {"a": 1}]):
            ws, ok = await ws_resume(worker, topic, extra={"since": since})
            assert ok == {"type": "auth_ok", "recovered": False, "offset": live["offset"].split("-")[0] + f"-{6 + index}"}, (since, ok)
            publish(worker, topic, '"next"')
            assert json.loads(await recv(ws))["payload"] == "next"
            await ws.close()

    asyncio.run(scenario())


def test_a_compressed_websocket_gets_its_missed_pushes_uncompressed_and_readable(make_worker):
    worker = make_worker(HISTORY)
    topic = "contest_session.5"
    register(worker.internal_port, topic, require_token=True)
    big = {"text": "x" * 2000}

    async def scenario():
        ws = await ws_connect(ws_url(worker, topic), compression="deflate", open_timeout=TIMEOUT)
        await ws.send(auth_message(token_for(topic)))
        assert json.loads(await recv(ws))["type"] == "auth_ok"
        publish(worker, topic, json.dumps(big))
        first = json.loads(await recv(ws))
        await ws.close()
        publish(worker, topic, json.dumps(big))
        resumed = await ws_connect(ws_url(worker, topic), compression="deflate", open_timeout=TIMEOUT)
        await resumed.send(json.dumps({"type": "auth", "token": token_for(topic), "since": first["offset"]}))
        assert json.loads(await recv(resumed))["recovered"] is True
        assert json.loads(await recv(resumed))["payload"] == big
        await resumed.close()

    asyncio.run(scenario())


# MARK: - A cluster


@pytest.fixture
def history_cluster(redis_server, make_worker):
    class HistoryCluster(Cluster):
        @property
        def config(self):
            return super().config + HISTORY

    return HistoryCluster(redis_server, make_worker)


def test_a_subscriber_cut_off_resumes_on_the_same_node_and_on_another_with_every_message_once(history_cluster):
    a, b, c = history_cluster.start()
    topic = "contest_session.9"
    register(a.internal_port, topic, require_token=True)

    async def scenario():
        ws, _ = await ws_resume(a, topic)
        publisher = Publisher(b)
        received = []
        for number in range(30):
            publisher.publish(topic, json.dumps({"n": number}))
            if number == 9:
                received += [json.loads(await recv(ws)) for _ in range(10)]
                await ws.close()  # cut off while publishing goes on
                continue
            if number == 19:
                # Back on the same node, then cut again.
                ws, ok = await ws_resume(a, topic, since=received[-1]["offset"])
                assert ok["recovered"] is True, ok
                received += [json.loads(await recv(ws)) for _ in range(10)]
                await ws.close()
        publisher.close()
        # Then on another node.
        ws, ok = await ws_resume(c, topic, since=received[-1]["offset"])
        assert ok["recovered"] is True, ok
        received += [json.loads(await recv(ws)) for _ in range(10)]
        await nothing_more(ws)
        await ws.close()
        return received

    received = asyncio.run(scenario())
    assert [push["payload"]["n"] for push in received] == list(range(30))
    offsets = [push["offset"] for push in received]
    assert len({offset.split("-")[0] for offset in offsets}) == 1
    assert [offset_of(offset) for offset in offsets] == list(range(1, 31))


def test_every_node_gives_a_message_the_same_position(history_cluster):
    nodes = history_cluster.start()
    topic = "contest_session.10"
    register(nodes[0].internal_port, topic, require_token=True)

    async def scenario():
        sockets = [(await ws_resume(node, topic))[0] for node in nodes]
        for index, node in enumerate(nodes):
            publish(node, topic, json.dumps({"from": index}))
        seen = [[json.loads(await recv(ws)) for _ in nodes] for ws in sockets]
        for ws in sockets:
            await ws.close()
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == seen[1] == seen[2]
    assert [offset_of(push["offset"]) for push in seen[0]] == [1, 2, 3]


def test_an_envelope_without_a_position_is_delivered_and_a_resume_across_it_gets_resync(history_cluster):
    a, b, c = history_cluster.start()
    topic = "contest_session.11"
    register(a.internal_port, topic, require_token=True)

    async def scenario():
        ws, _ = await ws_resume(b, topic)
        publish(a, topic, '"first"')
        first = json.loads(await recv(ws))
        await ws.close()
        # What a node that knows nothing of history (the Go worker) publishes.
        envelope = json.dumps({"origin_id": "0123456789abcdef", "topic": topic, "payload": "from go"})
        subprocess.run([REDIS_CLI, "-p", str(history_cluster.redis.port), "PUBLISH", history_cluster.events, envelope],
                       check=True, capture_output=True, timeout=TIMEOUT)
        listener, _ = await ws_resume(c, topic)
        publish(a, topic, '"third"')
        assert json.loads(await recv(listener))["payload"] == "third"
        await listener.close()
        ws, ok = await ws_resume(b, topic, since=first["offset"])
        assert ok["recovered"] is False, ok
        await ws.close()

    asyncio.run(scenario())


def test_after_a_redis_restart_the_epoch_changes_and_old_positions_get_resync(private_redis, make_worker):
    config = private_redis.config + 'redis_prefix: "restart:"\n' + HISTORY
    node = make_worker(config)
    topic = "contest_session.12"
    register(node.internal_port, topic, require_token=True)

    async def scenario():
        ws, _ = await ws_resume(node, topic)
        publish(node, topic, '"before"')
        before = json.loads(await recv(ws))
        private_redis.stop()
        private_redis.restart()
        # Once the node publishes and listens again, a publish gets its position from the new
        # Redis. (If the node has not yet read its subscription's confirmation, its own
        # subscribers also get the message at once without a position: skipped here.)
        report = await asyncio.to_thread(wait_for_status, node, lambda report: report["cluster_connected"] is True)
        assert report["cluster_connected"] is True, report
        assert await asyncio.to_thread(wait_for, lambda: private_redis.numsub("restart:events") == 1)
        register(node.internal_port, topic, require_token=True)  # the registry went with Redis
        publish(node, topic, '"after"')
        while True:
            after = json.loads(await recv(ws))
            if after.get("offset"):
                break
        await ws.close()
        assert after["offset"].split("-")[0] != before["offset"].split("-")[0]
        ws, ok = await ws_resume(node, topic, since=before["offset"])
        assert ok["recovered"] is False and ok["offset"] == after["offset"], ok
        await ws.close()

    asyncio.run(scenario())


def test_a_node_restart_loses_its_history_and_other_nodes_keep_theirs(history_cluster):
    a, b = history_cluster.start(count=2)
    topic = "contest_session.13"
    register(a.internal_port, topic, require_token=True)

    async def scenario():
        ws, _ = await ws_resume(b, topic)
        publish(a, topic, '"before"')
        before = json.loads(await recv(ws))
        await ws.close()
        b.stop()
        publish_many(a, topic, range(3))  # while b is down
        restarted = history_cluster.start_node()
        history_cluster.wait_until_subscribed(2)
        # The restarted node has no record of the topic: it cannot vouch for the gap.
        ws, ok = await ws_resume(restarted, topic, since=before["offset"])
        assert ok == {"type": "auth_ok", "recovered": False}, ok
        await ws.close()
        # The node that stayed up replays what was missed.
        ws, ok = await ws_resume(a, topic, since=before["offset"])
        assert ok["recovered"] is True, ok
        assert [json.loads(await recv(ws))["payload"] for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
        await ws.close()

    asyncio.run(scenario())


def test_a_node_alone_restarted_starts_a_new_epoch_and_old_positions_get_resync(make_worker):
    worker = make_worker(HISTORY)
    topic = "contest_session.14"
    register(worker.internal_port, topic, require_token=True)

    async def before_restart():
        ws, _ = await ws_resume(worker, topic)
        publish(worker, topic, '"one"')
        pushed = json.loads(await recv(ws))
        await ws.close()
        return pushed["offset"]

    old = asyncio.run(before_restart())
    worker.stop()
    again = make_worker(HISTORY)
    register(again.internal_port, topic, require_token=True)

    async def after_restart():
        ws, ok = await ws_resume(again, topic, since=old)
        assert ok["recovered"] is False and ok["offset"].split("-")[0] != old.split("-")[0], ok
        assert offset_of(ok["offset"]) == 0
        await ws.close()

    asyncio.run(after_restart())


def test_a_replay_larger_than_half_the_send_queue_is_a_resync_not_a_close(make_worker):
    worker = make_worker(HISTORY + "send_queue_frames: 10\n")
    topic = "contest_session.15"
    register(worker.internal_port, topic, require_token=True)

    async def scenario():
        ws, ok = await ws_resume(worker, topic)
        start = ok["offset"]
        await ws.close()
        publish_many(worker, topic, range(6))  # more than 10 / 2
        ws, ok = await ws_resume(worker, topic, since=start)
        assert ok["recovered"] is False and offset_of(ok["offset"]) == 6, ok
        publish(worker, topic, '"live"')
        assert json.loads(await recv(ws))["payload"] == "live"
        await ws.close()
        # Five fit.
        ws, ok = await ws_resume(worker, topic, since=start.split("-")[0] + "-2")
        assert ok["recovered"] is True, ok
        assert [json.loads(await recv(ws))["payload"] for _ in range(5)] == [{"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}, "live"]
        await ws.close()

    asyncio.run(scenario())


def test_a_lost_subscription_to_redis_ends_the_records_so_no_resume_spans_it(history_cluster):
    (node,) = history_cluster.start(count=1)
    topic = "contest_session.16"
    register(node.internal_port, topic, require_token=True)

    async def scenario():
        ws, _ = await ws_resume(node, topic)
        publish(node, topic, '"one"')
        first = json.loads(await recv(ws))
        await ws.close()
        # Redis ends the node's subscription; the node makes it again.
        subprocess.run([REDIS_CLI, "-p", str(history_cluster.redis.port), "CLIENT", "KILL", "TYPE", "pubsub"],
                       check=True, capture_output=True, timeout=TIMEOUT)
        history_cluster.wait_until_subscribed(1)
        listener, _ = await ws_resume(node, topic)
        publish(node, topic, '"two"')
        assert json.loads(await recv(listener))["payload"] == "two"
        await listener.close()
        ws, ok = await ws_resume(node, topic, since=first["offset"])
        assert ok["recovered"] is False, ok
        await ws.close()

    asyncio.run(scenario())
