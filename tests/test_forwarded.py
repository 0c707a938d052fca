"""
Tests for L{proxykit.policy.forwarded}: what the origin is told about the client,
and how redirects from the origin are pointed back at the public address.

Each table is checked in a single comparison of (row, result) lists, so that
a failure shows every row that disagrees at once.
"""

from __future__ import annotations

from typing import NamedTuple

from twisted.trial.unittest import SynchronousTestCase

from proxykit.h1 import Headers
from proxykit.policy.forwarded import (
    FORWARDING_FIELDS,
    addForwardingHeaders,
    appendForwardingHeaders,
    rewriteLocation,
    rewriteResponseHeaders,
)
from proxykit.policy.rewrite import forwardHeaders

CLIENT = "203.0.113.7"
PROXY = "10.0.0.1"
ACCEPT = (b"Accept", b"*/*")


class ForwardingRow(NamedTuple):
    """
    One request passing through the proxy: what it arrived with, who sent it
    and what the origin receives.
    """

    doc: str
    received: Headers
    expected: Headers
    client: str = CLIENT
    trusted: bool = False
    proto: bytes = b"https"
    host: bytes | None = b"example.com"
    by: str | None = None
    xForwardedFor: bool = True
    xForwardedProto: bool = True
    xForwardedHost: bool = True
    forwarded: bool = False


def forward(row: ForwardingRow) -> Headers:
    """
    Call L{addForwardingHeaders} as the proxy would for C{row}.
    """
    return addForwardingHeaders(
        row.received,
        client=row.client,
        trusted=row.trusted,
        proto=row.proto,
        host=row.host,
        by=row.by,
        xForwardedFor=row.xForwardedFor,
        xForwardedProto=row.xForwardedProto,
        xForwardedHost=row.xForwardedHost,
        forwarded=row.forwarded,
    )


XFF = b"X-Forwarded-For"
XFP = b"X-Forwarded-Proto"
XFH = b"X-Forwarded-Host"
FWD = b"Forwarded"
OURS: Headers = [
    (XFF, CLIENT.encode()),
    (XFP, b"https"),
    (XFH, b"example.com"),
]
"""What a direct client's request gets with the default flags."""

SPOOFED: Headers = [
    (b"X-Forwarded-For", b"1.2.3.4"),
    (b"x-forwarded-proto", b"http"),
    (b"X-FORWARDED-HOST", b"evil.example"),
    (b"forwarded", b"for=1.2.3.4;proto=http"),
    (b"X-Forwarded-For", b"5.6.7.8"),
]
"""Every forwarding field, as a client making them up would send them."""

UNTRUSTED_ROWS = [
    ForwardingRow(
        "A direct client's request gets the three X-Forwarded fields, after its own",
        [ACCEPT],
        [ACCEPT] + OURS,
    ),
    ForwardingRow(
        "Forwarding fields made up by a direct client, in any case, are all "
        "replaced by the proxy's own",
        [SPOOFED[0], ACCEPT] + SPOOFED[1:],
        [ACCEPT] + OURS + [(FWD, b"for=203.0.113.7;proto=https;host=example.com")],
        forwarded=True,
    ),
    ForwardingRow(
        "Other fields keep their order, case and repetition around removed ones",
        [
            (b"Set-Cookie", b"a=1"),
            (b"x-forwarded-for", b"1.2.3.4"),
            (b"accept", b"text/html"),
            (b"Set-Cookie", b"b=2"),
            (b"Accept-Encoding", b"gzip"),
            (b"X-Forwarded-Port", b"443"),
        ],
        [
            (b"Set-Cookie", b"a=1"),
            (b"accept", b"text/html"),
            (b"Set-Cookie", b"b=2"),
            (b"Accept-Encoding", b"gzip"),
            (b"X-Forwarded-Port", b"443"),
        ]
        + OURS,
    ),
    ForwardingRow(
        "An IPv6 client is written plainly in X-Forwarded-For and as a "
        "bracketed quoted-string in Forwarded",
        [],
        [
            (XFF, b"2001:db8:cafe::17"),
            (FWD, b'for="[2001:db8:cafe::17]";proto=http'),
        ],
        client="2001:db8:cafe::17",
        proto=b"http",
        host=None,
        xForwardedProto=False,
        forwarded=True,
    ),
    ForwardingRow(
        "A Host with a port is quoted in Forwarded, as ':' is not a token character",
        [],
        [
            (XFH, b"example.com:8080"),
            (FWD, b'for=203.0.113.7;proto=https;host="example.com:8080"'),
        ],
        host=b"example.com:8080",
        xForwardedFor=False,
        xForwardedProto=False,
        forwarded=True,
    ),
    ForwardingRow(
        "Quotes and backslashes in Host are escaped in Forwarded",
        [],
        [(FWD, b'for=203.0.113.7;proto=https;host="a\\"b\\\\c"')],
        host=b'a"b\\c',
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "A Host with a control character cannot be written in Forwarded, so "
        "host= is left out",
        [],
        [(FWD, b"for=203.0.113.7;proto=https")],
        host=b"a\x01b",
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "DEL is a control character too",
        [],
        [(FWD, b"for=203.0.113.7;proto=https")],
        host=b"a\x7fb",
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "Tabs, spaces and non-ASCII octets in Host are quoted as they are",
        [],
        [(FWD, b'for=203.0.113.7;proto=https;host="a\tb c\xc3\xa9"')],
        host=b"a\tb c\xc3\xa9",
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "An empty Host is an empty quoted-string in Forwarded",
        [],
        [(XFH, b""), (FWD, b'for=203.0.113.7;proto=https;host=""')],
        host=b"",
        xForwardedFor=False,
        xForwardedProto=False,
        forwarded=True,
    ),
    ForwardingRow(
        "Without a Host there is no X-Forwarded-Host and no host=",
        [],
        [
            (XFF, CLIENT.encode()),
            (XFP, b"https"),
            (FWD, b"for=203.0.113.7;proto=https"),
        ],
        host=None,
        forwarded=True,
    ),
    ForwardingRow(
        "An obfuscated by= is a token",
        [],
        [(FWD, b"for=203.0.113.7;proto=https;host=example.com;by=_proxykit")],
        by="_proxykit",
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "An IPv6 by= gets brackets and quotes",
        [],
        [(FWD, b'for=203.0.113.7;proto=https;by="[2001:db8::2]"')],
        host=None,
        by="2001:db8::2",
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "A by= with a port is quoted",
        [],
        [(FWD, b'for=203.0.113.7;proto=https;by="192.0.2.5:8080"')],
        host=None,
        by="192.0.2.5:8080",
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "X-Forwarded-For off: the client's made-up one is still removed",
        SPOOFED,
        OURS[1:],
        xForwardedFor=False,
    ),
    ForwardingRow(
        "X-Forwarded-Proto off: the client's made-up one is still removed",
        SPOOFED,
        [OURS[0], OURS[2]],
        xForwardedProto=False,
    ),
    ForwardingRow(
        "X-Forwarded-Host off: the client's made-up one is still removed",
        SPOOFED,
        OURS[:2],
        xForwardedHost=False,
    ),
    ForwardingRow(
        "Forwarded off (the default): the client's made-up one is still removed",
        SPOOFED,
        OURS,
    ),
    ForwardingRow(
        "Everything off: nothing is added and nothing made up gets through",
        [ACCEPT] + SPOOFED,
        [ACCEPT],
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
    ),
    ForwardingRow(
        "A client on a UNIX socket adds nothing to X-Forwarded-For and is "
        "for=unknown in Forwarded",
        SPOOFED,
        OURS[1:] + [(FWD, b"for=unknown;proto=https;host=example.com")],
        client="",
        forwarded=True,
    ),
]

TRUSTED_ROWS = [
    ForwardingRow(
        "A trusted proxy's X-Forwarded-For chain is extended with its address",
        [(XFF, b"1.2.3.4"), ACCEPT],
        [(XFF, b"1.2.3.4, 10.0.0.1"), ACCEPT] + OURS[1:],
        client=PROXY,
        trusted=True,
    ),
    ForwardingRow(
        "A chain sent on several lines becomes one, where the first line was",
        [
            (b"x-forwarded-for", b"1.2.3.4"),
            ACCEPT,
            (b"X-Forwarded-For", b""),
            (b"X-Forwarded-For", b"5.6.7.8, 9.9.9.9"),
        ],
        [(b"x-forwarded-for", b"1.2.3.4, 5.6.7.8, 9.9.9.9, 10.0.0.1"), ACCEPT],
        client=PROXY,
        trusted=True,
        xForwardedProto=False,
        xForwardedHost=False,
    ),
    ForwardingRow(
        "An empty X-Forwarded-For from a trusted proxy leaves just its address",
        [(XFF, b"")],
        [(XFF, b"10.0.0.1")],
        client=PROXY,
        trusted=True,
        xForwardedProto=False,
        xForwardedHost=False,
    ),
    ForwardingRow(
        "A trusted proxy's Forwarded chain gets this hop's element appended",
        [
            (FWD, b"for=1.2.3.4;proto=https"),
            ACCEPT,
            (b"FORWARDED", b'for="[2001:db8::1]"'),
        ],
        [
            (
                FWD,
                b'for=1.2.3.4;proto=https, for="[2001:db8::1]", '
                b"for=10.0.0.1;proto=https;host=example.com",
            ),
            ACCEPT,
        ],
        client=PROXY,
        trusted=True,
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
        forwarded=True,
    ),
    ForwardingRow(
        "The scheme and host set by the first proxy are kept, not added again",
        [(b"x-forwarded-proto", b"http"), (XFH, b"first.example")],
        [
            (b"x-forwarded-proto", b"http"),
            (XFH, b"first.example"),
            (XFF, b"10.0.0.1"),
        ],
        client=PROXY,
        trusted=True,
    ),
    ForwardingRow(
        "A trusted proxy that sent no forwarding fields gets them added",
        [ACCEPT],
        [
            ACCEPT,
            (XFF, b"10.0.0.1"),
            (XFP, b"https"),
            (XFH, b"example.com"),
            (FWD, b"for=10.0.0.1;proto=https;host=example.com"),
        ],
        client=PROXY,
        trusted=True,
        forwarded=True,
    ),
    ForwardingRow(
        "With every field off, a trusted proxy's fields pass through untouched",
        SPOOFED,
        SPOOFED,
        client=PROXY,
        trusted=True,
        xForwardedFor=False,
        xForwardedProto=False,
        xForwardedHost=False,
    ),
    ForwardingRow(
        "A trusted proxy on a UNIX socket: its chain is passed on as it is "
        "and this hop is for=unknown",
        [(XFF, b"1.2.3.4"), (XFF, b"5.6.7.8"), (FWD, b"for=1.2.3.4")],
        [
            (XFF, b"1.2.3.4"),
            (XFF, b"5.6.7.8"),
            (FWD, b"for=1.2.3.4, for=unknown;proto=https;host=example.com"),
            (XFP, b"https"),
            (XFH, b"example.com"),
        ],
        client="",
        trusted=True,
        forwarded=True,
    ),
]


class AddForwardingHeadersTests(SynchronousTestCase):
    """
    L{addForwardingHeaders} tells the origin who the client is, and only
    believes what trusted proxies say.
    """

    def test_untrustedClients(self) -> None:
        """
        A client that is not a trusted proxy cannot pass forwarding fields
        of its own to the origin, whichever fields are enabled; the proxy's
        own are added after everything else, quoted as RFC 7239 requires.
        """
        self.assertEqual(
            [(row.doc, forward(row)) for row in UNTRUSTED_ROWS],
            [(row.doc, row.expected) for row in UNTRUSTED_ROWS],
        )

    def test_trustedProxies(self) -> None:
        """
        A trusted proxy's chains are extended and its scheme and host kept;
        disabled fields pass through as it sent them.
        """
        self.assertEqual(
            [(row.doc, forward(row)) for row in TRUSTED_ROWS],
            [(row.doc, row.expected) for row in TRUSTED_ROWS],
        )

    def test_inputNotChanged(self) -> None:
        """
        The received list is left as it was, and a new list is returned even
        when there is nothing to add.
        """
        for row in UNTRUSTED_ROWS + TRUSTED_ROWS:
            received = list(row.received)
            result = forward(row)
            self.assertEqual(row.received, received, row.doc)
            self.assertIsNot(result, row.received, row.doc)
        received = [ACCEPT]
        result = addForwardingHeaders(
            received,
            client=CLIENT,
            trusted=False,
            proto=b"http",
            host=None,
            xForwardedFor=False,
            xForwardedProto=False,
            xForwardedHost=False,
        )
        self.assertEqual(result, [ACCEPT])
        self.assertIsNot(result, received)

    def test_appendedInPlace(self) -> None:
        """
        L{appendForwardingHeaders} on the fields an untrusted client sent,
        its forwarding fields removed in the pass that removes the
        hop-by-hop ones (L{forwardHeaders}'s C{removed}), gives what
        L{forwardHeaders} then L{addForwardingHeaders} give, in that list.
        """
        for row in UNTRUSTED_ROWS:
            received = [(b"Connection", b"close"), *row.received]
            expected = forward(row._replace(received=forwardHeaders(received, frozenset(), b"1.1 p")))
            headers = forwardHeaders(received, frozenset(), b"1.1 p", None, None, FORWARDING_FIELDS)
            same = headers
            appendForwardingHeaders(
                headers,
                client=row.client,
                proto=row.proto,
                host=row.host,
                by=row.by,
                xForwardedFor=row.xForwardedFor,
                xForwardedProto=row.xForwardedProto,
                xForwardedHost=row.xForwardedHost,
                forwarded=row.forwarded,
            )
            self.assertEqual(headers, expected, row.doc)
            self.assertIs(headers, same)

    def test_fieldNames(self) -> None:
        """
        The four fields the proxy owns are named in lower case.
        """
        self.assertEqual(
            FORWARDING_FIELDS,
            {
                b"x-forwarded-for",
                b"x-forwarded-proto",
                b"x-forwarded-host",
                b"forwarded",
            },
        )


ORIGINS = frozenset({b"127.0.0.1:9001", b"Backend.Internal:80"})
PUBLIC = b"www.example.com"


class LocationRow(NamedTuple):
    """
    A C{Location} value from the origin and what the client sees.
    """

    doc: str
    value: bytes
    expected: bytes | None
    stripPrefix: bytes = b""
    prefix: bytes = b""


LOCATION_ROWS = [
    LocationRow(
        "An origin URI with path, query and fragment",
        b"http://127.0.0.1:9001/login?next=/a#top",
        b"https://www.example.com/login?next=/a#top",
    ),
    LocationRow(
        "The scheme's case does not matter",
        b"HTTP://127.0.0.1:9001/x",
        b"https://www.example.com/x",
    ),
    LocationRow(
        "The host's case does not matter",
        b"http://BACKEND.internal/x",
        b"https://www.example.com/x",
    ),
    LocationRow(
        "Port 80 is the same as no port",
        b"http://backend.internal:80/x",
        b"https://www.example.com/x",
    ),
    LocationRow(
        "An empty port is the same as no port",
        b"http://backend.internal:/x",
        b"https://www.example.com/x",
    ),
    LocationRow(
        "An origin URI without a path",
        b"http://127.0.0.1:9001",
        b"https://www.example.com",
    ),
    LocationRow(
        "An origin URI with a query but no path",
        b"http://127.0.0.1:9001?q=1",
        b"https://www.example.com?q=1",
    ),
    LocationRow(
        "A network-path reference to the origin",
        b"//127.0.0.1:9001/x",
        b"https://www.example.com/x",
    ),
    LocationRow("Another port", b"http://127.0.0.1:9002/x", None),
    LocationRow("The origin's host on the default port", b"http://127.0.0.1/x", None),
    LocationRow("Another host", b"http://example.org/x", None),
    LocationRow(
        "A host that only starts like an origin", b"http://127.0.0.1:90011/", None
    ),
    LocationRow(
        "The origin over https is elsewhere", b"https://127.0.0.1:9001/x", None
    ),
    LocationRow("Userinfo", b"http://user@127.0.0.1:9001/x", None),
    LocationRow("A network-path reference elsewhere", b"//evil.example/x", None),
    LocationRow("An absolute-path reference", b"/x", None),
    LocationRow("A relative path", b"x/y", None),
    LocationRow("A dot-segment path", b"../y", None),
    LocationRow("A query only", b"?q=1", None),
    LocationRow("A fragment only", b"#top", None),
    LocationRow("Empty", b"", None),
    LocationRow("A scheme and nothing else", b"http://", None),
    LocationRow("An empty authority", b"http:///x", None),
    LocationRow("An unclosed IPv6 literal", b"http://[::1", None),
    LocationRow("Another scheme", b"javascript:alert(1)", None),
    LocationRow("Not text", b"\xff\xfe\x00", None),
    LocationRow("Garbage after the scheme", b"http://\xff@\x00/", None),
    # A route mounted at /api that strips its prefix.
    LocationRow(
        "Stripped prefix: an absolute-path reference gets it back",
        b"/x?q=1",
        b"/api/x?q=1",
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: the origin's root",
        b"/",
        b"/api/",
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix with a trailing slash: no double slash",
        b"/x",
        b"/api/x",
        stripPrefix=b"/api/",
    ),
    LocationRow(
        "Stripped prefix: an origin URI",
        b"http://127.0.0.1:9001/x",
        b"https://www.example.com/api/x",
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: an origin URI without a path",
        b"http://127.0.0.1:9001",
        b"https://www.example.com/api/",
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: an origin URI with a query but no path",
        b"http://127.0.0.1:9001?q=1",
        b"https://www.example.com/api/?q=1",
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: a network-path reference to the origin",
        b"//127.0.0.1:9001/x",
        b"https://www.example.com/api/x",
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: a network-path reference elsewhere is not a path",
        b"//evil.example/x",
        None,
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: another host",
        b"http://example.org/x",
        None,
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripped prefix: a relative path already resolves under it",
        b"x",
        None,
        stripPrefix=b"/api",
    ),
    LocationRow(
        "Stripping the root prefix adds nothing",
        b"/x",
        None,
        stripPrefix=b"/",
    ),
    LocationRow(
        "A public prefix other than the stripped one",
        b"/x",
        b"/public/x",
        stripPrefix=b"/api",
        prefix=b"/public/",
    ),
    LocationRow(
        "A public prefix without stripping is not used",
        b"/x",
        None,
        prefix=b"/api",
    ),
]


def rewrite(row: LocationRow) -> bytes | None:
    """
    Call L{rewriteLocation} as a route behind C{https://www.example.com}
    would for C{row}.
    """
    return rewriteLocation(
        row.value, ORIGINS, b"https", PUBLIC, row.stripPrefix, row.prefix
    )


def stripRoutePrefix(path: bytes, prefix: bytes) -> bytes:
    """
    What a route mounted at C{prefix} that strips it sends to its origin for
    the public C{path}.
    """
    rest = path[len(prefix.rstrip(b"/")) :]
    return rest if rest.startswith(b"/") else b"/" + rest


class RewriteLocationTests(SynchronousTestCase):
    """
    L{rewriteLocation} points redirects at the origin back at the public
    address, and leaves every other value alone.
    """

    def test_table(self) -> None:
        """
        URIs naming an origin (any case, default port or not) point at the
        public scheme and authority; other hosts, other schemes, relative
        references and garbage are kept; a route that strips its prefix gets
        it back in front of the origin's paths.
        """
        self.assertEqual(
            [(row.doc, rewrite(row)) for row in LOCATION_ROWS],
            [(row.doc, row.expected) for row in LOCATION_ROWS],
        )

    def test_prefixRoundTrip(self) -> None:
        """
        When the origin redirects to the very path it was asked for, the
        client is sent back to the public URI it asked for.
        """
        paths = [b"/api/", b"/api/a/b", b"/api/a/b?q=1", b"/api/a/"]
        for prefix in (b"/api", b"/api/"):
            seen = []
            for path in paths:
                originPath = stripRoutePrefix(path, prefix)
                seen.append(
                    (
                        rewriteLocation(
                            b"http://127.0.0.1:9001" + originPath,
                            ORIGINS,
                            b"https",
                            PUBLIC,
                            stripPrefix=prefix,
                        ),
                        rewriteLocation(
                            originPath, ORIGINS, b"https", PUBLIC, stripPrefix=prefix
                        ),
                    )
                )
            self.assertEqual(
                seen, [(b"https://www.example.com" + path, path) for path in paths]
            )

    def test_anyBytesAccepted(self) -> None:
        """
        No value from the origin makes the rewriter fail.
        """
        for value in [bytes([i]) for i in range(256)] + [
            b"http://" + bytes([i]) + b"/" for i in range(256)
        ]:
            for stripPrefix in (b"", b"/api"):
                result = rewriteLocation(
                    value, ORIGINS, b"https", PUBLIC, stripPrefix=stripPrefix
                )
                self.assertIsInstance(result, (bytes, type(None)))


class RewriteResponseHeadersTests(SynchronousTestCase):
    """
    L{rewriteResponseHeaders} applies a rewriter to C{Location} and
    C{Content-Location} only.
    """

    def setUp(self) -> None:
        self.rewriter = lambda value: rewriteLocation(value, ORIGINS, b"https", PUBLIC)

    def test_nothingToRewrite(self) -> None:
        """
        A response whose locations do not name an origin, or that has none,
        is passed on as the very same list.
        """
        for headers in [
            [],
            [(b"Content-Type", b"text/html"), (b"Referrer", b"x")],
            [(b"Location", b"https://elsewhere.example/"), (b"X", b"y")],
            [(b"content-location", b"/relative")],
        ]:
            self.assertIs(rewriteResponseHeaders(headers, self.rewriter), headers)

    def test_unchangedValue(self) -> None:
        """
        A rewriter returning the value it was given counts as no change.
        """
        headers: Headers = [(b"Location", b"/x")]
        self.assertIs(rewriteResponseHeaders(headers, lambda value: value), headers)

    def test_rewritten(self) -> None:
        """
        Both fields are rewritten, whatever the case of their names, in
        place; other fields are untouched and the received list is kept.
        """
        headers: Headers = [
            (b"Set-Cookie", b"a=1"),
            (b"location", b"http://127.0.0.1:9001/next"),
            (b"Content-Location", b"http://BACKEND.internal/doc"),
            (b"Link", b"<http://127.0.0.1:9001/style.css>; rel=preload"),
        ]
        received = list(headers)
        result = rewriteResponseHeaders(headers, self.rewriter)
        self.assertEqual(
            result,
            [
                (b"Set-Cookie", b"a=1"),
                (b"location", b"https://www.example.com/next"),
                (b"Content-Location", b"https://www.example.com/doc"),
                (b"Link", b"<http://127.0.0.1:9001/style.css>; rel=preload"),
            ],
        )
        self.assertEqual(headers, received)


class HTTPSOriginLocationTests(SynchronousTestCase):
    """
    Redirects from an origin spoken to over https name it with https.
    """

    def test_httpsOrigin(self) -> None:
        """
        C{https://ORIGIN/x} is rewritten for an https origin (C{:443} the
        same as no port); C{http://ORIGIN/x} is then somewhere else.
        """
        origins = {b"origin.test"}
        self.assertEqual(
            rewriteLocation(b"https://origin.test:443/x", origins, b"https", b"site.test", originScheme=b"https"),
            b"https://site.test/x",
        )
        self.assertIsNone(
            rewriteLocation(b"http://origin.test/x", origins, b"https", b"site.test", originScheme=b"https")
        )
