"""
Real-socket tests of the PROXY protocol towards origins
(C{proxy_protocol}): origins behind Twisted's own PROXY protocol wrapper
(what C{haproxy:} endpoints use), over TCP and over TLS (the header before
the handshake, as HAProxy's C{send-proxy} with C{ssl} sends it), learn the
address of the client whose request opened each connection.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.protocols.haproxy._wrapper import HAProxyWrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import Request

from proxykit.config import OriginConfig, ReverseConfig, RouteConfig, VhostConfig

from .._certs import TestCA, writeFile
from ._reverse_servers import SITE, ReverseHarness, siteFor
from ._servers import completeResponses, parseResponses, request
from .test_tls_origins import serverOptions


class WhoResource(Resource):
    """
    Answers with the client address the connection's PROXY header gave.
    """

    isLeaf = True

    def render(self, request: Request) -> bytes:
        client = request.getClientAddress()
        return f"{client.host} {client.port}".encode()  # type: ignore[attr-defined]


class OriginProxyProtocolTests(TestCase):
    """
    A reverse proxy whose route has C{proxy_protocol} set, in front of
    origins that read the PROXY protocol.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)

    @inlineCallbacks
    def clientPorts(self, proxyPort: int) -> Any:
        """
        Two clients, two requests each on one connection: fire with each
        client's own port and the bodies its requests got.
        """
        seen = []
        for _ in range(2):
            client = yield self.harness.connect(proxyPort)
            port = client.transport.getHost().port
            for index in range(2):
                client.send(request("GET", f"/r{index}", host=SITE))
                yield client.waitFor(completeResponses(index + 1))
            seen.append((port, [r.body for r in parseResponses(client.received)]))
        return seen

    def startProxy(self, url: str, version: str, **origin: Any) -> Any:
        route = RouteConfig(origins=(OriginConfig(url, **origin),), proxyProtocol=version)
        reverse = ReverseConfig(vhosts=(VhostConfig((SITE,), (route,)),))
        return self.harness.startReverseProxy(reverse)

    @inlineCallbacks
    def test_plain(self) -> Any:
        """
        Over TCP, with either version, each client's requests reach the
        origin on a connection whose header names that client (its address
        and port), reused for its second request only.
        """
        for version in ("v1", "v2"):
            origin = self.harness.listen(HAProxyWrappingFactory(siteFor(WhoResource(), reactor)))
            proxy = self.startProxy(f"http://127.0.0.1:{origin.port}", version)
            seen = yield self.clientPorts(proxy.port)
            for port, bodies in seen:
                self.assertEqual(bodies, [f"127.0.0.1 {port}".encode()] * 2, version)
            self.assertEqual(origin.tracker.accepted, 2, version)

    @inlineCallbacks
    def test_tls(self) -> Any:
        """
        Over TLS the header comes first, in the clear; the handshake and the
        requests follow on the same connection.
        """
        pki = TestCA()
        caFile = writeFile(self.mktemp(), "ca.pem", pki.caPEM)
        site = siteFor(WhoResource(), reactor)
        origin = self.harness.listen(
            HAProxyWrappingFactory(TLSMemoryBIOFactory(serverOptions(pki.leaf()), False, site))
        )
        proxy = self.startProxy(f"https://localhost:{origin.port}", "v2", caFile=caFile)
        seen = yield self.clientPorts(proxy.port)
        for port, bodies in seen:
            self.assertEqual(bodies, [f"127.0.0.1 {port}".encode()] * 2)
