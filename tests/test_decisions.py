"""
Tests for L{proxykit.decisions}: the values routers return and the origin
they name.
"""

from __future__ import annotations

import ast
import base64
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

import proxykit
from proxykit import decisions
from proxykit.decisions import Origin, parseParent


class OriginTests(SynchronousTestCase):
    """
    An origin's authority, its URL in logs, and its part as the simplest
    upstream.
    """

    def test_authority(self) -> None:
        """
        The scheme's default port is left out; IPv6 goes in brackets; a UNIX
        socket's authority is C{localhost}.
        """
        self.assertEqual(Origin("http", "a.test", 80).authority, b"a.test")
        self.assertEqual(Origin("https", "a.test", 443).authority, b"a.test")
        self.assertEqual(Origin("http", "a.test", 443).authority, b"a.test:443")
        self.assertEqual(Origin("http", "::1", 8080).authority, b"[::1]:8080")
        self.assertEqual(Origin("unix", "/run/app.sock", 0).authority, b"localhost")

    def test_str(self) -> None:
        """
        Log events name an origin by its URL.
        """
        self.assertEqual(str(Origin("https", "a.test", 8443)), "https://a.test:8443")
        self.assertEqual(str(Origin("unix", "/run/app.sock", 0)), "unix:/run/app.sock")

    def test_upstreamOfOne(self) -> None:
        """
        An origin picks itself unless excluded.
        """
        origin = Origin("http", "a.test", 80)
        self.assertIs(origin.pick(), origin)
        self.assertIsNone(origin.pick([origin]))


class ParseParentTests(SynchronousTestCase):
    """
    L{parseParent} reads C{http://[user:password@]host[:port]}.
    """

    def test_valid(self) -> None:
        """
        Port 3128 by default; credentials become a Basic value.
        """
        self.assertEqual(parseParent("http://p.test"), (Origin("http", "p.test", 3128), None))
        origin, authorization = parseParent("http://u%40x:p%3Aw@p.test:8080/")
        self.assertEqual(origin, Origin("http", "p.test", 8080))
        self.assertEqual(authorization, b"Basic " + base64.b64encode(b"u@x:p:w"))

    def test_invalid(self) -> None:
        """
        Other schemes, paths, credentials without a password and bare
        authorities are refused.
        """
        for bad in ("https://p", "http://p/x", "http://user@p", "p:3128"):
            self.assertRaises(ValueError, parseParent, bad)


class LayerTests(SynchronousTestCase):
    """
    The decision values sit low: everything else imports them.
    """

    def test_importsOnlyH1(self) -> None:
        """
        L{proxykit.decisions} imports nothing of proxykit at run time but
        L{proxykit.h1} (the configuration only for annotations).
        """
        tree = ast.parse(Path(decisions.__file__).read_text())
        runtime = [
            node.module
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 1
        ]
        self.assertEqual(runtime, ["h1"])

    def test_exported(self) -> None:
        """
        The package exports the same objects.
        """
        for name in ("ClientInfo", "Forward", "Origin", "Refuse", "Tunnel"):
            self.assertIs(getattr(proxykit, name), getattr(decisions, name))
