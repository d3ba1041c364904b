"""The node roster of docs/protocol.md "Node roster": the Redis hash upstream 0.3.0 nodes keep,
`nodes` in the status, `/readyz` on the internal port, and nodes configured by WORKER_* alone.

Roster entries written here are byte for byte what a Go 0.3.0 node writes (json.Marshal of its
NodeInfo, times as RFC 3339 with nanoseconds). Every wait is bounded; the heartbeat is 5 s and
a node counts as dead 15 s after its last write, so the waits below are bounded by those."""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import SECRET, register, request, worker_binary
from helpers import POLL, RedisServer, TIMEOUT, auth, publish, recv, status, token_for

HEARTBEAT = 5
ALIVE_WINDOW = 15
GO_FIELDS = ["id", "name", "version", "started_at", "seen_at", "active_topics", "connected_clients",
             "connected_sockets", "alive", "uptime", "uptime_seconds"]
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
GO_DURATION = re.compile(r"^(-?(\d+h)?(\d+m)?\d+s)$")


def go_time(unix):
    """An instant as Go's time.Time marshals in UTC: RFC 3339, nanoseconds without trailing zeros."""
    seconds = int(unix // 1)
    nanos = int(round((unix - seconds) * 1e9))
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def parse_go_time(text):
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|([+-])(\d\d):(\d\d))$", text)
    assert match, text
    import calendar
    seconds = calendar.timegm(tuple(int(match.group(i)) for i in range(1, 7)))
    if match.group(9):
        offset = (int(match.group(10)) * 3600 + int(match.group(11)) * 60) * (1 if match.group(9) == "+" else -1)
        seconds -= offset
    return seconds + float(match.group(7) or 0)


def go_duration(seconds):
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else (f"{minutes}m{secs}s" if minutes else f"{secs}s")


def go_entry(node_id, name, started, seen, version="v0.3.0", topics=0, clients=0, sockets=0):
    """json.Marshal(NodeInfo) of a Go 0.3.0 node, written at `seen`."""
    uptime = int(round(seen - started))
    return json.dumps({
        "id": node_id, "name": name, "version": version, "started_at": go_time(started), "seen_at": go_time(seen),
        "active_topics": topics, "connected_clients": clients, "connected_sockets": sockets, "alive": True,
        "uptime": go_duration(uptime), "uptime_seconds": uptime}, separators=(",", ":"))


class Roster:
    """The roster hash of one cluster, read and written with redis-cli."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.key = cluster.prefix + "nodes"

    def hset(self, field, value):
        assert self.cluster.redis.cli("HSET", self.key, field, value).strip() in ("0", "1")

    def all(self):
        lines = self.cluster.redis.cli("HGETALL", self.key).splitlines()
        return dict(zip(lines[0::2], lines[1::2]))

    def wait(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            entries = self.all()
            if predicate(entries):
                return entries
            assert time.monotonic() < deadline, f"{what}: {entries}"
            time.sleep(POLL)  # Redis sends no event when a hash changes


def node_id(node):
    """The node's id from its start-up line."""
    with open(node.log_path) as f:
        match = re.search(r"node_id=([0-9a-f]{16})", f.read())
    assert match, node.read_log()
    return match.group(1)


def nodes_of(node):
    return status(node)["nodes"]


def wait_for_nodes(node, predicate, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        nodes = nodes_of(node)
        if nodes is not None and predicate(nodes):
            return nodes
        assert time.monotonic() < deadline, f"{what}: {nodes}"
        time.sleep(POLL)  # the roster is read every heartbeat: no event to await


def test_every_node_lists_every_alive_node_sorted_and_stale_entries_are_pruned(cluster):
    roster = Roster(cluster)
    now = time.time()
    # As Go 0.3.0 nodes wrote them: an alive node (its clock 30 s ahead, so that it stays alive
    # however slowly the nodes below start), the same host's earlier process (dead), a node dead
    # for a minute, one gone for 16 minutes, and an entry nobody can read.
    roster.hset("a000000000000001", go_entry("a000000000000001", "go-host-b", now - 3600, now + 30, topics=2, clients=3, sockets=4))
    roster.hset("a000000000000002", go_entry("a000000000000002", "go-host-b", now - 7200, now - 60))
    roster.hset("a000000000000003", go_entry("a000000000000003", "go-host-c", now - 600, now - 60))
    roster.hset("a000000000000004", go_entry("a000000000000004", "go-host-d", now - 7200, now - 16 * 60))
    roster.hset("garbage", "not json")
    a, b = cluster.start(2)
    ids = sorted([node_id(a), node_id(b)])
    entries = roster.wait(lambda e: set(ids) <= set(e) and "a000000000000002" not in e and "a000000000000004" not in e,
                          "our entries written, stale ones pruned")
    assert "garbage" in entries and "a000000000000003" in entries  # unreadable and merely dead: kept
    for node in (a, b):
        nodes = wait_for_nodes(node, lambda n: {x["id"] for x in n} >= set(ids), "both nodes listed")
        by_id = {x["id"]: x for x in nodes}
        assert set(by_id) == {"a000000000000001", "a000000000000003"} | set(ids)
        assert [list(x) for x in nodes] == [GO_FIELDS] * len(nodes)
        alive = by_id["a000000000000001"]
        assert alive["alive"] is True and (alive["active_topics"], alive["connected_clients"], alive["connected_sockets"]) == (2, 3, 4)
        dead = by_id["a000000000000003"]
        assert dead["alive"] is False and (dead["uptime"], dead["uptime_seconds"]) == ("9m0s", 540)
        assert all(by_id[i]["alive"] and by_id[i]["name"] == socket.gethostname() for i in ids)
        keys = [(x["name"].encode(), x["id"]) for x in nodes]
        assert keys == sorted(keys)


def test_an_entry_has_go_field_set_and_types_and_its_id_is_the_origin_of_the_node_envelopes(cluster):
    roster = Roster(cluster)
    (node,) = cluster.start(1)
    own = node_id(node)
    entry = json.loads(roster.wait(lambda e: own in e, "entry written")[own])
    assert list(entry) == GO_FIELDS
    assert entry["id"] == own and re.fullmatch(r"[0-9a-f]{16}", own)
    assert entry["name"] == socket.gethostname() and isinstance(entry["version"], str) and entry["version"]
    assert RFC3339_NANO.match(entry["started_at"]) and RFC3339_NANO.match(entry["seen_at"])
    assert all(type(entry[k]) is int for k in ("active_topics", "connected_clients", "connected_sockets", "uptime_seconds"))
    assert entry["alive"] is True and GO_DURATION.match(entry["uptime"])
    assert abs(parse_go_time(entry["seen_at"]) - time.time()) < 60
    # The same id travels as origin_id on every envelope the node publishes.
    with socket.create_connection(("127.0.0.1", cluster.redis.port), timeout=TIMEOUT) as listener:
        channel = cluster.events.encode()
        listener.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel))
        received = b""
        while b":1\r\n" not in received:
            chunk = listener.recv(4096)
            assert chunk, received
            received += chunk
        register(node.internal_port, "session.origin")
        publish(node, "session.origin", '{"n":1}')
        while b"origin_id" not in received or not received.rstrip().endswith(b"}"):
            chunk = listener.recv(4096)
            assert chunk, received
            received += chunk
    envelope = json.loads(received[received.index(b'{"origin_id"'):].split(b"\r\n")[0])
    assert envelope["origin_id"] == own


def test_entries_are_rewritten_every_heartbeat_and_removed_on_sigterm(cluster):
    roster = Roster(cluster)
    (node,) = cluster.start(1)
    own = node_id(node)
    first = json.loads(roster.wait(lambda e: own in e, "entry written")[own])["seen_at"]
    later = roster.wait(lambda e: json.loads(e[own])["seen_at"] != first, "entry rewritten", timeout=HEARTBEAT + 3)
    assert parse_go_time(json.loads(later[own])["seen_at"]) > parse_go_time(first)
    assert node.stop() == 0
    assert own not in roster.all()  # removed before the process exited


def test_a_silent_node_turns_dead_after_fifteen_seconds(cluster):
    """A Go node on another host that stops writing (the test writes its heartbeats)."""
    roster = Roster(cluster)
    (node,) = cluster.start(1)
    # Whole seconds, so the uptime a reader computes from the two times is exact.
    started = int(time.time()) - 600

    def beat():
        seen = int(time.time())
        roster.hset("b000000000000001", go_entry("b000000000000001", "go-host-silent", started, seen))
        return seen

    beat()
    wait_for_nodes(node, lambda n: any(x["id"] == "b000000000000001" and x["alive"] for x in n), "the Go node listed alive")
    # The 15 s boundary itself is held on a manual clock (NodeRosterTests, ReportStatusTests).
    last_seen = beat()
    nodes = wait_for_nodes(node, lambda n: any(x["id"] == "b000000000000001" and not x["alive"] for x in n),
                           "the silent node dead", timeout=ALIVE_WINDOW + HEARTBEAT + 5)
    silent = next(x for x in nodes if x["id"] == "b000000000000001")
    # A dead node's uptime counts up to its last write, and stays there.
    assert silent["uptime_seconds"] == last_seen - started
    assert silent["uptime_seconds"] == next(x for x in nodes_of(node) if x["id"] == "b000000000000001")["uptime_seconds"]


def test_a_stopped_node_of_the_same_host_is_dropped_and_comes_back_when_it_resumes(cluster):
    """Two nodes on one host share a name: a silent one is pruned once dead (its host's other
    process is alive), and writes itself back when it runs again."""
    roster = Roster(cluster)
    a, b = cluster.start(2)
    silent = node_id(b)
    wait_for_nodes(a, lambda n: any(x["id"] == silent and x["alive"] for x in n), "b alive")
    b.process.send_signal(signal.SIGSTOP)
    try:
        wait_for_nodes(a, lambda n: not any(x["id"] == silent and x["alive"] for x in n), "b dead or dropped",
                       timeout=ALIVE_WINDOW + 2 * HEARTBEAT + 5)
        roster.wait(lambda e: silent not in e, "b pruned", timeout=2 * HEARTBEAT + 5)
    finally:
        b.process.send_signal(signal.SIGCONT)
    wait_for_nodes(a, lambda n: any(x["id"] == silent and x["alive"] for x in n), "b alive again", timeout=2 * HEARTBEAT + 5)


def test_the_status_push_of_worker_status_carries_the_nodes(cluster):
    (node,) = cluster.start(1)
    own = node_id(node)
    wait_for_nodes(node, lambda n: [x["id"] for x in n] == [own], "roster read")

    async def scenario():
        ws, reply = await auth(node, "worker.status", token_for("worker.status"))
        assert reply == '{"type":"auth_ok"}'
        await ws.send('{"type":"status"}')
        message = json.loads(await recv(ws))
        await ws.close()
        return message

    message = asyncio.run(scenario())
    assert message["type"] == "status"
    assert [x["id"] for x in message["payload"]["nodes"]] == [own]


def test_readyz_answers_without_the_secret_and_follows_a_hung_redis(make_worker):
    redis = RedisServer()
    try:
        node = make_worker(extra_config=f'redis_url: "redis://127.0.0.1:{redis.port}/0"\nredis_timeout: 1s\n')
        deadline = time.monotonic() + TIMEOUT
        while request(node.internal_port, "GET", "/readyz", secret=None)[0] != 200:
            assert time.monotonic() < deadline, "never ready"
            time.sleep(POLL)  # the link comes up in the background
        for method in ("GET", "POST", "PUT", "DELETE"):
            assert request(node.internal_port, method, "/readyz", secret=None)[0::2] == (200, b"ok")
        redis.process.send_signal(signal.SIGSTOP)
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                answer = request(node.internal_port, "GET", "/readyz", secret=None)
                if answer[0] == 503:
                    break
                assert time.monotonic() < deadline, "still ready with Redis hung"
                time.sleep(POLL)
            assert answer[0::2] == (503, b"redis not connected\n")
        finally:
            redis.process.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + TIMEOUT
        while request(node.internal_port, "GET", "/readyz", secret=None)[0] != 200:
            assert time.monotonic() < deadline, "not ready again after Redis resumed"
            time.sleep(POLL)
    finally:
        redis.stop()


def test_a_node_alone_lists_itself_and_is_always_ready(worker):
    with socket.create_connection(("127.0.0.1", worker.internal_port), timeout=TIMEOUT) as sock:
        # HEAD gets the head alone, so the next answer on the connection is read intact.
        sock.sendall(b"HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b"ok"):
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        assert received.count(b"Content-Length: 2\r\n") == 2 and received.endswith(b"\r\n\r\nok"), received
        assert received.index(b"HTTP/1.1 200 OK", 1) == received.index(b"\r\n\r\n") + 4  # no body after the HEAD
    assert request(worker.internal_port, "GET", "/readyz", secret=None)[0::2] == (200, b"ok")
    nodes = status(worker)["nodes"]
    assert [x["id"] for x in nodes] == [node_id(worker)]
    assert nodes[0]["alive"] is True and list(nodes[0]) == GO_FIELDS and status(worker)["cluster_nodes"] == -1


def test_a_node_whose_redis_was_never_reached_starts_reports_null_nodes_and_is_not_ready(make_worker):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    node = make_worker(extra_config=f'redis_url: "redis://127.0.0.1:{closed}/0"\n')
    report = status(node)
    assert report["nodes"] is None and report["cluster_nodes"] == 0
    assert request(node.internal_port, "GET", "/readyz", secret=None)[0::2] == (503, b"redis not connected\n")
    register(node.internal_port, "session.local")  # never single-node mode: registrations still answer


def start_from_environment(env, directory):
    """The binary without -config, in a directory without config.yaml; returns (process, log path)."""
    log_path = os.path.join(directory, "worker.log")
    log = open(log_path, "w+")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WAVELOG_", "WORKER_"))}
    if "WAVELOG_IO_BACKEND" in os.environ:
        clean["WAVELOG_IO_BACKEND"] = os.environ["WAVELOG_IO_BACKEND"]
    process = subprocess.Popen([worker_binary()], cwd=directory, stdout=log, stderr=subprocess.STDOUT, env={**clean, **env})
    return process, log_path


def test_a_node_configured_by_the_upstream_helm_environment_alone_serves_both_ports(redis_server):
    directory = tempfile.mkdtemp(prefix="wavelog-worker-env-")
    process, log_path = start_from_environment({
        "WORKER_INTERNAL_BIND": "0.0.0.0", "WORKER_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/2",
        "WORKER_SECRET": SECRET, "WORKER_WS_PORT": "0", "WORKER_INTERNAL_PORT": "0", "WORKER_TOPIC_TTL": "2h",
    }, directory)
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"msg=listening .*internal=(\S+):(\d+) .*ws=(\S+):(\d+)", open(log_path).read())):
            assert process.poll() is None and time.monotonic() < deadline, open(log_path).read()
            time.sleep(POLL)  # polling a log file that has no event to await
        node = type("Node", (), {"internal_port": int(match.group(2)), "ws_port": int(match.group(4))})()
        assert match.group(1) == "0.0.0.0"
        assert "config.topic_ttl=2h0m0s" in open(log_path).read()
        register(node.internal_port, "session.env")
        deadline = time.monotonic() + TIMEOUT
        while request(node.internal_port, "GET", "/readyz", secret=None)[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(POLL)
        def entries_in_database_2():
            return subprocess.run([shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(redis_server.port), "-n", "2",
                                   "HLEN", "wavelog:nodes"], capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()

        deadline = time.monotonic() + TIMEOUT
        while entries_in_database_2() != "1":  # the default prefix, in the database the URL names
            assert time.monotonic() < deadline, entries_in_database_2()
            time.sleep(POLL)  # the roster's first write follows its own link's start

        async def scenario():
            ws, reply = await auth(node, "session.env", token_for("session.env"))
            assert reply == '{"type":"auth_ok"}'
            publish(node, "session.env", '{"from":"env"}')
            assert await recv(ws) == '{"type":"push","payload":{"from":"env"}}'
            await ws.close()

        asyncio.run(scenario())
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    # Cleanly stopped: its entry left database 2.
    assert subprocess.run([shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(redis_server.port), "-n", "2", "HLEN",
                           "wavelog:nodes"], capture_output=True, text=True, timeout=TIMEOUT).stdout.strip() == "0"


@pytest.mark.parametrize("env, line", [
    ({"WORKER_REDIS_URL": "localhost:6379"}, "config: redis_url: "),
    ({"WORKER_WS_PORT": "nine"}, 'config: ws_port: expected an integer 0-65535, got "nine" (from WORKER_WS_PORT)'),
    ({"WORKER_TOPIC_TTL": "0"}, "config: topic_ttl: expected a positive duration"),
])
def test_a_bad_worker_variable_stops_the_node_with_one_line_naming_it(env, line):
    directory = tempfile.mkdtemp(prefix="wavelog-worker-env-")
    process, log_path = start_from_environment({"WORKER_SECRET": SECRET, **env}, directory)
    assert process.wait(timeout=20) == 1
    output = open(log_path).read().strip().splitlines()
    assert len(output) == 1 and output[0].startswith(line), output
    assert next(iter(env)) in output[0]


def test_wavelog_php_reads_every_node_from_the_status_of_one(cluster):
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is not installed; make test-deps installs php-cli and php-curl")
    nodes = cluster.start(3)
    ids = sorted(node_id(node) for node in nodes)
    wait_for_nodes(nodes[1], lambda n: sorted(x["id"] for x in n) == ids, "three nodes listed")
    script = os.path.join(os.path.dirname(__file__), "php", "cluster_nodes.php")
    result = subprocess.run([php, script, f"http://127.0.0.1:{nodes[1].internal_port}", SECRET],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["nodes_total"] == 3 and report["nodes_alive"] == 3
    assert sorted(node["id"] for node in report["nodes"]) == ids
