# -*- test-case-name: tests.test_relay -*-
"""
The seams of the relay: what the client connection, the exchange and the
origin connection may ask of each other, declared.

One request is relayed by an L{IExchange}
(L{proxykit.relay.exchange.Exchange}) between the client connection that
received it (an L{IClientSide}, L{proxykit.relay.client.ProxyProtocol}) and the
origin connection the pool lent it (an L{IOriginSide},
L{proxykit.relay.origin.OriginProtocol}).  Each talks to the others through
these interfaces only, so that any of them can be replaced (another client
protocol, HTTP/2 later; a test double) without reading the others' code.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Final

import attrs
from zope.interface import Attribute, Interface

from ..h1 import Headers, Response

if TYPE_CHECKING:
    from collections.abc import Hashable

    from ..decisions import Origin
    from .splice import Splice


class ExchangeState(IntEnum):
    """
    The states of an L{proxykit.relay.exchange.Exchange} (see its docstring), in order: the ones
    from L{DONE} on are final.
    """

    CONNECTING = 0
    SENT = 1
    RESPONDING = 2
    DONE = 3
    SWITCHED = 4
    FAILED = 5
    ABANDONED = 6


# The members as module constants, for the request path: read off the
# class, each costs a call of the enum metaclass's attribute hook (about
# 900 instructions, and an exchange reads ten or so a request); a global
# costs next to nothing.
CONNECTING: Final = ExchangeState.CONNECTING
SENT: Final = ExchangeState.SENT
RESPONDING: Final = ExchangeState.RESPONDING
DONE: Final = ExchangeState.DONE
SWITCHED: Final = ExchangeState.SWITCHED
FAILED: Final = ExchangeState.FAILED
ABANDONED: Final = ExchangeState.ABANDONED


@attrs.frozen
class ExchangeFailure:
    """
    How an exchange failed.

    @ivar status: The status the client got, or would have got: once part
        of the response was relayed, the connection is cut instead.
    @ivar reason: Why, in a few fixed words (never from the request).
    @ivar reached: How far the request got: L{ExchangeState.CONNECTING} (no
        origin had it), L{ExchangeState.SENT} (an origin had it, no response
        reached the client) or L{ExchangeState.RESPONDING} (part of the
        response was relayed).
    """

    status: int
    reason: str
    reached: ExchangeState


class IFlowSide(Interface):
    """
    One connection of a relay, as flow control pairs it with another (see
    L{proxykit.relay.flow.Side}): each pauses the other's reading while it
    cannot write.
    """

    transport = Attribute("The connection's transport, or C{None} once it is gone.")
    writeBlocked = Attribute("Whether the transport asked this side to stop writing.")

    def send(data: bytes) -> None:
        """
        Write bytes to this side's peer on the network.
        """

    def cork() -> None:
        """
        Collect writes until L{uncork}, to send them at once.
        """

    def uncork() -> None:
        """
        Send what was collected since L{cork}.
        """

    def setPeer(peer: IFlowSide | None) -> None:
        """
        Pair this side with C{peer} (C{None}: with nothing).
        """

    def setDeadline(seconds: float | None) -> None:
        """
        Time this side out after C{seconds} of silence; C{None}: never.
        """

    def pauseReading(reason: int) -> None:
        """
        Stop reading for C{reason} (L{proxykit.relay.flow} reasons).
        """

    def resumeReading(reason: int) -> None:
        """
        C{reason} no longer holds reading back.
        """

    def closeAfterWrite() -> None:
        """
        Close the connection once what is buffered is written.
        """

    def closeWriteAfterWrite() -> None:
        """
        Close the sending half once what is buffered is written.
        """

    def cancelTimer() -> None:
        """
        Drop the deadline's timer.
        """


class IClientSide(IFlowSide):
    """
    The client connection, as an exchange sees it.
    """

    client = Attribute("The L{proxykit.decisions.ClientInfo} of the connection.")
    bodyLimit = Attribute("The most request-body bytes allowed (0: no limit).")
    closing = Attribute("Whether the connection closes after the current response.")
    draining = Attribute(
        "Whether the proxy is stopping: the connection closes after the current"
        " response, though the request may still be read whole."
    )
    corking = Attribute(
        "While a read is processed, the sides whose writes are collected until its"
        " end (a list of L{IFlowSide}), else C{None}."
    )

    def sendError(
        status: int,
        close: bool,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        detail: bytes = b"",
    ) -> None:
        """
        Answer a fixed error response (C{detail}: a short fixed body line);
        close afterwards if C{close}.
        """

    def viaFor(version: bytes) -> bytes:
        """
        This proxy's C{Via} element for a message of HTTP C{version}.
        """

    def exchangeDone(exchange: IExchange, keepAlive: bool) -> None:
        """
        The response to C{exchange}'s request is complete; the connection
        may serve another request if C{keepAlive}.
        """

    def endTruncated(exchange: IExchange) -> None:
        """
        The response ended before its framing said it would: close the
        connection so that the client sees it cut short.
        """

    def switchProtocols(exchange: IExchange, origin: IOriginSide) -> None:
        """
        The origin switched protocols (101): splice the connections.
        """

    def abortConnection() -> None:
        """
        Drop the connection at once.
        """

    def poolKeyFor(origin: Origin) -> Hashable:
        """
        The pool key of this connection's requests to C{origin}, an origin
        spoken to with the PROXY protocol: a
        L{proxykit.relay.pool.PrivateKey} whose connections carry this
        client's address, and only this client's requests (their idle
        connections are closed when this connection closes).
        """


class IOriginSide(IFlowSide):
    """
    The origin connection, as an exchange sees it.
    """

    responseStarted = Attribute("Whether any response byte arrived for the current request.")
    willClose = Attribute("Whether the origin said it closes after this response.")
    reusable = Attribute("Whether the connection can take another request now.")

    def startRequest(exchange: IExchange, method: bytes, upgrade: bool = False) -> None:
        """
        Serve C{exchange}: its events come from this connection until
        L{detach}.
        """

    def detach(exchange: IExchange) -> None:
        """
        C{exchange} no longer listens to this connection (if it still
        did): nothing more is delivered to it.
        """

    def switched(splice: Splice) -> bytes:
        """
        The connection now carries another protocol through C{splice}; the
        bytes the origin sent after its 101 head.
        """

    def close() -> None:
        """
        Close once what is buffered is written.
        """

    def abort() -> None:
        """
        Close at once, discarding anything buffered.
        """


class IExchange(Interface):
    """
    One request being relayed, as the client and origin connections see it.
    """

    client = Attribute("The L{IClientSide} the request came from.")
    request = Attribute("The L{proxykit.h1.Request} head being relayed.")
    state = Attribute("Its L{ExchangeState}.")
    failure = Attribute(
        "How it failed (L{ExchangeFailure}: status, reason and how"
        " far the request got), or C{None}."
    )
    requestComplete = Attribute("Whether the whole request was received from the client.")
    responseStarted = Attribute("Whether the response head was written to the client.")
    finished = Attribute("Whether nothing more will be done.")

    def start() -> None:
        """
        Choose an origin and ask the pool for a connection to it.
        """

    def requestData(data: bytes) -> None:
        """
        Request body bytes from the client.
        """

    def requestEnd(trailers: Headers) -> None:
        """
        The client's request is complete.
        """

    def clientLost() -> None:
        """
        The client connection closed.
        """

    def responseHead(response: Response) -> None:
        """
        The origin's response head.
        """

    def responseData(data: bytes) -> None:
        """
        Response body bytes from the origin.
        """

    def responseEnd(trailers: Headers) -> None:
        """
        The origin's response is complete.
        """

    def originActive() -> None:
        """
        The origin sent something: it is alive.
        """

    def timedOut() -> None:
        """
        The origin was silent longer than its deadline.
        """

    def originFailed(reason: str, status: int, protocolError: bool = False) -> None:
        """
        The origin's response cannot be relayed (C{status}: what the client
        gets if nothing was sent yet).
        """

    def originLost(reason: BaseException | None = None) -> None:
        """
        The origin connection closed.
        """
