"""Recovery in a real browser (headless Chromium, as in test_sse_browser.py): the reference
client `/client.js` over WebSocket and over SSE, and a plain `EventSource`, each cut off by a
proxy that drops every connection and refuses new ones while the test publishes, then lets
them through again. The page must show every published message exactly once, in order.

Every wait is a bounded WebDriverWait on the page's state or an awaited worker event."""
import json

import pytest

import chromium
from chromium import page_value
from conftest import register
from helpers import publish, token_for, wait_for_status
from netfaults import CuttableProxy

TIMEOUT = 15
HISTORY = 'history:\n  - {topics: "contest_session.*", size: 100, ttl: 5m}\nsse_retry: 300ms\n'

pytestmark = pytest.mark.skipif(chromium.missing() is not None, reason=chromium.missing() or "")

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wavelog-worker client.js</title>
<script>
window.received = [];
window.states = [];
window.resyncs = 0;
window.opened = 0;
window.errors = 0;
// The reference client, loaded from the worker (cross-origin: the worker sends CORS for it).
window.startClient = async (base, topic, token, transports) => {
  const { subscribe } = await import(base + "/client.js");
  window.subscription = subscribe({
    url: base, topic, transports, minDelay: 100, maxDelay: 400,
    token: () => token,
    onMessage: (payload, position) => window.received.push(payload),
    onResync: () => { window.resyncs += 1; },
    onState: (state, detail) => window.states.push([state, detail]),
  });
};
// A plain EventSource, which reconnects by itself with Last-Event-ID.
window.startEventSource = (url) => {
  const source = new EventSource(url);
  window.source = source;
  source.onopen = () => { window.opened += 1; };
  source.onerror = () => { window.errors += 1; };
  source.addEventListener("push", (event) => window.received.push(JSON.parse(event.data)));
  source.addEventListener("resync", () => { window.resyncs += 1; });
};
</script>
""".encode()


def wait_until(driver, condition, what, timeout=TIMEOUT):
    chromium.wait_until(driver, condition, what, ("received", "states", "resyncs", "opened", "errors"), timeout)


def opens(driver):
    return [detail for state, detail in page_value(driver, "states") if state == "open"]


def cut_off_and_back(driver, worker, proxy, topic, connections):
    """Publishes 1-5 live, cuts the link and publishes 6-10, lets it back, publishes 11; returns
    what the page received."""
    for number in range(1, 6):
        publish(worker, topic, json.dumps({"n": number}))
    wait_until(driver, lambda: len(page_value(driver, "received")) >= 5, "the live pushes")
    proxy.cut()
    wait_for_status(worker, lambda report: report["connected_sockets"] == 0)
    for number in range(6, 11):
        publish(worker, topic, json.dumps({"n": number}))
    proxy.restore()
    wait_for_status(worker, lambda report: report["connected_sockets"] == connections)
    wait_until(driver, lambda: len(page_value(driver, "received")) >= 10, "the missed pushes")
    publish(worker, topic, json.dumps({"n": 11}))
    wait_until(driver, lambda: len(page_value(driver, "received")) >= 11, "the next live push")
    return page_value(driver, "received")


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_the_reference_client_shows_every_message_once_after_its_connection_comes_back(make_worker, page_origin, browser, transport):
    worker = make_worker(HISTORY)
    topic = "contest_session.77"
    register(worker.internal_port, topic)
    proxy = CuttableProxy(worker.ws_port)
    try:
        base = f"http://127.0.0.1:{proxy.port}"
        browser.get(page_origin + "/")
        browser.execute_script("startClient(arguments[0], arguments[1], arguments[2], arguments[3]);",
                               base, topic, token_for(topic, user_id=1), [transport])
        wait_until(browser, lambda: len(opens(browser)) >= 1, "open")
        received = cut_off_and_back(browser, worker, proxy, topic, connections=1)
        assert received == [{"n": number} for number in range(1, 12)]
        assert page_value(browser, "resyncs") == 0
        assert all(detail["transport"] == transport for detail in opens(browser))
        if transport == "websocket":
            assert opens(browser)[-1]["recovered"] is True
        browser.execute_script("window.subscription.close();")
        wait_for_status(worker, lambda report: report["connected_sockets"] == 0)
    finally:
        proxy.close()


def test_the_reference_client_reports_a_resync_when_the_gap_is_too_old(make_worker, page_origin, browser):
    worker = make_worker('history:\n  - {topics: "contest_session.*", size: 2, ttl: 5m}\n')
    topic = "contest_session.78"
    register(worker.internal_port, topic)
    proxy = CuttableProxy(worker.ws_port)
    try:
        base = f"http://127.0.0.1:{proxy.port}"
        browser.get(page_origin + "/")
        browser.execute_script("startClient(arguments[0], arguments[1], arguments[2], arguments[3]);",
                               base, topic, token_for(topic, user_id=1), ["websocket"])
        wait_until(browser, lambda: len(opens(browser)) >= 1, "open")
        publish(worker, topic, '"first"')
        wait_until(browser, lambda: page_value(browser, "received") == ["first"], "the first push")
        proxy.cut()
        wait_for_status(worker, lambda report: report["connected_sockets"] == 0)
        for number in range(5):
            publish(worker, topic, json.dumps(number))
        proxy.restore()
        wait_until(browser, lambda: page_value(browser, "resyncs") == 1, "a resync")
        assert opens(browser)[-1]["recovered"] is False
        publish(worker, topic, '"after"')
        wait_until(browser, lambda: page_value(browser, "received")[-1:] == ["after"], "the next live push")
        assert page_value(browser, "received") == ["first", "after"]
    finally:
        proxy.close()


def test_a_plain_event_source_resumes_with_last_event_id_after_its_connection_comes_back(make_worker, page_origin, browser):
    worker = make_worker(HISTORY)
    topic = "contest_session.79"
    register(worker.internal_port, topic)
    proxy = CuttableProxy(worker.ws_port)
    try:
        browser.get(page_origin + "/")
        browser.execute_script("startEventSource(arguments[0]);",
                               f"http://127.0.0.1:{proxy.port}/sse?topic={topic}&token={token_for(topic, user_id=1)}")
        wait_until(browser, lambda: page_value(browser, "opened") >= 1, "open")
        received = cut_off_and_back(browser, worker, proxy, topic, connections=1)
        assert received == [{"n": number} for number in range(1, 12)]
        assert page_value(browser, "resyncs") == 0 and page_value(browser, "opened") >= 2
    finally:
        proxy.close()
