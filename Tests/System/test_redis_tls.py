"""rediss://: every link of a node to a Redis that serves TLS (redis-server --tls-port), verified
against a test CA. The cluster suite also runs whole over TLS (`make test` sets
WAVELOG_TEST_REDIS_TLS=1 for one pass of test_cluster.py); these are what only TLS has."""
import asyncio
import signal

import pytest

from conftest import register, request
from helpers import (
    Cluster, RedisServer, publish, recv, status, subscribe, wait_for, wait_for_log)


@pytest.fixture(scope="module")
def tls_redis():
    server = RedisServer(tls=True)
    yield server
    server.stop()


def test_two_nodes_share_topics_events_and_the_roster_over_tls(tls_redis, make_worker):
    cluster = Cluster(tls_redis, make_worker)
    a, b = cluster.start(2)
    assert "redis=rediss://127.0.0.1" in a.read_log()
    register(a.internal_port, "tls.shared")
    cluster.wait_until_known([b], 2)  # worker.status and the new topic

    async def scenario():
        ws = await subscribe(b, "tls.shared")
        publish(a, "tls.shared", '{"via":"rediss"}')
        assert await recv(ws) == '{"type":"push","payload":{"via":"rediss"}}'
        await ws.close()

    asyncio.run(scenario())
    assert wait_for(lambda: len(status(a, topics=False)["nodes"]) == 2)
    # Nothing but TLS reached Redis from the nodes: every client of theirs is on the TLS port.
    clients = tls_redis.cli("CLIENT", "LIST").splitlines()
    ours = [line for line in clients if "cmd=client" not in line]
    assert ours and all(f"laddr=127.0.0.1:{tls_redis.tls_port}" in line for line in ours), clients


def test_a_certificate_the_node_cannot_verify_is_refused_and_said_why(tls_redis, make_worker):
    node = make_worker(f'redis_url: "rediss://127.0.0.1:{tls_redis.tls_port}/0"\nredis_timeout: 1s\n')
    lines = wait_for_log(node, "redis tls link failed")
    assert lines and "certificate verify failed" in lines[0], node.read_log()
    assert request(node.ws_port, "GET", "/readyz", secret=None)[0] == 503
    assert status(node, topics=False)["cluster_connected"] is False


def test_insecure_skip_verify_connects_and_says_so_loudly(tls_redis, make_worker):
    node = make_worker(f'redis_url: "rediss://127.0.0.1:{tls_redis.tls_port}/0"\nredis_tls_insecure_skip_verify: true\n')
    assert wait_for(lambda: request(node.ws_port, "GET", "/readyz", secret=None)[0] == 200)
    log = node.read_log()
    assert "redis_tls_insecure_skip_verify is on" in log and "level=warning" in log
    assert 'config.redis_tls="INSECURE (no certificate check)"' in log


def test_a_hung_tls_redis_is_noticed_and_the_link_comes_back(make_worker):
    server = RedisServer(tls=True)
    try:
        node = make_worker(server.config + "redis_timeout: 1s\n")
        assert wait_for(lambda: request(node.ws_port, "GET", "/readyz", secret=None)[0] == 200)
        server.process.send_signal(signal.SIGSTOP)
        try:
            publish(node, "worker.status", "1")
            assert wait_for(lambda: request(node.ws_port, "GET", "/readyz", secret=None)[0] == 503)
            assert wait_for_log(node, "redis not answering")
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert wait_for(lambda: request(node.ws_port, "GET", "/readyz", secret=None)[0] == 200)
        assert status(node, topics=False)["cluster_connected"] is True
    finally:
        server.stop()


def test_a_tls_key_without_rediss_is_a_one_line_error(tmp_path):
    import subprocess
    from conftest import SECRET, worker_binary
    config = tmp_path / "config.yaml"
    config.write_text(f'worker_secret: "{SECRET}"\nredis_url: "redis://127.0.0.1:6379/0"\nredis_tls_insecure_skip_verify: true\n')
    result = subprocess.run([worker_binary(), "-config", str(config)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert "redis_tls_insecure_skip_verify: applies to a rediss:// redis_url only" in result.stderr, result.stderr
