"""
A proxy on Twisted's in-memory fakes, for transcript tests.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from proxykit import ForwardRouter, ProxyConfig, ProxyFactory, Timeouts
from proxykit.decisions import IRouter
from proxykit.policy.requestid import RequestIds
from proxykit.relay.client import ProxyProtocol

SEED = bytes(8)
"""The harness's request ids start with 16 zeros: its first request's id
is C{FIRST_ID}, the next ones count up."""
FIRST_ID = b"00000000000000000000000000000001"

GET = b"GET http://127.0.0.1:9000/a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAccept: */*\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class Transport(StringTransport):
    """
    A L{StringTransport} that records aborts.
    """

    aborted = False
    halfClosed = False

    def loseWriteConnection(self) -> None:
        self.halfClosed = True

    def abortConnection(self) -> None:
        self.aborted = True
        self.loseConnection()


class Harness:
    """
    A proxy on a fake reactor with one client connection; origin connections
    are completed by hand.
    """

    def __init__(self, config: ProxyConfig | None = None, router: IRouter | None = None) -> None:
        self.reactor = MemoryReactorClock()
        config = config or ProxyConfig(timeouts=Timeouts(connect=5, response=30, idle=60, tunnelIdle=100))
        self.config = config
        if router is None:
            router = ForwardRouter(config.forward)
        self.factory = ProxyFactory(router, config=config, reactor=self.reactor)
        # Ids a transcript can spell out.
        self.factory.requestIds = RequestIds(
            config.log.requestId, config.reverse.trustedProxies, seed=SEED
        )
        self.client, self.clientTransport = self.connectClient()
        self.origins: list[tuple[Protocol, StringTransport]] = []

    def connectClient(self) -> tuple[ProxyProtocol, StringTransport]:
        proto = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = Transport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
        )
        proto.makeConnection(transport)
        return proto, transport

    def send(self, data: bytes) -> None:
        self.client.dataReceived(data)

    def received(self) -> bytes:
        value = self.clientTransport.value()
        self.clientTransport.clear()
        return value

    failedConnects = 0

    def acceptOrigin(self) -> tuple[Protocol, StringTransport]:
        """
        Complete the oldest pending origin connection attempt.
        """
        host, port, factory, timeout, bind = self.reactor.tcpClients[len(self.origins) + self.failedConnects]
        wrapper = factory.buildProtocol(IPv4Address("TCP", host, port))
        transport = Transport(peerAddress=IPv4Address("TCP", host, port))
        wrapper.makeConnection(transport)
        proto = wrapper._wrappedProtocol
        self.origins.append((proto, transport))
        return proto, transport

    def refuseOrigin(self) -> None:
        host, port, factory, timeout, bind = self.reactor.tcpClients[len(self.origins) + self.failedConnects]
        self.failedConnects += 1
        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))


def originSaw(transport: StringTransport) -> bytes:
    value = transport.value()
    transport.clear()
    return value


def lose(proto: Protocol) -> None:
    proto.connectionLost(Failure(ConnectionDone()))
