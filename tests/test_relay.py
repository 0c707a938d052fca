"""
Tests for L{proxykit._relay}: the client connection, the exchange and the
origin connection provide the interfaces they talk to each other through.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyClass, verifyObject

from proxykit._exchange import Exchange
from proxykit._flow import Side
from proxykit._origin import OriginProtocol
from proxykit._relay import IClientSide, IExchange, IFlowSide, IOriginSide
from proxykit.protocol import ProxyProtocol

from ._harness import GET, Harness


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
