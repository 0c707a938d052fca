# -*- test-case-name: tests.test_service -*-
"""
The service tree C{twistd proxykit} runs: one listener per endpoint string,
and the upstream pool closed on stop.
"""

from __future__ import annotations

import ipaddress
import re
import signal
from typing import TYPE_CHECKING, Any

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from zope.interface import implementer

from ._gate import ListenerGate as ListenerGate
from .config import ProxyConfig
from .destinations import DestinationPolicy
from .protocol import ProxyFactory, poolFor
from .reactor import orGlobal

if TYPE_CHECKING:
    from .auth import ProxyAuthenticator
    from .tls import ServerTLS, TLSSettings
from .routing import ForwardRouter, IRouter


@implementer(IStreamServerEndpoint)
class _GatedEndpoint:
    """
    Listens through an endpoint and tells the gate its port (a gate
    listening without it learns the port from its first connection).
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
    The forward proxy described by C{config}.
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
    The reverse proxy described by C{config}: its virtual hosts, their
    origin groups, and the active health checks of the routes that ask for
    them (started and stopped with the service).  With
    C{reverse.forward_proxy}, the same listeners also serve as a forward
    proxy.
    """
    from .health import HealthChecker
    from .vhosts import CombinedRouter, ReverseRouter, VhostTable

    reactor = orGlobal(reactor)
    table = VhostTable.fromConfig(config.reverse, reactor)
    router: IRouter = ReverseRouter(table, config.reverse)
    if config.reverse.forwardProxy:
        router = CombinedRouter(ForwardRouter(config.forward), router)  # type: ignore[arg-type]
    proxy = makeService(router, config, reactor)
    for route in table:
        check = route.config.healthCheck
        if check is not None:
            checker = HealthChecker(route.upstream, check, reactor)  # type: ignore[arg-type]
            _CheckerService(checker).setServiceParent(proxy)  # type: ignore[no-untyped-call]
    return proxy


class _CheckerService(service.Service):
    """
    Runs a health checker while the proxy runs.
    """

    def __init__(self, checker: object) -> None:
        self._checker = checker

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._checker.start()  # type: ignore[attr-defined]

    def stopService(self) -> None:
        super().stopService()  # type: ignore[no-untyped-call]
        self._checker.stop()  # type: ignore[attr-defined]


def makeService(
    router: IRouter, config: ProxyConfig, reactor: IReactorTime | None = None
) -> ProxyService:
    """
    A service serving C{router}'s decisions on C{config.listen}, and over
    TLS on C{config.tls.listen}.

    @raise proxykit.tls.TLSFileError: A certificate or key file cannot be
        used.
    """
    reactor = orGlobal(reactor)
    factory = ProxyFactory(
        router,
        poolFor(config, reactor),
        config,
        reactor=reactor,
        authenticator=authenticatorFor(config, reactor),
        destinations=destinationsFor(config),
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
    return ProxyService(factory, config.listen, reactor, tls, redirect)
