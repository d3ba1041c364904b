"""/sse behind nginx (Debian's nginx-light) as a reverse proxy, configured with the location block
the documentation shows (NGINX_LOCATION): pushes come through one by one as they are
published, unbuffered, and the worker logs the browser's address from X-Forwarded-For.

nginx runs in the foreground with its own prefix and configuration in a temporary directory
and is stopped by its PID."""
import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import register
from helpers import parse_logfmt, publish, token_for, wait_for_log
from transports import ACCEPTED, TIMEOUT, RawSSE, open_subscriber

NGINX = "/usr/sbin/nginx"

pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason=f"needs {NGINX} (Debian package nginx-light; `make test-deps`)")

# The documented example (docs): nginx in front of the worker's public port for /sse.
NGINX_LOCATION = """\
location /sse {
    proxy_pass http://127.0.0.1:WORKER_PORT;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_buffering off;
    proxy_read_timeout 1h;
}
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Nginx:
    def __init__(self, worker_port):
        self.dir = tempfile.mkdtemp(prefix="wavelog-nginx-")
        self.port = free_port()
        location = NGINX_LOCATION.replace("WORKER_PORT", str(worker_port))
        temp = "\n".join(f"    {name}_temp_path {self.dir}/{name}_temp;" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        config = (
            ("user root;\n" if os.geteuid() == 0 else "")
            + "worker_processes 1;\n"
            + "events { worker_connections 64; }\n"
            + "http {\n"
            + f"    access_log {self.dir}/access.log;\n{temp}\n"
            + f"    server {{\n        listen 127.0.0.1:{self.port};\n"
            + "\n".join("        " + line for line in location.splitlines()) + "\n"
            + "    }\n}\n")
        self.config_path = os.path.join(self.dir, "nginx.conf")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.process = subprocess.Popen(
            [NGINX, "-p", self.dir, "-c", self.config_path, "-g", f"daemon off; pid {self.dir}/nginx.pid; error_log stderr;"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited with {self.process.returncode}: {self.read_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT).close()
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not listen: " + self.read_log())
                time.sleep(0.02)  # polling for a port that has no event to await

    def read_log(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture
def proxied(worker):
    proxy = Nginx(worker.ws_port)
    yield worker, proxy
    assert proxy.stop() == 0, proxy.read_log()


def test_pushes_come_through_nginx_one_by_one_without_buffering(proxied):
    worker, proxy = proxied
    register(worker.internal_port, "proxied")
    payloads = ['"one"', '[1,\n 2]', '{"n":"é"}', '{\n"a": 1\n}', "null"]

    async def scenario():
        async with open_subscriber("sse", worker, "proxied", token_for("proxied", user_id=1), port=proxy.port,
                                   headers={"X-Forwarded-For": "203.0.113.50"}) as subscriber:
            assert await subscriber.outcome() == ACCEPTED
            assert subscriber.headers["content-type"] == "text/event-stream"
            # Each push must arrive before the next publish: a buffering proxy would sit on a
            # small event until more bytes came, and this await would time out.
            for payload in payloads:
                await asyncio.to_thread(publish, worker, "proxied", payload)
                assert await subscriber.next_push() == payload

    asyncio.run(scenario())
    lines = wait_for_log(worker, r'msg="client subscribed" .*topic=proxied( |$)')
    assert len(lines) == 1, lines
    # The proxy names the client by its own peer address: the header the client sent is not believed.
    assert parse_logfmt(lines[0])["ip"] == "127.0.0.1"


def test_the_raw_stream_through_nginx_is_flushed_block_by_block(proxied):
    """Through nginx the bytes of each event arrive as soon as it is published (read on a raw socket,
    nginx's chunked framing removed), and without an X-Forwarded-For from the client the logged
    ip is the one nginx adds."""
    worker, proxy = proxied
    register(worker.internal_port, "proxied.raw")
    stream = RawSSE(proxy.port, "/sse?topic=proxied.raw", {"Authorization": "Bearer " + token_for("proxied.raw", user_id=1)})
    try:
        assert stream.status == 200, stream.status_line
        assert stream.headers["content-type"] == "text/event-stream"
        body = b""
        chunked = stream.headers.get("transfer-encoding", "").lower() == "chunked"

        def read_event():
            nonlocal body
            while b"\n\n" not in body:
                if chunked:
                    size = int(stream.read_until(b"\r\n")[:-2].split(b";")[0], 16)
                    assert size > 0, "the stream ended"
                    body += stream.read_exactly(size)
                    assert stream.read_exactly(2) == b"\r\n"
                else:
                    stream._fill()
                    body, stream.buffer = body + stream.buffer, b""
            block, body = body.split(b"\n\n", 1)
            return block + b"\n\n"

        assert read_event() == b"retry: 3000\n\n"
        for index in range(3):
            publish(worker, "proxied.raw", f'[{index},\n "x"]')
            assert read_event() == f'event: push\ndata: [{index},\ndata:  "x"]\n\n'.encode()
    finally:
        stream.close()
    lines = wait_for_log(worker, r'msg="client subscribed" .*topic=proxied\.raw( |$)')
    assert len(lines) == 1 and parse_logfmt(lines[0])["ip"] == "127.0.0.1", lines
