"""
Tests for L{proxykit.endpoints}.
"""

from __future__ import annotations

from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from proxykit.endpoints import clientEndpoint, connect
from proxykit.errors import connectFailureStatus


class ClientEndpointTests(SynchronousTestCase):
    """
    IP literals connect directly; names are resolved.
    """

    def test_kinds(self) -> None:
        """
        IPv4 and IPv6 literals skip the resolver; names use
        L{HostnameEndpoint}.
        """
        reactor = MemoryReactorClock()
        self.assertIsInstance(clientEndpoint(reactor, "127.0.0.1", 80, 5), TCP4ClientEndpoint)
        self.assertIsInstance(clientEndpoint(reactor, "::1", 80, 5), TCP6ClientEndpoint)
        self.assertIsInstance(clientEndpoint(reactor, "example.com", 80, 5), HostnameEndpoint)

    def test_boundedAttempt(self) -> None:
        """
        A connection attempt that never completes fails with a timeout
        (504) shortly after the connect timeout, whatever stalls it.
        """
        reactor = MemoryReactorClock()
        d = connect(reactor, "127.0.0.1", 80, 5, Factory.forProtocol(Protocol))
        self.assertNoResult(d)
        reactor.advance(6.5)
        failure = self.failureResultOf(d)
        self.assertEqual(connectFailureStatus(failure.value)[0], 504)
