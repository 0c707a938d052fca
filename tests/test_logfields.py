"""
Tests for L{proxykit.relay.logfields}: every line the proxy logs about a
refusal or a failure names the client, the method and target (printable
and bounded), the request id and the reason, in its text and as fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.error import ConnectionRefusedError
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from proxykit import ForwardConfig, LimitsConfig, ProxyConfig, Timeouts
from proxykit.config.values import LogConfig
from proxykit.decisions import ClientInfo
from proxykit.h1 import Framing, Request
from proxykit.relay.logfields import (
    MAX_TARGET,
    PREFIX,
    clientText,
    fieldsOf,
    printable,
    requestFields,
)

from . import test_protocol, test_web
from ._harness import FIRST_ID, GET, Harness
from .test_reverse import reverse

ID = FIRST_ID.decode()
TIMEOUTS = Timeouts(connect=5, response=30, idle=60, tunnelIdle=100)
CLIENT = "127.0.0.1:50000"
TARGET = "http://127.0.0.1:9000/a"


def boom(event: object) -> None:
    raise ZeroDivisionError("hook bug")


class PrintableTests(SynchronousTestCase):
    """
    What of a request a log line repeats is printable and bounded.
    """

    def test_plain(self) -> None:
        """
        Visible ASCII is kept as it is.
        """
        self.assertEqual(printable(b"/a?b=<c>&d=%20"), "/a?b=<c>&d=%20")

    def test_escaped(self) -> None:
        """
        Line breaks, escapes, other controls, spaces, backslashes and bytes
        beyond ASCII are written C{\\xHH}: a target cannot start a new log
        line or drive a terminal.
        """
        self.assertEqual(
            printable(b"/a\r\nFAKE LINE\x1b[31m\\\xff\x7f"),
            "/a\\x0D\\x0AFAKE\\x20LINE\\x1B[31m\\x5C\\xFF\\x7F",
        )

    def test_bounded(self) -> None:
        """
        Only the first L{MAX_TARGET} bytes of a huge target are written,
        then C{...}.
        """
        text = printable(b"/" + b"a" * 1_000_000)
        self.assertEqual(text, "/" + "a" * (MAX_TARGET - 1) + "...")
        self.assertEqual(printable(b"a" * MAX_TARGET), "a" * MAX_TARGET)

    def test_empty(self) -> None:
        """
        Nothing is written C{-}.
        """
        self.assertEqual(printable(b""), "-")

    def test_client(self) -> None:
        """
        A client is C{address:port}, IPv6 in brackets, C{unix} for a UNIX
        socket.
        """
        self.assertEqual(
            [clientText("192.0.2.1", 5), clientText("2001:db8::1", 5), clientText("", 0)],
            ["192.0.2.1:5", "[2001:db8::1]:5", "unix"],
        )

    def test_fields(self) -> None:
        """
        Unknown parts are C{-}; the prefix names all four fields.
        """
        self.assertEqual(
            requestFields("unix", None, None, None),
            {"client": "unix", "method": "-", "target": "-", "requestId": "-"},
        )
        request = Request(b"GET", b"/x y", b"1.1", [], Framing.NONE, 0, True, frozenset(), b"h", False, False)
        fields = fieldsOf(ClientInfo("192.0.2.1", "", 0, peerPort=7), request, b"abc")
        self.assertEqual(
            PREFIX.format(**fields), "192.0.2.1:7 GET /x\\x20y [abc]: "
        )


class LogLineTests(SynchronousTestCase):
    """
    Each refusal and failure line of the relay, as a table: what makes it
    happen, and the text it logs.
    """

    def capture(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        return events

    def check(
        self,
        make: Callable[[], object],
        line: str,
        fields: dict[str, object],
        level: LogLevel = LogLevel.info,
        client: str = CLIENT,
        method: str = "GET",
        target: str = TARGET,
        requestId: str = ID,
    ) -> dict[str, Any]:
        """
        Run C{make}; exactly one event is logged whose format starts with
        the prefix and whose text is C{line} after it; it has the prefix's
        fields and C{fields}, at C{level}.
        """
        events = self.capture()
        make()
        text = f"{client} {method} {target} [{requestId}]: {line}"
        ours = [
            e
            for e in events
            if e.get("log_format", "").startswith(PREFIX) and formatEvent(e) == text
        ]
        self.assertEqual(len(ours), 1, [formatEvent(e) for e in events])
        [event] = ours
        expected = {
            "client": client,
            "method": method,
            "target": target,
            "requestId": requestId,
            **fields,
        }
        self.assertEqual({k: event.get(k) for k in expected}, expected)
        self.assertEqual(event["log_level"], level)
        return event

    def test_refused(self) -> None:
        """
        A refusal by policy.
        """

        def make() -> None:
            Harness().send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")

        self.check(
            make,
            "refused: CONNECT port not allowed",
            {"why": "CONNECT port not allowed", "status": 403},
            method="CONNECT",
            target="127.0.0.1:25",
        )

    def test_badHead(self) -> None:
        """
        A head that cannot be parsed: no method or target, a new id.
        """

        def make() -> None:
            Harness().send(b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n")

        self.check(
            make,
            "bad request: malformed request",
            {"why": "malformed request", "status": 400},
            method="-",
            target="-",
        )

    def test_badBody(self) -> None:
        """
        A body whose framing breaks: the request it belongs to.
        """

        def make() -> None:
            h = Harness()
            h.send(
                b"POST http://127.0.0.1:9000/a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
                b"Transfer-Encoding: chunked\r\nX-Request-Id: up-1\r\n\r\n"
            )
            h.acceptOrigin()
            h.send(b"zz\r\n")

        self.check(
            make,
            "bad request: malformed request",
            {"why": "malformed request", "status": 400},
            method="POST",
            requestId="up-1",
        )

    def test_originConnection(self) -> None:
        """
        An origin that refuses the connection.
        """

        def make() -> None:
            h = Harness()
            h.send(GET)
            h.refuseOrigin()

        self.check(
            make,
            "origin connection failed: origin refused the connection",
            {"why": "origin refused the connection", "origin": "http://127.0.0.1:9000"},
        )

    def test_originTimedOut(self) -> None:
        """
        An origin that says nothing in time.
        """

        def make() -> None:
            h = Harness()
            h.send(GET)
            h.acceptOrigin()
            h.reactor.advance(31)

        self.check(
            make,
            "origin failed: origin timed out",
            {"why": "origin timed out", "origin": "http://127.0.0.1:9000"},
        )

    def test_noOtherOrigin(self) -> None:
        """
        A retry that finds no other origin.
        """

        def make() -> None:
            h = reverse(9001, retries=1)
            h.send(b"GET /x HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
            h.refuseOrigin()

        self.check(
            make,
            "no other origin to try",
            {"why": "no other origin to try", "host": "app.example.test"},
            target="/x",
        )

    def test_routeDown(self) -> None:
        """
        A route whose every origin failed its health checks, at C{warn}.
        """

        def make() -> None:
            h = reverse(9001)
            group = h.factory.router.table.routes[0].upstream  # type: ignore[attr-defined]
            group.markDown(group.origins[0])
            h.send(b"GET /x HTTP/1.1\r\nHost: app.example.test\r\n\r\n")

        self.check(
            make,
            "route / is down: no origin of the route passes its health checks",
            {"route": "/", "reason": "no origin of the route passes its health checks"},
            level=LogLevel.warn,
            target="/x",
        )

    def test_bodyTooLarge(self) -> None:
        """
        A chunked body over the limit.
        """

        def make() -> None:
            h = Harness(ProxyConfig(limits=LimitsConfig(maxBodyBytes=3), timeouts=TIMEOUTS))
            h.send(
                b"POST http://127.0.0.1:9000/a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            h.acceptOrigin()
            h.send(b"5\r\nhello\r\n0\r\n\r\n")

        self.check(
            make,
            "request body too large",
            {"why": "request body too large"},
            method="POST",
        )

    def test_clientStopped(self) -> None:
        """
        A client that stops sending its body.
        """

        def make() -> None:
            h = Harness()
            h.send(
                b"POST http://127.0.0.1:9000/a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
                b"Content-Length: 10\r\n\r\nab"
            )
            h.acceptOrigin()
            h.reactor.advance(31)

        self.check(
            make,
            "client stopped sending its request body",
            {"why": "client stopped sending its request body"},
            method="POST",
        )

    def test_tunnelFailed(self) -> None:
        """
        A CONNECT whose destination refuses.
        """

        def make() -> None:
            h = Harness(
                ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000})), timeouts=TIMEOUTS)
            )
            h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
            h.refuseOrigin()

        self.check(
            make,
            "tunnel failed: origin refused the connection",
            {"why": "origin refused the connection", "status": 502},
            method="CONNECT",
            target="127.0.0.1:9000",
        )

    def test_beforeRoutingHook(self) -> None:
        """
        A before-routing hook that raises, with its traceback.
        """

        def make() -> None:
            h = Harness()
            h.factory.hooks.beforeRouting(boom)
            h.send(GET)

        self.check(
            make,
            "hook tests.test_logfields.boom failed",
            {"hook": "tests.test_logfields.boom", "where": "before routing"},
            level=LogLevel.critical,
        )
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_afterRoutingHook(self) -> None:
        """
        An after-routing hook that raises.
        """

        def make() -> None:
            h = Harness()
            h.factory.hooks.afterRouting(boom)
            h.send(GET)

        self.check(
            make,
            "hook tests.test_logfields.boom failed",
            {"hook": "tests.test_logfields.boom", "origin": "http://127.0.0.1:9000"},
            level=LogLevel.critical,
        )
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_tunnelHook(self) -> None:
        """
        An after-routing hook of a CONNECT that raises.
        """

        def make() -> None:
            h = Harness(
                ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000})), timeouts=TIMEOUTS)
            )
            h.factory.hooks.afterRouting(boom)
            h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")

        self.check(
            make,
            "hook tests.test_logfields.boom failed",
            {"hook": "tests.test_logfields.boom"},
            level=LogLevel.critical,
            method="CONNECT",
            target="127.0.0.1:9000",
        )
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_observerHook(self) -> None:
        """
        An observer (here of completion) that raises.
        """

        def make() -> None:
            h = Harness()
            h.factory.hooks.onComplete(boom)
            h.send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")

        # The refusal's own line comes first; the observer's follows.
        events = self.capture()
        make()
        ours = [e for e in events if e.get("log_format", "").startswith(PREFIX + "hook")]
        self.assertEqual(len(ours), 1)
        self.assertEqual(
            formatEvent(ours[0]),
            f"{CLIENT} CONNECT 127.0.0.1:25 [{ID}]: hook tests.test_logfields.boom failed",
        )
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_badProxyHeader(self) -> None:
        """
        A PROXY header that names no IP address: no request yet.
        """

        def make() -> None:
            h = Harness(ProxyConfig(forward=ForwardConfig(allowClients=("0.0.0.0/0",))))
            # Its PROXY-protocol client (a module attribute: trial would
            # run a test class imported here again).
            test_protocol.ProxyHeaderTests("test_notAnAddress").client(h)
            h.send(b"PROXY TCP4 203.0.113.999 127.0.0.1 40000 8080\r\n" + GET)

        self.check(
            make,
            "bad PROXY header: not an IP address",
            {"why": "not an IP address"},
            client="127.0.0.1:50003",
            method="-",
            target="-",
            requestId="-",
        )

    def test_longTarget(self) -> None:
        """
        A very long target reaches the line cut to L{MAX_TARGET}
        characters.  (Line breaks and bytes beyond ASCII never get this far:
        the parser refuses them, and L{printable} would escape them.)
        """

        def make() -> None:
            h = Harness()
            h.send(
                b"GET http://127.0.0.1:9000/" + b"b" * 5000 + b" HTTP/1.1\r\n"
                b"Host: 127.0.0.1:9000\r\n\r\n"
            )
            h.refuseOrigin()

        self.check(
            make,
            "origin connection failed: origin refused the connection",
            {"why": "origin refused the connection"},
            target="http://127.0.0.1:9000/" + "b" * (MAX_TARGET - 22) + "...",
        )

    def test_off(self) -> None:
        """
        With ids off, the id is C{-}.
        """

        def make() -> None:
            h = Harness(ProxyConfig(log=LogConfig(requestId="off"), timeouts=TIMEOUTS))
            h.send(GET)
            h.refuseOrigin()

        self.check(
            make,
            "origin connection failed: origin refused the connection",
            {},
            requestId="-",
        )

    def test_webConnection(self) -> None:
        """
        C{proxykit.web}'s resource: an origin that refuses.  A
        C{twisted.web} request has no id.
        """

        def make() -> None:
            h = test_web.WebHarness()
            h.send(test_web.GET)
            h.failOrigin(ConnectionRefusedError())

        self.check(
            make,
            "origin connection failed: origin refused the connection",
            {"why": "origin refused the connection", "origin": "http://127.0.0.1:9000"},
            target="/api/a/b?x=1&y=%20",
            requestId="-",
        )

    def test_webOrigin(self) -> None:
        """
        C{proxykit.web}'s resource: an origin that says nothing in time.
        """

        def make() -> None:
            h = test_web.WebHarness(responseTimeout=7)
            h.send(test_web.GET)
            h.acceptOrigin()
            h.reactor.advance(8)

        self.check(
            make,
            "origin failed: origin timed out",
            {"why": "origin timed out"},
            target="/api/a/b?x=1&y=%20",
            requestId="-",
        )
