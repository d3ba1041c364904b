"""Topic rules (docs/protocol.md "Topic rules"): coalesced bursts and latest-value topics,
opted into by pattern in the configuration, with real WebSocket clients."""
import asyncio
import json
import struct

from conftest import register, request
from helpers import (AUTH_OK, Publisher, RawWebSocket, auth_message, kernel_send_buffer_max, metrics, open_ws, publish,
                     push, recv, subscribe, token_for, wait_for, wait_for_log)

RULES = ('topic_rules:\n'
         '  - {topics: "radio.*", latest_only: true}\n'
         '  - {topics: "contest_session.*", coalesce: 2s}\n'
         '  - {topics: "contest_session.exempt"}\n')


def counter(worker, name):
    return metrics(worker).get((name, ()), 0)


def batch(worker, topic, payloads):
    body = json.dumps([{"topic": topic, "payload": payload} for payload in payloads])
    status, _, answer = request(worker.internal_port, "POST", "/internal/batch", body)
    assert status == 200, answer


def test_a_burst_of_ten_publishes_is_two_pushes(make_worker):
    """The leading edge at once, the trailing edge with the last payload: 2 refetches, not 10."""
    worker = make_worker(RULES)
    register(worker.internal_port, "contest_session.1")
    register(worker.internal_port, "plain.1")

    async def scenario():
        coalesced = await subscribe(worker, "contest_session.1")
        plain = await subscribe(worker, "plain.1")
        publisher = Publisher(worker)
        # Ten requests, as PHP sends them on ten QSO saves; far less than the 2 s window apart.
        await asyncio.to_thread(publisher.publish_all, "contest_session.1", [str(n) for n in range(1, 11)])
        await asyncio.to_thread(publisher.publish_all, "plain.1", [str(n) for n in range(1, 11)])
        publisher.close()
        assert [await recv(coalesced), await recv(coalesced, timeout=10)] == [push("1"), push("10")]
        assert [await recv(plain) for _ in range(10)] == [push(str(n)) for n in range(1, 11)]
        await coalesced.close()
        await plain.close()

    asyncio.run(scenario())
    assert counter(worker, "wavelog_publishes_coalesced_total") == 8


def test_bursts_at_the_edges_of_a_window(make_worker):
    worker = make_worker(RULES)
    register(worker.internal_port, "contest_session.2")
    # Nobody reads it yet: nothing is folded and no window opens.
    batch(worker, "contest_session.2", [0, 0])
    assert metrics(worker)[("wavelog_coalescing_topics", ())] == 0

    async def scenario():
        ws = await subscribe(worker, "contest_session.2")
        batch(worker, "contest_session.2", [1, 2, 3])
        assert [await recv(ws), await recv(ws, timeout=10)] == [push("1"), push("3")]
        # Right after the trailing edge a new window is open: both are held, the later one wins
        # (had the window closed, 4 would have gone at once, then 5).
        batch(worker, "contest_session.2", [4, 5])
        assert await recv(ws, timeout=10) == push("5")
        # Once the burst is over the topic holds no window, and the next publish leads again.
        wait_for(lambda: metrics(worker)[("wavelog_coalescing_topics", ())] == 0)
        batch(worker, "contest_session.2", [6, 7])
        assert [await recv(ws), await recv(ws, timeout=10)] == [push("6"), push("7")]
        await ws.close()

    asyncio.run(scenario())


def test_a_rule_without_options_exempts_its_topics_and_status_shows_each_rule(make_worker):
    worker = make_worker('topic_rules:\n  - {topics: "contest_session.exempt"}\n  - {topics: "contest_session.*", coalesce: 2s}\n'
                         '  - {topics: "radio.*", latest_only: true}\n')
    for topic in ("contest_session.exempt", "contest_session.9", "radio.7", "other"):
        register(worker.internal_port, topic)

    async def scenario():
        ws = await subscribe(worker, "contest_session.exempt")
        batch(worker, "contest_session.exempt", [1, 2, 3])
        assert [await recv(ws) for _ in range(3)] == [push("1"), push("2"), push("3")]
        await ws.close()

    asyncio.run(scenario())
    status, _, body = request(worker.internal_port, "GET", "/internal/status?topics=1")
    assert json.loads(body)["topic_rules"] == {
        "contest_session.exempt": {"topics": "contest_session.exempt"},
        "contest_session.9": {"topics": "contest_session.*", "coalesce": "2s"},
        "radio.7": {"topics": "radio.*", "latest_only": True},
    }
    status, _, body = request(worker.internal_port, "GET", "/internal/status?topics=0")
    assert "topic_rules" not in json.loads(body)


def test_a_topic_with_history_pushes_every_message_even_under_a_coalescing_rule(make_worker):
    worker = make_worker(RULES + 'history:\n  - {topics: "contest_session.kept", size: 10, ttl: 5m}\n')
    assert "coalesce does not apply to topics that also match a history rule" in worker.read_log()
    register(worker.internal_port, "contest_session.kept")

    async def scenario():
        ws = await open_ws(worker, "contest_session.kept")
        await ws.send(auth_message(token_for("contest_session.kept")))
        assert json.loads(await recv(ws))["type"] == "auth_ok"
        batch(worker, "contest_session.kept", [1, 2, 3])
        got = [json.loads(await recv(ws)) for _ in range(3)]
        assert [message["payload"] for message in got] == [1, 2, 3] and all("offset" in message for message in got)
        await ws.close()

    asyncio.run(scenario())


def drain_frames(stuck):
    """Every text frame the stuck client can read now, and the close code if one came."""
    seen = []
    while True:
        opcode, data = stuck.read_frame()
        if opcode == 0x8:
            return seen, struct.unpack("!H", data[:2])[0]
        assert opcode == 0x1
        seen.append(data.decode())
        if seen[-1].endswith('"last"}'):
            return seen, None


def test_a_slow_reader_of_a_latest_value_topic_is_kept_with_the_newest_payload(make_worker):
    """Both readers stop reading; the radio reader ends with the last payload and stays open,
    the plain one is closed 1013."""
    worker = make_worker(RULES + "send_queue_frames: 50\n")
    register(worker.internal_port, "radio.1")
    register(worker.internal_port, "firehose")
    count = kernel_send_buffer_max() // 1024 + 1000  # more than the kernel's buffers and the queue hold
    payloads = ['"' + f"{index:06d}" + "x" * 1018 + '"' for index in range(count)] + ['"last"']

    radio = RawWebSocket(worker, "radio.1", receive_buffer=4096)
    radio.send_text(auth_message(token_for("radio.1", user_id=1)))
    assert radio.read_frame() == (0x1, AUTH_OK.encode())
    plain = RawWebSocket(worker, "firehose", receive_buffer=4096)
    plain.send_text(auth_message(token_for("firehose", user_id=2)))
    assert plain.read_frame() == (0x1, AUTH_OK.encode())

    publisher = Publisher(worker)
    for start in range(0, len(payloads), 100):
        publisher.publish_all("radio.1", payloads[start:start + 100])
        publisher.publish_all("firehose", payloads[start:start + 100])
    publisher.close()
    assert wait_for_log(worker, r'msg="client too slow" .*topic=firehose')

    seen, close = drain_frames(radio)
    assert close is None and seen[-1] == push('"last"')
    indexes = [int(json.loads(message)["payload"][:6]) for message in seen[:-1]]
    assert indexes == sorted(indexes) and len(indexes) < count  # in order, the replaced ones skipped
    publish(worker, "radio.1", '"after"')
    assert radio.read_frame() == (0x1, push('"after"').encode())  # still subscribed
    radio.close()

    # The plain reader was closed 1013 (the log said so above); its close frame may never have
    # got through its full buffers before the server cut it off, as for any slow consumer.
    try:
        _, close = drain_frames(plain)
    except (EOFError, ConnectionResetError):
        close = None
    assert close in (1013, None)
    plain.close()
    counted = metrics(worker)
    assert counted[("wavelog_pushes_replaced_total", ())] > 0
    assert counted[("wavelog_slow_consumer_closes_total", ())] == 1
