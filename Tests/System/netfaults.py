"""Tools for network faults: Linux network namespaces joined to the test's own by a veth pair
(iproute2), nftables rules inside them, and a TCP proxy that delays and stalls.

A namespace holds a peer of the worker (a redis-server, or WebSocket clients); the worker stays
in the test's namespace, so its loopback API is reached as everywhere else. Rules and links
changed inside a namespace touch nothing of the host, and the namespace (with its veth pair)
is deleted at the end."""
import asyncio
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_indexes = itertools.count(1)


def unavailable():
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2, nftables)"
    probe = f"wlprobe{os.getpid() % 100000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return "cannot create a network namespace: " + made.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr.strip()}"
    return done.stdout


class Namespace:
    """A network namespace reached from the test's namespace over one veth pair, a /30 of
    10.251.0.0/16: the test side is `outer_address`, the namespace side `inner_address`."""

    def __init__(self):
        index = next(_indexes)
        tag = f"{os.getpid() % 100000}x{index}"
        self.name = f"wlt{tag}"
        self.outer = f"wlo{tag}"
        self.inner = f"wli{tag}"
        # A /30 per namespace: the third octet per process (pytest-xdist workers are numbered,
        # so two of one run never share it), the fourth per namespace.
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
        block, offset = (os.getpid() % 50) * 5 + worker % 5, (index % 62) * 4
        self.outer_address = f"10.251.{block}.{offset + 1}"
        self.inner_address = f"10.251.{block}.{offset + 2}"
        run("ip", "netns", "add", self.name)
        try:
            run("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner, "netns", self.name)
            run("ip", "addr", "add", f"{self.outer_address}/30", "dev", self.outer)
            run("ip", "link", "set", self.outer, "up")
            run("ip", "-n", self.name, "addr", "add", f"{self.inner_address}/30", "dev", self.inner)
            run("ip", "-n", self.name, "link", "set", self.inner, "up")
            run("ip", "-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise

    def nft(self, ruleset):
        done = subprocess.run(["ip", "netns", "exec", self.name, "nft", "-f", "-"], input=ruleset,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    def drop_one_packet_in(self, count):
        """Drops each packet crossing the namespace's link with probability 1/count, both ways."""
        self.nft(f"""
table inet faults {{
    chain input {{ type filter hook input priority 0; iifname "{self.inner}" numgen random mod {count} 0 drop; }}
    chain output {{ type filter hook output priority 0; oifname "{self.inner}" numgen random mod {count} 0 drop; }}
}}
""")

    def drop_everything(self):
        """A partition: every packet on the link is dropped, nothing is refused or reset."""
        self.nft(f"""
table inet faults {{
    chain input {{ type filter hook input priority 0; iifname "{self.inner}" drop; }}
    chain output {{ type filter hook output priority 0; oifname "{self.inner}" drop; }}
}}
""")

    def heal(self):
        self.nft("flush ruleset")

    def link_down(self):
        """The namespace's side of the link goes away: peers vanish without a FIN or a reset."""
        run("ip", "-n", self.name, "link", "set", self.inner, "down")

    def popen(self, argv, **options):
        """A process in the namespace; `ip netns exec` execs, so the PID is the program's."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **options)

    def connect(self, address, port, timeout=10):
        """A TCP socket made inside the namespace and connected from there (setns changes only
        the calling thread, so a thread of its own makes it)."""
        result = {}

        def inside():
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                with open(f"/var/run/netns/{self.name}") as handle:
                    if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                sock = socket.create_connection((address, port), timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                result["socket"] = sock
            except BaseException as error:  # re-raised on the caller's thread
                result["error"] = error

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["socket"]

    def delete(self):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)


class FaultyProxy:
    """A TCP proxy on loopback to `target_port`: every chunk waits `delay` seconds in each
    direction, and `stall()` stops it reading and forwarding until `resume()`, as a partition
    does to a peer whose kernel still acknowledges. Runs on an asyncio loop of its own thread."""

    def __init__(self, target_port, delay=0.0):
        self.target_port = target_port
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.flowing = None
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _start(self):
        self.flowing = asyncio.Event()
        self.flowing.set()
        return await asyncio.start_server(self._handle, "127.0.0.1", 0)

    def stall(self):
        self.loop.call_soon_threadsafe(self.flowing.clear)

    def resume(self):
        self.loop.call_soon_threadsafe(self.flowing.set)

    async def _handle(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(self._pump(client_reader, upstream_writer), self._pump(upstream_reader, client_writer),
                             return_exceptions=True)

    async def _pump(self, reader, writer):
        queue = asyncio.Queue()

        async def forward():
            while True:
                due, data = await queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)  # the delay is the fault under test
                await self.flowing.wait()
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(forward())
        try:
            while True:
                await self.flowing.wait()
                data = await reader.read(65536)
                queue.put_nowait((self.loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            sender.cancel()
            writer.close()

    def close(self):
        async def stop():
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class CuttableProxy:
    """A TCP proxy on loopback to `target_port` whose link the test cuts: `cut()` aborts every
    open connection and closes each new one at once, as a train tunnel or a node behind a dead
    load balancer looks to a browser, until `restore()`. Runs on an asyncio loop of its own thread."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.open = True
        self.writers = set()
        self.server = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def cut(self):
        async def abort():
            self.open = False
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        asyncio.run_coroutine_threadsafe(abort(), self.loop).result(10)

    def restore(self):
        async def reopen():
            self.open = True

        asyncio.run_coroutine_threadsafe(reopen(), self.loop).result(10)

    async def _handle(self, client_reader, client_writer):
        if not self.open:
            client_writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.writers.update((client_writer, upstream_writer))
        await asyncio.gather(self._pump(client_reader, upstream_writer), self._pump(upstream_reader, client_writer),
                             return_exceptions=True)
        self.writers.difference_update((client_writer, upstream_writer))

    @staticmethod
    async def _pump(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def close(self):
        async def stop():
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
