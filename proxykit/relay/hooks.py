# -*- test-case-name: tests.test_hooks -*-
"""
Hooks: an application's code at the points of a request's life.

A L{Hooks} registry is given to a builder (C{forwardProxy(config,
hooks=hooks)}, C{reverseProxy}, C{routedProxy}) or found on the factory
(C{factory.hooks}); L{Hooks.forRoute} gives one that applies to a single
reverse-proxy route only.  Each hook is a callable taking one event value:

  - L{Hooks.beforeRouting}: a L{RequestEvent}, after the client ACL, proxy
    authentication, the message policy and the body-size precheck, before
    the router.  It returns C{None} (go on), a new request head
    (C{event.request.replace(...)}: the router and the origin see that
    one), or a L{Refuse} or L{Respond} to answer the request here.
  - L{Hooks.afterRouting}: a L{RoutedEvent}, once the origin of an attempt
    is chosen (or the authority of a tunnel), before connecting.
  - L{Hooks.onResponse}: a L{ResponseEvent}, before a final response head
    goes to the client.  It returns C{None} or the fields to send instead.
  - L{Hooks.onTunnelOpen} / L{Hooks.onTunnelClose}: a L{TunnelEvent} when a
    CONNECT tunnel or a protocol switch (101) starts carrying bytes, a
    L{TunnelRecord} (byte counts, duration, why it ended) when it closes.
  - L{Hooks.onError}: an L{ErrorEvent} whenever the proxy answers an error
    of its own (5xx, 408, a bad request) or cuts a response short.
  - L{Hooks.onComplete}: a L{RequestRecord} once a request is over,
    whatever became of it: the access-log record.
  - L{Hooks.onFinished}: the same moment, for observers that read what
    they need at once and keep nothing (the proxy's access log and
    metrics): a L{Finished}, which has the record's fields but is made
    only when an L{Hooks.onComplete} hook needs one.

The first three may take their time: a hook may return a L{Deferred} or be
a coroutine function, and only its own request waits (reading of that
request's connection is paused meanwhile; a hook slower than the response
timeout fails).  A hook that raises (or whose Deferred fails, or that
returns something it may not) fails its request with 500 (502 for
L{Hooks.onResponse}), is logged with the hook's name, and never breaks the
connection's framing.  Observers (tunnel, error and completion hooks) are
called in order and not waited for; their failures are logged.

Hooks run in the order registered, the factory's before a route's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import attrs
from mypy_extensions import mypyc_attr
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..decisions import ClientInfo, Decision, Origin, Refuse, Respond
from ..h1 import Headers, Request, checkFields
from .interfaces import ExchangeState
from .logfields import PREFIX, fieldsOf

if TYPE_CHECKING:
    from .splice import Splice

__all__ = [
    "ErrorEvent",
    "Finished",
    "HookFailed",
    "Hooks",
    "Outcome",
    "RequestEvent",
    "RequestRecord",
    "ResponseEvent",
    "RoutedEvent",
    "TunnelEvent",
    "TunnelRecord",
]

_log = Logger()
E = TypeVar("E")


class Outcome(enum.Enum):
    """
    What became of a request (L{RequestRecord.outcome}).
    """

    RESPONDED = "responded"
    """The origin's response was relayed whole."""
    REFUSED = "refused"
    """The proxy refused it (client ACL, authentication, policy, router, hook)."""
    ANSWERED = "answered"
    """The proxy answered it itself (a L{Respond})."""
    FAILED = "failed"
    """It failed: an origin error (502, 503, 504), a slow client (408), a
    hook's failure (500), or a response cut short."""
    ABANDONED = "abandoned"
    """The client went away first."""
    BAD_REQUEST = "bad_request"
    """It could not be parsed or framed (4xx/5xx before any routing)."""
    TUNNELED = "tunneled"
    """A CONNECT tunnel, now closed."""
    SWITCHED = "switched"
    """A protocol switch (101), whose tunnel is now closed."""


@attrs.frozen
class RequestEvent:
    """
    A request about to be routed (L{Hooks.beforeRouting}).

    @ivar request: The request head (see L{Request.replace} to rewrite it).
    @ivar client: What is known of the client's connection.
    @ivar requestId: The request's id (its C{X-Request-Id}, see
        L{proxykit.policy.requestid}), or C{None} when ids are off.  It is
        decided when the head arrives: a hook's rewrite of the field does
        not change it.
    """

    request: Request
    client: ClientInfo
    requestId: str | None = None


@attrs.frozen
class RoutedEvent:
    """
    A request whose origin is chosen (L{Hooks.afterRouting}).

    @ivar origin: The origin about to be connected to (for a tunnel: its
        authority, or the parent proxy asked for it).
    @ivar attempt: 1 for the first try, more when a failed request is
        retried on another origin or a fresh connection.
    @ivar route: The reverse-proxy route's prefix, or C{None}.
    @ivar requestId: The request's id, or C{None} when ids are off.
    """

    request: Request
    client: ClientInfo
    origin: Origin
    attempt: int = 1
    route: str | None = None
    requestId: str | None = None


@attrs.frozen
class ResponseEvent:
    """
    A final response head about to go to the client (L{Hooks.onResponse}).

    @ivar headers: The fields proxykit will send, hop-by-hop fields already
        removed.  Framing and connection fields (C{Content-Length},
        C{Transfer-Encoding}, C{Connection}) are proxykit's: they are not
        shown here, they are added after the hooks, and any a hook returns
        are dropped.
    @ivar requestId: The request's id, or C{None} when ids are off.
    """

    request: Request
    client: ClientInfo
    origin: Origin
    status: int
    reason: bytes
    headers: Headers
    requestId: str | None = None


@attrs.frozen
class TunnelEvent:
    """
    A tunnel that starts carrying bytes (L{Hooks.onTunnelOpen}).

    @ivar kind: C{"connect"} (CONNECT) or C{"upgrade"} (a 101 switch).
    @ivar origin: Where the other end is (for CONNECT through a parent
        proxy: the authority asked of the parent).
    @ivar opened: When, in the reactor's seconds.
    @ivar requestId: The id of the request that opened it, or C{None}.
    """

    kind: str
    request: Request
    client: ClientInfo
    origin: Origin
    opened: float
    requestId: str | None = None


@attrs.frozen
class TunnelRecord:
    """
    A tunnel that closed (L{Hooks.onTunnelClose}).

    @ivar bytesUp: Bytes relayed from the client to the origin.
    @ivar bytesDown: Bytes relayed from the origin to the client.
    @ivar duration: Seconds from open to close.
    @ivar reason: Why it ended: C{"closed"} (both ends finished),
        C{"idle timeout"} or C{"connection lost"}.
    @ivar requestId: The id of the request that opened it, or C{None}.
    """

    kind: str
    request: Request
    client: ClientInfo
    origin: Origin
    opened: float
    duration: float
    bytesUp: int
    bytesDown: int
    reason: str
    requestId: str | None = None


@attrs.frozen
class ErrorEvent:
    """
    An error the proxy answered or cut a response for (L{Hooks.onError}).

    @ivar request: The request, or C{None} when none could be parsed.
    @ivar status: The status the client got; when part of the response had
        already gone out, the one it would have got (the connection is cut).
    @ivar reason: Why, in a few fixed words (never from the request).
    @ivar reached: How far the request got (L{ExchangeState.CONNECTING},
        C{SENT} or C{RESPONDING}), or C{None} when no origin was involved.
    @ivar origin: The origin of the last attempt, if any.
    @ivar requestId: The request's id (the one in the error response's
        body), or C{None} when ids are off.
    """

    request: Request | None
    client: ClientInfo
    status: int
    reason: str
    reached: ExchangeState | None = None
    origin: Origin | None = None
    requestId: str | None = None


class RequestRecord(NamedTuple):
    """
    A request that is over (L{Hooks.onComplete}): what an access log writes.

    A named tuple (made once per request, cheaply): read its fields by
    name; C{record._replace(...)} gives a changed copy.

    @ivar request: The request head as received, or C{None} for a request
        that could not be parsed.
    @ivar client: The client's connection (address, listener, TLS, SNI).
    @ivar outcome: What became of it.
    @ivar status: The status sent to the client (200 for a tunnel, 0 when
        the connection was cut before any response head).
    @ivar reason: Why it was refused or failed (fixed words), else C{None}.
    @ivar origin: The origin of the last attempt (the tunnel's authority),
        or C{None} when none was chosen.
    @ivar route: The reverse-proxy route's prefix, or C{None}.
    @ivar started: When its head was complete, in the reactor's seconds.
    @ivar duration: Seconds from then to the end.
    @ivar firstByte: Seconds from then until the response head went out, or
        C{None}.
    @ivar bytesIn: Request body bytes received (tunnels: client to origin).
    @ivar bytesOut: Response body bytes sent (tunnels: origin to client).
    @ivar attempts: Origins (or connections) tried.
    @ivar connectTime: Seconds the last attempt took to get its origin
        connection (C{0.0} for a kept-alive one from the pool), or C{None}
        when it got none.
    @ivar reused: Whether that connection was a kept-alive one.
    @ivar requestId: The request's id (the C{X-Request-Id} the origin got,
        or the one in the error response), or C{None} when ids are off.
    """

    request: Request | None
    client: ClientInfo
    outcome: Outcome
    status: int
    reason: str | None
    origin: Origin | None
    route: str | None
    started: float
    duration: float
    firstByte: float | None
    bytesIn: int
    bytesOut: int
    attempts: int
    connectTime: float | None = None
    reused: bool = False
    requestId: str | None = None


class Finished(Protocol):
    """
    A request that is over, as L{Hooks.onFinished} observers see it: the
    fields of its L{RequestRecord}, by the same names, read at once (the
    value is the proxy's own note of the request, not a record: it may
    not be kept).
    """

    @property
    def request(self) -> Request | None: ...
    @property
    def client(self) -> ClientInfo: ...
    @property
    def outcome(self) -> Outcome: ...
    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def origin(self) -> Origin | None: ...
    @property
    def route(self) -> str | None: ...
    @property
    def started(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def firstByte(self) -> float | None: ...
    @property
    def bytesIn(self) -> int: ...
    @property
    def bytesOut(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def connectTime(self) -> float | None: ...
    @property
    def reused(self) -> bool: ...
    @property
    def requestId(self) -> str | None: ...


Observed = TunnelEvent | TunnelRecord | ErrorEvent | RequestRecord | Finished
"""What the observers (L{Hooks.notify}) are given."""


class HookFailed(Exception):
    """
    A hook raised, failed, timed out or returned something it may not.

    @ivar hook: The hook's name.
    @ivar failure: What went wrong.
    """

    def __init__(self, hook: str, failure: Failure) -> None:
        super().__init__(hook, failure)
        self.hook = hook
        self.failure = failure

    def __str__(self) -> str:
        return f"hook {self.hook} failed: {self.failure.getErrorMessage()}"


def hookName(hook: object) -> str:
    """
    How logs name C{hook}: its module and qualified name when it has them.
    """
    name = getattr(hook, "__qualname__", None)
    if name is None:
        return repr(hook)
    module = getattr(hook, "__module__", None)
    return f"{module}.{name}" if module else str(name)


Hook = Callable[[Any], object]


@mypyc_attr(allow_interpreted_subclasses=True)
class Hooks:
    """
    The hooks of a proxy, or of one of its routes (see the module
    docstring).  Each registering method returns the hook, so it can be
    used as a decorator.

    @ivar timeout: Seconds a waiting hook may take before it counts as
        failed; C{None}: the proxy's response timeout.
    """

    timeout: float | None = None
    observing = False
    """Whether any hook here or on a route observes how requests end or
    tunnels open and close (when none does, no record is kept)."""
    relaying = False
    """Whether any after-routing or response hook is registered here or on a
    route (when none is, the relay skips them)."""
    deciding = False
    """Whether any before-routing hook is registered."""
    recording = False
    """Whether any completion hook here or on a route takes a
    L{RequestRecord} (when none does, none is made)."""

    def __init__(self) -> None:
        self._parent: Hooks | None = None
        self._own: dict[str, list[Hook]] = {
            "before": [],
            "after": [],
            "response": [],
            "tunnelOpen": [],
            "tunnelClose": [],
            "error": [],
            "complete": [],
            "finished": [],
        }
        self._routes: dict[tuple[str, str], Hooks] = {}

    def waitLimit(self, default: float) -> float:
        """
        How long a waiting hook may take: L{timeout}, else C{default} (the
        proxy's response timeout).
        """
        return default if self.timeout is None else self.timeout

    def _add(self, point: str, hook: Hook) -> Hook:
        if not callable(hook):
            raise TypeError(f"a hook must be callable, not {hook!r}")
        self._own[point].append(hook)
        node: Hooks | None = self
        while node is not None:
            if point in ("after", "response"):
                node.relaying = True
            elif point == "before":
                node.deciding = True
            else:
                node.observing = True
                if point == "complete":
                    node.recording = True
            node = node._parent
        if point == "complete":
            # A route's requests finish on the route's registry, which
            # runs this one's completion hooks too: it makes records now,
            # whenever it was made.
            self._recordOnRoutes()
        return hook

    def _recordOnRoutes(self) -> None:
        for route in self._routes.values():
            route.recording = True
            route._recordOnRoutes()

    def beforeRouting(self, hook: Callable[[RequestEvent], object]) -> Callable[[RequestEvent], object]:
        """
        Call C{hook} with a L{RequestEvent} before each request is routed;
        it returns C{None}, a new L{Request}, or a L{Refuse} or L{Respond}.

        @raise ValueError: On a route's hooks (L{forRoute}): the route is
            not known before routing.
        """
        if self._parent is not None:
            raise ValueError("a route's hooks run after routing: register beforeRouting on the proxy's")
        self._add("before", hook)
        return hook

    def afterRouting(self, hook: Callable[[RoutedEvent], object]) -> Callable[[RoutedEvent], object]:
        """
        Call C{hook} with a L{RoutedEvent} once each attempt's origin is
        chosen; it returns C{None}.
        """
        self._add("after", hook)
        return hook

    def onResponse(self, hook: Callable[[ResponseEvent], object]) -> Callable[[ResponseEvent], object]:
        """
        Call C{hook} with a L{ResponseEvent} before each final response head
        is sent; it returns C{None} or the fields to send instead.
        """
        self._add("response", hook)
        return hook

    def onTunnelOpen(self, hook: Callable[[TunnelEvent], object]) -> Callable[[TunnelEvent], object]:
        """
        Call C{hook} with a L{TunnelEvent} when a tunnel opens.
        """
        self._add("tunnelOpen", hook)
        return hook

    def onTunnelClose(self, hook: Callable[[TunnelRecord], object]) -> Callable[[TunnelRecord], object]:
        """
        Call C{hook} with a L{TunnelRecord} when a tunnel closes.
        """
        self._add("tunnelClose", hook)
        return hook

    def onError(self, hook: Callable[[ErrorEvent], object]) -> Callable[[ErrorEvent], object]:
        """
        Call C{hook} with an L{ErrorEvent} for each error the proxy answers.
        """
        self._add("error", hook)
        return hook

    def onComplete(self, hook: Callable[[RequestRecord], object]) -> Callable[[RequestRecord], object]:
        """
        Call C{hook} with a L{RequestRecord} when each request is over.
        """
        self._add("complete", hook)
        return hook

    def onFinished(self, hook: Callable[[Finished], object]) -> Callable[[Finished], object]:
        """
        Call C{hook} with a L{Finished} when each request is over, before
        the L{onComplete} hooks: what the request's record would say, read
        at once, without a record made for it.  For observers that keep
        nothing of it, such as an access log or metrics.
        """
        self._add("finished", hook)
        return hook

    def forRoute(self, host: str, prefix: str) -> Hooks:
        """
        The hooks of one reverse-proxy route: the one whose virtual host
        answers to C{host} and whose prefix is C{prefix}.  They run after
        this registry's, for that route's requests only (before routing,
        the route is not known: L{beforeRouting} of a route's hooks is
        refused).

        @raise ValueError: When the factory is built, if no route matches.
        """
        key = (host.lower().rstrip("."), prefix)
        hooks = self._routes.get(key)
        if hooks is None:
            hooks = self._routes[key] = Hooks()
            hooks._parent = self
            hooks.observing = self.observing
            hooks.recording = self.recording
            hooks.relaying = self.relaying
        return hooks

    @property
    def routes(self) -> dict[tuple[str, str], Hooks]:
        """
        The route hooks made by L{forRoute}, by (host, prefix).
        """
        return dict(self._routes)

    def hooks(self, point: str) -> list[Hook]:
        """
        The hooks at C{point} (C{"before"}, C{"after"}, C{"response"},
        C{"tunnelOpen"}, C{"tunnelClose"}, C{"error"}, C{"complete"},
        C{"finished"}): the
        parent registry's first.
        """
        own = self._own[point]
        parent = self._parent
        if parent is None:
            return own
        return parent.hooks(point) + own

    def notify(self, point: str, event: Observed) -> None:
        """
        Call the observers at C{point} with C{event}; log their failures,
        naming the request.
        """
        # self.hooks(point), without the call for the proxy's own hooks.
        for hook in self._own[point] if self._parent is None else self.hooks(point):
            try:
                result = hook(event)
            except Exception:
                _logFailure(Failure(), hookName(hook), event)  # type: ignore[no-untyped-call]
                continue
            if result is not None and isawaitable(result):
                observed: Deferred[object] = ensureDeferred(result)  # type: ignore[arg-type]
                observed.addErrback(_logFailure, hookName(hook), event)


def _logFailure(failure: Failure, name: str, event: Observed) -> None:
    _log.failure(
        PREFIX + "hook {hook} failed",
        failure,
        hook=name,
        **fieldsOf(event.client, event.request, event.requestId),
    )


def runChain(
    hooks: Sequence[Hook],
    event: E,
    fold: Callable[[E, object], tuple[Any, bool]],
    clock: IReactorTime,
    timeout: float,
    start: int = 0,
) -> Any:
    """
    Call C{hooks} in turn, each with the event C{fold} made of the previous
    one's result, until one settles the matter.

    @param fold: Takes the current event and a hook's result; returns the
        next event (or the final value) and whether to stop.  It raises
        C{TypeError} for a result the hook may not return.
    @return: The last event or the value that stopped the chain, or a
        L{Deferred} of it when a hook returned one (or was a coroutine).
    @raise HookFailed: A hook raised or returned something wrong (the
        Deferred fails with it too).
    """
    for index in range(start, len(hooks)):
        hook = hooks[index]
        try:
            result = hook(event)
            if isawaitable(result):
                waiting: Deferred[object] = ensureDeferred(result)  # type: ignore[arg-type]
            else:
                event, done = fold(event, result)
                if done:
                    return event
                continue
        except Exception:
            raise HookFailed(hookName(hook), Failure()) from None  # type: ignore[no-untyped-call]
        waiting.addTimeout(timeout, clock)
        return waiting.addCallbacks(
            _resume,
            _wrap,
            callbackArgs=(hook, hooks, event, fold, clock, timeout, index),
            errbackArgs=(hook,),
        )
    return event


T = TypeVar("T")


def runHooks(
    hooks: Sequence[Hook],
    event: E,
    fold: Callable[[E, object], tuple[Any, bool]],
    clock: IReactorTime,
    timeout: float,
    then: Callable[[Any], T],
    failed: Callable[[HookFailed], T],
    waiting: Callable[[], object] | None = None,
) -> T | Deferred[T]:
    """
    L{runChain}, then C{then} with its outcome, or C{failed} with the
    L{HookFailed}: at once, or (when a hook waits) later, after calling
    C{waiting} first.

    @return: What C{then} or C{failed} returns, or a L{Deferred} of it.
    """
    try:
        result = runChain(hooks, event, fold, clock, timeout)
    except HookFailed as e:
        return failed(e)
    if isinstance(result, Deferred):
        if waiting is not None:
            waiting()
        return result.addCallbacks(then, lambda failure: failed(failure.value))
    return then(result)


def _resume(
    result: object,
    hook: Hook,
    hooks: Sequence[Hook],
    event: E,
    fold: Callable[[E, object], tuple[Any, bool]],
    clock: IReactorTime,
    timeout: float,
    index: int,
) -> Any:
    try:
        value, done = fold(event, result)
    except Exception:
        raise HookFailed(hookName(hook), Failure()) from None  # type: ignore[no-untyped-call]
    if done:
        return value
    return runChain(hooks, value, fold, clock, timeout, index + 1)


def _wrap(failure: Failure, hook: Hook) -> Failure:
    if failure.check(HookFailed):  # type: ignore[no-untyped-call]
        return failure
    raise HookFailed(hookName(hook), failure)


def foldBefore(event: RequestEvent | Decision, result: object) -> tuple[RequestEvent | Decision, bool]:
    """
    L{Hooks.beforeRouting}'s results: C{None}, a L{Request}, a L{Refuse} or
    a L{Respond}.
    """
    if result is None:
        return event, False
    if isinstance(result, Request):
        return RequestEvent(result, event.client, event.requestId), False  # type: ignore[union-attr]
    if isinstance(result, Refuse | Respond):
        checkFields(list(result.headers))
        if not (isinstance(result.status, int) and 200 <= result.status <= 599):
            raise ValueError(f"cannot answer status {result.status!r}")
        return result, True
    raise TypeError(f"returned {type(result).__name__}, not None, a Request, Refuse or Respond")


def foldAfter(event: RoutedEvent, result: object) -> tuple[RoutedEvent, bool]:
    """
    L{Hooks.afterRouting}'s results: C{None} only.
    """
    if result is not None:
        raise TypeError(f"returned {type(result).__name__}, not None")
    return event, False


_PROXY_FIELDS = frozenset(
    {b"connection", b"content-length", b"transfer-encoding", b"keep-alive", b"upgrade"}
)


def foldResponse(event: ResponseEvent, result: object) -> tuple[ResponseEvent, bool]:
    """
    L{Hooks.onResponse}'s results: C{None} or a list of (name, value) byte
    pairs; framing and connection fields in it are dropped (proxykit adds
    its own).
    """
    if result is None:
        return event, False
    if not isinstance(result, list | tuple):
        raise TypeError(f"returned {type(result).__name__}, not None or a list of fields")
    checkFields(list(result))
    headers = [field for field in result if field[0].lower() not in _PROXY_FIELDS]
    return attrs.evolve(event, headers=headers), False


@attrs.frozen
class Routed:
    """
    Admission's answer when L{Hooks.beforeRouting} replaced the request
    head: the head to relay and the router's decision for it.
    """

    request: Request
    decision: Decision


class RelayHooks:
    """
    The hooks one exchange runs (after routing, on the response head), with
    what they need; made per request only when there are some.
    """

    __slots__ = ("after", "response", "clock", "timeout", "route")

    def __init__(self, hooks: Hooks, clock: IReactorTime, timeout: float, route: str | None) -> None:
        self.after = hooks.hooks("after")
        self.response = hooks.hooks("response")
        self.clock = clock
        self.timeout = timeout
        self.route = route


_FAILED = Outcome.FAILED
# (An enum member read from its class costs a descriptor call.)

_newRecord = tuple.__new__
"""Makes a L{RequestRecord} from a tuple of all its fields, in order, without
its constructor's argument handling (once a request)."""


class Trace:
    """
    What is known so far of one request, for its L{RequestRecord} (kept
    only when a hook observes; see L{Hooks.observing}).  Once it is over,
    it is the L{Finished} the L{Hooks.onFinished} hooks read.
    """

    __slots__ = (
        "hooks",
        "request",
        "client",
        "started",
        "firstByte",
        "status",
        "origin",
        "route",
        "bytesIn",
        "bytesOut",
        "attempts",
        "connectTime",
        "reused",
        "done",
        "outcome",
        "reason",
        "duration",
        "_requestId",
        "_asked",
        "_seconds",
    )

    def __init__(
        self,
        hooks: Hooks,
        request: Request | None,
        client: ClientInfo,
        clock: IReactorTime,
        requestId: bytes | None = None,
    ) -> None:
        """
        @param requestId: The request's id, if any.
        """
        # Once per request when something observes: kept lean.
        self.hooks = hooks
        self.request = request
        self.client = client
        self._requestId = requestId
        self._seconds = seconds = clock.seconds
        self.started = seconds()
        self.firstByte: float | None = None
        self.status = 0
        self.origin: Origin | None = None
        self.route: str | None = None
        self.bytesIn = 0
        self.bytesOut = 0
        self.attempts = 0
        self.connectTime: float | None = None
        self.reused = False
        self.done = False
        self.outcome = _FAILED
        self.reason: str | None = None
        self.duration = 0.0
        self._asked = 0.0

    @property
    def requestId(self) -> str | None:
        """
        The request's id, if any.
        """
        requestId = self._requestId
        return None if requestId is None else requestId.decode("ascii")

    def attempting(self, origin: Origin, attempt: int) -> None:
        """
        Attempt number C{attempt} goes to C{origin}: a connection is asked
        for now.
        """
        self.origin = origin
        self.attempts = attempt
        self.connectTime = None
        self.reused = False
        self._asked = self._seconds()

    def asking(self) -> None:
        """
        The connection is asked for only now (after-routing hooks took
        their time).
        """
        self._asked = self._seconds()

    def connected(self, reused: bool) -> None:
        """
        The attempt got its origin connection.
        """
        self.reused = reused
        self.connectTime = 0.0 if reused else self._seconds() - self._asked

    def responded(self, status: int) -> None:
        """
        The response head (C{status}) went to the client.
        """
        self.status = status
        self.firstByte = self._seconds() - self.started

    def error(self, status: int, reason: str, reached: ExchangeState | None = None) -> None:
        """
        Tell the error observers.
        """
        self.hooks.notify(
            "error",
            ErrorEvent(
                self.request, self.client, status, reason, reached, self.origin, self.requestId
            ),
        )

    def tunnelOpened(
        self, kind: str, request: Request, status: int
    ) -> Callable[[Splice, str], None]:
        """
        The request became a tunnel of C{kind} (C{"connect"}, C{"upgrade"})
        after a C{status} answer: tell the observers; what its splice calls
        when it closes (a L{TunnelRecord}, then this request's record).
        """
        self.responded(status)
        opened = self._seconds()
        origin = self.origin
        assert origin is not None
        client = self.client
        requestId = self.requestId
        self.hooks.notify(
            "tunnelOpen", TunnelEvent(kind, request, client, origin, opened, requestId)
        )

        def closed(splice: Splice, reason: str) -> None:
            self.bytesIn = splice.bytesUp
            self.bytesOut = splice.bytesDown
            self.hooks.notify(
                "tunnelClose",
                TunnelRecord(
                    kind,
                    request,
                    client,
                    origin,
                    opened,
                    self._seconds() - opened,
                    splice.bytesUp,
                    splice.bytesDown,
                    reason,
                    requestId,
                ),
            )
            outcome = Outcome.TUNNELED if kind == "connect" else Outcome.SWITCHED
            self.finish(outcome, None, None if reason == "closed" else reason)

        return closed

    def finish(self, outcome: Outcome, status: int | None = None, reason: str | None = None) -> None:
        """
        The request is over: tell the completion observers (once), the
        L{Hooks.onFinished} ones with this trace, then the
        L{Hooks.onComplete} ones with its L{record}.

        @param status: The status the client got, if not the one noted by
            L{responded}.
        """
        if self.done:
            return
        self.done = True
        if status is not None:
            self.status = status
        self.outcome = outcome
        self.reason = reason
        self.duration = self._seconds() - self.started
        hooks = self.hooks
        hooks.notify("finished", self)
        if hooks.recording:
            hooks.notify("complete", self.record())

    def record(self) -> RequestRecord:
        """
        The request's record, as it stands (once it is over: what
        L{Hooks.onComplete} hooks get).
        """
        requestId = self._requestId
        return _newRecord(
            RequestRecord,
            (
                self.request,
                self.client,
                self.outcome,
                self.status,
                self.reason,
                self.origin,
                self.route,
                self.started,
                self.duration,
                self.firstByte,
                self.bytesIn,
                self.bytesOut,
                self.attempts,
                self.connectTime,
                self.reused,
                None if requestId is None else requestId.decode("ascii"),
            ),
        )
