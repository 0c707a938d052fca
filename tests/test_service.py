"""
Tests for L{proxykit.service}.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    CertificateConfig,
    ForwardConfig,
    ProxyConfig,
    TLSConfig,
    TLSListener,
)
from proxykit.service import destinationsFor, forwardService


class ServiceTests(SynchronousTestCase):
    """
    The service listens on every endpoint and closes the pool on stop.
    """

    def test_listenersAndShutdown(self) -> None:
        """
        Starting listens on each configured endpoint; stopping closes the
        upstream pool.
        """
        reactor = MemoryReactorClock()
        config = ProxyConfig(listen=("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1"))
        service = forwardService(config, reactor)
        closed: list[bool] = []
        pool = service.factory.pool

        def closeAll() -> Deferred[None]:
            closed.append(True)
            d: Deferred[None] = Deferred()
            d.callback(None)
            return d

        pool.closeAll = closeAll  # type: ignore[method-assign]
        self.assertEqual(len(list(service)), 2)
        service.startService()
        self.assertEqual(len(reactor.tcpServers), 2)
        self.assertEqual(reactor.tcpServers[0][3], "127.0.0.1")
        d = service.stopService()
        self.successResultOf(d)
        self.assertEqual(closed, [True])


class ListenerGateTests(SynchronousTestCase):
    """
    A listener at its connection cap stops accepting until one closes.
    """

    def test_cap(self) -> None:
        """
        The port stops reading at the cap and starts again below it.
        """
        from twisted.internet.address import IPv4Address
        from twisted.internet.testing import StringTransport

        from proxykit import ForwardRouter, ProxyFactory
        from proxykit.service import ListenerGate

        class Port:
            reading = True

            def stopReading(self) -> None:
                self.reading = False

            def startReading(self) -> None:
                self.reading = True

        reactor = MemoryReactorClock()
        gate = ListenerGate(ProxyFactory(ForwardRouter(), reactor=reactor), cap=2)
        port = Port()
        gate.port = port  # type: ignore[assignment]
        protocols = []
        for _ in range(2):
            protocol = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
            protocol.makeConnection(StringTransport())
            protocols.append(protocol)
        self.assertFalse(port.reading)
        self.assertEqual(gate.open, 2)
        protocols[0].connectionLost()
        self.assertTrue(port.reading)
        self.assertEqual(gate.open, 1)


class DestinationsForTests(SynchronousTestCase):
    """
    L{destinationsFor} refuses special-purpose destinations (strict) when
    any listener, plain or TLS, may accept connections from beyond this
    machine.
    """

    def tls(self, *listen: str | TLSListener) -> TLSConfig:
        return TLSConfig(listen=listen, defaultCertificate=CertificateConfig("c.pem", "k.pem"))

    def test_loopbackOnly(self) -> None:
        """
        Loopback listeners, plain and TLS (strings or tables), are not
        strict.
        """
        config = ProxyConfig(
            listen=("tcp:8080:interface=127.0.0.1", "unix:/tmp/p.sock"),
            tls=self.tls("tcp6:8443:interface=\\:\\:1", TLSListener("tcp:9443:interface=localhost")),
        )
        self.assertFalse(destinationsFor(config).strict)

    def test_beyondLoopback(self) -> None:
        """
        A plain listener, a TLS endpoint string or a TLS listener table
        beyond loopback makes the policy strict.
        """
        loopback = ("tcp:8080:interface=127.0.0.1",)
        for config in (
            ProxyConfig(listen=("tcp:8080",)),
            ProxyConfig(listen=loopback, tls=self.tls("tcp:8443:interface=192.0.2.1")),
            ProxyConfig(listen=loopback, tls=self.tls("tcp:8443:interface=127.0.0.1", TLSListener("tcp:9443"))),
        ):
            self.assertTrue(destinationsFor(config).strict, config)

    def test_allowPrivate(self) -> None:
        """
        C{forward.allow_private_destinations} turns strictness off.
        """
        config = ProxyConfig(
            listen=("tcp:8080",), forward=ForwardConfig(allowPrivateDestinations=True)
        )
        self.assertFalse(destinationsFor(config).strict)
