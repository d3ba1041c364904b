"""What an operator runs besides the server: the commands (gen-secret, token, probe,
check-config, help), the health probes on the public port, worker_secret_file, and the
deployment files (systemd unit, compose files), validated by the tools that read them."""
import asyncio
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest

from conftest import SECRET, Worker, register, request, worker_binary
from helpers import AUTH_OK, auth_message, open_ws, recv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*arguments, env=None, timeout=30):
    return subprocess.run([worker_binary(), *arguments], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_gen_secret_prints_64_hex_characters_from_the_os_random_source():
    first, second = run("gen-secret"), run("gen-secret")
    assert first.returncode == 0 and second.returncode == 0
    assert re.fullmatch(r"[0-9a-f]{64}\n", first.stdout)
    assert first.stdout != second.stdout


def test_a_minted_token_authenticates_a_browser(worker):
    register(worker.internal_port, "session.77")
    minted = run("token", "-config", worker.config_path, "--topic", "session.77", "-user", "5", "-ttl", "10m")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    claims = bytes.fromhex(token.split(".")[0]).decode()
    assert re.fullmatch(r'\{"user_id":5,"topic":"session\.77","expires":\d+\}', claims)

    async def scenario():
        async with open_ws(worker, "session.77") as ws:
            await ws.send(auth_message(token))
            return await recv(ws)

    assert asyncio.run(scenario()) == AUTH_OK
    assert run("token", "-config", worker.config_path).returncode == 2
    assert run("token", "-config", worker.config_path, "-topic", "x" * 300).returncode == 2


def test_check_config_and_help_and_a_bad_command(worker):
    checked = run("check-config", "-config", worker.config_path)
    assert checked.returncode == 0 and checked.stdout.startswith("configuration ok: ")
    assert SECRET not in checked.stdout + checked.stderr
    helped = run("help")
    assert helped.returncode == 0 and "gen-secret" in helped.stdout and "token -topic T" in helped.stdout
    bad = run("frobnicate")
    assert bad.returncode == 2 and bad.stderr.startswith('wavelog-worker: unknown command "frobnicate"')


def test_health_probes_answer_without_the_secret_and_the_probe_command_reads_them(worker):
    assert request(worker.ws_port, "GET", "/healthz", secret=None)[0::2] == (200, b"ok\n")
    assert request(worker.ws_port, "GET", "/readyz", secret=None)[0::2] == (200, b"ready\n")
    assert request(worker.ws_port, "POST", "/readyz", body="", secret=None)[0] == 405
    assert run("probe", "-url", f"http://127.0.0.1:{worker.ws_port}/readyz").returncode == 0
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    failed = run("probe", "--url", f"http://127.0.0.1:{port}/readyz")
    assert failed.returncode == 1 and "connect" in failed.stderr
    assert run("probe", "-url", f"http://127.0.0.1:{worker.ws_port}/nothing").returncode == 1


def test_readyz_is_503_while_the_cluster_link_is_down(make_worker):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    instance = make_worker(f'redis_url: "redis://127.0.0.1:{port}"\n')
    assert request(instance.ws_port, "GET", "/healthz", secret=None)[0] == 200
    assert request(instance.ws_port, "GET", "/readyz", secret=None)[0::2] == (503, b"redis unavailable\n")
    assert run("probe", "-url", f"http://127.0.0.1:{instance.ws_port}/readyz").returncode == 1


def test_worker_secret_file_serves_like_an_inline_secret_and_a_missing_file_is_one_line():
    directory = tempfile.mkdtemp(prefix="wavelog-secret-")
    path = os.path.join(directory, "worker_secret")
    with open(path, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(path, 0o600)
    config = os.path.join(directory, "config.yaml")
    with open(config, "w") as f:
        f.write('ws_port: 0\ninternal_port: 0\nws_bind: "127.0.0.1"\n')
    checked = run("check-config", "-config", config, env={"WAVELOG_WORKER_SECRET_FILE": path})
    assert checked.returncode == 0, checked.stderr
    missing = run("check-config", "-config", config, env={"WAVELOG_WORKER_SECRET_FILE": path + ".gone"})
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"config: worker_secret_file: {path}.gone: no such file or directory (from WAVELOG_WORKER_SECRET_FILE)"
    shutil.rmtree(directory)


def test_the_systemd_unit_passes_systemd_analyze_verify():
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    directory = tempfile.mkdtemp(prefix="wavelog-unit-")
    unit = open(os.path.join(ROOT, "deploy", "wavelog-worker.service")).read()
    # verify checks that ExecStart exists: point it at the built binary.
    unit = unit.replace("/usr/local/bin/wavelog-worker", worker_binary())
    path = os.path.join(directory, "wavelog-worker.service")
    with open(path, "w") as f:
        f.write(unit)
    result = subprocess.run([analyze, "verify", path], capture_output=True, text=True, timeout=60)
    # Lines about units this one does not own (the host's own configuration) are not ours.
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "wavelog-worker" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
    shutil.rmtree(directory)


@pytest.mark.parametrize("name", ["docker-compose.single.yml", "docker-compose.cluster.yml"])
def test_the_compose_files_pass_docker_compose_config(name):
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.skip("docker-compose not installed (Debian package docker-compose)")
    directory = os.path.join(ROOT, "deploy")
    secret = os.path.join(directory, "worker_secret")
    created = not os.path.exists(secret)
    if created:
        with open(secret, "w") as f:
            f.write("0" * 64 + "\n")
    try:
        result = subprocess.run([compose, "-f", os.path.join(directory, name), "config", "-q"], capture_output=True,
                                text=True, timeout=60, cwd=directory)
        assert result.returncode == 0, result.stderr
    finally:
        if created:
            os.remove(secret)


def test_metrics_parse_as_prometheus_text_and_count_what_happened(worker):
    """/metrics on the internal port, read by prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families
    from transports import open_subscriber
    from helpers import TIMEOUT, publish, token_for, ws_url
    from websockets.asyncio.client import connect as ws_connect

    register(worker.internal_port, "metrics.1")

    def scrape():
        code, headers, body = request(worker.internal_port, "GET", "/metrics", secret=None)
        assert code == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    before = scrape()
    assert before[("wavelog_build_info", (("version", "1.0.0"),))] == 1

    async def scenario():
        plain = await open_ws(worker, "metrics.1")
        compressed = await ws_connect(ws_url(worker, "metrics.1"), ping_interval=None, compression="deflate", open_timeout=TIMEOUT)
        for ws, user in ((plain, 1), (compressed, 2)):
            await ws.send(auth_message(token_for("metrics.1", user_id=user)))
            assert await recv(ws) == AUTH_OK
        async with open_subscriber("sse", worker, "metrics.1", token_for("metrics.1", user_id=3)) as stream:
            assert (await stream.outcome()).accepted
            for index in range(3):
                publish(worker, "metrics.1", str(index))
            for ws in (plain, compressed):
                for _ in range(3):
                    await recv(ws)
            for _ in range(3):
                await stream.next_push()
            during = scrape()
        await plain.close()
        await compressed.close()
        return during

    during = asyncio.run(scenario())
    assert during[("wavelog_connections", (("transport", "websocket"),))] == 2
    assert during[("wavelog_connections", (("transport", "sse"),))] == 1
    assert during[("wavelog_subscribed_sockets", ())] == 3
    assert during[("wavelog_connected_clients", ())] == 3
    assert during[("wavelog_publishes_total", ())] - before[("wavelog_publishes_total", ())] == 3
    assert during[("wavelog_deliveries_total", ())] - before[("wavelog_deliveries_total", ())] == 9
    assert during[("process_resident_memory_bytes", ())] > 0 and during[("process_open_fds", ())] > 0
    assert request(worker.internal_port, "POST", "/metrics", body="", secret=None)[0] == 405


def test_the_readme_lists_every_configuration_key_with_its_environment_name():
    source = open(os.path.join(ROOT, "Sources", "Adapters", "Config", "ConfigKeys.swift")).read()
    start = source.index("= [", source.index("static let known"))
    known = re.findall(r'"([a-z_]+)"', source[start:source.index("]", start)])
    readme = open(os.path.join(ROOT, "README.md")).read()
    sample = open(os.path.join(ROOT, "config.sample.yaml")).read()
    assert len(known) > 20
    for key in known:
        assert f"| `{key}` |" in readme and f"`WAVELOG_{key.upper()}`" in readme, key
        assert re.search(rf"^#? ?{key}:", sample, re.MULTILINE), f"{key} is not in config.sample.yaml"


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_threads_0_runs_one_loop_per_core_the_process_may_run_on(tmp_path):
    """Pinned to one core, the default is one event loop: two would take turns on that core."""
    config = tmp_path / "config.yaml"
    config.write_text(f'worker_secret: "{SECRET}"\nws_port: 0\ninternal_port: 0\nws_bind: "127.0.0.1"\n'
                      'internal_bind: "127.0.0.1"\nthreads: 0\n')
    environment = {name: value for name, value in os.environ.items() if name != "WAVELOG_THREADS"}
    process = subprocess.Popen(["taskset", "-c", "0", worker_binary(), "-config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    try:
        line = process.stdout.readline()  # the first line is `listening`, or the error that stopped it
        assert "msg=listening" in line, line
        assert re.search(r"\bconfig\.threads=1\b", line), line
    finally:
        process.terminate()
        process.wait(timeout=10)
