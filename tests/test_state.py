"""
Tests for L{proxykit.ops.state}: how the admin pages name listeners and
read each configured origin's state.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.trial.unittest import SynchronousTestCase

from proxykit.ops.state import EmbeddedProxy, addressName, gateName, originStates
from proxykit.relay.gate import ListenerGate

from ._harness import Harness
from .test_reverse import reverse


class Port:
    """
    A listening port bound to C{address}.
    """

    def __init__(self, address: object) -> None:
        self.address = address

    def getHost(self) -> object:
        return self.address


class NameTests(SynchronousTestCase):
    """
    Listeners are named by the address they are bound to.
    """

    def test_addressName(self) -> None:
        """
        C{host:port}, IPv6 in brackets, C{unix} without a host.
        """
        self.assertEqual(addressName("127.0.0.1", 8080), "127.0.0.1:8080")
        self.assertEqual(addressName("::1", 8080), "[::1]:8080")
        self.assertEqual(addressName("", 0), "unix")

    def test_gateName(self) -> None:
        """
        A gate's bound address; before it is known, the endpoint string
        given, else C{unknown}.
        """
        gate = ListenerGate(Harness().factory, 10)
        self.assertEqual(gateName(gate), "unknown")
        self.assertEqual(gateName(gate, "tcp:8082"), "tcp:8082")
        for address, name in (
            (IPv4Address("TCP", "0.0.0.0", 8080), "0.0.0.0:8080"),
            (IPv6Address("TCP", "::1", 8080), "[::1]:8080"),
            (UNIXAddress("/run/proxy.sock"), "unix"),
        ):
            gate.port = Port(address)  # type: ignore[assignment]
            self.assertEqual(gateName(gate, "tcp:8082"), name)


class OriginStateTests(SynchronousTestCase):
    """
    L{originStates} lists every origin of every reverse-proxy route.
    """

    def test_forward(self) -> None:
        """
        A forward proxy has no configured origins.
        """
        self.assertEqual(originStates(Harness().factory), [])

    def test_reverse(self) -> None:
        """
        Each origin with its virtual host, route, health and pool counts,
        in configuration order; an origin with a request in flight counts
        it as outstanding, and its connection as active.
        """
        h = reverse(9001, 9002)
        h.send(b"GET / HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        h.acceptOrigin()
        first, second = originStates(h.factory)
        self.assertEqual(
            (first.vhost, first.route, first.origin, first.up, first.ejected),
            ("app.example.test", "/", "http://127.0.0.1:9001", True, False),
        )
        self.assertEqual((first.outstanding, first.idle, first.active), (1, 0, 1))
        self.assertEqual((second.origin, second.outstanding, second.active), ("http://127.0.0.1:9002", 0, 0))

    def test_embeddedDefaults(self) -> None:
        """
        An application's proxy is ready, not draining, with no gates,
        endpoints or version until told.
        """
        state = EmbeddedProxy(Harness().factory)
        self.assertEqual(
            (state.ready, state.draining, list(state.gates), list(state.endpoints), state.configVersion),
            (True, False, [], [], None),
        )
