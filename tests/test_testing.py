"""
Tests for L{proxykit.testing}: the in-memory harness users test their
proxies with.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.test.iosim import FakeTransport, IOPump
from twisted.trial.unittest import SkipTest, SynchronousTestCase
from zope.interface import implementer

from proxykit import (
    ForwardConfig,
    Hooks,
    LimitsConfig,
    ProxyConfig,
    Refuse,
    RequestEvent,
    Timeouts,
)
from proxykit.policy.routing import ForwardRouter
from proxykit.testing import (
    FIRST_REQUEST_ID,
    OriginRequest,
    Pipe,
    ProxyHarness,
    RecordingTransport,
    Reply,
    Reset,
)

from ._snippets import snippets

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


class ForwardTests(SynchronousTestCase):
    """
    A forward proxy in the harness reaches fake origins by name and by
    address, without sockets.
    """

    def test_canned(self) -> None:
        """
        A canned reply reaches the client; the origin saw the request in
        origin-form with the proxy's fields.
        """
        h = ProxyHarness()
        origin = h.fakeOrigin("example.test:80").reply(200, b"hello", [("X-From", "origin")])
        response = h.fakeClient().get("http://example.test/a?b", [("Accept", "*/*")])
        self.assertEqual((response.status, response.body, response.complete), (200, b"hello", True))
        self.assertEqual(response.header("x-from"), b"origin")
        self.assertEqual(response.header("Via"), b"1.1 proxykit")
        seen = origin.lastRequest
        self.assertEqual((seen.method, seen.target, seen.body), (b"GET", b"/a?b", b""))
        self.assertEqual(seen.header("Host"), b"example.test")
        self.assertEqual(seen.header("X-Request-Id"), FIRST_REQUEST_ID)
        self.assertEqual(seen.headerValues("accept"), [b"*/*"])

    def test_literal(self) -> None:
        """
        An origin attached at an IP literal is reached at that address.
        """
        h = ProxyHarness()
        origin = h.fakeOrigin("127.0.0.1:9000")
        self.assertEqual(h.fakeClient().get("http://127.0.0.1:9000/").status, 200)
        self.assertEqual(len(origin.requests), 1)

    def test_body(self) -> None:
        """
        A request body reaches the origin; a handler answers from the
        request.
        """
        h = ProxyHarness()

        def echo(request: OriginRequest) -> Reply:
            return Reply(201, body=request.body.upper())

        h.fakeOrigin("example.test:80").handle(echo)
        response = h.fakeClient().request("POST", "http://example.test/", body=b"abc")
        self.assertEqual((response.status, response.body), (201, b"ABC"))

    def test_keepAlive(self) -> None:
        """
        Two requests of one client reuse one origin connection.
        """
        h = ProxyHarness()
        origin = h.fakeOrigin("example.test:80")
        client = h.fakeClient()
        client.get("http://example.test/1")
        client.get("http://example.test/2")
        self.assertEqual([r.target for r in origin.requests], [b"/1", b"/2"])
        self.assertEqual(origin.connections, 1)

    def test_stall(self) -> None:
        """
        An origin that never answers: 504 once the response timeout has
        passed, not before.
        """
        h = ProxyHarness(ProxyConfig(timeouts=Timeouts(response=5)))
        h.fakeOrigin("example.test:80").stall()
        response = h.fakeClient().get("http://example.test/")
        h.advance(4.9)
        self.assertFalse(response.received)
        h.advance(0.2)
        self.assertEqual(response.status, 504)

    def test_delay(self) -> None:
        """
        A delayed reply arrives after its delay.
        """
        h = ProxyHarness()
        h.fakeOrigin("example.test:80").reply(200, b"late", delay=3.0)
        response = h.fakeClient().get("http://example.test/")
        h.advance(2.9)
        self.assertFalse(response.received)
        h.advance(0.1)
        self.assertEqual(response.body, b"late")

    def test_reset(self) -> None:
        """
        An origin that resets the connection: 502.
        """
        h = ProxyHarness()
        h.fakeOrigin("example.test:80").handle(lambda request: Reset())
        self.assertEqual(h.fakeClient().get("http://example.test/").status, 502)

    def test_refused(self) -> None:
        """
        An origin that refuses connections: 502, once the name's other
        addresses have had their chance.
        """
        h = ProxyHarness()
        h.fakeOrigin("example.test:80").refuse()
        response = h.fakeClient().get("http://example.test/")
        h.advance(1)
        self.assertEqual(response.status, 502)

    def test_slowBody(self) -> None:
        """
        A slow body arrives piece by piece as time passes.
        """
        h = ProxyHarness()
        h.fakeOrigin("example.test:80").reply(200, chunks=(b"a", b"b"), interval=1.0)
        response = h.fakeClient().get("http://example.test/")
        self.assertEqual((response.status, response.body), (200, b""))
        h.advance(1)
        self.assertEqual((response.body, response.complete), (b"a", False))
        h.advance(1)
        self.assertEqual((response.body, response.complete), (b"ab", True))

    def test_resetMidBody(self) -> None:
        """
        An origin that resets after part of the body: the client's
        connection is aborted, the response never complete.
        """
        h = ProxyHarness()
        h.fakeOrigin("example.test:80").reply(200, chunks=(b"a",), reset=True)
        client = h.fakeClient()
        response = client.get("http://example.test/")
        h.advance(1)
        self.assertEqual((response.body, response.complete, client.closed), (b"a", False, True))

    def test_tunnel(self) -> None:
        """
        A CONNECT tunnel carries bytes both ways to a raw origin.
        """
        h = ProxyHarness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({443}))))
        server = h.rawOrigin("secure.test:443")
        client = h.fakeClient()
        self.assertEqual(client.connect("secure.test:443").status, 200)
        client.write(b"ping")
        self.assertEqual(server.received, b"ping")
        server.send(b"pong")
        h.flush()
        self.assertEqual(client.tunnelled, b"pong")
        client.close()
        self.assertEqual(server.connections, 1)

    def test_tunnelRefusedPort(self) -> None:
        """
        The proxy's policy applies: CONNECT to a port not allowed is 403.
        """
        h = ProxyHarness()
        server = h.rawOrigin("smtp.test:25")
        self.assertEqual(h.fakeClient().connect("smtp.test:25").status, 403)
        self.assertEqual(server.connections, 0)

    def test_upgrade(self) -> None:
        """
        A request with C{Upgrade} answered C{101} switches the client to
        raw bytes, as after a CONNECT.
        """
        h = ProxyHarness()
        client = h.fakeClient()
        response = client.get(
            "http://127.0.0.1:9000/chat", [("Connection", "upgrade"), ("Upgrade", "websocket")]
        )
        proto, transport = h.acceptOrigin()
        self.assertIn(b"Upgrade: websocket\r\n", transport.value())
        transport.clear()
        proto.dataReceived(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
            b"Upgrade: websocket\r\n\r\nhello"
        )
        h.flush()
        self.assertEqual((response.status, response.complete), (101, True))
        self.assertEqual(client.tunnelled, b"hello")
        client.write(b"frame")
        self.assertEqual(transport.value(), b"frame")

    def test_unattached(self) -> None:
        """
        A connection to an address no fake origin serves waits for the
        test to complete it by hand.
        """
        h = ProxyHarness()
        response = h.fakeClient().get("http://127.0.0.1:9000/")
        proto, transport = h.acceptOrigin()
        self.assertTrue(transport.value().startswith(b"GET / HTTP/1.1\r\n"))
        proto.dataReceived(b"HTTP/1.1 204 No Content\r\n\r\n")
        h.flush()
        self.assertEqual(response.status, 204)


class _Recorder(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.lost: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = reason


@implementer(IHalfCloseableProtocol)
class _HalfCloseable(_Recorder):
    readLost = False

    def readConnectionLost(self) -> None:
        self.readLost = True

    def writeConnectionLost(self) -> None:
        pass


class PipeTests(SynchronousTestCase):
    """
    L{Pipe} joins two protocols in memory.
    """

    def pipe(self) -> tuple[Pipe, _Recorder, _Recorder]:
        left, right = _Recorder(), _Recorder()
        address = IPv4Address("TCP", "127.0.0.1", 1)
        return Pipe(left, right, address, address), left, right

    def test_bytesThenClose(self) -> None:
        """
        Bytes written before a close arrive before it.
        """
        pipe, left, right = self.pipe()
        pipe.left.write(b"abc")
        pipe.left.loseConnection()
        while pipe.pump():
            pass
        self.assertEqual(right.data, b"abc")
        assert right.lost is not None and left.lost is not None
        self.assertTrue(right.lost.check(ConnectionDone))
        self.assertTrue(pipe.closed)

    def test_abort(self) -> None:
        """
        An abort reaches both sides as a lost connection, after what was
        written before it.
        """
        pipe, left, right = self.pipe()
        pipe.right.write(b"x")
        pipe.right.abortConnection()
        while pipe.pump():
            pass
        self.assertEqual(left.data, b"x")
        assert left.lost is not None
        self.assertTrue(left.lost.check(ConnectionLost))
        self.assertTrue(pipe.right.aborted)

    def test_halfClose(self) -> None:
        """
        A half-close reaches a protocol that accepts one after the bytes
        written before it, and the other direction stays open.
        """
        left, right = _Recorder(), _HalfCloseable()
        address = IPv4Address("TCP", "127.0.0.1", 1)
        pipe = Pipe(left, right, address, address)
        pipe.left.write(b"last")
        pipe.left.loseWriteConnection()
        while pipe.pump():
            pass
        self.assertEqual((right.data, right.readLost, right.lost), (b"last", True, None))
        pipe.right.write(b"answer")
        while pipe.pump():
            pass
        self.assertEqual((left.data, left.lost, pipe.closed), (b"answer", None, False))

    def test_halfCloseNotSupported(self) -> None:
        """
        A half-close reaching a protocol that cannot half-close closes the
        connection.
        """
        pipe, left, right = self.pipe()
        pipe.left.loseWriteConnection()
        self.assertTrue(pipe.pump())
        self.assertIsNotNone(right.lost)
        self.assertFalse(pipe.pump())


    def test_iosim(self) -> None:
        """
        A pipe is an iosim C{IOPump} between two iosim C{FakeTransport}s,
        the connecting side's the client's, each naming its own address as
        the host and the other's as the peer.
        """
        left, right = _Recorder(), _Recorder()
        leftAddress = IPv4Address("TCP", "127.0.0.1", 1)
        rightAddress = IPv4Address("TCP", "127.0.0.1", 2)
        pipe = Pipe(left, right, leftAddress, rightAddress)
        self.assertIsInstance(pipe, IOPump)
        self.assertIsInstance(pipe.left, FakeTransport)
        self.assertIsInstance(pipe.right, FakeTransport)
        self.assertEqual((pipe.clientIO, pipe.serverIO), (pipe.left, pipe.right))
        self.assertEqual((pipe.client, pipe.server), (left, right))
        self.assertIs(left.transport, pipe.left)
        self.assertIs(right.transport, pipe.right)
        self.assertEqual((pipe.left.getHost(), pipe.left.getPeer()), (leftAddress, rightAddress))
        self.assertEqual((pipe.right.getHost(), pipe.right.getPeer()), (rightAddress, leftAddress))

    def test_pumpKeepsTheClock(self) -> None:
        """
        Pumping delivers bytes without running the calls due on the clock,
        unless asked to.
        """
        clock = Clock()
        left, right = _Recorder(), _Recorder()
        address = IPv4Address("TCP", "127.0.0.1", 1)
        pipe = Pipe(left, right, address, address, clock)
        ran: list[bool] = []
        clock.callLater(0, ran.append, True)
        pipe.left.write(b"a")
        self.assertTrue(pipe.flush())
        self.assertEqual((right.data, ran), (b"a", []))
        self.assertFalse(pipe.pump(advanceClock=True))
        self.assertEqual(ran, [True])

    def test_writtenAfterClose(self) -> None:
        """
        Bytes written after C{loseConnection} and before the close is
        delivered still arrive, before the close, as a socket sends what it
        was given before closing; after the close nothing arrives.
        """
        pipe, left, right = self.pipe()
        pipe.left.loseConnection()
        pipe.left.write(b"late")
        pipe.flush()
        self.assertEqual(right.data, b"late")
        assert right.lost is not None
        self.assertTrue(right.lost.check(ConnectionDone))
        self.assertTrue(pipe.left.disconnected and pipe.right.disconnected)
        pipe.right.write(b"gone")
        self.assertFalse(pipe.flush())
        self.assertEqual(left.data, b"")

    def test_defaultClockIsOwn(self) -> None:
        """
        The harness's pipes pump on its reactor's clock; a pipe made alone
        has a clock of its own.
        """
        h = ProxyHarness()
        h.fakeClient()
        self.assertIs(h.reactor.pipes[0].clock, h.reactor)
        pipe, _, _ = self.pipe()
        self.assertIsNot(pipe.clock, h.reactor)


class RecordingTransportTests(SynchronousTestCase):
    """
    L{RecordingTransport} records what was written and how the connection
    ended, with C{StringTransport}'s test API.
    """

    def test_written(self) -> None:
        """
        C{value} gives what was written since C{clear}; only bytes can be
        written.
        """
        transport = RecordingTransport()
        transport.write(b"a")
        transport.writeSequence([b"b", b"c"])
        self.assertEqual(transport.value(), b"abc")
        self.assertEqual(transport.value(), b"abc")
        transport.clear()
        self.assertEqual(transport.value(), b"")
        self.assertRaises(TypeError, transport.write, "text")

    def test_addresses(self) -> None:
        """
        Without addresses given, the host and peer are C{StringTransport}'s
        defaults.
        """
        transport = RecordingTransport()
        self.assertEqual(transport.getHost(), IPv4Address("TCP", "10.0.0.1", 12345))
        self.assertEqual(transport.getPeer(), IPv4Address("TCP", "192.168.1.1", 54321))

    def test_ending(self) -> None:
        """
        C{loseConnection}, C{abortConnection} and C{loseWriteConnection}
        are each recorded.
        """
        closed, aborted, halfClosed = RecordingTransport(), RecordingTransport(), RecordingTransport()
        closed.loseConnection()
        aborted.abortConnection()
        halfClosed.loseWriteConnection()
        self.assertEqual(
            [(t.disconnecting, t.aborted, t.halfClosed) for t in (closed, aborted, halfClosed)],
            [(True, False, False), (True, True, False), (False, False, True)],
        )

    def test_producer(self) -> None:
        """
        One producer at a time is registered, and a pull producer is not
        resumed by the transport; the transport pauses and resumes as a
        push producer, until it is closed.
        """
        transport = RecordingTransport()
        producer = _PullProducer()
        transport.registerProducer(producer, False)
        self.assertEqual((transport.producer, transport.streaming, producer.resumed), (producer, False, 0))
        self.assertRaises(RuntimeError, transport.registerProducer, producer, True)
        transport.unregisterProducer()
        self.assertIsNone(transport.producer)
        self.assertRaises(RuntimeError, transport.unregisterProducer)
        transport.pauseProducing()
        self.assertEqual(transport.producerState, "paused")
        transport.resumeProducing()
        self.assertEqual(transport.producerState, "producing")
        transport.loseConnection()
        self.assertRaises(RuntimeError, transport.pauseProducing)


class _PullProducer:
    resumed = 0

    def resumeProducing(self) -> None:
        self.resumed += 1

    def stopProducing(self) -> None:
        pass


class BuildTests(SynchronousTestCase):
    """
    The harness builds its proxy as twistd does: from a file, a config, or
    a router and hooks.
    """

    def test_fromFile(self) -> None:
        """
        The reverse example's routes, balancing and header policy apply.
        """
        h = ProxyHarness.fromFile(str(EXAMPLES / "reverse.toml"), mode="reverse")
        api = [h.fakeOrigin(f"127.0.0.1:{port}").reply(200, b"api") for port in (9001, 9002)]
        h.fakeOrigin("127.0.0.1:9003").reply(200, b"site")
        client = h.fakeClient()
        self.assertEqual(client.get("/", [("Host", "app.example.test")]).body, b"site")
        self.assertEqual(client.get("/api/users", [("Host", "app.example.test")]).body, b"api")
        seen = [r for origin in api for r in origin.requests if r.method == b"GET" and r.target == b"/users"]
        self.assertEqual(len(seen), 1)
        self.assertEqual(seen[0].header("X-Forwarded-Host"), b"app.example.test")
        self.assertEqual(client.get("/", [("Host", "other.test")]).body, b"site")
        h.close()

    def test_healthChecks(self) -> None:
        """
        Health checks run as time passes, and take a failing origin out.
        """
        h = ProxyHarness.fromFile(str(EXAMPLES / "reverse.toml"), mode="reverse")
        first = h.fakeOrigin("127.0.0.1:9001").reply(500)
        second = h.fakeOrigin("127.0.0.1:9002").reply(200, b"second")
        h.fakeOrigin("127.0.0.1:9003")
        h.advance(10)
        checks = [r for r in first.requests if r.header("User-Agent") == b"proxykit-health"]
        self.assertGreaterEqual(len(checks), 3)
        client = h.fakeClient()
        before = len(first.requests)
        for _ in range(4):
            self.assertEqual(client.get("/api/", [("Host", "app.example.test")]).body, b"second")
        self.assertEqual(len(first.requests), before)
        self.assertTrue(second.requests)
        h.close()

    def test_routerAndHooks(self) -> None:
        """
        A router and hooks of the application's own.
        """
        hooks = Hooks()

        @hooks.beforeRouting
        def refuse(event: RequestEvent) -> Refuse | None:
            if event.request.target.endswith(b"/private"):
                return Refuse(403, "private")
            return None

        h = ProxyHarness(router=ForwardRouter(), hooks=hooks)
        h.fakeOrigin("example.test:80")
        client = h.fakeClient()
        self.assertEqual(client.get("http://example.test/private").status, 403)
        self.assertEqual(client.get("http://example.test/public").status, 200)

    def test_connectionCap(self) -> None:
        """
        Fake clients connect through the listener's connection cap: at the
        cap, the longest idle connection is closed for a new client, and
        they report the first listener's endpoint string.
        """
        seen: list[str] = []
        hooks = Hooks()

        @hooks.beforeRouting
        def listener(event: RequestEvent) -> None:
            seen.append(event.client.listener)

        config = ProxyConfig(listen=("tcp:3128:interface=127.0.0.1",), limits=LimitsConfig(maxClientConnections=1))
        h = ProxyHarness(config, hooks=hooks)
        h.fakeOrigin("example.test:80")
        first = h.fakeClient()
        self.assertEqual(first.get("http://example.test/").status, 200)
        second = h.fakeClient()
        self.assertTrue(first.closed)
        self.assertEqual(second.get("http://example.test/").status, 200)
        self.assertEqual(seen, ["tcp:3128:interface=127.0.0.1"] * 2)
        h.close()

    def test_strictDestinations(self) -> None:
        """
        A forward proxy listening beyond loopback refuses private
        destinations, a name's documentation address among them; a name
        given a public address is reached.
        """
        h = ProxyHarness(ProxyConfig(listen=("tcp:3128",)))
        private = h.fakeOrigin("private.test:80")
        public = h.fakeOrigin("public.test:80", resolvesTo="93.184.215.14")
        client = h.fakeClient()
        self.assertEqual(client.get("http://private.test/").status, 403)
        self.assertEqual(client.get("http://public.test/").status, 200)
        self.assertEqual((private.connections, public.connections), (0, 1))

    def test_badMode(self) -> None:
        """
        Only the two modes exist.
        """
        self.assertRaises(ValueError, ProxyHarness, mode="sideways")


class ExampleTests(SynchronousTestCase):
    """
    The tutorial's example runs, under trial and under pytest, with the
    commands C{docs/testing.rst} gives.
    """

    def runCommand(self, command: str) -> subprocess.CompletedProcess[str]:
        shown = [line for snippet in snippets(ROOT / "docs" / "testing.rst") for line in snippet.lines]
        self.assertIn(command, shown)
        argv = command.split()
        self.assertEqual(argv[0], ".venv/bin/python")
        return subprocess.run(
            [sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    def test_trial(self) -> None:
        """
        C{examples/testing_reverse.py} passes under trial.
        """
        result = self.runCommand(".venv/bin/python -m twisted.trial examples/testing_reverse.py")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("PASSED (successes=3)", result.stdout)

    def test_pytest(self) -> None:
        """
        The same file passes under pytest, its plain test function too.
        """
        try:
            import pytest  # noqa: F401
        except ImportError:
            raise SkipTest("pytest is not installed (pip install '.[test]')")
        result = self.runCommand(".venv/bin/python -m pytest examples/testing_reverse.py")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("4 passed", result.stdout)
