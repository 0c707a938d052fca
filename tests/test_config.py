"""
Tests for L{proxykit.config}: TOML in, frozen values out, located errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    DEFAULT_REVERSE_LISTEN,
    CertificateConfig,
    ConfigError,
    ForwardConfig,
    HealthCheckConfig,
    LimitsConfig,
    OriginConfig,
    OriginTLS,
    PoolConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    TLSConfig,
    TLSListener,
    TLSSettings,
    VhostConfig,
    checkOriginURL,
    defaultHostProblem,
    hostKey,
    parseHost,
)
from proxykit.policy.balance import parseOriginURL

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
            "[timeouts]\nconnect = 1\nresponse = 2.5\nidle = 3\ntunnel_idle = 4\ndrain_delay = 2\n"
            "[pool]\nmax_idle_per_origin = 0\nidle_expiry = 5\n"
            "[limits]\nmax_request_line = 100\nmax_header_bytes = 200\nmax_header_count = 3\n"
        )
        config = ProxyConfig.fromFile(path)
        self.assertEqual(config.listen, ("tcp:0", "unix:/tmp/p.sock"))
        self.assertEqual(
            config.forward,
            ForwardConfig(frozenset({443, 8443}), ("10.0.0.0/8",), True, "edge"),
        )
        self.assertEqual(config.timeouts, Timeouts(1.0, 2.5, 3.0, 4.0, drainDelay=2.0))
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

    def test_workers(self) -> None:
        """
        The top-level C{workers} key is a whole number >= 1 or C{"auto"}
        (one per CPU this process may run on); it defaults to 1, and a bad
        value names the file, the line and the key.
        """
        from proxykit.config.checks import cpuCount

        self.assertEqual(ProxyConfig().workers, 1)
        self.assertEqual(ProxyConfig.fromFile(self.write("workers = 3\n")).workers, 3)
        self.assertEqual(ProxyConfig.fromFile(self.write('workers = "auto"\n')).workers, cpuCount())
        self.assertGreaterEqual(cpuCount(), 1)
        for text in ("workers = 0\n", "workers = true\n", 'workers = "many"\n', "workers = 1.5\n"):
            self.assertConfigError("\n" + text, 2, "workers", 'expected a whole number >= 1 or "auto"')
        with self.assertRaises(ConfigError):
            ProxyConfig(workers=0)

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


# The reverse-mode example of the documentation, with every key set away from
# its default where it has one.
REVERSE_TOML = """\
listen = ["tcp:8000:interface=127.0.0.1"]

[reverse]
default = "app.example.test"
trusted_proxies = ["127.0.0.1/32", "::1"]
forward_proxy = true

[[reverse.vhost]]
hosts = ["app.example.test", "*.app.example.test"]

  [[reverse.vhost.route]]
  prefix = "/api"
  strip_prefix = true
  origins = ["http://127.0.0.1:9001", { url = "http://127.0.0.1:9002", weight = 2, proxy_protocol = "off" }, "unix:/run/app.sock"]
  balance = "least_outstanding"
  proxy_protocol = "v2"
  host_header = "origin"
  x_forwarded_for = false
  x_forwarded_proto = false
  x_forwarded_host = false
  forwarded = true
  rewrite_redirects = false
  retries = 3
  eject_for = 2.5
  [reverse.vhost.route.health_check]
  path = "/healthz?full=1"
  interval = 7
  timeout = 1.5
  rise = 4
  fall = 5
  host = "app.example.test:8000"

  [[reverse.vhost.route]]
  origins = ["http://[::1]:9003/"]

[[reverse.vhost]]
hosts = ["10.0.0.1", "[fe80::1]", "2001:db8::1", "other.test."]
route = [{ prefix = "/x", origins = ["http://other.test"] }]
"""


class ReverseConfigTests(SynchronousTestCase):
    """
    C{[reverse]} and its arrays of tables C{[[reverse.vhost]]} and
    C{[[reverse.vhost.route]]} become L{ReverseConfig}, L{VhostConfig},
    L{RouteConfig}, L{OriginConfig} and L{HealthCheckConfig}; every mistake
    is a L{ConfigError} naming the file, the line, the key path with indexes
    and the problem.
    """

    def write(self, text: str) -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertConfigError(self, text: str, line: int | None, key: str, problem: str) -> None:
        path = self.write(text)
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        e = caught.exception
        self.assertEqual(
            (e.line, e.key), (line, key), f"{text}\ngave {e}, not line {line} {key}"
        )
        self.assertIn(problem, e.problem)
        self.assertIn(path, str(e))
        self.assertIn(key, str(e))

    def test_noReverseSection(self) -> None:
        """
        A file without C{[reverse]} has no virtual hosts, no default, no
        trusted proxies and no combined listener.
        """
        config = ProxyConfig.fromFile(self.write("[timeouts]\nidle = 3\n"))
        self.assertEqual(config.reverse, ReverseConfig((), None, (), False))

    def test_values(self) -> None:
        """
        Every reverse-mode key lands in its field: origins as strings or
        inline tables with a weight, the health check table, and virtual
        hosts written as inline tables too.
        """
        config = ProxyConfig.fromFile(self.write(REVERSE_TOML))
        self.assertEqual(config.listen, ("tcp:8000:interface=127.0.0.1",))
        api = RouteConfig(
            origins=(
                OriginConfig("http://127.0.0.1:9001", 1),
                OriginConfig("http://127.0.0.1:9002", 2, proxyProtocol="off"),
                OriginConfig("unix:/run/app.sock", 1),
            ),
            prefix="/api",
            balance="least_outstanding",
            stripPrefix=True,
            hostHeader="origin",
            xForwardedFor=False,
            xForwardedProto=False,
            xForwardedHost=False,
            forwarded=True,
            rewriteRedirects=False,
            retries=3,
            ejectFor=2.5,
            proxyProtocol="v2",
            healthCheck=HealthCheckConfig(
                path="/healthz?full=1",
                interval=7.0,
                timeout=1.5,
                rise=4,
                fall=5,
                host="app.example.test:8000",
            ),
        )
        self.assertEqual(
            config.reverse,
            ReverseConfig(
                vhosts=(
                    VhostConfig(
                        hosts=("app.example.test", "*.app.example.test"),
                        routes=(api, RouteConfig(origins=(OriginConfig("http://[::1]:9003/"),))),
                    ),
                    VhostConfig(
                        hosts=("10.0.0.1", "[fe80::1]", "2001:db8::1", "other.test."),
                        routes=(RouteConfig(prefix="/x", origins=(OriginConfig("http://other.test"),)),),
                    ),
                ),
                default="app.example.test",
                trustedProxies=("127.0.0.1/32", "::1"),
                forwardProxy=True,
            ),
        )
        check = config.reverse.vhosts[0].routes[0].healthCheck
        assert check is not None
        self.assertIsInstance(check.interval, float)

    def test_routeDefaults(self) -> None:
        """
        A route with only C{origins} matches every path, balances
        round-robin, passes the client's C{Host}, adds the three
        C{X-Forwarded-*} fields but not C{Forwarded}, rewrites redirects,
        retries once, ejects for 10 seconds and has no active checks.
        """
        config = ProxyConfig.fromFile(
            self.write('[[reverse.vhost]]\nhosts = ["a.test"]\n[[reverse.vhost.route]]\norigins = ["http://127.0.0.1:9001"]\n')
        )
        (route,) = config.reverse.vhosts[0].routes
        self.assertEqual(
            route,
            RouteConfig(
                origins=(OriginConfig("http://127.0.0.1:9001", 1),),
                prefix="/",
                balance="round_robin",
                stripPrefix=False,
                hostHeader="pass",
                xForwardedFor=True,
                xForwardedProto=True,
                xForwardedHost=True,
                forwarded=False,
                rewriteRedirects=True,
                retries=1,
                ejectFor=10.0,
                healthCheck=None,
            ),
        )
        self.assertEqual(config.listen, ("tcp:8080:interface=127.0.0.1",))

    def test_healthCheckDefaults(self) -> None:
        """
        An empty C{health_check} table turns checks on with the defaults:
        C{GET /} every 5 seconds, 2-second timeout, rise 2, fall 3, the
        origin's own address as C{Host}.
        """
        config = ProxyConfig.fromFile(
            self.write(
                '[[reverse.vhost]]\nhosts = ["a.test"]\n[[reverse.vhost.route]]\n'
                'origins = ["http://127.0.0.1:9001"]\n[reverse.vhost.route.health_check]\n'
            )
        )
        self.assertEqual(
            config.reverse.vhosts[0].routes[0].healthCheck,
            HealthCheckConfig("/", 5.0, 2.0, 2, 3, None),
        )

    def test_defaultListen(self) -> None:
        """
        The listeners used when the file has none are the caller's choice
        (the reverse subcommand's is 127.0.0.1 port 8000); a file's own
        C{listen} wins.
        """
        path = self.write("[timeouts]\nidle = 3\n")
        self.assertEqual(
            ProxyConfig.fromFile(path, (DEFAULT_REVERSE_LISTEN,)).listen,
            ("tcp:8000:interface=127.0.0.1",),
        )
        path = self.write('listen = ["tcp:1"]\n')
        self.assertEqual(ProxyConfig.fromFile(path, (DEFAULT_REVERSE_LISTEN,)).listen, ("tcp:1",))

    def test_exampleFile(self) -> None:
        """
        examples/reverse.toml loads: two vhosts, the API route with its
        weighted origins and health check, and a default vhost.
        """
        config = ProxyConfig.fromFile(os.path.join(EXAMPLES, "reverse.toml"))
        self.assertEqual(config.listen, (DEFAULT_REVERSE_LISTEN,))
        reverse = config.reverse
        self.assertEqual(reverse.default, "app.example.test")
        self.assertEqual(reverse.trustedProxies, ("127.0.0.1/32",))
        self.assertFalse(reverse.forwardProxy)
        self.assertEqual(len(reverse.vhosts), 2)
        app = reverse.vhosts[0]
        self.assertEqual(app.hosts, ("app.example.test", "*.app.example.test"))
        api = app.routes[0]
        self.assertEqual(
            api.origins,
            (OriginConfig("http://127.0.0.1:9001", 1), OriginConfig("http://127.0.0.1:9002", 2)),
        )
        self.assertEqual((api.prefix, api.stripPrefix, api.balance), ("/api", True, "least_outstanding"))
        self.assertEqual(api.healthCheck, HealthCheckConfig("/", 2.0, 1.0, 2, 3, "app.example.test"))
        self.assertEqual(app.routes[1].prefix, "/")
        self.assertEqual(reverse.vhosts[1].routes[0].hostHeader, "origin")

    def test_exampleUNIXOrigin(self) -> None:
        """
        The UNIX socket origin that examples/reverse.toml shows commented out
        is valid once uncommented.
        """
        with open(os.path.join(EXAMPLES, "reverse.toml")) as f:
            text = f.read()
        self.assertIn('# "unix:/run/app.sock",', text)
        config = ProxyConfig.fromFile(self.write(text.replace('# "unix:/run/app.sock",', '"unix:/run/app.sock",')))
        self.assertEqual(config.reverse.vhosts[0].routes[0].origins[2], OriginConfig("unix:/run/app.sock"))

    def test_tlsOrigin(self) -> None:
        """
        An C{https://} origin's inline table may carry TLS settings:
        C{ca_file}, C{client_cert} with C{client_key}, C{server_name} and
        C{verify}; the files must be readable when the file is loaded.
        """
        ca = self.write("CA")
        cert = self.write("CERT")
        key = self.write("KEY")
        text = (
            '[[reverse.vhost]]\nhosts = ["a.test"]\n[[reverse.vhost.route]]\n'
            f'origins = [{{ url = "https://10.0.0.1:8443", ca_file = "{ca}", '
            f'client_cert = "{cert}", client_key = "{key}", server_name = "API.internal" }},\n'
            '  { url = "https://b.test", verify = false }, "https://c.test"]\n'
        )
        origins = ProxyConfig.fromFile(self.write(text)).reverse.vhosts[0].routes[0].origins
        self.assertEqual(
            origins,
            (
                OriginConfig(
                    "https://10.0.0.1:8443", caFile=ca, clientCert=cert, clientKey=key,
                    serverName="api.internal",
                ),
                OriginConfig("https://b.test", verify=False),
                OriginConfig("https://c.test"),
            ),
        )  # fmt: skip
        self.assertEqual(origins[0].tls, OriginTLS(ca, cert, key, "api.internal", True))

    def test_badTLSOrigins(self) -> None:
        """
        TLS settings are checked where they are written: unreadable files,
        a client certificate without its key (or the reverse), a bad server
        name, a non-boolean C{verify}, and TLS settings on an origin that is
        not C{https}.
        """
        ca = self.write("CA")
        head = '[[reverse.vhost]]\nhosts = ["a.test"]\n[[reverse.vhost.route]]\n'
        r = "reverse.vhost[0].route[0].origins[0]"
        missing = self.mktemp()
        cases = [
            (f'origins = [{{ url = "https://a.test", ca_file = "{missing}" }}]\n', f"{r}.ca_file", "cannot read"),
            (f'origins = [{{ url = "https://a.test", client_cert = "{ca}" }}]\n', f"{r}.client_key", "go together"),
            (f'origins = [{{ url = "https://a.test", client_key = "{ca}" }}]\n', f"{r}.client_cert", "go together"),
            (f'origins = [{{ url = "https://a.test", client_cert = "{ca}", client_key = "{missing}" }}]\n', f"{r}.client_key", "cannot read"),
            ('origins = [{ url = "https://a.test", server_name = "a b" }]\n', f"{r}.server_name", "host name"),
            ('origins = [{ url = "https://a.test", server_name = "*.a.test" }]\n', f"{r}.server_name", "host name"),
            ('origins = [{ url = "https://a.test", verify = "no" }]\n', f"{r}.verify", "true or false"),
            (f'origins = [{{ url = "http://a.test", ca_file = "{ca}" }}]\n', f"{r}.ca_file", "need an https:// origin"),
            ('origins = [{ url = "unix:/run/a.sock", verify = false }]\n', f"{r}.verify", "need an https:// origin"),
        ]  # fmt: skip
        for text, key, problem in cases:
            self.assertConfigError(head + text, 4, key, problem)
        self.assertConfigError(
            f'[forward]\nca_file = "{missing}"\n', 2, "forward.ca_file", "cannot read"
        )
        config = ProxyConfig.fromFile(self.write(f'[forward]\nca_file = "{ca}"\n'))
        self.assertEqual(config.forward.caFile, ca)

    def test_badValues(self) -> None:
        """
        Each bad value is reported at its own line, under its key path with
        array indexes: hosts, prefixes, origins and their weights, policies,
        counts, booleans, health-check settings and trusted networks.
        """
        head = '[[reverse.vhost]]\nhosts = ["a.test"]\n[[reverse.vhost.route]]\n'
        route = head + 'origins = ["http://127.0.0.1:9001"]\n'
        r = "reverse.vhost[0].route[0]"
        cases = [
            # hosts
            ('[[reverse.vhost]]\nhosts = []\n', 2, "reverse.vhost[0].hosts", "non-empty list of host names"),
            ('[[reverse.vhost]]\nroute = []\n', 1, "reverse.vhost[0].hosts", "missing"),
            ('[[reverse.vhost]]\nhosts = "a.test"\n', 2, "reverse.vhost[0].hosts", "non-empty list"),
            ('[[reverse.vhost]]\nhosts = ["a.test", "a.test:80"]\n', 2, "reverse.vhost[0].hosts[1]", "without a port"),
            ('[[reverse.vhost]]\nhosts = ["http://a.test"]\n', 2, "reverse.vhost[0].hosts[0]", "without a scheme"),
            ('[[reverse.vhost]]\nhosts = ["[::1]:80"]\n', 2, "reverse.vhost[0].hosts[0]", "without a port"),
            ('[[reverse.vhost]]\nhosts = ["a..test"]\n', 2, "reverse.vhost[0].hosts[0]", "expected a host name"),
            ('[[reverse.vhost]]\nhosts = ["a.*.test"]\n', 2, "reverse.vhost[0].hosts[0]", "expected a host name"),
            ('[[reverse.vhost]]\nhosts = ["*"]\n', 2, "reverse.vhost[0].hosts[0]", "expected a host name"),
            ('[[reverse.vhost]]\nhosts = ["a.test/x"]\n', 2, "reverse.vhost[0].hosts[0]", "expected a host name"),
            ('[[reverse.vhost]]\nhosts = ["10.0.0.256"]\n', 2, "reverse.vhost[0].hosts[0]", "IPv4"),
            ('[[reverse.vhost]]\nhosts = ["*.10.0.0.1"]\n', 2, "reverse.vhost[0].hosts[0]", "wildcard"),
            ('[[reverse.vhost]]\nhosts = ["[10.0.0.1]"]\n', 2, "reverse.vhost[0].hosts[0]", "IPv6"),
            ('[[reverse.vhost]]\nhosts = ["::g"]\n', 2, "reverse.vhost[0].hosts[0]", "IPv6"),
            ('[[reverse.vhost]]\nhosts = [3]\n', 2, "reverse.vhost[0].hosts[0]", "expected a host name"),
            # routes
            ('[[reverse.vhost]]\nhosts = ["a.test"]\n', 1, "reverse.vhost[0].route", "at least one [[reverse.vhost.route]]"),
            ('[[reverse.vhost]]\nhosts = ["a.test"]\n[reverse.vhost.route]\nprefix = "/"\n', 3, "reverse.vhost[0].route", "array of tables"),
            ('[reverse]\nvhost = 3\n', 2, "reverse.vhost", "array of tables ([[reverse.vhost]])"),
            (head, 3, f"{r}.origins", "missing"),
            (head + "origins = []\n", 4, f"{r}.origins", "non-empty list of origin URLs"),
            (head + 'origins = ["ftp://a.test"]\n', 4, f"{r}.origins[0]", "http://host[:port] or unix:/absolute/path"),
            (head + 'origins = ["http://a.test", "http://a.test/x"]\n', 4, f"{r}.origins[1]", "http://host[:port]"),
            (head + 'origins = ["unix:run/app.sock"]\n', 4, f"{r}.origins[0]", "unix:/absolute/path"),
            (head + "origins = [9001]\n", 4, f"{r}.origins[0]", "expected an origin URL"),
            (head + 'origins = [{ url = "http://a.test", weight = 0 }]\n', 4, f"{r}.origins[0].weight", "whole number >= 1"),
            (head + 'origins = [{ url = "http://a.test", weight = 1.5 }]\n', 4, f"{r}.origins[0].weight", "whole number >= 1"),
            (head + 'origins = [{ url = "http://a.test", wieght = 2 }]\n', 4, f"{r}.origins[0].wieght", "unknown key"),
            (head + "origins = [{ weight = 2 }]\n", 4, f"{r}.origins[0].url", "missing"),
            (head + 'origins = [{ url = "ftp://a.test" }]\n', 4, f"{r}.origins[0].url", "http://host[:port]"),
            # route settings
            (route + 'prefix = "api"\n', 5, f"{r}.prefix", "starting with '/'"),
            (route + 'prefix = "/a b"\n', 5, f"{r}.prefix", "starting with '/'"),
            (route + 'prefix = "/a?b"\n', 5, f"{r}.prefix", "starting with '/'"),
            (route + 'balance = "fastest"\n', 5, f"{r}.balance", "round_robin or least_outstanding or random_two"),
            (route + 'host_header = "client"\n', 5, f"{r}.host_header", "pass or origin"),
            (route + "retries = 11\n", 5, f"{r}.retries", "0 to 10"),
            (route + "retries = -1\n", 5, f"{r}.retries", "0 to 10"),
            (route + "eject_for = 0\n", 5, f"{r}.eject_for", "positive number"),
            (route + 'strip_prefix = "yes"\n', 5, f"{r}.strip_prefix", "true or false"),
            (route + "x_forwarded_for = 1\n", 5, f"{r}.x_forwarded_for", "true or false"),
            (route + "x_forwarded_proto = 1\n", 5, f"{r}.x_forwarded_proto", "true or false"),
            (route + "x_forwarded_host = 1\n", 5, f"{r}.x_forwarded_host", "true or false"),
            (route + "forwarded = 1\n", 5, f"{r}.forwarded", "true or false"),
            (route + "rewrite_redirects = 1\n", 5, f"{r}.rewrite_redirects", "true or false"),
            (route + "stripprefix = true\n", 5, f"{r}.stripprefix", "unknown key"),
            (route + 'proxy_protocol = "v3"\n', 5, f"{r}.proxy_protocol", "v1 or v2 or off"),
            (route + "proxy_protocol = true\n", 5, f"{r}.proxy_protocol", "v1 or v2 or off"),
            (head + 'origins = [{ url = "http://a.test", proxy_protocol = 2 }]\n', 4, f"{r}.origins[0].proxy_protocol", "v1 or v2 or off"),
            # health checks
            (route + "health_check = 3\n", 5, f"{r}.health_check", "expected a table"),
            (route + "[reverse.vhost.route.health_check]\nrise = 0\n", 6, f"{r}.health_check.rise", "whole number >= 1"),
            (route + "[reverse.vhost.route.health_check]\nfall = 0\n", 6, f"{r}.health_check.fall", "whole number >= 1"),
            (route + "[reverse.vhost.route.health_check]\ninterval = -1\n", 6, f"{r}.health_check.interval", "positive"),
            (route + "[reverse.vhost.route.health_check]\ntimeout = 0\n", 6, f"{r}.health_check.timeout", "positive"),
            (route + '[reverse.vhost.route.health_check]\npath = "healthz"\n', 6, f"{r}.health_check.path", "starting with '/'"),
            (route + '[reverse.vhost.route.health_check]\nhost = "a b"\n', 6, f"{r}.health_check.host", "host name"),
            (route + '[reverse.vhost.route.health_check]\nhost = "*.a.test"\n', 6, f"{r}.health_check.host", "host name"),
            (route + "[reverse.vhost.route.health_check]\nperiod = 1\n", 6, f"{r}.health_check.period", "unknown key"),
            (route + "health_check = { rise = 0 }\n", 5, f"{r}.health_check.rise", "whole number >= 1"),
            # [reverse]
            ('[reverse]\ntrusted_proxies = ["127.0.0.1/32", "nonsense"]\n', 2, "reverse.trusted_proxies[1]", "a CIDR network"),
            ('[reverse]\ntrusted_proxies = "127.0.0.1/32"\n', 2, "reverse.trusted_proxies", "list of CIDR networks"),
            ("[reverse]\nforward_proxy = 1\n", 2, "reverse.forward_proxy", "true or false"),
            ("[reverse]\ndefault = 3\n", 2, "reverse.default", "expected a host name"),
            ("[reverse]\nvhosts = []\n", 2, "reverse.vhosts", "unknown key"),
            ('[[reverse.vhosts]]\nnames = ["a.test"]\n', 1, "reverse.vhosts", "unknown key"),
            ('# routes\n\n[[reverse.vhosts]]\n[[reverse.vhosts.routes]]\n', 3, "reverse.vhosts", "unknown key"),
            ("reverse = 1\n", 1, "reverse", "expected a table"),
        ]
        for text, line, key, problem in cases:
            self.assertConfigError(text, line, key, problem)

    def test_duplicateHost(self) -> None:
        """
        A host may belong to one vhost only; the second mention is the
        error, and names the first.  Case, a trailing dot and IPv6
        brackets make no difference.
        """
        route = '[[reverse.vhost.route]]\norigins = ["http://127.0.0.1:9001"]\n'
        self.assertConfigError(
            '[[reverse.vhost]]\nhosts = ["a.test", "b.test"]\n' + route
            + '[[reverse.vhost]]\nhosts = [\n  "c.test",\n  "B.Test.",\n]\n' + route,
            8,
            "reverse.vhost[1].hosts[1]",
            "host 'B.Test.' is already listed at reverse.vhost[0].hosts[1]",
        )
        self.assertConfigError(
            '[[reverse.vhost]]\nhosts = ["[::1]", "0:0::1"]\n' + route,
            2,
            "reverse.vhost[0].hosts[1]",
            "already listed at reverse.vhost[0].hosts[0]",
        )

    def test_duplicatePrefix(self) -> None:
        """
        Two routes of one vhost with the same prefix are an error at the
        second one's C{prefix} (or its header, when it relies on the default
        C{"/"}).  Other vhosts may reuse a prefix.
        """
        self.assertConfigError(
            '[[reverse.vhost]]\nhosts = ["a.test"]\n'
            '[[reverse.vhost.route]]\nprefix = "/api"\norigins = ["http://127.0.0.1:9001"]\n'
            '[[reverse.vhost.route]]\norigins = ["http://127.0.0.1:9002"]\nprefix = "/api"\n',
            8,
            "reverse.vhost[0].route[1].prefix",
            "prefix '/api' is already routed by reverse.vhost[0].route[0]",
        )
        self.assertConfigError(
            '[[reverse.vhost]]\nhosts = ["a.test"]\n'
            '[[reverse.vhost.route]]\norigins = ["http://127.0.0.1:9001"]\n'
            '\n[[reverse.vhost.route]]  # again\norigins = ["http://127.0.0.1:9002"]\n',
            6,
            "reverse.vhost[0].route[1].prefix",
            "prefix '/' is already routed",
        )
        config = ProxyConfig.fromFile(
            self.write(
                '[[reverse.vhost]]\nhosts = ["a.test"]\n'
                '[[reverse.vhost.route]]\nprefix = "/api"\norigins = ["http://127.0.0.1:9001"]\n'
                '[[reverse.vhost.route]]\nprefix = "/api/"\norigins = ["http://127.0.0.1:9001"]\n'
                '[[reverse.vhost]]\nhosts = ["b.test"]\n'
                '[[reverse.vhost.route]]\nprefix = "/api"\norigins = ["http://127.0.0.1:9001"]\n'
            )
        )
        self.assertEqual(len(config.reverse.vhosts), 2)

    def test_defaultVhost(self) -> None:
        """
        C{reverse.default} must be an exact host of some vhost (compared
        without case or trailing dot), not a wildcard and not an unknown
        name.
        """
        vhost = '[[reverse.vhost]]\nhosts = ["a.test", "*.b.test"]\n[[reverse.vhost.route]]\norigins = ["http://127.0.0.1:9001"]\n'
        config = ProxyConfig.fromFile(self.write('[reverse]\ndefault = "A.Test."\n' + vhost))
        self.assertEqual(config.reverse.default, "A.Test.")
        self.assertConfigError(
            '[reverse]\n\ndefault = "*.b.test"\n' + vhost, 3, "reverse.default", "not a wildcard"
        )
        self.assertConfigError(
            '[reverse]\ndefault = "c.b.test"\n' + vhost, 2, "reverse.default", "'c.b.test' is not a host of any vhost"
        )
        self.assertConfigError(
            '[reverse]\ndefault = "a.test:80"\n' + vhost, 2, "reverse.default", "without a port"
        )

    def test_linesInArraysOfTables(self) -> None:
        """
        Errors inside C{[[reverse.vhost]]} and C{[[reverse.vhost.route]]}
        elements point at the right element: the n-th header of an array,
        counted within its parent vhost; the elements of a multi-line array,
        past comments and strings holding brackets, commas and quotes; the
        header of an element a required key is missing from.
        """
        vhost = '[[reverse.vhost]]\nhosts = ["{}"]\n'
        route = '  [[reverse.vhost.route]]\n  prefix = "{}"\n  origins = ["http://127.0.0.1:9001"]\n'
        text = (
            "# two vhosts, three routes\n"  # 1
            + vhost.format("a.test")  # 2-3
            + route.format("/a")  # 4-6
            + route.format("/b")  # 7-9
            + vhost.format("b.test")  # 10-11
            + route.format("/c")  # 12-14
            + '  [[reverse.vhost.route]]\n'  # 15
            + '  prefix = "/d"\n'  # 16
            + '  origins = [\n'  # 17
            + '    "http://127.0.0.1:9001",  # a comment with [brackets], "quotes"\n'  # 18
            + "    'http://127.0.0.1:9002', \"http://[::1]:9003\",\n"  # 19
            + '    """\n'  # 20
            + 'http://127.0.0.1:9004""",\n'  # 21
            + '    { url = "http://x.test", weight = 0 },\n'  # 22
            + '  ]\n'  # 23
        )
        r = "reverse.vhost[1].route[1]"
        self.assertConfigError(text, 22, f"{r}.origins[4].weight", "whole number >= 1")
        self.assertConfigError(
            text.replace('"http://[::1]:9003"', '"http://[::1]:9003/x"'), 19, f"{r}.origins[2]", "http://host[:port]"
        )
        self.assertConfigError(
            text.replace("http://127.0.0.1:9004", "http://127.0.0.1:99999"), 20, f"{r}.origins[3]", "http://host[:port]"
        )
        self.assertConfigError(
            text.replace('prefix = "/b"', 'prefix = "b"'), 8, "reverse.vhost[0].route[1].prefix", "starting with '/'"
        )
        self.assertConfigError(
            text.replace('prefix = "/c"', 'prefix = "c"'), 13, "reverse.vhost[1].route[0].prefix", "starting with '/'"
        )
        self.assertConfigError(
            text.replace('prefix = "/b"\n  origins = ["http://127.0.0.1:9001"]\n', 'prefix = "/b"\n'),
            7,
            "reverse.vhost[0].route[1].origins",
            "missing",
        )
        self.assertConfigError(
            text.replace('hosts = ["b.test"]', 'hosts = ["b.test", "a.test."]').replace("weight = 0", "weight = 1"),
            11,
            "reverse.vhost[1].hosts[1]",
            "already listed at reverse.vhost[0].hosts[0]",
        )

    def test_linesWithOddSyntax(self) -> None:
        """
        Quoted and spaced keys and headers, dotted keys and a header
        comment do not lose the line.
        """
        self.assertConfigError(
            '[ reverse ]\n[[ "reverse" . vhost ]]  # comment\nhosts = ["a.test"]\n'
            '[[reverse.vhost.route]]\n"origins" = ["http://127.0.0.1:9001"]\n'
            'health_check.rise = 0\n',
            6,
            "reverse.vhost[0].route[0].health_check.rise",
            "whole number >= 1",
        )

    def test_inlineVhosts(self) -> None:
        """
        Virtual hosts written as an inline array of tables are located at
        the element, or at least the key, that holds the mistake.
        """
        self.assertConfigError(
            '[reverse]\nvhost = [\n  { hosts = ["a.test"], route = [{ origins = ["http://a.test"] }] },\n'
            '  { hosts = ["b.test"], route = [{ origins = ["http://b.test"], retries = 11 }] },\n]\n',
            4,
            "reverse.vhost[1].route[0].retries",
            "0 to 10",
        )


def _route(**keys: Any) -> dict[str, Any]:
    """
    A reverse-mode mapping with one vhost and one route with C{keys}.
    """
    route = {"origins": ["http://127.0.0.1:9001"], **keys}
    return {"reverse": {"vhost": [{"hosts": ["app.test"], "route": [route]}]}}


def _vhost(**keys: Any) -> dict[str, Any]:
    vhost = {"hosts": ["app.test"], "route": [{"origins": ["http://127.0.0.1:9001"]}], **keys}
    return {"reverse": {"vhost": [vhost]}}


def _tls(**keys: Any) -> dict[str, Any]:
    table = {"listen": ["tcp:8443"], "default_certificate": {"cert": "c.pem", "key": "k.pem"}}
    return {"tls": {**table, **keys}}


_ORIGINS = (OriginConfig("http://127.0.0.1:9001"),)
_ROUTE = RouteConfig(_ORIGINS)
_CERT = CertificateConfig("c.pem", "k.pem")
_ROUTE_KEY = "reverse.vhost[0].route[0]"

INVALID: list[tuple[Callable[[], object], str, dict[str, Any], str]] = [
    # (construction in Python, the field it names, the same value in TOML, its key)
    (lambda: OriginConfig("ftp://x"), "url", _route(origins=["ftp://x"]), f"{_ROUTE_KEY}.origins[0]"),
    (lambda: OriginConfig("http://a:99999"), "url", _route(origins=["http://a:99999"]), f"{_ROUTE_KEY}.origins[0]"),
    (lambda: OriginConfig("unix:run/a.sock"), "url", _route(origins=["unix:run/a.sock"]), f"{_ROUTE_KEY}.origins[0]"),
    (lambda: OriginConfig("http://a", weight=0), "weight", _route(origins=[{"url": "http://a", "weight": 0}]), f"{_ROUTE_KEY}.origins[0].weight"),
    (lambda: OriginConfig("http://a", caFile="ca.pem"), "caFile", _route(origins=[{"url": "http://a", "ca_file": "ca.pem"}]), f"{_ROUTE_KEY}.origins[0].ca_file"),
    (lambda: OriginConfig("http://a", verify=False), "verify", _route(origins=[{"url": "http://a", "verify": False}]), f"{_ROUTE_KEY}.origins[0].verify"),
    (lambda: OriginConfig("https://a", clientCert="c.pem"), "clientKey", _route(origins=[{"url": "https://a", "client_cert": "c.pem"}]), f"{_ROUTE_KEY}.origins[0].client_key"),
    (lambda: OriginConfig("https://a", serverName="*.a"), "serverName", _route(origins=[{"url": "https://a", "server_name": "*.a"}]), f"{_ROUTE_KEY}.origins[0].server_name"),
    (lambda: OriginConfig("https://a", verify="no"), "verify", _route(origins=[{"url": "https://a", "verify": "no"}]), f"{_ROUTE_KEY}.origins[0].verify"),
    (lambda: RouteConfig(()), "origins", _route(origins=[]), f"{_ROUTE_KEY}.origins"),
    (lambda: RouteConfig(_ORIGINS, prefix="api"), "prefix", _route(prefix="api"), f"{_ROUTE_KEY}.prefix"),
    (lambda: RouteConfig(_ORIGINS, balance="fastest"), "balance", _route(balance="fastest"), f"{_ROUTE_KEY}.balance"),
    (lambda: RouteConfig(_ORIGINS, hostHeader="client"), "hostHeader", _route(host_header="client"), f"{_ROUTE_KEY}.host_header"),
    (lambda: RouteConfig(_ORIGINS, retries=11), "retries", _route(retries=11), f"{_ROUTE_KEY}.retries"),
    (lambda: RouteConfig(_ORIGINS, retries=-1), "retries", _route(retries=-1), f"{_ROUTE_KEY}.retries"),
    (lambda: RouteConfig(_ORIGINS, ejectFor=0), "ejectFor", _route(eject_for=0), f"{_ROUTE_KEY}.eject_for"),
    (lambda: RouteConfig(_ORIGINS, stripPrefix=1), "stripPrefix", _route(strip_prefix=1), f"{_ROUTE_KEY}.strip_prefix"),
    (lambda: RouteConfig(_ORIGINS, proxyProtocol="v3"), "proxyProtocol", _route(proxy_protocol="v3"), f"{_ROUTE_KEY}.proxy_protocol"),
    (lambda: OriginConfig("http://a", proxyProtocol="V1"), "proxyProtocol", _route(origins=[{"url": "http://a", "proxy_protocol": "V1"}]), f"{_ROUTE_KEY}.origins[0].proxy_protocol"),
    (lambda: HealthCheckConfig(path="healthz"), "path", _route(health_check={"path": "healthz"}), f"{_ROUTE_KEY}.health_check.path"),
    (lambda: HealthCheckConfig(interval=0), "interval", _route(health_check={"interval": 0}), f"{_ROUTE_KEY}.health_check.interval"),
    (lambda: HealthCheckConfig(timeout=-1.5), "timeout", _route(health_check={"timeout": -1.5}), f"{_ROUTE_KEY}.health_check.timeout"),
    (lambda: HealthCheckConfig(rise=0), "rise", _route(health_check={"rise": 0}), f"{_ROUTE_KEY}.health_check.rise"),
    (lambda: HealthCheckConfig(fall=True), "fall", _route(health_check={"fall": True}), f"{_ROUTE_KEY}.health_check.fall"),
    (lambda: HealthCheckConfig(host="a b"), "host", _route(health_check={"host": "a b"}), f"{_ROUTE_KEY}.health_check.host"),
    (lambda: VhostConfig(("app.test:80",), (_ROUTE,)), "hosts[0]", _vhost(hosts=["app.test:80"]), "reverse.vhost[0].hosts[0]"),
    (lambda: VhostConfig(("app.test", "http://b.test"), (_ROUTE,)), "hosts[1]", _vhost(hosts=["app.test", "http://b.test"]), "reverse.vhost[0].hosts[1]"),
    (lambda: VhostConfig(("256.1.1.1",), (_ROUTE,)), "hosts[0]", _vhost(hosts=["256.1.1.1"]), "reverse.vhost[0].hosts[0]"),
    (lambda: VhostConfig((), (_ROUTE,)), "hosts", _vhost(hosts=[]), "reverse.vhost[0].hosts"),
    (lambda: VhostConfig("app.test", (_ROUTE,)), "hosts", _vhost(hosts="app.test"), "reverse.vhost[0].hosts"),  # type: ignore[arg-type]
    (lambda: ReverseConfig((VhostConfig(("app.test",), (_ROUTE,)),), default="other.test"), "default", {**_vhost(), "reverse": {**_vhost()["reverse"], "default": "other.test"}}, "reverse.default"),
    (lambda: ReverseConfig((VhostConfig(("*.app.test",), (_ROUTE,)),), default="*.app.test"), "default", {"reverse": {**_vhost(hosts=["*.app.test"])["reverse"], "default": "*.app.test"}}, "reverse.default"),
    (lambda: ReverseConfig(trustedProxies=("10.0.0.0/33",)), "trustedProxies[0]", {"reverse": {"trusted_proxies": ["10.0.0.0/33"]}}, "reverse.trusted_proxies[0]"),
    (lambda: ReverseConfig(forwardProxy="yes"), "forwardProxy", {"reverse": {"forward_proxy": "yes"}}, "reverse.forward_proxy"),
    (lambda: Timeouts(connect=0), "connect", {"timeouts": {"connect": 0}}, "timeouts.connect"),
    (lambda: Timeouts(idle=-1), "idle", {"timeouts": {"idle": -1}}, "timeouts.idle"),
    (lambda: Timeouts(header="10"), "header", {"timeouts": {"header": "10"}}, "timeouts.header"),
    (lambda: Timeouts(tunnelIdle=True), "tunnelIdle", {"timeouts": {"tunnel_idle": True}}, "timeouts.tunnel_idle"),
    (lambda: Timeouts(drainDelay=-1), "drainDelay", {"timeouts": {"drain_delay": -1}}, "timeouts.drain_delay"),
    (lambda: PoolConfig(maxIdlePerOrigin=-1), "maxIdlePerOrigin", {"pool": {"max_idle_per_origin": -1}}, "pool.max_idle_per_origin"),
    (lambda: PoolConfig(idleExpiry=0), "idleExpiry", {"pool": {"idle_expiry": 0}}, "pool.idle_expiry"),
    (lambda: LimitsConfig(maxRequestLine=0), "maxRequestLine", {"limits": {"max_request_line": 0}}, "limits.max_request_line"),
    (lambda: LimitsConfig(maxBodyBytes=-1), "maxBodyBytes", {"limits": {"max_body_bytes": -1}}, "limits.max_body_bytes"),
    (lambda: LimitsConfig(maxOriginConnections=0), "maxOriginConnections", {"limits": {"max_origin_connections": 0}}, "limits.max_origin_connections"),
    (lambda: LimitsConfig(maxOriginQueue=1.5), "maxOriginQueue", {"limits": {"max_origin_queue": 1.5}}, "limits.max_origin_queue"),
    (lambda: ForwardConfig(connectPorts=frozenset({0})), "connectPorts", {"forward": {"connect_ports": [0]}}, "forward.connect_ports"),
    (lambda: ForwardConfig(connectPorts=frozenset({443, 70000})), "connectPorts", {"forward": {"connect_ports": [443, 70000]}}, "forward.connect_ports"),
    (lambda: ForwardConfig(allowPorts=frozenset({-1})), "allowPorts", {"forward": {"allow_ports": [-1]}}, "forward.allow_ports"),
    (lambda: ForwardConfig(allowClients=("10.0.0.0/33",)), "allowClients", {"forward": {"allow_clients": ["10.0.0.0/33"]}}, "forward.allow_clients"),
    (lambda: ForwardConfig(allowClients="10.0.0.0/8"), "allowClients", {"forward": {"allow_clients": "10.0.0.0/8"}}, "forward.allow_clients"),  # type: ignore[arg-type]
    (lambda: ForwardConfig(via="my proxy"), "via", {"forward": {"via": "my proxy"}}, "forward.via"),
    (lambda: ForwardConfig(allowTrace="yes"), "allowTrace", {"forward": {"allow_trace": "yes"}}, "forward.allow_trace"),
    (lambda: ForwardConfig(allowPrivateDestinations=1), "allowPrivateDestinations", {"forward": {"allow_private_destinations": 1}}, "forward.allow_private_destinations"),
    (lambda: ForwardConfig(authRealm=""), "authRealm", {"forward": {"auth_realm": ""}}, "forward.auth_realm"),
    (lambda: ForwardConfig(authFile=""), "authFile", {"forward": {"auth_file": ""}}, "forward.auth_file"),
    (lambda: ForwardConfig(allowDestinations=("bad host",)), "allowDestinations", {"forward": {"allow_destinations": ["bad host"]}}, "forward.allow_destinations"),
    (lambda: ForwardConfig(denyDestinations=("10.0.0.0/33",)), "denyDestinations", {"forward": {"deny_destinations": ["10.0.0.0/33"]}}, "forward.deny_destinations"),
    (lambda: ForwardConfig(noParent=("*.",)), "noParent", {"forward": {"no_parent": ["*."]}}, "forward.no_parent"),
    (lambda: ForwardConfig(parent="ftp://parent.test"), "parent", {"forward": {"parent": "ftp://parent.test"}}, "forward.parent"),
    (lambda: ProxyConfig(listen="tcp:8080"), "listen", {"listen": "tcp:8080"}, "listen"),  # type: ignore[arg-type]
    (lambda: ProxyConfig(listen=()), "listen", {"listen": []}, "listen"),
    (lambda: TLSConfig(("tcp:8443",), _CERT, minVersion="1.1"), "minVersion", _tls(min_version="1.1"), "tls.min_version"),
    (lambda: TLSConfig(("tcp:8443",), _CERT, ciphers="NOPE"), "ciphers", _tls(ciphers="NOPE"), "tls.ciphers"),
    (lambda: TLSConfig(("tcp:8443",), _CERT, redirectPort=0), "redirectPort", _tls(redirect_port=0), "tls.redirect_port"),
    (lambda: TLSConfig((), _CERT), "listen", _tls(listen=[]), "tls.listen"),
    (lambda: TLSConfig(("ssl:8443",), _CERT), "listen[0]", _tls(listen=["ssl:8443"]), "tls.listen[0]"),
    (lambda: TLSListener("ssl:8443"), "endpoint", _tls(listen=[{"endpoint": "ssl:8443"}]), "tls.listen[0].endpoint"),
    (lambda: TLSListener("tcp:8443", minVersion="1.0"), "minVersion", _tls(listen=[{"endpoint": "tcp:8443", "min_version": "1.0"}]), "tls.listen[0].min_version"),
    (lambda: TLSSettings(minVersion="1.4"), "minVersion", _tls(min_version="1.4"), "tls.min_version"),
    (lambda: CertificateConfig("", "k.pem"), "cert", _tls(default_certificate={"cert": "", "key": "k.pem"}), "tls.default_certificate.cert"),
]  # fmt: skip


class ConstructionTests(SynchronousTestCase):
    """
    Config values built in Python are checked when built, with the words
    the TOML reader uses for the same value.
    """

    def readerProblem(self, data: dict[str, Any], key: str) -> str:
        """
        The problem the reader reports for C{key} of C{data}.
        """
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromMapping(data)
        found = [e for e in getattr(caught.exception, "errors", (caught.exception,)) if e.key == key]
        self.assertTrue(found, f"the reader reports nothing for {key}: {caught.exception}")
        return found[0].problem

    def test_sameMessages(self) -> None:
        """
        Each invalid construction raises L{ConfigError} naming the class and
        the field, with the problem the reader reports for the same value.
        """
        for construct, field, data, key in INVALID:
            with self.assertRaises(ConfigError) as caught:
                construct()
            error = caught.exception
            self.assertEqual(error.key, field, str(error))
            self.assertEqual(error.line, None)
            self.assertEqual(error.problem, self.readerProblem(data, key), key)
            self.assertEqual(str(error), f"{error.source}: {field}: {error.problem}")

    def test_source(self) -> None:
        """
        The error names the class in place of a file, and is a
        L{ValueError}.
        """
        with self.assertRaises(ValueError) as caught:
            OriginConfig("ftp://x")
        self.assertEqual(
            str(caught.exception),
            "OriginConfig: url: expected https://host[:port], http://host[:port] or "
            "unix:/absolute/path, got 'ftp://x'",
        )

    def test_evolve(self) -> None:
        """
        C{attrs.evolve} checks the new value too.
        """
        self.assertRaises(ConfigError, attrs.evolve, Timeouts(), connect=-1)

    def test_structure(self) -> None:
        """
        Values that only Python can get wrong: an origin that is not an
        L{OriginConfig}, a prefix routed twice in a vhost, a host listed by
        two vhosts, a field holding the wrong kind of config.
        """
        cases: list[tuple[Callable[[], object], str, str]] = [
            (
                lambda: RouteConfig(("http://a",)),  # type: ignore[arg-type]
                "origins[0]",
                "expected an OriginConfig, got 'http://a'",
            ),
            (
                lambda: VhostConfig(("a.test",), (_ROUTE, RouteConfig(_ORIGINS))),
                "routes[1].prefix",
                "prefix '/' is already routed by routes[0]",
            ),
            (
                lambda: ReverseConfig(
                    (VhostConfig(("a.test",), (_ROUTE,)), VhostConfig(("A.test.",), (_ROUTE,)))
                ),
                "vhosts[1].hosts[0]",
                "host 'A.test.' is already listed at vhosts[0].hosts[0]",
            ),
            (
                lambda: ProxyConfig(timeouts=60),  # type: ignore[arg-type]
                "timeouts",
                "expected a Timeouts, got 60",
            ),
            (
                lambda: OriginTLS(serverName="a b"),
                "serverName",
                "expected a host name, *.wildcard or IP literal, got 'a b'",
            ),
        ]
        for construct, field, problem in cases:
            with self.assertRaises(ConfigError) as caught:
                construct()
            self.assertEqual((caught.exception.key, caught.exception.problem), (field, problem))

    def test_valid(self) -> None:
        """
        Good values, including everything the reader produces, are
        accepted.
        """
        ProxyConfig.fromFile(os.path.join(EXAMPLES, "forward.toml"))
        ProxyConfig.fromFile(os.path.join(EXAMPLES, "reverse.toml"))
        OriginConfig("https://a", clientCert="c.pem", clientKey="k.pem", serverName="b", verify=False)
        VhostConfig(["a.test", "*.b.test", "[::1]", "10.0.0.1"], [_ROUTE])  # type: ignore[arg-type]
        ForwardConfig(connectPorts=frozenset({443, 8443}), parent="http://u:p@parent.test:3128")
        TLSConfig(("tcp:8443", TLSListener("tcp:9443", "1.3")), _CERT, (_CERT,), ciphers="ECDHE+AESGCM")


class HostAndOriginTests(SynchronousTestCase):
    """
    L{parseHost}, L{hostKey} and L{checkOriginURL} accept the documented
    forms and nothing else.
    """

    def test_hosts(self) -> None:
        """
        Names (with underscores, digits and a trailing dot), wildcards, IPv4
        and IPv6 literals are hosts; ports, schemes, paths, empty labels,
        misplaced stars, bad addresses and IPv6 zones are not.
        """
        for good in (
            "example.test", "a-b.example.test", "_svc.example.test", "localhost",
            "example.test.", "*.example.test", "127.0.0.1", "[::1]", "::1",
            "2001:db8::1", "x" * 63 + ".test",
        ):  # fmt: skip
            self.assertEqual(parseHost(good), good)
        for bad in (
            "", "example.test:80", "http://example.test", "example.test/",
            "a..test", ".test", "-a.test", "a-.test", "*", "*.", "a.*.test",
            "*a.test", "1.2.3.256", "*.1.2.3.4", "[::1]:80", "[::1", "[nope]",
            "fe80::1%eth0", "exämple.test", "a test", "x" * 64 + ".test", "1.2.3",
        ):  # fmt: skip
            self.assertRaises(ValueError, parseHost, bad)

    def test_hostKey(self) -> None:
        """
        Hosts compare without case, trailing dot or IPv6 brackets, and IP
        literals in any spelling compare equal.
        """
        self.assertEqual(hostKey("App.Example.Test."), "app.example.test")
        self.assertEqual(hostKey("[0:0::1]"), hostKey("::1"))
        self.assertEqual(hostKey("*.Example.test"), "*.example.test")

    def test_originURLs(self) -> None:
        """
        C{http://host[:port]} with an optional C{/} and C{unix:/path} are
        origins; everything L{checkOriginURL} accepts,
        L{proxykit.policy.balance.parseOriginURL} accepts too, so a checked file
        never fails later when the origins are built.
        """
        good = [
            "http://127.0.0.1:9001", "http://127.0.0.1:9001/", "http://example.test",
            "http://[::1]:9003", "http://[::1]", "http://a_b.test:1", "http://example.test.:65535",
            "unix:/run/app.sock", "unix:/x", "https://example.test", "https://[::1]:8443/",
        ]  # fmt: skip
        for url in good:
            self.assertEqual(checkOriginURL(url), url)
            parseOriginURL(url)
        for bad in (
            "https://example.test/x", "http://example.test/x", "http://example.test?q",
            "http://example.test#f", "http://user@example.test", "http://example.test:",
            "http://example.test:0", "http://example.test:65536", "http://example.test:+80",
            "http://::1:80", "http://*.example.test", "http://", "example.test",
            "unix:run/app.sock", "unix:/", "unix://run/app.sock", "unix:/a\0b", "ftp://x",
            "http://exämple.test",
        ):  # fmt: skip
            self.assertRaises(ValueError, checkOriginURL, bad)

    def test_defaultHostProblem(self) -> None:
        """
        A default vhost must be an exact host of one of the vhosts.
        """
        vhosts = (VhostConfig(("a.test", "*.b.test"), (RouteConfig(origins=(OriginConfig("http://x"),)),)),)
        self.assertIsNone(defaultHostProblem(vhosts, "A.test"))
        self.assertIn("wildcard", defaultHostProblem(vhosts, "*.b.test") or "")
        self.assertIn("not a host of any vhost", defaultHostProblem(vhosts, "c.b.test") or "")


class ValidatorTests(SynchronousTestCase):
    """
    The reverse-mode values check their enumerations and ranges when built
    from Python too.
    """

    def test_invalid(self) -> None:
        """
        An unknown balancing policy or C{Host} mode, retries outside 0-10,
        a weight, rise or fall below 1, a non-positive ejection time are
        rejected.
        """
        origins = (OriginConfig("http://127.0.0.1:9001"),)
        for kwargs in (
            {"balance": "fastest"},
            {"hostHeader": "client"},
            {"retries": 11},
            {"retries": -1},
            {"ejectFor": 0},
        ):
            self.assertRaises(ValueError, RouteConfig, origins, **kwargs)  # type: ignore[arg-type]
        self.assertRaises(ValueError, OriginConfig, "http://x", 0)
        self.assertRaises(ValueError, HealthCheckConfig, rise=0)
        self.assertRaises(ValueError, HealthCheckConfig, fall=0)
        self.assertEqual(RouteConfig(origins, retries=10).retries, 10)


class ListenTests(SynchronousTestCase):
    """
    Listen strings, in C{listen}, C{[tls] listen} and
    C{[tls] redirect_listen}, are checked when the file is read: each bad
    one is reported at its line and key, saying what is wrong.
    """

    def errors(self, text: str) -> list[tuple[int | None, str, str]]:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        for error in caught.exception.errors:
            self.assertEqual(error.source, path)
        return [(e.line, e.key, e.problem) for e in caught.exception.errors]

    def test_listen(self) -> None:
        """
        Each bad element of C{listen} is an error of its own: not a port,
        an unknown type, a bare port number (with what to write instead).
        """
        self.assertEqual(
            self.errors('listen = [\n  "tcp:notaport",\n  "tcp:0",\n  "bogus:1",\n  "3128",\n]\n'),
            [
                (2, "listen[0]", "invalid endpoint 'tcp:notaport': expected a port from 0 to 65535, got 'notaport'"),
                (4, "listen[2]", "invalid endpoint 'bogus:1': unknown endpoint type 'bogus' "
                 "(expected tcp:, tcp6:, unix:, ssl:, haproxy:, systemd: as in tcp:8080:interface=127.0.0.1)"),
                (5, "listen[3]", "'3128' is a port number, not an endpoint: write "
                 "tcp:3128:interface=127.0.0.1 (this machine only) or tcp:3128 (every interface)"),
            ],
        )

    def test_listenTwice(self) -> None:
        """
        An endpoint listed twice is refused (its second listener could not
        bind), as C{nginx -t} refuses it; a port the system chooses may be
        listed twice, and a config object is refused the same way.
        """
        self.assertEqual(
            self.errors('listen = [\n  "tcp:18080:interface=127.0.0.1",\n  "tcp:18080:interface=127.0.0.1",\n]\n'),
            [(1, "listen", "'tcp:18080:interface=127.0.0.1' is listed twice")],
        )
        twice = ("tcp:0:interface=127.0.0.1",) * 2
        self.assertEqual(ProxyConfig.fromMapping({"listen": list(twice)}).listen, twice)
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig(listen=("tcp:8080", "tcp:8080"))
        self.assertEqual(str(caught.exception), "ProxyConfig: listen: 'tcp:8080' is listed twice")

    def test_tlsListen(self) -> None:
        """
        A bad TLS listener, as a string or in a table, and a bad redirect
        listener are reported under their own keys.
        """
        [(line, key, problem)] = self.errors('[tls]\nlisten = ["tcp:x"]\n')
        self.assertEqual((line, key), (2, "tls.listen[0]"))
        self.assertIn("expected a port from 0 to 65535, got 'x'", problem)
        [(line, key, problem)] = self.errors('[tls]\nlisten = [{ endpoint = "8443" }]\n')
        self.assertEqual((line, key), (2, "tls.listen[0].endpoint"))
        self.assertIn("write tcp:8443:interface=127.0.0.1", problem)
        found = self.errors('[tls]\nlisten = ["tcp:0"]\nredirect_listen = ["tcp:80", "http:80"]\n')
        self.assertEqual(found[0][:2], (3, "tls.redirect_listen[1]"))
        self.assertIn("unknown endpoint type 'http'", found[0][2])

    def test_valid(self) -> None:
        """
        What Twisted accepts is accepted: TCP on every interface, on an
        IPv6 address, UNIX sockets, PROXY-protocol listeners.
        """
        from proxykit.config.checks import listenEndpoint

        for value in (
            "tcp:0",
            "tcp:port=8080:interface=127.0.0.1",
            "tcp6:8080:interface=\\:\\:1",
            "unix:/run/proxy.sock:mode=600",
            "haproxy:tcp:8080:interface=127.0.0.1",
        ):
            self.assertEqual(listenEndpoint(value), value)

    def test_systemd(self) -> None:
        """
        A C{systemd:} endpoint (socket activation) is accepted when systemd
        passed the socket it names, and otherwise refused with what to do,
        not with Twisted's lookup error.
        """
        from twisted.internet.endpoints import _SystemdParser
        from twisted.python.systemd import ListenFDs

        from proxykit.config.checks import listenEndpoint, listenProblem

        value = "systemd:domain=INET:index=0"
        self.patch(_SystemdParser, "_sddaemon", ListenFDs.fromEnvironment(environ={}))
        self.assertEqual(
            listenProblem(value),
            "invalid endpoint 'systemd:domain=INET:index=0': no such socket inherited from"
            " systemd: start proxykit from a socket unit (or systemd-socket-activate),"
            " which passes it",
        )
        inherited = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "proxykit.socket"}
        self.patch(_SystemdParser, "_sddaemon", ListenFDs.fromEnvironment(environ=inherited))
        self.assertEqual(listenEndpoint(value), value)
        self.assertIn("no such socket", listenProblem("systemd:domain=INET:index=1") or "")


class SeveralErrorsTests(SynchronousTestCase):
    """
    Every problem of a file is reported in one go, each located, where the
    reader can go on after it; a problem that follows from another one is
    not reported twice.
    """

    def error(self, text: str) -> ConfigError:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        return caught.exception

    def test_threeErrors(self) -> None:
        """
        Three independent errors give one L{ConfigError} whose C{errors}
        are all three, whose attributes are the first's, and whose text is
        one line per error.
        """
        e = self.error(
            'listen = ["tcp:notaport"]\n'
            "[timeouts]\nidle = 0\n"
            "[forward]\nvia = \"a b\"\ncolour = 1\n"
        )
        self.assertEqual(
            sorted((each.line, each.key) for each in e.errors),
            [(1, "listen[0]"), (3, "timeouts.idle"), (5, "forward.via"), (6, "forward.colour")],
        )
        self.assertIs(e.errors[0], e)
        self.assertEqual(len(str(e).splitlines()), 4)
        for each in e.errors:
            self.assertIn(f"{each.source}:{each.line}: {each.key}: {each.problem}", str(e))

    def test_reverse(self) -> None:
        """
        Errors in different routes and virtual hosts are all reported; a
        route with a bad origin does not also make its vhost "routeless".
        """
        e = self.error(
            "[[reverse.vhost]]\nhosts = [\"a.test\"]\n"
            "[[reverse.vhost.route]]\norigins = [\"ftp://x\"]\nretries = 99\n"
            "[[reverse.vhost]]\nhosts = [\"a..test\"]\n"
            "[[reverse.vhost.route]]\norigins = [\"http://127.0.0.1:1\"]\n"
            "[reverse]\n"
        )
        self.assertEqual(
            [(each.line, each.key) for each in e.errors],
            [
                (4, "reverse.vhost[0].route[0].origins[0]"),
                (5, "reverse.vhost[0].route[0].retries"),
                (7, "reverse.vhost[1].hosts[0]"),
            ],
        )

    def test_consequences(self) -> None:
        """
        A list that is not a list is not also reported as empty.
        """
        e = self.error('listen = "tcp:80"\n')
        self.assertEqual([(each.line, each.key) for each in e.errors], [(1, "listen")])

    def test_single(self) -> None:
        """
        A single error is its own only error, printed on one line.
        """
        e = ConfigError("f.toml", 3, "a.b", "bad")
        self.assertEqual(e.errors, (e,))
        self.assertEqual(str(e), "f.toml:3: a.b: bad")
