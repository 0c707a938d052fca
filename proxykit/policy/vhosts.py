# -*- test-case-name: tests.test_vhosts -*-
"""
Reverse-proxy routing: virtual hosts, path prefixes and their upstreams.

L{VhostTable} maps a C{Host} (or the authority of an absolute-form target)
to a virtual host, and a path to the route with the longest matching prefix.
L{ReverseRouter} turns that into a L{Forward} decision, or 421 for a host
the table does not name: an absolute-form target never reaches an origin
the table does not list.  L{CombinedRouter} lets one listener serve as both
a forward proxy (absolute-form and CONNECT) and a reverse proxy
(origin-form).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Final

import attrs
from mypy_extensions import mypyc_attr
from twisted.internet.interfaces import IReactorTime

from ..config.checks import AddressSet
from ..config.values import ReverseConfig, RouteConfig
from ..decisions import ClientInfo, Decision, Forward, IRouter, Origin, Refuse, Upstream
from ..h1 import PROXY_FORMS, Headers, Request, TargetForm, canonicalHost, splitAbsolute
from .balance import OriginGroup
from .forwarded import (
    FORWARDING_FIELDS,
    addForwardingHeaders,
    appendForwardingHeaders,
    rewriteLocation,
    rewriteResponseHeaders,
)
from .rewrite import forwardHeaders
from .routing import ForwardRouter

if TYPE_CHECKING:
    from ..relay.hooks import Hooks


@lru_cache(maxsize=4096)
def normalizeHost(value: bytes) -> str | None:
    """
    The host a C{Host} value or authority names, as the table keys it:
    canonical as L{proxykit.config.checks.canonicalHost} makes it (lower case,
    without port or trailing dot; IPv6 without brackets, compressed).

    Remembered for the last 4096 values (a site's clients send the same few
    C{Host} values: each request looks it up twice, for its virtual host and
    its route); a client sending new ones each time only makes it work as
    uncached.

    @return: The host, or C{None} if C{value} is not a valid authority
        (IPv4 addresses in any spelling but dotted decimal included).
    """
    try:
        text = value.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host = text[: end + 1]
    elif text.count(":") == 1:
        host = text.split(":", 1)[0]
    else:
        host = text
    try:
        return canonicalHost(host)[0]
    except ValueError:
        return None


@mypyc_attr(allow_interpreted_subclasses=True)
class RoutePolicy:
    """
    A route's header policy: what is sent to its origins and what comes
    back to clients.

    @ivar prefix: The route's path prefix, which names it in logs and in
        the 503 answered when its origins are all down.
    @ivar retries: How many other origins an idempotent request that failed
        before any byte was sent may be retried on.
    @ivar scheme: The scheme clients use, C{b"http"} or C{b"https"} (on a
        TLS listener): sent as C{X-Forwarded-Proto} and C{Forwarded:
        proto=}, and used in rewritten C{Location} fields.
    """

    def __init__(
        self, config: RouteConfig, prefix: bytes, trusted: Sequence[str], scheme: bytes = b"http"
    ) -> None:
        self.scheme = scheme
        self._config = config
        self.prefix = prefix
        self._strip = prefix if config.stripPrefix and prefix != b"/" else b""
        self._trusted = AddressSet(trusted)
        self.retries = config.retries
        self.hooks: Hooks | None = None
        """The route's own hooks (L{Hooks.forRoute}), bound by the factory."""

    @property
    def config(self) -> RouteConfig:
        """
        The route's settings.
        """
        return self._config

    def isTrusted(self, client: str) -> bool:
        """
        Whether C{client} is a trusted proxy (its forwarding headers are kept
        and appended to).
        """
        return client in self._trusted

    def requestHeaders(
        self,
        request: Request,
        client: ClientInfo,
        origin: Origin,
        host: bytes | None,
        via: bytes,
        requestId: bytes | None = None,
    ) -> Headers:
        """
        The fields to send to C{origin} for C{request}.

        @param requestId: The request's id, sent as its one C{X-Request-Id}
            (see L{forwardHeaders}); C{None}: none added.
        """
        config = self._config
        if config.hostHeader == "origin":
            host = origin.authority
        peer = client.peerHost
        if peer in self._trusted:
            return addForwardingHeaders(
                forwardHeaders(request.headers, request.connectionTokens, via, host, requestId),
                client=peer,
                trusted=True,
                proto=self.scheme,
                host=request.host,
                xForwardedFor=config.xForwardedFor,
                xForwardedProto=config.xForwardedProto,
                xForwardedHost=config.xForwardedHost,
                forwarded=config.forwarded,
            )
        # The common case: the client's forwarding fields go in the pass
        # that removes the hop-by-hop ones, and ours are appended to that
        # copy (one copy of the fields, not two).
        headers = forwardHeaders(
            request.headers, request.connectionTokens, via, host, requestId, FORWARDING_FIELDS
        )
        appendForwardingHeaders(
            headers,
            client=peer,
            proto=self.scheme,
            host=request.host,
            xForwardedFor=config.xForwardedFor,
            xForwardedProto=config.xForwardedProto,
            xForwardedHost=config.xForwardedHost,
            forwarded=config.forwarded,
        )
        return headers

    def responseHeaders(self, headers: Headers, request: Request, origin: Origin) -> Headers:
        """
        The response fields to send to the client: C{Location} and
        C{Content-Location} pointing at the origin rewritten to the public
        address.
        """
        if not self._config.rewriteRedirects or request.host is None:
            return headers
        public = request.host
        strip = self._strip
        scheme = self.scheme

        def rewrite(value: bytes) -> bytes | None:
            # Called only for a Location field: most responses have none.
            originScheme = origin.scheme.encode("ascii")
            return rewriteLocation(
                value, (origin.authority,), scheme, public, strip, strip, originScheme
            )

        return rewriteResponseHeaders(headers, rewrite)


@mypyc_attr(allow_interpreted_subclasses=True)
class Route:
    """
    A path prefix of a virtual host and where its requests go.

    @ivar prefix: The prefix, e.g. C{b"/api"}.
    @ivar upstream: The origins.
    @ivar policy: The header policy.
    @ivar securePolicy: The header policy for requests that came over TLS.
    @ivar config: The route's settings.
    """

    def __init__(
        self,
        prefix: bytes,
        upstream: Upstream,
        policy: RoutePolicy,
        config: RouteConfig,
        securePolicy: RoutePolicy | None = None,
    ) -> None:
        self.prefix = prefix
        self.upstream = upstream
        self.policy = policy
        self.securePolicy = securePolicy if securePolicy is not None else policy
        self.config = config
        self._stripped = prefix.rstrip(b"/")

    def matches(self, path: bytes) -> bool:
        """
        Whether C{path} is under this prefix: C{/api} matches C{/api},
        C{/api/x} and C{/api?q}, not C{/apix}.
        """
        prefix = self.prefix
        if prefix == b"/" or path == prefix:
            return True
        if not path.startswith(self._stripped):
            return False
        if prefix.endswith(b"/"):
            return path.startswith(prefix)
        following = path[len(prefix) : len(prefix) + 1]
        return following in (b"/", b"?", b"")

    def target(self, path: bytes) -> bytes:
        """
        The request-target to send: C{path}, without the prefix if the route
        strips it.
        """
        if not self.config.stripPrefix or self.prefix == b"/":
            return path
        rest = path[len(self._stripped) :]
        if not rest.startswith(b"/"):
            rest = b"/" + rest
        return rest


EXACT: Final = "exact"
"""A L{VhostLookup} by one of the virtual host's exact names."""
WILDCARD: Final = "wildcard"
"""A L{VhostLookup} by a C{*.suffix} name."""
DEFAULT: Final = "default"
"""A L{VhostLookup} that fell to the default virtual host (or to none)."""


@attrs.frozen
class VhostLookup:
    """
    How L{VhostTable.lookup} found a virtual host.

    @ivar routes: Its routes, longest prefix first, or C{None} when no
        virtual host serves the host.
    @ivar name: Its first configured name, or C{None}.
    @ivar how: L{EXACT}, L{WILDCARD} or L{DEFAULT}.
    @ivar matched: The exact name or C{*.suffix} pattern that matched, or
        C{None} (L{DEFAULT}).
    """

    routes: list[Route] | None
    name: str | None
    how: str
    matched: str | None


@mypyc_attr(allow_interpreted_subclasses=True)
class VhostTable:
    """
    Virtual hosts by name: exact names first, then wildcards (longest
    suffix first), then the default.
    """

    _CACHE_SIZE: Final = 4096

    def __init__(self, vhosts: Sequence[tuple[Sequence[str], Sequence[Route]]], default: str | None = None) -> None:
        """
        @param vhosts: Each virtual host's names (exact, C{*.suffix}, IP
            literals) and routes.
        @param default: A name of one of them, serving unknown hosts.
        """
        self._exact: dict[str, list[Route]] = {}
        wildcards: list[tuple[str, list[Route]]] = []
        self.routes: list[Route] = []
        self.byName: dict[str, list[Route]] = {}
        """Each virtual host's routes by each of its names as configured
        (lower case, wildcards as C{*.suffix})."""
        self.vhosts: list[tuple[tuple[str, ...], list[Route]]] = []
        """Each virtual host's names (as configured, lower case) and routes
        (longest prefix first), in configuration order."""
        self._names: dict[int, str] = {}
        for names, routes in vhosts:
            ordered = sorted(routes, key=lambda route: len(route.prefix), reverse=True)
            self.routes.extend(ordered)
            lowered = tuple(name.lower().rstrip(".") for name in names)
            self.vhosts.append((lowered, ordered))
            if lowered:
                self._names[id(ordered)] = lowered[0]
            for name in names:
                name = name.lower().rstrip(".")
                self.byName[name] = ordered
                if name.startswith("*."):
                    wildcards.append((name[1:], ordered))
                else:
                    normalized = normalizeHost(name.encode("ascii")) or name
                    self._exact[normalized] = ordered
        wildcards.sort(key=lambda item: len(item[0]), reverse=True)
        self._wildcards = wildcards
        self._default = (
            self._exact.get(normalizeHost(default.encode("ascii")) or default)
            if default
            else None
        )
        if default and self._default is None:
            raise ValueError(f"default vhost {default!r} is not one of the hosts")
        self._cache: dict[bytes, list[Route] | None] = {}

    @classmethod
    def fromConfig(cls, config: ReverseConfig, clock: IReactorTime) -> VhostTable:
        """
        Build the table and its origin groups from configuration.
        """
        vhosts = []
        for vhost in config.vhosts:
            routes = []
            for routeConfig in vhost.routes:
                group = OriginGroup.fromRouteConfig(routeConfig, clock)
                prefix = routeConfig.prefix.encode("ascii")
                policy = RoutePolicy(routeConfig, prefix, config.trustedProxies)
                secure = RoutePolicy(routeConfig, prefix, config.trustedProxies, b"https")
                routes.append(Route(prefix, group, policy, routeConfig, secure))
            vhosts.append((vhost.hosts, routes))
        return cls(vhosts, config.default)

    def routesFor(self, host: bytes | None) -> list[Route] | None:
        """
        The routes of the virtual host C{host} names, or C{None}.
        """
        if host is None:
            return self._default
        cache = self._cache
        try:
            return cache[host]
        except KeyError:
            pass
        routes = self.lookup(host).routes
        if len(cache) >= self._CACHE_SIZE:
            cache.clear()
        cache[host] = routes
        return routes

    def lookup(self, host: bytes | None) -> VhostLookup:
        """
        Which virtual host serves C{host} and why: the one decision
        L{routesFor} caches, with how it was reached (for C{proxykit
        explain}).
        """
        if host is None:
            return VhostLookup(self._default, self._nameOf(self._default), DEFAULT, None)
        name = normalizeHost(host)
        if name is not None:
            routes = self._exact.get(name)
            if routes is not None:
                return VhostLookup(routes, self._nameOf(routes), EXACT, name)
            for suffix, candidates in self._wildcards:
                if name.endswith(suffix) and len(name) > len(suffix):
                    return VhostLookup(candidates, self._nameOf(candidates), WILDCARD, "*" + suffix)
        return VhostLookup(self._default, self._nameOf(self._default), DEFAULT, None)

    def _nameOf(self, routes: list[Route] | None) -> str | None:
        return None if routes is None else self._names.get(id(routes))

    def nameFor(self, host: bytes | None) -> str | None:
        """
        The first configured name of the virtual host that serves C{host}
        (the default's for an unknown host), or C{None} when none does: a
        name from the configuration, never from the request.
        """
        return self._nameOf(self.routesFor(host))

    def match(self, host: bytes | None, path: bytes) -> Route | None | bool:
        """
        The route for C{host} and C{path}: C{False} when no virtual host
        matches, C{None} when one does but none of its prefixes does.
        """
        routes = self.routesFor(host)
        if routes is None:
            return False
        for route in routes:
            if route.matches(path):
                return route
        return None

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)


@mypyc_attr(allow_interpreted_subclasses=True)
class ReverseRouter:
    """
    The reverse-proxy router: the virtual host and path pick a route.

    @ivar table: The virtual hosts.
    """

    def __init__(self, table: VhostTable, config: ReverseConfig | None = None) -> None:
        self.table = table
        self.config = config if config is not None else ReverseConfig()

    def clientAllowed(self, peerHost: str) -> bool:
        """
        Everyone may talk to a site.
        """
        return True

    def route(self, request: Request, client: ClientInfo) -> Decision:
        """
        Decide where C{request} goes.
        """
        target = request.target
        form = request.form
        if form == TargetForm.ORIGIN:
            host = request.host
            path = target
            sendHost: bytes | None = None
        elif form == TargetForm.AUTHORITY:
            return Refuse(405, "CONNECT to a reverse proxy")
        elif form == TargetForm.ASTERISK:
            return Refuse(400, "asterisk-form to a reverse proxy")
        else:
            # RFC 9112 section 3.2.2: the target's authority replaces Host.
            parts = splitAbsolute(target)
            if parts is None or parts[0] not in (b"http", b"https"):
                return Refuse(400, "malformed request target")
            _, host, path = parts
            sendHost = host
        name = normalizeHost(host) if host else None
        if host and name is None:
            # RFC 9112 section 3.2: a Host field with an invalid value is
            # answered 400.  The same rule as for forward-proxy targets
            # (canonicalHost): an IPv4 address only in dotted decimal.
            return Refuse(400, "invalid host")
        serverName = client.serverName
        if serverName is not None and host is not None and name != serverName:
            # The certificate the client accepted was chosen by its server
            # name: it must not reach another virtual host (RFC 9110
            # section 15.5.20: 421 Misdirected Request).
            return Refuse(421, "TLS server name and Host differ")
        found = self.table.match(host, path)
        if found is False:
            return Refuse(421, "unknown host")
        if found is None or found is True:
            return Refuse(404, "no route for this path")
        policy = found.securePolicy if client.secure else found.policy
        return Forward(found.upstream, found.target(path), sendHost, policy)


@mypyc_attr(allow_interpreted_subclasses=True)
class CombinedRouter:
    """
    One listener, two roles: absolute-form and CONNECT requests go to the
    forward router, origin-form requests to the reverse router.
    """

    def __init__(self, forward: ForwardRouter, reverse: ReverseRouter) -> None:
        self.forward = forward
        self.reverse = reverse

    def clientAllowed(self, peerHost: str) -> bool:
        """
        Site clients are always allowed; the forward router checks its own
        client list per request (see L{route}).
        """
        return True

    def route(self, request: Request, client: ClientInfo) -> Decision:
        """
        Forward-proxy requests to the forward router, the rest to the vhosts.
        """
        if request.form in PROXY_FORMS:
            if not self.forward.clientAllowed(client.peerHost):
                return Refuse(403, "client not allowed")
            return self.forward.route(request, client)
        return self.reverse.route(request, client)


def tableOf(router: object) -> VhostTable | None:
    """
    The virtual hosts of C{router} (a L{ReverseRouter}, or a
    L{CombinedRouter}'s reverse side), or C{None} for a router without any.
    """
    if isinstance(router, ReverseRouter):
        return router.table
    if isinstance(router, CombinedRouter):
        return router.reverse.table
    return None


def bindRouteHooks(router: IRouter, routeHooks: Mapping[tuple[str, str], Hooks]) -> None:
    """
    Give each route of C{router} its hooks from C{routeHooks} (by a name of
    its virtual host, as configured, and its prefix), and none to the rest.

    @raise ValueError: A key names no route, or there are route hooks and
        C{router} has no virtual hosts.
    """
    if isinstance(router, ReverseRouter):
        table: VhostTable | None = router.table
    elif isinstance(router, CombinedRouter):
        table = router.reverse.table
    else:
        table = None
    if table is None:
        if routeHooks:
            raise ValueError("route hooks need a reverse-proxy router (virtual hosts)")
        return
    for route in table:
        route.policy.hooks = route.securePolicy.hooks = None
    for (host, prefix), hooks in routeHooks.items():
        routes = table.byName.get(host)
        found = [r for r in routes or () if r.prefix == prefix.encode("ascii", "replace")]
        if not found:
            raise ValueError(f"hooks for a route that does not exist: {host} {prefix}")
        found[0].policy.hooks = found[0].securePolicy.hooks = hooks
