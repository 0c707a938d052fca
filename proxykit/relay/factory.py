# -*- test-case-name: tests.test_protocol -*-
"""
The factory both proxy modes share: a router, a pool, a config, and the
parts its client connections (L{proxykit.relay.client.ProxyProtocol}) use.
"""


from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IReactorTime,
)
from twisted.internet.protocol import Factory

from ..config.values import ProxyConfig
from ..decisions import (
    ClientInfo,
    IRouter,
    Origin,
)
from ..h1 import (
    Limits,
)
from ..policy.destinations import DestinationPolicy, destinationsFor
from ..policy.requestid import RequestIds
from ..policy.rewrite import viaValue
from ..policy.vhosts import bindRouteHooks
from ..reactor import orGlobal
from .admission import Admission
from .client import ProxyProtocol
from .endpoints import OriginConnector
from .gate import listeningPortOf
from .hooks import (
    Hooks,
)
from .origin import OriginFactory
from .pool import ConnectionPool, Pooled, PrivateKey

if TYPE_CHECKING:
    from twisted.internet.interfaces import ITransport

    from ..policy.auth import ProxyAuthenticator
    from .discovery import OriginDiscovery
    from .health import HealthChecker



def poolFor(config: ProxyConfig, reactor: IReactorTime) -> ConnectionPool:
    """
    The upstream pool C{config} describes: its idle settings, and its limits
    on connections per origin and on requests waiting for one (which wait
    at most the connect timeout).
    """
    limits = config.limits
    return ConnectionPool(
        reactor,
        config.pool,
        maxPerKey=limits.maxOriginConnections,
        maxQueue=limits.maxOriginQueue,
        queueTimeout=config.timeouts.connect,
    )


class ProxyFactory(Factory):
    """
    Serves HTTP/1.1 proxy clients; forward or reverse by the router it is
    given.

    @ivar router: Decides per request (see L{proxykit.decisions.IRouter}).
    @ivar pool: Upstream keep-alive connections.
    @ivar config: Timeouts, limits and the rest.
    @ivar reactor: The reactor for timers and connections.
    @ivar requestIds: Decides each request's id (C{[log] request_id}).
    """

    protocol = ProxyProtocol
    # Factory's "Starting factory {factory!r}" event carries the factory
    # object, which a JSON log cannot keep; the port's "starting on" line
    # says the same.
    noisy = False

    def __init__(
        self,
        router: IRouter,
        pool: ConnectionPool | None = None,
        config: ProxyConfig | None = None,
        reactor: IReactorTime | None = None,
        authenticator: ProxyAuthenticator | None = None,
        destinations: DestinationPolicy | None = None,
        healthCheckers: Sequence[HealthChecker | OriginDiscovery] = (),
        hooks: Hooks | None = None,
    ) -> None:
        """
        @param pool: C{None}: the pool C{config} describes (L{poolFor}).
        @param config: C{None}: the defaults (L{ProxyConfig}).
        @param authenticator: Checks C{Proxy-Authorization} on forward-proxy
            requests (absolute-form and CONNECT); C{None}: no authentication.
        @param destinations: Checked on every address a forward-proxy
            destination resolves to (the router checks names and literals).
            C{None}: the policy C{twistd proxykit} applies for C{config}
            (L{proxykit.policy.destinations.destinationsFor}: strict when
            C{config.listen} reaches beyond loopback, or once a connection
            arrives through a listener that does; see L{noteListener}).
            Only an explicit
            L{proxykit.policy.destinations.OPEN} turns every check off.
        @param healthCheckers: Started when the first listener starts
            listening with this factory, stopped when the last one stops
            (L{startFactory}, L{stopFactory}).
        @param hooks: The application's hooks (L{proxykit.relay.hooks}); C{None}:
            an empty registry, found as L{hooks} to register on later.

        @raise ValueError: C{hooks} has route hooks (L{Hooks.forRoute}) for
            a route C{router} does not have.
        """
        reactor = orGlobal(reactor)
        hooks = hooks if hooks is not None else Hooks()
        self.reactor: IReactorTime = reactor
        config = config if config is not None else ProxyConfig()
        bindRouteHooks(router, hooks.routes)
        self.pool = pool if pool is not None else poolFor(config, self.reactor)
        if destinations is None:
            destinations = destinationsFor(config)
        self.healthCheckers: tuple[HealthChecker | OriginDiscovery, ...] = ()
        """What runs while the factory listens: the health checkers and the
        DNS discovery of the router's routes."""
        self._apply(config, router, authenticator, destinations, hooks)
        self.healthCheckers = self._bind(healthCheckers)

    def _apply(
        self,
        config: ProxyConfig,
        router: IRouter,
        authenticator: ProxyAuthenticator | None,
        destinations: DestinationPolicy,
        hooks: Hooks,
    ) -> None:
        """
        Serve the next requests with these parts: what L{__init__} and
        L{reconfigure} share.  The admission is replaced whole, so that a
        request is decided by one configuration, never a mix.
        """
        reactor = self.reactor
        self.config = config
        pseudonym = config.forward.via.encode("ascii")
        self.pseudonym = pseudonym.lower()
        limits = config.limits
        self.limits = Limits(
            limits.maxRequestLine, limits.maxHeaderBytes, limits.maxHeaderCount
        )
        self.destinations = destinations
        self._listenersSeen: weakref.WeakSet[IListeningPort] = weakref.WeakSet()
        self.connector = OriginConnector(reactor, destinations)
        self.requestIds = RequestIds.fromConfig(self.config)
        self.via: dict[bytes, bytes] = {
            b"1.1": viaValue(b"1.1", pseudonym),
            b"1.0": viaValue(b"1.0", pseudonym),
        }
        self.admission = Admission(
            router,
            authenticator,
            self.pseudonym,
            config.forward.allowTrace,
            limits.maxBodyBytes,
            hooks,
            reactor,
            config.timeouts.response,
        )

    def reconfigure(
        self,
        config: ProxyConfig,
        router: IRouter,
        authenticator: ProxyAuthenticator | None = None,
        destinations: DestinationPolicy | None = None,
        healthCheckers: Sequence[HealthChecker | OriginDiscovery] = (),
    ) -> None:
        """
        Serve every request decided from now on with a new configuration (a
        reload): its router, authenticator, destination policy, timeouts,
        limits and pool settings.  The hooks and the pool stay (the pool
        takes the new settings, L{ConnectionPool.configure}).

        Requests already decided finish as they were decided (their origin,
        their timeouts); a keep-alive connection's next request is decided
        by the new configuration.  The header size limits apply to new
        connections.  While the factory listens, the old health checkers
        stop and the new ones start.

        @param destinations: C{None}: L{destinationsFor}'s policy.
        @raise ValueError: The hooks have route hooks (L{Hooks.forRoute})
            for a route C{router} does not have; nothing changed.
        """
        bindRouteHooks(router, self.hooks.routes)
        if destinations is None:
            destinations = destinationsFor(config)
        self._apply(config, router, authenticator, destinations, self.hooks)
        limits = config.limits
        self.pool.configure(
            config.pool,
            maxPerKey=limits.maxOriginConnections,
            maxQueue=limits.maxOriginQueue,
            queueTimeout=config.timeouts.connect,
        )
        old, self.healthCheckers = self.healthCheckers, self._bind(healthCheckers, old=self.healthCheckers)
        if self.numPorts > 0:
            for checker in old:
                if checker not in self.healthCheckers:
                    checker.stop()
            for checker in self.healthCheckers:
                if checker not in old:
                    checker.start()

    def _bind(
        self,
        tasks: Sequence[HealthChecker | OriginDiscovery],
        old: Sequence[HealthChecker | OriginDiscovery] = (),
    ) -> tuple[HealthChecker | OriginDiscovery, ...]:
        """
        C{tasks}, the DNS discovery among them told which pool's
        connections to retire when members leave, and given the last
        answers of the discovery they replace (C{old}, a reload's).
        """
        from .discovery import OriginDiscovery

        for task in tasks:
            if isinstance(task, OriginDiscovery):
                task.usePool(self.pool)
                if task not in old:
                    task.adopt(old)
        return tuple(tasks)

    @property
    def router(self) -> IRouter:
        """
        Decides where requests go (L{Admission.router}).
        """
        return self.admission.router

    @router.setter
    def router(self, router: IRouter) -> None:
        bindRouteHooks(router, self.hooks.routes)
        self.admission.router = router

    @property
    def hooks(self) -> Hooks:
        """
        The application's hooks (L{proxykit.relay.hooks.Hooks}); register on them
        at any time.  Route hooks (L{Hooks.forRoute}) are bound to their
        routes when the hooks or the router are set.
        """
        return self.admission.hooks

    @hooks.setter
    def hooks(self, hooks: Hooks) -> None:
        bindRouteHooks(self.router, hooks.routes)
        self.admission.hooks = hooks

    @property
    def authenticator(self) -> ProxyAuthenticator | None:
        """
        Checks forward-proxy requests' credentials (L{Admission.authenticator}).
        """
        return self.admission.authenticator

    @authenticator.setter
    def authenticator(self, authenticator: ProxyAuthenticator | None) -> None:
        self.admission.authenticator = authenticator

    def noteListener(self, transport: ITransport) -> None:
        """
        A connection arrived on C{transport}: tell the destination policy
        where the listener it came through is bound, once a listener (see
        L{DestinationPolicy.listenerAt}), so that a proxy listening beyond
        loopback is strict about destinations however it was set listening.
        """
        policy = self.destinations
        if policy.strict or not policy.followsListeners:
            return
        port = listeningPortOf(transport)
        if port is None or port in self._listenersSeen:
            return
        self._listenersSeen.add(port)
        policy.listenerAt(port.getHost())

    def startFactory(self) -> None:
        """
        The first listener starts: start the health checks.
        """
        for checker in self.healthCheckers:
            checker.start()

    def stopFactory(self) -> None:
        """
        The last listener stopped: stop the health checks.  (The pool stays
        open for the connections still being served; see
        L{proxykit.service.ProxyService} and L{ConnectionPool.closeAll}.)
        """
        for checker in self.healthCheckers:
            checker.stop()

    def buildProtocol(self, addr: IAddress) -> ProxyProtocol:  # type: ignore[override]
        return self.protocol(self)

    def clientInfo(self, peer: IAddress, local: IAddress, listener: str = "") -> ClientInfo:
        """
        Describe a new client connection for the router.

        @param listener: The endpoint string of the listener it came
            through, if known.
        """
        peerHost = getattr(peer, "host", "")
        return ClientInfo(
            peerHost=peerHost,
            peerPort=getattr(peer, "port", 0),
            localHost=getattr(local, "host", ""),
            localPort=getattr(local, "port", 0),
            allowed=self.router.clientAllowed(peerHost),
            listener=listener,
        )

    def connectOrigin(self, key: Hashable) -> Deferred[Pooled]:
        """
        Open a new connection to an origin (used by the pool): for a
        L{PrivateKey} (an origin spoken to with the PROXY protocol), one
        whose first bytes are the key's owner, the PROXY header.
        """
        if type(key) is PrivateKey:
            origin: Origin = key.key  # type: ignore[assignment]
            return self.connector.connect(  # type: ignore[return-value]
                origin,
                OriginFactory(key, self.reactor, self.limits),
                self.config.timeouts.connect,
                key.owner,  # type: ignore[arg-type]
            )
        origin = key  # type: ignore[assignment]
        return self.connector.connect(  # type: ignore[return-value]
            origin, OriginFactory(origin, self.reactor, self.limits), self.config.timeouts.connect
        )
