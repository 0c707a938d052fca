"""
Tests for L{proxykit.relay.discovery}: origins found through DNS, with a fake
resolver whose answers the test changes, on a fake clock.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import LogEvent, globalLogPublisher
from twisted.names import dns
from twisted.names.error import DNSNameError, DNSServerError
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import HealthCheckConfig, OriginConfig, ProxyConfig, RouteConfig
from proxykit.config.values import ReverseConfig, VhostConfig
from proxykit.decisions import Origin
from proxykit.policy.balance import OriginGroup, isDiscovered
from proxykit.relay.discovery import OriginDiscovery, resolverFor, systemServers
from proxykit.relay.health import HealthChecker
from proxykit.relay.pool import ConnectionPool

from ._snippets import DOCS, snippets


def a(name: str, address: str, ttl: int) -> dns.RRHeader:
    return dns.RRHeader(name, dns.A, dns.IN, ttl, dns.Record_A(address, ttl))


def aaaa(name: str, address: str, ttl: int) -> dns.RRHeader:
    return dns.RRHeader(name, dns.AAAA, dns.IN, ttl, dns.Record_AAAA(address, ttl))


def srv(name: str, priority: int, weight: int, port: int, target: str, ttl: int) -> dns.RRHeader:
    return dns.RRHeader(
        name, dns.SRV, dns.IN, ttl, dns.Record_SRV(priority, weight, port, target, ttl)
    )


class FakeResolver:
    """
    Answers from C{records} (by name and type); a name without records is
    C{NXDOMAIN}; a name in C{broken} fails with a server failure; a name in
    C{hanging} never answers.

    @ivar queries: Each query asked, as C{(type, name)}.
    """

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], list[dns.RRHeader]] = {}
        self.additional: dict[str, list[dns.RRHeader]] = {}
        self.broken: set[str] = set()
        self.hanging: set[str] = set()
        self.queries: list[tuple[int, str]] = []

    def _answer(self, name: str, type: int) -> Deferred[Any]:
        self.queries.append((type, name))
        if name in self.hanging:
            return Deferred()
        if name in self.broken:
            return fail(DNSServerError(name))
        if not any(key[0] == name for key in self.records):
            return fail(DNSNameError(name))
        return succeed((self.records.get((name, type), []), [], self.additional.get(name, [])))

    def lookupAddress(self, name: str, timeout: object = None) -> Deferred[Any]:
        return self._answer(name, dns.A)

    def lookupIPV6Address(self, name: str, timeout: object = None) -> Deferred[Any]:
        return self._answer(name, dns.AAAA)

    def lookupService(self, name: str, timeout: object = None) -> Deferred[Any]:
        return self._answer(name, dns.SRV)


class IdleConnection:
    """
    A pooled connection to C{poolKey}, idle.
    """

    def __init__(self, poolKey: Origin) -> None:
        self.poolKey = poolKey
        self.closed = False

    def idle(self, expiry: float) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def route(*origins: str | OriginConfig, balance: str = "round_robin", **kwargs: Any) -> RouteConfig:
    return RouteConfig(
        origins=tuple(o if isinstance(o, OriginConfig) else OriginConfig(o) for o in origins),
        balance=balance,
        **kwargs,
    )


class Fixture:
    """
    A route's group and its discovery on a fake clock and resolver.
    """

    def __init__(
        self,
        config: RouteConfig,
        minTtl: float = 1.0,
        maxTtl: float = 60.0,
        checker: bool = False,
    ) -> None:
        self.clock = Clock()
        self.resolver = FakeResolver()
        self.group = OriginGroup.fromRouteConfig(config, self.clock)
        self.checker = None
        self.pending: dict[Origin, list[tuple[Any, Deferred[Any]]]] = {}
        if checker:
            assert config.healthCheck is not None

            def connector(origin: Origin, factory: Any) -> Deferred[Any]:
                d: Deferred[Any] = Deferred()
                self.pending.setdefault(origin, []).append((factory, d))
                return d

            self.checker = HealthChecker(self.group, config.healthCheck, self.clock, connector)
        self.discovery = OriginDiscovery(
            self.group, config.origins, self.resolver, minTtl, maxTtl, self.clock, self.checker
        )

    def members(self) -> list[str]:
        return [str(origin) for origin in self.group.origins]


class IsDiscoveredTests(SynchronousTestCase):
    """
    Which configured origins are resolved through DNS.
    """

    def test_which(self) -> None:
        """
        Names and SRV URLs are; IP literals, UNIX sockets and C{localhost}
        are not.
        """
        for url in ("http://api.internal:8080", "https://app.test", "srv+http://_http._tcp.a.test"):
            self.assertTrue(isDiscovered(url), url)
        for url in (
            "http://127.0.0.1:8080",
            "http://[::1]:80",
            "unix:/run/app.sock",
            "http://localhost:8080",
            "http://app.localhost",
        ):
            self.assertFalse(isDiscovered(url), url)

    def test_literalsUnchanged(self) -> None:
        """
        A route of IP literals needs no discovery: C{reverseRouter} builds
        none for it, and no resolver.
        """
        from proxykit.build import reverseRouter
        from proxykit.policy.destinations import OPEN

        config = ProxyConfig(
            reverse=ReverseConfig(
                vhosts=(VhostConfig(("site.test",), (route("http://127.0.0.1:8080"),)),)
            )
        )
        _, tasks = reverseRouter(config, Clock(), OPEN)
        self.assertEqual(tasks, ())
        config = ProxyConfig(
            reverse=ReverseConfig(
                vhosts=(VhostConfig(("site.test",), (route("http://app.test:8080"),)),),
                dnsServers=("127.0.0.1:5353",),
            )
        )
        _, tasks = reverseRouter(config, Clock(), OPEN)
        self.assertEqual([type(task) for task in tasks], [OriginDiscovery])


class AddressTests(SynchronousTestCase):
    """
    An origin given by host name becomes one member per address of the name.
    """

    def setUp(self) -> None:
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def messages(self) -> list[str]:
        from twisted.logger import formatEvent

        return [formatEvent(e) for e in self.events if e.get("log_namespace", "").startswith("proxykit.discovery")]

    def test_beforeFirstAnswer(self) -> None:
        """
        Until its first answer, the origin is a member under its name.
        """
        f = Fixture(route("http://app.test:8080"))
        self.assertEqual(f.members(), ["http://app.test:8080"])

    def test_addresses(self) -> None:
        """
        Each A and AAAA address becomes a member, on the configured port,
        with the configured weight; the C{Host} they are sent (their
        authority) is the configured name.
        """
        f = Fixture(route(OriginConfig("http://app.test:8080", weight=3)))
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.2", 30), a("app.test", "10.0.0.1", 30)]
        f.resolver.records[("app.test", dns.AAAA)] = [aaaa("app.test", "fd00::1", 30)]
        f.discovery.start()
        self.assertEqual(
            f.members(), ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://[fd00::1]:8080"]
        )
        for origin in f.group.origins:
            self.assertEqual(origin.authority, b"app.test:8080")
            self.assertEqual(origin.name, "app.test")
        self.assertEqual([f.group._index[o].weight for o in f.group.origins], [3, 3, 3])
        self.assertIn(
            "origin http://app.test:8080 resolved to http://10.0.0.1:8080 http://10.0.0.2:8080"
            " http://[fd00::1]:8080 (ttl 30.0s) for the first time",
            self.messages(),
        )
        f.discovery.stop()

    def test_tlsServerName(self) -> None:
        """
        An C{https} member's TLS server name is the configured host name,
        unless the origin names another.
        """
        f = Fixture(route("https://app.test", OriginConfig("https://other.test", serverName="cert.test")))
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 30)]
        f.resolver.records[("other.test", dns.A)] = [a("other.test", "10.0.0.9", 30)]
        f.discovery.start()
        names = {origin.host: origin.tls.serverName for origin in f.group.origins if origin.tls}
        self.assertEqual(names, {"10.0.0.1": "app.test", "10.0.0.9": "cert.test"})
        f.discovery.stop()

    def test_ttlBounds(self) -> None:
        """
        The name is resolved again after its TTL, no sooner than the
        minimum and no later than the maximum.
        """
        for ttl, expected in ((30, 30.0), (0, 2.0), (3600, 120.0)):
            f = Fixture(route("http://app.test"), minTtl=2.0, maxTtl=120.0)
            f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", ttl)]
            f.discovery.start()
            asked = len(f.resolver.queries)
            f.clock.advance(expected - 0.01)
            self.assertEqual(len(f.resolver.queries), asked, ttl)
            f.clock.advance(0.01)
            self.assertEqual(len(f.resolver.queries), asked * 2, ttl)
            f.discovery.stop()
            self.assertEqual(f.clock.getDelayedCalls(), [])

    def test_membersFollow(self) -> None:
        """
        An address that disappears leaves the group (its requests in flight
        still report on it; its idle pooled connections are closed); one
        that appears joins; those that stay keep their state.
        """
        f = Fixture(route("http://app.test"))
        pool = ConnectionPool(f.clock)
        f.discovery.usePool(pool)
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 5), a("app.test", "10.0.0.2", 5)]
        f.discovery.start()
        one, two = f.group.origins
        idle = IdleConnection(one)
        pool.release(idle)  # type: ignore[arg-type]
        f.group.started(one)
        f.group.started(two)
        f.group.finished(two)
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.2", 5), a("app.test", "10.0.0.3", 5)]
        f.clock.advance(5)
        self.assertEqual(f.members(), ["http://10.0.0.2", "http://10.0.0.3"])
        self.assertEqual({f.group.pick() for _ in range(4)}, {two, f.group.origins[1]})
        self.assertTrue(idle.closed)
        self.assertEqual(pool.idleCount(one), 0)
        # The request in flight on the departed member finishes and fails
        # without error.
        f.group.finished(one)
        f.group.failed(one)
        f.group.succeeded(one)
        f.discovery.stop()

    def test_failureKeepsMembers(self) -> None:
        """
        A failed resolution keeps the last members, is logged once per
        failure episode and counted, and the name is tried again after the
        minimum TTL; a success ends the episode.
        """
        f = Fixture(route("http://app.test"), minTtl=1.0)
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 10)]
        f.discovery.start()
        f.resolver.broken.add("app.test")
        f.clock.advance(10)
        f.clock.advance(1)
        f.clock.advance(1)
        self.assertEqual(f.members(), ["http://10.0.0.1"])
        self.assertEqual(f.discovery.counts(), [("http://app.test", 1, 3)])
        failures = [m for m in self.messages() if "could not be resolved" in m]
        self.assertEqual(
            failures,
            ["origin http://app.test could not be resolved: DNSServerError: app.test; keeping its last addresses"],
        )
        f.resolver.broken.clear()
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.4", 10)]
        f.clock.advance(1)
        self.assertEqual(f.members(), ["http://10.0.0.4"])
        self.assertIn("origin http://app.test resolves again: 1 addresses", self.messages())
        f.discovery.stop()

    def test_noSuchNameKeepsMembers(self) -> None:
        """
        NXDOMAIN, or an answer without addresses, is a failure too: the
        group is never emptied by DNS.
        """
        f = Fixture(route("http://app.test"))
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 10)]
        f.discovery.start()
        f.resolver.records = {("app.test", dns.A): []}
        f.clock.advance(10)
        self.assertEqual(f.members(), ["http://10.0.0.1"])
        f.resolver.records = {}
        f.clock.advance(1)
        self.assertEqual(f.members(), ["http://10.0.0.1"])
        self.assertEqual(f.discovery.counts(), [("http://app.test", 1, 2)])
        f.discovery.stop()

    def test_failureBeforeFirstAnswer(self) -> None:
        """
        Until a first answer, a failing name stays a member under its name.
        """
        f = Fixture(route("http://app.test", "http://127.0.0.1:9"))
        f.discovery.start()
        self.assertEqual(f.members(), ["http://app.test", "http://127.0.0.1:9"])
        self.assertIn(
            "origin http://app.test could not be resolved: no such name; no address yet", self.messages()
        )
        f.discovery.stop()

    def test_staticKept(self) -> None:
        """
        The route's IP-literal origins stay members beside those found.
        """
        f = Fixture(route("http://127.0.0.1:9", "http://app.test"))
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 10)]
        f.discovery.start()
        self.assertEqual(f.members(), ["http://127.0.0.1:9", "http://10.0.0.1"])
        f.discovery.stop()

    def test_joinAfterHealthCheck(self) -> None:
        """
        With active health checks, the members of a name's first answer
        start up (as configured origins do: the route serves at once), and
        are checked at once; a member that joins later is not chosen until
        its first check passes; one that leaves is checked no more.
        """
        from twisted.internet.testing import StringTransport

        f = Fixture(
            route("http://app.test", healthCheck=HealthCheckConfig(path="/health", interval=30)),
            checker=True,
        )
        assert f.checker is not None
        f.checker.start()
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 5)]
        f.discovery.start()
        [first] = f.group.origins
        self.assertFalse(f.group.isMarkedDown(first))
        self.assertEqual(f.group.pick(), first)
        self.assertEqual(len(f.pending[first]), 1)
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 5), a("app.test", "10.0.0.2", 5)]
        f.clock.advance(5)
        [_, member] = f.group.origins
        self.assertTrue(f.group.isMarkedDown(member))
        self.assertEqual({f.group.pick() for _ in range(4)}, {first})
        [(factory, attempt)] = f.pending[member]
        probe = factory.buildProtocol(None)
        transport = StringTransport()
        probe.makeConnection(transport)
        attempt.callback(probe)
        self.assertIn(b"Host: app.test\r\n", transport.value())
        probe.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.assertFalse(f.group.isMarkedDown(member))
        self.assertEqual({f.group.pick() for _ in range(4)}, {first, member})
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.2", 5)]
        f.clock.advance(5)
        self.assertRaises(KeyError, f.checker.results, first)
        f.discovery.stop()
        f.checker.stop()


class SrvTests(SynchronousTestCase):
    """
    C{srv+http://} origins: SRV records give members with their ports and
    weights.
    """

    def test_srv(self) -> None:
        """
        Each target of the lowest priority becomes a member on its port, with
        its weight (0 counts as 1); addresses come from the additional
        section or from the targets' own A records; the member's name is its
        target's.
        """
        name = "_http._tcp.api.service.consul"
        f = Fixture(route(f"srv+http://{name}"))
        self.assertEqual(f.members(), [])
        self.assertIsNone(f.group.pick())
        f.resolver.records[(name, dns.SRV)] = [
            srv(name, 10, 3, 8001, "a.node", 20),
            srv(name, 10, 0, 8002, "b.node", 20),
            srv(name, 20, 5, 8003, "backup.node", 20),
        ]
        f.resolver.additional[name] = [a("a.node", "10.0.0.1", 20)]
        f.resolver.records[("b.node", dns.A)] = [a("b.node", "10.0.0.2", 7)]
        f.discovery.start()
        self.assertEqual(f.members(), ["http://10.0.0.1:8001", "http://10.0.0.2:8002"])
        weights = {o.port: f.group._index[o].weight for o in f.group.origins}
        self.assertEqual(weights, {8001: 3, 8002: 1})
        self.assertEqual([o.authority for o in f.group.origins], [b"a.node:8001", b"b.node:8002"])
        picks = [f.group.pick() for _ in range(8)]
        self.assertEqual(sorted(o.port for o in picks if o), [8001] * 6 + [8002] * 2)
        # The least TTL (b.node's A record) says when to ask again.
        asked = len(f.resolver.queries)
        f.clock.advance(7)
        self.assertGreater(len(f.resolver.queries), asked)
        f.discovery.stop()

    def test_srvHttps(self) -> None:
        """
        An C{srv+https://} member keeps the origin's TLS settings, its server
        name its target's.
        """
        name = "_https._tcp.api.test"
        f = Fixture(route(OriginConfig(f"srv+https://{name}", caFile=None, verify=True)))
        f.resolver.records[(name, dns.SRV)] = [srv(name, 1, 1, 8443, "a.node", 20)]
        f.resolver.additional[name] = [a("a.node", "10.0.0.1", 20)]
        f.discovery.start()
        [member] = f.group.origins
        self.assertEqual((member.scheme, member.host, member.port), ("https", "10.0.0.1", 8443))
        self.assertEqual(member.tls.serverName if member.tls else None, "a.node")
        f.discovery.stop()


class ResolverTests(SynchronousTestCase):
    """
    Which DNS servers are asked.
    """

    def test_configured(self) -> None:
        """
        C{reverse.dns_servers} are asked when given.
        """
        resolver = resolverFor(ReverseConfig(dnsServers=("127.0.0.1:5353", "[::1]")), Clock())
        self.assertEqual(resolver.servers, [("127.0.0.1", 5353), ("::1", 53)])

    def test_system(self) -> None:
        """
        Otherwise the C{nameserver} lines of C{/etc/resolv.conf}; if none,
        127.0.0.1:53.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("# comment\nsearch example\nnameserver 192.0.2.1\nnameserver 2001:db8::1\n")
        self.assertEqual(systemServers(path), [("192.0.2.1", 53), ("2001:db8::1", 53)])
        self.assertEqual(systemServers(path + ".missing"), [("127.0.0.1", 53)])


class BeforeResolutionTests(SynchronousTestCase):
    """
    A route whose origins are all SRV records has nothing to send to until
    their first answer.
    """

    def test_503(self) -> None:
        """
        Its requests get 503 naming the route, and the log says why; once
        the records are found, requests reach the members.
        """
        from proxykit.config import Timeouts
        from proxykit.policy.vhosts import ReverseRouter, VhostTable

        from ._harness import Harness

        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        name = "_http._tcp.api.test"
        reverseConfig = ReverseConfig(
            vhosts=(VhostConfig(("app.example.test",), (route(f"srv+http://{name}", prefix="/api"),)),)
        )
        h = Harness(ProxyConfig(reverse=reverseConfig, timeouts=Timeouts(connect=5, response=30)), router=None)
        table = VhostTable.fromConfig(reverseConfig, h.reactor)
        h.factory.router = ReverseRouter(table, reverseConfig)
        resolver = FakeResolver()
        resolver.hanging.add(name)
        discovery = OriginDiscovery(table.routes[0].upstream, reverseConfig.vhosts[0].routes[0].origins, resolver, reactor=h.reactor)  # type: ignore[arg-type]
        discovery.start()
        h.send(b"GET /api/x HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 503 "))
        self.assertEqual(h.reactor.tcpClients, [])
        [event] = [e for e in events if "route {route} is down" in e.get("log_format", "")]
        self.assertEqual(event["reason"], "no origin found in DNS yet")
        discovery.stop()
        resolver.hanging.clear()
        resolver.records[(name, dns.SRV)] = [srv(name, 1, 1, 9001, "a.node", 30)]
        resolver.additional[name] = [a("a.node", "127.0.0.1", 30)]
        discovery.start()
        h.send(b"GET /api/y HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        self.assertEqual([c[:2] for c in h.reactor.tcpClients], [("127.0.0.1", 9001)])
        discovery.stop()


class AdoptTests(SynchronousTestCase):
    """
    A reload's new discovery takes over the old one's answers.
    """

    def test_adopt(self) -> None:
        """
        The members of an origin configured alike carry over, up even when
        the route has health checks; an origin configured otherwise starts
        over.
        """
        config = route(
            "http://app.test",
            "http://other.test",
            healthCheck=HealthCheckConfig(path="/health", interval=30),
        )
        old = Fixture(config, checker=True)
        old.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 30)]
        old.resolver.records[("other.test", dns.A)] = [a("other.test", "10.0.0.2", 30)]
        old.discovery.start()
        old.discovery.stop()
        changed = route(
            "http://app.test",
            OriginConfig("http://other.test", weight=2),
            healthCheck=HealthCheckConfig(path="/health", interval=30),
        )
        new = Fixture(changed, checker=True)
        new.discovery.adopt([object(), old.discovery])
        self.assertEqual(new.members(), ["http://10.0.0.1", "http://other.test"])
        [member, _] = new.group.origins
        self.assertFalse(new.group.isMarkedDown(member))
        assert new.checker is not None
        self.assertTrue(new.checker.isHealthy(member))


class DocumentationTests(SynchronousTestCase):
    """
    The "Origins from DNS" section of docs/scaling.rst.
    """

    def test_exampleChecks(self) -> None:
        """
        Its configuration is accepted as written, as C{proxykit check} reads
        it (names are not resolved), and asks for discovery on both routes.
        """
        from proxykit.cli import main

        [block] = [
            s for s in snippets(DOCS / "scaling.rst") if s.language == "toml" and "Origins from DNS" in s.sections
        ]
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(block.text)
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(main(["check", path]), 0)
        config = ProxyConfig.fromFile(path)
        self.assertEqual(config.reverse.dnsServers, ("127.0.0.1:8600",))
        self.assertEqual((config.reverse.dnsMinTtl, config.reverse.dnsMaxTtl), (1.0, 30.0))
        routes = config.reverse.vhosts[0].routes
        self.assertTrue(all(OriginDiscovery.wanted(r.origins) for r in routes))


class ConfigTests(SynchronousTestCase):
    """
    C{reverse.dns_servers}, C{dns_min_ttl}, C{dns_max_ttl} and C{srv+}
    origin URLs in a file.
    """

    def load(self, text: str) -> ProxyConfig:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return ProxyConfig.fromFile(path)

    def problems(self, text: str) -> list[str]:
        from proxykit.config import ConfigError

        error = self.assertRaises(ConfigError, self.load, text)
        return [line.split(": ", 1)[1] for line in str(error).splitlines()]

    def test_defaults(self) -> None:
        """
        No servers (the system's), TTLs bounded to 1 to 60 seconds.
        """
        reverse = ReverseConfig()
        self.assertEqual((reverse.dnsServers, reverse.dnsMinTtl, reverse.dnsMaxTtl), ((), 1.0, 60.0))

    def test_values(self) -> None:
        """
        The keys are read; C{srv+} URLs are origins, with TLS settings for
        C{srv+https}.
        """
        config = self.load(
            "[reverse]\n"
            'dns_servers = ["127.0.0.1:5353", "[::1]", "192.0.2.1"]\n'
            "dns_min_ttl = 0.5\n"
            "dns_max_ttl = 10\n"
            "[[reverse.vhost]]\n"
            'hosts = ["a.test"]\n'
            "[[reverse.vhost.route]]\n"
            'origins = ["srv+http://_http._tcp.a.test", '
            '{ url = "srv+https://_https._tcp.a.test", server_name = "a.test" }]\n'
        )
        self.assertEqual(config.reverse.dnsServers, ("127.0.0.1:5353", "[::1]", "192.0.2.1"))
        self.assertEqual((config.reverse.dnsMinTtl, config.reverse.dnsMaxTtl), (0.5, 10.0))
        origins = config.reverse.vhosts[0].routes[0].origins
        self.assertEqual(origins[1].serverName, "a.test")

    def test_errors(self) -> None:
        """
        A server that is not an address, a bad TTL, a maximum below the
        minimum and an SRV URL that names no service are reported by key.
        """
        problems = self.problems(
            "[reverse]\n"
            'dns_servers = ["dns.test:53", "127.0.0.1:99999"]\n'
            "dns_min_ttl = 5\n"
            "dns_max_ttl = 2\n"
            "[[reverse.vhost]]\n"
            'hosts = ["a.test"]\n'
            "[[reverse.vhost.route]]\n"
            'origins = ["srv+http://a.test", "srv+http://_http._tcp.a.test:80"]\n'
        )
        self.assertEqual(len(problems), 5, problems)
        joined = "\n".join(problems)
        self.assertIn("expected an IP address with an optional port", joined)
        self.assertIn("must not be less than dns_min_ttl", joined)
        self.assertIn("an SRV record name, no port", joined)


class StoppedTests(SynchronousTestCase):
    """
    A stopped discovery (a reload replaced it) leaves the group and the
    pool alone.
    """

    def test_lateAnswer(self) -> None:
        """
        An answer that arrives after L{OriginDiscovery.stop} changes no
        member and retires no pooled connection.
        """
        f = Fixture(route("http://app.test"))
        pool = ConnectionPool(f.clock)
        f.discovery.usePool(pool)
        f.resolver.records[("app.test", dns.A)] = [a("app.test", "10.0.0.1", 5)]
        f.discovery.start()
        late: Deferred[Any] = Deferred()
        f.resolver.lookupAddress = lambda name, timeout=None: late  # type: ignore[method-assign]
        f.clock.advance(5)
        f.discovery.stop()
        retired = pool.retired
        late.callback(([a("app.test", "10.0.0.9", 5)], [], []))
        self.assertEqual(f.members(), ["http://10.0.0.1"])
        self.assertEqual(pool.retired, retired)
        self.assertNotIn(f.group.origins[0], retired)
        self.assertEqual(f.clock.getDelayedCalls(), [])


class ProxyProtocolTests(SynchronousTestCase):
    """
    Members found through DNS speak the PROXY protocol their route (or
    their origin) asks for, as configured origins do.
    """

    def test_membersTakeTheRouteSetting(self) -> None:
        """
        An address and an SRV source take the route's version unless the
        origin sets its own.
        """
        from proxykit.relay.discovery import Source

        plain = Source.fromConfig(OriginConfig("http://api.test:8080"), "v2")
        self.assertEqual(plain.member("10.0.0.1", 8080, "api.test").proxyProtocol, 2)
        srv = Source.fromConfig(OriginConfig("srv+http://_http._tcp.api.test"), "v1")
        self.assertEqual(srv.member("10.0.0.2", 9000, "a.api.test").proxyProtocol, 1)
        own = Source.fromConfig(OriginConfig("http://api.test:8080", proxyProtocol="v1"), "v2")
        self.assertEqual(own.member("10.0.0.1", 8080, "api.test").proxyProtocol, 1)
        off = Source.fromConfig(OriginConfig("http://api.test:8080"))
        self.assertEqual(off.member("10.0.0.1", 8080, "api.test").proxyProtocol, 0)
