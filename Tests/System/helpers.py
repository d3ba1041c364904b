"""What the system tests share: tokens, the internal API, WebSocket clients, a private
redis-server and a cluster of nodes on it. Test modules import from here and from conftest
(processes and raw HTTP), never from each other."""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from urllib.parse import quote

import pusher
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from conftest import SECRET, request

TIMEOUT = 10  # seconds for any single awaited event
POLL = 0.05  # seconds between two polls of a condition that has no event to await
GRACE = 0.5  # seconds during which nothing more may arrive once everything expected did
AUTH_OK = '{"type":"auth_ok"}'
AUTH_REQUIRED = '{"type":"error","code":"auth_required","message":"first frame must be {type:auth,token:...}"}'
UNAUTHORIZED = '{"type":"error","code":"unauthorized","message":"invalid or expired token"}'
AUTH_EXPIRED = '{"type":"error","code":"auth_expired","message":"token expired"}'


# --- tokens --------------------------------------------------------------------------------------

def sign(h):
    """PHP: $h . '.' . hash_hmac('sha256', $h, $secret)."""
    return h + "." + hmac.new(SECRET.encode(), h.encode(), hashlib.sha256).hexdigest()


def mint(claims):
    """PHP: bin2hex(json_encode($claims)), signed; Python's compact JSON without escaping."""
    return sign(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode().hex())


def mint_php_escaped(claims):
    """json_encode's default escaping: "/" as "\\/" and non-ASCII as lowercase \\uXXXX."""
    text = json.dumps(claims, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")
    return sign(text.encode().hex())


def token_for(topic, user_id=0, ttl=3600):
    return mint({"user_id": user_id, "topic": topic, "expires": int(time.time()) + ttl})


def auth_message(token):
    return json.dumps({"type": "auth", "token": token})


# --- internal API --------------------------------------------------------------------------------

def status(instance, topics=True):
    """/internal/status as JSON; `topics=False` leaves the topic lists out (`?topics=0`)."""
    code, _, body = request(instance.internal_port, "GET", "/internal/status" + ("" if topics else "?topics=0"))
    assert code == 200, body
    return json.loads(body)


def publish(instance, topic, payload):
    """Publishes the JSON text `payload` verbatim."""
    body = ('{"topic":' + json.dumps(topic, ensure_ascii=False) + ',"payload":' + payload + "}").encode()
    code, _, answer = request(instance.internal_port, "POST", "/internal/publish", body)
    assert code == 200, answer


class Publisher:
    """A keep-alive connection to one node's internal API, for many requests."""

    def __init__(self, instance, timeout=30):
        self.connection = http.client.HTTPConnection("127.0.0.1", instance.internal_port, timeout=timeout)

    def call(self, method, path, body=None):
        self.connection.request(method, path, body, {"X-Worker-Secret": SECRET})
        response = self.connection.getresponse()
        return response.status, response.read()

    def publish(self, topic, payload):
        body = ('{"topic":' + json.dumps(topic) + ',"payload":' + payload + "}").encode()
        assert self.call("POST", "/internal/publish", body) == (200, b"")

    def publish_all(self, topic, payloads):
        for payload in payloads:
            self.publish(topic, payload)
        self.connection.close()

    def close(self):
        self.connection.close()


def wait_for_status(instance, predicate, timeout=TIMEOUT):
    """Polls /internal/status until `predicate(report)` holds; returns the last report."""
    deadline = time.monotonic() + timeout
    while True:
        report = status(instance)
        if predicate(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.05)  # polling a report that has no event to await


def wait_for_log(instance, pattern, timeout=TIMEOUT):
    """Polls the log until a line matches `pattern`; returns the matching lines."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in instance.read_log().splitlines() if re.search(pattern, line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)  # polling a log file that has no event to await


def parse_logfmt(line):
    """Strict logfmt: `key=value` pairs separated by single spaces; values bare or quoted with \\-escapes."""
    fields = {}
    position = 0
    token = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')
    while position < len(line):
        match = token.match(line, position)
        assert match, f"logfmt line broken at {position}: {line!r}"
        value = match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        assert match.group(1) not in fields, f"duplicate key {match.group(1)} in {line!r}"
        fields[match.group(1)] = value
        position = match.end()
    return fields


def kernel_send_buffer_max():
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


# --- WebSocket clients ---------------------------------------------------------------------------

def ws_url(instance, topic):
    return f"ws://127.0.0.1:{instance.ws_port}/ws?topic={quote(topic, safe='')}"


def open_ws(instance, topic, **options):
    return ws_connect(ws_url(instance, topic), ping_interval=None, compression=None,
                      open_timeout=TIMEOUT, close_timeout=TIMEOUT, **options)


async def recv(ws, timeout=TIMEOUT, decode=None):
    return await asyncio.wait_for(ws.recv(decode=decode), timeout)


async def subscribe(instance, topic, token=None, **options):
    """Opens a socket and authenticates it (with a valid token for `topic` unless given one);
    returns the open connection."""
    ws = await open_ws(instance, topic, **options)
    await ws.send(auth_message(token if token is not None else token_for(topic)))
    assert await recv(ws) == AUTH_OK
    return ws


async def auth(instance, topic, token):
    """Opens a socket and sends the auth message; returns (socket, first reply)."""
    ws = await open_ws(instance, topic)
    await ws.send(auth_message(token))
    return ws, await recv(ws)


async def close_code(ws, timeout=TIMEOUT):
    """Awaits the end of the connection; returns the close code the server sent (None if none)."""
    try:
        while True:
            message = await recv(ws, timeout)
            raise AssertionError(f"expected a close, got a message: {message!r}")
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def auth_outcome(instance, topic, first_message):
    """Sends a first message (a callable is called then); returns (reply, close code or None on auth_ok)."""
    async with open_ws(instance, topic) as ws:
        await ws.send(first_message() if callable(first_message) else first_message)
        reply = await recv(ws)
        if reply == AUTH_OK:
            return reply, None
        return reply, await close_code(ws)


def handshake_headers(version="13", origin=None):
    headers = {"Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Sec-WebSocket-Version": version}
    if origin is not None:
        headers["Origin"] = origin
    return headers


class RawWebSocket:
    """A minimal blocking client whose reading the test controls (for the slow consumer)."""

    def __init__(self, instance, topic, receive_buffer=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(("127.0.0.1", instance.ws_port))
        lines = [f"GET /ws?topic={quote(topic, safe='')} HTTP/1.1", f"Host: 127.0.0.1:{instance.ws_port}"]
        lines += [f"{name}: {value}" for name, value in handshake_headers().items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101 "), head

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        assert len(payload) < 65536
        length = bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(b"\x81" + length + mask + masked)

    def _take(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_frame(self):
        """(opcode, payload) of the next server frame; EOFError when the connection ended."""
        first, second = self._take(2)
        assert second & 0x80 == 0, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        return first & 0x0F, self._take(length)

    def close(self):
        self.sock.close()


def metrics(worker):
    """The samples of /metrics by (name, sorted labels), read by prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families
    code, _, body = request(worker.internal_port, "GET", "/metrics", secret=None)
    assert code == 200
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


# --- certificates --------------------------------------------------------------------------------

def openssl(*arguments):
    subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=TIMEOUT)


class CertificateAuthority:
    """A CA of the test's own, and leaf certificates it signs for 127.0.0.1 and localhost."""

    def __init__(self, directory):
        self.dir = directory
        self.cert = str(directory / "ca.pem")
        self.key = str(directory / "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=wavelog-worker test CA", "-keyout", self.key, "-out", self.cert)

    def issue(self, name, key_type="ec"):
        """A leaf certificate and key; `key_type` is "ec" (P-256) or "rsa" (2048 bits)."""
        cert, key, request = (str(self.dir / f"{name}.{suffix}") for suffix in ("pem", "key", "csr"))
        key_options = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if key_type == "ec" else ["-newkey", "rsa:2048"]
        openssl("req", "-new", *key_options, "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", request)
        extensions = self.dir / f"{name}.ext"
        extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", request, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial", "-days", "1",
                "-extfile", str(extensions), "-out", cert)
        return cert, key

    def client_context(self):
        context = ssl.create_default_context(cafile=self.cert)
        return context


_redis_ca = None


def redis_test_ca():
    """One CA per test process for TLS Redis servers, with the certificate they serve."""
    global _redis_ca
    if _redis_ca is None:
        import pathlib
        authority = CertificateAuthority(pathlib.Path(tempfile.mkdtemp(prefix="wavelog-redis-ca-")))
        _redis_ca = (authority, *authority.issue("redis"))
    return _redis_ca


# --- Redis and clusters ------------------------------------------------------------------------

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
# Set by `make test` for a pass of the cluster suite with every node on rediss://.
REDIS_TLS = os.environ.get("WAVELOG_TEST_REDIS_TLS") == "1"

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

def redis_ping(port, timeout=0.5, host="127.0.0.1"):
    """True when a Redis on `port` answers PING right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False

class RedisServer:
    """One redis-server process on loopback, without persistence, stopped by its PID. With
    `tls`, it also serves TLS on `tls_port` (a certificate from `redis_test_ca()`), and `config`
    points nodes there; the plain port stays for redis-cli."""

    host = "127.0.0.1"

    def __init__(self, port=None, tls=REDIS_TLS):
        self.dir = tempfile.mkdtemp(prefix="wavelog-worker-redis-")
        self.process = None
        self.tls = redis_test_ca() if tls else None
        self.tls_port = free_port() if tls else None
        if port is not None:
            self.port = port
            if not self._start():
                pytest.fail(f"redis-server did not start on port {port}: {self.read_log()}")
            return
        for _ in range(5):  # the free port may be taken between probing and binding
            self.port = free_port()
            if self._start():
                return
        pytest.fail("redis-server did not start on any free port: " + self.read_log())

    def _start(self, timeout=10):
        self.log_path = os.path.join(self.dir, f"redis-{self.port}.log")
        tls = []
        if self.tls:
            authority, cert, key = self.tls
            tls = ["--tls-port", str(self.tls_port), "--tls-cert-file", cert, "--tls-key-file", key,
                   "--tls-ca-cert-file", authority.cert, "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", self.log_path, "--daemonize", "no", *tls],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken after all
            if redis_ping(self.port):
                return True
            time.sleep(POLL)  # polling readiness: the server gives no other signal
        self.stop()
        return False

    @property
    def config(self):
        """The node configuration that reaches this server (database 0), over TLS when it has it."""
        if self.tls:
            return f'redis_url: "rediss://127.0.0.1:{self.tls_port}/0"\nredis_tls_ca_file: "{self.tls[0].cert}"\n'
        return f'redis_url: "redis://127.0.0.1:{self.port}/0"\n'

    def restart(self):
        """Starts a new, empty server on the same port; returns when it answers PING."""
        assert self.process is None, "stop() first"
        if not self._start():
            pytest.fail(f"redis-server did not restart on port {self.port}: {self.read_log()}")

    def stop(self, timeout=10):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def cli(self, *arguments):
        """One redis-cli command; returns its stdout without the trailing newline."""
        result = subprocess.run([REDIS_CLI, "-h", self.host, "-p", str(self.port), *arguments],
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 0, result.stderr
        return result.stdout.rstrip("\n")

    def numsub(self, channel):
        return int(self.cli("PUBSUB", "NUMSUB", channel).splitlines()[1])

class Cluster:
    """Nodes of one installation: one Redis, one `redis_prefix` of their own."""

    def __init__(self, redis, make_worker):
        self.redis = redis
        self.make_worker = make_worker
        self.prefix = f"t{secrets.token_hex(6)}:"
        self.nodes = []

    @property
    def config(self):
        return self.redis.config + f'redis_prefix: "{self.prefix}"\n'

    @property
    def events(self):
        return self.prefix + "events"

    def key(self, topic):
        return self.prefix + "topic:" + topic

    def start_node(self):
        node = self.make_worker(extra_config=self.config)
        self.nodes.append(node)
        return node

    def start(self, count=3):
        nodes = [self.start_node() for _ in range(count)]
        self.wait_until_subscribed(len(self.nodes))
        return nodes

    def fill(self, count, name="filler"):
        """Registers `count` other topics with plain SETs, as a busy installation holds (one per session)."""
        commands = "".join(f"SET {self.key(f'{name}.{index}')} '{{\"require_token\":true}}' EX 600\n"
                           for index in range(count))
        result = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.redis.port)], input=commands,
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 0 and result.stdout.count("OK") == count, result.stdout[-500:] + result.stderr

    def wait_until_known(self, nodes, count, timeout=TIMEOUT):
        """Until every node's view holds at least `count` topics (its first SCANs are done)."""
        deadline = time.monotonic() + timeout
        while True:
            known = [status(node, topics=False)["registered_topics"] for node in nodes]
            if all(seen >= count for seen in known):
                return
            assert time.monotonic() < deadline, f"registered_topics {known}, expected at least {count}"
            time.sleep(POLL)  # the view fills in the background: no event to await

    def wait_until_subscribed(self, count, timeout=TIMEOUT):
        """Until `count` nodes listen on the events channel (and, for Swift nodes, the registry notices)."""
        channels = [self.events, self.prefix + "registry"]
        deadline = time.monotonic() + timeout
        while True:
            counts = [self.redis.numsub(channel) for channel in channels]
            if all(seen == count for seen in counts):
                return
            assert time.monotonic() < deadline, f"subscribers on {channels}: {counts}, expected {count}"
            time.sleep(POLL)  # polling Redis' own count: it sends no event when it changes

def unregister(node, topic):
    code, _, answer = request(node.internal_port, "POST", "/internal/unregister", json.dumps({"topic": topic}))
    assert code == 200, answer

async def nothing_more(ws, grace=GRACE):
    """Asserts that no message arrives within `grace` seconds."""
    try:
        message = await asyncio.wait_for(ws.recv(), grace)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected extra message: {message!r}")

def push(payload_text):
    return '{"type":"push","payload":' + payload_text + "}"

def seq_of(message):
    envelope = json.loads(message)
    assert envelope["type"] == "push", message
    return envelope["payload"]["seq"]

def wait_for(predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)  # polling a report: the node offers no event for it
    return True


# --- Pusher ----------------------------------------------------------------------------------------

PUSHER_APP_ID, PUSHER_KEY, PUSHER_SECRET = "1234", "app-key", "app-secret-0123"
PUSHER_OTHER_ID, PUSHER_OTHER_KEY, PUSHER_OTHER_SECRET = "5678", "other-key", "other-secret-0123"
PUSHER_APPS = f"""pusher_apps:
  - id: "{PUSHER_APP_ID}"
    key: {PUSHER_KEY}
    secret: {PUSHER_SECRET}
    enable_client_events: true
    max_presence_members: 3
  - id: "{PUSHER_OTHER_ID}"
    key: {PUSHER_OTHER_KEY}
    secret: {PUSHER_OTHER_SECRET}
"""
SOCKET_ID = re.compile(r'^\{"event":"pusher:connection_established","data":"\{\\"socket_id\\":\\"(\d+\.\d+)\\",\\"activity_timeout\\":30\}"\}$')


def sdk(worker, app_id=PUSHER_APP_ID, key=PUSHER_KEY, secret=PUSHER_SECRET):
    return pusher.Pusher(app_id=app_id, key=key, secret=secret, host="127.0.0.1", port=worker.ws_port, ssl=False)


class Socket:
    """A raw Pusher socket: every frame the server sends, as text, in order."""

    def __init__(self, ws, socket_id):
        self.ws, self.socket_id = ws, socket_id

    @classmethod
    async def open(cls, worker, key=PUSHER_KEY, protocol="7"):
        ws = await ws_connect(f"ws://127.0.0.1:{worker.ws_port}/app/{key}?protocol={protocol}&client=js&version=8.6.0",
                              ping_interval=None, compression=None, open_timeout=TIMEOUT)
        first = await recv(ws)
        match = SOCKET_ID.match(first)
        assert match, first
        return cls(ws, match.group(1))

    async def send(self, event, data, **extra):
        await self.ws.send(json.dumps({"event": event, "data": data, **extra}))

    async def next(self):
        return await recv(self.ws)

    async def subscribe(self, channel, auth="", channel_data=None):
        data = {"channel": channel, "auth": auth}
        if channel_data is not None:
            data["channel_data"] = channel_data
        await self.send("pusher:subscribe", data)
        return await self.next()

    async def close(self):
        await self.ws.close()


def auth_for(client, socket, channel, member=None):
    signed = client.authenticate(channel=channel, socket_id=socket.socket_id, custom_data=member)
    return signed["auth"], signed.get("channel_data")


def succeeded(channel, data="{}"):
    return '{"event":"pusher_internal:subscription_succeeded","channel":"' + channel + '","data":' + json.dumps(data) + "}"


async def closed_with(ws):
    try:
        while True:
            message = await recv(ws)
            if '"pusher:error"' not in message:
                raise AssertionError(f"expected an error and a close, got {message!r}")
            last = message
    except ConnectionClosed as closed:
        return last, closed.rcvd.code if closed.rcvd else None


def signed_request(worker, method, path, body=b"", key=PUSHER_KEY, secret=PUSHER_SECRET, timestamp=None, md5=None, tamper=None, extra=None):
    params = {"auth_key": key, "auth_timestamp": str(timestamp or int(time.time())), "auth_version": "1.0", **(extra or {})}
    params["body_md5"] = md5 if md5 is not None else hashlib.md5(body).hexdigest()
    query = "&".join(f"{k}={params[k]}" for k in sorted(params))
    signature = hmac.new(secret.encode(), f"{method}\n{path}\n{query}".encode(), hashlib.sha256).hexdigest()
    if tamper:
        signature = tamper(signature)
    code, _, answer = request(worker.ws_port, method, f"{path}?{query}&auth_signature={signature}",
                              body=body if method == "POST" else None, secret=None,
                              headers={"Content-Type": "application/json"})
    return code, json.loads(answer)
