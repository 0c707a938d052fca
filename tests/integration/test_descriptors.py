"""
C{twistd proxykit forward} out of file descriptors (issue 14): it raises
its soft open-file limit to the hard limit at start; when accept fails for
lack of descriptors it keeps serving the connections it has, logs once per
interval, and accepts again as soon as descriptors are free; it neither
spins nor crashes.

The proxy runs with a hard limit of 64 open files and a connection cap
above it, so that its listener, not its gate, meets the limit; clients
are plain sockets on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ._subprocess import TWISTD, Child, ChildrenMixin, startChild

LIMIT = 64
"""The proxy's open-file limit, soft and hard."""

WAIT = 5.0
"""Seconds a client waits for any answer."""


def _limited(soft: int, hard: int) -> list[str]:
    """
    C{twistd}, started with an open-file limit of C{soft}, C{hard}.
    """
    code = TWISTD[-1]
    return [
        *TWISTD[:-1],
        "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, "
        f"({soft}, {hard})); {code}",
    ]


def _get(client: socket.socket, origin: int) -> bytes | None:
    """
    Send one GET through the proxy on C{client}; the status line, or
    C{None} when the connection closed or broke first.
    """
    try:
        client.sendall(
            f"GET http://127.0.0.1:{origin}/small HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{origin}\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return None
            data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    fields = dict(
        line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
    )
    length = int(fields.get(b"Content-Length", b"0"))
    while len(body) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head.split(b"\r\n", 1)[0]


def _connect(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    client.settimeout(WAIT)
    return client


def _cpuSeconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class OutOfDescriptorsTests(ChildrenMixin, TestCase):
    timeout = 120

    def _proxy(self, soft: int, hard: int, *arguments: str) -> tuple[Child, int]:
        child, (match, _) = startChild(
            [
                *_limited(soft, hard),
                "-n",
                "--pidfile=",
                "proxykit",
                "forward",
                "--listen",
                "tcp:0:interface=127.0.0.1",
                *arguments,
            ],
            r"ProxyFactory starting on (\d+)",
            r"proxykit started: listening on",
        )
        self.addCleanup(child.stop)
        return child, int(match.group(1))

    def test_softLimitRaised(self) -> Any:
        """
        Started with a soft limit below its hard limit, the proxy raises
        the soft limit to the hard one, and says so.
        """
        hard = LIMIT * 4
        child, _ = self._proxy(LIMIT, hard)
        child.waitForLine(rf"open-file limit: {hard}\b")
        with open(f"/proc/{child.pid}/limits") as f:
            [line] = [line for line in f if line.startswith("Max open files")]
        self.assertEqual(line.split()[3:5], [str(hard), str(hard)])

    def test_outOfDescriptors(self) -> Any:
        origin = self.origin()
        config = os.path.abspath(self.mktemp())
        with open(config, "w") as f:
            f.write("[limits]\nmax_client_connections = 1000\n")
        child, port = self._proxy(LIMIT, LIMIT, "--config", config)
        return deferToThread(self._outOfDescriptors, child, port, origin)

    def _outOfDescriptors(self, child: Child, port: int, origin: int) -> None:
        held: list[socket.socket] = []
        try:
            self._atTheLimit(child, port, origin, held)
        finally:
            for client in held:
                client.close()

    def _atTheLimit(
        self, child: Child, port: int, origin: int, held: list[socket.socket]
    ) -> None:
        # Keep-alive clients until the proxy has no descriptor left.
        for _ in range(LIMIT):
            client = _connect(port)
            if _get(client, origin) != b"HTTP/1.1 200 OK":
                client.close()
                break
            held.append(client)
        else:
            self.fail(f"{LIMIT} clients held with a limit of {LIMIT} descriptors")
        self.assertGreater(len(held), LIMIT // 2)

        # More clients knock: each is turned away at once, none hangs.
        cpu = _cpuSeconds(child.pid)
        started = time.monotonic()
        for _ in range(100):
            client = _connect(port)
            self.assertIsNone(_get(client, origin))
            client.close()
        self.assertLess(time.monotonic() - started, WAIT)

        # Nothing spins: a second at the limit with nothing to do costs
        # the proxy next to no CPU.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(deadline - time.monotonic())
        self.assertLess(_cpuSeconds(child.pid) - cpu, 0.5)

        # The connections it has are served.
        for client in held:
            self.assertEqual(_get(client, origin), b"HTTP/1.1 200 OK")

        # One line for it all (one per interval at most), not Twisted's
        # lines for each client.
        lines = child.waitForLines(r"cannot accept on tcp:0:interface=127\.0\.0\.1", 1)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("out of file descriptors or memory (EMFILE)", lines[0])
        self.assertNotIn("EMFILE recovery", child.output())

        # Descriptors freed: it accepts again.
        before = _descriptors(child.pid)
        for client in held[:4]:
            client.close()
        del held[:4]
        deadline = time.monotonic() + WAIT
        while _descriptors(child.pid) > before - 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        client = _connect(port)
        held.append(client)
        self.assertEqual(_get(client, origin), b"HTTP/1.1 200 OK")
        self.assertIsNone(child.process.poll())
