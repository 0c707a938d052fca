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

from collections.abc import Callable, Iterable, Mapping
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


def listedTwice(listen: Iterable[str]) -> str | None:
    """
    An endpoint of C{listen} given twice, whose second listener would fail
    to bind (address in use), or C{None}: the reader and L{ProxyConfig}
    refuse it up front, as C{nginx -t} does.  A port the system chooses
    (C{tcp:0}) may be listed more than once: each gets its own.
    """
    seen = set()
    for endpoint in listen:
        fields = endpoint.split(":")
        anyPort = len(fields) > 1 and fields[0] in ("tcp", "tcp6", "ssl") and fields[1] in ("0", "port=0")
        if endpoint in seen and not anyPort:
            return endpoint
        seen.add(endpoint)
    return None


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
    Every wait has a bound, in seconds (fractions allowed).

    @ivar connect: How long to wait for a connection to an origin.  If the
        connection fails (refused, or the name does not resolve) the client
        gets 502; if it takes longer than this, 504.  For an C{https://}
        origin the TLS handshake is part of the connection (it gets about a
        second more).
    @ivar response: How long an exchange may go without a byte moving to or
        from the origin.  Before the response head it means 504 for the
        client; after it, the client connection is aborted, because a
        truncated body must never look complete.
    @ivar idle: How long a client keep-alive connection may sit idle between
        requests before the proxy closes it.  A connection closed for a
        timeout whose close cannot finish (a client that takes none of the
        bytes still to be sent) is aborted after this long again: no
        connection is held forever.
    @ivar tunnelIdle: How long a C{CONNECT} tunnel may carry no bytes in
        either direction before the proxy closes it.
    @ivar header: How long one request head may take to arrive, from its
        first byte.  A client dripping a head slowly (slowloris) gets 408 and
        is closed within this bound, however often it sends a byte.  On a TLS
        listener the handshake must also complete within it (a stalled one is
        dropped; after the handshake the connection is idle until a request
        begins).
    @ivar drain: When the proxy stops (C{SIGTERM}), how long requests and
        tunnels in progress may take to finish before they are cut.
    @ivar drainDelay: When the proxy stops (C{SIGTERM}), how long it first
        goes on accepting and serving while C{/readyz} answers 503, before its
        listeners close and the drain begins (C{0}: none).  Behind a load
        balancer that checks C{/readyz}, make it longer than the time the
        balancer takes to take an instance out (HAProxy: C{fall} x C{inter} +
        C{timeout check}), so that no new connection is refused.  A second
        C{SIGTERM} ends the wait at once.
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

    @ivar maxIdlePerOrigin: How many idle keep-alive connections to keep for
        each origin; more are closed.
    @ivar idleExpiry: How long, in seconds, an idle pooled connection is kept
        before it is closed.
    """

    maxIdlePerOrigin: int = attrs.field(default=128, validator=_COUNT0)
    idleExpiry: float = attrs.field(default=60.0, validator=_positive)


@attrs.frozen
class LimitsConfig:
    """
    Limits on received heads and bodies, and on connections.

    @ivar maxRequestLine: The longest request line accepted, in bytes; a
        longer one gets 414.
    @ivar maxHeaderBytes: The largest header section accepted, in bytes; a
        larger one gets 431.
    @ivar maxHeaderCount: The most header fields accepted in one request;
        more get 431.
    @ivar maxBodyBytes: The largest request body passed on, in bytes (C{0}:
        no limit).  A C{Content-Length} over it gets 413 before any origin is
        contacted (also when the client waits for C{100 Continue}, so the
        body is never sent); a chunked body that grows over it gets 413 (or,
        once the response has begun, the connection closed) and the origin
        connection is dropped.  Bodies are streamed, so this protects
        origins rather than the proxy.
    @ivar maxClientConnections: Open client connections per listener.  At
        the cap, a new client is admitted by closing the keep-alive
        connection that has been idle longest (between two requests, with
        nothing of the next one received, or not yet sent its first request),
        as nginx does.  A connection in the middle of a request, a response
        or a tunnel is never closed for this; when every connection is busy,
        the listener stops accepting (new connections wait in the kernel's
        backlog) until one closes or becomes idle.  Reaching the cap,
        stopping accepting, and the number of idle connections closed are
        each logged once per episode (until the listener is back below three
        quarters of its cap).

        When a listener starts, the proxy raises its soft open-file limit
        (C{RLIMIT_NOFILE}) to the hard limit and logs the result (a failure
        is logged, and the old limit kept).  Without it (C{None}), each
        listener's cap is C{(limit - 64) // 2}: each client connection may need a
        connection to an origin, and 64 descriptors are kept for listeners,
        log files and the rest (see L{proxykit.relay.gate.connectionCap}).
        With a hard limit of 524288 that is 262112; with 1024, 480.  With
        several listeners, or many idle pooled origin connections, set it so
        that the listeners' caps together fit the limit.  The cap applies to
        every listener of C{twistd proxykit} and to the factories
        L{proxykit.forwardProxy} and L{proxykit.reverseProxy} return.  Such a
        factory guards one listener: to listen on a second endpoint with the
        same proxy, wrap its C{factory} attribute in another
        C{proxykit.ListenerGate(gate.factory, cap)} (C{cap=None} derives the
        cap as above).

        Should the process still run out of descriptors (a cap set above
        the limit, many idle pooled origin connections), each new client is
        closed as soon as it is accepted, the open connections are served
        as before, a warning (C{cannot accept on LISTENER}) is logged at
        most once every 10 seconds, and new clients are accepted again as
        soon as descriptors are free; an accept that fails and leaves the
        clients waiting (C{ENFILE}, C{ENOBUFS}) stops the listener for
        0.1 s rather than trying again at once (the listeners of C{twistd
        proxykit}, L{proxykit.forwardService} and
        L{proxykit.reverseService}: L{proxykit.listeners.AcceptFailures}).
    @ivar maxOriginConnections: Open connections per origin (busy, idle and
        connecting).  Requests beyond it wait for one to be released or
        closed.
    @ivar maxOriginQueue: Requests that may wait for a connection to one
        origin.  Beyond it, and for requests that waited longer than the
        connect timeout, the client gets 503.
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

    @ivar connectPorts: The ports a C{CONNECT} request may name.  C{CONNECT}
        to any other port gets 403.
    @ivar allowClients: The client networks (CIDR) that may use the proxy.
        Everyone else gets 403 for every request, so a proxy listening beyond
        loopback is not an open relay by accident.  Clients on UNIX sockets
        are always allowed.
    @ivar allowPrivateDestinations: When the proxy listens on an address
        other than loopback (any TCP listener without a loopback
        C{interface=}, or a C{systemd:} one), requests and tunnels to
        loopback, private, link-local, unspecified, multicast and reserved
        addresses get 403 unless this is true: literal addresses, and every
        address a name resolves to (so C{metadata.internal} resolving to
        C{169.254.169.254} is refused too), whatever address the client
        reached the proxy on.  On a loopback listener they are allowed.
    @ivar via: The pseudonym this proxy adds to C{Via} (C{Via: 1.1
        proxykit}).  A request whose C{Via} already names it has looped back
        and gets 508.
    @ivar allowTrace: C{TRACE} reflects the request's headers back,
        credentials and cookies included, so it is refused with 405 unless
        this is true.  C{OPTIONS} and C{TRACE} with C{Max-Forwards: 0} are
        answered by the proxy itself; larger values are decremented on the
        way (RFC 9110, section 7.6.2).
    @ivar authFile: An htpasswd-style file (C{user:hash} per line;
        C{htpasswd -B} makes them).  Forward-proxy requests (absolute-form and
        C{CONNECT}) then need C{Proxy-Authorization: Basic}; without valid
        credentials they get 407 with a C{Proxy-Authenticate} challenge.  Only
        bcrypt hashes are accepted: plain text, crypt, MD5 and SHA-1 entries
        make the file an error, reported with its line before anything
        listens.  Credentials are checked in a thread, successes cached for
        five minutes (keyed by a keyed hash of the header, never the
        password), and never forwarded upstream; failures are logged with the
        user name only.  C{None}: no authentication.
    @ivar authRealm: The realm named in the C{Proxy-Authenticate} challenge.
    @ivar allowDestinations: Host patterns (C{example.com}, C{*.example.com})
        and networks (C{10.0.0.0/8}, C{2001:db8::/32}).  When given, a
        destination must match by name, or one of its resolved addresses must
        lie in an allowed network; anything else gets 403.  An allowed network
        also overrides the private-address rule (C{allow_private_destinations})
        for its addresses.  Empty: anywhere (subject to the rest).
    @ivar denyDestinations: The same kinds of pattern, refused with 403.
        Names are checked before resolution; networks are checked on literal
        addresses and on every address a name resolves to, so a name pointing
        at a denied address cannot be used to reach it.
    @ivar allowPorts: The ports absolute-form requests may reach (C{CONNECT}
        has C{connect_ports}); empty: any.
    @ivar parent: A parent proxy, C{http://[user:password@]host[:port]}
        (port 3128 by default; percent-encode C{@} and C{:} in credentials),
        that requests and tunnels are sent through; C{None}: direct.  Requests
        go to it in absolute form and tunnels through its own C{CONNECT}, with
        C{Proxy-Authorization: Basic} when credentials are given (the client's
        own credentials are never passed on).  Give each proxy of a chain its
        own C{via} name, or the parent takes the request for a loop (508).
    @ivar parentFor: Host patterns and networks sent through the parent;
        others go direct.  Empty: every destination.
    @ivar noParent: Exceptions reached directly, like C{no_proxy}.
    @ivar caFile: A PEM bundle of the certificate authorities trusted for
        absolute-form C{https://} targets (C{GET https://host/ HTTP/1.1}),
        which the proxy fetches over its own TLS connection, instead of the
        system's trust store.  C{CONNECT} tunnels are unaffected: there TLS
        runs between the client and the origin.
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
    One origin server of a route: a URL string, or an inline table
    C{{ url = "http://127.0.0.1:9002", weight = 2 }} in a file.

    The TLS settings (C{caFile}, C{clientCert}, C{clientKey}, C{serverName},
    C{verify}) may only be given for an C{https://} or C{srv+https://} origin
    (anywhere else they are an error).  The files are read when the
    configuration is loaded: a file that cannot be read is reported with its
    line and key before anything listens.

    @ivar url: The origin's URL: C{http://host[:port]} (port 80 by default, an
        optional trailing C{/}, IPv6 in brackets), C{https://host[:port]}
        (port 443 by default; spoken to over TLS) or C{unix:/absolute/path}.
        An origin whose host is a name (not C{localhost}) is resolved through
        DNS while the proxy runs, each address a member of the route;
        C{srv+http://_service._proto.name} and C{srv+https://...} name the
        members by SRV records, with their ports and weights.
    @ivar weight: The origin's relative share of requests, 1 or more (each
        address's, for an origin given by name; an SRV record's members take
        the record's weight instead).
    @ivar caFile: A PEM bundle of the certificate authorities to trust for
        this origin's certificate, instead of the system's (see
        L{OriginTLS.caFile}).
    @ivar clientCert: A PEM certificate presented to an origin that asks for
        a client certificate (mutual TLS); give C{clientKey} with it.
    @ivar clientKey: The PEM private key of C{clientCert}; give both or
        neither.
    @ivar serverName: The name the origin's certificate must carry, also sent
        as SNI; C{None}: the URL's host.  Useful for an origin addressed by IP
        (C{https://10.0.0.5}) whose certificate names C{api.internal}.
    @ivar verify: False accepts any certificate: expired, self-signed, for
        any name.  Anyone on the path to the origin can then impersonate it
        and read the traffic, so use it only for tests or on a network you
        trust; a warning is logged when the route is built.  Prefer
        C{caFile}.
    @ivar proxyProtocol: One of L{PROXY_PROTOCOL_MODES}, this origin's PROXY
        protocol setting, overriding the route's
        (L{RouteConfig.proxyProtocol}); C{None}: the route's.
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

    @ivar path: The path requested with C{GET}, starting with C{/}; it may
        have a query.
    @ivar interval: Seconds between two checks of one origin.
    @ivar timeout: Seconds a check may take: one that has no response head
        within this time fails.  A status from 200 to 399 is a success;
        anything else fails.
    @ivar rise: Consecutive successes that bring a down origin back.
    @ivar fall: Consecutive failures that take an up origin out.
    @ivar host: The C{Host} sent with checks: a host name or IP literal,
        optionally with C{:port}; C{None}: the origin's address.
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

    @ivar prefix: The path prefix this route serves, starting with C{/},
        without spaces, C{?} or C{#} (C{"/"} matches everything).  The longest
        matching prefix of the vhost wins; prefixes match whole segments
        (C{/api} matches C{/api/x}, not C{/apix}).  Two routes of one vhost
        may not have the same prefix.
    @ivar origins: Where requests go: origin URLs, or inline tables with an
        origin's settings (L{OriginConfig}).
    @ivar balance: How requests are spread over the origins, one of
        L{BALANCE_POLICIES}: C{"round_robin"} (smooth, weighted),
        C{"least_outstanding"} (fewest requests in flight per unit of weight)
        or C{"random_two"} (the better of two weighted random picks).
    @ivar stripPrefix: Remove the prefix from the path sent to the origin
        (C{/api/x} is sent as C{/x}).
    @ivar hostHeader: The C{Host} sent to the origin: C{"pass"} sends the
        client's, C{"origin"} the origin's own C{host:port} (C{localhost} for
        a UNIX socket).
    @ivar xForwardedFor: Add the client's address to C{X-Forwarded-For}.
    @ivar xForwardedProto: Send C{X-Forwarded-Proto} (C{http} or C{https}).
    @ivar xForwardedHost: Send the C{Host} the client asked for in
        C{X-Forwarded-Host}.
    @ivar forwarded: Add an RFC 7239 C{Forwarded} element (C{for}, C{proto},
        C{host}).
    @ivar rewriteRedirects: Rewrite C{Location} and C{Content-Location}
        values that point at the origin so that they point at the address the
        client used (putting back a stripped prefix).
    @ivar retries: How many other origins an idempotent request without a
        body may be tried on when connecting to an origin was refused or timed
        out (before any byte was sent).
    @ivar ejectFor: Seconds an origin that refused a connection, timed out or
        closed without answering is left out of the route; doubled on each
        further consecutive failure, up to eight times this.
    @ivar healthCheck: Active health checks of the route's origins
        (L{HealthCheckConfig}), or C{None}: none.
    @ivar proxyProtocol: C{"v1"} (text) or C{"v2"} (binary): each new
        connection to the route's origins starts with a PROXY protocol header,
        as HAProxy's C{send-proxy} and C{send-proxy-v2} write it, naming the
        client whose request opened the connection (the address a C{haproxy:}
        listener was given, else the TCP peer) and the address it connected
        to; over TLS the header comes before the handshake.  C{"off"}: none.
        A client on a UNIX socket is sent as C{PROXY UNKNOWN} (v1) or a
        C{LOCAL} header (v2), and so are the route's health checks.  Such a
        connection then carries only that client's requests: the pool keeps
        it for that client, closes it when the client leaves, and the
        per-origin connection limit counts per client.  Only for origins that
        expect the header (nginx C{listen ... proxy_protocol}, HAProxy
        C{accept-proxy}, Twisted C{haproxy:} endpoints): any other origin
        would take it for a malformed request.  An origin's own setting
        overrides it.
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

    @ivar hosts: The names this vhost answers to (not empty).  Each is an
        exact name (C{app.example.test}), a wildcard (C{*.example.test}: any
        subdomain, at any depth, but not C{example.test} itself), an IPv4
        literal (C{127.0.0.1}) or an IPv6 literal (C{[::1]} or C{::1}).  No
        ports, no schemes, ASCII only.  Matching ignores case, the request's
        port and a trailing dot.  A host may belong to one vhost only.
    @ivar routes: The vhost's routes (not empty), any order: the longest
        matching prefix wins.
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
    @ivar default: An exact host name (not a wildcard) of one of the vhosts.
        Requests whose host no vhost names, and requests without C{Host}, are
        served by that vhost.  C{None}: they get C{421 Misdirected Request}.
    @ivar trustedProxies: Clients in these networks (CIDR) are trusted
        proxies: the C{X-Forwarded-*} and C{Forwarded} fields they send are
        kept and appended to.  From any other client those fields are removed
        before proxykit adds its own.  A bare address (C{"10.0.0.1"}) is a
        network of one.
    @ivar forwardProxy: Also act as a forward proxy on the same listeners:
        absolute-form requests and C{CONNECT} go to the forward router,
        governed by the forward settings; origin-form requests go to the
        vhosts.  When false, C{CONNECT} gets 405 and an absolute-form request
        can only reach a vhost.
    @ivar dnsServers: The DNS servers that resolve origins given by host name
        or by SRV records, asked in turn: C{"address"} or C{"address:port"}
        (port 53 by default), the address an IPv4 literal or an IPv6 literal
        in brackets (C{"[::1]:5353"}); empty: the C{nameserver} lines of
        C{/etc/resolv.conf}.  The hosts file is not read.
    @ivar dnsMinTtl: Seconds: a name is resolved again no sooner than this
        after an answer, however short its TTL (Consul answers with TTL 0),
        and this long after a failed resolution.
    @ivar dnsMaxTtl: Seconds: a name is resolved again no later than this
        after an answer, however long its TTL.
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

    @ivar listen: The listener's endpoint string: one of those of C{listen}
        or C{[tls] listen} (or C{redirect_listen}), once each.
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

    @ivar access: Where the access log goes: a file name (opened for
        appending, created with mode C{0640} if missing; reopened on
        C{SIGUSR1} and C{SIGHUP}), C{"-"} for standard output, or C{"off"}
        (the same as leaving it out; C{None} in Python, which C{"off"}
        becomes): no access log, and no per-request record at all (but for
        the listeners that have their own).  A file that cannot be opened stops the start with one line
        naming it.
    @ivar format: C{"combined"}: the Combined Log Format of Apache and nginx;
        C{"json"}: one JSON object a line with every field; or a format
        string naming fields as C{$name} or C{${name}} (C{$$} is a dollar
        sign), e.g. C{"$client_addr $status $request_time"} (see
        L{proxykit.config.logformat.parseFormat}).  An unknown field name is
        an error naming the file, line and key.
    @ivar listeners: Listeners with their own access log (L{ListenerLog}).
    @ivar requestId: Each request's id, its C{X-Request-Id}, which the origin
        gets (in both modes), the access log writes (C{request_id}), error
        responses show and refusal and failure log lines name.  C{"keep"}:
        the client's, when it is a token of 1 to 128 characters, else a new
        one (32 hex digits); C{"trusted"}: the client's only from trusted
        proxies (L{ReverseConfig.trustedProxies}); C{"generate"}: always a new
        one; C{"off"}: no id, and the client's field passes untouched (see
        L{proxykit.policy.requestid}).
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
    The admin listener (the C{[admin]} table): C{/metrics} (Prometheus),
    C{/healthz}, C{/readyz} and C{/status}.

    @ivar listen: Its endpoint string, or C{None} (the default): no admin
        listener.  A C{tcp:} endpoint without C{interface=} binds 127.0.0.1
        (C{"tcp:9901"} is C{"tcp:9901:interface=127.0.0.1"}); a bare port
        number is an error.  A port in use stops the start like a proxy
        listener's.
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

    @ivar listen: Twisted server endpoint strings to accept client
        connections on, as for C{--listen} (C{tcp:8080:interface=127.0.0.1},
        C{unix:/run/proxykit.sock}, C{systemd:domain=INET:index=0},
        C{haproxy:tcp:8080}); a bare port number is an error.
    @ivar forward: Forward-proxy policy (the C{[forward]} table).
        C{twistd proxykit reverse} uses it only for a combined listener
        (C{reverse.forward_proxy}).
    @ivar reverse: Virtual hosts and reverse-proxy settings (the
        C{[reverse]} table); C{twistd proxykit forward} ignores it.
    @ivar timeouts: The timeouts (the C{[timeouts]} table).
    @ivar pool: The upstream keep-alive pool (the C{[pool]} table).
    @ivar limits: Limits on heads, bodies and connections (the C{[limits]}
        table).
    @ivar tls: TLS listeners and their certificates (the C{[tls]} table),
        or C{None}.
    @ivar log: The access log (the C{[log]} table).
    @ivar admin: The admin listener (the C{[admin]} table).
    @ivar workers: How many worker processes serve the listeners (a
        top-level key: write it above the first table); C{"auto"} in a file
        is one per CPU this process may run on; 1: this process serves them
        itself.  With more than one, a supervisor binds every listener and the
        admin listener (one C{SO_REUSEPORT} socket per worker where the
        system has it), then starts the workers, which adopt them; only
        C{tcp:}, C{tcp6:} and C{haproxy:tcp:}/C{haproxy:tcp6:} listeners
        (plain or in C{[tls] listen}) can be shared.  Read only at start.
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
        twice = listedTwice(self.listen)
        if twice is not None:
            raise fieldError(self, "listen", f"{twice!r} is listed twice")

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
