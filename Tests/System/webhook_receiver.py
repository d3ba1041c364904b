"""A loopback webhook receiver: records every request, checks its signature, and answers as a
test tells it (200, a status once, or a hang until released)."""
import hashlib
import hmac
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import TIMEOUT


class Receiver:
    def __init__(self, secret, signature_header="X-Pusher-Signature", tls=None):
        self.secret = secret.encode()
        self.signature_header = signature_header
        self.requests = queue.Queue()
        self.answers = []          # statuses to answer next, in order; 200 once empty
        self.hang = None           # a threading.Event: requests wait for it while set here
        self.hanging = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    hang = receiver.hang
                receiver.requests.put((dict(self.headers), body, status))
                if hang is not None:
                    receiver.hanging.set()
                    hang.wait(TIMEOUT * 4)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # (certificate file, key file)
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        with self.lock:
            if self.hang is not None:
                self.hang.set()
        self.server.shutdown()
        self.server.server_close()

    def verified(self, headers, body):
        expected = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        return headers.get(self.signature_header) == expected

    def next(self, timeout=TIMEOUT):
        """The next request as (headers, parsed body, status answered); its signature checked."""
        headers, body, status = self.requests.get(timeout=timeout)
        assert self.verified(headers, body), (headers, body)
        assert headers.get("Content-Type") == "application/json"
        return headers, json.loads(body), status

    def events(self, count, timeout=TIMEOUT):
        """The next `count` events over however many requests carry them, with their requests' time_ms."""
        events = []
        while len(events) < count:
            _, body, _ = self.next(timeout)
            assert isinstance(body["time_ms"], int)
            events += body["events"]
        assert len(events) == count, events
        return events

    def events_until(self, predicate, timeout=TIMEOUT):
        """Events up to and including the first for which `predicate` holds."""
        events = []
        while not events or not predicate(events[-1]):
            _, body, _ = self.next(timeout)
            for event in body["events"]:
                if events and predicate(events[-1]):
                    raise AssertionError(f"events after the awaited one in the same request: {body!r}")
                events.append(event)
        return events

    def nothing_more(self, grace):
        try:
            headers, body, status = self.requests.get(timeout=grace)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected webhook: {body!r}")
