# -*- test-case-name: tests.test_testing -*-
"""
In-memory connections on a fake reactor, built on L{twisted.test.iosim}:
transports (L{iosim.FakeTransport}) that record what was written and how
the connection ended, pipes (L{iosim.IOPump}) joining two protocols, and a
reactor whose C{connectTCP} reaches fake servers by address.

iosim's own transport half-closes nothing (C{loseWriteConnection} does
nothing) and aborts as it closes; L{RecordingTransport} records both, and
L{Pipe} delivers a half-close to a protocol that accepts one and an abort
as a lost connection (C{ConnectionLost}), after the bytes written before
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import (
    ConnectionDone,
    ConnectionLost,
    ConnectionRefusedError,
)
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableProtocol,
    IHostnameResolver,
    IHostResolution,
    IProtocol,
    IProtocolFactory,
    IPushProducer,
    IReactorPluggableNameResolver,
    IReactorTime,
    IResolutionReceiver,
)
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, IOPump
from zope.interface import implementer


@implementer(IConsumer, IPushProducer)
class RecordingTransport(FakeTransport):
    """
    An L{iosim.FakeTransport} that also records aborts and half-closes, with
    the test API of L{twisted.internet.testing.StringTransport}: L{value}
    and L{clear}, and as a push producer, C{producerState}.

    Written bytes wait in it until a L{Pipe} delivers them (or a test reads
    them with L{value}); unlike iosim's own, it keeps what is written after
    C{loseConnection} until the close is delivered, as a socket would send
    it, and it refuses to write anything but bytes.

    @ivar aborted: C{abortConnection} was called.
    @ivar halfClosed: C{loseWriteConnection} was called.
    @ivar disconnecting: C{loseConnection} or C{abortConnection} was called.
    @ivar disconnected: The close was delivered (by a L{Pipe}).
    @ivar producer: The producer registered, or C{None}.
    @ivar streaming: Whether the producer registered is a streaming one.
    @ivar producerState: As a push producer (its protocol pauses reading
        with it): C{"producing"}, C{"paused"} or C{"stopped"}.
    @ivar connected: C{True}, as C{StringTransport}'s.
    """

    aborted = False
    halfClosed = False
    disconnecting = False
    disconnected = False
    producer: Any = None
    streaming: bool | None = None
    producerState = "producing"

    def __init__(
        self,
        hostAddress: IAddress | None = None,
        peerAddress: IAddress | None = None,
        *,
        protocol: IProtocol | None = None,
        isServer: bool = False,
    ) -> None:
        """
        @param hostAddress: What C{getHost} gives; C{None}: C{StringTransport}'s
            default (C{10.0.0.1:12345}).
        @param peerAddress: What C{getPeer} gives; C{None}: C{StringTransport}'s
            default (C{192.168.1.1:54321}).
        @param protocol: The protocol the bytes delivered to this side go to
            (L{Pipe} gives it); C{None}: none, the transport is driven by hand.
        @param isServer: The accepting side of the connection.
        """
        if hostAddress is None:
            hostAddress = IPv4Address("TCP", "10.0.0.1", 12345)
        if peerAddress is None:
            peerAddress = IPv4Address("TCP", "192.168.1.1", 54321)
        super().__init__(protocol, isServer, hostAddress, peerAddress)  # type: ignore[no-untyped-call]
        self.connected = True

    def value(self) -> bytes:
        """
        What was written and not yet delivered or cleared.
        """
        data = b"".join(self.stream)
        self.stream = [data] if data else []
        return data

    def clear(self) -> None:
        """
        Forget what was written.
        """
        self.stream = []

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"Can only write bytes to a transport, not {data!r}")
        if self.tls is not None:
            self.tlsbuf.append(data)
        else:
            self.stream.append(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.write(b"".join(iovec))

    def loseConnection(self) -> None:
        self.disconnecting = True

    def loseWriteConnection(self) -> None:
        self.halfClosed = True

    def abortConnection(self) -> None:
        self.aborted = True
        self.loseConnection()

    def getHost(self) -> IAddress:
        return self.hostAddress  # type: ignore[no-any-return]

    def getPeer(self) -> IAddress:
        return self.peerAddress  # type: ignore[no-any-return]

    # IConsumer, as StringTransport's: no pull producer is resumed by hand.

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        if self.producer is not None:
            raise RuntimeError("Cannot register two producers")
        self.producer = producer
        self.streaming = self.streamingProducer = streaming

    def unregisterProducer(self) -> None:
        if self.producer is None:
            raise RuntimeError("Cannot unregister a producer unless one is registered")
        self.producer = None
        self.streaming = None
        self.streamingProducer = 0

    # IPushProducer, as StringTransport's.

    def _checkState(self) -> None:
        if self.disconnecting:
            raise RuntimeError("Cannot resume producing after loseConnection")
        if self.producerState == "stopped":
            raise RuntimeError("Cannot resume a stopped producer")

    def pauseProducing(self) -> None:
        self._checkState()
        self.producerState = "paused"

    def resumeProducing(self) -> None:
        self._checkState()
        self.producerState = "producing"

    def stopProducing(self) -> None:
        self.producerState = "stopped"


class Pipe(IOPump):
    """
    Two protocols joined in memory, an L{iosim.IOPump} between two
    L{RecordingTransport}s: what one writes, the other receives when the
    pipe is pumped; a close, abort or half-close reaches the other side
    after the bytes written before it (an abort loses nothing already
    written, unlike a real reset, whose data may be lost in flight).

    Unlike iosim's, pumping does not move the clock unless asked
    (C{advanceClock=True}): L{InMemoryReactor.flush} runs the calls due
    itself.

    @ivar client: The connecting side's protocol.
    @ivar server: The accepting side's protocol.
    @ivar closed: Both sides have been told the connection is lost.
    """

    clientIO: RecordingTransport
    serverIO: RecordingTransport

    def __init__(
        self,
        leftProtocol: IProtocol,
        rightProtocol: IProtocol,
        leftAddress: IAddress,
        rightAddress: IAddress,
        clock: IReactorTime | None = None,
    ) -> None:
        """
        Connect the protocols (the accepting one first, as
        L{iosim.connect} does).

        @param leftProtocol: The connecting side.
        @param rightProtocol: The accepting side.
        @param clock: What C{advanceClock} advances; C{None}: a clock of
            its own.
        """
        left = RecordingTransport(leftAddress, rightAddress, protocol=leftProtocol, isServer=False)
        right = RecordingTransport(rightAddress, leftAddress, protocol=rightProtocol, isServer=True)
        super().__init__(leftProtocol, rightProtocol, left, right, False, clock)  # type: ignore[no-untyped-call]
        self._halfClosed = [False, False]
        self.closed = False
        rightProtocol.makeConnection(right)
        leftProtocol.makeConnection(left)

    @property
    def left(self) -> RecordingTransport:
        """
        The connecting side's transport.
        """
        return self.clientIO

    @property
    def right(self) -> RecordingTransport:
        """
        The accepting side's transport.
        """
        return self.serverIO

    def flush(self, debug: bool = False, advanceClock: bool = False) -> bool:
        """
        Pump until nothing moves.

        @param advanceClock: Run the clock's calls due now before each pump.
        @return: Whether anything happened.
        """
        return super().flush(debug, advanceClock)  # type: ignore[no-untyped-call, no-any-return]

    def pump(self, debug: bool = False, advanceClock: bool = False) -> bool:
        """
        Deliver what each side wrote (the connecting side's first), then
        any abort, close or half-close.

        @param advanceClock: Run the clock's calls due now first.
        @return: Whether anything happened.
        """
        if advanceClock:
            self.clock.advance(0)
        if self.closed:
            return False
        moved = False
        transports = (self.clientIO, self.serverIO)
        for index, transport in enumerate(transports):
            data = transport.getOutBuffer()  # type: ignore[no-untyped-call]
            if data:
                if self.debug or debug:
                    print(f"{'CS'[index]}: {data!r}")
                transports[1 - index].bufferReceived(data)  # type: ignore[no-untyped-call]
                moved = True
                if self.closed:
                    return True
        if moved:
            return True
        if self.clientIO.aborted or self.serverIO.aborted:
            # What was written before the abort has been delivered.
            self._lose(ConnectionLost("aborted"))
            return True
        for index, transport in enumerate(transports):
            if transport.disconnecting:
                self._lose(ConnectionDone("closed"))
                return True
            if transport.halfClosed and not self._halfClosed[index]:
                self._halfClosed[index] = True
                other = transports[1 - index].protocol
                if IHalfCloseableProtocol.providedBy(other):
                    other.readConnectionLost()
                else:
                    self._lose(ConnectionDone("closed"))
                return True
        return False

    def _lose(self, reason: ConnectionDone | ConnectionLost) -> None:
        self.closed = True
        for transport in (self.clientIO, self.serverIO):
            transport.disconnecting = True
            transport.disconnected = True
            transport.clear()
            transport.disconnectReason = reason  # type: ignore[assignment]
            transport.reportDisconnect()  # type: ignore[no-untyped-call]


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
        self.pipes.append(Pipe(protocol, server, local, address, self))

    def join(self, left: IProtocol, right: IProtocol, leftAddress: IAddress, rightAddress: IAddress) -> Pipe:
        """
        Connect two protocols in memory.
        """
        pipe = Pipe(left, right, leftAddress, rightAddress, self)
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
