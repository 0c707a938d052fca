"""
Tests for L{proxykit.h1}: the sans-IO HTTP/1.1 message layer.

Most cases live in two tables, L{REQUEST_CASES} and L{RESPONSE_CASES}: the
bytes a peer sends and the transcript of events (or the error) the layer
must produce.  Every case is run twice: with the bytes in one piece, and
split into small pieces (one byte at a time for short messages), and both
runs must read the same.  Behaviour a table cannot show (limits fed until
the error, C{trailingData}, C{reusableAfterHead}) has its own tests below.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from proxykit.h1 import (
    EMPTY_TRAILERS,
    NEED_DATA,
    Data,
    EndOfMessage,
    Framing,
    H1Connection,
    Headers,
    Limits,
    ProtocolError,
    Request,
    Response,
    TargetForm,
    checkFields,
)

ROOT = Path(__file__).resolve().parent.parent

LIMIT = 8192 + 65536
"""The default limits' bound on one head: request line plus header section."""

# Transcripts
#
# A transcript is the list of steps a connection produced, each a kind and a
# dict of fields.  Adjacent Data events are merged, so that how the body was
# split does not show; a ProtocolError is a step too, so that anything
# coming after it would show.

Fields = dict[str, object]
Step = tuple[str, Fields]

_REQUEST_FIELDS = (
    "method",
    "target",
    "version",
    "headers",
    "framing",
    "contentLength",
    "keepAlive",
    "connectionTokens",
    "host",
    "expectContinue",
    "upgrade",
)
_RESPONSE_FIELDS = (
    "status",
    "reason",
    "version",
    "headers",
    "framing",
    "contentLength",
    "keepAlive",
    "connectionTokens",
)


def request(**fields: object) -> Step:
    """
    Expect a L{Request} with these fields (the others are not checked).
    """
    return ("request", fields)


def response(**fields: object) -> Step:
    """
    Expect a L{Response} with these fields (the others are not checked).
    """
    return ("response", fields)


def data(body: bytes) -> Step:
    """
    Expect body bytes, in any number of L{Data} events.
    """
    return ("data", {"data": body})


def end(trailers: Headers | None = None) -> Step:
    """
    Expect an L{EndOfMessage} with these trailers (none by default).
    """
    return ("end", {"trailers": trailers or []})


def error(status: int) -> Step:
    """
    Expect L{H1Connection.nextEvent} to raise a L{ProtocolError} with this
    status.
    """
    return ("error", {"status": status})


def drainInto(conn: H1Connection, steps: list[Step]) -> None:
    """
    Append every available event of C{conn} to C{steps}, until L{NEED_DATA}.
    """
    while True:
        try:
            event = conn.nextEvent()
        except ProtocolError as e:
            steps.append(("error", {"status": e.status}))
            continue
        if event is NEED_DATA:
            return
        if isinstance(event, Data):
            if steps and steps[-1][0] == "data":
                previous = steps[-1][1]["data"]
                assert isinstance(previous, bytes)
                steps[-1] = ("data", {"data": previous + event.data})
            else:
                steps.append(("data", {"data": event.data}))
        elif isinstance(event, Request):
            steps.append(
                ("request", {name: getattr(event, name) for name in _REQUEST_FIELDS})
            )
        elif isinstance(event, Response):
            steps.append(
                ("response", {name: getattr(event, name) for name in _RESPONSE_FIELDS})
            )
        elif isinstance(event, EndOfMessage):
            steps.append(("end", {"trailers": event.trailers}))
        else:
            raise AssertionError(f"unexpected event {event!r}")


def restrict(actual: list[Step], expected: list[Step]) -> list[Step]:
    """
    Keep, of each actual step, only the fields its expected counterpart
    names, so that a failing comparison shows just what was asked for.
    """
    out: list[Step] = []
    for index, (kind, fields) in enumerate(actual):
        if index < len(expected) and expected[index][0] == kind:
            out.append((kind, {name: fields[name] for name in expected[index][1]}))
        else:
            out.append((kind, fields))
    return out


def pieces(wire: bytes, size: int) -> list[bytes]:
    """
    Cut C{wire} into pieces of C{size} bytes.
    """
    return [wire[i : i + size] for i in range(0, len(wire), size)]


def transcript(
    chunks: Iterable[bytes],
    isServer: bool = True,
    requestMethod: bytes | None = b"GET",
    eof: bool = False,
    limits: Limits | None = None,
) -> list[Step]:
    """
    Feed C{chunks} to a new connection, reading its events after each one,
    and return the transcript.

    @param requestMethod: For the client role, the method passed to
        L{H1Connection.expectResponse} first, or C{None} to not call it.
    @param eof: Whether to call L{H1Connection.receiveEOF} at the end.
    """
    conn = H1Connection(isServer) if limits is None else H1Connection(isServer, limits)
    if not isServer and requestMethod is not None:
        conn.expectResponse(requestMethod)
    steps: list[Step] = []
    for chunk in chunks:
        conn.receiveData(chunk)
        drainInto(conn, steps)
    if eof:
        conn.receiveEOF()
        drainInto(conn, steps)
    return steps


def feedUntilError(
    conn: H1Connection, chunks: Iterable[bytes]
) -> tuple[int, ProtocolError | None]:
    """
    Feed C{chunks} one at a time, reading events after each, and stop at the
    first L{ProtocolError}.

    @return: How many bytes were fed, and the error (C{None} if none came).
    """
    fed = 0
    for chunk in chunks:
        conn.receiveData(chunk)
        fed += len(chunk)
        while conn.hasEvents():
            try:
                conn.nextEvent()
            except ProtocolError as e:
                return fed, e
    return fed, None


def endless(first: bytes, piece: bytes, total: int = 1 << 20) -> Iterator[bytes]:
    """
    C{first}, then C{piece} repeated until about C{total} bytes were made:
    far more than any limit, so that a layer that buffers without bound is
    caught.
    """
    yield first
    for _ in range(total // len(piece)):
        yield piece


# The tables


class Case(NamedTuple):
    """
    One row of a table: what the peer sends, and what the layer must make of
    it.

    @ivar name: The test method is C{test_<name>}.
    @ivar doc: The behaviour, in user terms; the test's docstring.
    @ivar wire: The bytes received.
    @ivar expected: The transcript.
    @ivar isServer: The role: C{True} receives requests.
    @ivar requestMethod: Client role: the method of the request answered.
    @ivar eof: Whether the peer closes after C{wire}.
    @ivar whole: The transcript when C{wire} arrives in one read, if it
        differs from C{expected} (a request that fails within the bytes
        already received is refused before its head is delivered).
    """

    name: str
    doc: str
    wire: bytes
    expected: list[Step]
    isServer: bool = True
    requestMethod: bytes | None = b"GET"
    eof: bool = False
    whole: list[Step] | None = None


def requestCase(
    name: str,
    doc: str,
    wire: bytes,
    expected: list[Step],
    whole: list[Step] | None = None,
) -> Case:
    return Case(name, doc, wire, expected, whole=whole)


def responseCase(
    name: str,
    doc: str,
    wire: bytes,
    expected: list[Step],
    requestMethod: bytes | None = b"GET",
    eof: bool = False,
) -> Case:
    return Case(name, doc, wire, expected, False, requestMethod, eof)


def rejected(name: str, doc: str, wire: bytes, status: int) -> Case:
    """
    A request the layer refuses, before delivering anything, with C{status}.
    """
    return requestCase(name, doc, wire, [error(status)])


def get(target: bytes = b"/", headers: bytes = b"") -> bytes:
    """
    An HTTP/1.1 GET request head with a Host field and C{headers} (each
    line ending in CRLF).
    """
    return b"GET %s HTTP/1.1\r\nHost: example.com\r\n%s\r\n" % (target, headers)


def post(headers: bytes, body: bytes = b"") -> bytes:
    """
    An HTTP/1.1 POST request with a Host field, C{headers} and C{body}.
    """
    return b"POST /submit HTTP/1.1\r\nHost: example.com\r\n%s\r\n%s" % (headers, body)


def manyFields(count: int) -> bytes:
    return b"".join(b"X-Field-%d: value\r\n" % (i,) for i in range(count))


REQUEST_CASES = [
    requestCase(
        "simpleGet",
        "A GET request with only a Host field is one Request with every "
        "attribute set, then the end of its empty body.",
        b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
        [
            request(
                method=b"GET",
                target=b"/index.html",
                version=b"1.1",
                headers=[(b"Host", b"example.com")],
                framing=Framing.NONE,
                contentLength=0,
                keepAlive=True,
                connectionTokens=frozenset(),
                host=b"example.com",
                expectContinue=False,
                upgrade=False,
            ),
            end(),
        ],
    ),
    requestCase(
        "absoluteForm",
        "An absolute-form target, as sent to a forward proxy, is kept exactly "
        "as received.",
        b"GET http://example.com:8080/a/b?c=d&e=%20 HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n\r\n",
        [
            request(
                target=b"http://example.com:8080/a/b?c=d&e=%20",
                host=b"example.com:8080",
            ),
            end(),
        ],
    ),
    requestCase(
        "repeatedHeaders",
        "Header fields come out in wire order with their original case, and "
        "repeated fields stay separate.",
        get(headers=b"X-A: 1\r\nx-b: 2\r\nX-A: 3\r\nX-a: 4\r\n"),
        [
            request(
                headers=[
                    (b"Host", b"example.com"),
                    (b"X-A", b"1"),
                    (b"x-b", b"2"),
                    (b"X-A", b"3"),
                    (b"X-a", b"4"),
                ]
            ),
            end(),
        ],
    ),
    requestCase(
        "whitespaceAroundValues",
        "Whitespace around a field value, trailing spaces and tabs "
        "included, is not part of the value.",
        get(headers=b"X-A: one  \t\r\nX-B:   two\r\nX-C:\tthree four \r\n"),
        [
            request(
                headers=[
                    (b"Host", b"example.com"),
                    (b"X-A", b"one"),
                    (b"X-B", b"two"),
                    (b"X-C", b"three four"),
                ]
            ),
            end(),
        ],
    ),
    requestCase(
        "contentLengthBody",
        "A Content-Length body is delivered as data, then the message ends.",
        post(b"Content-Length: 11\r\n", b"hello world"),
        [
            request(framing=Framing.LENGTH, contentLength=11),
            data(b"hello world"),
            end(),
        ],
    ),
    requestCase(
        "contentLengthZero",
        "Content-Length: 0 means no body at all.",
        post(b"Content-Length: 0\r\n"),
        [request(framing=Framing.NONE, contentLength=0), end()],
    ),
    requestCase(
        "chunkedBody",
        "A chunked body is delivered without its framing: chunk extensions "
        "are dropped and the trailer fields come with the end of the message.",
        post(
            b"Transfer-Encoding: chunked\r\n",
            b'5;ext=1\r\nhello\r\n6;name="quoted value"\r\n world\r\n'
            b"0\r\nX-Trailer: yes\r\nX-Other: 2  \r\n\r\n",
        ),
        [
            request(framing=Framing.CHUNKED, contentLength=0),
            data(b"hello world"),
            end([(b"X-Trailer", b"yes"), (b"X-Other", b"2")]),
        ],
    ),
    requestCase(
        "chunkedCaseInsensitive",
        "The chunked coding name is case-insensitive.",
        post(b"Transfer-Encoding: Chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), data(b"abc"), end()],
    ),
    requestCase(
        "pipelined",
        "Requests sent back to back come out in order, each with its own body.",
        get(b"/one")
        + post(b"Content-Length: 3\r\n", b"abc")
        + post(b"Transfer-Encoding: chunked\r\n", b"2\r\nde\r\n0\r\n\r\n")
        + get(b"/four"),
        [
            request(method=b"GET", target=b"/one"),
            end(),
            request(method=b"POST", framing=Framing.LENGTH),
            data(b"abc"),
            end(),
            request(method=b"POST", framing=Framing.CHUNKED),
            data(b"de"),
            end(),
            request(method=b"GET", target=b"/four"),
            end(),
        ],
    ),
    requestCase(
        "http10ClosesByDefault",
        "An HTTP/1.0 request without Connection: keep-alive does not let the "
        "connection persist, and needs no Host.",
        b"GET / HTTP/1.0\r\n\r\n",
        [request(version=b"1.0", keepAlive=False, host=None), end()],
    ),
    requestCase(
        "http10KeepAlive",
        "An HTTP/1.0 request with Connection: keep-alive (in any case) lets "
        "the connection persist.",
        b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        [
            request(
                version=b"1.0",
                keepAlive=True,
                connectionTokens=frozenset([b"keep-alive"]),
            ),
            end(),
        ],
    ),
    requestCase(
        "http11Close",
        "An HTTP/1.1 request with Connection: close does not let the "
        "connection persist.",
        get(headers=b"Connection: close\r\n"),
        [request(keepAlive=False, connectionTokens=frozenset([b"close"])), end()],
    ),
    requestCase(
        "connectionTokensLowerCased",
        "The Connection options of every Connection field are collected, "
        "lower-cased, while the fields themselves stay as received.",
        get(headers=b"Connection: Keep-Alive, X-Custom\r\nConnection: TE\r\n"),
        [
            request(
                keepAlive=True,
                connectionTokens=frozenset([b"keep-alive", b"x-custom", b"te"]),
                headers=[
                    (b"Host", b"example.com"),
                    (b"Connection", b"Keep-Alive, X-Custom"),
                    (b"Connection", b"TE"),
                ],
            ),
            end(),
        ],
    ),
    requestCase(
        "expectContinue",
        "Expect: 100-continue (in any case) is reported so the proxy can "
        "answer 100 Continue before the body arrives.",
        post(b"Expect: 100-Continue\r\nContent-Length: 2\r\n", b"hi"),
        [request(expectContinue=True), data(b"hi"), end()],
    ),
    requestCase(
        "expectOther",
        "Any other expectation cannot be met: 417.",
        get(headers=b"Expect: something-else\r\n"),
        [error(417)],
    ),
    requestCase(
        "connect",
        "A CONNECT request is a head with no body; what follows it belongs "
        "to the tunnel and is not parsed as HTTP.",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        b"\x16\x03\x01 not http",
        [
            request(
                method=b"CONNECT",
                target=b"example.com:443",
                framing=Framing.NONE,
                upgrade=False,
            ),
            end(),
        ],
    ),
    requestCase(
        "connectWithBody",
        "A CONNECT request announcing a body is refused.",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
        b"Content-Length: 5\r\n\r\nhello",
        [error(400)],
    ),
    requestCase(
        "upgradeWithBody",
        "An Upgrade request with a body is not offered a protocol switch "
        "(the switch would come right after its head): its Content-Length "
        "body is delivered and the next request is parsed as HTTP/1.1.",
        post(
            b"Connection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n",
            b"hello",
        )
        + get(b"/next"),
        [
            request(upgrade=False, framing=Framing.LENGTH, contentLength=5),
            data(b"hello"),
            end(),
            request(target=b"/next", upgrade=False),
            end(),
        ],
    ),
    requestCase(
        "upgradeWithChunkedBody",
        "An Upgrade request with a chunked body also keeps its body and the "
        "request after it.",
        post(
            b"Connection: upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n",
            b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        )
        + get(b"/next"),
        [
            request(upgrade=False, framing=Framing.CHUNKED),
            data(b"hello"),
            end([(b"X-T", b"1")]),
            request(target=b"/next"),
            end(),
        ],
    ),
    requestCase(
        "upgradeWithoutBody",
        "An Upgrade request without a body is offered the switch: what "
        "follows it waits until the response decides (see UpgradeTests).",
        get(headers=b"Connection: Upgrade\r\nUpgrade: websocket\r\n") + get(b"/next"),
        [request(upgrade=True), end()],
    ),
    requestCase(
        "hundredFields",
        "A head with exactly 100 fields is accepted.",
        get(headers=manyFields(99)),
        [request(), end()],
    ),
    # Rejections.
    rejected(
        "contentLengthAndChunked",
        "Content-Length together with Transfer-Encoding could smuggle a request: 400.",
        post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        400,
    ),
    rejected(
        "twoEqualContentLengths",
        "Two Content-Length fields are refused even when they agree.",
        post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
        400,
    ),
    rejected(
        "twoContentLengths",
        "Two different Content-Length fields: 400.",
        post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
        400,
    ),
    rejected(
        "contentLengthPlus",
        "A Content-Length with a sign is not a length: 400.",
        post(b"Content-Length: +5\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthUnderscore",
        "A Content-Length with Python's digit separator is not a length: 400.",
        post(b"Content-Length: 1_0\r\n", b"0123456789"),
        400,
    ),
    rejected(
        "contentLengthHex",
        "A hexadecimal Content-Length is not a length: 400.",
        post(b"Content-Length: 0x5\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthNegative",
        "A negative Content-Length: 400.",
        post(b"Content-Length: -1\r\n"),
        400,
    ),
    rejected(
        "contentLengthEmpty",
        "An empty Content-Length: 400.",
        post(b"Content-Length: \r\n"),
        400,
    ),
    rejected(
        "transferEncodingGzip",
        "A request whose final transfer coding is not chunked has no "
        "knowable length: 400.",
        post(b"Transfer-Encoding: gzip\r\n", b"hello"),
        400,
    ),
    rejected(
        "transferEncodingIdentityChunked",
        "A transfer coding other than chunked is not implemented: 501.",
        post(b"Transfer-Encoding: identity, chunked\r\n", b"0\r\n\r\n"),
        501,
    ),
    rejected(
        "chunkedInHttp10",
        "Transfer-Encoding in an HTTP/1.0 request: 400.",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    rejected(
        "obsFold",
        "A field value continued on the next line (obs-fold): 400.",
        get(headers=b"X-A: one\r\n two\r\n"),
        400,
    ),
    rejected(
        "bareLF",
        "Lines ending in a bare LF: 400.",
        b"GET / HTTP/1.1\nHost: example.com\n\n",
        400,
    ),
    rejected(
        "controlCharacterInValue",
        "A control character in a field value: 400.",
        get(headers=b"X-A: a\x01b\r\n"),
        400,
    ),
    rejected(
        "deleteInValue",
        "DEL in a field value: 400.",
        get(headers=b"X-A: a\x7fb\r\n"),
        400,
    ),
    rejected(
        "nulInValue",
        "NUL in a field value: 400.",
        get(headers=b"X-A: a\x00b\r\n"),
        400,
    ),
    rejected(
        "bareCRInValue",
        "A bare CR in a field value: 400.",
        get(headers=b"X-A: a\rb\r\n"),
        400,
    ),
    rejected(
        "spaceBeforeColon",
        "Whitespace between a field name and its colon: 400.",
        get(headers=b"X-A : b\r\n"),
        400,
    ),
    rejected(
        "requestLineTooLong",
        "A request line over 8 KiB: 414.",
        get(b"/" + b"a" * 9000),
        414,
    ),
    rejected(
        "headerSectionTooLarge",
        "A header section over 64 KiB: 431.",
        get(headers=b"X-Big: " + b"a" * 70000 + b"\r\n"),
        431,
    ),
    rejected(
        "tooManyFields",
        "More than 100 header fields: 431.",
        get(headers=manyFields(100)),
        431,
    ),
    rejected(
        "http12",
        "HTTP/1.2 is not a version proxykit speaks: 505.",
        b"GET / HTTP/1.2\r\nHost: example.com\r\n\r\n",
        505,
    ),
    rejected(
        "http20",
        "HTTP/2.0 in an HTTP/1 request line: 505.",
        b"GET / HTTP/2.0\r\nHost: example.com\r\n\r\n",
        505,
    ),
    rejected(
        "http2Preface",
        "The HTTP/2 connection preface: 505.",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        505,
    ),
    rejected(
        "http09",
        "An HTTP/0.9 simple request: 400.",
        b"GET /\r\n\r\n",
        400,
    ),
    rejected(
        "http09LineAlone",
        "An HTTP/0.9 request line with nothing after it, as an HTTP/0.9 "
        "client sends it before waiting for an answer: 400 at once (not "
        "after the idle timeout), however the line is split across reads.",
        b"GET /index.html\r\n",
        400,
    ),
    rejected(
        "http09BareLF",
        "An HTTP/0.9 line ended by a bare LF, nothing after it: 400 at once.",
        b"GET /\n",
        400,
    ),
    rejected(
        "http09WithFields",
        "An HTTP/0.9 line followed by field lines, the head not yet ended: "
        "400 at once.",
        b"GET /\r\nHost: example.com\r\n",
        400,
    ),
    requestCase(
        "http09AfterRequest",
        "An HTTP/0.9 line pipelined after a complete request: the request, "
        "then 400 (llhttp still reports the first request's version).",
        get() + b"GET /next\r\n",
        [request(method=b"GET", target=b"/"), end(), error(400)],
    ),
    requestCase(
        "fieldEndingLikeRequestLine",
        "A header line ending with the method and target of its own request "
        "line is not taken for an HTTP/0.9 line: the head just goes on.",
        b"GET / HTTP/1.1\r\nX-A: GET /\r\n",
        [],
    ),
    rejected(
        "unknownMethod",
        "A well-formed request line with a method proxykit does not know: 501, "
        "however the line is split across reads.",
        b"FOO / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        501,
    ),
    rejected(
        "tlsClientHello",
        "A TLS handshake sent to the plain HTTP port is garbage: 400.",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32,
        400,
    ),
    rejected(
        "garbageRequestLine",
        "A request line that is not token SP target SP version: 400.",
        b"@@@ / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        400,
    ),
    rejected(
        "missingHost",
        "An HTTP/1.1 request without Host: 400.",
        b"GET / HTTP/1.1\r\n\r\n",
        400,
    ),
    rejected(
        "twoHosts",
        "Two Host fields: 400.",
        get(headers=b"Host: other.example\r\n"),
        400,
    ),
    rejected(
        "fragmentInTarget",
        "A fragment in the request target: 400.",
        get(b"/page#section"),
        400,
    ),
    requestCase(
        "oversizedChunkSize",
        "A chunk size too large to represent: 400, after the head when the "
        "size arrives after it, instead of the head when they arrive together.",
        post(b"Transfer-Encoding: chunked\r\n", b"ffffffffffffffffffff\r\n"),
        [request(framing=Framing.CHUNKED), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "chunkSizeHexPrefixTogether",
        "Chunk size 0x5 sent with the head: 400 before the head is "
        "delivered (after it when the size arrives later).",
        post(b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "chunkSizeMinusTogether",
        "Chunk size -5 sent with the head: 400 before the head is "
        "delivered (after it when the size arrives later).",
        post(b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "chunkSizeUnderscoreTogether",
        "Chunk size 5_ sent with the head: 400 before the head is "
        "delivered (after it when the size arrives later).",
        post(b"Transfer-Encoding: chunked\r\n", b"5_\r\nhello\r\n0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "chunkSizePlusTogether",
        "Chunk size +5 sent with the head: 400 before the head is "
        "delivered (after it when the size arrives later).",
        post(b"Transfer-Encoding: chunked\r\n", b"+5\r\nhello\r\n0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "chunkLinesBareLFTogether",
        "Chunk lines ended by bare LF sent with the head: 400 before the head "
        "is delivered.",
        post(b"Transfer-Encoding: chunked\r\n", b"5\nhello\n0\n\n"),
        [request(framing=Framing.CHUNKED), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "malformedChunk",
        "Chunk data not followed by CRLF: 400, after the data when it "
        "arrives after the head, instead of the head when all arrive together.",
        post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), data(b"hello"), error(400)],
        whole=[error(400)],
    ),
    requestCase(
        "chunkedWithTabs",
        "Transfer-Encoding:<TAB>chunked<TAB> (optional whitespace, RFC 9110 "
        "section 5.5) is chunked, and the body is read as chunked: the same "
        "framing the request event announces.",
        post(b"Transfer-Encoding:\tchunked\t\r\n", b"5\r\nhello\r\n0\r\n\r\n")
        + get(b"/next"),
        [
            request(framing=Framing.CHUNKED),
            data(b"hello"),
            end(),
            request(target=b"/next"),
            end(),
        ],
    ),
    requestCase(
        "chunkedAfterEmptyElement",
        "Transfer-Encoding: ,chunked (an empty list element first) is chunked, "
        "and the body is read as chunked.",
        post(b"Transfer-Encoding: ,chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
        [request(framing=Framing.CHUNKED), data(b"hello"), end()],
    ),
    requestCase(
        "contentLengthWithTabs",
        "Content-Length:<TAB>5<TAB> is five bytes, read as five bytes.",
        post(b"Content-Length:\t5\t\r\n", b"hello") + get(b"/next"),
        [
            request(framing=Framing.LENGTH, contentLength=5),
            data(b"hello"),
            end(),
            request(target=b"/next"),
            end(),
        ],
    ),
    requestCase(
        "closeThenMore",
        "Bytes after a request with a body and Connection: close are an error "
        "after that request, as after a bodiless one.",
        post(b"Connection: close\r\nContent-Length: 5\r\n", b"hello") + get(),
        [request(keepAlive=False), data(b"hello"), end(), error(400)],
    ),
    requestCase(
        "pipelinedThenMalformed",
        "In a pipeline, the requests before a malformed one are delivered in "
        "full before the error, and nothing after it.",
        get(b"/one") + get(b"/two", b"X-A : b\r\n") + get(b"/three"),
        [request(target=b"/one"), end(), error(400)],
    ),
    Case(
        "closedMidBody",
        "A client that closes in the middle of a request body: 400.",
        post(b"Content-Length: 10\r\n", b"hello"),
        [request(), data(b"hello"), error(400)],
        eof=True,
    ),
    Case(
        "closedMidHead",
        "A client that closes in the middle of a request head: 400.",
        b"GET / HTTP/1.1\r\nHo",
        [error(400)],
        eof=True,
    ),
    Case(
        "closedBetweenRequests",
        "A client that closes between requests causes no error.",
        get(),
        [request(), end()],
        eof=True,
    ),
]


def okResponse(headers: bytes, body: bytes = b"", status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 %s\r\n%s\r\n%s" % (status, headers, body)


RESPONSE_CASES = [
    responseCase(
        "responseContentLength",
        "A response with Content-Length: its body, then the end.",
        okResponse(b"Content-Length: 5\r\nX-A: 1\r\n", b"hello"),
        [
            response(
                status=200,
                version=b"1.1",
                headers=[(b"Content-Length", b"5"), (b"X-A", b"1")],
                framing=Framing.LENGTH,
                contentLength=5,
                keepAlive=True,
                connectionTokens=frozenset(),
            ),
            data(b"hello"),
            end(),
        ],
    ),
    responseCase(
        "responseChunked",
        "A chunked response: its decoded body, then its trailers.",
        okResponse(
            b"Transfer-Encoding: chunked\r\n",
            b"5;x=y\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n",
        ),
        [
            response(framing=Framing.CHUNKED),
            data(b"hello"),
            end([(b"X-Checksum", b"abc")]),
        ],
    ),
    responseCase(
        "responseChunkedWithTabs",
        "A response with Transfer-Encoding:<TAB>chunked<TAB> is chunked and "
        "its body is read as chunked: the framing the response event "
        "announces.",
        okResponse(b"Transfer-Encoding:\tchunked\t\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
        [response(framing=Framing.CHUNKED, keepAlive=True), data(b"hello"), end()],
    ),
    responseCase(
        "responseLengthWithTabs",
        "A response with Content-Length:<TAB>5<TAB>: five bytes.",
        okResponse(b"Content-Length:\t5\t\r\n", b"hello"),
        [response(framing=Framing.LENGTH, contentLength=5), data(b"hello"), end()],
    ),
    responseCase(
        "responseCloseWithBytesAfter",
        "Bytes after a complete response that said Connection: close are an "
        "error.",
        okResponse(b"Connection: close\r\nContent-Length: 5\r\n", b"hello") + b"X",
        [response(keepAlive=False), data(b"hello"), end(), error(502)],
    ),
    responseCase(
        "continueThenChunkedWithTab",
        "A 100 Continue and a final response with a tab after chunked, in one "
        "read: the final body is read as chunked.",
        b"HTTP/1.1 100 Continue\r\n\r\n"
        + okResponse(b"Transfer-Encoding: chunked\t\r\n", b"5\r\nhello\r\n0\r\n\r\n"),
        [
            response(status=100),
            response(status=200, framing=Framing.CHUNKED),
            data(b"hello"),
            end(),
        ],
    ),
    responseCase(
        "responseCloseDelimited",
        "A response without Content-Length or chunked runs until the origin "
        "closes, and the connection cannot be reused.",
        okResponse(b"", b"all of it"),
        [
            response(framing=Framing.CLOSE, keepAlive=False),
            data(b"all of it"),
            end(),
        ],
        eof=True,
    ),
    responseCase(
        "responseClosedMidBody",
        "An origin that closes before the announced length was sent: 502.",
        okResponse(b"Content-Length: 10\r\n", b"hello"),
        [response(), data(b"hello"), error(502)],
        eof=True,
    ),
    responseCase(
        "responseClosedMidHead",
        "An origin that closes in the middle of the head: 502.",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        [error(502)],
        eof=True,
    ),
    responseCase(
        "continueThenFinal",
        "100 Continue is delivered as its own Response, then the final "
        "response follows.",
        b"HTTP/1.1 100 Continue\r\n\r\n" + okResponse(b"Content-Length: 2\r\n", b"ok"),
        [
            response(status=100, framing=Framing.NONE),
            response(status=200, framing=Framing.LENGTH),
            data(b"ok"),
            end(),
        ],
    ),
    responseCase(
        "earlyHints",
        "Several informational responses, with fields, precede the final one.",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n" + okResponse(b"Content-Length: 0\r\n"),
        [
            response(status=103, headers=[(b"Link", b"</a.css>")]),
            response(status=100),
            response(status=200, framing=Framing.NONE),
            end(),
        ],
    ),
    responseCase(
        "noContent",
        "A 204 response has no body.",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        [response(status=204, framing=Framing.NONE), end()],
    ),
    responseCase(
        "notModified",
        "A 304 response has no body, whatever its Content-Length says.",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
        [response(status=304, framing=Framing.NONE), end()],
    ),
    responseCase(
        "headResponse",
        "A response to HEAD ends after its head: its Content-Length describes "
        "the body a GET would have had.",
        okResponse(b"Content-Length: 10\r\n"),
        [response(status=200, framing=Framing.NONE), end()],
        requestMethod=b"HEAD",
    ),
    responseCase(
        "headResponseChunked",
        "A chunked response to HEAD also ends after its head.",
        okResponse(b"Transfer-Encoding: chunked\r\n"),
        [response(framing=Framing.NONE), end()],
        requestMethod=b"HEAD",
    ),
    responseCase(
        "connectRefused",
        "A non-2xx response to CONNECT is an ordinary response with a body.",
        okResponse(b"Content-Length: 6\r\n", b"denied", b"407 Proxy Auth"),
        [response(status=407, framing=Framing.LENGTH), data(b"denied"), end()],
        requestMethod=b"CONNECT",
    ),
    responseCase(
        "http10KeepAliveResponse",
        "An HTTP/1.0 response with Connection: keep-alive and a length lets "
        "the connection persist.",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        [response(version=b"1.0", keepAlive=True), end()],
    ),
    responseCase(
        "responseConnectionClose",
        "A response with Connection: close does not let the connection persist.",
        okResponse(b"Connection: close\r\nContent-Length: 0\r\n"),
        [response(keepAlive=False, connectionTokens=frozenset([b"close"])), end()],
    ),
    responseCase(
        "responseWithoutRequest",
        "Bytes from an origin that was sent no request: 502.",
        okResponse(b"Content-Length: 0\r\n"),
        [error(502)],
        requestMethod=None,
    ),
    responseCase(
        "malformedStatusLine",
        "A status line with a non-numeric status: 502.",
        b"HTTP/1.1 abc OK\r\n\r\n",
        [error(502)],
    ),
    responseCase(
        "notHttp",
        "A reply that is not HTTP at all: 502.",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        [error(502)],
    ),
    responseCase(
        "responseHttp12",
        "A response in an unsupported version: 502.",
        b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
        [error(502)],
    ),
    responseCase(
        "chunkedInHttp10Response",
        "A chunked HTTP/1.0 response: 502.",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        [error(502)],
    ),
    responseCase(
        "gzipResponse",
        "A response whose final transfer coding is not chunked: 502, rather "
        "than guessing it runs until close.",
        okResponse(b"Transfer-Encoding: gzip\r\n", b"hello"),
        [error(502)],
    ),
    responseCase(
        "contentLengthAndChunkedResponse",
        "A response with Content-Length and Transfer-Encoding: 502.",
        okResponse(
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"
        ),
        [error(502)],
    ),
    responseCase(
        "twoContentLengthsResponse",
        "A response with two Content-Length fields, even equal ones: 502.",
        okResponse(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
        [error(502)],
    ),
    responseCase(
        "invalidContentLengthResponse",
        "A response with a signed Content-Length: 502.",
        okResponse(b"Content-Length: +5\r\n", b"hello"),
        [error(502)],
    ),
    responseCase(
        "obsFoldResponse",
        "A folded field in a response: 502.",
        okResponse(b"X-A: one\r\n two\r\nContent-Length: 0\r\n"),
        [error(502)],
    ),
    responseCase(
        "tooManyFieldsResponse",
        "A response with more than 100 fields: 502.",
        okResponse(manyFields(101) + b"Content-Length: 0\r\n"),
        [error(502)],
    ),
    responseCase(
        "headerSectionTooLargeResponse",
        "A response header section over 64 KiB: 502.",
        okResponse(b"X-Big: " + b"a" * 70000 + b"\r\nContent-Length: 0\r\n"),
        [error(502)],
    ),
    responseCase(
        "tooManyTrailersResponse",
        "A response with more than 100 trailer fields: 502.",
        okResponse(
            b"Transfer-Encoding: chunked\r\n", b"0\r\n" + manyFields(101) + b"\r\n"
        ),
        [response(framing=Framing.CHUNKED), error(502)],
    ),
]


def tableTests(cases: list[Case]) -> Callable[[type[TableTests]], type[TableTests]]:
    """
    Add a C{test_<name>} method for each case to the decorated class.
    """

    def decorate(cls: type[TableTests]) -> type[TableTests]:
        for case in cases:

            def test(self: TableTests, case: Case = case) -> None:
                self.assertCase(case)

            test.__name__ = "test_" + case.name
            test.__doc__ = case.doc
            assert not hasattr(cls, test.__name__), case.name
            setattr(cls, test.__name__, test)
        return cls

    return decorate


class TableTests(SynchronousTestCase):
    """
    Base for the table-driven tests.
    """

    def assertCase(self, case: Case) -> None:
        """
        The case's bytes give its transcript, fed in one piece and fed in
        small pieces (one byte at a time when short).
        """
        size = 1 if len(case.wire) < 4096 else 1021
        whole = case.expected if case.whole is None else case.whole
        for chunks, how, expected in (
            ([case.wire], "in one piece", whole),
            (pieces(case.wire, size), f"in pieces of {size} bytes", case.expected),
        ):
            steps = transcript(chunks, case.isServer, case.requestMethod, case.eof)
            self.assertEqual(restrict(steps, expected), expected, f"fed {how}")


@tableTests(REQUEST_CASES)
class RequestTableTests(TableTests):
    """
    Requests received by the server role, from L{REQUEST_CASES}.
    """


@tableTests(RESPONSE_CASES)
class ResponseTableTests(TableTests):
    """
    Responses received by the client role, from L{RESPONSE_CASES}.
    """


class RequestTests(SynchronousTestCase):
    """
    Requests: behaviour beyond the table.
    """

    def test_chunkedTwice(self) -> None:
        """
        C{Transfer-Encoding: chunked, chunked} (in one field or two) is
        refused with a client or server error, never parsed.
        """
        for headers in (
            b"Transfer-Encoding: chunked, chunked\r\n",
            b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ):
            steps = transcript([post(headers, b"0\r\n\r\n0\r\n\r\n")])
            self.assertEqual([kind for kind, _ in steps], ["error"], headers)
            status = steps[0][1]["status"]
            assert isinstance(status, int)
            self.assertTrue(400 <= status < 600, status)

    def test_requestId(self) -> None:
        """
        A request carries its C{X-Request-Id} value: C{None} without one,
        empty when the field is repeated (ambiguous), and read again from
        the fields of a rewritten head.  Each request of a connection has
        its own.
        """
        conn = H1Connection(True)
        conn.receiveData(
            get(headers=b"X-Request-Id: abc\r\n")
            + get()
            + get(headers=b"x-request-id: a\r\nX-Request-Id: b\r\n")
        )
        requests = []
        while (event := conn.nextEvent()) is not NEED_DATA:
            if isinstance(event, Request):
                requests.append(event)
        self.assertEqual([r.requestId for r in requests], [b"abc", None, b""])
        first = requests[0]
        self.assertEqual(first.replace(headers=[(b"Host", b"x")]).requestId, None)
        self.assertEqual(
            first.replace(headers=[(b"X-Request-Id", b"z")]).requestId, b"z"
        )
        self.assertEqual(
            first.replace(headers=[(b"X-Request-Id", b"z"), (b"X-Request-Id", b"y")]).requestId,
            b"",
        )
        self.assertEqual(first.replace(target=b"/other").requestId, b"abc")

    def test_connectTrailingData(self) -> None:
        """
        The bytes that arrived in the same read as a CONNECT head are kept in
        C{trailingData} for the tunnel, and no further event comes.
        """
        conn = H1Connection(True)
        conn.receiveData(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
            b"\x16\x03\x01\x00\x05hello"
        )
        steps: list[Step] = []
        drainInto(conn, steps)
        self.assertEqual([kind for kind, _ in steps], ["request", "end"])
        self.assertEqual(conn.trailingData, b"\x16\x03\x01\x00\x05hello")
        self.assertFalse(conn.inMessage)

    def test_connectNothingTrailing(self) -> None:
        """
        When the read ends with the CONNECT head, C{trailingData} is empty.
        """
        conn = H1Connection(True)
        for byte in pieces(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 1
        ):
            conn.receiveData(byte)
        steps: list[Step] = []
        drainInto(conn, steps)
        self.assertEqual(
            restrict(steps, [request(method=b"CONNECT"), end()]),
            [request(method=b"CONNECT"), end()],
        )
        self.assertEqual(conn.trailingData, b"")

    def test_requestLineTooLongInPieces(self) -> None:
        """
        A request line that never ends, arriving in small pieces, is refused
        with 414 as soon as it passes 8 KiB.
        """
        conn = H1Connection(True)
        fed, e = feedUntilError(conn, endless(b"GET /", b"a" * 100))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 414)
        self.assertLessEqual(fed, 8192 + 200)

    def test_headerSectionTooLargeInPieces(self) -> None:
        """
        A header field that never ends, arriving in 1 KiB pieces after a
        complete Host field, is refused with 431 before about 72 KiB plus
        one read were buffered.
        """
        conn = H1Connection(True)
        first = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Big: "
        fed, e = feedUntilError(conn, endless(first, b"a" * 1024))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 431)
        self.assertLessEqual(fed, LIMIT + len(first) + 1024)

    def test_firstHeaderFieldTooLargeInPieces(self) -> None:
        """
        When the field that never ends is the first one, the request line
        being short, the answer is still 431 (header section too large), not
        414, and it comes before about 72 KiB plus one read were buffered.
        """
        conn = H1Connection(True)
        first = b"GET / HTTP/1.1\r\nX-Big: "
        fed, e = feedUntilError(conn, endless(first, b"a" * 1024))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 431)
        self.assertLessEqual(fed, LIMIT + len(first) + 1024)

    def test_fieldNameTooLargeInPieces(self) -> None:
        """
        A field name that never ends is refused with 431 too.
        """
        conn = H1Connection(True)
        first = b"GET / HTTP/1.1\r\nHost: example.com\r\n"
        fed, e = feedUntilError(conn, endless(first, b"x" * 1024))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 431)
        self.assertLessEqual(fed, LIMIT + len(first) + 1024)

    def test_manyFieldsInPieces(self) -> None:
        """
        Fields that keep coming, each complete, are refused with 431 as soon
        as the 101st has arrived.
        """
        conn = H1Connection(True)
        first = b"GET / HTTP/1.1\r\nHost: example.com\r\n"
        fed, e = feedUntilError(conn, endless(first, b"X-A: b\r\n"))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 431)
        self.assertEqual(fed, len(first) + 101 * len(b"X-A: b\r\n"))

    def test_trailerFieldTooLargeInPieces(self) -> None:
        """
        A trailer field that never ends, arriving in pieces, is refused with
        431 like a header field is, instead of being buffered without bound.
        """
        conn = H1Connection(True)
        first = post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\nX-Big: ")
        fed, e = feedUntilError(conn, endless(first, b"a" * 1024))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 431)
        self.assertLessEqual(fed, LIMIT + len(first) + 1024)

    def test_headLimitCountsOnlyTheHead(self) -> None:
        """
        The size limit applies to the head alone: a body, or earlier
        requests, that arrived in the same read as the start of the next
        head do not count towards that head.
        """
        small = Limits(maxRequestLine=100, maxHeaderBytes=1000, maxHeaderCount=10)
        wire = post(b"Content-Length: 5000\r\n", b"x" * 5000) + b"GET /next HT"
        steps = transcript([wire, b"TP/1.1\r\nHost: example.com\r\n\r\n"], limits=small)
        expected = [
            request(method=b"POST"),
            data(b"x" * 5000),
            end(),
            request(target=b"/next"),
            end(),
        ]
        self.assertEqual(restrict(steps, expected), expected)

    def test_bodyEndsMidRead(self) -> None:
        """
        A read that holds the end of a Content-Length body (with a CRLF CRLF
        inside it) and a pipelined request whose framing needs optional
        whitespace removed: the body ends where its length says, and the
        next request's chunked body is read as chunked.
        """
        first = post(b"Content-Length: 10\r\n")
        second = post(b"Transfer-Encoding:\tchunked\t\r\n", b"5\r\nhello\r\n0\r\n\r\n")
        for split in (0, 1, 5, 6):
            body = b"ab\r\n\r\ncdef"
            steps = transcript([first + body[:split], body[split:] + second])
            expected = [
                request(framing=Framing.LENGTH, contentLength=10),
                data(body),
                end(),
                request(framing=Framing.CHUNKED),
                data(b"hello"),
                end(),
            ]
            self.assertEqual(restrict(steps, expected), expected, split)

    def test_headEndSplitAcrossReads(self) -> None:
        """
        A head announcing a body whose final CRLF CRLF is split between two
        reads, at every point, with the body in the second: the body is
        read with the framing decided.
        """
        wire = post(b"Transfer-Encoding: chunked\t\r\n", b"5\r\nhello\r\n0\r\n\r\n")
        at = wire.index(b"\r\n\r\n")
        for split in range(at, at + 5):
            steps = transcript([wire[:split], wire[split:]])
            expected = [request(framing=Framing.CHUNKED), data(b"hello"), end()]
            self.assertEqual(restrict(steps, expected), expected, split)

    def test_manyPipelinedRequestsInOneRead(self) -> None:
        """
        A read holding more than the head limit's worth of small pipelined
        requests, the last of them incomplete, delivers all the complete
        ones and then waits for the rest of the last one.
        """
        count = 3000
        wire = get() * count + b"GET /last HT"
        self.assertGreater(len(wire), LIMIT)
        steps = transcript([wire, b"TP/1.1\r\nHost: example.com\r\n\r\n"])
        self.assertEqual(len(steps), 2 * (count + 1))
        self.assertEqual(steps[-2][0], "request")
        self.assertEqual(steps[-2][1]["target"], b"/last")

    def test_manyPipelinedUpgradeRequests(self) -> None:
        """
        A single read full of Upgrade requests (about 60 KiB) is parsed
        without error: the layer's handling of each one does not nest.
        """
        count = 1000
        one = get(headers=b"Connection: upgrade\r\nUpgrade: websocket\r\n")
        conn = H1Connection(True)
        conn.receiveData(one * count)
        requests = 0
        for _ in range(count):
            while conn.hasEvents():
                if isinstance(conn.nextEvent(), Request):
                    requests += 1
            conn.refuseUpgrade()
        self.assertEqual(requests, count)
        self.assertFalse(conn.upgradePending)
        body = post(b"Connection: upgrade\r\nUpgrade: ws\r\nContent-Length: 1\r\n", b"x")
        self.assertEqual(
            [kind for kind, _ in transcript([body * count])], ["request", "data", "end"] * count
        )


class UpgradeTests(SynchronousTestCase):
    """
    A bodiless request asking to switch protocols holds what follows it
    until the response decides.
    """

    def test_accepted(self) -> None:
        """
        After a 101, acceptUpgrade hands over every byte received after the
        request head, including bytes that arrived later, and parsing stops.
        """
        conn = H1Connection(True)
        conn.receiveData(get(headers=b"Connection: upgrade\r\nUpgrade: websocket\r\n") + b"\x81\x05")
        self.assertTrue(conn.nextEvent().upgrade)  # type: ignore[union-attr]
        self.assertIsInstance(conn.nextEvent(), EndOfMessage)
        self.assertTrue(conn.upgradePending)
        conn.receiveData(b"hello")
        self.assertIs(conn.nextEvent(), NEED_DATA)
        self.assertEqual(conn.acceptUpgrade(), b"\x81\x05hello")
        conn.receiveData(get())
        self.assertIs(conn.nextEvent(), NEED_DATA)

    def test_refused(self) -> None:
        """
        After an ordinary response, refuseUpgrade parses what followed as
        HTTP/1.1 requests.
        """
        conn = H1Connection(True)
        conn.receiveData(get(headers=b"Connection: upgrade\r\nUpgrade: h2c\r\n") + get(b"/next"))
        self.assertIsInstance(conn.nextEvent(), Request)
        self.assertIsInstance(conn.nextEvent(), EndOfMessage)
        self.assertIs(conn.nextEvent(), NEED_DATA)
        conn.refuseUpgrade()
        self.assertEqual(conn.nextEvent().target, b"/next")  # type: ignore[union-attr]

    def test_responseSwitch(self) -> None:
        """
        Client role: a 101 to a request that asked for it is delivered, and
        the bytes after its head are the new protocol's.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"GET", upgrade=True)
        conn.receiveData(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
            b"Upgrade: websocket\r\n\r\n\x81\x02hi"
        )
        response = conn.nextEvent()
        self.assertEqual(response.status, 101)  # type: ignore[union-attr]
        self.assertIs(conn.nextEvent(), NEED_DATA)
        self.assertEqual(conn.trailingData, b"\x81\x02hi")

    def test_responseNoSwitch(self) -> None:
        """
        Client role: an ordinary response to an upgrade request is parsed as
        usual.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"GET", upgrade=True)
        conn.receiveData(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.assertEqual(conn.nextEvent().status, 200)  # type: ignore[union-attr]
        self.assertIsInstance(conn.nextEvent(), Data)
        self.assertIsInstance(conn.nextEvent(), EndOfMessage)

    def test_errorStopsEverything(self) -> None:
        """
        After a malformed request, further bytes, even a valid request, and
        the end of the connection are ignored: nothing is raised and no
        event comes.
        """
        conn = H1Connection(True)
        conn.receiveData(get(headers=b"X-A : b\r\n"))
        self.assertTrue(conn.hasEvents())
        self.assertRaises(ProtocolError, conn.nextEvent)
        conn.receiveData(get())
        conn.receiveEOF()
        self.assertFalse(conn.hasEvents())
        self.assertIs(conn.nextEvent(), NEED_DATA)
        self.assertFalse(conn.inMessage)

    def test_inMessage(self) -> None:
        """
        C{inMessage} is true from the first byte of a request until its end,
        and C{hasEvents} tells whether C{nextEvent} has something.
        """
        conn = H1Connection(True)
        self.assertFalse(conn.inMessage)
        self.assertFalse(conn.hasEvents())
        conn.receiveData(b"POST / HTTP/1.1\r\n")
        self.assertTrue(conn.inMessage)
        self.assertFalse(conn.hasEvents())
        conn.receiveData(b"Host: example.com\r\nContent-Length: 4\r\n\r\nab")
        self.assertTrue(conn.inMessage)
        self.assertTrue(conn.hasEvents())
        conn.receiveData(b"cd")
        self.assertFalse(conn.inMessage)
        steps: list[Step] = []
        drainInto(conn, steps)
        self.assertEqual([kind for kind, _ in steps], ["request", "data", "end"])
        self.assertFalse(conn.hasEvents())

    def test_errorIsOrderedAfterEvents(self) -> None:
        """
        An error is raised only once the events before it were taken: the
        earlier request of the same read is answered first.
        """
        conn = H1Connection(True)
        conn.receiveData(
            get(b"/one") + b"GET /two HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
        )
        first = conn.nextEvent()
        assert isinstance(first, Request)
        self.assertEqual(first.target, b"/one")
        self.assertIsInstance(conn.nextEvent(), EndOfMessage)
        e = self.assertRaises(ProtocolError, conn.nextEvent)
        self.assertEqual(e.status, 400)
        self.assertIs(conn.nextEvent(), NEED_DATA)


class ResponseTests(SynchronousTestCase):
    """
    Responses: behaviour beyond the table.
    """

    headResponse = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"

    def receiveHead(self, chunks: list[bytes]) -> tuple[H1Connection, list[Step]]:
        """
        Feed C{chunks} as the answer to a HEAD request.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"HEAD")
        steps: list[Step] = []
        for chunk in chunks:
            conn.receiveData(chunk)
            drainInto(conn, steps)
        return conn, steps

    def test_headResponseReusable(self) -> None:
        """
        After a response to HEAD and nothing else, the connection can carry
        another request, whether the head came in one read or several.
        """
        for size in (len(self.headResponse), 7, 1):
            conn, steps = self.receiveHead(pieces(self.headResponse, size))
            self.assertEqual([kind for kind, _ in steps], ["response", "end"])
            self.assertTrue(conn.reusableAfterHead, f"pieces of {size} bytes")
            self.assertFalse(conn.inMessage)
            self.assertFalse(conn.hasEvents())

    def test_headResponseAfterInformational(self) -> None:
        """
        An informational response before the response to HEAD does not make
        the connection look unusable, however the bytes are split.
        """
        wire = b"HTTP/1.1 100 Continue\r\n\r\n" + self.headResponse
        for size in (len(wire), 7, 1):
            conn, steps = self.receiveHead(pieces(wire, size))
            self.assertEqual(
                [kind for kind, _ in steps], ["response", "response", "end"]
            )
            self.assertTrue(conn.reusableAfterHead, f"pieces of {size} bytes")

    def test_headResponseFollowedByBody(self) -> None:
        """
        When body bytes follow a response to HEAD in the same read, the
        origin sent a body it should not have: the events end with the head,
        and the connection is not reused.
        """
        conn, steps = self.receiveHead([self.headResponse + b"0123456789"])
        self.assertEqual(
            restrict(steps, [response(framing=Framing.NONE), end()]),
            [response(framing=Framing.NONE), end()],
        )
        self.assertFalse(conn.reusableAfterHead)

    def test_headResponseFollowedByResponse(self) -> None:
        """
        When a whole second response follows a response to HEAD in the same
        read, the connection is not reused either (nothing may follow).
        """
        conn, steps = self.receiveHead(
            [self.headResponse + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
        )
        self.assertEqual([kind for kind, _ in steps], ["response", "end"])
        self.assertFalse(conn.reusableAfterHead)

    def test_afterHeadResponse(self) -> None:
        """
        After a response to HEAD, the response to a following GET is parsed
        with its body.
        """
        conn, steps = self.receiveHead([self.headResponse])
        conn.expectResponse(b"GET")
        conn.receiveData(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
        drainInto(conn, steps)
        expected = [
            response(framing=Framing.NONE),
            end(),
            response(framing=Framing.LENGTH),
            data(b"abc"),
            end(),
        ]
        self.assertEqual(restrict(steps, expected), expected)
        self.assertTrue(conn.reusableAfterHead)

    def test_reasonPhrase(self) -> None:
        """
        The reason phrase is reported as received, also when the status line
        is split across reads.
        """
        wire = b"HTTP/1.1 404 Not Quite Found\r\nContent-Length: 0\r\n\r\n"
        for size in (len(wire), 20, 1):
            steps = transcript(pieces(wire, size), isServer=False)
            expected = [response(status=404, reason=b"Not Quite Found"), end()]
            self.assertEqual(restrict(steps, expected), expected, f"pieces of {size}")

    def test_reasonPhraseOfEachResponse(self) -> None:
        """
        Each response has its own reason phrase: a final response without one
        (with or without the space before it) does not inherit that of the
        informational response before it.
        """
        for statusLine in (b"HTTP/1.1 200 \r\n", b"HTTP/1.1 200\r\n"):
            steps = transcript(
                [
                    b"HTTP/1.1 100 Continue\r\n\r\n"
                    + statusLine
                    + b"Content-Length: 0\r\n\r\n"
                ],
                isServer=False,
            )
            expected = [response(reason=b"Continue"), response(reason=b""), end()]
            self.assertEqual(restrict(steps, expected), expected, statusLine)

    def test_unrequestedSwitchingProtocols(self) -> None:
        """
        A 101 response to a request that asked for no upgrade is an error
        (502), and no final response or body is delivered.
        """
        steps = transcript(
            [
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
                b"Upgrade: websocket\r\n\r\n\x81\x05hello"
            ],
            isServer=False,
        )
        self.assertEqual(steps[-1], error(502))
        for kind, fields in steps[:-1]:
            self.assertEqual(kind, "response")
            self.assertEqual(fields["status"], 101)

    def test_connectResponseEndsAtHead(self) -> None:
        """
        A 2xx response to CONNECT has no body (L{Framing.NONE}): it ends
        right after its head, and the bytes after it belong to the tunnel
        (C{trailingData}), not to a body.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"CONNECT")
        conn.receiveData(b"HTTP/1.1 200 Connection Established\r\n\r\ntunnel bytes")
        steps: list[Step] = []
        drainInto(conn, steps)
        expected = [response(status=200, framing=Framing.NONE), end()]
        self.assertEqual(restrict(steps, expected), expected)
        self.assertEqual(conn.trailingData, b"tunnel bytes")
        self.assertFalse(conn.inMessage)

    def test_emptyReadAfterResponse(self) -> None:
        """
        Receiving no bytes is not receiving a response: after a complete
        response, C{receiveData(b"")} is no error.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"GET")
        steps: list[Step] = []
        for chunk in (b"", okResponse(b"Content-Length: 2\r\n", b"ok"), b""):
            conn.receiveData(chunk)
            drainInto(conn, steps)
        self.assertEqual([kind for kind, _ in steps], ["response", "data", "end"])

    def test_trailerFieldTooLargeInPieces(self) -> None:
        """
        A response trailer field that never ends is refused with 502 before
        about 72 KiB plus one read were buffered.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"GET")
        first = okResponse(b"Transfer-Encoding: chunked\r\n", b"0\r\nX-Big: ")
        fed, e = feedUntilError(conn, endless(first, b"a" * 1024))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 502)
        self.assertLessEqual(fed, LIMIT + len(first) + 1024)

    def test_headerFieldTooLargeInPieces(self) -> None:
        """
        A response header field that never ends is refused with 502 before
        about 72 KiB plus one read were buffered.
        """
        conn = H1Connection(False)
        conn.expectResponse(b"GET")
        first = b"HTTP/1.1 200 OK\r\nX-Big: "
        fed, e = feedUntilError(conn, endless(first, b"a" * 1024))
        self.assertIsNotNone(e, f"no error after {fed} bytes")
        assert e is not None
        self.assertEqual(e.status, 502)
        self.assertLessEqual(fed, LIMIT + len(first) + 1024)


class ImportTests(SynchronousTestCase):
    """
    Tests for the dependencies of L{proxykit.h1}.
    """

    def test_noTwisted(self) -> None:
        """
        Importing C{proxykit.h1} imports nothing from Twisted: the message
        layer is sans-IO.

        C{proxykit/__init__.py} itself imports Twisted, so a fresh
        interpreter first registers a bare C{proxykit} package (a module
        whose C{__path__} is the C{proxykit} directory) in C{sys.modules};
        C{import proxykit.h1} then runs only C{proxykit/h1/__init__.py} and
        what it imports.
        """
        code = "\n".join(
            [
                "import sys, types",
                "package = types.ModuleType('proxykit')",
                "package.__path__ = [sys.argv[1]]",
                "sys.modules['proxykit'] = package",
                "import proxykit.h1",
                "assert proxykit.h1.H1Connection",
                "print(any(m == 'twisted' or m.startswith('twisted.')"
                " for m in sys.modules))",
            ]
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(ROOT / "proxykit")],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        self.assertEqual(
            (result.returncode, result.stdout.strip()),
            (0, b"False"),
            result.stderr.decode("utf-8", "replace"),
        )


# Property tests

VALID_REQUESTS = [
    get(),
    get(b"http://example.com/a?b", b"Connection: close\r\nX-A: 1 \r\n"),
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    post(b"Content-Length: 5\r\n", b"hello") + get(b"/next"),
    post(
        b"Transfer-Encoding: chunked\r\n",
        b"5;a=b\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
    ),
    post(b"Expect: 100-continue\r\nContent-Length: 2\r\n", b"hi"),
    post(b"Connection: upgrade\r\nUpgrade: ws\r\nContent-Length: 3\r\n", b"abc")
    + get(b"/after"),
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\ntunnel",
]

VALID_RESPONSES = [
    (b"GET", okResponse(b"Content-Length: 5\r\n", b"hello")),
    (
        b"GET",
        okResponse(
            b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
        ),
    ),
    (b"GET", okResponse(b"X-A: b\r\n", b"until close")),
    (b"POST", b"HTTP/1.1 100 Continue\r\n\r\n" + okResponse(b"Content-Length: 0\r\n")),
    (b"HEAD", okResponse(b"Content-Length: 10\r\n")),
    (b"GET", b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"),
    (b"GET", b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\nno"),
]

REQUEST_STATUSES = frozenset([400, 414, 417, 431, 501, 505])

propertySettings = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def mutated(draw: st.DrawFn, messages: list[bytes]) -> bytes:
    """
    One of C{messages} with a few bytes flipped, inserted or deleted.
    """
    wire = bytearray(draw(st.sampled_from(messages)))
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["flip", "insert", "delete"]),
                st.integers(min_value=0),
                st.sampled_from(
                    [0, 9, 10, 13, 32, 34, 35, 44, 48, 58, 59, 127, 255]
                    + list(range(65, 70))
                ),
            ),
            min_size=1,
            max_size=4,
        )
    )
    for what, where, byte in edits:
        if not wire:
            wire.append(byte)
            continue
        where %= len(wire)
        if what == "flip":
            wire[where] = byte
        elif what == "insert":
            wire.insert(where, byte)
        else:
            del wire[where]
    return bytes(wire)


def split(wire: bytes, points: list[int]) -> list[bytes]:
    """
    Cut C{wire} at C{points} (taken modulo its length), into non-empty
    pieces.
    """
    if not wire:
        return []
    cuts = sorted({point % len(wire) for point in points} - {0})
    bounds = [0, *cuts, len(wire)]
    return [wire[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


class PropertyTests(SynchronousTestCase):
    """
    Properties over generated input.
    """

    @propertySettings
    @given(
        method=st.sampled_from([None, b"GET", b"HEAD", b"CONNECT", b"POST"]),
        wire=st.one_of(
            st.binary(max_size=300),
            mutated(VALID_REQUESTS),
            mutated([wire for _, wire in VALID_RESPONSES]),
        ),
        points=st.lists(st.integers(min_value=0), max_size=6),
        eof=st.booleans(),
    )
    def test_onlyProtocolErrors(
        self, method: bytes | None, wire: bytes, points: list[int], eof: bool
    ) -> None:
        """
        Whatever bytes arrive, however split, C{receiveData} and
        C{receiveEOF} never raise, C{nextEvent} raises nothing but a
        L{ProtocolError} with a status fit for the role, and after that error
        no event ever comes.
        """
        isServer = method is None
        conn = H1Connection(isServer)
        if method is not None:
            conn.expectResponse(method)
        failed = False

        def drain() -> None:
            nonlocal failed
            while True:
                try:
                    event = conn.nextEvent()
                except ProtocolError as e:
                    self.assertFalse(failed, "two errors")
                    failed = True
                    if isServer:
                        self.assertIn(e.status, REQUEST_STATUSES)
                    else:
                        self.assertEqual(e.status, 502)
                    continue
                if event is NEED_DATA:
                    return
                self.assertFalse(failed, f"{event!r} after an error")
                self.assertIsInstance(event, (Request, Response, Data, EndOfMessage))
                if isinstance(event, EndOfMessage) and not isServer:
                    conn.expectResponse(b"GET")

        for chunk in split(wire, points):
            conn.receiveData(chunk)
            drain()
        if eof:
            conn.receiveEOF()
            drain()
        if failed:
            conn.receiveData(wire)
            conn.receiveEOF()
            self.assertIs(conn.nextEvent(), NEED_DATA)

    @propertySettings
    @given(
        case=st.one_of(
            st.tuples(st.none(), st.sampled_from(VALID_REQUESTS)),
            st.sampled_from(VALID_RESPONSES),
        ),
        points=st.lists(st.integers(min_value=0), min_size=1, max_size=8),
    )
    def test_splitDoesNotMatter(
        self, case: tuple[bytes | None, bytes], points: list[int]
    ) -> None:
        """
        A valid message gives the same events, attribute for attribute,
        whether it arrives in one piece or split at any points.
        """
        method, wire = case
        isServer = method is None
        whole = transcript([wire], isServer, method, eof=True)
        self.assertNotIn("error", [kind for kind, _ in whole])
        self.assertEqual(
            transcript(split(wire, points), isServer, method, eof=True), whole
        )


class HostValueTests(SynchronousTestCase):
    """
    RFC 9112 section 3.2: an invalid Host value gets 400.
    """

    def test_invalidHost(self) -> None:
        """
        Spaces, slashes, userinfo and stray colons are not a host.
        """
        for value in (b"a b", b"a/b", b"user@a", b"a:b", b"[::1", b"a\\b"):
            conn = H1Connection(True)
            conn.receiveData(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n")
            with self.assertRaises(ProtocolError, msg=repr(value)) as caught:
                conn.nextEvent()
            self.assertEqual(caught.exception.status, 400)

    def test_validHost(self) -> None:
        """
        Names, ports, IP literals and the empty value are accepted.
        """
        for value in (b"example.com", b"example.com:8080", b"[::1]:80", b"192.0.2.1", b""):
            conn = H1Connection(True)
            conn.receiveData(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n")
            self.assertEqual(conn.nextEvent().host, value)  # type: ignore[union-attr]


def _head() -> Request:
    """
    A request head as the layer reads it: a GET with C{Host} and a
    C{Via} field.
    """
    conn = H1Connection(True)
    conn.receiveData(b"GET /a HTTP/1.1\r\nHost: a.test\r\nVia: 1.1 p\r\n\r\n")
    event = conn.nextEvent()
    assert isinstance(event, Request)
    return event


class ReplaceTests(SynchronousTestCase):
    """
    L{Request.replace} and L{checkFields}: a malformed target or field,
    of the wrong type as well as with the wrong bytes, is a C{ValueError}
    in both builds (the compiled build's own argument checks would raise
    C{TypeError}).
    """

    BAD_FIELDS: list[object] = [
        [(b"X", "text")],
        [("X", b"v")],
        [(b"X", 1)],
        [(b"X",)],
        [(b"X", b"v", b"w")],
        [b"X: v"],
        [[b"X", b"v"]],
        [None],
        [(b"Bad Name", b"v")],
        [(b"X", b"a\r\nB: c")],
        [(b"", b"v")],
    ]
    """Field lists each with one field that is not a (token, value) pair
    of bytes."""

    def test_targetOfWrongType(self) -> None:
        """
        A target that is not bytes (C{str}, C{bytearray}, an C{int}) is
        refused with C{ValueError}.
        """
        head = _head()
        for target in ("/b", bytearray(b"/b"), 1, memoryview(b"/b")):
            with self.assertRaises(ValueError, msg=repr(target)):
                head.replace(target=target)  # type: ignore[call-overload]

    def test_targetMalformed(self) -> None:
        """
        A target with a space, a control character or nothing at all is
        refused with C{ValueError}.
        """
        head = _head()
        for target in (b"/a b", b"/a\r\nX: y", b"", b"/\x00"):
            with self.assertRaises(ValueError, msg=repr(target)):
                head.replace(target=target)

    def test_fieldsMalformed(self) -> None:
        """
        A field that is not a (bytes, bytes) pair, or whose name is not a
        token or whose value holds a control character, is refused with
        C{ValueError}, by L{Request.replace} and by L{checkFields}.
        """
        head = _head()
        for fields in self.BAD_FIELDS:
            with self.assertRaises(ValueError, msg=repr(fields)):
                head.replace(headers=fields)  # type: ignore[call-overload]
            with self.assertRaises(ValueError, msg=repr(fields)):
                checkFields(fields)  # type: ignore[arg-type]
            with self.assertRaises(ValueError, msg=repr(fields)):
                head.replace(target=b"/b", headers=fields)  # type: ignore[call-overload]

    def test_twoHosts(self) -> None:
        """
        Two C{Host} fields, in any case, are refused with C{ValueError}.
        """
        with self.assertRaises(ValueError):
            _head().replace(headers=[(b"Host", b"a"), (b"host", b"b")])

    def test_anyIterableOfFields(self) -> None:
        """
        The new fields may come in any iterable (a tuple, a generator), as
        before the compiled build; the new head holds them in a list.
        """
        head = _head()
        fields = ((b"Host", b"b.test"), (b"X", b"1"))
        for given_ in (fields, iter(fields), list(fields)):
            new = head.replace(headers=given_)  # type: ignore[arg-type]
            self.assertEqual(new.headers, list(fields))
            self.assertEqual(new.host, b"b.test")
        checkFields(list(fields))

    def test_keepsTheRest(self) -> None:
        """
        Without arguments, or with a new target only, the new head has
        this one's target and fields (a copy of them), and both stay
        valid.
        """
        head = _head()
        same = head.replace()
        self.assertEqual(
            (same.method, same.target, same.headers, same.host, same.via),
            (b"GET", b"/a", head.headers, b"a.test", [b"1.1 p"]),
        )
        self.assertIsNot(same.headers, head.headers)
        moved = head.replace(target=b"http://b.test/c")
        self.assertEqual((moved.target, moved.headers), (b"http://b.test/c", head.headers))


class EventClassTests(SynchronousTestCase):
    """
    The event classes as Python code sees them, in both builds.
    """

    def test_subclasses(self) -> None:
        """
        The public event classes and L{Framing} can be subclassed in
        Python.
        """

        class MyRequest(Request):
            pass

        class MyResponse(Response):
            pass

        class MyData(Data):
            pass

        class MyEnd(EndOfMessage):
            pass

        class MyFraming(Framing):
            pass

        request = MyRequest(
            b"GET", b"/", b"1.1", [], Framing.NONE, 0, True, frozenset(), None, False, False
        )
        self.assertEqual((request.target, request.form), (b"/", TargetForm.ORIGIN))
        self.assertIsInstance(request.replace(target=b"/b"), Request)
        response = MyResponse(200, b"OK", b"1.1", [], Framing.LENGTH, 2, True, frozenset())
        self.assertEqual(response.status, 200)
        self.assertEqual(MyData(b"x").data, b"x")
        self.assertEqual(MyEnd([]).trailers, [])
        self.assertEqual(MyFraming.CHUNKED, Framing.CHUNKED)

    def test_noOtherAttributes(self) -> None:
        """
        The events have their fields and no others (C{__slots__}).
        """
        for event in (_head(), Data(b"x"), EndOfMessage([])):
            with self.assertRaises(AttributeError):
                event.other = 1  # type: ignore[union-attr]

    def test_sharedConstants(self) -> None:
        """
        L{NEED_DATA} is one object, returned as it is, and a message
        without trailers ends with L{EMPTY_TRAILERS} itself.
        """
        conn = H1Connection(True)
        self.assertIs(conn.nextEvent(), NEED_DATA)
        self.assertEqual(repr(NEED_DATA), "NEED_DATA")
        conn.receiveData(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertIsInstance(conn.nextEvent(), Request)
        end = conn.nextEvent()
        assert isinstance(end, EndOfMessage)
        self.assertIs(end.trailers, EMPTY_TRAILERS)
        self.assertIs(conn.nextEvent(), NEED_DATA)

    def test_reprs(self) -> None:
        """
        Each event's C{repr} names its kind and its main fields.
        """
        self.assertEqual(repr(_head()), "<Request b'GET' b'/a' HTTP/b'1.1'>")
        self.assertEqual(
            repr(Response(204, b"No Content", b"1.1", [], Framing.NONE, 0, True, frozenset())),
            "<Response 204 HTTP/b'1.1'>",
        )
        self.assertEqual(repr(Data(b"abc")), "<Data 3 bytes>")
        self.assertEqual(repr(EndOfMessage([])), "<EndOfMessage trailers=[]>")
