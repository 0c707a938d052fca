"""
Real-socket tests of listeners behind a load balancer that speaks the PROXY
protocol (C{haproxy:} endpoint strings): the client is the one the PROXY
header names, for forwarding headers, trusted-proxy decisions and client
ACLs alike; a connection without a valid header reaches no origin.

The headers are built by hand.  Their client addresses (C{203.0.113.7},
C{2001:db8::7}: documentation ranges) are only data inside the header;
every connection is to 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import serverFromString
from twisted.trial.unittest import TestCase

from proxykit import ConnectionPool, ForwardRouter, ProxyConfig, ProxyFactory, Timeouts
from proxykit.config import OriginConfig, ReverseConfig, RouteConfig, VhostConfig
from proxykit.decisions import IRouter
from proxykit.policy.vhosts import ReverseRouter, VhostTable
from proxykit.relay.gate import ListenerGate

from ._reverse_servers import SITE, ReverseHarness
from ._servers import (
    Listener,
    Proxy,
    Tracker,
    TrackingFactory,
    completeResponses,
    parseResponses,
    request,
)

CLIENT = "203.0.113.7"
CLIENT6 = "2001:db8::7"


def v1(source: str, destination: str = "127.0.0.1") -> bytes:
    """
    A PROXY protocol version 1 (text) header.
    """
    family = "TCP6" if ":" in source else "TCP4"
    return f"PROXY {family} {source} {destination} 40000 8080\r\n".encode("ascii")


def v2(source: str, destination: str = "127.0.0.1") -> bytes:
    """
    A PROXY protocol version 2 (binary) header: PROXY command, TCP.
    """
    if ":" in source:
        family, kind, destination = 0x21, socket.AF_INET6, "::1"
    else:
        family, kind = 0x11, socket.AF_INET
    addresses = (
        socket.inet_pton(kind, source)
        + socket.inet_pton(kind, destination)
        + struct.pack("!HH", 40000, 8080)
    )
    return (
        b"\r\n\r\n\x00\r\nQUIT\n"
        + bytes([0x21, family])
        + struct.pack("!H", len(addresses))
        + addresses
    )


class ProxyProtocolHarness(ReverseHarness):
    """
    A L{ReverseHarness} that also listens with proxies on C{haproxy:}
    endpoints.
    """

    def startBehindBalancer(self, router: IRouter, config: ProxyConfig) -> Proxy:
        """
        A proxy for C{router} on C{haproxy:tcp:0:interface=127.0.0.1},
        behind its connection gate, as C{twistd proxykit --listen haproxy:...}
        runs it.
        """
        factory = ProxyFactory(
            router, ConnectionPool(self.reactor, config.pool), config, reactor=self.reactor
        )
        tracker = Tracker()
        d = serverFromString(self.reactor, "haproxy:tcp:0:interface=127.0.0.1").listen(
            TrackingFactory(ListenerGate(factory, 100), tracker)
        )
        listener = Listener(self._testCase.successResultOf(d), tracker)
        self._listeners.append(listener)
        proxy = Proxy(factory, listener)
        self._proxies.append(proxy)
        return proxy


def forwardedFields(body: bytes, name: str) -> list[str]:
    """
    The values of the C{name} fields in an origin's echo of a request head.
    """
    head = json.loads(body)["head"]
    values = []
    for line in head[1:]:
        field, _, value = line.partition(":")
        if field.lower() == name.lower():
            values.append(value.strip())
    return values


class ProxyProtocolTests(TestCase):
    """
    A proxy listening on a C{haproxy:} endpoint.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = ProxyProtocolHarness(self, reactor)

    def reverseProxy(self) -> tuple[Proxy, Listener]:
        """
        A reverse proxy for C{SITE} that trusts forwarding headers from
        127.0.0.0/8 (the balancer), in front of one origin.
        """
        h = self.harness
        origin = h.startOrigin("A")
        reverse = ReverseConfig(
            vhosts=(
                VhostConfig((SITE,), (RouteConfig((OriginConfig(origin.url),), forwarded=True),)),
            ),
            trustedProxies=("127.0.0.0/8",),
        )
        config = ProxyConfig(reverse=reverse, timeouts=Timeouts(connect=5, response=5))
        router = ReverseRouter(VhostTable.fromConfig(reverse, h.reactor), reverse)
        return h.startBehindBalancer(router, config), origin.listener

    def forwardProxy(self) -> tuple[Proxy, Listener]:
        """
        A forward proxy allowing loopback clients only (the default), in
        front of the web origin.
        """
        h = self.harness
        origin = h.startSite()
        config = ProxyConfig(timeouts=Timeouts(connect=5, response=5))
        return h.startBehindBalancer(ForwardRouter(config.forward), config), origin

    @inlineCallbacks
    def exchange(self, proxy: Proxy, data: bytes) -> Any:
        """
        Send C{data} on a new connection; fires with the response.
        """
        client = yield self.harness.connect(proxy.port)
        client.send(data)
        received = yield client.waitFor(completeResponses(1))
        [response] = parseResponses(received)
        return response

    @inlineCallbacks
    def test_forwardingHeaders(self) -> Any:
        """
        The origin sees the PROXY header's client in C{X-Forwarded-For} and
        C{Forwarded}, v1 and v2, IPv4 and IPv6.  The balancer is a trusted
        proxy but the client is not: the client's own C{X-Forwarded-For}
        claim is dropped.
        """
        proxy, _ = self.reverseProxy()
        echo = request("GET", "/echo", "X-Forwarded-For: 198.51.100.1", host=SITE)
        for header, xff, forwarded in [
            (v1(CLIENT), CLIENT, f"for={CLIENT}"),
            (v2(CLIENT), CLIENT, f"for={CLIENT}"),
            (v1(CLIENT6, "::1"), CLIENT6, f'for="[{CLIENT6}]"'),
            (v2(CLIENT6), CLIENT6, f'for="[{CLIENT6}]"'),
        ]:
            response = yield self.exchange(proxy, header + echo)
            self.assertEqual(response.status, 200)
            self.assertEqual(forwardedFields(response.body, "X-Forwarded-For"), [xff], header)
            [value] = forwardedFields(response.body, "Forwarded")
            self.assertIn(forwarded, value)

    @inlineCallbacks
    def test_clientACL(self) -> Any:
        """
        A client the header names outside C{forward.allow_clients} is
        refused with 403 (though the balancer, on loopback, is allowed) and
        nothing reaches the origin; one inside it is served.
        """
        proxy, origin = self.forwardProxy()
        get = request("GET", f"http://127.0.0.1:{origin.port}/path/x")
        for header in (v1(CLIENT), v2(CLIENT)):
            response = yield self.exchange(proxy, header + get)
            self.assertEqual(response.status, 403)
        self.assertEqual(origin.tracker.accepted, 0)
        for header in (v1("127.0.0.9"), v2("127.0.0.9")):
            response = yield self.exchange(proxy, header + get)
            self.assertEqual(response.status, 200)
            self.assertEqual(response.body, b"/path/x")

    @inlineCallbacks
    def test_withoutValidHeader(self) -> Any:
        """
        A connection that sends a request without a PROXY header, or with a
        malformed one, is closed without an answer, and nothing reaches the
        origin.
        """
        proxy, origin = self.forwardProxy()
        get = request("GET", f"http://127.0.0.1:{origin.port}/path/x")
        signature = b"\r\n\r\n\x00\r\nQUIT\n"
        for data in [
            get,
            # Twisted's parser passes these addresses on; proxykit closes.
            b"PROXY TCP4 203.0.113.999 127.0.0.1 40000 8080\r\n" + get,
            b"PROXY TCP4 2001:db8::7 127.0.0.1 40000 8080\r\n" + get,
            b"PROXY TCP4 203.0.113.7 localhost 40000 8080\r\n" + get,
            # Twisted's parser raises ValueError for the port (logged), and
            # the connection is closed.
            b"PROXY TCP4 203.0.113.7 127.0.0.1 forty 8080\r\n" + get,
            b"PROXY SCTP 203.0.113.7 127.0.0.1 40000 8080\r\n" + get,
            # Version 3.
            signature + b"\x31\x11\x00\x0c" + bytes(12) + get,
            # Addresses shorter than their family needs.
            signature + b"\x21\x11\x00\x04" + bytes(4) + get,
        ]:
            received = yield self.harness.exchange(proxy.port, data)
            self.assertEqual(received, b"", data)
        self.assertEqual(origin.tracker.accepted, 0)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
