"""A lossy, slow, partitioned or vanishing network between a node and Redis, and between a node
and its browsers (docs/protocol.md "Redis cluster").

Redis or the WebSocket clients sit in a network namespace of the test's own, joined by a veth
pair; nftables inside it drops packets; a TCP proxy of the tests' own delays and stalls a link
(netfaults.py). Every test prints its figures (delivery ratio, latency, time to resume) and
asserts what must hold whatever the timing: each publish is delivered once or counted in
`cluster_unsent`, never both and never twice. The namespace tests need root; elsewhere they are
reported as skipped with the reason."""
import asyncio
import json
import os
import re
import subprocess
import time
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect as ws_connect

import netfaults
from conftest import register, request
from helpers import AUTH_OK, GRACE, POLL, Publisher, RedisServer, TIMEOUT, recv, redis_ping, status, token_for, wait_for

WHY_NOT = netfaults.unavailable()
needs_namespaces = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
RATE = 0.05  # seconds between two publishes


class NamespacedRedis(RedisServer):
    """A redis-server inside `namespace`, reached at its inner address."""

    def __init__(self, namespace, port=6379):
        self.namespace = namespace
        self.host = namespace.inner_address
        super().__init__(port)

    def _start(self, timeout=10):
        self.log_path = os.path.join(self.dir, f"redis-{self.port}.log")
        self.process = self.namespace.popen(
            ["redis-server", "--port", str(self.port), "--bind", self.host, "--protected-mode", "no", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", self.log_path, "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if redis_ping(self.port, host=self.host):
                return True
            time.sleep(POLL)  # redis-server says nothing when it is ready: poll PING
        self.stop()  # a server that never answered is not left running
        return False

    @property
    def url(self):
        return f"redis://{self.host}:{self.port}/0"


@pytest.fixture
def namespace():
    made = netfaults.Namespace()
    yield made
    made.delete()


def node_config(url, prefix, extra=""):
    return f'redis_url: "{url}"\nredis_timeout: 1500ms\nredis_prefix: "{prefix}"\n{extra}'


def stamped(seq):
    return f'{{"seq":{seq},"at":{time.time():.6f}}}'


class Receiver:
    """One subscribed WebSocket: records (seq, latency in seconds) of each push, and when each
    received one was published (wall clock, as stamped)."""

    def __init__(self, ws):
        self.ws = ws
        self.got = []
        self.published_at = {}

    async def collect(self, until):
        """Receives until `until()` holds and nothing more came for a grace period."""
        while True:
            try:
                message = await asyncio.wait_for(self.ws.recv(), GRACE)
            except asyncio.TimeoutError:
                if until():
                    return
                continue
            envelope = json.loads(message)
            payload = envelope["payload"]
            self.got.append((payload["seq"], time.time() - payload["at"]))
            self.published_at[payload["seq"]] = payload["at"]

    @property
    def seqs(self):
        return [seq for seq, _ in self.got]


async def subscribe(port, topic, sock=None, host="127.0.0.1"):
    ws = await ws_connect(f"ws://{host}:{port}/ws?topic={quote(topic, safe='')}", sock=sock, ping_interval=None,
                          compression=None, open_timeout=TIMEOUT, close_timeout=TIMEOUT)
    await ws.send(json.dumps({"type": "auth", "token": token_for(topic)}))
    assert await recv(ws) == AUTH_OK
    return Receiver(ws)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def latency_figures(receiver):
    latencies = [latency for _, latency in receiver.got]
    return f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms"


def publish_stream(node, topic, count, during=None):
    """Publishes `count` stamped payloads at RATE on one keep-alive connection; `during(index)`
    runs after each. Returns the seqs published."""
    publisher = Publisher(node)
    try:
        for seq in range(count):
            publisher.publish(topic, stamped(seq))
            if during:
                during(seq)
            time.sleep(RATE)  # the publish rate is the load under test, not a synchronisation
    finally:
        publisher.close()
    return list(range(count))


def cross_node(a, b, topic, count, during=None):
    """A stream published on node A and received by one subscriber of node B; returns the receiver."""
    async def scenario():
        receiver = await subscribe(b.ws_port, topic)
        streaming = asyncio.create_task(asyncio.to_thread(publish_stream, a, topic, count, during))
        started = time.monotonic()
        await receiver.collect(lambda: streaming.done() and (
            (receiver.seqs and receiver.seqs[-1] == count - 1) or time.monotonic() - started > count * RATE + TIMEOUT))
        await streaming
        await receiver.ws.close()
        return receiver

    return asyncio.run(scenario())


def assert_each_publish_delivered_once_or_counted(receiver, published, unsent):
    seqs = receiver.seqs
    assert len(seqs) == len(set(seqs)), "a publish reached the other node twice"
    assert len(seqs) + unsent == published, f"{len(seqs)} delivered + {unsent} unsent != {published} published"


class Outage:
    """A fault made after the 20th publish and healed 5 s later, with when node A's readiness
    first answered 503 meanwhile; called after each publish of the stream."""

    def __init__(self, node, cut, heal, seconds=5):
        self.node, self.cut, self.heal, self.seconds = node, cut, heal, seconds
        self.timeline = {}

    def __call__(self, seq):
        timeline = self.timeline
        if seq == 20:
            self.cut()
            timeline["cut"] = time.monotonic()
        elif "cut" in timeline and "healed" not in timeline:
            if time.monotonic() - timeline["cut"] >= self.seconds:
                self.heal()
                timeline["healed"] = time.time()
                timeline["healed_at_seq"] = seq
            elif "refused" not in timeline and request(self.node.internal_port, "GET", "/internal/ready")[0] == 503:
                timeline["refused"] = time.monotonic() - timeline["cut"]


def two_nodes(make_worker, url, prefix, redis, extra=""):
    nodes = [make_worker(node_config(url, prefix, extra)) for _ in range(2)]
    assert wait_for(lambda: redis.numsub(prefix + "events") == 2)
    for node in nodes:
        assert wait_for(lambda: request(node.internal_port, "GET", "/internal/ready")[0] == 200)
    return nodes


# --- between a node and Redis --------------------------------------------------------------------

@needs_namespaces
def test_ten_percent_packet_loss_to_redis_delays_publishes_and_loses_none_unaccounted(namespace, make_worker):
    redis = NamespacedRedis(namespace)
    try:
        prefix = "loss:"
        a, b = two_nodes(make_worker, redis.url, prefix, redis)
        register(a.internal_port, "loss.1")
        namespace.drop_one_packet_in(10)
        before = status(a, topics=False)["cluster_unsent"]
        count = 200
        receiver = cross_node(a, b, "loss.1", count)
        namespace.heal()
        unsent = status(a, topics=False)["cluster_unsent"] - before
        print(f"10% loss between the nodes and Redis: {len(receiver.seqs)}/{count} delivered, {unsent} counted unsent, "
              f"latency {latency_figures(receiver)}")
        assert_each_publish_delivered_once_or_counted(receiver, count, unsent)
    finally:
        redis.stop()


@needs_namespaces
def test_a_partition_from_redis_that_acknowledges_nothing_is_given_up_and_remade(namespace, make_worker):
    """Every packet dropped: no reset, no acknowledgement. The publishing link is reported down,
    judged dead once its data stays unacknowledged, and made again when the partition heals."""
    redis = NamespacedRedis(namespace)
    try:
        prefix = "part:"
        a, b = two_nodes(make_worker, redis.url, prefix, redis)
        register(a.internal_port, "part.1")
        before = status(a, topics=False)["cluster_unsent"]
        count = 200
        outage = Outage(a, namespace.drop_everything, namespace.heal)
        timeline = outage.timeline
        receiver = cross_node(a, b, "part.1", count, during=outage)
        unsent = status(a, topics=False)["cluster_unsent"] - before
        dead = [line for line in a.read_log().splitlines() if "redis link dead" in line]
        resumed = next((seq for seq in receiver.seqs if seq > timeline["healed_at_seq"]), None)
        resumed_after = receiver.published_at[resumed] - timeline["healed"] if resumed is not None else float("nan")
        print(f"partition of 5 s from Redis: readiness 503 after {timeline.get('refused', float('nan')):.2f}s; "
              f"{len(receiver.seqs)}/{count} delivered, {unsent} counted unsent; cross-node delivery resumed with "
              f"the publish made {resumed_after:.2f}s after the heal")
        assert "refused" in timeline, "readiness stayed 200 through the partition"
        assert dead, "the dead link was not given up"
        assert_each_publish_delivered_once_or_counted(receiver, count, unsent)
        assert set(range(count - 20, count)) <= set(receiver.seqs), "delivery did not resume after the heal"
    finally:
        redis.stop()


def test_a_200ms_delay_to_redis_slows_cross_node_delivery_and_keeps_the_node_ready(redis_server, make_worker):
    proxy = netfaults.FaultyProxy(redis_server.port, delay=0.2)
    try:
        prefix = "delay:"
        a = make_worker(node_config(f"redis://127.0.0.1:{proxy.port}/0", prefix))
        b = make_worker(node_config(f"redis://127.0.0.1:{redis_server.port}/0", prefix))
        assert wait_for(lambda: redis_server.numsub(prefix + "events") == 2)
        assert wait_for(lambda: request(a.internal_port, "GET", "/internal/ready")[0] == 200)
        register(a.internal_port, "delay.1")
        before = status(a, topics=False)["cluster_unsent"]
        answers = []
        count = 100
        receiver = cross_node(a, b, "delay.1", count,
                              during=lambda _: answers.append(request(a.internal_port, "GET", "/internal/ready")[0]))
        unsent = status(a, topics=False)["cluster_unsent"] - before
        print(f"200 ms each way between node A and Redis: {len(receiver.seqs)}/{count} delivered to B, latency "
              f"{latency_figures(receiver)}")
        assert unsent == 0 and receiver.seqs == list(range(count))
        assert set(answers) == {200}, "a slow link was reported down"
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


def test_a_stalled_link_to_redis_healed_after_5s_resumes_and_loses_none_unaccounted(redis_server, make_worker):
    """A partition whose peer kernel still acknowledges (the proxy stops reading): both nodes'
    links stall, the nodes report it, and every publish made meanwhile arrives once or is counted."""
    proxy = netfaults.FaultyProxy(redis_server.port)
    try:
        prefix = "stall:"
        a, b = two_nodes(make_worker, f"redis://127.0.0.1:{proxy.port}/0", prefix, redis_server)
        register(a.internal_port, "stall.1")
        before = status(a, topics=False)["cluster_unsent"]
        count = 200
        outage = Outage(a, proxy.stall, proxy.resume)
        timeline = outage.timeline
        receiver = cross_node(a, b, "stall.1", count, during=outage)
        unsent = status(a, topics=False)["cluster_unsent"] - before
        after_heal = [(seq, latency) for seq, latency in receiver.got if seq > timeline["healed_at_seq"]]
        resumed_in = after_heal[0][1] if after_heal else float("nan")
        print(f"stall of 5 s: readiness 503 after {timeline.get('refused', float('nan')):.2f}s; "
              f"{len(receiver.seqs)}/{count} delivered, {unsent} counted unsent; the first publish after the heal "
              f"arrived in {resumed_in * 1000:.0f} ms")
        assert "refused" in timeline, "readiness stayed 200 through the stall"
        assert_each_publish_delivered_once_or_counted(receiver, count, unsent)
        assert set(range(timeline["healed_at_seq"] + 1, count)) <= set(receiver.seqs)
    finally:
        proxy.close()


# --- between a node and its browsers -------------------------------------------------------------

def browser_node(make_worker, extra=""):
    # Reached from the namespace at the test side's veth address.
    return make_worker(extra, env={"WAVELOG_WS_BIND": "0.0.0.0"})


async def subscribers_in(namespace, node, topic, count):
    receivers = []
    for _ in range(count):
        sock = await asyncio.to_thread(namespace.connect, namespace.outer_address, node.ws_port)
        receivers.append(await subscribe(node.ws_port, topic, sock=sock, host=namespace.outer_address))
    return receivers


@needs_namespaces
def test_ten_percent_packet_loss_to_browsers_delivers_everything_in_order(namespace, make_worker):
    node = browser_node(make_worker)
    topic = "lossy.browsers"
    register(node.internal_port, topic)
    count, clients = 100, 10

    async def scenario():
        receivers = await subscribers_in(namespace, node, topic, clients)
        namespace.drop_one_packet_in(10)
        streaming = asyncio.create_task(asyncio.to_thread(publish_stream, node, topic, count))
        started = time.monotonic()
        await asyncio.gather(*(receiver.collect(lambda r=receiver: streaming.done() and (
            len(r.seqs) == count or time.monotonic() - started > count * RATE + TIMEOUT)) for receiver in receivers))
        await streaming
        namespace.heal()
        # A segment lost near the end has no later data to reveal the loss, so it waits for
        # TCP's retransmission timer, which doubles with every retransmission also lost; once
        # the link is healed the next one gets through.
        late = count * clients - sum(len(r.seqs) for r in receivers)
        healed = time.monotonic()
        await asyncio.gather(*(receiver.collect(lambda r=receiver: len(r.seqs) == count or time.monotonic() - healed > 3 * TIMEOUT)
                               for receiver in receivers if len(receiver.seqs) < count))
        for receiver in receivers:
            await receiver.ws.close()
        return receivers, late

    receivers, late = asyncio.run(scenario())
    everything = [latency for receiver in receivers for _, latency in receiver.got]
    print(f"10% loss between the node and {clients} browsers: "
          f"{sum(len(r.seqs) for r in receivers)}/{count * clients} delivered ({late} of them after the link healed), latency p50 "
          f"{percentile(everything, 0.5) * 1000:.1f} ms, p99 {percentile(everything, 0.99) * 1000:.1f} ms")
    for receiver in receivers:
        assert receiver.seqs == list(range(count))


def metric(node, name, labels=""):
    body = request(node.internal_port, "GET", "/metrics", secret=None)[2].decode()
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@needs_namespaces
def test_half_open_browsers_are_closed_by_the_ping_deadline_and_counted(namespace, make_worker):
    """The clients' link goes down: no FIN, no reset, nothing more from them."""
    node = browser_node(make_worker, "ping_interval: 1s\nidle_timeout: 3s\n")
    topic = "half.open"
    register(node.internal_port, topic)
    clients = 5
    connections = lambda: metric(node, "wavelog_connections", '{transport="websocket"}')

    async def scenario():
        receivers = await subscribers_in(namespace, node, topic, clients)
        assert wait_for(lambda: connections() == clients)
        closed_before = metric(node, "wavelog_closes_total", '{code="1001"}')
        namespace.link_down()
        cut = time.monotonic()
        assert await asyncio.to_thread(wait_for, lambda: connections() == 0, 20), "half-open sockets were kept"
        took = time.monotonic() - cut
        for receiver in receivers:
            receiver.ws.transport.abort()
        return closed_before, took

    closed_before, took = asyncio.run(scenario())
    print(f"{clients} half-open browsers closed {took:.1f}s after their link went down (idle_timeout 3s, ping 1s)")
    assert metric(node, "wavelog_closes_total", '{code="1001"}') - closed_before == clients
