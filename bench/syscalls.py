# -*- test-case-name: tests.test_benchstages -*-
"""
System calls per relayed request, by name, for proxykit forward, proxykit
reverse and nginx's C{proxy_pass} (issue 14's "count syscalls per request
against nginx's"): C{strace -c -f} attached to the proxy process only,
while a client sends a fixed number of keep-alive requests through it.

    .venv/bin/python bench/syscalls.py [--requests N] [--connections C ...]
                                       [--proxies proxykit-forward,proxykit-reverse,nginx]

Each proxy runs alone, as C{bench/run.py} starts it (C{twistd -n proxykit
forward} or C{reverse --route bench.test=ORIGIN} from this Python's
environment, C{pip install .} first; nginx from C{bench/nginx-reverse.conf}:
one process, upstream keepalive), in front of the same nginx origin serving
C{/small} (100 bytes).  For each connection count (default 1 and 50) the
client opens the connections, warms them up with one request each (the
proxy's origin pool fills), then strace attaches to the proxy and the client
sends C{--requests} requests (default 2,000), each connection sending its
next request when its last response is complete; strace detaches when the
last response is in.  Counts are divided by the number of requests.

Counts depend on timing as well as on code: with many connections, one
C{epoll_wait} returns several ready sockets, and strace slows the proxy down
(every system call stops it), which batches more.  Compare proxies run the
same way, not against figures measured without strace.

Traffic stays on 127.0.0.1; each run is bounded by C{--timeout} seconds.
Needs strace and nginx.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.procs import ProcessManager, free_port, wait_for_port  # noqa: E402
from harness.servers import (  # noqa: E402
    REVERSE_HOST,
    Origin,
    Settings,
    nginx_reverse_argv,
    proxykit_argv,
    proxykit_reverse_argv,
    start_nginx,
)

PROXIES = ["proxykit-forward", "proxykit-reverse", "nginx"]

MAIN_CALLS: list[tuple[str, tuple[str, ...]]] = [
    ("epoll_wait", ("epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "select")),
    ("read", ("recvfrom", "read", "recvmsg", "readv")),
    ("write", ("sendto", "write", "writev", "sendmsg")),
    ("epoll_ctl", ("epoll_ctl",)),
]
"""The table's columns: a name and the system calls it adds up."""


@dataclass
class Counts:
    """
    One C{strace -c} summary.

    @ivar calls: Calls by system call name.
    @ivar errors: Failed calls by name (C{EAGAIN} reads among them).
    """

    calls: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def parseSummary(text: str) -> Counts:
    """
    Parse the table C{strace -c} writes: the dashed line gives the columns'
    widths; the C{calls} and C{errors} columns and the system call's name
    are read from each row (the C{total} row is left out).
    """
    lines = text.splitlines()
    counts = Counts()
    try:
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("---"))
    except StopIteration:
        raise ValueError("no strace -c table") from None
    header, rule = lines[start - 1], lines[start]
    spans: list[tuple[int, int]] = []
    position = 0
    for dashes in rule.split(" "):
        if dashes:
            spans.append((position, position + len(dashes)))
        position += len(dashes) + 1
    # Each header word lies inside its column's span.
    column = {header[begin:end].strip(): index for index, (begin, end) in enumerate(spans)}
    if "calls" not in column or "syscall" not in column:
        raise ValueError(f"unexpected strace -c header: {header!r}")
    def cell(line: str, name: str) -> str:
        begin, end = spans[column[name]]
        return line[begin:].strip() if name == "syscall" else line[begin:end].strip()

    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("---"):
            continue
        syscall, calls = cell(line, "syscall"), cell(line, "calls")
        if syscall == "total" or not calls:
            continue
        counts.calls[syscall] = counts.calls.get(syscall, 0) + int(calls)
        errors = cell(line, "errors") if "errors" in column else ""
        if errors:
            counts.errors[syscall] = counts.errors.get(syscall, 0) + int(errors)
    return counts


class Client:
    """
    C{connections} keep-alive connections to a proxy on 127.0.0.1, each
    sending C{request} again as soon as its response is complete (a
    C{Content-Length} response, checked to be a C{200} with C{bodySize}
    bytes).
    """

    def __init__(self, port: int, request: bytes, bodySize: int, connections: int) -> None:
        self.request = request
        self.bodySize = bodySize
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            self.sockets.append(sock)

    def run(self, requests: int, timeout: float) -> int:
        """
        Send C{requests} requests spread over the connections; return the
        number of complete C{200} responses.
        """
        deadline = time.monotonic() + timeout
        left = requests
        buffers: dict[socket.socket, bytes] = {}
        for sock in self.sockets:
            if left == 0:
                break
            sock.sendall(self.request)
            left -= 1
            buffers[sock] = b""
            self.selector.register(sock, selectors.EVENT_READ)
        done = 0
        while buffers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{done} of {requests} responses in {timeout:g} s")
            for key, _ in self.selector.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the proxy closed a connection")
                buffer = buffers[sock] + data
                head, found, body = buffer.partition(b"\r\n\r\n")
                if not found or len(body) < self.bodySize:
                    buffers[sock] = buffer
                    continue
                if not head.startswith(b"HTTP/1.1 200 ") or len(body) != self.bodySize:
                    raise ValueError(f"unexpected response: {buffer[:200]!r}")
                done += 1
                if left:
                    sock.sendall(self.request)
                    left -= 1
                    buffers[sock] = b""
                else:
                    del buffers[sock]
                    self.selector.unregister(sock)
        return done

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.selector.close()


def traced(pid: int, output: Path, work: Callable[[], object], timeout: float = 30) -> Counts:
    """
    Attach C{strace -c -f} to C{pid}, call C{work()}, detach, and return
    the counts.
    """
    strace = subprocess.Popen(
        ["strace", "-c", "-f", "-o", str(output), "-p", str(pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert strace.stderr is not None
        # strace says "Process PID attached" (once per thread) when it is.
        line = strace.stderr.readline()
        if "attached" not in line:
            raise RuntimeError(f"strace did not attach: {line.strip()}")
        work()
    finally:
        strace.send_signal(signal.SIGINT)
        try:
            strace.wait(timeout)
        except subprocess.TimeoutExpired:
            strace.kill()
            strace.wait()
    return parseSummary(output.read_text())


@dataclass
class Result:
    proxy: str
    connections: int
    requests: int
    counts: Counts

    def perRequest(self, names: tuple[str, ...] | None = None) -> float:
        calls = self.counts.calls
        total = sum(calls.values()) if names is None else sum(calls.get(n, 0) for n in names)
        return total / self.requests


def measureProxy(
    name: str,
    port: int,
    pid: int,
    origin: Origin,
    connections: int,
    requests: int,
    scratch: Path,
    timeout: float,
) -> Result:
    """
    Warm C{connections} connections up, then count the proxy's system
    calls over C{requests} requests.
    """
    if name == "proxykit-forward":
        request = (
            f"GET {origin.url('small')} HTTP/1.1\r\nHost: {origin.host}\r\n\r\n".encode()
        )
    else:
        request = f"GET /small HTTP/1.1\r\nHost: {REVERSE_HOST}\r\n\r\n".encode()
    client = Client(port, request, origin.files["small"], connections)
    try:
        # Three rounds on every connection: the proxy's origin pool fills.
        client.run(3 * connections, timeout)
        done: list[int] = []
        counts = traced(
            pid,
            scratch / f"strace-{name}-{connections}.txt",
            lambda: done.append(client.run(requests, timeout)),
        )
    finally:
        client.close()
    if done != [requests]:
        raise RuntimeError(f"{name}: {done} responses of {requests}")
    return Result(name, connections, requests, counts)


def run(
    proxies: list[str], connectionCounts: list[int], requests: int, timeout: float
) -> list[Result]:
    """
    Start the origin, then each proxy in turn, and measure it at each
    connection count.
    """
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="syscalls-") as directory:
        scratch = Path(directory)
        pm = ProcessManager(scratch)
        try:
            origin = start_nginx(pm, scratch, None, 1024)
            settings = Settings(
                venv=Path(sys.prefix),
                tmp=scratch,
                connect_port=origin.port,
                proxy_cpu=None,
                origin_port=origin.port,
            )
            for name in proxies:
                port = free_port()
                argv = {
                    "proxykit-forward": proxykit_argv,
                    "proxykit-reverse": proxykit_reverse_argv,
                    "nginx": nginx_reverse_argv,
                }[name](settings, port)
                proc = pm.start(name, argv)
                try:
                    wait_for_port(proc, port)
                    for connections in connectionCounts:
                        results.append(
                            measureProxy(
                                name, port, proc.pid, origin, connections, requests, scratch, timeout
                            )
                        )
                finally:
                    pm.stop(proc)
        finally:
            pm.stop_all()
    return results


def table(results: list[Result]) -> str:
    """
    A Markdown table: per proxy and connection count, system calls per
    request in all and the main ones.
    """
    head = "| proxy | connections | all | " + " | ".join(n for n, _ in MAIN_CALLS) + " | other |"
    lines = [head, "| --- | ---: | ---: |" + " ---: |" * (len(MAIN_CALLS) + 1)]
    for r in results:
        main = [r.perRequest(names) for _, names in MAIN_CALLS]
        listed = {name for _, names in MAIN_CALLS for name in names}
        other = sum(n for s, n in r.counts.calls.items() if s not in listed) / r.requests
        cells = " | ".join(f"{value:.2f}" for value in [*main, other])
        lines.append(f"| {r.proxy} | {r.connections} | {r.perRequest():.2f} | {cells} |")
    return "\n".join(lines)


def detail(results: list[Result]) -> str:
    """
    Every system call seen, per request, one line per proxy and connection
    count (with the failed calls, such as reads answered C{EAGAIN}).
    """
    lines = []
    for r in results:
        calls = sorted(r.counts.calls.items(), key=lambda item: -item[1])
        parts = []
        for syscall, count in calls:
            failed = r.counts.errors.get(syscall, 0)
            note = f" ({failed / r.requests:.2f} failed)" if failed else ""
            parts.append(f"{syscall} {count / r.requests:.2f}{note}")
        lines.append(f"{r.proxy}, {r.connections} connections: " + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="System calls per relayed request.")
    parser.add_argument("--requests", type=int, default=2000, help="requests per count")
    parser.add_argument(
        "--connections",
        type=int,
        action="append",
        help="keep-alive connections (repeatable; default 1 and 50)",
    )
    parser.add_argument(
        "--proxies", default=",".join(PROXIES), help=f"a subset of {','.join(PROXIES)}"
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds per count")
    args = parser.parse_args(argv)
    proxies = [p for p in args.proxies.split(",") if p]
    unknown = set(proxies) - set(PROXIES)
    if unknown:
        parser.error(f"unknown proxies: {', '.join(sorted(unknown))}")
    for tool in ("strace", "nginx"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            parser.error(f"{tool} is needed")
    counts = args.connections or [1, 50]
    if any(c < 1 or c > args.requests for c in counts):
        parser.error("each --connections must be between 1 and --requests")
    results = run(proxies, counts, args.requests, args.timeout)
    print(f"system calls per request ({args.requests} requests, keep-alive)\n")
    print(table(results))
    print()
    print(detail(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
