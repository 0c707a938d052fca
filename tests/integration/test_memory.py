"""
Memory use of the proxy under large and slow transfers, measured on a real
C{twistd proxykit forward} process.

The proxy and the origin are separate processes (see L{_subprocess}), so
their memory is not the test's.  The clients are plain blocking sockets run
in a thread, each loop bounded in count and in time.  Memory figures are
read from C{/proc/PID/status}: C{VmHWM} (peak resident set) and C{VmRSS}
(resident set now).
"""

from __future__ import annotations

import socket
import time
from typing import NoReturn

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from ._subprocess import STOP_TIMEOUT, Child, MiB, memoryKiB, startOrigin, startProxy

BIG = 100 * MiB
"""Size of the origin's C{/big} resource and of the uploaded body."""

CHUNK = 64 * 1024
IO_TIMEOUT = 10.0
"""Seconds any single socket operation may block."""
TRANSFER_TIMEOUT = 40.0
"""Seconds a whole 100 MiB transfer may take."""
MAX_HEAD = 64 * 1024

PEAK_GROWTH_LIMIT = 50 * MiB
RSS_GROWTH_LIMIT = 20 * MiB

SLOW_RATE = 64 * 1024
"""Bytes per second the slow client reads."""
SLOW_TICK = 0.25
SLOW_TICKS = 16
"""The slow client reads for C{SLOW_TICKS * SLOW_TICK} = 4 seconds."""


def _connect(port: int, receiveBuffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if receiveBuffer is not None:
            # Before connect(), so that the window is small from the start.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        sock.settimeout(IO_TIMEOUT)
        sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


def _readHead(sock: socket.socket) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """
    Read a response head.

    @return: The status line, the header fields (lower-case names) and the
        body bytes read past the head.
    """
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_HEAD:
            raise AssertionError(f"no end of response head in {buffer[:200]!r}...")
        data = sock.recv(CHUNK)
        if not data:
            raise AssertionError(f"connection closed after {buffer!r}")
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    statusLine, *lines = head.split(b"\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return statusLine, fields, rest


def _readBody(sock: socket.socket, already: bytes, length: int) -> bytes:
    body = already
    while len(body) < length:
        data = sock.recv(length - len(body))
        if not data:
            raise AssertionError(f"connection closed after {body!r}")
        body += data
    return body


def _request(
    sock: socket.socket, method: str, originPort: int, path: str, extra: str = ""
) -> None:
    authority = f"127.0.0.1:{originPort}"
    sock.sendall(
        f"{method} http://{authority}{path} HTTP/1.1\r\nHost: {authority}\r\n{extra}\r\n".encode()
    )


class MemoryTests(TestCase):
    """
    Tests for the proxy's memory use: bodies stream through it, and a slow
    client slows the origin down instead of filling the proxy's memory.
    """

    timeout = 60
    _log = Logger()

    def setUp(self) -> Deferred[None]:
        return deferToThread(self._startChildren)

    def _startChildren(self) -> None:
        self.origin, self.originPort = self._started(startOrigin(self.mktemp()))
        self.proxy, self.proxyPort = self._started(startProxy())

    def _started(self, started: tuple[Child, int]) -> tuple[Child, int]:
        self.addCleanup(started[0].stop)
        return started

    def _fail(self, message: str) -> NoReturn:
        self.fail(f"{message}\n--- proxy output ---\n{self.proxy.output()}")

    def _smallRequest(self) -> None:
        """
        One small GET through the proxy, on a new connection, answered in
        full.
        """
        with _connect(self.proxyPort) as sock:
            _request(sock, "GET", self.originPort, "/small", "Connection: close\r\n")
            status, fields, rest = _readHead(sock)
            self.assertEqual(status, b"HTTP/1.1 200 OK")
            self.assertEqual(
                _readBody(sock, rest, int(fields[b"content-length"])), b"small"
            )

    def _warmUp(self) -> int:
        """
        Serve one small request, so that what a first request loads is not
        counted, then return the proxy's peak resident set in bytes.
        """
        self._smallRequest()
        return memoryKiB(self.proxy.pid, "VmHWM") * 1024

    def _assertPeakGrowth(self, what: str, before: int) -> None:
        after = memoryKiB(self.proxy.pid, "VmHWM") * 1024
        growth = after - before
        self._log.info(
            "{what}: proxy VmHWM {before} -> {after} bytes (+{growth:.1f} MiB)",
            what=what,
            before=before,
            after=after,
            growth=growth / MiB,
        )
        if growth >= PEAK_GROWTH_LIMIT:
            self._fail(
                f"{what}: the proxy's peak resident set grew by {growth / MiB:.1f} MiB "
                f"(limit {PEAK_GROWTH_LIMIT // MiB} MiB)"
            )

    def test_download(self) -> Deferred[None]:
        """
        A client downloads a 100 MiB response through the proxy and receives
        every byte, while the proxy's peak memory grows by less than 50 MiB:
        the body streams through instead of being buffered.
        """
        return deferToThread(self._download)

    def _download(self) -> None:
        before = self._warmUp()
        deadline = time.monotonic() + TRANSFER_TIMEOUT
        with _connect(self.proxyPort) as sock:
            _request(sock, "GET", self.originPort, "/big")
            status, fields, rest = _readHead(sock)
            self.assertEqual(status, b"HTTP/1.1 200 OK")
            self.assertEqual(fields.get(b"content-length"), str(BIG).encode())
            received = len(rest)
            buffer = bytearray(CHUNK)
            while received < BIG:
                if time.monotonic() > deadline:
                    self._fail(f"only {received} bytes in {TRANSFER_TIMEOUT}s")
                n = sock.recv_into(buffer)
                if not n:
                    break
                received += n
        self.assertEqual(received, BIG)
        self._assertPeakGrowth("100 MiB download", before)
        self.origin.waitForLine(rf"big response ended after {BIG} bytes", STOP_TIMEOUT)

    def test_upload(self) -> Deferred[None]:
        """
        A client uploads a 100 MiB request body through the proxy; the origin
        receives every byte, while the proxy's peak memory grows by less than
        50 MiB.
        """
        return deferToThread(self._upload)

    def _upload(self) -> None:
        before = self._warmUp()
        deadline = time.monotonic() + TRANSFER_TIMEOUT
        with _connect(self.proxyPort) as sock:
            _request(
                sock, "POST", self.originPort, "/upload", f"Content-Length: {BIG}\r\n"
            )
            chunk = memoryview(bytes(CHUNK))
            for _ in range(BIG // CHUNK):
                if time.monotonic() > deadline:
                    self._fail(f"the upload took over {TRANSFER_TIMEOUT}s")
                sock.sendall(chunk)
            status, fields, rest = _readHead(sock)
            self.assertEqual(status, b"HTTP/1.1 200 OK")
            body = _readBody(sock, rest, int(fields[b"content-length"]))
        self.assertEqual(body, str(BIG).encode())
        self._assertPeakGrowth("100 MiB upload", before)

    def test_slowClient(self) -> Deferred[None]:
        """
        A client reading at 64 KiB/s from a fast origin gets a steady 64 KiB/s
        while the proxy's memory stays within 20 MiB of where it started:
        the proxy stops reading from the origin while the client is behind.
        Once the client goes away, the proxy serves new requests.
        """
        return deferToThread(self._slowClient)

    def _slowClient(self) -> None:
        self._warmUp()
        pid = self.proxy.pid
        baseline = memoryKiB(pid, "VmRSS") * 1024
        quota = int(SLOW_RATE * SLOW_TICK)
        buffer = bytearray(quota)
        samples = []
        with _connect(self.proxyPort, receiveBuffer=CHUNK) as sock:
            _request(sock, "GET", self.originPort, "/big")
            status, fields, rest = _readHead(sock)
            self.assertEqual(status, b"HTTP/1.1 200 OK")
            received = len(rest)
            started = time.monotonic()
            for tick in range(1, SLOW_TICKS + 1):
                # Read this tick's quota; the proxy has had a whole tick to
                # make it available, so each recv returns at once.
                while received < tick * quota:
                    n = sock.recv_into(buffer, tick * quota - received)
                    if not n:
                        self._fail(
                            f"the proxy closed the connection after {received} bytes"
                        )
                    received += n
                samples.append(memoryKiB(pid, "VmRSS") * 1024)
                # Rate limiting, not synchronisation: wait for the next tick.
                pause = started + tick * SLOW_TICK - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            elapsed = time.monotonic() - started
        # The client went away: the proxy drops the origin connection, and the
        # origin reports how much of /big it managed to send.
        originSent = int(
            self.origin.waitForLine(
                r"big response ended after (\d+) bytes", STOP_TIMEOUT
            ).group(1)
        )
        peak = max(samples)
        self._log.info(
            "slow client: {received} bytes in {elapsed:.2f}s; proxy VmRSS baseline "
            "{baseline}, max {peak} (+{growth:.1f} MiB); origin sent {originSent}",
            received=received,
            elapsed=elapsed,
            baseline=baseline,
            peak=peak,
            growth=(peak - baseline) / MiB,
            originSent=originSent,
        )
        if peak - baseline > RSS_GROWTH_LIMIT:
            self._fail(
                f"the proxy's resident set grew by {(peak - baseline) / MiB:.1f} MiB "
                f"behind a slow client (limit {RSS_GROWTH_LIMIT // MiB} MiB); "
                f"samples {samples}"
            )
        # The client got its reading rate, not the whole file, and the origin
        # was held back to what socket buffers and the proxy's bounded
        # buffers hold.
        self.assertEqual(received, SLOW_TICKS * quota)
        self.assertLess(elapsed, 2 * SLOW_TICKS * SLOW_TICK)
        self.assertLess(originSent, BIG // 2)
        self._smallRequest()
