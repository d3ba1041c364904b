"""Token refresh in band (docs/protocol.md "Browser endpoint (WebSocket)", rule 10): a
subscribed socket sends a new auth message; a valid token for its topic and user moves the
expiry, anything else is refused with the socket kept on its old expiry."""
import asyncio
import time

from conftest import register
from helpers import (AUTH_EXPIRED, AUTH_OK, UNAUTHORIZED, auth_message, close_code, metrics, mint, nothing_more, publish, push,
                     recv, subscribe, token_for)


def short_token(topic, user_id=5, seconds=1):
    return mint({"user_id": user_id, "topic": topic, "expires": int(time.time()) + seconds})


def flip_last(token):
    return token[:-1] + ("0" if token[-1] != "0" else "1")


def test_a_good_token_moves_the_expiry(worker):
    register(worker.internal_port, "refresh.1")

    async def scenario():
        ws = await subscribe(worker, "refresh.1", token=short_token("refresh.1"))
        await ws.send(auth_message(token_for("refresh.1", user_id=5)))
        assert await recv(ws) == AUTH_OK
        # The first token's expiry passes (the check runs every second): the socket stays.
        await nothing_more(ws, grace=3)
        publish(worker, "refresh.1", '"still here"')
        assert await recv(ws) == push('"still here"')
        await ws.close()

    asyncio.run(scenario())


def test_refused_refreshes_keep_the_socket_on_its_old_expiry(worker):
    register(worker.internal_port, "refresh.2")
    register(worker.internal_port, "refresh.3")

    async def scenario():
        ws = await subscribe(worker, "refresh.2", token=short_token("refresh.2", seconds=3))
        refused = [
            token_for("refresh.3", user_id=5),                                                   # another topic
            mint({"user_id": 5, "topic": "refresh.2", "expires": int(time.time()) - 5}),        # expired
            flip_last(token_for("refresh.2", user_id=5)),                                         # bad signature
            token_for("refresh.2", user_id=6),                                                   # another user
        ]
        for token in refused:
            await ws.send(auth_message(token))
            assert await recv(ws) == UNAUTHORIZED
        publish(worker, "refresh.2", "1")
        assert await recv(ws) == push("1")  # still subscribed after every refusal
        # ... and still on its first expiry.
        assert await recv(ws, timeout=10) == AUTH_EXPIRED
        assert await close_code(ws) == 1008

    asyncio.run(scenario())
    counted = metrics(worker)
    assert counted[("wavelog_token_refreshes_total", (("outcome", "refused"),))] == 4
    assert counted[("wavelog_token_refreshes_total", (("outcome", "ok"),))] == 0
