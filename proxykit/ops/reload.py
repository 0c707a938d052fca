# -*- test-case-name: tests.test_reload -*-
"""
What a reload changes, computed from the old and the new configuration
before anything is swapped: which listeners are kept, opened and closed,
which configured origins leave (their pooled connections are retired), and
the one line the log says about it; and the names a reload is built from
(L{ConfigLoader}, L{RouterBuilder}, L{Prepared}).

Nothing here holds a socket; L{proxykit.service.ProxyService} carries the
plan out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final

from attrs import frozen
from twisted.internet.interfaces import IReactorTime

from ..config.values import ProxyConfig
from ..decisions import IRouter, Origin, parseParent
from ..policy.destinations import DestinationPolicy
from ..policy.vhosts import CombinedRouter, ReverseRouter, VhostTable

if TYPE_CHECKING:
    from ..listeners import Listener
    from ..policy.auth import ProxyAuthenticator
    from ..relay.discovery import OriginDiscovery
    from ..relay.factory import ProxyFactory
    from ..relay.health import HealthChecker
    from ..tls import ServerTLS

PLAIN: Final = "http"
"""A plain listener of the proxy."""
SECURE: Final = "https"
"""A TLS listener of the proxy."""
REDIRECT: Final = "redirect"
"""A plain listener that redirects to https."""


@frozen
class ListenerSpec:
    """
    One listener a configuration asks for.

    @ivar description: Its endpoint string: a listener is the same one
        across a reload when its endpoint string and kind are.
    @ivar kind: L{PLAIN}, L{SECURE} or L{REDIRECT}.
    @ivar occurrence: How many listeners of the same kind and endpoint
        string come before it (C{tcp:0} may be given twice).
    """

    description: str
    kind: str
    occurrence: int = 0


def numbered(specs: Iterable[tuple[str, str]]) -> tuple[ListenerSpec, ...]:
    """
    The listeners of C{(description, kind)} pairs, in order, each with its
    L{ListenerSpec.occurrence}.
    """
    seen: dict[tuple[str, str], int] = {}
    numbered = []
    for description, kind in specs:
        count = seen.get((description, kind), 0)
        seen[(description, kind)] = count + 1
        numbered.append(ListenerSpec(description, kind, count))
    return tuple(numbered)


def listenersOf(config: ProxyConfig) -> tuple[ListenerSpec, ...]:
    """
    The listeners C{config} asks for, in the order they are bound: plain,
    TLS, then the redirecting ones.
    """
    specs = [(description, PLAIN) for description in config.listen]
    if config.tls is not None:
        specs += [(description, SECURE) for description, _ in config.tls.listeners()]
        specs += [(description, REDIRECT) for description in config.tls.redirectListen]
    return numbered(specs)


class ReloadRefused(Exception):
    """
    The new configuration cannot be served without a restart (or cannot be
    served at all); nothing was changed.
    """


@frozen
class ListenerDiff:
    """
    How the listeners change.

    @ivar kept: Listeners in both configurations (they keep their sockets).
    @ivar added: Listeners to open.
    @ivar removed: Listeners to close (their connections drain).
    """

    kept: tuple[ListenerSpec, ...]
    added: tuple[ListenerSpec, ...]
    removed: tuple[ListenerSpec, ...]


def diffListeners(
    old: Iterable[ListenerSpec], new: Iterable[ListenerSpec]
) -> ListenerDiff:
    """
    Compare listeners by endpoint string.

    @raise ReloadRefused: An endpoint string changes kind (plain, TLS,
        redirect): its socket cannot serve the new kind, and another
        cannot be bound beside it.
    """
    before = tuple(old)
    after = tuple(new)
    added = tuple(spec for spec in after if spec not in before)
    removed = tuple(spec for spec in before if spec not in after)
    for spec in added:
        for previous in removed:
            if previous.description == spec.description and previous.kind != spec.kind:
                raise ReloadRefused(
                    f"listener {spec.description} changes from {previous.kind} to"
                    f" {spec.kind}: that needs a restart"
                )
    return ListenerDiff(
        kept=tuple(spec for spec in after if spec in before), added=added, removed=removed
    )


def tableOf(router: IRouter) -> VhostTable | None:
    """
    The virtual host table of a reverse-proxy router (alone or combined),
    or C{None}.
    """
    if isinstance(router, ReverseRouter):
        return router.table
    if isinstance(router, CombinedRouter):
        return router.reverse.table
    return None


def routesOf(router: IRouter) -> frozenset[str]:
    """
    The routes of C{router}, each as C{"HOST PREFIX"} (a virtual host's
    first name).
    """
    table = tableOf(router)
    if table is None:
        return frozenset()
    return frozenset(
        f"{name} {route.prefix.decode('ascii', 'replace')}"
        for name, routes in table.byName.items()
        for route in routes
    )


def originsOf(router: IRouter, config: ProxyConfig) -> frozenset[Origin]:
    """
    The origins C{config} names (served through C{router}, which was built
    from it): every route's origins and the parent proxy.  The pool's keys
    for them are these L{Origin} values.
    """
    found: set[Origin] = set()
    table = tableOf(router)
    if table is not None:
        for route in table:
            found.update(getattr(route.upstream, "origins", ()))
    if config.forward.parent is not None:
        found.add(parseParent(config.forward.parent)[0])
    return frozenset(found)


def describe(
    listeners: ListenerDiff,
    oldRoutes: frozenset[str],
    newRoutes: frozenset[str],
    oldOrigins: frozenset[Origin],
    newOrigins: frozenset[Origin],
) -> str:
    """
    What a reload changes, in words for the log:
    C{"listeners +tcp:8081; routes +b.test /, -a.test /; origins -http://..."},
    or C{"no listener, route or origin changed"}.
    """
    from ..policy.balance import originURL

    parts = []
    for name, added, removed in (
        (
            "listeners",
            [spec.description for spec in listeners.added],
            [spec.description for spec in listeners.removed],
        ),
        ("routes", newRoutes - oldRoutes, oldRoutes - newRoutes),
        (
            "origins",
            [originURL(o) for o in newOrigins - oldOrigins],
            [originURL(o) for o in oldOrigins - newOrigins],
        ),
    ):
        changes = [f"+{item}" for item in sorted(added)] + [f"-{item}" for item in sorted(removed)]
        if changes:
            parts.append(f"{name} {', '.join(changes)}")
    return "; ".join(parts) or "no listener, route or origin changed"


ConfigLoader = Callable[[], ProxyConfig]
"""Reads the configuration again (the file and the command line), raising
an exception whose text names the file, line and key of what is wrong."""

RouterBuilder = Callable[
    [ProxyConfig, IReactorTime, DestinationPolicy], "tuple[IRouter, tuple[HealthChecker | OriginDiscovery, ...]]"
]
"""Builds the router (and its health checkers, not started) for a config."""


class ReloadError(Exception):
    """
    A configuration could not be read again; its text says why (file, line
    and key), as it would at start.
    """


class Prepared:
    """
    Everything a new configuration needs, built and bound, not yet served
    (what L{proxykit.service.ProxyService.reloadConfig} builds before it
    swaps anything).

    @ivar added: The new listeners, bound.
    @ivar listeners: How the listeners change.
    """

    def __init__(
        self,
        config: ProxyConfig,
        router: IRouter,
        healthCheckers: Sequence[HealthChecker | OriginDiscovery],
        destinations: DestinationPolicy,
        authenticator: ProxyAuthenticator | None,
        tls: ServerTLS | None,
        redirect: ProxyFactory | None,
        redirectRouter: IRouter | None,
    ) -> None:
        self.config = config
        self.router = router
        self.healthCheckers = healthCheckers
        self.destinations = destinations
        self.authenticator = authenticator
        self.tls = tls
        self.redirect = redirect
        self.redirectRouter = redirectRouter
        self.added: list[Listener] = []
        self.listeners: ListenerDiff | None = None
