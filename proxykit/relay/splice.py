# -*- test-case-name: tests.test_splice -*-
"""
Byte tunnels (CONNECT): two connections spliced together.

Each side is the streaming producer of the other's transport (through
L{proxykit.relay.flow.Side}), so a slow reader on one side pauses reading on the
other: memory stays bounded by the transports' buffers.  A FIN from one side
is passed on as a half-close of the other; the tunnel ends when both
directions have ended, when either side is lost, or after an idle timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from ..decisions import Origin, Tunnel
from ..h1 import NEED_DATA, H1Connection, ProtocolError, Response
from .flow import Side
from .interfaces import IFlowSide

if TYPE_CHECKING:
    from .endpoints import OriginConnector
    pass


class Splice:
    """
    Moves bytes both ways between two connected L{Side}s.

    @ivar bytesUp: Bytes sent from the client to the origin.
    @ivar bytesDown: Bytes sent from the origin to the client.
    """

    __slots__ = (
        "client",
        "origin",
        "bytesUp",
        "bytesDown",
        "_idle",
        "_clientEnded",
        "_originEnded",
        "_done",
        "_onClose",
    )

    def __init__(
        self,
        client: IFlowSide,
        origin: IFlowSide,
        idleTimeout: float,
        onClose: Callable[[Splice, str], None] | None = None,
    ) -> None:
        """
        @param onClose: Called once when the tunnel ends, with it and why:
            C{"closed"} (both ends finished), C{"connection lost"} or
            C{"idle timeout"}.
        """
        self._onClose = onClose
        self.client = client
        self.origin = origin
        self.bytesUp = 0
        self.bytesDown = 0
        self._idle = idleTimeout
        self._clientEnded = False
        self._originEnded = False
        self._done = False
        origin.splice = self  # type: ignore[attr-defined]
        client.setPeer(origin)
        origin.setPeer(client)
        client.setDeadline(idleTimeout)

    def fromClient(self, data: bytes) -> None:
        """
        Bytes from the client: to the origin.
        """
        self.bytesUp += len(data)
        self.client.setDeadline(self._idle)
        self.origin.send(data)

    def fromOrigin(self, data: bytes) -> None:
        """
        Bytes from the origin: to the client.
        """
        self.bytesDown += len(data)
        self.client.setDeadline(self._idle)
        self.client.send(data)

    def clientEnded(self) -> None:
        """
        The client sent FIN: pass it on.
        """
        self._clientEnded = True
        if self._originEnded:
            self.close()
        else:
            self.origin.closeWriteAfterWrite()

    def originEnded(self) -> None:
        """
        The origin sent FIN: pass it on.
        """
        self._originEnded = True
        if self._clientEnded:
            self.close()
        else:
            self.client.closeWriteAfterWrite()

    def lost(self) -> None:
        """
        Either connection is gone: close the other after flushing.
        """
        self.close("connection lost")

    def close(self, reason: str = "closed") -> None:
        """
        End the tunnel: both connections close once their buffers drain.
        """
        if self._done:
            return
        self._done = True
        self.client.cancelTimer()
        self.client.closeAfterWrite()
        self.origin.closeAfterWrite()
        self._closed(reason)

    def _closed(self, reason: str) -> None:
        onClose = self._onClose
        if onClose is not None:
            self._onClose = None
            onClose(self, reason)

    def timedOut(self) -> None:
        """
        No bytes either way for the idle timeout: drop both.
        """
        self._done = True
        for side in (self.client, self.origin):
            if side.transport is not None:
                side.transport.abortConnection()
        self._closed("idle timeout")


class ParentRefused(Exception):
    """
    A parent proxy did not open the tunnel (its status is the argument).
    """


@implementer(IHalfCloseableProtocol)
class TunnelProtocol(Side):
    """
    The origin side of a tunnel; with a handshake, a connection to a parent
    proxy that is first asked to open the tunnel (its own CONNECT).

    @ivar ready: Fires with the bytes that followed the parent's 2xx (or
        C{b""} without a handshake) once bytes may flow; fails with
        L{ParentRefused} or a timeout.
    """

    splice: Splice | None = None
    _conn: H1Connection | None = None

    def __init__(self, clock: IReactorTime, handshake: bytes | None = None, timeout: float = 10.0) -> None:
        self._clock = clock
        self._handshake = handshake
        self._timeout = timeout
        self.ready: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        Side.connectionMade(self)
        if self._handshake is None:
            self.ready.callback(b"")
            return
        self._conn = H1Connection(False)
        self._conn.expectResponse(b"CONNECT")
        self.setDeadline(self._timeout)
        self.send(self._handshake)

    def timedOut(self) -> None:
        if self._conn is not None:
            self._conn = None
            self.ready.errback(TimeoutError("parent proxy did not answer"))
            self.transport.abortConnection()  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        splice = self.splice
        if splice is not None:
            splice.fromOrigin(data)
            return
        conn = self._conn
        if conn is None:
            return
        conn.receiveData(data)
        while True:
            try:
                event = conn.nextEvent()
            except ProtocolError:
                self._refused(502)
                return
            if event is NEED_DATA:
                return
            if isinstance(event, Response) and event.status >= 200:
                if event.status >= 300:
                    self._refused(event.status)
                    return
                self._conn = None
                self.setDeadline(None)
                # Bytes the origin sent right after the parent's answer
                # arrived with it: hand them on.
                self.ready.callback(conn.trailingData)
                return

    def _refused(self, status: int) -> None:
        self._conn = None
        self.setDeadline(None)
        self.ready.errback(ParentRefused(status))
        self.transport.loseConnection()  # type: ignore[union-attr]

    def readConnectionLost(self) -> None:
        if self.splice is not None:
            self.splice.originEnded()
        else:
            self.closeAfterWrite()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.cancelTimer()
        if self._conn is not None:
            self._conn = None
            self.ready.errback(ParentRefused(502))
        if self.splice is not None:
            self.splice.lost()


class TunnelFactory(Factory):
    """
    Builds the origin side of a tunnel.
    """

    noisy = False

    def __init__(self, clock: IReactorTime, handshake: bytes | None = None, timeout: float = 10.0) -> None:
        self._clock = clock
        self._handshake = handshake
        self._timeout = timeout

    def buildProtocol(self, addr: object) -> TunnelProtocol:  # type: ignore[override, unused-ignore]
        return TunnelProtocol(self._clock, self._handshake, self._timeout)


def connectTunnel(
    connector: OriginConnector, clock: IReactorTime, tunnel: Tunnel, timeout: float
) -> Deferred[tuple[TunnelProtocol, bytes]]:
    """
    Open the origin side of a CONNECT tunnel: to C{tunnel}'s authority, or
    through its parent proxy with a CONNECT of our own.

    @return: Fires with the connection once bytes may flow, and the bytes
        the parent sent after its 2xx (C{b""} without one); fails like
        L{OriginConnector.connect}, or with L{ParentRefused}.
    """
    parent = tunnel.parent
    if parent is None:
        target = Origin("http", tunnel.host, tunnel.port, forward=True)
        d = connector.connect(target, TunnelFactory(clock), timeout)
    else:
        authority = Origin("http", tunnel.host, tunnel.port).authority
        if tunnel.port == 80:
            authority += b":80"
        handshake = [b"CONNECT " + authority + b" HTTP/1.1", b"Host: " + authority]
        if tunnel.parentAuthorization is not None:
            handshake.append(b"Proxy-Authorization: " + tunnel.parentAuthorization)
        d = connector.connect(
            parent,
            TunnelFactory(clock, b"\r\n".join(handshake) + b"\r\n\r\n", timeout),
            timeout,
        )

    def handshaken(origin: TunnelProtocol) -> Deferred[tuple[TunnelProtocol, bytes]]:
        return origin.ready.addCallback(lambda rest: (origin, rest))

    return d.addCallback(handshaken)  # type: ignore[call-overload,no-any-return]
