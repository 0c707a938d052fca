# -*- test-case-name: tests.test_forwarded -*-
"""
Reverse-proxy header policy: what the origin is told about the client, and
how the origin's own address is hidden again in its responses.

Pure functions over L{Headers}, called once per message; nothing here imports
Twisted.

Who may set the forwarding fields is decided by the caller, who knows whether
the immediate client is one of the configured trusted proxies.  RFC 7239
section 8.1: "The "Forwarded" HTTP header field cannot be relied upon to be
correct, as it may be modified, whether mistakenly or for malicious reasons,
by every node on the way to the server, including the client making the
request."  The same holds for the C{X-Forwarded-*} fields, so from anyone
else they are removed, not appended to.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Final

from ..h1 import Headers

_X_FORWARDED_FOR: Final = b"x-forwarded-for"
_X_FORWARDED_PROTO: Final = b"x-forwarded-proto"
_X_FORWARDED_HOST: Final = b"x-forwarded-host"
_FORWARDED: Final = b"forwarded"

FORWARDING_FIELDS: Final = frozenset(
    {_X_FORWARDED_FOR, _X_FORWARDED_PROTO, _X_FORWARDED_HOST, _FORWARDED}
)
"""The fields this module owns, in lower case."""

_FORWARDING_SIZES: Final = frozenset(len(name) for name in FORWARDING_FIELDS)
# Most names are not 9, 15, 16 or 17 bytes long; comparing lengths first
# spares them the lower() copy.

# RFC 9110 section 5.6.2:
#   token          = 1*tchar
#   tchar          = "!" / "#" / "$" / "%" / "&" / "'" / "*"
#                  / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
#                  / DIGIT / ALPHA
_TCHAR: Final = (
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

# RFC 9110 section 5.6.4:
#   quoted-string  = DQUOTE *( qdtext / quoted-pair ) DQUOTE
#   qdtext         = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
#   quoted-pair    = "\" ( HTAB / SP / VCHAR / obs-text )
# Every octet but the controls (other than HTAB) can be written inside one;
# DQUOTE and "\" need a quoted-pair.
_CTL: Final = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"


def _forwardedValue(value: bytes) -> bytes | None:
    """
    A C{Forwarded} parameter value: the value itself when it is a token, else
    a quoted-string.

    RFC 7239 section 4: C{value = token / quoted-string}.  RFC 9110 section
    5.6.4: "A sender SHOULD NOT generate a quoted-pair in a quoted-string
    except where necessary to quote DQUOTE and backslash octets occurring
    within that string."

    @return: The encoded value, or C{None} when C{value} holds a control
        character, which neither form can carry.
    """
    rest = value.translate(None, _TCHAR)
    if not rest and value:
        return value
    if len(rest.translate(None, _CTL)) != len(rest):
        return None
    if b"\\" in rest:
        value = value.replace(b"\\", b"\\\\")
    if b'"' in rest:
        value = value.replace(b'"', b'\\"')
    return b'"' + value + b'"'


def _node(address: bytes) -> bytes:
    """
    A C{node} of RFC 7239 section 6 for an address: IPv6 addresses get their
    brackets, anything else (IPv4, C{host:port}, C{[v6]:port}, C{unknown},
    an obfuscated C{_name}) is returned as it is.

    RFC 7239 section 6::

        node     = nodename [ ":" node-port ]
        nodename = IPv4address / "[" IPv6address "]" /
                   "unknown" / obfnode

    "Note that the IPv6 address is enclosed in square brackets."
    """
    if address.count(b":") > 1 and not address.startswith(b"["):
        return b"[" + address + b"]"
    return address


def _forwardedElement(
    client: bytes, proto: bytes, host: bytes | None, by: bytes | None
) -> bytes:
    """
    This proxy's C{forwarded-element}: C{for=...;proto=...;host=...;by=...}.

    RFC 7239 section 4::

        forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
        forwarded-pair = token "=" value
        value          = token / quoted-string

    "Note that as ":" and "[]" are not valid characters in "token", IPv6
    addresses are written as "quoted-string"."  And section 6: "It is
    important to note that an IPv6 address and any nodename with node-port
    specified MUST be quoted, since ":" is not an allowed character in
    "token"."  A C{host} with a port is quoted for the same reason.

    @param client: The client's address, or C{b""} when it has none (a UNIX
        socket); RFC 7239 section 6.2: "The "unknown" identifier is used when
        the identity of the preceding entity is not known, but the proxy
        server still wants to signal that a forwarding of the request was
        made."
    @param proto: The scheme the client used.
    @param host: The client's C{Host}, or C{None} to leave C{host} out.
    @param by: This proxy's own node, or C{None} to leave C{by} out.
    @return: The element.  A C{host} or C{by} containing control characters
        is left out rather than sent malformed.
    """
    forValue = _forwardedValue(_node(client)) if client else None
    element = b"for=" + (forValue or b"unknown")
    value = _forwardedValue(proto)
    if value is not None:
        element += b";proto=" + value
    if host is not None:
        value = _forwardedValue(host)
        if value is not None:
            element += b";host=" + value
    if by is not None:
        value = _forwardedValue(_node(by))
        if value is not None:
            element += b";by=" + value
    return element


def addForwardingHeaders(
    headers: Headers,
    *,
    client: str,
    trusted: bool,
    proto: bytes,
    host: bytes | None,
    by: str | None = None,
    xForwardedFor: bool = True,
    xForwardedProto: bool = True,
    xForwardedHost: bool = True,
    forwarded: bool = False,
) -> Headers:
    """
    The request fields to send to an origin, with the forwarding fields set.

    From a client that is not a trusted proxy, every received
    C{X-Forwarded-For}, C{X-Forwarded-Proto}, C{X-Forwarded-Host} and
    C{Forwarded} field is removed, whichever flags are on, so that a client
    cannot claim to be someone else; then the enabled ones are added with
    this proxy's view of the connection.

    From a trusted proxy, what it sent is kept:
      - C{X-Forwarded-For} and C{Forwarded}, when enabled, get this hop
        appended.  Their received lines are merged into one, where the first
        one stood: RFC 9110 section 5.3, "A recipient MAY combine multiple
        field lines within a field section that have the same field name into
        one field line, without changing the semantics of the message, by
        appending each subsequent field line value to the initial field line
        value in order, separated by a comma"; and RFC 7239 section 4, "A
        proxy server that wants to add a new "Forwarded" header field value
        can either append it to the last existing "Forwarded" header field
        after a comma separator or add a new field at the end of the header
        block."
      - C{X-Forwarded-Proto} and C{X-Forwarded-Host} are left as the first
        proxy set them, and only added when absent.
      - A disabled field is passed through untouched.

    Added fields go at the end, in the order C{X-Forwarded-For},
    C{X-Forwarded-Proto}, C{X-Forwarded-Host}, C{Forwarded}.  Every other
    field keeps its place, case and repetition.

    @param headers: The received fields (already stripped of hop-by-hop ones).
    @param client: The immediate client's IP address as the transport reports
        it (C{"192.0.2.1"}, C{"2001:db8::1"}), or C{""} for a UNIX socket.
        A UNIX client adds nothing to C{X-Forwarded-For} (a trusted proxy's
        chain is passed on as received) and is C{for=unknown} in
        C{Forwarded}.
    @param trusted: Whether the immediate client is a trusted proxy.
    @param proto: The scheme the client used, C{b"http"} or C{b"https"}.
    @param host: The client's C{Host} value, for C{X-Forwarded-Host} and
        C{host=}; C{None} leaves both out.
    @param by: This proxy's own node for C{by=} in C{Forwarded} (an address,
        C{"unknown"} or an obfuscated C{"_name"}), or C{None} to leave it out.
    @param xForwardedFor: Add C{X-Forwarded-For}.
    @param xForwardedProto: Add C{X-Forwarded-Proto}.
    @param xForwardedHost: Add C{X-Forwarded-Host}.
    @param forwarded: Add RFC 7239 C{Forwarded}.
    @return: A new list; C{headers} is not changed.
    """
    clientBytes = client.encode("ascii", "replace")
    sizes = _FORWARDING_SIZES
    names = FORWARDING_FIELDS
    flags = (xForwardedFor, xForwardedProto, xForwardedHost, forwarded)

    if not trusted:
        # The common case at the edge: drop them all, keep the rest.
        out: Headers = [
            field
            for field in headers
            if len(field[0]) not in sizes or field[0].lower() not in names
        ]
        _addFields(out, clientBytes, proto, host, by, flags)
        return out

    forAt = forwardedAt = -1
    forValue = forwardedValue = b""
    sawProto = sawHost = False
    mergeFor = xForwardedFor and bool(clientBytes)
    out = []
    append = out.append
    for field in headers:
        name = field[0]
        if len(name) not in sizes:
            append(field)
            continue
        name = name.lower()
        if name not in names:
            append(field)
            continue
        if name == _X_FORWARDED_FOR:
            if mergeFor:
                value = field[1]
                if forAt < 0:
                    forAt = len(out)
                    forValue = value
                    append(field)
                elif value:
                    forValue = forValue + b", " + value if forValue else value
                continue
        elif name == _FORWARDED:
            if forwarded:
                value = field[1]
                if forwardedAt < 0:
                    forwardedAt = len(out)
                    forwardedValue = value
                    append(field)
                elif value:
                    forwardedValue = (
                        forwardedValue + b", " + value if forwardedValue else value
                    )
                continue
        elif name == _X_FORWARDED_PROTO:
            sawProto = True
        else:
            sawHost = True
        append(field)

    _addFields(
        out, clientBytes, proto, host, by, flags, forAt, forValue, forwardedAt, forwardedValue,
        sawProto, sawHost,
    )  # fmt: skip
    return out


def appendForwardingHeaders(
    headers: Headers,
    *,
    client: str,
    proto: bytes,
    host: bytes | None,
    by: str | None = None,
    xForwardedFor: bool = True,
    xForwardedProto: bool = True,
    xForwardedHost: bool = True,
    forwarded: bool = False,
) -> None:
    """
    What L{addForwardingHeaders} does for a client that is not a trusted
    proxy, in place: append this hop's enabled forwarding fields to
    C{headers}, a new list from which every received forwarding field
    (L{FORWARDING_FIELDS}) was already removed (by the pass that removed
    the hop-by-hop ones: see the C{removed} argument of
    L{proxykit.policy.rewrite.forwardHeaders}).  Spares a reverse proxy's
    common request a second copy of its fields.

    The arguments are L{addForwardingHeaders}'s.
    """
    _addFields(
        headers,
        client.encode("ascii", "replace"),
        proto,
        host,
        by,
        (xForwardedFor, xForwardedProto, xForwardedHost, forwarded),
    )


def _addFields(
    out: Headers,
    clientBytes: bytes,
    proto: bytes,
    host: bytes | None,
    by: str | None,
    flags: tuple[bool, bool, bool, bool],
    forAt: int = -1,
    forValue: bytes = b"",
    forwardedAt: int = -1,
    forwardedValue: bytes = b"",
    sawProto: bool = False,
    sawHost: bool = False,
) -> None:
    """
    Add the enabled forwarding fields (C{flags}: C{X-Forwarded-For},
    C{X-Forwarded-Proto}, C{X-Forwarded-Host}, C{Forwarded}) to C{out}: at
    the end, or merged into the received C{X-Forwarded-For} at C{forAt} and
    C{Forwarded} at C{forwardedAt} (values so far C{forValue} and
    C{forwardedValue}), C{X-Forwarded-Proto} and C{X-Forwarded-Host} only
    if not received (C{sawProto}, C{sawHost}).
    """
    xForwardedFor, xForwardedProto, xForwardedHost, forwarded = flags
    append = out.append
    if xForwardedFor and clientBytes:
        if forAt < 0:
            append((b"X-Forwarded-For", clientBytes))
        else:
            out[forAt] = (
                out[forAt][0],
                forValue + b", " + clientBytes if forValue else clientBytes,
            )
    if xForwardedProto and not sawProto:
        append((b"X-Forwarded-Proto", proto))
    if xForwardedHost and host is not None and not sawHost:
        append((b"X-Forwarded-Host", host))
    if forwarded:
        element = _forwardedElement(
            clientBytes,
            proto,
            host,
            None if by is None else by.encode("ascii", "replace"),
        )
        if forwardedAt < 0:
            append((b"Forwarded", element))
        else:
            out[forwardedAt] = (
                out[forwardedAt][0],
                forwardedValue + b", " + element if forwardedValue else element,
            )


def _normalAuthority(authority: bytes, defaultPort: bytes = b":80") -> bytes:
    """
    An authority in the form used for comparison: lower case, without the
    scheme's default port (RFC 9110 section 4.2.1: "If the port subcomponent
    is empty or not given, TCP port 80 (the reserved port for WWW services)
    is the default"; 443 for https, section 4.2.2).  One with userinfo is
    left as it is and so never equals an origin's.
    """
    authority = authority.lower()
    if authority.endswith(defaultPort):
        return authority[: -len(defaultPort)]
    if authority.endswith(b":"):
        return authority[:-1]
    return authority


def rewriteLocation(
    value: bytes,
    originAuthorities: Collection[bytes],
    publicScheme: bytes,
    publicAuthority: bytes,
    stripPrefix: bytes = b"",
    prefix: bytes = b"",
    originScheme: bytes = b"http",
) -> bytes | None:
    """
    Point a C{Location} or C{Content-Location} that names an origin at the
    public address instead, like nginx's C{proxy_redirect default}.
    (C{originScheme} is the scheme the origins are spoken to with, C{http}
    or C{https}; below, C{http} stands for it.)

      - C{http://ORIGIN/x?q#f}, where C{ORIGIN} is one of
        C{originAuthorities} (host compared without case, C{:80} the same as
        no port), becomes C{PUBLICSCHEME://PUBLICAUTHORITY/x?q#f}.  A
        network-path reference C{//ORIGIN/x} is treated the same way.
      - When the route strips its prefix, the origin's paths live under the
        public prefix: C{/x} becomes C{/api/x} both in such absolute URIs
        and as an absolute-path reference on its own.
      - Anything else is left alone: other hosts, other schemes (an origin
        is spoken to over C{http}, so an C{https} URI is somewhere else),
        relative references (RFC 9110 section 10.2.2 resolves them against
        the URI the client asked for, which already has the prefix), and
        values that are not URIs at all.

    @param value: The received field value.
    @param originAuthorities: The origins' C{host:port}, e.g.
        C{{b"127.0.0.1:9001"}}.
    @param publicScheme: The scheme clients use, C{b"http"} or C{b"https"}.
    @param publicAuthority: The authority clients use (their C{Host}).
    @param stripPrefix: The route prefix removed from request paths before
        they were sent to the origin, or C{b""} when the route does not
        strip it.
    @param prefix: The public path prefix to put back in front of the
        origin's paths; defaults to C{stripPrefix}.  Only used when
        C{stripPrefix} is set.
    @return: The new value, or C{None} to keep C{value}.  Never raises.
    """
    base = (prefix or stripPrefix).rstrip(b"/") if stripPrefix else b""
    if value.startswith(b"/"):
        if not value.startswith(b"//"):
            # An absolute-path reference.
            return base + value if base else None
        start = 2
    else:
        start = len(originScheme) + 3
        if value[:start].lower() != originScheme + b"://":
            return None

    # RFC 3986 section 3.2: "The authority component is preceded by a double
    # slash ("//") and is terminated by the next slash ("/"), question mark
    # ("?"), or number sign ("#") character, or by the end of the URI."
    end = len(value)
    for delimiter in (b"/", b"?", b"#"):
        at = value.find(delimiter, start, end)
        if at >= 0:
            end = at
    defaultPort = b":443" if originScheme == b"https" else b":80"
    authority = _normalAuthority(value[start:end], defaultPort)
    if not authority:
        return None
    if authority not in originAuthorities and not any(
        _normalAuthority(origin, defaultPort) == authority for origin in originAuthorities
    ):
        return None

    rest = value[end:]
    if base:
        rest = base + rest if rest.startswith(b"/") else base + b"/" + rest
    return publicScheme + b"://" + publicAuthority + rest


def rewriteResponseHeaders(
    headers: Headers, rewrite: Callable[[bytes], bytes | None]
) -> Headers:
    """
    Apply C{rewrite} to the value of every C{Location} and
    C{Content-Location} field (names compared without case).

    @param headers: The response fields.
    @param rewrite: Returns a new value, or C{None} to keep the old one; see
        L{rewriteLocation}.
    @return: C{headers} itself when no value changed, so the common response
        costs no copy; otherwise a new list, C{headers} not being changed.
    """
    out: Headers | None = None
    for index, field in enumerate(headers):
        name = field[0]
        size = len(name)
        if size != 8 and size != 16:
            continue
        name = name.lower()
        if name != b"location" and name != b"content-location":
            continue
        value = rewrite(field[1])
        if value is None or value == field[1]:
            continue
        if out is None:
            out = headers.copy()
        out[index] = (field[0], value)
    return headers if out is None else out
