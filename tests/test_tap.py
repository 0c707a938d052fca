"""
Tests for L{proxykit.tap}: C{twistd proxykit} options to a service.
"""

from __future__ import annotations

from twisted.application.service import IServiceCollection
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import ProxyConfig
from proxykit.service import ProxyService
from proxykit.tap import Options, makeService


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    """
    The forward subcommand's flags become a L{ProxyConfig}.
    """

    def test_defaults(self) -> None:
        """
        With no flags the defaults apply: loopback 8080, CONNECT 443.
        """
        options = parse("forward")
        self.assertEqual(options.subOptions["proxyConfig"], ProxyConfig())

    def test_flags(self) -> None:
        """
        --listen and --connect-port repeat; timeouts are seconds.
        """
        options = parse(
            "forward",
            "--listen", "tcp:0:interface=127.0.0.1",
            "--listen", "unix:/tmp/x.sock",
            "--connect-port", "443",
            "--connect-port", "8443",
            "--connect-timeout", "2",
            "--response-timeout", "3.5",
            "--idle-timeout", "4",
        )
        config = options.subOptions["proxyConfig"]
        self.assertEqual(config.listen, ("tcp:0:interface=127.0.0.1", "unix:/tmp/x.sock"))
        self.assertEqual(config.forward.connectPorts, frozenset({443, 8443}))
        self.assertEqual(
            (config.timeouts.connect, config.timeouts.response, config.timeouts.idle),
            (2.0, 3.5, 4.0),
        )

    def test_badFlags(self) -> None:
        """
        Bad ports and timeouts are usage errors naming the flag.
        """
        for argv in (
            ["forward", "--connect-port", "0"],
            ["forward", "--connect-port", "+443"],
            ["forward", "--connect-timeout", "soon"],
            ["forward", "--idle-timeout", "-1"],
            ["forward", "--response-timeout", "nan"],
        ):
            with self.assertRaises(usage.UsageError) as caught:
                parse(*argv)
            self.assertIn(argv[1], str(caught.exception))

    def test_noMode(self) -> None:
        """
        A mode is required.
        """
        self.assertRaises(usage.UsageError, parse)

    def test_configFileAndOverride(self) -> None:
        """
        The command line overrides the file; a bad file is a usage error
        naming file, line and key.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('listen = ["tcp:1"]\n[forward]\nconnect_ports = [8443]\n')
        config = parse("forward", "--config", path, "--listen", "tcp:2").subOptions["proxyConfig"]
        self.assertEqual(config.listen, ("tcp:2",))
        self.assertEqual(config.forward.connectPorts, frozenset({8443}))
        with open(path, "w") as f:
            f.write("[timeouts]\nidle = 'x'\n")
        with self.assertRaises(usage.UsageError) as caught:
            parse("forward", "--config", path)
        self.assertIn(f"{path}:2: timeouts.idle", str(caught.exception))

    def test_makeService(self) -> None:
        """
        makeService builds one listener per --listen.
        """
        service = makeService(parse("forward", "--listen", "tcp:0", "--listen", "tcp:0"))
        self.assertIsInstance(service, ProxyService)
        self.assertEqual(len(list(IServiceCollection(service))), 2)
