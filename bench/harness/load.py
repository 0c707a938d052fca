"""Load generators: wrk runs, a correctness probe, the CONNECT tunnel client
and the slow client.  Every loop here is bounded in time and in bytes."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
from dataclasses import asdict, dataclass, field

from .procs import HOST, tree_kib
from .servers import BENCH_DIR, KIB, pinned

WRK_LUA = BENCH_DIR / "wrk_request.lua"


class LoadError(RuntimeError):
    """A load generator could not produce a result."""


@dataclass
class WrkResult:
    """What wrk's done() hook reported for one run."""

    requests: int
    duration_us: int
    bytes: int
    err_connect: int
    err_read: int
    err_write: int
    err_status: int
    err_timeout: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def socket_errors(self) -> int:
        return self.err_connect + self.err_read + self.err_write + self.err_timeout

    @property
    def bytes_per_response(self) -> float:
        return self.bytes / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            **asdict(self),
            "rps": round(self.rps, 1),
            "socket_errors": self.socket_errors,
            "bytes_per_response": round(self.bytes_per_response, 1),
        }


def wrk_argv(
    port: int,
    target: str,
    host: str,
    conns: int,
    seconds: int,
    cpu: str | None,
    tls: bool = False,
) -> list[str]:
    # Over TLS the URL names the virtual host, so that wrk sends it as the
    # server name (SNI); wrk_request.lua connects to 127.0.0.1 for it.
    url = f"https://{host}:{port}/" if tls else f"http://{HOST}:{port}/"
    return pinned(cpu, [
        "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s",
        "-s", str(WRK_LUA), url, "--", target, host,
    ])  # fmt: skip


def run_wrk(
    port: int,
    target: str,
    host: str,
    conns: int,
    seconds: int,
    cpu: str | None,
    tls: bool = False,
) -> WrkResult:
    """One wrk run (one thread, keep-alive) against ``port``; over https
    when ``tls`` (wrk does not verify the certificate)."""
    argv = wrk_argv(port, target, host, conns, seconds, cpu, tls)
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish in {seconds + 30}s") from exc
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return WrkResult(**json.loads(line[len("WRKJSON ") :]))
    raise LoadError(f"wrk printed no result (rc={done.returncode}): {done.stderr}")


def connection(
    port: int, timeout: float, tls_name: str | None
) -> http.client.HTTPConnection:
    """A client connection to ``port``; over TLS when ``tls_name`` is given
    (sent as the server name; the benchmark's self-signed certificate is
    not verified)."""
    if tls_name is None:
        return http.client.HTTPConnection(HOST, port, timeout=timeout)
    return NamedHTTPSConnection(HOST, port, tls_name, timeout)


class NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an IP address, sending ``server_name`` as SNI, unverified."""

    def __init__(self, host: str, port: int, server_name: str, timeout: float):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, timeout=timeout, context=context)
        self.server_name = server_name
        self.tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self.tls_context.wrap_socket(raw, server_hostname=self.server_name)


def fetch(
    port: int,
    target: str,
    host: str,
    timeout: float = 10.0,
    tls_name: str | None = None,
) -> tuple[int, bytes]:
    """One GET for ``target`` through the proxy (or server) on ``port``."""
    conn = connection(port, timeout, tls_name)
    try:
        conn.request("GET", target, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def keepalive_probe(
    port: int,
    target: str,
    host: str,
    timeout: float = 10.0,
    tls_name: str | None = None,
) -> str:
    """How the proxy treats a persistent client connection (two GETs)."""
    conn = connection(port, timeout, tls_name)
    try:
        conn.request("GET", target, headers={"Host": host})
        first = conn.getresponse()
        first.read()
        if first.will_close:
            return "no (sends Connection: close)"
        try:
            conn.request("GET", target, headers={"Host": host})
            conn.getresponse().read()
        except (ConnectionError, http.client.HTTPException):
            return "no (closes without Connection: close)"
        return "yes"
    finally:
        conn.close()


@dataclass
class TunnelResult:
    """One CONNECT transfer."""

    ok: bool
    nbytes: int = 0
    seconds: float = 0.0
    error: str = ""

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / self.seconds / 1e6 if self.ok and self.seconds else 0.0


def read_connect_reply(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read the proxy's reply head; return (status line, payload after head)."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
        if len(head) > 65536:
            break
    header, _, rest = head.partition(b"\r\n\r\n")
    return header.split(b"\r\n", 1)[0], rest


def drain(sock: socket.socket, expected: int, deadline: float) -> int:
    """recv_into a preallocated buffer until EOF, ``expected`` bytes or deadline."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    while total < expected and time.monotonic() < deadline:
        n = sock.recv_into(view)
        if n == 0:
            break
        total += n
    return total


def tunnel_transfer(
    proxy_port: int,
    origin_port: int,
    expected: int,
    via_proxy: bool,
    limit_s: float = 60.0,
) -> TunnelResult:
    """CONNECT to the tunnel origin through the proxy and time the download.

    Timed from sending CONNECT until the last byte.  ``via_proxy=False``
    connects straight to the origin (the no-proxy upper bound).
    """
    start = time.perf_counter()
    deadline = time.monotonic() + limit_s
    try:
        with socket.create_connection((HOST, proxy_port), timeout=10) as sock:
            got = 0
            if via_proxy:
                target = f"{HOST}:{origin_port}"
                sock.sendall(
                    f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
                )
                status, rest = read_connect_reply(sock)
                if b" 200" not in status:
                    return TunnelResult(False, error=f"CONNECT reply: {status!r}")
                got = len(rest)
            got += drain(sock, expected - got, deadline)
    except OSError as exc:
        return TunnelResult(False, error=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    if got != expected:
        return TunnelResult(False, got, seconds, f"received {got} of {expected} bytes")
    return TunnelResult(True, got, seconds)


@dataclass
class SlowClientResult:
    """RSS of the proxy while a client downloads slowly through it."""

    status_line: str
    received: int
    seconds: float
    baseline_kib: int
    samples_kib: list[int] = field(default_factory=list)

    @property
    def peak_kib(self) -> int:
        return max(self.samples_kib, default=self.baseline_kib)

    @property
    def growth_kib(self) -> int:
        return max(0, self.peak_kib - self.baseline_kib)


def paced_read(sock: socket.socket, budget: int, until: float) -> tuple[int, bytes]:
    """Read at most ``budget`` bytes before ``until``; return (count, first)."""
    got, first = 0, b""
    while got < budget:
        remaining = until - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(budget - got)
        except TimeoutError:
            break
        if not chunk:
            break
        first = first or chunk
        got += len(chunk)
    return got, first


def slow_download(
    proxy_port: int,
    target: str,
    host: str,
    pid: int,
    rate: int = 64 * KIB,
    seconds: float = 5.0,
    interval: float = 0.25,
) -> SlowClientResult:
    """Download ``target`` through the proxy at ``rate`` B/s for ``seconds``.

    Samples VmRSS of the proxy's process tree every ``interval``; closes the
    connection when the time is up (the body is far larger than what is read).
    """
    result = SlowClientResult("", 0, 0.0, tree_kib(pid, "VmRSS"))
    budget = int(rate * interval)
    request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    start = time.monotonic()
    with socket.create_connection((HOST, proxy_port), timeout=10) as sock:
        sock.sendall(request)
        tick = start
        while tick < start + seconds:
            tick += interval
            got, first = paced_read(sock, budget, tick)
            if first and not result.status_line:
                result.status_line = first.split(b"\r\n", 1)[0].decode("latin-1")
            result.received += got
            result.samples_kib.append(tree_kib(pid, "VmRSS"))
            pause = tick - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the reader, not synchronisation
    result.seconds = time.monotonic() - start
    return result
