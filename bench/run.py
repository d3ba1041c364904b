#!/usr/bin/env python3
"""`make bench`: every benchmark scenario against wavelog-worker and nginx+nchan in one run.

Each server is started afresh per scenario and pinned with taskset to CPU 0; the load generator
(wavelog-load, one epoll loop) runs on CPU 1 and reads the server's CPU time and memory from
/proc. Figures are server CPU time divided by the work done, so the ratio ours/nchan is what
counts on a shared, noisy machine; each cell is the median of --runs runs.

Usage: bench/run.py [--runs N] [--only NAME,...] [--bin DIR] [--json FILE] [--baseline BINARY]
                    [--io-backend NAME] [--baseline-io-backend NAME] [--max-steal PERCENT] [--steal-retries N]

--baseline runs an older wavelog-worker binary in the same run as a third column, so an
optimisation's effect is a ratio measured under the same noise. --baseline-io-backend runs the
baseline (this build, without --baseline) with another `io_backend`: `--io-backend uring
--baseline-io-backend epoll` compares the two pollers.

On a virtual machine the host may take CPU time from it ("steal", read from /proc/stat by the
generator): a run during which it took more than --max-steal % (5) is repeated, up to
--steal-retries times (2), and each scenario prints the median steal of the runs it kept.

Each scenario also prints the share of each server's CPU time spent in the kernel (from the
user and system ticks of /proc/PID/task/*/stat): the part a server's own code cannot reach.
"""
import argparse
import http.client
import json
import re
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "bench-secret-0123456789abcdef0123456789"
SERVER_CPU, CLIENT_CPU = "0", "1"

# name, load generator flags, the figures that scenario is about.
SCENARIOS = [
    ("idle-10k", "--mode connect --topics 1000 --subscribers 10",
     ["cpu_us_per_connection", "rss_kib_per_connection"]),
    # The handshake alone: nchan's whole set-up, the worker's without its auth round trip (for
    # nchan the same as idle-10k). The worker closes these sockets at auth_timeout, after the
    # figure is taken.
    ("handshake-10k", "--mode connect --topics 1000 --subscribers 10 --no-auth",
     ["cpu_us_per_connection"]),
    ("fanout-1x1000", "--mode fanout --topics 1 --subscribers 1000 --seconds 5",
     ["deliveries_per_s", "cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "latency_max_us", "lost"]),
    ("fanout-1x10000", "--mode fanout --topics 1 --subscribers 10000 --seconds 5",
     ["deliveries_per_s", "cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "latency_max_us", "lost"]),
    ("latency-1x10000-3/s", "--mode fanout --topics 1 --subscribers 10000 --rate 3 --seconds 10",
     ["cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "latency_max_us", "lost"]),
    ("fanout-1000x10", "--mode fanout --topics 1000 --subscribers 10 --seconds 5",
     ["deliveries_per_s", "cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "latency_max_us", "lost"]),
    # Publish-to-receive at a light load spread over many topics: the latency tail, not throughput.
    ("latency-1000x10-200/s", "--mode fanout --topics 1000 --subscribers 10 --rate 200 --seconds 10",
     ["latency_p50_us", "latency_p99_us", "latency_max_us", "lost"]),
    # Server-Sent Events: the worker's /sse against nchan's EventSource subscriber.
    ("sse-idle-10k", "--mode connect --transport sse --topics 1000 --subscribers 10",
     ["cpu_us_per_connection", "rss_kib_per_connection"]),
    ("sse-fanout-1x10000", "--mode fanout --transport sse --topics 1 --subscribers 10000 --seconds 5",
     ["deliveries_per_s", "cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "latency_max_us", "lost"]),
    # permessage-deflate: a 2 KiB radio-status payload, plain and compressed (nchan deflating each
    # message once at publish, nchan_deflate_message_for_websocket), and idle compressed sockets.
    ("radio-fanout-1x10000", "--mode fanout --topics 1 --subscribers 10000 --seconds 5 --radio-payload --payload-bytes 2048",
     ["cpu_us_per_delivery", "wire_bytes_per_delivery", "latency_p99_us", "lost"]),
    ("deflate-fanout-1x10000", "--mode fanout --topics 1 --subscribers 10000 --seconds 5 --radio-payload --payload-bytes 2048 --deflate",
     ["cpu_us_per_delivery", "wire_bytes_per_delivery", "latency_p99_us", "lost", "compressed_deliveries"]),
    # The same at 20 publishes/s: every push is its own write, so CPU per delivery is the server's
    # work per delivery, not how the generator's reading pace batches writes at full speed.
    ("radio-1x10000-20/s", "--mode fanout --topics 1 --subscribers 10000 --rate 20 --seconds 5 --radio-payload --payload-bytes 2048",
     ["cpu_us_per_delivery", "wire_bytes_per_delivery", "latency_p50_us", "latency_p99_us", "lost"]),
    ("deflate-1x10000-20/s", "--mode fanout --topics 1 --subscribers 10000 --rate 20 --seconds 5 --radio-payload --payload-bytes 2048 --deflate",
     ["cpu_us_per_delivery", "wire_bytes_per_delivery", "latency_p50_us", "latency_p99_us", "lost"]),
    ("deflate-idle-10k", "--mode connect --topics 1000 --subscribers 10 --deflate",
     ["cpu_us_per_connection", "rss_kib_per_connection"]),
    # TLS on the server (subscribers on wss://, publishers on plain HTTP): nginx terminating it
    # in front of nchan is what most users would pick instead. A set-up is a full handshake
    # (no resumption); --rsa serves an RSA 2048 certificate instead of ECDSA P-256.
    ("tls-handshake-10k", "--mode connect --topics 1000 --subscribers 10 --no-auth --tls",
     ["cpu_us_per_connection"]),
    ("tls-rsa-handshake-10k", "--mode connect --topics 1000 --subscribers 10 --no-auth --tls --rsa",
     ["cpu_us_per_connection"]),
    ("tls-idle-10k", "--mode connect --topics 1000 --subscribers 10 --tls",
     ["cpu_us_per_connection", "rss_kib_per_connection"]),
    ("tls-fanout-1x10000", "--mode fanout --topics 1 --subscribers 10000 --seconds 5 --tls",
     ["deliveries_per_s", "cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "lost"]),
    ("publish-keepalive", "--mode publish --publishers 4 --seconds 5",
     ["requests_per_s", "cpu_us_per_request"]),
    # One publisher at a time, as one PHP request publishes: every request is a turn of its own.
    ("publish-keepalive-1", "--mode publish --publishers 1 --seconds 5",
     ["requests_per_s", "cpu_us_per_request"]),
    ("publish-new-connection", "--mode publish --publishers 4 --new-connection --seconds 5",
     ["requests_per_s", "cpu_us_per_request"]),
]
LOWER_IS_BETTER = {"cpu_us_per_connection", "rss_kib_per_connection", "cpu_us_per_delivery", "cpu_us_per_request", "wire_bytes_per_delivery",
                   "latency_p50_us", "latency_p99_us", "latency_max_us", "lost"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, process, what):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} is not listening on {port}")


class Server:
    """A started server: the PIDs whose CPU is measured, its ports, and how to stop it."""

    def __init__(self, process, measured, ws_port, http_port, directory):
        self.process, self.measured, self.ws_port, self.http_port = process, measured, ws_port, http_port
        self.directory = directory

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def certificate(directory, rsa=False):
    """A self-signed certificate for 127.0.0.1 and its key, ECDSA P-256 or RSA 2048."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    kind = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    subprocess.run(["openssl", "req", "-x509", *kind, "-nodes", "-days", "1", "-subj", "/CN=bench",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def start_worker(binary, cpus=SERVER_CPU, threads=1, extra=""):
    directory = tempfile.mkdtemp(prefix="bench-worker-")
    ws, internal = free_port(), free_port()
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as f:
        f.write(f'worker_secret: "{SECRET}"\nws_port: {ws}\nws_bind: "127.0.0.1"\ninternal_port: {internal}\n'
                f"threads: {threads}\nlog_level: warning\nmax_connections: 19000\n{extra}")
    log = open(os.path.join(directory, "log"), "w")
    process = subprocess.Popen(["taskset", "-c", cpus, binary, "-config", config], stdout=log, stderr=log)
    wait_listening(ws, process, "wavelog-worker")
    wait_listening(internal, process, "wavelog-worker")
    return Server(process, [process.pid], ws, internal, directory)


def start_nchan(cpus=SERVER_CPU, extra_http="", extra_publisher="", tls=None):
    """`tls` (certificate, key): subscribers get a TLS port of their own (the server's ws_port)."""
    directory = tempfile.mkdtemp(prefix="bench-nchan-")
    port = free_port()
    tls_port = free_port() if tls else port
    # nginx's defaults otherwise (session tickets on, as the worker's; no shared cache).
    tls_lines = (f"listen 127.0.0.1:{tls_port} ssl backlog=4096; ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]}; "
                 "ssl_protocols TLSv1.2 TLSv1.3;") if tls else ""
    template = open(os.path.join(HERE, "nchan.conf")).read()
    config = (template.replace("@PORT@", str(port)).replace("@DIR@", directory).replace("@HTTP@", extra_http)
              .replace("@PUBLISHER@", extra_publisher).replace("@TLS@", tls_lines))
    path = os.path.join(directory, "nginx.conf")
    open(path, "w").write(config)
    log = open(os.path.join(directory, "stderr"), "w")
    process = subprocess.Popen(["taskset", "-c", cpus, "nginx", "-c", path, "-e", os.path.join(directory, "error.log")],
                               stdout=log, stderr=log)
    wait_listening(port, process, "nginx")
    workers = []
    deadline = time.monotonic() + 10
    while not workers and time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout
        workers = [int(pid) for pid in out.split()]
        time.sleep(0.02)
    if not workers:
        raise RuntimeError("nginx has no worker process")
    if tls:
        wait_listening(tls_port, process, "nginx")
    return Server(process, workers, tls_port, port, directory)


def load(bindir, server, dialect, flags):
    command = ["taskset", "-c", CLIENT_CPU, os.path.join(bindir, "wavelog-load"), "--dialect", dialect,
               "--ws-port", str(server.ws_port), "--http-port", str(server.http_port), "--secret", SECRET]
    for pid in server.measured:
        command += ["--pid", str(pid)]
    result = subprocess.run(command + flags.split(), capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and not result.stdout.strip():
        raise RuntimeError(f"wavelog-load failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def median_report(reports):
    merged = dict(reports[0])
    for key, value in reports[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = statistics.median(report[key] for report in reports)
    merged["lost"] = sum(report["lost"] for report in reports)  # loss is never averaged away
    merged["closed_1013"] = sum(report["closed_by_server"].get("1013", 0) for report in reports)
    return merged


# A run during which the hypervisor took more than `max` % of the CPU time (steal, which turns
# into CPU time and latency the servers did not cause) is repeated up to `retries` times.
STEAL = {"max": 5.0, "retries": 2}

# `io_backend` lines for the worker's and the baseline's configuration (set from the command line).
BACKENDS = {"worker": "", "baseline": ""}


def run_scenario(bindir, flags, runs, baseline=None):
    """Runs alternate between the servers, so a burst of noise does not land on one of them."""
    binaries = {"worker": os.path.join(bindir, "wavelog-worker"), "baseline": baseline}
    targets = ["worker", "nchan"] + (["baseline"] if baseline else [])
    reports = {target: [] for target in targets}
    tls, worker_tls = None, ""
    if "--tls" in flags:
        tls = certificate(tempfile.mkdtemp(prefix="bench-tls-"), rsa="--rsa" in flags)
        worker_tls = f'tls_cert_file: "{tls[0]}"\ntls_key_file: "{tls[1]}"\n'
        flags = flags.replace(" --rsa", "")
    for _ in range(runs):
        for target in targets:
            # nchan deflates only where it is told to; the worker negotiates per connection.
            nchan_publisher = "nchan_deflate_message_for_websocket on;" if "--deflate" in flags else ""
            for attempt in range(STEAL["retries"] + 1):
                server = (start_nchan(extra_publisher=nchan_publisher, tls=tls) if target == "nchan"
                          else start_worker(binaries[target], extra=BACKENDS[target] + worker_tls))
                try:
                    report = load(bindir, server, "nchan" if target == "nchan" else "worker", flags)
                finally:
                    server.stop()
                if report.get("steal_percent", 0) <= STEAL["max"] or attempt == STEAL["retries"]:
                    break
                print(f"{'':24} {target}: the host took {report['steal_percent']:.1f} % of the CPU time, run again", flush=True)
            reports[target].append(report)
    return {target: median_report(found) for target, found in reports.items()}


PUSHER_APP = 'pusher_apps: [{id: "1", key: bench-key, secret: "%s"}]\n' % SECRET
PUSHER = [
    # One private channel per topic: every set-up is a handshake, connection_established and a
    # signed subscription; the Wavelog column is a handshake and a token.
    ("idle-10k", "--mode connect --topics 1000 --subscribers 10", ["cpu_us_per_connection", "rss_kib_per_connection"]),
    ("fanout-1x10000", "--mode fanout --topics 1 --subscribers 10000 --seconds 5", ["cpu_us_per_delivery", "latency_p99_us", "lost"]),
]


def pusher(bindir, runs):
    """The Pusher transport against the Wavelog WebSocket transport of the same binary and nchan."""
    binary = os.path.join(bindir, "wavelog-worker")
    results = {}
    for name, flags, figures in PUSHER:
        found = {"pusher": [], "wavelog": [], "nchan": []}
        for _ in range(runs):
            for target in found:
                server = start_nchan() if target == "nchan" else start_worker(binary, extra=PUSHER_APP)
                try:
                    dialect = {"pusher": "pusher", "wavelog": "worker", "nchan": "nchan"}[target]
                    found[target].append(load(bindir, server, dialect, flags))
                finally:
                    server.stop()
        results[name] = ({target: median_report(reports) for target, reports in found.items()}, figures)
    return results


def start_redis():
    directory = tempfile.mkdtemp(prefix="bench-redis-")
    port = free_port()
    process = subprocess.Popen(["taskset", "-c", SERVER_CPU, "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", directory],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, process, "redis-server")
    return process, port, directory


def stop_cluster(nodes, redis, directory):
    for node in nodes:
        node.stop()
    redis.terminate()
    redis.wait()
    shutil.rmtree(directory, ignore_errors=True)


def redis_publishes(port):
    """`cmdstat_publish` calls from INFO commandstats."""
    text = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^cmdstat_publish:calls=(\d+)", text, re.M)
    return int(match.group(1)) if match else 0


def pusher_cluster(bindir, runs):
    """Pusher over two nodes sharing a redis-server against the same run on one node: fan-out
    with subscribers split over A and B and publishes on A (CPU of both nodes per delivery),
    presence joins against private subscriptions on one clustered node (CPU per set-up), and
    PUBLISHes per presence join and leave (INFO commandstats around a run of joins, which
    leave when the generator exits)."""
    binary = os.path.join(bindir, "wavelog-worker")
    fanout = "--mode fanout --topics 1 --subscribers 10000 --seconds 5"
    # Ten sockets a channel: each presence join also tells the members already there (4.5 on
    # average). One a channel: the join's own work alone.
    connect = {"": "--mode connect --topics 1000 --subscribers 10", "-alone": "--mode connect --topics 10000 --subscribers 1"}
    joins = [f"join-{kind}{size}" for size in connect for kind in ("private", "presence")]
    found = {name: [] for name in ["fanout-1-node", "fanout-2-nodes", *joins, "publishes"]}
    for _ in range(runs):
        for name in ("fanout-1-node", "fanout-2-nodes", *joins):
            redis, port, directory = start_redis()
            extra = PUSHER_APP + f'redis_url: "redis://127.0.0.1:{port}"\n'
            nodes = [start_worker(binary, extra=extra) for _ in range(2 if name == "fanout-2-nodes" else 1)]
            try:
                size = "-alone" if name.endswith("-alone") else ""
                flags = fanout if name.startswith("fanout") else connect[size] + (" --presence" if "presence" in name else "")
                for node in nodes[1:]:
                    flags += f" --ws-port {node.ws_port} --pid {node.process.pid}"
                before = redis_publishes(port)
                report = load(bindir, nodes[0], "pusher", flags)
                found[name].append(report)
                if name == "join-presence":
                    # The leaves go out as the generator's sockets close: wait for the node to count them.
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        after = redis_publishes(port)
                        time.sleep(1)
                        if redis_publishes(port) - after <= 2:  # only heartbeats and counts left
                            break
                    joined = report["connections"]
                    found["publishes"].append({"per_join_and_leave": (after - before) / joined if joined else 0, "joins": joined,
                                               "seconds": report.get("setup_seconds", 0)})
            finally:
                stop_cluster(nodes, redis, directory)
    return {name: median_report(reports) if name != "publishes" else reports for name, reports in found.items()}


WEBHOOK_VARIANTS = {
    # Churn on other channels all along (occupied and vacated events) in every variant; only
    # where webhooks are configured do those events go anywhere.
    "none": None,
    "busy": ["--delay-ms", "10"],
    "hanging": ["--hang"],
}


def thread_share(pid, name):
    """The CPU time of the process's threads called `name` over the process's, since it started."""
    def ticks(path):
        fields = open(path).read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    total = ticks(f"/proc/{pid}/stat")
    named = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            if open(f"/proc/{pid}/task/{task}/comm").read().strip() == name:
                named += ticks(f"/proc/{pid}/task/{task}/stat")
        except OSError:
            pass
    return named / total if total else 0.0


def webhooks(bindir, runs):
    """Pusher fan-out 1 x 10,000 on one node while sockets come and go on other channels:
    without webhooks, with webhooks to a receiver that answers after 10 ms (busy), and to one
    that never answers (hanging). CPU per delivery counts the whole process, the webhook
    thread included; latency is the generator's, publish to receipt."""
    binary = os.path.join(bindir, "wavelog-worker")
    peer = os.path.join(HERE, "webhook_peer.py")
    # As fast as the node goes (CPU per delivery), and at 10 publishes/s (100,000 deliveries/s:
    # latency without queueing in the node).
    rates = {"max": "--mode fanout --topics 1 --subscribers 10000 --seconds 5",
             "10/s": "--mode fanout --topics 1 --subscribers 10000 --rate 10 --seconds 5"}
    variants = [(f"{name} {rate}", receiver_flags, rates[rate]) for rate in rates for name, receiver_flags in WEBHOOK_VARIANTS.items()]
    found = {name: [] for name, _, _ in variants}
    received = {name: [] for name, _, _ in variants}
    for _ in range(runs):
        for name, receiver_flags, flags in variants:
            helpers = []
            extra = PUSHER_APP
            if receiver_flags is not None:
                port = free_port()
                helpers.append(subprocess.Popen(["taskset", "-c", CLIENT_CPU, sys.executable, peer, "receive", "--port", str(port),
                                                 *receiver_flags], stdout=subprocess.PIPE, text=True))
                wait_listening(port, helpers[-1], "webhook receiver")
                extra = ('pusher_apps: [{id: "1", key: bench-key, secret: "%s", webhooks: ["http://127.0.0.1:%d/hook"]}]\n'
                         % (SECRET, port))
            server = start_worker(binary, extra=extra)
            churn = subprocess.Popen(["taskset", "-c", CLIENT_CPU, sys.executable, peer, "churn", "--port", str(server.ws_port)])
            try:
                time.sleep(1)  # the churn under way before the measurement starts
                report = load(bindir, server, "pusher", flags)
                report["webhook_thread_share"] = thread_share(server.process.pid, "webhook")
                found[name].append(report)
            finally:
                churn.terminate()
                churn.wait()
                server.stop()
                for helper in helpers:
                    helper.terminate()
                    out, _ = helper.communicate(timeout=10)
                    received[name].append(json.loads(out or "{}"))
    results = {name: median_report(reports) for name, reports in found.items()}
    for name in received:
        results[name]["webhook_events_received"] = [entry.get("events", 0) for entry in received[name]]
    return results


SCALING = [
    # Throughput. Lazy readers (a 20 ms sleep after each batch of reads) let pushes pile up so
    # one read takes many: the generator then needs a fraction of a core, and a second worker
    # loop can have the other one. Reading eagerly, the generator needs a core of its own.
    ("deliveries_per_s", ["--mode", "fanout", "--topics", "1", "--subscribers", "2000", "--publishers", "32",
                          "--window", "64", "--read-pause-us", "20000", "--seconds", "5"]),
    # Latency: 3 publishes/s leave the generator idle, so a second loop gets a core of its own.
    ("latency_p99_us", ["--mode", "fanout", "--topics", "1", "--subscribers", "10000", "--rate", "3", "--seconds", "6"]),
]


def scaling(bindir, runs):
    """threads: 1 vs threads: 2, the worker on both cores and the generator unpinned beside it."""
    figures, reports = {}, {}
    for figure, flags in SCALING:
        for threads in (1, 2):
            found = []
            for _ in range(runs):
                server = start_worker(os.path.join(bindir, "wavelog-worker"), cpus="0,1", threads=threads)
                try:
                    command = [os.path.join(bindir, "wavelog-load"), "--dialect", "worker", "--ws-port", str(server.ws_port),
                               "--http-port", str(server.http_port), "--secret", SECRET, "--pid", str(server.process.pid)]
                    found.append(json.loads(subprocess.run(command + flags, capture_output=True, text=True, timeout=300).stdout))
                finally:
                    server.stop()
            reports[f"{figure}/threads-{threads}"] = found
            figures[(figure, threads)] = statistics.median(report[figure] for report in found)
    return figures, reports


STORM_PUSHES = "--mode fanout --topics 1 --subscribers 100 --rate 20 --seconds 8 --tls"
STORM = "--mode connect --topics 100 --subscribers 10 --no-auth --tls --setup-concurrency 1000"


def handshake_storm(bindir, runs):
    """Push latency to 100 TLS subscribers (20 publishes/s) on one worker loop, alone and while
    1,000 other clients make TLS handshakes at once, 2 s into the run: what a storm of
    handshakes costs the pushes that share its loop. Both generators share CPU 1."""
    directory = tempfile.mkdtemp(prefix="bench-tls-")
    cert, key = certificate(directory)
    tls = f'tls_cert_file: "{cert}"\ntls_key_file: "{key}"\n'
    found = {"alone": [], "storm": []}
    for _ in range(runs):
        for case in ("alone", "storm"):
            server = start_worker(os.path.join(bindir, "wavelog-worker"), extra=BACKENDS["worker"] + tls)
            try:
                command = ["taskset", "-c", CLIENT_CPU, os.path.join(bindir, "wavelog-load"), "--dialect", "worker",
                           "--ws-port", str(server.ws_port), "--http-port", str(server.http_port), "--secret", SECRET]
                pushes = subprocess.Popen(command + STORM_PUSHES.split(), stdout=subprocess.PIPE, text=True)
                storm = None
                if case == "storm":
                    time.sleep(2)  # a benchmark's schedule, not a synchronisation: the pushes are flowing by then
                    storm = subprocess.run(command + ["--pid", str(server.process.pid)] + STORM.split(),
                                           capture_output=True, text=True, timeout=300)
                report = json.loads(pushes.communicate(timeout=300)[0])
                if storm is not None:
                    storm_report = json.loads(storm.stdout)
                    report["storm_setup_seconds"] = storm_report.get("setup_seconds", 0)
                    report["storm_failed"] = storm_report.get("failed_setups", 0)
                found[case].append(report)
            finally:
                server.stop()
    shutil.rmtree(directory, ignore_errors=True)
    return {case: median_report(reports) for case, reports in found.items()}


HISTORY_RULE = 'history:\n  - {topics: "%s", size: 100, ttl: 5m}\n'
WAVE_PUSHES = "--mode fanout --topics 1 --subscribers 100 --rate 20 --seconds 8"


def history(bindir, runs):
    """Topics with history (docs/adr/0023). (1) Fan-out 1 x 10,000 as fast as it goes, with a
    history rule on the topic and without, alternating in one run: CPU per delivery. (2) Push
    latency to 100 subscribers of one topic at 20/s, alone, while 1,000 clients resume at once
    on another topic with history 2 s into the run, each replayed 100 messages (wave), and while
    the same 1,000 resume from the latest position, so nothing is replayed (wave-no-replay).
    The wave's Python client runs at nice 19 on the generator's CPU, so it does not delay the
    latency generator's reads."""
    binary = os.path.join(bindir, "wavelog-worker")
    fanout = "--mode fanout --topics 1 --subscribers 10000 --seconds 5"
    found = {"fanout-plain": [], "fanout-history": [], "alone": [], "wave": [], "wave-no-replay": []}
    for _ in range(runs):
        for case in ("fanout-plain", "fanout-history"):
            rule = HISTORY_RULE % "bench.*" if case == "fanout-history" else ""
            server = start_worker(binary, extra=BACKENDS["worker"] + rule)
            try:
                found[case].append(load(bindir, server, "worker", fanout))
            finally:
                server.stop()
        for case in ("alone", "wave", "wave-no-replay"):
            server = start_worker(binary, extra=BACKENDS["worker"] + HISTORY_RULE % "wave.*")
            try:
                request(server.http_port, "/internal/register", {"topic": "wave.0", "meta": {"require_token": True}})
                for number in range(100):
                    request(server.http_port, "/internal/publish", {"topic": "wave.0", "payload": {"n": number, "pad": "x" * 100}})
                command = ["taskset", "-c", CLIENT_CPU, os.path.join(bindir, "wavelog-load"), "--dialect", "worker",
                           "--ws-port", str(server.ws_port), "--http-port", str(server.http_port), "--secret", SECRET]
                pushes = subprocess.Popen(command + WAVE_PUSHES.split(), stdout=subprocess.PIPE, text=True)
                wave = None
                if case != "alone":
                    time.sleep(2)  # a benchmark's schedule, not a synchronisation: the pushes are flowing by then
                    replayed = "100" if case == "wave" else "0"
                    wave = subprocess.run(["nice", "-n", "19", "taskset", "-c", CLIENT_CPU, sys.executable,
                                           os.path.join(HERE, "resume_wave.py"), "--port", str(server.ws_port), "--secret", SECRET,
                                           "--topic", "wave.0", "--since", "auto", "--clients", "1000", "--expect", replayed],
                                          capture_output=True, text=True, timeout=300)
                report = json.loads(pushes.communicate(timeout=300)[0])
                if wave is not None:
                    wave_report = json.loads(wave.stdout)
                    report["wave_completed"] = wave_report["completed"]
                    report["wave_replayed"] = wave_report["replayed"]
                    report["wave_seconds"] = wave_report["seconds"]
                found[case].append(report)
            finally:
                server.stop()
    return {case: median_report(reports) for case, reports in found.items()}


def request(port, path, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, json.dumps(body), {"X-Worker-Secret": SECRET, "Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200, (path, answer.status)
    finally:
        connection.close()


def cluster(bindir, runs):
    """Two nodes sharing one redis-server: subscribers on node B, publishes to node A, for both
    servers (nchan through nchan_redis_url). Cross-node latency, and CPU of both nodes and Redis."""
    flags = ["--mode", "fanout", "--topics", "1", "--subscribers", "1000", "--rate", "20", "--seconds", "5"]
    reports = {"worker": [], "nchan": []}
    for _ in range(runs):
        for target in reports:
            redis, port, directory = start_redis()
            nodes = []
            try:
                if target == "worker":
                    extra = f'redis_url: "redis://127.0.0.1:{port}"\n'
                    nodes = [start_worker(os.path.join(bindir, "wavelog-worker"), extra=extra) for _ in range(2)]
                else:
                    link = f'nchan_redis_url "redis://127.0.0.1:{port}"; nchan_use_redis on;'
                    nodes = [start_nchan(extra_http=link) for _ in range(2)]
                command = ["taskset", "-c", CLIENT_CPU, os.path.join(bindir, "wavelog-load"), "--dialect", target,
                           "--ws-port", str(nodes[1].ws_port), "--http-port", str(nodes[0].http_port), "--secret", SECRET,
                           "--pid", str(redis.pid)]
                for node in nodes:
                    for pid in node.measured:
                        command += ["--pid", str(pid)]
                result = subprocess.run(command + flags, capture_output=True, text=True, timeout=300)
                reports[target].append(json.loads(result.stdout))
            finally:
                stop_cluster(nodes, redis, directory)
    return {target: median_report(found) for target, found in reports.items()}


def ratio(ours, theirs):
    if not theirs:
        return "-"
    return f"{ours / theirs:.2f}x"


def fmt(value):
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", default="")
    parser.add_argument("--baseline-all", action="store_true",
                        help="run the baseline in the SSE scenarios too (it must have the SSE transport)")
    parser.add_argument("--bin", default=None, help="folder with release wavelog-worker and wavelog-load")
    parser.add_argument("--json", default="bench-results/latest.json")
    parser.add_argument("--baseline", default=None, help="an older wavelog-worker to compare in the same run")
    parser.add_argument("--io-backend", default=None, help="the worker's io_backend (auto, uring, epoll, poll)")
    parser.add_argument("--baseline-io-backend", default=None, help="the baseline's io_backend; the baseline defaults to this build")
    parser.add_argument("--max-steal", type=float, default=STEAL["max"],
                        help="repeat a run during which the host's steal time exceeded this percentage")
    parser.add_argument("--steal-retries", type=int, default=STEAL["retries"])
    args = parser.parse_args()
    STEAL.update(max=args.max_steal, retries=args.steal_retries)
    if args.io_backend:
        BACKENDS["worker"] = f"io_backend: {args.io_backend}\n"
    if args.baseline_io_backend:
        BACKENDS["baseline"] = f"io_backend: {args.baseline_io_backend}\n"
    bindir = args.bin or subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], capture_output=True,
                                        text=True, check=True).stdout.strip()
    if args.baseline_io_backend and not args.baseline:
        args.baseline = os.path.join(bindir, "wavelog-worker")
        args.baseline_all = True
    only = set(filter(None, args.only.split(",")))
    everything = {}
    extra = f" {'baseline':>16} {'ours/baseline':>13}" if args.baseline else ""
    print(f"{'scenario':24} {'figure':24} {'wavelog-worker':>16} {'nginx+nchan':>16} {'ours/nchan':>10}{extra}")
    for name, flags, figures in SCENARIOS:
        if only and name not in only:
            continue
        # A baseline from before a transport existed cannot serve its scenarios.
        baseline = args.baseline if args.baseline_all or not ("--transport" in flags or "--deflate" in flags) else None
        results = run_scenario(bindir, flags, args.runs, baseline)
        everything[name] = results
        for figure in figures:
            ours, theirs = results["worker"][figure], results["nchan"][figure]
            line = f"{name:24} {figure:24} {fmt(ours):>16} {fmt(theirs):>16} {ratio(ours, theirs):>10}"
            if baseline:
                before = results["baseline"][figure]
                line += f" {fmt(before):>16} {ratio(ours, before):>13}"
            print(line)
        steal = ", ".join(f"{target} {results[target].get('steal_percent', 0):.1f} %" for target in results)
        print(f"{'':24} host steal (the hypervisor's share of CPU time, median): {steal}")
        kernel = ", ".join(f"{target} {results[target].get('kernel_percent', 0):.0f} %" for target in results)
        print(f"{'':24} server CPU time in the kernel (median): {kernel}")
        for target in results:
            report = results[target]
            if report["lost"] or report["closed_1013"] or report["failed_setups"] or report.get("requests_failed"):
                print(f"{'':24} {target}: lost {report['lost']}, closed 1013 {report['closed_1013']}, "
                      f"failed set-ups {report['failed_setups']}, failed requests {report.get('requests_failed', 0)}")
        sys.stdout.flush()
    # TLS against the same server's plain figures: what TLS itself costs each.
    for plain_name, tls_name, figure in (("handshake-10k", "tls-handshake-10k", "cpu_us_per_connection"),
                                         ("handshake-10k", "tls-rsa-handshake-10k", "cpu_us_per_connection"),
                                         ("idle-10k", "tls-idle-10k", "rss_kib_per_connection"),
                                         ("fanout-1x10000", "tls-fanout-1x10000", "cpu_us_per_delivery")):
        if plain_name not in everything or tls_name not in everything:
            continue
        for target in ("worker", "nchan"):
            plain, secure = everything[plain_name][target][figure], everything[tls_name][target][figure]
            print(f"{tls_name + ' - plain':24} {target + ' ' + figure:40} {fmt(secure - plain):>10} ({ratio(secure, plain)})")
    for plain_name, deflated_name in (("radio-fanout-1x10000", "deflate-fanout-1x10000"), ("radio-1x10000-20/s", "deflate-1x10000-20/s")):
        if plain_name not in everything or deflated_name not in everything:
            continue
        plain, deflated = everything[plain_name], everything[deflated_name]
        for target in ("worker", "nchan"):
            print(f"{deflated_name + ' / plain':24} {target + ' cpu_us_per_delivery':24} "
                  f"{ratio(deflated[target]['cpu_us_per_delivery'], plain[target]['cpu_us_per_delivery']):>16}"
                  f" wire bytes {ratio(deflated[target]['wire_bytes_per_delivery'], plain[target]['wire_bytes_per_delivery'])}")
    if "tls-storm" in only:
        results = handshake_storm(bindir, args.runs)
        everything["tls-storm"] = results
        for figure in ("latency_p50_us", "latency_p99_us", "latency_max_us", "lost"):
            alone, storm = results["alone"][figure], results["storm"][figure]
            print(f"{'tls-handshake-storm':24} {figure:24} {fmt(storm):>16} {fmt(alone):>16} {ratio(storm, alone):>10}  (storm / alone)")
        print(f"{'':24} 1,000 handshakes took {results['storm'].get('storm_setup_seconds', 0):.2f} s, "
              f"{results['storm'].get('storm_failed', 0)} failed")
    if "history" in only:
        results = history(bindir, args.runs)
        everything["history"] = results
        plain, kept = results["fanout-plain"], results["fanout-history"]
        print(f"{'':24} {'':24} {'history':>16} {'none':>16} {'ratio':>10}")
        for figure in ("cpu_us_per_delivery", "latency_p99_us", "lost"):
            print(f"{'fanout-1x10000':24} {figure:24} {fmt(kept[figure]):>16} {fmt(plain[figure]):>16} "
                  f"{ratio(kept[figure], plain[figure]):>10}")
        print(f"{'':24} {'':24} {'wave':>16} {'alone':>16} {'ratio':>10} {'wave-no-replay':>16} {'ratio':>10}")
        for figure in ("latency_p50_us", "latency_p99_us", "latency_max_us", "lost"):
            alone, wave, bare = results["alone"][figure], results["wave"][figure], results["wave-no-replay"][figure]
            print(f"{'resume-wave':24} {figure:24} {fmt(wave):>16} {fmt(alone):>16} {ratio(wave, alone):>10} "
                  f"{fmt(bare):>16} {ratio(bare, alone):>10}")
        for case in ("wave", "wave-no-replay"):
            print(f"{'':24} {case}: {results[case].get('wave_completed', 0):.0f} of 1,000 resumed, "
                  f"{results[case].get('wave_replayed', 0):,.0f} pushes replayed in {results[case].get('wave_seconds', 0):.2f} s")
    if not only or "cluster" in only:
        results = cluster(bindir, args.runs)
        everything["cluster"] = results
        for figure in ("latency_p50_us", "latency_p99_us", "latency_max_us", "cpu_us_per_delivery", "lost"):
            ours, theirs = results["worker"][figure], results["nchan"][figure]
            print(f"{'cluster-2-nodes':24} {figure:24} {fmt(ours):>16} {fmt(theirs):>16} {ratio(ours, theirs):>10}")
    if not only or "pusher" in only:
        results = pusher(bindir, args.runs)
        everything["pusher"] = {name: found for name, (found, _) in results.items()}
        print(f"{'':24} {'':24} {'pusher':>16} {'wavelog ws':>16} {'pusher/ws':>10} {'nginx+nchan':>16} {'pusher/nchan':>12}")
        for name, (found, figures) in results.items():
            for figure in figures:
                ours, ws, theirs = found["pusher"][figure], found["wavelog"][figure], found["nchan"][figure]
                print(f"{'pusher-' + name:24} {figure:24} {fmt(ours):>16} {fmt(ws):>16} {ratio(ours, ws):>10} {fmt(theirs):>16} {ratio(ours, theirs):>12}")
            report = found["pusher"]
            if report["lost"] or report["failed_setups"]:
                print(f"{'':24} pusher: lost {report['lost']}, failed set-ups {report['failed_setups']}")
    if not only or "pusher-cluster" in only:
        results = pusher_cluster(bindir, args.runs)
        everything["pusher-cluster"] = results
        one, two = results["fanout-1-node"], results["fanout-2-nodes"]
        print(f"{'pusher-cluster':24} {'cpu_us_per_delivery':24} {'2 nodes':>16} {'1 node':>16} {'2 / 1':>10}")
        print(f"{'fanout-1x10000':24} {'cpu_us_per_delivery':24} {fmt(two['cpu_us_per_delivery']):>16} "
              f"{fmt(one['cpu_us_per_delivery']):>16} {ratio(two['cpu_us_per_delivery'], one['cpu_us_per_delivery']):>10}")
        print(f"{'join-10k':24} {'cpu_us_per_connection':24} {'presence':>16} {'private':>16} {'presence/private':>10}")
        for size, label in (("", "10 a channel"), ("-alone", "1 a channel")):
            presence, private = results[f"join-presence{size}"], results[f"join-private{size}"]
            print(f"{'':24} {label:24} {fmt(presence['cpu_us_per_connection']):>16} {fmt(private['cpu_us_per_connection']):>16} "
                  f"{ratio(presence['cpu_us_per_connection'], private['cpu_us_per_connection']):>10}")
        for entry in results["publishes"]:
            print(f"{'':24} PUBLISH per presence join and leave: {entry['per_join_and_leave']:.3f} over {entry['joins']} joins")
        for name in ("fanout-1-node", "fanout-2-nodes", *(name for name in results if name.startswith("join-"))):
            report = results[name]
            if report["lost"] or report["failed_setups"]:
                print(f"{'':24} {name}: lost {report['lost']}, failed set-ups {report['failed_setups']}")
    if not only or "webhooks" in only:
        results = webhooks(bindir, args.runs)
        everything["webhooks"] = results
        print(f"{'webhooks fanout-1x10000':24} {'figure':24} {'none':>16} {'busy':>16} {'busy/none':>10} {'hanging':>16} {'hanging/none':>12}")
        for rate in ("max", "10/s"):
            none = results[f"none {rate}"]
            for figure in ("cpu_us_per_delivery", "latency_p50_us", "latency_p99_us", "lost"):
                busy, hanging = results[f"busy {rate}"][figure], results[f"hanging {rate}"][figure]
                print(f"{'publishes ' + rate:24} {figure:24} {fmt(none[figure]):>16} {fmt(busy):>16} {ratio(busy, none[figure]):>10} "
                      f"{fmt(hanging):>16} {ratio(hanging, none[figure]):>12}")
            print(f"{'':24} webhook events received per run: busy {results[f'busy {rate}']['webhook_events_received']}, "
                  f"hanging {results[f'hanging {rate}']['webhook_events_received']}")
            print(f"{'':24} the webhook thread's share of the node's CPU time (median): "
                  f"busy {100 * results[f'busy {rate}']['webhook_thread_share']:.3f} %, "
                  f"hanging {100 * results[f'hanging {rate}']['webhook_thread_share']:.3f} %")
    if not only or "scaling" in only:
        figures, reports = scaling(bindir, args.runs)
        everything["scaling"] = reports
        print(f"{'':24} {'':24} {'threads: 2':>16} {'threads: 1':>16} {'2 / 1':>10}   (both cores, generator unpinned)")
        for figure, _ in SCALING:
            two, one = figures[(figure, 2)], figures[(figure, 1)]
            print(f"{'threads-2-vs-1':24} {figure:24} {fmt(two):>16} {fmt(one):>16} {ratio(two, one):>10}")
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(everything, f, indent=1, default=str)
    print(f"raw figures: {args.json}")


if __name__ == "__main__":
    main()
