"""
Tests for L{proxykit.relay.client} and L{proxykit.relay.exchange}: transcripts of what
the client and the origin send and see, on Twisted's in-memory fakes.
"""

from __future__ import annotations

from random import Random

import attrs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import ISSLTransport, IStreamServerEndpoint
from twisted.protocols.haproxy import proxyEndpoint
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides, implementer

from proxykit import (
    ForwardConfig,
    LimitsConfig,
    PoolConfig,
    ProxyConfig,
    Timeouts,
)
from proxykit.h1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    Framing,
    H1Connection,
    ProtocolError,
    Request,
)
from proxykit.relay.client import ProxyProtocol, wrappedAddress
from proxykit.relay.gate import IConnectionGate

from ._harness import FIRST_ID, GET, OK, Harness, Transport, lose, originSaw


class ForwardTranscriptTests(SynchronousTestCase):
    """
    Requests and responses relayed between client and origin.
    """

    def test_simpleGet(self) -> None:
        """
        An absolute-form GET reaches the origin in origin-form with Host,
        Via and the request's id; the response reaches the client with Via,
        and the origin connection goes back to the pool.
        """
        h = Harness()
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)
        self.assertEqual(h.reactor.tcpClients[0][:2], ("127.0.0.1", 9000))
        origin, ot = h.acceptOrigin()
        self.assertEqual(
            originSaw(ot),
            b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAccept: */*\r\nVia: 1.1 proxykit\r\n"
            b"X-Request-Id: " + FIRST_ID + b"\r\n\r\n",
        )
        origin.dataReceived(OK)
        self.assertEqual(
            h.received(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nVia: 1.1 proxykit\r\n\r\nhello",
        )
        self.assertEqual(
            h.factory.pool.idleCount(
                h.factory.router._authorities[(b"http", b"127.0.0.1:9000")][0]
            ),
            1,
        )  # type: ignore[index]
        self.assertFalse(h.clientTransport.disconnecting)

    def test_keepAliveReusesOrigin(self) -> None:
        """
        Sequential requests on one client connection use one origin
        connection.
        """
        h = Harness()
        origin = None
        for _i in range(10):
            h.send(GET)
            if origin is None:
                origin, ot = h.acceptOrigin()
            self.assertIn(b"GET /a HTTP/1.1", originSaw(ot))
            origin.dataReceived(OK)
            self.assertTrue(h.received().endswith(b"hello"))
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_pipelinedInOrder(self) -> None:
        """
        Pipelined requests are forwarded one at a time: the second is not
        read until the first response is complete, and reading pauses.
        """
        h = Harness()
        second = GET.replace(b"/a", b"/b")
        h.send(GET + second)
        origin, ot = h.acceptOrigin()
        self.assertIn(b"GET /a ", originSaw(ot))
        self.assertEqual(h.clientTransport.producerState, "paused")
        origin.dataReceived(OK[:-2])
        self.assertEqual(originSaw(ot), b"", "second request held back")
        origin.dataReceived(OK[-2:])
        self.assertIn(b"GET /b ", originSaw(ot))
        self.assertEqual(h.clientTransport.producerState, "producing")
        origin.dataReceived(OK.replace(b"hello", b"world"))
        out = h.received()
        self.assertLess(out.index(b"hello"), out.index(b"world"))

    def test_streamingUpload(self) -> None:
        """
        A request body is passed on piece by piece as it arrives, never
        collected whole.
        """
        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"
        )
        self.assertEqual(
            h.clientTransport.producerState, "paused", "body held until origin connects"
        )
        origin, ot = h.acceptOrigin()
        self.assertEqual(h.clientTransport.producerState, "producing")
        self.assertTrue(originSaw(ot).endswith(b"\r\n\r\nab"))
        h.send(b"cdef")
        self.assertEqual(originSaw(ot), b"cdef")
        h.send(b"ghij")
        self.assertEqual(originSaw(ot), b"ghij")
        origin.dataReceived(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        self.assertIn(b"201 Created", h.received())

    def test_chunkedBothWays(self) -> None:
        """
        A chunked upload stays chunked with its trailers; a close-delimited
        response is chunked for an HTTP/1.1 client.
        """
        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"
        )
        origin, ot = h.acceptOrigin()
        sent = originSaw(ot)
        self.assertIn(b"Transfer-Encoding: chunked\r\n", sent)
        self.assertTrue(sent.endswith(b"\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"))
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nsome")
        origin.dataReceived(b"thing")
        lose(origin)
        out = h.received()
        self.assertIn(b"Transfer-Encoding: chunked\r\n", out)
        self.assertTrue(out.endswith(b"4\r\nsome\r\n5\r\nthing\r\n0\r\n\r\n"))
        self.assertFalse(h.clientTransport.disconnecting, "client connection persists")

    def test_closeDelimitedToHTTP10(self) -> None:
        """
        An HTTP/1.0 client gets a chunked response de-chunked and
        close-delimited.
        """
        h = Harness()
        h.send(b"GET http://127.0.0.1:9000/ HTTP/1.0\r\n\r\n")
        origin, ot = h.acceptOrigin()
        self.assertIn(b"Host: 127.0.0.1:9000\r\n", originSaw(ot))
        origin.dataReceived(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        out = h.received()
        self.assertNotIn(b"chunked", out)
        self.assertIn(b"Connection: close\r\n", out)
        self.assertTrue(out.endswith(b"\r\n\r\nabc"))
        self.assertTrue(h.clientTransport.disconnecting)

    def test_headResponse(self) -> None:
        """
        A response to HEAD carries no body even with a Content-Length, and
        the origin connection is reused.
        """
        h = Harness()
        h.send(GET.replace(b"GET", b"HEAD"))
        origin, ot = h.acceptOrigin()
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.assertTrue(h.received().endswith(b"\r\n\r\n"))
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_continueRelayed(self) -> None:
        """
        A 100 Continue from the origin reaches an HTTP/1.1 client before the
        final response.
        """
        h = Harness()
        h.send(
            b"PUT http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        origin, ot = h.acceptOrigin()
        self.assertIn(b"Expect: 100-continue", originSaw(ot))
        origin.dataReceived(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 100 Continue\r\n"))
        h.send(b"abc")
        self.assertEqual(originSaw(ot), b"abc")
        origin.dataReceived(b"HTTP/1.1 204 No Content\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 204 No Content\r\n"))


class FailureTests(SynchronousTestCase):
    """
    Every failure gets the right status or a closed connection, and nothing
    waits forever.
    """

    def test_malformedRequest(self) -> None:
        """
        A malformed request gets 400 and the connection closes.
        """
        h = Harness()
        h.send(b"GET http://a/ HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 400 Bad Request\r\n"))
        self.assertTrue(h.clientTransport.disconnecting)
        self.assertEqual(h.reactor.tcpClients, [])

    def test_originFormRequest(self) -> None:
        """
        An origin-form request gets 400, never contacts anything, and the
        connection closes: the client is not speaking to a proxy.
        """
        h = Harness()
        h.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "))
        self.assertTrue(h.clientTransport.disconnecting)
        self.assertEqual(h.reactor.tcpClients, [])

    def test_refusalKeepsConnection(self) -> None:
        """
        A policy refusal of a bodiless request keeps the connection usable.
        """
        h = Harness()
        h.send(b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 501 "))
        self.assertFalse(h.clientTransport.disconnecting)
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_originRefused(self) -> None:
        """
        An origin that refuses the connection gets the client a 502.
        """
        h = Harness()
        h.send(GET)
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 Bad Gateway\r\n"))
        self.assertFalse(h.clientTransport.disconnecting)

    def test_connectTimeout(self) -> None:
        """
        An origin connection that does not complete in time gets a 504.
        """
        h = Harness()
        h.send(GET)
        h.reactor.advance(6.1)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 504 Gateway Timeout\r\n"))

    def test_responseTimeout(self) -> None:
        """
        An origin that says nothing in time gets the client a 504, and the
        origin connection is dropped.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        h.reactor.advance(29)
        self.assertEqual(h.received(), b"")
        h.reactor.advance(2)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 504 "))
        self.assertTrue(ot.aborted)

    def test_originClosesMidBody(self) -> None:
        """
        When the origin closes mid-body of a response framed by
        Content-Length, the client gets what was relayed and then the
        connection closes, so it sees the body is short of its length.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        lose(origin)
        self.assertTrue(h.received().endswith(b"\r\n\r\npartial"))
        self.assertTrue(h.clientTransport.disconnecting)
        self.assertFalse(h.clientTransport.aborted)

    def test_truncatedResponseNotReadIsAborted(self) -> None:
        """
        A client that does not take the rest of a truncated response within
        the idle timeout is aborted.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        lose(origin)
        h.reactor.advance(h.config.timeouts.idle)
        self.assertTrue(h.clientTransport.aborted)

    def test_originClosesMidBodyCloseDelimited(self) -> None:
        """
        When the client reads the body until the connection closes (an
        HTTP/1.0 client), a truncated body aborts the connection: a clean
        close would present it as complete.
        """
        h = Harness()
        h.send(b"GET http://127.0.0.1:9000/a HTTP/1.0\r\n\r\n")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npartial\r\n"
        )
        lose(origin)
        self.assertTrue(h.clientTransport.aborted)

    def test_malformedResponse(self) -> None:
        """
        A malformed response head gets 502 and the origin connection is not
        reused.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
        )
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))
        self.assertTrue(ot.aborted)

    def test_retryOnStaleConnection(self) -> None:
        """
        A GET that fails on a reused connection before any response byte is
        retried once on a fresh connection.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.received()
        h.send(GET)
        self.assertIn(b"GET /a", originSaw(ot))
        lose(origin)
        self.assertEqual(len(h.reactor.tcpClients), 2)
        origin2, ot2 = h.acceptOrigin()
        self.assertIn(b"GET /a", originSaw(ot2))
        origin2.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))

    def test_noRetryForPost(self) -> None:
        """
        A POST that fails on a reused connection is not retried: 502.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.received()
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"
        )
        lose(origin)
        self.assertEqual(len(h.reactor.tcpClients), 1)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))

    def test_clientClosesMidUpload(self) -> None:
        """
        A client that disconnects mid-upload gets the origin connection
        closed too.
        """
        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
        )
        origin, ot = h.acceptOrigin()
        lose(h.client)
        self.assertTrue(ot.aborted)

    def test_idleClientClosed(self) -> None:
        """
        An idle client connection is closed after the idle timeout; one that
        started a head and stalled gets 408.
        """
        h = Harness()
        h.reactor.advance(61)
        self.assertTrue(h.clientTransport.disconnecting)
        h2 = Harness()
        h2.send(b"GET http://a/ HTTP/1.1\r\nHo")
        h2.reactor.advance(61)
        self.assertTrue(h2.received().startswith(b"HTTP/1.1 408 "))

    def test_poolIdleExpiry(self) -> None:
        """
        An idle pooled origin connection is closed after the pool's expiry.
        """
        config = ProxyConfig(pool=PoolConfig(idleExpiry=10))
        h = Harness(config)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.reactor.advance(9)
        self.assertFalse(ot.disconnecting)
        h.reactor.advance(2)
        self.assertTrue(ot.disconnecting)


class BackpressureTests(SynchronousTestCase):
    """
    A full write buffer on one side pauses reading on the other.
    """

    def test_slowClientPausesOrigin(self) -> None:
        """
        When the client's transport is full, the origin is not read; when it
        drains, reading resumes.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nxx")
        h.client.pauseProducing()
        self.assertEqual(ot.producerState, "paused")
        h.client.resumeProducing()
        self.assertEqual(ot.producerState, "producing")

    def test_slowOriginPausesClient(self) -> None:
        """
        When the origin's transport is full during an upload, the client is
        not read.
        """
        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nab"
        )
        origin, ot = h.acceptOrigin()
        origin.pauseProducing()
        self.assertEqual(h.clientTransport.producerState, "paused")
        origin.resumeProducing()
        self.assertEqual(h.clientTransport.producerState, "producing")


class HardeningTests(SynchronousTestCase):
    """
    Limits, loop protection and TRACE/OPTIONS handling, in both modes'
    shared protocol.
    """

    def test_slowHead(self) -> None:
        """
        A client dripping a request head gets 408 after the header timeout,
        however often it sends a byte.
        """
        h = Harness(ProxyConfig(timeouts=Timeouts(header=5, idle=60)))
        h.send(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\n")
        for _ in range(4):
            h.reactor.advance(1)
            h.send(b"X")
        h.reactor.advance(1.1)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 408 "))
        self.assertTrue(h.clientTransport.disconnecting)

    def test_headTimeoutPerRequest(self) -> None:
        """
        The header timeout runs per request head: a keep-alive client taking
        longer than it in total, but not per head, is served.
        """
        h = Harness(ProxyConfig(timeouts=Timeouts(header=5, idle=60)))
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.reactor.advance(4)
        h.send(GET[:10])
        h.reactor.advance(4)
        h.send(GET[10:])
        origin.dataReceived(OK)
        self.assertEqual(h.received().count(b"hello"), 2)

    def tlsClient(self, h: Harness) -> tuple[ProxyProtocol, Transport]:
        """
        Connect a client to C{h}'s factory over a transport that says it is
        TLS (as a TLS listener's connections do, from before the handshake
        completes).
        """
        proto = h.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50001))
        transport = Transport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8443),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50001),
        )
        directlyProvides(transport, ISSLTransport)
        proto.makeConnection(transport)
        return proto, transport

    def test_stalledHandshake(self) -> None:
        """
        A TLS handshake must complete within the header timeout; one that
        does not is aborted (TLS cannot close a connection cleanly before
        its handshake is done).
        """
        h = Harness(ProxyConfig(timeouts=Timeouts(header=5, idle=60)))
        proto, transport = self.tlsClient(h)
        h.reactor.advance(4.9)
        self.assertFalse(transport.disconnecting)
        h.reactor.advance(0.2)
        self.assertTrue(transport.aborted)
        self.assertEqual(transport.value(), b"")

    def test_idleAfterHandshake(self) -> None:
        """
        Once the handshake is over, the connection is idle until a request
        begins: the idle timeout applies, not the header timeout.
        """
        h = Harness(ProxyConfig(timeouts=Timeouts(header=5, idle=60)))
        proto, transport = self.tlsClient(h)
        h.reactor.advance(1)
        proto.handshakeCompleted()
        h.reactor.advance(59.9)
        self.assertFalse(transport.disconnecting)
        h.reactor.advance(0.2)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.aborted)

    def test_closeThatDoesNotFinish(self) -> None:
        """
        A connection closed for a timeout whose close cannot finish (the
        client takes none of the bytes still to send) is aborted after the
        idle timeout more: no connection is held forever.
        """
        h = Harness(ProxyConfig(timeouts=Timeouts(header=5, idle=60)))
        h.send(b"GET http://a/ HTTP/1.1\r\nHo")
        h.reactor.advance(5.1)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 408 "))
        self.assertTrue(h.clientTransport.disconnecting)
        self.assertFalse(h.clientTransport.aborted)
        h.reactor.advance(60.1)
        self.assertTrue(h.clientTransport.aborted)

    def test_bodyTooLarge(self) -> None:
        """
        A Content-Length over the limit gets 413 before any origin is
        contacted, also when the client waits for 100-continue.
        """
        h = Harness(ProxyConfig(limits=LimitsConfig(maxBodyBytes=10)))
        h.send(
            b"PUT http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        self.assertTrue(h.received().startswith(b"HTTP/1.1 413 "))
        self.assertEqual(h.reactor.tcpClients, [])
        self.assertTrue(h.clientTransport.disconnecting)

    def test_chunkedBodyTooLarge(self) -> None:
        """
        A chunked body that grows over the limit gets 413 and the origin
        connection is dropped.
        """
        h = Harness(ProxyConfig(limits=LimitsConfig(maxBodyBytes=10)))
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n"
        )
        origin, ot = h.acceptOrigin()
        h.send(b"6\r\nghijkl\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 413 "))
        self.assertTrue(ot.aborted)

    def test_loopDetected(self) -> None:
        """
        A request that already passed through this proxy (its Via names
        it) gets 508.
        """
        h = Harness()
        h.send(
            b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nVia: 1.0 other, 1.1 ProxyKit\r\n\r\n"
        )
        self.assertTrue(h.received().startswith(b"HTTP/1.1 508 "))
        self.assertEqual(h.reactor.tcpClients, [])
        h.send(
            b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nVia: 1.1 proxykitten\r\n\r\n"
        )
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_traceRefused(self) -> None:
        """
        TRACE is refused with 405 by default.
        """
        h = Harness()
        h.send(b"TRACE http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 405 "))

    def test_maxForwards(self) -> None:
        """
        OPTIONS with Max-Forwards: 0 is answered by the proxy; a larger value
        is decremented on the way.
        """
        h = Harness()
        h.send(
            b"OPTIONS http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n"
        )
        out = h.received()
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"Allow: ", out)
        self.assertEqual(h.reactor.tcpClients, [])
        self.assertFalse(h.clientTransport.disconnecting)
        h.send(
            b"OPTIONS http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 5\r\n\r\n"
        )
        origin, ot = h.acceptOrigin()
        self.assertIn(b"Max-Forwards: 4\r\n", originSaw(ot))

    def test_traceMaxForwardsZero(self) -> None:
        """
        When TRACE is allowed, Max-Forwards: 0 is answered with the request
        reflected, without credentials or cookies.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(allowTrace=True)))
        h.send(
            b"TRACE http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nCookie: s=1\r\n\r\n"
        )
        out = h.received()
        self.assertIn(b"Content-Type: message/http", out)
        self.assertIn(
            b"TRACE http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n",
            out,
        )
        self.assertNotIn(b"Cookie", out)


class ClientCheckFirstTests(SynchronousTestCase):
    """
    A client outside the allowed networks gets 403 before anything else.
    """

    def test_optionsFromOutsider(self) -> None:
        """
        Even OPTIONS with Max-Forwards: 0, which the proxy would answer
        itself, gets 403 for a client that may not use the proxy.
        """
        h = Harness()
        h.client.client = attrs.evolve(h.client.client, allowed=False)
        h.send(
            b"OPTIONS http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n"
        )
        self.assertTrue(h.received().startswith(b"HTTP/1.1 403 "))


_CHUNKED_POST = (
    b"POST http://127.0.0.1:9000/up HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_BODIES_FAILING = (
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"5_\r\nhello\r\n0\r\n\r\n",
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"5\nhello\n0\n\n",
)


def _parseAsOrigin(
    wire: bytes,
) -> tuple[list[tuple[Request, bytes, bool]], ProtocolError | None]:
    """
    Parse what an origin received with a strict server-role connection.

    @return: Each request with its body and whether it ended, and the
        error, if the bytes stopped parsing.
    """
    conn = H1Connection(True)
    conn.receiveData(wire)
    seen: list[tuple[Request, bytes, bool]] = []
    while True:
        try:
            event = conn.nextEvent()
        except ProtocolError as e:
            return seen, e
        if event is NEED_DATA:
            return seen, None
        if isinstance(event, Request):
            seen.append((event, b"", False))
        elif isinstance(event, Data):
            request, body, _ = seen[-1]
            seen[-1] = (request, body + event.data, False)
        elif isinstance(event, EndOfMessage):
            request, body, _ = seen[-1]
            seen[-1] = (request, body, True)


class FramingAgreementTests(SynchronousTestCase):
    """
    The framing announced upstream is the framing the body is read with; a
    request whose bytes in hand already fail goes nowhere; an origin
    connection whose request body went wrong is dropped at once.
    """

    def test_chunkedWithTabs(self) -> None:
        """
        C{Transfer-Encoding:<TAB>chunked<TAB>} with the chunked body
        C{hello}: the origin gets a chunked head and the body C{hello},
        chunked, and the answer reaches the client.
        """
        h = Harness()
        h.send(
            _CHUNKED_POST.replace(
                b"Transfer-Encoding: chunked", b"Transfer-Encoding:\tchunked\t"
            )
            + b"5\r\nhello\r\n0\r\n\r\n"
        )
        origin, ot = h.acceptOrigin()
        [(request, body, ended)], error = _parseAsOrigin(originSaw(ot))
        self.assertIsNone(error)
        self.assertEqual(
            (request.framing, body, ended), (Framing.CHUNKED, b"hello", True)
        )
        origin.dataReceived(OK)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 OK\r\n"))

    def test_bodyFailingInHandContactsNoOrigin(self) -> None:
        """
        A chunked body whose framing fails within the bytes sent with the
        head (sizes C{0x5}, C{-5}, C{5_}, C{+5}, bare-LF lines) gets 400 and
        a closed connection, and no origin connection is even attempted.
        """
        for body in _BODIES_FAILING:
            h = Harness()
            h.send(_CHUNKED_POST + body)
            self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "), body)
            self.assertTrue(h.clientTransport.disconnecting, body)
            self.assertEqual(h.reactor.tcpClients, [], body)

    def test_bodyFailingInHandReusesNothing(self) -> None:
        """
        With an idle origin connection in the pool, such a request sends it
        nothing and leaves it idle.
        """
        h = Harness()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.received()
        originSaw(ot)
        h.send(_CHUNKED_POST + _BODIES_FAILING[0])
        self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "))
        self.assertEqual(originSaw(ot), b"")
        self.assertFalse(ot.disconnecting)
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def assertOriginDropped(self, h: Harness, origin: object, ot: Transport) -> None:
        """
        The origin connection was aborted at once and, once closed, the
        proxy holds no origin connection.
        """
        self.assertTrue(ot.aborted, "the origin connection was not aborted")
        lose(origin)  # type: ignore[arg-type]
        self.assertEqual(h.factory.pool.connections, set())
        self.assertIsNone(origin.exchange)  # type: ignore[attr-defined]

    def startUpload(self, h: Harness, reuse: bool = False) -> tuple[object, Transport]:
        """
        Send a chunked upload's head and a first chunk, and let them reach
        an origin (a new connection, or a pooled one if C{reuse}).
        """
        if reuse:
            h.send(GET)
            origin, ot = h.acceptOrigin()
            origin.dataReceived(OK)
            h.received()
            h.send(_CHUNKED_POST + b"5\r\nhello\r\n")
        else:
            h.send(_CHUNKED_POST + b"5\r\nhello\r\n")
            origin, ot = h.acceptOrigin()
        self.assertTrue(originSaw(ot).endswith(b"\r\n\r\n5\r\nhello\r\n"))
        return origin, ot  # type: ignore[return-value]

    def test_malformedBodyAfterHead(self) -> None:
        """
        A body that turns malformed after its head went upstream: 400 to
        the client, and the origin connection (new or reused) is aborted.
        """
        for reuse in (False, True):
            h = Harness()
            origin, ot = self.startUpload(h, reuse)
            h.send(b"0x5\r\nhello\r\n")
            self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "))
            self.assertTrue(h.clientTransport.disconnecting)
            self.assertOriginDropped(h, origin, ot)

    def test_oversizedBodyAfterHead(self) -> None:
        """
        A body that grows over the limit after its head went upstream: 413
        to the client, and the origin connection is aborted.
        """
        h = Harness(ProxyConfig(limits=LimitsConfig(maxBodyBytes=8)))
        origin, ot = self.startUpload(h)
        h.send(b"5\r\nworld\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 413 "))
        self.assertOriginDropped(h, origin, ot)

    def test_bodyCutShortByClose(self) -> None:
        """
        A client that closes its connection in the middle of a body whose
        head went upstream: the origin connection is aborted.
        """
        h = Harness()
        origin, ot = self.startUpload(h)
        lose(h.client)
        self.assertOriginDropped(h, origin, ot)

    def test_bodyCutShortByHalfClose(self) -> None:
        """
        A client that ends its sending side in the middle of a body whose
        head went upstream: the origin connection is aborted.
        """
        h = Harness()
        origin, ot = self.startUpload(h, reuse=True)
        h.client.readConnectionLost()
        self.assertOriginDropped(h, origin, ot)

    def test_malformedBodyAfterResponseHead(self) -> None:
        """
        A body that turns malformed after the origin's response head was
        relayed: the origin connection is aborted, and so is the client's
        (its response cannot be completed).
        """
        h = Harness()
        origin, ot = self.startUpload(h)
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")  # type: ignore[attr-defined]
        h.send(b"5\nworld\n")
        self.assertTrue(h.clientTransport.aborted)
        self.assertOriginDropped(h, origin, ot)


_OWS = st.sampled_from([b"", b" ", b"\t", b" \t", b"\t "])


@st.composite
def _fieldLines(
    draw: st.DrawFn, names: list[bytes], elements: list[bytes]
) -> list[bytes]:
    """
    Zero to two lines of one field: its name in some case, a value made of
    list elements (some empty) with optional whitespace around each.
    """
    lines = []
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(names))
        parts = draw(st.lists(st.sampled_from(elements), min_size=1, max_size=3))
        value = b",".join(draw(_OWS) + part + draw(_OWS) for part in parts)
        lines.append(name + b":" + draw(_OWS) + value + draw(_OWS) + b"\r\n")
    return lines


_TE_LINES = _fieldLines(
    [
        b"Transfer-Encoding",
        b"transfer-encoding",
        b"TRANSFER-ENCODING",
        b"Transfer-encoding",
    ],
    [b"chunked", b"CHUNKED", b"Chunked", b"", b"identity", b"gzip"],
)
_CL_LINES = _fieldLines(
    [b"Content-Length", b"content-length", b"CONTENT-LENGTH"],
    [b"5", b"05", b"", b"+5", b"0x5", b"5_", b"-5"],
)


class FramingPropertyTests(SynchronousTestCase):
    """
    Whatever the spelling of the framing fields, the proxy and the origin
    never disagree about where the body ends.
    """

    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        teLines=_TE_LINES,
        clLines=_CL_LINES,
        order=st.randoms(use_true_random=False),
        split=st.booleans(),
    )
    def test_refusedOrForwardedExactly(
        self, teLines: list[bytes], clLines: list[bytes], order: Random, split: bool
    ) -> None:
        """
        For generated spellings of C{Transfer-Encoding} and
        C{Content-Length} (case, whitespace including tabs, repeats, lists,
        empty elements), with a body framed as the client meant it (chunked
        when it sent a C{Transfer-Encoding}, else five bytes): either the
        request is refused with 400 or 501 before anything goes upstream
        (no origin connection is even attempted), or the origin receives a
        head whose framing delivers exactly the body C{hello}.
        """
        lines = teLines + clLines
        assume(lines)
        order.shuffle(lines)
        head = (
            b"POST http://127.0.0.1:9000/up HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            + b"".join(lines)
            + b"\r\n"
        )
        body = b"5\r\nhello\r\n0\r\n\r\n" if teLines else b"hello"
        h = Harness()
        if split:
            h.send(head)
            h.send(body)
        else:
            h.send(head + body)
        answer = h.received()
        if not h.reactor.tcpClients:
            self.assertRegex(answer, rb"\AHTTP/1\.1 (400|501) ", head)
            self.assertTrue(h.clientTransport.disconnecting)
            return
        self.assertEqual(answer, b"", head)
        origin, ot = h.acceptOrigin()
        seen, error = _parseAsOrigin(originSaw(ot))
        self.assertIsNone(error, head)
        self.assertEqual(len(seen), 1, head)
        [(request, received, ended)] = seen
        self.assertEqual((received, ended), (b"hello", True), head)
        origin.dataReceived(OK)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 OK\r\n"), head)


@implementer(IConnectionGate)
class RecordingGate:
    """
    A listener gate that records what its connections tell it.
    """

    name = "tcp:8080"

    def __init__(self) -> None:
        self.told: list[str] = []

    def idle(self, connection: object) -> None:
        self.told.append("idle")

    def busy(self, connection: object) -> None:
        self.told.append("busy")

    def closed(self, connection: object) -> None:
        self.told.append("closed")


def gatedClient(h: Harness, tls: bool = False) -> RecordingGate:
    """
    Replace C{h}'s client connection by one counted by a L{RecordingGate}
    (over a transport that says it is TLS if C{tls}).
    """
    gate = RecordingGate()
    proto = h.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50002))
    proto.gatedBy(gate)
    transport = Transport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 50002),
    )
    if tls:
        directlyProvides(transport, ISSLTransport)
    proto.makeConnection(transport)
    h.client, h.clientTransport = proto, transport
    return gate


class IdleBusyTests(SynchronousTestCase):
    """
    A client connection tells its listener's gate when it is idle (it may
    be closed to make room for a new client) and when it is busy (it must
    not be).
    """

    def test_keepAliveCycle(self) -> None:
        """
        Idle when made; busy from the first byte of a request (a partial
        head is busy); idle again once the keep-alive response is complete;
        closed at the end.
        """
        h = Harness()
        gate = gatedClient(h)
        self.assertEqual(gate.told, ["idle"])
        h.send(GET[:10])
        self.assertEqual(gate.told, ["idle", "busy"])
        h.send(GET[10:])
        origin, _ = h.acceptOrigin()
        self.assertEqual(gate.told, ["idle", "busy"])
        origin.dataReceived(OK)
        self.assertEqual(gate.told, ["idle", "busy", "idle"])
        h.send(GET)
        self.assertEqual(gate.told, ["idle", "busy", "idle", "busy"])
        lose(h.client)
        self.assertEqual(gate.told[-1], "closed")

    def test_pipelinedRequestBusy(self) -> None:
        """
        After a response, a connection that has already received (part of)
        the next request is not idle.
        """
        h = Harness()
        gate = gatedClient(h)
        h.send(GET + GET[:20])
        origin, _ = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(gate.told, ["idle", "busy"])
        h.send(GET[20:])
        origin.dataReceived(OK)
        self.assertEqual(gate.told, ["idle", "busy", "idle"])

    def test_refusalThenIdle(self) -> None:
        """
        A request refused while keeping the connection leaves it idle.
        """
        h = Harness()
        gate = gatedClient(h)
        h.send(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "))
        self.assertEqual(gate.told, ["idle", "busy"])
        h = Harness()
        gate = gatedClient(h)
        h.send(b"TRACE http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 405 "))
        self.assertFalse(h.clientTransport.disconnecting)
        self.assertEqual(gate.told, ["idle", "busy", "idle"])

    def test_tunnelNeverIdle(self) -> None:
        """
        A connection carrying a tunnel is busy until it closes.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000}))))
        gate = gatedClient(h)
        h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        origin, ot = h.acceptOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 "))
        h.send(b"tunnelled bytes")
        origin.dataReceived(b"answer")
        lose(h.client)
        self.assertEqual(gate.told, ["idle", "busy", "closed"])

    def test_tlsBusyUntilHandshake(self) -> None:
        """
        A TLS connection is busy while its handshake is under way, and idle
        once it completes.
        """
        h = Harness()
        gate = gatedClient(h, tls=True)
        self.assertEqual(gate.told, ["busy"])
        h.client.handshakeCompleted()
        self.assertEqual(gate.told, ["busy", "idle"])

    def test_shed(self) -> None:
        """
        An idle connection the gate sheds is closed, and tells the gate
        nothing more (its slot is already free).
        """
        h = Harness()
        gate = gatedClient(h)
        h.client.shed()
        self.assertTrue(h.clientTransport.disconnecting)
        lose(h.client)
        self.assertEqual(gate.told, ["idle"])


class ProxyHeaderTests(SynchronousTestCase):
    """
    Behind a load balancer speaking the PROXY protocol (Twisted's
    C{haproxy:} endpoints), the client is the one the PROXY header names,
    not the balancer that connected.
    """

    V1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 8080\r\n"

    def client(self, h: Harness) -> Transport:
        """
        Connect to C{h}'s factory through the PROXY protocol wrapper
        Twisted's C{haproxy:} endpoints use, from 127.0.0.1.
        """

        @implementer(IStreamServerEndpoint)
        class Endpoint:
            factory: object = None

            def listen(self, factory: object) -> None:
                self.factory = factory

        endpoint = Endpoint()
        proxyEndpoint(endpoint).listen(h.factory)
        wrapper = endpoint.factory.buildProtocol(  # type: ignore[attr-defined]
            IPv4Address("TCP", "127.0.0.1", 50003)
        )
        transport = Transport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50003),
        )
        wrapper.makeConnection(transport)
        h.client = wrapper.wrappedProtocol
        h.clientTransport = transport
        h.send = wrapper.dataReceived  # type: ignore[method-assign]
        return transport

    def test_clientAddress(self) -> None:
        """
        The router and the logs see the address from the header.
        """
        h = Harness(
            ProxyConfig(forward=ForwardConfig(allowClients=("203.0.113.0/24",)))
        )
        self.client(h)
        h.send(self.V1 + GET)
        self.assertEqual(h.client.client.peerHost, "203.0.113.7")
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_clientRefused(self) -> None:
        """
        A client the header names outside the allowed networks is refused,
        though the balancer's own address is allowed.
        """
        h = Harness()
        self.client(h)
        h.send(self.V1 + GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 403 "))
        self.assertEqual(h.reactor.tcpClients, [])

    def test_notAnAddress(self) -> None:
        """
        A version 1 header whose client is not an IP address (Twisted's
        parser passes any text on) closes the connection: nothing is
        answered, no origin contacted.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(allowClients=("0.0.0.0/0",))))
        transport = self.client(h)
        h.send(b"PROXY TCP4 203.0.113.999 127.0.0.1 40000 8080\r\n" + GET)
        self.assertTrue(transport.aborted)
        self.assertEqual(transport.value(), b"")
        self.assertEqual(h.reactor.tcpClients, [])

    def test_canonicalAddress(self) -> None:
        """
        An IPv6 client address is used in its canonical form, however the
        header spelled it.
        """
        self.assertEqual(
            wrappedAddress(IPv6Address("TCP", "2001:db8:0:0:0:0:0:7", 1)),
            IPv6Address("TCP", "2001:db8::7", 1),
        )
        same = IPv4Address("TCP", "203.0.113.7", 1)
        self.assertIs(wrappedAddress(same), same)
        self.assertIsNone(wrappedAddress(IPv4Address("TCP", "::1", 1)))
        self.assertIsNone(wrappedAddress(IPv6Address("TCP", "203.0.113.7", 1)))
        self.assertIsNone(wrappedAddress(IPv4Address("TCP", "localhost", 1)))


class DrainProtocolTests(SynchronousTestCase):
    """
    A connection asked to drain finishes its current response, says
    C{Connection: close} on it, and closes; it reads the rest of the
    request meanwhile.
    """

    def test_responseCloses(self) -> None:
        h = Harness()
        h.send(b"POST http://127.0.0.1:9000/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        origin, ot = h.acceptOrigin()
        h.client.drain()
        h.send(b"cd")
        self.assertTrue(originSaw(ot).endswith(b"\r\n\r\nabcd"))
        origin.dataReceived(OK)
        received = h.received()
        self.assertIn(b"\r\nConnection: close\r\n", received)
        self.assertTrue(received.endswith(b"hello"))
        self.assertTrue(h.clientTransport.disconnecting)

    def test_errorCloses(self) -> None:
        h = Harness()
        h.send(GET)
        h.client.drain()
        h.refuseOrigin()
        received = h.received()
        self.assertTrue(received.startswith(b"HTTP/1.1 502 "))
        self.assertIn(b"\r\nConnection: close\r\n", received)
        self.assertTrue(h.clientTransport.disconnecting)
