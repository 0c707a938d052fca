"""
Child processes for the integration tests: the proxy run by C{twistd} from
the working tree, a tiny origin server, and reading a process's memory use.

Everything here blocks; tests call it from a thread (C{deferToThread}) so
that trial's C{timeout} still applies.  Every wait is bounded in time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The repository root: the parent of C{tests/}."""

STARTUP_TIMEOUT = 20.0
"""Seconds a child may take to say which port it listens on."""

STOP_TIMEOUT = 10.0
"""Seconds a child may take to exit after SIGTERM before it is killed."""

MiB = 1024 * 1024

ORIGIN_SCRIPT = r'''
"""
A minimal HTTP/1.1 origin for the memory tests (keep-alive, one thread per
connection).  It never holds a body in memory:

    GET /small    -> 200, body "small"
    GET /big      -> 200, Content-Length 104857600, sent from one 64 KiB buffer;
                     then prints how many bytes it sent (all, or until the
                     connection broke)
    POST /upload  -> reads Content-Length bytes into one 64 KiB buffer and
                     answers their count in decimal
"""

import socket
import sys
import threading

BIG = 100 * 1024 * 1024
CHUNK = 65536
ZEROS = memoryview(bytes(CHUNK))
MAX_HEAD = 65536


def respond(conn, status, body, extra=b""):
    conn.sendall(
        b"HTTP/1.1 " + status + b"\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body
    )


def serve(conn):
    pending = bytearray()
    scratch = bytearray(CHUNK)
    view = memoryview(scratch)
    while True:
        while b"\r\n\r\n" not in pending:
            if len(pending) > MAX_HEAD:
                return
            n = conn.recv_into(view)
            if not n:
                return
            pending += view[:n]
        end = pending.index(b"\r\n\r\n")
        lines = bytes(pending[:end]).split(b"\r\n")
        del pending[: end + 4]
        method, target, _version = lines[0].split(b" ", 2)
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and b"close" in value.lower():
                close = True
        # Consume (and count) the request body without keeping it.
        count = min(length, len(pending))
        del pending[:count]
        while count < length:
            n = conn.recv_into(view, min(CHUNK, length - count))
            if not n:
                return
            count += n
        if method == b"GET" and target == b"/big":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(BIG).encode() + b"\r\n\r\n")
            sent = 0
            try:
                for _ in range(BIG // CHUNK):
                    conn.sendall(ZEROS)
                    sent += CHUNK
            finally:
                print("big response ended after", sent, "bytes", flush=True)
        elif method == b"GET" and target == b"/small":
            respond(conn, b"200 OK", b"small")
        elif method == b"POST" and target == b"/upload":
            respond(conn, b"200 OK", str(count).encode())
        else:
            respond(conn, b"404 Not Found", b"")
        if close:
            return


def handle(conn):
    try:
        with conn:
            serve(conn)
    except OSError:
        pass


def main():
    server = socket.create_server(("127.0.0.1", 0))
    print("origin listening on", server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
'''


class Child:
    """
    A running child process whose output (stdout and stderr together) is
    collected by a thread, so that it can never block on a full pipe.

    @ivar process: The process.
    @ivar lines: Every line it wrote so far.
    """

    def __init__(self, argv: Sequence[str], cwd: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for raw in stdout:
            with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def output(self) -> str:
        """
        Everything the child wrote so far.
        """
        with self._changed:
            return "\n".join(self.lines)

    def waitForLine(
        self, pattern: str, timeout: float = STARTUP_TIMEOUT
    ) -> re.Match[str]:
        """
        Wait until the child writes a line matching C{pattern}.

        @raise RuntimeError: The child exited, or C{timeout} seconds passed.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    match = regex.search(line)
                    if match is not None:
                        return match
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    break
                self._changed.wait(remaining)
        why = "exited" if self._ended else f"said nothing matching in {timeout}s"
        raise RuntimeError(
            f"child {self.process.args!r} {why} (waiting for {pattern!r}):\n"
            + "\n".join(self.lines)
        )

    def waitForLines(self, pattern: str, count: int, timeout: float = STARTUP_TIMEOUT) -> list[str]:
        """
        Wait until the child wrote C{count} lines matching C{pattern}.

        @return: The matching lines so far.
        @raise RuntimeError: The child exited, or C{timeout} seconds passed.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if regex.search(line)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or self._ended or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(found) >= count:
            return found
        raise RuntimeError(
            f"child {self.process.args!r}: {len(found)} lines matching {pattern!r}, not {count}"
        )

    def stop(self) -> None:
        """
        Terminate the child and wait for it (kill it if SIGTERM is not
        enough).
        """
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        self._reader.join(STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


def _childEnvironment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    env["PYTHONUNBUFFERED"] = "1"
    return env


TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
"""C{twistd} as run from the working tree (the tests' own interpreter)."""


def startChild(argv: Sequence[str], *ready: str) -> tuple[Child, list[re.Match[str]]]:
    """
    Run C{argv} from the working tree and wait for a line matching each
    pattern of C{ready}, in turn.

    @return: The child and the match of each pattern; a child whose lines do
        not come is stopped, and the failure raised.
    """
    child = Child(argv, ROOT, _childEnvironment())
    try:
        return child, [child.waitForLine(pattern) for pattern in ready]
    except BaseException:
        child.stop()
        raise


def startTwistd(*arguments: str) -> tuple[Child, int]:
    """
    Run C{twistd -n proxykit ARGUMENTS} from the working tree.

    @return: The child and the port of its first plain listener.
    """
    child, [match] = startChild(
        [*TWISTD, "-n", "--pidfile=", "proxykit", *arguments], r"ProxyFactory starting on (\d+)"
    )
    return child, int(match.group(1))


def startProxy(*options: str) -> tuple[Child, int]:
    """
    Run C{twistd -n proxykit forward} from the working tree on an ephemeral
    loopback port.

    @param options: More C{forward} options, such as C{--idle-timeout 5}.
    @return: The child and the port it listens on.
    """
    return startTwistd("forward", "--listen", "tcp:0:interface=127.0.0.1", *options)


def startOrigin(directory: str) -> tuple[Child, int]:
    """
    Write L{ORIGIN_SCRIPT} into C{directory} and run it.

    @return: The child and the port it listens on.
    """
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    script = os.path.join(directory, "origin.py")
    with open(script, "w") as f:
        f.write(ORIGIN_SCRIPT)
    child = Child([sys.executable, script], directory, dict(os.environ))
    try:
        match = child.waitForLine(r"origin listening on (\d+)")
    except BaseException:
        child.stop()
        raise
    return child, int(match.group(1))


def memoryKiB(pid: int, field: str) -> int:
    """
    A memory figure of a process from C{/proc/PID/status}, in KiB.

    @param field: C{"VmRSS"} (resident now) or C{"VmHWM"} (peak resident).
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name == field:
                number, unit = value.split()
                assert unit == "kB", line
                return int(number)
    raise KeyError(f"{field} not in /proc/{pid}/status")


def run(
    argv: Sequence[str], cwd: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """
    Run a command to completion, output (stdout and stderr together) as text.

    @raise subprocess.TimeoutExpired: It ran longer than C{timeout} seconds.
    """
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


class ChildrenMixin:
    """
    For integration tests that start origins and C{twistd proxykit}
    children, each stopped at the test's end.
    """

    mktemp: Any
    addCleanup: Any

    def origin(self) -> int:
        """
        Start L{ORIGIN_SCRIPT}; its port.
        """
        child, port = startOrigin(self.mktemp())
        self.addCleanup(child.stop)
        return port

    def proxy(self, *arguments: str) -> tuple[Child, int]:
        """
        Start C{twistd -n proxykit ARGUMENTS} and wait until it has started;
        the child and the port of its first plain listener.
        """
        child, port = startTwistd(*arguments)
        self.addCleanup(child.stop)
        child.waitForLine(r"proxykit started: listening on")
        return child, port
