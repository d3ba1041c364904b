"""Webhooks over three nodes on a real redis-server, to a loopback receiver that checks every
signature: each event once per cluster, the vacate and leave delay, retries, a hanging or dead
endpoint that holds up nothing else, and a sender killed while a delay runs."""
import asyncio
import json
import signal

import pytest

from helpers import metrics, PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET, Socket, auth_for, sdk, status, wait_for, TIMEOUT
from test_pusher_cluster import wait_for_peers
from webhook_receiver import Receiver

# Ends of the vacate delay (3 s, checked on the next one-second tick) and of the time a
# dead sender takes to be noticed (8 s) with a tick: bounds awaited, never measured.
DELAY_BOUND = 3 + 1 + 2
DEAD_SENDER_BOUND = 3 + 8 + 2 + 2


def apps(*endpoints, extra=""):
    hooks = "".join(f'      - url: "{url}"\n' + (f"        event_types: [{', '.join(types)}]\n" if types else "")
                    for url, types in endpoints)
    return f"""pusher_apps:
  - id: "{PUSHER_APP_ID}"
    key: {PUSHER_KEY}
    secret: {PUSHER_SECRET}
    enable_client_events: true
    enable_subscription_count: true
    webhooks:
{hooks}""" + extra


NO_COUNTS = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"]


@pytest.fixture
def receiver():
    server = Receiver(PUSHER_SECRET)
    yield server
    server.close()


def sender_of(node):
    return status(node, topics=False)["pusher_webhooks"]["sender"]


def own_id(node):
    return status(node, topics=False)["pusher_webhooks"]["node"]


def start(cluster, config, count=3):
    """Nodes started one after the other, the first the most senior: it sends."""
    nodes = []
    for _ in range(count):
        nodes.append(cluster.make_worker(extra_config=cluster.config + config))
        cluster.nodes.append(nodes[-1])
        cluster.wait_until_subscribed(len(nodes))
    wait_for_peers(nodes)
    first = own_id(nodes[0])
    assert wait_for(lambda: all(sender_of(node) == first for node in nodes)), [sender_of(node) for node in nodes]
    return nodes


async def join(node, user, channel="presence-room"):
    socket = await Socket.open(node)
    auth, data = auth_for(sdk(node), socket, channel, {"user_id": user})
    answer = json.loads(await socket.subscribe(channel, auth, data))
    assert answer["event"] == "pusher_internal:subscription_succeeded", answer
    return socket


async def subscribed(node, channel):
    socket = await Socket.open(node)
    answer = json.loads(await socket.subscribe(channel))
    assert answer["event"] == "pusher_internal:subscription_succeeded", answer
    return socket


async def next_event(socket):
    """The next event's name, past the subscription counts this app's sockets are told."""
    while True:
        event = json.loads(await socket.next())["event"]
        if event != "pusher_internal:subscription_count":
            return event


def test_each_event_once_per_cluster_in_pushers_format(cluster, receiver):
    a, b, c = start(cluster, apps((receiver.url, NO_COUNTS)))

    async def scenario():
        # One user with sockets on two nodes: one occupied, one member_added.
        first = await join(b, "ann")
        second = await join(c, "ann")
        events = await asyncio.to_thread(receiver.events, 2)
        assert events == [{"name": "channel_occupied", "channel": "presence-room"},
                          {"name": "member_added", "channel": "presence-room", "user_id": "ann"}]
        # A client event, told by the node that took it, with the user on a presence channel.
        await second.send("client-typing", {"line": 3}, channel="presence-room")
        [event] = await asyncio.to_thread(receiver.events, 1)
        assert event == {"name": "client_event", "channel": "presence-room", "event": "client-typing",
                         "data": '{"line": 3}', "socket_id": second.socket_id, "user_id": "ann"}
        # An empty cache channel: one cache_miss for a burst of subscriptions on a node.
        watchers = [await subscribed(c, "cache-scores"), await subscribed(c, "cache-scores")]
        events = await asyncio.to_thread(receiver.events, 2)
        assert sorted(events, key=lambda e: e["name"]) == [{"name": "cache_miss", "channel": "cache-scores"},
                                                           {"name": "channel_occupied", "channel": "cache-scores"}]
        # Her first socket goes: she is still there. Her last: removed, then vacated, once each.
        await first.close()
        await second.close()
        events = await asyncio.to_thread(receiver.events_until, lambda e: e["name"] == "channel_vacated", DELAY_BOUND)
        assert events == [{"name": "member_removed", "channel": "presence-room", "user_id": "ann"},
                          {"name": "channel_vacated", "channel": "presence-room"}]
        for watcher in watchers:
            await watcher.close()
        events = await asyncio.to_thread(receiver.events_until, lambda e: e["name"] == "channel_vacated", DELAY_BOUND)
        assert events == [{"name": "channel_vacated", "channel": "cache-scores"}]
        await asyncio.to_thread(receiver.nothing_more, 1.5)

    asyncio.run(scenario())
    # The cluster's events from the sender A; the client event and the cache miss from C, whose
    # sockets made them; nothing from B, whose socket's events are all the cluster's.
    sent = [metrics(node).get(("wavelog_webhooks_sent_total", (("app", PUSHER_APP_ID),)), 0) for node in (a, b, c)]
    assert sent[0] >= 2 and sent[1] == 0 and sent[2] >= 1, sent


def test_a_return_within_the_delay_sends_nothing(cluster, receiver):
    a, b, _ = start(cluster, apps((receiver.url, NO_COUNTS)))

    async def scenario():
        socket = await join(a, "bob")
        assert [e["name"] for e in await asyncio.to_thread(receiver.events, 2)] == ["channel_occupied", "member_added"]
        # A page reload that lands on another node: gone, back within the delay.
        await socket.close()
        again = await join(b, "bob")
        # The delay ends with nothing to tell: the next event is the marker below, nothing before it.
        assert wait_for(lambda: status(a, topics=False)["pusher_webhooks"]["pending"] == 0, DELAY_BOUND)
        marker = await subscribed(a, "marker")
        assert await asyncio.to_thread(receiver.events, 1) == [{"name": "channel_occupied", "channel": "marker"}]
        await again.close()
        events = await asyncio.to_thread(receiver.events_until, lambda e: e["name"] == "channel_vacated", DELAY_BOUND)
        assert events == [{"name": "member_removed", "channel": "presence-room", "user_id": "bob"},
                          {"name": "channel_vacated", "channel": "presence-room"}]
        await marker.close()

    asyncio.run(scenario())


def test_each_endpoint_gets_its_event_types_in_a_body_signed_for_it(cluster, receiver):
    counts = Receiver(PUSHER_SECRET)
    try:
        a, b, _ = start(cluster, apps((receiver.url, ["channel_occupied"]), (counts.url, ["subscription_count"])))

        async def scenario():
            first = await subscribed(a, "news")
            assert await asyncio.to_thread(receiver.events, 1) == [{"name": "channel_occupied", "channel": "news"}]
            assert await asyncio.to_thread(counts.events, 1) == [{"name": "subscription_count", "channel": "news", "subscription_count": 1}]
            second = await subscribed(b, "news")
            # The count from B reaches the sender on B's next tick.
            assert await asyncio.to_thread(counts.events, 1) == [{"name": "subscription_count", "channel": "news", "subscription_count": 2}]
            # Never for presence channels.
            member = await join(b, "u")
            assert await asyncio.to_thread(receiver.events, 1) == [{"name": "channel_occupied", "channel": "presence-room"}]
            await asyncio.to_thread(counts.nothing_more, 1.5)
            for socket in (first, second, member):
                await socket.close()

        asyncio.run(scenario())
    finally:
        counts.close()


def test_an_endpoint_that_fails_once_gets_the_same_events_again(cluster, receiver):
    receiver.answers = [500]
    a, _ = start(cluster, apps((receiver.url, NO_COUNTS)), count=2)

    async def scenario():
        socket = await subscribed(a, "retry-me")
        headers, failed, status_code = await asyncio.to_thread(receiver.next)
        assert status_code == 500
        headers2, retried, status_code = await asyncio.to_thread(receiver.next)
        assert status_code == 200
        # The same request again: same time_ms, same events, same signature.
        assert retried == failed == {"time_ms": failed["time_ms"], "events": [{"name": "channel_occupied", "channel": "retry-me"}]}
        assert headers2["X-Pusher-Signature"] == headers["X-Pusher-Signature"]
        assert headers["X-Pusher-Key"] == PUSHER_KEY
        samples = metrics(a)
        assert samples[("wavelog_webhooks_retried_total", (("app", PUSHER_APP_ID), ("reason", "status_5xx")))] == 1
        assert samples[("wavelog_webhooks_sent_total", (("app", PUSHER_APP_ID),))] == 1
        await socket.close()

    asyncio.run(scenario())


def test_a_hanging_endpoint_holds_up_no_push_subscribe_or_publish(cluster, receiver):
    import threading
    receiver.hang = threading.Event()
    a, b = start(cluster, apps((receiver.url, NO_COUNTS)), count=2)

    async def scenario():
        first = await subscribed(a, "live")
        await asyncio.to_thread(receiver.hanging.wait, TIMEOUT)
        # While the sender's request hangs: subscribes, publishes and pushes on both nodes.
        others = [await subscribed(node, "live") for node in (a, b)]
        await asyncio.to_thread(sdk(a).trigger, "live", "tick", {"n": 1})
        for socket in [first] + others:
            assert await next_event(socket) == "tick"
        # All of it while the sender's only request was still unanswered.
        samples = metrics(a)
        assert samples.get(("wavelog_webhooks_sent_total", (("app", PUSHER_APP_ID),)), 0) == 0
        assert samples[("wavelog_webhook_queue_events", (("app", PUSHER_APP_ID),))] >= 1
        receiver.hang.set()
        for socket in [first] + others:
            await socket.close()

    asyncio.run(scenario())


def test_a_dead_endpoint_keeps_a_bounded_queue_and_counts_what_it_drops(cluster):
    from helpers import free_port
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    extra = "webhook_batch_size: 1\nwebhook_queue_batches: 3\n"
    a, = start(cluster, apps((dead, NO_COUNTS)) + extra, count=1)

    async def scenario():
        sockets = [await subscribed(a, f"c{index}") for index in range(10)]
        # One in retry, three waiting: six dropped.
        assert wait_for(lambda: metrics(a).get(("wavelog_webhooks_dropped_total", (("app", PUSHER_APP_ID),))) == 6), metrics(a)
        samples = metrics(a)
        assert samples[("wavelog_webhook_queue_events", (("app", PUSHER_APP_ID),))] == 4
        assert samples[("wavelog_webhook_events_lost_total", (("app", PUSHER_APP_ID),))] == 6
        assert samples[("wavelog_webhooks_retried_total", (("app", PUSHER_APP_ID), ("reason", "connection")))] >= 1
        for socket in sockets:
            await socket.close()

    asyncio.run(scenario())
    # One line when the endpoint began to fail, none per attempt.
    assert a.read_log().count("webhook endpoint failing") == 1


def test_a_sender_killed_while_a_vacate_delay_runs_is_replaced(cluster, receiver):
    a, b, c = start(cluster, apps((receiver.url, NO_COUNTS)))

    async def scenario():
        socket = await subscribed(c, "radio")
        assert await asyncio.to_thread(receiver.events, 1) == [{"name": "channel_occupied", "channel": "radio"}]
        # The others drop their copies once the sender acknowledges it (else they would send it
        # again if it died now: the documented window).
        assert wait_for(lambda: all(status(node, topics=False)["pusher_webhooks"]["held"] == 0 for node in (b, c)))
        await socket.close()
        # The delay runs on every node; the sender dies during it.
        assert wait_for(lambda: status(a, topics=False)["pusher_webhooks"]["pending"] == 1)
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(timeout=TIMEOUT)
        events = await asyncio.to_thread(receiver.events, 1, DEAD_SENDER_BOUND)
        assert events == [{"name": "channel_vacated", "channel": "radio"}]
        assert wait_for(lambda: sender_of(b) == sender_of(c) == own_id(b))
        await asyncio.to_thread(receiver.nothing_more, 1.5)

    asyncio.run(scenario())


@pytest.fixture
def php_receiver(tmp_path):
    """PHP's built-in server running a receiver that verifies with hash_hmac; stopped by its PID."""
    import os
    import shutil
    import subprocess
    from conftest import SECRET
    from helpers import free_port
    php = shutil.which("php")
    if php is None:
        pytest.skip("php-cli is not installed (make test-deps installs it)")
    script = os.path.join(os.path.dirname(__file__), "php", "topic_webhook_receiver.php")
    log = tmp_path / "events.jsonl"
    log.write_text("")
    port = free_port()
    process = subprocess.Popen([php, "-S", f"127.0.0.1:{port}", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "WORKER_SECRET": SECRET, "WEBHOOK_LOG": str(log)})
    url = f"http://127.0.0.1:{port}/webhook"
    try:
        assert wait_for(lambda: _accepts(port)), "php -S did not start"
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def _accepts(port):
    import socket as sockets
    try:
        sockets.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def php_events(log):
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_wavelog_topic_webhooks_verified_by_php_once_per_cluster(cluster, php_receiver):
    import urllib.request
    from conftest import register
    from helpers import subscribe
    url, log = php_receiver
    config = f'topic_webhooks:\n  - url: "{url}"\nwebhook_delay: 1s\n'
    nodes = []
    for _ in range(2):
        nodes.append(cluster.make_worker(extra_config=cluster.config + config))
        cluster.nodes.append(nodes[-1])
        cluster.wait_until_subscribed(len(nodes))
    a, b = nodes
    register(a.internal_port, "radio.7", require_token=False)

    # The receiver refuses what is not signed with the worker secret.
    forged = urllib.request.Request(url, data=b'{"time_ms":1,"events":[]}', headers={"X-Worker-Signature": "00" * 32})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=TIMEOUT)
    assert refused.value.code == 401

    async def scenario():
        # Three browsers on two nodes: the topic is occupied once.
        sockets = [await subscribe(node, "radio.7") for node in (a, b, b)]
        assert wait_for(lambda: php_events(log) == [{"name": "topic_occupied", "topic": "radio.7"}]), php_events(log)
        # All leave: vacated once, after the delay.
        for ws in sockets:
            await ws.close()
        assert wait_for(lambda: len(php_events(log)) == 2), php_events(log)
        assert php_events(log) == [{"name": "topic_occupied", "topic": "radio.7"}, {"name": "topic_vacated", "topic": "radio.7"}]

    asyncio.run(scenario())
    samples = [metrics(node).get(("wavelog_webhooks_sent_total", (("app", "topics"),)), 0) for node in (a, b)]
    assert sum(samples) == 2 and 0 in samples  # one node sent both


def test_an_https_endpoint_is_verified_against_the_ca_file(tmp_path, make_worker):
    """One node without Redis (it sends everything itself): a certificate its CA file vouches
    for is accepted; the same endpoint without the file fails verification and is retried."""
    import subprocess
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=webhook-test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=TIMEOUT)
    secure = Receiver(PUSHER_SECRET, tls=(str(cert), str(key)))
    try:
        trusted = make_worker(extra_config=apps((secure.url, NO_COUNTS)) + f'webhook_ca_file: "{cert}"\n')
        untrusted = make_worker(extra_config=apps((secure.url, NO_COUNTS)))

        async def scenario():
            socket = await subscribed(trusted, "secure")
            assert await asyncio.to_thread(secure.events, 1) == [{"name": "channel_occupied", "channel": "secure"}]
            other = await subscribed(untrusted, "refused")
            assert wait_for(lambda: metrics(untrusted).get(
                ("wavelog_webhooks_retried_total", (("app", PUSHER_APP_ID), ("reason", "tls"))), 0) >= 1), metrics(untrusted)
            await socket.close()
            await other.close()

        asyncio.run(scenario())
        assert "webhook endpoint failing" in untrusted.read_log() and "reason=tls" in untrusted.read_log()
    finally:
        secure.close()


def test_a_node_alone_tells_its_running_delays_when_it_stops(make_worker, receiver):
    node = make_worker(extra_config=apps((receiver.url, NO_COUNTS)))

    async def scenario():
        await join(node, "ann")
        assert [e["name"] for e in await asyncio.to_thread(receiver.events, 2)] == ["channel_occupied", "member_added"]

    asyncio.run(scenario())
    # SIGTERM closes the socket; nobody else will send what its delay would have.
    node.stop()
    assert receiver.events(2) == [{"name": "member_removed", "channel": "presence-room", "user_id": "ann"},
                                  {"name": "channel_vacated", "channel": "presence-room"}]
