# -*- test-case-name: tests.test_testing -*-
"""
In-memory connections on a fake reactor: transports that record what was
written and how the connection ended, pipes joining two protocols, and a
reactor whose C{connectTCP} reaches fake servers by address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import (
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
)
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IHostnameResolver,
    IHostResolution,
    IProtocol,
    IProtocolFactory,
    IReactorPluggableNameResolver,
    IResolutionReceiver,
)
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from zope.interface import implementer


class RecordingTransport(StringTransport):
    """
    A L{StringTransport} that also records aborts and half-closes.

    @ivar aborted: C{abortConnection} was called.
    @ivar halfClosed: C{loseWriteConnection} was called.
    """

    aborted = False
    halfClosed = False

    def __init__(self, hostAddress: IAddress | None = None, peerAddress: IAddress | None = None) -> None:
        super().__init__(hostAddress, peerAddress)  # type: ignore[no-untyped-call]

    def value(self) -> bytes:
        """
        What was written and not cleared.
        """
        return super().value()  # type: ignore[no-untyped-call, no-any-return]

    def clear(self) -> None:
        """
        Forget what was written.
        """
        super().clear()  # type: ignore[no-untyped-call]

    def loseConnection(self) -> None:
        super().loseConnection()  # type: ignore[no-untyped-call]

    def loseWriteConnection(self) -> None:
        self.halfClosed = True

    def abortConnection(self) -> None:
        self.aborted = True
        self.loseConnection()


class Pipe:
    """
    Two protocols joined in memory: what one writes, the other receives when
    the pipe is pumped; a close, abort or half-close reaches the other side
    after the bytes written before it (an abort loses nothing already
    written, unlike a real reset, whose data may be lost in flight).

    @ivar left: The connecting side's transport.
    @ivar right: The accepting side's transport.
    @ivar closed: Both sides have been told the connection is lost.
    """

    def __init__(
        self,
        leftProtocol: IProtocol,
        rightProtocol: IProtocol,
        leftAddress: IAddress,
        rightAddress: IAddress,
    ) -> None:
        self.left = RecordingTransport(hostAddress=leftAddress, peerAddress=rightAddress)
        self.right = RecordingTransport(hostAddress=rightAddress, peerAddress=leftAddress)
        self._protocols = (leftProtocol, rightProtocol)
        self._halfClosed = [False, False]
        self.closed = False
        rightProtocol.makeConnection(self.right)
        leftProtocol.makeConnection(self.left)

    def pump(self) -> bool:
        """
        Deliver what each side wrote, then any close.

        @return: Whether anything happened.
        """
        if self.closed:
            return False
        moved = False
        transports = (self.left, self.right)
        for index, transport in enumerate(transports):
            other = self._protocols[1 - index]
            data = transport.value()
            if data:
                transport.clear()
                other.dataReceived(data)
                moved = True
                if self.closed:
                    return True
        if moved:
            return True
        if self.left.aborted or self.right.aborted:
            # What was written before the abort has been delivered.
            self._lose(ConnectionLost("aborted"))
            return True
        for index, transport in enumerate(transports):
            if transport.disconnecting:
                self._lose(ConnectionDone("closed"))
                return True
            if transport.halfClosed and not self._halfClosed[index]:
                self._halfClosed[index] = True
                other = self._protocols[1 - index]
                if IHalfCloseableProtocol.providedBy(other):
                    other.readConnectionLost()
                else:
                    self._lose(ConnectionDone("closed"))
                return True
        return False

    def _lose(self, reason: Exception) -> None:
        self.closed = True
        for transport, protocol in zip((self.left, self.right), self._protocols, strict=True):
            transport.disconnecting = True
            transport.clear()
            protocol.connectionLost(Failure(reason))  # type: ignore[no-untyped-call]


ServerFor = Callable[[str, int], "IProtocol | None"]
"""Gives the protocol to accept a connection to a host and port with, or
C{None} when nothing listens there."""


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass


@implementer(IHostnameResolver)
class NameTable:
    """
    A name resolver reading a table: each name resolves to the addresses
    given for it, any other name to none (a failed lookup).
    """

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def resolveHostName(  # type: ignore[no-untyped-def]
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber=0,
        addressTypes=None,
        transportSemantics="TCP",
    ) -> IHostResolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        address = self.names.get(hostName.lower())
        if address is not None:
            resolutionReceiver.addressResolved(IPv4Address("TCP", address, portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution


@implementer(IReactorPluggableNameResolver)
class InMemoryReactor(MemoryReactorClock):
    """
    A L{MemoryReactorClock} on which connections to addresses that have a
    server (L{serverFor}) complete in memory at the next L{flush}, and
    connections to others wait in L{pending} to be completed by hand.

    @ivar pipes: Every in-memory connection made.
    @ivar pending: The C{connectTCP} calls nothing served, oldest first:
        C{(host, port, factory)}.
    @ivar nameResolver: Resolves the names given in its table.
    """

    def __init__(self, serverFor: ServerFor) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._serverFor = serverFor
        self.pipes: list[Pipe] = []
        self.pending: list[tuple[str, int, IProtocolFactory]] = []
        self.nameResolver: NameTable = NameTable()

    def installNameResolver(self, resolver: IHostnameResolver) -> IHostnameResolver:
        raise NotImplementedError("the harness's names are given with ProxyHarness.fakeOrigin")

    def connectTCP(
        self, host: str, port: int, factory: IProtocolFactory, *args: Any, **kwargs: Any
    ) -> Any:
        connector = super().connectTCP(host, port, factory, *args, **kwargs)  # type: ignore[no-untyped-call]
        server = self._serverFor(host, port)
        if server is None:
            self.pending.append((host, port, factory))
        elif server is REFUSED:
            refused = Failure(ConnectionRefusedError())  # type: ignore[no-untyped-call]
            self.callLater(0, factory.clientConnectionFailed, connector, refused)  # type: ignore[attr-defined]
        else:
            self.callLater(0, self._complete, host, port, factory, server)
        return connector

    def _complete(self, host: str, port: int, factory: IProtocolFactory, server: IProtocol) -> None:
        address = IPv4Address("TCP", host, port)
        protocol = factory.buildProtocol(address)
        if protocol is None:
            return
        local = IPv4Address("TCP", "127.0.0.1", 40000 + len(self.pipes))
        self.pipes.append(Pipe(protocol, server, local, address))

    def join(self, left: IProtocol, right: IProtocol, leftAddress: IAddress, rightAddress: IAddress) -> Pipe:
        """
        Connect two protocols in memory.
        """
        pipe = Pipe(left, right, leftAddress, rightAddress)
        self.pipes.append(pipe)
        return pipe

    def flush(self) -> None:
        """
        Run the calls due now and deliver every byte and close in flight,
        until nothing moves.

        @raise RuntimeError: Traffic does not settle (two sides echoing
            forever).
        """
        for _ in range(10000):
            self.advance(0)
            moved = False
            for pipe in list(self.pipes):
                if pipe.pump():
                    moved = True
            self.pipes = [pipe for pipe in self.pipes if not pipe.closed]
            if not moved and not any(call.getTime() <= self.seconds() for call in self.getDelayedCalls()):
                return
        raise RuntimeError("in-memory traffic does not settle")


class _Refused:
    """
    The server of an address that refuses connections.
    """


REFUSED: Any = _Refused()
"""What a L{ServerFor} gives for an address that refuses connections."""
