# -*- test-case-name: tests.test_state -*-
"""
What the metrics and the admin listener read of a running proxy, and how
they name it: L{IProxyState} (a L{proxykit.service.ProxyService}, or an
L{EmbeddedProxy} for an application's own proxy), the state of each
configured origin (L{originStates}) and listener names (L{gateName}).

Everything here is read when asked for, never kept: a reload may replace
the factory's router, pools and health checkers at any time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import attrs

from ..decisions import Origin
from ..policy.balance import OriginGroup, originURL
from ..policy.vhosts import tableOf
from .version import ConfigVersion

if TYPE_CHECKING:
    from ..relay.factory import ProxyFactory
    from ..relay.gate import ListenerGate

__all__ = [
    "NO_ROUTE",
    "EmbeddedProxy",
    "IProxyState",
    "OriginState",
    "addressName",
    "boundAddress",
    "gateName",
    "originStates",
]

NO_ROUTE = "-"
"""The C{vhost} and C{route} label of requests that no reverse-proxy route
served: forward-proxy requests and tunnels, refusals, bad requests."""


class IProxyState(Protocol):
    """
    What the metrics and the admin listener read of a running proxy, at the
    moment they are asked (a reload may replace any of it).
    L{proxykit.service.ProxyService} provides it; an application embedding
    proxykit can use L{EmbeddedProxy}.
    """

    @property
    def factory(self) -> ProxyFactory:
        """
        The factory serving requests now (router, pool, health checkers).
        """

    @property
    def gates(self) -> Sequence[ListenerGate]:
        """
        One gate per listener (its C{open} connections).
        """

    @property
    def endpoints(self) -> Sequence[str]:
        """
        The listeners' endpoint strings, in the order of L{gates}.
        """

    @property
    def configVersion(self) -> ConfigVersion | None:
        """
        The configuration served now, if known.
        """

    @property
    def ready(self) -> bool:
        """
        Whether every listener is bound and the proxy is not draining.
        """

    @property
    def draining(self) -> bool:
        """
        Whether it is draining (stopping).
        """


@attrs.define
class EmbeddedProxy:
    """
    L{IProxyState} for a proxy an application set listening itself
    (C{endpoint.listen(gate)} with C{gate = forwardProxy(config)}).

    @ivar factory: The proxy's factory (C{gate.factory}).
    @ivar gates: The gates it listens through.
    @ivar endpoints: Their endpoint strings, if the application has them.
    @ivar configVersion: The configuration's version, if any.
    @ivar ready: What C{/readyz} says: the application sets it.
    @ivar draining: Whether the application is stopping it.
    """

    factory: ProxyFactory
    gates: Sequence[ListenerGate] = ()
    endpoints: Sequence[str] = ()
    configVersion: ConfigVersion | None = None
    ready: bool = True
    draining: bool = False


@attrs.frozen
class OriginState:
    """
    One configured origin of one reverse-proxy route, as it is now.

    @ivar vhost: Its virtual host's first name.
    @ivar route: The route's prefix.
    @ivar origin: The origin's URL.
    @ivar up: Whether it is not marked down by active health checks.
    @ivar ejected: Whether it is passively ejected now.
    @ivar ejections: How many times it was ejected.
    @ivar outstanding: Requests to it in flight.
    @ivar idle: Idle pooled connections to it.
    @ivar active: Connections to it in use (or connecting).
    @ivar checks: Health checks passed and failed, or C{None} when its
        route has no active checks.
    """

    vhost: str
    route: str
    origin: str
    up: bool
    ejected: bool
    ejections: int
    outstanding: int
    idle: int
    active: int
    checks: tuple[int, int] | None


def originStates(factory: ProxyFactory) -> list[OriginState]:
    """
    Every origin of every reverse-proxy route of C{factory}'s router now,
    in configuration order (none for a forward proxy).
    """
    table = tableOf(factory.router)
    if table is None:
        return []
    pooled = factory.pool.counts()
    from ..relay.health import HealthChecker

    checkers = {
        id(checker.group): checker
        for checker in factory.healthCheckers
        if isinstance(checker, HealthChecker)
    }
    states = []
    for names, routes in table.vhosts:
        vhost = names[0] if names else NO_ROUTE
        for route in routes:
            prefix = route.prefix.decode("ascii", "replace")
            upstream = route.upstream
            group = upstream if isinstance(upstream, OriginGroup) else None
            origins: Iterable[Origin]
            if group is not None:
                origins = group.origins
            elif isinstance(upstream, Origin):
                origins = (upstream,)
            else:
                origins = ()
            checker = checkers.get(id(group)) if group is not None else None
            for origin in origins:
                idle, active = pooled.get(origin, (0, 0))
                states.append(
                    OriginState(
                        vhost,
                        prefix,
                        originURL(origin),
                        up=not group.isMarkedDown(origin) if group else True,
                        ejected=group.isEjected(origin) if group else False,
                        ejections=group.ejections(origin) if group else 0,
                        outstanding=group.outstanding(origin) if group else 0,
                        idle=idle,
                        active=active,
                        checks=checker.results(origin) if checker is not None else None,
                    )
                )
    return states


def gateName(gate: ListenerGate, description: str | None = None) -> str:
    """
    How the metrics name a listener's gate: its endpoint string (its
    L{ListenerGate.name}, which its connections report as
    L{proxykit.ClientInfo.listener}); for a gate without a name, the
    address its port is bound to (see L{addressName}), before it is known
    C{description}, else C{unknown}.
    """
    if gate.name:
        return gate.name
    return boundAddress(gate) or description or "unknown"


def boundAddress(gate: ListenerGate) -> str | None:
    """
    The address a listener's gate is bound to (see L{addressName}), or
    C{None} before it is known.
    """
    port = gate.port
    if port is None:
        return None
    address = port.getHost()
    return addressName(getattr(address, "host", ""), getattr(address, "port", 0))


def addressName(host: str, port: int) -> str:
    """
    How the metrics and C{/status} name a local address: C{host:port}
    (C{[::1]:8080}), or C{unix} without a host (a UNIX socket).
    """
    if not host:
        return "unix"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
