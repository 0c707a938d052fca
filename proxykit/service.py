# -*- test-case-name: tests.test_service -*-
"""
The service tree C{twistd proxykit} runs (L{ProxyService}): one listener
per endpoint string, the admin listener, reload, drain, and the upstream
pool closed on stop; and the services of the two modes
(L{forwardService}, L{reverseService}), built with L{proxykit.build}'s
one builder.

Starting binds every listener before anything else starts, and fails as a
whole (L{ListenError}, nothing left listening) if one cannot listen.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from twisted.application import service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.internet.interfaces import (
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._twistedcompat import forgetExitSignal
from .build import (
    authenticatorFor,
    buildFactory,
    forwardRouter,
    reverseRouter,
)
from .config.values import ProxyConfig
from .decisions import IRouter
from .listeners import (
    AdoptedEndpoint,
    GatedEndpoint,
    InheritedSocket,
    Listener,
    ListenError,
)
from .ops.reload import (
    PLAIN,
    REDIRECT,
    SECURE,
    ConfigLoader,
    ListenerSpec,
    Prepared,
    ReloadError,
    RouterBuilder,
    numbered,
)
from .ops.version import ConfigVersion, ReloadObserver, ReloadOutcome
from .policy.destinations import DestinationPolicy, destinationsFor
from .policy.routing import ForwardRouter
from .policy.vhosts import bindRouteHooks
from .reactor import orGlobal
from .relay.factory import ProxyFactory, poolFor
from .relay.gate import ListenerGate

if TYPE_CHECKING:
    from .ops.accesslog import AccessLog
    from .ops.metrics import Metrics
    from .relay.discovery import OriginDiscovery
    from .relay.health import HealthChecker
    from .tls import ServerTLS

__all__ = [
    "ListenError",
    "ProxyService",
    "forwardService",
    "makeService",
    "reverseService",
]


class ProxyService(service.MultiService):
    """
    Listeners for one L{ProxyFactory}, its pool's shutdown, and reloading
    a new configuration into them (L{reloadConfig}, L{reload}).

    Starting (L{privilegedStartService} or L{startService}) first binds
    every listener (L{listen}); if one cannot listen, none is left
    listening and L{ListenError} is raised.

    @ivar factory: The factory every listener uses.
    @ivar tls: The TLS listeners' certificates, or C{None}.
    @ivar reloadOnHangup: Whether, while running, C{SIGHUP} calls
        L{reload} and C{SIGUSR1} calls L{reopenLogs} (C{twistd proxykit}
        sets it).
    @ivar cutOnSignal: Whether, while draining (see L{stopService}), a
        second C{SIGTERM} or C{SIGINT} cuts what is left at once
        (C{twistd proxykit} sets it).
    @ivar accessLog: The access log the factory writes, closed on stop, or
        C{None}.
    @ivar configVersion: The configuration served now
        (L{proxykit.ops.version.ConfigVersion}).
    @ivar versionedConfig: Given the configuration served, the one whose
        digest names it in L{configVersion}: itself, unless a worker
        process (L{proxykit.worker}) sets it to give back its supervisor's,
        so that every worker shows the digest that configuration has.
    @ivar reloadObservers: Called with a
        L{proxykit.ops.version.ReloadOutcome} after every reload attempt
        (the metrics count them).
    @ivar draining: Whether L{drain} has begun: the listeners no longer
        accept.
    @ivar loadConfig: Reads the configuration again for L{reload}
        (C{twistd proxykit} sets it), or C{None}.
    @ivar buildRouter: Builds the router of a new configuration for
        L{reloadConfig} (L{forwardService} and L{reverseService} set it);
        C{None}: a reload keeps the router.
    @ivar redirect: The factory of the listeners that redirect to https,
        or C{None}.
    @ivar metrics: The metrics the admin listener serves
        (L{proxykit.ops.metrics.Metrics}), or C{None} without an admin
        listener (C{admin.listen}).
    """

    _log = Logger()
    reloadOnHangup = False
    cutOnSignal = False
    readAtStart: tuple[str, ...] = ("log", "admin")
    """The L{ProxyConfig} fields (top-level tables) read only at start: a
    reload keeps their old value and logs that a restart is needed."""

    def __init__(
        self,
        factory: ProxyFactory,
        listen: tuple[str, ...],
        reactor: object,
        tls: ServerTLS | None = None,
        redirect: ProxyFactory | None = None,
        accessLog: AccessLog | None = None,
    ) -> None:
        """
        @param tls: Also listen on C{tls.config.listen} over TLS, each
            listener with its own settings.
        @param redirect: The factory of the plain listeners that redirect to
            https (on C{tls.config.redirectListen}).
        @param accessLog: The access log C{factory} writes (see
            L{buildFactory}): reopened by L{reopenLogs}, closed on stop.
        """
        super().__init__()  # type: ignore[no-untyped-call]
        self.factory = factory
        self.accessLog = accessLog
        self._previousUser1: Any = None
        self.tls = tls
        self._reactor = reactor
        self._previousHandler: Any = None
        self.draining = False
        self.reloadObservers: list[ReloadObserver] = []
        self.versionedConfig: Callable[[ProxyConfig], ProxyConfig] = lambda config: config
        self.configVersion = ConfigVersion.of(
            factory.config, reactor.seconds()  # type: ignore[attr-defined]
        )
        self.redirect = redirect
        self.loadConfig: ConfigLoader | None = None
        self.buildRouter: RouterBuilder | None = None
        self.gates: list[ListenerGate] = []
        self._listeners: list[Listener] = []
        self._retiring: list[ListenerGate] = []
        specs = [(description, PLAIN) for description in listen]
        if tls is not None:
            specs += [(d, SECURE) for d, _ in tls.config.listeners()]
            if redirect is not None:
                specs += [(d, REDIRECT) for d in tls.config.redirectListen]
        for spec in numbered(specs):
            listener = self._makeListener(spec, factory.config, tls, redirect)
            listener.setServiceParent(self)  # type: ignore[no-untyped-call]
            self._listeners.append(listener)
            self.gates.append(listener.gate)  # type: ignore[arg-type]
        self.metrics: Metrics | None = None
        self._admin: Listener | None = None
        if factory.config.admin.listen is not None:
            self._admin = self._adminListener(factory.config.admin.listen)

    def _makeListener(
        self,
        spec: ListenerSpec,
        config: ProxyConfig,
        tls: ServerTLS | None,
        redirect: ProxyFactory | None,
    ) -> Listener:
        """
        A listener (not listening yet) for C{spec}, with its own gate.

        @raise ValueError: The endpoint string does not parse.
        """
        proxy = redirect if spec.kind == REDIRECT else self.factory
        assert proxy is not None
        gate = ListenerGate(proxy, config.limits.maxClientConnections, spec.description)
        endpoint = GatedEndpoint(
            endpoints.serverFromString(self._reactor, spec.description),  # type: ignore[no-untyped-call]
            gate,
            self._reactor,
        )
        served: IProtocolFactory = gate
        if spec.kind == SECURE:
            assert tls is not None
            served = tls.wrapListener(gate, spec.description, spec.occurrence)
        return Listener(spec, endpoint, served, self._reactor, gate)

    def _adminListener(self, description: str) -> Listener:
        """
        The admin listener on C{description}: not a child service (stopping
        the children stops the proxy's listeners; this one answers
        C{/readyz} with 503 until the drain is over), not gated, not
        drained.  Its metrics observe the factory's hooks and the reloads.
        """
        from .ops.admin import adminSite
        from .ops.metrics import Metrics

        metrics = self.metrics = Metrics(self)
        metrics.observe(self.factory.hooks)
        self.reloadObservers.append(metrics.reloaded)
        endpoint = endpoints.serverFromString(self._reactor, description)  # type: ignore[no-untyped-call]
        return Listener(description, endpoint, adminSite(self, metrics), self._reactor)

    def adopt(self, sockets: Mapping[ListenerSpec, InheritedSocket]) -> None:
        """
        Before listening: serve the listeners of C{sockets} on those
        inherited sockets (a worker process's, bound by its supervisor)
        instead of binding their endpoints.

        @raise ListenError: A listener of this service has no socket in
            C{sockets}.
        """
        for listener in self._listeners:
            inherited = sockets.get(listener.spec)
            if inherited is None:
                raise ListenError(listener.description, "no socket inherited for it")
            assert listener.gate is not None
            endpoint: IStreamServerEndpoint = AdoptedEndpoint(self._reactor, inherited)
            if inherited.proxyHeader:
                # As the haproxy: endpoint wraps the endpoint it names.
                from twisted.protocols.haproxy import proxyEndpoint

                endpoint = proxyEndpoint(endpoint)
            listener.endpoint = GatedEndpoint(endpoint, listener.gate, self._reactor)

    @property
    def adminEndpoint(self) -> str | None:
        """
        The admin listener's endpoint string, or C{None} when there is none.
        """
        return None if self._admin is None else self._admin.description

    @property
    def endpoints(self) -> tuple[str, ...]:
        """
        The endpoint strings of every listener (plain, TLS, redirect), in
        the order they are bound.
        """
        return tuple(listener.description for listener in self._listeners)

    @property
    def ready(self) -> bool:
        """
        Whether the proxy is ready for traffic: every listener is bound and
        it is not draining (what the admin listener's C{/readyz} says).
        """
        return not self.draining and all(
            listener.bound for listener in self._listeners
        )

    def listen(self) -> None:
        """
        Bind every listener now, in order, unless bound already.

        C{twistd proxykit} calls this before C{twistd} forks into the
        background, so that a failure reaches the person who started it.

        @raise ListenError: One cannot listen; those bound before it are
            closed again.
        """
        bound: list[Listener] = []
        for listener in self._listeners:
            try:
                listener.listen()
            except ListenError:
                for other in bound:
                    other.close()
                raise
            bound.append(listener)
        if self._admin is not None:
            try:
                self._admin.listen()
            except ListenError:
                for other in bound:
                    other.close()
                raise

    def privilegedStartService(self) -> None:
        """
        Bind every listener (see L{listen}), then start the rest.

        @raise ListenError: A listener cannot listen.
        """
        self.listen()
        super().privilegedStartService()  # type: ignore[no-untyped-call]

    def reloadTLS(self) -> bool:
        """
        Read the TLS certificate and key files again (see
        L{proxykit.tls.ServerTLS.reload}); a failure is logged and the old
        certificates stay in use.

        @return: Whether the files were reloaded.
        """
        if self.tls is None:
            return False
        from .tls import TLSFileError

        try:
            self.tls.reload()
        except TLSFileError as e:
            self._log.error("TLS certificates not reloaded: {problem}", problem=str(e))
            return False
        return True

    def reopenLogs(self) -> None:
        """
        What C{SIGUSR1} does: reopen the access log files by their names
        (after C{logrotate} renamed them), and log it.
        """
        from .ops.accesslog import reopenAccessLogs

        if reopenAccessLogs():
            self._log.info("reopened the access log")

    def reload(self) -> None:
        """
        What C{SIGHUP} does: reopen the access log files (see
        L{reopenLogs}), then, with a L{loadConfig} (C{twistd proxykit}
        sets it), read the configuration again and serve it
        (L{reloadConfig}); without one, read the TLS certificates again
        (see L{reloadTLS}).  Logs what was done.
        """
        if self.accessLog is not None:
            self.reopenLogs()
        if self.loadConfig is not None:
            source = self.configVersion.source
            try:
                config = self.loadConfig()
            except Exception as e:
                self._refused(_problem(e), e)
                return
            self.reloadConfig(config, source)
            return
        if self.tls is not None:
            if self.reloadTLS():
                self._log.info("SIGHUP: reloaded the TLS certificates")
        elif self.accessLog is None:
            self._log.info(
                "SIGHUP: nothing to reload (no TLS certificates; the other"
                " settings are read only at start)"
            )

    def reloadConfig(self, config: ProxyConfig, source: str | None = None) -> ReloadOutcome:
        """
        Serve C{config} from now on, all or nothing (what C{SIGHUP} does
        after reading the file; an application calls it with a config it
        built).

        Everything new is built first: the router (unless L{buildRouter} is
        C{None}: a service built around an application's own router keeps
        it), health checks, destination policy, authenticator, TLS
        certificates, and the new listeners, bound.  Only if all of that
        succeeded is it swapped in: requests decided from then on use the
        new configuration, requests, tunnels and upgrades in progress
        finish on the old one; listeners whose endpoint string is gone stop
        accepting and their connections drain (at most C{timeouts.drain}
        seconds); the pool keeps the connections of origins still
        configured and retires the others' (L{ConnectionPool.retire}).
        The C{[log]} table is read only at start: a change is logged as
        needing a restart, and the old one stays.

        If anything fails, nothing changes, one error is logged and the old
        configuration keeps serving.  Either way L{reloadObservers} are
        told.

        @param source: The file C{config} was read from (for
            L{configVersion}).
        @return: What happened.
        """
        if self.draining:
            return self._refused("the proxy is stopping")
        try:
            prepared = self._prepare(config)
        except Exception as e:
            return self._refused(_problem(e), e)
        return self._commit(prepared, source)

    def _refused(self, problem: str, error: BaseException | None = None) -> ReloadOutcome:
        """
        A reload failed: log C{problem} once, tell the observers.
        """
        if error is not None and not isinstance(error, _expected()):
            self._log.failure(
                "reload refused, still serving the old configuration: {problem}",
                Failure(error),  # type: ignore[no-untyped-call]
                problem=problem,
            )
        else:
            self._log.error(
                "reload refused, still serving the old configuration: {problem}",
                problem=problem,
            )
        return self._notify(ReloadOutcome(False, self.configVersion, problem))

    def _notify(self, outcome: ReloadOutcome) -> ReloadOutcome:
        for observer in list(self.reloadObservers):
            try:
                observer(outcome)
            except Exception:
                self._log.failure("reload observer {observer!r} failed", observer=observer)
        return outcome

    def _prepare(self, config: ProxyConfig) -> Prepared:
        """
        Build everything C{config} needs, binding its new listeners, without
        changing what is served.

        @raise Exception: Something cannot be built or bound; whatever was
            bound is closed again.
        """
        from .ops.reload import diffListeners, listenersOf

        reactor: Any = self._reactor
        old = self.factory.config
        for name in self.readAtStart:
            if getattr(config, name) != getattr(old, name):
                self._log.warn(
                    "reload: the [{table}] table changed; it is read only at start:"
                    " restart to apply it",
                    table=name,
                )
                config = attrs.evolve(config, **{name: getattr(old, name)})
        destinations = destinationsFor(config)
        if self.buildRouter is None:
            router, checkers = self.factory.router, self.factory.healthCheckers
        else:
            router, checkers = self.buildRouter(config, reactor, destinations)
        # The application's route hooks must find their routes.
        bindRouteHooks(router, self.factory.hooks.routes)
        authenticator = authenticatorFor(config, reactor)
        tls = None
        if config.tls is not None:
            from .tls import ServerTLS

            tls = ServerTLS(config.tls)
        diff = diffListeners((listener.spec for listener in self._listeners), listenersOf(config))
        redirect = self.redirect
        redirectRouter = None
        if config.tls is not None and config.tls.redirectListen:
            from .ops.reload import tableOf
            from .tls import HTTPSRedirectRouter

            redirectRouter = HTTPSRedirectRouter(tableOf(router), config.tls.redirectPort)
            if redirect is None:
                redirect = ProxyFactory(
                    redirectRouter, poolFor(config, reactor), config, reactor=reactor
                )
        prepared = Prepared(
            config, router, checkers, destinations, authenticator, tls, redirect, redirectRouter
        )
        serving = self.tls if self.tls is not None else tls
        try:
            for spec in diff.added:
                listener = self._makeListener(spec, config, serving, redirect)
                listener.listen()
                prepared.added.append(listener)
        except BaseException:
            for listener in prepared.added:
                listener.close()
            raise
        prepared.listeners = diff
        return prepared

    def _commit(self, prepared: Prepared, source: str | None) -> ReloadOutcome:
        """
        Serve what L{_prepare} built.
        """
        from .ops.reload import describe, originsOf, routesOf

        factory = self.factory
        config = prepared.config
        oldRouter, oldConfig = factory.router, factory.config
        factory.reconfigure(
            config,
            prepared.router,
            prepared.authenticator,
            prepared.destinations,
            prepared.healthCheckers,
        )
        if prepared.tls is not None:
            if self.tls is None:
                self.tls = prepared.tls
            else:
                self.tls.adopt(prepared.tls)
        if prepared.redirect is not None and prepared.redirectRouter is not None:
            if prepared.redirect is self.redirect:
                prepared.redirect.reconfigure(config, prepared.redirectRouter)
            self.redirect = prepared.redirect
        diff = prepared.listeners
        assert diff is not None
        removed = set(diff.removed)
        kept: list[Listener] = []
        stopping: list[Deferred[object]] = []
        for listener in self._listeners:
            if listener.spec in removed:
                stopping.append(self._retire(listener, config.timeouts.drain))
            else:
                kept.append(listener)
        bySpec = {listener.spec: listener for listener in kept + prepared.added}
        for listener in prepared.added:
            listener.setServiceParent(self)  # type: ignore[no-untyped-call]
        from .ops.reload import listenersOf

        self._listeners = [bySpec[spec] for spec in listenersOf(config)]
        # In place: whoever holds the list (the admin listener) sees it.
        self.gates[:] = [listener.gate for listener in self._listeners]  # type: ignore[misc]
        cap = config.limits.maxClientConnections
        if cap is not None:
            for gate in self.gates:
                gate.cap = cap
        oldOrigins = originsOf(oldRouter, oldConfig)
        newOrigins = originsOf(prepared.router, config)
        factory.pool.reinstate(newOrigins)
        factory.pool.retire(oldOrigins - newOrigins)
        self.configVersion = ConfigVersion.of(
            self.versionedConfig(config), self._reactor.seconds(), source  # type: ignore[attr-defined]
        )
        changes = describe(
            diff, routesOf(oldRouter), routesOf(prepared.router), oldOrigins, newOrigins
        )
        version = self.configVersion.digest

        def done(_: object) -> None:
            # Said once the removed listeners' sockets are closed.
            self._log.info(
                "reloaded the configuration{source}: {changes} (version {version})",
                source=f" from {source}" if source else "",
                changes=changes,
                version=version,
            )

        DeferredList(stopping).addCallback(done)
        return self._notify(ReloadOutcome(True, self.configVersion))

    def _retire(self, listener: Listener, timeout: float) -> Deferred[object]:
        """
        A reload removed C{listener}: stop accepting, and let its
        connections finish what they are doing (at most C{timeout}
        seconds), then close them.

        @return: Fires when its socket is closed.
        """
        stopped: Deferred[object] = maybeDeferred(listener.disownServiceParent)
        listener.close()
        gate = listener.gate
        if gate is None:
            return stopped
        self._retiring.append(gate)
        reactor: Any = self._reactor
        timer = reactor.callLater(timeout, gate.abortAll)

        def drained(_: object) -> None:
            if timer.active():
                timer.cancel()
            if gate in self._retiring:
                self._retiring.remove(gate)

        gate.drain().addCallback(drained)
        return stopped

    def _hangup(self, signum: int, frame: object) -> None:
        # A signal handler may interrupt the reactor anywhere: reload from
        # the reactor's loop instead.
        self._reactor.callFromThread(self.reload)  # type: ignore[attr-defined]

    def _userSignal(self, signum: int, frame: object) -> None:
        self._reactor.callFromThread(self.reopenLogs)  # type: ignore[attr-defined]
        # twistd --logfile rotates its own log on SIGUSR1 with a handler of
        # its own, installed before ours: it goes on doing so.
        previous = self._previousUser1
        if callable(previous):
            previous(signum, frame)

    def startService(self) -> None:
        """
        Bind every listener (see L{listen}) unless bound already, start the
        rest, and log that the proxy has started.

        @raise ListenError: A listener cannot listen.
        """
        self.listen()
        super().startService()  # type: ignore[no-untyped-call]
        if self.reloadOnHangup and hasattr(signal, "SIGHUP"):
            # Without a handler, SIGHUP's default action ends the process.
            self._previousHandler = signal.signal(signal.SIGHUP, self._hangup)
        if self.reloadOnHangup and hasattr(signal, "SIGUSR1"):
            # Without a handler, SIGUSR1's default action ends the process.
            self._previousUser1 = signal.signal(signal.SIGUSR1, self._userSignal)
        self._log.info(
            "proxykit started: listening on {endpoints}",
            endpoints=", ".join(self.endpoints),
        )

    def stopService(self) -> Deferred[None]:
        """
        Stop gracefully: stop accepting, let what is in progress finish
        (L{drain}, at most C{timeouts.drain} seconds), then close the
        upstream pool.  With C{timeouts.drain_delay}, C{/readyz} answers 503
        that long before the listeners stop accepting (L{_notReady}).
        """
        if self._previousHandler is not None:
            signal.signal(signal.SIGHUP, self._previousHandler)
            self._previousHandler = None
        if self._previousUser1 is not None:
            signal.signal(signal.SIGUSR1, self._previousUser1)
            self._previousUser1 = None
        delay = self.factory.config.timeouts.drainDelay
        d: Deferred[None]
        if delay > 0 and not self.draining:
            d = self._notReady(delay).addCallback(self._stopChildren)
        else:
            d = super().stopService()  # type: ignore[no-untyped-call]
        d.addCallback(lambda _: self.drain(self.factory.config.timeouts.drain))
        d.addCallback(self._closeAdmin)
        d.addCallback(lambda _: self.factory.pool.closeAll())
        d.addCallback(self._closeLog)
        # Stopped gracefully: exit 0, not by the signal that asked for it.
        d.addCallback(lambda _: forgetExitSignal(self._reactor))
        d.addCallback(lambda _: None)
        return d

    def _stopChildren(self, ignored: object) -> Deferred[None]:
        # The listeners (child services) stop accepting.
        return service.MultiService.stopService(self)  # type: ignore[no-untyped-call, no-any-return]

    def _notReady(self, delay: float) -> Deferred[None]:
        """
        The first step of a stop with C{timeouts.drain_delay}: C{/readyz}
        answers 503 (L{draining} is set) while the listeners go on accepting
        and serving for C{delay} seconds, so that a load balancer that
        checks C{/readyz} takes this instance out before its listeners
        close.  A second C{SIGTERM} or C{SIGINT} ends the wait at once.

        @return: Fires when the wait is over.
        """
        self.draining = True
        reactor: Any = self._reactor
        d: Deferred[None] = Deferred()

        def over(why: str) -> None:
            if d.called:
                return
            if timer.active():
                timer.cancel()
            restore()
            self._log.info("drain delay over ({why}): closing the listeners", why=why)
            d.callback(None)

        timer = reactor.callLater(delay, over, f"after {delay:g} s")
        restore = self._onSecondSignal(over)
        self._log.info(
            "not ready: still accepting for {delay:g} s (timeouts.drain_delay), then draining",
            delay=delay,
        )
        return d

    def _onSecondSignal(self, act: Callable[[str], None]) -> Callable[[], None]:
        """
        While stopping, with L{cutOnSignal}: call C{act("second signal")}
        from the reactor's loop on the next C{SIGTERM} or C{SIGINT}.

        @return: Puts the previous handlers back.
        """
        reactor: Any = self._reactor
        previous: dict[int, Any] = {}
        if self.cutOnSignal:
            for number in (signal.SIGTERM, signal.SIGINT):
                previous[number] = signal.signal(
                    number,
                    lambda signum, frame: reactor.callFromThread(act, "second signal"),
                )

        def restore() -> None:
            for number, handler in previous.items():
                signal.signal(number, handler)
            previous.clear()

        return restore

    def _closeAdmin(self, ignored: object) -> Deferred[None] | None:
        # Only once the drain is over: /readyz answers 503 meanwhile.
        if self._admin is None:
            return None
        return self._admin.stopService()

    def _closeLog(self, ignored: object) -> None:
        if self.accessLog is not None:
            self.accessLog.close()

    def drain(self, timeout: float) -> Deferred[None]:
        """
        The listeners no longer accept: close idle client connections now,
        let the busy ones finish their response or tunnel (each then
        closes, with C{Connection: close} on that response), and drop
        whatever is still open after C{timeout} seconds, or at once on a
        second C{SIGTERM} or C{SIGINT} (see L{cutOnSignal}).

        @return: Fires when no client connection is left.
        """
        self.draining = True
        gates = self.gates + self._retiring
        waiting = [gate.drain() for gate in gates]
        remaining = sum(gate.remaining for gate in gates)
        if not remaining:
            return succeed(None)
        reactor: Any = self._reactor
        started = reactor.seconds()

        def cut(why: str) -> None:
            if done.called:
                return
            count = sum(gate.abortAll() for gate in gates)
            self._log.warn(
                "drain cut short ({why}): {count} connections closed", why=why, count=count
            )

        timer = reactor.callLater(timeout, cut, "drain timeout")
        restore = self._onSecondSignal(cut)
        # Said once the second signal is handled: a test may send it then.
        self._log.info(
            "draining {count} connections (at most {timeout:g} s; SIGTERM again to cut them)",
            count=remaining,
            timeout=timeout,
        )

        def drained(result: object) -> None:
            if timer.active():
                timer.cancel()
            restore()
            self._log.info(
                "drained in {seconds:.1f} s", seconds=reactor.seconds() - started
            )

        done: Deferred[None] = DeferredList(waiting).addCallback(drained)
        return done


def _expected() -> tuple[type[BaseException], ...]:
    from .config.values import ConfigError
    from .ops.reload import ReloadRefused
    from .tls import TLSFileError

    return (ReloadError, ConfigError, ReloadRefused, TLSFileError, ListenError, OSError, ValueError)


def _problem(error: BaseException) -> str:
    """
    What is wrong, in the words the same error gets at start.
    """
    if isinstance(error, OSError) and error.filename and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error) or type(error).__name__


def forwardService(config: ProxyConfig, reactor: IReactorTime | None = None) -> ProxyService:
    """
    The forward proxy described by C{config}: the factory L{forwardProxy}
    builds, listening on C{config.listen} (and C{config.tls}).
    """
    destinations = destinationsFor(config)
    router = ForwardRouter(config.forward, destinations)
    proxy = makeService(router, config, reactor, destinations=destinations)
    proxy.buildRouter = forwardRouter
    return proxy


def reverseService(config: ProxyConfig, reactor: IReactorTime | None = None) -> ProxyService:
    """
    The reverse proxy described by C{config}: the factory L{reverseProxy}
    builds (virtual hosts, origin groups, active health checks running while
    it listens), listening on C{config.listen} (and C{config.tls}).  With
    C{reverse.forward_proxy}, the same listeners also serve as a forward
    proxy.
    """
    reactor = orGlobal(reactor)
    destinations = destinationsFor(config)
    router, checkers = reverseRouter(config, reactor, destinations)
    proxy = makeService(
        router, config, reactor, healthCheckers=checkers, destinations=destinations
    )
    proxy.buildRouter = reverseRouter
    return proxy


def makeService(
    router: IRouter,
    config: ProxyConfig,
    reactor: IReactorTime | None = None,
    healthCheckers: Sequence[HealthChecker | OriginDiscovery] = (),
    destinations: DestinationPolicy | None = None,
) -> ProxyService:
    """
    A service serving C{router}'s decisions on C{config.listen}, and over
    TLS on C{config.tls.listen}, with the factory L{buildFactory} makes.

    @param healthCheckers: Run while the service listens.
    @param destinations: The policy C{router} was given, if it was given
        one: the factory's connector then applies the same object.

    @raise proxykit.tls.TLSFileError: A certificate or key file cannot be
        used.
    @raise OSError: The access log file cannot be opened.
    """
    reactor = orGlobal(reactor)
    from .ops.accesslog import AccessLog

    accessLog = AccessLog.fromConfig(config, reactor)
    factory = buildFactory(
        router,
        config,
        reactor,
        healthCheckers=healthCheckers,
        destinations=destinations,
        accessLog=accessLog,
    )
    tls = None
    redirect = None
    if config.tls is not None:
        from .tls import HTTPSRedirectRouter, ServerTLS

        tls = ServerTLS(config.tls)
        if config.tls.redirectListen:
            table = getattr(router, "table", None)
            reverse = getattr(router, "reverse", None)
            if table is None and reverse is not None:
                table = getattr(reverse, "table", None)
            redirect = ProxyFactory(
                HTTPSRedirectRouter(table, config.tls.redirectPort),
                poolFor(config, reactor),
                config,
                reactor=reactor,
            )
    return ProxyService(factory, config.listen, reactor, tls, redirect, accessLog)
