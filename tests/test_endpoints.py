"""
Tests for L{proxykit.relay.endpoints}.
"""

from __future__ import annotations

from OpenSSL import SSL
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
)
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import OriginTLS
from proxykit.decisions import Origin
from proxykit.policy.destinations import DestinationPolicy, DestinationRefused
from proxykit.relay.endpoints import (
    ClientTLS,
    OriginConnector,
    TLSFailed,
    buildCreator,
    clientEndpoint,
    connect,
    tlsFailureReason,
)
from proxykit.relay.errors import connectFailureStatus

from ._certs import TestCA, writeFile


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


    def test_everyAddressChecked(self) -> None:
        """
        With an address check, the address handed to the reactor is
        checked whatever the endpoint: an IPv4 or IPv6 literal, a name
        (each resolved address), and under TLS; a refused one is not
        connected to and fails with DestinationRefused (403).
        """
        from proxykit.policy.destinations import DestinationRefused

        tls = buildCreator("10.0.0.1", OriginTLS(verify=False))
        for host, scheme in (
            ("10.0.0.1", "http"), ("fd00::1", "http"), ("internal.test", "http"),
            ("10.0.0.1", "https"), ("internal.test", "https"),
        ):  # fmt: skip
            reactor = MemoryReactorClock()  # resolves names to 127.0.0.1
            seen: list[str] = []

            def check(address: str, seen: list[str] = seen) -> bool:
                seen.append(address)
                return False

            d = connect(
                reactor, host, 443, 5, Factory.forProtocol(Protocol), scheme, check,
                tls if scheme == "https" else None,
            )  # fmt: skip
            failure = self.failureResultOf(d, DestinationRefused)
            self.assertEqual(connectFailureStatus(failure.value)[0], 403)
            self.assertEqual(reactor.tcpClients, [], (host, scheme))
            self.assertEqual(seen[-1], "127.0.0.1" if host == "internal.test" else host)


class TLSSettingsTests(SynchronousTestCase):
    """
    The TLS connection creators of C{https} origins: built from the
    origin's settings once, and failing with L{TLSFailed} when a file is
    unusable.
    """

    def test_cached(self) -> None:
        """
        L{ClientTLS} builds one creator per host and settings, and reuses it
        for every connection.
        """
        directory = self.mktemp()
        pki = TestCA()
        ca = writeFile(directory, "ca.pem", pki.caPEM)
        cert, key = pki.leaf("client", client=True)
        tls = OriginTLS(
            caFile=ca,
            clientCert=writeFile(directory, "c.pem", cert),
            clientKey=writeFile(directory, "c.key", key),
        )
        clientTLS = ClientTLS()
        first = clientTLS.creatorFor("a.test", tls)
        self.assertIs(clientTLS.creatorFor("a.test", tls), first)
        self.assertIsNot(clientTLS.creatorFor("b.test", tls), first)
        self.assertIsNot(clientTLS.creatorFor("a.test", OriginTLS(verify=False)), first)
        self.assertIsNotNone(clientTLS.creatorFor("a.test", None))

    def test_badFiles(self) -> None:
        """
        A missing file, a CA file without a certificate or a key that is not
        a key fail with L{TLSFailed}, naming the problem.
        """
        directory = self.mktemp()
        junk = writeFile(directory, "junk.pem", b"not PEM")
        missing = f"{directory}/missing.pem"
        with self.assertRaises(TLSFailed) as caught:
            buildCreator("a.test", OriginTLS(caFile=missing))
        self.assertIn("cannot read", caught.exception.reason)
        with self.assertRaises(TLSFailed) as caught:
            buildCreator("a.test", OriginTLS(caFile=junk))
        self.assertIn("no certificate", caught.exception.reason)
        with self.assertRaises(TLSFailed):
            buildCreator("a.test", OriginTLS(clientCert=junk, clientKey=junk))

    def test_httpsWaitsForHandshake(self) -> None:
        """
        An C{https} connection is not handed out when TCP connects: only once
        the TLS handshake completes (so a certificate that fails to verify
        is a connect failure).
        """
        reactor = MemoryReactorClock()
        d = connect(reactor, "127.0.0.1", 443, 5, Factory.forProtocol(Protocol), "https")
        [(host, port, factory, timeout, bind)] = reactor.tcpClients
        self.assertEqual((host, port), ("127.0.0.1", 443))
        from twisted.internet.testing import StringTransport

        tlsProtocol = factory.buildProtocol(None)
        tlsProtocol.makeConnection(StringTransport())
        self.assertNoResult(d)
        self.assertTrue(tlsProtocol.transport.value().startswith(b"\x16\x03"))  # a ClientHello
        tlsProtocol.connectionLost(Failure(ConnectionDone()))
        failure = self.failureResultOf(d, TLSFailed)
        self.assertIn("connection lost during the TLS handshake", failure.value.reason)

    def test_failureReason(self) -> None:
        """
        The reason of a TLS failure is OpenSSL's, or the verification's;
        other failures have none.
        """
        error = SSL.Error([("SSL routines", "", "tlsv13 alert certificate required")])
        self.assertEqual(tlsFailureReason(error), "tlsv13 alert certificate required")
        self.assertEqual(tlsFailureReason(TLSFailed("certificate has expired")), "certificate has expired")
        self.assertIsNone(tlsFailureReason(OSError()))
        self.assertIsNone(tlsFailureReason(None))


class OriginConnectorTests(SynchronousTestCase):
    """
    L{OriginConnector}: forward-proxy origins are checked on the address
    connected to, configured origins are not.
    """

    def test_forwardOriginChecked(self) -> None:
        """
        A forward-proxy origin at a loopback literal is refused by a strict
        policy before any connection; a configured one is connected to.
        """
        reactor = MemoryReactorClock()
        connector = OriginConnector(reactor, DestinationPolicy(strict=True))
        refused = connector.connect(
            Origin("http", "127.0.0.1", 9000, forward=True), Factory.forProtocol(Protocol), 5
        )
        self.failureResultOf(refused, DestinationRefused)
        self.assertEqual(reactor.tcpClients, [])
        connector.connect(Origin("http", "127.0.0.1", 9000), Factory.forProtocol(Protocol), 5)
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.1", 9000))

    def test_forwardOriginNeedsPolicy(self) -> None:
        """
        A connector made without a policy refuses forward-proxy origins
        rather than connect to them unchecked.
        """
        reactor = MemoryReactorClock()
        d = OriginConnector(reactor).connect(
            Origin("http", "192.0.2.1", 80, forward=True), Factory.forProtocol(Protocol), 5
        )
        self.failureResultOf(d, DestinationRefused)
        self.assertEqual(reactor.tcpClients, [])

    def test_tlsSettingsFail(self) -> None:
        """
        An https origin whose CA file cannot be read fails with
        L{TLSFailed}, without a connection.
        """
        reactor = MemoryReactorClock()
        origin = Origin("https", "a.test", 443, tls=OriginTLS(caFile=self.mktemp()))
        d = OriginConnector(reactor).connect(origin, Factory.forProtocol(Protocol), 5)
        self.failureResultOf(d, TLSFailed)
        self.assertEqual(reactor.tcpClients, [])


class PreambleTests(SynchronousTestCase):
    """
    A preamble (a PROXY protocol header) is the first thing written on a new
    connection: before the request, and before the TLS handshake.
    """

    def test_plain(self) -> None:
        """
        Over TCP, the preamble is written as the connection is made, before
        the protocol is handed out.
        """
        from twisted.internet.testing import StringTransport

        reactor = MemoryReactorClock()
        d = connect(reactor, "127.0.0.1", 80, 5, Factory.forProtocol(Protocol), preamble=b"PROXY UNKNOWN\r\n")
        [(host, port, factory, timeout, bind)] = reactor.tcpClients
        transport = StringTransport()
        factory.buildProtocol(None).makeConnection(transport)
        self.successResultOf(d)
        self.assertEqual(transport.value(), b"PROXY UNKNOWN\r\n")

    def test_beforeTLS(self) -> None:
        """
        Over TLS, the preamble is written in the clear, then the handshake
        starts (a ClientHello follows it).
        """
        from twisted.internet.testing import StringTransport

        reactor = MemoryReactorClock()
        origin = Origin("https", "127.0.0.1", 443, proxyProtocol=1)
        d = OriginConnector(reactor).connect(
            origin, Factory.forProtocol(Protocol), 5, b"PROXY UNKNOWN\r\n"
        )
        [(host, port, factory, timeout, bind)] = reactor.tcpClients
        transport = StringTransport()
        tlsProtocol = factory.buildProtocol(None)
        tlsProtocol.makeConnection(transport)
        self.assertNoResult(d)
        self.assertTrue(transport.value().startswith(b"PROXY UNKNOWN\r\n\x16\x03"))
        tlsProtocol.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(d, TLSFailed)
