"""A real browser's EventSource against /sse: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by selenium. The page comes from another loopback port, so the
request is cross-origin and only arrives if the worker sends Access-Control-Allow-Origin.

Chromium is kept off every network but the loopback: an unresolvable-host rule and a proxy that
is a closed loopback port, with its background services switched off. Every wait is a bounded
WebDriverWait on the page's state or an awaited worker event."""
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from conftest import register
from helpers import AUTH_EXPIRED, mint, publish, token_for, wait_for_status

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT = 10

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason=f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium and chromium-driver; `make test-deps`)")

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wavelog-worker SSE</title>
<script>
window.received = [];
window.expired = [];
window.opened = 0;
window.errors = 0;
window.state = null;
function start(url) {
  const source = new EventSource(url);
  window.source = source;
  source.onopen = () => { window.opened += 1; };
  source.onerror = () => { window.errors += 1; window.state = source.readyState; };
  source.addEventListener("push", (event) => { window.received.push(event.data); });
  source.addEventListener("auth_expired", (event) => { window.expired.push(event.data); });
}
</script>
""".encode()


class PageHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def page_origin():
    """The test page on its own loopback port; its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(TIMEOUT)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="wavelog-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--user-data-dir={profile}",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
        "--disable-client-side-phishing-detection", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
        "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
        # Nothing but the loopback: no name resolves, and any non-loopback request goes to a closed local port.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=os.path.join(profile, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_script_timeout(TIMEOUT)
    driver.set_page_load_timeout(TIMEOUT)
    yield driver
    driver.quit()
    process = service.process
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(TIMEOUT)


def sse_url(instance, topic, token):
    return f"http://127.0.0.1:{instance.ws_port}/sse?topic={quote(topic, safe='')}&token={quote(token, safe='')}"


def page_value(driver, name):
    return driver.execute_script(f"return window.{name};")


def wait_until(driver, condition, timeout=TIMEOUT, what=""):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition())
    except TimeoutException:
        state = {name: page_value(driver, name) for name in ("opened", "errors", "state", "received", "expired")}
        pytest.fail(f"page never got {what}: {json.dumps(state, ensure_ascii=False)[:2000]}; console: {driver.get_log('browser')}")


PAYLOADS = [
    '"héllo wörld ✓ 😀"',
    r'"esc \u00e9 \"quoted\" \\ \/ \n"',
    '[1,\n 2]',
    '{\n"a": 1\n}',
    '{\n\t"k" :\n\n  [ "x" ,\n    "y" ]\n}',
    "null",
    "-1.5e+3",
    '{"nested":{"deep":[[[{"x":null}]]]}}',
]


def test_event_source_receives_every_push_exactly(make_worker, page_origin, browser):
    instance = make_worker(f'allowed_origins:\n  - "{page_origin}"\n')
    register(instance.internal_port, "browser.session")
    browser.get(page_origin + "/")
    browser.execute_script("start(arguments[0]);", sse_url(instance, "browser.session", token_for("browser.session", user_id=1)))
    wait_until(browser, lambda: page_value(browser, "opened") >= 1, what="open")
    report = wait_for_status(instance, lambda r: r["connected_sockets"] == 1)
    assert report["connected_sockets"] == 1
    for payload in PAYLOADS:
        publish(instance, "browser.session", payload)
    wait_until(browser, lambda: len(page_value(browser, "received")) >= len(PAYLOADS), what="every push")
    assert page_value(browser, "received") == PAYLOADS
    assert (page_value(browser, "opened"), page_value(browser, "errors")) == (1, 0)
    browser.execute_script("window.source.close();")
    assert wait_for_status(instance, lambda r: r["connected_sockets"] == 0)["connected_sockets"] == 0


def test_event_source_gets_auth_expired_and_a_reconnect_is_refused(make_worker, page_origin, browser):
    """The auth_expired event reaches the page; EventSource then reconnects (after `retry`) with the
    expired token, is answered 401 and stays closed."""
    instance = make_worker(f'allowed_origins:\n  - "{page_origin}"\nsse_retry: 500ms\n')
    register(instance.internal_port, "browser.expiring")
    expires = int(time.time()) + 2
    browser.get(page_origin + "/")
    browser.execute_script("start(arguments[0]);", sse_url(instance, "browser.expiring",
                                                            mint({"user_id": 1, "topic": "browser.expiring", "expires": expires})))
    wait_until(browser, lambda: page_value(browser, "opened") >= 1, what="open")
    wait_until(browser, lambda: len(page_value(browser, "expired")) >= 1, timeout=15, what="auth_expired")
    assert page_value(browser, "expired") == [AUTH_EXPIRED]
    assert time.time() >= expires
    wait_until(browser, lambda: page_value(browser, "state") == 2, what="a closed EventSource (readyState 2)")
    assert page_value(browser, "opened") == 1
    assert page_value(browser, "received") == []
