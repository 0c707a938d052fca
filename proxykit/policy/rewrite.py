# -*- test-case-name: tests.test_rewrite -*-
"""
Header policy: pure functions from a received head's fields to the fields
sent on.

RFC 9110 section 7.6.1: "Intermediaries MUST parse a received Connection
header field before a message is forwarded and, for each connection-option in
this field, remove any header or trailer field(s) from the message with the
same name as the connection-option, and then remove the Connection header
field itself (or replace it with the intermediary's own control options for
the forwarded message)."  And: "a proxy or gateway MUST remove any received
connection-specific header fields, [...] Proxy-Connection, Keep-Alive, TE,
Transfer-Encoding, and Upgrade".

Everything else keeps its order and repetition.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from ..h1 import Framing, Headers
from .requestid import FIELD as REQUEST_ID_FIELD
from .requestid import FIELD_LOWER as _REQUEST_ID_LOWER

HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"transfer-encoding",
        b"upgrade",
        # Credentials meant for this proxy are never passed on, and a
        # challenge from a proxy further in is not the client's business.
        b"proxy-authorization",
        b"proxy-authenticate",
    }
)
"""Fields always removed when forwarding, in lower case."""

_HOP_AND_ID: Final = HOP_BY_HOP | {_REQUEST_ID_LOWER}
"""The same, and C{X-Request-Id}: removed when the proxy sends its own."""


FRAMING: Final = frozenset({b"content-length", b"host"})
"""
Fields a C{Connection} option cannot remove: they frame or address the
message.  Dropping C{Content-Length} while passing the body on would make
the body a second message to the next hop (request smuggling).
"""


def viaValue(version: bytes, pseudonym: bytes) -> bytes:
    """
    The C{Via} field value this proxy adds (RFC 9110 section 7.6.3):
    C{received-protocol received-by}, e.g. C{1.1 proxykit}.
    """
    return version + b" " + pseudonym


def forwardHeaders(
    headers: Headers,
    connectionTokens: frozenset[bytes],
    via: bytes,
    host: bytes | None = None,
    requestId: bytes | None = None,
    removed: frozenset[bytes] = frozenset(),
) -> Headers:
    """
    The fields to send on for a received message.

    Hop-by-hop fields (the fixed set and every name listed in C{Connection})
    are removed, C{Via} is appended after any received C{Via}, and, when
    C{host} is given, the C{Host} field is replaced in place (or added first
    when there was none).  When C{requestId} is given, every received
    C{X-Request-Id} is removed and one with C{requestId} appended last, in
    the same pass: the next hop sees exactly one.

    @param headers: The received fields.
    @param connectionTokens: The received C{Connection} options, lower-cased.
    @param via: This proxy's C{Via} value, see L{viaValue}.
    @param host: A new C{Host} value, or C{None} to keep the received one.
    @param requestId: The request's id (see L{proxykit.policy.requestid}),
        or C{None} to pass any received C{X-Request-Id} on as it is.
    @param removed: More names (lower case) to remove in the same pass:
        a reverse proxy drops an untrusted client's forwarding fields so
        (L{proxykit.policy.forwarded.appendForwardingHeaders}).
    @return: A new list; C{headers} is not changed.
    """
    out: Headers = []
    append = out.append
    hop = HOP_BY_HOP if requestId is None else _HOP_AND_ID
    if removed:
        hop = _union(hop, removed)
    sawHost = False
    for field in headers:
        name = field[0].lower()
        if name in hop or (name in connectionTokens and name not in FRAMING):
            continue
        if host is not None and name == b"host":
            if not sawHost:
                append((field[0], host))
                sawHost = True
            continue
        append(field)
    if host is not None and not sawHost:
        out.insert(0, (b"Host", host))
    append((b"Via", via))
    if requestId is not None:
        append((REQUEST_ID_FIELD, requestId))
    return out


@lru_cache(maxsize=64)
def _union(names: frozenset[bytes], more: frozenset[bytes]) -> frozenset[bytes]:
    # The few sets callers pass, made once (frozensets keep their hash);
    # bounded, as the argument is a caller's.
    return names | more


def framedHeaders(headers: Headers, framing: int, length: int) -> Headers:
    """
    Make the framing fields of a head to send say exactly what was decided
    for the received message: the message's body goes on with the framing
    its body was read with, so the next hop can never read it another way.

    Every C{Content-Length} and C{Transfer-Encoding} field is removed; for
    L{Framing.LENGTH} a C{Content-Length} with the decided length takes the
    place of the first received one, for L{Framing.CHUNKED}
    C{Transfer-Encoding: chunked} is appended.  For L{Framing.NONE} a
    received C{Content-Length} (which was 0) is kept as C{0}.

    @param headers: The fields to send (hop-by-hop ones already removed).
    @param framing: The L{Framing} decided for the received body.
    @param length: The decided length for L{Framing.LENGTH}.
    @return: A new list; C{headers} is not changed.
    """
    out: Headers = []
    append = out.append
    sawLength = False
    for field in headers:
        name = field[0]
        if len(name) == 14 and name.lower() == b"content-length":
            if not sawLength and framing != Framing.CHUNKED:
                append((name, b"%d" % (length,)))
            sawLength = True
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            continue
        else:
            append(field)
    if framing == Framing.CHUNKED:
        append((b"Transfer-Encoding", b"chunked"))
    elif framing == Framing.LENGTH and not sawLength:
        append((b"Content-Length", b"%d" % (length,)))
    return out


def decrementMaxForwards(headers: Headers) -> Headers:
    """
    RFC 9110 section 7.6.2: an intermediary forwarding OPTIONS or TRACE
    "MUST generate an updated Max-Forwards field in the forwarded message
    with a field value that is the lesser of a) the received value
    decremented by one (1) or b) the recipient's maximum supported value".

    An invalid value (not all digits) is left as received.  C{headers} is
    changed in place and returned.
    """
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"max-forwards" and value.isdigit() and value != b"0":
            number = int(value) - 1 if len(value) <= 9 else 999_999_999
            headers[index] = (name, b"%d" % (number,))
    return headers


def forwardTrailers(trailers: Headers, connectionTokens: frozenset[bytes]) -> Headers:
    """
    The trailer fields to send on: hop-by-hop names removed.
    """
    if not trailers:
        return trailers
    return [
        field
        for field in trailers
        if (name := field[0].lower()) not in HOP_BY_HOP
        and name not in connectionTokens
        and name not in _FORBIDDEN_TRAILERS
    ]


_FORBIDDEN_TRAILERS: Final = frozenset(
    {b"content-length", b"host", b"content-type", b"authorization"}
)
