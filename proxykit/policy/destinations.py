# -*- test-case-name: tests.test_destinations -*-
"""
Where the forward proxy may connect: host patterns, networks and ports,
checked before name resolution and again on every address connected to.

Checking the name alone is not enough: C{internal.example.com} may resolve
to C{10.0.0.5} and C{metadata.example.net} to C{169.254.169.254}; nor is
checking the spelling of a literal, since the system resolver reads
C{127.1}, C{2130706433} and C{0x7f000001} as C{127.0.0.1}.  So the policy
is applied twice: L{DestinationPolicy.checkName} when routing (names by
pattern, canonical literals by address), and L{DestinationPolicy.addressCheck}
on every socket address the connector is about to connect to, literal or
resolved, before any connection is attempted (see
L{proxykit.relay.endpoints.connect}).

One rule for literals and names: an address is judged the same way
whichever spelling or name produced it, and whatever address the client
reached the proxy on.  Whether special-purpose addresses are refused
(L{DestinationPolicy.strict}) is decided once for the whole proxy, from
what its listeners bind (see L{proxykit.policy.destinations.destinationsFor}).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import ClassVar, Final

from mypy_extensions import mypyc_attr
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress

from ..config.values import ProxyConfig
from ..h1 import Address, canonicalHost
from ..reactor import NamedLogger

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(Exception):
    """
    Every address of the destination is forbidden by policy (403).
    """


def judged(address: Address) -> Address:
    """
    The address C{address} reaches: the IPv4 address an IPv4-mapped IPv6
    address (C{::ffff:127.0.0.1}) maps, else C{address} itself.
    """
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return mapped
    return address


def isSpecialAddress(address: Address) -> bool:
    """
    Whether C{address} is loopback, private, link-local, unspecified,
    multicast or reserved: places a proxy reachable from elsewhere must not
    let its clients into by default (SSRF).  An IPv4-mapped address is
    judged as the IPv4 address it maps.
    """
    address = judged(address)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def isNeverDestination(address: Address) -> bool:
    """
    Whether C{address} is the unspecified address (C{0.0.0.0}, C{::}, or
    C{::ffff:0.0.0.0}): never a destination (RFC 1122 section 3.2.1.3,
    RFC 4291 section 2.5.2), yet connecting to it reaches this machine.
    """
    return judged(address).is_unspecified


def _inAny(address: Address, networks: tuple[IPNetwork, ...]) -> bool:
    """
    Whether C{address}, as written or as the IPv4 address it maps, is in
    one of C{networks}.
    """
    if not networks:
        return False
    plain = judged(address)
    return any(address in network or plain in network for network in networks)


def _split(patterns: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...], tuple[IPNetwork, ...]]:
    exact: set[str] = set()
    suffixes: list[str] = []
    networks: list[IPNetwork] = []
    for pattern in patterns:
        text = pattern.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if text.startswith("*."):
            suffixes.append(text[1:])
        else:
            exact.add(text)
    return frozenset(exact), tuple(suffixes), tuple(networks)


def isLoopbackHost(host: str) -> bool:
    """
    Whether C{host} (an IP literal, an IPv6 zone allowed, or a name) is
    this machine's loopback: a loopback address, or C{localhost}.
    """
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def reachesBeyondLoopback(address: IAddress) -> bool:
    """
    Whether a listener bound to C{address} may be reached from beyond this
    machine: an IP address that is unspecified (every interface) or not
    loopback.  UNIX sockets and other kinds of address may not.
    """
    if not isinstance(address, (IPv4Address, IPv6Address)):
        return False
    return not isLoopbackHost(address.host)


_NAME_CACHE_SIZE: Final = 1024
"""Hosts whose L{DestinationPolicy.checkName} answer is kept."""


@mypyc_attr(allow_interpreted_subclasses=True)
class DestinationPolicy:
    """
    The forward proxy's destination rules.

    A destination is refused when its name matches a denied pattern, or
    its address (the literal, or any address its name resolves to) is in a
    denied network.  When an allow list is given, a destination must match
    it: by name (an allowed host pattern), or by address (an allowed
    network).  When C{strict}, addresses in loopback, private, link-local
    and similar ranges are refused too, unless an allowed network names
    them explicitly.  The unspecified addresses (C{0.0.0.0}, C{::}) are
    always refused.

    Addresses are judged alike whether they were written as literals or
    resolved from names, and an IPv4-mapped IPv6 address as the IPv4
    address it maps.

    @ivar strict: Refuse special-purpose addresses (the proxy is reachable
        from beyond this machine: see
        L{proxykit.policy.destinations.destinationsFor}).
    @ivar followsListeners: Become L{strict} as soon as the proxy is found
        listening beyond loopback (see L{listenerAt}).
    """

    _log: ClassVar[NamedLogger] = NamedLogger("proxykit.destinations.DestinationPolicy")

    def __init__(
        self,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        allowPorts: Iterable[int] = (),
        strict: bool = False,
        followsListeners: bool = False,
    ) -> None:
        """
        @param allow: Host patterns (C{example.com}, C{*.example.com}) and
            networks (C{10.0.0.0/8}, C{2001:db8::/32}); empty: any.
        @param deny: The same kinds of pattern, refused.
        @param allowPorts: Ports absolute-form requests may reach; empty:
            any.  (CONNECT has its own list.)
        @param strict: See L{strict}.
        @param followsListeners: See L{followsListeners}.
        """
        self.followsListeners = followsListeners
        self._allowExact, self._allowSuffixes, self._allowNetworks = _split(allow)
        self._denyExact, self._denySuffixes, self._denyNetworks = _split(deny)
        self._hasAllow = bool(self._allowExact or self._allowSuffixes or self._allowNetworks)
        self._allowPorts = frozenset(allowPorts)
        self.strict = strict
        self._open = not (self._hasAllow or self._denyExact or self._denySuffixes or self._denyNetworks or strict)
        # checkName's answers: a policy changes at most once (listenerAt),
        # and a proxy names the same few hosts again and again (parsing a
        # literal costs more than the rest of routing a request).
        self._names: dict[str, str | None] = {}

    def listenerAt(self, address: IAddress) -> None:
        """
        One of the proxy's listeners is bound to C{address}.  A policy that
        L{followsListeners} becomes L{strict} when that is beyond loopback
        (an unspecified or non-loopback IP address), so that a proxy built
        without knowing its endpoints (an application listening with it on
        any endpoint) gets the rule C{twistd proxykit} applies when told
        them; it never becomes lax again.
        """
        if self.strict or not self.followsListeners or not reachesBeyondLoopback(address):
            return
        self.strict = True
        self._open = False
        self._names.clear()
        self._log.info(
            "listening beyond loopback on {address}: loopback, private and link-local"
            " destinations are refused from now on",
            address=str(address),
        )

    @staticmethod
    def _nameIn(name: str, exact: frozenset[str], suffixes: tuple[str, ...]) -> bool:
        if name in exact:
            return True
        return any(name.endswith(suffix) and len(name) > len(suffix) for suffix in suffixes)

    def checkPort(self, port: int) -> bool:
        """
        Whether absolute-form requests may reach C{port}.
        """
        return not self._allowPorts or port in self._allowPorts

    def checkName(self, host: str) -> str | None:
        """
        The check before resolution.

        A name is checked against the host patterns; an IP literal is
        judged by L{addressAllowed}, exactly as an address a name resolves
        to is.

        @param host: A name or an IP literal (no brackets), canonical as
            L{proxykit.config.checks.canonicalHost} makes it; anything that is
            not is refused.
        @return: Why the destination is refused, or C{None} to go on.
        """
        names = self._names
        try:
            return names[host]
        except KeyError:
            pass
        why = self._checkName(host)
        if len(names) >= _NAME_CACHE_SIZE:
            names.clear()
        names[host] = why
        return why

    def _checkName(self, host: str) -> str | None:
        try:
            host, address = canonicalHost(host)
        except ValueError:
            return "destination host malformed"
        if address is not None:
            if self.addressAllowed(address, nameAllowed=False):
                return None
            return "destination address not allowed"
        if self._open:
            return None
        if self._nameIn(host, self._denyExact, self._denySuffixes):
            return "destination denied"
        if (
            self._hasAllow
            and not self._allowNetworks
            and not self._nameIn(host, self._allowExact, self._allowSuffixes)
        ):
            return "destination not allowed"
        return None

    def addressAllowed(self, address: Address, nameAllowed: bool) -> bool:
        """
        The check of one address (literal or resolved), whatever spelling
        produced it.  An IPv4-mapped address is judged as the IPv4 address
        it maps; the unspecified addresses are never allowed.

        @param nameAllowed: The destination's name matched an allowed host
            pattern.
        """
        if isNeverDestination(address):
            return False
        if self._open:
            return True
        if _inAny(address, self._denyNetworks):
            return False
        explicitly = _inAny(address, self._allowNetworks)
        if self._hasAllow and not (nameAllowed or explicitly):
            return False
        if self.strict and not explicitly and isSpecialAddress(address):
            return False
        return True

    def addressCheck(self, host: str) -> Callable[[str], bool]:
        """
        The check to apply to each socket address the connector is about to
        connect to for the destination C{host}: the address C{host} is, or
        each address it resolves to.

        @param host: The destination as the client named it (its name
            decides whether the allowed host patterns apply).
        @return: A function of an address in text (as a transport reports
            it, an IPv6 zone allowed) that says whether it may be connected
            to; anything that is not an IP address may not.
        """
        nameAllowed = self._nameIn(host.lower().rstrip("."), self._allowExact, self._allowSuffixes)

        def check(text: str) -> bool:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                return False
            return self.addressAllowed(address, nameAllowed)

        return check


OPEN: Final = DestinationPolicy()
"""
No rules: every destination allowed, except the unspecified addresses,
which are never destinations (see L{isNeverDestination}).
"""


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
        if not isLoopbackHost(interface):
            return True
    return False


def destinationsFor(config: ProxyConfig) -> DestinationPolicy:
    """
    The proxy's destination policy: C{config}'s deny and allow lists and
    allowed ports, and, when the proxy listens beyond loopback (see
    L{listensBeyondLoopback}) and C{forward.allow_private_destinations} is
    off, no loopback, private, link-local or other special-purpose
    addresses.

    One rule for literals and names: the router applies it to literal
    destinations, and the connector to every address it connects to,
    literal or resolved.  Whether special-purpose addresses are refused
    depends on what the proxy's listeners bind, never on the address a
    client reached it on: with one listener beyond loopback, a client on
    the loopback listener is refused them too.  The listeners are
    C{config.listen} (and C{config.tls}'s) and any other the proxy's
    connections turn out to arrive on (an application may listen with the
    factory on endpoints C{config} does not name): the policy
    L{follows<DestinationPolicy.followsListeners>} them.
    """
    forward = config.forward
    listen = config.listen + (config.tls.endpoints if config.tls is not None else ())
    strict = not forward.allowPrivateDestinations and listensBeyondLoopback(listen)
    return DestinationPolicy(
        forward.allowDestinations,
        forward.denyDestinations,
        forward.allowPorts,
        strict,
        followsListeners=not forward.allowPrivateDestinations,
    )
