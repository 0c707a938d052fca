# -*- test-case-name: tests.test_h1_framing -*-
"""
The single place that decides how long a message body is, and the writers
that put heads and body framing on the wire.

RFC 9112 section 6.3 (Message Body Length), in the order applied here::

   1. Any response to a HEAD request and any response with a 1xx
      (Informational), 204 (No Content), or 304 (Not Modified) status code
      is always terminated by the first empty line after the header fields
      [...] and thus cannot contain a message body or trailer section.
   2. Any 2xx (Successful) response to a CONNECT request implies that the
      connection will become a tunnel immediately after the empty line [...]
   3. If a message is received with both a Transfer-Encoding and a
      Content-Length header field, the Transfer-Encoding overrides the
      Content-Length.  Such a message might indicate an attempt to perform
      request smuggling [...] A server MAY reject a request that contains
      both [...]  (we always reject, in both directions)
   4. If a Transfer-Encoding header field is present and the chunked
      transfer coding is the final encoding, the message body length is
      determined by reading and decoding the chunked data [...]
      If a Transfer-Encoding header field is present in a response and the
      chunked transfer coding is not the final encoding, the message body
      length is determined by reading the connection until it is closed by
      the server.  (we reject this: a proxy must not guess)
      If a Transfer-Encoding header field is present in a request and the
      chunked transfer coding is not the final encoding, the message body
      length cannot be determined reliably; the server MUST respond with the
      400 (Bad Request) status code and then close the connection.
   5. If a message is received without Transfer-Encoding and with an invalid
      Content-Length header field, then the message framing is invalid [...]
   6. If a valid Content-Length header field is present without
      Transfer-Encoding, its decimal value defines the expected message body
      length in octets.
   7. If this is a request message and none of the above are true, then the
      message body length is zero.
   8. Otherwise, this is a response message without a declared message body
      length, so the message body length is determined by the number of
      octets received by the server prior to the connection being closed.
"""

from __future__ import annotations

from ._errors import ProtocolError
from ._events import Framing, Headers

_DIGITS = frozenset(b"0123456789")
_MAX_LENGTH_DIGITS = 18


def parseContentLength(values: list[bytes]) -> int:
    """
    Validate the C{Content-Length} field values of one message.

    RFC 9110 section 8.6: C{Content-Length = 1*DIGIT}.  Digits are checked
    before conversion: bare C{int()} accepts C{+5}, C{1_0} and spaces.

    @param values: Every C{Content-Length} field value received, stripped.
    @return: The length.
    @raise ValueError: The values are empty, not all digits, too long, or
        there is more than one (even an equal one: we never repair).
    """
    if len(values) != 1:
        raise ValueError("repeated Content-Length")
    value = values[0]
    if (
        not value
        or len(value) > _MAX_LENGTH_DIGITS
        or not _DIGITS.issuperset(value)
    ):
        raise ValueError("invalid Content-Length")
    return int(value)


def splitTokens(values: list[bytes]) -> list[bytes]:
    """
    Split comma-separated list fields into lower-cased, stripped elements,
    dropping empty ones (RFC 9110 section 5.6.1).

    @param values: The field values of every line of one field.
    """
    tokens = []
    for value in values:
        for element in value.split(b","):
            element = element.strip(b" \t").lower()
            if element:
                tokens.append(element)
    return tokens


def bodyFraming(
    isRequest: bool,
    version: bytes,
    status: int,
    requestMethod: bytes,
    contentLengths: list[bytes] | None,
    transferEncodings: list[bytes] | None,
) -> tuple[int, int]:
    """
    Decide how the body of a received message is delimited.

    This is the only function in proxykit that makes that decision; both
    directions, requests from clients and responses from origins, go through
    it with the same strictness.

    @param isRequest: C{True} for a request, C{False} for a response.
    @param version: C{b"1.1"} or C{b"1.0"}.
    @param status: The response status (ignored for requests).
    @param requestMethod: For a response, the method of the request it
        answers; for a request, its own method.
    @param contentLengths: The C{Content-Length} values, or C{None}.
    @param transferEncodings: The C{Transfer-Encoding} values, or C{None}.
    @return: C{(framing, length)}: a L{Framing} constant, and the length for
        L{Framing.LENGTH} (else C{0}).
    @raise ProtocolError: The framing is ambiguous or unsupported.  The
        status is 400/501 for requests and 502 for responses.
    """
    bad = 400 if isRequest else 502
    if not isRequest:
        if status < 200 or status == 204 or status == 304:
            if transferEncodings is not None:
                raise ProtocolError(502, "Transfer-Encoding on a bodiless status")
            return Framing.NONE, 0
        if requestMethod == b"HEAD":
            return Framing.NONE, 0
        if requestMethod == b"CONNECT" and status < 300:
            return Framing.NONE, 0
    if transferEncodings is not None:
        if contentLengths is not None:
            raise ProtocolError(bad, "both Content-Length and Transfer-Encoding")
        if version != b"1.1":
            raise ProtocolError(bad, "Transfer-Encoding in HTTP/1.0")
        codings = splitTokens(transferEncodings)
        if not codings or codings[-1] != b"chunked":
            raise ProtocolError(bad, "chunked is not the final transfer coding")
        if len(codings) != 1:
            raise ProtocolError(
                501 if isRequest else 502, "unsupported transfer coding"
            )
        return Framing.CHUNKED, 0
    if contentLengths is not None:
        try:
            length = parseContentLength(contentLengths)
        except ValueError as e:
            raise ProtocolError(bad, str(e))
        if not length:
            return Framing.NONE, 0
        if isRequest and requestMethod == b"CONNECT":
            raise ProtocolError(400, "CONNECT with a body")
        return Framing.LENGTH, length
    if isRequest:
        return Framing.NONE, 0
    return Framing.CLOSE, 0


def keepAlive(version: bytes, connectionTokens: frozenset[bytes]) -> bool:
    """
    Whether a message lets its connection persist (RFC 9112 section 9.3).

    @param version: C{b"1.1"} or C{b"1.0"}.
    @param connectionTokens: Lower-cased C{Connection} options.
    """
    if b"close" in connectionTokens:
        return False
    return version == b"1.1" or b"keep-alive" in connectionTokens


def fieldLines(headers: Headers) -> bytes:
    """
    C{name: value CRLF} for each field, and the empty line that ends the
    section.
    """
    if not headers:
        return b"\r\n"
    # Joined in C, field by field (not four appends a field in Python).
    return b"\r\n".join(map(b": ".join, headers)) + b"\r\n\r\n"


def requestHead(method: bytes, target: bytes, headers: Headers) -> bytes:
    """
    Serialize an HTTP/1.1 request head.
    """
    return b"".join((method, b" ", target, b" HTTP/1.1\r\n", fieldLines(headers)))


_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}


def responseHead(status: int, reason: bytes, headers: Headers) -> bytes:
    """
    Serialize an HTTP/1.1 response head.
    """
    line = _STATUS_LINES.get((status, reason))
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
        if len(_STATUS_LINES) < 256:
            _STATUS_LINES[(status, reason)] = line
    return line + fieldLines(headers)


def chunkHeader(size: int) -> bytes:
    """
    The chunk-size line for a chunk of C{size} bytes.
    """
    return b"%x\r\n" % (size,)


LAST_CHUNK = b"0\r\n\r\n"
"""The last-chunk and the empty trailer section."""


def lastChunk(trailers: Headers) -> bytes:
    """
    The last-chunk followed by a trailer section.
    """
    if not trailers:
        return LAST_CHUNK
    return b"0\r\n" + fieldLines(trailers)
