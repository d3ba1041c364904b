"""TLS on the public and internal ports: real clients (websockets, httpx, httpx-sse, Python's ssl)
against a test CA, bad input on the TLS port, and certificates reloaded on SIGHUP."""
import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess

import httpx
import pytest

import chromium
from httpx_sse import connect_sse
from websockets.asyncio.client import connect as ws_connect

from conftest import SECRET, Worker
from helpers import (
    CertificateAuthority, AUTH_OK, PUSHER_APPS, PUSHER_KEY, TIMEOUT, auth_message, parse_logfmt, recv, token_for, wait_for, wait_for_log)

HANDSHAKE_TIMEOUT = "1s"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority(tmp_path_factory.mktemp("tls-ca"))


def tls_config(cert, key, internal=True):
    text = f'tls_cert_file: "{cert}"\ntls_key_file: "{key}"\ntls_handshake_timeout: {HANDSHAKE_TIMEOUT}\n'
    if internal:
        text += f'internal_tls_cert_file: "{cert}"\ninternal_tls_key_file: "{key}"\n'
    return text


@pytest.fixture
def tls_worker(ca, make_worker, tmp_path):
    cert, key = ca.issue("node")
    return make_worker(extra_config=tls_config(cert, key) + PUSHER_APPS)


def internal_client(ca, worker):
    return httpx.Client(base_url=f"https://127.0.0.1:{worker.internal_port}", verify=ca.client_context(),
                        headers={"X-Worker-Secret": SECRET}, timeout=TIMEOUT)


def register(ca, worker, topic):
    with internal_client(ca, worker) as client:
        answer = client.post("/internal/register", content=json.dumps({"topic": topic}))
        assert answer.status_code == 200, answer.text


def publish(ca, worker, topic, payload):
    with internal_client(ca, worker) as client:
        answer = client.post("/internal/publish", content=json.dumps({"topic": topic, "payload": payload}))
        assert answer.status_code == 200, answer.text


def tls_metrics(ca, worker):
    from prometheus_client.parser import text_string_to_metric_families
    with internal_client(ca, worker) as client:
        body = client.get("/metrics").text
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name.startswith("wavelog_tls"):
                samples[sample.labels.get("reason", "ok")] = sample.value
    return samples


def wss(worker, path):
    return f"wss://127.0.0.1:{worker.ws_port}{path}"


def peer_certificate_subject(ca, port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with ca.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
            return dict(item[0] for item in tls.getpeercert()["subject"])["commonName"]


def read_until_closed(sock):
    """Everything the server sends until it closes; fails if it does not close in TIMEOUT."""
    sock.settimeout(TIMEOUT)
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def client_hello():
    """The first flight of a real TLS client (Python's ssl over memory BIOs)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        connection.do_handshake()
    return outgoing.read()


# --- real clients ---------------------------------------------------------------------------------

def test_websocket_over_wss_gets_what_the_https_internal_api_publishes(ca, tls_worker):
    register(ca, tls_worker, "radio.1")

    async def scenario():
        async with ws_connect(wss(tls_worker, "/ws?topic=radio.1"), ssl=ca.client_context(), ping_interval=None,
                              open_timeout=TIMEOUT) as ws:
            await ws.send(auth_message(token_for("radio.1")))
            assert await recv(ws) == AUTH_OK
            large = "x" * 200_000  # many records, more than one write
            for index in range(300):
                await asyncio.to_thread(publish, ca, tls_worker, "radio.1", {"n": index, "pad": large if index == 150 else ""})
            for index in range(300):
                message = json.loads(await recv(ws))["payload"]
                assert message["n"] == index
                assert len(message["pad"]) == (200_000 if index == 150 else 0)

    asyncio.run(scenario())
    assert tls_metrics(ca, tls_worker)["ok"] >= 2


def test_server_sent_events_over_https(ca, tls_worker):
    register(ca, tls_worker, "radio.2")
    with httpx.Client(verify=ca.client_context(), timeout=TIMEOUT) as client:
        url = f"https://127.0.0.1:{tls_worker.ws_port}/sse?topic=radio.2&token={token_for('radio.2')}"
        with connect_sse(client, "GET", url) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            events = source.iter_sse()
            assert next(events).retry == 3000  # the stream's first event: it is subscribed
            publish(ca, tls_worker, "radio.2", {"band": "20m"})
            pushed = next(event for event in events if event.data)
            assert json.loads(pushed.data) == {"band": "20m"}


def test_pusher_protocol_over_wss(ca, tls_worker):
    async def scenario():
        async with ws_connect(wss(tls_worker, f"/app/{PUSHER_KEY}?protocol=7&client=js&version=8.4.0"), ssl=ca.client_context(),
                              ping_interval=None, open_timeout=TIMEOUT) as ws:
            established = json.loads(await recv(ws))
            assert established["event"] == "pusher:connection_established"
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "public-news"}}))
            assert json.loads(await recv(ws))["event"] == "pusher_internal:subscription_succeeded"
            await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
            assert json.loads(await recv(ws))["event"] == "pusher:pong"

    asyncio.run(scenario())


def test_alpn_selects_http_1_1_and_tls_1_3_is_served(ca, tls_worker):
    context = ca.client_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            assert tls.version() == "TLSv1.3"
    only_h2 = ca.client_context()
    only_h2.set_alpn_protocols(["h2"])
    only_h2.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as raw:
        with only_h2.wrap_socket(raw, server_hostname="localhost") as tls:
            # No common protocol: the handshake goes on without ALPN, as nginx's does.
            assert tls.selected_alpn_protocol() is None
            assert tls.version() == "TLSv1.2"
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_until_closed(tls).startswith(b"HTTP/1.1 200")


def test_an_rsa_certificate_is_served_too(ca, make_worker):
    cert, key = ca.issue("rsa-node", key_type="rsa")
    worker = make_worker(extra_config=tls_config(cert, key))
    assert peer_certificate_subject(ca, worker.ws_port) == "rsa-node"


# --- bad input ------------------------------------------------------------------------------------

def test_plain_http_to_the_tls_port_gets_a_plain_400(ca, tls_worker):
    with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /ws?topic=x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
    assert answer.endswith(b"use https:// or wss:// to reach it.\n")
    assert tls_metrics(ca, tls_worker)["plain_http"] == 1


def test_tls_1_0_and_1_1_are_refused(ca, tls_worker):
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca.cert)
        context.minimum_version = context.maximum_version = version
        context.set_ciphers("ALL:@SECLEVEL=0")
        with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as raw:
            with pytest.raises(ssl.SSLError):
                context.wrap_socket(raw, server_hostname="localhost")
    assert wait_for(lambda: tls_metrics(ca, tls_worker)["version"] == 2), tls_metrics(ca, tls_worker)


def test_random_bytes_are_closed_at_once(ca, tls_worker):
    with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as sock:
        sock.sendall(bytes([0x16, 0x03, 0x01, 0x00, 0x20]) + os.urandom(32))  # a handshake record of garbage
        read_until_closed(sock)
    with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as sock:
        sock.sendall(b"\x00" + os.urandom(600))
        read_until_closed(sock)
    assert wait_for(lambda: tls_metrics(ca, tls_worker)["protocol"] == 2), tls_metrics(ca, tls_worker)


def test_a_truncated_client_hello_and_a_silent_client_are_closed_at_the_deadline(ca, tls_worker):
    hello = client_hello()
    with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as truncated, \
            socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as silent:
        truncated.sendall(hello[: len(hello) // 2])
        assert read_until_closed(truncated) == b""
        assert read_until_closed(silent) == b""
    assert wait_for(lambda: tls_metrics(ca, tls_worker)["timeout"] == 2), tls_metrics(ca, tls_worker)


def test_a_client_hello_byte_by_byte_and_in_random_chunks_completes(ca, tls_worker):
    import random
    for chunking in ("bytes", "random"):
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        connection = ca.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
        with socket.create_connection(("127.0.0.1", tls_worker.ws_port), timeout=TIMEOUT) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                try:
                    connection.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pending = outgoing.read()
                    offset = 0
                    while offset < len(pending):
                        size = 1 if chunking == "bytes" else random.randint(1, 64)
                        sock.sendall(pending[offset:offset + size])
                        offset += size
                    incoming.write(sock.recv(65536))
            connection.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            sock.sendall(outgoing.read())
            answer = b""
            while b"\r\n\r\nok" not in answer:
                data = sock.recv(65536)
                assert data, answer
                incoming.write(data)
                try:
                    answer += connection.read(65536)
                except ssl.SSLWantReadError:
                    pass
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer


# --- configuration and reload ---------------------------------------------------------------------

def test_a_key_without_its_certificate_is_a_one_line_error(ca, tmp_path):
    cert, key = ca.issue("lonely")
    other_cert, _ = ca.issue("other")
    for extra, expected in (
        (f'tls_cert_file: "{cert}"\n', "tls_key_file: required with tls_cert_file"),
        (f'internal_tls_key_file: "{key}"\n', "internal_tls_cert_file: required with internal_tls_key_file"),
        (f'tls_cert_file: "{other_cert}"\ntls_key_file: "{key}"\n', "tls_key_file: "),
        (f'tls_cert_file: "{other_cert}"\ntls_key_file: "{key}"\n', "does not match the certificate"),
        (f'tls_cert_file: "{key}"\ntls_key_file: "{key}"\n', "tls_cert_file: "),
        (f'tls_cert_file: "{tmp_path}/missing.pem"\ntls_key_file: "{key}"\n', "is not a readable file"),
    ):
        config = tmp_path / "config.yaml"
        config.write_text(f'worker_secret: "{SECRET}"\nws_port: 0\ninternal_port: 0\n' + extra)
        from conftest import worker_binary
        result = subprocess.run([worker_binary(), "-config", str(config)], capture_output=True, text=True, timeout=TIMEOUT)
        assert result.returncode == 1, result
        # The log's "cannot start" line, then the one line for whoever started it.
        last = result.stderr.strip().splitlines()[-1]
        assert expected in last, result.stderr


def test_sighup_serves_a_new_certificate_to_new_connections_and_refuses_a_broken_pair(ca, make_worker, tmp_path):
    first_cert, first_key = ca.issue("first")
    second_cert, second_key = ca.issue("second")
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    live_cert.write_bytes(open(first_cert, "rb").read())
    live_key.write_bytes(open(first_key, "rb").read())
    worker = make_worker(extra_config=tls_config(live_cert, live_key, internal=False))
    from conftest import register as plain_register
    plain_register(worker.internal_port, "radio.3")
    assert peer_certificate_subject(ca, worker.ws_port) == "first"

    async def scenario():
        async with ws_connect(wss(worker, "/ws?topic=radio.3"), ssl=ca.client_context(), ping_interval=None,
                              open_timeout=TIMEOUT) as old:
            await old.send(auth_message(token_for("radio.3")))
            assert await recv(old) == AUTH_OK
            # A renewal: both files replaced, then the reload request.
            live_cert.write_bytes(open(second_cert, "rb").read())
            live_key.write_bytes(open(second_key, "rb").read())
            worker.process.send_signal(signal.SIGHUP)
            assert wait_for_log(worker, "tls certificate reloaded")
            assert peer_certificate_subject(ca, worker.ws_port) == "second"
            from helpers import publish as plain_publish
            plain_publish(worker, "radio.3", '{"after":"reload"}')
            assert json.loads(await recv(old))["payload"] == {"after": "reload"}
            # A broken pair (the key of another certificate): refused, the second one stays.
            live_key.write_bytes(open(first_key, "rb").read())
            worker.process.send_signal(signal.SIGHUP)
            refused = wait_for_log(worker, "tls certificate reload refused")
            assert refused and "does not match" in refused[0], worker.read_log()
            assert peer_certificate_subject(ca, worker.ws_port) == "second"
            plain_publish(worker, "radio.3", '{"still":"open"}')
            assert json.loads(await recv(old))["payload"] == {"still": "open"}

    asyncio.run(scenario())
    assert worker.process.poll() is None  # SIGHUP is not the end of the process


def test_a_renewal_in_place_is_served_without_a_signal(ca, make_worker, tmp_path):
    """certbot replaces the links in live/ with links to new files: the folder is watched."""
    first_cert, first_key = ca.issue("before-renewal")
    second_cert, second_key = ca.issue("after-renewal")
    live = tmp_path / "live"
    live.mkdir()
    os.symlink(first_cert, live / "fullchain.pem")
    os.symlink(first_key, live / "privkey.pem")
    worker = make_worker(extra_config=tls_config(live / "fullchain.pem", live / "privkey.pem", internal=False))
    assert peer_certificate_subject(ca, worker.ws_port) == "before-renewal"
    for target, name in ((second_cert, "fullchain.pem"), (second_key, "privkey.pem")):
        os.symlink(target, live / (name + ".new"))
        os.replace(live / (name + ".new"), live / name)
    assert wait_for_log(worker, "tls certificate reloaded"), worker.read_log()
    assert peer_certificate_subject(ca, worker.ws_port) == "after-renewal"


def test_the_listening_line_says_how_tls_runs(ca, tls_worker):
    line = next(line for line in tls_worker.read_log().splitlines() if "msg=listening" in line)
    fields = parse_logfmt(line)
    assert fields["tls"] == "openssl-userspace" and fields["internal_tls"] == "openssl-userspace"
    assert fields["config.tls"] == "on"


# --- a real browser -------------------------------------------------------------------------------

BROWSER_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wavelog-worker over TLS</title>
<script>
window.ws = {messages: [], errors: 0};
window.sse = {messages: [], opened: 0, errors: 0};
function start(wsUrl, sseUrl, token) {
  const socket = new WebSocket(wsUrl);
  socket.onopen = () => socket.send(JSON.stringify({type: "auth", token: token}));
  socket.onmessage = (event) => window.ws.messages.push(event.data);
  socket.onerror = () => { window.ws.errors += 1; };
  const source = new EventSource(sseUrl);
  source.onopen = () => { window.sse.opened += 1; };
  source.onerror = () => { window.sse.errors += 1; };
  source.addEventListener("push", (event) => window.sse.messages.push(event.data));
}
</script>
""".encode()


def test_chromium_websocket_and_event_source_on_wss_and_https_trusting_a_test_ca(ca, make_worker):
    reason = chromium.missing()
    if reason:
        pytest.skip(reason)
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    cert, key = ca.issue("browser-node")
    with chromium.page_server(BROWSER_PAGE) as origin:
        worker = make_worker(extra_config=tls_config(cert, key, internal=False) + f'allowed_origins:\n  - "{origin}"\n')
        from conftest import register as plain_register
        from helpers import publish as plain_publish
        plain_register(worker.internal_port, "browser.tls")
        token = token_for("browser.tls", user_id=1)
        urls = (f"wss://127.0.0.1:{worker.ws_port}/ws?topic=browser.tls",
                f"https://127.0.0.1:{worker.ws_port}/sse?topic=browser.tls&token={token}", token)

        def state(driver):
            return driver.execute_script("return {ws: window.ws, sse: window.sse};")

        def wait(driver, condition, what):
            try:
                WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(lambda d: condition(state(d)))
            except TimeoutException:
                pytest.fail(f"page never got {what}: {state(driver)}; console: {driver.get_log('browser')}")

        # Without the CA in its store the browser refuses both: the trust below is what works.
        with chromium.chromium() as untrusting:
            untrusting.get(origin + "/")
            untrusting.execute_script("start(arguments[0], arguments[1], arguments[2]);", *urls)
            wait(untrusting, lambda s: s["ws"]["errors"] >= 1 and s["sse"]["errors"] >= 1, "certificate errors")
        with chromium.chromium(trusting=ca.cert) as browser:
            browser.get(origin + "/")
            browser.execute_script("start(arguments[0], arguments[1], arguments[2]);", *urls)
            wait(browser, lambda s: s["ws"]["messages"] == [AUTH_OK] and s["sse"]["opened"] == 1, "both streams open")
            plain_publish(worker, "browser.tls", '{"over":"tls","text":"héllo ✓"}')
            wait(browser, lambda s: len(s["ws"]["messages"]) == 2 and len(s["sse"]["messages"]) == 1, "the push on both")
            pushed = state(browser)
            assert json.loads(pushed["ws"]["messages"][1])["payload"] == {"over": "tls", "text": "héllo ✓"}
            assert json.loads(pushed["sse"]["messages"][0]) == {"over": "tls", "text": "héllo ✓"}
            assert pushed["ws"]["errors"] == 0 and pushed["sse"]["errors"] == 0


# --- PHP's curl, as Wavelog's Worker library calls ------------------------------------------------

def test_php_curl_makes_the_worker_library_calls_over_https(ca, tls_worker):
    import shutil
    php = shutil.which("php")
    if php is None:
        pytest.fail("php is not installed; make test-deps installs php-cli and php-curl")
    script = os.path.join(os.path.dirname(__file__), "php", "worker_calls.php")
    url = f"https://127.0.0.1:{tls_worker.internal_port}"

    def calls(*arguments, payload):
        return subprocess.run([php, *arguments, script, url, SECRET, "php.tls", payload], capture_output=True, text=True, timeout=TIMEOUT)

    # Without the CA, curl refuses the certificate and nothing is registered.
    refused = calls(payload="{}")
    assert refused.returncode == 1 and "certificate" in refused.stderr, refused
    # The same calls with the CA in php.ini's curl.cainfo, as an administrator would set it.
    trusted = ("-d", f"curl.cainfo={ca.cert}")
    assert json.loads(calls(*trusted, payload="{}").stdout) == {"register": 200, "publish": 200}

    async def scenario():
        async with ws_connect(wss(tls_worker, "/ws?topic=php.tls"), ssl=ca.client_context(), ping_interval=None,
                              open_timeout=TIMEOUT) as ws:
            await ws.send(auth_message(token_for("php.tls")))
            assert await recv(ws) == AUTH_OK
            result = await asyncio.to_thread(calls, *trusted, payload='{"qso":{"call":"DL1ABC"}}')
            assert result.returncode == 0, result
            assert json.loads(await recv(ws))["payload"] == {"qso": {"call": "DL1ABC"}}

    asyncio.run(scenario())
