# -*- test-case-name: tests.test_config -*-
"""
Configuration: frozen attrs values with named constructors.

L{ProxyConfig.fromFile} reads TOML; every problem is reported as one
L{ConfigError} naming the file, the line (where it can be found), the key
path and what is wrong, before anything listens.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]


DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"
"""Where C{twistd proxykit forward} listens unless told otherwise."""

DEFAULT_REVERSE_LISTEN = "tcp:8000:interface=127.0.0.1"
"""Where C{twistd proxykit reverse} listens unless told otherwise."""


class ConfigError(Exception):
    """
    A configuration value is missing, malformed or out of range.

    @ivar source: The file name (or C{"<command line>"}).
    @ivar line: The 1-based line of the key, or C{None} if unknown.
    @ivar key: The dotted key path, e.g. C{"timeouts.connect"}.
    @ivar problem: What is wrong, in words.
    """

    def __init__(self, source: str, line: int | None, key: str, problem: str) -> None:
        super().__init__(source, line, key, problem)
        self.source = source
        self.line = line
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.key}: {self.problem}" if self.key else f"{where}: {self.problem}"


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive")


@attrs.frozen
class Timeouts:
    """
    Every wait has a bound, in seconds.

    @ivar connect: Establishing an origin connection (timeout: 504).
    @ivar response: Origin silence while a response is awaited or streams
        (before the head: 504; after it: the client connection is aborted).
    @ivar idle: A client connection with no request in progress.
    @ivar tunnelIdle: A CONNECT tunnel with no bytes either way.
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    response: float = attrs.field(default=60.0, validator=_positive)
    idle: float = attrs.field(default=60.0, validator=_positive)
    tunnelIdle: float = attrs.field(default=300.0, validator=_positive)


@attrs.frozen
class PoolConfig:
    """
    The upstream keep-alive pool.

    @ivar maxIdlePerOrigin: Idle connections kept per origin; more are closed.
    @ivar idleExpiry: Seconds an idle connection is kept.
    """

    maxIdlePerOrigin: int = 128
    idleExpiry: float = attrs.field(default=60.0, validator=_positive)


@attrs.frozen
class LimitsConfig:
    """
    Limits on received heads.

    @ivar maxRequestLine: Longest request-target (414 beyond).
    @ivar maxHeaderBytes: Largest header section (431 beyond).
    @ivar maxHeaderCount: Most header fields (431 beyond).
    """

    maxRequestLine: int = 8192
    maxHeaderBytes: int = 65536
    maxHeaderCount: int = 100


@attrs.frozen
class ForwardConfig:
    """
    Forward-proxy policy.

    @ivar connectPorts: Ports CONNECT may reach (default 443 only).
    @ivar allowClients: Client networks (CIDR) that may use the proxy;
        loopback only by default, so that the proxy is never an open relay
        by accident.
    @ivar allowPrivateDestinations: Whether literal loopback, private and
        link-local destinations are allowed when the proxy listens beyond
        loopback (always allowed on a loopback listener).
    @ivar via: The pseudonym this proxy uses in C{Via}.
    """

    connectPorts: frozenset[int] = frozenset({443})
    allowClients: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    allowPrivateDestinations: bool = False
    via: str = "proxykit"


BALANCE_POLICIES = ("round_robin", "least_outstanding", "random_two")
"""The balancing policies of an origin group."""

HOST_HEADER_MODES = ("pass", "origin")
"""The values of L{RouteConfig.hostHeader}."""

MAX_RETRIES = 10
"""The most L{RouteConfig.retries} a route may have."""


@attrs.frozen
class OriginConfig:
    """
    One origin server of a route.

    @ivar url: C{http://host[:port]} or C{unix:/path/to/socket}.
    @ivar weight: Relative share of requests (1 or more).
    """

    url: str
    weight: int = attrs.field(default=1, validator=attrs.validators.ge(1))


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

    path: str = "/"
    interval: float = attrs.field(default=5.0, validator=_positive)
    timeout: float = attrs.field(default=2.0, validator=_positive)
    rise: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    fall: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    host: str | None = None


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
    """

    origins: tuple[OriginConfig, ...]
    prefix: str = "/"
    balance: str = attrs.field(
        default="round_robin", validator=attrs.validators.in_(BALANCE_POLICIES)
    )
    stripPrefix: bool = False
    hostHeader: str = attrs.field(
        default="pass", validator=attrs.validators.in_(HOST_HEADER_MODES)
    )
    xForwardedFor: bool = True
    xForwardedProto: bool = True
    xForwardedHost: bool = True
    forwarded: bool = False
    rewriteRedirects: bool = True
    retries: int = attrs.field(
        default=1, validator=[attrs.validators.ge(0), attrs.validators.le(MAX_RETRIES)]
    )
    ejectFor: float = attrs.field(default=10.0, validator=_positive)
    healthCheck: HealthCheckConfig | None = None


@attrs.frozen
class VhostConfig:
    """
    A virtual host: the names it answers to and its routes.

    @ivar hosts: Exact names (C{app.example.test}), wildcards
        (C{*.example.test}, any depth of subdomain), IP literals.
    @ivar routes: Its routes, any order (longest prefix wins).
    """

    hosts: tuple[str, ...]
    routes: tuple[RouteConfig, ...]


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
    """

    vhosts: tuple[VhostConfig, ...] = ()
    default: str | None = None
    trustedProxies: tuple[str, ...] = ()
    forwardProxy: bool = False


@attrs.frozen
class ProxyConfig:
    """
    Everything C{twistd proxykit} needs.

    @ivar listen: Twisted server endpoint strings.
    """

    listen: tuple[str, ...] = (DEFAULT_LISTEN,)
    forward: ForwardConfig = ForwardConfig()
    reverse: ReverseConfig = ReverseConfig()
    timeouts: Timeouts = Timeouts()
    pool: PoolConfig = PoolConfig()
    limits: LimitsConfig = LimitsConfig()

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
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ConfigError(path, None, "", f"cannot read: {e.strerror}")
        try:
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ConfigError(path, None, "", "not UTF-8")
        except tomllib.TOMLDecodeError as e:
            # Python < 3.14 has no lineno attribute; the message has it.
            found = re.search(r"at line (\d+)", str(e))
            line = int(found.group(1)) if found else None
            raise ConfigError(path, line, "", f"invalid TOML: {e}")
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
        reader = _Reader(source, text)
        return reader.proxyConfig(data, defaultListen)


class _Problem(ValueError):
    """
    A value is wrong; C{str()} says how, in words that can follow a key path.
    """


def parseHost(value: object) -> str:
    """
    Check a virtual host name: an exact DNS name (C{app.example.test}), a
    wildcard (C{*.example.test}), an IPv4 literal, or an IPv6 literal with or
    without brackets.  No port, no scheme; one trailing dot is allowed.

    @return: C{value} unchanged (see L{hostKey} for comparisons).
    @raise ValueError: Anything else; C{str()} of it says what is wrong.
    """
    if not isinstance(value, str) or not value:
        raise _Problem(f"expected a host name, got {value!r}")
    if "://" in value or value.lower().startswith(("http:", "https:", "unix:")):
        raise _Problem(f"expected a host name without a scheme, got {value!r}")
    if value.startswith("["):
        if value.endswith("]") and _isIPv6(value[1:-1]):
            return value
        if re.fullmatch(r"\[[^\]]*\]:\d*", value):
            raise _Problem(f"expected a host name without a port, got {value!r}")
        raise _Problem(f"expected an IPv6 literal in brackets, got {value!r}")
    if value.count(":") > 1:
        if _isIPv6(value):
            return value
        raise _Problem(f"expected an IPv6 literal, got {value!r}")
    if ":" in value:
        raise _Problem(f"expected a host name without a port, got {value!r}")
    name = value[:-1] if value.endswith(".") else value
    wildcard = name.startswith("*.")
    if wildcard:
        name = name[2:]
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _Problem(
            f"expected a host name, *.wildcard or IP literal, got {value!r}"
        )
    if labels[-1].isdigit():
        # RFC 3986 section 3.2.2: a name that could be an IPv4 address is one.
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            raise _Problem(f"expected a valid IPv4 address, got {value!r}")
        if wildcard:
            raise _Problem(f"an IP address cannot be a wildcard, got {value!r}")
    return value


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _isIPv6(value: str) -> bool:
    if "%" in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def hostKey(host: str) -> str:
    """
    The form of a host (as accepted by L{parseHost}) used to compare hosts:
    lower case, without the trailing dot and brackets, IP literals in their
    canonical form.
    """
    key = host.lower()
    if key.endswith("."):
        key = key[:-1]
    if key.startswith("[") and key.endswith("]"):
        key = key[1:-1]
    try:
        return ipaddress.ip_address(key).compressed
    except ValueError:
        return key


def checkOriginURL(value: object) -> str:
    """
    Check an origin URL: C{http://host[:port]} (an optional trailing C{/},
    IPv6 in brackets) or C{unix:/absolute/path}.

    @return: C{value} unchanged.
    @raise ValueError: Anything else; C{str()} of it says what is wrong.
    """
    expected = f"expected http://host[:port] or unix:/absolute/path, got {value!r}"
    if not isinstance(value, str):
        raise _Problem(expected)
    if value.startswith("unix:"):
        path = value[len("unix:") :]
        if not path.startswith("/") or path.startswith("//") or len(path) < 2:
            raise _Problem(expected)
        if "\0" in path:
            raise _Problem(f"a socket path cannot contain NUL, got {value!r}")
        return value
    found = re.fullmatch(r"http://(\[[^\]/]*\]|[^\[\]:/]*)(?::([^/]*))?/?", value)
    if found is None:
        raise _Problem(expected)
    host, port = found.groups()
    try:
        if host.startswith("*"):
            raise ValueError(host)
        parseHost(host)
        if port is not None:
            parsePort(port)
    except ValueError:
        raise _Problem(expected)
    return value


def defaultHostProblem(vhosts: tuple[VhostConfig, ...], default: str) -> str | None:
    """
    Why C{default} cannot be L{ReverseConfig.default} given C{vhosts}, or
    C{None} if it can: it must be an exact host (not a wildcard) of one of
    them.
    """
    try:
        parseHost(default)
    except ValueError as e:
        return str(e)
    if default.startswith("*."):
        return f"expected an exact host name, not a wildcard, got {default!r}"
    key = hostKey(default)
    for vhost in vhosts:
        for host in vhost.hosts:
            if not host.startswith("*.") and hostKey(host) == key:
                return None
    return f"{default!r} is not a host of any vhost"


T = TypeVar("T")


class _Reader:
    """
    Turns a TOML document into config values, locating errors.
    """

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = _keyLines(text)

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.locate(key), key, problem)

    def locate(self, key: str) -> int | None:
        """
        The line where C{key} is assigned, or where its table or array
        element starts.

        @param key: A key path, with indexes into arrays:
            C{reverse.vhost[0].route[1].origins[2]}.  A key that is not in
            the file (a missing key, or one inside an inline table) is
            located at its closest enclosing key, table or element.
        """
        while key:
            if key in self.lines:
                return self.lines[key]
            element = re.fullmatch(r"(.*)\[\d+\]", key)
            if element:
                key = element.group(1)
            else:
                key = key.rpartition(".")[0]
        return None

    def table(self, data: Mapping[str, Any], key: str, known: set[str]) -> Mapping[str, Any]:
        value = data.get(_leaf(key), {})
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        self.known(value, key, known)
        return value

    def known(self, value: Mapping[str, Any], key: str, known: set[str]) -> None:
        for name in value:
            if name not in known:
                raise self.error(f"{key}.{name}", "unknown key")

    def tables(
        self, data: Mapping[str, Any], key: str, known: set[str], header: str
    ) -> list[Mapping[str, Any]]:
        """
        An array of tables (C{[[header]]}), each checked for unknown keys.
        """
        value = data.get(_leaf(key), [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected an array of tables ([[{header}]])")
        for index, element in enumerate(value):
            self.known(element, f"{key}[{index}]", known)
        return value

    def get(
        self,
        data: Mapping[str, Any],
        key: str,
        convert: Callable[[Any], T],
        default: T,
        expected: str,
    ) -> T:
        name = _leaf(key)
        if name not in data:
            return default
        return self.convert(data[name], key, convert, expected)

    def convert(self, value: Any, key: str, convert: Callable[[Any], T], expected: str) -> T:
        try:
            return convert(value)
        except _Problem as e:
            raise self.error(key, str(e))
        except (TypeError, ValueError):
            raise self.error(key, f"expected {expected}, got {value!r}")

    def items(
        self,
        data: Mapping[str, Any],
        key: str,
        convert: Callable[[Any], T],
        expected: tuple[str, str],
        nonEmpty: bool = True,
    ) -> tuple[T, ...]:
        """
        A list, each element converted and located on its own (C{key[index]}).

        @param expected: What the list holds, in the plural and for one
            element (C{("host names", "a host name")}).
        @param nonEmpty: Whether a missing or empty list is an error (else it
            is C{()}).
        """
        value = data.get(_leaf(key))
        if not nonEmpty and value in (None, []):
            return ()
        if not isinstance(value, list) or not value:
            what = "missing" if value is None else f"got {value!r}"
            raise self.error(key, f"expected a non-empty list of {expected[0]}, {what}")
        return tuple(
            self.convert(element, f"{key}[{index}]", convert, expected[1])
            for index, element in enumerate(value)
        )

    def proxyConfig(
        self, data: Mapping[str, Any], defaultListen: tuple[str, ...]
    ) -> ProxyConfig:
        known = {"listen", "forward", "reverse", "timeouts", "pool", "limits"}
        for name in data:
            if name not in known:
                raise self.error(name, "unknown key")
        listen = self.get(data, "listen", _stringList, defaultListen, "a list of endpoint strings")
        if not listen:
            raise self.error("listen", "expected at least one endpoint")
        forward = self.table(data, "forward", {"connect_ports", "allow_clients", "allow_private_destinations", "via"})
        timeouts = self.table(data, "timeouts", {"connect", "response", "idle", "tunnel_idle"})
        pool = self.table(data, "pool", {"max_idle_per_origin", "idle_expiry"})
        limits = self.table(data, "limits", {"max_request_line", "max_header_bytes", "max_header_count"})
        d = ForwardConfig()
        forwardConfig = ForwardConfig(
            connectPorts=self.get(forward, "forward.connect_ports", _portSet, d.connectPorts, "a list of ports (1-65535)"),
            allowClients=self.get(forward, "forward.allow_clients", _networkList, d.allowClients, "a list of CIDR networks"),
            allowPrivateDestinations=self.get(forward, "forward.allow_private_destinations", _boolean, d.allowPrivateDestinations, "true or false"),
            via=self.get(forward, "forward.via", _token, d.via, "a token"),
        )
        t = Timeouts()
        timeoutConfig = Timeouts(
            connect=self.get(timeouts, "timeouts.connect", _seconds, t.connect, "a positive number"),
            response=self.get(timeouts, "timeouts.response", _seconds, t.response, "a positive number"),
            idle=self.get(timeouts, "timeouts.idle", _seconds, t.idle, "a positive number"),
            tunnelIdle=self.get(timeouts, "timeouts.tunnel_idle", _seconds, t.tunnelIdle, "a positive number"),
        )
        p = PoolConfig()
        poolConfig = PoolConfig(
            maxIdlePerOrigin=self.get(pool, "pool.max_idle_per_origin", _count0, p.maxIdlePerOrigin, "a whole number >= 0"),
            idleExpiry=self.get(pool, "pool.idle_expiry", _seconds, p.idleExpiry, "a positive number"),
        )
        lim = LimitsConfig()
        limitsConfig = LimitsConfig(
            maxRequestLine=self.get(limits, "limits.max_request_line", _count1, lim.maxRequestLine, "a whole number >= 1"),
            maxHeaderBytes=self.get(limits, "limits.max_header_bytes", _count1, lim.maxHeaderBytes, "a whole number >= 1"),
            maxHeaderCount=self.get(limits, "limits.max_header_count", _count1, lim.maxHeaderCount, "a whole number >= 1"),
        )
        return ProxyConfig(
            listen=listen,
            forward=forwardConfig,
            reverse=self.reverseConfig(data),
            timeouts=timeoutConfig,
            pool=poolConfig,
            limits=limitsConfig,
        )

    def reverseConfig(self, data: Mapping[str, Any]) -> ReverseConfig:
        reverse = self.table(data, "reverse", {"default", "trusted_proxies", "forward_proxy", "vhost"})
        vhosts = tuple(
            self.vhostConfig(vhost, f"reverse.vhost[{index}]")
            for index, vhost in enumerate(
                self.tables(reverse, "reverse.vhost", {"hosts", "route"}, "reverse.vhost")
            )
        )
        owners: dict[str, str] = {}
        for index, vhost in enumerate(vhosts):
            for position, host in enumerate(vhost.hosts):
                key = f"reverse.vhost[{index}].hosts[{position}]"
                owner = owners.setdefault(hostKey(host), key)
                if owner != key:
                    raise self.error(key, f"host {host!r} is already listed at {owner}")
        default = self.get(reverse, "reverse.default", _string, None, "a host name")
        if default is not None:
            problem = defaultHostProblem(vhosts, default)
            if problem is not None:
                raise self.error("reverse.default", problem)
        return ReverseConfig(
            vhosts=vhosts,
            default=default,
            trustedProxies=self.items(
                reverse, "reverse.trusted_proxies", _network,
                ("CIDR networks", "a CIDR network"), nonEmpty=False,
            ),
            forwardProxy=self.get(reverse, "reverse.forward_proxy", _boolean, False, "true or false"),
        )

    def vhostConfig(self, data: Mapping[str, Any], key: str) -> VhostConfig:
        hosts = self.items(data, f"{key}.hosts", parseHost, ("host names", "a host name"))
        routes = tuple(
            self.routeConfig(route, f"{key}.route[{index}]")
            for index, route in enumerate(
                self.tables(data, f"{key}.route", _ROUTE_KEYS, "reverse.vhost.route")
            )
        )
        if not routes:
            raise self.error(f"{key}.route", "expected at least one [[reverse.vhost.route]]")
        prefixes: dict[str, int] = {}
        for index, route in enumerate(routes):
            first = prefixes.setdefault(route.prefix, index)
            if first != index:
                raise self.error(
                    f"{key}.route[{index}].prefix",
                    f"prefix {route.prefix!r} is already routed by {key}.route[{first}]",
                )
        return VhostConfig(hosts=hosts, routes=routes)

    def routeConfig(self, data: Mapping[str, Any], key: str) -> RouteConfig:
        origins = self.items(data, f"{key}.origins", _anything, ("origin URLs", "an origin URL"))
        d = _DEFAULT_ROUTE
        healthCheck = None
        if "health_check" in data:
            healthCheck = self.healthCheckConfig(data, f"{key}.health_check")
        return RouteConfig(
            origins=tuple(
                self.originConfig(origin, f"{key}.origins[{index}]")
                for index, origin in enumerate(origins)
            ),
            prefix=self.get(data, f"{key}.prefix", _prefix, d.prefix, "a path prefix starting with '/'"),
            balance=self.get(data, f"{key}.balance", _choice(BALANCE_POLICIES), d.balance, " or ".join(BALANCE_POLICIES)),
            stripPrefix=self.get(data, f"{key}.strip_prefix", _boolean, d.stripPrefix, "true or false"),
            hostHeader=self.get(data, f"{key}.host_header", _choice(HOST_HEADER_MODES), d.hostHeader, " or ".join(HOST_HEADER_MODES)),
            xForwardedFor=self.get(data, f"{key}.x_forwarded_for", _boolean, d.xForwardedFor, "true or false"),
            xForwardedProto=self.get(data, f"{key}.x_forwarded_proto", _boolean, d.xForwardedProto, "true or false"),
            xForwardedHost=self.get(data, f"{key}.x_forwarded_host", _boolean, d.xForwardedHost, "true or false"),
            forwarded=self.get(data, f"{key}.forwarded", _boolean, d.forwarded, "true or false"),
            rewriteRedirects=self.get(data, f"{key}.rewrite_redirects", _boolean, d.rewriteRedirects, "true or false"),
            retries=self.get(data, f"{key}.retries", _retries, d.retries, f"a whole number from 0 to {MAX_RETRIES}"),
            ejectFor=self.get(data, f"{key}.eject_for", _seconds, d.ejectFor, "a positive number"),
            healthCheck=healthCheck,
        )

    def originConfig(self, value: Any, key: str) -> OriginConfig:
        """
        An origin: a URL string, or an inline table C{{ url = ..., weight = N }}.
        """
        if isinstance(value, dict):
            self.known(value, key, {"url", "weight"})
            if "url" not in value:
                raise self.error(f"{key}.url", "missing: expected an origin URL")
            return OriginConfig(
                url=self.get(value, f"{key}.url", checkOriginURL, "", "an origin URL"),
                weight=self.get(value, f"{key}.weight", _count1, 1, "a whole number >= 1"),
            )
        if isinstance(value, str):
            return OriginConfig(url=self.convert(value, key, checkOriginURL, "an origin URL"))
        raise self.error(key, f"expected an origin URL or {{ url = ..., weight = N }}, got {value!r}")

    def healthCheckConfig(self, data: Mapping[str, Any], key: str) -> HealthCheckConfig:
        check = self.table(data, key, {"path", "interval", "timeout", "rise", "fall", "host"})
        d = HealthCheckConfig()
        return HealthCheckConfig(
            path=self.get(check, f"{key}.path", _requestPath, d.path, "a path starting with '/'"),
            interval=self.get(check, f"{key}.interval", _seconds, d.interval, "a positive number"),
            timeout=self.get(check, f"{key}.timeout", _seconds, d.timeout, "a positive number"),
            rise=self.get(check, f"{key}.rise", _count1, d.rise, "a whole number >= 1"),
            fall=self.get(check, f"{key}.fall", _count1, d.fall, "a whole number >= 1"),
            host=self.get(check, f"{key}.host", _authority, d.host, "a host name, optionally with :port"),
        )


_ROUTE_KEYS = {
    "prefix", "origins", "balance", "strip_prefix", "host_header",
    "x_forwarded_for", "x_forwarded_proto", "x_forwarded_host", "forwarded",
    "rewrite_redirects", "retries", "eject_for", "health_check",
}  # fmt: skip

_DEFAULT_ROUTE = RouteConfig(origins=())


def _leaf(key: str) -> str:
    """
    The last name of a key path: C{"prefix"} for C{"reverse.vhost[0].route[1].prefix"}.
    """
    return key.rpartition(".")[2]


def _keyLines(text: str) -> dict[str, int]:
    """
    Where each table, array-of-tables element, key and array element of a
    TOML document starts, by key path with indexes
    (C{reverse.vhost[1].route[0].origins[2]}).

    A scanner of valid TOML (it runs after L{tomllib} has accepted the
    document) that knows just enough to skip strings, comments and
    multi-line values.  Keys inside inline tables are not recorded; a lookup
    falls back to the enclosing key (see L{_Reader.locate}).
    """
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    # The latest element of each array of tables, by its path without indexes.
    arrays: dict[str, str] = {}
    current = ""
    pos, line = 0, 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        header = _HEADER.match(text, pos, end)
        assignment = None if header else _ASSIGNMENT.match(text, pos, end)
        if header:
            names = _names(header.group(2))
            if header.group(1) == "[[":
                parent = _concrete(names[:-1], arrays)
                array = f"{parent}.{names[-1]}" if parent else names[-1]
                index = counts.get(array, 0)
                counts[array] = index + 1
                generic = ".".join(names)
                for inner in [name for name in arrays if name.startswith(generic + ".")]:
                    del arrays[inner]
                current = arrays[generic] = f"{array}[{index}]"
            else:
                current = _concrete(names, arrays)
            lines.setdefault(current, line)
        elif assignment:
            name = ".".join(_names(assignment.group(1)))
            key = f"{current}.{name}" if current else name
            lines.setdefault(key, line)
            pos, line = _skipValue(text, assignment.end(), line, key, lines)
            continue
        pos, line = end + 1, line + 1
    return lines


_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_HEADER = re.compile(rf"[ \t]*(\[\[?)[ \t]*({_DOTTED_KEY})[ \t]*\]")
_ASSIGNMENT = re.compile(rf"[ \t]*({_DOTTED_KEY})[ \t]*=")
_BASIC_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _names(dotted: str) -> list[str]:
    return [
        part.group(0).strip("\"'")
        for part in re.finditer(_KEY_PART, dotted)
    ]


def _concrete(names: list[str], arrays: Mapping[str, str]) -> str:
    """
    The path with indexes of a table named C{names}: each prefix that is an
    array of tables stands for its latest element.
    """
    path = ""
    for depth in range(1, len(names) + 1):
        generic = ".".join(names[:depth])
        if generic in arrays:
            path = arrays[generic]
        else:
            path = f"{path}.{names[depth - 1]}" if path else names[depth - 1]
    return path


def _skipValue(
    text: str, pos: int, line: int, key: str, lines: dict[str, int]
) -> tuple[int, int]:
    """
    Skip the value that starts at C{pos}, recording the line of each element
    if it is an array.

    @return: The position and number of the line after the value.
    """
    depth = 0
    isArray = False
    expectElement = False
    index = 0
    while pos < len(text):
        c = text[pos]
        if c == "\n":
            pos, line = pos + 1, line + 1
            if depth == 0:
                break
            continue
        if c in " \t\r":
            pos += 1
            continue
        if c == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        if expectElement and depth == 1 and c not in ",]":
            lines.setdefault(f"{key}[{index}]", line)
            index += 1
            expectElement = False
        if text.startswith(('"""', "'''"), pos):
            end = _endOfMultiline(text, pos)
            line += text.count("\n", pos, end)
            pos = end
            continue
        if c == '"':
            found = _BASIC_STRING.match(text, pos)
            pos = found.end() if found else pos + 1
            continue
        if c == "'":
            end = text.find("'", pos + 1)
            pos = len(text) if end < 0 else end + 1
            continue
        if c in "[{":
            if depth == 0:
                isArray = expectElement = c == "["
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 1 and isArray:
            expectElement = True
        pos += 1
    return pos, line


def _endOfMultiline(text: str, pos: int) -> int:
    """
    The position after the multi-line string that starts at C{pos}.
    """
    quote = text[pos : pos + 3]
    pos += 3
    while pos < len(text):
        if quote == '"""' and text[pos] == "\\":
            pos += 2
        elif text.startswith(quote, pos):
            # Up to two quotes may end the content: \"\"\"a\"\"\"\"\" is 'a""'.
            end = pos + 3
            while end < len(text) and end < pos + 5 and text[end] == quote[0]:
                end += 1
            return end
        else:
            pos += 1
    return pos


def _stringList(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TypeError(value)
    return tuple(value)


def _anything(value: Any) -> Any:
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(value)
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(value)
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(value)
    return float(value)


def _count0(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def _count1(value: Any) -> int:
    if _count0(value) < 1:
        raise ValueError(value)
    return int(value)


def _retries(value: Any) -> int:
    if _count0(value) > MAX_RETRIES:
        raise ValueError(value)
    return int(value)


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(value)
        return str(value)

    return convert


def _prefix(value: Any) -> str:
    """
    A route prefix: an absolute path without query, fragment, spaces or
    control characters.
    """
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(value)
    if not value.isascii() or not value.isprintable() or any(c in value for c in " ?#"):
        raise ValueError(value)
    return value


def _requestPath(value: Any) -> str:
    """
    A health-check path: an absolute path, optionally with a query.
    """
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(value)
    if not value.isascii() or not value.isprintable() or any(c in value for c in " #"):
        raise ValueError(value)
    return value


def _authority(value: Any) -> str:
    """
    A C{Host} value: an exact host name or IP literal, optionally with a port.
    """
    if not isinstance(value, str):
        raise TypeError(value)
    hostPort = re.fullmatch(r"(.*[^:]):(\d+)", value)
    host = value
    if hostPort and (hostPort.group(1).startswith("[") or ":" not in hostPort.group(1)):
        host = hostPort.group(1)
        parsePort(hostPort.group(2))
    parseHost(host)
    if host.startswith("*."):
        raise ValueError(value)
    return value


def parsePort(value: Any) -> int:
    """
    A TCP port from TOML or the command line: digits only, 1 to 65535.

    @raise ValueError: Anything else.
    """
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 5:
            raise ValueError(value)
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise ValueError(value)
    return value


def _portSet(value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        raise TypeError(value)
    return frozenset(parsePort(v) for v in value)


def _networkList(value: Any) -> tuple[str, ...]:
    networks = _stringList(value)
    for network in networks:
        ipaddress.ip_network(network, strict=False)
    return networks


def _network(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    ipaddress.ip_network(value, strict=False)
    return value


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value or not all(
        c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in value
    ):
        raise ValueError(value)
    return value
