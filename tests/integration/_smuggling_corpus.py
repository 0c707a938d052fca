"""
The request-smuggling and malformed-message corpus, as data.

L{REQUEST_CASES} are raw bytes a client sends to the proxy, each with the
outcome expected in forward mode and in reverse mode; L{RESPONSE_CASES} are
raw bytes an origin answers with.  L{tests.integration.test_smuggling} runs
every case against a real proxy, a raw client and a recording origin.

Request bytes are templates, made concrete for a mode by L{render}:

  - C{{T}}: what comes before the path in a request-target: the origin's
    C{http://127.0.0.1:PORT} in forward mode (absolute-form), nothing in
    reverse mode (origin-form);
  - C{{A}}: an absolute-form prefix in both modes: C{http://127.0.0.1:PORT}
    (forward), C{http://app.example.test} (reverse);
  - C{{H}}: the C{Host} a well-behaved client sends: C{127.0.0.1:PORT}
    (forward), C{app.example.test} (reverse);
  - C{{CL}}: the decimal length of the body that follows the head it is in,
    up to the next C{{END}} (removed) or the end of the bytes;
  - C{{SZ}}: the hex length of the chunk data that follows C{{SZ}}CRLF, up to
    the next C{{END}} (removed).

Lengths are computed after the other substitutions, so that a body holding
a whole request (C{SMUGGLED}) is framed exactly in both modes.

Any request a case hides inside another one targets C{/smuggled}: the origin
must never see a request for it, whatever the case.
"""

from __future__ import annotations

from dataclasses import dataclass

Statuses = tuple[int, ...]
"""The statuses acceptable for one response (usually just one)."""


@dataclass(frozen=True)
class Outcome:
    """
    What a client and the origin should see for one case in one mode.

    @ivar responses: The final statuses the client receives, in order; each
        entry lists the statuses acceptable there.  Empty: the connection is
        closed without any response.
    @ivar originRequests: How many complete requests the origin receives.
    @ivar closed: The proxy must close the client connection after the
        responses (every framing error: the rest of the stream cannot be
        trusted).
    @ivar originBodies: If given, the bodies of the requests the origin
        receives, in order.
    @ivar originHost: If given (a template), the C{Host} of every request
        the origin receives.
    @ivar restIsBody: The origin receives one request whose body is every
        byte the client sent after the first head, unchanged.
    @ivar originConnections: If given, how many connections the origin
        accepts: 0 when the bytes sent already show the request is bad, which
        is then refused before any origin is contacted.
    """

    responses: tuple[Statuses, ...]
    originRequests: int
    closed: bool
    originBodies: tuple[bytes, ...] | None = None
    originHost: bytes | None = None
    restIsBody: bool = False
    originConnections: int | None = None


@dataclass(frozen=True)
class RequestCase:
    """
    Bytes a client sends, and what must come of them.

    @ivar name: Names the test methods (C{test_<name>}).
    @ivar description: What the case shows, in user terms.
    @ivar rule: The rule that decides the outcome (RFC section).
    @ivar wire: The client's bytes, a template (see L{render}).
    @ivar forward: The outcome in forward mode, or C{None} if the case does
        not apply there.
    @ivar reverse: The outcome in reverse mode, or C{None}.
    """

    name: str
    description: str
    rule: str
    wire: bytes
    forward: Outcome | None
    reverse: Outcome | None

    def outcome(self, mode: str) -> Outcome | None:
        """
        The outcome for C{mode} (C{"forward"} or C{"reverse"}).
        """
        return self.forward if mode == "forward" else self.reverse


@dataclass(frozen=True)
class ResponseCase:
    """
    Bytes an origin answers the first request on its first connection with.

    @ivar name: Names the test methods (C{test_<name>}).
    @ivar description: What the case shows, in user terms.
    @ivar rule: The rule that decides the outcome.
    @ivar response: The origin's bytes.
    @ivar status: The status the client receives.
    @ivar truncated: The response head went out before the problem showed:
        the client sees the head, an incomplete body and a closed
        connection.
    @ivar body: If given, the body the client receives.
    @ivar method: The method of the client's request.
    @ivar dropped: The origin connection must not be reused (its framing is
        in doubt); C{False} for a response that is well framed after all.
    """

    name: str
    description: str
    rule: str
    response: bytes
    status: int = 502
    truncated: bool = False
    body: bytes | None = None
    method: bytes = b"GET"
    dropped: bool = True


@dataclass(frozen=True)
class Tokens:
    """
    The values of the template tokens in one mode (see the module
    docstring).
    """

    target: bytes
    absolute: bytes
    host: bytes


def render(template: bytes, tokens: Tokens) -> bytes:
    """
    Make a template concrete (see the module docstring).
    """
    wire = (
        template.replace(b"{T}", tokens.target)
        .replace(b"{A}", tokens.absolute)
        .replace(b"{H}", tokens.host)
    )
    while True:
        at = wire.find(b"{SZ}\r\n")
        if at < 0:
            break
        start = at + len(b"{SZ}\r\n")
        end = wire.index(b"{END}", start)
        size = b"%x" % (end - start,)
        wire = wire[:at] + size + wire[at + 4 : end] + wire[end + 5 :]
    while True:
        at = wire.find(b"{CL}")
        if at < 0:
            break
        start = wire.index(b"\r\n\r\n", at) + 4
        end = wire.find(b"{END}", start)
        if end < 0:
            length = len(wire) - start
            rest = wire[start:]
        else:
            length = end - start
            rest = wire[start:end] + wire[end + 5 :]
        wire = wire[:at] + b"%d" % (length,) + wire[at + 4 : start] + rest
    return wire


# Building blocks


def get(path: bytes = b"/", fields: bytes = b"", version: bytes = b"1.1") -> bytes:
    """
    A GET request for C{path} with C{Host} and C{fields} (CRLF-terminated
    lines).
    """
    return (
        b"GET {T}" + path + b" HTTP/" + version + b"\r\nHost: {H}\r\n" + fields + b"\r\n"
    )


def post(fields: bytes, body: bytes = b"", path: bytes = b"/") -> bytes:
    """
    A POST request with C{Host}, C{fields} and C{body} as given (no framing
    field is added).
    """
    return b"POST {T}" + path + b" HTTP/1.1\r\nHost: {H}\r\n" + fields + b"\r\n" + body


SMUGGLED = get(b"/smuggled")
"""A complete request a case hides; it must never reach the origin."""

CHUNKED = b"Transfer-Encoding: chunked\r\n"
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"
"""A chunked body carrying C{hello}."""


def many(count: int) -> bytes:
    """
    C{count} distinct header field lines.
    """
    return b"".join(b"X-Field-%d: v\r\n" % (i,) for i in range(count))


def ok(
    count: int = 1,
    bodies: tuple[bytes, ...] | None = None,
    host: bytes | None = None,
    restIsBody: bool = False,
) -> Outcome:
    """
    C{count} requests answered 200 by the origin; the connection may stay
    open.
    """
    return Outcome(((200,),) * count, count, False, bodies, host, restIsBody)


def refused(*statuses: int, before: int = 0, closed: bool = True) -> Outcome:
    """
    C{before} legitimate requests answered 200, then the next refused with
    one of C{statuses}; nothing after it reaches the origin.  Every case's
    bytes are sent in one write: when none come before the refused request,
    no origin is contacted at all.
    """
    return Outcome(
        ((200,),) * before + (statuses,),
        before,
        closed,
        originConnections=0 if before == 0 else None,
    )


def both(outcome: Outcome) -> dict[str, Outcome]:
    """
    The same outcome in both modes.
    """
    return {"forward": outcome, "reverse": outcome}


def case(
    name: str, description: str, rule: str, wire: bytes, **outcomes: Outcome | None
) -> RequestCase:
    """
    A L{RequestCase}; C{outcomes} has C{forward} and C{reverse}.
    """
    return RequestCase(
        name, description, rule, wire, outcomes.get("forward"), outcomes.get("reverse")
    )


def rejected(
    name: str, description: str, rule: str, wire: bytes, *statuses: int, before: int = 0
) -> RequestCase:
    """
    A case rejected the same way in both modes: C{statuses}, then close.
    """
    return case(name, description, rule, wire, **both(refused(*statuses, before=before)))


R_CL_TE = (
    "RFC 9112 6.1 and 6.3 (3): Content-Length with Transfer-Encoding may be a "
    "smuggling attempt; a server may reject it and must close the connection "
    "after responding; an intermediary must never forward both."
)
R_TE_FINAL = (
    "RFC 9112 6.3 (4): a request whose Transfer-Encoding does not end with "
    "chunked has no reliable length: 400, then close."
)
R_TE_UNKNOWN = (
    "RFC 9112 6.1: a server receiving a transfer coding it does not understand "
    "SHOULD answer 501 (and, the framing being unusable, close)."
)
R_CL = (
    "RFC 9110 8.6 (Content-Length = 1*DIGIT) and RFC 9112 6.3 (5): an invalid "
    "Content-Length makes the framing invalid: 400, then close."
)
R_CHUNK = (
    "RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, "
    "chunk-size = 1*HEXDIG; anything else is invalid framing: 400, then close."
)
R_LINE = (
    "RFC 9112 2.2: a bare CR must be treated as invalid; a bare LF may be "
    "accepted, but proxykit rejects it (DESIGN.md, strict framing): 400."
)
R_FIELD = (
    "RFC 9110 5.1 and 5.5, RFC 9112 5: field names are tokens, values have no "
    "CR, LF, NUL or other CTLs: 400, then close."
)
R_OBS_FOLD = (
    "RFC 9112 5.2: a server receiving obs-fold in a request must reject it "
    "with 400 (or replace it with SP); proxykit rejects."
)
R_VERSION = (
    "RFC 9110 2.5, 15.6.6: proxykit speaks HTTP/1.0 and HTTP/1.1 only; other "
    "versions get 505 (DESIGN.md, errors end to end)."
)
R_LIMITS = (
    "RFC 9110 15.5.15 (414) and RFC 6585 5 (431): a request line or header "
    "section over the limits is refused, then the connection closed."
)
R_CONNECT = (
    "RFC 9110 9.3.6: CONNECT uses authority-form (host:port, no userinfo, "
    "port 1-65535); anything else is a bad request.  A reverse proxy does not "
    "tunnel at all (405)."
)
R_HOST = (
    "RFC 9112 3.2 and 3.2.2: absolute-form replaces Host; a request without "
    "Host, with two, or with an invalid value gets 400."
)


REQUEST_CASES: list[RequestCase] = [
    # Controls: legitimate requests reach the origin exactly once each.
    case(
        "plainGet",
        "A plain GET reaches the origin once and is answered.",
        "RFC 9112 3 (control case).",
        get(),
        **both(ok()),
    ),
    case(
        "pipelinedGets",
        "Two pipelined GETs reach the origin as two requests, in order.",
        "RFC 9112 9.3.2: pipelined requests are answered in order.",
        get(b"/one") + get(b"/two"),
        **both(ok(2)),
    ),
    case(
        "chunkedPost",
        "A chunked POST reaches the origin once, with its body decoded and "
        "re-framed.",
        "RFC 9112 7.1 (control case).",
        post(CHUNKED, HELLO_CHUNKED),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "requestInsideBody",
        "A body that happens to hold a whole HTTP request reaches the origin "
        "as a body: the origin sees one request, not two.",
        "RFC 9112 6.3 (6): Content-Length delimits the body, whatever it holds.",
        post(b"Content-Length: {CL}\r\n", SMUGGLED),
        **both(ok(restIsBody=True)),
    ),
    case(
        "requestInsideChunkedBody",
        "A chunked body holding a whole HTTP request reaches the origin as a "
        "body.",
        "RFC 9112 7.1: the chunked coding delimits the body.",
        post(CHUNKED, b"{SZ}\r\n" + SMUGGLED + b"{END}\r\n0\r\n\r\n"),
        **both(ok()),
    ),
    case(
        "getWithBodyHoldingRequest",
        "A GET with a Content-Length body holding a request: the body is "
        "read as a body (a proxy ignoring Content-Length on GET would run the "
        "hidden request).",
        "RFC 9112 6.3 (6) applies to every method; RFC 9110 9.3.1.",
        b"GET {T}/ HTTP/1.1\r\nHost: {H}\r\nContent-Length: {CL}\r\n\r\n" + SMUGGLED,
        **both(ok(restIsBody=True)),
    ),
    case(
        "zeroLengthThenGet",
        "A POST with Content-Length: 0 followed by a GET: two requests.",
        "RFC 9112 6.3 (6).",
        post(b"Content-Length: 0\r\n") + get(b"/next"),
        **both(ok(2)),
    ),
    case(
        "chunkExtension",
        "A chunk extension is ignored; the body reaches the origin intact.",
        "RFC 9112 7.1.1: a recipient must ignore unrecognized chunk "
        "extensions.",
        post(CHUNKED, b"5;name=value\r\nhello\r\n0\r\n\r\n"),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "chunkTrailers",
        "A chunked body with a trailer section: one request, body intact.",
        "RFC 9112 7.1.2.",
        post(CHUNKED, b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "chunkSizeUpperHex",
        "Upper-case hex chunk sizes are honoured.",
        "RFC 9112 7.1: chunk-size = 1*HEXDIG (case-insensitive, RFC 5234).",
        post(CHUNKED, b"A\r\n0123456789\r\n0\r\n\r\n"),
        **both(ok(bodies=(b"0123456789",))),
    ),
    case(
        "contentLengthLeadingZeros",
        "Content-Length: 005 is five bytes.",
        "RFC 9110 8.6: Content-Length = 1*DIGIT.",
        post(b"Content-Length: 005\r\n", b"hello"),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "transferEncodingTab",
        "Transfer-Encoding:<TAB>chunked is chunked (a tab is optional "
        "whitespace): the chunked body, holding a request, reaches the origin "
        "as a body, not as a second request.",
        "RFC 9110 5.6.3: OWS = *( SP / HTAB ) around field values.",
        post(
            b"Transfer-Encoding:\tchunked\r\n",
            b"{SZ}\r\n" + SMUGGLED + b"{END}\r\n0\r\n\r\n",
        ),
        **both(ok()),
    ),
    case(
        "transferEncodingTabs",
        "Transfer-Encoding:<TAB>chunked<TAB> is chunked: the origin gets a "
        "chunked head and the body hello, chunked (the head was once sent "
        "announcing chunked with no body after it).",
        "RFC 9110 5.5: OWS = *( SP / HTAB ) around field values is not part "
        "of the value.",
        post(b"Transfer-Encoding:\tchunked\t\r\n", HELLO_CHUNKED),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "transferEncodingUpperCase",
        "Transfer-Encoding: CHUNKED is chunked (coding names are "
        "case-insensitive).",
        "RFC 9112 7: all transfer-coding names are case-insensitive.",
        post(b"Transfer-Encoding: CHUNKED\r\n", HELLO_CHUNKED),
        **both(ok(bodies=(b"hello",))),
    ),
    # CL.TE and TE.CL
    rejected(
        "contentLengthThenChunked",
        "CL.TE: Content-Length covering a chunked body that ends early and "
        "hides a request: refused, and the hidden request never runs.",
        R_CL_TE,
        post(b"Content-Length: {CL}\r\n" + CHUNKED, b"0\r\n\r\n" + SMUGGLED),
        400,
    ),
    rejected(
        "chunkedThenContentLength",
        "TE.CL: chunked body whose first chunk holds a request, with a short "
        "Content-Length: refused, nothing reaches the origin.",
        R_CL_TE,
        post(
            CHUNKED + b"Content-Length: 4\r\n",
            b"{SZ}\r\n" + SMUGGLED + b"{END}\r\n0\r\n\r\n",
        ),
        400,
    ),
    rejected(
        "contentLengthZeroWithChunked",
        "Content-Length: 0 with chunked: refused.",
        R_CL_TE,
        post(b"Content-Length: 0\r\n" + CHUNKED, HELLO_CHUNKED),
        400,
    ),
    # TE.TE: obfuscated Transfer-Encoding
    rejected(
        "chunkedThenOtherCoding",
        "Transfer-Encoding: chunked plus a second Transfer-encoding: x line: "
        "chunked is no longer the final coding: refused.",
        R_TE_FINAL,
        post(CHUNKED + b"Transfer-encoding: x\r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "otherCodingThenChunked",
        "Transfer-encoding: x then Transfer-Encoding: chunked: an unknown "
        "coding under chunked: refused as not implemented.",
        R_TE_UNKNOWN,
        post(b"Transfer-encoding: x\r\n" + CHUNKED, HELLO_CHUNKED),
        501,
    ),
    rejected(
        "xchunked",
        "Transfer-Encoding: xchunked is not chunked: refused.",
        R_TE_FINAL,
        post(b"Transfer-Encoding: xchunked\r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "quotedChunked",
        'Transfer-Encoding: "chunked" is not chunked: refused.',
        R_TE_FINAL,
        post(b'Transfer-Encoding: "chunked"\r\n', HELLO_CHUNKED),
        400,
    ),
    rejected(
        "transferEncodingSpaceBeforeColon",
        "'Transfer-Encoding : chunked' (space before the colon) is refused, "
        "neither ignored nor taken as chunked.",
        "RFC 9112 5.1: no whitespace between field name and colon; a server "
        "must reject such a request with 400.",
        post(b"Transfer-Encoding : chunked\r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "chunkedThenIdentity",
        "Transfer-Encoding: chunked, identity: chunked is not final: refused.",
        R_TE_FINAL,
        post(b"Transfer-Encoding: chunked, identity\r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "identityThenChunked",
        "Transfer-Encoding: identity, chunked: identity is no registered "
        "coding: refused as not implemented (llhttp accepts it; proxykit must "
        "not).",
        R_TE_UNKNOWN,
        post(b"Transfer-Encoding: identity, chunked\r\n", HELLO_CHUNKED),
        501,
    ),
    rejected(
        "chunkedTwice",
        "Two 'Transfer-Encoding: chunked' lines (chunked applied twice): "
        "refused.",
        "RFC 9112 6.1: a sender must not apply chunked more than once; the "
        "framing is not one proxykit can forward (400 or 501).",
        post(CHUNKED + CHUNKED, HELLO_CHUNKED),
        400,
        501,
    ),
    rejected(
        "transferEncodingObsFold",
        "A Transfer-Encoding value continued on the next line (obs-fold): "
        "refused.",
        R_OBS_FOLD,
        post(b"Transfer-Encoding:\r\n chunked\r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "transferEncodingEmpty",
        "An empty Transfer-Encoding value: refused.",
        R_TE_FINAL,
        post(b"Transfer-Encoding: \r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "transferEncodingVerticalTab",
        "Transfer-Encoding:<VT>chunked (a control character, not whitespace): "
        "refused.",
        R_FIELD,
        post(b"Transfer-Encoding:\x0bchunked\r\n", HELLO_CHUNKED),
        400,
    ),
    rejected(
        "chunkedOnHTTP10",
        "Transfer-Encoding: chunked on an HTTP/1.0 request: refused.",
        "RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding must be "
        "treated as having faulty framing, and the connection closed.",
        b"POST {T}/ HTTP/1.0\r\nHost: {H}\r\n" + CHUNKED + b"\r\n" + HELLO_CHUNKED,
        400,
    ),
    rejected(
        "chunkedOnHTTP10WithLength",
        "Transfer-Encoding and Content-Length on an HTTP/1.0 request: "
        "refused.",
        "RFC 9112 6.1 (faulty framing even if a Content-Length is present).",
        b"POST {T}/ HTTP/1.0\r\nHost: {H}\r\nContent-Length: 15\r\n"
        + CHUNKED
        + b"\r\n"
        + HELLO_CHUNKED,
        400,
    ),
    # Content-Length
    rejected(
        "contentLengthRepeatedEqual",
        "Two equal Content-Length lines: refused (proxykit never repairs).",
        "RFC 9110 8.6: a recipient may reject repeated identical values or "
        "replace them with one; DESIGN.md: reject.",
        post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthRepeatedUnequal",
        "Two different Content-Length lines: refused.",
        R_CL,
        post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
        400,
    ),
    rejected(
        "contentLengthList",
        "Content-Length: 5, 5: refused.",
        R_CL,
        post(b"Content-Length: 5, 5\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthPlus",
        "Content-Length: +5 (accepted by int()): refused.",
        R_CL,
        post(b"Content-Length: +5\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthHex",
        "Content-Length: 0x5: refused.",
        R_CL,
        post(b"Content-Length: 0x5\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthUnderscore",
        "Content-Length: 1_0 (accepted by int()): refused.",
        R_CL,
        post(b"Content-Length: 1_0\r\n", b"0123456789"),
        400,
    ),
    rejected(
        "contentLengthInnerSpace",
        "Content-Length: 1 0: refused.",
        R_CL,
        post(b"Content-Length: 1 0\r\n", b"0123456789"),
        400,
    ),
    rejected(
        "contentLengthNegative",
        "Content-Length: -1: refused.",
        R_CL,
        post(b"Content-Length: -1\r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthEmpty",
        "An empty Content-Length: refused.",
        R_CL,
        post(b"Content-Length: \r\n", b"hello"),
        400,
    ),
    rejected(
        "contentLengthHuge",
        "Content-Length larger than 2^64: refused, not wrapped around.",
        "RFC 9110 8.6: recipients must prevent integer overflow when parsing "
        "Content-Length (400, or 413 for a body too large).",
        post(b"Content-Length: 99999999999999999999999\r\n", b"hello"),
        400,
        413,
    ),
    rejected(
        "contentLengthOver2To63",
        "Content-Length of 2^63 (overflows a signed 64-bit length): refused.",
        "RFC 9110 8.6 (see contentLengthHuge).",
        post(b"Content-Length: 9223372036854775808\r\n", b"hello"),
        400,
        413,
    ),
    # Chunk sizes
    rejected(
        "chunkSizeHexPrefix",
        "Chunk size 0x5: refused.",
        R_CHUNK,
        post(CHUNKED, b"0x5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkSizeNegative",
        "Chunk size -1: refused.",
        R_CHUNK,
        post(CHUNKED, b"-1\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkSizeMinusFive",
        "Chunk size -5, sent with the head: refused before any origin is "
        "contacted.",
        R_CHUNK,
        post(CHUNKED, b"-5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkSizeUnderscore",
        "Chunk size 5_ (accepted by int()), sent with the head: refused "
        "before any origin is contacted.",
        R_CHUNK,
        post(CHUNKED, b"5_\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkSizePlus",
        "Chunk size +5 (accepted by int()), sent with the head: refused "
        "before any origin is contacted.",
        R_CHUNK,
        post(CHUNKED, b"+5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkLinesBareLF",
        "Every chunk line ended by a bare LF, sent with the head: refused "
        "before any origin is contacted.",
        R_LINE,
        post(CHUNKED, b"5\nhello\n0\n\n"),
        400,
    ),
    rejected(
        "chunkSizeOverflow",
        "Chunk size ffffffffffffffffff (over 64 bits): refused, not wrapped "
        "to a small size.",
        R_CHUNK,
        post(CHUNKED, b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    rejected(
        "chunkSizeLeadingSpace",
        "Chunk size with leading spaces: refused.",
        R_CHUNK,
        post(CHUNKED, b"  5\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkSizeTrailingSpace",
        "Chunk size followed by a space and no extension: refused.",
        R_CHUNK,
        post(CHUNKED, b"5 \r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkDataMissingCRLF",
        "Chunk data not followed by CRLF (a request glued to it): refused.",
        R_CHUNK,
        post(CHUNKED, b"5\r\nhelloX0\r\n\r\n" + SMUGGLED),
        400,
    ),
    rejected(
        "chunkDataLonger",
        "More chunk data than the chunk size: refused, the excess never "
        "becomes a request.",
        R_CHUNK,
        post(CHUNKED, b"3\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    rejected(
        "chunkExtensionControl",
        "A chunk extension holding a control character: refused.",
        "RFC 9112 7.1.1: chunk-ext-name = token, chunk-ext-val = token / "
        "quoted-string; no CTLs.",
        post(CHUNKED, b"5;a\x01b\r\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkExtensionBareLF",
        "A chunk extension ended by a bare LF, hiding a request from parsers "
        "that read to CRLF: refused.",
        R_CHUNK,
        post(CHUNKED, b"5;a\nhello\r\n0\r\n\r\n" + SMUGGLED),
        400,
    ),
    rejected(
        "chunkSizeBareLF",
        "Chunk size ended by a bare LF: refused.",
        R_LINE,
        post(CHUNKED, b"5\nhello\r\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "chunkDataBareLF",
        "Chunk data ended by a bare LF: refused.",
        R_LINE,
        post(CHUNKED, b"5\r\nhello\n0\r\n\r\n"),
        400,
    ),
    rejected(
        "lastChunkBareLF",
        "The last-chunk line ended by a bare LF: refused.",
        R_LINE,
        post(CHUNKED, b"5\r\nhello\r\n0\n\r\n" + SMUGGLED),
        400,
    ),
    rejected(
        "trailerBareLF",
        "A trailer line ended by a bare LF: refused.",
        R_LINE,
        post(CHUNKED, b"5\r\nhello\r\n0\r\nX: y\n\r\n" + SMUGGLED),
        400,
    ),
    # Line endings and folding
    rejected(
        "bareCRInRequestLine",
        "A bare CR ending the request line: refused.",
        R_LINE,
        b"GET {T}/ HTTP/1.1\rHost: {H}\r\n\r\n",
        400,
    ),
    rejected(
        "bareCRInFieldValue",
        "A bare CR inside a field value: refused.",
        R_LINE,
        get(fields=b"X-A: a\rb\r\n"),
        400,
    ),
    rejected(
        "bareLFAfterRequestLine",
        "A bare LF ending the request line: refused.",
        R_LINE,
        b"GET {T}/ HTTP/1.1\nHost: {H}\r\n\r\n",
        400,
    ),
    rejected(
        "bareLFInHeaders",
        "A bare LF ending a header line: refused.",
        R_LINE,
        get(fields=b"X-A: a\nX-B: b\r\n"),
        400,
    ),
    rejected(
        "bareLFEndOfHead",
        "A head ended by CRLF LF: refused.",
        R_LINE,
        b"GET {T}/ HTTP/1.1\r\nHost: {H}\r\n\n",
        400,
    ),
    rejected(
        "bareLFSmuggledContentLength",
        "A Content-Length hidden behind a bare LF inside another field's "
        "value: refused.",
        R_LINE,
        post(b"X-A: a\nContent-Length: {CL}\r\n", SMUGGLED),
        400,
    ),
    rejected(
        "obsFold",
        "A folded field value (obs-fold): refused.",
        R_OBS_FOLD,
        get(fields=b"X-A: a\r\n b\r\n"),
        400,
    ),
    rejected(
        "whitespaceBeforeFirstField",
        "Whitespace before the first header line: refused.",
        "RFC 9112 2.2: whitespace between the start-line and the first field "
        "must be rejected or the line ignored.",
        b"GET {T}/ HTTP/1.1\r\n Host: {H}\r\n\r\n",
        400,
    ),
    # CTLs and tokens
    rejected(
        "nulInFieldValue",
        "NUL in a field value: refused.",
        R_FIELD,
        get(fields=b"X-A: a\x00b\r\n"),
        400,
    ),
    rejected(
        "controlInFieldValue",
        "A control character (BEL) in a field value: refused.",
        R_FIELD,
        get(fields=b"X-A: a\x07b\r\n"),
        400,
    ),
    rejected(
        "deleteInFieldValue",
        "DEL in a field value: refused.",
        R_FIELD,
        get(fields=b"X-A: a\x7fb\r\n"),
        400,
    ),
    rejected(
        "nulInFieldName",
        "NUL in a field name: refused.",
        R_FIELD,
        get(fields=b"X-\x00A: b\r\n"),
        400,
    ),
    rejected(
        "controlInFieldName",
        "A control character in a field name: refused.",
        R_FIELD,
        get(fields=b"X-\x01A: b\r\n"),
        400,
    ),
    rejected(
        "spaceInFieldName",
        "A space inside a field name: refused.",
        R_FIELD,
        get(fields=b"X A: b\r\n"),
        400,
    ),
    rejected(
        "separatorInFieldName",
        "A separator (@) in a field name: refused.",
        R_FIELD,
        get(fields=b"X@A: b\r\n"),
        400,
    ),
    rejected(
        "emptyFieldName",
        "A field line with an empty name: refused.",
        R_FIELD,
        get(fields=b": b\r\n"),
        400,
    ),
    rejected(
        "fieldLineWithoutColon",
        "A field line without a colon: refused.",
        R_FIELD,
        get(fields=b"X-A b\r\n"),
        400,
    ),
    rejected(
        "methodNotToken",
        "A method that is not a token (G(T): refused.",
        "RFC 9110 9.1: method = token; RFC 9112 3: malformed request line, "
        "400.",
        b"G(T {T}/ HTTP/1.1\r\nHost: {H}\r\n\r\n",
        400,
    ),
    rejected(
        "methodWithNul",
        "NUL inside the method: refused.",
        "RFC 9110 9.1: method = token.",
        b"GE\x00T {T}/ HTTP/1.1\r\nHost: {H}\r\n\r\n",
        400,
    ),
    case(
        "requestLineDoubleSpace",
        "Two spaces between method and target: tolerated, and the origin "
        "gets one well-formed request (proxykit writes its own request "
        "line).",
        "RFC 9112 3: recipients MAY parse the request-line on whitespace "
        "boundaries; a proxy forwards a line it generates.",
        b"GET  {T}/ HTTP/1.1\r\nHost: {H}\r\n\r\n",
        **both(ok()),
    ),
    rejected(
        "spaceInTarget",
        "A space inside the request-target: refused.",
        "RFC 9112 3.2: the request-target contains no whitespace; 400.",
        b"GET {T}/a b HTTP/1.1\r\nHost: {H}\r\n\r\n",
        400,
    ),
    rejected(
        "fragmentInTarget",
        "A fragment in the request-target: refused.",
        "RFC 9112 3.2: request-target forms carry no fragment.",
        b"GET {T}/a#b HTTP/1.1\r\nHost: {H}\r\n\r\n",
        400,
    ),
    # Versions
    rejected(
        "http09",
        "An HTTP/0.9 request (GET /, no version): refused.",
        "RFC 9112 2.3 / DESIGN.md: HTTP/0.9 is not supported; 400.",
        b"GET {T}/\r\n",
        400,
    ),
    rejected(
        "http2Preface",
        "The HTTP/2 connection preface sent to an HTTP/1.1 proxy: 505.",
        R_VERSION,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        505,
    ),
    rejected(
        "http12",
        "HTTP/1.2: 505.",
        R_VERSION,
        get(version=b"1.2"),
        505,
    ),
    rejected(
        "http20RequestLine",
        "An HTTP/1-style request claiming HTTP/2.0: 505.",
        R_VERSION,
        get(version=b"2.0"),
        505,
    ),
    rejected(
        "http30RequestLine",
        "An HTTP/1-style request claiming HTTP/3.0: 505.",
        R_VERSION,
        get(version=b"3.0"),
        505,
    ),
    rejected(
        "lowerCaseVersion",
        "http/1.1 in lower case: refused.",
        "RFC 9112 2.3: HTTP-name is case-sensitive %s\"HTTP\"; 400.",
        b"GET {T}/ http/1.1\r\nHost: {H}\r\n\r\n",
        400,
    ),
    # Limits
    rejected(
        "requestLineTooLong",
        "A request-target over 8 KiB: 414.",
        R_LIMITS,
        get(b"/" + b"a" * 9000),
        414,
    ),
    rejected(
        "headerSectionTooLarge",
        "A header section over 64 KiB: 431.",
        R_LIMITS,
        get(fields=b"X-Big: " + b"a" * 70000 + b"\r\n"),
        431,
    ),
    rejected(
        "tooManyFields",
        "More than 100 header fields: 431.",
        R_LIMITS,
        get(fields=many(101)),
        431,
    ),
    # Host and absolute-form
    case(
        "absoluteFormMismatchedHost",
        "An absolute-form target with a different Host: the target's "
        "authority wins; the origin sees Host set to it, never the client's "
        "other Host.",
        "RFC 9112 3.2.2: a server must ignore Host for absolute-form and use "
        "the target's authority; a proxy must replace Host with it.",
        b"GET {A}/x HTTP/1.1\r\nHost: evil.example.test\r\n\r\n",
        **both(ok(host=b"{H}")),
    ),
    case(
        "absoluteFormUnknownAuthority",
        "Reverse mode: an absolute-form target naming a host the proxy does "
        "not serve is refused with 421, even though Host names the site.",
        "RFC 9110 15.5.20 (421) and RFC 9112 3.2.2; DESIGN.md: absolute-form "
        "targets cannot pick the origin.",
        b"GET http://evil.example.test/ HTTP/1.1\r\nHost: {H}\r\n\r\n",
        reverse=refused(421, closed=False),
    ),
    case(
        "refusedRequestBodyHoldsRequest",
        "Reverse mode: a refused (421) request whose body holds a request: "
        "the body is never read as a request.",
        "RFC 9112 6.3 / 9.6: a server that does not read a body must close.",
        b"POST http://evil.example.test/ HTTP/1.1\r\nHost: {H}\r\n"
        b"Content-Length: {CL}\r\n\r\n" + SMUGGLED,
        reverse=refused(421),
    ),
    case(
        "originFormBodyHoldsRequest",
        "An origin-form POST whose body holds a request: forward mode refuses "
        "it (400, not a proxy request) without reading the body as a "
        "request; reverse mode forwards it as one request.",
        "RFC 9112 3.2.1/3.2.2; RFC 9112 6.3 (6).",
        b"POST /x HTTP/1.1\r\nHost: {H}\r\nContent-Length: {CL}\r\n\r\n" + SMUGGLED,
        forward=refused(400),
        reverse=ok(restIsBody=True),
    ),
    rejected(
        "missingHost",
        "An HTTP/1.1 request without Host: refused.",
        R_HOST,
        b"GET {T}/ HTTP/1.1\r\nX-A: b\r\n\r\n",
        400,
    ),
    rejected(
        "duplicateHost",
        "Two Host lines: refused (one for routing, the other for the origin "
        "is a classic confusion).",
        R_HOST,
        get(fields=b"Host: evil.example.test\r\n"),
        400,
    ),
    rejected(
        "invalidHostValue",
        "A Host value that is no valid authority (userinfo smuggled into "
        "it): refused.",
        R_HOST + "  Host = uri-host [ \":\" port ]; '@' is not allowed.",
        b"GET {T}/ HTTP/1.1\r\nHost: {H}@evil.example.test\r\n\r\n",
        400,
    ),
    # CONNECT
    case(
        "connectWithoutPort",
        "CONNECT host (no port): refused.",
        R_CONNECT,
        b"CONNECT example.test HTTP/1.1\r\nHost: example.test\r\n\r\n",
        forward=refused(400),
        reverse=refused(400, 405),
    ),
    case(
        "connectEmptyHost",
        "CONNECT :443 (no host): refused.",
        R_CONNECT,
        b"CONNECT :443 HTTP/1.1\r\nHost: :443\r\n\r\n",
        forward=refused(400),
        reverse=refused(400, 405),
    ),
    case(
        "connectPortOutOfRange",
        "CONNECT host:99999: refused.",
        R_CONNECT,
        b"CONNECT example.test:99999 HTTP/1.1\r\nHost: example.test:99999\r\n\r\n",
        forward=refused(400),
        reverse=refused(400, 405),
    ),
    case(
        "connectUserinfo",
        "CONNECT user@host:443: refused.",
        R_CONNECT,
        b"CONNECT user@example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
        forward=refused(400),
        reverse=refused(400, 405),
    ),
    case(
        "connectWithBodyHoldingRequest",
        "CONNECT with a Content-Length body holding a request: refused, and "
        "the body never runs as a request.",
        "RFC 9110 9.3.6: a CONNECT request has no content.",
        b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n"
        b"Content-Length: {CL}\r\n\r\n" + SMUGGLED,
        forward=refused(400),
        reverse=refused(400, 405),
    ),
    # Expect
    rejected(
        "unsupportedExpectation",
        "Expect with something other than 100-continue: 417.",
        "RFC 9110 10.1.1: a server may answer 417 to an expectation it does "
        "not support.",
        get(fields=b"Expect: teapot\r\n"),
        417,
    ),
    rejected(
        "unsupportedExpectationWithBody",
        "Expect: teapot on a POST whose body holds a request: 417, and the "
        "body never runs as a request.",
        "RFC 9110 10.1.1; RFC 9112 9.6 (close instead of reading the body).",
        post(b"Expect: teapot\r\nContent-Length: {CL}\r\n", SMUGGLED),
        417,
    ),
    # Hop-by-hop tricks: fields named in Connection are dropped when
    # forwarding, but the framing must survive.
    case(
        "connectionListsContentLength",
        "Connection: Content-Length on a POST whose body holds a request: "
        "the origin still gets one request with the whole body (a proxy "
        "that drops the Content-Length but forwards the body hands the "
        "origin a second request).",
        "RFC 9110 7.6.1: a proxy removes the fields Connection lists, but "
        "RFC 9112 6.3 makes it responsible for the framing it forwards; "
        "a sender must not list fields meant for every recipient.",
        post(b"Content-Length: {CL}\r\nConnection: Content-Length\r\n", SMUGGLED),
        **both(ok(restIsBody=True)),
    ),
    case(
        "connectionListsHost",
        "Connection: Host: the origin still gets a Host (an HTTP/1.1 request "
        "without one is invalid).",
        "RFC 9112 3.2: a client must send Host in every HTTP/1.1 request; "
        "RFC 9110 7.2: a proxy must send the Host of the target.",
        get(b"/x", b"Connection: Host\r\n"),
        **both(ok(host=b"{H}")),
    ),
    case(
        "connectionListsTransferEncoding",
        "Connection: Transfer-Encoding on a chunked POST: the body still "
        "reaches the origin as one chunked request.",
        "RFC 9110 7.6.1; RFC 9112 6.1.",
        post(CHUNKED + b"Connection: Transfer-Encoding\r\n", HELLO_CHUNKED),
        **both(ok(bodies=(b"hello",))),
    ),
    rejected(
        "trailerContentLength",
        "A Content-Length sent as a trailer field: refused, never taken as "
        "framing (the request's head may already have gone to the origin, "
        "but never a complete request).",
        "RFC 9110 6.5.1: framing fields are not allowed in trailers; a "
        "sender must not generate them.",
        post(CHUNKED, b"5\r\nhello\r\n0\r\nContent-Length: 999\r\n\r\n"),
        400,
    ),
    case(
        "expectContinue",
        "Expect: 100-continue with the body sent at once: one request, body "
        "intact.",
        "RFC 9110 10.1.1.",
        post(b"Expect: 100-continue\r\nContent-Length: 5\r\n", b"hello"),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "upgradeWithBodyHoldingRequest",
        "An Upgrade request with a body holding a request: no protocol "
        "switch is offered, and the body reaches the origin as a body.",
        "RFC 9110 7.8: the switch happens after the request is complete; "
        "RFC 9112 6.3 (6).",
        b"POST {T}/ HTTP/1.1\r\nHost: {H}\r\nConnection: upgrade\r\n"
        b"Upgrade: websocket\r\nContent-Length: {CL}\r\n\r\n" + SMUGGLED,
        **both(ok(restIsBody=True)),
    ),
    case(
        "upgradeRefusedThenPipelined",
        "An Upgrade request the origin declines (200), followed by a "
        "pipelined GET: the GET is an ordinary second request.",
        "RFC 9110 7.8: a server may ignore Upgrade; what follows is HTTP/1.1.",
        get(b"/up", b"Connection: upgrade\r\nUpgrade: websocket\r\n")
        + get(b"/next"),
        **both(ok(2)),
    ),
    case(
        "contentLengthOWS",
        "Content-Length with spaces and tabs around the value (optional "
        "whitespace): honoured.",
        "RFC 9110 5.5: OWS around a field value is not part of it.",
        post(b"Content-Length: \t5 \t\r\n", b"hello"),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "chunkSizeLeadingZeros",
        "Chunk size 0005 is five bytes.",
        "RFC 9112 7.1: chunk-size = 1*HEXDIG.",
        post(CHUNKED, b"0005\r\nhello\r\n0\r\n\r\n"),
        **both(ok(bodies=(b"hello",))),
    ),
    case(
        "chunkedGet",
        "A chunked GET whose body holds a request: one request at the "
        "origin.",
        "RFC 9112 6.3 (4) applies to every method.",
        b"GET {T}/ HTTP/1.1\r\nHost: {H}\r\n" + CHUNKED + b"\r\n"
        b"{SZ}\r\n" + SMUGGLED + b"{END}\r\n0\r\n\r\n",
        **both(ok()),
    ),
    rejected(
        "contentLengthSpaceBeforeColon",
        "'Content-Length : 5' (space before the colon): refused.",
        "RFC 9112 5.1: a server must reject whitespace between field name "
        "and colon with 400.",
        post(b"Content-Length : {CL}\r\n", SMUGGLED),
        400,
    ),
    rejected(
        "nulInTarget",
        "NUL inside the request-target: refused.",
        "RFC 9112 3.2 / RFC 3986: no CTLs in a URI.",
        b"GET {T}/a\x00b HTTP/1.1\r\nHost: {H}\r\n\r\n",
        400,
    ),
    case(
        "absoluteFormUserinfo",
        "An absolute-form target with userinfo (user@host): refused, never "
        "forwarded to a host the userinfo disguises.",
        "RFC 9110 4.2.4: a recipient should treat userinfo in an http URI "
        "as an error (reverse mode may also answer 421: not a name it "
        "serves).",
        b"GET http://user@{H}/ HTTP/1.1\r\nHost: {H}\r\n\r\n",
        forward=refused(400),
        reverse=refused(400, 421, closed=False),
    ),
    case(
        "chunkExtensionWhitespace",
        "A chunk size followed by whitespace before its extension "
        "('5 ;ext'): the RFC allows it (BWS); proxykit, with llhttp, "
        "refuses it, which is safe: nothing reaches the origin as a request.",
        "RFC 9112 7.1.1: chunk-ext = *( BWS \";\" BWS chunk-ext-name ... ); "
        "rejecting a valid message is an interoperability cost, not a "
        "smuggling risk.",
        post(CHUNKED, b"5 ;ext\r\nhello\r\n0\r\n\r\n"),
        **both(refused(400)),
    ),
    case(
        "chunkExtensionLong",
        "A 60 KB chunk extension is skipped as the body streams (nothing is "
        "buffered), and the body reaches the origin intact without it.",
        "RFC 9112 7.1.1: unrecognized extensions are ignored; a server ought "
        "to limit their length (proxykit: 64 KiB without progress).",
        post(CHUNKED, b"5;" + b"a" * 60000 + b"\r\nhello\r\n0\r\n\r\n"),
        **both(ok(bodies=(b"hello",))),
    ),
    # Pipelining after a smuggling attempt
    rejected(
        "requestAfterContentLengthThenChunked",
        "A CL.TE attempt followed by a valid pipelined GET: one 400, the "
        "connection closed, and the GET never reaches the origin.",
        R_CL_TE + "  Nothing after a framing error is read.",
        post(b"Content-Length: 6\r\n" + CHUNKED, b"0\r\n\r\nX") + get(b"/smuggled"),
        400,
    ),
    rejected(
        "requestAfterBadChunk",
        "A chunked POST with a bad chunk size followed by a valid GET: 400, "
        "the GET never reaches the origin.",
        R_CHUNK,
        post(CHUNKED, b"5\r\nhello\r\nzz\r\n0\r\n\r\n") + get(b"/smuggled"),
        400,
    ),
    rejected(
        "requestAfterObsFold",
        "A request with obs-fold followed by a valid GET: 400, nothing "
        "reaches the origin.",
        R_OBS_FOLD,
        get(fields=b"X-A: a\r\n b\r\n") + get(b"/smuggled"),
        400,
    ),
    rejected(
        "validThenContentLengthThenChunked",
        "A valid GET, then a CL.TE attempt hiding a request: the GET is "
        "answered, the attempt refused, the hidden request never runs.",
        R_CL_TE,
        get(b"/first")
        + post(b"Content-Length: {CL}\r\n" + CHUNKED, b"0\r\n\r\n" + SMUGGLED),
        400,
        before=1,
    ),
    rejected(
        "validThenHTTP09",
        "A valid GET, then an HTTP/0.9 line: the GET is answered, then 400.",
        "RFC 9112 2.3 / DESIGN.md.",
        get(b"/first") + b"GET {T}/smuggled\r\n",
        400,
        before=1,
    ),
]


def okResponse(fields: bytes, body: bytes = b"ok", status: bytes = b"200 OK") -> bytes:
    """
    A response with C{fields} (CRLF-terminated lines) and C{body}.
    """
    return b"HTTP/1.1 " + status + b"\r\n" + fields + b"\r\n" + body


EVIL = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
"""A second response an origin slips in; no client may ever receive it."""

R_RESPONSE = (
    "RFC 9112 6.3 and DESIGN.md (errors end to end): a response with "
    "ambiguous or invalid framing is never relayed: 502, and that origin "
    "connection is dropped."
)


RESPONSE_CASES: list[ResponseCase] = [
    ResponseCase(
        "responseBadContentLength",
        "An origin response with Content-Length: abc: 502.",
        R_RESPONSE,
        okResponse(b"Content-Length: abc\r\n"),
    ),
    ResponseCase(
        "responseContentLengthPlus",
        "An origin response with Content-Length: +2: 502.",
        R_RESPONSE,
        okResponse(b"Content-Length: +2\r\n"),
    ),
    ResponseCase(
        "responseNegativeContentLength",
        "An origin response with Content-Length: -1: 502.",
        R_RESPONSE,
        okResponse(b"Content-Length: -1\r\n"),
    ),
    ResponseCase(
        "responseContentLengthAndChunked",
        "An origin response with Content-Length and chunked: 502.",
        R_RESPONSE,
        okResponse(b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", b"2\r\nok\r\n0\r\n\r\n"),
    ),
    ResponseCase(
        "responseDuplicateContentLength",
        "An origin response with two different Content-Length lines: 502.",
        R_RESPONSE,
        okResponse(b"Content-Length: 2\r\nContent-Length: 6\r\n", b"ok" + EVIL[:4]),
    ),
    ResponseCase(
        "responseRepeatedEqualContentLength",
        "An origin response with two equal Content-Length lines: 502 "
        "(proxykit never repairs).",
        R_RESPONSE,
        okResponse(b"Content-Length: 2\r\nContent-Length: 2\r\n"),
    ),
    ResponseCase(
        "responseHeaderSectionTooLarge",
        "An origin response with a header section over 64 KiB: 502.",
        R_RESPONSE,
        okResponse(b"X-Big: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n"),
    ),
    ResponseCase(
        "responseGarbageStatusLine",
        "An origin answering with something that is not a status line: 502.",
        "RFC 9112 4: status-line = HTTP-version SP status-code SP "
        "[ reason-phrase ].",
        b"HELLO THERE\r\nContent-Length: 2\r\n\r\nok",
    ),
    ResponseCase(
        "responseBadStatusCode",
        "An origin answering with a four-digit status code: 502.",
        "RFC 9112 4: status-code = 3DIGIT.",
        okResponse(b"Content-Length: 2\r\n", status=b"2000 OK"),
    ),
    ResponseCase(
        "responseHTTP2Version",
        "An origin answering HTTP/2.0 200 on an HTTP/1.1 connection: 502.",
        R_VERSION,
        b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
    ResponseCase(
        "responseGzipTransferEncoding",
        "An origin response with Transfer-Encoding: gzip (chunked not "
        "final): 502, not a guess at reading until close.",
        "RFC 9112 6.3 (4); DESIGN.md: a proxy must not guess.",
        okResponse(b"Transfer-Encoding: gzip\r\n"),
    ),
    ResponseCase(
        "responseChunkedThenIdentity",
        "An origin response with Transfer-Encoding: chunked, identity: 502.",
        R_RESPONSE,
        okResponse(b"Transfer-Encoding: chunked, identity\r\n", b"2\r\nok\r\n0\r\n\r\n"),
    ),
    ResponseCase(
        "responseChunkedOnHTTP10",
        "An HTTP/1.0 origin response with Transfer-Encoding: chunked: 502.",
        "RFC 9112 6.1: HTTP/1.0 with Transfer-Encoding has faulty framing.",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ),
    ResponseCase(
        "responseUnrequestedSwitch",
        "An origin answering 101 Switching Protocols to a request that asked "
        "for no upgrade: 502, no tunnel.",
        "RFC 9110 15.2.2: 101 only in answer to an Upgrade request.",
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
        b"Upgrade: websocket\r\n\r\n" + EVIL,
    ),
    ResponseCase(
        "responseBareSwitch",
        "An origin answering a bare 101 (no Upgrade field) to a plain "
        "request: 502.",
        "RFC 9110 15.2.2.",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + EVIL,
    ),
    ResponseCase(
        "responseBareLF",
        "An origin response with bare LF line endings: 502.",
        "RFC 9112 2.2; DESIGN.md: responses get the same scrutiny as "
        "requests.",
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    ),
    ResponseCase(
        "responseObsFold",
        "An origin response with a folded field: 502.",
        "RFC 9112 5.2: a proxy must reject (502) or unfold obs-fold in a "
        "response.",
        okResponse(b"X-A: a\r\n b\r\nContent-Length: 2\r\n"),
    ),
    ResponseCase(
        "responseNulInValue",
        "An origin response with NUL in a field value: 502.",
        R_FIELD,
        okResponse(b"X-A: a\x00b\r\nContent-Length: 2\r\n"),
    ),
    ResponseCase(
        "responseSpaceBeforeColon",
        "An origin response with 'Content-Length : 2': 502.",
        "RFC 9112 5.1: a proxy must remove such whitespace or reject the "
        "response.",
        okResponse(b"Content-Length : 2\r\n"),
    ),
    ResponseCase(
        "responseConnectionListsContentLength",
        "An origin response with Connection: Content-Length: the client "
        "still gets a response it can delimit (a proxy dropping the "
        "Content-Length on a kept-alive connection leaves the client "
        "reading the next response as this body).",
        "RFC 9110 7.6.1 with RFC 9112 6.3: the proxy must frame what it "
        "forwards.",
        okResponse(b"Connection: Content-Length\r\nContent-Length: 2\r\n"),
        status=200,
        body=b"ok",
        dropped=False,
    ),
    ResponseCase(
        "responseChunkedWithTabs",
        "An origin response with Transfer-Encoding:<TAB>chunked<TAB>: its "
        "body is read as chunked, as announced, and the client gets ok (not "
        "the chunked coding as body, cut short at the close).",
        "RFC 9110 5.5: optional whitespace around a field value is not part "
        "of it.",
        okResponse(b"Transfer-Encoding:\tchunked\t\r\n", b"2\r\nok\r\n0\r\n\r\n"),
        status=200,
        body=b"ok",
        dropped=False,
    ),
    ResponseCase(
        "responseExtraBytes",
        "An origin sending more bytes than its Content-Length, shaped as a "
        "second response: the client gets the first response only; the "
        "extra response is never relayed to anyone, and the connection is "
        "not reused.",
        "RFC 9112 6.3 (6); RFC 9112 9.3: a response arriving without a "
        "request means the connection's framing is lost.",
        okResponse(b"Content-Length: 2\r\n") + EVIL,
        status=200,
        body=b"ok",
    ),
    ResponseCase(
        "responseBodyAfterNoContent",
        "An origin sending a body after 204 No Content: the client gets the "
        "204; the bytes are never taken as the next response.",
        "RFC 9112 6.3 (1): a 204 ends with its head.",
        b"HTTP/1.1 204 No Content\r\n\r\n" + EVIL,
        status=204,
    ),
    ResponseCase(
        "responseBodyToHead",
        "An origin sending a body in answer to HEAD: the client gets the "
        "head; the body is never taken as the next response.",
        "RFC 9112 6.3 (1): a response to HEAD ends with its head.",
        okResponse(b"Content-Length: 4\r\n", b"evil"),
        status=200,
        method=b"HEAD",
    ),
    ResponseCase(
        "responseBadChunkAfterHead",
        "An origin response whose chunked body turns malformed after the "
        "head went out: the client sees a truncated body and a closed "
        "connection, never a complete-looking response.",
        "DESIGN.md: after the head went out, a truncated body is never "
        "presented as complete.",
        okResponse(b"Transfer-Encoding: chunked\r\n", b"2\r\nok\r\nzz\r\n" + EVIL),
        status=200,
        truncated=True,
    ),
]
