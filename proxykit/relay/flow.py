# -*- test-case-name: tests.test_flow -*-
"""
Flow control and timers shared by every connection proxykit holds.

A connection's reading can be paused for several independent reasons (its
peer's write buffer is full; a pipelined request waits for the previous
response; the origin is not connected yet).  Twisted transports are not
reference-counted, so L{Side} keeps the reasons as bits and only pauses or
resumes the transport on the first and last one.

Each L{Side} is also registered as the streaming producer on its own
transport: when that transport's write buffer fills, Twisted calls
L{Side.pauseProducing}, which pauses reading on the peer that feeds it.  One
registration per connection, so handing a connection to a new peer (a pooled
origin connection serving another client) costs one attribute store.

L{Side} also keeps a single inactivity deadline, checked by one lazily
re-armed timer, so that touching it on every read costs a clock read and a
store rather than a timer reschedule.
"""

from __future__ import annotations

import socket
from typing import Any, Final

from mypy_extensions import mypyc_attr
from twisted.internet.interfaces import (
    IDelayedCall,
    ILoggingContext,
    IProtocol,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
    ITransport,
)
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import classImplements

from .._directio import write as tlsWrite
from .._directio import writeNow
from .._twistedcompat import directSocket, steadyWrites
from .interfaces import IFlowSide

PEER_BLOCKED: Final = 1
"""The peer's write buffer is full."""
PIPELINE: Final = 2
"""A pipelined request waits until the response before it is done."""
NOT_CONNECTED: Final = 4
"""The other side of the exchange is not ready to take bytes yet."""
AUTHENTICATING: Final = 8
"""Proxy credentials are being checked, or a hook decides the request."""
HOOKED: Final = 16
"""A hook is rewriting the response head: the origin's further bytes wait."""


@mypyc_attr(allow_interpreted_subclasses=True)
class PeerProducer:
    """
    A producer whose consumer's pauses hold its peer's reading back
    (L{PEER_BLOCKED}): what L{Side} is to its own transport, and what
    C{proxykit.web}'s request side is to C{twisted.web}'s request.

    @ivar peer: The side whose reading this one's writes depend on.
    @ivar writeBlocked: Whether the consumer asked for a pause.
    """

    peer: IFlowSide | None = None
    writeBlocked = False

    def pauseProducing(self) -> None:
        self.writeBlocked = True
        peer = self.peer
        if peer is not None:
            peer.pauseReading(PEER_BLOCKED)

    def resumeProducing(self) -> None:
        self.writeBlocked = False
        peer = self.peer
        if peer is not None:
            peer.resumeReading(PEER_BLOCKED)


@mypyc_attr(allow_interpreted_subclasses=True)
class Side(PeerProducer):
    """
    Base of the client-side and origin-side protocols: a Twisted protocol
    (what C{twisted.internet.protocol.Protocol} is, without deriving from
    it, so that the compiled build compiles it as a native class).

    @ivar peer: The connection whose bytes this one writes, or C{None}.
    @ivar writeBlocked: Whether this connection's transport asked its producer
        to pause (its write buffer is full).
    """

    transport: ITransport | None = None
    connected = 0
    factory: Any = None
    _pauses = 0
    _deadline: float | None = None
    _timer: IDelayedCall | None = None
    _timerAt = 0.0
    _clock: IReactorTime

    _registered = False
    _socket: socket.socket | None = None
    _corked: list[bytes] | None = None
    _tlsWrites = False

    def cork(self) -> None:
        """
        Collect writes until L{uncork}, to send them in one piece.
        """
        if self._corked is None:
            self._corked = []

    def uncork(self) -> None:
        """
        Send what was collected since L{cork}.
        """
        corked = self._corked
        if corked is not None:
            self._corked = None
            if corked:
                self.send(corked[0] if len(corked) == 1 else b"".join(corked))

    # IProtocol, as Twisted's Protocol has it.

    def makeConnection(self, transport: ITransport) -> None:
        """
        Connect to C{transport}, then call L{connectionMade}.
        """
        self.connected = 1
        self.transport = transport
        self.connectionMade()

    def logPrefix(self) -> str:
        """
        The class's name, as Twisted's C{Protocol} says.
        """
        return self.__class__.__name__

    def dataReceived(self, data: bytes) -> None:
        """
        Bytes came; subclasses handle them.
        """

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The connection is gone; subclasses clean up.
        """

    def connectionMade(self) -> None:
        transport = self.transport
        transport.registerProducer(self, True)  # type: ignore[union-attr]
        self._registered = True
        # Heads and bodies are written as they are ready; Nagle's algorithm
        # would hold the second small write for a delayed ACK (40 ms).
        self._socket = directSocket(transport)
        if self._socket is not None:
            transport.setTcpNoDelay(True)  # type: ignore[union-attr]
        else:
            # TLS: writes go straight to its steady state when they may;
            # the TCP connection is beneath the TLS transport.
            self._tlsWrites = steadyWrites(transport)
            lower = getattr(transport, "transport", None)
            setTcpNoDelay = getattr(lower, "setTcpNoDelay", None)
            if setTcpNoDelay is not None:
                setTcpNoDelay(True)

    def send(self, data: bytes) -> None:
        """
        Write C{data} to the transport, sending at once when possible (see
        L{writeNow}); while corked, collect it.
        """
        corked = self._corked
        if corked is not None:
            corked.append(data)
            return
        if self._tlsWrites:
            tlsWrite(self.transport, data)
        else:
            writeNow(self.transport, self._socket, data)

    def _unregister(self) -> None:
        if self._registered:
            self._registered = False
            self.transport.unregisterProducer()  # type: ignore[union-attr]

    def closeAfterWrite(self) -> None:
        """
        Close once everything written so far is sent.

        The producer registration is dropped first: Twisted does not close a
        transport whose streaming producer is paused.
        """
        transport = self.transport
        if transport is not None:
            # What was collected goes out before the close.
            self.uncork()
            self._unregister()
            transport.loseConnection()

    def closeWriteAfterWrite(self) -> None:
        """
        Half-close (send FIN) once everything written so far is sent.

        A TLS connection is closed whole instead: Twisted's TLS layer cannot
        half-close, and half-closing the socket under it would skip the TLS
        close and break its later shutdown.
        """
        transport = self.transport
        if transport is not None:
            if ISSLTransport.providedBy(transport):
                self.closeAfterWrite()
                return
            self.uncork()
            self._unregister()
            transport.loseWriteConnection()  # type: ignore[attr-defined]

    # Reading, paused for reasons.

    def pauseReading(self, reason: int) -> None:
        """
        Stop reading for C{reason} (one of the module constants).
        """
        if not self._pauses:
            self.transport.pauseProducing()  # type: ignore[union-attr]
        self._pauses |= reason

    def resumeReading(self, reason: int) -> None:
        """
        Drop C{reason}; read again when no reason is left.
        """
        pauses = self._pauses
        if pauses & reason:
            pauses &= ~reason
            self._pauses = pauses
            if not pauses and self.transport is not None:
                self.transport.resumeProducing()  # type: ignore[attr-defined]

    def setPeer(self, peer: IFlowSide | None) -> None:
        """
        Make C{peer} the connection that writes into this one, carrying over
        backpressure: if this transport is full, the new peer starts paused.
        """
        old = self.peer
        if old is not None:
            old.resumeReading(PEER_BLOCKED)
        self.peer = peer
        if peer is not None and self.writeBlocked:
            peer.pauseReading(PEER_BLOCKED)

    # IPushProducer, called by our own transport about its write buffer
    # (pauseProducing and resumeProducing: PeerProducer's).

    def stopProducing(self) -> None:
        """
        The transport is going away; L{connectionLost} does the work.
        """

    # One inactivity deadline.

    def setDeadline(self, seconds: float | None) -> None:
        """
        Call L{timedOut} unless L{setDeadline} is called again within
        C{seconds}; C{None} disarms.
        """
        if seconds is None:
            self._deadline = None
            return
        clock = self._clock
        deadline = clock.seconds() + seconds
        self._deadline = deadline
        timer = self._timer
        if timer is None:
            self._timer = clock.callLater(seconds, self._checkDeadline)
            self._timerAt = deadline
        elif deadline < self._timerAt:
            # The timer's own time, kept rather than asked for: a call
            # into Python per request (it may differ from the timer's by
            # the microseconds between two clock reads; then
            # _checkDeadline sets it again).
            timer.reset(seconds)
            self._timerAt = deadline

    def _checkDeadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        clock = self._clock
        remaining = deadline - clock.seconds()
        if remaining > 0:
            self._timer = clock.callLater(remaining, self._checkDeadline)
            self._timerAt = deadline
            return
        self._deadline = None
        self.timedOut()

    def cancelTimer(self) -> None:
        """
        Disarm and drop the timer (on connection loss).
        """
        self._deadline = None
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer.active():
                timer.cancel()

    def timedOut(self) -> None:
        """
        The deadline passed.  Subclasses decide what that means.
        """


classImplements(Side, IProtocol, ILoggingContext, IPushProducer, IFlowSide)
