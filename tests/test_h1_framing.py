"""
Tests for L{proxykit.h1._framing}: the decision of how long a body is, the
field parsers it relies on, and the writers for heads and chunked bodies.

Each table is checked in a single comparison of (row, result) lists, so that
a failure shows every row that disagrees at once.
"""

from __future__ import annotations

from typing import NamedTuple

from twisted.trial.unittest import SynchronousTestCase

from proxykit.h1 import (
    LAST_CHUNK,
    NEED_DATA,
    Data,
    EndOfMessage,
    Framing,
    H1Connection,
    Headers,
    ProtocolError,
    Request,
    Response,
    bodyFraming,
    chunkHeader,
    keepAlive,
    lastChunk,
    parseContentLength,
    requestHead,
    responseHead,
    splitTokens,
)

Outcome = tuple[int, int] | str
"""A C{(framing, length)} pair, or C{"error <status>"}."""


class FramingRow(NamedTuple):
    """
    One call of L{bodyFraming} and its outcome.
    """

    doc: str
    isRequest: bool
    version: bytes
    status: int
    requestMethod: bytes
    contentLengths: list[bytes] | None
    transferEncodings: list[bytes] | None
    expected: Outcome


def requestRow(
    doc: str,
    method: bytes,
    contentLengths: list[bytes] | None,
    transferEncodings: list[bytes] | None,
    expected: Outcome,
    version: bytes = b"1.1",
) -> FramingRow:
    return FramingRow(
        doc, True, version, 0, method, contentLengths, transferEncodings, expected
    )


def responseRow(
    doc: str,
    status: int,
    method: bytes,
    contentLengths: list[bytes] | None,
    transferEncodings: list[bytes] | None,
    expected: Outcome,
    version: bytes = b"1.1",
) -> FramingRow:
    return FramingRow(
        doc, False, version, status, method, contentLengths, transferEncodings, expected
    )


NONE = (Framing.NONE, 0)
CHUNKED = (Framing.CHUNKED, 0)
CLOSE = (Framing.CLOSE, 0)


def length(n: int) -> tuple[int, int]:
    return (Framing.LENGTH, n)


FRAMING_ROWS = [
    # 1. HEAD, 1xx, 204 and 304 responses end with their head.
    responseRow("HEAD response with a length", 200, b"HEAD", [b"10"], None, NONE),
    responseRow("HEAD response, chunked", 200, b"HEAD", None, [b"chunked"], NONE),
    responseRow("HEAD response, neither", 200, b"HEAD", None, None, NONE),
    responseRow("HEAD response, 404 with length", 404, b"HEAD", [b"9"], None, NONE),
    responseRow("100 Continue", 100, b"POST", None, None, NONE),
    responseRow("103 Early Hints", 103, b"GET", None, None, NONE),
    responseRow("101 Switching Protocols", 101, b"GET", None, None, NONE),
    responseRow("204 with a length", 204, b"GET", [b"5"], None, NONE),
    responseRow("304 with a length", 304, b"GET", [b"5"], None, NONE),
    responseRow("304, neither", 304, b"GET", None, None, NONE),
    responseRow("204, chunked", 204, b"GET", None, [b"chunked"], "error 502"),
    responseRow("1xx, chunked", 100, b"GET", None, [b"chunked"], "error 502"),
    # 2. A 2xx response to CONNECT starts a tunnel.
    responseRow("CONNECT 200", 200, b"CONNECT", None, None, NONE),
    responseRow("CONNECT 299 with a length", 299, b"CONNECT", [b"5"], None, NONE),
    responseRow("CONNECT 407 with a length", 407, b"CONNECT", [b"6"], None, length(6)),
    responseRow("CONNECT 502, neither", 502, b"CONNECT", None, None, CLOSE),
    # 3. Content-Length with Transfer-Encoding is refused.
    requestRow("request CL+TE", b"POST", [b"5"], [b"chunked"], "error 400"),
    responseRow("response CL+TE", 200, b"GET", [b"5"], [b"chunked"], "error 502"),
    # Transfer-Encoding needs HTTP/1.1.
    requestRow(
        "HTTP/1.0 request, chunked",
        b"POST",
        None,
        [b"chunked"],
        "error 400",
        version=b"1.0",
    ),
    responseRow(
        "HTTP/1.0 response, chunked",
        200,
        b"GET",
        None,
        [b"chunked"],
        "error 502",
        version=b"1.0",
    ),
    # 4. Chunked as the final (and only) coding.
    requestRow("request, chunked", b"POST", None, [b"chunked"], CHUNKED),
    requestRow("request, Chunked", b"POST", None, [b"Chunked"], CHUNKED),
    responseRow("response, chunked", 200, b"GET", None, [b"chunked"], CHUNKED),
    requestRow("request, gzip", b"POST", None, [b"gzip"], "error 400"),
    requestRow(
        "request, chunked, gzip", b"POST", None, [b"chunked, gzip"], "error 400"
    ),
    requestRow("request, empty coding", b"POST", None, [b""], "error 400"),
    responseRow("response, gzip", 200, b"GET", None, [b"gzip"], "error 502"),
    requestRow(
        "request, gzip, chunked", b"POST", None, [b"gzip", b"chunked"], "error 501"
    ),
    requestRow(
        "request, identity, chunked", b"POST", None, [b"identity, chunked"], "error 501"
    ),
    requestRow(
        "request, chunked, chunked", b"POST", None, [b"chunked, chunked"], "error 501"
    ),
    responseRow(
        "response, gzip, chunked", 200, b"GET", None, [b"gzip, chunked"], "error 502"
    ),
    # 5. An invalid Content-Length is refused.
    requestRow("request, CL +5", b"POST", [b"+5"], None, "error 400"),
    requestRow("request, CL twice", b"POST", [b"5", b"5"], None, "error 400"),
    responseRow("response, CL 1_0", 200, b"GET", [b"1_0"], None, "error 502"),
    responseRow("response, CL twice", 200, b"GET", [b"5", b"6"], None, "error 502"),
    # 6. A valid Content-Length gives the length; 0 means no body.
    requestRow("request, CL 5", b"POST", [b"5"], None, length(5)),
    requestRow("request, CL 0", b"POST", [b"0"], None, NONE),
    requestRow("HEAD request, CL 5", b"HEAD", [b"5"], None, length(5)),
    requestRow(
        "HTTP/1.0 request, CL 3", b"POST", [b"3"], None, length(3), version=b"1.0"
    ),
    responseRow("response, CL 5", 200, b"GET", [b"5"], None, length(5)),
    responseRow("response, CL 0", 200, b"GET", [b"0"], None, NONE),
    requestRow("CONNECT request with a body", b"CONNECT", [b"5"], None, "error 400"),
    requestRow("CONNECT request with Content-Length: 0", b"CONNECT", [b"0"], None, NONE),
    # 7. A request with neither has no body.
    requestRow("GET, neither", b"GET", None, None, NONE),
    requestRow("POST, neither", b"POST", None, None, NONE),
    requestRow("CONNECT, neither", b"CONNECT", None, None, NONE),
    # 8. A response with neither runs until the connection closes.
    responseRow("response, neither", 200, b"GET", None, None, CLOSE),
    responseRow("404, neither", 404, b"POST", None, None, CLOSE),
    responseRow(
        "HTTP/1.0 response, neither", 200, b"GET", None, None, CLOSE, version=b"1.0"
    ),
]


def framingOutcome(row: FramingRow) -> Outcome:
    """
    Call L{bodyFraming} with the row's arguments.
    """
    try:
        return bodyFraming(
            row.isRequest,
            row.version,
            row.status,
            row.requestMethod,
            row.contentLengths,
            row.transferEncodings,
        )
    except ProtocolError as e:
        return f"error {e.status}"


class BodyFramingTests(SynchronousTestCase):
    """
    Tests for L{bodyFraming}, RFC 9112 section 6.3 rule by rule.
    """

    def test_table(self) -> None:
        """
        Every rule of RFC 9112 section 6.3 as proxykit applies it: bodiless
        statuses and responses to HEAD end with the head, a 2xx to CONNECT
        starts a tunnel, Content-Length with Transfer-Encoding is refused,
        Transfer-Encoding needs HTTP/1.1 and chunked as its only coding, a
        valid Content-Length gives the length (0 meaning no body), a request
        without either has no body and a response without either runs until
        close.  Requests are refused with 400 or 501, responses with 502.
        """
        self.assertEqual(
            [(row.doc, framingOutcome(row)) for row in FRAMING_ROWS],
            [(row.doc, row.expected) for row in FRAMING_ROWS],
        )

    def test_errorsAreFixedText(self) -> None:
        """
        The reason of a framing error never contains the peer's bytes.
        """
        marker = b"<script>"
        for call in (
            lambda: bodyFraming(True, b"1.1", 0, b"POST", [marker], None),
            lambda: bodyFraming(True, b"1.1", 0, b"POST", None, [marker]),
            lambda: bodyFraming(False, b"1.1", 200, b"GET", None, [marker]),
        ):
            e = self.assertRaises(ProtocolError, call)
            self.assertNotIn("script", e.reason)
            self.assertNotIn("script", str(e))


class ParseContentLengthTests(SynchronousTestCase):
    """
    Tests for L{parseContentLength}.
    """

    def test_digits(self) -> None:
        """
        A single value of ASCII digits is a length, leading zeros and 18
        digits included.
        """
        self.assertEqual(
            [
                parseContentLength(values)
                for values in (
                    [b"0"],
                    [b"5"],
                    [b"007"],
                    [b"123456789012345678"],
                )
            ],
            [0, 5, 7, 123456789012345678],
        )

    def test_notDigits(self) -> None:
        """
        Anything else, even what Python's C{int} accepts, is refused: no
        value, several values (equal or not), an empty value, a sign,
        separators, other bases, decimals, spaces, non-ASCII digits, and more
        than 18 digits.
        """
        refused = [
            [],
            [b"5", b"5"],
            [b"5", b"6"],
            [b""],
            [b"+5"],
            [b"-1"],
            [b"1_0"],
            [b"0x5"],
            [b"5.0"],
            [b"1e3"],
            [b"5,5"],
            [b" 5"],
            [b"5 "],
            ["\N{ARABIC-INDIC DIGIT THREE}".encode()],
            [b"1234567890123456789"],
        ]
        accepted = []
        for values in refused:
            try:
                parseContentLength(values)
            except ValueError:
                pass
            else:
                accepted.append(values)
        self.assertEqual(accepted, [])


class KeepAliveTests(SynchronousTestCase):
    """
    Tests for L{keepAlive}.
    """

    def test_table(self) -> None:
        """
        HTTP/1.1 persists unless C{close} is given; HTTP/1.0 persists only
        with C{keep-alive}; C{close} always wins.
        """
        rows = [
            (b"1.1", [], True),
            (b"1.1", [b"keep-alive"], True),
            (b"1.1", [b"upgrade"], True),
            (b"1.1", [b"close"], False),
            (b"1.1", [b"keep-alive", b"close"], False),
            (b"1.0", [], False),
            (b"1.0", [b"te"], False),
            (b"1.0", [b"keep-alive"], True),
            (b"1.0", [b"keep-alive", b"close"], False),
        ]
        self.assertEqual(
            [(v, t, keepAlive(v, frozenset(t))) for v, t, _ in rows],
            [(v, t, expected) for v, t, expected in rows],
        )


class SplitTokensTests(SynchronousTestCase):
    """
    Tests for L{splitTokens}.
    """

    def test_table(self) -> None:
        """
        List fields split on commas across all their lines, lower-cased,
        without surrounding spaces or tabs, and without empty elements.
        """
        rows: list[tuple[list[bytes], list[bytes]]] = [
            ([], []),
            ([b""], []),
            ([b"close"], [b"close"]),
            ([b"Keep-Alive, Upgrade"], [b"keep-alive", b"upgrade"]),
            ([b"A,B", b"c"], [b"a", b"b", b"c"]),
            ([b" , ,x ,"], [b"x"]),
            ([b"\tTE\t,  gzip  "], [b"te", b"gzip"]),
        ]
        self.assertEqual(
            [(values, splitTokens(values)) for values, _ in rows],
            rows,
        )


# The writers, checked through the reader.

REQUEST_HEADS: list[tuple[bytes, bytes, Headers]] = [
    (b"GET", b"/", [(b"Host", b"example.com")]),
    (
        b"POST",
        b"http://example.com:8080/a/b?c=d",
        [(b"Host", b"example.com:8080"), (b"Content-Length", b"0")],
    ),
    (b"OPTIONS", b"*", [(b"Host", b"example.com")]),
    (b"CONNECT", b"example.com:443", [(b"Host", b"example.com:443")]),
    (
        b"GET",
        b"/search?q=a%20b",
        [
            (b"host", b"example.com"),
            (b"X-Repeated", b"1"),
            (b"x-repeated", b"2"),
            (b"X-Empty", b""),
            (b"Accept", b"text/html, */*;q=0.8"),
            (b"Connection", b"keep-alive"),
        ],
    ),
]

RESPONSE_HEADS: list[tuple[int, bytes, Headers]] = [
    (200, b"OK", [(b"Content-Length", b"0")]),
    (
        404,
        b"Not Found",
        [(b"content-type", b"text/plain"), (b"Content-Length", b"0")],
    ),
    (204, b"No Content", []),
    (304, b"Not Modified", [(b"ETag", b'"abc"'), (b"X-A", b"1"), (b"X-A", b"2")]),
    (500, b"", [(b"Content-Length", b"0")]),
    (103, b"Early Hints", [(b"Link", b"</style.css>; rel=preload")]),
]


def readRequest(wire: bytes) -> Request:
    """
    Parse C{wire} as a request head and return its L{Request}.
    """
    conn = H1Connection(True)
    conn.receiveData(wire)
    event = conn.nextEvent()
    assert isinstance(event, Request), event
    return event


def readResponse(wire: bytes) -> Response:
    """
    Parse C{wire} as a response head to a GET and return its L{Response}.
    """
    conn = H1Connection(False)
    conn.expectResponse(b"GET")
    conn.receiveData(wire)
    event = conn.nextEvent()
    assert isinstance(event, Response), event
    return event


class WriterTests(SynchronousTestCase):
    """
    Tests for L{requestHead}, L{responseHead}, L{chunkHeader} and
    L{lastChunk}: what they write reads back as what was written.
    """

    def test_requestHeadRoundTrip(self) -> None:
        """
        A request head written by L{requestHead} reads back as an HTTP/1.1
        request with the same method, target and header fields, in order.
        """
        self.assertEqual(
            [
                (lambda r: (r.method, r.target, r.version, r.headers))(
                    readRequest(requestHead(method, target, headers))
                )
                for method, target, headers in REQUEST_HEADS
            ],
            [
                (method, target, b"1.1", headers)
                for method, target, headers in REQUEST_HEADS
            ],
        )

    def test_responseHeadRoundTrip(self) -> None:
        """
        A response head written by L{responseHead} reads back as an HTTP/1.1
        response with the same status, reason and header fields, in order.
        """
        self.assertEqual(
            [
                (lambda r: (r.status, r.reason, r.version, r.headers))(
                    readResponse(responseHead(status, reason, headers))
                )
                for status, reason, headers in RESPONSE_HEADS
            ],
            [
                (status, reason, b"1.1", headers)
                for status, reason, headers in RESPONSE_HEADS
            ],
        )

    def test_exactBytes(self) -> None:
        """
        The heads are written as RFC 9112 spells them: one space between
        the parts, C{name: value} fields, CRLF line ends, an empty line at
        the end.
        """
        self.assertEqual(
            requestHead(b"GET", b"/a", [(b"Host", b"h"), (b"X-A", b"1")]),
            b"GET /a HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\r\n",
        )
        self.assertEqual(
            responseHead(200, b"OK", [(b"Content-Length", b"0")]),
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        )
        self.assertEqual(
            responseHead(204, b"No Content", []), b"HTTP/1.1 204 No Content\r\n\r\n"
        )

    def test_manyStatusLines(self) -> None:
        """
        L{responseHead} writes the right status line for every status and
        reason, also past the number it remembers.
        """
        pairs = [(200 + i % 300, b"Reason %d" % (i,)) for i in range(600)]
        for _ in range(2):
            self.assertEqual(
                [responseHead(status, reason, [])[:-4] for status, reason in pairs],
                [b"HTTP/1.1 %d %s" % pair for pair in pairs],
            )

    def test_chunkedRoundTrip(self) -> None:
        """
        A body written with L{chunkHeader} and L{lastChunk} reads back as the
        same bytes and trailers.
        """
        chunks = [b"a", b"0123456789abcdef", b"x" * 4096, b"\r\n0\r\n\r\n"]
        for trailers in ([], [(b"X-Checksum", b"abc"), (b"X-Other", b"")]):
            wire = requestHead(
                b"POST",
                b"/",
                [(b"Host", b"example.com"), (b"Transfer-Encoding", b"chunked")],
            )
            for chunk in chunks:
                wire += chunkHeader(len(chunk)) + chunk + b"\r\n"
            wire += lastChunk(trailers)
            conn = H1Connection(True)
            conn.receiveData(wire)
            events = []
            while True:
                event = conn.nextEvent()
                if event is NEED_DATA:
                    break
                events.append(event)
            body = b"".join(e.data for e in events if isinstance(e, Data))
            last = events[-1]
            assert isinstance(last, EndOfMessage)
            self.assertEqual(
                (body, last.trailers, conn.inMessage),
                (b"".join(chunks), trailers, False),
            )

    def test_chunkHeader(self) -> None:
        """
        The chunk size is written in hexadecimal.
        """
        self.assertEqual(
            [chunkHeader(n) for n in (1, 15, 16, 4096, 65535)],
            [b"1\r\n", b"f\r\n", b"10\r\n", b"1000\r\n", b"ffff\r\n"],
        )

    def test_lastChunk(self) -> None:
        """
        Without trailers the last chunk is L{LAST_CHUNK}; with them, each is
        written as a field before the final empty line.
        """
        self.assertEqual(LAST_CHUNK, b"0\r\n\r\n")
        self.assertEqual(lastChunk([]), LAST_CHUNK)
        self.assertEqual(
            lastChunk([(b"X-A", b"1"), (b"X-B", b"2")]),
            b"0\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
        )
