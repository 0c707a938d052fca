"""
Tests for L{proxykit.h1._target}: request-target forms, authorities and
hosts, and the parser's use of them.
"""

from __future__ import annotations

import ipaddress

from twisted.trial.unittest import SynchronousTestCase

from proxykit.h1 import (
    PROXY_FORMS,
    H1Connection,
    ProtocolError,
    Request,
    TargetForm,
    canonicalHost,
    endsInNumber,
    parseAuthority,
    splitAbsolute,
    targetForm,
)

from .test_destinations import NON_CANONICAL


class TargetFormTests(SynchronousTestCase):
    """
    A parsed request carries its target's form; an asterisk followed by
    anything is none of the four forms and is refused.
    """

    def parsed(self, line: bytes) -> Request:
        conn = H1Connection(True)
        conn.receiveData(line + b"\r\nHost: x\r\n\r\n")
        event = conn.nextEvent()
        assert isinstance(event, Request), event
        return event

    def test_forms(self) -> None:
        """
        Origin-form, absolute-form, authority-form (CONNECT) and
        asterisk-form, as parsed.
        """
        cases = [
            (b"GET /a?b HTTP/1.1", TargetForm.ORIGIN),
            (b"GET http://example.test/ HTTP/1.1", TargetForm.ABSOLUTE),
            (b"CONNECT example.test:443 HTTP/1.1", TargetForm.AUTHORITY),
            (b"OPTIONS * HTTP/1.1", TargetForm.ASTERISK),
        ]
        for line, form in cases:
            self.assertEqual(self.parsed(line).form, form, line)
        self.assertEqual(PROXY_FORMS, {TargetForm.ABSOLUTE, TargetForm.AUTHORITY})

    def test_targetForm(self) -> None:
        """
        CONNECT's target is authority-form whatever its shape.
        """
        self.assertEqual(targetForm(b"CONNECT", b"/x"), TargetForm.AUTHORITY)
        self.assertEqual(targetForm(b"GET", b"//x"), TargetForm.ORIGIN)
        self.assertEqual(targetForm(b"GET", b"a.test:80"), TargetForm.ABSOLUTE)

    def test_asteriskWithMoreRefused(self) -> None:
        """
        C{*foo} and C{*/x} get 400.
        """
        for target in (b"*foo", b"*/x"):
            conn = H1Connection(True)
            conn.receiveData(b"OPTIONS " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            with self.assertRaises(ProtocolError) as caught:
                conn.nextEvent()
            self.assertEqual(caught.exception.status, 400, target)

    def test_splitAbsolute(self) -> None:
        """
        Scheme (lower-cased), authority and origin-form path.
        """
        self.assertEqual(splitAbsolute(b"HTTP://a.test"), (b"http", b"a.test", b"/"))
        self.assertEqual(splitAbsolute(b"http://a.test?q"), (b"http", b"a.test", b"/?q"))
        self.assertEqual(splitAbsolute(b"http://a.test:81/p?q"), (b"http", b"a.test:81", b"/p?q"))
        self.assertIsNone(splitAbsolute(b"a.test/p"))
        self.assertTrue(endsInNumber("a.1"))


class ParseAuthorityTests(SynchronousTestCase):
    """
    L{parseAuthority} splits host and port strictly.
    """

    def test_valid(self) -> None:
        """
        Names are lower-cased and lose a trailing dot; ports are decimal.
        """
        self.assertEqual(parseAuthority(b"Example.com.:81", 80), ("example.com", 81))
        self.assertEqual(parseAuthority(b"[2001:db8::1]", 80), ("2001:db8::1", 80))
        self.assertEqual(parseAuthority(b"10.0.0.1:65535", None), ("10.0.0.1", 65535))
        self.assertEqual(parseAuthority(b"10.0.0.1.", 80), ("10.0.0.1", 80))
        self.assertEqual(parseAuthority(b"[::FFFF:127.0.0.1]:1", 80), ("::ffff:7f00:1", 1))

    def test_invalid(self) -> None:
        """
        Anything not strictly host[:port] raises L{ValueError}.
        """
        for authority in (
            b"", b":80", b"a:0", b"a:65536", b"a: 80", b"\xff", b"[::1]x", b"a@b", b".:80",
            b"127.1", b"0x7f000001:80", b"[127.0.0.1]", b"[fe80::1%25eth0]", b"a..:80",
        ):  # fmt: skip
            with self.assertRaises(ValueError, msg=repr(authority)):
                parseAuthority(authority, 80)
        with self.assertRaises(ValueError):
            parseAuthority(b"a:", None)


class CanonicalHostTests(SynchronousTestCase):
    """
    L{canonicalHost}: the one classification of hosts clients name.
    """

    def test_nonCanonicalIPv4Refused(self) -> None:
        """
        Decimal, octal, hexadecimal and short spellings of IPv4 addresses,
        and names ending in a number, are malformed.
        """
        for host in NON_CANONICAL + tuple(h + "." for h in NON_CANONICAL):
            self.assertTrue(endsInNumber(host), host)
            self.assertRaises(ValueError, canonicalHost, host)

    def test_canonical(self) -> None:
        """
        Dotted-decimal IPv4 and IPv6 literals are addresses, names are
        lower-cased; one trailing dot is dropped.
        """
        v4 = ipaddress.IPv4Address("127.0.0.1")
        self.assertEqual(canonicalHost("127.0.0.1"), ("127.0.0.1", v4))
        self.assertEqual(canonicalHost("127.0.0.1."), ("127.0.0.1", v4))
        self.assertEqual(canonicalHost("LocalHost."), ("localhost", None))
        self.assertEqual(canonicalHost("1.2.3.4.example"), ("1.2.3.4.example", None))
        mapped = ipaddress.IPv6Address("::ffff:127.0.0.1")
        self.assertEqual(canonicalHost("[::FFFF:127.0.0.1]"), ("::ffff:7f00:1", mapped))
        self.assertEqual(canonicalHost("0:0::1"), ("::1", ipaddress.IPv6Address("::1")))
        self.assertEqual(canonicalHost("0.0.0.0")[0], "0.0.0.0")

    def test_configuredHosts(self) -> None:
        """
        Configured hosts (vhost names, origin URLs) follow the same rule.
        """
        from proxykit.config import checkOriginURL, parseHost

        for host in ("127.1", "0x7f000001", "2130706433", "0177.0.0.1", "x.0x1"):
            self.assertRaises(ValueError, parseHost, host)
            self.assertRaises(ValueError, checkOriginURL, f"http://{host}:8080")
        self.assertEqual(parseHost("127.0.0.1."), "127.0.0.1.")

    def test_malformed(self) -> None:
        """
        Empty labels (two trailing dots included), percent-encoding, IPv6
        zones, IPv4 in brackets and non-ASCII are malformed.
        """
        for host in ("", ".", "localhost..", "a..b", ".a", "127%2e0%2e0%2e1",
                     "fe80::1%eth0", "[127.0.0.1]", "[::1", "exämple.test", "1:2"):  # fmt: skip
            self.assertRaises(ValueError, canonicalHost, host)
