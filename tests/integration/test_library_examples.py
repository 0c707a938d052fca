"""
The library examples (C{examples/*_library.py}), run as their docstrings
say, with origins on 127.0.0.1 and curl as the client.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ._reverse_servers import ReverseHarness
from ._servers import runProcess
from ._subprocess import ROOT, Child, startChild

EXAMPLES = os.path.join(ROOT, "examples")


def startExample(name: str, *args: str) -> tuple[Child, int]:
    """
    Run C{.venv/bin/python examples/NAME ARGS} (with this Python); return
    it and the port it listens on.
    """
    argv = [sys.executable, os.path.join(EXAMPLES, name), *args]
    child, [match] = startChild(argv, r"listening on .*port=(\d+)")
    return child, int(match.group(1))


REVERSE_TOML = """
listen = ["tcp:8000:interface=127.0.0.1"]
[[reverse.vhost]]
hosts = ["app.example.test"]
  [[reverse.vhost.route]]
  prefix = "/api"
  strip_prefix = true
  origins = ["{a}"]
  [[reverse.vhost.route]]
  origins = ["{b}"]
  health_check = {{ path = "/healthz", interval = 1, fall = 1 }}
"""


class LibraryExampleTests(TestCase):
    """
    The library examples work as written, with the safety of C{twistd
    proxykit}.
    """

    timeout = 60

    @inlineCallbacks
    def test_forwardLibrary(self) -> Any:
        """
        examples/forward_library.py on a loopback endpoint forwards curl's
        request to a local origin.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("f")
        child, port = yield deferToThread(
            startExample, "forward_library.py", "tcp:0:interface=127.0.0.1"
        )
        self.addCleanup(child.stop)
        proxy = ["-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{port}"]
        out, err, code = yield runProcess(reactor, "curl", [*proxy, f"{origin.url}/hello"])
        self.assertEqual((code, out), (0, b"origin=f uri=/hello\n"), err)

    @inlineCallbacks
    def test_forwardLibraryBeyondLoopback(self) -> Any:
        """
        examples/forward_library.py listening on every interface refuses,
        after resolution, a name that resolves to loopback (403), as
        C{twistd proxykit forward --listen tcp:PORT} does.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("f")
        child, port = yield deferToThread(startExample, "forward_library.py", "tcp:0")
        self.addCleanup(child.stop)
        target = origin.url.replace("127.0.0.1", "localhost")
        proxy = ["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"]
        out, err, code = yield runProcess(
            reactor, "curl", [*proxy, "-x", f"http://127.0.0.1:{port}", f"{target}/x"]
        )
        self.assertEqual((code, out), (0, b"403"), err)
        self.assertEqual(origin.resource.served, [])

    @inlineCallbacks
    def test_customRouter(self) -> Any:
        """
        examples/custom_router.py sends requests with C{X-Canary: 1} to the
        canary origin and the others to the stable one.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        stable, canary = h.startOrigin("stable"), h.startOrigin("canary")
        child, port = yield deferToThread(
            startExample,
            "custom_router.py",
            stable.url,
            canary.url,
            "tcp:0:interface=127.0.0.1",
        )
        self.addCleanup(child.stop)
        base = ["-sS", "--max-time", "20"]
        url = f"http://127.0.0.1:{port}/x"
        out, err, code = yield runProcess(reactor, "curl", [*base, url])
        self.assertEqual((code, out), (0, b"origin=stable uri=/x\n"), err)
        out, err, code = yield runProcess(reactor, "curl", [*base, "-H", "X-Canary: 1", url])
        self.assertEqual((code, out), (0, b"origin=canary uri=/x\n"), err)

    @inlineCallbacks
    def test_hooks(self) -> Any:
        """
        examples/hooks.py adds X-Request-Start to what the origin gets,
        refuses /admin paths with 403 before they reach it, and prints a
        line per request with its id: the X-Request-Id the origin got.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("f")
        child, port = yield deferToThread(startExample, "hooks.py", "tcp:0:interface=127.0.0.1")
        self.addCleanup(child.stop)
        proxy = ["-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{port}"]
        out, err, code = yield runProcess(reactor, "curl", [*proxy, f"{origin.url}/echo"])
        self.assertEqual(code, 0, err)
        head = json.loads(out)["head"]
        self.assertTrue(any(re.fullmatch(r"X-Request-Start: t=\d{16}", line) for line in head), head)
        [requestId] = [line[len("X-Request-Id: ") :] for line in head if line.startswith("X-Request-Id: ")]
        out, err, code = yield runProcess(
            reactor, "curl", [*proxy, "-o", "/dev/null", "-w", "%{http_code}", f"{origin.url}/admin/x"]
        )
        self.assertEqual((code, out), (0, b"403"), err)
        self.assertEqual(origin.resource.served, ["/echo"])
        yield deferToThread(child.waitForLine, r'"GET http://127\.0\.0\.1:\d+/admin/x" 403 0 refused')
        self.assertRegex(
            child.output(),
            rf'127\.0\.0\.1 "GET http://127\.0\.0\.1:\d+/echo" 200 \d+ responded [\d.]+ms {requestId}',
        )

    @inlineCallbacks
    def test_reversePython(self) -> Any:
        """
        examples/reverse_python.py, its config built in Python, strips
        C{/api} and spreads requests over its two origins in turn.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        a, b = h.startOrigin("a"), h.startOrigin("b")
        child, port = yield deferToThread(
            startExample,
            "reverse_python.py",
            a.url,
            b.url,
            "--listen",
            "tcp:0:interface=127.0.0.1",
        )
        self.addCleanup(child.stop)
        seen = []
        for _ in range(2):
            out, err, code = yield runProcess(
                reactor,
                "curl",
                ["-sS", "--max-time", "20", "-H", "Host: app.example.test", f"http://127.0.0.1:{port}/api/x"],
            )
            self.assertEqual(code, 0, err)
            seen.append(out)
        self.assertEqual(sorted(seen), [b"origin=a uri=/x\n", b"origin=b uri=/x\n"])

    @inlineCallbacks
    def test_reverseLibrary(self) -> Any:
        """
        examples/reverse_library.py serves a reverse-mode file's routes
        (one with a health check) on the endpoint given.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        a, b = h.startOrigin("a"), h.startOrigin("b")
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(REVERSE_TOML.format(a=a.url, b=b.url))
        child, port = yield deferToThread(
            startExample, "reverse_library.py", path, "tcp:0:interface=127.0.0.1"
        )
        self.addCleanup(child.stop)
        code, err, transfers = yield h.curlMany(port, ["/api/x", "/other"])
        self.assertEqual(code, 0, err)
        self.assertEqual(
            [(t.status, t.body) for t in transfers],
            [(200, "origin=a uri=/x"), (200, "origin=b uri=/other")],
        )
