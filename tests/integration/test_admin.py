"""
The admin listener of a real C{twistd proxykit} process: C{/metrics}
scraped with urllib after curl requests through the proxy, the other
pages, a busy admin port, C{/readyz} during a drain, and the commands of
docs/operations.rst and docs/library.rst as written (ports moved to free
ones).

Every wait is bounded (L{waitFor}, C{waitForLine}); every command has a
time limit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from .._snippets import codeBlocks
from ._subprocess import (
    ROOT,
    STOP_TIMEOUT,
    ChildrenMixin,
    startChild,
    startOrigin,
    startTwistd,
)
from .test_accesslog import curl
from .test_lifecycle import (
    busyPort,
    freePort,
    lines,
    listening,
    loopback,
    twistd,
    waitFor,
)

OPERATIONS = os.path.join(ROOT, "docs", "operations.rst")


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """
    GET C{url} directly (no proxy): status, headers and body, errors too.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


def samples(text: bytes) -> dict[str, float]:
    """
    The samples of a Prometheus text exposition, by series (name and
    labels as written).
    """
    found = {}
    for line in text.decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            found[series] = float(value)
    return found


class AdminListenerTests(ChildrenMixin, TestCase):
    """
    C{twistd proxykit forward --admin ENDPOINT}.
    """

    timeout = 120

    def test_scrape(self) -> Deferred[None]:
        """
        After two requests through the proxy with curl, C{/metrics} counts
        them (2xx, on the proxy's listener, the forward labels), their
        bytes and the kept-alive connection; C{/healthz}, C{/readyz} and
        C{/status} answer; other methods get 405. C{tcp:PORT} binds
        127.0.0.1 only.
        """

        def check() -> None:
            origin = self.origin()
            admin = freePort()
            child, port = self.proxy(
                "forward", "--listen", "tcp:0:interface=127.0.0.1", "--admin", f"tcp:{admin}"
            )
            url = f"http://127.0.0.1:{origin}/small"
            self.assertEqual(curl("-x", f"http://127.0.0.1:{port}", url, url), "smallsmall")
            base = f"http://127.0.0.1:{admin}"

            def counted() -> bool:
                # Named by its endpoint string, as configured.
                series = 'proxykit_requests_total{code_class="2xx",listener="tcp:0:interface=127.0.0.1",route="-",vhost="-"}'
                return samples(get(base + "/metrics")[2]).get(series) == 2.0

            # The proxy counts a request once its response is over: poll.
            waitFor(counted, "two requests in /metrics")
            status, headers, body = get(base + "/metrics")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            found = samples(body)
            self.assertEqual(found["proxykit_bytes_sent_total"], 10.0)
            self.assertEqual(found["proxykit_pool_reused_total"], 1.0)
            self.assertEqual(found["proxykit_origin_connect_duration_seconds_count"], 1.0)
            self.assertEqual(found["proxykit_request_duration_seconds_count"], 2.0)
            self.assertEqual(found["proxykit_ready"], 1.0)
            self.assertEqual(found['proxykit_client_connections{listener="tcp:0:interface=127.0.0.1"}'], 0.0)
            self.assertEqual(get(base + "/healthz")[::2], (200, b"ok\n"))
            self.assertEqual(get(base + "/readyz")[::2], (200, b"ready\n"))
            status, headers, body = get(base + "/status")
            report = json.loads(body)
            self.assertEqual(
                (report["ready"], report["listeners"], report["vhosts"]),
                (
                    True,
                    [
                        {
                            "endpoint": "tcp:0:interface=127.0.0.1",
                            "address": f"127.0.0.1:{port}",
                            "connections": 0,
                        }
                    ],
                    [],
                ),
            )
            request = urllib.request.Request(base + "/status", method="POST", data=b"")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with self.assertRaises(urllib.error.HTTPError) as caught:
                opener.open(request, timeout=10)
            caught.exception.close()
            self.assertEqual(caught.exception.code, 405)
            self.assertEqual(get(base + "/nothing")[0], 404)
            with socket.socket() as probe:
                probe.settimeout(5)
                # Nothing answers on another of this machine's addresses.
                self.assertNotEqual(probe.connect_ex(("127.0.0.2", admin)), 0)

        return deferToThread(check)

    def test_busyAdminPort(self) -> Deferred[None]:
        """
        A busy admin port stops the start with one line naming it, status
        1, and leaves the proxy's own port closed.
        """

        def check() -> None:
            free = freePort()
            with busyPort() as port:
                result = twistd(
                    "-n", "--pidfile=", "proxykit", "forward",
                    "--listen", loopback(free), "--admin", f"tcp:{port}",
                )
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertEqual(
                lines(result), [f"proxykit: cannot listen on {loopback(port)}: address already in use"]
            )
            self.assertFalse(listening(free))

        return deferToThread(check)

    def test_readyzWhileDraining(self) -> Deferred[None]:
        """
        After SIGTERM, while a download is still in progress, C{/readyz}
        answers 503 (draining) and C{/healthz} 200; once the download's
        connection closes, the process exits 0.
        """

        def check() -> None:
            origin = self.origin()
            admin = freePort()
            child, port = self.proxy(
                "forward", "--listen", "tcp:0:interface=127.0.0.1", "--admin", loopback(admin)
            )
            base = f"http://127.0.0.1:{admin}"
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(
                    f"GET http://127.0.0.1:{origin}/big HTTP/1.1\r\nHost: 127.0.0.1:{origin}\r\n\r\n".encode()
                )
                self.assertTrue(client.recv(65536).startswith(b"HTTP/1.1 200 OK"))
                child.process.send_signal(signal.SIGTERM)
                child.waitForLine(r"draining 1 connections")
                self.assertEqual(get(base + "/readyz")[::2], (503, b"not ready: draining\n"))
                self.assertEqual(get(base + "/healthz")[0], 200)
                found = samples(get(base + "/metrics")[2])
                self.assertEqual(found["proxykit_ready"], 0.0)
            self.assertEqual(child.process.wait(STOP_TIMEOUT), 0, child.output())
            self.assertFalse(listening(admin))

        return deferToThread(check)


class DocumentedCommandTests(TestCase):
    """
    The commands of docs/operations.rst's "Metrics, status and health" and
    of docs/library.rst's "Metrics and the admin pages" run as written.
    """

    timeout = 120

    def test_operations(self) -> Deferred[None]:
        """
        The guide's C{twistd} command (on a free admin port, the proxy on
        another) starts the admin listener, each of its C{curl} commands
        succeeds, and the scrape configuration's target and path are that
        listener's C{/metrics}.
        """

        def check() -> None:
            commands = [
                line
                for block in codeBlocks(OPERATIONS, "sh")
                for line in block
                if "9901" in line
            ]
            [start] = [line for line in commands if "twistd" in line]
            curls = [line for line in commands if line.startswith("curl")]
            self.assertEqual(len(curls), 4, commands)
            admin = freePort()
            argv = start.split()
            self.assertEqual(argv[:4], [".venv/bin/twistd", "-n", "proxykit", "forward"])
            argv = [a.replace("9901", str(admin)) for a in argv[4:]]
            child, port = startTwistd("forward", "--listen", "tcp:0:interface=127.0.0.1", *argv)
            self.addCleanup(child.stop)
            child.waitForLine(r"proxykit started: listening on")
            outputs = {}
            for line in curls:
                result = subprocess.run(
                    line.replace("9901", str(admin)).split() + ["--max-time", "20", "--fail"],
                    capture_output=True, text=True, timeout=30,
                )
                self.assertEqual(result.returncode, 0, f"{line}: {result.stderr}")
                outputs[line.split("/")[-1]] = result.stdout
            self.assertEqual((outputs["healthz"], outputs["readyz"]), ("ok\n", "ready\n"))
            self.assertTrue(json.loads(outputs["status"])["ready"])
            self.assertIn("# TYPE proxykit_requests_total counter", outputs["metrics"])
            [scrape] = [b for b in codeBlocks(OPERATIONS, "yaml") if "scrape_configs:" in b]
            text = "\n".join(scrape)
            target = re.search(r'targets: \["([^"]+)"\]', text)
            path = re.search(r"metrics_path: (\S+)", text)
            assert target is not None and path is not None
            self.assertEqual(target.group(1), "127.0.0.1:9901")
            status, headers, body = get(f"http://{target.group(1).replace('9901', str(admin))}{path.group(1)}")
            self.assertEqual(status, 200)
            self.assertIn(b"proxykit_ready 1.0", body)

        return deferToThread(check)

    def test_libraryExample(self) -> Deferred[None]:
        """
        examples/metrics.py, on free ports: a request through its proxy is
        counted in the C{/metrics} of its own site, next to its own page.
        """

        def check() -> None:
            child, port = startOrigin(self.mktemp())
            self.addCleanup(child.stop)
            site = freePort()
            example, [proxy] = startChild(
                [
                    sys.executable, os.path.join(ROOT, "examples", "metrics.py"),
                    "tcp:0:interface=127.0.0.1", loopback(site),
                ],
                r"proxy listening on .*port=(\d+)",
            )
            self.addCleanup(example.stop)
            example.waitForLine(r"site listening on")
            self.assertEqual(
                curl("-x", f"http://127.0.0.1:{proxy.group(1)}", f"http://127.0.0.1:{port}/small"), "small"
            )
            base = f"http://127.0.0.1:{site}"
            series = 'proxykit_requests_total{code_class="2xx",listener="127.0.0.1:%s",route="-",vhost="-"}'
            waitFor(
                lambda: samples(get(base + "/metrics")[2]).get(series % proxy.group(1)) == 1.0,
                "the request in /metrics",
            )
            self.assertEqual(get(base + "/")[2], b"my application\n")

        return deferToThread(check)
