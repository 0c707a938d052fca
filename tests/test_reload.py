"""
Tests for reloading the whole configuration: L{proxykit.ops.reload} (what
changes) and L{proxykit.service.ProxyService.reloadConfig} (all or nothing,
on Twisted's fakes).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Protocol
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from proxykit.build import reverseRouter
from proxykit.config import ProxyConfig
from proxykit.decisions import Origin
from proxykit.ops.reload import (
    PLAIN,
    REDIRECT,
    SECURE,
    ListenerSpec,
    ReloadRefused,
    describe,
    diffListeners,
    listenersOf,
    originsOf,
    routesOf,
)
from proxykit.ops.version import ReloadOutcome
from proxykit.relay.client import ProxyProtocol
from proxykit.relay.pool import ConnectionPool
from proxykit.service import ProxyService, reverseService
from proxykit.tap import Options, configLoader

from ._harness import Transport, lose, originSaw
from .test_service import BusyReactor, loopback

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def reverseFile(
    path: str, routes: dict[str, list[int]], listen: tuple[int, ...] = (1,), extra: str = ""
) -> str:
    """
    Write a reverse-mode config to C{path}: one vhost per host in
    C{routes}, its one route to origins on 127.0.0.1 at the given ports.

    @return: C{path}.
    """
    lines = [f"listen = [{', '.join(repr(loopback(p)) for p in listen)}]", extra]
    for host, ports in routes.items():
        origins = ", ".join(f'"http://127.0.0.1:{port}"' for port in ports)
        lines += [
            "[[reverse.vhost]]",
            f'hosts = ["{host}"]',
            "[[reverse.vhost.route]]",
            f"origins = [{origins}]",
        ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def request(host: str, path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("ascii")


class DiffTests(SynchronousTestCase):
    """
    Listeners are compared by endpoint string; origins and routes by value.
    """

    def test_keptAddedRemoved(self) -> None:
        """
        A listener whose endpoint string is in both configurations is kept;
        the others are added or removed.
        """
        old = [ListenerSpec("tcp:1", PLAIN), ListenerSpec("tcp:2", PLAIN)]
        new = [ListenerSpec("tcp:2", PLAIN), ListenerSpec("tcp:3", PLAIN)]
        diff = diffListeners(old, new)
        self.assertEqual(diff.kept, (ListenerSpec("tcp:2", PLAIN),))
        self.assertEqual(diff.added, (ListenerSpec("tcp:3", PLAIN),))
        self.assertEqual(diff.removed, (ListenerSpec("tcp:1", PLAIN),))

    def test_kindChangeRefused(self) -> None:
        """
        An endpoint that turns from plain to TLS cannot change live.
        """
        error = self.assertRaises(
            ReloadRefused,
            diffListeners,
            [ListenerSpec("tcp:1", PLAIN)],
            [ListenerSpec("tcp:1", SECURE)],
        )
        self.assertEqual(
            str(error), "listener tcp:1 changes from http to https: that needs a restart"
        )

    def test_listenersOf(self) -> None:
        """
        A config's listeners: plain ones (C{listen}), then TLS and
        redirecting ones (C{[tls]}).
        """
        config = ProxyConfig(listen=("tcp:1", "tcp:2"))
        self.assertEqual(
            listenersOf(config), (ListenerSpec("tcp:1", PLAIN), ListenerSpec("tcp:2", PLAIN))
        )
        self.assertEqual(REDIRECT, "redirect")

    def test_sameEndpointTwice(self) -> None:
        """
        The same endpoint string twice (C{tcp:0}: two ephemeral ports) is
        two listeners, told apart by their order; a reload that keeps one
        keeps the first.
        """
        two = listenersOf(ProxyConfig(listen=("tcp:0", "tcp:0")))
        self.assertEqual(two, (ListenerSpec("tcp:0", PLAIN, 0), ListenerSpec("tcp:0", PLAIN, 1)))
        diff = diffListeners(two, listenersOf(ProxyConfig(listen=("tcp:0",))))
        self.assertEqual(diff.kept, (ListenerSpec("tcp:0", PLAIN, 0),))
        self.assertEqual(diff.removed, (ListenerSpec("tcp:0", PLAIN, 1),))

    def test_describe(self) -> None:
        """
        The log's summary names what was added and removed.
        """
        reactor = BusyReactor()
        old = ProxyConfig.fromFile(reverseFile(self.mktemp(), {"a.test": [9001]}))
        new = ProxyConfig.fromFile(
            reverseFile(self.mktemp(), {"b.test": [9002]}, listen=(1, 2))
        )
        oldRouter, _ = reverseRouter(old, reactor)
        newRouter, _ = reverseRouter(new, reactor)
        self.assertEqual(routesOf(oldRouter), frozenset({"a.test /"}))
        self.assertEqual(
            originsOf(newRouter, new), frozenset({Origin("http", "127.0.0.1", 9002)})
        )
        text = describe(
            diffListeners(listenersOf(old), listenersOf(new)),
            routesOf(oldRouter),
            routesOf(newRouter),
            originsOf(oldRouter, old),
            originsOf(newRouter, new),
        )
        self.assertEqual(
            text,
            f"listeners +{loopback(2)}; routes +b.test /, -a.test /;"
            " origins +http://127.0.0.1:9002, -http://127.0.0.1:9001",
        )
        self.assertEqual(
            describe(diffListeners([], []), frozenset(), frozenset(), frozenset(), frozenset()),
            "no listener, route or origin changed",
        )


class ReloadTests(SynchronousTestCase):
    """
    L{ProxyService.reloadConfig} and L{ProxyService.reload}: a valid config
    is served at once, by the same factory; an invalid one changes nothing.
    """

    def setUp(self) -> None:
        self.reactor = BusyReactor()
        self.path = reverseFile(self.mktemp(), {"a.test": [9001]})
        self.service = reverseService(ProxyConfig.fromFile(self.path), self.reactor)
        self.service.configVersion = self.service.configVersion.__class__(
            self.service.configVersion.digest, 0.0, self.path
        )
        self.outcomes: list[ReloadOutcome] = []
        self.service.reloadObservers.append(self.outcomes.append)
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.origins = 0

    def connect(self) -> tuple[ProxyProtocol, Transport]:
        """
        A client connection to the proxy's factory.
        """
        proto = self.service.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = Transport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 1),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
        )
        proto.makeConnection(transport)
        return proto, transport

    def acceptOrigin(self) -> tuple[int, Protocol, Transport]:
        """
        Complete the next origin connection attempt.

        @return: Its port, protocol and transport.
        """
        host, port, factory, _, _ = self.reactor.tcpClients[self.origins]
        self.origins += 1
        wrapper = factory.buildProtocol(IPv4Address("TCP", host, port))
        transport = Transport(peerAddress=IPv4Address("TCP", host, port))
        wrapper.makeConnection(transport)
        return port, wrapper._wrappedProtocol, transport

    def reloadFile(self, routes: dict[str, list[int]], **kwargs: Any) -> ReloadOutcome:
        reverseFile(self.path, routes, **kwargs)
        return self.service.reloadConfig(ProxyConfig.fromFile(self.path), self.path)

    def messages(self) -> list[str]:
        return [formatEvent(e) for e in self.events]

    def test_newRequestsUseNewRoutes(self) -> None:
        """
        After a reload, the next request on a kept-alive connection is
        routed by the new configuration: a host that was added is served,
        one that was removed gets 421.  The factory stays the same object;
        the version and the observers say the reload succeeded.
        """
        factory = self.service.factory
        before = self.service.configVersion
        client, transport = self.connect()
        outcome = self.reloadFile({"b.test": [9002]})
        self.assertTrue(outcome.succeeded)
        self.assertIs(self.service.factory, factory)
        self.assertNotEqual(self.service.configVersion.digest, before.digest)
        self.assertEqual(self.service.configVersion.source, self.path)
        self.assertEqual(self.outcomes, [ReloadOutcome(True, self.service.configVersion)])
        client.dataReceived(request("b.test"))
        port, origin, originTransport = self.acceptOrigin()
        self.assertEqual(port, 9002)
        self.assertIn(b"GET / HTTP/1.1", originSaw(originTransport))
        origin.dataReceived(OK)
        self.assertIn(b"200 OK", transport.value())
        transport.clear()
        client.dataReceived(request("a.test"))
        self.assertIn(b"421", transport.value())
        [line] = [m for m in self.messages() if m.startswith("reloaded")]
        self.assertEqual(
            line,
            f"reloaded the configuration from {self.path}: routes +b.test /, -a.test /;"
            " origins +http://127.0.0.1:9002, -http://127.0.0.1:9001"
            f" (version {self.service.configVersion.digest})",
        )

    def test_inFlightFinishesOnOldOrigin(self) -> None:
        """
        A request decided before the reload goes to the origin it was
        routed to and gets its response; that origin is no longer
        configured, so its connection is closed when released rather than
        kept idle.
        """
        client, transport = self.connect()
        client.dataReceived(request("a.test"))
        self.reloadFile({"a.test": [9002]})
        port, origin, originTransport = self.acceptOrigin()
        self.assertEqual(port, 9001)
        origin.dataReceived(OK)
        self.assertIn(b"200 OK", transport.value())
        self.assertTrue(originTransport.disconnecting)
        pool = self.service.factory.pool
        self.assertEqual(pool.idleCount(Origin("http", "127.0.0.1", 9001)), 0)
        transport.clear()
        client.dataReceived(request("a.test"))
        port, origin, _ = self.acceptOrigin()
        self.assertEqual(port, 9002)

    def test_upgradeInFlightKept(self) -> None:
        """
        A protocol switch (C{101}, e.g. WebSocket) open before a reload that
        removes its virtual host and origin goes on carrying bytes both
        ways on its old origin connection; a new request for that host is
        decided by the new configuration (C{421}).
        """
        client, transport = self.connect()
        client.dataReceived(
            b"GET /ws HTTP/1.1\r\nHost: a.test\r\n"
            b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        port, origin, originTransport = self.acceptOrigin()
        self.assertEqual(port, 9001)
        originSaw(originTransport)
        origin.dataReceived(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
            b"Upgrade: websocket\r\n\r\n"
        )
        self.assertIn(b"101 Switching Protocols", transport.value())
        transport.clear()
        self.assertTrue(self.reloadFile({"b.test": [9002]}).succeeded)
        client.dataReceived(b"ping")
        self.assertEqual(originSaw(originTransport), b"ping")
        origin.dataReceived(b"pong")
        self.assertEqual(transport.value(), b"pong")
        self.assertFalse(originTransport.disconnecting)
        self.assertFalse(transport.disconnecting)
        other, otherTransport = self.connect()
        other.dataReceived(request("a.test"))
        self.assertIn(b"421 ", otherTransport.value())

    def test_poolsKeptAndRetired(self) -> None:
        """
        Idle connections to origins still configured are kept; those to
        removed origins are closed by the reload.
        """
        self.reloadFile({"a.test": [9001], "b.test": [9002]})
        client, transport = self.connect()
        idle = []
        for host in ("a.test", "b.test"):
            client.dataReceived(request(host))
            _, origin, originTransport = self.acceptOrigin()
            origin.dataReceived(OK)
            idle.append(originTransport)
        pool = self.service.factory.pool
        kept, retired = Origin("http", "127.0.0.1", 9001), Origin("http", "127.0.0.1", 9002)
        self.assertEqual((pool.idleCount(kept), pool.idleCount(retired)), (1, 1))
        self.reloadFile({"a.test": [9001]})
        self.assertEqual((pool.idleCount(kept), pool.idleCount(retired)), (1, 0))
        self.assertFalse(idle[0].disconnecting)
        self.assertTrue(idle[1].disconnecting)
        self.assertEqual(pool.retired, frozenset({retired}))
        # Configured again, its connections are kept again.
        self.reloadFile({"a.test": [9001], "b.test": [9002]})
        self.assertEqual(pool.retired, frozenset())

    def test_listeners(self) -> None:
        """
        A listener added to the file is bound; one removed stops listening
        and its connections drain; an unchanged one keeps its socket and
        its gate.  C{gates} and C{endpoints} follow.
        """
        self.assertEqual(self.reactor.listening, [1])
        gate = self.service.gates[0]
        self.reloadFile({"a.test": [9001]}, listen=(1, 2))
        self.assertEqual(self.reactor.listening, [1, 2])
        self.assertEqual(self.service.endpoints, (loopback(1), loopback(2)))
        self.assertIs(self.service.gates[0], gate)
        self.assertEqual(len(self.service.gates), 2)
        self.assertTrue(self.service.ready)
        self.reloadFile({"a.test": [9001]}, listen=(2,))
        self.assertEqual(self.reactor.listening, [2])
        self.assertEqual(self.service.endpoints, (loopback(2),))
        self.assertEqual(len(self.service.gates), 1)
        self.assertIsNot(self.service.gates[0], gate)
        self.assertIn(
            f"reloaded the configuration from {self.path}: listeners -{loopback(1)}"
            f" (version {self.service.configVersion.digest})",
            self.messages(),
        )

    def test_removedListenerDrains(self) -> None:
        """
        The connections of a removed listener finish what they are doing:
        an idle one is closed at once, a busy one after its response.
        """
        gate = self.service.gates[0]
        idle = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50001))
        idleTransport = Transport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50001))
        idle.makeConnection(idleTransport)
        busy = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50002))
        busyTransport = Transport(peerAddress=IPv4Address("TCP", "127.0.0.1", 50002))
        busy.makeConnection(busyTransport)
        busy.dataReceived(request("a.test"))
        self.reloadFile({"a.test": [9001]}, listen=(2,))
        self.assertTrue(idleTransport.disconnecting)
        self.assertFalse(busyTransport.disconnecting)
        _, origin, _ = self.acceptOrigin()
        origin.dataReceived(OK)
        self.assertIn(b"200 OK", busyTransport.value())
        self.assertIn(b"Connection: close", busyTransport.value())
        self.assertTrue(busyTransport.disconnecting)
        lose(busy)
        lose(idle)
        self.assertEqual(gate.remaining, 0)

    def test_busyNewListenerRefused(self) -> None:
        """
        If a new listener cannot listen, the reload is refused: the
        listeners bound for it are closed again and nothing changes.
        """
        self.reactor.busy = (3,)
        router = self.service.factory.router
        version = self.service.configVersion
        outcome = self.reloadFile({"b.test": [9002]}, listen=(1, 2, 3))
        self.assertFalse(outcome.succeeded)
        self.assertEqual(outcome.problem, f"cannot listen on {loopback(3)}: address already in use")
        self.assertEqual(self.reactor.listening, [1])
        self.assertIs(self.service.factory.router, router)
        self.assertEqual(self.service.configVersion, version)
        self.assertEqual(self.service.endpoints, (loopback(1),))
        self.assertEqual(self.outcomes, [ReloadOutcome(False, version, outcome.problem)])
        self.assertIn(
            "reload refused, still serving the old configuration:"
            f" cannot listen on {loopback(3)}: address already in use",
            self.messages(),
        )

    def test_invalidFileRefused(self) -> None:
        """
        Under C{twistd} (a loader from the command line), SIGHUP's reload
        reads the file again; an invalid file is refused with the error it
        would get at start (file, line, key), logged once, and the old
        configuration keeps serving.
        """
        options = Options()
        options.parseOptions(["reverse", "-c", self.path])
        self.service.loadConfig = configLoader(options.subOptions)
        router = self.service.factory.router
        version = self.service.configVersion
        with open(self.path, "a") as f:
            f.write("connect_timeout = 3\n[timeouts]\nconnect = -1\n")
        self.service.reload()
        [outcome] = self.outcomes
        self.assertFalse(outcome.succeeded)
        self.assertEqual(outcome.version, version)
        assert outcome.problem is not None
        self.assertIn(self.path, outcome.problem)
        self.assertIn("timeouts.connect", outcome.problem)
        self.assertRegex(outcome.problem, r":\d+:")
        errors = [m for m in self.messages() if m.startswith("reload refused")]
        self.assertEqual(
            errors, [f"reload refused, still serving the old configuration: {outcome.problem}"]
        )
        self.assertIs(self.service.factory.router, router)
        self.assertEqual(self.service.configVersion, version)
        # The file fixed, the next SIGHUP serves it.
        reverseFile(self.path, {"b.test": [9002]})
        self.service.reload()
        self.assertTrue(self.outcomes[-1].succeeded)
        self.assertEqual(routesOf(self.service.factory.router), frozenset({"b.test /"}))

    def test_refusedWhileDraining(self) -> None:
        """
        A proxy that is stopping refuses a reload: its listeners are
        closing, and nothing new may be bound.
        """
        self.service.draining = True
        gates = self.service.gates
        outcome = self.reloadFile({"b.test": [9002]}, listen=(1, 2))
        self.assertEqual(
            outcome, ReloadOutcome(False, self.service.configVersion, "the proxy is stopping")
        )
        self.assertEqual(self.reactor.listening, [1])
        self.assertIs(self.service.gates, gates)

    def test_logNeedsRestart(self) -> None:
        """
        The C{[log]} table is read only at start: a reload that changes it
        says so, keeps the old one and applies the rest.
        """
        outcome = self.reloadFile(
            {"b.test": [9002]}, extra='[log]\naccess = "off"\nformat = "json"'
        )
        self.assertTrue(outcome.succeeded)
        self.assertEqual(self.service.factory.config.log, ProxyConfig().log)
        self.assertIn(
            "reload: the [log] table changed; it is read only at start: restart to apply it",
            self.messages(),
        )
        self.assertEqual(routesOf(self.service.factory.router), frozenset({"b.test /"}))

    def test_healthCheckersSwapped(self) -> None:
        """
        While the factory listens, the old routes' health checks stop and
        the new ones start.
        """
        factory = self.service.factory
        # The fake reactor's ports do not start their factory.
        factory.doStart()
        self.addCleanup(factory.doStop)
        self.assertEqual(factory.healthCheckers, ())
        reverseFile(self.path, {"a.test": [9001]})
        with open(self.path, "a") as f:
            f.write("[reverse.vhost.route.health_check]\ninterval = 1\n")
        self.service.reloadConfig(ProxyConfig.fromFile(self.path))
        [checker] = factory.healthCheckers
        self.assertTrue(checker._loop is not None and checker._loop.running)
        self.reloadFile({"a.test": [9001]})
        self.assertEqual(factory.healthCheckers, ())
        self.assertIsNone(checker._loop)


class TLSReloadTests(SynchronousTestCase):
    """
    A reload reads the C{[tls]} table's files again: kept TLS listeners
    serve the new certificates; a broken file refuses the whole reload.
    """

    def test_certificatesAndBrokenKey(self) -> None:
        import attrs

        from proxykit.config import TLSConfig

        from .test_tls import Files, handshake

        files = Files(self)
        reactor = BusyReactor()
        tlsConfig = TLSConfig(
            listen=(loopback(443),),
            defaultCertificate=files.certificate("default", "default.test"),
        )
        base = ProxyConfig.fromFile(reverseFile(self.mktemp(), {"a.test": [9001]}))
        service = reverseService(attrs.evolve(base, tls=tlsConfig), reactor)
        service.startService()
        self.addCleanup(service.stopService)
        tls = service.tls
        assert tls is not None
        before = handshake(tls, None).get_peer_certificate()
        files.certificate("default", "default.test")
        outcome = service.reloadConfig(
            attrs.evolve(base, tls=tlsConfig, listen=(loopback(1), loopback(2)))
        )
        self.assertTrue(outcome.succeeded)
        self.assertIs(service.tls, tls)
        self.assertEqual(reactor.listening, [1, 443, 2])
        after = handshake(tls, None).get_peer_certificate()
        assert before is not None and after is not None
        self.assertNotEqual(before.get_serial_number(), after.get_serial_number())
        with open(tlsConfig.defaultCertificate.key, "w") as f:
            f.write("not a key\n")
        outcome = service.reloadConfig(attrs.evolve(base, tls=tlsConfig))
        self.assertFalse(outcome.succeeded)
        assert outcome.problem is not None
        self.assertIn("key", outcome.problem)
        self.assertEqual(reactor.listening, [1, 443, 2])
        again = handshake(tls, None).get_peer_certificate()
        assert again is not None
        self.assertEqual(again.get_serial_number(), after.get_serial_number())


class ForwardReloadTests(SynchronousTestCase):
    """
    A forward proxy reloads its C{[forward]} table too: the next request
    is forwarded by the new rules.
    """

    def test_via(self) -> None:
        import attrs

        from proxykit.config import ForwardConfig
        from proxykit.service import forwardService

        reactor = BusyReactor()
        config = ProxyConfig(listen=(loopback(1),))
        service = forwardService(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        client = service.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = Transport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 1),
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
        )
        client.makeConnection(transport)
        get = b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n"
        seen = []
        for index, via in enumerate(("proxykit", "edge")):
            if index:
                outcome = service.reloadConfig(
                    attrs.evolve(config, forward=ForwardConfig(via=via))
                )
                self.assertTrue(outcome.succeeded)
            client.dataReceived(get)
            host, port, factory, _, _ = reactor.tcpClients[-1]
            wrapper = factory.buildProtocol(IPv4Address("TCP", host, port))
            originTransport = Transport(peerAddress=IPv4Address("TCP", host, port))
            wrapper.makeConnection(originTransport)
            seen.append(originSaw(originTransport))
            wrapper._wrappedProtocol.dataReceived(OK)
            # Not reused: the next request opens its own connection.
            originTransport.loseConnection()
            lose(wrapper._wrappedProtocol)
        self.assertIn(b"Via: 1.1 proxykit\r\n", seen[0])
        self.assertIn(b"Via: 1.1 edge\r\n", seen[1])


class LibraryReloadTests(SynchronousTestCase):
    """
    A service an application built without a loader: C{SIGHUP} does what
    it did (certificates, log files); the application reloads by calling
    L{ProxyService.reloadConfig}.
    """

    def test_reloadConfigWithoutLoader(self) -> None:
        reactor = BusyReactor()
        path = reverseFile(self.mktemp(), {"a.test": [9001]})
        service = reverseService(ProxyConfig.fromFile(path), reactor)
        self.assertIsNone(service.loadConfig)
        service.reload()
        self.assertEqual(routesOf(service.factory.router), frozenset({"a.test /"}))
        reverseFile(path, {"b.test": [9002]})
        outcome = service.reloadConfig(ProxyConfig.fromFile(path))
        self.assertTrue(outcome.succeeded)
        self.assertIsNone(outcome.version.source)
        self.assertEqual(routesOf(service.factory.router), frozenset({"b.test /"}))
        self.assertIsInstance(service, ProxyService)


class PoolRetireTests(SynchronousTestCase):
    """
    L{ConnectionPool.retire}: retired keys' idle connections close at
    once, busy ones when released; L{ConnectionPool.reinstate} undoes it.
    """

    def test_retire(self) -> None:
        class Conn:
            poolKey = "a"
            closed = False

            def idle(self, expiry: float) -> None:
                pass

            def close(self) -> None:
                self.closed = True

        pool = ConnectionPool(BusyReactor())
        idle, busy = Conn(), Conn()
        pool.release(idle)  # type: ignore[arg-type]
        self.assertEqual(pool.retire(["a"]), 1)
        self.assertTrue(idle.closed)
        pool.release(busy)  # type: ignore[arg-type]
        self.assertTrue(busy.closed)
        pool.reinstate(["a"])
        again = Conn()
        pool.release(again)  # type: ignore[arg-type]
        self.assertFalse(again.closed)
        self.assertEqual(pool.idleCount("a"), 1)
