# -*- test-case-name: tests.test_service -*-
"""
The service tree C{twistd proxykit} runs: one listener per endpoint string,
and the upstream pool closed on stop; and the one builder of the proxy
(L{buildFactory}) that it shares with the library's L{forwardProxy} and
L{reverseProxy}.
"""

from __future__ import annotations

import ipaddress
import re
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from zope.interface import implementer

from .config import ProxyConfig
from .destinations import DestinationPolicy
from .protocol import ProxyFactory, ProxyProtocol, poolFor
from .reactor import orGlobal

if TYPE_CHECKING:
    from .auth import ProxyAuthenticator
    from .health import HealthChecker
    from .tls import ServerTLS, TLSSettings
from .routing import ForwardRouter, IRouter


class ListenerGate(Factory):
    """
    Caps the open connections of one listener: at the cap the listening
    port stops accepting (connections wait in the kernel's backlog rather
    than being refused) until one closes.

    @ivar open: The listener's open connections.
    """

    noisy = False
    _log = Logger()

    def __init__(self, factory: ProxyFactory, cap: int) -> None:
        self.factory = factory
        self.cap = cap
        self.open = 0
        self.port: IListeningPort | None = None
        self._paused = False

    def logPrefix(self) -> str:
        """
        Log as the factory it guards (C{ProxyFactory starting on 8080}).
        """
        return self.factory.logPrefix()  # type: ignore[no-any-return, no-untyped-call]

    def doStart(self) -> None:
        self.factory.doStart()  # type: ignore[no-untyped-call]

    def doStop(self) -> None:
        self.factory.doStop()  # type: ignore[no-untyped-call]

    def buildProtocol(self, addr: IAddress) -> ProxyProtocol:  # type: ignore[override]
        protocol = self.factory.buildProtocol(addr)
        protocol.gate = self
        self.open += 1
        if self.open >= self.cap and not self._paused:
            stopReading = getattr(self.port, "stopReading", None)
            if stopReading is not None:
                self._paused = True
                stopReading()
                self._log.info(
                    "listener at {cap} connections: not accepting", cap=self.cap
                )
        return protocol

    def closed(self) -> None:
        """
        One of the listener's connections closed.
        """
        self.open -= 1
        if self._paused and self.open < self.cap:
            self._paused = False
            self.port.startReading()  # type: ignore[union-attr]


@implementer(IStreamServerEndpoint)
class _GatedEndpoint:
    """
    Listens through an endpoint and tells the gate its port.
    """

    def __init__(self, endpoint: IStreamServerEndpoint, gate: ListenerGate) -> None:
        self._endpoint = endpoint
        self._gate = gate

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        def listening(port: IListeningPort) -> IListeningPort:
            self._gate.port = port
            return port

        return self._endpoint.listen(factory).addCallback(listening)


class ProxyService(service.MultiService):
    """
    Listeners for one L{ProxyFactory}, and its pool's shutdown.

    @ivar factory: The factory every listener uses.
    @ivar tls: The TLS listeners' certificates, or C{None}.
    @ivar reloadOnHangup: Whether, while running, C{SIGHUP} reloads the TLS
        certificates (C{twistd proxykit} sets it).
    """

    _log = Logger()
    reloadOnHangup = False

    def __init__(
        self,
        factory: ProxyFactory,
        listen: tuple[str, ...],
        reactor: object,
        tls: ServerTLS | None = None,
        redirect: ProxyFactory | None = None,
    ) -> None:
        """
        @param tls: Also listen on C{tls.config.listen} over TLS, each
            listener with its own settings.
        @param redirect: The factory of the plain listeners that redirect to
            https (on C{tls.config.redirectListen}).
        """
        super().__init__()  # type: ignore[no-untyped-call]
        self.factory = factory
        self.tls = tls
        self._reactor = reactor
        self._previousHandler: Any = None
        cap = factory.config.limits.maxClientConnections
        self.gates: list[ListenerGate] = []
        listeners: list[tuple[str, TLSSettings | None, ProxyFactory]]
        listeners = [(description, None, factory) for description in listen]
        if tls is not None:
            listeners += [
                (description, settings, factory)
                for description, settings in tls.config.listeners()
            ]
            if redirect is not None:
                listeners += [
                    (description, None, redirect) for description in tls.config.redirectListen
                ]
        for description, settings, proxy in listeners:
            gate = ListenerGate(proxy, cap)
            self.gates.append(gate)
            endpoint = _GatedEndpoint(
                endpoints.serverFromString(reactor, description),  # type: ignore[no-untyped-call]
                gate,
            )
            served: IProtocolFactory = gate
            if settings is not None:
                assert tls is not None
                served = tls.wrap(gate, settings)
            listener = StreamServerEndpointService(endpoint, served)  # type: ignore[no-untyped-call]
            listener.setServiceParent(self)  # type: ignore[no-untyped-call]

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

    def _hangup(self, signum: int, frame: object) -> None:
        self._reactor.callFromThread(self.reloadTLS)  # type: ignore[attr-defined]

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        if self.reloadOnHangup and self.tls is not None and hasattr(signal, "SIGHUP"):
            self._previousHandler = signal.signal(signal.SIGHUP, self._hangup)

    def stopService(self) -> Deferred[None]:
        if self._previousHandler is not None:
            signal.signal(signal.SIGHUP, self._previousHandler)
            self._previousHandler = None
        d: Deferred[None] = super().stopService()  # type: ignore[no-untyped-call]
        d.addCallback(lambda _: self.factory.pool.closeAll())
        return d


def forwardService(config: ProxyConfig, reactor: IReactorTime | None = None) -> ProxyService:
    """
    The forward proxy described by C{config}: the factory L{forwardProxy}
    builds, listening on C{config.listen} (and C{config.tls}).
    """
    return makeService(ForwardRouter(config.forward), config, reactor)


def listensBeyondLoopback(descriptions: tuple[str, ...]) -> bool:
    """
    Whether any of these endpoint strings may accept connections from
    beyond this machine: TCP on all interfaces or on a non-loopback address,
    or any kind of endpoint this function does not know (UNIX sockets are
    local).
    """
    for description in descriptions:
        kind = description.split(":", 1)[0].lower()
        if kind == "unix":
            continue
        if kind not in ("tcp", "tcp6", "ssl"):
            return True
        found = re.search(r"(?:^|:)interface=((?:\\.|[^:])*)", description)
        if found is None:
            return True
        interface = found.group(1).replace("\\", "")
        try:
            if not ipaddress.ip_address(interface).is_loopback:
                return True
        except ValueError:
            if interface != "localhost":
                return True
    return False


def destinationsFor(config: ProxyConfig) -> DestinationPolicy:
    """
    The destination policy applied after name resolution: C{config}'s deny
    and allow lists, and, when the proxy listens beyond loopback and
    C{forward.allow_private_destinations} is off, no loopback, private or
    link-local addresses.
    """
    forward = config.forward
    listen = config.listen + (config.tls.endpoints if config.tls is not None else ())
    strict = not forward.allowPrivateDestinations and listensBeyondLoopback(listen)
    return DestinationPolicy(
        forward.allowDestinations, forward.denyDestinations, forward.allowPorts, strict
    )


def authenticatorFor(config: ProxyConfig, reactor: IReactorTime) -> ProxyAuthenticator | None:
    """
    The proxy authenticator C{forward.auth_file} asks for, or C{None}.

    @raise proxykit.auth.HtpasswdError: The file is malformed or has hashes
        other than bcrypt.
    @raise OSError: The file cannot be read.
    """
    path = config.forward.authFile
    if path is None:
        return None
    from .auth import BcryptChecker, ProxyAuthenticator

    checker = BcryptChecker.fromFile(path, reactor=reactor)  # type: ignore[arg-type]
    return ProxyAuthenticator(checker, realm=config.forward.authRealm, reactor=reactor)


def reverseService(config: ProxyConfig, reactor: IReactorTime | None = None) -> ProxyService:
    """
    The reverse proxy described by C{config}: the factory L{reverseProxy}
    builds (virtual hosts, origin groups, active health checks running while
    it listens), listening on C{config.listen} (and C{config.tls}).  With
    C{reverse.forward_proxy}, the same listeners also serve as a forward
    proxy.
    """
    reactor = orGlobal(reactor)
    router, checkers = reverseRouter(config, reactor)
    return makeService(router, config, reactor, healthCheckers=checkers)


def reverseRouter(
    config: ProxyConfig, reactor: IReactorTime
) -> tuple[IRouter, tuple[HealthChecker, ...]]:
    """
    The router of C{config}'s reverse proxy (combined with the forward
    router when C{reverse.forward_proxy} is set), and the health checkers of
    the routes that ask for active checks (not started).
    """
    from .health import HealthChecker
    from .vhosts import CombinedRouter, ReverseRouter, VhostTable

    table = VhostTable.fromConfig(config.reverse, reactor)
    router: IRouter = ReverseRouter(table, config.reverse)
    if config.reverse.forwardProxy:
        router = CombinedRouter(ForwardRouter(config.forward), router)  # type: ignore[arg-type]
    checkers = tuple(
        HealthChecker(route.upstream, route.config.healthCheck, reactor)  # type: ignore[arg-type]
        for route in table
        if route.config.healthCheck is not None
    )
    return router, checkers


def makeService(
    router: IRouter,
    config: ProxyConfig,
    reactor: IReactorTime | None = None,
    healthCheckers: Sequence[HealthChecker] = (),
) -> ProxyService:
    """
    A service serving C{router}'s decisions on C{config.listen}, and over
    TLS on C{config.tls.listen}, with the factory L{buildFactory} makes.

    @param healthCheckers: Run while the service listens.

    @raise proxykit.tls.TLSFileError: A certificate or key file cannot be
        used.
    """
    reactor = orGlobal(reactor)
    factory = buildFactory(router, config, reactor, healthCheckers=healthCheckers)
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
    return ProxyService(factory, config.listen, reactor, tls, redirect)


def buildFactory(
    router: IRouter,
    config: ProxyConfig,
    reactor: IReactorTime | None = None,
    *,
    healthCheckers: Sequence[HealthChecker] = (),
    destinations: DestinationPolicy | None = None,
) -> ProxyFactory:
    """
    The L{ProxyFactory} C{twistd proxykit} serves C{router} with: the pool
    C{config} describes (L{poolFor}: idle settings, per-origin connection
    cap and queue), the authenticator of C{forward.auth_file}
    (L{authenticatorFor}), and the destination policy L{destinationsFor}
    gives.  The one builder behind L{makeService}, L{forwardProxy} and
    L{reverseProxy}.

    @param healthCheckers: Started and stopped with the factory (when the
        first listener starts and the last one stops).
    @param destinations: Another destination policy than
        L{destinationsFor}'s; only for deliberately weaker (or stronger)
        rules, e.g. L{proxykit.destinations.OPEN}.

    @raise proxykit.auth.HtpasswdError: C{forward.auth_file} is malformed.
    @raise OSError: C{forward.auth_file} cannot be read.
    """
    reactor = orGlobal(reactor)
    return ProxyFactory(
        router,
        poolFor(config, reactor),
        config,
        reactor=reactor,
        authenticator=authenticatorFor(config, reactor),
        destinations=destinationsFor(config) if destinations is None else destinations,
        healthCheckers=healthCheckers,
    )


def forwardProxy(
    config: ProxyConfig | None = None,
    reactor: IReactorTime | None = None,
    *,
    destinations: DestinationPolicy | None = None,
) -> ListenerGate:
    """
    A forward proxy to listen with on any endpoint
    (C{endpoint.listen(forwardProxy(config))}), with exactly the policy
    C{twistd proxykit forward} applies for C{config}.

    The destination rule depends on where the proxy listens, which is read
    from C{config.listen} (and C{config.tls}): give there the endpoints
    you listen on, or the rule for a loopback-only proxy applies.

    @param config: C{None}: the defaults (listening on 127.0.0.1).
    @param reactor: C{None}: the global reactor.
    @param destinations: Only to replace the policy deliberately, e.g.
        L{proxykit.destinations.OPEN} (no checks at all).
    @return: A factory that caps its open connections at
        C{limits.max_client_connections}.  Its C{factory} attribute is the
        L{ProxyFactory}; close upstream connections at the end with
        C{factory.pool.closeAll()}.
    """
    if config is None:
        config = ProxyConfig()
    factory = buildFactory(ForwardRouter(config.forward), config, reactor, destinations=destinations)
    return ListenerGate(factory, config.limits.maxClientConnections)


def reverseProxy(
    config: ProxyConfig,
    reactor: IReactorTime | None = None,
    *,
    destinations: DestinationPolicy | None = None,
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
    @return: See L{forwardProxy}.
    """
    reactor = orGlobal(reactor)
    router, checkers = reverseRouter(config, reactor)
    factory = buildFactory(
        router, config, reactor, healthCheckers=checkers, destinations=destinations
    )
    return ListenerGate(factory, config.limits.maxClientConnections)
