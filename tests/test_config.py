"""
Tests for L{proxykit.config}: TOML in, frozen values out, located errors.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import ConfigError, ForwardConfig, ProxyConfig, Timeouts

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


class ProxyConfigTests(SynchronousTestCase):
    """
    L{ProxyConfig.fromFile} reads every documented key and rejects bad ones
    naming file, line and key.
    """

    def write(self, text: str) -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_defaults(self) -> None:
        """
        Without a file: loopback listener on 8080, CONNECT to 443 only,
        loopback clients only.
        """
        config = ProxyConfig()
        self.assertEqual(config.listen, ("tcp:8080:interface=127.0.0.1",))
        self.assertEqual(config.forward.connectPorts, frozenset({443}))
        self.assertEqual(config.forward.allowClients, ("127.0.0.0/8", "::1/128"))

    def test_exampleFile(self) -> None:
        """
        examples/forward.toml loads and matches the defaults it documents.
        """
        config = ProxyConfig.fromFile(os.path.join(EXAMPLES, "forward.toml"))
        self.assertEqual(config, ProxyConfig())

    def test_values(self) -> None:
        """
        Every key lands in its field.
        """
        path = self.write(
            'listen = ["tcp:0", "unix:/tmp/p.sock"]\n'
            "[forward]\nconnect_ports = [443, 8443]\nallow_clients = [\"10.0.0.0/8\"]\n"
            "allow_private_destinations = true\nvia = \"edge\"\n"
            "[timeouts]\nconnect = 1\nresponse = 2.5\nidle = 3\ntunnel_idle = 4\n"
            "[pool]\nmax_idle_per_origin = 0\nidle_expiry = 5\n"
            "[limits]\nmax_request_line = 100\nmax_header_bytes = 200\nmax_header_count = 3\n"
        )
        config = ProxyConfig.fromFile(path)
        self.assertEqual(config.listen, ("tcp:0", "unix:/tmp/p.sock"))
        self.assertEqual(
            config.forward,
            ForwardConfig(frozenset({443, 8443}), ("10.0.0.0/8",), True, "edge"),
        )
        self.assertEqual(config.timeouts, Timeouts(1.0, 2.5, 3.0, 4.0))
        self.assertEqual(config.pool.maxIdlePerOrigin, 0)
        self.assertEqual(config.limits.maxHeaderCount, 3)

    def assertConfigError(self, text: str, line: int | None, key: str, problem: str) -> None:
        path = self.write(text)
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        e = caught.exception
        self.assertEqual((e.source, e.line, e.key), (path, line, key))
        self.assertIn(problem, e.problem)
        self.assertIn(path, str(e))

    def test_badValue(self) -> None:
        """
        A value of the wrong kind names file, line, key path and problem.
        """
        self.assertConfigError(
            '# comment\n[timeouts]\nidle = 3\nconnect = "soon"\n',
            4,
            "timeouts.connect",
            "expected a positive number, got 'soon'",
        )

    def test_badValues(self) -> None:
        """
        Ports, networks, counts and tokens are checked.
        """
        cases = [
            ("[forward]\nconnect_ports = [0]\n", 2, "forward.connect_ports"),
            ("[forward]\nconnect_ports = [\"443x\"]\n", 2, "forward.connect_ports"),
            ("[forward]\nallow_clients = [\"nonsense\"]\n", 2, "forward.allow_clients"),
            ("[forward]\nallow_private_destinations = 1\n", 2, "forward.allow_private_destinations"),
            ("[forward]\nvia = \"a b\"\n", 2, "forward.via"),
            ("[pool]\nmax_idle_per_origin = -1\n", 2, "pool.max_idle_per_origin"),
            ("[limits]\nmax_header_count = 0\n", 2, "limits.max_header_count"),
            ("[timeouts]\nresponse = -1\n", 2, "timeouts.response"),
            ("[timeouts]\nresponse = true\n", 2, "timeouts.response"),
            ("listen = []\n", 1, "listen"),
            ("listen = \"tcp:80\"\n", 1, "listen"),
        ]
        for text, line, key in cases:
            self.assertConfigError(text, line, key, "expected")

    def test_unknownKey(self) -> None:
        """
        Unknown keys are errors, not silently ignored typos.
        """
        self.assertConfigError("[timeouts]\nconect = 3\n", 2, "timeouts.conect", "unknown key")
        self.assertConfigError("lisen = []\n", 1, "lisen", "unknown key")
        self.assertConfigError("forward = 3\n", 1, "forward", "expected a table")

    def test_syntaxError(self) -> None:
        """
        Invalid TOML names the file and line.
        """
        path = self.write("[timeouts]\nconnect = = 3\n")
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        self.assertEqual(caught.exception.line, 2)
        self.assertIn("invalid TOML", str(caught.exception))

    def test_missingFile(self) -> None:
        """
        An unreadable file is a ConfigError naming it.
        """
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile("/nonexistent/proxykit.toml")
        self.assertIn("/nonexistent/proxykit.toml", str(caught.exception))
