"""io_backend: which poller the loops use, and what `auto` does where io_uring is refused."""
import errno
import os
import re
import socket
import subprocess
import time

import pytest

import seccomp
from conftest import SECRET, worker_binary


def io_uring_allowed():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() == "0"
    except FileNotFoundError:
        return True  # kernels before the switch (6.6) allow io_uring to everyone


def start(tmp_path, backend, preexec_fn=None):
    config = tmp_path / "config.yaml"
    config.write_text(f'worker_secret: "{SECRET}"\nws_port: 0\ninternal_port: 0\nws_bind: "127.0.0.1"\n'
                      f"threads: 2\nio_backend: {backend}\n")
    # The environment overrides the file: drop the variable `make test` sets per backend.
    environment = {name: value for name, value in os.environ.items() if name != "WAVELOG_IO_BACKEND"}
    return subprocess.Popen([worker_binary(), "-config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=environment, preexec_fn=preexec_fn)


def first_lines(process, until="msg=listening"):
    lines = []
    for line in process.stdout:
        lines.append(line)
        if until in line:
            break
    return "".join(lines)


def stop(process):
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.parametrize("backend", ["epoll", "poll", "uring", "auto"])
def test_the_listening_line_names_the_backend_the_loops_run(tmp_path, backend):
    if backend in ("uring", "auto") and not io_uring_allowed():
        pytest.skip("this kernel refuses io_uring")
    process = start(tmp_path, backend)
    try:
        lines = first_lines(process)
        expected = "uring" if backend == "auto" else backend
        assert re.search(rf"\bio_backend={expected}\b", lines), lines
        assert "io_uring unavailable" not in lines
    finally:
        stop(process)


def test_auto_falls_back_to_epoll_with_one_line_saying_why_when_a_sandbox_refuses_io_uring(tmp_path):
    process = start(tmp_path, "auto", preexec_fn=seccomp.refuse(seccomp.IO_URING_SETUP, errno.EPERM))
    try:
        lines = first_lines(process)
        fallback = [line for line in lines.splitlines() if "io_uring unavailable" in line]
        assert len(fallback) == 1, lines
        assert "using epoll" in fallback[0] and "operation not permitted" in fallback[0], fallback[0]
        assert "seccomp" in fallback[0], fallback[0]
        assert re.search(r"\bio_backend=epoll\b", lines), lines
    finally:
        stop(process)


def test_uring_asked_for_by_name_and_refused_stops_with_one_line_naming_the_key(tmp_path):
    process = start(tmp_path, "uring", preexec_fn=seccomp.refuse(seccomp.IO_URING_SETUP, errno.ENOSYS))
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 1, output
    assert output.strip().splitlines() == ["wavelog-worker: io_backend: uring: io_uring_setup: function not implemented"], output


def resident_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


def open_and_close(port, count):
    """Opens `count` connections, asks a health probe on each, reads every answer, closes all."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sockets.append(sock)
    request_bytes = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    for sock in sockets:
        sock.sendall(request_bytes)
    for sock in sockets:
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, "closed before answering"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    for sock in sockets:
        sock.close()


def test_ten_thousand_connections_opened_and_closed_twice_leave_resident_memory_where_it_was(make_worker):
    """Receive buffers are lent per completion, and a closed socket's kernel operations end:
    nothing per connection stays behind, on whichever backend `make test` runs."""
    worker = make_worker("max_connections: 12000\n")
    pid = worker.process.pid
    descriptors = descriptor_count(pid)
    before = resident_kib(pid)
    open_and_close(worker.ws_port, 10_000)
    wait_for_descriptors(pid, descriptors)
    after_first = resident_kib(pid)
    open_and_close(worker.ws_port, 10_000)
    wait_for_descriptors(pid, descriptors)
    after_second = resident_kib(pid)
    print(f"resident memory before: {before} KiB, after the first 10,000: {after_first} KiB, after the second: {after_second} KiB")
    # A sanitizer's shadow memory and quarantine make resident memory say nothing of that; the
    # cycles still ran under it.
    if not os.environ.get("WORKER_SANITIZER"):
        assert after_second <= after_first + 2048, (after_first, after_second)


def descriptor_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for_descriptors(pid, count):
    """Waits until the worker holds `count` descriptors again: every socket it accepted is closed."""
    deadline = time.monotonic() + 30
    while descriptor_count(pid) != count:
        if time.monotonic() > deadline:
            pytest.fail(f"{descriptor_count(pid)} descriptors 30 s after the clients closed, {count} before")
        time.sleep(0.05)  # the close of 10,000 sockets has no event a client could wait on
