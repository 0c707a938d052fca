"""
Tests for L{proxykit.relay.errors}.
"""

from __future__ import annotations

from twisted.internet import defer, error
from twisted.trial.unittest import SynchronousTestCase

from proxykit.h1 import NEED_DATA, H1Connection, Response
from proxykit.relay.errors import (
    connectFailureStatus,
    errorResponse,
    reasonPhrase,
    routeDownDetail,
)


class ErrorResponseTests(SynchronousTestCase):
    """
    Error responses are fixed, well-framed and never echo the request.
    """

    def test_wellFramed(self) -> None:
        """
        An error response parses as a complete response with a short
        text/plain body.
        """
        for status in (400, 403, 414, 431, 501, 502, 504, 505, 508, 599):
            for close in (True, False):
                raw = errorResponse(status, close)
                conn = H1Connection(False)
                conn.expectResponse(b"GET")
                conn.receiveData(raw)
                head = conn.nextEvent()
                assert isinstance(head, Response)
                self.assertEqual(head.status, status)
                self.assertEqual(head.keepAlive, not close)
                self.assertIn((b"Content-Type", b"text/plain; charset=utf-8"), head.headers)
                events = []
                while (event := conn.nextEvent()) is not NEED_DATA:
                    events.append(event)
                self.assertEqual(type(events[-1]).__name__, "EndOfMessage")

    def test_routeDown(self) -> None:
        """
        The 503 of a route whose origins are all down is well framed, names
        the route in its fixed body, and leaves the plain 503 (a full queue)
        unchanged.
        """
        plain = errorResponse(503, False)
        for close in (True, False):
            raw = errorResponse(503, close, detail=routeDownDetail("/api"))
            head, _, body = raw.partition(b"\r\n\r\n")
            self.assertEqual(body, b"503 Service Unavailable\nno origin of route /api is up\n")
            self.assertIn(b"\r\nContent-Length: %d\r\n" % (len(body),), head)
            self.assertIn(b"\r\nContent-Type: text/plain; charset=utf-8", head)
            self.assertEqual(b"Connection: close" in head, close)
        self.assertEqual(errorResponse(503, False), plain)
        self.assertEqual(plain.partition(b"\r\n\r\n")[2], b"503 Service Unavailable\n")

    def test_routeNameVisibleASCII(self) -> None:
        """
        A route name is repeated as visible ASCII only, and bounded.
        """
        self.assertEqual(
            routeDownDetail("/a b\r\n\u00e9"), b"no origin of route /a?b??? is up\n"
        )
        self.assertEqual(len(routeDownDetail("/" + "x" * 1000)), len(routeDownDetail("/" * 200)))

    def test_connectFailures(self) -> None:
        """
        A connect timeout is 504; refusal, DNS and other failures are 502.
        """
        self.assertEqual(connectFailureStatus(error.TimeoutError())[0], 504)
        self.assertEqual(connectFailureStatus(defer.TimeoutError())[0], 504)
        self.assertEqual(connectFailureStatus(error.ConnectionRefusedError())[0], 502)
        self.assertEqual(connectFailureStatus(error.DNSLookupError())[0], 502)
        self.assertEqual(connectFailureStatus(OSError())[0], 502)

    def test_tlsFailures(self) -> None:
        """
        A failed TLS handshake or certificate verification is 502, and the
        reason (for the log) says why.
        """
        from proxykit.relay.endpoints import TLSFailed

        status, why = connectFailureStatus(TLSFailed("certificate has expired"))
        self.assertEqual(status, 502)
        self.assertIn("certificate has expired", why)


class ReasonPhraseTests(SynchronousTestCase):
    """
    L{reasonPhrase} names the statuses the proxy answers with itself.
    """

    def test_phrases(self) -> None:
        """
        The proxy's own phrases first, then the registered ones (a hook's
        or a redirect listener's C{301}), and none for a status nobody
        registered.
        """
        self.assertEqual(
            [reasonPhrase(status) for status in (502, 413, 301, 200, 204, 418, 299)],
            [
                b"Bad Gateway",
                b"Content Too Large",
                b"Moved Permanently",
                b"OK",
                b"No Content",
                b"I'm a Teapot",
                b"",
            ],
        )


class PoolFullTests(SynchronousTestCase):
    """
    A pool's refusal is a 503 whose reason says which of its limits it met
    (the request's own failure line carries it; the pool logs nothing of
    its own).
    """

    def test_reasons(self) -> None:
        from proxykit.relay.pool import QUEUE_FULL, QUEUE_TIMEOUT, PoolFull

        self.assertEqual(
            [connectFailureStatus(PoolFull(reason)) for reason in (QUEUE_FULL, QUEUE_TIMEOUT, "")],
            [
                (503, "too many requests waiting for the origin"),
                (503, "waited too long for a connection to the origin"),
                (503, "too many requests waiting for the origin"),
            ],
        )
