"""
Tests for L{proxykit.relay.interfaces}: the client connection, the exchange and the
origin connection provide the interfaces they talk to each other through.
"""

from __future__ import annotations

import gc

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyClass, verifyObject

from proxykit.h1 import H1Connection
from proxykit.relay.client import ProxyProtocol
from proxykit.relay.exchange import Exchange, ExchangeFailure, ExchangeState
from proxykit.relay.flow import Side
from proxykit.relay.hooks import RequestRecord, Trace
from proxykit.relay.interfaces import IClientSide, IExchange, IFlowSide, IOriginSide
from proxykit.relay.origin import OriginProtocol

from ._harness import GET, OK, Harness


class SeamTests(SynchronousTestCase):
    """
    Each part of the relay provides its declared interface, methods and
    attributes alike.
    """

    def test_classes(self) -> None:
        """
        The classes declare and implement their interfaces' methods.
        """
        verifyClass(IFlowSide, Side)
        verifyClass(IClientSide, ProxyProtocol)
        verifyClass(IOriginSide, OriginProtocol)
        verifyClass(IExchange, Exchange)

    def test_liveObjects(self) -> None:
        """
        A request in flight: the client connection, its exchange and the
        origin connection it was given provide their interfaces, attributes
        included, and the exchange talks to the origin it was given.
        """
        h = Harness()
        h.send(GET)
        origin, _ = h.acceptOrigin()
        exchange = origin.exchange
        self.assertIsNotNone(exchange)
        verifyObject(IClientSide, exchange.client)  # type: ignore[union-attr]
        verifyObject(IExchange, exchange)
        verifyObject(IOriginSide, origin)
        self.assertIs(exchange.origin, origin)  # type: ignore[union-attr]

    def test_detach(self) -> None:
        """
        L{IOriginSide.detach} stops delivery to the exchange named, and to
        no other.
        """
        h = Harness()
        h.send(GET)
        origin, _ = h.acceptOrigin()
        exchange = origin.exchange
        origin.detach(object())  # type: ignore[arg-type]
        self.assertIs(origin.exchange, exchange)
        origin.detach(exchange)  # type: ignore[arg-type]
        self.assertIsNone(origin.exchange)


class ExchangeStateTests(SynchronousTestCase):
    """
    An exchange's state and, when it fails, how far its request got.
    """

    def start(self) -> tuple[Harness, Exchange]:
        h = Harness()
        h.send(GET)
        exchange = h.client._exchange
        assert isinstance(exchange, Exchange)
        self.assertIs(exchange.state, ExchangeState.CONNECTING)
        return h, exchange

    def test_done(self) -> None:
        """
        Connecting, sent, responding, done; no failure.
        """
        h, exchange = self.start()
        origin, _ = h.acceptOrigin()
        self.assertIs(exchange.state, ExchangeState.SENT)
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        self.assertIs(exchange.state, ExchangeState.RESPONDING)
        self.assertTrue(exchange.responseStarted)
        origin.dataReceived(b"cd")
        self.assertIs(exchange.state, ExchangeState.DONE)
        self.assertTrue(exchange.finished)
        self.assertIsNone(exchange.failure)

    def test_failedConnecting(self) -> None:
        """
        A refused connection: failed before any origin had the request.
        """
        h, exchange = self.start()
        h.refuseOrigin()
        self.assertIs(exchange.state, ExchangeState.FAILED)
        self.assertEqual(
            exchange.failure,
            ExchangeFailure(502, "origin refused the connection", ExchangeState.CONNECTING),
        )

    def test_failedSent(self) -> None:
        """
        The origin closes with the request in hand and no answer: failed
        after it was sent.
        """
        h, exchange = self.start()
        origin, _ = h.acceptOrigin()
        exchange.originFailed("origin timed out", 504)
        self.assertEqual(
            exchange.failure, ExchangeFailure(504, "origin timed out", ExchangeState.SENT)
        )

    def test_failedResponding(self) -> None:
        """
        The origin goes away in the middle of the body: failed while
        responding (the client's connection is cut).
        """
        h, exchange = self.start()
        origin, _ = h.acceptOrigin()
        origin.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        exchange.originLost()
        self.assertIs(exchange.state, ExchangeState.FAILED)
        self.assertEqual(
            exchange.failure,
            ExchangeFailure(502, "origin closed the connection", ExchangeState.RESPONDING),
        )

    def test_abandoned(self) -> None:
        """
        The client goes away first.
        """
        h, exchange = self.start()
        h.acceptOrigin()
        exchange.clientLost()
        self.assertIs(exchange.state, ExchangeState.ABANDONED)
        self.assertTrue(exchange.finished)
        self.assertIsNone(exchange.failure)

    def test_clientStoppedSending(self) -> None:
        """
        A client that stops in the middle of its body: failed with 408
        after the request went to the origin, answered at once.
        """
        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/up HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Content-Length: 10\r\n\r\nab"
        )
        exchange = h.client._exchange
        assert isinstance(exchange, Exchange)
        h.acceptOrigin()
        h.reactor.advance(h.factory.config.timeouts.response + 1)
        self.assertEqual(
            exchange.failure, ExchangeFailure(408, "client stopped sending", ExchangeState.SENT)
        )
        self.assertTrue(h.received().startswith(b"HTTP/1.1 408 "))


class IdleConnectionTests(SynchronousTestCase):
    """
    An idle keep-alive client connection keeps nothing of its last request.
    """

    def test_lastRequestReleased(self) -> None:
        """
        Once the response is complete and nothing more was received, the
        request, its fields and its trace are held by no part of the
        connection (client protocol, parser, exchange, trace): only by what
        the test itself kept.  The next request on the connection is served.
        """
        h = Harness()
        records: list[RequestRecord] = []
        h.factory.hooks.onComplete(records.append)
        h.send(GET)
        origin, originTransport = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 "))
        [record] = records
        request = record.request
        assert request is not None
        del records[:], record
        gc.collect()
        holders = (ProxyProtocol, H1Connection, Exchange, Trace)
        self.assertEqual(
            [type(r).__name__ for r in gc.get_referrers(request) if isinstance(r, holders)], []
        )
        self.assertEqual(
            [
                type(r).__name__
                for r in gc.get_referrers(request.headers)
                if isinstance(r, holders) or (isinstance(r, dict) and r.get("_headers") is request.headers)
            ],
            [],
        )
        originTransport.clear()
        h.send(GET)
        origin.dataReceived(OK)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 "))
