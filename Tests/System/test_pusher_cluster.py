"""The Pusher protocol as one system over three nodes on a real redis-server: presence rosters,
member events, channel queries, termination and user events hold across nodes, and survive a
node killed, a node stopped and Redis restarted. Raw sockets for exact frames; the official
`pusher` SDK for the HTTP API."""
import asyncio
import json
import signal
import socket as sockets

import pytest

from helpers import (metrics, recv, PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET, PUSHER_OTHER_ID, PUSHER_OTHER_KEY, PUSHER_OTHER_SECRET, signed_request, Socket, auth_for, closed_with, nothing_more, publish, sdk, status, wait_for,
                     TIMEOUT)
from conftest import register

CHANNEL = "presence-contest"
APPS = f"""pusher_apps:
  - id: "{PUSHER_APP_ID}"
    key: {PUSHER_KEY}
    secret: {PUSHER_SECRET}
    enable_client_events: true
  - id: "{PUSHER_OTHER_ID}"
    key: {PUSHER_OTHER_KEY}
    secret: {PUSHER_OTHER_SECRET}
    enable_subscription_count: true
    enable_watchlist: true
"""
# The silence after which a node's members go (15 s) plus a heartbeat and a tick: the bound
# docs/pusher.md states, awaited as an upper limit, never measured.
DEAD_NODE_BOUND = 25


def start(cluster, count=3):
    nodes = [cluster.make_worker(extra_config=cluster.config + APPS) for _ in range(count)]
    cluster.nodes.extend(nodes)
    cluster.wait_until_subscribed(count)
    wait_for_peers(nodes)
    return nodes


def wait_for_peers(nodes):
    """Until every node holds a replica of every other (each has heard the others' snapshots)."""
    expected = len(nodes) - 1
    assert wait_for(lambda: all(len(status(node, topics=False)["pusher_peers"]) == expected for node in nodes)), \
        [status(node, topics=False)["pusher_peers"] for node in nodes]


def users(node, channel=CHANNEL):
    return [user["id"] for user in sdk(node).users_info(channel)["users"]]


def wait_for_users(nodes, expected, channel=CHANNEL):
    """Until every node lists exactly `expected` (the nodes tell each other in the background)."""
    assert wait_for(lambda: all(users(node, channel) == expected for node in nodes)), [users(node, channel) for node in nodes]


async def join(node, user, info=None, channel=CHANNEL):
    socket = await Socket.open(node)
    auth, data = auth_for(sdk(node), socket, channel, {"user_id": user, "user_info": info or {}})
    answer = json.loads(await socket.subscribe(channel, auth, data))
    assert answer["event"] == "pusher_internal:subscription_succeeded", answer
    return socket, json.loads(answer["data"])["presence"]


def added(user, info=None, channel=CHANNEL):
    # user_info is relayed as the SDK wrote it in channel_data (json.dumps' own spacing).
    data = '{"user_id":%s,"user_info":%s}' % (json.dumps(user), json.dumps(info or {}))
    return '{"event":"pusher_internal:member_added","channel":"%s","data":%s}' % (channel, json.dumps(data))


def removed(user, channel=CHANNEL):
    return '{"event":"pusher_internal:member_removed","channel":"%s","data":%s}' % (channel, json.dumps('{"user_id":%s}' % json.dumps(user)))


async def next_member_event(socket, timeout=TIMEOUT):
    return await recv(socket.ws, timeout=timeout)


def test_one_roster_across_nodes_and_a_users_second_socket_elsewhere_is_no_new_member(cluster):
    a, b, c = start(cluster)

    async def scenario():
        ann, roster = await join(a, "ann")
        assert roster == {"ids": ["ann"], "hash": {"ann": {}}, "count": 1}
        await asyncio.to_thread(wait_for_users, [a, b, c], ["ann"])
        bob, roster = await join(b, "bob", {"call": "HB9"})
        assert roster == {"ids": ["ann", "bob"], "hash": {"ann": {}, "bob": {"call": "HB9"}}, "count": 2}
        assert await next_member_event(ann) == added("bob", {"call": "HB9"})
        await asyncio.to_thread(wait_for_users, [a, b, c], ["ann", "bob"])
        # An operator sees the cluster's members on every node, and each node's own.
        app = PUSHER_APP_ID
        for node, own in ((a, 1), (b, 1), (c, 0)):
            samples = metrics(node)
            assert samples[("wavelog_pusher_presence_members", (("app", app), ("scope", "cluster")))] == 2
            assert samples[("wavelog_pusher_presence_members", (("app", app), ("scope", "node")))] == own
            assert samples[("wavelog_pusher_peers", ())] == 2
            figures = status(node, topics=False)["pusher_apps"][app]
            assert (figures["members"], figures["local_members"], figures["channels"]) == (2, own, 1), figures
        # Ann's second socket, on C: the whole roster, and nobody hears of her again.
        ann2, roster = await join(c, "ann")
        assert roster["ids"] == ["ann", "bob"] and roster["count"] == 2
        await nothing_more(ann.ws)
        await nothing_more(bob.ws)
        # Her first socket goes: she is still a member through C.
        await ann.close()
        await nothing_more(bob.ws)
        assert users(b) == ["ann", "bob"]
        # Her last socket goes: Bob hears it once.
        await ann2.close()
        assert await next_member_event(bob) == removed("ann")
        await nothing_more(bob.ws)
        await asyncio.to_thread(wait_for_users, [a, b, c], ["bob"])
        await bob.close()

    asyncio.run(scenario())


def test_concurrent_joins_of_one_user_on_two_nodes_are_one_member_added(cluster):
    a, b, c = start(cluster)

    async def scenario():
        # One at a time, each known everywhere before the next: w0 then hears of w1 and w2, w1 of w2.
        watchers = []
        for index, node in enumerate((a, b, c)):
            watchers.append((await join(node, f"w{index}"))[0])
            await asyncio.to_thread(wait_for_users, [a, b, c], [f"w{n}" for n in range(index + 1)])
        for index, watcher in enumerate(watchers):
            for later in range(index + 1, 3):
                assert await next_member_event(watcher) == added(f"w{later}")
        first, second = await asyncio.gather(join(a, "zed"), join(b, "zed"))
        await asyncio.to_thread(wait_for_users, [a, b, c], ["w0", "w1", "w2", "zed"])
        for watcher in watchers:
            assert await next_member_event(watcher) == added("zed")
            await nothing_more(watcher.ws)
        await first[0].close()
        await second[0].close()
        for watcher in watchers:
            assert await next_member_event(watcher) == removed("zed")
            await nothing_more(watcher.ws)
        for watcher in watchers:
            await watcher.close()

    asyncio.run(scenario())


def test_channel_queries_answer_for_the_cluster_on_every_node(cluster):
    nodes = start(cluster)
    a, b, c = nodes

    async def scenario():
        held = [await join(a, "u1"), await join(b, "u2"), await join(c, "u1")]
        plain = []
        for node in nodes:
            socket = await Socket.open(node)
            assert json.loads(await socket.subscribe("news"))["event"] == "pusher_internal:subscription_succeeded"
            plain.append(socket)
        await asyncio.to_thread(wait_for_users, nodes, ["u1", "u2"])

        def answers():
            return [(sdk(node).channels_info(prefix_filter="presence-", attributes=["user_count"]),
                     sdk(node).channel_info(CHANNEL, ["user_count", "subscription_count"]),
                     sdk(node).channel_info("news", ["subscription_count"]),
                     sdk(node).channels_info()) for node in nodes]

        expected = ({"channels": {CHANNEL: {"user_count": 2}}},
                    {"occupied": True, "subscription_count": 3, "user_count": 2},
                    {"occupied": True, "subscription_count": 3},
                    {"channels": {CHANNEL: {}, "news": {}}})
        # Counts travel once a second: poll until every node answers the same.
        assert wait_for(lambda: all(answer == expected for answer in answers())), answers()
        # The `info` attributes of a publish count the cluster too.
        body = json.dumps({"name": "marker", "data": "m", "channel": CHANNEL, "info": "user_count,subscription_count"}).encode()
        answer = signed_request(b, "POST", f"/apps/{PUSHER_APP_ID}/events", body)
        assert answer == (200, {"channels": {CHANNEL: {"user_count": 2, "subscription_count": 3}}})
        for socket in plain:
            await socket.close()
        for socket, _ in held:
            await socket.close()
        assert wait_for(lambda: all(sdk(node).channels_info() == {"channels": {}} for node in nodes))

    asyncio.run(scenario())


def test_terminate_and_user_events_reach_the_users_sockets_on_every_node(cluster):
    a, b, c = start(cluster)

    async def signed_in(node, user):
        socket = await Socket.open(node)
        await socket.send("pusher:signin", sdk(node).authenticate_user(socket.socket_id, {"id": user}))
        assert json.loads(await socket.next())["event"] == "pusher:signin_success"
        assert json.loads(await socket.subscribe(f"#server-to-user-{user}"))["event"] == "pusher_internal:subscription_succeeded"
        return socket

    async def scenario():
        on_b, on_c, other = await signed_in(b, "42"), await signed_in(c, "42"), await signed_in(b, "7")
        await asyncio.to_thread(sdk(a).send_to_user, "42", "hello", {"to": "you"})
        for socket in (on_b, on_c):
            assert await socket.next() == '{"event":"hello","channel":"#server-to-user-42","data":"{\\"to\\": \\"you\\"}"}'
        assert await asyncio.to_thread(sdk(a).terminate_user_connections, "42") == {}
        for socket in (on_b, on_c):
            error, code = await closed_with(socket.ws)
            assert error == '{"event":"pusher:error","data":{"code":4009,"message":"Connection terminated by the server"}}'
            assert code == 4009
        await nothing_more(other.ws)
        await other.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("ending", [signal.SIGKILL, signal.SIGTERM])
def test_a_node_that_ends_takes_its_members_and_only_those(cluster, ending):
    a, b, c = start(cluster)

    async def scenario():
        watcher, _ = await join(a, "watcher")
        held = [await join(c, "gone"), await join(c, "both"), await join(b, "both")]
        await asyncio.to_thread(wait_for_users, [a, b, c], ["both", "gone", "watcher"])
        for _ in range(2):
            await next_member_event(watcher)
        c.process.send_signal(ending)
        c.process.wait(timeout=TIMEOUT)
        # SIGTERM closes C's sockets first; SIGKILL leaves A and B to notice C's silence.
        assert await next_member_event(watcher, timeout=DEAD_NODE_BOUND) == removed("gone")
        await nothing_more(watcher.ws)
        await asyncio.to_thread(wait_for_users, [a, b], ["both", "watcher"])
        assert wait_for(lambda: all(len(status(node, topics=False)["pusher_peers"]) == 1 for node in (a, b)))
        await watcher.close()
        await held[2][0].close()

    asyncio.run(scenario())


def test_a_redis_restart_leaves_no_member_doubled_or_lost(private_redis, make_worker):
    from helpers import Cluster
    cluster = Cluster(private_redis, make_worker)
    a, b, c = start(cluster)

    async def scenario():
        watcher, _ = await join(a, "watcher")
        others = [await join(b, "bob"), await join(c, "cat")]
        await asyncio.to_thread(wait_for_users, [a, b, c], ["bob", "cat", "watcher"])
        for _ in others:
            await next_member_event(watcher)
        private_redis.stop()
        assert wait_for(lambda: not status(a, topics=False)["cluster_connected"])
        private_redis.restart()
        cluster.wait_until_subscribed(3)
        wait_for_peers([a, b, c])
        await asyncio.to_thread(wait_for_users, [a, b, c], ["bob", "cat", "watcher"])
        await nothing_more(watcher.ws)
        # And the replicas still move: a leave after the restart is heard.
        await others[1][0].close()
        assert await next_member_event(watcher) == removed("cat")
        await watcher.close()

    asyncio.run(scenario())


def test_pusher_events_never_travel_on_the_channel_upstream_nodes_read(cluster):
    a, b, _ = start(cluster)
    listener = sockets.create_connection(("127.0.0.1", cluster.redis.port), timeout=TIMEOUT)
    listener.sendall(f"SUBSCRIBE {cluster.events}\r\n".encode())
    received = b""
    while b"subscribe" not in received or not received.endswith(b"\r\n:1\r\n"):
        received += listener.recv(4096)
    sdk(a).trigger("news", "pusher-event", "not for upstream")
    register(a.internal_port, "wavelog.topic")
    publish(a, "wavelog.topic", '{"marker":true}')
    received = b""
    while b"marker" not in received:
        received += listener.recv(4096)
    listener.close()
    assert b"pusher-event" not in received and b"marker" in received


def count(channel, n):
    return '{"event":"pusher_internal:subscription_count","channel":"%s","data":%s}' % (
        channel, json.dumps('{"subscription_count":%d}' % n))


def test_subscription_counts_are_the_clusters_and_only_where_the_app_asks(cluster):
    a, b, _ = start(cluster)
    other = dict(app_id=PUSHER_OTHER_ID, key=PUSHER_OTHER_KEY, secret=PUSHER_OTHER_SECRET)

    async def scenario():
        first = await Socket.open(a, key=PUSHER_OTHER_KEY)
        assert json.loads(await first.subscribe("news"))["event"] == "pusher_internal:subscription_succeeded"
        assert await first.next() == count("news", 1)
        # B must know of A's subscriber before its own arrives, or it would count 1.
        assert wait_for(lambda: sdk(b, **other).channel_info("news", ["subscription_count"])["subscription_count"] == 1)
        second = await Socket.open(b, key=PUSHER_OTHER_KEY)
        assert json.loads(await second.subscribe("news"))["event"] == "pusher_internal:subscription_succeeded"
        assert await second.next() == count("news", 2)
        assert await first.next() == count("news", 2)  # once B's count reaches A
        await second.send("pusher:unsubscribe", {"channel": "news"})
        assert await first.next() == count("news", 1)
        # Never on presence channels, and never for an app that did not ask.
        auth, data = auth_for(sdk(a, **other), first, "presence-room", {"user_id": "u"})
        assert json.loads(await first.subscribe("presence-room", auth, data))["event"] == "pusher_internal:subscription_succeeded"
        plain = await Socket.open(a)
        assert json.loads(await plain.subscribe("news"))["event"] == "pusher_internal:subscription_succeeded"
        await nothing_more(first.ws)
        await nothing_more(plain.ws)
        for socket in (first, second, plain):
            await socket.close()

    asyncio.run(scenario())


def watchlist_event(online, ids):
    data = json.dumps({"events": [{"name": "online" if online else "offline", "user_ids": ids}]}, separators=(",", ":"))
    return '{"event":"pusher_internal:watchlist_events","data":%s}' % json.dumps(data)


def test_watchlists_follow_users_over_every_node(cluster):
    a, b, c = start(cluster)
    other = dict(app_id=PUSHER_OTHER_ID, key=PUSHER_OTHER_KEY, secret=PUSHER_OTHER_SECRET)

    async def signed_in(node, user, watchlist=None):
        socket = await Socket.open(node, key=PUSHER_OTHER_KEY)
        data = {"id": user, **({"watchlist": watchlist} if watchlist is not None else {})}
        await socket.send("pusher:signin", sdk(node, **other).authenticate_user(socket.socket_id, data))
        assert json.loads(await socket.next())["event"] == "pusher:signin_success"
        return socket

    async def scenario():
        watcher = await signed_in(a, "w", ["42", "7"])
        first = await signed_in(b, "42")
        assert await watcher.next() == watchlist_event(True, ["42"])
        second = await signed_in(c, "42")  # already online: nothing new
        await first.close()  # still online through C
        await nothing_more(watcher.ws)
        await second.close()
        assert await watcher.next() == watchlist_event(False, ["42"])
        # Online before the watcher signs in: told once, at sign-in or just after.
        seven = await signed_in(b, "7")
        assert await watcher.next() == watchlist_event(True, ["7"])
        late = await signed_in(c, "late", ["7", "42"])
        assert await late.next() == watchlist_event(True, ["7"])
        await nothing_more(late.ws)
        # More than 100 ids: refused with 4302, and the socket stays.
        socket = await Socket.open(a, key=PUSHER_OTHER_KEY)
        data = {"id": "many", "watchlist": [str(index) for index in range(101)]}
        await socket.send("pusher:signin", sdk(a, **other).authenticate_user(socket.socket_id, data))
        assert await socket.next() == ('{"event":"pusher:error","data":{"code":4302,'
                                       '"message":"A watchlist holds at most 100 user ids"}}')
        assert json.loads(await socket.subscribe("news"))["event"] == "pusher_internal:subscription_succeeded"
        for each in (watcher, seven, late, socket):
            await each.close()

    asyncio.run(scenario())


def cache_info(node, channel):
    return sdk(node).channel_info(channel, ["cache"]).get("cache")


def test_cache_channels_hand_the_last_api_event_to_new_subscribers_on_every_node(cluster):
    a, b = start(cluster, 2)
    channel = "cache-scores"

    async def scenario():
        empty = await Socket.open(b)
        assert json.loads(await empty.subscribe(channel))["event"] == "pusher_internal:subscription_succeeded"
        assert await empty.next() == '{"event":"pusher:cache_miss","channel":"%s","data":"{}"}' % channel
        assert cache_info(a, channel) is None
        sdk(a).trigger(channel, "score", {"n": 1})
        sdk(a).trigger(channel, "score", {"n": 2})
        last = '{"event":"score","channel":"%s","data":"{\\"n\\": 2}"}' % channel
        for _ in range(2):
            await empty.next()  # both events, live
        # B holds the last one once A's offer arrives: await it through the API, then subscribe.
        assert wait_for(lambda: (cache_info(b, channel) or {}).get("data") == '{"n": 2}'), cache_info(b, channel)
        info = cache_info(b, channel)
        assert 1790 <= info["ttl"] <= 1800, info
        late = await Socket.open(b)
        assert json.loads(await late.subscribe(channel))["event"] == "pusher_internal:subscription_succeeded"
        assert await late.next() == last
        await nothing_more(late.ws)
        # A client event is never cached.
        auth, _ = auth_for(sdk(a), late, "private-cache-chat")
        assert json.loads(await late.subscribe("private-cache-chat", auth))["event"] == "pusher_internal:subscription_succeeded"
        assert '"pusher:cache_miss"' in await late.next()
        await late.send("client-typing", {"x": 1}, channel="private-cache-chat")
        other = await Socket.open(a)
        auth, _ = auth_for(sdk(a), other, "private-cache-chat")
        assert json.loads(await other.subscribe("private-cache-chat", auth))["event"] == "pusher_internal:subscription_succeeded"
        assert '"pusher:cache_miss"' in await other.next()
        await other.close()
        # A node that comes up later is handed the cache by the others.
        c = start_more(cluster, [a, b])
        assert wait_for(lambda: (cache_info(c, channel) or {}).get("data") == '{"n": 2}'), cache_info(c, channel)
        newcomer = await Socket.open(c)
        assert json.loads(await newcomer.subscribe(channel))["event"] == "pusher_internal:subscription_succeeded"
        assert await newcomer.next() == last
        for socket in (empty, late, newcomer):
            await socket.close()

    asyncio.run(scenario())


def start_more(cluster, running):
    node = cluster.make_worker(extra_config=cluster.config + APPS)
    cluster.nodes.append(node)
    cluster.wait_until_subscribed(len(running) + 1)
    wait_for_peers(running + [node])
    return node
