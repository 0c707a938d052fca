# -*- test-case-name: tests.test_config -*-
"""
Checks of single configuration values: host names, origin URLs, ports,
networks, durations, counts.  Pure functions, no I/O.

Each takes a value from TOML or the command line and returns it (or its
converted form), or raises C{TypeError} or C{ValueError}; a L{Problem} says
what is wrong in words that can follow a key path, otherwise
L{proxykit.config.reader.ConfigReader} says what was expected.
L{proxykit.config} re-exports the public ones.  L{valid} and L{validItems}
make attrs validators of them, so that the config classes check values
built in Python with the reader's words.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..decisions import parseParent
from ..h1 import canonicalHost, endsInNumber

if TYPE_CHECKING:
    from .values import ProxyConfig, VhostConfig


class ConfigError(ValueError):
    """
    A configuration value is missing, malformed or out of range.

    One error may stand for several found in one reading (see L{several}):
    its own attributes are the first one's, L{errors} holds them all, and
    C{str()} gives one line per error.

    Raised by L{ProxyConfig.fromFile} (naming the file, line and key), and
    by the config classes themselves when a value built in Python is bad:
    then C{source} is the class and C{key} the field (C{OriginConfig: url:
    expected https://host[:port], ...}), with the words the file reader
    uses for the same value.

    @ivar source: The file name (or C{"<command line>"}).
    @ivar line: The 1-based line of the key, or C{None} if unknown.
    @ivar key: The dotted key path, e.g. C{"timeouts.connect"}.
    @ivar problem: What is wrong, in words.
    @ivar errors: Every error this one reports, this one first; C{(self,)}
        for a single error.
    """

    def __init__(self, source: str, line: int | None, key: str, problem: str) -> None:
        super().__init__(source, line, key, problem)
        self.source = source
        self.line = line
        self.key = key
        self.problem = problem
        self.errors: tuple[ConfigError, ...] = (self,)

    @classmethod
    def several(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """
        One error reporting all of C{errors}, in the order given (the
        order they were found in).

        @param errors: At least one error.
        """
        first = errors[0]
        combined = cls(first.source, first.line, first.key, first.problem)
        combined.errors = (combined, *errors[1:])
        return combined

    def __str__(self) -> str:
        return "\n".join(error._located() for error in self.errors)

    def _located(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.key}: {self.problem}" if self.key else f"{where}: {self.problem}"


MAX_RETRIES = 10
"""The most L{proxykit.config.RouteConfig.retries} a route may have."""


def checkPattern(pattern: str) -> None:
    """
    Validate one destination pattern: a host name, C{*.suffix}, an IP
    address or a CIDR network.

    @raise ValueError: It is none of these.
    """
    text = pattern.strip().lower().rstrip(".")
    try:
        ipaddress.ip_network(text.strip("[]"), strict=False)
        return
    except ValueError:
        pass
    name = text[2:] if text.startswith("*.") else text
    labels = name.split(".")
    if name and endsInNumber(name):
        # Not an address (see above) but spelled as a number: it would
        # never match, since such hosts are refused (canonicalHost).
        raise ValueError(pattern)
    if not name or any(
        not label or not all(c.isalnum() or c == "-" for c in label) for label in labels
    ):
        raise ValueError(pattern)


class Problem(ValueError):
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
        raise Problem(f"expected a host name, got {value!r}")
    if "://" in value or value.lower().startswith(("http:", "https:", "unix:")):
        raise Problem(f"expected a host name without a scheme, got {value!r}")
    if value.startswith("["):
        if value.endswith("]") and _isIPv6(value[1:-1]):
            return value
        if re.fullmatch(r"\[[^\]]*\]:\d*", value):
            raise Problem(f"expected a host name without a port, got {value!r}")
        raise Problem(f"expected an IPv6 literal in brackets, got {value!r}")
    if value.count(":") > 1:
        if _isIPv6(value):
            return value
        raise Problem(f"expected an IPv6 literal, got {value!r}")
    if ":" in value:
        raise Problem(f"expected a host name without a port, got {value!r}")
    name = value[:-1] if value.endswith(".") else value
    wildcard = name.startswith("*.")
    if wildcard:
        name = name[2:]
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Problem(
            f"expected a host name, *.wildcard or IP literal, got {value!r}"
        )
    if endsInNumber(name):
        # One rule with the hosts clients name (see canonicalHost): a name
        # whose last label is a number is an IPv4 address, in its one
        # canonical spelling.
        try:
            canonicalHost(name)
        except ValueError:
            raise Problem(f"expected a valid IPv4 address, got {value!r}")
        if wildcard:
            raise Problem(f"an IP address cannot be a wildcard, got {value!r}")
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
    Check an origin URL: C{http://host[:port]} or C{https://host[:port]}
    (an optional trailing C{/}, IPv6 in brackets) or C{unix:/absolute/path}.

    @return: C{value} unchanged.
    @raise ValueError: Anything else; C{str()} of it says what is wrong.
    """
    expected = f"expected https://host[:port], http://host[:port] or unix:/absolute/path, got {value!r}"
    if not isinstance(value, str):
        raise Problem(expected)
    if value.startswith(("srv+http://", "srv+https://")):
        srvName = value.split("://", 1)[1].rstrip("/")
        if not isSrvName(srvName):
            raise Problem(
                "expected srv+http://_service._proto.name or srv+https://_service._proto.name"
                f" (an SRV record name, no port), got {value!r}"
            )
        return value
    if value.startswith("unix:"):
        path = value[len("unix:") :]
        if not path.startswith("/") or path.startswith("//") or len(path) < 2:
            raise Problem(expected)
        if "\0" in path:
            raise Problem(f"a socket path cannot contain NUL, got {value!r}")
        return value
    found = re.fullmatch(r"https?://(\[[^\]/]*\]|[^\[\]:/]*)(?::([^/]*))?/?", value)
    if found is None:
        raise Problem(expected)
    host, port = found.groups()
    try:
        if host.startswith("*"):
            raise ValueError(host)
        parseHost(host)
        if port is not None:
            parsePort(port)
    except ValueError:
        raise Problem(expected)
    return value


_DNS_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def isSrvName(name: str) -> bool:
    """
    Whether C{name} is a DNS name that may hold SRV records
    (C{_service._proto.example.test}): dot-separated labels of letters,
    digits, C{-} and C{_}, at least three, the first two starting with C{_}.
    """
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or len(labels) < 3:
        return False
    if not (labels[0].startswith("_") and labels[1].startswith("_")):
        return False
    return all(_DNS_LABEL.fullmatch(label) for label in labels)


def dnsServer(value: Any) -> str:
    """
    A DNS server to ask: C{"address"} or C{"address:port"} (port 53 by
    default), the address an IPv4 literal or an IPv6 literal in brackets
    (C{"[::1]:5353"}): a name would itself need resolving.

    @return: C{value} unchanged (see L{parseDnsServer}).
    @raise ValueError: Anything else.
    """
    try:
        parseDnsServer(value)
    except ValueError:
        raise Problem(
            f"expected an IP address with an optional port (127.0.0.1:5353, [::1]:53), got {value!r}"
        )
    return value  # type: ignore[no-any-return]


def parseDnsServer(value: Any) -> tuple[str, int]:
    """
    The address and port a L{dnsServer} value names.

    @raise ValueError: Not such a value.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(value)
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or not _isIPv6(host):
            raise ValueError(value)
        if not rest:
            return host, 53
        if not rest.startswith(":"):
            raise ValueError(value)
        return host, parsePort(rest[1:])
    host, sep, port = value.partition(":")
    try:
        if ipaddress.ip_address(host).version != 4:
            raise ValueError(value)
    except ValueError:
        raise ValueError(value)
    return host, parsePort(port) if sep else 53


def defaultHostProblem(vhosts: tuple[VhostConfig, ...], default: str) -> str | None:
    """
    Why C{default} cannot be L{proxykit.config.ReverseConfig.default} given
    C{vhosts}, or C{None} if it can: it must be an exact host (not a
    wildcard) of one of them.
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



def stringList(value: Any) -> tuple[str, ...]:
    """
    A list of non-empty strings (the list may be empty), as a tuple.
    """
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TypeError(value)
    return tuple(value)


def anything(value: Any) -> Any:
    """
    Any value, unchecked (its elements are checked on their own).
    """
    return value


def string(value: Any) -> str:
    """
    A non-empty string.
    """
    if not isinstance(value, str) or not value:
        raise TypeError(value)
    return value


def boolean(value: Any) -> bool:
    """
    C{true} or C{false}.
    """
    if not isinstance(value, bool):
        raise TypeError(value)
    return value


def seconds(value: Any) -> float:
    """
    A positive number of seconds, as a float.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(value)
    return float(value)


def seconds0(value: Any) -> float:
    """
    A number of seconds, zero or more, as a float.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(value)
    return float(value)


def count0(value: Any) -> int:
    """
    A whole number >= 0 (not a boolean).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def count1(value: Any) -> int:
    """
    A whole number >= 1 (not a boolean).
    """
    if count0(value) < 1:
        raise ValueError(value)
    return int(value)


WORKERS_EXPECTED = 'a whole number >= 1 or "auto"'
"""What a good C{workers} value is, in words."""


def workerCount(value: Any) -> int:
    """
    A number of worker processes: a whole number >= 1, or C{"auto"} (the
    number of CPUs this process may run on).
    """
    if value == "auto":
        return cpuCount()
    return count1(value)


def cpuCount() -> int:
    """
    The number of CPUs this process may run on (what C{workers = "auto"}
    starts).
    """
    import os

    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return max(1, len(affinity(0)))
    return max(1, os.cpu_count() or 1)


def choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    """
    A check that accepts only one of C{choices}.
    """
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(value)
        return str(value)

    return convert


def routePrefix(value: Any) -> str:
    """
    A route prefix: an absolute path without query, fragment, spaces or
    control characters.
    """
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(value)
    if not value.isascii() or not value.isprintable() or any(c in value for c in " ?#"):
        raise ValueError(value)
    return value


def requestPath(value: Any) -> str:
    """
    A health-check path: an absolute path, optionally with a query.
    """
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(value)
    if not value.isascii() or not value.isprintable() or any(c in value for c in " #"):
        raise ValueError(value)
    return value


def authority(value: Any) -> str:
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


LISTEN_EXAMPLE = "tcp:8080:interface=127.0.0.1"
"""An endpoint string quoted in errors about others."""

_ENDPOINT_TYPES = "tcp:, tcp6:, unix:, ssl:, haproxy:, systemd:"


def listenEndpoint(value: Any) -> str:
    """
    A Twisted server endpoint string (C{tcp:8080:interface=127.0.0.1},
    C{unix:/run/proxy.sock}, C{haproxy:tcp:8080}...), checked by parsing it
    as the proxy will when it listens, without listening (an C{ssl:}
    endpoint's certificate files are read).

    @return: C{value} unchanged.
    @raise Problem: It is not one; C{str()} says why, quoting it.
    """
    problem = listenProblem(value)
    if problem is not None:
        raise Problem(problem)
    return str(value)


def adminEndpoint(value: Any) -> str:
    """
    The admin listener's endpoint string: a server endpoint string (see
    L{listenEndpoint}) where a C{tcp:PORT} without C{interface=} binds
    127.0.0.1, not every interface.

    @return: C{value}, with C{:interface=127.0.0.1} added to a C{tcp:}
        endpoint that names no interface.
    @raise Problem: It is not an endpoint string.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        raise Problem(
            f"{value!r} is a port number, not an endpoint: write tcp:{value}"
            f" (127.0.0.1 only) or tcp:{value}:interface=0.0.0.0 (every interface)"
        )
    description = listenEndpoint(value)
    if description.startswith("tcp:") and "interface=" not in description:
        description += ":interface=127.0.0.1"
    return description


def listenProblem(value: object) -> str | None:
    """
    What is wrong with C{value} as a server endpoint string (see
    L{listenEndpoint}), or C{None} if nothing is.
    """
    if not isinstance(value, str) or not value:
        return f"expected an endpoint string such as {LISTEN_EXAMPLE}, got {value!r}"
    if value.isascii() and value.isdigit():
        return (
            f"{value!r} is a port number, not an endpoint: write "
            f"tcp:{value}:interface=127.0.0.1 (this machine only) or tcp:{value} "
            "(every interface)"
        )
    # Twisted reads TCP ports (and backlogs) with int(), which accepts
    # "+80", " 80" and "8_0", and does not check the range.
    inner = value
    while inner.lower().startswith("haproxy:"):
        inner = inner[len("haproxy:") :]
    fields = re.split(r"(?<!\\):", inner)
    if fields[0] in ("tcp", "tcp6", "ssl"):
        ports = [f[len("port=") :] for f in fields[1:] if f.startswith("port=")]
        ports += [f for f in fields[1:2] if "=" not in f]
        for port in ports[:1] or [""]:
            if not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
                return f"invalid endpoint {value!r}: expected a port from 0 to 65535, got {port!r}"
    from twisted.internet.endpoints import serverFromString
    from twisted.internet.testing import MemoryReactor

    try:
        serverFromString(MemoryReactor(), value)  # type: ignore[no-untyped-call]
    except Exception as e:
        return f"invalid endpoint {value!r}: {_endpointProblem(e, fields[0])}"
    return None


def _endpointProblem(e: Exception, kind: str) -> str:
    """
    What C{serverFromString}'s exception C{e} means, in words.

    @param kind: The endpoint type the string names (its prefix).
    """
    message = str(e)
    if kind == "systemd" and isinstance(e, (IndexError, KeyError)):
        # Twisted looks the socket up in LISTEN_FDS and LISTEN_FDNAMES,
        # which only a socket unit (or systemd-socket-activate) sets.
        return (
            "no such socket inherited from systemd: start proxykit from a"
            " socket unit (or systemd-socket-activate), which passes it"
        )
    if message.startswith("Unknown endpoint type:"):
        return (
            f"unknown endpoint type {kind!r} (expected {_ENDPOINT_TYPES} "
            f"as in {LISTEN_EXAMPLE})"
        )
    keyword = re.search(r"unexpected keyword argument '(.*)'", message)
    if keyword is not None:
        return f"unknown parameter {keyword.group(1)!r}"
    number = re.fullmatch(r"invalid literal for int\(\) with base \d+: (.*)", message)
    if number is not None:
        return f"expected a number, got {number.group(1)}"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot read {e.filename!r}: {e.strerror}" if e.filename else e.strerror
    return message or type(e).__name__


def portSet(value: Any) -> frozenset[int]:
    """
    A list of ports (see L{parsePort}), as a set.
    """
    if not isinstance(value, list):
        raise TypeError(value)
    return frozenset(parsePort(v) for v in value)


def networkList(value: Any) -> tuple[str, ...]:
    """
    A list of CIDR networks, unchanged.
    """
    networks = stringList(value)
    for network in networks:
        ipaddress.ip_network(network, strict=False)
    return networks


def network(value: Any) -> str:
    """
    A CIDR network, unchanged.
    """
    if not isinstance(value, str):
        raise TypeError(value)
    ipaddress.ip_network(value, strict=False)
    return value


def token(value: Any) -> str:
    """
    An RFC 9110 C{token} (the pseudonym in C{Via}).
    """
    if not isinstance(value, str) or not value or not all(
        c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in value
    ):
        raise ValueError(value)
    return value


class AddressSet:
    """
    Networks, and whether an address a transport reports is in one of them,
    with the answers for up to L{CACHE_SIZE} addresses kept (a connection's
    address is asked about on every request).
    """

    CACHE_SIZE = 1024

    def __init__(self, networks: Iterable[str]) -> None:
        """
        @param networks: CIDR networks (C{"10.0.0.0/8"}); host bits allowed.
        """
        self._networks = [ipaddress.ip_network(net, strict=False) for net in networks]
        self._cache: dict[str, bool] = {}

    def __contains__(self, host: str) -> bool:
        """
        Whether C{host}, an IP address in text, is in one of the networks;
        anything else is not.
        """
        found = self._cache.get(host)
        if found is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                found = False
            else:
                found = any(address in net for net in self._networks)
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[host] = found
        return found


def nonEmptyString(value: Any) -> str:
    """
    A non-empty string without control characters.
    """
    if not isinstance(value, str) or not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(value)
    return value

def serverName(value: Any) -> str:
    """
    A host name or IP literal to verify in a certificate and send as SNI.
    """
    if not isinstance(value, str) or value.startswith("*"):
        raise ValueError(value)
    parseHost(value)
    name = value.lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name

def destinationList(value: Any) -> tuple[str, ...]:
    """
    Destination patterns: host names, C{*.suffix} wildcards, addresses and
    CIDR networks.
    """

    patterns = stringList(value)
    for pattern in patterns:
        checkPattern(pattern)
    return patterns

def parentURL(value: Any) -> str:
    """
    A parent proxy URL, C{http://[user:password@]host[:port]}.
    """
    if not isinstance(value, str):
        raise TypeError(value)

    parseParent(value)
    return value

def retries(value: Any) -> int:
    """
    A whole number from 0 to L{proxykit.config.MAX_RETRIES}.
    """

    if count0(value) > MAX_RETRIES:
        raise ValueError(value)
    return int(value)


# The same checks on values built in Python (attrs validators of the config
# classes), with the same words as the reader.


def checked(value: Any, check: Callable[[Any], Any], expected: str) -> Any:
    """
    C{check(value)}, any failure a L{Problem} in the words the reader uses
    after a key path: the check's own, or C{expected ..., got ...}.

    @param expected: What a good value is, in words (C{"a positive number"}).
    @raise Problem: C{value} fails C{check}.
    """
    try:
        return check(value)
    except Problem:
        raise
    except (TypeError, ValueError):
        raise Problem(f"expected {expected}, got {value!r}") from None


def asTOML(value: Any) -> Any:
    """
    C{value} as TOML would have held it, so that a value built in Python is
    checked (and quoted) as the same value read from a file: tuples and sets
    as lists.
    """
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    return value


def fieldError(instance: object, key: str, problem: str) -> Exception:
    """
    The error for a bad value of C{instance}'s field C{key}: a
    L{proxykit.config.ConfigError} whose source is the class's name.
    """

    return ConfigError(type(instance).__name__, None, key, problem)


def valid(
    check: Callable[[Any], Any], expected: str, optional: bool = False
) -> Callable[[Any, Any, Any], None]:
    """
    An attrs validator that applies C{check} to a field's value as the
    reader applies it to the same key's value.

    @param optional: C{None} is allowed (the field is unset).
    @return: The validator; its C{expected} attribute is C{expected} (the
        configuration reference shows it as the key's type).
    @raise proxykit.config.ConfigError: From the validator: naming the
        field, with the reader's words (see L{checked}).
    """

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        if optional and value is None:
            return
        try:
            checked(asTOML(value), check, expected)
        except Problem as e:
            raise fieldError(instance, attribute.name, str(e)) from None

    validate.expected = expected  # type: ignore[attr-defined]
    return validate


def validItems(
    check: Callable[[Any], Any], expected: tuple[str, str], nonEmpty: bool = True
) -> Callable[[Any, Any, Any], None]:
    """
    An attrs validator for a list whose elements the reader checks one by
    one (C{hosts}, C{trusted_proxies}): each element with C{check}, a bad
    one named by its index (C{hosts[1]}).

    @param expected: What the list holds, in the plural and for one element.
    @param nonEmpty: Whether an empty list is an error.
    @return: The validator; its C{expected} attribute says what the list
        holds, in words (C{"a non-empty list of host names"}).
    """

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        form = asTOML(value)
        if not nonEmpty and form == []:
            return
        if not isinstance(form, list) or not form:
            raise fieldError(
                instance,
                attribute.name,
                f"expected a non-empty list of {expected[0]}, got {form!r}",
            )
        for index, element in enumerate(form):
            try:
                checked(element, check, expected[1])
            except Problem as e:
                raise fieldError(instance, f"{attribute.name}[{index}]", str(e)) from None

    validate.expected = f"a {'non-empty ' if nonEmpty else ''}list of {expected[0]}"  # type: ignore[attr-defined]
    return validate


def logFileProblems(config: ProxyConfig) -> list[tuple[str, str]]:
    """
    Why the access log files of C{config} could not be opened for appending,
    by key (C{log.access}, C{log.listener[N].access}), found without opening
    or creating them.
    """
    files = [("log.access", config.log.access)]
    files += [
        (f"log.listener[{index}].access", entry.access)
        for index, entry in enumerate(config.log.listeners)
    ]
    problems: list[tuple[str, str]] = []
    for key, name in files:
        if name is None or name == "-":
            continue
        if os.path.isdir(name):
            problems.append((key, f"{name}: is a directory"))
        elif os.path.exists(name):
            if not os.access(name, os.W_OK):
                problems.append((key, f"{name}: not writable"))
        else:
            directory = os.path.dirname(os.path.abspath(name))
            if not os.path.isdir(directory):
                problems.append((key, f"{name}: no directory {directory}"))
            elif not os.access(directory, os.W_OK | os.X_OK):
                problems.append((key, f"{name}: cannot be created in {directory}"))
    return problems
