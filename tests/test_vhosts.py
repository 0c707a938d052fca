"""
Tests for L{proxykit.policy.vhosts}: virtual hosts, prefixes and the reverse
router, without a reactor.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    ForwardConfig,
    OriginConfig,
    ReverseConfig,
    RouteConfig,
    VhostConfig,
)
from proxykit.decisions import ClientInfo, Forward, Origin, Refuse, Tunnel
from proxykit.policy.routing import ForwardRouter
from proxykit.policy.vhosts import (
    CombinedRouter,
    ReverseRouter,
    VhostTable,
    normalizeHost,
    tableOf,
)

from ._helpers import parseRequest

CLIENT = ClientInfo(peerHost="127.0.0.1", localHost="127.0.0.1", localPort=8000)


def route(prefix: str = "/", port: int = 9001, strip: bool = False) -> RouteConfig:
    return RouteConfig(
        origins=(OriginConfig(f"http://127.0.0.1:{port}"),), prefix=prefix, stripPrefix=strip
    )


def table(default: str | None = None) -> ReverseConfig:
    return ReverseConfig(
        vhosts=(
            VhostConfig(("app.example.test",), (route(port=9001), route("/api", 9002, strip=True), route("/api/v2/", 9003))),
            VhostConfig(("*.example.test",), (route(port=9004),)),
            VhostConfig(("*.deep.example.test", "[::1]", "192.0.2.7"), (route(port=9005),)),
            VhostConfig(("static.example.test",), (route("/files", 9006),)),
        ),
        default=default,
    )


def decide(raw: bytes, config: ReverseConfig | None = None) -> object:
    config = config or table()
    router = ReverseRouter(VhostTable.fromConfig(config, Clock()), config)
    return router.route(parseRequest(raw), CLIENT)


def originOf(decision: object) -> tuple[str, int]:
    assert isinstance(decision, Forward), decision
    origin = decision.upstream.pick()
    assert origin is not None
    return origin.host, origin.port


def get(target: bytes, host: bytes = b"app.example.test") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"


class HostMatchingTests(SynchronousTestCase):
    """
    The Host picks the virtual host: exact names, then wildcards, then the
    default; case, port and a trailing dot do not matter.
    """

    def test_exact(self) -> None:
        """
        An exact name picks its vhost, in any case, with or without port or
        trailing dot.
        """
        for host in (b"app.example.test", b"APP.Example.Test", b"app.example.test:8000", b"app.example.test."):
            self.assertEqual(originOf(decide(get(b"/", host))), ("127.0.0.1", 9001), host)

    def test_wildcard(self) -> None:
        """
        C{*.example.test} matches any subdomain, the longest wildcard
        suffix winning; not the bare domain.
        """
        self.assertEqual(originOf(decide(get(b"/", b"x.example.test"))), ("127.0.0.1", 9004))
        self.assertEqual(originOf(decide(get(b"/", b"a.b.example.test"))), ("127.0.0.1", 9004))
        self.assertEqual(originOf(decide(get(b"/", b"a.deep.example.test"))), ("127.0.0.1", 9005))
        self.assertEqual(decide(get(b"/", b"example.test")), Refuse(421, "unknown host"))

    def test_ipLiterals(self) -> None:
        """
        IPv4 and IPv6 literals (with port, in brackets) match.
        """
        self.assertEqual(originOf(decide(get(b"/", b"[::1]:8000"))), ("127.0.0.1", 9005))
        self.assertEqual(originOf(decide(get(b"/", b"[0:0::1]"))), ("127.0.0.1", 9005))
        self.assertEqual(originOf(decide(get(b"/", b"192.0.2.7:80"))), ("127.0.0.1", 9005))

    def test_unknownHost(self) -> None:
        """
        An unknown host gets 421, unless a default vhost is configured.
        """
        self.assertEqual(decide(get(b"/", b"other.test")), Refuse(421, "unknown host"))
        config = table(default="app.example.test")
        self.assertEqual(originOf(decide(get(b"/", b"other.test"), config)), ("127.0.0.1", 9001))

    def test_absoluteFormCannotEscape(self) -> None:
        """
        An absolute-form target is matched against the table like Host: it
        never reaches an origin the table does not name.
        """
        self.assertEqual(
            decide(b"GET http://127.0.0.1:9999/ HTTP/1.1\r\nHost: app.example.test\r\n\r\n"),
            Refuse(421, "unknown host"),
        )
        decision = decide(b"GET http://app.example.test/x HTTP/1.1\r\nHost: evil\r\n\r\n")
        self.assertEqual(originOf(decision), ("127.0.0.1", 9001))
        self.assertEqual(decision.host, b"app.example.test")  # type: ignore[attr-defined]
        self.assertEqual(decision.target, b"/x")  # type: ignore[attr-defined]

    def test_connectRefused(self) -> None:
        """
        CONNECT to a reverse proxy is not allowed, whatever its target
        looks like.
        """
        for target in (b"app.example.test:443", b"/x"):
            self.assertEqual(
                decide(b"CONNECT " + target + b" HTTP/1.1\r\nHost: app.example.test\r\n\r\n"),
                Refuse(405, "CONNECT to a reverse proxy"),
                target,
            )

    def test_normalizeHost(self) -> None:
        """
        normalizeHost lower-cases, drops port and trailing dot, and
        canonicalises IPv6.
        """
        self.assertEqual(normalizeHost(b"A.B:80"), "a.b")
        self.assertEqual(normalizeHost(b"[2001:DB8::1]:443"), "2001:db8::1")
        self.assertEqual(normalizeHost(b"[bad"), None)
        self.assertEqual(normalizeHost(b"\xff"), None)
        self.assertEqual(normalizeHost(b"192.0.2.7.:80"), "192.0.2.7")
        self.assertEqual(normalizeHost(b"[::FFFF:192.0.2.7]"), "::ffff:c000:207")
        for bad in (b"3221225991", b"192.0.519", b"0xc0000207:80", b"0300.0.2.7", b"a..b", b"x.1"):
            self.assertEqual(normalizeHost(bad), None, bad)

    def test_nonCanonicalHostRefused(self) -> None:
        """
        A C{Host} (or absolute-form authority) spelling an IPv4 address other
        than in dotted decimal is an invalid field value: 400, by the rule
        forward-proxy targets follow; it does not fall to the default vhost.
        """
        config = table(default="app.example.test")
        for host in (b"3221225991", b"192.0.519", b"0xc0000207:80", b"0300.0.2.7", b"192.0.2.7..", b"x.1"):
            self.assertEqual(decide(get(b"/", host), config), Refuse(400, "invalid host"), host)
            self.assertEqual(
                decide(b"GET http://" + host + b"/ HTTP/1.1\r\nHost: app.example.test\r\n\r\n", config),
                Refuse(400, "invalid host"),
                host,
            )
        self.assertEqual(originOf(decide(get(b"/", b"192.0.2.7."), config)), ("127.0.0.1", 9005))


class NameTests(SynchronousTestCase):
    """
    L{VhostTable.nameFor} names the virtual host that serves a host by its
    configured name; L{tableOf} finds a router's table.
    """

    def test_nameFor(self) -> None:
        """
        An exact name, a name with a port, a wildcard match and the default
        are named by the first name of their virtual host as configured; an
        unknown host without a default is named C{None}.
        """
        names = VhostTable.fromConfig(table(), Clock())
        self.assertEqual(names.nameFor(b"APP.example.test:8000"), "app.example.test")
        self.assertEqual(names.nameFor(b"x.example.test"), "*.example.test")
        self.assertEqual(names.nameFor(b"[::1]"), "*.deep.example.test")
        self.assertIsNone(names.nameFor(b"other.test"))
        default = VhostTable.fromConfig(table("static.example.test"), Clock())
        self.assertEqual(default.nameFor(b"other.test"), "static.example.test")
        self.assertEqual(
            [hosts for hosts, routes in names.vhosts][:2], [("app.example.test",), ("*.example.test",)]
        )

    def test_tableOf(self) -> None:
        """
        The table of a reverse router, of a combined router's reverse side;
        none for a forward router.
        """
        config = table()
        reverse = ReverseRouter(VhostTable.fromConfig(config, Clock()), config)
        forward = ForwardRouter(ForwardConfig())
        self.assertIs(tableOf(reverse), reverse.table)
        self.assertIs(tableOf(CombinedRouter(forward, reverse)), reverse.table)
        self.assertIsNone(tableOf(forward))


class PrefixTests(SynchronousTestCase):
    """
    Inside a vhost the longest matching path prefix wins, and may be
    stripped.
    """

    def test_longestPrefix(self) -> None:
        """
        /api/v2/x goes to the /api/v2/ route, /api/x to /api, /apix and /
        to the / route.
        """
        self.assertEqual(originOf(decide(get(b"/api/v2/x"))), ("127.0.0.1", 9003))
        self.assertEqual(originOf(decide(get(b"/api/x"))), ("127.0.0.1", 9002))
        self.assertEqual(originOf(decide(get(b"/api"))), ("127.0.0.1", 9002))
        self.assertEqual(originOf(decide(get(b"/api?q=1"))), ("127.0.0.1", 9002))
        self.assertEqual(originOf(decide(get(b"/apix"))), ("127.0.0.1", 9001))
        self.assertEqual(originOf(decide(get(b"/"))), ("127.0.0.1", 9001))

    def test_strip(self) -> None:
        """
        A stripping route sends the path without its prefix.
        """
        self.assertEqual(decide(get(b"/api/x?y")).target, b"/x?y")  # type: ignore[attr-defined]
        self.assertEqual(decide(get(b"/api")).target, b"/")  # type: ignore[attr-defined]
        self.assertEqual(decide(get(b"/api?q")).target, b"/?q")  # type: ignore[attr-defined]
        self.assertEqual(decide(get(b"/api/v2/z")).target, b"/api/v2/z")  # type: ignore[attr-defined]

    def test_noRoute(self) -> None:
        """
        A known host without a route for the path gets 404.
        """
        self.assertEqual(
            decide(get(b"/other", b"static.example.test")), Refuse(404, "no route for this path")
        )
        self.assertEqual(originOf(decide(get(b"/files/a", b"static.example.test"))), ("127.0.0.1", 9006))


class CombinedRouterTests(SynchronousTestCase):
    """
    One listener can serve both roles (opt-in).
    """

    def test_split(self) -> None:
        """
        Absolute-form and CONNECT go to the forward router; origin-form to
        the vhosts.
        """
        config = table()
        reverse = ReverseRouter(VhostTable.fromConfig(config, Clock()), config)
        router = CombinedRouter(ForwardRouter(ForwardConfig()), reverse)
        decision = router.route(parseRequest(b"GET http://other.test:81/p HTTP/1.1\r\nHost: x\r\n\r\n"), CLIENT)
        self.assertEqual(decision, Forward(Origin("http", "other.test", 81, forward=True), b"/p", b"other.test:81"))
        decision = router.route(parseRequest(b"CONNECT other.test:443 HTTP/1.1\r\nHost: x\r\n\r\n"), CLIENT)
        self.assertEqual(decision, Tunnel("other.test", 443))
        self.assertEqual(originOf(router.route(parseRequest(get(b"/")), CLIENT)), ("127.0.0.1", 9001))

    def test_forwardClientsChecked(self) -> None:
        """
        Site clients may come from anywhere, but only allowed clients may use
        the forward role.
        """
        config = table()
        reverse = ReverseRouter(VhostTable.fromConfig(config, Clock()), config)
        router = CombinedRouter(ForwardRouter(ForwardConfig()), reverse)
        outsider = ClientInfo("192.0.2.9", "0.0.0.0", 8000)
        self.assertEqual(
            router.route(parseRequest(b"GET http://other.test/ HTTP/1.1\r\nHost: x\r\n\r\n"), outsider),
            Refuse(403, "client not allowed"),
        )
        self.assertIsInstance(router.route(parseRequest(get(b"/")), outsider), Forward)
