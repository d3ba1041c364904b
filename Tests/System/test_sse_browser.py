"""A real browser's EventSource against /sse: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by selenium. The page comes from another loopback port, so the
request is cross-origin and only arrives if the worker sends Access-Control-Allow-Origin.

Chromium is kept off every network but the loopback: an unresolvable-host rule and a proxy that
is a closed loopback port, with its background services switched off. Every wait is a bounded
WebDriverWait on the page's state or an awaited worker event."""
import time
from urllib.parse import quote

import pytest

import chromium
from chromium import page_value
from conftest import register
from helpers import AUTH_EXPIRED, mint, publish, token_for, wait_for_status

TIMEOUT = 10

pytestmark = pytest.mark.skipif(chromium.missing() is not None, reason=chromium.missing() or "")

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


def sse_url(instance, topic, token):
    return f"http://127.0.0.1:{instance.ws_port}/sse?topic={quote(topic, safe='')}&token={quote(token, safe='')}"


def wait_until(driver, condition, timeout=TIMEOUT, what=""):
    chromium.wait_until(driver, condition, what, ("opened", "errors", "state", "received", "expired"), timeout)


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
