"""docs/protocol.md "Internal API" against the built binary, over raw HTTP."""
import json
import signal
import socket
import subprocess
import time

from conftest import SECRET, Worker, connect, read_response, register, request, worker_binary



def test_every_status_code_of_the_internal_api(worker):
    port = worker.internal_port
    assert request(port, "POST", "/internal/register", '{"topic":"session.42","meta":{"require_token":true}}')[:1] == (200,)
    assert request(port, "POST", "/internal/publish", '{"topic":"session.42","payload":{"a":1}}')[0] == 200
    assert request(port, "POST", "/internal/push", '{"topic":"session.42","payload":null}')[0] == 200
    assert request(port, "POST", "/internal/publish", '{"topic":"nope","payload":1}') [0::2] == (404, b"topic not registered\n")
    assert request(port, "POST", "/internal/publish", '{"payload":1}')[0::2] == (400, b"missing topic\n")
    assert request(port, "POST", "/internal/publish", '{"topic":"","payload":1}')[0::2] == (400, b"missing topic\n")
    assert request(port, "POST", "/internal/publish", '{"topic":"session.42"}')[0::2] == (400, b"missing payload\n")
    assert request(port, "POST", "/internal/publish", '[1,2]')[0::2] == (400, b"bad request\n")
    assert request(port, "POST", "/internal/publish", '{"topic":')[0::2] == (400, b"bad request\n")
    assert request(port, "POST", "/internal/publish", '{"topic":7,"payload":1}')[0::2] == (400, b"bad request\n")
    assert request(port, "POST", "/internal/register", '{"topic":"' + "x" * 257 + '"}')[0::2] == (400, b"bad request\n")
    assert request(port, "POST", "/internal/register", '{"topic":"a\\u0001b"}')[0::2] == (400, b"bad request\n")
    assert request(port, "POST", "/internal/register", '{"topic":"t","meta":{"require_token":"yes"}}')[0::2] == (400, b"bad request\n")
    assert request(port, "POST", "/internal/unregister", '{"topic":"never-registered"}')[0] == 200

    status, headers, body = request(port, "GET", "/internal/publish")
    assert (status, headers["allow"], body) == (405, "POST", b"method not allowed\n")
    status, headers, body = request(port, "POST", "/internal/status", "")
    assert (status, headers["allow"]) == (405, "GET")
    assert request(port, "POST", "/internal/publish", '{"topic":"session.42","payload":1}', secret=None)[0::2] == (403, b"forbidden\n")
    assert request(port, "POST", "/internal/publish", '{"topic":"session.42","payload":1}', secret="")[0::2] == (403, b"forbidden\n")
    assert request(port, "POST", "/internal/publish", '{"topic":"session.42","payload":1}', secret=SECRET + "x")[0] == 403
    # The method is checked before the secret.
    assert request(port, "GET", "/internal/register", secret=None)[0] == 405
    assert request(port, "GET", "/elsewhere")[0] == 404
    assert request(port, "POST", "/internal/publish", "x" * (1024 * 1024 + 1))[0::2] == (413, b"payload too large\n")
    status, _, _ = request(port, "GET", "/internal/status", headers={"X-Big": "y" * 17000})
    assert status == 431
    assert request(port, "POST", "/internal/publish", "x" * 1024 * 1024)[0] == 400  # exactly 1 MiB is read, not JSON


def test_error_bodies_are_plain_text(worker):
    status, headers, body = request(worker.internal_port, "POST", "/internal/publish", '{"payload":1}')
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body.endswith(b"\n")


def test_status_reports_topics_and_hides_lists_on_request(worker):
    port = worker.internal_port
    register(port, "session.7")
    status, headers, body = request(port, "GET", "/internal/status")
    assert status == 200 and headers["content-type"] == "application/json"
    report = json.loads(body)
    assert report["status"] == "ok"
    assert report["cluster_nodes"] == -1
    assert "session.7" in report["topic_list"]
    assert report["active_topic_list"] == []
    assert report["registered_topics"] == len(report["topic_list"])
    assert isinstance(report["uptime_seconds"], int) and report["uptime"].endswith("s")
    brief = json.loads(request(port, "GET", "/internal/status?topics=0")[2])
    assert "topic_list" not in brief and "active_topic_list" not in brief
    assert brief["registered_topics"] == report["registered_topics"]


def test_payload_bytes_are_accepted_exactly_as_sent(worker):
    port = worker.internal_port
    register(port, "t")
    for payload in ['{ "a" : [1, 2.50, "\\u00e9"] }', '"text"', "null", "[]", "-0.0e+1", '{"nested":{"deep":[[[]]]}}']:
        assert request(port, "POST", "/internal/publish", '{"topic":"t","payload":' + payload + '}')[0] == 200, payload


def test_keep_alive_serves_many_requests_on_one_connection(worker):
    sock = connect(worker.internal_port)
    register(worker.internal_port, "k")
    for index in range(50):
        status, _, _ = request(worker.internal_port, "POST", "/internal/publish", f'{{"topic":"k","payload":{index}}}', sock=sock)
        assert status == 200
    sock.close()


def test_pipelined_requests_are_answered_in_order(worker):
    register(worker.internal_port, "p")
    bodies = ['{"topic":"p","payload":1}', '{"topic":"missing","payload":1}', '{"payload":1}', '{"topic":"p","payload":2}']
    raw = b"".join(
        f"POST /internal/publish HTTP/1.1\r\nX-Worker-Secret: {SECRET}\r\nContent-Length: {len(b)}\r\n\r\n{b}".encode()
        for b in bodies)
    raw += f"GET /internal/status?topics=0 HTTP/1.1\r\nX-Worker-Secret: {SECRET}\r\n\r\n".encode()
    sock = connect(worker.internal_port)
    sock.sendall(raw)
    statuses = []
    leftover = b""
    for _ in range(5):
        status, _, _, leftover = read_response(sock, leftover)
        statuses.append(status)
    assert statuses == [200, 404, 400, 200, 200]
    sock.close()


def test_chunked_body_and_expect_continue(worker):
    port = worker.internal_port
    register(port, "c")
    sock = connect(port)
    body = b'{"topic":"c","payload":"' + b"z" * 3000 + b'"}'
    head = (f"POST /internal/publish HTTP/1.1\r\nX-Worker-Secret: {SECRET}\r\nTransfer-Encoding: chunked\r\n"
            "Expect: 100-continue\r\n\r\n").encode()
    sock.sendall(head)
    status, _, _, leftover = read_response(sock)
    assert status == 100  # answered before the body is sent, as curl waits for it
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 700]), body[i:i + 700]) for i in range(0, len(body), 700))
    sock.sendall(chunks + b"0\r\n\r\n")
    assert read_response(sock, leftover)[0] == 200
    sock.close()


def test_connection_close_is_honoured(worker):
    sock = connect(worker.internal_port)
    sock.sendall(f"GET /internal/status HTTP/1.1\r\nX-Worker-Secret: {SECRET}\r\nConnection: close\r\n\r\n".encode())
    status, headers, _, _ = read_response(sock)
    assert status == 200 and headers.get("connection") == "close"
    assert sock.recv(1) == b""  # the server closes
    sock.close()


def test_malformed_requests_get_400_and_a_close(worker):
    for raw in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                b"POST /internal/publish HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                b"POST /internal/publish HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
        sock = connect(worker.internal_port)
        sock.sendall(raw)
        status, headers, _, _ = read_response(sock)
        assert status == 400 and headers.get("connection") == "close", raw
        assert sock.recv(1) == b""
        sock.close()


def test_a_thousand_publishes_each_on_a_new_connection(worker):
    port = worker.internal_port
    register(port, "curl-style")
    for index in range(1000):
        assert request(port, "POST", "/internal/publish", f'{{"topic":"curl-style","payload":{index}}}')[0] == 200
    # Nothing is left behind: every connection was closed by the client and forgotten by the server.
    report = json.loads(request(port, "GET", "/internal/status?topics=0")[2])
    assert report["status"] == "ok"


def test_slow_loris_is_disconnected(worker):
    sock = connect(worker.internal_port, timeout=30)
    started = time.monotonic()
    sock.sendall(b"POST /internal/publish HTTP/1.1\r\nX-Worker-Secret: ")
    data = b""
    while True:  # trickle nothing more; the server must give up on us
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 25
    sock.close()


def test_public_port_answers_plain_http_before_an_upgrade(worker):
    register(worker.internal_port, "x")
    assert request(worker.ws_port, "GET", "/ws?topic=x", secret=None)[0::2] == (400, b"bad request\n")
    assert request(worker.ws_port, "GET", "/ws", secret=None)[0::2] == (400, b"missing topic\n")
    assert request(worker.ws_port, "GET", "/ws?topic=unknown", secret=None)[0::2] == (404, b"topic not registered\n")
    assert request(worker.ws_port, "GET", "/other", secret=None)[0] == 404


def test_sigterm_exits_zero_with_an_idle_keep_alive_connection_open(make_worker):
    instance = make_worker()
    sock = connect(instance.internal_port)
    status, _, _ = request(instance.internal_port, "GET", "/internal/status", sock=sock)
    assert status == 200
    started = time.monotonic()
    assert instance.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert sock.recv(1) == b""
    assert "msg=stopped" in instance.read_log()


def test_sigint_exits_zero(make_worker):
    assert make_worker().stop(signal.SIGINT) == 0


def test_configuration_errors_exit_non_zero_before_opening_ports(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = tmp_path / "bad.yaml"
    config.write_text(f'worker_secret: "short"\nws_port: {port}\n')
    result = subprocess.run([worker_binary(), "-config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip() == "config: worker_secret: must be at least 32 characters, got 5 (line 1, column 16)"
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # still free: nothing was opened


def test_check_config_and_version(tmp_path):
    config = tmp_path / "ok.yaml"
    config.write_text(f'worker_secret: "{SECRET}"\nsurprise: 1\n')
    result = subprocess.run([worker_binary(), "-check-config", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "unknown key \"surprise\"" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    version = subprocess.run([worker_binary(), "-version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and version.stdout.startswith("wavelog-worker ")


def test_port_in_use_is_one_clear_line(make_worker):
    first = make_worker()
    import tempfile, os
    config = os.path.join(tempfile.mkdtemp(), "c.yaml")
    with open(config, "w") as f:
        f.write(f'worker_secret: "{SECRET}"\ninternal_port: 0\nws_bind: "127.0.0.1"\nws_port: {first.internal_port}\n')
    # Both would set SO_REUSEPORT; the worker must still refuse to share a port with another process.
    result = subprocess.run([worker_binary(), "-config", config], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"bind(ws_bind/ws_port 127.0.0.1:{first.internal_port}): address already in use" in result.stderr


def test_readiness_extension_and_single_node_status_has_no_cluster_fields(worker):
    assert request(worker.internal_port, "GET", "/internal/ready")[0::2] == (200, b"ready\n")
    assert request(worker.internal_port, "GET", "/internal/ready", secret=None)[0] == 403
    assert request(worker.internal_port, "POST", "/internal/ready", "")[0] == 405
    report = json.loads(request(worker.internal_port, "GET", "/internal/status")[2])
    assert "cluster_connected" not in report and "cluster_unsent" not in report
