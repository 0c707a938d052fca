# -*- test-case-name: tests.test_h1_target -*-
"""
Request-targets, authorities and hosts (RFC 9112 section 3.2, RFC 3986
section 3.2): the one place that parses them, for routers, virtual hosts,
TLS listeners and configuration alike.

A request-target comes in one of four forms (L{TargetForm}); the parser
sets the form on each L{proxykit.h1.Request} (an asterisk followed by
anything else is refused there).  An authority is a host and a port
(L{parseAuthority}); a host is a name or an IP literal in one canonical
spelling (L{canonicalHost}).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from mypy_extensions import mypyc_attr


@mypyc_attr(allow_interpreted_subclasses=True)
class TargetForm:
    """
    The form of a request-target (RFC 9112 section 3.2).

    @cvar ORIGIN: C{/path?query}: a request to the origin itself.
    @cvar ABSOLUTE: C{scheme://authority/path}: a request to a proxy (or
        any server, which must accept it).
    @cvar AUTHORITY: C{host:port}, the target of CONNECT.
    @cvar ASTERISK: C{*}, the target of a server-wide OPTIONS.
    """

    ORIGIN: Final = 0
    ABSOLUTE: Final = 1
    AUTHORITY: Final = 2
    ASTERISK: Final = 3


PROXY_FORMS: Final = frozenset({TargetForm.ABSOLUTE, TargetForm.AUTHORITY})
"""The forms that make a request a forward-proxy request."""


def targetForm(method: bytes, target: bytes) -> int:
    """
    The L{TargetForm} of C{target} for C{method}, judged by its shape: the
    parts are checked by whoever reads them (L{parseAuthority},
    L{splitAbsolute}).  CONNECT's target is always authority-form.
    """
    if method == b"CONNECT":
        return TargetForm.AUTHORITY
    first = target[:1]
    if first == b"/":
        return TargetForm.ORIGIN
    if first == b"*":
        return TargetForm.ASTERISK
    return TargetForm.ABSOLUTE


Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_HEX_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]*\Z")


def endsInNumber(host: str) -> bool:
    """
    Whether C{host} (a name or IPv4 literal, one trailing dot allowed) has a
    number for its last label: decimal digits, or C{0x} and hexadecimal
    digits.  The WHATWG URL Standard ("ends in a number") parses such a
    host as an IPv4 address, as C{inet_aton} and so C{getaddrinfo} do.
    """
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return _HEX_NUMBER.match(last) is not None


def canonicalHost(host: str) -> tuple[str, Address | None]:
    """
    Classify a host as a client names it (the authority of an absolute-form
    target, a CONNECT target, a C{Host} field, a configured origin): the one
    rule for every place a host comes from.

      - An IPv6 literal (with or without brackets) is an address.  A zone
        (C{fe80::1%eth0}) is refused: it is no address of this host's
        network for a client to name.  An IPv4-mapped address
        (C{::ffff:127.0.0.1}) stays as written; the destination policy
        judges it as the IPv4 address it maps (see
        L{proxykit.policy.destinations.judged}).
      - A host whose last label is a number (L{endsInNumber}) is an IPv4
        address and must be written in the canonical form: four decimal
        numbers 0 to 255 without leading zeros.  The other spellings the
        system resolver and browsers accept for the same address
        (C{127.1}, C{2130706433}, C{0x7f000001}, C{0177.0.0.1},
        C{127.000.000.001}) and hosts such as C{example.123} are refused:
        browsers and curl send the canonical form, so only a crafted request
        uses another, and refusing it leaves nothing for two parsers to
        read differently.
      - Anything else is a name.  An empty label, C{%} (percent-encoding)
        and non-ASCII are refused.

    One trailing dot is removed (C{127.0.0.1.} is C{127.0.0.1},
    C{localhost.} is C{localhost}); names are lower-cased.

    @param host: The host, without port.
    @return: The canonical text (IPv4 dotted decimal, IPv6 compressed, a
        name lower-cased without trailing dot) and the address for an IP
        literal, else C{None}.
    @raise ValueError: The host is none of these (a request naming it is
        malformed: 400).
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            raise ValueError("expected an IPv6 address in brackets")
    if ":" in host:
        if "%" in host:
            raise ValueError("IPv6 zone in a host")
        try:
            v6 = ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("bad IPv6 address") from None
        return v6.compressed, v6
    if not host.isascii():
        raise ValueError("non-ASCII host")
    if host.endswith("."):
        host = host[:-1]
    if not host or "" in host.split(".") or "%" in host:
        raise ValueError("bad host name")
    if endsInNumber(host):
        try:
            v4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError("IPv4 address not in dotted-decimal form") from None
        return str(v4), v4
    return host.lower(), None


_REG_NAME: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+\Z")
_PORT: Final = re.compile(r"[0-9]{1,5}\Z")


def parseAuthority(authority: bytes, defaultPort: int | None) -> tuple[str, int]:
    """
    Split an C{authority} (RFC 3986 section 3.2) into host and port.

    The host must be one L{canonicalHost} accepts, and is
    returned in its canonical form: an IPv4 address spelled other than in
    dotted decimal (C{127.1}, C{2130706433}, C{0x7f000001}) is malformed,
    one trailing dot is dropped.

    @param authority: C{host[:port]}, C{[v6]:port}; no userinfo.
    @param defaultPort: The port when none is given, or C{None} if a port is
        required (CONNECT, RFC 9110 section 9.3.6).
    @return: C{(host, port)}; an IPv6 host comes without brackets,
        compressed; a name is lower-cased.
    @raise ValueError: Malformed, with userinfo, or port out of range.
    """
    try:
        text = authority.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("non-ASCII authority")
    if "@" in text:
        raise ValueError("userinfo in authority")
    port = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 literal")
        host = text[: end + 1]
        rest = text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError("junk after IPv6 literal")
            port = rest[1:]
    else:
        host, sep, port = text.partition(":")
        if not host or not _REG_NAME.match(host):
            raise ValueError("bad host")
    host = canonicalHost(host)[0]
    if port:
        if not _PORT.match(port):
            raise ValueError("bad port")
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError("port out of range")
        return host, number
    if defaultPort is None:
        raise ValueError("port required")
    return host, defaultPort


def splitAbsolute(target: bytes) -> tuple[bytes, bytes, bytes] | None:
    """
    Split an absolute-form request-target (RFC 9112 section 3.2.2) into
    lower-cased scheme, authority and origin-form path (C{/} when empty; a
    bare query gets its C{/}).

    @return: The three parts, or C{None} if C{target} has no C{://}.
    """
    scheme, sep, rest = target.partition(b"://")
    if not sep:
        return None
    cut = len(rest)
    for delimiter in (b"/", b"?"):
        index = rest.find(delimiter)
        if 0 <= index < cut:
            cut = index
    path = rest[cut:]
    if not path:
        path = b"/"
    elif path[:1] == b"?":
        path = b"/" + path
    return scheme.lower(), rest[:cut], path
