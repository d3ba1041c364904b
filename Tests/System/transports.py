"""One subscriber interface over the public port's two transports, WebSocket (/ws) and
Server-Sent Events (/sse), so one contract suite runs over both.

    async with open_subscriber(kind, instance, topic, token) as sub:
        assert await sub.outcome() == ACCEPTED          # or refusal(kind, "unauthorized"), ...
        payload = await sub.next_push()                   # the payload text exactly as received
        assert await sub.ended() == ending(kind, "auth_expired")

WebSocket goes through the `websockets` client, SSE through `httpx` + `httpx-sse` (a real
parser of the event stream: `data` is what an EventSource hands to a page). `RawSSE` is a
blocking socket client for the wire bytes and for a subscriber that never reads.

Every wait is bounded by TIMEOUT unless the caller gives another bound."""
import asyncio
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from helpers import AUTH_EXPIRED, AUTH_OK, AUTH_REQUIRED, RawWebSocket, UNAUTHORIZED, auth_message


TIMEOUT = 10  # seconds for any single awaited event
KINDS = ["websocket", "sse"]
PUSH_PREFIX = '{"type":"push","payload":'


@dataclass(frozen=True)
class Outcome:
    """What the server answered to a subscription attempt.

    refused: ("http", status, body text) for an answer before any stream or upgrade, or
    ("frame", error frame text, close code) for a WebSocket refused after the upgrade."""
    accepted: bool
    answer: tuple = ()


ACCEPTED = Outcome(True)

REFUSALS = {
    "websocket": {
        "auth_required": Outcome(False, ("frame", AUTH_REQUIRED, 1008)),
        "unauthorized": Outcome(False, ("frame", UNAUTHORIZED, 1008)),
        "not_registered": Outcome(False, ("http", 404, "topic not registered\n")),
    },
    "sse": {
        "auth_required": Outcome(False, ("http", 401, "auth required\n")),
        "unauthorized": Outcome(False, ("http", 401, "unauthorized\n")),
        "not_registered": Outcome(False, ("http", 404, "topic not registered\n")),
    },
}


def refusal(kind, reason):
    return REFUSALS[kind][reason]


@dataclass(frozen=True)
class Ending:
    """How a stream ended.

    how: "closed" (WebSocket: a close frame arrived; SSE: the server ended the body, i.e. closed
    the connection), "dropped" (WebSocket: TCP closed without a close frame), "reset" (SSE: a
    read error such as ECONNRESET). code: the WebSocket close code. error: the last error the
    server sent before the end (WebSocket: the error frame; SSE: the named event's data) and
    event: that SSE event's name. pushes: pushes that arrived while the end was awaited."""
    how: str
    code: int | None = None
    error: str | None = None
    event: str | None = None
    pushes: tuple = ()


ENDINGS = {
    "websocket": {
        "auth_expired": Ending("closed", code=1008, error=AUTH_EXPIRED),
        "shutdown": Ending("closed", code=1001),
    },
    "sse": {
        "auth_expired": Ending("closed", error=AUTH_EXPIRED, event="auth_expired"),
        "shutdown": Ending("closed"),
    },
}


def ending(kind, reason):
    return ENDINGS[kind][reason]


def topic_query(topic):
    return "topic=" + quote(topic, safe="")


class WebSocketSubscriber:
    """`token=None` sends `{"type":"auth"}` (no token); otherwise `{"type":"auth","token":...}`."""

    def __init__(self, instance, topic, token=None, port=None, headers=None, origin=None):
        self.url = f"ws://127.0.0.1:{port or instance.ws_port}/ws?{topic_query(topic)}"
        self.token, self.headers, self.origin = token, headers or {}, origin
        self.ws = None
        self.refused = None

    async def open(self):
        try:
            self.ws = await ws_connect(self.url, ping_interval=None, compression=None, max_size=None,
                                       open_timeout=TIMEOUT, close_timeout=TIMEOUT,
                                       additional_headers=self.headers, origin=self.origin)
        except InvalidStatus as refused:
            response = refused.response
            self.refused = Outcome(False, ("http", response.status_code, response.body.decode()))
            return
        await self.ws.send('{"type":"auth"}' if self.token is None else auth_message(self.token))

    async def outcome(self, timeout=TIMEOUT):
        if self.refused:
            return self.refused
        reply = await asyncio.wait_for(self.ws.recv(), timeout)
        if reply == AUTH_OK:
            return ACCEPTED
        end = await self.ended(timeout)
        assert end.how == "closed" and not end.pushes, f"after {reply!r}: {end}"
        return Outcome(False, ("frame", reply, end.code))

    async def next_push(self, timeout=TIMEOUT):
        frame = await asyncio.wait_for(self.ws.recv(decode=False), timeout)
        text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
        assert text.startswith(PUSH_PREFIX) and text.endswith("}"), f"not a push: {text[:200]!r}"
        return text[len(PUSH_PREFIX):-1]

    async def ended(self, timeout=TIMEOUT):
        pushes, error = [], None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    text = (await self.ws.recv(decode=False)).decode("utf-8")
                    if text.startswith(PUSH_PREFIX):
                        pushes.append(text[len(PUSH_PREFIX):-1])
                    else:
                        error = text
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return Ending("dropped", error=error, pushes=tuple(pushes))
            return Ending("closed", code=closed.rcvd.code, error=error, pushes=tuple(pushes))

    async def close(self):
        if self.ws is not None:
            await self.ws.close()


class SSESubscriber:
    """`token=None` sends no token; `token_in` is "header" (Authorization: Bearer) or "query". An empty
    token always goes in the query (`token=`): an empty Bearer credential is not a valid header value."""

    def __init__(self, instance, topic, token=None, port=None, headers=None, origin=None, token_in="header"):
        self.url = f"http://127.0.0.1:{port or instance.ws_port}/sse?{topic_query(topic)}"
        self.request_headers = dict(headers or {})
        if origin is not None:
            self.request_headers["Origin"] = origin
        if token is not None:
            if token_in == "header" and token:
                self.request_headers["Authorization"] = f"Bearer {token}"
            else:
                self.url += "&token=" + quote(token, safe="")
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT, read=None), trust_env=False)
        self.context = None
        self.response = None
        self.events = None
        self.retry = None

    @property
    def status_code(self):
        return self.response.status_code

    @property
    def headers(self):
        return self.response.headers

    async def open(self):
        self.context = aconnect_sse(self.client, "GET", self.url, headers=self.request_headers)
        source = await asyncio.wait_for(self.context.__aenter__(), TIMEOUT)
        self.response = source.response
        if self.response.status_code == 200:
            self.events = source.aiter_sse()

    async def _next_event(self, timeout):
        """The next event (comments are skipped by the parser); None at the end of the stream."""
        try:
            return await asyncio.wait_for(anext(self.events), timeout)
        except StopAsyncIteration:
            return None

    async def outcome(self, timeout=TIMEOUT):
        """ACCEPTED once the stream's first event, `retry:`, arrived; else the HTTP answer."""
        if self.response.status_code != 200:
            body = await asyncio.wait_for(self.response.aread(), timeout)
            return Outcome(False, ("http", self.response.status_code, body.decode()))
        first = await self._next_event(timeout)
        assert first is not None and (first.event, first.data, first.id) == ("message", "", "") and first.retry is not None, \
            f"the stream does not start with `retry:`: {first}"
        self.retry = first.retry
        return ACCEPTED

    async def next_push(self, timeout=TIMEOUT):
        event = await self._next_event(timeout)
        assert event is not None, "the stream ended instead of a push"
        assert event.event == "push", f"not a push: {event}"
        return event.data

    async def ended(self, timeout=TIMEOUT):
        pushes, error, name = [], None, None
        try:
            async with asyncio.timeout(timeout):
                while (event := await anext(self.events, None)) is not None:
                    if event.event == "push":
                        pushes.append(event.data)
                    else:
                        error, name = event.data, event.event
        except (httpx.ReadError, httpx.RemoteProtocolError):
            return Ending("reset", error=error, event=name, pushes=tuple(pushes))
        return Ending("closed", error=error, event=name, pushes=tuple(pushes))

    async def close(self):
        try:
            if self.events is not None:
                await self.events.aclose()
            if self.context is not None:
                await self.context.__aexit__(None, None, None)
        except (httpx.HTTPError, RuntimeError):
            pass  # the server already ended it
        await self.client.aclose()


SUBSCRIBERS = {"websocket": WebSocketSubscriber, "sse": SSESubscriber}


@asynccontextmanager
async def open_subscriber(kind, instance, topic, token=None, **options):
    """Connects (and for WebSocket sends the auth message); closes the subscriber on exit."""
    subscriber = SUBSCRIBERS[kind](instance, topic, token, **options)
    try:
        await subscriber.open()
        yield subscriber
    finally:
        await subscriber.close()


async def attempt(kind, instance, topic, token=None, **options):
    """The outcome of one subscription attempt; the subscriber is closed afterwards."""
    async with open_subscriber(kind, instance, topic, token, **options) as subscriber:
        return await subscriber.outcome()


# --- raw SSE -------------------------------------------------------------------------------------

class RawSSE:
    """A blocking HTTP/1.1 client for /sse whose reading the test controls, byte for byte."""

    def __init__(self, port, target, headers=None, method="GET", receive_buffer=None, timeout=TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self.read_until(b"\r\n\r\n")[:-4].decode("latin-1").split("\r\n")
        self.status_line = head[0]
        self.status = int(head[0].split(" ")[1])
        self.header_list = [tuple(part.strip() for part in line.split(":", 1)) for line in head[1:]]
        self.headers = {name.lower(): value for name, value in self.header_list}

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"closed; unread: {self.buffer[:200]!r}")
        self.buffer += chunk

    def read_until(self, delimiter):
        """The bytes up to and including `delimiter`."""
        while delimiter not in self.buffer:
            self._fill()
        data, self.buffer = self.buffer.split(delimiter, 1)
        return data + delimiter

    def read_block(self):
        """One SSE block: everything up to and including the blank line that ends it."""
        return self.read_until(b"\n\n")

    def read_exactly(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_to_end(self):
        """Everything until the server closes; (bytes, "eof" or "reset")."""
        try:
            while True:
                self._fill()
        except EOFError:
            how = "eof"
        except ConnectionResetError:
            how = "reset"
        data, self.buffer = self.buffer, b""
        return data, how

    def close(self):
        self.sock.close()


def parse_blocks(data):
    """Complete SSE blocks of a raw stream, as lists of lines; an unfinished last block is dropped."""
    blocks = data.split(b"\n\n")
    return [block.decode().split("\n") for block in blocks[:-1]]


def sse_push_data(lines):
    """The data of a `push` block (lines as parse_blocks gives them), else None."""
    if not lines or lines[0] != "event: push":
        return None
    assert all(line.startswith("data: ") or line == "data:" for line in lines[1:]), lines
    return "\n".join(line[6:] for line in lines[1:])


class StuckSubscriber:
    """A subscriber on a socket with a tiny receive buffer that stops reading once subscribed."""

    def __init__(self, kind, instance, topic, token, receive_buffer=4096):
        self.kind = kind
        if kind == "websocket":
            self.raw = RawWebSocket(instance, topic, receive_buffer=receive_buffer)
            self.raw.send_text(auth_message(token))
            assert self.raw.read_frame() == (0x1, AUTH_OK.encode())
        else:
            self.raw = RawSSE(instance.ws_port, f"/sse?{topic_query(topic)}", {"Authorization": f"Bearer {token}"},
                              receive_buffer=receive_buffer)
            assert self.raw.status == 200, self.raw.status_line
            assert self.raw.read_block().startswith(b"retry: ")

    def read_remaining_pushes(self):
        """Now reads: the pushes that still arrive before the end, and how it ended."""
        if self.kind == "websocket":
            seen, how = [], "eof"
            try:
                while True:
                    opcode, data = self.raw.read_frame()
                    if opcode == 0x8:
                        how = f"close {int.from_bytes(data[:2], 'big')}"
                        break
                    assert opcode == 0x1
                    text = data.decode()
                    assert text.startswith(PUSH_PREFIX), text[:200]
                    seen.append(text[len(PUSH_PREFIX):-1])
            except EOFError:
                pass
            except ConnectionResetError:
                how = "reset"
            return seen, how
        data, how = self.raw.read_to_end()
        pushes = [sse_push_data(block) for block in parse_blocks(data)]
        assert None not in pushes, "a block that is not a push"
        return pushes, how

    def close(self):
        self.raw.close()
