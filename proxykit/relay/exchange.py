# -*- test-case-name: tests.test_protocol -*-
"""
One request/response relay between a client connection and an origin
connection.

This is the only place that decides between answering an error status and
ending the client connection:

  - nothing of the response sent to the client yet: answer 502 or 504
    (503 naming the route when its health checks took every origin out);
  - the response head already went out: end the client connection so that
    a truncated body is never presented as complete.  When the body's
    framing (Content-Length or chunked) lets the client see the truncation,
    what was relayed is flushed and the connection closed; when the client
    reads the body until the connection closes, it is aborted.

It also decides retries: a request that failed before any of it could have
been processed is tried again on a fresh connection (a stale keep-alive
connection) or on another origin of the route (a refused or timed-out
connect), when it is idempotent and has no body.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial
from typing import TYPE_CHECKING, ClassVar, Final

from mypy_extensions import mypyc_attr
from twisted.python.failure import Failure
from zope.interface import classImplements

from ..decisions import ClientInfo, Forward, Origin
from ..h1 import (
    Framing,
    Headers,
    Request,
    Response,
    chunkHeader,
    lastChunk,
    requestHead,
    responseHead,
)
from ..policy.rewrite import (
    decrementMaxForwards,
    forwardHeaders,
    forwardTrailers,
    framedHeaders,
)
from ..policy.vhosts import RoutePolicy
from ..reactor import NamedLogger
from .endpoints import tlsFailureReason
from .errors import connectFailureStatus, routeDownDetail
from .flow import HOOKED, NOT_CONNECTED
from .hooks import (
    HookFailed,
    Outcome,
    RelayHooks,
    ResponseEvent,
    RoutedEvent,
    Trace,
    foldAfter,
    foldResponse,
    runHooks,
)
from .interfaces import (
    ABANDONED,
    CONNECTING,
    DONE,
    FAILED,
    RESPONDING,
    SENT,
    SWITCHED,
    ExchangeFailure,
    IClientSide,
    IExchange,
    IOriginSide,
)
from .interfaces import (
    ExchangeState as ExchangeState,  # its states: see the docstring below
)
from .logfields import PREFIX, RequestFields, fieldsOf
from .pool import PoolFull

if TYPE_CHECKING:
    from .pool import ConnectionPool, Connector, Pooled

_IDEMPOTENT: Final = frozenset(
    {b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"}
)
_CRLF: Final = b"\r\n"
_NO_ORIGINS: tuple[Origin, ...] = ()

# Outcomes as module constants (see the states' in .interfaces).
_OUTCOME_RESPONDED: Final = Outcome.RESPONDED
_OUTCOME_ABANDONED: Final = Outcome.ABANDONED
_OUTCOME_FAILED: Final = Outcome.FAILED


def _text(value: bytes | None) -> str | None:
    """
    A field value for a log event, which carries plain values only.
    """
    return None if value is None else value.decode("ascii", "backslashreplace")


def upstreamHeaders(
    request: Request,
    decision: Forward,
    origin: Origin,
    client: ClientInfo,
    via: bytes,
    requestId: bytes | None,
) -> Headers:
    """
    The header fields an exchange sends to C{origin} for C{request}, routed
    to C{decision}: the route's header policy (or the plain forward-proxy
    one), C{Max-Forwards} decremented for OPTIONS and TRACE, the upgrade
    asked again of the origin, and the framing fields the body is read
    with.  Pure: C{proxykit explain} shows what it returns.

    @param client: The connection the request came on.
    @param via: This proxy's C{Via} value for the request's version.
    @param requestId: The request's id, or C{None} (none added).
    """
    policy = decision.policy
    if policy is None:
        headers = forwardHeaders(
            request.headers, request.connectionTokens, via, decision.host, requestId
        )
    else:
        headers = policy.requestHeaders(request, client, origin, decision.host, via, requestId)
    if request.maxForwards is not None and request.method in (b"OPTIONS", b"TRACE"):
        headers = decrementMaxForwards(headers)
    if request.upgrade:
        # Connection and Upgrade are hop-by-hop, but a protocol switch is
        # asked of each hop in turn: ask the origin the same.
        headers.append((b"Connection", b"upgrade"))
        headers.extend(field for field in request.headers if field[0].lower() == b"upgrade")
    if request.framing != Framing.NONE:
        # The framing sent on is the one the body is read with: both come
        # from the one decision carried by the request.
        headers = framedHeaders(headers, request.framing, request.contentLength)
    return headers


@mypyc_attr(allow_interpreted_subclasses=True)
class Exchange:
    """
    Relays one request to an origin and its response back.

    An exchange moves through these states (L{state}), in this order, and
    remembers the furthest of the first three it reached (L{reached}):

      - L{ExchangeState.CONNECTING}: an origin is being chosen and a
        connection to it asked of the pool (again after a failed attempt
        that may be retried elsewhere, or on a reused connection the origin
        closed at once).
      - L{ExchangeState.SENT}: the request head went to the origin; its body
        may still be streaming; no response head was relayed yet.
      - L{ExchangeState.RESPONDING}: the final response head went to the
        client; the body is streaming.

    and ends in one of:

      - L{ExchangeState.DONE}: the response is complete.
      - L{ExchangeState.SWITCHED}: the origin switched protocols (101); the
        connections are spliced.
      - L{ExchangeState.FAILED}: L{failure} says why, with what status, and
        how far the request got.
      - L{ExchangeState.ABANDONED}: the client went away first.

    Independently of the state, L{requestComplete} says whether the whole
    request was received from the client (its body may still stream while
    the response does).

    @ivar requestComplete: The whole request was received from the client.
    @ivar origin: The connection serving the current attempt, if any.
    @ivar failure: Why the exchange failed, once it has.
    """

    _log: ClassVar[NamedLogger] = NamedLogger("proxykit._exchange.Exchange")

    __slots__ = (
        "client",
        "request",
        "decision",
        "origin",
        "requestComplete",
        "state",
        "reached",
        "failure",
        "_pool",
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
        "_via",
        "_target",
        "_poolKey",
        "_tried",
        "_counted",
        "_policy",
        "_failStatus",
        "_failDetail",
        "_bodyLeft",
        "_lastFailure",
        "_hooks",
        "_trace",
        "_held",
        "_attempts",
        "_requestId",
    )

    def __init__(
        self,
        client: IClientSide,
        request: Request,
        decision: Forward,
        pool: ConnectionPool,
        connector: Connector,
        via: bytes,
        timeout: float,
        hooks: RelayHooks | None = None,
        trace: Trace | None = None,
        requestId: bytes | None = None,
    ) -> None:
        """
        @param hooks: The after-routing and response hooks to run, if any.
        @param trace: Where to note what becomes of the request, when a
            hook observes it.
        @param requestId: The request's id, sent to the origin as its one
            C{X-Request-Id} (L{proxykit.policy.requestid}); C{None}: ids
            are off.
        """
        self.client = client
        self.request = request
        self.decision = decision
        self.origin: IOriginSide | None = None
        self.requestComplete = False
        self.state = CONNECTING
        self.reached = CONNECTING
        self.failure: ExchangeFailure | None = None
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
        self._via = via
        self._target: Origin | None = None
        self._poolKey: Hashable = None
        self._tried = _NO_ORIGINS
        self._counted = False
        self._policy = decision.policy
        self._failStatus = 0
        self._failDetail = b""
        self._lastFailure = 0
        self._hooks = hooks
        self._trace = trace
        self._held: list[tuple[object, tuple[object, ...]]] | None = None
        self._attempts = 0
        self._requestId = requestId
        # Chunked bodies are counted against the limit as they arrive (a
        # Content-Length over it was refused before the exchange began).
        limit = client.bodyLimit
        self._bodyLeft = limit if limit and self._chunkUp else -1

    @property
    def finished(self) -> bool:
        """
        Nothing more will be done: the exchange is done, switched, failed
        or abandoned.
        """
        return self.state >= DONE

    @property
    def responseStarted(self) -> bool:
        """
        The final response head (or a 101) was written to the client.
        """
        return self.reached is RESPONDING

    def start(self) -> None:
        """
        Choose an origin and ask the pool for a connection to it.
        """
        if self.request.framing != Framing.NONE:
            # Hold the body back until there is somewhere to send it.
            self.client.pauseReading(NOT_CONNECTED)
        self._attempt(fresh=False)

    def _attempt(self, fresh: bool) -> None:
        upstream = self.decision.upstream
        target = upstream.pick(self._tried)
        if target is None:
            if not self._tried:
                # Nothing excluded and nothing to pick: the health checks
                # took every origin out (passive ejection never does).
                self._routeDown()
                return
            self._log.info(
                PREFIX + "{why}",
                why="no other origin to try",
                host=_text(self.request.host),
                **self._fields(),
            )
            # After a failed attempt, its failure is the answer: a connect
            # timeout is 504 even when no other origin is left to try.
            self._fail(self._lastFailure or 502, "no other origin to try")
            return
        self._target = target
        upstream.started(target)
        self._counted = True
        self._attempts += 1
        trace = self._trace
        if trace is not None:
            trace.attempting(target, self._attempts)
        hooks = self._hooks
        if hooks is not None and hooks.after:
            event = RoutedEvent(
                self.request,
                self.client.client,
                target,
                self._attempts,
                hooks.route,
                _text(self._requestId),
            )
            runHooks(
                hooks.after,
                event,
                foldAfter,
                hooks.clock,
                hooks.timeout,
                partial(self._routed, target, fresh),
                partial(self._hookFailed, status=500),
            )
            return
        self._pool.acquire(self._keyFor(target), self, self._connector, fresh)

    def _keyFor(self, target: Origin) -> Hashable:
        """
        The pool key of C{target}'s connections for this request: the
        origin, or for one spoken to with the PROXY protocol, the origin
        and this client (such a connection tells the origin who the client
        is, so it may only carry this client's requests).
        """
        key: Hashable = target
        if target.proxyProtocol:
            key = self.client.poolKeyFor(target)
        self._poolKey = key
        return key

    def _routed(self, target: Origin, fresh: bool, event: object) -> None:
        """
        The after-routing hooks passed the request: get its connection.
        """
        self._acquire(target, fresh)

    def _acquire(self, target: Origin, fresh: bool) -> None:
        """
        The after-routing hooks are done: ask the pool for a connection.
        """
        if not self.finished:
            trace = self._trace
            if trace is not None:
                trace.asking()
            self._pool.acquire(self._keyFor(target), self, self._connector, fresh)

    def _hookFailed(self, error: HookFailed, status: int) -> None:
        """
        A hook failed: log it by name; the client gets C{status} (500 on the
        request side, 502 on the response side) unless it is gone.
        """
        self._log.failure(
            PREFIX + "hook {hook} failed",
            error.failure,
            hook=error.hook,
            origin=str(self._target),
            **self._fields(),
        )
        if self.finished:
            return
        self._held = None
        origin = self.origin
        self.origin = None
        if origin is not None:
            origin.detach(self)
            origin.abort()
        self._fail(status, f"hook {error.hook} failed")

    def _routeDown(self) -> None:
        """
        The route has no origin up: answer 503 naming the route (by its
        configured prefix, never by anything from the request) and log it.
        """
        policy = self._policy
        request = self.request
        route = policy.prefix.decode("ascii", "replace") if isinstance(policy, RoutePolicy) else None
        self._log.warn(
            PREFIX + "route {route} is down: {reason}",
            route=route,
            vhost=_text(request.host),
            reason=_downReason(self.decision.upstream),
            **self._fields(),
        )
        if route is not None:
            self._failDetail = routeDownDetail(route)
        self._fail(503, "route down")

    def _fields(self) -> RequestFields:
        """
        The fields naming this request in a log line (see L{PREFIX}).
        """
        return fieldsOf(self.client.client, self.request, self._requestId)

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.decision.upstream.finished(self._target)  # type: ignore[arg-type]

    def _head(self, target: Origin) -> bytes:
        request = self.request
        decision = self.decision
        headers = upstreamHeaders(
            request, decision, target, self.client.client, self._via, self._requestId
        )
        return requestHead(request.method, decision.target, headers)

    # Pool requester

    def connectionReady(self, connection: Pooled, reused: bool) -> None:
        origin: IOriginSide = connection  # type: ignore[assignment]
        if self.finished:
            if origin.reusable:
                self._pool.release(origin)  # type: ignore[arg-type]
            else:
                origin.close()
            return
        self.origin = origin
        self._reused = reused
        trace = self._trace
        if trace is not None:
            trace.connected(reused)
        self.state = SENT
        if self.reached is CONNECTING:
            self.reached = SENT
        client = self.client
        request = self.request
        origin.startRequest(self, request.method, request.upgrade)
        origin.setPeer(client)
        client.setPeer(origin)
        origin.setDeadline(self._timeout)
        corking = client.corking
        if corking is not None:
            origin.cork()
            corking.append(origin)
        head = self._head(self._target)  # type: ignore[arg-type]
        pending = self._pending
        if pending:
            self._pending = None
            pending.insert(0, head)
            origin.send(b"".join(pending))
        else:
            origin.send(head)
        client.resumeReading(NOT_CONNECTED)

    def connectionFailed(self, reason: Failure) -> None:
        if self.finished:
            return
        status, why = connectFailureStatus(reason.value)
        target = self._target
        self._log.info(
            PREFIX + "origin connection failed: {why}",
            why=why,
            origin=str(target),
            **self._fields(),
        )
        self._uncount()
        if not isinstance(reason.value, PoolFull):
            # The pool's own limit says nothing of the origin's health.
            self.decision.upstream.failed(target)  # type: ignore[arg-type]
        if self._mayRetryElsewhere():
            self._lastFailure = status
            self._tried = (*self._tried, target)  # type: ignore[arg-type]
            self._attempt(fresh=False)
            return
        self._fail(status, why)

    def _mayRetryElsewhere(self) -> bool:
        policy = self._policy
        request = self.request
        return (
            policy is not None
            and len(self._tried) < policy.retries
            and request.framing == Framing.NONE
            and request.method in _IDEMPOTENT
        )

    # From the client side

    def requestData(self, data: bytes) -> None:
        """
        A piece of the request body.
        """
        trace = self._trace
        if trace is not None:
            trace.bytesIn += len(data)
        if self._bodyLeft >= 0:
            self._bodyLeft -= len(data)
            if self._bodyLeft < 0:
                self._log.info(
                    PREFIX + "{why}",
                    why="request body too large",
                    host=_text(self.request.host),
                    **self._fields(),
                )
                self.originFailed("request body too large", 413)
                return
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
        status = self._failStatus
        if status:
            self._failStatus = 0
            self._answerError(status)
            return
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
        self.state = ABANDONED
        self._held = None
        trace = self._trace
        if trace is not None:
            trace.finish(_OUTCOME_ABANDONED, None, "client went away")
        self._uncount()
        origin = self.origin
        if origin is not None:
            self.origin = None
            origin.detach(self)
            origin.abort()
        elif self._target is not None:
            # Still waiting for a connection: give up the place in the
            # origin's queue.
            self._pool.withdraw(self._poolKey, self)

    # From the origin side

    def responseHead(self, response: Response) -> None:
        """
        A response head from the origin, informational or final.
        """
        if self._held is not None:
            self._held.append((self.responseHead, (response,)))
            return
        status = response.status
        request = self.request
        client = self.client
        if status < 200:
            if status == 101:
                if request.upgrade:
                    self._switchProtocols(response)
                else:
                    self.originFailed("unrequested protocol switch", 502, True)
            elif request.version == b"1.1":
                headers = forwardHeaders(
                    response.headers, response.connectionTokens, client.viaFor(response.version)
                )
                client.send(responseHead(status, response.reason, headers))
            return
        self.decision.upstream.succeeded(self._target)  # type: ignore[arg-type]
        headers = forwardHeaders(
            response.headers, response.connectionTokens, client.viaFor(response.version)
        )
        policy = self._policy
        if policy is not None:
            headers = policy.responseHeaders(headers, request, self._target)  # type: ignore[arg-type]
        hooks = self._hooks
        if hooks is not None and hooks.response:
            # The framing fields are the proxy's: hooks neither see nor set
            # them.
            framing = [field for field in headers if field[0].lower() == b"content-length"]
            if framing:
                headers = [field for field in headers if field[0].lower() != b"content-length"]
            event = ResponseEvent(
                request,
                client.client,
                self._target,  # type: ignore[arg-type]
                status,
                response.reason,
                headers,
                _text(self._requestId),
            )
            runHooks(
                hooks.response,
                event,
                foldResponse,
                hooks.clock,
                hooks.timeout,
                partial(self._rewritten, response=response, framing=framing),
                partial(self._hookFailed, status=502),
                self._hold,
            )
            return
        self._sendHead(response, headers)

    def _hold(self) -> None:
        """
        A response hook takes its time: hold the origin's further events
        (and its reading) until the head is out.
        """
        self._held = []
        origin = self.origin
        if origin is not None:
            origin.pauseReading(HOOKED)
            origin.setDeadline(None)

    def _rewritten(self, event: ResponseEvent, response: Response, framing: Headers) -> None:
        """
        The response hooks are done: send the head they left, then what the
        origin sent meanwhile, if they held it.
        """
        if self.finished:
            return
        held = self._held
        self._sendHead(response, event.headers + framing)
        if held is None:
            return
        self._held = None
        origin = self.origin
        if origin is not None:
            origin.setDeadline(self._timeout)
            origin.resumeReading(HOOKED)
        client = self.client
        client.cork()
        try:
            for method, args in held:
                method(*args)  # type: ignore[operator]
        finally:
            client.uncork()

    def _sendHead(self, response: Response, headers: Headers) -> None:
        """
        Send the final response head with C{headers} and the framing and
        connection fields this proxy decides.
        """
        request = self.request
        client = self.client
        status = response.status
        keepAlive = self._keepAlive and not (client.closing or client.draining)
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
        self.state = self.reached = RESPONDING
        trace = self._trace
        if trace is not None:
            trace.responded(status)
        client.send(responseHead(status, response.reason, headers))
        if response.keepAlive is False and self.origin is not None:
            # The origin will close; nothing to return to the pool.
            self.origin.willClose = True

    def _switchProtocols(self, response: Response) -> None:
        """
        The origin accepted the client's Upgrade: answer 101 and splice the
        two connections.
        """
        client = self.client
        origin = self.origin
        assert origin is not None
        self.decision.upstream.succeeded(self._target)  # type: ignore[arg-type]
        headers = forwardHeaders(
            response.headers, response.connectionTokens, client.viaFor(response.version)
        )
        headers.append((b"Connection", b"upgrade"))
        headers.extend(field for field in response.headers if field[0].lower() == b"upgrade")
        client.send(responseHead(101, response.reason, headers))
        trace = self._trace
        if trace is not None:
            trace.responded(101)
        self.reached = RESPONDING
        self.state = SWITCHED
        self._uncount()
        self.origin = None
        origin.detach(self)
        origin.setDeadline(None)
        client.switchProtocols(self, origin)

    def originActive(self) -> None:
        """
        Bytes arrived from the origin: restart the response timeout.
        """
        origin = self.origin
        if origin is not None:
            origin.setDeadline(self._timeout)

    def timedOut(self) -> None:
        """
        Nothing moved for the response timeout.  When the request is not
        complete, the origin took everything the client sent (its connection
        is not blocked on writes) and the client is not waiting for a
        C{100 Continue}, it is the client that stopped sending: answer it
        408, and do not hold it against the origin.
        """
        if self._held is not None:
            self._held.append((self.timedOut, ()))
            return
        if self.finished:
            return
        origin = self.origin
        if (
            self.requestComplete
            or self.responseStarted
            or origin is None
            or origin.writeBlocked
            or (self.request.expectContinue and not origin.responseStarted)
        ):
            self.originFailed("origin timed out", 504)
            return
        self._log.info(
            PREFIX + "{why}",
            why="client stopped sending its request body",
            origin=str(self._target),
            **self._fields(),
        )
        self.origin = None
        origin.detach(self)
        origin.abort()
        # Nothing of a response was sent and the request has a body: _fail
        # answers 408 at once.
        self._fail(408, "client stopped sending")

    def responseData(self, data: bytes) -> None:
        """
        A piece of the response body.
        """
        if self._held is not None:
            self._held.append((self.responseData, (data,)))
            return
        trace = self._trace
        if trace is not None:
            trace.bytesOut += len(data)
        if self._chunkDown:
            data = b"".join((chunkHeader(len(data)), data, _CRLF))
        self.client.send(data)

    def responseEnd(self, trailers: Headers) -> None:
        """
        The response is complete.
        """
        if self._held is not None:
            self._held.append((self.responseEnd, (trailers,)))
            return
        client = self.client
        if self._chunkDown:
            client.send(lastChunk(forwardTrailers(trailers, self._responseTokens)))
        self.state = DONE
        self._uncount()
        origin = self.origin
        self.origin = None
        client.setPeer(None)
        if origin is not None:
            # No deadline reset: release() sets the idle expiry, and a closed
            # connection drops its timer.
            origin.detach(self)
            if self.requestComplete and not origin.willClose and origin.reusable:
                self._pool.release(origin)  # type: ignore[arg-type]
            else:
                origin.close()
        trace = self._trace
        if trace is not None:
            trace.finish(_OUTCOME_RESPONDED)
        client.exchangeDone(self, self._keepAlive and self.requestComplete)

    def originFailed(self, reason: str, status: int, protocolError: bool = False) -> None:
        """
        The origin timed out or sent something malformed.
        """
        if self._held is not None:
            self._held.append((self.originFailed, (reason, status, protocolError)))
            return
        if self.finished:
            return
        self._log.info(
            PREFIX + "origin failed: {why}",
            why=reason,
            origin=str(self._target),
            **self._fields(),
        )
        if status == 504 and not self.responseStarted:
            # Passive health: an origin that says nothing is taken out.
            self.decision.upstream.failed(self._target)  # type: ignore[arg-type]
        origin = self.origin
        self.origin = None
        if origin is not None:
            origin.detach(self)
            origin.abort()
        self._fail(status, reason)

    def originLost(self, reason: BaseException | None = None) -> None:
        """
        The origin connection closed before the response was complete.

        @param reason: Why, if known (a TLS alert from the origin, say: an
            origin that rejects the client certificate under TLS 1.3 says
            so only after the handshake).
        """
        if self._held is not None:
            self._held.append((self.originLost, (reason,)))
            return
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
            self.state = CONNECTING
            self.origin = None
            origin.detach(self)
            self.client.setPeer(None)
            self._uncount()
            self._attempt(fresh=True)
            return
        why = tlsFailureReason(reason)
        if why is not None:
            self.originFailed(f"origin TLS connection failed: {why}", 502)
            return
        self.originFailed("origin closed the connection", 502)

    def _fail(self, status: int, reason: str) -> None:
        self.state = FAILED
        self.failure = ExchangeFailure(status, reason, self.reached)
        trace = self._trace
        if trace is not None:
            trace.error(status, reason, self.reached)
            # The status the client got: this one, unless a response head
            # already went out (the connection is cut).
            trace.finish(_OUTCOME_FAILED, None if self.responseStarted else status, reason)
        self._uncount()
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
        if not self.requestComplete and self.request.framing == Framing.NONE:
            # Failed before the end of this bodiless request was read (no
            # origin available): answer once it is, and keep the connection.
            self._failStatus = status
            return
        self._answerError(status)

    def _answerError(self, status: int) -> None:
        keepAlive = self._keepAlive and self.requestComplete
        client = self.client
        client.sendError(status, close=not keepAlive, detail=self._failDetail)
        client.exchangeDone(self, keepAlive)


classImplements(Exchange, IExchange)


def _downReason(upstream: object) -> str:
    """
    Why a route has no origin to pick, for the log: its origin group's own
    words (L{OriginGroup.downReason}), else the health checks'.
    """
    from ..policy.balance import OriginGroup

    if isinstance(upstream, OriginGroup):
        return upstream.downReason()
    return "no origin of the route passes its health checks"
