# -*- test-case-name: tests.test_web -*-
"""
A drop-in replacement for L{twisted.web.proxy.ReverseProxyResource} that
relays through proxykit's keep-alive pool and streams the response.

Twisted's resource speaks to the origin with the deprecated C{HTTPClient}:
one new connection per request, C{Connection: close}, repeated headers
folded, the response written as it comes with no backpressure.  This one
takes the same constructor arguments and builds the same child paths, so
switching is one import::

    from proxykit.web import ReverseProxyResource

What C{twisted.web} still decides: the request reaches L{render} only once
L{twisted.web.server.Request} has read its whole body into
C{request.content} (memory or a temporary file), so uploads are not
streamed; the response goes out through the C{Request}, which picks its
framing (it chunks a response without C{Content-Length} for HTTP/1.1
clients) and cannot send trailers or informational responses.

Inside, one L{_WebExchange} per request is the L{IExchange} a pooled
L{OriginProtocol<proxykit.relay.origin.OriginProtocol>} delivers its events to,
and one L{_RequestSide} stands for the C{twisted.web} request as the
origin connection's peer: it writes the response into the request and is
registered on it as a streaming producer, so that a client that reads
slowly pauses reading from the origin.
"""

from __future__ import annotations

from typing import IO, Any, Final
from urllib.parse import quote as urlquote
from urllib.parse import urlparse

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from .decisions import Origin
from .h1 import DEFAULT_LIMITS, Framing, Headers, Response, requestHead, splitTokens
from .policy.rewrite import forwardHeaders, framedHeaders, viaValue
from .relay.endpoints import OriginConnector
from .relay.errors import REASONS, connectFailureStatus
from .relay.flow import PEER_BLOCKED, PeerProducer
from .relay.interfaces import (
    ABANDONED,
    CONNECTING,
    DONE,
    FAILED,
    RESPONDING,
    SENT,
    ExchangeFailure,
    IExchange,
    IFlowSide,
    IOriginSide,
)
from .relay.logfields import PREFIX, RequestFields, clientText, requestFields
from .relay.origin import OriginFactory
from .relay.pool import ConnectionPool, Pooled

__all__ = ["ReverseProxyResource"]

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
"""Seconds to connect to the origin before answering 504."""
DEFAULT_RESPONSE_TIMEOUT: Final = 60.0
"""Seconds the origin may stay silent (before or within its response)."""

_PSEUDONYM: Final = b"proxykit"
_CHUNK: Final = 65536
_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
_REPLACED: Final = frozenset({b"server", b"date"})
"""Fields C{twisted.web} sets by default that the origin's replace."""
_NOT_FORWARDED: Final = frozenset({b"expect"})
"""
Request fields C{twisted.web} already acted upon: it answered any
C{100 Continue} itself and read the whole body.
"""


def _hostField(host: str, port: int) -> bytes:
    """
    The C{Host} value Twisted's resource sends: C{host}, or C{host:port}
    when the port is not 80 (an IPv6 literal in brackets).
    """
    if ":" in host:
        host = f"[{host}]"
    if port == 80:
        return host.encode("ascii")
    return f"{host}:{port}".encode("ascii")


class ReverseProxyResource(Resource):
    """
    Relays every request below it to C{host}:C{port}, under C{path}.

    A drop-in for L{twisted.web.proxy.ReverseProxyResource}: the same
    constructor arguments and attributes (C{host}, C{port}, C{path},
    C{reactor}), and the same children (L{getChild}).  Unlike Twisted's, it
    keeps origin connections alive in a pool shared by the whole resource
    tree, removes hop-by-hop fields both ways, keeps repeated fields,
    streams the response with backpressure, and answers origin failures
    with 502 or 504.

    @ivar pool: The L{ConnectionPool} of origin connections, shared with
        every child.  Close it (L{ConnectionPool.closeAll}) when the site
        stops.
    @ivar connectTimeout: Seconds to connect before answering 504.
    @ivar responseTimeout: Seconds the origin may stay silent once it has
        the request, before the response head (504) or within the body (the
        client connection is then cut).
    @ivar origin: The L{Origin} relayed to: the pool's key.
    @ivar connector: Opens origin connections (shared with every child).
    @ivar hostField: The C{Host} value sent to the origin.
    """

    _log = Logger()

    def __init__(
        self,
        host: str,
        port: int,
        path: bytes,
        reactor: Any = None,
        *,
        pool: ConnectionPool | None = None,
        connectTimeout: float = DEFAULT_CONNECT_TIMEOUT,
        responseTimeout: float = DEFAULT_RESPONSE_TIMEOUT,
    ) -> None:
        """
        @param host: The origin's host name or IP address.
        @param port: The origin's TCP port.
        @param path: The path prefix at the origin, without a trailing
            slash: with C{b"/foo"}, a request for C{/bar} below this
            resource goes to C{/foo/bar}.  Already percent-encoded.
        @param reactor: The reactor to connect with; C{None}: the global
            one.
        @param pool: The origin connection pool to use; C{None}: a new one
            for this resource and its children.
        @param connectTimeout: See L{connectTimeout}.
        @param responseTimeout: See L{responseTimeout}.
        """
        Resource.__init__(self)  # type: ignore[no-untyped-call]
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor
        self.host = host
        self.port = port
        self.path = path
        self.reactor = reactor
        self.pool = pool if pool is not None else ConnectionPool(reactor)
        self.connectTimeout = connectTimeout
        self.responseTimeout = responseTimeout
        self.origin = Origin("http", host.lower(), port)
        self.connector = OriginConnector(reactor)
        self.hostField = _hostField(host, port)

    def getChild(self, path: bytes, request: Any) -> ReverseProxyResource:
        """
        A resource relaying to the same origin, with C{path} (quoted)
        appended to this one's path, sharing its pool.
        """
        child = ReverseProxyResource(
            self.host,
            self.port,
            self.path + b"/" + urlquote(path, safe=b"").encode("utf-8"),
            self.reactor,
            pool=self.pool,
            connectTimeout=self.connectTimeout,
            responseTimeout=self.responseTimeout,
        )
        child.connector = self.connector
        return child

    def target(self, request: Any) -> bytes:
        """
        The request-target sent to the origin: this resource's path, then
        the query string of C{request} if any (as Twisted's resource builds
        it); C{/} when the path is empty.
        """
        query = urlparse(request.uri)[4]
        target: bytes = self.path + b"?" + query if query else self.path
        if not target.startswith(b"/"):
            target = b"/" + target
        return target

    def render(self, request: Any) -> object:
        """
        Relay C{request} to the origin; the response follows.
        """
        _WebExchange(self, request).start()
        return NOT_DONE_YET

    def connectOrigin(self, key: object) -> Any:
        """
        Open a new connection to the origin (used by the pool).
        """
        origin: Origin = key  # type: ignore[assignment]
        return self.connector.connect(
            origin, OriginFactory(origin, self.reactor, DEFAULT_LIMITS), self.connectTimeout
        )


@implementer(IFlowSide, IPushProducer)
class _RequestSide(PeerProducer):
    """
    The C{twisted.web} request as the origin connection's peer.

    Writes go into the request (collected between L{cork} and L{uncork}, so
    that one read from the origin is one write, one chunk); as the streaming
    producer registered on the request, it pauses the origin's reading
    while the client's connection is full.  Its own reading is the request
    body, sent from C{request.content}: the origin's connection pauses it
    (L{pauseReading}) while its write buffer is full.

    @ivar peer: The origin connection writing into this request, if any.
    @ivar writeBlocked: Whether the client's connection asked to pause.
    """

    done = False

    def __init__(self, request: Any, exchange: _WebExchange) -> None:
        self.request = request
        self.exchange = exchange
        self.transport = getattr(request, "transport", None)
        self.readPaused = 0
        self._corked: list[bytes] | None = None
        self._registered = False

    def register(self) -> None:
        """
        Register as the request's streaming producer.
        """
        self.request.registerProducer(self, True)
        self._registered = True

    def unregister(self) -> None:
        """
        Drop the registration (before finishing or dropping the request).
        """
        if self._registered:
            self._registered = False
            if self.request.channel is not None:
                self.request.unregisterProducer()

    # IFlowSide

    def send(self, data: bytes) -> None:
        if self.done:
            return
        corked = self._corked
        if corked is not None:
            corked.append(data)
        else:
            self.request.write(data)

    def cork(self) -> None:
        if self._corked is None:
            self._corked = []

    def uncork(self) -> None:
        corked = self._corked
        if corked is not None:
            self._corked = None
            if corked and not self.done:
                self.request.write(b"".join(corked))

    def setPeer(self, peer: IFlowSide | None) -> None:
        old = self.peer
        if old is not None:
            old.resumeReading(PEER_BLOCKED)
        self.peer = peer
        if peer is not None and self.writeBlocked:
            peer.pauseReading(PEER_BLOCKED)

    def setDeadline(self, seconds: float | None) -> None:
        """
        C{twisted.web} keeps the client connection's own timeout.
        """

    def cancelTimer(self) -> None:
        """
        No timer of its own.
        """

    def pauseReading(self, reason: int) -> None:
        self.readPaused |= reason

    def resumeReading(self, reason: int) -> None:
        if self.readPaused & reason:
            self.readPaused &= ~reason
            if not self.readPaused:
                self.exchange.sendBody()

    def closeAfterWrite(self) -> None:
        self.request.loseConnection()

    def closeWriteAfterWrite(self) -> None:
        self.request.loseConnection()

    # IPushProducer, called by twisted.web about the client's connection
    # (pauseProducing and resumeProducing: PeerProducer's).

    def stopProducing(self) -> None:
        self.exchange.clientLost()


@implementer(IExchange)
class _WebExchange:
    """
    Relays one C{twisted.web} request to the origin and its response back.

    It goes through the states of L{proxykit.relay.exchange.Exchange}
    (L{ExchangeState}): C{CONNECTING}, C{SENT}, C{RESPONDING}, then
    C{DONE}, C{FAILED} or C{ABANDONED}.  The request is complete from the
    start (C{twisted.web} read it whole), so its body can be sent again:
    a request that an idle pooled connection lost before any response byte
    is tried once more on a new connection when its method is idempotent.

    @ivar failure: How it failed, once it has.
    """

    _log = Logger()

    requestComplete = True
    origin: IOriginSide | None = None

    def __init__(self, resource: ReverseProxyResource, request: Any) -> None:
        self.resource = resource
        self.request = request
        self.client = _RequestSide(request, self)
        self.state = CONNECTING
        self.reached = CONNECTING
        self.failure: ExchangeFailure | None = None
        self._content: IO[bytes] | None = None
        self._retried = False
        self._reused = False
        self._head = self._buildHead()

    @property
    def finished(self) -> bool:
        return self.state >= DONE

    @property
    def responseStarted(self) -> bool:
        return self.reached is RESPONDING

    def _fields(self) -> RequestFields:
        """
        The fields naming this request in a log line (see L{PREFIX}); a
        C{twisted.web} request has no request id.
        """
        request = self.request
        address = request.getClientAddress()
        client = clientText(getattr(address, "host", ""), getattr(address, "port", 0))
        return requestFields(client, request.method, request.uri, None)

    def _buildHead(self) -> bytes:
        """
        The request head for the origin: hop-by-hop fields removed, repeated
        fields kept, C{Host} as Twisted's resource sets it, C{Via} added,
        and the body's length as C{twisted.web} read it.
        """
        request = self.request
        received: Headers = []
        for name, values in request.requestHeaders.getAllRawHeaders():
            if name.lower() in _NOT_FORWARDED:
                continue
            received.extend((name, value) for value in values)
        tokens = frozenset(splitTokens(request.requestHeaders.getRawHeaders(b"connection", [])))
        version = request.clientproto.partition(b"/")[2] or b"1.1"
        headers = forwardHeaders(
            received, tokens, viaValue(version, _PSEUDONYM), self.resource.hostField
        )
        content = request.content
        content.seek(0, 2)
        length = content.tell()
        framed = length > 0 or any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in received
        )
        headers = framedHeaders(headers, Framing.LENGTH if framed else Framing.NONE, length)
        return requestHead(request.method, self.resource.target(request), headers)

    def start(self) -> None:
        """
        Ask the pool for a connection to the origin.
        """
        self.request.notifyFinish().addErrback(self._requestLost)
        self.request.defaultContentType = None
        self.client.register()
        resource = self.resource
        resource.pool.acquire(resource.origin, self, resource.connectOrigin)

    def _requestLost(self, reason: Failure) -> None:
        self.clientLost()

    # Pool requester

    def connectionReady(self, connection: Pooled, reused: bool) -> None:
        origin: IOriginSide = connection  # type: ignore[assignment]
        if self.finished:
            if origin.reusable:
                self.resource.pool.release(connection)
            else:
                origin.close()
            return
        self.origin = origin
        self._reused = reused
        self.state = SENT
        self.reached = SENT
        client = self.client
        origin.startRequest(self, self.request.method)
        origin.setPeer(client)
        client.setPeer(origin)
        origin.setDeadline(self.resource.responseTimeout)
        origin.send(self._head)
        content = self.request.content
        content.seek(0)
        self._content = content
        self.sendBody()

    def connectionFailed(self, reason: Failure) -> None:
        if self.finished:
            return
        status, why = connectFailureStatus(reason.value)
        self._log.info(
            PREFIX + "origin connection failed: {why}",
            why=why,
            origin=str(self.resource.origin),
            **self._fields(),
        )
        self._fail(status, why)

    def sendBody(self) -> None:
        """
        Send the request body from C{request.content}, a piece at a time,
        until the origin's connection is full (it resumes this) or the body
        is all sent.
        """
        client = self.client
        while self._content is not None and not client.readPaused:
            origin = self.origin
            if origin is None or self.finished:
                self._content = None
                return
            data = self._content.read(_CHUNK)
            if not data:
                self._content = None
                return
            origin.setDeadline(self.resource.responseTimeout)
            origin.send(data)

    # From the client side

    def requestData(self, data: bytes) -> None:
        """
        Never called: C{twisted.web} read the whole body.
        """

    def requestEnd(self, trailers: Headers) -> None:
        """
        Never called: C{twisted.web} read the whole request.
        """

    def clientLost(self) -> None:
        """
        The client went away: drop the origin connection (its response is
        not complete, so it cannot serve another request).
        """
        if self.finished:
            return
        self.state = ABANDONED
        self._content = None
        self.client.done = True
        self.client.unregister()
        origin = self.origin
        if origin is not None:
            self.origin = None
            origin.detach(self)
            origin.abort()
        else:
            self.resource.pool.withdraw(self.resource.origin, self)

    # From the origin side

    def responseHead(self, response: Response) -> None:
        status = response.status
        if status < 200:
            if status == 101:
                self.originFailed("unrequested protocol switch", 502, True)
            # Other informational responses cannot go through twisted.web.
            return
        request = self.request
        headers = forwardHeaders(
            response.headers, response.connectionTokens, viaValue(response.version, _PSEUDONYM)
        )
        request.setResponseCode(status, response.reason)
        out = request.responseHeaders
        replaced: set[bytes] = set()
        for name, value in headers:
            lower = name.lower()
            if lower in _REPLACED and lower not in replaced:
                replaced.add(lower)
                out.setRawHeaders(name, [value])
            else:
                out.addRawHeader(name, value)
        self.state = self.reached = RESPONDING
        if response.keepAlive is False and self.origin is not None:
            # The origin closes after this response: not for the pool.
            self.origin.willClose = True
        # The head goes out now, not with the first body bytes.
        request.write(b"")

    def responseData(self, data: bytes) -> None:
        self.client.send(data)

    def responseEnd(self, trailers: Headers) -> None:
        """
        The response is complete: return the origin connection to the pool
        (when it can serve another request) and finish the request.
        """
        self.state = DONE
        client = self.client
        client.uncork()
        client.setPeer(None)
        client.unregister()
        client.done = True
        origin = self.origin
        self.origin = None
        if origin is not None:
            origin.detach(self)
            if not origin.willClose and origin.reusable and self._content is None:
                self.resource.pool.release(origin)  # type: ignore[arg-type]
            else:
                origin.close()
        self._content = None
        self.request.finish()

    def originActive(self) -> None:
        origin = self.origin
        if origin is not None:
            origin.setDeadline(self.resource.responseTimeout)

    def timedOut(self) -> None:
        self.originFailed("origin timed out", 504)

    def originFailed(self, reason: str, status: int, protocolError: bool = False) -> None:
        if self.finished:
            return
        self._log.info(
            PREFIX + "origin failed: {why}",
            why=reason,
            origin=str(self.resource.origin),
            **self._fields(),
        )
        origin = self.origin
        self.origin = None
        if origin is not None:
            origin.detach(self)
            origin.abort()
        self._fail(status, reason)

    def originLost(self, reason: BaseException | None = None) -> None:
        if self.finished:
            return
        origin = self.origin
        if (
            origin is not None
            and self._reused
            and not self._retried
            and not origin.responseStarted
            and self.request.method in _IDEMPOTENT
        ):
            # An idle keep-alive connection the origin closed as it was
            # reused: nothing was processed; try once on a new connection.
            self._retried = True
            self.state = CONNECTING
            self.origin = None
            self._content = None
            origin.detach(self)
            self.client.setPeer(None)
            resource = self.resource
            resource.pool.acquire(resource.origin, self, resource.connectOrigin, fresh=True)
            return
        self.originFailed("origin closed the connection", 502)

    def _fail(self, status: int, reason: str) -> None:
        """
        Answer C{status} if nothing of the response went out yet; else cut
        the client connection, so that the truncated response never looks
        complete.
        """
        self.state = FAILED
        self.failure = ExchangeFailure(status, reason, self.reached)
        self._content = None
        client = self.client
        client.setPeer(None)
        client.unregister()
        client.done = True
        request = self.request
        if self.responseStarted:
            transport = getattr(request.channel, "transport", None)
            abort = getattr(transport, "abortConnection", None)
            if abort is not None:
                abort()
            else:
                request.loseConnection()
            return
        body = b"%d %s\n" % (status, REASONS.get(status, b"Error"))
        request.setResponseCode(status)
        out = request.responseHeaders
        out.setRawHeaders(b"Content-Type", [b"text/plain; charset=utf-8"])
        out.setRawHeaders(b"Content-Length", [b"%d" % (len(body),)])
        out.setRawHeaders(b"Cache-Control", [b"no-store"])
        request.write(body)
        request.finish()
