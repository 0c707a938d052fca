# -*- test-case-name: tests.test_protocol -*-
"""
The client-facing protocol and the factory both proxy modes share.

L{ProxyProtocol} is a thin shell: bytes go into a server-role
L{H1Connection}; each request head goes to the router, whose decision starts
an L{Exchange} (forward to an origin), a tunnel (CONNECT) or an error answer.
Only the router differs between forward and reverse mode.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Hashable
from functools import partial
from typing import TYPE_CHECKING, ClassVar, Final, cast

import attrs
from mypy_extensions import mypyc_attr
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IHalfCloseableProtocol,
    IHandshakeListener,
    ISSLTransport,
)
from twisted.internet.protocol import connectionDone
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from zope.interface import classImplements

from ..decisions import (
    ClientInfo,
    Decision,
    Forward,
    Origin,
    Refuse,
    Respond,
    Tunnel,
)
from ..h1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    Framing,
    H1Connection,
    Headers,
    ProtocolError,
    Request,
    responseHead,
)
from ..policy.vhosts import RoutePolicy
from ..reactor import NamedLogger
from .errors import connectFailureStatus, errorResponse, reasonPhrase
from .exchange import Exchange
from .flow import AUTHENTICATING, NOT_CONNECTED, PIPELINE, Side
from .gate import IConnectionGate, IGatedConnection
from .hooks import (
    HookFailed,
    Outcome,
    RelayHooks,
    Routed,
    RoutedEvent,
    Trace,
    foldAfter,
    runHooks,
)
from .interfaces import IClientSide, IExchange, IFlowSide, IOriginSide
from .logfields import PREFIX, fieldsOf
from .pool import PrivateKey
from .proxyheader import proxyHeader
from .splice import Splice, TunnelProtocol, connectTunnel

if TYPE_CHECKING:
    from twisted.internet.interfaces import ITransport

    from .factory import ProxyFactory



def _serverName(transport: object) -> str | None:
    """
    The server name a TLS client sent (SNI), lower case, or C{None}.
    """
    getHandle = getattr(transport, "getHandle", None)
    handle = getHandle() if getHandle is not None else None
    getName = getattr(handle, "get_servername", None)
    name = getName() if getName is not None else None
    if not isinstance(name, bytes):
        return None
    try:
        return name.decode("ascii").lower().rstrip(".") or None
    except UnicodeDecodeError:
        return None


def wrappedAddress(address: IAddress) -> IAddress | None:
    """
    An address as a wrapping transport reports it (from a PROXY protocol
    header), its IP literal in canonical form.

    @return: The address (a new one if its literal was not canonical), or
        C{None} if its host is not an IP address of its family: Twisted's
        PROXY version 1 parser passes on any text.
    """
    if not isinstance(address, (IPv4Address, IPv6Address)):
        return address
    host = address.host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version != (6 if isinstance(address, IPv6Address) else 4):
        return None
    canonical = ip.compressed
    if canonical == host:
        return address
    return type(address)(address.type, canonical, address.port)


_ESTABLISHED: Final = b"HTTP/1.1 200 Connection established\r\n\r\n"
_DECISIONS: Final = frozenset({Forward, Tunnel, Refuse, Respond})
"""The kinds of L{Decision} (anything else from admission is a Deferred)."""
_ANSWER_FRAMING: Final = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_ANSWERED: Final = Outcome.ANSWERED
"""An enum member as a module constant (see L{proxykit.relay.exchange})."""
"""Fields of a L{Respond} this proxy sets itself: the body is framed by its
length, and the connection's fate is the proxy's to say."""


class _Waiting:
    """
    Stands in for an exchange while a request is answered without an origin
    (a refusal) or while a tunnel is being opened: it takes the end of the
    request and ignores any body.
    """

    __slots__ = ("requestComplete", "_onEnd")

    def __init__(self, onEnd: object = None) -> None:
        self.requestComplete = False
        self._onEnd = onEnd

    def requestData(self, data: bytes) -> None:
        pass

    def requestEnd(self, trailers: Headers) -> None:
        self.requestComplete = True
        if callable(self._onEnd):
            self._onEnd()

    def clientLost(self) -> None:
        pass


@mypyc_attr(allow_interpreted_subclasses=True)
class ProxyProtocol(Side):
    """
    One client connection.

    It is idle (see L{IConnectionGate.idle}) from when it is made (for TLS:
    from the end of the handshake) until the first bytes of a request, and
    again after a keep-alive response when nothing of the next request has
    been received; busy otherwise.  Its listener's gate, if any, is told of
    each change.

    @ivar client: What the router may know about this connection.
    @ivar closing: The connection will close after the current response.
    """

    _log: ClassVar[NamedLogger] = NamedLogger("proxykit.protocol.ProxyProtocol")
    closing = False
    _headTimed = False
    bodyLimit = 0
    """The largest request body allowed (0: no limit)."""
    gate: IConnectionGate | None = None
    """The listener's connection cap, if it has one."""
    _idle = False
    """No request is in progress and nothing of the next one was received."""
    _peerUnread = False
    """The client's address may be known only from the first bytes (the
    transport wraps another, as for the PROXY protocol)."""
    client: ClientInfo
    corking: list[IFlowSide] | None = None
    """While handling one read: the origin sides whose writes are held."""
    _serverNameUnread = False
    _handshaking = False
    """A TLS handshake is under way: nothing can be written or closed
    cleanly until it completes."""
    _trace: Trace | None = None
    """The current (or last) request's record, kept when a hook observes."""
    draining = False
    """The proxy is stopping: no request after the current one."""
    _requestId: bytes | None = None
    """The current (or last) request's id (L{proxykit.policy.requestid})."""
    _request: Request | None = None
    """The current (or last) request's head, for log lines."""
    _privateKeys: dict[Origin, PrivateKey] | None = None
    """The pool keys of this connection's requests to origins spoken to
    with the PROXY protocol, by origin (L{poolKeyFor})."""

    def __init__(self, factory: ProxyFactory) -> None:
        self.factory = factory
        self._factory = factory
        self.bodyLimit = factory.config.limits.maxBodyBytes
        self._clock = factory.reactor
        self._conn = H1Connection(True, factory.limits)
        self._exchange: Exchange | _Waiting | None = None
        self._splice: Splice | None = None
        self._processing = False
        self._readClosed = False

    # Connection lifecycle

    def connectionMade(self) -> None:
        Side.connectionMade(self)
        transport = self.transport
        assert transport is not None
        self._factory.noteListener(transport)
        self.client = self._clientInfo(transport, transport.getPeer(), transport.getHost())
        # A wrapping transport may learn the client's address from the
        # stream: Twisted's PROXY protocol wrapper connects this protocol
        # before the PROXY header arrives, and answers getPeer() with the
        # header's address only once it has read it, before passing on any
        # byte.  The address is read again at the first bytes.
        self._peerUnread = isinstance(transport, ProtocolWrapper)
        if ISSLTransport.providedBy(transport):
            # The handshake may still be under way: the server name is read
            # at the first request (see _startRequest).
            self._serverNameUnread = True
            # The handshake is the start of the first request's head: it
            # must be over within the header timeout (a client that stalls
            # in it holds a connection, as a slow head would).
            self._handshaking = True
            self.setDeadline(self._factory.config.timeouts.header)
            gate = self.gate
            if gate is not None:
                gate.busy(cast(IGatedConnection, self))
            return
        self.setDeadline(self._factory.config.timeouts.idle)
        self._becomeIdle()

    def _clientInfo(self, transport: ITransport, peer: IAddress, local: IAddress) -> ClientInfo:
        """
        What the router may know about the connection on C{transport},
        between C{peer} and C{local}.
        """
        gate = self.gate
        client = self._factory.clientInfo(peer, local, gate.name if gate is not None else "")
        if ISSLTransport.providedBy(transport):
            client = attrs.evolve(client, secure=True)
        return client

    def handshakeCompleted(self) -> None:
        """
        The TLS handshake is over: until a request begins, the connection is
        idle.
        """
        self._handshaking = False
        if not self._headTimed and self._exchange is None and not self.closing:
            self.setDeadline(self._factory.config.timeouts.idle)
            self._becomeIdle()

    # Idle or busy (IGatedConnection)

    def gatedBy(self, gate: IConnectionGate) -> None:
        """
        Tell C{gate} when this connection becomes idle or busy, and when it
        closes.
        """
        self.gate = gate

    def shed(self) -> None:
        """
        Close this idle connection to make room for a new client.
        """
        self.gate = None
        self._idle = False
        self.closing = True
        self.closeAfterWrite()

    def drain(self) -> None:
        """
        The proxy is stopping: finish the current response or tunnel, then
        close; serve no further request.  (An idle connection is shed by its
        gate instead.)
        """
        self.draining = True

    def _becomeIdle(self) -> None:
        self._idle = True
        # Keep nothing of the last request while idle: its head, fields and
        # id would otherwise stay as long as the connection (a sixth of
        # what an idle keep-alive connection holds).
        self._request = None
        self._requestId = None
        self._trace = None
        self._conn.forgetMessage()
        gate = self.gate
        if gate is not None:
            gate.idle(cast(IGatedConnection, self))

    def _becomeBusy(self) -> None:
        """
        The first bytes of a request arrived.
        """
        self._idle = False
        if self._peerUnread:
            self._peerUnread = False
            if not self._readPeer():
                return
        gate = self.gate
        if gate is not None:
            gate.busy(cast(IGatedConnection, self))

    def dataReceived(self, data: bytes) -> None:
        if self._idle:
            self._becomeBusy()
        splice = self._splice
        if splice is not None:
            splice.fromClient(data)
            return
        if self.closing:
            return
        if not self._headTimed and self._exchange is None:
            # A request head has begun: it must be complete in time
            # (slowloris), whatever the idle timeout.
            self._headTimed = True
            self.setDeadline(self._factory.config.timeouts.header)
        self._conn.receiveData(data)
        # Writes to origins are collected per read and sent once.
        corking: list[IFlowSide] = []
        self.corking = corking
        try:
            self._process()
        finally:
            self.corking = None
            for side in corking:
                side.uncork()

    def readConnectionLost(self) -> None:
        splice = self._splice
        if splice is not None:
            splice.clientEnded()
            return
        self._readClosed = True
        exchange = self._exchange
        if exchange is not None and not exchange.requestComplete:
            # The request will never be complete.
            exchange.clientLost()
            self._exchange = None
            self.closeAfterWrite()
        elif exchange is None and not self._conn.hasEvents():
            self.closeAfterWrite()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.cancelTimer()
        self._idle = False
        if self._privateKeys is not None:
            # Origin connections that carry this client's address serve no
            # one else: close the idle ones now.
            self._factory.pool.closeIdle(self._privateKeys.values())
        gate = self.gate
        if gate is not None:
            self.gate = None
            gate.closed(cast(IGatedConnection, self))
        splice = self._splice
        if splice is not None:
            splice.lost()
            return
        exchange = self._exchange
        if exchange is not None:
            self._exchange = None
            exchange.clientLost()
        trace = self._trace
        if trace is not None and not trace.done:
            # Held for a decision, or waiting for a tunnel.
            trace.finish(Outcome.ABANDONED, None, "client went away")

    def timedOut(self) -> None:
        splice = self._splice
        if splice is not None:
            splice.timedOut()
            return
        if self.closing or self._handshaking:
            # A closing connection whose client did not take the rest of
            # its bytes in time, or a TLS handshake that never completed
            # (which TLS cannot close cleanly).
            self.abortConnection()
            return
        if self._exchange is None:
            # Idle keep-alive connection, or a head that never completed:
            # close, and abort if the client does not let the close finish
            # within the idle timeout.
            self.closing = True
            self.setDeadline(self._factory.config.timeouts.idle)
            if self._conn.inMessage:
                self._request = None
                self._requestId = self._factory.requestIds.fresh()
                self.sendError(408, close=True)
                hooks = self._factory.hooks
                if hooks.observing:
                    trace = Trace(hooks, None, self.client, self._clock, self._requestId)
                    trace.error(408, "request head not complete in time")
                    trace.finish(Outcome.FAILED, 408, "request head not complete in time")
            else:
                self.closeAfterWrite()

    def _readPeer(self) -> bool:
        """
        Read the client's address again from a wrapping transport, now that
        bytes flow (see L{connectionMade}); close the connection if it is
        not an IP address.

        @return: Whether the connection goes on.
        """
        transport = self.transport
        assert transport is not None
        peer = wrappedAddress(transport.getPeer())
        local = wrappedAddress(transport.getHost())
        if peer is None or local is None:
            self._log.info(
                PREFIX + "bad PROXY header: {why}",
                why="not an IP address",
                **fieldsOf(self.client, None, None),
            )
            self.abortConnection()
            return False
        self.client = self._clientInfo(transport, peer, local)
        return True

    # Requests

    def _process(self) -> None:
        if self._processing:
            return
        self._processing = True
        conn = self._conn
        try:
            while not self.closing:
                exchange = self._exchange
                if exchange is not None and exchange.requestComplete:
                    # Do not read a pipelined request before this response is
                    # done; what was already read waits here, bounded by one
                    # read.
                    if conn.hasEvents() or conn.upgradePending:
                        self.pauseReading(PIPELINE)
                    return
                try:
                    event = conn.nextEvent()
                except ProtocolError as e:
                    self._protocolError(e)
                    return
                if event is NEED_DATA:
                    if exchange is None and self._readClosed:
                        self.closeAfterWrite()
                    return
                kind = type(event)
                if kind is Data:
                    exchange.requestData(event.data)  # type: ignore[union-attr]
                elif kind is EndOfMessage:
                    exchange.requestEnd(event.trailers)  # type: ignore[union-attr]
                else:
                    self._startRequest(event)  # type: ignore[arg-type]
        finally:
            self._processing = False

    def _startRequest(self, request: Request) -> None:
        factory = self._factory
        self._headTimed = False
        if self._serverNameUnread:
            # Application data comes only after the handshake: the client's
            # server name is known by now.
            self._serverNameUnread = False
            self.client = attrs.evolve(self.client, serverName=_serverName(self.transport))
        requestId = factory.requestIds.choose(request.requestId, self.client.peerHost)
        self._requestId = requestId
        self._request = request
        admission = factory.admission
        hooks = admission.hooks
        self._trace = (
            Trace(hooks, request, self.client, self._clock, requestId) if hooks.observing else None
        )
        decision = admission.admit(request, self.client, requestId)
        kind = type(decision)
        if kind not in _DECISIONS:
            if kind is not Routed:
                # Not decided yet: its credentials are being checked, or a
                # hook takes its time.
                self._hold(request, decision)  # type: ignore[arg-type]
                return
            # A hook rewrote the head.
            request, decision = decision.request, decision.decision  # type: ignore[union-attr]
        self._dispatch(request, decision)  # type: ignore[arg-type]

    def _hold(self, request: Request, deciding: Deferred[Decision | Routed]) -> None:
        """
        Hold C{request} (and what follows it) until its decision comes (its
        credentials are being checked, or a hook takes its time).
        """
        held = _Waiting()
        held.requestComplete = True
        self._exchange = held
        self.setDeadline(self._factory.config.timeouts.response)
        self.pauseReading(AUTHENTICATING)
        deciding.addCallback(self._decided, held, request)

    def _decided(self, decision: Decision | Routed, held: _Waiting, request: Request) -> None:
        """
        The decision on the held C{request} came: dispatch it, and go on
        with what followed it.
        """
        if self._exchange is not held or self.transport is None:
            return
        self._exchange = None
        self.resumeReading(AUTHENTICATING)
        if type(decision) is Routed:
            self._dispatch(decision.request, decision.decision)
        else:
            self._dispatch(request, decision)  # type: ignore[arg-type]
        self._process()

    def _dispatch(self, request: Request, decision: Decision) -> None:
        factory = self._factory
        kind = type(decision)
        if kind is Forward:
            self.setDeadline(None)
            forward = cast(Forward, decision)
            relay = None
            if factory.admission.hooks.relaying or (
                self._trace is not None and isinstance(forward.policy, RoutePolicy)
            ):
                # The route's own hooks, and its name for the record.
                relay = self._routeHooks(forward)
            exchange = Exchange(
                self,
                request,
                forward,
                factory.pool,
                factory.connectOrigin,
                factory.via[request.version],
                factory.config.timeouts.response,
                relay,
                self._trace,
                self._requestId,
            )
            self._exchange = exchange
            exchange.start()
        elif kind is Tunnel:
            self._openTunnel(request, cast(Tunnel, decision))
        elif kind is Respond:
            self._respond(request, cast(Respond, decision))
        else:
            self._refuse(request, cast(Refuse, decision))

    def _routeHooks(self, forward: Forward) -> RelayHooks | None:
        """
        The hooks for a request routed to C{forward}: its route's, if the
        route has its own (L{Hooks.forRoute}), else the proxy's.  The
        record follows them.
        """
        factory = self._factory
        hooks = factory.hooks
        route = None
        policy = forward.policy
        if isinstance(policy, RoutePolicy):
            route = policy.prefix.decode("ascii", "replace")
            if policy.hooks is not None:
                hooks = policy.hooks
        trace = self._trace
        if trace is not None:
            trace.hooks = hooks
            trace.route = route
        if not factory.hooks.relaying:
            return None
        return RelayHooks(
            hooks,
            self._clock,
            factory.hooks.waitLimit(factory.config.timeouts.response),
            route,
        )

    def _refuse(self, request: Request, refusal: Refuse) -> None:
        """
        Answer C{request} with the refusal's status; keep the connection
        only when nothing unread of the request could follow.
        """
        self._log.info(
            PREFIX + "refused: {why}",
            why=refusal.reason,
            status=refusal.status,
            **fieldsOf(self.client, request, self._requestId),
        )
        if (
            request.framing != Framing.NONE
            or request.method == b"CONNECT"
            or not request.keepAlive
            # 400: the request makes no sense to a forward proxy (an
            # origin-form target, a malformed one); the client is not
            # speaking to us as a proxy, so what follows cannot be
            # trusted either.
            or refusal.status == 400
            or refusal.status == 413
            or self.draining
        ):
            self._exchange = _Waiting()
            self.sendError(refusal.status, close=True, headers=refusal.headers)
        else:
            self.sendError(refusal.status, close=False, headers=refusal.headers)
            waiting = _Waiting()
            waiting._onEnd = partial(self.exchangeDone, waiting, True)
            self._exchange = waiting
        trace = self._trace
        if trace is not None:
            if refusal.status >= 500:
                trace.error(refusal.status, refusal.reason)
                trace.finish(Outcome.FAILED, refusal.status, refusal.reason)
            else:
                trace.finish(Outcome.REFUSED, refusal.status, refusal.reason)

    def _respond(self, request: Request, answer: Respond) -> None:
        """
        Answer C{request} here (see L{Respond}).
        """
        keepAlive = request.keepAlive and request.framing == Framing.NONE and not self.draining
        headers = [
            field for field in answer.headers if field[0].lower() not in _ANSWER_FRAMING
        ]
        body = answer.body
        if request.method == b"HEAD":
            # The length of the body a GET would get; none is sent.
            headers.append((b"Content-Length", b"%d" % len(body)))
            body = b""
        elif answer.status >= 200 and answer.status not in (204, 304):
            headers.append((b"Content-Length", b"%d" % len(body)))
        else:
            body = b""
        if not keepAlive:
            headers.append((b"Connection", b"close"))
        reason = reasonPhrase(answer.status)
        self.send(responseHead(answer.status, reason, headers) + body)
        waiting = _Waiting()
        waiting._onEnd = partial(self.exchangeDone, waiting, keepAlive)
        self._exchange = waiting
        trace = self._trace
        if trace is not None:
            trace.bytesOut = len(body)
            trace.responded(answer.status)
            trace.finish(_ANSWERED)

    def _protocolError(self, error: ProtocolError) -> None:
        exchange = self._exchange
        if exchange is None:
            # In a new head: no request and no id yet (a body's framing
            # error is the current request's).
            self._request = None
            self._requestId = self._factory.requestIds.fresh()
        self._log.info(
            PREFIX + "bad request: {why}",
            why=error.reason,
            status=error.status,
            **fieldsOf(self.client, self._request, self._requestId),
        )
        hooks = self._factory.hooks
        if hooks.observing:
            trace = self._trace
            if trace is None or trace.done:
                trace = Trace(hooks, None, self.client, self._clock, self._requestId)
            trace.error(error.status, error.reason)
            trace.finish(Outcome.BAD_REQUEST, error.status, error.reason)
        if exchange is not None and not exchange.requestComplete:
            # Broken framing in the middle of a request body.
            self._exchange = None
            started = isinstance(exchange, Exchange) and exchange.responseStarted
            exchange.clientLost()
            if started:
                self.abortConnection()
                return
        self.sendError(error.status, close=True)

    def exchangeDone(self, exchange: object, keepAlive: bool) -> None:
        """
        The response to the current request is complete.

        @param keepAlive: Whether the connection may serve another request.
        """
        if exchange is not self._exchange:
            return
        self._exchange = None
        if not keepAlive or self.draining:
            self.closing = True
            self.closeAfterWrite()
            return
        self.setDeadline(self._factory.config.timeouts.idle)
        # A request that asked to switch protocols got an ordinary answer.
        self._conn.refuseUpgrade()
        self.resumeReading(PIPELINE)
        self._process()
        self._idleIfQuiet()

    def _idleIfQuiet(self) -> None:
        """
        Become idle if no request is in progress and nothing of the next one
        was received.

        A method of its own: after L{_process}, C{self._exchange} may be
        anything, whatever its caller last stored in it (the compiled build
        trusts the type the caller's code last gave an attribute).
        """
        conn = self._conn
        if (
            self._exchange is None
            and self._splice is None
            and not self.closing
            and not self._readClosed
            and not conn.inMessage
            and not conn.hasEvents()
        ):
            # Between requests with nothing of the next one received.
            self._becomeIdle()

    # Tunnels

    def _openTunnel(self, request: Request, tunnel: Tunnel) -> None:
        self.setDeadline(None)
        self.pauseReading(NOT_CONNECTED)
        waiting = _Waiting()
        self._exchange = waiting
        factory = self._factory
        target = Origin("http", tunnel.host, tunnel.port, forward=True)
        trace = self._trace
        if trace is not None:
            trace.origin = target
            trace.attempts = 1
        hooks = factory.hooks
        if hooks.relaying and hooks.hooks("after"):
            timeout = hooks.waitLimit(factory.config.timeouts.response)
            requestId = self._requestId
            event = RoutedEvent(
                request,
                self.client,
                tunnel.parent or target,
                requestId=None if requestId is None else requestId.decode("ascii"),
            )
            runHooks(
                hooks.hooks("after"),
                event,
                foldAfter,
                self._clock,
                timeout,
                partial(self._tunnelHooked, request, tunnel, waiting),
                partial(self._tunnelHookFailed, waiting),
            )
            return
        self._connectTunnel(request, tunnel, waiting)

    def _tunnelHooked(
        self, request: Request, tunnel: Tunnel, waiting: _Waiting, folded: object
    ) -> None:
        """
        The after-routing hooks of a CONNECT passed it: connect its tunnel.
        """
        self._connectTunnel(request, tunnel, waiting)

    def _tunnelHookFailed(self, waiting: _Waiting, error: HookFailed) -> None:
        """
        An after-routing hook of a CONNECT failed: 500, logged by its name.
        """
        self._log.failure(
            PREFIX + "hook {hook} failed",
            error.failure,
            hook=error.hook,
            **fieldsOf(self.client, self._request, self._requestId),
        )
        if self._exchange is not waiting:
            return
        reason = f"hook {error.hook} failed"
        trace = self._trace
        if trace is not None:
            trace.error(500, reason)
            trace.finish(Outcome.FAILED, 500, reason)
        self.sendError(500, close=True)

    def _connectTunnel(self, request: Request, tunnel: Tunnel, waiting: _Waiting) -> None:
        if self._exchange is not waiting or self.transport is None:
            return
        factory = self._factory
        d = connectTunnel(factory.connector, factory.reactor, tunnel, factory.config.timeouts.connect)
        d.addCallbacks(
            self._tunnelConnected,
            self._tunnelFailed,
            callbackArgs=(request, waiting),
            errbackArgs=(request, waiting),
        )

    def _tunnelConnected(
        self, result: tuple[TunnelProtocol, bytes], request: Request, waiting: _Waiting
    ) -> None:
        """
        C{request}'s tunnel is connected: splice it to this connection, if
        C{waiting} still is this connection's exchange.
        """
        factory = self._factory
        origin, early = result
        if self._exchange is not waiting or self.transport is None:
            origin.closeAfterWrite()
            return
        self._exchange = None
        self._splice = splice = Splice(
            self,
            origin,
            factory.config.timeouts.tunnelIdle,
            self._tunnelOpened("connect", request, 200),
        )
        self.send(_ESTABLISHED)
        if early:
            splice.fromOrigin(early)
        rest = self._conn.trailingData
        if rest:
            splice.fromClient(rest)
        if self._readClosed:
            splice.clientEnded()
        self.resumeReading(NOT_CONNECTED)

    def _tunnelFailed(self, reason: Failure, request: Request, waiting: _Waiting) -> None:
        """
        C{request}'s tunnel could not be connected: answer with the status
        that says why.
        """
        if self._exchange is not waiting:
            return
        status, why = connectFailureStatus(reason.value)
        self._log.info(
            PREFIX + "tunnel failed: {why}",
            why=why,
            status=status,
            **fieldsOf(self.client, request, self._requestId),
        )
        self.sendError(status, close=True)
        trace = self._trace
        if trace is not None:
            trace.error(status, why)
            trace.finish(Outcome.FAILED, status, why)

    def _tunnelOpened(
        self, kind: str, request: Request, status: int
    ) -> Callable[[Splice, str], None] | None:
        """
        A tunnel of C{kind} (C{"connect"}, C{"upgrade"}) opens for
        C{request}: tell the observers; what to call when it closes.
        """
        trace = self._trace
        if trace is None:
            return None
        return trace.tunnelOpened(kind, request, status)

    # Used by exchanges

    def viaFor(self, version: bytes) -> bytes:
        """
        The C{Via} value for a message received with C{version}.
        """
        return self._factory.via[version]

    def sendError(
        self,
        status: int,
        close: bool,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        detail: bytes = b"",
    ) -> None:
        """
        Answer a fixed error response; close afterwards if C{close}.
        C{detail} is a fixed body line (see L{errorResponse}).  The current
        request's id, if any, is in its body and its C{X-Request-Id}.
        """
        transport = self.transport
        if transport is None:
            return
        close = close or self.draining
        self.send(errorResponse(status, close, headers, detail, self._requestId))
        if close:
            self.closing = True
            self.closeAfterWrite()

    def endTruncated(self, exchange: object) -> None:
        """
        The response to the current request was cut short after its head
        went out, and its framing lets the client see that: send what was
        relayed, then close (abort if the client does not read it within the
        idle timeout).
        """
        if exchange is self._exchange:
            self._exchange = None
        self.closing = True
        self.setDeadline(self._factory.config.timeouts.idle)
        self.closeAfterWrite()

    def switchProtocols(self, exchange: IExchange, origin: IOriginSide) -> None:
        """
        The origin answered 101 to C{exchange}'s Upgrade request: from now on
        the two connections are spliced.
        """
        if exchange is not self._exchange:
            origin.abort()
            return
        self._exchange = None
        request = exchange.request
        self._splice = splice = Splice(
            self,
            origin,
            self._factory.config.timeouts.tunnelIdle,
            self._tunnelOpened("upgrade", request, 101),
        )
        fromOrigin = origin.switched(splice)
        fromClient = self._conn.acceptUpgrade()
        self.resumeReading(PIPELINE)
        if fromClient:
            splice.fromClient(fromClient)
        if fromOrigin:
            splice.fromOrigin(fromOrigin)
        if self._readClosed:
            splice.clientEnded()

    def poolKeyFor(self, origin: Origin) -> Hashable:
        """
        See L{IClientSide.poolKeyFor}: the key's owner is the PROXY header
        that carries this client's address.
        """
        keys = self._privateKeys
        if keys is None:
            keys = self._privateKeys = {}
        key = keys.get(origin)
        if key is None:
            key = keys[origin] = PrivateKey(origin, proxyHeader(origin.proxyProtocol, self.client))
        return key

    def abortConnection(self) -> None:
        """
        Drop the connection at once: the response cannot be completed.
        """
        self.closing = True
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]


classImplements(ProxyProtocol, IHalfCloseableProtocol, IHandshakeListener, IGatedConnection, IClientSide)
