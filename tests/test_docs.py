"""
Tests for the documentation in C{docs/}: it must build cleanly with Sphinx.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from twisted.logger import eventAsJSON, globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from proxykit.config import (
    LimitsConfig,
    OriginConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
)
from proxykit.vhosts import ReverseRouter, VhostTable

from ._harness import GET, OK, Harness

DOCS = Path(__file__).resolve().parent.parent / "docs"


class DocsBuildTests(TestCase):
    """
    Tests for building the Sphinx documentation.
    """

    def test_buildsWithoutWarnings(self) -> None:
        """
        The documentation builds to HTML without a single warning: every page
        is reachable from the table of contents, every cross-reference
        resolves and every reStructuredText construct is well formed.
        """
        try:
            import sphinx  # noqa: F401
        except ImportError:
            raise SkipTest("sphinx is not installed (pip install '.[docs]')")
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run(
                [sys.executable, "-m", "sphinx", "-W", "--keep-going"]
                + ["-b", "html", "-q", str(DOCS), out],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if result.returncode != 0:
            self.fail(
                f"sphinx exited with status {result.returncode}:\n"
                + result.stdout.decode("utf-8", "replace")
            )


_LEGACY = {"message", "system", "isError", "time", "format", "failure"}
"""
Fields the global log publisher's observers for C{twisted.python.log} add to
every event they see (the L{Failure} of a C{failure} event is kept as such
by L{eventAsJSON}).
"""


class JSONLogTests(SynchronousTestCase):
    """
    The JSON log recipe of C{docs/security.rst} (twistd C{--logger} with
    L{jsonFileLogObserver}) keeps every field proxykit logs: log events
    carry plain values (C{str}, C{int}, C{float}, C{bool}, C{None}), never
    objects that JSON turns into C{{"unpersistable": true}}.
    """

    def capture(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        return events

    def assertPlain(self, events: list[dict[str, Any]]) -> None:
        """
        Every field of every proxykit event (Twisted's own C{log_*} fields
        apart) is a plain value, and survives L{eventAsJSON} unchanged.
        """
        ours = [e for e in events if e.get("log_namespace", "").startswith("proxykit")]
        self.assertTrue(ours, "no proxykit event was logged")
        for event in ours:
            fields = {
                k: v for k, v in event.items() if not k.startswith("log_") and k not in _LEGACY
            }
            for name, value in fields.items():
                self.assertIsInstance(
                    value, (str, int, float, bool, type(None)),
                    f"{event['log_format']!r}: {name}={value!r}",
                )
            decoded = json.loads(eventAsJSON(dict(event)))
            self.assertEqual(
                {k: decoded[k] for k in fields}, fields, f"{event['log_format']!r}"
            )
            self.assertNotIn("unpersistable", json.dumps({k: decoded[k] for k in fields}))

    def formats(self, events: list[dict[str, Any]]) -> list[str]:
        return [e["log_format"] for e in events if e.get("log_namespace", "").startswith("proxykit")]

    def test_forwardEvents(self) -> None:
        """
        A proxied request, a refusal, a bad request, an origin that refuses
        the connection and one that never answers are all logged with plain
        fields: the client and origin as text, the method as text.
        """
        events = self.capture()
        h = Harness()
        h.factory.doStart()
        h.send(GET)
        origin, transport = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 "))
        h.send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 403 "))

        h = Harness()
        h.send(GET)
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))

        h = Harness()
        h.send(GET)
        h.acceptOrigin()
        h.reactor.advance(31)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 504 "))

        h = Harness()
        h.send(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nBad Field: x\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "))

        self.assertEqual(
            self.formats(events),
            [
                "refused {method} request: {why}",
                "origin connection failed: {why}",
                "origin failed: {why}",
                "bad request: {why}",
            ],
        )
        self.assertPlain(events)
        refused = [e for e in events if e.get("method") is not None][0]
        self.assertEqual((refused["method"], refused["client"]), ("CONNECT", "127.0.0.1"))
        failed = [e for e in events if "origin" in e]
        self.assertEqual([e["origin"] for e in failed], ["http://127.0.0.1:9000"] * 2)

    def test_limitEvents(self) -> None:
        """
        A body over the limit, a full origin queue and a client that stops
        sending its body are logged with plain fields too.
        """
        events = self.capture()
        timeouts = Timeouts(connect=5, response=30)
        h = Harness(ProxyConfig(limits=LimitsConfig(maxBodyBytes=3), timeouts=timeouts))
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        h.acceptOrigin()
        h.send(b"5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 413 "))

        limits = LimitsConfig(maxOriginConnections=1, maxOriginQueue=0)
        h = Harness(ProxyConfig(limits=limits, timeouts=timeouts))
        h.send(GET)
        secondClient, second = h.connectClient()
        secondClient.dataReceived(GET)
        self.assertTrue(second.value().startswith(b"HTTP/1.1 503 "))

        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Content-Length: 10\r\n\r\nab"
        )
        h.acceptOrigin()
        h.reactor.advance(31)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 408 "))
        self.assertPlain(events)

    def test_reverseEvents(self) -> None:
        """
        In reverse mode too, what is logged when origins fail carries plain
        fields.
        """
        events = self.capture()
        route = RouteConfig(origins=(OriginConfig("http://127.0.0.1:9001"),), retries=0)
        reverseConfig = ReverseConfig(vhosts=(VhostConfig(("app.example.test",), (route,)),))
        h = Harness(ProxyConfig(reverse=reverseConfig, timeouts=Timeouts(connect=5, response=30)))
        h.factory.router = ReverseRouter(VhostTable.fromConfig(reverseConfig, h.reactor), reverseConfig)
        request = b"GET /page HTTP/1.1\r\nHost: app.example.test\r\n\r\n"
        h.send(request)
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 50"))
        h.send(request)
        h.received()
        self.assertPlain(events)
