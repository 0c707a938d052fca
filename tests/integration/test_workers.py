"""
C{twistd proxykit forward --workers 2}, real processes on loopback: both
workers serve (their metrics say so), a worker killed with C{kill -9}
under load loses only what it had in flight and is replaced, C{SIGHUP} and
C{SIGTERM} reach every worker (each drains the requests it has in
flight), the supervisor exits 0, and a busy port
stops the start in one line before any worker runs.

Every wait is bounded (lines with L{STARTUP_TIMEOUT}, HTTP with
L{HTTP_TIMEOUT}, loops by count).
"""

from __future__ import annotations

import http.client
import http.server
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from .._snippets import codeBlocks
from ._subprocess import (
    ROOT,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    TWISTD,
    Child,
    _childEnvironment,
    run,
    startChild,
    startOrigin,
)
from .test_lifecycle import waitFor

HTTP_TIMEOUT = 10.0
"""Seconds one request through the proxy may take."""

LOOPBACK = "tcp:0:interface=127.0.0.1"


def startWorkers(*options: str, listen: str = LOOPBACK) -> tuple[Child, int, int]:
    """
    Run C{twistd -n proxykit forward --workers 2 --admin tcp:0} and wait
    until both workers have started.

    @param listen: The listener's endpoint string.
    @return: The supervisor, the proxy's port, the admin port.
    """
    child, matches = startChild(
        [*TWISTD, "-n", "--pidfile=", "proxykit", "forward", "--listen", listen,
         "--workers", "2", "--admin", "tcp:0", *options],
        r"_AdminSite starting on (\d+)",
        r"starting 2 workers on \S+ \(port (\d+)\)",
    )
    try:
        for number in (1, 2):
            child.waitForLine(rf"worker {number}: .*proxykit started")
    except BaseException:
        child.stop()
        raise
    return child, int(matches[1].group(1)), int(matches[0].group(1))


def digestOf(*options: str, listen: str = LOOPBACK) -> str:
    """
    The digest of the configuration L{startWorkers} gives the supervisor
    with C{options}: what C{twistd proxykit} reads from its command line.
    """
    from proxykit.ops.version import ConfigVersion
    from proxykit.tap import Options

    parsed = Options()  # type: ignore[no-untyped-call]
    parsed.parseOptions(
        ["forward", "--listen", listen, "--workers", "2", "--admin", "tcp:0", *options]
    )
    return ConfigVersion.of(parsed.subOptions["proxyConfig"], 0).digest


def waitForNth(child: Child, pattern: str, n: int) -> re.Match[str]:
    """
    Wait until C{child} has written C{n} lines matching C{pattern}: the
    last one's match.
    """
    regex = re.compile(pattern)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with child._changed:
        while True:
            found = [m for m in map(regex.search, child.lines) if m is not None]
            if len(found) >= n:
                return found[n - 1]
            remaining = deadline - time.monotonic()
            if child._ended or remaining <= 0:
                raise RuntimeError(f"no line {n} matching {pattern!r}:\n{child.output()}")
            child._changed.wait(remaining)


def get(proxy: int, url: str) -> int:
    """
    GET C{url} through the proxy on a new connection: the status.
    """
    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", url, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def admin(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=HTTP_TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    """
    The value of the sample C{name} with exactly C{labels} in C{text}.
    """
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = "^" + re.escape(name + (f"{{{wanted}}}" if labels else "")) + r" (\S+)$"
    match = re.search(pattern, text, re.M)
    if match is None:
        raise AssertionError(f"{name} {labels} not in:\n{text}")
    return float(match.group(1))


def total(text: str, name: str) -> float:
    return sum(float(m) for m in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def concurrently(
    count: int, threads: int, work: Callable[[], int], outcomes: list[int | str] | None = None
) -> list[int | str]:
    """
    Run C{work} C{count} times on C{threads} threads at once: each
    outcome (a status, or the error's name), appended to C{outcomes} as
    it comes.
    """
    outcomes = [] if outcomes is None else outcomes
    lock = threading.Lock()
    share = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def loop(n: int) -> None:
        for _ in range(n):
            try:
                outcome: int | str = work()
            except (OSError, http.client.HTTPException) as e:
                outcome = type(e).__name__
            with lock:
                outcomes.append(outcome)

    running = [threading.Thread(target=loop, args=(n,), daemon=True) for n in share]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(HTTP_TIMEOUT * (count // threads + 2))
    return outcomes


class HeldOrigin:
    """
    An origin on 127.0.0.1 that holds every answer until L{release} is set
    (at most L{HTTP_TIMEOUT} seconds), counting the requests it holds.

    @ivar port: Its port.
    @ivar release: Set it to answer the held requests (C{200}).
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self._held = 0
        self._changed = threading.Condition()
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with origin._changed:
                    origin._held += 1
                    origin._changed.notify_all()
                origin.release.wait(HTTP_TIMEOUT)
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"held")

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True)
        self._thread.start()

    def waitFor(self, count: int) -> None:
        """
        Wait (at most L{HTTP_TIMEOUT} seconds) until C{count} requests are
        held.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._held >= count, HTTP_TIMEOUT):
                raise AssertionError(f"{self._held} requests held, not {count}")

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(HTTP_TIMEOUT)


class OriginTestCase(TestCase):
    """
    Tests with a web server to proxy to (C{self.url}, a small file).
    """

    timeout = 120

    def setUp(self) -> Deferred[None]:
        def start() -> None:
            self.origin, port = startOrigin(self.mktemp())
            self.addCleanup(self.origin.stop)
            self.url = f"http://127.0.0.1:{port}/small"

        return deferToThread(start)


class WorkersTests(OriginTestCase):
    """
    A supervisor and two workers.
    """

    def test_bothServe(self) -> Deferred[None]:
        """
        Under 20 concurrent connections both workers serve requests (their
        own metrics, scraped by the supervisor, count them), the sums add
        up to the requests made, and C{/readyz} says ready.
        """

        def check() -> None:
            child, proxy, port = startWorkers()
            try:
                self.assertEqual(admin(port, "/readyz"), (200, "ready\n"))
                made = 0
                for _ in range(5):
                    outcomes = concurrently(200, 20, lambda: get(proxy, self.url))
                    self.assertEqual(outcomes, [200] * 200)
                    made += 200
                    status, text = admin(port, "/metrics")
                    self.assertEqual(status, 200)
                    perWorker = [
                        metric(text, "proxykit_worker_requests_total", worker=str(n)) for n in (1, 2)
                    ]
                    if min(perWorker) > 0:
                        break
                self.assertGreater(min(perWorker), 0, text)
                self.assertEqual(sum(perWorker), made)
                self.assertEqual(total(text, "proxykit_requests_total"), made)
                self.assertEqual(metric(text, "proxykit_workers"), 2)
                for n in ("1", "2"):
                    self.assertEqual(metric(text, "proxykit_worker_up", worker=n), 1)
                # Every worker serves the configuration the supervisor read,
                # under its one digest (not one per worker's private admin
                # listener).
                self.assertEqual(
                    re.findall(r'^proxykit_config_info\{digest="(\w+)"\} 1\.0$', text, re.M),
                    [digestOf()],
                )
                self.assertEqual(admin(port, "/healthz"), (200, "ok\n"))
            finally:
                child.stop()

        return deferToThread(check)

    def test_reverse(self) -> Deferred[None]:
        """
        C{twistd proxykit reverse} with C{workers = 2} in its file: both
        workers serve the file's route (20 concurrent connections), and
        the supervisor's metrics count every request, by worker and by
        route.
        """

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            port = self.url.split(":")[2].split("/")[0]
            with open(path, "w") as f:
                f.write(
                    "workers = 2\n"
                    f'listen = ["{LOOPBACK}"]\n'
                    "[admin]\n"
                    f'listen = "{LOOPBACK}"\n'
                    "[[reverse.vhost]]\n"
                    'hosts = ["app.test"]\n'
                    "[[reverse.vhost.route]]\n"
                    f'origins = ["http://127.0.0.1:{port}"]\n'
                )
            child, matches = startChild(
                [*TWISTD, "-n", "--pidfile=", "proxykit", "reverse", "--config", path],
                r"_AdminSite starting on (\d+)",
                r"starting 2 workers on \S+ \(port (\d+)\)",
            )
            try:
                for number in (1, 2):
                    child.waitForLine(rf"worker {number}: .*proxykit started")
                proxy, adminPort = int(matches[1].group(1)), int(matches[0].group(1))

                def request() -> int:
                    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=HTTP_TIMEOUT)
                    try:
                        conn.request("GET", "/small", headers={"Host": "app.test", "Connection": "close"})
                        response = conn.getresponse()
                        self.assertEqual(response.read(), b"small")
                        return response.status
                    finally:
                        conn.close()

                self.assertEqual(concurrently(200, 20, request), [200] * 200)
                status, text = admin(adminPort, "/metrics")
                perWorker = [
                    metric(text, "proxykit_worker_requests_total", worker=str(n)) for n in (1, 2)
                ]
                self.assertEqual(sum(perWorker), 200)
                # Both serve: each request comes on a new connection, which
                # the kernel hashes to either worker's socket (all to one,
                # probability 2 * 2**-200).
                self.assertGreater(min(perWorker), 0, perWorker)
                self.assertEqual(
                    metric(text, "proxykit_requests_total", code_class="2xx", listener=LOOPBACK,
                           route="/", vhost="app.test"),
                    200,
                )  # fmt: skip
            finally:
                child.stop()

        return deferToThread(check)

    def test_readinessOfAll(self) -> Deferred[None]:
        """
        A worker that does not answer (stopped with C{SIGSTOP}): the
        supervisor's C{/readyz} says C{503 not ready: worker 2} (once the
        scrape has timed out), its metrics say that worker is not up, add
        up the other's alone and say not ready (C{proxykit_ready 0}), and
        its C{/healthz} still says ok;
        C{/status} is one worker's view, not the supervisor's (C{404}).
        Once it runs again, ready.
        """

        def check() -> None:
            child, proxy, port = startWorkers()
            try:
                pid = int(child.waitForLine(r"worker 2 started \(pid (\d+)\)").group(1))
                self.assertEqual(admin(port, "/status")[0], 404)
                os.kill(pid, signal.SIGSTOP)
                try:
                    self.assertEqual(admin(port, "/readyz"), (503, "not ready: worker 2\n"))
                    self.assertEqual(admin(port, "/healthz"), (200, "ok\n"))
                    status, text = admin(port, "/metrics")
                    self.assertEqual(status, 200)
                    self.assertEqual(metric(text, "proxykit_worker_up", worker="1"), 1)
                    self.assertEqual(metric(text, "proxykit_worker_up", worker="2"), 0)
                    # As /readyz says (worker 1 alone says 1).
                    self.assertEqual(metric(text, "proxykit_ready"), 0)
                    self.assertNotIn('proxykit_worker_requests_total{worker="2"}', text)
                finally:
                    os.kill(pid, signal.SIGCONT)
                self.assertEqual(admin(port, "/readyz"), (200, "ready\n"))
                self.assertEqual(metric(admin(port, "/metrics")[1], "proxykit_ready"), 1)
            finally:
                child.stop()

        return deferToThread(check)

    def test_killedWorker(self) -> Deferred[None]:
        """
        C{kill -9} of one worker under load (4 clients, each one request
        at a time): at most the requests it had in flight fail, every
        other one succeeds, and the supervisor starts a new worker 1,
        logged with the old pid and counted.
        """

        def check() -> None:
            child, proxy, port = startWorkers()
            try:
                pid = int(child.waitForLine(r"worker 1 started \(pid (\d+)\)").group(1))
                outcomes: list[int | str] = []
                begun = threading.Event()

                def request() -> int:
                    if len(outcomes) >= 40:
                        begun.set()
                    return get(proxy, self.url)

                load = threading.Thread(
                    target=concurrently, args=(400, 4, request, outcomes), daemon=True
                )
                load.start()
                # Kill it once the load has begun.
                self.assertTrue(begun.wait(HTTP_TIMEOUT * 10))
                self.assertLess(len(outcomes), 400, "the load ended before the kill")
                os.kill(pid, signal.SIGKILL)
                child.waitForLine(rf"worker 1 \(pid {pid}\) died \(killed by signal 9\)")
                restarted = waitForNth(child, r"worker 1 started \(pid (\d+)\)", 2)
                load.join(HTTP_TIMEOUT * 110)
                self.assertEqual(len(outcomes), 400)
                failed = [o for o in outcomes if o != 200]
                self.assertLessEqual(len(failed), 4, failed)
                waitForNth(child, r"worker 1: .*proxykit started", 2)
                newPid = int(restarted.group(1))
                self.assertNotEqual(newPid, pid)
                self.assertEqual(get(proxy, self.url), 200)
                status, text = admin(port, "/metrics")
                self.assertEqual(metric(text, "proxykit_worker_restarts_total", worker="1"), 1)
                self.assertEqual(metric(text, "proxykit_worker_restarts_total", worker="2"), 0)
                self.assertEqual(metric(text, "proxykit_worker_up", worker="1"), 1)
            finally:
                child.stop()

        return deferToThread(check)

    def test_queuedWaitForReplacement(self) -> Deferred[None]:
        """
        Connections the kernel queued on a worker's socket while it did
        not accept (stopped with C{SIGSTOP}) are not lost when it is killed:
        the supervisor keeps the socket, and the replacement, started at
        once, answers them.  (Some of the 16 connections go to worker 1's
        socket: none, probability 2**-16.)
        """

        def check() -> None:
            child, proxy, port = startWorkers()
            try:
                pid = int(child.waitForLine(r"worker 1 started \(pid (\d+)\)").group(1))
                os.kill(pid, signal.SIGSTOP)
                request = f"GET {self.url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                waiting = []
                try:
                    for _ in range(16):
                        conn = socket.create_connection(("127.0.0.1", proxy), timeout=HTTP_TIMEOUT)
                        waiting.append(conn)
                        conn.sendall(request)
                    os.kill(pid, signal.SIGKILL)
                    child.waitForLine(rf"worker 1 \(pid {pid}\) died \(killed by signal 9\) .* restarting it now")
                    answers = []
                    for conn in waiting:
                        received = b""
                        while chunk := conn.recv(65536):
                            received += chunk
                        answers.append(received.split(b"\r\n", 1)[0])
                finally:
                    for conn in waiting:
                        conn.close()
                self.assertEqual(answers, [b"HTTP/1.1 200 OK"] * 16)
                status, text = admin(port, "/metrics")
                self.assertGreater(metric(text, "proxykit_worker_requests_total", worker="1"), 0)
                self.assertEqual(total(text, "proxykit_requests_total"), 16)
            finally:
                child.stop()

        return deferToThread(check)

    def test_signals(self) -> Deferred[None]:
        """
        C{SIGHUP} with a good file: every worker reloads; with a bad one:
        refused once by the supervisor, no worker reloads.  C{SIGTERM}
        reaches every worker; the supervisor exits 0 once they have, and
        the port is closed.
        """

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            with open(path, "w") as f:
                f.write("[timeouts]\nconnect = 5\n")
            child, proxy, port = startWorkers("--config", path)
            try:
                child.process.send_signal(signal.SIGHUP)
                versions = {
                    child.waitForLine(
                        rf"worker {number}: .*reloaded the configuration from .*\(version (\w+)\)"
                    ).group(1)
                    for number in (1, 2)
                }
                # The same digest in every worker: the supervisor's file.
                self.assertEqual(versions, {digestOf("--config", path)})
                with open(path, "w") as f:
                    f.write("[timeouts]\nconnect = -1\n")
                child.process.send_signal(signal.SIGHUP)
                child.waitForLine(r"reload refused, no worker signalled: .*timeouts.connect")
                self.assertEqual(
                    len(re.findall(r"reloaded the configuration", child.output())), 2
                )
                self.assertEqual(get(proxy, self.url), 200)
                child.process.send_signal(signal.SIGTERM)
                for number in (1, 2):
                    child.waitForLine(rf"worker {number}: .*Received SIGTERM")
                    child.waitForLine(rf"worker {number} \(pid \d+\) exited \(exit status 0\)")
                self.assertEqual(child.process.wait(STOP_TIMEOUT), 0)
                self.assertIn("every worker has exited", child.output())
                # No socket of the group is left for a connection to wait on.
                with self.assertRaises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", proxy), timeout=HTTP_TIMEOUT).close()
            finally:
                child.stop()

        return deferToThread(check)

    def test_rotate(self) -> Deferred[None]:
        """
        After C{logrotate} renamed the access log, C{SIGUSR1} to the
        supervisor reaches every worker: each reopens the file by its name,
        and the next requests are written to the new file.
        """

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            child, proxy, port = startWorkers("--access-log", path, "--access-log-format", "$status")
            try:
                self.assertEqual(get(proxy, self.url), 200)
                waitFor(lambda: os.path.exists(path) and os.path.getsize(path) > 0, "the first line")
                os.rename(path, path + ".1")
                child.process.send_signal(signal.SIGUSR1)
                for number in (1, 2):
                    child.waitForLine(rf"worker {number}: .*reopened the access log")
                for _ in range(4):
                    self.assertEqual(get(proxy, self.url), 200)

                def fourLines() -> bool:
                    with open(path) as f:
                        return f.read() == "200\n" * 4

                waitFor(fourLines, "four lines in the new file")
                with open(path + ".1") as f:
                    self.assertEqual(f.read(), "200\n")
                self.assertNotIn("Traceback", child.output())
            finally:
                child.stop()

        return deferToThread(check)

    def test_drainInFlight(self) -> Deferred[None]:
        """
        C{SIGTERM} while 16 requests are in flight (their origin holds its
        answers): each worker drains the connections it holds (both hold
        some: all on one, probability 2**-15), each request is answered
        once the origin answers, and the supervisor exits 0.
        """

        def check() -> None:
            origin = HeldOrigin()
            self.addCleanup(origin.close)
            child, proxy, port = startWorkers()
            try:
                url = f"http://127.0.0.1:{origin.port}/held"
                outcomes: list[int | str] = []
                load = threading.Thread(
                    target=concurrently, args=(16, 16, lambda: get(proxy, url), outcomes), daemon=True
                )
                load.start()
                origin.waitFor(16)
                child.process.send_signal(signal.SIGTERM)
                draining = [
                    int(child.waitForLine(rf"worker {n}: .*draining (\d+) connections").group(1))
                    for n in (1, 2)
                ]
                self.assertEqual(sum(draining), 16)
                self.assertGreater(min(draining), 0, draining)
                self.assertEqual(outcomes, [])
                origin.release.set()
                load.join(HTTP_TIMEOUT * 2)
                self.assertEqual(outcomes, [200] * 16)
                for n in (1, 2):
                    child.waitForLine(rf"worker {n}: .*drained in ")
                self.assertEqual(child.process.wait(STOP_TIMEOUT), 0)
            finally:
                origin.release.set()
                child.stop()

        return deferToThread(check)

    def test_drainDelay(self) -> Deferred[None]:
        """
        With C{timeouts.drain_delay}, after C{SIGTERM} the supervisor's
        C{/readyz} says not ready while every worker still accepts on its
        own socket (the supervisor has closed its copies): new
        connections are served; then the workers drain, the supervisor
        exits 0, and the port is closed.  (Each of the 8 connections may
        go to either worker's socket.)
        """

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            with open(path, "w") as f:
                f.write("[timeouts]\ndrain_delay = 5\n")
            child, proxy, port = startWorkers("--config", path)
            try:
                child.process.send_signal(signal.SIGTERM)
                for number in (1, 2):
                    child.waitForLine(rf"worker {number}: .*not ready: still accepting for 5 s")
                self.assertEqual(admin(port, "/readyz"), (503, "not ready: stopping\n"))
                self.assertEqual([get(proxy, self.url) for _ in range(8)], [200] * 8)
                for number in (1, 2):
                    child.waitForLine(rf"worker {number}: .*drain delay over")
                self.assertEqual(child.process.wait(STOP_TIMEOUT), 0)
                with self.assertRaises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", proxy), timeout=HTTP_TIMEOUT).close()
            finally:
                child.stop()

        return deferToThread(check)

    def test_busyPort(self) -> Deferred[None]:
        """
        A port in use: one line, status 1, and no worker started.
        """

        def check() -> None:
            with socket.create_server(("127.0.0.1", 0)) as busy:
                description = f"tcp:{busy.getsockname()[1]}:interface=127.0.0.1"
                result = run(
                    [*TWISTD, "-n", "--pidfile=", "proxykit", "forward", "--listen", description,
                     "--workers", "2"],
                    ROOT,
                    30.0,
                    _childEnvironment(),
                )
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertEqual(
                result.stdout.splitlines(),
                [f"proxykit: cannot listen on {description}: address already in use"],
            )

        return deferToThread(check)


class SpreadTests(OriginTestCase):
    """
    With a socket per worker (C{SO_REUSEPORT}), the kernel spreads the
    connections over the workers.
    """

    def test_connectionsSpread(self) -> Deferred[None]:
        """
        48 keep-alive connections, opened one after another and each kept
        open after one request: each of the 2 workers holds at least 20%
        of them (10), as the supervisor's
        C{proxykit_worker_client_connections} says, and they add up to 48.

        The kernel picks a worker's socket by a hash of each connection's
        addresses and ports, and the source ports differ: like 48 coin
        tosses, of which fewer than 10 land on one side with probability
        2 * P(Binomial(48, 1/2) <= 9) = 1.5e-5.
        """

        def check() -> None:
            child, proxy, port = startWorkers()
            self.assertIn("a socket per worker (SO_REUSEPORT)", child.output())
            connections = []
            try:
                for _ in range(48):
                    conn = http.client.HTTPConnection("127.0.0.1", proxy, timeout=HTTP_TIMEOUT)
                    connections.append(conn)
                    conn.request("GET", self.url)
                    response = conn.getresponse()
                    response.read()
                    self.assertEqual(response.status, 200)
                    self.assertNotEqual(response.getheader("connection"), "close")
                status, text = admin(port, "/metrics")
                held = [
                    metric(text, "proxykit_worker_client_connections", worker=str(n)) for n in (1, 2)
                ]
                self.assertEqual(sum(held), 48, text)
                self.assertGreaterEqual(min(held), 10, held)
                requests = [
                    metric(text, "proxykit_worker_requests_total", worker=str(n)) for n in (1, 2)
                ]
                self.assertEqual(requests, held)
            finally:
                for conn in connections:
                    conn.close()
                child.stop()

        return deferToThread(check)


def exchange(port: int, data: bytes) -> bytes:
    """
    Send C{data} on a new connection to C{port}, then read until the
    server closes it: what it answered (nothing if it closed at once).
    """
    received = []
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as conn:
        conn.sendall(data)
        try:
            while chunk := conn.recv(65536):
                received.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(received)


class ProxyHeaderTests(OriginTestCase):
    """
    Workers behind a C{haproxy:tcp:} listener read the PROXY header as a
    single process does: the client it names is the client.
    """

    def test_proxyHeader(self) -> Deferred[None]:
        """
        Connections with a PROXY version 1 or 2 header are served by both
        workers, and the access log names the clients the headers claim;
        a connection without a header is closed without an answer, and
        nothing of it is logged.  (Each of 16 connections goes to either
        worker: all to one, probability 2 * 2**-16 = 3e-5.)
        """
        from .test_proxy_protocol import CLIENT, CLIENT6, v1, v2

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            config = os.path.abspath(self.mktemp())
            with open(config, "w") as f:
                f.write(
                    "[forward]\n"
                    "allow_clients = [\"203.0.113.0/24\", \"2001:db8::/32\"]\n"
                    "allow_private_destinations = true\n"
                )
            child, proxy, port = startWorkers(
                "--config", config,
                "--access-log", path, "--access-log-format", "$client_addr $client_port $status $target",
                listen="haproxy:tcp:0:interface=127.0.0.1",
            )  # fmt: skip
            try:
                request = f"GET {self.url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                expected = []
                for n in range(16):
                    client, local = ((CLIENT, "127.0.0.1"), (CLIENT6, "::1"))[n % 2]
                    header = (v1, v2)[n // 2 % 2](client, local)
                    answer = exchange(proxy, header + request)
                    self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), (n, answer, child.output()))
                    expected.append(f"{client} 40000 200 {self.url}")
                without = request.replace(b"/small", b"/without-header")
                self.assertEqual(exchange(proxy, without), b"")
                status, text = admin(port, "/metrics")
                for n in ("1", "2"):
                    self.assertGreater(metric(text, "proxykit_worker_requests_total", worker=n), 0)
                child.process.send_signal(signal.SIGTERM)
                self.assertEqual(child.process.wait(STOP_TIMEOUT), 0)
            finally:
                child.stop()
            with open(path) as f:
                lines = f.read().splitlines()
            self.assertEqual(sorted(lines), sorted(expected))

        return deferToThread(check)


class SupervisorGoneTests(TestCase):
    """
    Workers do not outlive their supervisor.
    """

    timeout = 60

    def test_supervisorKilled(self) -> Deferred[None]:
        """
        C{kill -9} of the supervisor: every worker sees its standard input
        close, and exits.
        """

        def check() -> None:
            child, proxy, port = startWorkers()
            try:
                pids = [
                    int(child.waitForLine(rf"worker {n} started \(pid (\d+)\)").group(1))
                    for n in (1, 2)
                ]
                handles = [os.pidfd_open(pid) for pid in pids]
                child.process.kill()
                for handle in handles:
                    # A pidfd is readable once its process has exited.
                    readable, _, _ = select.select([handle], [], [], STOP_TIMEOUT)
                    os.close(handle)
                    self.assertEqual(readable, [handle])
            finally:
                child.stop()

        return deferToThread(check)


def workerCommands() -> list[str]:
    """
    The lines of every C{sh} block of docs/scaling.rst's "Worker
    processes" section, as the reader sees them (included files resolved),
    without blank lines.
    """
    return [
        line.strip()
        for block in codeBlocks(os.path.join(ROOT, "docs", "scaling.rst"), "sh", "Worker processes")
        for line in block
    ]


class DocumentedCommandTests(TestCase):
    """
    The commands of docs/scaling.rst's "Worker processes" run as written
    (the admin port moved to a free one, the proxy on an ephemeral port).
    """

    timeout = 120

    def test_commands(self) -> Deferred[None]:
        """
        The C{twistd} command starts two workers and an admin listener, and
        each C{curl} command succeeds: healthy, ready, metrics by worker.
        """

        def check() -> None:
            commands = workerCommands()
            [start] = [line for line in commands if "twistd" in line]
            curls = [line for line in commands if line.startswith("curl")]
            self.assertEqual(len(curls), 3, commands)
            argv = start.split()
            self.assertEqual(argv[:4], [".venv/bin/twistd", "-n", "proxykit", "forward"])
            with socket.create_server(("127.0.0.1", 0)) as probe:
                admin = str(probe.getsockname()[1])
            argv = [a.replace("9902", admin) for a in argv[4:]]
            child, _ = startChild(
                [*TWISTD, "-n", "--pidfile=", "proxykit", "forward", "--listen", LOOPBACK, *argv],
                r"starting 2 workers",
                r"worker 1: .*proxykit started",
                r"worker 2: .*proxykit started",
            )
            try:
                outputs = {}
                for line in curls:
                    result = subprocess.run(
                        line.replace("9902", admin).split() + ["--max-time", "20", "--fail"],
                        capture_output=True, text=True, timeout=30,
                    )
                    self.assertEqual(result.returncode, 0, f"{line}: {result.stderr}")
                    outputs[line.split("/")[-1]] = result.stdout
                self.assertEqual((outputs["healthz"], outputs["readyz"]), ("ok\n", "ready\n"))
                self.assertIn('proxykit_worker_up{worker="2"} 1.0', outputs["metrics"])
            finally:
                child.stop()

        return deferToThread(check)

    def test_bench(self) -> Deferred[None]:
        """
        The benchmark command measures 1 and 2 workers (where nginx and wrk
        are installed, as the benchmark needs).
        """
        commands = workerCommands()
        [bench] = [line for line in commands if "workers.py" in line]
        if shutil.which("nginx") is None or shutil.which("wrk") is None:
            raise SkipTest("the benchmark needs nginx and wrk")
        directory, _, command = bench.removeprefix("cd ").partition(" && ")

        def check() -> None:
            argv = command.split()
            self.assertEqual(argv[0], "../.venv/bin/python")
            env = _childEnvironment()
            result = run(
                [sys.executable, *argv[1:], "--venv", os.path.dirname(os.path.dirname(sys.executable))],
                os.path.join(ROOT, directory),
                120.0,
                env,
            )
            self.assertEqual(result.returncode, 0, result.stdout)
            self.assertRegex(result.stdout, r"workers=1: \d+ req/s")
            self.assertRegex(result.stdout, r"workers=2: \d+ req/s.*busiest worker's share \d+%")

        return deferToThread(check)
