"""
Tests for L{proxykit.relay.proxyheader}, and for the PROXY protocol towards
origins end to end on in-memory fakes: the header a new origin connection
starts with, and which requests such a connection may carry.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    OriginConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
)
from proxykit.decisions import ClientInfo
from proxykit.policy.vhosts import ReverseRouter, VhostTable
from proxykit.relay.pool import PrivateKey
from proxykit.relay.proxyheader import LOCAL_V1, LOCAL_V2, localHeader, proxyHeader

from ._harness import OK, Harness, Transport, lose, originSaw

GET = b"GET /page HTTP/1.1\r\nHost: app.example.test\r\n\r\n"


def client(peer: str, peerPort: int, local: str, localPort: int) -> ClientInfo:
    return ClientInfo(peerHost=peer, localHost=local, localPort=localPort, peerPort=peerPort)


class HeaderTests(SynchronousTestCase):
    """
    L{proxyHeader} writes what HAProxy's C{send-proxy} and C{send-proxy-v2}
    write, as Twisted's own PROXY protocol parsers read it back.
    """

    def test_v1IPv4(self) -> None:
        """
        Version 1 for an IPv4 client: C{PROXY TCP4 src dst sport dport}.
        """
        header = proxyHeader(1, client("192.0.2.7", 50123, "198.51.100.1", 443))
        self.assertEqual(header, b"PROXY TCP4 192.0.2.7 198.51.100.1 50123 443\r\n")
        info = V1Parser.parse(header[:-2])
        self.assertEqual((info.source.host, info.source.port), ("192.0.2.7", 50123))  # type: ignore[union-attr]

    def test_v1IPv6(self) -> None:
        """
        Version 1 for an IPv6 client: C{TCP6}, addresses in their short form.
        """
        header = proxyHeader(1, client("2001:db8:0:0::7", 40000, "2001:db8::1", 80))
        self.assertEqual(header, b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 80\r\n")

    def test_v2IPv4(self) -> None:
        """
        Version 2 for an IPv4 client: the signature, PROXY command, TCP over
        IPv4 and 12 bytes of addresses.
        """
        header = proxyHeader(2, client("192.0.2.7", 50123, "198.51.100.1", 443))
        self.assertEqual(header[:16], b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
        self.assertEqual(len(header), 28)
        info = V2Parser.parse(header)
        self.assertEqual((info.source.host, info.source.port), ("192.0.2.7", 50123))  # type: ignore[union-attr]
        self.assertEqual((info.destination.host, info.destination.port), ("198.51.100.1", 443))  # type: ignore[union-attr]

    def test_v2IPv6(self) -> None:
        """
        Version 2 for an IPv6 client: TCP over IPv6, 36 bytes of addresses.
        """
        header = proxyHeader(2, client("::1", 40000, "::1", 8080))
        self.assertEqual(header[12:16], b"\x21\x21\x00\x24")
        info = V2Parser.parse(header)
        self.assertEqual((info.source.host, info.source.port), ("0:0:0:0:0:0:0:1", 40000))  # type: ignore[union-attr]
        self.assertEqual(info.destination.port, 8080)  # type: ignore[union-attr]

    def test_unixClient(self) -> None:
        """
        A client on a UNIX socket has no address to give: C{PROXY UNKNOWN},
        or a version 2 LOCAL header (the origin uses the connection's own
        addresses), as for the proxy's own connections (L{localHeader}).
        """
        unix = client("", 0, "", 0)
        self.assertEqual(proxyHeader(1, unix), b"PROXY UNKNOWN\r\n")
        self.assertEqual(proxyHeader(2, unix), b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
        self.assertEqual((localHeader(1), localHeader(2)), (LOCAL_V1, LOCAL_V2))
        self.assertIsNone(V2Parser.parse(LOCAL_V2).source)

    def test_mappedAddresses(self) -> None:
        """
        An IPv4 client seen on an IPv6 listener (an IPv4-mapped address)
        is given as the IPv4 address it is; addresses of two families that
        cannot be matched give no address.
        """
        mapped = client("::ffff:192.0.2.7", 5000, "192.0.2.1", 80)
        self.assertEqual(proxyHeader(1, mapped), b"PROXY TCP4 192.0.2.7 192.0.2.1 5000 80\r\n")
        self.assertEqual(proxyHeader(1, client("2001:db8::7", 5000, "192.0.2.1", 80)), LOCAL_V1)


def reverse(**options: object) -> Harness:
    """
    A reverse proxy for C{app.example.test} with one origin,
    C{http://127.0.0.1:9001}, its route and origin taking C{options}
    (C{route_...} and C{origin_...}).
    """
    origin = OriginConfig(
        "http://127.0.0.1:9001",
        **{k[7:]: v for k, v in options.items() if k.startswith("origin_")},  # type: ignore[arg-type]
    )
    route = RouteConfig(
        origins=(origin,),
        **{k[6:]: v for k, v in options.items() if k.startswith("route_")},  # type: ignore[arg-type]
    )
    reverseConfig = ReverseConfig(vhosts=(VhostConfig(("app.example.test",), (route,)),))
    config = ProxyConfig(reverse=reverseConfig, timeouts=Timeouts(connect=5, response=30))
    h = Harness(config, router=None)
    table = VhostTable.fromConfig(reverseConfig, h.reactor)
    h.factory.router = ReverseRouter(table, reverseConfig)
    return h


def secondClient(h: Harness, port: int) -> tuple[object, Transport]:
    """
    Another client connection to C{h}'s proxy, from 127.0.0.1:C{port}.
    """
    proto = h.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", port))
    transport = Transport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
        peerAddress=IPv4Address("TCP", "127.0.0.1", port),
    )
    proto.makeConnection(transport)
    return proto, transport


class OriginProxyProtocolTests(SynchronousTestCase):
    """
    With C{proxy_protocol} on, each new origin connection starts with the
    header of the client whose request opened it, and carries only that
    client's requests.
    """

    def test_headerFirst(self) -> None:
        """
        The origin reads the PROXY header (the client's address and the
        address it connected to) before the request; a second request on
        the same client connection reuses the origin connection, with no
        second header.
        """
        h = reverse(route_proxyProtocol="v1")
        h.send(GET)
        origin, ot = h.acceptOrigin()
        seen = originSaw(ot)
        self.assertTrue(seen.startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 50000 8080\r\nGET /page HTTP/1.1\r\n"))
        origin.dataReceived(OK)
        self.assertIn(b"hello", h.received())
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)
        self.assertTrue(originSaw(ot).startswith(b"GET /page HTTP/1.1\r\n"))

    def test_notSharedBetweenClients(self) -> None:
        """
        An idle origin connection opened for one client is not used for
        another client's request: that one opens its own connection, with
        its own header.
        """
        h = reverse(route_proxyProtocol="v2")
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        other, otherTransport = secondClient(h, 50001)
        other.dataReceived(GET)  # type: ignore[attr-defined]
        self.assertEqual(len(h.reactor.tcpClients), 2)
        origin2, ot2 = h.acceptOrigin()
        header = originSaw(ot2)
        info = V2Parser.parse(header[:28])
        self.assertEqual(info.source.port, 50001)  # type: ignore[union-attr]
        self.assertEqual(h.factory.pool.counts()[h.factory.router.table.vhosts[0][1][0].upstream.origins[0]], (1, 1))  # type: ignore[attr-defined]

    def test_idleClosedWithClient(self) -> None:
        """
        When the client connection closes, the idle origin connections that
        carry its address are closed: no one else may use them.
        """
        h = reverse(route_proxyProtocol="v1")
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertFalse(ot.disconnecting)
        lose(h.client)
        self.assertTrue(ot.disconnecting)

    def test_originOverridesRoute(self) -> None:
        """
        An origin's own C{proxy_protocol} wins over its route's: C{"off"}
        turns it off, and the connection is pooled as usual.
        """
        h = reverse(route_proxyProtocol="v2", origin_proxyProtocol="off")
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertTrue(originSaw(ot).startswith(b"GET /page HTTP/1.1\r\n"))
        origin.dataReceived(OK)
        h.received()
        other, otherTransport = secondClient(h, 50001)
        other.dataReceived(GET)  # type: ignore[attr-defined]
        self.assertEqual(len(h.reactor.tcpClients), 1)

        h = reverse(origin_proxyProtocol="v1")
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertTrue(originSaw(ot).startswith(b"PROXY TCP4 "))

    def test_offByDefault(self) -> None:
        """
        Without C{proxy_protocol}, origin connections start with the request
        and are pooled by origin alone.
        """
        h = reverse()
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertTrue(originSaw(ot).startswith(b"GET "))
        self.assertNotIsInstance(origin.poolKey, PrivateKey)  # type: ignore[attr-defined]
