"""
Real-socket tests of origins over TLS: a reverse proxy reaching
C{https://} origins (verified against a CA file or the system's trust
store, with a server name override, with verification off, with a client
certificate), and a forward proxy forwarding absolute-form C{https://}
targets.  The certificates come from a throwaway CA generated for each test
(L{tests._certs.TestCA}).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor, ssl
from twisted.internet.defer import inlineCallbacks
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import LogEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from proxykit.config import (
    OriginConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
)

from .._certs import TestCA, writeFile
from ._reverse_servers import SITE, ReverseHarness, SiteResource, siteFor
from ._servers import Listener, completeResponses, parseResponses, request


def serverOptions(
    certificate: tuple[bytes, bytes], clientCA: bytes | None = None
) -> ssl.CertificateOptions:
    """
    An origin's TLS options: its certificate, and (when C{clientCA} is
    given) a client certificate signed by C{clientCA} required.
    """
    cert, key = certificate
    private = ssl.PrivateCertificate.loadPEM(key + cert)
    if clientCA is None:
        return private.options()  # type: ignore[no-any-return]
    return ssl.CertificateOptions(
        privateKey=private.privateKey.original,
        certificate=private.original,
        requireCertificate=True,
        verify=True,
        caCerts=[ssl.Certificate.loadPEM(clientCA).original],
    )


class TLSOriginTests(TestCase):
    """
    A reverse proxy in front of C{https://} origins.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)
        self.pki = TestCA()
        self.directory = self.mktemp()
        self.caFile = writeFile(self.directory, "ca.pem", self.pki.caPEM)
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def startTLSOrigin(self, name: str, options: Any) -> Listener:
        """
        Start a named origin on 127.0.0.1 over TLS with C{options}.
        """
        return self.harness.listen(siteFor(SiteResource(name), reactor), options=options)

    def startProxy(self, *origins: OriginConfig) -> Any:
        reverse = ReverseConfig(vhosts=(VhostConfig((SITE,), (RouteConfig(origins=origins),)),))
        return self.harness.startReverseProxy(reverse)

    @inlineCallbacks
    def get(self, port: int, count: int = 1) -> Any:
        """
        Send C{count} GET requests for the site, one after the other, on one
        client connection; fire with the responses.
        """
        client = yield self.harness.connect(port)
        for index in range(count):
            client.send(request("GET", f"/r{index}", host=SITE))
            yield client.waitFor(completeResponses(index + 1))
        return parseResponses(client.received)

    def failures(self) -> list[str]:
        """
        The reasons logged for failed origin connections.
        """
        return [
            str(event.get("why", ""))
            for event in self.events
            if "origin" in event.get("log_format", "") and "failed" in event.get("log_format", "")
        ]

    def localURL(self, listener: Listener) -> str:
        return f"https://localhost:{listener.port}"

    @inlineCallbacks
    def test_caFile(self) -> Any:
        """
        An C{https://localhost} origin whose certificate is signed by the
        route's C{ca_file} is reached over TLS.
        """
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf()))
        proxy = self.startProxy(OriginConfig(self.localURL(origin), caFile=self.caFile))
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"origin=A uri=/r0\n")

    @inlineCallbacks
    def test_stalledHandshake(self) -> Any:
        """
        An origin that accepts the connection but never answers the TLS
        handshake gets the request a 504: the connect timeout covers the
        handshake.  The origin connection is dropped.
        """
        silent = self.harness.listen(Factory.forProtocol(Protocol))
        proxy = self.harness.startReverseProxy(
            ReverseConfig(
                vhosts=(
                    VhostConfig(
                        (SITE,),
                        (RouteConfig(origins=(OriginConfig(self.localURL(silent), caFile=self.caFile),)),),
                    ),
                )
            ),
            Timeouts(connect=0.5, response=5),
        )
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 504)
        yield silent.tracker.whenLost(0, reactor)

    @inlineCallbacks
    def test_pooledReuse(self) -> Any:
        """
        Sequential requests reuse one pooled TLS connection to the origin.
        """
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf()))
        proxy = self.startProxy(OriginConfig(self.localURL(origin), caFile=self.caFile))
        responses = yield self.get(proxy.port, 10)
        self.assertEqual([r.status for r in responses], [200] * 10)
        self.assertEqual(origin.tracker.accepted, 1)

    @inlineCallbacks
    def test_wrongName(self) -> Any:
        """
        A certificate for another name gets 502, and the log says the name
        does not match.
        """
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf("other.test")))
        proxy = self.startProxy(OriginConfig(self.localURL(origin), caFile=self.caFile))
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 502)
        self.assertTrue(
            any("does not match the name 'localhost'" in why for why in self.failures()),
            self.failures(),
        )

    @inlineCallbacks
    def test_serverName(self) -> Any:
        """
        C{server_name} names the certificate expected of an origin reached
        by address.
        """
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf("api.internal")))
        proxy = self.startProxy(
            OriginConfig(
                f"https://127.0.0.1:{origin.port}", caFile=self.caFile, serverName="api.internal"
            )
        )
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 200)

    @inlineCallbacks
    def test_expired(self) -> Any:
        """
        An expired certificate gets 502, and the log says it expired.
        """
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf(expired=True)))
        proxy = self.startProxy(OriginConfig(self.localURL(origin), caFile=self.caFile))
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 502)
        self.assertTrue(
            any("certificate has expired" in why for why in self.failures()), self.failures()
        )

    @inlineCallbacks
    def test_unknownIssuer(self) -> Any:
        """
        Without C{ca_file} the system's trust store is used, which does not
        know the test CA: 502, and the log says the issuer is unknown.
        """
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf()))
        proxy = self.startProxy(OriginConfig(self.localURL(origin)))
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 502)
        self.assertTrue(any("unknown issuer" in why for why in self.failures()), self.failures())

    @inlineCallbacks
    def test_verifyOff(self) -> Any:
        """
        With C{verify = false} any certificate is accepted (an expired one
        from an unknown issuer here), and a warning is logged.
        """
        origin = self.startTLSOrigin("A", serverOptions(TestCA().leaf("x.test", expired=True)))
        proxy = self.startProxy(OriginConfig(self.localURL(origin), verify=False))
        [response] = yield self.get(proxy.port)
        self.assertEqual(response.status, 200)
        self.assertTrue(
            any("verification is off" in e.get("log_format", "") for e in self.events)
        )

    @inlineCallbacks
    def test_mutualTLS(self) -> Any:
        """
        An origin that requires a client certificate is reached with the
        route's C{client_cert} and C{client_key}; without them it gets 502.
        """
        clients = TestCA(name="client CA")
        cert, key = clients.leaf("proxy", client=True)
        origin = self.startTLSOrigin("A", serverOptions(self.pki.leaf(), clients.caPEM))
        withCert = self.startProxy(
            OriginConfig(
                self.localURL(origin),
                caFile=self.caFile,
                clientCert=writeFile(self.directory, "client.pem", cert),
                clientKey=writeFile(self.directory, "client.key", key),
            )
        )
        [response] = yield self.get(withCert.port)
        self.assertEqual(response.status, 200)
        without = self.startProxy(OriginConfig(self.localURL(origin), caFile=self.caFile))
        [response] = yield self.get(without.port)
        self.assertEqual(response.status, 502)
        self.assertTrue(any("TLS" in why for why in self.failures()), self.failures())


class ForwardHTTPSTests(TestCase):
    """
    A forward proxy given an absolute-form C{https://} target makes the TLS
    connection itself.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)
        self.pki = TestCA()
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        origin = siteFor(SiteResource("A"), reactor)
        self.origin = self.harness.listen(origin, options=serverOptions(self.pki.leaf()))

    @inlineCallbacks
    def fetch(self, proxy: Any) -> Any:
        client = yield self.harness.connect(proxy.port)
        client.send(request("GET", f"https://localhost:{self.origin.port}/page"))
        yield client.waitFor(completeResponses(1))
        [response] = parseResponses(client.received)
        return response

    @inlineCallbacks
    def test_trusted(self) -> Any:
        """
        With C{forward.ca_file} trusting the origin's CA, the request is
        forwarded over TLS.
        """
        caFile = writeFile(self.mktemp(), "ca.pem", self.pki.caPEM)
        proxy = self.harness.startProxy(caFile=caFile)
        response = yield self.fetch(proxy)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"origin=A uri=/page\n")

    @inlineCallbacks
    def test_unknownIssuer(self) -> Any:
        """
        By default the system's trust store decides, and it does not know the
        test CA: 502.
        """
        proxy = self.harness.startProxy()
        response = yield self.fetch(proxy)
        self.assertEqual(response.status, 502)
        reasons = [str(e.get("why", "")) for e in self.events]
        self.assertTrue(any("unknown issuer" in why for why in reasons), reasons)
