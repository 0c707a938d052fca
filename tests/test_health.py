"""
Tests for L{proxykit.relay.health}: active health checks, with a fake clock and
in-memory connections (and one real socket).
"""

from __future__ import annotations

from twisted.internet import reactor as globalReactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, inlineCallbacks, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocol, IProtocolFactory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

from proxykit.config import ConfigError, HealthCheckConfig
from proxykit.decisions import Origin
from proxykit.policy.balance import OriginGroup
from proxykit.relay.health import HealthChecker

A = Origin("http", "a.test", 8080)
B = Origin("http", "b.test", 80)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"


class FakeConnector:
    """
    Connects checks to L{StringTransport}s, or fails, as the test says.

    @ivar behaviour: Per origin: C{"connect"} (connected at once),
        C{"refuse"}, or C{"hang"} (the connection attempt never ends).
    @ivar connections: Per origin, the (protocol, transport) pairs made.
    @ivar attempts: Per origin, the connection attempts' Deferreds.
    @ivar cancelled: The origins whose connection attempts were cancelled.
    """

    def __init__(self) -> None:
        self.behaviour: dict[Origin, str] = {}
        self.connections: dict[Origin, list[tuple[IProtocol, StringTransport]]] = {}
        self.attempts: dict[Origin, list[Deferred[IProtocol]]] = {}
        self.cancelled: list[Origin] = []

    def __call__(self, origin: Origin, factory: IProtocolFactory) -> Deferred[IProtocol]:
        behaviour = self.behaviour.get(origin, "connect")
        if behaviour == "refuse":
            d: Deferred[IProtocol] = fail(ConnectionRefusedError())
        elif behaviour == "hang":
            d = Deferred(lambda _: self.cancelled.append(origin))
        else:
            protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
            assert protocol is not None
            transport = StringTransport()
            protocol.makeConnection(transport)
            self.connections.setdefault(origin, []).append((protocol, transport))
            d = succeed(protocol)
        self.attempts.setdefault(origin, []).append(d)
        return d

    def last(self, origin: Origin) -> tuple[IProtocol, StringTransport]:
        return self.connections[origin][-1]

    def answer(self, origin: Origin, data: bytes) -> None:
        """
        The origin's latest check connection receives C{data}.
        """
        protocol, transport = self.last(origin)
        protocol.dataReceived(data)


class CheckerTests(SynchronousTestCase):
    """
    L{HealthChecker} marks origins down after C{fall} failed checks and up
    after C{rise} good ones.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.group = OriginGroup([(A, 1), (B, 1)], clock=self.clock)
        self.connector = FakeConnector()
        self.config = HealthCheckConfig(
            path="/healthz", interval=5.0, timeout=2.0, rise=2, fall=3
        )
        self.checker = HealthChecker(
            self.group, self.config, reactor=self.clock, connector=self.connector
        )
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def tick(self, answer: bytes | None = None, origin: Origin = A) -> None:
        """
        Let one interval pass (the first check runs on start), answering the
        check of C{origin} with C{answer}.
        """
        if not self.checker._loop:
            self.checker.start()
        else:
            self.clock.advance(self.config.interval)
        if answer is not None:
            self.connector.answer(origin, answer)

    def messages(self) -> list[str]:
        return [
            e["log_format"].format(**e)
            for e in self.events
            if e.get("log_namespace") == "proxykit.health.HealthChecker"
        ]

    def test_request(self) -> None:
        """
        A check sends C{GET path} with the origin's address as C{Host},
        C{Connection: close} and a C{User-Agent}, and checks every origin
        at once on start.
        """
        self.checker.start()
        self.assertEqual(
            self.connector.last(A)[1].value(),
            b"GET /healthz HTTP/1.1\r\nHost: a.test:8080\r\nConnection: close\r\n"
            b"User-Agent: proxykit-health\r\n\r\n",
        )
        self.assertIn(b"\r\nHost: b.test\r\n", self.connector.last(B)[1].value())

    def test_configuredHost(self) -> None:
        """
        C{config.host} replaces the origin's address in C{Host}.
        """
        config = HealthCheckConfig(path="/", host="app.example.test")
        HealthChecker(self.group, config, self.clock, self.connector).start()
        self.assertIn(b"\r\nHost: app.example.test\r\n", self.connector.last(A)[1].value())

    def test_closedAfterHead(self) -> None:
        """
        The connection is dropped as soon as the response head is in; the
        body is not waited for.
        """
        self.tick(OK + b"he")
        transport = self.connector.last(A)[1]
        self.assertTrue(transport.disconnecting)
        self.assertTrue(self.group.isUp(A))

    def test_downAfterFall(self) -> None:
        """
        C{fall} consecutive failures (here 5xx) take the origin out; fewer
        do not.
        """
        self.tick(UNAVAILABLE)
        self.tick(UNAVAILABLE)
        self.assertTrue(self.group.isUp(A))
        self.tick(UNAVAILABLE)
        self.assertFalse(self.group.isUp(A))
        self.assertTrue(self.group.isUp(B))
        self.assertEqual(
            self.messages(),
            ["origin http://a.test:8080 is down after 3 failed health checks: status 503"],
        )

    def test_results(self) -> None:
        """
        L{HealthChecker.results} counts each origin's passed and failed
        checks in all; L{HealthChecker.isHealthy} says whether the checks
        consider it up.
        """
        self.assertEqual(self.checker.results(A), (0, 0))
        self.tick(OK)
        self.tick(UNAVAILABLE)
        self.tick(UNAVAILABLE)
        self.assertTrue(self.checker.isHealthy(A))
        self.tick(UNAVAILABLE)
        self.assertEqual(self.checker.results(A), (1, 3))
        self.assertFalse(self.checker.isHealthy(A))

    def test_successInterruptsFailures(self) -> None:
        """
        The failures must be consecutive: a success in between starts the
        count again.
        """
        for answer in (UNAVAILABLE, UNAVAILABLE, OK, UNAVAILABLE, UNAVAILABLE):
            self.tick(answer)
        self.assertTrue(self.group.isUp(A))
        self.tick(UNAVAILABLE)
        self.assertFalse(self.group.isUp(A))

    def test_upAfterRise(self) -> None:
        """
        A down origin comes back after C{rise} consecutive successes.
        """
        for _ in range(3):
            self.tick(NOT_FOUND)
        self.assertFalse(self.group.isUp(A))
        self.tick(OK)
        self.assertFalse(self.group.isUp(A))
        self.tick(b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n")
        self.assertTrue(self.group.isUp(A))
        self.assertIn(
            "origin http://a.test:8080 is up after 2 successful health checks",
            self.messages(),
        )

    def test_wholeGroupDownAndBack(self) -> None:
        """
        When the checks take the last origin out, the group is down and a
        warning says so; when one comes back, the group is up again and
        that is logged too.
        """
        self.connector.behaviour[A] = "refuse"
        self.connector.behaviour[B] = "refuse"
        for _ in range(3):
            self.tick()
        self.assertTrue(self.group.isDown())
        self.assertIsNone(self.group.pick())
        self.assertEqual(
            self.messages()[-1],
            "every origin of group http://a.test:8080 http://b.test failed its"
            " health checks: its requests get 503 until one is up",
        )
        self.connector.behaviour[B] = "connect"
        self.tick(OK, origin=B)
        self.tick(OK, origin=B)
        self.assertFalse(self.group.isDown())
        self.assertIs(self.group.pick(), B)
        self.assertEqual(
            self.messages()[-2:],
            [
                "origin http://b.test is up after 2 successful health checks",
                "origin group http://a.test:8080 http://b.test is up again:"
                " traffic resumes",
            ],
        )

    def test_statuses(self) -> None:
        """
        A final status from 200 to 399 is a success, after any informational
        responses; anything else is a failure.
        """
        cases = [
            (b"HTTP/1.1 204 No Content\r\n\r\n", True),
            (b"HTTP/1.1 399 Whatever\r\nContent-Length: 0\r\n\r\n", True),
            (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, True),
            (b"HTTP/1.0 200 OK\r\n\r\n", True),
            (b"HTTP/1.1 199 Odd\r\n\r\n", None),
            (NOT_FOUND, False),
            (UNAVAILABLE, False),
            (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", False),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", False),
            (b"HTTP/1.1 2000 OK\r\n\r\n", False),
            (b"SSH-2.0-OpenSSH_9.6\r\n", False),
        ]
        for response, expected in cases:
            results: list[bool] = []
            self.checker.checkOrigin(A).addCallback(results.append)
            protocol, transport = self.connector.last(A)
            protocol.dataReceived(response)
            if expected is None:
                # Informational only: still waiting for the final response.
                self.assertEqual(results, [], response)
                self.clock.advance(self.config.timeout)
                expected = False
            self.assertEqual(results, [expected], response)
            self.assertTrue(transport.disconnecting, response)

    def test_byteByByte(self) -> None:
        """
        A head split into single bytes is read all the same.
        """
        results: list[bool] = []
        self.checker.checkOrigin(A).addCallback(results.append)
        protocol = self.connector.last(A)[0]
        for i in range(len(OK)):
            protocol.dataReceived(OK[i : i + 1])
        self.assertEqual(results, [True])

    def test_refusedIsFailure(self) -> None:
        """
        A refused connection counts as a failure.
        """
        self.connector.behaviour[A] = "refuse"
        results: list[bool] = []
        for _ in range(3):
            self.checker.checkOrigin(A).addCallback(results.append)
        self.assertEqual(results, [False, False, False])
        self.assertFalse(self.group.isUp(A))
        self.assertIn("Connection was refused", self.messages()[0])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_closedWithoutAnswerIsFailure(self) -> None:
        """
        A connection closed before a complete head counts as a failure.
        """
        results: list[bool] = []
        self.checker.checkOrigin(A).addCallback(results.append)
        protocol = self.connector.last(A)[0]
        protocol.dataReceived(b"HTTP/1.1 200 OK\r\n")
        protocol.connectionLost(Failure(ConnectionRefusedError()))
        self.assertEqual(results, [False])

    def test_silentOriginTimesOut(self) -> None:
        """
        An origin that accepts the connection but never answers fails the
        check after C{timeout} seconds, and the connection is dropped.
        """
        results: list[bool] = []
        self.checker.checkOrigin(A).addCallback(results.append)
        self.clock.advance(1.9)
        self.assertEqual(results, [])
        self.clock.advance(0.1)
        self.assertEqual(results, [False])
        self.assertTrue(self.connector.last(A)[1].disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_connectBoundedByTimeout(self) -> None:
        """
        A connection attempt that never ends fails the check after
        C{timeout} seconds and is cancelled; C{fall} such checks take the
        origin out.
        """
        self.connector.behaviour[A] = "hang"
        for _ in range(3):
            self.tick()
            self.clock.advance(self.config.timeout)
        self.assertEqual(len(self.connector.attempts[A]), 3)
        self.assertEqual(self.connector.cancelled, [A, A, A])
        self.assertFalse(self.group.isUp(A))
        self.assertIn("no response within 2.0s", self.messages()[0])

    def test_oneCheckAtATime(self) -> None:
        """
        With a timeout longer than the interval, an origin whose check is
        still in progress is not checked again.
        """
        config = HealthCheckConfig(interval=1.0, timeout=3.5, fall=1)
        connector = FakeConnector()
        connector.behaviour[A] = "hang"
        HealthChecker(self.group, config, self.clock, connector).start()
        self.clock.advance(1)
        self.clock.advance(1)
        self.clock.advance(1)
        self.assertEqual(len(connector.attempts[A]), 1)
        self.clock.advance(0.5)
        self.assertFalse(self.group.isUp(A))
        self.clock.advance(0.5)
        self.assertEqual(len(connector.attempts[A]), 2)

    def test_stop(self) -> None:
        """
        L{HealthChecker.stop} cancels the schedule and aborts checks in
        progress, which count neither way: no delayed calls are left.
        """
        self.connector.behaviour[B] = "hang"
        results: list[bool] = []
        self.checker.start()
        self.checker.checkOrigin(A).addCallback(results.append)
        transport = self.connector.last(A)[1]
        self.checker.stop()
        self.assertEqual(results, [False])
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.connector.cancelled, [B])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(100)
        self.assertEqual(len(self.connector.attempts[A]), 1)
        self.assertTrue(self.group.isUp(A))
        self.assertEqual(self.messages(), [])

    def test_startTwice(self) -> None:
        """
        Starting a started checker changes nothing.
        """
        self.checker.start()
        self.checker.start()
        self.assertEqual(len(self.connector.attempts[A]), 1)
        self.assertEqual(len(self.clock.getDelayedCalls()), 3)

    def test_lateAnswerIgnored(self) -> None:
        """
        Bytes arriving after a check timed out change nothing.
        """
        results: list[bool] = []
        self.checker.checkOrigin(A).addCallback(results.append)
        self.clock.advance(2)
        self.connector.answer(A, OK)
        self.assertEqual(results, [False])

    def test_connectorRaises(self) -> None:
        """
        A connector that raises fails the check instead of the schedule.
        """

        def broken(origin: Origin, factory: IProtocolFactory) -> Deferred[IProtocol]:
            raise RuntimeError("no route")

        checker = HealthChecker(
            self.group, HealthCheckConfig(fall=1), self.clock, broken
        )
        checker.start()
        self.assertFalse(self.group.isUp(A))
        self.assertFalse(self.group.isUp(B))
        self.assertIn("no route", self.messages()[0])

    def test_invalidConfig(self) -> None:
        """
        A path or host that would break the request line or header is a
        L{ValueError}: refused by L{HealthCheckConfig} itself (a
        L{proxykit.config.ConfigError}), and by L{HealthChecker} if a config
        got past that.
        """
        for kwargs in (
            {"path": "healthz"},
            {"path": "/a b"},
            {"path": "/a\r\nX: y"},
            {"host": "a\r\nb"},
            {"host": ""},
            {"host": "a b"},
        ):
            self.assertRaises(ConfigError, HealthCheckConfig, **kwargs)
            config = HealthCheckConfig()
            for name, value in kwargs.items():
                object.__setattr__(config, name, value)
            self.assertRaises(ValueError, HealthChecker, self.group, config, self.clock)


class HealthServer(Resource):
    """
    A tiny origin: C{/healthz} answers 200, anything else 404.
    """

    def __init__(self) -> None:
        super().__init__()
        self.putChild(b"healthz", Data(b"ok", "text/plain"))


class RealSocketTests(TestCase):
    """
    One check over a real loopback connection, with the default connector.
    """

    @inlineCallbacks
    def test_realOrigin(self):  # type: ignore[no-untyped-def]
        """
        A C{twisted.web} origin answering 200 at C{/healthz} passes; a path
        it answers 404 fails.
        """
        port = globalReactor.listenTCP(0, Site(HealthServer()), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        origin = Origin("http", "127.0.0.1", port.getHost().port)
        group = OriginGroup([(origin, 1)])
        good = HealthChecker(group, HealthCheckConfig(path="/healthz", timeout=5))
        ok = yield good.checkOrigin(origin)
        self.assertTrue(ok)
        bad = HealthChecker(group, HealthCheckConfig(path="/missing", timeout=5, fall=1))
        ok = yield bad.checkOrigin(origin)
        self.assertFalse(ok)
        self.assertFalse(group.isUp(origin))


class ProxyProtocolCheckTests(SynchronousTestCase):
    """
    A check of an origin spoken to with the PROXY protocol starts with a
    header that names no client: the check is the proxy's own connection.
    """

    def test_localHeader(self) -> None:
        """
        Version 1 checks start with C{PROXY UNKNOWN}, version 2 checks with
        a LOCAL header, then the check's request.
        """
        from twisted.internet.testing import MemoryReactorClock

        from proxykit.relay.proxyheader import LOCAL_V1, LOCAL_V2

        for version, header in ((1, LOCAL_V1), (2, LOCAL_V2)):
            reactor = MemoryReactorClock()
            origin = Origin("http", "127.0.0.1", 9001, proxyProtocol=version)
            group = OriginGroup([(origin, 1)])
            checker = HealthChecker(group, HealthCheckConfig(path="/readyz"), reactor)
            checker.start()
            [(host, port, factory, timeout, bind)] = reactor.tcpClients
            transport = StringTransport()
            factory.buildProtocol(IPv4Address("TCP", host, port)).makeConnection(transport)
            self.assertTrue(transport.value().startswith(header + b"GET /readyz HTTP/1.1\r\n"), transport.value())
            checker.stop()
