"""
Starting, stopping and signals of a real C{twistd proxykit} process, in the
foreground (C{-n}) and as a daemon: a port in use, bad listen strings and
config files, C{--version}, and C{SIGHUP}.

Every command runs with a bounded time (L{RUN_TIMEOUT}); every wait for a
line of output or of a log file is bounded too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

import proxykit

from ._subprocess import (
    ROOT,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    TWISTD,
    Child,
    _childEnvironment,
    run,
    startOrigin,
)

RUN_TIMEOUT = 30.0
"""Seconds a C{twistd} command that is expected to exit may take."""

HELP = "See 'twistd proxykit forward --help' for the options."


def twistd(*argv: str) -> subprocess.CompletedProcess[str]:
    """
    Run C{twistd ARGV...} from the working tree to completion.
    """
    return run([*TWISTD, *argv], ROOT, RUN_TIMEOUT, _childEnvironment())


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """
    The non-empty lines a command wrote (stdout and stderr together).
    """
    return [line for line in result.stdout.splitlines() if line.strip()]


@contextmanager
def busyPort() -> Iterator[int]:
    """
    A loopback port held by a listening socket of the test.
    """
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def freePort() -> int:
    """
    A loopback port nothing listens on (just released).
    """
    with socket.create_server(("127.0.0.1", 0)) as server:
        port: int = server.getsockname()[1]
    return port


def listening(port: int) -> bool:
    """
    Whether something accepts connections on C{port} of 127.0.0.1.
    """
    with socket.socket() as client:
        client.settimeout(5)
        return client.connect_ex(("127.0.0.1", port)) == 0


def loopback(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


def waitFor(check: Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """
    Wait until C{check()} is true, polling for at most C{timeout} seconds.

    @raise AssertionError: It never was.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def fetch(proxyPort: int, url: str) -> bytes:
    """
    GET C{url} through the proxy on C{proxyPort}.
    """
    proxy = urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{proxyPort}"})
    with urllib.request.build_opener(proxy).open(url, timeout=10) as response:
        body: bytes = response.read()
    return body


class Daemon:
    """
    A C{twistd proxykit} started without C{-n}, with its pid file and log
    file in a directory of the test; stopped (if it is running) on cleanup.
    """

    def __init__(self, case: TestCase) -> None:
        self.directory = os.path.abspath(case.mktemp())
        os.makedirs(self.directory)
        self.pidfile = os.path.join(self.directory, "twistd.pid")
        self.logfile = os.path.join(self.directory, "twistd.log")
        case.addCleanup(self.stop)

    def start(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return twistd(
            f"--pidfile={self.pidfile}", f"--logfile={self.logfile}", "proxykit", *argv
        )

    def pid(self) -> int | None:
        try:
            with open(self.pidfile) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def log(self) -> str:
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None and self.running():
            os.kill(pid, signal.SIGTERM)
            waitFor(lambda: not self.running(), "the daemon to exit", STOP_TIMEOUT)


class PortInUseTests(TestCase):
    """
    A listener that cannot listen ends C{twistd proxykit} with one line
    naming the endpoint and the reason and a non-zero status, in the
    foreground and as a daemon, and leaves nothing listening.
    """

    timeout = 120

    def assertOneLine(self, result: subprocess.CompletedProcess[str], port: int) -> None:
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertEqual(
            lines(result),
            [f"proxykit: cannot listen on {loopback(port)}: address already in use"],
        )

    def test_foreground(self) -> None | Deferred[None]:
        """
        C{twistd -n}: one line, status 1.
        """

        def check() -> None:
            with busyPort() as port:
                self.assertOneLine(
                    twistd("-n", "--pidfile=", "proxykit", "forward", "--listen", loopback(port)), port
                )

        return deferToThread(check)

    def test_daemon(self) -> Deferred[None]:
        """
        C{twistd} without C{-n}: the command started exits non-zero with the
        same line, and no daemon is left running.
        """

        def check() -> None:
            daemon = Daemon(self)
            with busyPort() as port:
                self.assertOneLine(daemon.start("forward", "--listen", loopback(port)), port)
            self.assertFalse(daemon.running())

        return deferToThread(check)

    def test_oneOfTwo(self) -> Deferred[None]:
        """
        With two listeners, one of them busy, the proxy does not run on the
        other one: neither in the foreground nor as a daemon.
        """

        def check() -> None:
            free = freePort()
            with busyPort() as port:
                argv = ("forward", "--listen", loopback(free), "--listen", loopback(port))
                self.assertOneLine(twistd("-n", "--pidfile=", "proxykit", *argv), port)
                self.assertFalse(listening(free))
                daemon = Daemon(self)
                self.assertOneLine(daemon.start(*argv), port)
                self.assertFalse(daemon.running())
                self.assertFalse(listening(free))

        return deferToThread(check)

    def test_reverseTLS(self) -> Deferred[None]:
        """
        A TLS listener of a config file that cannot listen is reported the
        same way.
        """

        def check() -> None:
            from tests._certs import TestCA

            directory = os.path.abspath(self.mktemp())
            os.makedirs(directory)
            TestCA().write(directory, "default", "localhost")
            config = os.path.join(directory, "proxy.toml")
            with busyPort() as port:
                with open(config, "w") as f:
                    f.write(
                        f'listen = ["{loopback(freePort())}"]\n'
                        f'[tls]\nlisten = ["{loopback(port)}"]\n'
                        'default_certificate = { cert = "default.pem", key = "default.key" }\n'
                        '[[reverse.vhost]]\nhosts = ["localhost"]\n'
                        '[[reverse.vhost.route]]\norigins = ["http://127.0.0.1:9"]\n'
                    )
                self.assertOneLine(
                    twistd("-n", "--pidfile=", "proxykit", "reverse", "--config", config), port
                )

        return deferToThread(check)


class UsageErrorTests(TestCase):
    """
    Bad listen strings and config files are reported alone (no usage text,
    no traceback), each problem on its own line, then one line pointing at
    C{--help}; the status is 1.
    """

    timeout = 120

    def test_badListen(self) -> Deferred[None]:
        """
        Each bad C{--listen} is one line naming the flag and the problem.
        """

        def check() -> None:
            for value, problem in (
                ("tcp:notaport", "expected a port from 0 to 65535, got 'notaport'"),
                ("bogus:1", "unknown endpoint type 'bogus'"),
                ("3128", "write tcp:3128:interface=127.0.0.1"),
            ):
                result = twistd("-n", "--pidfile=", "proxykit", "forward", "--listen", value)
                self.assertEqual(result.returncode, 1, result.stdout)
                [line, help] = lines(result)
                self.assertTrue(line.startswith("--listen: "), line)
                self.assertIn(problem, line)
                self.assertEqual(help, HELP)

        return deferToThread(check)

    def test_configFile(self) -> Deferred[None]:
        """
        A file with three independent problems, one of them a bad listen
        string, gives the three, each with its file, line and key.
        """

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            with open(path, "w") as f:
                f.write('listen = ["3128"]\n[timeouts]\nidle = -1\n[forward]\nvia = "a b"\n')
            result = twistd("-n", "--pidfile=", "proxykit", "forward", "--config", path)
            self.assertEqual(result.returncode, 1, result.stdout)
            found = lines(result)
            self.assertEqual(len(found), 4, found)
            self.assertEqual(
                sorted(line.split(": ")[0:2] for line in found[:3]),
                [[f"{path}:1", "listen[0]"], [f"{path}:3", "timeouts.idle"], [f"{path}:5", "forward.via"]],
            )
            self.assertEqual(found[3], HELP)

        return deferToThread(check)

    def test_version(self) -> Deferred[None]:
        """
        C{twistd proxykit --version} prints proxykit's version, with
        Twisted's and Python's.
        """

        def check() -> None:
            import twisted

            for argv in (["--version"], ["forward", "--version"]):
                result = twistd("proxykit", *argv)
                self.assertEqual(result.returncode, 0, result.stdout)
                [line] = lines(result)
                self.assertTrue(line.startswith(f"proxykit {proxykit.__version__} "), line)
                self.assertIn(f"Twisted {twisted.__version__}", line)
                self.assertIn(".".join(map(str, sys.version_info[:3])), line)

        return deferToThread(check)


class HangupTests(TestCase):
    """
    C{SIGHUP} never ends the proxy: it reads the configuration again and
    logs what changed (nothing, here), and the proxy goes on serving; on
    proxykit's reactor and on Twisted's, in the foreground and as a daemon.
    """

    timeout = 120

    def origin(self) -> int:
        child, port = startOrigin(self.mktemp())
        self.addCleanup(child.stop)
        return port

    def foreground(self, *reactor: str) -> Deferred[None]:
        def check() -> None:
            origin = self.origin()
            argv = [*TWISTD, "-n", "--pidfile=", *reactor, "proxykit", "forward", "--listen", loopback(0)]
            child = Child(argv, ROOT, _childEnvironment())
            self.addCleanup(child.stop)
            port = int(child.waitForLine(r"ProxyFactory starting on (\d+)").group(1))
            child.waitForLine(r"proxykit started: listening on")
            url = f"http://127.0.0.1:{origin}/small"
            self.assertEqual(fetch(port, url), b"small")
            os.kill(child.pid, signal.SIGHUP)
            child.waitForLine(r"reloaded the configuration: no listener, route or origin changed")
            self.assertEqual(fetch(port, url), b"small")
            self.assertIsNone(child.process.poll())
            child.waitForLine(
                r"reactor class: twisted\.internet\.epollreactor\.EPollReactor"
                if reactor
                else r"reactor class: proxykit\.reactor\.ProxyReactor"
            )

        return deferToThread(check)

    def test_proxykitReactor(self) -> Deferred[None]:
        """
        On proxykit's reactor (C{twistd proxykit}'s default).
        """
        return self.foreground()

    def test_twistedReactor(self) -> Deferred[None]:
        """
        On Twisted's epoll reactor (C{twistd -r epoll}).
        """
        return self.foreground("-r", "epoll")

    def test_daemon(self) -> Deferred[None]:
        """
        As a daemon.
        """

        def check() -> None:
            origin = self.origin()
            daemon = Daemon(self)
            result = daemon.start("forward", "--listen", loopback(0))
            self.assertEqual(result.returncode, 0, result.stdout)
            waitFor(lambda: "proxykit started" in daemon.log(), "the start in the log")
            [port] = [
                int(line.rpartition(" ")[2])
                for line in daemon.log().splitlines()
                if "ProxyFactory starting on" in line
            ]
            url = f"http://127.0.0.1:{origin}/small"
            self.assertEqual(fetch(port, url), b"small")
            pid = daemon.pid()
            assert pid is not None
            os.kill(pid, signal.SIGHUP)
            waitFor(
                lambda: "reloaded the configuration: no listener" in daemon.log(),
                "the hangup in the log",
            )
            self.assertEqual(fetch(port, url), b"small")
            self.assertTrue(daemon.running())

        return deferToThread(check)


class DrainTests(TestCase):
    """
    C{SIGTERM} drains: the listener refuses new connections at once, a
    download in progress completes intact, then the process exits 0; the
    drain timeout and a second signal cut what is left.
    """

    timeout = 120

    def start(self, *options: str) -> tuple[Child, socket.socket, bytes, int]:
        """
        A proxy with a 100 MB download through it in progress: its head read,
        the body not yet.

        @return: The proxy, the client socket, what followed the head, and the
            body's length.
        """
        origin, originPort = startOrigin(self.mktemp())
        self.addCleanup(origin.stop)
        argv = [*TWISTD, "-n", "--pidfile=", "proxykit", "forward", "--listen", loopback(0), *options]
        child = Child(argv, ROOT, _childEnvironment())
        self.addCleanup(child.stop)
        self.port = int(child.waitForLine(r"ProxyFactory starting on (\d+)").group(1))
        child.waitForLine(r"proxykit started: listening on")
        client = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.addCleanup(client.close)
        authority = f"127.0.0.1:{originPort}".encode()
        client.sendall(b"GET http://" + authority + b"/big HTTP/1.1\r\nHost: " + authority + b"\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            data = client.recv(65536)
            self.assertTrue(data, "the proxy closed before the response head")
            received += data
        head, _, rest = received.partition(b"\r\n\r\n")
        self.head = head.lower()
        length = int(self.head.split(b"content-length:")[1].split(b"\r\n")[0])
        return child, client, rest, length

    def test_downloadCompletes(self) -> None | Deferred[None]:
        def check() -> None:
            child, client, rest, length = self.start()
            os.kill(child.pid, signal.SIGTERM)
            child.waitForLine(r"draining 1 connections")
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", self.port), timeout=10).close()
            received = len(rest)
            while received < length:
                data = client.recv(1 << 20)
                if not data:
                    break
                received += len(data)
            self.assertEqual(received, length)
            self.assertEqual(client.recv(1), b"")  # then the proxy closes
            self.assertEqual(child.process.wait(timeout=60), 0)
            child.waitForLine(r"drained in")

        return deferToThread(check)

    def test_timeout(self) -> None | Deferred[None]:
        def check() -> None:
            child, client, rest, length = self.start("--drain-timeout", "1")
            started = time.monotonic()
            os.kill(child.pid, signal.SIGTERM)
            self.assertEqual(child.process.wait(timeout=60), 0)
            child.waitForLine(r"drain cut short \(drain timeout\): 1 connections closed")
            self.assertLess(time.monotonic() - started, 20)

        return deferToThread(check)

    def test_secondSignal(self) -> None | Deferred[None]:
        def check() -> None:
            child, client, rest, length = self.start("--drain-timeout", "600")
            os.kill(child.pid, signal.SIGTERM)
            child.waitForLine(r"draining 1 connections")
            os.kill(child.pid, signal.SIGTERM)
            self.assertEqual(child.process.wait(timeout=60), 0)
            child.waitForLine(r"drain cut short \(second signal\)")

        return deferToThread(check)
