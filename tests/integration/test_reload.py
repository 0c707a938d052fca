"""
Reloading the configuration of a running C{twistd proxykit reverse -c FILE}
with C{SIGHUP}, under continuous load from real clients: a valid file is
served at once and no request fails; an invalid one is refused with its
file, line and key, and nothing changes; listeners come and go as the file
says.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from .._snippets import snippets
from ._subprocess import (
    ROOT,
    TWISTD,
    Child,
    _childEnvironment,
    run,
    startOrigin,
    startTwistd,
)

LISTEN = "tcp:0:interface=127.0.0.1"
LOAD_SECONDS = 120.0
"""The longest the load runs, whatever happens."""
LOAD_REQUESTS = 4000
"""The most requests each load worker sends."""


class _Named(BaseHTTPRequestHandler):
    """
    Answers every GET with its server's name (keep-alive).
    """

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.name.encode("ascii")  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def startOrigins(case: TestCase, count: int) -> list[tuple[str, int]]:
    """
    Start C{count} origins on loopback, each answering its own name
    (C{o0}, C{o1}, ...), stopped at the end of C{case}.

    @return: Each origin's name and port.
    """
    origins = []
    for index in range(count):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Named)
        server.daemon_threads = True
        server.name = f"o{index}"  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
        thread.start()
        case.addCleanup(thread.join, 10)
        case.addCleanup(server.server_close)
        case.addCleanup(server.shutdown)
        origins.append((f"o{index}", server.server_address[1]))
    return origins


def writeConfig(path: str, listen: list[str], vhosts: dict[str, dict[str, int]], extra: str = "") -> None:
    """
    Write a reverse-mode file: each vhost's routes (prefix -> origin port).
    """
    lines = ["listen = [" + ", ".join(f'"{d}"' for d in listen) + "]"]
    for host, routes in vhosts.items():
        lines += ["[[reverse.vhost]]", f'hosts = ["{host}"]']
        for prefix, port in routes.items():
            lines += [
                "[[reverse.vhost.route]]",
                f'prefix = "{prefix}"',
                f'origins = ["http://127.0.0.1:{port}"]',
            ]
    lines.append(extra)
    with open(path + ".new", "w") as f:
        f.write("\n".join(lines) + "\n")
    # Replaced whole, as an editor or a deployment tool does.
    os.replace(path + ".new", path)


def get(port: int, host: str, path: str = "/") -> tuple[int, bytes]:
    """
    One request on a new connection: the status and body.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def adminGet(port: int, path: str) -> bytes:
    """
    The body of the admin listener's page C{path} (C{200} expected).
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise AssertionError(f"{path}: {response.status} {body!r}")
        return body
    finally:
        connection.close()


def adminStatus(port: int) -> dict[str, Any]:
    """
    The admin listener's C{/status}.
    """
    status: dict[str, Any] = json.loads(adminGet(port, "/status"))
    return status


class Load:
    """
    Clients sending requests without pause, bounded in count and time:
    C{workers} keep-alive connections and one client opening a new
    connection per request, all for C{host}.

    @ivar results: Every request's C{(path, status, body)}, or
        C{(path, None, error)} for a request that failed.
    """

    def __init__(self, port: int, host: str, paths: tuple[str, ...], workers: int = 2) -> None:
        self.port = port
        self.host = host
        self.paths = paths
        self.results: list[tuple[str, int | None, bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + LOAD_SECONDS
        self._threads = [
            threading.Thread(target=self._run, args=(True,), daemon=True) for _ in range(workers)
        ] + [threading.Thread(target=self._run, args=(False,), daemon=True)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(LOAD_SECONDS)

    def count(self) -> int:
        with self._lock:
            return len(self.results)

    def _run(self, keepAlive: bool) -> None:
        connection: http.client.HTTPConnection | None = None
        for index in range(LOAD_REQUESTS):
            if self._stop.is_set() or time.monotonic() > self._deadline:
                break
            path = self.paths[index % len(self.paths)]
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("GET", path, headers={"Host": self.host})
                response = connection.getresponse()
                result: tuple[str, int | None, bytes] = (path, response.status, response.read())
                if not keepAlive or response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as e:
                result = (path, None, repr(e).encode())
                if connection is not None:
                    connection.close()
                connection = None
            with self._lock:
                self.results.append(result)
        if connection is not None:
            connection.close()

    def waitFor(self, more: int) -> None:
        """
        Wait until C{more} further requests have been answered (bounded).
        """
        target = self.count() + more
        deadline = time.monotonic() + 30
        while self.count() < target and time.monotonic() < deadline:
            self._stop.wait(0.01)


class ReloadUnderLoadTests(TestCase):
    """
    C{SIGHUP} under load.
    """

    timeout = 240

    def startProxy(
        self, vhosts: dict[str, dict[str, int]], *options: str
    ) -> tuple[Child, int, str]:
        self.path = os.path.abspath(self.mktemp())
        writeConfig(self.path, [LISTEN], vhosts)
        child, port = startTwistd("reverse", "-c", self.path, *options)
        self.addCleanup(child.stop)
        child.waitForLine(r"proxykit started: listening on")
        return child, port, self.path

    def test_tenReloads(self) -> Deferred[None]:
        """
        Ten reloads that move routes between three origins and add and
        remove virtual hosts, under continuous load (keep-alive and new
        connections): no request fails, and after each reload new requests
        reach the new route's origin.
        """

        def check() -> None:
            origins = startOrigins(self, 3)
            ports = [port for _, port in origins]
            child, port, path = self.startProxy({"app.test": {"/": ports[0], "/api": ports[1]}})
            with Load(port, "app.test", ("/", "/api/x")) as load:
                load.waitFor(20)
                for reload in range(1, 11):
                    root, api = reload % 3, (reload + 1) % 3
                    writeConfig(
                        path,
                        [LISTEN],
                        {
                            "app.test": {"/": ports[root], "/api": ports[api]},
                            f"v{reload}.test": {"/": ports[api]},
                        },
                    )
                    os.kill(child.pid, signal.SIGHUP)
                    child.waitForLine(
                        rf"reloaded the configuration from {re.escape(path)}: .*"
                        rf"routes \+v{reload}\.test /"
                    )
                    self.assertEqual(get(port, "app.test"), (200, f"o{root}".encode()))
                    self.assertEqual(get(port, "app.test", "/api/y"), (200, f"o{api}".encode()))
                    self.assertEqual(get(port, f"v{reload}.test"), (200, f"o{api}".encode()))
                    if reload > 1:
                        self.assertEqual(get(port, f"v{reload - 1}.test")[0], 421)
                    load.waitFor(20)
            failed = [r for r in load.results if r[1] != 200]
            self.assertEqual(failed, [])
            self.assertGreater(len(load.results), 200)
            self.assertEqual(
                {body for _, _, body in load.results}, {b"o0", b"o1", b"o2"}
            )
            self.assertIsNone(child.process.poll())

        return deferToThread(check)

    def test_downloadInFlight(self) -> Deferred[None]:
        """
        A 100 MB download started before a reload that removes its origin
        completes intact on that origin; the next request goes to the new
        one.
        """

        def check() -> None:
            big, bigPort = startOrigin(self.mktemp())
            self.addCleanup(big.stop)
            [(_, other)] = startOrigins(self, 1)
            child, port, path = self.startProxy({"app.test": {"/": bigPort}})
            client = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.addCleanup(client.close)
            client.sendall(b"GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                data = client.recv(65536)
                self.assertTrue(data, "the proxy closed before the response head")
                received += data
            head, _, rest = received.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            writeConfig(path, [LISTEN], {"app.test": {"/": other}})
            os.kill(child.pid, signal.SIGHUP)
            child.waitForLine(r"reloaded the configuration .*origins")
            self.assertEqual(get(port, "app.test"), (200, b"o0"))
            count = len(rest)
            while count < length:
                data = client.recv(1 << 20)
                if not data:
                    break
                count += len(data)
            self.assertEqual(count, length)
            big.waitForLine(f"big response ended after {length} bytes")

        return deferToThread(check)

    def test_invalidFile(self) -> Deferred[None]:
        """
        An invalid file under load is refused: one error line names the
        file, the line and the key; every request still succeeds and still
        goes where the old configuration sends it; the admin listener still
        shows the old configuration's version and counts the failure.
        """

        def check() -> None:
            origins = startOrigins(self, 2)
            ports = [port for _, port in origins]
            child, port, path = self.startProxy(
                {"app.test": {"/": ports[0]}}, "--admin", "tcp:0:interface=127.0.0.1"
            )
            admin = int(child.waitForLine(r"_AdminSite starting on (\d+)").group(1))
            before = adminStatus(admin)["config"]
            with Load(port, "app.test", ("/",)) as load:
                load.waitFor(20)
                writeConfig(
                    path,
                    [LISTEN],
                    {"app.test": {"/": ports[1]}},
                    extra="[timeouts]\nconnect = -1",
                )
                os.kill(child.pid, signal.SIGHUP)
                line = child.waitForLine(r"reload refused.*").group(0)
                load.waitFor(50)
                self.assertEqual(get(port, "app.test"), (200, b"o0"))
            self.assertIn(path, line)
            self.assertRegex(line, re.escape(path) + r":\d+: timeouts\.connect")
            self.assertEqual(
                len(re.findall(r"reload refused", child.output())), 1, child.output()
            )
            self.assertEqual({(s, b) for _, s, b in load.results}, {(200, b"o0")})
            self.assertNotIn("reloaded the configuration", child.output())
            self.assertEqual(adminStatus(admin)["config"], before)
            metrics = adminGet(admin, "/metrics").decode("ascii").splitlines()
            self.assertIn('proxykit_reloads_total{result="failure"} 1.0', metrics)
            self.assertIn('proxykit_reloads_total{result="success"} 0.0', metrics)
            self.assertIn(f'proxykit_config_info{{digest="{before["digest"]}"}} 1.0', metrics)

        return deferToThread(check)

    def test_listeners(self) -> Deferred[None]:
        """
        A listener added by a reload accepts; one removed refuses new
        connections; the one kept serves throughout.
        """

        def check() -> None:
            [(_, origin)] = startOrigins(self, 1)
            child, port, path = self.startProxy({"app.test": {"/": origin}})
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                free = probe.getsockname()[1]
            added = f"tcp:{free}:interface=127.0.0.1"
            writeConfig(path, [LISTEN, added], {"app.test": {"/": origin}})
            os.kill(child.pid, signal.SIGHUP)
            child.waitForLine(rf"reloaded the configuration .*listeners \+{re.escape(added)}")
            self.assertEqual(get(free, "app.test"), (200, b"o0"))
            self.assertEqual(get(port, "app.test"), (200, b"o0"))
            writeConfig(path, [added], {"app.test": {"/": origin}})
            os.kill(child.pid, signal.SIGHUP)
            child.waitForLine(rf"reloaded the configuration .*listeners -{re.escape(LISTEN)}")
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=10).close()
            self.assertEqual(get(free, "app.test"), (200, b"o0"))

        return deferToThread(check)


class DocsCommandTests(TestCase):
    """
    The operations guide's command that checks a file and only then sends
    C{SIGHUP} runs as written, from a checkout holding C{.venv}, the file
    and C{twistd.pid}.
    """

    timeout = 120

    def test_checkThenReload(self) -> Deferred[None]:
        def check() -> None:
            page = Path(ROOT) / "docs" / "operations.rst"
            [command] = [
                line.strip()
                for snippet in snippets(page)
                for line in snippet.lines
                if "proxykit check" in line and "kill -HUP" in line
            ]
            here = os.path.abspath(self.mktemp())
            os.makedirs(here)
            os.symlink(os.path.join(ROOT, ".venv"), os.path.join(here, ".venv"))
            [(_, first), (_, second)] = startOrigins(self, 2)
            config = os.path.join(here, "proxy.toml")
            writeConfig(config, [LISTEN], {"app.test": {"/": first}})
            argv = [*TWISTD, "-n", "--pidfile", "twistd.pid", "proxykit", "reverse", "-c", "proxy.toml"]
            child = Child(argv, here, _childEnvironment())
            self.addCleanup(child.stop)
            port = int(child.waitForLine(r"ProxyFactory starting on (\d+)").group(1))
            child.waitForLine(r"proxykit started: listening on")
            writeConfig(config, [LISTEN], {"app.test": {"/": second}}, extra="[timeouts]\nconnect = -1")
            result = run(["sh", "-c", command], here, 60)
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn("proxy.toml:", result.stdout)
            self.assertIn("timeouts.connect", result.stdout)
            writeConfig(config, [LISTEN], {"app.test": {"/": second}})
            result = run(["sh", "-c", command], here, 60)
            self.assertEqual(result.returncode, 0, result.stdout)
            child.waitForLine(r"reloaded the configuration from proxy.toml: .*origins")
            self.assertEqual(get(port, "app.test"), (200, b"o1"))
            self.assertNotIn("reload refused", child.output())

        return deferToThread(check)
