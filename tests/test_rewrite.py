"""
Tests for L{proxykit.policy.rewrite}: header policy as pure functions.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from proxykit.h1 import Framing
from proxykit.policy.rewrite import (
    HOP_BY_HOP,
    forwardHeaders,
    forwardTrailers,
    framedHeaders,
    viaValue,
)


class ForwardHeadersTests(SynchronousTestCase):
    """
    L{forwardHeaders} removes hop-by-hop fields and adds C{Via}.
    """

    def test_hopByHopRemoved(self) -> None:
        """
        The fixed hop-by-hop set is removed whatever its case.
        """
        headers = [
            (b"Connection", b"keep-alive"),
            (b"KEEP-ALIVE", b"timeout=5"),
            (b"Proxy-Connection", b"keep-alive"),
            (b"TE", b"trailers"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Upgrade", b"websocket"),
            (b"Proxy-Authorization", b"Basic eDp5"),
            (b"Proxy-Authenticate", b"Basic"),
            (b"Accept", b"*/*"),
        ]
        out = forwardHeaders(headers, frozenset({b"keep-alive"}), b"1.1 proxykit")
        self.assertEqual(out, [(b"Accept", b"*/*"), (b"Via", b"1.1 proxykit")])
        self.assertEqual(len(HOP_BY_HOP), 8)

    def test_connectionOptionsRemoved(self) -> None:
        """
        Every field named in C{Connection} is removed too.
        """
        headers = [(b"X-Secret", b"1"), (b"x-other", b"2"), (b"X-Kept", b"3")]
        out = forwardHeaders(headers, frozenset({b"x-secret", b"x-other"}), b"1.1 p")
        self.assertEqual(out, [(b"X-Kept", b"3"), (b"Via", b"1.1 p")])

    def test_orderAndRepetitionPreserved(self) -> None:
        """
        Other fields keep their order, case and repetition; a received Via
        stays ahead of ours.
        """
        headers = [
            (b"Set-Cookie", b"a=1"),
            (b"Via", b"1.0 upstream"),
            (b"x-lower", b"v"),
            (b"Set-Cookie", b"b=2"),
        ]
        out = forwardHeaders(headers, frozenset(), b"1.1 proxykit")
        self.assertEqual(out, headers + [(b"Via", b"1.1 proxykit")])
        self.assertEqual(len(headers), 4, "input list is not modified")

    def test_hostReplacedInPlace(self) -> None:
        """
        A new Host value replaces the received one where it stood.
        """
        headers = [(b"Accept", b"*/*"), (b"host", b"evil"), (b"X", b"y")]
        out = forwardHeaders(headers, frozenset(), b"1.1 p", host=b"example.com")
        self.assertEqual(
            out,
            [(b"Accept", b"*/*"), (b"host", b"example.com"), (b"X", b"y"), (b"Via", b"1.1 p")],
        )

    def test_hostAdded(self) -> None:
        """
        When the request had no Host (HTTP/1.0), one is added first.
        """
        out = forwardHeaders([(b"Accept", b"*/*")], frozenset(), b"1.0 p", host=b"h:81")
        self.assertEqual(out, [(b"Host", b"h:81"), (b"Accept", b"*/*"), (b"Via", b"1.0 p")])

    def test_moreRemoved(self) -> None:
        """
        The names in C{removed} go in the same pass as the hop-by-hop
        fields, whatever their case; the rest keep their order.
        """
        received = [
            (b"Host", b"h"),
            (b"X-Forwarded-For", b"1.2.3.4"),
            (b"Keep-Alive", b"5"),
            (b"Accept", b"*/*"),
            (b"x-forwarded-for", b"5.6.7.8"),
        ]
        self.assertEqual(
            forwardHeaders(received, frozenset(), b"1.1 p", None, b"id", frozenset({b"x-forwarded-for"})),
            [(b"Host", b"h"), (b"Accept", b"*/*"), (b"Via", b"1.1 p"), (b"X-Request-Id", b"id")],
        )

    def test_via(self) -> None:
        """
        The Via value is the received protocol version and the pseudonym.
        """
        self.assertEqual(viaValue(b"1.0", b"proxykit"), b"1.0 proxykit")


class ForwardTrailersTests(SynchronousTestCase):
    """
    L{forwardTrailers} drops hop-by-hop and framing fields from trailers.
    """

    def test_trailers(self) -> None:
        """
        Ordinary trailers pass; hop-by-hop, Connection-listed and framing
        fields do not.
        """
        trailers = [
            (b"X-Checksum", b"abc"),
            (b"Content-Length", b"5"),
            (b"Connection", b"close"),
            (b"X-Drop", b"1"),
        ]
        self.assertEqual(
            forwardTrailers(trailers, frozenset({b"x-drop"})), [(b"X-Checksum", b"abc")]
        )
        self.assertEqual(forwardTrailers([], frozenset()), [])


class FramingProtectedTests(SynchronousTestCase):
    """
    A Connection option cannot strip the fields that frame the message.
    """

    def test_contentLengthKept(self) -> None:
        """
        C{Connection: Content-Length, Host} removes neither: the body would
        otherwise reach the next hop as a second request.
        """
        headers = [(b"Host", b"h"), (b"Content-Length", b"5"), (b"X", b"1")]
        out = forwardHeaders(headers, frozenset({b"content-length", b"host", b"x"}), b"1.1 p")
        self.assertEqual(out, [(b"Host", b"h"), (b"Content-Length", b"5"), (b"Via", b"1.1 p")])


class FramedHeadersTests(SynchronousTestCase):
    """
    L{framedHeaders} makes the framing fields say exactly the framing
    decided for the received message.
    """

    def test_length(self) -> None:
        """
        For a length, the first C{Content-Length} takes the decided value in
        place; any other framing field is dropped.
        """
        headers = [
            (b"A", b"1"),
            (b"content-length", b"005"),
            (b"Transfer-Encoding", b"chunked"),
            (b"B", b"2"),
        ]
        self.assertEqual(
            framedHeaders(headers, Framing.LENGTH, 5),
            [(b"A", b"1"), (b"content-length", b"5"), (b"B", b"2")],
        )
        self.assertEqual(headers[1], (b"content-length", b"005"), "input unchanged")

    def test_lengthAdded(self) -> None:
        """
        A decided length with no C{Content-Length} among the fields gets one.
        """
        self.assertEqual(
            framedHeaders([(b"A", b"1")], Framing.LENGTH, 7),
            [(b"A", b"1"), (b"Content-Length", b"7")],
        )

    def test_chunked(self) -> None:
        """
        For chunked, every C{Content-Length} and C{Transfer-Encoding} is
        replaced by one C{Transfer-Encoding: chunked} at the end.
        """
        headers = [
            (b"Transfer-Encoding", b"\tchunked"),
            (b"A", b"1"),
            (b"Content-Length", b"5"),
        ]
        self.assertEqual(
            framedHeaders(headers, Framing.CHUNKED, 0),
            [(b"A", b"1"), (b"Transfer-Encoding", b"chunked")],
        )

    def test_none(self) -> None:
        """
        Without a body, a received C{Content-Length} says 0, and nothing is
        added when there was none.
        """
        self.assertEqual(
            framedHeaders([(b"Content-Length", b"00")], Framing.NONE, 0),
            [(b"Content-Length", b"0")],
        )
        self.assertEqual(framedHeaders([(b"A", b"1")], Framing.NONE, 0), [(b"A", b"1")])
