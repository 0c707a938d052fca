"""
Real-socket tests of the destination guard (issue 9, point 1): a forward
proxy whose listeners reach beyond loopback refuses every spelling of a
loopback address, and its origin on 127.0.0.1 sees no connection.

The proxy is built as C{twistd proxykit forward --listen tcp:PORT} builds
it (the destination policy of L{proxykit.policy.destinations.destinationsFor} for a
listener on all interfaces), but the test listens on 127.0.0.1 only: the
clients reach it over loopback, which since the fix changes nothing (one
rule, decided by what the listeners bind).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from proxykit import ForwardConfig, ForwardRouter, ProxyConfig, ProxyFactory
from proxykit.policy.destinations import destinationsFor
from proxykit.relay.factory import poolFor

from ._servers import Harness, Proxy, parseResponses, request

NON_CANONICAL = ("127.1", "127.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1")
"""Spellings of 127.0.0.1 the system resolver accepts and ipaddress does not."""

SPECIAL = (
    "127.0.0.1",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",
    "[::]",
    "localhost",
    "localhost.",
)
"""Canonical literals and names that reach this machine."""


class ExposedProxyDestinationTests(TestCase):
    """
    A forward proxy listening beyond loopback, with an origin on 127.0.0.1.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = Harness(self, reactor)

    def startExposedProxy(self, connectPort: int = 443) -> Proxy:
        """
        A proxy configured to listen on all interfaces (C{tcp:3128}), so
        strict about destinations; it actually listens on 127.0.0.1.
        """
        h = self.harness
        forward = ForwardConfig(connectPorts=frozenset({connectPort}))
        config = ProxyConfig(listen=("tcp:3128",), forward=forward)
        policy = destinationsFor(config)
        self.assertTrue(policy.strict)
        factory = ProxyFactory(
            ForwardRouter(config.forward, destinationsFor(config)),
            poolFor(config, reactor),
            config,
            reactor=reactor,
            destinations=policy,
        )
        proxy = Proxy(factory, h.listen(factory))
        h._proxies.append(proxy)
        return proxy

    @inlineCallbacks
    def test_curlSpellings(self) -> Any:
        """
        curl asked for C{http://127.1:PORT/} and the other spellings (it
        sends them as C{127.0.0.1}, as browsers do) gets 403, and so does
        C{http://127.0.0.1:PORT/} itself: the client being on loopback does
        not matter.  The origin accepts no connection.
        """
        h = self.harness
        origin = h.startSite()
        proxy = self.startExposedProxy()
        for host in ("127.1", "2130706433", "0x7f000001", "127.0.0.1", "localhost"):
            result = yield h.curl(proxy, origin.url("/", host))
            self.assertEqual((result.exitCode, result.status), (0, 403), (host, result.stderr))
        self.assertEqual(origin.tracker.accepted, 0)

    @inlineCallbacks
    def test_rawSpellings(self) -> Any:
        """
        Sent as written (raw bytes), non-canonical spellings get 400 and
        canonical literals and names of this machine get 403, for
        absolute-form requests and CONNECT alike.  The origin accepts no
        connection.
        """
        h = self.harness
        origin = h.startSite()
        port = origin.port
        proxy = self.startExposedProxy(connectPort=port)
        for hosts, status in ((NON_CANONICAL, 400), (SPECIAL, 403)):
            for host in hosts:
                for method, target in (("GET", f"http://{host}:{port}/"), ("CONNECT", f"{host}:{port}")):
                    received = yield h.exchange(
                        proxy.port, request(method, target, "Connection: close", host="x")
                    )
                    self.assertEqual(
                        [r.status for r in parseResponses(received, [method.encode()])],
                        [status],
                        (method, host),
                    )
        self.assertEqual(origin.tracker.accepted, 0)
