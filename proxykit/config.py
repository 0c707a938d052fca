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


@attrs.frozen
class ProxyConfig:
    """
    Everything C{twistd proxykit forward} needs.

    @ivar listen: Twisted server endpoint strings.
    """

    listen: tuple[str, ...] = (DEFAULT_LISTEN,)
    forward: ForwardConfig = ForwardConfig()
    timeouts: Timeouts = Timeouts()
    pool: PoolConfig = PoolConfig()
    limits: LimitsConfig = LimitsConfig()

    @classmethod
    def fromFile(cls, path: str) -> ProxyConfig:
        """
        Read a TOML file.

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
        return cls.fromMapping(data, path, text)

    @classmethod
    def fromMapping(
        cls, data: Mapping[str, Any], source: str = "<config>", text: str = ""
    ) -> ProxyConfig:
        """
        Build from parsed TOML.

        @param source: Named in errors.
        @param text: The file's text, used to find the line of a bad key.
        """
        reader = _Reader(source, text)
        return reader.proxyConfig(data)


T = TypeVar("T")


class _Reader:
    """
    Turns a TOML document into config values, locating errors.
    """

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.locate(key), key, problem)

    def locate(self, key: str) -> int | None:
        """
        The line where C{key} (dotted path) is assigned, or its table starts.
        """
        *tables, last = key.split(".")
        table = ".".join(tables)
        current = ""
        for number, line in enumerate(self.lines, 1):
            stripped = line.strip()
            if stripped.startswith("["):
                current = stripped.strip("[]").strip()
                if current == key:
                    return number
                continue
            name = stripped.split("=", 1)[0].strip().strip('"')
            if "=" in stripped and current == table and name == last:
                return number
        return None

    def table(self, data: Mapping[str, Any], key: str, known: set[str]) -> Mapping[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, dict):
            raise self.error(key, "expected a table")
        for name in value:
            if name not in known:
                raise self.error(f"{key}.{name}", "unknown key")
        return value

    def get(
        self,
        data: Mapping[str, Any],
        key: str,
        convert: Callable[[Any], T],
        default: T,
        expected: str,
    ) -> T:
        name = key.rsplit(".", 1)[-1]
        if name not in data:
            return default
        value = data[name]
        try:
            return convert(value)
        except (TypeError, ValueError):
            raise self.error(key, f"expected {expected}, got {value!r}")

    def proxyConfig(self, data: Mapping[str, Any]) -> ProxyConfig:
        known = {"listen", "forward", "timeouts", "pool", "limits"}
        for name in data:
            if name not in known:
                raise self.error(name, "unknown key")
        listen = self.get(data, "listen", _stringList, ProxyConfig().listen, "a list of endpoint strings")
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
            timeouts=timeoutConfig,
            pool=poolConfig,
            limits=limitsConfig,
        )


def _stringList(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TypeError(value)
    return tuple(value)


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


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value or not all(
        c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in value
    ):
        raise ValueError(value)
    return value
