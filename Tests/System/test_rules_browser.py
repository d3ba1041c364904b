"""A browser page written for the Go worker, in headless Chromium, against a worker with every
topic rule, a history rule and a paced drain: it keeps working unchanged. The page uses the
protocol exactly as Wavelog's clients do (auth on open; `auth_ok`, `push`, `error` by type;
every other field ignored; a close is a close)."""
import json
import signal

import pytest

import chromium
from chromium import page_value, wait_until
from conftest import register, request
from helpers import token_for

pytestmark = pytest.mark.skipif(chromium.missing() is not None, reason=chromium.missing() or "")

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wavelog-worker rules</title>
<script>
window.pushes = {};
window.ready = {};
window.closes = {};
window.errors = [];
function watch(url, topic, token) {
  window.pushes[topic] = [];
  const ws = new WebSocket(url + "/ws?topic=" + encodeURIComponent(topic));
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: token })));
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    switch (message.type) {
      case "auth_ok": window.ready[topic] = true; break;
      case "push": window.pushes[topic].push(message.payload); break;
      case "error": window.errors.push(message.code); break;
    }
  });
  ws.addEventListener("close", (event) => { window.closes[topic] = event.code; });
}
</script>
""".encode()

CONFIG = ('topic_rules:\n  - {topics: "radio.*", latest_only: true}\n  - {topics: "contest_session.*", coalesce: 2s}\n'
          'history:\n  - {topics: "contest_session.kept*", size: 20, ttl: 5m}\n'
          'drain_period: 1s\n')
TOPICS = ("contest_session.1", "radio.1", "contest_session.kept1")
NAMES = ("pushes", "ready", "closes", "errors")


def batch(worker, topic, payloads):
    body = json.dumps([{"topic": topic, "payload": payload} for payload in payloads])
    assert request(worker.internal_port, "POST", "/internal/batch", body)[0] == 200


def test_a_go_worker_page_works_unchanged_with_every_rule(make_worker, page_origin, browser):
    worker = make_worker(f'allowed_origins:\n  - "{page_origin}"\n' + CONFIG)
    for topic in TOPICS:
        register(worker.internal_port, topic)
    browser.get(page_origin + "/")
    for topic in TOPICS:
        browser.execute_script("watch(arguments[0], arguments[1], arguments[2]);", f"ws://127.0.0.1:{worker.ws_port}", topic,
                               token_for(topic, user_id=1))
    wait_until(browser, lambda: len(page_value(browser, "ready")) == len(TOPICS), "auth_ok on every socket", NAMES)

    batch(worker, "contest_session.1", [{"n": n} for n in range(1, 11)])
    batch(worker, "radio.1", [{"f": 14074000 + n} for n in range(20)])
    batch(worker, "contest_session.kept1", [1, 2, 3])
    wait_until(browser, lambda: len(page_value(browser, "pushes")["contest_session.1"]) == 2, "the trailing push", NAMES)
    wait_until(browser, lambda: page_value(browser, "pushes")["radio.1"][-1:] == [{"f": 14074019}], "the last radio value", NAMES)
    wait_until(browser, lambda: len(page_value(browser, "pushes")["contest_session.kept1"]) == 3, "every kept push", NAMES)
    pushes = page_value(browser, "pushes")
    assert pushes["contest_session.1"] == [{"n": 1}, {"n": 10}]
    assert pushes["contest_session.kept1"] == [1, 2, 3]
    assert page_value(browser, "errors") == []

    worker.process.send_signal(signal.SIGTERM)
    wait_until(browser, lambda: len(page_value(browser, "closes")) == len(TOPICS), "a close on every socket", NAMES)
    assert set(page_value(browser, "closes").values()) == {1012}
    assert worker.process.wait(timeout=10) == 0
