"""
HAProxy (Debian's package) in front of two C{twistd proxykit reverse}
instances on loopback, run from exactly the files of C{examples/haproxy/}
(their ports moved to free ones, their log files into a temporary
directory), with the commands docs/scaling.rst gives: HAProxy in TCP mode sends the PROXY protocol (version 2) and
checks each instance's C{/readyz}; each instance listens with a C{haproxy:}
endpoint and speaks the PROXY protocol on to its origin.

Under bounded continuous load through HAProxy, one instance reloads
(C{SIGHUP}) and the other drains (C{SIGTERM}, with C{timeouts.drain_delay}),
and the client sees zero failed requests; the access logs and the origin
see the real client (127.0.0.1 and the port the client connected from);
HAProxy's statistics show no connection retried or redispatched.

Every wait is on a line of output, a health state or a process; every loop
is bounded in requests and in time.
"""

from __future__ import annotations

import csv
import fcntl
import http.client
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from .._snippets import codeBlocks
from ._servers import freePorts
from ._subprocess import ROOT, STOP_TIMEOUT, TWISTD, Child, _childEnvironment

EXAMPLE = os.path.join(ROOT, "examples", "haproxy")

HOST = "app.example.test"

MAX_REQUESTS = 3000
"""The most requests the client sends."""

MAX_SECONDS = 60.0
"""The longest the client runs."""

REQUEST_TIMEOUT = 10.0
"""Seconds one request may take."""

ORIGIN_SCRIPT = r'''
"""
An origin behind a PROXY protocol listener: answers every GET with the
client address it was told and the X-Forwarded-For it received.
"""
import sys
from twisted.internet import endpoints, reactor
from twisted.web import resource, server


class Who(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        client = request.getClientAddress()
        forwarded = (request.getHeader("x-forwarded-for") or "-")
        return f"{client.host} {client.port} {forwarded}\n".encode()


site = server.Site(Who())
site.log = lambda request: None
endpoint = endpoints.serverFromString(reactor, "haproxy:tcp:0:interface=127.0.0.1")
endpoint.listen(site).addCallback(
    lambda port: print("origin listening on", port.getHost().port, flush=True)
)
reactor.run()
'''


def documentedCommands() -> dict[str, list[str]]:
    """
    The commands docs/scaling.rst gives to run C{examples/haproxy/} (its
    "Behind a load balancer" section): each instance's C{twistd} and
    HAProxy's, split into arguments.
    """
    commands = {}
    for block in codeBlocks(os.path.join(ROOT, "docs", "scaling.rst"), "console", "Behind a load balancer"):
        for line in block:
            words = shlex.split(line)
            if words[:1] == [".venv/bin/twistd"] and "proxykit" in words:
                commands[words[-1]] = words
            elif words[:1] == ["haproxy"]:
                commands[words[-1]] = words
    return commands


def replaced(words: list[str], replacements: dict[str, list[str]]) -> list[str]:
    """
    C{words}, each that is a key of C{replacements} (which must all occur)
    replaced by its value.
    """
    missing = set(replacements) - set(words)
    if missing:
        raise AssertionError(f"{words} has no {sorted(missing)}")
    result: list[str] = []
    for word in words:
        result += replacements.get(word, [word])
    return result


def haproxyStats(port: int) -> dict[tuple[str, str], dict[str, str]]:
    """
    HAProxy's statistics from its page on C{port} (C{/stats;csv}), by
    proxy and server name (C{FRONTEND} and C{BACKEND} for the totals).
    """
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats;csv", timeout=10) as response:
        text = response.read().decode("ascii").lstrip("# ")
    return {(row["pxname"], row["svname"]): row for row in csv.DictReader(io.StringIO(text))}


def rewrite(name: str, replacements: dict[str, str], directory: str) -> str:
    """
    Copy C{examples/haproxy/NAME} into C{directory}, each key of
    C{replacements} (which must occur) replaced by its value.

    @return: The copy's path.
    """
    with open(os.path.join(EXAMPLE, name)) as f:
        text = f.read()
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{name} has no {old!r}")
        text = text.replace(old, new)
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Load:
    """
    A client sending requests through HAProxy one after another, each on a
    new connection, until told to stop, L{MAX_REQUESTS} were sent or
    L{MAX_SECONDS} passed.  Each response is checked: 200, and a body that
    names this client's own address and port as the origin was told them.

    @ivar results: C{(client port, problem or None)} per request.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.results: list[tuple[int, str | None]] = []
        self._changed = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        try:
            for _ in range(MAX_REQUESTS):
                if self._stop or time.monotonic() > deadline:
                    break
                result = self._one()
                with self._changed:
                    self.results.append(result)
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._stop = True
                self._changed.notify_all()

    def _one(self) -> tuple[int, str | None]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        port = 0
        try:
            connection.connect()
            port = connection.sock.getsockname()[1]
            connection.request("GET", "/who", headers={"Host": HOST, "Connection": "close"})
            response = connection.getresponse()
            body = response.read().decode("latin-1")
        except (OSError, http.client.HTTPException) as e:
            return port, f"{type(e).__name__}: {e}"
        finally:
            connection.close()
        expected = f"127.0.0.1 {port} 127.0.0.1\n"
        if response.status != 200 or body != expected:
            return port, f"{response.status} {body!r}, expected 200 {expected!r}"
        return port, None

    def waitFor(self, count: int, timeout: float = 30.0) -> None:
        """
        Wait until C{count} requests were answered.

        @raise RuntimeError: The client stopped first, or C{timeout} passed.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.results) < count:
                remaining = deadline - time.monotonic()
                if self._stop or remaining <= 0:
                    raise RuntimeError(f"{len(self.results)} requests answered, not {count}")
                self._changed.wait(remaining)

    @property
    def count(self) -> int:
        with self._changed:
            return len(self.results)

    def stop(self) -> list[tuple[int, str | None]]:
        with self._changed:
            self._stop = True
        self._thread.join(REQUEST_TIMEOUT + 5)
        with self._changed:
            return list(self.results)


class HAProxyTests(TestCase):
    """
    Two proxykit instances behind HAProxy, as C{examples/haproxy/} sets
    them up.
    """

    timeout = 150

    def setUp(self) -> None:
        haproxy = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None
        )
        if haproxy is None:
            raise SkipTest(
                "haproxy is not installed (./dev.sh test installs Debian's haproxy"
                " package; it could not here)"
            )
        self.haproxy = haproxy

    def start(self, argv: list[str], pattern: str) -> Child:
        child = Child(argv, ROOT, _childEnvironment())
        self.addCleanup(child.stop)
        child.waitForLine(pattern)
        return child

    def startAll(self) -> dict[str, Any]:
        """
        Start the origin, both instances and HAProxy from the example's
        files (blocking).
        """
        commands = documentedCommands()
        top = os.path.abspath(self.mktemp())
        os.makedirs(top)
        script = os.path.join(top, "origin.py")
        with open(script, "w") as f:
            f.write(ORIGIN_SCRIPT)
        origin = self.start([sys.executable, script], r"origin listening on (\d+)")
        originPort = re.search(r"origin listening on (\d+)", origin.output())
        assert originPort is not None
        front, a, b, adminA, adminB, stats = freePorts(6)
        logs = {name: os.path.join(top, f"proxykit-{name}-access.log") for name in "ab"}
        instances = {}
        for name, listen, admin, examplePorts in (
            ("a", a, adminA, ("8001", "9101")),
            ("b", b, adminB, ("8002", "9102")),
        ):
            path = rewrite(
                f"proxykit-{name}.toml",
                {
                    f"tcp:{examplePorts[0]}:": f"tcp:{listen}:",
                    f"tcp:{examplePorts[1]}:": f"tcp:{admin}:",
                    '"http://127.0.0.1:9001"': f'"http://127.0.0.1:{originPort.group(1)}"',
                    f'"proxykit-{name}-access.log"': f'"{logs[name]}"',
                },
                top,
            )
            check = subprocess.run(
                [sys.executable, "-c", "import sys; from proxykit.cli import main; sys.exit(main())", "check", path],
                cwd=ROOT, env=_childEnvironment(), capture_output=True, text=True,
                timeout=30,
            )
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            # As the guide runs it, from the rewritten file.
            example = f"examples/haproxy/proxykit-{name}.toml"
            command = replaced(
                commands[example],
                {
                    ".venv/bin/twistd": TWISTD,
                    f"proxykit-{name}.pid": [os.path.join(top, f"{name}.pid")],
                    example: [path],
                },
            )
            instances[name] = self.start(command, r"proxykit started: listening on haproxy:tcp:")
        config = rewrite(
            "haproxy.cfg",
            {
                "127.0.0.1:8000": f"127.0.0.1:{front}",
                "127.0.0.1:8001 port 9101": f"127.0.0.1:{a} port {adminA}",
                "127.0.0.1:8002 port 9102": f"127.0.0.1:{b} port {adminB}",
                "127.0.0.1:8404": f"127.0.0.1:{stats}",
            },
            top,
        )
        checked = subprocess.run(
            [self.haproxy, "-c", "-f", config], capture_output=True, text=True, timeout=30
        )
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        command = replaced(
            commands["examples/haproxy/haproxy.cfg"],
            {"haproxy": [self.haproxy], "examples/haproxy/haproxy.cfg": [config]},
        )
        haproxy = Child(command, top, dict(os.environ))
        self.addCleanup(haproxy.stop)
        # HAProxy drops a log line rather than wait for a full pipe: give
        # the pipe room for every connection's line while this process,
        # busy sending requests, reads them.
        stdout = haproxy.process.stdout
        if stdout is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
            fcntl.fcntl(stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        # Checks run once HAProxy's listener is bound and serving.
        for name in "ab":
            haproxy.waitForLine(rf"Health check for server proxykit/{name} succeeded")
        return dict(front=front, stats=stats, logs=logs, haproxy=haproxy, **instances)

    def scenario(self, started: dict[str, Any]) -> dict[str, Any]:
        """
        Load through HAProxy; meanwhile reload b and drain a (blocking).
        """
        a: Child = started["a"]
        b: Child = started["b"]
        haproxy: Child = started["haproxy"]
        load = Load(started["front"])
        load.start()
        try:
            # Both instances serve (round robin), then b reloads under load.
            load.waitFor(20)
            b.process.send_signal(signal.SIGHUP)
            b.waitForLine(r"reloaded the configuration")
            load.waitFor(load.count + 20)
            # a is told to stop: /readyz fails first, HAProxy takes it out,
            # then its listener closes and it drains; b serves on alone.
            a.process.send_signal(signal.SIGTERM)
            a.waitForLine(r"not ready: still accepting for")
            haproxy.waitForLine(r"Server proxykit/a is DOWN", timeout=10)
            a.waitForLine(r"drain delay over")
            code = a.process.wait(STOP_TIMEOUT)
            load.waitFor(load.count + 30)
        finally:
            results = load.stop()
        # b's access log is complete once it has stopped.
        b.process.send_signal(signal.SIGTERM)
        bCode = b.process.wait(STOP_TIMEOUT + 5)
        # HAProxy logs each connection when it ends.
        return dict(results=results, codes=(code, bCode), stats=haproxyStats(started["stats"]))

    @inlineCallbacks
    def test_drainAndReloadUnderLoad(self) -> Any:
        """
        Under continuous load through HAProxy, b reloads and a drains, and
        no request fails: each answer is the origin's, naming the client's
        own address and port.  The access logs name the client (127.0.0.1
        and its port) for every request, each request in one log; both
        instances served; and HAProxy never had to retry a connection (it
        took a out before a's listener closed).
        """
        started = yield deferToThread(self.startAll)
        outcome = yield deferToThread(self.scenario, started)
        results = outcome["results"]
        failed = [(port, problem) for port, problem in results if problem is not None]
        self.assertEqual(failed, [], f"{len(failed)} of {len(results)} requests failed")
        self.assertGreaterEqual(len(results), 70)
        self.assertEqual(outcome["codes"], (0, 0))

        # Each request in one access log, naming the client as HAProxy saw
        # it (a port may serve several requests, one after another).
        logged: dict[str, list[int]] = {}
        for name, path in started["logs"].items():
            with open(path) as f:
                lines = f.read().splitlines()
            self.assertTrue(lines, f"instance {name} served nothing")
            for line in lines:
                clientAddr, clientPort, method, target, status, _id = line.split()
                self.assertEqual(
                    (clientAddr, method, target, status), ("127.0.0.1", "GET", "/who", "200"), line
                )
                logged.setdefault(name, []).append(int(clientPort))
        self.assertEqual(
            sorted(logged["a"] + logged["b"]), sorted(port for port, _ in results)
        )

        # HAProxy sent every connection to a server on its first try (none
        # was refused: a was out before its listener closed), each to the
        # instance that logged it: its own counters say so.
        stats = outcome["stats"]
        self.assertEqual(stats["public", "FRONTEND"]["stot"], str(len(results)))
        backend = stats["proxykit", "BACKEND"]
        self.assertEqual(
            (backend["econ"], backend["wretr"], backend["wredis"]), ("0", "0", "0"), backend
        )
        for name in "ab":
            self.assertEqual(stats["proxykit", name]["stot"], str(len(logged[name])), name)
        # Its connection log (it may drop a line on a busy pipe) agrees.
        haproxy: Child = started["haproxy"]
        for line in haproxy.lines:
            if " -> proxykit/" in line:
                self.assertRegex(line, r"^127\.0\.0\.1:\d+ -> proxykit/[ab] retries=0 ")
