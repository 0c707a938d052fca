# -*- test-case-name: tests.test_admission -*-
"""
Admission: what every request goes through before the relay acts on it.

In order: the client ACL (403 before anything else), proxy authentication
of forward-proxy requests (407; the check may take a while, then the
decision comes later), the message policy (loops 508, TRACE 405,
C{Max-Forwards: 0} answered here), the body-size precheck (413 for a
C{Content-Length} over the limit), the application's
L{Hooks.beforeRouting<proxykit.relay.hooks.Hooks.beforeRouting>} hooks
(which may rewrite the head, answer or refuse, and may take their time)
and, last, the router.  The outcome is a L{Decision} for the protocol
shell (L{proxykit.relay.client.ProxyProtocol}) to
carry out; nothing here touches a connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from ..decisions import ClientInfo, Decision, IRouter, Refuse
from ..h1 import PROXY_FORMS, Framing, Headers, Request
from ..policy.routing import messagePolicy
from .hooks import Hook, HookFailed, Hooks, RequestEvent, Routed, foldBefore, runHooks
from .logfields import PREFIX, fieldsOf

if TYPE_CHECKING:
    from ..policy.auth import ProxyAuthenticator

_CHECKED_METHODS: Final = frozenset({b"TRACE", b"OPTIONS"})
"""Methods the message policy looks at even without C{Via}."""


def proxyAuthorization(headers: Headers) -> bytes | None:
    """
    The first C{Proxy-Authorization} value, or C{None}.
    """
    for name, value in headers:
        if len(name) == 19 and name.lower() == b"proxy-authorization":
            return value
    return None


class Admission:
    """
    Decides what becomes of a request before the relay acts on it (see the
    module docstring).

    @ivar router: Decides where admitted requests go.
    @ivar authenticator: Checks forward-proxy requests' credentials, or
        C{None}.
    @ivar hooks: The application's hooks.
    """

    _log: ClassVar[Logger] = Logger()

    def __init__(
        self,
        router: IRouter,
        authenticator: ProxyAuthenticator | None,
        pseudonym: bytes,
        allowTrace: bool,
        maxBodyBytes: int,
        hooks: Hooks | None = None,
        clock: IReactorTime | None = None,
        hookTimeout: float = 30.0,
    ) -> None:
        """
        @param pseudonym: This proxy's C{Via} name, lower case (loops).
        @param allowTrace: Whether TRACE is forwarded.
        @param maxBodyBytes: The request-body limit (0: none).
        @param clock: Times waiting hooks out after C{hookTimeout} seconds
            (unless the hooks set their own L{Hooks.timeout}).
        """
        self.router = router
        self.authenticator = authenticator
        self.hooks = hooks if hooks is not None else Hooks()
        self._clock = clock
        self._hookTimeout = hookTimeout
        self._pseudonym = pseudonym
        self._allowTrace = allowTrace
        self._maxBodyBytes = maxBodyBytes

    def admit(
        self, request: Request, client: ClientInfo, requestId: bytes | None = None
    ) -> Decision | Routed | Deferred[Decision | Routed]:
        """
        The decision for C{request} from C{client}: at once, or later when
        its credentials are checked or a hook takes its time (the caller
        holds the connection's reading meanwhile).  A L{Routed} when a hook
        replaced the request head.

        @param requestId: The request's id (L{proxykit.policy.requestid}),
            which the hooks' events and the log lines name.
        """
        if not client.allowed:
            # Before anything else: a client that may not use this proxy
            # learns nothing more than 403.
            return Refuse(403, "client not allowed")
        authenticator = self.authenticator
        if authenticator is not None and request.form in PROXY_FORMS:
            # A forward-proxy request: the client must prove who it is.
            value = proxyAuthorization(request.headers)
            verdict = authenticator.checkCached(value)
            if verdict is None:
                checking: Deferred[bool] = authenticator.check(
                    value,  # type: ignore[arg-type]
                    (PREFIX, fieldsOf(client, request, requestId)),
                )
                return checking.addCallback(
                    lambda ok: self.decide(request, client, requestId) if ok else self.challenge()
                )
            if not verdict:
                return self.challenge()
        return self.decide(request, client, requestId)

    def challenge(self) -> Refuse:
        """
        The 407 that asks for credentials.
        """
        challenge = self.authenticator.challenge  # type: ignore[union-attr]
        return Refuse(407, "proxy authentication required", ((b"Proxy-Authenticate", challenge),))

    def decide(
        self, request: Request, client: ClientInfo, requestId: bytes | None = None
    ) -> Decision | Routed | Deferred[Decision | Routed]:
        """
        The decision for an admitted client's authenticated request: the
        message policy, the body-size precheck, the hooks, then the router.
        """
        decision = self.precheck(request)
        if decision is not None:
            return decision
        if self.hooks.deciding:
            return self._hooked(self.hooks.hooks("before"), request, client, requestId)
        return self.router.route(request, client)

    def precheck(self, request: Request) -> Decision | None:
        """
        The checks of an admitted client's authenticated request before the
        hooks and the router: the message policy (loops 508, TRACE 405,
        C{Max-Forwards: 0} answered here), then the body-size precheck
        (413).

        @return: Their decision, or C{None} to go on to the hooks and the
            router.
        """
        if request.via is not None or request.method in _CHECKED_METHODS:
            decision = messagePolicy(request, self._pseudonym, self._allowTrace)
            if decision is not None:
                return decision
        limit = self._maxBodyBytes
        if limit and request.framing == Framing.LENGTH and request.contentLength > limit:
            return Refuse(413, "request body too large")
        return None

    def _hooked(
        self,
        hooks: list[Hook],
        request: Request,
        client: ClientInfo,
        requestId: bytes | None = None,
    ) -> Decision | Routed | Deferred[Decision | Routed]:
        """
        Run the before-routing hooks, then route what they leave.
        """
        return runHooks(
            hooks,
            RequestEvent(request, client, None if requestId is None else requestId.decode("ascii")),
            foldBefore,
            self._clock,  # type: ignore[arg-type]
            self.hooks.waitLimit(self._hookTimeout),
            lambda result: self._routeAfterHooks(result, request),
            lambda error: self._hookFailed(error, request, client, requestId),
        )

    def _routeAfterHooks(self, result: RequestEvent | Decision, received: Request) -> Decision | Routed:
        if type(result) is not RequestEvent:
            return result  # type: ignore[return-value]
        request = result.request
        decision = self.router.route(request, result.client)
        if request is received:
            return decision
        return Routed(request, decision)

    def _hookFailed(
        self,
        error: HookFailed,
        request: Request,
        client: ClientInfo,
        requestId: bytes | None = None,
    ) -> Refuse:
        """
        A hook failed: log it with the hook's name and the request; the
        client gets 500.
        """
        self._log.failure(
            PREFIX + "hook {hook} failed",
            error.failure,
            hook=error.hook,
            where="before routing",
            **fieldsOf(client, request, requestId),
        )
        return Refuse(500, f"hook {error.hook} failed")
