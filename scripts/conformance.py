#!/usr/bin/env python3
"""Autobahn TestSuite cases (through kosoku) against the worker's WebSocket adapter in echo mode.

Usage: [WAVELOG_IO_BACKEND=uring|epoll|poll] conformance.py WORKER_BINARY [--tls] [--cases 1.* 2.* ...]
With --tls, the echo server runs TLS on a certificate made for the run, and the suite's client
(which speaks plain WebSocket) reaches it through a TLS proxy of this script's own.
Prints a table of verdicts per section and the ids of failed cases; exits 1 on any FAILED or
ERROR verdict. Sections 12 and 13 (permessage-deflate) take most of the run's time: the client
compresses a thousand messages per case."""
import argparse
import asyncio
import collections
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from kosoku import FailureError, run_fuzzingclient

SECTIONS = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*", "12.*", "13.*"]


def start_echo(binary, tls=None):
    environment = dict(os.environ)
    if tls:
        environment["WAVELOG_TLS_CERT_FILE"], environment["WAVELOG_TLS_KEY_FILE"] = tls
    process = subprocess.Popen([binary, "-echo-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    line = process.stdout.readline()
    match = re.search(r":(\d+) tls=\w+ io_backend=(\w+)$", line.strip())
    if not match:
        process.kill()
        sys.exit(f"echo server did not start: {line!r}")
    return process, int(match.group(1)), match.group(2)


def tls_files(directory):
    """A self-signed certificate and key for 127.0.0.1, made for this run."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=conformance", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class TLSOrigin:
    """A loopback proxy of the run's own: the suite's client speaks plain WebSocket to it, and it
    speaks TLS to the echo server (verifying its certificate), so every case crosses the
    worker's TLS layer. Its own thread and event loop, apart from the client's."""

    def __init__(self, port, cert):
        self.context = ssl.create_default_context(cafile=cert)
        self.target = port
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            sys.exit("TLS proxy did not start")

    def _run(self):
        self.loop = asyncio.new_event_loop()
        server = self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _relay(self, client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target, ssl=self.context)
        except (OSError, ssl.SSLError):
            client_writer.close()
            return

        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def run(port, cases):
    try:
        return await run_fuzzingclient(f"ws://127.0.0.1:{port}", cases=cases, concurrency=2)
    except FailureError as failure:
        return failure.results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--cases", nargs="*", default=SECTIONS)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="wavelog-conformance-")
    tls = tls_files(directory) if args.tls else None
    process, port, backend = start_echo(args.binary, tls)
    proxy = TLSOrigin(port, tls[0]) if tls else None
    started = time.monotonic()
    try:
        results = asyncio.run(run(proxy.port if proxy else port, args.cases))
    finally:
        if proxy:
            proxy.stop()
        process.terminate()
        process.wait(timeout=20)
    if tls:
        backend += " over TLS"

    table = collections.defaultdict(collections.Counter)
    bad = []
    for result in results:
        section = result.case_id.split(".")[0]
        verdict = result.behavior.value
        close = result.behavior_close.value
        table[section][verdict] += 1
        if verdict in ("FAILED", "ERROR") or close in ("FAILED", "FAILED_BY_CLIENT", "UNCLEAN", "WRONG CODE", "WRONG_CODE"):
            if verdict not in ("INFORMATIONAL", "UNIMPLEMENTED") or close not in ("INFORMATIONAL",):
                bad.append(f"{result.case_id} ({verdict}, close {close}): {result.result} {result.result_close}".rstrip())

    verdicts = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR"]
    print(f"{'section':<8}" + "".join(f"{v:>15}" for v in verdicts))
    for section in sorted(table, key=int):
        print(f"{section:<8}" + "".join(f"{table[section][v]:>15}" for v in verdicts))
    total = sum(sum(counter.values()) for counter in table.values())
    print(f"{total} cases in {time.monotonic() - started:.1f}s on io_backend={backend}")
    if bad:
        print("failed:\n  " + "\n  ".join(bad))
        sys.exit(1)
    print("conformance: no FAILED case")


if __name__ == "__main__":
    main()
