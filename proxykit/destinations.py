# -*- test-case-name: tests.test_destinations -*-
"""
Where the forward proxy may connect: host patterns, networks and ports,
checked before name resolution and again on every resolved address.

Checking the name alone is not enough: C{internal.example.com} may resolve
to C{10.0.0.5} and C{metadata.example.net} to C{169.254.169.254}.  So the
policy is applied twice: L{DestinationPolicy.checkName} when routing, and
L{DestinationPolicy.addressCheck} on each address the resolver returns,
before any connection is attempted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Final

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DestinationRefused(Exception):
    """
    Every address of the destination is forbidden by policy (403).
    """


def isSpecialAddress(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """
    Whether C{address} is loopback, private, link-local, unspecified,
    multicast or reserved: places a proxy reachable from elsewhere must not
    let its clients into by default (SSRF).
    """
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


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
    if not name or any(
        not label or not all(c.isalnum() or c == "-" for c in label) for label in labels
    ):
        raise ValueError(pattern)


class DestinationPolicy:
    """
    The forward proxy's destination rules.

    A destination is refused when its name matches a denied pattern, or an
    address it resolves to is in a denied network.  When an allow list is
    given, a destination must match it: by name (an allowed host pattern),
    or by address (an allowed network).  When C{strict}, addresses in
    loopback, private, link-local and similar ranges are refused too,
    unless an allowed network names them explicitly.

    @ivar strict: Refuse special-purpose addresses (the proxy is reachable
        from beyond this machine).
    """

    def __init__(
        self,
        allow: Iterable[str] = (),
        deny: Iterable[str] = (),
        allowPorts: Iterable[int] = (),
        strict: bool = False,
    ) -> None:
        """
        @param allow: Host patterns (C{example.com}, C{*.example.com}) and
            networks (C{10.0.0.0/8}, C{2001:db8::/32}); empty: any.
        @param deny: The same kinds of pattern, refused.
        @param allowPorts: Ports absolute-form requests may reach; empty:
            any.  (CONNECT has its own list.)
        @param strict: See L{strict}.
        """
        self._allowExact, self._allowSuffixes, self._allowNetworks = _split(allow)
        self._denyExact, self._denySuffixes, self._denyNetworks = _split(deny)
        self._hasAllow = bool(self._allowExact or self._allowSuffixes or self._allowNetworks)
        self._allowPorts = frozenset(allowPorts)
        self.strict = strict
        self._open = not (self._hasAllow or self._denyExact or self._denySuffixes or self._denyNetworks or strict)

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

        @param host: A lower-case name or an IP literal (no brackets).
        @return: Why the destination is refused, or C{None} to go on.
        """
        if self._open:
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if self._nameIn(host, self._denyExact, self._denySuffixes):
                return "destination denied"
            if (
                self._hasAllow
                and not self._allowNetworks
                and not self._nameIn(host, self._allowExact, self._allowSuffixes)
            ):
                return "destination not allowed"
            return None
        return None if self.addressAllowed(address, nameAllowed=False) else "destination address not allowed"

    def addressAllowed(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, nameAllowed: bool
    ) -> bool:
        """
        The check of one address (literal or resolved).

        @param nameAllowed: The destination's name matched an allowed host
            pattern.
        """
        if any(address in network for network in self._denyNetworks):
            return False
        explicitly = any(address in network for network in self._allowNetworks)
        if self._hasAllow and not (nameAllowed or explicitly):
            return False
        if self.strict and not explicitly and isSpecialAddress(address):
            return False
        return True

    def explicitlyAllowed(self, host: str) -> bool:
        """
        Whether the literal address C{host} lies in an allowed network (which
        lifts the rule against special-purpose addresses for it).
        """
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._allowNetworks)

    def addressCheck(self, host: str) -> Callable[[str], bool] | None:
        """
        The check to apply to each address C{host} resolves to, or C{None}
        when any address will do.
        """
        if self._open:
            return None
        nameAllowed = self._nameIn(host, self._allowExact, self._allowSuffixes)
        if nameAllowed and not self._denyNetworks and not self.strict:
            return None

        def check(text: str) -> bool:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError:
                return False
            return self.addressAllowed(address, nameAllowed)

        return check


OPEN: Final = DestinationPolicy()
"""No rules: every destination allowed."""
