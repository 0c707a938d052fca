"""
Tests for L{proxykit.tap}: C{twistd proxykit} options to a service.
"""

from __future__ import annotations

import io
import os
import platform
import sys

from twisted.application.service import IServiceCollection
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    OriginConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    VhostConfig,
)
from proxykit.policy.vhosts import CombinedRouter, ReverseRouter
from proxykit.service import ProxyService
from proxykit.tap import (
    ForwardOptions,
    Options,
    ReverseOptions,
    makeService,
    parseRoute,
)
from twisted import __version__ as twistedVersion

from .test_service import BusyReactor, loopback


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

    def test_workers(self) -> None:
        """
        C{--workers N} sets C{workers} over the file's, in both modes;
        C{auto} is one per CPU; anything but a whole number >= 1 or
        C{auto} is a usage error naming the flag.
        """
        from proxykit.config.checks import cpuCount

        self.assertEqual(parse("forward").subOptions["proxyConfig"].workers, 1)
        self.assertEqual(parse("forward", "--workers", "2").subOptions["proxyConfig"].workers, 2)
        self.assertEqual(
            parse("forward", "--workers", "auto").subOptions["proxyConfig"].workers, cpuCount()
        )
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("workers = 4\n")
        self.assertEqual(parse("forward", "--config", path).subOptions["proxyConfig"].workers, 4)
        self.assertEqual(
            parse("forward", "--config", path, "--workers", "1").subOptions["proxyConfig"].workers, 1
        )
        reverse = parse("reverse", "--route", "a.example=http://127.0.0.1:1", "--workers", "3")
        self.assertEqual(reverse.subOptions["proxyConfig"].workers, 3)
        for bad in ("0", "-1", "+2", "two", "1.5", ""):
            with self.assertRaises(usage.UsageError) as caught:
                parse("forward", "--workers", bad)
            self.assertIn("--workers", str(caught.exception))

    def test_badAuthFile(self) -> None:
        """
        A password file that cannot be read is a usage error naming where
        it was set, as the other configuration errors do: the file, line
        and key C{forward.auth_file}, or the flag C{--auth-file}.
        """
        missing = os.path.abspath(self.mktemp())
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(f'# users\n[forward]\nauth_file = "{missing}"\n')
        with self.assertRaises(usage.UsageError) as caught:
            parse("forward", "--config", path)
        self.assertEqual(
            str(caught.exception),
            f"{path}:3: forward.auth_file: {missing}: No such file or directory",
        )
        with self.assertRaises(usage.UsageError) as caught:
            parse("forward", "--config", path, "--auth-file", missing + "2")
        self.assertEqual(
            str(caught.exception), f"--auth-file: {missing}2: No such file or directory"
        )

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

    def test_badListen(self) -> None:
        """
        A --listen that is not an endpoint string is a usage error naming
        the flag and saying what is wrong; for a bare port number, what to
        write instead.
        """
        for value, problem in (
            ("tcp:notaport", "invalid endpoint 'tcp:notaport': expected a port from 0 to 65535"),
            ("tcp:70000", "expected a port from 0 to 65535, got '70000'"),
            ("bogus:1", "invalid endpoint 'bogus:1': unknown endpoint type 'bogus'"),
            ("haproxy:bogus:1", "unknown endpoint type 'bogus'"),
            ("tcp:1:colour=red", "unknown parameter 'colour'"),
            ("3128", "'3128' is a port number, not an endpoint: write tcp:3128:interface=127.0.0.1"),
        ):
            with self.assertRaises(usage.UsageError) as caught:
                parse("forward", "--listen", value)
            self.assertTrue(str(caught.exception).startswith("--listen: "), caught.exception)
            self.assertIn(problem, str(caught.exception))


def twistd(*argv: str) -> usage.Options:
    """
    Parse C{twistd proxykit ARGV...} as C{twistd} does.

    @return: C{twistd}'s options; C{.subOptions} are proxykit's.
    """
    from twisted.scripts.twistd import ServerOptions

    options = ServerOptions()
    options.parseOptions(["proxykit", *argv])
    return options


class TwistdTests(SynchronousTestCase):
    """
    What C{twistd proxykit} prints and does for bad options and files, a
    port in use and C{--version}.
    """

    def exitText(self, *argv: str) -> str:
        with self.assertRaises(SystemExit) as caught:
            twistd(*argv)
        return str(caught.exception.code)

    def test_usageError(self) -> None:
        """
        A usage error is printed alone, with no usage text before it, then
        one line pointing at the help of the command used; the status is
        not 0.
        """
        self.assertEqual(
            self.exitText("forward", "--listen", "3128"),
            "--listen: '3128' is a port number, not an endpoint: write "
            "tcp:3128:interface=127.0.0.1 (this machine only) or tcp:3128 (every interface)\n"
            "See 'twistd proxykit forward --help' for the options.",
        )
        self.assertEqual(
            self.exitText("reverse", "--nonsense"),
            "option --nonsense not recognized\n"
            "See 'twistd proxykit reverse --help' for the options.",
        )
        self.assertEqual(
            self.exitText(),
            "choose a mode: forward or reverse\nSee 'twistd proxykit --help' for the options.",
        )

    def test_everyFileError(self) -> None:
        """
        Every independent problem of a config file is printed, one a line
        with its file, line and key, then the pointer to the help.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('listen = ["tcp:notaport"]\n[timeouts]\nidle = "x"\n[forward]\nvia = "a b"\n')
        lines = self.exitText("forward", "--config", path).splitlines()
        self.assertEqual(len(lines), 4, lines)
        self.assertEqual(
            sorted(lines[:3]),
            [
                f"{path}:1: listen[0]: invalid endpoint 'tcp:notaport': expected a port"
                " from 0 to 65535, got 'notaport'",
                f"{path}:3: timeouts.idle: expected a positive number, got 'x'",
                f"{path}:5: forward.via: expected a token, got 'a b'",
            ],
        )
        self.assertEqual(lines[3], "See 'twistd proxykit forward --help' for the options.")

    def test_version(self) -> None:
        """
        --version, after C{proxykit} or after a mode, prints proxykit's
        version and build (compiled or pure Python) with Twisted's and
        Python's, and exits with status 0.
        """
        import proxykit

        for argv in (["--version"], ["forward", "--version"], ["reverse", "--version"]):
            out = io.StringIO()
            self.patch(sys, "stdout", out)
            self.assertEqual(self.exitText(*argv), "0")
            self.assertEqual(
                out.getvalue(),
                f"proxykit {proxykit.__version__} "
                f"({'compiled' if proxykit.COMPILED else 'pure Python'}, Twisted {twistedVersion}, "
                f"{platform.python_implementation()} {platform.python_version()})\n",
            )

    def test_bindsBeforeDaemonizing(self) -> None:
        """
        Run by twistd, makeService binds every listener before returning
        (twistd forks into the background after it, and only the process
        started can report a failure to whoever started it).  Called
        directly, it binds nothing.
        """
        reactor = BusyReactor()
        makeService(parse("forward", "--listen", loopback(1)), reactor)
        self.assertEqual(reactor.listening, [])
        options = twistd("forward", "--listen", loopback(1), "--listen", loopback(2))
        makeService(options.subOptions, reactor)
        self.assertEqual(reactor.listening, [1, 2])

    def test_portInUse(self) -> None:
        """
        A port in use ends twistd with one line naming the endpoint and the
        reason, and status 1; the other listeners are closed again.
        """
        reactor = BusyReactor(2)
        options = twistd("forward", "--listen", loopback(1), "--listen", loopback(2))
        with self.assertRaises(SystemExit) as caught:
            makeService(options.subOptions, reactor)
        self.assertEqual(
            caught.exception.code,
            "proxykit: cannot listen on tcp:2:interface=127.0.0.1: address already in use",
        )
        self.assertEqual(reactor.listening, [])


ROUTE = "example.test=http://127.0.0.1:9001"

FILE = """\
[reverse]
default = "app.example.test"
trusted_proxies = ["10.0.0.0/8"]

[[reverse.vhost]]
hosts = ["app.example.test"]
[[reverse.vhost.route]]
origins = ["http://127.0.0.1:9001"]
"""


class ReverseOptionsTests(SynchronousTestCase):
    """
    The reverse subcommand's flags, and its config file, become a
    L{ProxyConfig} whose C{reverse} holds the virtual hosts.
    """

    def write(self, text: str) -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertUsageError(self, argv: list[str], message: str) -> None:
        with self.assertRaises(usage.UsageError) as caught:
            parse(*argv)
        self.assertIn(message, str(caught.exception))

    def test_route(self) -> None:
        """
        One --route is one virtual host answering to HOST with a single
        route for every path, on 127.0.0.1 port 8000 by default; the other
        settings keep their defaults.
        """
        config = parse("reverse", "--route", ROUTE).subOptions["proxyConfig"]
        self.assertEqual(
            config,
            ProxyConfig(
                listen=("tcp:8000:interface=127.0.0.1",),
                reverse=ReverseConfig(
                    vhosts=(
                        VhostConfig(
                            ("example.test",),
                            (RouteConfig(origins=(OriginConfig("http://127.0.0.1:9001"),)),),
                        ),
                    ),
                ),
            ),
        )

    def test_routes(self) -> None:
        """
        --route repeats; a comma separates the origins of a host, which
        share its requests round-robin; wildcards, IP literals and UNIX
        socket origins are accepted.
        """
        config = parse(
            "reverse",
            "--listen", "tcp:0:interface=127.0.0.1",
            "--route", ROUTE,
            "--route", "*.example.test=http://127.0.0.1:9002,http://127.0.0.1:9003/",
            "--route", "[::1]=unix:/run/app.sock",
        ).subOptions["proxyConfig"]
        self.assertEqual(config.listen, ("tcp:0:interface=127.0.0.1",))
        self.assertEqual(
            [(v.hosts, [o.url for o in v.routes[0].origins]) for v in config.reverse.vhosts],
            [
                (("example.test",), ["http://127.0.0.1:9001"]),
                (("*.example.test",), ["http://127.0.0.1:9002", "http://127.0.0.1:9003/"]),
                (("[::1]",), ["unix:/run/app.sock"]),
            ],
        )
        for vhost in config.reverse.vhosts:
            (route,) = vhost.routes
            self.assertEqual((route.prefix, route.balance), ("/", "round_robin"))

    def test_parseRoute(self) -> None:
        """
        L{parseRoute} reads C{HOST=URL[,URL...]}.
        """
        self.assertEqual(
            parseRoute("a.test=http://127.0.0.1:1,http://127.0.0.1:2"),
            VhostConfig(
                ("a.test",),
                (RouteConfig(origins=(OriginConfig("http://127.0.0.1:1"), OriginConfig("http://127.0.0.1:2"))),),
            ),
        )

    def test_badRoutes(self) -> None:
        """
        A malformed --route is a usage error that quotes it and says what is
        wrong: no C{=}, a host with a port or scheme, a bad or missing
        origin URL.
        """
        for value, problem in (
            ("example.test", "expected HOST=URL[,URL...]"),
            ("http://127.0.0.1:9001", "expected HOST=URL[,URL...]"),
            ("example.test:8000=http://127.0.0.1:9001", "without a port"),
            ("=http://127.0.0.1:9001", "expected a host name"),
            ("example.test=", "http://host[:port] or unix:/absolute/path"),
            ("example.test=127.0.0.1:9001", "http://host[:port] or unix:/absolute/path"),
            ("example.test=http://127.0.0.1:9001,", "http://host[:port] or unix:/absolute/path"),
            ("example.test=ftp://127.0.0.1:9001", "http://host[:port] or unix:/absolute/path"),
        ):
            self.assertUsageError(["reverse", "--route", value], "--route")
            self.assertUsageError(["reverse", "--route", value], problem)

    def test_sameHostTwice(self) -> None:
        """
        Two --route for the same host (however spelled) are an error.
        """
        self.assertUsageError(
            ["reverse", "--route", ROUTE, "--route", "Example.Test.=http://127.0.0.1:9002"],
            "--route: host 'Example.Test.' is given twice",
        )

    def test_noVhosts(self) -> None:
        """
        Reverse mode without a single virtual host, from the command line or
        the file, is a usage error.
        """
        message = "reverse mode needs at least one --route or [[reverse.vhost]]"
        self.assertUsageError(["reverse"], message)
        self.assertUsageError(["reverse", "--config", self.write("[reverse]\n")], message)

    def test_configFile(self) -> None:
        """
        --config reads the vhosts; --route adds to them; --trusted-proxy
        replaces the file's list; the file's default stays; without
        C{listen} in the file the reverse default listener applies.
        """
        path = self.write(FILE)
        config = parse("reverse", "--config", path).subOptions["proxyConfig"]
        self.assertEqual(config.listen, ("tcp:8000:interface=127.0.0.1",))
        self.assertEqual(config.reverse.trustedProxies, ("10.0.0.0/8",))
        config = parse(
            "reverse", "--config", path, "--route", ROUTE,
            "--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "::1/128",
        ).subOptions["proxyConfig"]
        self.assertEqual(
            [vhost.hosts for vhost in config.reverse.vhosts],
            [("app.example.test",), ("example.test",)],
        )
        self.assertEqual(config.reverse.trustedProxies, ("127.0.0.1/32", "::1/128"))
        self.assertEqual(config.reverse.default, "app.example.test")
        self.assertFalse(config.reverse.forwardProxy)

    def test_fileListenAndTimeouts(self) -> None:
        """
        The file's C{listen} and timeouts apply unless --listen and the
        timeout flags override them, as in forward mode.
        """
        path = self.write('listen = ["tcp:1"]\n[timeouts]\nconnect = 3\nidle = 4\n' + FILE)
        config = parse("reverse", "--config", path).subOptions["proxyConfig"]
        self.assertEqual(config.listen, ("tcp:1",))
        self.assertEqual((config.timeouts.connect, config.timeouts.idle), (3.0, 4.0))
        config = parse(
            "reverse", "--config", path, "--listen", "tcp:2",
            "--connect-timeout", "5", "--response-timeout", "6", "--idle-timeout", "7",
        ).subOptions["proxyConfig"]
        self.assertEqual(config.listen, ("tcp:2",))
        self.assertEqual(
            (config.timeouts.connect, config.timeouts.response, config.timeouts.idle),
            (5.0, 6.0, 7.0),
        )

    def test_routeConflictsWithFile(self) -> None:
        """
        A --route for a host the file already serves is an error naming the
        host and the file.
        """
        path = self.write(FILE)
        self.assertUsageError(
            ["reverse", "--config", path, "--route", "APP.example.test=http://127.0.0.1:9002"],
            f"--route: host 'APP.example.test' is already a host of {path}",
        )

    def test_badFile(self) -> None:
        """
        A bad file is a usage error naming file, line and key path.
        """
        path = self.write(FILE + 'retries = 11\n')
        self.assertUsageError(
            ["reverse", "--config", path], f"{path}:9: reverse.vhost[0].route[0].retries"
        )

    def test_default(self) -> None:
        """
        --default names the vhost that serves unknown hosts; it must be an
        exact host of a vhost from the file or a --route.
        """
        path = self.write(FILE)
        config = parse(
            "reverse", "--config", path, "--route", ROUTE, "--default", "example.test"
        ).subOptions["proxyConfig"]
        self.assertEqual(config.reverse.default, "example.test")
        self.assertUsageError(
            ["reverse", "--route", ROUTE, "--default", "other.test"],
            "--default: 'other.test' is not a host of any vhost",
        )
        self.assertUsageError(
            ["reverse", "--route", "*.example.test=http://127.0.0.1:9001", "--default", "*.example.test"],
            "--default: expected an exact host name, not a wildcard",
        )

    def test_trustedProxyAndForwardProxy(self) -> None:
        """
        --trusted-proxy takes CIDR networks; --forward-proxy turns on the
        combined listener.
        """
        config = parse(
            "reverse", "--route", ROUTE, "--trusted-proxy", "10.1.2.3", "--forward-proxy"
        ).subOptions["proxyConfig"]
        self.assertEqual(config.reverse.trustedProxies, ("10.1.2.3",))
        self.assertTrue(config.reverse.forwardProxy)
        self.assertUsageError(
            ["reverse", "--route", ROUTE, "--trusted-proxy", "10.0.0.0/33"],
            "--trusted-proxy: expected a CIDR network, got '10.0.0.0/33'",
        )

    def test_badTimeouts(self) -> None:
        """
        The shared timeout flags are checked in reverse mode too.
        """
        self.assertUsageError(["reverse", "--route", ROUTE, "--idle-timeout", "0"], "--idle-timeout")

    def test_sharedOptions(self) -> None:
        """
        Both modes offer --listen, --config and the timeouts; each help text
        gives its own default listener; only forward has --connect-port
        and only reverse --route.
        """
        forward, reverse = ForwardOptions(), ReverseOptions()
        self.assertIn("tcp:8080:interface=127.0.0.1", forward.docs["listen"])
        self.assertIn("tcp:8000:interface=127.0.0.1", reverse.docs["listen"])
        for flag in ("listen", "config", "connect-timeout", "response-timeout", "idle-timeout"):
            self.assertIn(flag, forward.docs)
            self.assertIn(flag, reverse.docs)
        self.assertIn("connect-port", forward.docs)
        self.assertNotIn("connect-port", reverse.docs)
        self.assertIn("route", reverse.docs)
        self.assertNotIn("route", forward.docs)

    def test_makeService(self) -> None:
        """
        makeService runs the reverse proxy for the reverse subcommand: one
        listener per --listen, serving the vhosts; with --forward-proxy the
        listeners serve forward-proxy requests too.
        """
        service = makeService(parse("reverse", "--listen", "tcp:0", "--listen", "tcp:0", "--route", ROUTE))
        self.assertIsInstance(service, ProxyService)
        self.assertEqual(len(list(IServiceCollection(service))), 2)
        assert isinstance(service, ProxyService)
        self.assertIsInstance(service.factory.router, ReverseRouter)
        service = makeService(parse("reverse", "--listen", "tcp:0", "--route", ROUTE, "--forward-proxy"))
        assert isinstance(service, ProxyService)
        self.assertIsInstance(service.factory.router, CombinedRouter)
