# -*- test-case-name: tests.test_config -*-
"""
Reading configuration: a TOML file or mapping to L{proxykit.config} values,
every problem a located L{ConfigError}.

The reader goes on after a problem wherever the rest of the document can
still be read (a bad value, an unknown key, a bad element of a list or
array of tables), and reports every problem it found together
(L{ConfigError.several}).

Used by L{ProxyConfig.fromFile} and L{ProxyConfig.fromMapping}; the values
themselves are checked by L{proxykit.config.checks}, and lines are found by
L{proxykit.config.keylines}.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from . import schema
from .checks import (
    WORKERS_EXPECTED,
    Problem,
    adminEndpoint,
    anything,
    authority,
    boolean,
    checked,
    checkOriginURL,
    choice,
    count0,
    count1,
    defaultHostProblem,
    destinationList,
    dnsServer,
    hostKey,
    listenEndpoint,
    network,
    networkList,
    nonEmptyString,
    parentURL,
    parseHost,
    portSet,
    requestPath,
    routePrefix,
    seconds,
    seconds0,
    serverName,
    string,
    token,
    workerCount,
)
from .checks import retries as _retries
from .keylines import keyLines
from .logformat import COMBINED, logDestination, logFormat
from .tlsconfig import TLSConfig, readTLS
from .values import (
    BALANCE_POLICIES,
    HOST_HEADER_MODES,
    MAX_RETRIES,
    PROXY_PROTOCOL_MODES,
    REQUEST_ID_MODES,
    AdminConfig,
    ConfigError,
    ForwardConfig,
    HealthCheckConfig,
    LimitsConfig,
    ListenerLog,
    LogConfig,
    OriginConfig,
    PoolConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
    listedTwice,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]


def loadFile(path: str) -> tuple[dict[str, Any], str]:
    """
    Read and parse a TOML file.

    @return: The parsed document and its text.
    @raise ConfigError: The file cannot be read, is not UTF-8 or is not
        valid TOML.
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
    return data, text


T = TypeVar("T")


class ConfigReader:
    """
    Turns a TOML document into config values, locating errors.

    Its methods that read a key with a default (L{get}, L{table},
    L{tables}, L{items}, L{known}) note a problem (L{report}) and go on with
    the default; L{convert} and L{error} are for problems that stop the
    reading of the value they are in (L{collect} notes those and goes on
    after it).  L{proxyConfig} raises every noted problem at once.

    @ivar errors: The problems noted so far, in the order found.
    """

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = keyLines(text)
        self.errors: list[ConfigError] = []

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.locate(key), key, problem)

    def report(self, error: ConfigError) -> None:
        """
        Note C{error} (each of its L{ConfigError.errors}) and go on reading.

        A problem with a key that already has one is a consequence of the
        first (a list that is not a list is also empty) and is not noted.
        """
        for each in error.errors:
            if not any(earlier.key == each.key for earlier in self.errors):
                self.errors.append(each)

    def collect(self, read: Callable[[], T], default: T) -> T:
        """
        C{read()}, or C{default} if it raises L{ConfigError} (which is
        noted: see L{report}).
        """
        try:
            return read()
        except ConfigError as e:
            self.report(e)
            return default

    def check(self) -> None:
        """
        @raise ConfigError: Every problem noted, together.
        """
        if self.errors:
            raise ConfigError.several(self.errors)

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
            self.report(self.error(key, "expected a table"))
            return {}
        self.known(value, key, known)
        return value

    def known(self, value: Mapping[str, Any], key: str, known: set[str]) -> None:
        for name in value:
            if name not in known:
                self.report(self.error(f"{key}.{name}" if key else name, "unknown key"))

    def tables(
        self, data: Mapping[str, Any], key: str, known: set[str], header: str
    ) -> list[Mapping[str, Any]]:
        """
        An array of tables (C{[[header]]}), each checked for unknown keys.
        """
        value = data.get(_leaf(key), [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.report(self.error(key, f"expected an array of tables ([[{header}]])"))
            return []
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
        return self.collect(lambda: self.convert(data[name], key, convert, expected), default)

    def convert(self, value: Any, key: str, convert: Callable[[Any], T], expected: str) -> T:
        try:
            return checked(value, convert, expected)  # type: ignore[no-any-return]
        except Problem as e:
            raise self.error(key, str(e))

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
        @return: The elements that could be converted (the others are
            noted).
        """
        value = data.get(_leaf(key))
        if not nonEmpty and value in (None, []):
            return ()
        if not isinstance(value, list) or not value:
            what = "missing" if value is None else f"got {value!r}"
            self.report(self.error(key, f"expected a non-empty list of {expected[0]}, {what}"))
            return ()
        converted = []
        for index, element in enumerate(value):
            try:
                converted.append(self.convert(element, f"{key}[{index}]", convert, expected[1]))
            except ConfigError as e:
                self.report(e)
        return tuple(converted)

    def proxyConfig(
        self, data: Mapping[str, Any], defaultListen: tuple[str, ...]
    ) -> ProxyConfig:
        """
        The whole configuration.

        @raise ConfigError: Every problem found.
        """
        self.known(data, "", schema.known(""))
        listen = defaultListen
        if "listen" in data:
            if not isinstance(data["listen"], list):
                what = f"got {data['listen']!r}"
                self.report(self.error("listen", f"expected a list of endpoint strings, {what}"))
            listen = self.items(
                data, "listen", listenEndpoint,
                ("endpoint strings", "an endpoint string"), nonEmpty=False,
            )
        tls = self.collect(lambda: readTLS(self, data), None)
        if data.get("listen") == [] and "tls" not in data:
            self.report(self.error("listen", "expected at least one endpoint"))
        twice = listedTwice(listen)
        if twice is not None:
            self.report(self.error("listen", f"{twice!r} is listed twice"))
        forward = self.table(data, "forward", schema.known("forward"))
        timeouts = self.table(data, "timeouts", schema.known("timeouts"))
        pool = self.table(data, "pool", schema.known("pool"))
        limits = self.table(data, "limits", schema.known("limits"))
        d = ForwardConfig()
        forwardConfig = ForwardConfig(
            connectPorts=self.get(forward, "forward.connect_ports", portSet, d.connectPorts, "a list of ports (1-65535)"),
            allowClients=self.get(forward, "forward.allow_clients", networkList, d.allowClients, "a list of CIDR networks"),
            allowPrivateDestinations=self.get(forward, "forward.allow_private_destinations", boolean, d.allowPrivateDestinations, "true or false"),
            via=self.get(forward, "forward.via", token, d.via, "a token"),
            allowTrace=self.get(forward, "forward.allow_trace", boolean, d.allowTrace, "true or false"),
            authFile=self.get(forward, "forward.auth_file", nonEmptyString, d.authFile, "a file name"),
            authRealm=self.get(forward, "forward.auth_realm", nonEmptyString, d.authRealm, "a realm name"),
            allowDestinations=self.get(forward, "forward.allow_destinations", destinationList, d.allowDestinations, "a list of host patterns and networks"),
            denyDestinations=self.get(forward, "forward.deny_destinations", destinationList, d.denyDestinations, "a list of host patterns and networks"),
            allowPorts=self.get(forward, "forward.allow_ports", portSet, d.allowPorts, "a list of ports (1-65535)"),
            parent=self.get(forward, "forward.parent", parentURL, d.parent, "http://[user:password@]host[:port]"),
            parentFor=self.get(forward, "forward.parent_for", destinationList, d.parentFor, "a list of host patterns and networks"),
            noParent=self.get(forward, "forward.no_parent", destinationList, d.noParent, "a list of host patterns and networks"),
            caFile=self.get(forward, "forward.ca_file", readableFile, d.caFile, "a file name"),
        )
        t = Timeouts()
        timeoutConfig = Timeouts(
            connect=self.get(timeouts, "timeouts.connect", seconds, t.connect, "a positive number"),
            response=self.get(timeouts, "timeouts.response", seconds, t.response, "a positive number"),
            idle=self.get(timeouts, "timeouts.idle", seconds, t.idle, "a positive number"),
            tunnelIdle=self.get(timeouts, "timeouts.tunnel_idle", seconds, t.tunnelIdle, "a positive number"),
            header=self.get(timeouts, "timeouts.header", seconds, t.header, "a positive number"),
            drain=self.get(timeouts, "timeouts.drain", seconds, t.drain, "a positive number"),
            drainDelay=self.get(timeouts, "timeouts.drain_delay", seconds0, t.drainDelay, "a number >= 0"),
        )
        p = PoolConfig()
        poolConfig = PoolConfig(
            maxIdlePerOrigin=self.get(pool, "pool.max_idle_per_origin", count0, p.maxIdlePerOrigin, "a whole number >= 0"),
            idleExpiry=self.get(pool, "pool.idle_expiry", seconds, p.idleExpiry, "a positive number"),
        )
        lim = LimitsConfig()
        limitsConfig = LimitsConfig(
            maxRequestLine=self.get(limits, "limits.max_request_line", count1, lim.maxRequestLine, "a whole number >= 1"),
            maxHeaderBytes=self.get(limits, "limits.max_header_bytes", count1, lim.maxHeaderBytes, "a whole number >= 1"),
            maxHeaderCount=self.get(limits, "limits.max_header_count", count1, lim.maxHeaderCount, "a whole number >= 1"),
            maxBodyBytes=self.get(limits, "limits.max_body_bytes", count0, lim.maxBodyBytes, "a whole number >= 0"),
            maxClientConnections=self.get(limits, "limits.max_client_connections", count1, lim.maxClientConnections, "a whole number >= 1"),
            maxOriginConnections=self.get(limits, "limits.max_origin_connections", count1, lim.maxOriginConnections, "a whole number >= 1"),
            maxOriginQueue=self.get(limits, "limits.max_origin_queue", count0, lim.maxOriginQueue, "a whole number >= 0"),
        )
        reverse = self.reverseConfig(data)
        log = self.table(data, "log", schema.known("log"))
        lc = LogConfig()
        logConfig = LogConfig(
            access=self.get(log, "log.access", logDestination, lc.access, "a file name, '-' or 'off'"),
            format=self.get(log, "log.format", logFormat, lc.format, "combined, json or a format string"),
            requestId=self.get(log, "log.request_id", choice(REQUEST_ID_MODES), lc.requestId, ", ".join(REQUEST_ID_MODES)),
            listeners=self.listenerLogs(log, listen, tls),
        )
        admin = self.table(data, "admin", schema.known("admin"))
        adminConfig = AdminConfig(
            listen=self.get(admin, "admin.listen", adminEndpoint, None, "an endpoint string"),
        )
        workers = self.get(data, "workers", workerCount, 1, WORKERS_EXPECTED)
        self.check()
        return ProxyConfig(
            workers=workers,
            listen=listen,
            forward=forwardConfig,
            reverse=reverse,
            timeouts=timeoutConfig,
            pool=poolConfig,
            limits=limitsConfig,
            tls=tls,
            log=logConfig,
            admin=adminConfig,
        )

    def listenerLogs(
        self, log: Mapping[str, Any], listen: tuple[str, ...], tls: TLSConfig | None
    ) -> tuple[ListenerLog, ...]:
        """
        The C{[[log.listener]]} tables: each names one of the listeners
        (C{listen}, C{[tls] listen} or C{redirect_listen}), once.
        """
        listeners = set(listen)
        if tls is not None:
            listeners.update(description for description, _ in tls.listeners())
            listeners.update(tls.redirectListen)
        entries: list[ListenerLog] = []
        seen: set[str] = set()
        for index, table in enumerate(
            self.tables(log, "log.listener", schema.known("log.listener"), "log.listener")
        ):
            key = f"log.listener[{index}]"
            endpoint = self.get(table, f"{key}.listen", listenEndpoint, None, "an endpoint string")
            if endpoint is None:
                if "listen" not in table:
                    self.report(self.error(f"{key}", "missing 'listen': the listener's endpoint string"))
                continue
            if endpoint not in listeners:
                self.report(
                    self.error(
                        f"{key}.listen",
                        f"{endpoint!r} is not one of the listeners (listen, [tls] listen)",
                    )
                )
                continue
            if endpoint in seen:
                self.report(self.error(f"{key}.listen", f"{endpoint!r} has a log already"))
                continue
            seen.add(endpoint)
            entries.append(
                ListenerLog(
                    endpoint,
                    self.get(table, f"{key}.access", logDestination, None, "a file name, '-' or 'off'"),
                    self.get(table, f"{key}.format", logFormat, COMBINED, "combined, json or a format string"),
                )
            )
        return tuple(entries)

    def reverseConfig(self, data: Mapping[str, Any]) -> ReverseConfig:
        reverse = self.table(data, "reverse", schema.known("reverse"))
        read = [
            self.vhostConfig(vhost, f"reverse.vhost[{index}]")
            for index, vhost in enumerate(
                self.tables(reverse, "reverse.vhost", schema.known("reverse.vhost"), "reverse.vhost")
            )
        ]
        owners: dict[str, str] = {}
        unique: list[tuple[tuple[str, ...], tuple[RouteConfig, ...]]] = []
        for index, (hosts, routes) in enumerate(read):
            kept = []
            for position, host in enumerate(hosts):
                key = f"reverse.vhost[{index}].hosts[{position}]"
                owner = owners.setdefault(hostKey(host), key)
                if owner != key:
                    self.report(self.error(key, f"host {host!r} is already listed at {owner}"))
                else:
                    kept.append(host)
            unique.append((tuple(kept), routes))
        # Only what was read whole is built (the config classes would refuse
        # the rest again, without a line): the problems are noted above.
        vhosts = tuple(
            VhostConfig(hosts=hosts, routes=routes) for hosts, routes in unique if hosts and routes
        )
        default = self.get(reverse, "reverse.default", string, None, "a host name")
        if default is not None:
            problem = defaultHostProblem(vhosts, default)
            if problem is not None:
                if len(vhosts) == len(read):
                    self.report(self.error("reverse.default", problem))
                default = None
        return ReverseConfig(
            vhosts=vhosts,
            default=default,
            trustedProxies=self.items(
                reverse, "reverse.trusted_proxies", network,
                ("CIDR networks", "a CIDR network"), nonEmpty=False,
            ),
            forwardProxy=self.get(reverse, "reverse.forward_proxy", boolean, False, "true or false"),
            **self.dnsSettings(reverse),
        )

    def dnsSettings(self, reverse: Mapping[str, Any]) -> dict[str, Any]:
        """
        C{reverse.dns_servers}, C{dns_min_ttl} and C{dns_max_ttl}, as
        L{ReverseConfig} keywords (a maximum below the minimum is reported
        at C{dns_max_ttl}).
        """
        default = ReverseConfig()
        servers = self.items(
            reverse, "reverse.dns_servers", dnsServer, ("DNS servers", "a DNS server"), nonEmpty=False
        )
        low = self.get(reverse, "reverse.dns_min_ttl", seconds, default.dnsMinTtl, "a positive number")
        high = self.get(reverse, "reverse.dns_max_ttl", seconds, default.dnsMaxTtl, "a positive number")
        if high < low:
            self.report(self.error("reverse.dns_max_ttl", "must not be less than dns_min_ttl"))
            high = low
        return {"dnsServers": servers, "dnsMinTtl": low, "dnsMaxTtl": high}

    def vhostConfig(
        self, data: Mapping[str, Any], key: str
    ) -> tuple[tuple[str, ...], tuple[RouteConfig, ...]]:
        """
        The hosts and routes of a vhost: those that could be read (the
        problems with the others are noted).
        """
        hosts = self.items(data, f"{key}.hosts", parseHost, ("host names", "a host name"))
        read = [
            self.routeConfig(route, f"{key}.route[{index}]")
            for index, route in enumerate(
                self.tables(data, f"{key}.route", schema.known("reverse.vhost.route"), "reverse.vhost.route")
            )
        ]
        if not read:
            self.report(self.error(f"{key}.route", "expected at least one [[reverse.vhost.route]]"))
        prefixes: dict[str, int] = {}
        for index, route in enumerate(read):
            if route is None:
                continue
            first = prefixes.setdefault(route.prefix, index)
            if first != index:
                self.report(self.error(
                    f"{key}.route[{index}].prefix",
                    f"prefix {route.prefix!r} is already routed by {key}.route[{first}]",
                ))
        routes = tuple(
            route
            for index, route in enumerate(read)
            if route is not None and prefixes[route.prefix] == index
        )
        return hosts, routes

    def routeConfig(self, data: Mapping[str, Any], key: str) -> RouteConfig | None:
        """
        A route, or C{None} if none of its origins could be read (the
        problems are noted).
        """
        urls = self.items(data, f"{key}.origins", anything, ("origin URLs", "an origin URL"))
        origins = [
            self.collect(partial(self.originConfig, origin, f"{key}.origins[{index}]"), None)
            for index, origin in enumerate(urls)
        ]
        d = _DEFAULT_ROUTE
        healthCheck = None
        if "health_check" in data:
            healthCheck = self.healthCheckConfig(data, f"{key}.health_check")
        # Read every setting, so that each problem is noted, before giving
        # up on a route without usable origins.
        settings: dict[str, Any] = dict(
            prefix=self.get(data, f"{key}.prefix", routePrefix, d.prefix, "a path prefix starting with '/'"),
            balance=self.get(data, f"{key}.balance", choice(BALANCE_POLICIES), d.balance, " or ".join(BALANCE_POLICIES)),
            stripPrefix=self.get(data, f"{key}.strip_prefix", boolean, d.stripPrefix, "true or false"),
            hostHeader=self.get(data, f"{key}.host_header", choice(HOST_HEADER_MODES), d.hostHeader, " or ".join(HOST_HEADER_MODES)),
            xForwardedFor=self.get(data, f"{key}.x_forwarded_for", boolean, d.xForwardedFor, "true or false"),
            xForwardedProto=self.get(data, f"{key}.x_forwarded_proto", boolean, d.xForwardedProto, "true or false"),
            xForwardedHost=self.get(data, f"{key}.x_forwarded_host", boolean, d.xForwardedHost, "true or false"),
            forwarded=self.get(data, f"{key}.forwarded", boolean, d.forwarded, "true or false"),
            rewriteRedirects=self.get(data, f"{key}.rewrite_redirects", boolean, d.rewriteRedirects, "true or false"),
            retries=self.get(data, f"{key}.retries", _retries, d.retries, f"a whole number from 0 to {MAX_RETRIES}"),
            ejectFor=self.get(data, f"{key}.eject_for", seconds, d.ejectFor, "a positive number"),
            healthCheck=healthCheck,
            proxyProtocol=self.get(data, f"{key}.proxy_protocol", choice(PROXY_PROTOCOL_MODES), d.proxyProtocol, " or ".join(PROXY_PROTOCOL_MODES)),
        )
        if not origins or None in origins:
            return None
        return RouteConfig(
            origins=tuple(origin for origin in origins if origin is not None),
            **settings,
        )

    def originConfig(self, value: Any, key: str) -> OriginConfig:
        """
        An origin: a URL string, or an inline table C{{ url = ..., weight = N }}
        (with TLS settings for C{https} origins: C{ca_file}, C{client_cert},
        C{client_key}, C{server_name}, C{verify}).
        """
        if isinstance(value, dict):
            self.known(value, key, schema.known("reverse.vhost.route.origins"))
            if "url" not in value:
                raise self.error(f"{key}.url", "missing: expected an origin URL")
            url = self.convert(value["url"], f"{key}.url", checkOriginURL, "an origin URL")
            tlsKeys = [name for name in _TLS_KEYS if name in value]
            if tlsKeys and not url.startswith(("https:", "srv+https:")):
                raise self.error(f"{key}.{tlsKeys[0]}", "TLS settings need an https:// origin")
            if ("client_cert" in value) != ("client_key" in value):
                missing = "client_key" if "client_cert" in value else "client_cert"
                raise self.error(f"{key}.{missing}", "missing: client_cert and client_key go together")
            d = _DEFAULT_ORIGIN
            return OriginConfig(
                url=url,
                weight=self.get(value, f"{key}.weight", count1, 1, "a whole number >= 1"),
                caFile=self.get(value, f"{key}.ca_file", readableFile, d.caFile, "a file name"),
                clientCert=self.get(value, f"{key}.client_cert", readableFile, d.clientCert, "a file name"),
                clientKey=self.get(value, f"{key}.client_key", readableFile, d.clientKey, "a file name"),
                serverName=self.get(value, f"{key}.server_name", serverName, d.serverName, "a host name"),
                verify=self.get(value, f"{key}.verify", boolean, d.verify, "true or false"),
                proxyProtocol=self.get(value, f"{key}.proxy_protocol", choice(PROXY_PROTOCOL_MODES), d.proxyProtocol, " or ".join(PROXY_PROTOCOL_MODES)),
            )
        if isinstance(value, str):
            return OriginConfig(url=self.convert(value, key, checkOriginURL, "an origin URL"))
        raise self.error(key, f"expected an origin URL or {{ url = ..., weight = N }}, got {value!r}")

    def healthCheckConfig(self, data: Mapping[str, Any], key: str) -> HealthCheckConfig:
        check = self.table(data, key, schema.known("reverse.vhost.route.health_check"))
        d = HealthCheckConfig()
        return HealthCheckConfig(
            path=self.get(check, f"{key}.path", requestPath, d.path, "a path starting with '/'"),
            interval=self.get(check, f"{key}.interval", seconds, d.interval, "a positive number"),
            timeout=self.get(check, f"{key}.timeout", seconds, d.timeout, "a positive number"),
            rise=self.get(check, f"{key}.rise", count1, d.rise, "a whole number >= 1"),
            fall=self.get(check, f"{key}.fall", count1, d.fall, "a whole number >= 1"),
            host=self.get(check, f"{key}.host", authority, d.host, "a host name, optionally with :port"),
        )


_DEFAULT_ORIGIN = OriginConfig(url="http://origin.invalid")
"""Holds the defaults of an origin's settings."""

_DEFAULT_ROUTE = RouteConfig(origins=(_DEFAULT_ORIGIN,))
"""Holds the defaults of a route's settings."""

_TLS_KEYS = ("ca_file", "client_cert", "client_key", "server_name", "verify")


def _leaf(key: str) -> str:
    """
    The last name of a key path: C{"prefix"} for C{"reverse.vhost[0].route[1].prefix"}.
    """
    return key.rpartition(".")[2]



def readableFile(value: Any) -> str:
    """
    The name of a file that can be read now.
    """
    name = nonEmptyString(value)
    try:
        with open(name, "rb"):
            pass
    except OSError as e:
        raise Problem(f"cannot read {name!r}: {e.strerror}")
    return name
