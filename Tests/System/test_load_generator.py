"""The benchmark load generator (wavelog-load) on a tiny scenario against the built worker: the
figures `make bench` prints are only as good as the client that counts them."""
import json
import os
import subprocess

from conftest import SECRET


def load_generator(worker, *flags):
    binary = os.path.join(os.path.dirname(os.environ["WORKER_BIN"]), "wavelog-load")
    command = [binary, "--dialect", "worker", "--ws-port", str(worker.ws_port), "--http-port", str(worker.internal_port),
               "--secret", SECRET, "--pid", str(worker.process.pid), *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_fan_out_counts_every_delivery_and_the_server_cpu(worker):
    report = load_generator(worker, "--mode", "fanout", "--topics", "3", "--subscribers", "4", "--seconds", "0.5")
    assert report["connections"] == 12 and report["failed_setups"] == 0
    assert report["publishes"] > 0 and report["requests"] == report["publishes"] and report["requests_failed"] == 0
    # Round-robin over three topics of four subscribers each: every publish reaches four sockets.
    assert report["deliveries"] == 4 * report["publishes"]
    assert report["lost"] == 0 and report["closed_by_server"] == {} and report["drained"]
    assert report["server_cpu_s"] > 0 and report["cpu_us_per_delivery"] > 0
    assert 0 < report["latency_p50_us"] <= report["latency_p99_us"] <= report["latency_max_us"]


def test_connect_mode_reports_set_up_cost_and_memory(worker):
    report = load_generator(worker, "--mode", "connect", "--topics", "2", "--subscribers", "25")
    assert report["connections"] == 50 and not report["setup_failed"]
    assert report["cpu_us_per_connection"] > 0 and report["rss_kib"] > 0


def test_publish_mode_over_new_connections(worker):
    report = load_generator(worker, "--mode", "publish", "--publishers", "2", "--new-connection", "--seconds", "0.3")
    assert report["requests"] > 0 and report["requests_failed"] == 0 and report["cpu_us_per_request"] > 0


def test_a_wrong_secret_fails_loudly(worker):
    binary = os.path.join(os.path.dirname(os.environ["WORKER_BIN"]), "wavelog-load")
    result = subprocess.run([binary, "--dialect", "worker", "--ws-port", str(worker.ws_port), "--http-port",
                             str(worker.internal_port), "--secret", "wrong", "--mode", "fanout", "--subscribers", "1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "registering topics failed" in result.stderr


def test_sse_fan_out_counts_every_event(worker):
    report = load_generator(worker, "--mode", "fanout", "--transport", "sse", "--topics", "2", "--subscribers", "5", "--seconds", "0.5")
    assert report["connections"] == 10 and report["failed_setups"] == 0
    assert report["deliveries"] == 5 * report["publishes"] > 0
    assert report["lost"] == 0 and report["unexpected_frames"] == 0
    assert report["wire_bytes_per_delivery"] > 0


def test_deflate_fan_out_counts_compressed_pushes_and_their_smaller_size(worker):
    flags = ["--mode", "fanout", "--topics", "1", "--subscribers", "6", "--seconds", "0.5", "--radio-payload", "--payload-bytes", "2048"]
    plain = load_generator(worker, *flags)
    compressed = load_generator(worker, *flags, "--deflate")
    assert plain["compressed_deliveries"] == 0
    assert compressed["compressed_deliveries"] == compressed["deliveries"] == 6 * compressed["publishes"] > 0
    assert compressed["lost"] == 0 and compressed["unexpected_frames"] == 0
    assert compressed["wire_bytes_per_delivery"] < plain["wire_bytes_per_delivery"] / 2
