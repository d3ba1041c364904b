"""System tests: the built wavelog-worker binary, real sockets, real clients.

The binary is taken from $WORKER_BIN (make test sets it). Every process started here is
stopped by its PID at teardown."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SECRET = "system-test-secret-0123456789abcdef"
LISTENING = re.compile(r"msg=listening .*internal=(\S+):(\d+) .*ws=(\S+):(\d+)")


def worker_binary():
    path = os.environ.get("WORKER_BIN")
    if not path:
        pytest.fail("WORKER_BIN is not set; run the system tests through `make test`")
    return path


class Worker:
    """One running worker process with its ports and log."""

    def __init__(self, extra_config="", env=None):
        self.dir = tempfile.mkdtemp(prefix="wavelog-worker-test-")
        self.config_path = os.path.join(self.dir, "config.yaml")
        with open(self.config_path, "w") as f:
            f.write(f'worker_secret: "{SECRET}"\nws_port: 0\ninternal_port: 0\nws_bind: "127.0.0.1"\nthreads: 2\nlog_level: debug\n')
            # Stopping a test's worker closes its sockets at once; test_drain.py paces on purpose.
            if "drain_period" not in extra_config:
                f.write("drain_period: 0\n")
            f.write(extra_config)
        self.log_path = os.path.join(self.dir, "worker.log")
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(
            [worker_binary(), "-config", self.config_path],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.internal_port, self.ws_port = self._wait_for_ports()

    def _wait_for_ports(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                match = LISTENING.search(f.read())
            if match:
                return int(match.group(2)), int(match.group(4))
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}: {self.read_log()}")
            time.sleep(0.02)  # polling a log file that has no event to await
        pytest.fail("worker did not report its ports: " + self.read_log())

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture
def worker():
    instance = Worker()
    yield instance
    instance.stop()


@pytest.fixture
def make_worker():
    started = []

    def make(extra_config="", env=None):
        instance = Worker(extra_config, env)
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


# --- Redis and clusters (helpers.py holds the classes; it imports from here, hence the late imports)

def running_redis():
    """A redis-server for the length of a fixture, stopped by its PID after it."""
    import shutil
    from helpers import RedisServer
    server = RedisServer()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_server():
    """One redis-server per test module; tests keep apart by `redis_prefix`."""
    yield from running_redis()


@pytest.fixture
def private_redis():
    """A server of the test's own, for tests that stop it."""
    yield from running_redis()


@pytest.fixture
def cluster(redis_server, make_worker):
    """Nodes of one installation on the module's Redis, with a `redis_prefix` of their own."""
    from helpers import Cluster
    return Cluster(redis_server, make_worker)


# --- raw HTTP ------------------------------------------------------------------------------------

def connect(port, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock, buffered=b""):
    """Reads one HTTP response; returns (status, headers, body, leftover bytes)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def request(port, method, path, body=None, secret=SECRET, headers=None, sock=None):
    """One request on a new (or the given) connection; returns (status, headers, body)."""
    own = sock is None
    sock = sock or connect(port)
    try:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        if secret is not None:
            lines.append(f"X-Worker-Secret: {secret}")
        payload = body.encode() if isinstance(body, str) else (body or b"")
        if body is not None:
            lines.append(f"Content-Length: {len(payload)}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        status, response_headers, response_body, _ = read_response(sock)
        return status, response_headers, response_body
    finally:
        if own:
            sock.close()


def register(port, topic, require_token=None):
    meta = "" if require_token is None else f',"meta":{{"require_token":{"true" if require_token else "false"}}}'
    status, _, body = request(port, "POST", "/internal/register", f'{{"topic":"{topic}"{meta}}}')
    assert status == 200, body


# --- browser tests (Chromium) --------------------------------------------------------------------

@pytest.fixture
def page_origin(request):
    """The test module's PAGE on its own loopback port; its origin."""
    import chromium
    with chromium.page_server(request.module.PAGE) as origin:
        yield origin


@pytest.fixture
def browser():
    import chromium
    with chromium.chromium() as driver:
        yield driver
