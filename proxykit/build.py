# -*- test-case-name: tests.test_library -*-
"""
The one builder of the proxy (L{buildFactory}), which C{twistd proxykit}
(L{proxykit.service}) shares with the library's L{forwardProxy},
L{reverseProxy} and L{routedProxy}; and the routers and authenticator a
configuration asks for (which a reload builds again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IReactorTime

from .config.values import ProxyConfig
from .decisions import IRouter
from .policy.destinations import DestinationPolicy, destinationsFor
from .policy.routing import ForwardRouter
from .reactor import orGlobal
from .relay.factory import ProxyFactory, poolFor
from .relay.gate import ListenerGate

if TYPE_CHECKING:
    from .ops.accesslog import AccessLog
    from .policy.auth import ProxyAuthenticator
    from .relay.discovery import OriginDiscovery
    from .relay.health import HealthChecker
    from .relay.hooks import Hooks


def forwardRouter(
    config: ProxyConfig, reactor: IReactorTime, destinations: DestinationPolicy
) -> tuple[IRouter, tuple[HealthChecker | OriginDiscovery, ...]]:
    """
    The forward proxy's router for C{config} (a L{RouterBuilder}).
    """
    return ForwardRouter(config.forward, destinations), ()


def authenticatorFor(config: ProxyConfig, reactor: IReactorTime) -> ProxyAuthenticator | None:
    """
    The proxy authenticator C{forward.auth_file} asks for, or C{None}.

    @raise proxykit.policy.auth.HtpasswdError: The file is malformed or has hashes
        other than bcrypt.
    @raise OSError: The file cannot be read.
    """
    path = config.forward.authFile
    if path is None:
        return None
    from .policy.auth import BcryptChecker, ProxyAuthenticator

    checker = BcryptChecker.fromFile(path, reactor=reactor)  # type: ignore[arg-type]
    return ProxyAuthenticator(checker, realm=config.forward.authRealm, reactor=reactor)


def reverseRouter(
    config: ProxyConfig, reactor: IReactorTime, destinations: DestinationPolicy | None = None
) -> tuple[IRouter, tuple[HealthChecker | OriginDiscovery, ...]]:
    """
    The router of C{config}'s reverse proxy (combined with the forward
    router when C{reverse.forward_proxy} is set), and what runs while it
    listens (not started): the health checkers of the routes that ask for
    active checks, and the DNS discovery of the routes whose origins are
    given by name (L{proxykit.relay.discovery.OriginDiscovery}).

    @param destinations: The forward router's destination policy; C{None}:
        L{destinationsFor}'s.
    """
    if destinations is None:
        destinations = destinationsFor(config)
    from .policy.vhosts import CombinedRouter, ReverseRouter, VhostTable
    from .relay.discovery import OriginDiscovery, resolverFor
    from .relay.health import HealthChecker

    table = VhostTable.fromConfig(config.reverse, reactor)
    router: IRouter = ReverseRouter(table, config.reverse)
    if config.reverse.forwardProxy:
        router = CombinedRouter(ForwardRouter(config.forward, destinations), router)  # type: ignore[arg-type]
    tasks: list[HealthChecker | OriginDiscovery] = []
    resolver = None
    for route in table:
        checker = None
        if route.config.healthCheck is not None:
            checker = HealthChecker(route.upstream, route.config.healthCheck, reactor)  # type: ignore[arg-type]
            tasks.append(checker)
        if OriginDiscovery.wanted(route.config.origins):
            if resolver is None:
                resolver = resolverFor(config.reverse, reactor)
            tasks.append(
                OriginDiscovery(
                    route.upstream,  # type: ignore[arg-type]
                    route.config.origins,
                    resolver,
                    config.reverse.dnsMinTtl,
                    config.reverse.dnsMaxTtl,
                    reactor,
                    checker,
                    route.config.proxyProtocol,
                )
            )
    return router, tuple(tasks)


def buildFactory(
    router: IRouter,
    config: ProxyConfig,
    reactor: IReactorTime | None = None,
    *,
    healthCheckers: Sequence[HealthChecker | OriginDiscovery] = (),
    destinations: DestinationPolicy | None = None,
    hooks: Hooks | None = None,
    accessLog: AccessLog | None = None,
) -> ProxyFactory:
    """
    The L{ProxyFactory} C{twistd proxykit} serves C{router} with: the pool
    C{config} describes (L{poolFor}: idle settings, per-origin connection
    cap and queue), the authenticator of C{forward.auth_file}
    (L{authenticatorFor}), and the destination policy L{destinationsFor}
    gives.  The one builder behind L{makeService}, L{forwardProxy} and
    L{reverseProxy}.

    @param healthCheckers: Started and stopped with the factory (when the
        first listener starts and the last one stops): health checkers and
        DNS discovery.
    @param destinations: Another destination policy than
        L{destinationsFor}'s; only for deliberately weaker (or stronger)
        rules, e.g. L{proxykit.policy.destinations.OPEN}.
    @param hooks: The application's hooks (L{proxykit.relay.hooks.Hooks}).
    @param accessLog: The access log to write; C{None}: the one
        C{config.log} asks for (L{proxykit.ops.accesslog.AccessLog.fromConfig}),
        if any.  It observes C{hooks} (an empty registry is made if none is
        given).

    @raise ValueError: C{hooks} has hooks for a route C{router} lacks.
    @raise OSError: The access log file cannot be opened.
    @raise proxykit.policy.auth.HtpasswdError: C{forward.auth_file} is malformed.
    @raise OSError: C{forward.auth_file} cannot be read.
    """
    reactor = orGlobal(reactor)
    if accessLog is None and config.log.access is not None:
        from .ops.accesslog import AccessLog

        accessLog = AccessLog.fromConfig(config, reactor)
    if accessLog is not None:
        if hooks is None:
            from .relay.hooks import Hooks

            hooks = Hooks()
        accessLog.observe(hooks)
    return ProxyFactory(
        router,
        poolFor(config, reactor),
        config,
        reactor=reactor,
        authenticator=authenticatorFor(config, reactor),
        destinations=destinationsFor(config) if destinations is None else destinations,
        healthCheckers=healthCheckers,
        hooks=hooks,
    )


def forwardProxy(
    config: ProxyConfig | None = None,
    reactor: IReactorTime | None = None,
    *,
    destinations: DestinationPolicy | None = None,
    hooks: Hooks | None = None,
) -> ListenerGate:
    """
    A forward proxy to listen with on any endpoint
    (C{endpoint.listen(forwardProxy(config))}), with exactly the policy
    C{twistd proxykit forward} applies for C{config}.

    The destination rule depends on where the proxy listens: on
    C{config.listen} (and C{config.tls}), and on any listener its
    connections arrive through.  Listening beyond loopback on an endpoint
    C{config} does not name, it becomes strict at that listener's first
    connection, before its request is routed (see
    L{DestinationPolicy.listenerAt}); naming the endpoints in
    C{config.listen} makes it strict from the start, for clients of its
    loopback listeners too.

    @param config: C{None}: the defaults (listening on 127.0.0.1).
    @param reactor: C{None}: the global reactor.
    @param destinations: Only to replace the policy deliberately, e.g.
        L{proxykit.policy.destinations.OPEN} (no checks at all).
    @param hooks: The application's hooks (L{proxykit.relay.hooks.Hooks}):
        code run before and after routing, on response heads, and observing
        tunnels, errors and completed requests.
    @return: A factory that caps its open connections at
        C{limits.max_client_connections}.  Its C{factory} attribute is the
        L{ProxyFactory}; close upstream connections at the end with
        C{factory.pool.closeAll()}.
    """
    if config is None:
        config = ProxyConfig()
    if destinations is None:
        destinations = destinationsFor(config)
    router = ForwardRouter(config.forward, destinations)
    return routedProxy(router, config, reactor, destinations=destinations, hooks=hooks)


def routedProxy(
    router: IRouter,
    config: ProxyConfig | None = None,
    reactor: IReactorTime | None = None,
    *,
    destinations: DestinationPolicy | None = None,
    healthCheckers: Sequence[HealthChecker | OriginDiscovery] = (),
    hooks: Hooks | None = None,
) -> ListenerGate:
    """
    A proxy serving the decisions of C{router} (any L{IRouter}: a custom
    router, or one of proxykit's composed differently), to listen with on
    any endpoint, with the policy C{twistd proxykit} applies for C{config}
    around it: client connection cap, pool limits, timeouts, header limits,
    authentication and destination checks (see L{forwardProxy}).

    @param config: C{None}: the defaults.
    @param reactor: C{None}: the global reactor.
    @param destinations: See L{forwardProxy}.
    @param healthCheckers: Run while the proxy listens.
    @param hooks: See L{forwardProxy}.
    @return: See L{forwardProxy}.
    """
    if config is None:
        config = ProxyConfig()
    factory = buildFactory(
        router,
        config,
        reactor,
        healthCheckers=healthCheckers,
        destinations=destinations,
        hooks=hooks,
    )
    return ListenerGate(factory, config.limits.maxClientConnections)


def reverseProxy(
    config: ProxyConfig,
    reactor: IReactorTime | None = None,
    *,
    destinations: DestinationPolicy | None = None,
    hooks: Hooks | None = None,
) -> ListenerGate:
    """
    A reverse proxy to listen with on any endpoint
    (C{endpoint.listen(reverseProxy(config))}), with exactly the policy
    C{twistd proxykit reverse} applies for C{config}.  The active health
    checks of its routes run while it listens (from the first listener's
    start to the last one's stop).

    @param reactor: C{None}: the global reactor.
    @param destinations: See L{forwardProxy} (with
        C{reverse.forward_proxy}).
    @param hooks: See L{forwardProxy}; L{Hooks.forRoute} gives a route's
        own.
    @return: See L{forwardProxy}.
    """
    reactor = orGlobal(reactor)
    if destinations is None:
        destinations = destinationsFor(config)
    router, checkers = reverseRouter(config, reactor, destinations)
    return routedProxy(
        router, config, reactor, healthCheckers=checkers, destinations=destinations, hooks=hooks
    )
