"""The README's commands, run as written against a real worker (docs/development.md "The
README runs").

A block runs when it is fenced as ```sh and the line just before its fence is
<!-- readme-test -->. Blocks run in README order, against one worker, each in bash with -e and
pipefail, in a fresh directory holding a copy of config.sample.yaml (as in a checkout), with
the built binary as `wavelog-worker` and this interpreter as `python3` first on PATH, and the
variables the Quick start exports: WAVELOG_WORKER_SECRET, WORKER_INTERNAL, WORKER_PUBLIC. A
block must exit 0. A ```text block right after it lists lines its output must contain, in
order; "..." in such a line stands for any text."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import SECRET, Worker, worker_binary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
MARKER = "<!-- readme-test -->"
# What the Quick start tells the reader to export; the test supplies them instead.
VARIABLES = ("WAVELOG_WORKER_SECRET", "WORKER_INTERNAL", "WORKER_PUBLIC")


class Block:
    def __init__(self, line, source, expected):
        self.line = line  # of the opening fence, 1-based, for failure messages
        self.source = source
        self.expected = expected


def fence_end(lines, start):
    for index in range(start, len(lines)):
        if lines[index] == "```":
            return index
    raise AssertionError(f"README.md:{start}: a code block is never closed")


def runnable_blocks(text):
    lines = text.split("\n")
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != MARKER:
            index += 1
            continue
        fence = index + 1
        assert fence < len(lines) and lines[fence] == "```sh", f"README.md:{index + 1}: {MARKER} must be followed by a ```sh fence"
        end = fence_end(lines, fence + 1)
        after = end + 1
        while after < len(lines) and not lines[after].strip():
            after += 1
        expected = []
        if after < len(lines) and lines[after] == "```text":
            expected = lines[after + 1:fence_end(lines, after + 1)]
        blocks.append(Block(fence + 1, "\n".join(lines[fence + 1:end]) + "\n", expected))
        index = end + 1
    return blocks


def line_pattern(expected):
    return re.compile(".*".join(re.escape(part) for part in expected.split("...")))


def assert_lines_in_order(output, expected, where):
    lines = output.splitlines()
    position = 0
    for want in expected:
        pattern = line_pattern(want)
        while position < len(lines) and not pattern.fullmatch(lines[position]):
            position += 1
        assert position < len(lines), f"{where}: no line matching {want!r} (after the lines before it) in:\n{output}"
        position += 1


@pytest.fixture(scope="module")
def readme_worker():
    instance = Worker()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def bin_dir():
    directory = tempfile.mkdtemp(prefix="wavelog-readme-bin-")
    os.symlink(os.path.abspath(worker_binary()), os.path.join(directory, "wavelog-worker"))
    # A wrapper, not a symlink: a venv's interpreter finds its packages only under its own path.
    wrapper = os.path.join(directory, "python3")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    os.chmod(wrapper, 0o755)
    yield directory
    shutil.rmtree(directory)


def block_environment(worker, bin_dir):
    # The blocks must not depend on what the machine running the tests happens to export.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("WAVELOG_")}
    environment.update({
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "WAVELOG_WORKER_SECRET": SECRET,
        "WORKER_INTERNAL": f"127.0.0.1:{worker.internal_port}",
        "WORKER_PUBLIC": f"127.0.0.1:{worker.ws_port}",
        # A proxy the machine sets must not see loopback requests; the README stays free of flags for it.
        "NO_PROXY": "*",
        "no_proxy": "*",
    })
    return environment


def test_the_readme_marks_its_runnable_blocks_and_exports_what_they_use():
    text = open(README).read()
    blocks = runnable_blocks(text)
    assert len(blocks) >= 6, "the README lost its runnable blocks"
    assert all(block.expected for block in blocks), [block.line for block in blocks if not block.expected]
    for name in VARIABLES:
        assert re.search(rf"^export .*\b{name}=", text, re.MULTILINE), f"the Quick start does not export {name}"
    used = {name for block in blocks for name in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", block.source)}
    assert used <= set(VARIABLES), f"blocks use variables the test does not set: {sorted(used - set(VARIABLES))}"


def test_the_readme_blocks_run_as_written(readme_worker, bin_dir):
    environment = block_environment(readme_worker, bin_dir)
    for block in runnable_blocks(open(README).read()):
        where = f"README.md:{block.line}"
        directory = tempfile.mkdtemp(prefix="wavelog-readme-")
        shutil.copy(os.path.join(ROOT, "config.sample.yaml"), directory)
        try:
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", block.source],
                cwd=directory, env=environment, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired as timeout:
            pytest.fail(f"{where} did not finish within 60 s:\n{timeout.stdout or ''}{timeout.stderr or ''}")
        finally:
            shutil.rmtree(directory)
        assert result.returncode == 0, f"{where} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        assert_lines_in_order(result.stdout, block.expected, where)
    assert readme_worker.process.poll() is None, readme_worker.read_log()
