"""Issue 14's two scale measures: many idle keep-alive client connections
held by the proxy (memory per connection), and many CONNECT tunnels moving
data at the same time (none may stall the others).

Both are asyncio clients in this one process, not one process per
connection; both are bounded in time (``timeout``) and talk to 127.0.0.1
only.  ``bench/run.py`` runs them as its ``idle`` and ``tunnels`` phases,
``bench/idle_connections.py`` runs the first alone.

Verdicts (the rules ``report.targets`` applies):

* idle connections: every connection was opened, held and answered a
  second request after the measure, and the proxy's resident memory grew
  by at most ``IDLE_KIB_LIMIT`` KiB per connection;
* tunnels: every tunnel was opened, echoed all its bytes intact within the
  time limit, and the slowest took at most ``STALL_FACTOR`` times the
  median tunnel's time.  With fair sharing every tunnel finishes close to
  the others; a tunnel held up while the others moved their data takes at
  least twice as long as the median.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import statistics
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .procs import HOST, reset_peak_rss, tree_jiffies, tree_kib

T = TypeVar("T")
IDLE_KIB_LIMIT = 5.0
STALL_FACTOR = 2.0
CHUNK = 64 * 1024
# Descriptors kept aside beyond the sockets counted: the harness's own
# files, pipes and listening sockets.
FD_RESERVE = 64
MAX_HEAD = 65536


class ScaleError(RuntimeError):
    """A scale measure could not run (too few descriptors, no proxy)."""


def descriptors_for_idle(count: int) -> int:
    """Descriptors this process needs to hold ``count`` client connections."""
    return count + FD_RESERVE


def descriptors_for_tunnels(count: int) -> int:
    """Descriptors this process needs for ``count`` tunnels: the client
    socket and the echo origin's accepted socket of each."""
    return 2 * count + FD_RESERVE


def proxy_cap(count: int) -> int:
    """The proxy's ``[limits] max_client_connections`` for ``count``
    connections: its default, half of its open-file limit, is below 10,000
    where ``ulimit -n`` is 20000."""
    return count + FD_RESERVE


def proxy_config(count: int) -> str:
    """A proxykit configuration file's text admitting ``count`` clients."""
    return f"[limits]\nmax_client_connections = {proxy_cap(count)}\n"


def raise_file_limit(needed: int) -> int:
    """Raise this process's soft open-file limit to the hard limit (its
    children, the proxy among them, inherit it) and return it.

    @raise ScaleError: When even the hard limit is below ``needed``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ScaleError(
            f"needs {needed} open files, the hard limit (ulimit -Hn) is {hard}"
        )
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return int(soft)


def spread(values: list[float]) -> dict[str, float | None]:
    """min, median and max of ``values`` (``None`` when empty)."""
    if not values:
        return {"min": None, "median": None, "max": None}
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
    }


async def bounded(
    aws: list[Awaitable[T]], deadline: float
) -> tuple[list[T | BaseException], int]:
    """Run ``aws`` together until ``deadline`` (``time.monotonic``); return
    the results of those that finished (exceptions included) and how many
    did not finish in time (they are cancelled)."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    if not tasks:
        return [], 0
    done, pending = await asyncio.wait(
        tasks, timeout=max(0.0, deadline - time.monotonic())
    )
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    results: list[T | BaseException] = []
    for task in tasks:
        if task in done:
            exc = task.exception()
            results.append(exc if exc is not None else task.result())
    return results, len(pending)


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, fields = head.partition(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ScaleError(f"bad status line {status_line[:80]!r}")
    length = 0
    for line in fields.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    await reader.readexactly(length)
    return int(parts[1])


# ---------------------------------------------------------------- idle


@dataclass
class IdleResult:
    """Idle keep-alive client connections held by the proxy."""

    wanted: int
    opened: int = 0
    held: int = 0
    before_kib: int = 0
    after_kib: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def kib_per_connection(self) -> float | None:
        if not self.opened:
            return None
        return (self.after_kib - self.before_kib) / self.opened

    @property
    def complete(self) -> bool:
        return not self.error and self.held == self.wanted

    def as_dict(self) -> dict[str, object]:
        per = self.kib_per_connection
        return {
            "connections": self.wanted,
            "opened": self.opened,
            "held": self.held,
            "rss_before_kib": self.before_kib,
            "rss_after_kib": self.after_kib,
            "kib_per_connection": None if per is None else round(per, 3),
            "seconds": round(self.seconds, 2),
            "error": self.error,
        }


async def _get(
    port: int,
    request: bytes,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(HOST, port, limit=MAX_HEAD)
    try:
        writer.write(request)
        status = await read_response(reader)
        if status != 200:
            raise ScaleError(f"status {status}")
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def _again(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> None:
    writer.write(request)
    status = await read_response(reader)
    if status != 200:
        raise ScaleError(f"status {status}")


def _first_error(results: Sequence[object]) -> str:
    for r in results:
        if isinstance(r, BaseException):
            return f"{type(r).__name__}: {r}"
    return ""


async def hold_idle(
    port: int,
    request: bytes,
    pid: int,
    count: int,
    batch: int = 200,
    timeout: float = 300.0,
) -> IdleResult:
    """Open ``count`` client connections to the proxy on ``port`` (``batch``
    at a time), each sending ``request`` (a GET through the proxy) and
    reading the whole response, then staying open and idle; read the
    resident memory of the proxy (process tree ``pid``) before the first
    and after the last.  Then send ``request`` again on every connection:
    one the proxy closed meanwhile does not count as held.

    The memory growth over the connections opened is the cost of one idle
    connection (with the few origin connections the proxy's pool keeps).
    """
    result = IdleResult(count)
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        # One request first: the pool, the parser and the code are warm.
        _, warm = await asyncio.wait_for(_get(port, request), timeout)
        warm.close()
        result.before_kib = tree_kib(pid, "VmRSS")
        while len(conns) < count and time.monotonic() < deadline:
            n = min(batch, count - len(conns))
            done, late = await bounded([_get(port, request) for _ in range(n)], deadline)
            conns += [c for c in done if not isinstance(c, BaseException)]
            if late or len(done) != n or any(isinstance(c, BaseException) for c in done):
                result.error = _first_error(done) or f"{late} connections not opened in time"
                break
        result.after_kib = tree_kib(pid, "VmRSS")
        result.opened = len(conns)
        if len(conns) < count and not result.error:
            result.error = f"only {len(conns)} of {count} connections opened in {timeout:g} s"
        held = 0
        for i in range(0, len(conns), batch):
            answered, late = await bounded(
                [_again(r, w, request) for r, w in conns[i : i + batch]], deadline
            )
            held += sum(1 for a in answered if not isinstance(a, BaseException))
            if late:
                break
        result.held = held
        if held < len(conns) and not result.error:
            result.error = f"{len(conns) - held} connections closed before the second request"
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ScaleError) as exc:
        result.error = result.error or f"{type(exc).__name__}: {exc}"
    finally:
        for _, writer in conns:
            writer.close()
        result.seconds = time.monotonic() - start
    return result


# ---------------------------------------------------------------- tunnels


@dataclass
class TunnelsResult:
    """Concurrent CONNECT tunnels, each echoing ``nbytes`` at once."""

    wanted: int
    nbytes: int
    opened: int = 0
    completed: int = 0
    setup_seconds: float = 0.0
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    silences: list[float] = field(default_factory=list)
    proxy_cpu_s: float | None = None
    harness_cpu_s: float | None = None
    rss_before_kib: int = 0
    rss_open_kib: int = 0
    rss_peak_kib: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.completed == self.wanted

    @property
    def stall_ratio(self) -> float | None:
        """The slowest tunnel's time over the median tunnel's."""
        if not self.times:
            return None
        middle = statistics.median(self.times)
        return max(self.times) / middle if middle else None

    def share(self, cpu_s: float | None) -> float | None:
        """CPU seconds over the transfer's wall time."""
        if cpu_s is None or not self.seconds:
            return None
        return round(cpu_s / self.seconds, 3)

    def as_dict(self) -> dict[str, object]:
        def rounded(d: dict[str, float | None], digits: int) -> dict[str, float | None]:
            return {k: None if v is None else round(v, digits) for k, v in d.items()}

        rates = [self.nbytes / t / 1e6 for t in self.times if t]
        ratio = self.stall_ratio
        return {
            "tunnels": self.wanted,
            "bytes_each": self.nbytes,
            "opened": self.opened,
            "completed": self.completed,
            "setup_seconds": round(self.setup_seconds, 2),
            "seconds": round(self.seconds, 2),
            "time_s": rounded(spread(self.times), 3),
            "first_byte_s": rounded(spread(self.first_bytes), 3),
            "mb_per_s": rounded(spread(rates), 2),
            "aggregate_mb_per_s": round(
                self.completed * self.nbytes / self.seconds / 1e6, 1
            )
            if self.seconds
            else None,
            # The longest wait between two reads of a tunnel, after its first.
            "longest_silence_s": round(max(self.silences), 3) if self.silences else None,
            "stall_ratio": None if ratio is None else round(ratio, 3),
            "proxy_cpu_share": self.share(self.proxy_cpu_s),
            "harness_cpu_share": self.share(self.harness_cpu_s),
            "rss_before_kib": self.rss_before_kib,
            "rss_open_kib": self.rss_open_kib,
            "rss_peak_kib": self.rss_peak_kib,
            "errors": self.errors,
        }


SMALL_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 100
)


async def small_origin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A keep-alive origin answering every request with a 100-byte body
    (``asyncio.start_server(small_origin, ...)``), for the idle measure."""
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(SMALL_RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def echo_listener(backlog: int = 4096) -> socket.socket:
    """A listening socket on 127.0.0.1 for the tunnels' echo origin; its
    port must be allowed for CONNECT (``--connect-port``) before the proxy
    starts, so it is bound first and served by L{run_tunnels}."""
    sock = socket.create_server((HOST, 0), backlog=backlog)
    sock.setblocking(False)
    return sock


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def pattern(nbytes: int) -> bytes:
    """The bytes tunnel ``i`` sends: ``pattern[i % 251:][:nbytes]``, so
    that bytes crossing from one tunnel to another are noticed."""
    line = bytes(range(256))
    return (line * (nbytes // 256 + 2))[: nbytes + 251]


@dataclass
class _Tunnel:
    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


async def _open_tunnel(port: int, target: str, index: int) -> _Tunnel:
    reader, writer = await asyncio.open_connection(HOST, port, limit=MAX_HEAD)
    try:
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if status.split(b" ")[1:2] != [b"200"]:
            raise ScaleError(f"CONNECT answered {status[:80]!r}")
    except BaseException:
        writer.close()
        raise
    return _Tunnel(index, reader, writer)


async def _move(
    tunnel: _Tunnel, data: memoryview, started: float
) -> tuple[float, float, float]:
    """Send ``data`` through the tunnel while reading its echo; return the
    times from ``started`` to the last and to the first byte back, and the
    longest wait between two reads after the first."""
    size = len(data)

    async def send() -> None:
        for offset in range(0, size, CHUNK):
            tunnel.writer.write(data[offset : offset + CHUNK])
            await tunnel.writer.drain()

    sender = asyncio.ensure_future(send())
    try:
        got, last, silence, first = 0, started, 0.0, 0.0
        while got < size:
            chunk = await tunnel.reader.read(CHUNK)
            now = time.monotonic()
            if not chunk:
                raise ScaleError(f"closed after {got} of {size} bytes back")
            if chunk != data[got : got + len(chunk)]:
                raise ScaleError(f"wrong bytes back at offset {got}")
            if first:
                silence = max(silence, now - last)
            else:
                first = now - started
            last = now
            got += len(chunk)
        await sender
    finally:
        sender.cancel()
        tunnel.writer.close()
    return last - started, first, silence


async def run_tunnels(
    port: int,
    origin: socket.socket,
    pid: int,
    count: int,
    nbytes: int,
    batch: int = 100,
    timeout: float = 300.0,
) -> TunnelsResult:
    """Open ``count`` CONNECT tunnels through the proxy on ``port`` (process
    tree ``pid``) to an echo origin served on ``origin`` (L{echo_listener}),
    ``batch`` at a time; once all are open, every tunnel sends ``nbytes``
    at the same moment and reads them back.  Each tunnel's time runs from
    that moment to its last byte back."""
    result = TunnelsResult(count, nbytes)
    server = await asyncio.start_server(_echo, sock=origin, limit=MAX_HEAD)
    target = f"{HOST}:{origin.getsockname()[1]}"
    base = memoryview(pattern(nbytes))
    deadline = time.monotonic() + timeout
    tunnels: list[_Tunnel] = []
    try:
        result.rss_before_kib = tree_kib(pid, "VmRSS")
        start = time.monotonic()
        while len(tunnels) < count and time.monotonic() < deadline:
            n = min(batch, count - len(tunnels))
            opened = len(tunnels)
            done, late = await bounded(
                [_open_tunnel(port, target, opened + i) for i in range(n)], deadline
            )
            tunnels += [t for t in done if isinstance(t, _Tunnel)]
            if late or len(done) != n or any(isinstance(t, BaseException) for t in done):
                result.errors.append(
                    "opening: " + (_first_error(done) or f"{late} not opened in time")
                )
                break
        result.opened = len(tunnels)
        result.setup_seconds = time.monotonic() - start
        result.rss_open_kib = tree_kib(pid, "VmRSS")
        if result.opened < count:
            return result
        reset_peak_rss(pid)
        jiffies = tree_jiffies(pid)
        own = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        started = time.monotonic()
        moved, late = await bounded(
            [_move(t, base[t.index % 251 :][:nbytes], started) for t in tunnels], deadline
        )
        result.seconds = time.monotonic() - started
        result.proxy_cpu_s = (tree_jiffies(pid) - jiffies) / os.sysconf("SC_CLK_TCK")
        result.harness_cpu_s = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - own
        result.rss_peak_kib = tree_kib(pid, "VmHWM")
        for outcome in moved:
            if isinstance(outcome, BaseException):
                message = f"{type(outcome).__name__}: {outcome}"
                if message not in result.errors:
                    result.errors.append(message)
            else:
                elapsed, first, silence = outcome
                result.times.append(elapsed)
                result.first_bytes.append(first)
                result.silences.append(silence)
        result.completed = len(result.times)
        if late:
            result.errors.append(f"{late} tunnels not done in {timeout:g} s")
    finally:
        for t in tunnels:
            t.writer.close()
        server.close()
    return result
