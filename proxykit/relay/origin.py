# -*- test-case-name: tests.test_protocol -*-
"""
The origin-facing side of an HTTP exchange: one pooled connection.

A thin shell: it feeds bytes to a client-role L{H1Connection} and hands the
events to the exchange it currently serves.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from mypy_extensions import mypyc_attr
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory, connectionDone
from twisted.python.failure import Failure
from zope.interface import classImplements

from ..h1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    H1Connection,
    Limits,
    ProtocolError,
    Response,
)
from .flow import Side
from .interfaces import IExchange, IOriginSide

if TYPE_CHECKING:
    from .splice import Splice


@mypyc_attr(allow_interpreted_subclasses=True)
class OriginProtocol(Side):
    """
    One connection to an origin, serving one exchange at a time.

    @ivar poolKey: The origin it is connected to.
    @ivar exchange: The exchange it serves, or C{None} while idle.
    @ivar responseStarted: Whether any response byte arrived for the current
        exchange.
    """

    exchange: IExchange | None = None
    splice: Splice | None = None
    responseStarted = False
    willClose = False
    closed = False

    def __init__(self, poolKey: Hashable, clock: IReactorTime, limits: Limits) -> None:
        self.poolKey = poolKey
        self._clock = clock
        self._conn = H1Connection(False, limits)
        self._closedWaiters: list[Deferred[None]] = []

    # Pooled

    def idle(self, expiry: float) -> None:
        self.exchange = None
        self.setPeer(None)
        self.setDeadline(expiry)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            # A TLS transport does not close while a producer is registered
            # on it (TCP does): drop the registration first.
            self._unregister()
            self.transport.loseConnection()

    def abort(self) -> None:
        """
        Close at once, discarding anything buffered.
        """
        if self.transport is not None and not self.closed:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def whenClosed(self) -> Deferred[None]:
        if self.closed:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._closedWaiters.append(d)
        return d

    # Used by the exchange

    def startRequest(self, exchange: IExchange, method: bytes, upgrade: bool = False) -> None:
        """
        Serve C{exchange}, whose request (with C{method}) is being written.

        @param upgrade: The request asks to switch protocols.
        """
        self.exchange = exchange
        self.responseStarted = False
        self.willClose = False
        self._conn.expectResponse(method, upgrade)

    def detach(self, exchange: IExchange) -> None:
        """
        C{exchange} no longer listens to this connection: nothing more is
        delivered to it (if it was the one served).
        """
        if self.exchange is exchange:
            self.exchange = None

    def switched(self, splice: Splice) -> bytes:
        """
        The connection now carries another protocol through C{splice}.

        @return: Bytes the origin sent after its 101 head.
        """
        self.splice = splice
        return self._conn.trailingData

    @property
    def reusable(self) -> bool:
        """
        Whether the connection can take another request now.
        """
        conn = self._conn
        return (
            not self.closed
            and conn.reusableAfterHead
            and not conn.inMessage
            and not conn.hasEvents()
        )

    # Protocol

    def dataReceived(self, data: bytes) -> None:
        splice = self.splice
        if splice is not None:
            splice.fromOrigin(data)
            return
        exchange = self.exchange
        if exchange is None:
            # An idle connection must stay silent: anything it says now
            # would be taken as the response to the next request.
            self.abort()
            return
        self.responseStarted = True
        # Any byte is a sign of life: the response timeout bounds the
        # origin's silence, in the head as in the body.
        exchange.originActive()
        self._conn.receiveData(data)
        # One write to the client for everything this read produced.
        client = exchange.client
        client.cork()
        try:
            self._deliver(exchange)
        finally:
            client.uncork()

    def _deliver(self, exchange: IExchange) -> None:
        conn = self._conn
        while self.exchange is exchange:
            try:
                event = conn.nextEvent()
            except ProtocolError as e:
                exchange.originFailed(e.reason, 502, protocolError=True)
                return
            if event is NEED_DATA:
                return
            kind = type(event)
            if kind is Data:
                exchange.responseData(event.data)  # type: ignore[union-attr]
            elif kind is Response:
                exchange.responseHead(event)  # type: ignore[arg-type]
            elif kind is EndOfMessage:
                exchange.responseEnd(event.trailers)  # type: ignore[union-attr]

    def timedOut(self) -> None:
        exchange = self.exchange
        if exchange is None:
            self.close()  # idle expiry
        else:
            exchange.timedOut()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        self.cancelTimer()
        if self.splice is not None:
            self.splice.lost()
        exchange = self.exchange
        if exchange is not None:
            self._conn.receiveEOF()
            self._deliver(exchange)
            if self.exchange is exchange:
                exchange.originLost(reason.value)
        self.exchange = None
        self.peer = None
        waiters, self._closedWaiters = self._closedWaiters, []
        for d in waiters:
            d.callback(None)


classImplements(OriginProtocol, IOriginSide)


class OriginFactory(Factory):
    """
    Builds L{OriginProtocol}s for one origin.
    """

    noisy = False

    def __init__(self, poolKey: Hashable, clock: IReactorTime, limits: Limits) -> None:
        self._poolKey = poolKey
        self._clock = clock
        self._limits = limits

    # Twisted 23.10 types the result as its Protocol class, which
    # OriginProtocol is by its interfaces, not by deriving from it.
    def buildProtocol(self, addr: object) -> OriginProtocol:  # type: ignore[override, unused-ignore]
        return OriginProtocol(self._poolKey, self._clock, self._limits)
