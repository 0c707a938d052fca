"""
The shipped example configurations, run end to end: C{twistd proxykit}
started from the working tree with the example file (ports moved to free
ones), origins on 127.0.0.1, and curl as the client.
"""

from __future__ import annotations

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
from ._subprocess import ROOT, Child, _childEnvironment

EXAMPLES = os.path.join(ROOT, "examples")


def startTwistd(mode: str, config: str) -> tuple[Child, int]:
    """
    Run C{twistd -n proxykit MODE --config CONFIG}; return it and its port.
    """
    argv = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "proxykit",
        mode,
        "--config",
        config,
    ]
    child = Child(argv, ROOT, _childEnvironment())
    try:
        match = child.waitForLine(r"ProxyFactory starting on (\d+)")
    except BaseException:
        child.stop()
        raise
    return child, int(match.group(1))


class ReverseExampleTests(TestCase):
    """
    examples/reverse.toml does what its comments say.
    """

    timeout = 60

    @inlineCallbacks
    def test_reverseExample(self) -> Any:
        """
        With the example's three origins running: /api/x on app.example.test
        reaches origin 9001 or 9002 as /x; other paths reach 9003; a
        wildcard subdomain and an unknown host (the default vhost) reach the
        same site; static.example.test reaches 9003 with the origin's own
        Host; a redirect from an origin is rewritten to the public address.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origins = [h.startOrigin(name) for name in ("a", "b", "c")]
        with open(os.path.join(EXAMPLES, "reverse.toml")) as f:
            text = f.read()
        for old, origin in zip(("9001", "9002", "9003"), origins, strict=True):
            text = text.replace(f"127.0.0.1:{old}", origin.url.removeprefix("http://"))
        text = re.sub(r'listen = \["tcp:8000:', 'listen = ["tcp:0:', text)
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        child, port = yield deferToThread(startTwistd, "reverse", path)
        self.addCleanup(child.stop)

        code, err, transfers = yield h.curlMany(port, ["/api/x", "/api/y", "/api/z", "/other"])
        self.assertEqual(code, 0, err)
        bodies = [t.body for t in transfers]
        self.assertEqual([t.status for t in transfers], [200] * 4)
        for body in bodies[:3]:
            self.assertRegex(body, r"origin=[ab] uri=/[xyz]$")
        self.assertEqual(bodies[3], "origin=c uri=/other")

        result = yield h.curlSite(port, "-H", "Host: x.app.example.test", f"http://127.0.0.1:{port}/w")
        self.assertEqual(result.body, b"origin=c uri=/w\n")
        result = yield h.curlSite(port, "-H", "Host: unknown.test", f"http://127.0.0.1:{port}/d")
        self.assertEqual(result.body, b"origin=c uri=/d\n", "the default vhost serves it")
        result = yield h.curlSite(port, "-H", "Host: static.example.test", f"http://127.0.0.1:{port}/echo")
        self.assertIn(f"Host: {origins[2].url.removeprefix('http://')}", result.body.decode())
        result = yield h.curlSite(port, f"http://app.example.test:{port}/redirect")
        self.assertIn(
            (b"Location", f"http://app.example.test:{port}/login".encode()),
            result.finalHeaders(),
        )


class ForwardExampleTests(TestCase):
    """
    examples/forward.toml runs a working forward proxy.
    """

    timeout = 60

    @inlineCallbacks
    def test_forwardExample(self) -> Any:
        """
        The forward example (listener moved to a free port) proxies curl's
        absolute-form request to a local origin and refuses CONNECT to
        port 25.  twistd runs it on proxykit's reactor, as no C{-r} was
        given.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("f")
        with open(os.path.join(EXAMPLES, "forward.toml")) as f:
            text = f.read().replace("tcp:8080:", "tcp:0:")
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        child, port = yield deferToThread(startTwistd, "forward", path)
        self.addCleanup(child.stop)
        proxy = ["-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{port}"]
        out, err, code = yield runProcess(reactor, "curl", [*proxy, f"{origin.url}/hello"])
        self.assertEqual((code, out), (0, b"origin=f uri=/hello\n"), err)
        out, err, code = yield runProcess(reactor, "curl", [*proxy, "-p", "https://127.0.0.1:25/"])
        self.assertNotEqual(code, 0)
        self.assertIn(b"403", err)
        self.assertIn("reactor class: proxykit.reactor.ProxyReactor", child.output())
