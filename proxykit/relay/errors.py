# -*- test-case-name: tests.test_errors -*-
"""
Where failures become statuses, and the fixed responses that carry them.

Error bodies are short fixed C{text/plain}: they never echo the request
(Host, target or headers), so they cannot reflect attacker input.  The one
thing they name is the request's id (C{request id: ...}, and the
C{X-Request-Id} field): a client's own only when it is a short token
(L{proxykit.policy.requestid.wellFormed}), else one the proxy made.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

from twisted.internet import defer, error

from ..policy.destinations import DestinationRefused
from ..policy.requestid import FIELD as REQUEST_ID_FIELD
from .endpoints import TLSFailed
from .pool import QUEUE_FULL, PoolFull
from .splice import ParentRefused

REASONS: Final[dict[int, bytes]] = {
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    407: b"Proxy Authentication Required",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    417: b"Expectation Failed",
    421: b"Misdirected Request",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
    508: b"Loop Detected",
}


def reasonPhrase(status: int) -> bytes:
    """
    The reason phrase the proxy sends with C{status} when it answers
    itself: its own (L{REASONS}), else the registered one (C{301 Moved
    Permanently}), else none (RFC 9112 section 4 allows an empty one).
    """
    reason = REASONS.get(status)
    if reason is not None:
        return reason
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def connectFailureStatus(failure: BaseException | None) -> tuple[int, str]:
    """
    Map a failure to connect to an origin to a status and a fixed reason.

    A connect timeout is 504 (the origin said nothing in time); refusal,
    DNS failure, a failed TLS handshake or certificate verification (the
    reason says why) and anything else are 502.
    """

    if isinstance(
        failure,
        (error.TimeoutError, defer.TimeoutError, error.ConnectingCancelledError),
    ):
        return 504, "origin connect timed out"

    if isinstance(failure, TLSFailed):
        return 502, f"origin TLS handshake failed: {failure.reason}"
    if isinstance(failure, ParentRefused):
        return 502, "parent proxy refused the tunnel"
    if isinstance(failure, TimeoutError):
        return 504, "parent proxy did not answer"
    if isinstance(failure, DestinationRefused):
        return 403, "destination address not allowed"
    if isinstance(failure, PoolFull):
        return 503, str(failure) or QUEUE_FULL
    if isinstance(failure, error.DNSLookupError):
        return 502, "origin name does not resolve"
    if isinstance(failure, error.ConnectionRefusedError):
        return 502, "origin refused the connection"
    return 502, "origin unreachable"


_CACHE: dict[tuple[int, bool], bytes] = {}


def routeDownDetail(route: str) -> bytes:
    """
    The body line of the 503 answered when the active health checks took
    every origin of a route out.

    @param route: The route's name as configured (its path prefix), never
        anything from the request.  Characters other than visible ASCII are
        replaced by C{?}.
    @return: A line for L{errorResponse}'s C{detail}.
    """
    name = "".join(c if "!" <= c <= "~" else "?" for c in route[:_MAX_ROUTE_NAME])
    return b"no origin of route %s is up\n" % (name.encode("ascii"),)


_MAX_ROUTE_NAME: Final = 200
"""
The longest route name an error body repeats (a path prefix is short).
"""


def errorResponse(
    status: int,
    close: bool,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    detail: bytes = b"",
    requestId: bytes | None = None,
) -> bytes:
    """
    A complete fixed error response.

    @param status: The status code.
    @param close: Whether to announce C{Connection: close}.
    @param headers: More fields (a challenge, for 407).
    @param detail: A line added to the body, built from configuration only
        (see L{routeDownDetail}); never from the request.
    @param requestId: The request's id (well-formed or generated: see
        L{proxykit.policy.requestid}), sent as C{X-Request-Id} and as the
        body's last line, C{request id: ID}; C{None}: neither.
    @return: The bytes to write.
    """
    if requestId is not None:
        headers = (*headers, (REQUEST_ID_FIELD, requestId))
        detail = detail + b"request id: " + requestId + b"\n"
    if headers:
        plain = errorResponse(status, close, detail=detail)
        top, sep, rest = plain.partition(b"\r\n\r\n")
        extra = b"".join(b"\r\n" + name + b": " + value for name, value in headers)
        return top + extra + sep + rest
    cached = None if detail else _CACHE.get((status, close))
    if cached is not None:
        return cached
    reason = REASONS.get(status, b"Error")
    body = b"%d %s\n" % (status, reason) + detail
    head = [
        b"HTTP/1.1 %d %s" % (status, reason),
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Length: %d" % (len(body),),
        b"Cache-Control: no-store",
    ]
    if close:
        head.append(b"Connection: close")
    response = b"\r\n".join(head) + b"\r\n\r\n" + body
    if not detail:
        _CACHE[(status, close)] = response
    return response
