"""Paced drain (docs/protocol.md "Browser endpoint (WebSocket)", rule 8): on SIGTERM the node
stops taking subscribers, answers its readiness probes 503, and closes its sockets spread over
`drain_period` in random order with close 1012, so their reconnects spread too; a second SIGTERM
closes the rest at once."""
import asyncio
import signal
import time

from conftest import SECRET, register, request
from helpers import TIMEOUT, publish, push, subscribe, wait_for_log

CLIENTS = 1000


async def open_all(worker, topic, count):
    sockets = []
    for start in range(0, count, 100):
        sockets += await asyncio.gather(*(subscribe(worker, topic) for _ in range(start, min(count, start + 100))))
    return sockets


async def close_time(ws, timeout):
    """(monotonic time the close arrived, its code, pushes seen before it)."""
    pushes = []
    try:
        while True:
            pushes.append(await asyncio.wait_for(ws.recv(), timeout))
    except asyncio.TimeoutError:
        return time.monotonic(), "still open", pushes
    except Exception as ended:  # ConnectionClosed, with the server's close frame
        received = getattr(ended, "rcvd", None)
        return time.monotonic(), received.code if received else None, pushes


async def close_and_come_back(ws, timeout, other, topic):
    """As Wavelog's pages do: on a close, wait 1 s and reconnect (here to the other node).
    Returns (close time, close code, pushes before it, time the new socket was subscribed)."""
    closed_at, code, pushes = await close_time(ws, timeout)
    await asyncio.sleep(1)  # the client's own retry delay, part of the scenario
    again = await subscribe(other, topic)
    back_at = time.monotonic()
    await again.close()
    return closed_at, code, pushes, back_at


def test_a_paced_drain_spreads_1012_closes_over_the_period_and_keeps_serving_the_rest(make_worker):
    worker = make_worker("drain_period: 3s\ndrain_timeout: 10s\n")
    other = make_worker()
    register(worker.internal_port, "drain.1")
    register(other.internal_port, "drain.1")

    async def scenario():
        sockets = await open_all(worker, "drain.1", CLIENTS)
        watchers = [asyncio.create_task(close_and_come_back(ws, TIMEOUT + 10, other, "drain.1")) for ws in sockets]
        worker.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(wait_for_log, worker, r'msg="shutting down"')
        # Draining: not ready, and no new subscriber; the backend still publishes to the rest.
        status, _, body = await asyncio.to_thread(request, worker.internal_port, "GET", "/readyz", None, None)
        assert (status, body) == (503, b"shutting down\n")
        status, _, body = await asyncio.to_thread(request, worker.internal_port, "GET", "/internal/ready", None, SECRET)
        assert (status, body) == (503, b"shutting down\n")
        await asyncio.to_thread(publish, worker, "drain.1", '"while draining"')
        return await asyncio.gather(*watchers)

    ends = asyncio.run(scenario())
    assert worker.process.wait(timeout=TIMEOUT) == 0
    assert {code for _, code, _, _ in ends} == {1012}
    # Every client came back, on the other node (how the reconnects spread in time is
    # bench/topic_rules.py's figure, not a test's).
    assert len([back for _, _, _, back in ends if back is not None]) == CLIENTS
    # Paced, not at once: the first slice closed before the publish, the rest after it, so
    # some sockets got it and some did not.
    got = [pushes == [push('"while draining"')] for _, _, pushes, _ in ends]
    assert 0 < sum(got) < CLIENTS
    assert all(pushes in ([], [push('"while draining"')]) for _, _, pushes, _ in ends)


def test_a_second_sigterm_closes_the_rest_at_once(make_worker):
    worker = make_worker("drain_period: 60s\ndrain_timeout: 60s\n")
    register(worker.internal_port, "drain.2")

    async def scenario():
        sockets = await open_all(worker, "drain.2", 200)
        watchers = [asyncio.create_task(close_time(ws, 30)) for ws in sockets]
        worker.process.send_signal(signal.SIGTERM)
        # The first slice of a 60 s drain closes one socket or two; wait for the first.
        await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        worker.process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*watchers)

    ends = asyncio.run(scenario())
    assert worker.process.wait(timeout=TIMEOUT) == 0
    # Every socket got its 1012 at once, not 60 s of pacing later (the watchers give up after 30 s).
    assert [code for _, code, _ in ends] == [1012] * 200
    assert wait_for_log(worker, r'msg="second signal: closing the rest at once"')
