"""
Tests for L{proxykit.web}: Twisted's C{ReverseProxyResource} replaced by one
on proxykit's pool, transcripts of a real C{twisted.web} L{Site} on
in-memory transports and a fake reactor.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionRefusedError, TimeoutError
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.python.reflect import namedAny
from twisted.trial.unittest import SynchronousTestCase
from twisted.web import proxy as twistedProxy
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from twisted.web.static import Data
from twisted.web.test.requesthelper import DummyRequest

import proxykit.web
from proxykit.relay.pool import ConnectionPool
from proxykit.web import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_RESPONSE_TIMEOUT,
    ReverseProxyResource,
)

from ._harness import Transport, lose, originSaw

ROOT = Path(__file__).resolve().parent.parent


class FillingTransport(Transport):
    """
    A transport whose write buffer is full past C{limit} bytes: it pauses
    its streaming producer then, as a socket transport would.
    """

    limit = 100_000

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) > self.limit and self.producer is not None:
            self.producer.pauseProducing()


class WebHarness:
    """
    A L{Site} with an ordinary resource at C{/hello} and the proxy resource
    at C{/api} (origin C{127.0.0.1:9000}, path C{/base}), on a fake
    reactor; origin connections are completed by hand.
    """

    def __init__(self, port: int = 9000, **kwargs: object) -> None:
        self.reactor = MemoryReactorClock()
        self.proxy = ReverseProxyResource(
            "127.0.0.1", port, b"/base", self.reactor, **kwargs  # type: ignore[arg-type]
        )
        root = Resource()
        root.putChild(b"api", self.proxy)
        root.putChild(b"hello", Data(b"hi\n", "text/plain"))
        self.site = Site(root, reactor=self.reactor)
        self.origins: list[tuple[Protocol, Transport]] = []
        self.failed = 0
        self.channel, self.transport = self.connectClient()

    def connectClient(self, transportClass: type[Transport] = Transport) -> tuple[Protocol, Transport]:
        channel = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        assert channel is not None
        transport = transportClass(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
        )
        channel.makeConnection(transport)
        return channel, transport

    def send(self, data: bytes) -> None:
        self.channel.dataReceived(data)

    def received(self) -> bytes:
        value = self.transport.value()
        self.transport.clear()
        return value

    def acceptOrigin(self, transportClass: type[Transport] = Transport) -> tuple[Protocol, Transport]:
        """
        Complete the oldest pending origin connection attempt.
        """
        host, port, factory, timeout, bind = self.reactor.tcpClients[len(self.origins) + self.failed]
        wrapper = factory.buildProtocol(IPv4Address("TCP", host, port))
        transport = transportClass(peerAddress=IPv4Address("TCP", host, port))
        wrapper.makeConnection(transport)
        proto = wrapper._wrappedProtocol
        self.origins.append((proto, transport))
        return proto, transport

    def failOrigin(self, reason: BaseException) -> None:
        host, port, factory, timeout, bind = self.reactor.tcpClients[len(self.origins) + self.failed]
        self.failed += 1
        factory.clientConnectionFailed(None, Failure(reason))


def head(raw: bytes) -> tuple[bytes, dict[bytes, list[bytes]], bytes]:
    """
    Split a response or request into its first line, its fields (lower-cased
    names, values in order) and what follows the head.
    """
    top, _, rest = raw.partition(b"\r\n\r\n")
    lines = top.split(b"\r\n")
    fields: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], fields, rest


GET = b"GET /api/a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.test\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


class ExportTests(SynchronousTestCase):
    """
    C{proxykit.web}'s public names.
    """

    def test_allNamesAreDocumentedObjects(self) -> None:
        """
        Every name in C{proxykit.web.__all__} is the object it claims to be,
        has a docstring, and is documented in C{docs/web.rst}.
        """
        self.assertEqual(proxykit.web.__all__, ["ReverseProxyResource"])
        docs = (ROOT / "docs" / "web.rst").read_text()
        for name in proxykit.web.__all__:
            obj = namedAny(f"proxykit.web.{name}")
            self.assertEqual(obj.__module__, "proxykit.web")
            self.assertTrue(obj.__doc__)
            self.assertIn(f"proxykit.web.{name}", docs)


class ResourceTreeTests(SynchronousTestCase):
    """
    The resource is built and walked like Twisted's.
    """

    def test_constructorLikeTwisted(self) -> None:
        """
        The constructor takes Twisted's arguments, positionally, and keeps
        them under the same attribute names.
        """
        reactor = MemoryReactorClock()
        ours = ReverseProxyResource("origin.test", 8000, b"/p", reactor)
        theirs = twistedProxy.ReverseProxyResource("origin.test", 8000, b"/p", reactor)
        for name in ("host", "port", "path", "reactor"):
            self.assertEqual(getattr(ours, name), getattr(theirs, name), name)
        self.assertEqual(ours.connectTimeout, DEFAULT_CONNECT_TIMEOUT)
        self.assertEqual(ours.responseTimeout, DEFAULT_RESPONSE_TIMEOUT)

    def test_signatureLikeTwisted(self) -> None:
        """
        The constructor's parameters are Twisted's, in Twisted's order
        (C{reactor} defaulting to the global reactor, here by C{None});
        what proxykit adds is keyword-only.  C{getChild} and C{render}
        take Twisted's parameters.
        """
        ours = inspect.signature(ReverseProxyResource.__init__).parameters
        theirs = inspect.signature(twistedProxy.ReverseProxyResource.__init__).parameters
        positional = [name for name, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
        self.assertEqual(positional, list(theirs))
        self.assertEqual(
            [name for name, p in ours.items() if p.kind is not p.POSITIONAL_OR_KEYWORD],
            ["pool", "connectTimeout", "responseTimeout"],
        )
        self.assertTrue(all(p.kind is p.KEYWORD_ONLY for p in ours.values() if p.name not in theirs))
        for method in ("getChild", "render"):
            self.assertEqual(
                list(inspect.signature(getattr(ReverseProxyResource, method)).parameters),
                list(inspect.signature(getattr(twistedProxy.ReverseProxyResource, method)).parameters),
                method,
            )

    def test_getChildLikeTwisted(self) -> None:
        """
        A child's path is the parent's, a slash and the quoted segment,
        exactly as Twisted's resource builds it; it keeps the origin and
        the reactor.
        """
        reactor = MemoryReactorClock()
        ours = ReverseProxyResource("origin.test", 8000, b"/p", reactor)
        theirs = twistedProxy.ReverseProxyResource("origin.test", 8000, b"/p", reactor)
        request = DummyRequest([b""])
        for segment in (b"plain", b"a b", b"a/b", b"%7E", b"\xc3\xa9", b""):
            child = ours.getChild(segment, request)
            self.assertIsInstance(child, ReverseProxyResource)
            self.assertEqual(child.path, theirs.getChild(segment, request).path)
            self.assertEqual((child.host, child.port), ("origin.test", 8000))
            self.assertIs(child.reactor, reactor)

    def test_childrenSharePool(self) -> None:
        """
        Children, and their children, use the pool of the resource they
        grew from; two resources built apart have pools of their own, unless
        one is given.
        """
        reactor = MemoryReactorClock()
        top = ReverseProxyResource("origin.test", 8000, b"", reactor, connectTimeout=3)
        grandchild = top.getChild(b"a", None).getChild(b"b", None)
        self.assertIs(grandchild.pool, top.pool)
        self.assertEqual(grandchild.connectTimeout, 3)
        other = ReverseProxyResource("origin.test", 8000, b"", reactor)
        self.assertIsNot(other.pool, top.pool)
        pool = ConnectionPool(reactor)
        shared = ReverseProxyResource("origin.test", 8000, b"", reactor, pool=pool)
        self.assertIs(shared.getChild(b"x", None).pool, pool)


class RequestTests(SynchronousTestCase):
    """
    What the origin receives.
    """

    def test_methodTargetAndHost(self) -> None:
        """
        The origin gets the method, the resource's path and the query
        string as Twisted's resource builds them, and C{Host} set to the
        origin's C{host:port}.
        """
        h = WebHarness()
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)
        self.assertEqual(h.reactor.tcpClients[0][:2], ("127.0.0.1", 9000))
        _, transport = h.acceptOrigin()
        line, fields, body = head(originSaw(transport))
        self.assertEqual(line, b"GET /base/a/b?x=1&y=%20 HTTP/1.1")
        self.assertEqual(fields[b"host"], [b"127.0.0.1:9000"])
        self.assertEqual(body, b"")

    def test_requestFieldsUntouched(self) -> None:
        """
        Unlike Twisted's, the resource leaves the C{twisted.web} request's
        own fields as the client sent them (C{Host} included).
        """
        h = WebHarness()
        seen: list[Request] = []

        class Recording(Request):
            def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
                seen.append(self)
                super().requestReceived(command, path, version)

        h.site.requestFactory = Recording
        channel, _ = h.connectClient()
        channel.dataReceived(GET)
        _, transport = h.acceptOrigin()
        self.assertEqual(head(originSaw(transport))[1][b"host"], [b"127.0.0.1:9000"])
        [request] = seen
        self.assertEqual(request.requestHeaders.getRawHeaders(b"host"), [b"example.test"])

    def test_hostWithoutDefaultPort(self) -> None:
        """
        For an origin on port 80, C{Host} is the host alone, as Twisted sets
        it.
        """
        h = WebHarness(port=80)
        h.send(GET)
        _, transport = h.acceptOrigin()
        self.assertEqual(head(originSaw(transport))[1][b"host"], [b"127.0.0.1"])

    def test_emptyPathIsSlash(self) -> None:
        """
        A resource with an empty path, asked for its own URL, asks the
        origin for C{/} (Twisted's would send an empty request-target).
        """
        reactor = MemoryReactorClock()
        root = Resource()
        root.putChild(b"api", ReverseProxyResource("127.0.0.1", 9000, b"", reactor))
        site = Site(root, reactor=reactor)
        channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        assert channel is not None
        channel.makeConnection(Transport())
        channel.dataReceived(b"GET /api?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        factory = reactor.tcpClients[0][2]
        wrapper = factory.buildProtocol(None)
        transport = Transport()
        wrapper.makeConnection(transport)
        self.assertTrue(transport.value().startswith(b"GET /?q=1 HTTP/1.1\r\n"))

    def test_hopByHopRemovedRepeatedKept(self) -> None:
        """
        Hop-by-hop fields, and those the client's C{Connection} names, are
        not sent on; repeated fields are all sent, in order; C{Via} is
        added.
        """
        h = WebHarness()
        h.send(
            b"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Private\r\n"
            b"X-Private: secret\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: x\r\n"
            b"X-Rep: one\r\nX-Rep: two\r\nAccept: */*\r\n\r\n"
        )
        _, transport = h.acceptOrigin()
        _, fields, _ = head(originSaw(transport))
        for name in (b"connection", b"x-private", b"keep-alive", b"te", b"proxy-connection"):
            self.assertNotIn(name, fields)
        self.assertEqual(fields[b"x-rep"], [b"one", b"two"])
        self.assertEqual(fields[b"accept"], [b"*/*"])
        self.assertEqual(fields[b"via"], [b"1.1 proxykit"])

    def test_bodyFromContent(self) -> None:
        """
        The body C{twisted.web} read (here chunked by the client) is sent
        with its length; no C{Transfer-Encoding} nor C{Expect} goes on.
        """
        h = WebHarness()
        h.send(
            b"POST /api/up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        _, transport = h.acceptOrigin()
        line, fields, body = head(originSaw(transport))
        self.assertEqual(line, b"POST /base/up HTTP/1.1")
        self.assertEqual(fields[b"content-length"], [b"11"])
        self.assertNotIn(b"transfer-encoding", fields)
        self.assertNotIn(b"expect", fields)
        self.assertEqual(body, b"hello world")

    def test_largeBodyPausedByOrigin(self) -> None:
        """
        A large request body is sent a piece at a time: while the origin's
        connection is full nothing more is read from C{request.content}, and
        sending resumes when it drains.
        """
        h = WebHarness()
        size = 1_000_000
        h.send(
            b"PUT /api/big HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % (size,)
            + b"x" * size
        )
        proto, transport = h.acceptOrigin(FillingTransport)
        sent = len(transport.value())
        self.assertLess(sent, FillingTransport.limit + 70_000)
        total = sent
        for _ in range(100):
            transport.clear()
            proto.resumeProducing()  # type: ignore[attr-defined]
            total += len(transport.value())
            if len(transport.value()) <= FillingTransport.limit:
                break
        self.assertGreaterEqual(total, size)
        self.assertLess(total, size + 1000)


class ResponseTests(SynchronousTestCase):
    """
    What the client receives.
    """

    def test_relayedWithHopByHopRemoved(self) -> None:
        """
        The origin's status, reason and fields reach the client, repeated
        ones all, hop-by-hop ones (and those its C{Connection} names) not;
        its C{Server} and C{Date} replace C{twisted.web}'s.
        """
        h = WebHarness()
        h.send(GET)
        proto, _ = h.acceptOrigin()
        proto.dataReceived(
            b"HTTP/1.1 201 Made\r\nConnection: X-Drop\r\nX-Drop: 1\r\nKeep-Alive: timeout=5\r\n"
            b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nServer: origin\r\nDate: then\r\n"
            b"Content-Length: 2\r\n\r\nok"
        )
        line, fields, body = head(h.received())
        self.assertEqual(line, b"HTTP/1.1 201 Made")
        self.assertEqual(fields[b"set-cookie"], [b"a=1", b"b=2"])
        self.assertEqual(fields[b"server"], [b"origin"])
        self.assertEqual(fields[b"date"], [b"then"])
        self.assertNotIn(b"x-drop", fields)
        self.assertNotIn(b"keep-alive", fields)
        self.assertNotIn(b"content-type", fields)
        self.assertEqual(body, b"ok")

    def test_streamed(self) -> None:
        """
        The response head and each piece of the body reach the client as
        they arrive from the origin, before the response is complete.
        """
        h = WebHarness()
        h.send(GET)
        proto, _ = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        line, fields, body = head(h.received())
        self.assertEqual((line, fields[b"content-length"], body), (b"HTTP/1.1 200 OK", [b"10"], b""))
        proto.dataReceived(b"12345")
        self.assertEqual(h.received(), b"12345")
        proto.dataReceived(b"67890")
        self.assertEqual(h.received(), b"67890")

    def test_chunkedOriginRechunked(self) -> None:
        """
        A chunked response is relayed chunked by C{twisted.web}, and its
        end ends the client's response.
        """
        h = WebHarness()
        h.send(GET)
        proto, _ = h.acceptOrigin()
        proto.dataReceived(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        _, fields, body = head(h.received())
        self.assertEqual(fields[b"transfer-encoding"], [b"chunked"])
        self.assertEqual(body, b"3\r\nabc\r\n0\r\n\r\n")

    def test_keepAlivePooled(self) -> None:
        """
        After a complete response the origin connection goes back to the
        pool, and the next request (on another client connection, through
        another child resource) is sent on it: one origin connection.
        """
        h = WebHarness()
        h.send(GET)
        proto, transport = h.acceptOrigin()
        originSaw(transport)
        proto.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))
        self.assertEqual(h.proxy.pool.idleCount(h.proxy.origin), 1)
        channel, client = h.connectClient()
        channel.dataReceived(b"GET /api/other HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(len(h.reactor.tcpClients), 1)
        self.assertTrue(originSaw(transport).startswith(b"GET /base/other HTTP/1.1\r\n"))
        proto.dataReceived(OK)
        self.assertTrue(client.value().endswith(b"hello"))

    def test_originCloseNotPooled(self) -> None:
        """
        A response whose origin says C{Connection: close} does not leave its
        connection in the pool.
        """
        h = WebHarness()
        h.send(GET)
        proto, transport = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(h.proxy.pool.idleCount(h.proxy.origin), 0)
        self.assertTrue(transport.disconnecting)

    def test_head(self) -> None:
        """
        A response to HEAD keeps the origin's C{Content-Length} and has no
        body; the origin connection is reused after it.
        """
        h = WebHarness()
        h.send(b"HEAD /api/x HTTP/1.1\r\nHost: a\r\n\r\n")
        proto, _ = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        raw = h.received()
        _, fields, body = head(raw)
        self.assertEqual(fields[b"content-length"], [b"100"])
        self.assertNotIn(b"transfer-encoding", fields)
        self.assertEqual(body, b"")
        self.assertEqual(h.proxy.pool.idleCount(h.proxy.origin), 1)

    def test_noBodyStatuses(self) -> None:
        """
        204 and 304 responses go out without a body or chunked framing, and
        the client connection serves the next request.
        """
        for status in (b"204 No Content", b"304 Not Modified"):
            h = WebHarness()
            h.send(GET)
            proto, _ = h.acceptOrigin()
            proto.dataReceived(b"HTTP/1.1 " + status + b"\r\n\r\n")
            line, fields, body = head(h.received())
            self.assertEqual(line, b"HTTP/1.1 " + status)
            self.assertNotIn(b"transfer-encoding", fields)
            self.assertEqual(body, b"")
            h.send(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertTrue(h.received().endswith(b"hi\n"))

    def test_slowClientPausesOrigin(self) -> None:
        """
        While the client's connection is full, the origin connection is not
        read; it is read again once the client's drains.
        """
        h = WebHarness()
        h.send(GET)
        proto, transport = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")
        self.assertEqual(transport.producerState, "producing")
        h.transport.producer.pauseProducing()
        self.assertEqual(transport.producerState, "paused")
        h.transport.producer.resumeProducing()
        self.assertEqual(transport.producerState, "producing")

    def test_clientDisconnectDropsOrigin(self) -> None:
        """
        A client that goes away mid-response takes the origin connection
        with it: aborted, never returned to the pool.
        """
        h = WebHarness()
        h.send(GET)
        proto, transport = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123")
        h.channel.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(transport.aborted)
        lose(proto)
        self.assertEqual(h.proxy.pool.idleCount(h.proxy.origin), 0)
        self.assertEqual(h.proxy.pool.connections, set())

    def test_clientDisconnectWhileConnecting(self) -> None:
        """
        A client that goes away before the origin connection is made leaves
        that connection idle in the pool, unused.
        """
        h = WebHarness()
        h.send(GET)
        h.channel.connectionLost(Failure(ConnectionDone()))
        _, transport = h.acceptOrigin()
        self.assertEqual(transport.value(), b"")
        self.assertEqual(h.proxy.pool.idleCount(h.proxy.origin), 1)


class FailureTests(SynchronousTestCase):
    """
    Origin failures become statuses before the response starts, and a cut
    client connection after.
    """

    def assertStatus(self, h: WebHarness, status: bytes) -> None:
        line, fields, body = head(h.received())
        self.assertEqual(line.split(b" ", 2)[1], status)
        self.assertEqual(fields[b"content-type"], [b"text/plain; charset=utf-8"])
        self.assertTrue(body.startswith(status + b" "))

    def test_connectRefused502(self) -> None:
        """
        An origin that refuses the connection: 502, and the client
        connection serves the next request.
        """
        h = WebHarness()
        h.send(GET)
        h.failOrigin(ConnectionRefusedError())
        self.assertStatus(h, b"502")
        h.send(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertTrue(h.received().endswith(b"hi\n"))

    def test_connectTimeout504(self) -> None:
        """
        An origin that does not accept the connection in time: 504; the
        connect timeout is the resource's.
        """
        h = WebHarness(connectTimeout=2.5)
        h.send(GET)
        self.assertEqual(h.reactor.tcpClients[0][3], 2.5)
        h.failOrigin(TimeoutError())
        self.assertStatus(h, b"504")

    def test_responseTimeout504(self) -> None:
        """
        An origin that says nothing for the response timeout: 504, and its
        connection is dropped.
        """
        h = WebHarness(responseTimeout=7)
        h.send(GET)
        proto, transport = h.acceptOrigin()
        h.reactor.advance(6.9)
        self.assertEqual(h.transport.value(), b"")
        h.reactor.advance(0.2)
        self.assertStatus(h, b"504")
        self.assertTrue(transport.aborted)

    def test_badResponse502(self) -> None:
        """
        A malformed response: 502, and the origin connection is dropped.
        """
        h = WebHarness()
        h.send(GET)
        proto, transport = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        self.assertStatus(h, b"502")
        self.assertTrue(transport.aborted)

    def test_closedBeforeResponse502(self) -> None:
        """
        An origin that closes a new connection without answering: 502.
        """
        h = WebHarness()
        h.send(GET)
        proto, _ = h.acceptOrigin()
        lose(proto)
        self.assertStatus(h, b"502")

    def test_staleConnectionRetried(self) -> None:
        """
        A pooled connection the origin closed as it was reused, before any
        response byte: the request is sent again on a new connection.
        """
        h = WebHarness()
        h.send(GET)
        proto, transport = h.acceptOrigin()
        proto.dataReceived(OK)
        h.received()
        h.send(GET)
        lose(proto)
        self.assertEqual(len(h.reactor.tcpClients), 2)
        proto2, transport2 = h.acceptOrigin()
        self.assertTrue(originSaw(transport2).startswith(b"GET /base/a/b"))
        proto2.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))

    def test_truncatedBodyCutsClient(self) -> None:
        """
        An origin that closes before the end of its body: the client
        connection is aborted, not finished as if the body were complete.
        """
        h = WebHarness()
        h.send(GET)
        proto, _ = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        lose(proto)
        raw = h.received()
        self.assertTrue(h.transport.aborted)
        self.assertFalse(raw.endswith(b"0\r\n\r\n"))

    def test_responseTimeoutMidBodyCutsClient(self) -> None:
        """
        An origin that stops in the middle of its body for the response
        timeout: the client connection is aborted.
        """
        h = WebHarness(responseTimeout=5)
        h.send(GET)
        proto, transport = h.acceptOrigin()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n123")
        h.reactor.advance(5.1)
        self.assertTrue(h.transport.aborted)
        self.assertTrue(transport.aborted)
