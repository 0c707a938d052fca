"""
Tests for L{proxykit.relay.splice}: CONNECT tunnels on in-memory fakes.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from proxykit import ForwardConfig, ProxyConfig, Timeouts

from ._harness import Harness, originSaw


class TunnelTests(SynchronousTestCase):
    """
    CONNECT tunnels.
    """

    def test_tunnel(self) -> None:
        """
        CONNECT to an allowed port answers 200 once connected, then bytes
        flow both ways unchanged, including bytes sent right after the head.
        """
        h2 = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9443}))))
        h2.send(b"CONNECT 127.0.0.1:9443 HTTP/1.1\r\nHost: x\r\n\r\nEARLY")
        origin, ot = h2.acceptOrigin()
        self.assertEqual(h2.received(), b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.assertEqual(originSaw(ot), b"EARLY")
        h2.send(b"\x16\x03\x01client")
        self.assertEqual(originSaw(ot), b"\x16\x03\x01client")
        origin.dataReceived(b"\x16\x03\x03server")
        self.assertEqual(h2.received(), b"\x16\x03\x03server")
        h2.client.readConnectionLost()
        self.assertTrue(ot.halfClosed, "client FIN passed on as a half-close")
        self.assertFalse(ot.disconnecting)
        origin.dataReceived(b"late")
        self.assertEqual(h2.received(), b"late", "the other direction still flows")
        origin.readConnectionLost()
        self.assertTrue(ot.disconnecting)
        self.assertTrue(h2.clientTransport.disconnecting)

    def test_tunnelRefusedPort(self) -> None:
        """
        CONNECT to port 25 gets 403 and the connection closes.
        """
        h = Harness()
        h.send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 403 Forbidden\r\n"))
        self.assertTrue(h.clientTransport.disconnecting)

    def test_tunnelConnectFails(self) -> None:
        """
        A CONNECT whose origin refuses gets 502.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9443}))))
        h.send(b"CONNECT 127.0.0.1:9443 HTTP/1.1\r\nHost: x\r\n\r\n")
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))

    def test_tunnelIdle(self) -> None:
        """
        A tunnel with no traffic is dropped after the tunnel idle timeout.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9443})), timeouts=Timeouts(tunnelIdle=50)))
        h.send(b"CONNECT 127.0.0.1:9443 HTTP/1.1\r\nHost: x\r\n\r\n")
        origin, ot = h.acceptOrigin()
        h.reactor.advance(49)
        self.assertFalse(ot.aborted)
        h.send(b"x")
        h.reactor.advance(49)
        self.assertFalse(ot.aborted)
        h.reactor.advance(2)
        self.assertTrue(ot.aborted)
        self.assertTrue(h.clientTransport.aborted)
