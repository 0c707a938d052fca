# -*- test-case-name: tests.test_config -*-
"""
Configuration: frozen attrs values with named constructors.

L{ProxyConfig.fromFile} reads TOML; the problems are reported together as
one L{ConfigError}, each naming the file, the line (where it can be found),
the key path and what is wrong, before anything listens.

The classes check their values when they are built, from a file or in
Python, with the same checks and the same words as the reader: a bad value
is a L{ConfigError} naming the class and the field.

The reading itself is in L{proxykit.config.reader}; the checks of single
values (L{parseHost}, L{hostKey}, L{checkOriginURL}, L{defaultHostProblem},
L{parsePort}) are in L{proxykit.config.checks} and re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .checks import (
    MAX_RETRIES,
    WORKERS_EXPECTED,
    ConfigError,
    adminEndpoint,
    authority,
    boolean,
    checkOriginURL,
    choice,
    count0,
    count1,
    defaultHostProblem,
    destinationList,
    dnsServer,
    fieldError,
    hostKey,
    listenEndpoint,
    network,
    networkList,
    nonEmptyString,
    parentURL,
    parseHost,
    parsePort,
    portSet,
    requestPath,
    retries,
    routePrefix,
    seconds,
    seconds0,
    serverName,
    token,
    valid,
    validItems,
    workerCount,
)
from .logformat import COMBINED, logDestination, logFormat
from .tlsconfig import CertificateConfig, TLSConfig, TLSListener, TLSSettings

__all__ = [
    "AdminConfig",
    "BALANCE_POLICIES",
    "CertificateConfig",
    "DEFAULT_LISTEN",
    "DEFAULT_REVERSE_LISTEN",
    "HOST_HEADER_MODES",
    "MAX_RETRIES",
    "REQUEST_ID_MODES",
    "ConfigError",
    "ForwardConfig",
    "HealthCheckConfig",
    "LimitsConfig",
    "ListenerLog",
    "LogConfig",
    "OriginConfig",
    "OriginTLS",
    "PoolConfig",
    "ProxyConfig",
    "ReverseConfig",
    "RouteConfig",
    "TLSConfig",
    "TLSListener",
    "TLSSettings",
    "Timeouts",
    "VhostConfig",
    "checkOriginURL",
    "defaultHostProblem",
    "hostKey",
    "parseHost",
    "parsePort",
]


DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
"""Where C{twistd proxykit forward} listens unless told otherwise."""

DEFAULT_REVERSE_LISTEN = "tcp:8000:interface=127.0.0.1"
"""Where C{twistd proxykit reverse} listens unless told otherwise."""


_SECONDS = "a positive number"
_FILE = "a file name"
_BOOLEAN = valid(boolean, "true or false")
_positive = valid(seconds, _SECONDS)
_PATTERNS = valid(destinationList, "a list of host patterns and networks")
_PORTS = valid(portSet, "a list of ports (1-65535)")
_COUNT0 = valid(count0, "a whole number >= 0")
_COUNT1 = valid(count1, "a whole number >= 1")
_WORKERS = valid(workerCount, WORKERS_EXPECTED)
_OPTIONAL_FILE = valid(nonEmptyString, _FILE, optional=True)
_OPTIONAL_SERVER_NAME = valid(serverName, "a host name", optional=True)


def _endpointList(value: Any) -> list[str]:
    """
    A list of strings (the endpoints themselves are checked when listened
    on).
    """
    if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
        raise TypeError(value)
    return value


def _instance(cls: type) -> Callable[[Any], Any]:
    """
    A check that accepts only instances of C{cls} (a config value inside
    another).
    """

    def check(value: Any) -> Any:
        if not isinstance(value, cls):
            raise TypeError(value)
        return value

    return check


@attrs.frozen
class Timeouts:
    """
    Every wait has a bound, in seconds.

    @ivar connect: Establishing an origin connection (timeout: 504).
    @ivar response: Origin silence while a response is awaited or streams
        (before the head: 504; after it: the client connection is aborted).
    @ivar idle: A client connection with no request in progress.
    @ivar tunnelIdle: A CONNECT tunnel with no bytes either way.
    @ivar header: Receiving one request head, from its first byte (a client
        dripping a head slowly is answered 408 and closed).
    @ivar drain: When the proxy stops (C{SIGTERM}): how long requests and
        tunnels in progress may take to finish before they are cut.
    @ivar drainDelay: When the proxy stops (C{SIGTERM}): how long it goes
        on accepting and serving while C{/readyz} answers 503, before the
        drain begins, so that a load balancer checking C{/readyz} stops
        sending new connections before the listeners close (C{0}: none).
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    response: float = attrs.field(default=60.0, validator=_positive)
    idle: float = attrs.field(default=60.0, validator=_positive)
    tunnelIdle: float = attrs.field(default=300.0, validator=_positive)
    header: float = attrs.field(default=10.0, validator=_positive)
    drain: float = attrs.field(default=30.0, validator=_positive)
    drainDelay: float = attrs.field(default=0.0, validator=valid(seconds0, "a number >= 0"))


@attrs.frozen
class PoolConfig:
    """
    The upstream keep-alive pool.

    @ivar maxIdlePerOrigin: Idle connections kept per origin; more are closed.
    @ivar idleExpiry: Seconds an idle connection is kept.
    """

    maxIdlePerOrigin: int = attrs.field(default=128, validator=_COUNT0)
    idleExpiry: float = attrs.field(default=60.0, validator=_positive)


@attrs.frozen
class LimitsConfig:
    """
    Limits on received heads.

    @ivar maxRequestLine: Longest request-target (414 beyond).
    @ivar maxHeaderBytes: Largest header section (431 beyond).
    @ivar maxHeaderCount: Most header fields (431 beyond).
    @ivar maxBodyBytes: Largest request body (413 beyond); C{0}: no limit.
        Bodies are streamed, so this protects origins, not the proxy.
    @ivar maxClientConnections: Open client connections per listener; at
        the cap an idle keep-alive connection is closed to admit a new
        client, and with none idle the listener stops accepting until one
        closes.  C{None}: derived from the open-file limit (see
        L{proxykit.relay.gate.connectionCap}).
    @ivar maxOriginConnections: Open connections per origin; requests over
        it wait in a queue.
    @ivar maxOriginQueue: Requests that may wait for a connection to one
        origin; beyond it: 503.
    """

    maxRequestLine: int = attrs.field(default=8192, validator=_COUNT1)
    maxHeaderBytes: int = attrs.field(default=65536, validator=_COUNT1)
    maxHeaderCount: int = attrs.field(default=100, validator=_COUNT1)
    maxBodyBytes: int = attrs.field(default=0, validator=_COUNT0)
    maxClientConnections: int | None = attrs.field(
        default=None, validator=valid(count1, "a whole number >= 1", optional=True)
    )
    maxOriginConnections: int = attrs.field(default=256, validator=_COUNT1)
    maxOriginQueue: int = attrs.field(default=1024, validator=_COUNT0)


@attrs.frozen
class ForwardConfig:
    """
    Forward-proxy policy.

    @ivar connectPorts: Ports CONNECT may reach (default 443 only).
    @ivar allowClients: Client networks (CIDR) that may use the proxy;
        loopback only by default, so that the proxy is never an open relay
        by accident.
    @ivar allowPrivateDestinations: Whether loopback, private, link-local
        and other special-purpose destinations (literal or resolved) are
        allowed when the proxy listens beyond loopback (always allowed
        when it listens on loopback only), whatever address the client
        reached it on.
    @ivar via: The pseudonym this proxy uses in C{Via}; a request that
        already carries it has looped back (508).
    @ivar allowTrace: Whether TRACE requests are forwarded (refused with 405
        by default: TRACE echoes headers, cookies included).
    @ivar authFile: An htpasswd file (bcrypt hashes only) whose users may use
        the forward proxy (C{Proxy-Authorization: Basic}, 407 otherwise);
        C{None}: no authentication.
    @ivar authRealm: The realm named in the C{Proxy-Authenticate} challenge.
    @ivar allowDestinations: Host patterns (C{example.com},
        C{*.example.com}) and networks (C{10.0.0.0/8}) the proxy may
        connect to; empty: anywhere (subject to the rest).
    @ivar denyDestinations: Host patterns and networks it may not connect
        to; networks are checked on every resolved address.
    @ivar allowPorts: Ports absolute-form requests may reach; empty: any.
    @ivar parent: A parent proxy, C{http://[user:password@]host[:port]},
        that requests and tunnels are sent through; C{None}: direct.
    @ivar parentFor: Host patterns and networks sent through the parent;
        empty: every destination.
    @ivar noParent: Exceptions (like C{no_proxy}): destinations reached
        directly.
    @ivar caFile: A PEM bundle of the certificate authorities trusted for
        absolute-form C{https://} targets instead of the system's trust
        store.
    """

    connectPorts: frozenset[int] = attrs.field(default=frozenset({443}), validator=_PORTS)
    allowClients: tuple[str, ...] = attrs.field(
        default=("127.0.0.0/8", "::1/128"), validator=valid(networkList, "a list of CIDR networks")
    )
    allowPrivateDestinations: bool = attrs.field(default=False, validator=_BOOLEAN)
    via: str = attrs.field(default="proxykit", validator=valid(token, "a token"))
    allowTrace: bool = attrs.field(default=False, validator=_BOOLEAN)
    authFile: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    authRealm: str = attrs.field(
        default="proxykit", validator=valid(nonEmptyString, "a realm name")
    )
    allowDestinations: tuple[str, ...] = attrs.field(default=(), validator=_PATTERNS)
    denyDestinations: tuple[str, ...] = attrs.field(default=(), validator=_PATTERNS)
    allowPorts: frozenset[int] = attrs.field(default=frozenset(), validator=_PORTS)
    parent: str | None = attrs.field(
        default=None,
        validator=valid(parentURL, "http://[user:password@]host[:port]", optional=True),
    )
    parentFor: tuple[str, ...] = attrs.field(default=(), validator=_PATTERNS)
    noParent: tuple[str, ...] = attrs.field(default=(), validator=_PATTERNS)
    caFile: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)


BALANCE_POLICIES = ("round_robin", "least_outstanding", "random_two")
"""The balancing policies of an origin group."""

HOST_HEADER_MODES = ("pass", "origin")
"""The values of L{RouteConfig.hostHeader}."""

PROXY_PROTOCOL_MODES = ("v1", "v2", "off")
"""The values of L{RouteConfig.proxyProtocol} and L{OriginConfig.proxyProtocol}:
the PROXY protocol version written first on each new origin connection, or
none."""

REQUEST_ID_MODES = ("keep", "trusted", "generate", "off")
"""The values of L{LogConfig.requestId} (see L{proxykit.policy.requestid})."""

@attrs.frozen(cache_hash=True)
class OriginTLS:
    """
    How a TLS connection to an C{https} origin is made and verified.

    Part of the origin's pool key: connections made with different settings
    are never shared.

    @ivar caFile: A PEM bundle of the certificate authorities to trust
        instead of the system's trust store.
    @ivar clientCert: A PEM certificate presented to the origin (mutual
        TLS); needs C{clientKey}.
    @ivar clientKey: The PEM private key of C{clientCert}.
    @ivar serverName: The name verified in the origin's certificate and sent
        as SNI; C{None}: the origin's host.
    @ivar verify: Whether the origin's certificate is verified at all.
        C{False} accepts any certificate, which lets anyone on the path
        impersonate the origin: for tests and trusted networks only.
    """

    caFile: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    clientCert: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    clientKey: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    serverName: str | None = attrs.field(default=None, validator=_OPTIONAL_SERVER_NAME)
    verify: bool = attrs.field(default=True, validator=_BOOLEAN)


@attrs.frozen
class OriginConfig:
    """
    One origin server of a route.

    @ivar url: C{http://host[:port]}, C{https://host[:port]} or
        C{unix:/path/to/socket}.
    @ivar weight: Relative share of requests (1 or more).
    @ivar caFile: See L{OriginTLS.caFile} (C{https} only).
    @ivar clientCert: See L{OriginTLS.clientCert} (C{https} only).
    @ivar clientKey: See L{OriginTLS.clientKey} (C{https} only).
    @ivar serverName: See L{OriginTLS.serverName} (C{https} only).
    @ivar verify: See L{OriginTLS.verify} (C{https} only).
    @ivar proxyProtocol: One of L{PROXY_PROTOCOL_MODES}, overriding the
        route's L{RouteConfig.proxyProtocol}; C{None}: the route's.
    """

    url: str = attrs.field(validator=valid(checkOriginURL, "an origin URL"))
    weight: int = attrs.field(default=1, validator=_COUNT1)
    caFile: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    clientCert: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    clientKey: str | None = attrs.field(default=None, validator=_OPTIONAL_FILE)
    serverName: str | None = attrs.field(default=None, validator=_OPTIONAL_SERVER_NAME)
    verify: bool = attrs.field(default=True, validator=_BOOLEAN)
    proxyProtocol: str | None = attrs.field(
        default=None,
        validator=valid(
            choice(PROXY_PROTOCOL_MODES), " or ".join(PROXY_PROTOCOL_MODES), optional=True
        ),
    )

    def __attrs_post_init__(self) -> None:
        tlsKeys = [
            name
            for name, value in (
                ("caFile", self.caFile),
                ("clientCert", self.clientCert),
                ("clientKey", self.clientKey),
                ("serverName", self.serverName),
                ("verify", None if self.verify else False),
            )
            if value is not None
        ]
        if tlsKeys and not self.url.startswith(("https:", "srv+https:")):
            raise fieldError(self, tlsKeys[0], "TLS settings need an https:// origin")
        if (self.clientCert is None) != (self.clientKey is None):
            missing = "clientKey" if self.clientCert is not None else "clientCert"
            raise fieldError(self, missing, "missing: client_cert and client_key go together")

    @property
    def tls(self) -> OriginTLS:
        """
        The TLS settings of this origin.
        """
        return OriginTLS(
            self.caFile, self.clientCert, self.clientKey, self.serverName, self.verify
        )


@attrs.frozen
class HealthCheckConfig:
    """
    Active health checks of a route's origins (opt-in).

    @ivar path: The path requested with GET.
    @ivar interval: Seconds between checks of one origin.
    @ivar timeout: Seconds a check may take; longer counts as a failure.
    @ivar rise: Consecutive successes that bring a down origin back.
    @ivar fall: Consecutive failures that take an up origin out.
    @ivar host: The C{Host} sent with checks (default: the origin's
        address).
    """

    path: str = attrs.field(default="/", validator=valid(requestPath, "a path starting with '/'"))
    interval: float = attrs.field(default=5.0, validator=_positive)
    timeout: float = attrs.field(default=2.0, validator=_positive)
    rise: int = attrs.field(default=2, validator=_COUNT1)
    fall: int = attrs.field(default=3, validator=_COUNT1)
    host: str | None = attrs.field(
        default=None,
        validator=valid(authority, "a host name, optionally with :port", optional=True),
    )


@attrs.frozen
class RouteConfig:
    """
    A path prefix inside a virtual host, and where its requests go.

    @ivar prefix: The path prefix (C{"/"} matches everything); the longest
        matching prefix of a vhost wins.
    @ivar origins: Where requests go.
    @ivar balance: One of L{BALANCE_POLICIES}.
    @ivar stripPrefix: Remove the prefix from the path sent to the origin.
    @ivar hostHeader: C{"pass"} sends the client's C{Host}; C{"origin"} sends
        the origin's own host and port.
    @ivar xForwardedFor: Add C{X-Forwarded-For}.
    @ivar xForwardedProto: Add C{X-Forwarded-Proto}.
    @ivar xForwardedHost: Add C{X-Forwarded-Host}.
    @ivar forwarded: Add RFC 7239 C{Forwarded}.
    @ivar rewriteRedirects: Rewrite C{Location} and C{Content-Location} that
        point at the origin so they point at the public address.
    @ivar retries: How many other origins an idempotent request that failed
        before any byte was sent may be retried on.
    @ivar ejectFor: Seconds an origin that refused a connection or timed out
        is taken out (doubling on repeated failures, up to 8 times this).
    @ivar healthCheck: Active checks, or C{None}.
    @ivar proxyProtocol: C{"v1"} or C{"v2"}: write a PROXY protocol header
        (as HAProxy's C{send-proxy} / C{send-proxy-v2}) first on each new
        connection to the route's origins, carrying the address of the
        client whose request opened it; C{"off"}: none.  An origin's own
        setting overrides it.
    """

    origins: tuple[OriginConfig, ...] = attrs.field(
        validator=validItems(_instance(OriginConfig), ("origin URLs", "an OriginConfig"))
    )
    prefix: str = attrs.field(
        default="/", validator=valid(routePrefix, "a path prefix starting with '/'")
    )
    balance: str = attrs.field(
        default="round_robin",
        validator=valid(choice(BALANCE_POLICIES), " or ".join(BALANCE_POLICIES)),
    )
    stripPrefix: bool = attrs.field(default=False, validator=_BOOLEAN)
    hostHeader: str = attrs.field(
        default="pass",
        validator=valid(choice(HOST_HEADER_MODES), " or ".join(HOST_HEADER_MODES)),
    )
    xForwardedFor: bool = attrs.field(default=True, validator=_BOOLEAN)
    xForwardedProto: bool = attrs.field(default=True, validator=_BOOLEAN)
    xForwardedHost: bool = attrs.field(default=True, validator=_BOOLEAN)
    forwarded: bool = attrs.field(default=False, validator=_BOOLEAN)
    rewriteRedirects: bool = attrs.field(default=True, validator=_BOOLEAN)
    retries: int = attrs.field(
        default=1, validator=valid(retries, f"a whole number from 0 to {MAX_RETRIES}")
    )
    ejectFor: float = attrs.field(default=10.0, validator=_positive)
    healthCheck: HealthCheckConfig | None = attrs.field(
        default=None,
        validator=valid(_instance(HealthCheckConfig), "a HealthCheckConfig", optional=True),
    )
    proxyProtocol: str = attrs.field(
        default="off",
        validator=valid(choice(PROXY_PROTOCOL_MODES), " or ".join(PROXY_PROTOCOL_MODES)),
    )


@attrs.frozen
class VhostConfig:
    """
    A virtual host: the names it answers to and its routes.

    @ivar hosts: Exact names (C{app.example.test}), wildcards
        (C{*.example.test}, any depth of subdomain), IP literals.
    @ivar routes: Its routes, any order (longest prefix wins).
    """

    hosts: tuple[str, ...] = attrs.field(
        validator=validItems(parseHost, ("host names", "a host name"))
    )
    routes: tuple[RouteConfig, ...] = attrs.field(
        validator=validItems(_instance(RouteConfig), ("routes", "a RouteConfig"))
    )

    def __attrs_post_init__(self) -> None:
        prefixes: dict[str, int] = {}
        for index, route in enumerate(self.routes):
            first = prefixes.setdefault(route.prefix, index)
            if first != index:
                raise fieldError(
                    self,
                    f"routes[{index}].prefix",
                    f"prefix {route.prefix!r} is already routed by routes[{first}]",
                )


@attrs.frozen
class ReverseConfig:
    """
    Reverse-proxy settings.

    @ivar vhosts: The virtual hosts.
    @ivar default: A host name of one of the vhosts that serves requests for
        unknown hosts; C{None} answers them 421.
    @ivar trustedProxies: Networks (CIDR) whose forwarding headers are kept
        and appended to; from anyone else they are replaced.
    @ivar forwardProxy: Also act as a forward proxy on the same listener
        (absolute-form and CONNECT go to the forward router).
    @ivar dnsServers: The DNS servers that resolve origins given by name
        (C{"address[:port]"}); empty: those of C{/etc/resolv.conf}.
    @ivar dnsMinTtl: Seconds: an origin name is resolved again no sooner
        than this after an answer, whatever its TTL (and this long after a
        failed resolution).
    @ivar dnsMaxTtl: Seconds: an origin name is resolved again no later
        than this after an answer, whatever its TTL.
    """

    vhosts: tuple[VhostConfig, ...] = attrs.field(
        default=(),
        validator=validItems(_instance(VhostConfig), ("vhosts", "a VhostConfig"), nonEmpty=False),
    )
    default: str | None = None
    trustedProxies: tuple[str, ...] = attrs.field(
        default=(),
        validator=validItems(network, ("CIDR networks", "a CIDR network"), nonEmpty=False),
    )
    forwardProxy: bool = attrs.field(default=False, validator=_BOOLEAN)
    dnsServers: tuple[str, ...] = attrs.field(
        default=(),
        validator=validItems(dnsServer, ("DNS servers", "a DNS server"), nonEmpty=False),
    )
    dnsMinTtl: float = attrs.field(default=1.0, validator=_positive)
    dnsMaxTtl: float = attrs.field(default=60.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.dnsMaxTtl < self.dnsMinTtl:
            raise fieldError(self, "dnsMaxTtl", "must not be less than dns_min_ttl")
        owners: dict[str, str] = {}
        for index, vhost in enumerate(self.vhosts):
            for position, host in enumerate(vhost.hosts):
                key = f"vhosts[{index}].hosts[{position}]"
                owner = owners.setdefault(hostKey(host), key)
                if owner != key:
                    raise fieldError(self, key, f"host {host!r} is already listed at {owner}")
        if self.default is not None:
            problem = defaultHostProblem(self.vhosts, self.default)
            if problem is not None:
                raise fieldError(self, "default", problem)


def _offIsNone(value: Any) -> Any:
    return None if value == "off" else value


def _accessField() -> Any:
    """
    An access log's destination (C{access}): a file name, C{"-"}, or
    C{None} (C{"off"}).
    """
    return attrs.field(
        default=None,
        converter=_offIsNone,
        validator=valid(logDestination, "a file name, '-' or 'off'", optional=True),
    )


def _formatField() -> Any:
    """
    An access log's format (C{format}).
    """
    return attrs.field(
        default=COMBINED, validator=valid(logFormat, "combined, json or a format string")
    )


@attrs.frozen
class ListenerLog:
    """
    One listener's own access log (a C{[[log.listener]]} table): requests
    that arrive through it are logged here instead of in the global log.

    @ivar listen: The listener's endpoint string, as in C{listen} (or
        C{[tls] listen}).
    @ivar access: As L{LogConfig.access}; C{None} (C{"off"}): nothing is
        logged for this listener.
    @ivar format: As L{LogConfig.format}.
    """

    listen: str = attrs.field(validator=valid(listenEndpoint, "an endpoint string"))
    access: str | None = _accessField()
    format: str = _formatField()


@attrs.frozen
class LogConfig:
    """
    The access log (the C{[log]} table).

    @ivar access: Where the access log goes: C{"-"} (standard output) or a
        file name; C{None} (or C{"off"}, which becomes C{None}): no access
        log (but for the listeners that have their own).
    @ivar format: C{"combined"} (the Combined Log Format), C{"json"} (one
        JSON object a line) or a format string naming fields
        (C{"$client_addr $status $request_time"}; see
        L{proxykit.config.logformat.parseFormat}).
    @ivar listeners: Listeners with their own access log (L{ListenerLog}).
    @ivar requestId: Each request's C{X-Request-Id}: C{"keep"} the client's
        when well-formed (else generate one), keep it only from
        C{"trusted"} proxies (L{ReverseConfig.trustedProxies}), always
        C{"generate"} one, or C{"off"} (no id); see
        L{proxykit.policy.requestid}.
    """

    access: str | None = _accessField()
    format: str = _formatField()
    listeners: tuple[ListenerLog, ...] = attrs.field(
        default=(),
        validator=validItems(
            _instance(ListenerLog), ("listener logs", "a ListenerLog"), nonEmpty=False
        ),
    )
    requestId: str = attrs.field(
        default="keep",
        validator=valid(choice(REQUEST_ID_MODES), ", ".join(REQUEST_ID_MODES)),
    )

    def __attrs_post_init__(self) -> None:
        seen: set[str] = set()
        for entry in self.listeners:
            if entry.listen in seen:
                raise fieldError(self, "listeners", f"{entry.listen!r} has two logs")
            seen.add(entry.listen)

    def forListener(self, listen: str) -> ListenerLog | None:
        """
        The own access log of the listener C{listen}, if it has one.
        """
        for entry in self.listeners:
            if entry.listen == listen:
                return entry
        return None


def _loopbackByDefault(value: Any) -> Any:
    """
    C{value} with C{:interface=127.0.0.1} added if it is a C{tcp:}
    endpoint string naming no interface; anything else unchanged (the
    validator judges it).
    """
    try:
        return adminEndpoint(value)
    except Exception:
        return value


@attrs.frozen
class AdminConfig:
    """
    The admin listener (the C{[admin]} table): C{/metrics}, C{/healthz},
    C{/readyz} and C{/status}.

    @ivar listen: Its endpoint string, or C{None} (the default): no admin
        listener.  A C{tcp:PORT} without C{interface=} binds 127.0.0.1
        (C{:interface=127.0.0.1} is added).
    """

    listen: str | None = attrs.field(
        default=None,
        converter=_loopbackByDefault,
        validator=valid(adminEndpoint, "an endpoint string", optional=True),
    )


@attrs.frozen
class ProxyConfig:
    """
    Everything C{twistd proxykit} needs.

    @ivar listen: Twisted server endpoint strings.
    @ivar tls: TLS listeners and their certificates (the C{[tls]} table),
        or C{None}.
    @ivar log: The access log (the C{[log]} table).
    @ivar admin: The admin listener (the C{[admin]} table).
    @ivar workers: How many worker processes serve the listeners (the
        top-level C{workers} key; 1: this process serves them itself).
    """

    listen: tuple[str, ...] = attrs.field(
        default=(DEFAULT_LISTEN,), validator=valid(_endpointList, "a list of endpoint strings")
    )
    forward: ForwardConfig = attrs.field(
        default=ForwardConfig(), validator=valid(_instance(ForwardConfig), "a ForwardConfig")
    )
    reverse: ReverseConfig = attrs.field(
        default=ReverseConfig(), validator=valid(_instance(ReverseConfig), "a ReverseConfig")
    )
    timeouts: Timeouts = attrs.field(
        default=Timeouts(), validator=valid(_instance(Timeouts), "a Timeouts")
    )
    pool: PoolConfig = attrs.field(
        default=PoolConfig(), validator=valid(_instance(PoolConfig), "a PoolConfig")
    )
    limits: LimitsConfig = attrs.field(
        default=LimitsConfig(), validator=valid(_instance(LimitsConfig), "a LimitsConfig")
    )
    tls: TLSConfig | None = attrs.field(
        default=None, validator=valid(_instance(TLSConfig), "a TLSConfig", optional=True)
    )
    log: LogConfig = attrs.field(
        default=LogConfig(), validator=valid(_instance(LogConfig), "a LogConfig")
    )
    admin: AdminConfig = attrs.field(
        default=AdminConfig(), validator=valid(_instance(AdminConfig), "an AdminConfig")
    )
    workers: int = attrs.field(default=1, validator=_WORKERS)

    def __attrs_post_init__(self) -> None:
        if not self.listen and self.tls is None:
            raise fieldError(self, "listen", "expected at least one endpoint")

    @classmethod
    def fromFile(
        cls, path: str, defaultListen: tuple[str, ...] = (DEFAULT_LISTEN,)
    ) -> ProxyConfig:
        """
        Read a TOML file.

        @param defaultListen: The listeners when the file has no C{listen}
            (the reverse subcommand passes L{DEFAULT_REVERSE_LISTEN}).

        @raise ConfigError: The file cannot be read or parsed, or a key is
            unknown or has a bad value.
        """
        # The reader builds the values defined here, so it imports this
        # module; import it only when a file is read.
        from .reader import loadFile

        data, text = loadFile(path)
        return cls.fromMapping(data, path, text, defaultListen)

    @classmethod
    def fromMapping(
        cls,
        data: Mapping[str, Any],
        source: str = "<config>",
        text: str = "",
        defaultListen: tuple[str, ...] = (DEFAULT_LISTEN,),
    ) -> ProxyConfig:
        """
        Build from parsed TOML.

        @param source: Named in errors.
        @param text: The file's text, used to find the line of a bad key.
        @param defaultListen: The listeners when C{data} has no C{listen}.
        """
        from .reader import ConfigReader

        reader = ConfigReader(source, text)
        return reader.proxyConfig(data, defaultListen)
