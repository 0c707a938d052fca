# -*- test-case-name: tests.test_protocol -*-
"""
One request/response relay between a client connection and an origin
connection.

This is the only place that decides between answering an error status and
aborting the client connection:

  - nothing of the response sent to the client yet: answer 502 or 504;
  - the response head already went out: end the client connection so that
    a truncated body is never presented as complete.  When the body's
    framing (Content-Length or chunked) lets the client see the truncation,
    what was relayed is flushed and the connection closed; when the client
    reads the body until the connection closes, it is aborted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from twisted.logger import Logger
from twisted.python.failure import Failure

from ._flow import NOT_CONNECTED
from .errors import connectFailureStatus
from .h1 import (
    Framing,
    Headers,
    Request,
    Response,
    chunkHeader,
    lastChunk,
    requestHead,
    responseHead,
)
from .rewrite import forwardHeaders, forwardTrailers
from .routing import Forward

if TYPE_CHECKING:
    from ._origin import OriginProtocol
    from .pool import ConnectionPool, Connector, Pooled
    from .protocol import ProxyProtocol

_IDEMPOTENT: Final = frozenset(
    {b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"}
)
_CRLF: Final = b"\r\n"


class Exchange:
    """
    Relays one request to an origin and its response back.

    @ivar requestComplete: The whole request was received from the client.
    @ivar responseStarted: The response head was written to the client.
    @ivar finished: Nothing more will be done (complete, failed or
        abandoned).
    """

    _log = Logger()

    __slots__ = (
        "client",
        "request",
        "decision",
        "origin",
        "requestComplete",
        "responseStarted",
        "finished",
        "_pool",
        "_head",
        "_pending",
        "_retried",
        "_reused",
        "_chunkUp",
        "_chunkDown",
        "_closeDelimited",
        "_keepAlive",
        "_timeout",
        "_responseTokens",
        "_connector",
    )

    def __init__(
        self,
        client: ProxyProtocol,
        request: Request,
        decision: Forward,
        pool: ConnectionPool,
        connector: Connector,
        via: bytes,
        timeout: float,
    ) -> None:
        self.client = client
        self.request = request
        self.decision = decision
        self.origin: OriginProtocol | None = None
        self.requestComplete = False
        self.responseStarted = False
        self.finished = False
        self._pool = pool
        self._connector = connector
        self._pending: list[bytes] | None = None
        self._retried = False
        self._reused = False
        self._chunkUp = request.framing == Framing.CHUNKED
        self._chunkDown = False
        self._closeDelimited = False
        self._keepAlive = request.keepAlive
        self._timeout = timeout
        self._responseTokens: frozenset[bytes] = frozenset()
        headers = forwardHeaders(
            request.headers, request.connectionTokens, via, decision.host
        )
        if self._chunkUp:
            headers.append((b"Transfer-Encoding", b"chunked"))
        self._head = requestHead(request.method, decision.target, headers)

    def start(self) -> None:
        """
        Ask the pool for a connection to the origin.
        """
        if self.request.framing != Framing.NONE:
            # Hold the body back until there is somewhere to send it.
            self.client.pauseReading(NOT_CONNECTED)
        self._pool.acquire(self.decision.origin, self, self._connector)

    # Pool requester

    def connectionReady(self, connection: Pooled, reused: bool) -> None:
        origin: OriginProtocol = connection  # type: ignore[assignment]
        if self.finished:
            if origin.reusable:
                self._pool.release(origin)
            else:
                origin.close()
            return
        self.origin = origin
        self._reused = reused
        client = self.client
        origin.startRequest(self, self.request.method)
        origin.setPeer(client)
        client.setPeer(origin)
        origin.setDeadline(self._timeout)
        corking = client.corking
        if corking is not None:
            origin.cork()
            corking.append(origin)
        pending = self._pending
        if pending:
            self._pending = None
            pending.insert(0, self._head)
            origin.send(b"".join(pending))
        else:
            origin.send(self._head)
        client.resumeReading(NOT_CONNECTED)

    def connectionFailed(self, reason: Failure) -> None:
        if self.finished:
            return
        status, why = connectFailureStatus(reason.value)
        self._log.info(
            "origin connection failed: {why}", why=why, origin=self.decision.origin
        )
        self._fail(status)

    # From the client side

    def requestData(self, data: bytes) -> None:
        """
        A piece of the request body.
        """
        if self._chunkUp:
            data = b"".join((chunkHeader(len(data)), data, _CRLF))
        origin = self.origin
        if origin is None:
            if self._pending is None:
                self._pending = [data]
            else:
                self._pending.append(data)
            return
        if self.finished:
            return
        origin.setDeadline(self._timeout)
        origin.send(data)

    def requestEnd(self, trailers: Headers) -> None:
        """
        The request is complete.
        """
        self.requestComplete = True
        if not self._chunkUp or self.finished:
            return
        last = lastChunk(forwardTrailers(trailers, self.request.connectionTokens))
        origin = self.origin
        if origin is None:
            if self._pending is None:
                self._pending = [last]
            else:
                self._pending.append(last)
        else:
            origin.send(last)

    def clientLost(self) -> None:
        """
        The client connection closed before the exchange finished.
        """
        if self.finished:
            return
        self.finished = True
        origin = self.origin
        if origin is not None:
            self.origin = None
            origin.exchange = None
            origin.abort()

    # From the origin side

    def responseHead(self, response: Response) -> None:
        """
        A response head from the origin, informational or final.
        """
        status = response.status
        request = self.request
        client = self.client
        if status < 200:
            if status == 101:
                self.originFailed("unrequested protocol switch", 502, True)
            elif request.version == b"1.1":
                headers = forwardHeaders(
                    response.headers, response.connectionTokens, client.viaFor(response.version)
                )
                client.send(responseHead(status, response.reason, headers))
            return
        keepAlive = self._keepAlive and not client.closing
        headers = forwardHeaders(
            response.headers, response.connectionTokens, client.viaFor(response.version)
        )
        framing = response.framing
        if framing == Framing.CHUNKED or framing == Framing.CLOSE:
            if request.version == b"1.1":
                headers.append((b"Transfer-Encoding", b"chunked"))
                self._chunkDown = True
            else:
                keepAlive = False
                self._closeDelimited = True
        if not keepAlive:
            headers.append((b"Connection", b"close"))
        elif request.version == b"1.0":
            headers.append((b"Connection", b"keep-alive"))
        self._keepAlive = keepAlive
        self._responseTokens = response.connectionTokens
        self.responseStarted = True
        client.send(responseHead(status, response.reason, headers))
        if response.keepAlive is False and self.origin is not None:
            # The origin will close; nothing to return to the pool.
            self.origin.willClose = True

    def responseData(self, data: bytes) -> None:
        """
        A piece of the response body.
        """
        self.origin.setDeadline(self._timeout)  # type: ignore[union-attr]
        if self._chunkDown:
            data = b"".join((chunkHeader(len(data)), data, _CRLF))
        self.client.send(data)

    def responseEnd(self, trailers: Headers) -> None:
        """
        The response is complete.
        """
        client = self.client
        if self._chunkDown:
            client.send(lastChunk(forwardTrailers(trailers, self._responseTokens)))
        self.finished = True
        origin = self.origin
        self.origin = None
        client.setPeer(None)
        if origin is not None:
            origin.exchange = None
            origin.setDeadline(None)
            if self.requestComplete and not origin.willClose and origin.reusable:
                self._pool.release(origin)
            else:
                origin.close()
        client.exchangeDone(self, self._keepAlive and self.requestComplete)

    def originFailed(self, reason: str, status: int, protocolError: bool = False) -> None:
        """
        The origin timed out or sent something malformed.
        """
        if self.finished:
            return
        self._log.info("origin failed: {why}", why=reason, origin=self.decision.origin)
        origin = self.origin
        self.origin = None
        if origin is not None:
            origin.exchange = None
            origin.abort()
        self._fail(status)

    def originLost(self) -> None:
        """
        The origin connection closed before the response was complete.
        """
        if self.finished:
            return
        origin = self.origin
        request = self.request
        if (
            origin is not None
            and self._reused
            and not self._retried
            and not origin.responseStarted
            and request.framing == Framing.NONE
            and request.method in _IDEMPOTENT
        ):
            # A keep-alive connection closed by the origin just as we reused
            # it: nothing was processed, so try once on a fresh connection.
            self._retried = True
            self.origin = None
            origin.exchange = None
            self.client.setPeer(None)
            self._pool.acquire(
                self.decision.origin, self, self._connector, fresh=True
            )
            return
        self.originFailed("origin closed the connection", 502)

    def _fail(self, status: int) -> None:
        self.finished = True
        client = self.client
        client.setPeer(None)
        if self.responseStarted:
            if self._closeDelimited:
                # The client reads the body until the connection closes: a
                # clean close would present the truncated body as complete.
                client.abortConnection()
            else:
                # Content-Length or chunked framing lets the client see the
                # body is cut short: deliver what was relayed, then close.
                client.endTruncated(self)
            return
        keepAlive = self._keepAlive and self.requestComplete
        client.sendError(status, close=not keepAlive)
        client.exchangeDone(self, keepAlive)
