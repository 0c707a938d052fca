"""
Tests for L{proxykit.service}.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IAddress, IListeningPort, IProtocolFactory
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogEvent, Logger, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from proxykit import ConnectionPool, ForwardRouter, ProxyFactory
from proxykit.config import (
    CertificateConfig,
    ForwardConfig,
    LimitsConfig,
    ProxyConfig,
    Timeouts,
    TLSConfig,
    TLSListener,
)
from proxykit.policy.destinations import destinationsFor
from proxykit.relay.gate import (
    FILE_LIMIT_RESERVE,
    IConnectionGate,
    IGatedConnection,
    ListenerGate,
    _raiseLimit,
    connectionCap,
    fileLimit,
    listeningPortOf,
    raiseFileLimit,
)
from proxykit.service import ListenError, ProxyService, forwardService

from ._certs import TestCA


class Port:
    """
    A listening port of L{BusyReactor}.
    """

    def __init__(self, reactor: BusyReactor, port: int) -> None:
        self.reactor = reactor
        self.port = port

    def stopListening(self) -> None:
        self.reactor.listening.remove(self.port)


class BusyReactor(MemoryReactorClock):
    """
    A reactor on which some TCP ports are in use by someone else.

    @ivar listening: The ports listened on, and not stopped since.
    """

    def __init__(self, *busy: int) -> None:
        super().__init__()
        self.busy = busy
        self.listening: list[int] = []

    def listenTCP(  # type: ignore[override]
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
    ) -> Port:
        if port in self.busy:
            error = OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
            raise CannotListenError(interface, port, error)
        super().listenTCP(port, factory, backlog, interface)
        self.listening.append(port)
        return Port(self, port)


def loopback(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


class ServiceTests(SynchronousTestCase):
    """
    The service listens on every endpoint and closes the pool on stop.
    """

    def test_listenersAndShutdown(self) -> None:
        """
        Starting listens on each configured endpoint; stopping closes the
        upstream pool.
        """
        reactor = MemoryReactorClock()
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1")
        )
        service = forwardService(config, reactor)
        closed: list[bool] = []

        class Pool(ConnectionPool):
            def closeAll(self) -> Deferred[None]:
                closed.append(True)
                d: Deferred[None] = Deferred()
                d.callback(None)
                return d

        # A subclass, not an instance's attribute: the compiled pool has
        # no __dict__.
        service.factory.pool = Pool(reactor)
        self.assertEqual(len(list(service)), 2)
        service.startService()
        self.assertEqual(len(reactor.tcpServers), 2)
        self.assertEqual(reactor.tcpServers[0][3], "127.0.0.1")
        d = service.stopService()
        self.successResultOf(d)
        self.assertEqual(closed, [True])


class StartTests(SynchronousTestCase):
    """
    Starting binds every listener, plain, TLS, redirect and PROXY-protocol
    ones alike, before anything else; if one cannot listen, the start fails
    with one error naming it and the reason, and nothing is left listening.
    """

    def test_allBoundFirst(self) -> None:
        """
        L{ProxyService.listen} binds every listener in order;
        C{privilegedStartService} and C{startService} after it bind
        nothing more, and the start is logged with every endpoint.
        """
        reactor = BusyReactor()
        service = forwardService(
            ProxyConfig(listen=(loopback(1), loopback(2))), reactor
        )
        service.listen()
        self.assertEqual(reactor.listening, [1, 2])
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        service.privilegedStartService()
        service.startService()
        self.assertEqual(reactor.listening, [1, 2])
        self.assertEqual(
            [e["endpoints"] for e in events if "endpoints" in e],
            [f"{loopback(1)}, {loopback(2)}"],
        )
        self.successResultOf(service.stopService())
        self.assertEqual(reactor.listening, [])

    def test_busyPort(self) -> None:
        """
        A port in use fails the start with a L{ListenError} naming the
        endpoint and the reason; the listener bound before it is closed,
        the service is not running, and a later stop does nothing.
        """
        reactor = BusyReactor(2)
        service = forwardService(
            ProxyConfig(listen=(loopback(1), loopback(2), loopback(3))), reactor
        )
        for start in (service.privilegedStartService, service.startService):
            with self.assertRaises(ListenError) as caught:
                start()
            self.assertEqual(
                str(caught.exception),
                f"cannot listen on {loopback(2)}: address already in use",
            )
            self.assertEqual(reactor.listening, [])
            self.assertFalse(service.running)
        self.successResultOf(service.stopService())

    def test_busyTLSAndProxyProtocol(self) -> None:
        """
        TLS listeners, the plain listeners that redirect to https and
        C{haproxy:} listeners fail the start the same way.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        cert, key = TestCA().write(directory, "default", "localhost")
        certificate = CertificateConfig(cert=cert, key=key)
        for busy, config in (
            (
                2,
                ProxyConfig(
                    listen=(loopback(1),), tls=TLSConfig((loopback(2),), certificate)
                ),
            ),
            (
                3,
                ProxyConfig(
                    listen=(loopback(1),),
                    tls=TLSConfig(
                        (loopback(2),), certificate, redirectListen=(loopback(3),)
                    ),
                ),
            ),
            (2, ProxyConfig(listen=(loopback(1), "haproxy:" + loopback(2)))),
        ):
            reactor = BusyReactor(busy)
            service = forwardService(config, reactor)
            with self.assertRaises(ListenError) as caught:
                service.startService()
            self.assertIn(loopback(busy), str(caught.exception))
            self.assertTrue(str(caught.exception).endswith(": address already in use"))
            self.assertEqual(reactor.listening, [])


class LaterEndpointTests(SynchronousTestCase):
    """
    An endpoint that listens asynchronously (none of Twisted's does) is
    waited for; if it fails, the failure is logged in one line and the
    reactor stops.
    """

    def test_failsLater(self) -> None:
        """
        The failure is logged once, naming the endpoint, and stops the
        reactor.
        """
        from twisted.internet.protocol import Factory

        from proxykit.listeners import Listener

        class Endpoint:
            def __init__(self) -> None:
                self.waiting: Deferred[object] = Deferred()

            def listen(self, factory: object) -> Deferred[object]:
                return self.waiting

        class Reactor:
            running = True

            def stop(self) -> None:
                self.running = False

        endpoint, reactor = Endpoint(), Reactor()
        listener = Listener("later:1", endpoint, Factory(), reactor)  # type: ignore[arg-type]
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        listener.startService()
        self.assertTrue(reactor.running)
        endpoint.waiting.errback(
            CannotListenError("", 1, OSError(errno.EACCES, "Permission denied"))
        )
        self.assertFalse(reactor.running)
        [error] = [str(e["error"]) for e in events if "error" in e]
        self.assertEqual(error, "cannot listen on later:1: permission denied")


class HangupTests(SynchronousTestCase):
    """
    Under C{twistd} (C{reloadOnHangup}), SIGHUP never ends the proxy: it
    reloads what can be reloaded and logs what it did, with or without TLS
    listeners.
    """

    def setUp(self) -> None:
        self.before = signal.getsignal(signal.SIGHUP)
        self.addCleanup(signal.signal, signal.SIGHUP, self.before)
        self.reactor = MemoryReactorClock()
        self.calls: list[Any] = []
        self.reactor.callFromThread = (  # type: ignore[method-assign]
            lambda f, *a: self.calls.append(f)
        )
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def start(self, reloadOnHangup: bool) -> ProxyService:
        service = forwardService(ProxyConfig(listen=(loopback(1),)), self.reactor)
        service.reloadOnHangup = reloadOnHangup
        service.startService()
        self.addCleanup(service.stopService)
        return service

    def test_withoutTLS(self) -> None:
        """
        Without TLS listeners, the handler is installed all the same; a
        hangup (handled in the reactor's loop) logs that there is nothing
        to reload; stopping puts the previous handler back.
        """
        service = self.start(True)
        handler = signal.getsignal(signal.SIGHUP)
        self.assertTrue(callable(handler))
        handler(signal.SIGHUP, None)  # type: ignore[operator, misc]
        self.assertEqual(self.calls, [service.reload])
        self.calls[0]()
        [event] = [e for e in self.events if "SIGHUP" in e.get("log_format", "")]
        self.assertIn("nothing to reload", event["log_format"])
        self.successResultOf(service.stopService())
        self.assertEqual(signal.getsignal(signal.SIGHUP), self.before)

    def test_library(self) -> None:
        """
        A service an application built itself (no C{reloadOnHangup}) leaves
        SIGHUP to the application.
        """
        self.start(False)
        self.assertEqual(signal.getsignal(signal.SIGHUP), self.before)


@implementer(IListeningPort)
class FakePort:
    """
    A listening port that records whether it accepts.
    """

    reading = True

    def stopReading(self) -> None:
        self.reading = False

    def startReading(self) -> None:
        self.reading = True

    def startListening(self) -> None:
        pass

    def stopListening(self) -> None:
        pass

    def getHost(self) -> IAddress:
        return IPv4Address("TCP", "127.0.0.1", 8080)


class FakeServerTransport:
    """
    Stands in for Twisted's TCP server transport: it names its port as
    C{server}.
    """

    def __init__(self, port: FakePort | None) -> None:
        self.server = port


@implementer(IGatedConnection)
class FakeConnection:
    """
    A connection counted by a gate; C{shed} records that the gate closed
    it.
    """

    def __init__(self, port: FakePort | None) -> None:
        self.transport = FakeServerTransport(port)
        self.gate: IConnectionGate | None = None
        self.wasShed = False

    def gatedBy(self, gate: IConnectionGate) -> None:
        self.gate = gate

    def shed(self) -> None:
        self.wasShed = True
        self.gate = None

    draining = False
    aborted = False

    def drain(self) -> None:
        self.draining = True

    def abortConnection(self) -> None:
        self.aborted = True

    # What a real connection tells its gate.

    def made(self, busy: bool = False) -> None:
        assert self.gate is not None
        if busy:
            self.gate.busy(self)
        else:
            self.gate.idle(self)

    def closed(self) -> None:
        gate = self.gate
        if gate is not None:
            self.gate = None
            gate.closed(self)


class FakeFactory(Factory):
    """
    Builds L{FakeConnection}s accepted on C{port}.
    """

    def __init__(self, port: FakePort | None) -> None:
        self.port = port
        self.built: list[FakeConnection] = []

    def buildProtocol(self, addr: IAddress) -> FakeConnection:  # type: ignore[override]
        connection = FakeConnection(self.port)
        self.built.append(connection)
        return connection


class ListenerGateTests(SynchronousTestCase):
    """
    A listener at its connection cap closes the longest idle connection to
    admit a new one; with none idle it stops accepting until one closes or
    becomes idle.  Busy connections are never closed.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.patch(ListenerGate, "_log", Logger(observer=self.events.append))

    def gate(self, cap: int, port: FakePort | None) -> tuple[ListenerGate, FakeFactory]:
        factory = FakeFactory(port)
        gate = ListenerGate(factory, cap)  # type: ignore[arg-type]
        gate.doStart()
        return gate, factory

    def accept(self, gate: ListenerGate, busy: bool = False) -> FakeConnection:
        connection = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        assert isinstance(connection, FakeConnection)
        connection.made(busy)
        return connection

    def messages(self) -> list[str]:
        return [formatEvent(event) for event in self.events if "cap" in event]

    def test_longestIdleClosed(self) -> None:
        """
        At the cap, a new connection is admitted by closing the connection
        that has been idle longest (not the oldest); the port keeps
        accepting.
        """
        port = FakePort()
        gate, _ = self.gate(3, port)
        first, second, third = self.accept(gate), self.accept(gate), self.accept(gate)
        # The first serves a request and is idle again: now the second has
        # been idle longest.
        gate.busy(first)
        gate.idle(first)
        fourth = self.accept(gate)
        self.assertEqual(
            [c.wasShed for c in (first, second, third, fourth)],
            [False, True, False, False],
        )
        self.assertEqual(gate.open, 3)
        self.assertEqual(gate.closedIdle, 1)
        self.assertTrue(port.reading)
        self.accept(gate)
        self.assertTrue(third.wasShed)
        self.assertFalse(first.wasShed)

    def test_busyNeverClosed(self) -> None:
        """
        Busy connections are not closed to make room: at the cap with none
        idle the port stops accepting, and accepts again when one closes.
        """
        port = FakePort()
        gate, _ = self.gate(2, port)
        busy = [self.accept(gate, busy=True) for _ in range(2)]
        self.assertFalse(port.reading)
        self.assertEqual([c.wasShed for c in busy], [False, False])
        busy[0].closed()
        self.assertTrue(port.reading)
        self.assertEqual(gate.open, 1)
        self.assertEqual([c.wasShed for c in busy], [False, False])

    def test_resumesWhenOneBecomesIdle(self) -> None:
        """
        A listener that stopped accepting (at the cap, none idle) accepts
        again as soon as a connection becomes idle, and the next client
        takes that connection's slot.
        """
        port = FakePort()
        gate, _ = self.gate(2, port)
        connections = [self.accept(gate), self.accept(gate, busy=True)]
        self.assertTrue(port.reading)
        gate.busy(connections[0])
        self.assertFalse(port.reading)
        gate.idle(connections[1])
        self.assertTrue(port.reading)
        self.accept(gate, busy=True)
        self.assertTrue(connections[1].wasShed)
        self.assertFalse(connections[0].wasShed)
        self.assertFalse(port.reading)

    def test_closedIdleLeavesGate(self) -> None:
        """
        An idle connection that closes by itself is no longer a candidate
        for closing.
        """
        gate, _ = self.gate(2, FakePort())
        first, second = self.accept(gate), self.accept(gate)
        first.closed()
        self.accept(gate)
        self.accept(gate)
        self.assertFalse(first.wasShed)
        self.assertTrue(second.wasShed)

    def test_learnsPort(self) -> None:
        """
        Without being told its port, the gate finds it through the
        connections' transports (so that an application can listen with it
        on any endpoint).
        """
        port = FakePort()
        gate, _ = self.gate(1, port)
        self.assertIsNone(gate.port)
        self.accept(gate, busy=True)
        self.assertIs(gate.port, port)
        self.assertFalse(port.reading)

    def test_portUnknown(self) -> None:
        """
        When the port cannot be found the gate still closes idle
        connections to make room, and says once that it cannot stop
        accepting.
        """
        gate, _ = self.gate(1, None)
        self.accept(gate, busy=True)
        self.accept(gate, busy=True)
        self.assertEqual(gate.open, 2)
        warnings = [m for m in self.messages() if "cannot stop accepting" in m]
        self.assertEqual(len(warnings), 1)

    def test_noResumeAfterStop(self) -> None:
        """
        A connection that closes after the listener stopped does not make
        the closed port read again.
        """
        port = FakePort()
        gate, _ = self.gate(1, port)
        connection = self.accept(gate, busy=True)
        self.assertFalse(port.reading)
        gate.doStop()
        connection.closed()
        self.assertFalse(port.reading)

    def test_loggedOncePerEpisode(self) -> None:
        """
        Reaching the cap and stopping accepting are each logged once while
        the listener stays near its cap, and the count of idle connections
        closed to make room once it is well below (a quarter) again; not
        once per connection.
        """
        port = FakePort()
        gate, _ = self.gate(8, port)
        connections = [self.accept(gate) for _ in range(13)]
        live = connections[5:]
        self.assertEqual([c.wasShed for c in connections], [True] * 5 + [False] * 8)
        for connection in live:
            gate.busy(connection)
        self.assertFalse(port.reading)
        gate.idle(live[0])
        self.assertTrue(port.reading)
        live.append(self.accept(gate, busy=True))
        self.assertFalse(port.reading)
        live[1].closed()
        self.assertTrue(port.reading)
        live.append(self.accept(gate, busy=True))
        self.assertFalse(port.reading)
        self.assertEqual(
            self.messages(),
            [
                "listener at 8 connections: closing idle ones to admit new clients",
                "listener at 8 connections, none idle: not accepting",
            ],
        )
        live[2].closed()
        self.assertEqual(len(self.messages()), 2)
        live[3].closed()
        self.assertEqual(gate.open, 6)
        self.assertEqual(
            self.messages()[2:],
            [
                "listener below 8 connections again: 6 idle connections were"
                " closed to admit new clients"
            ],
        )

    def test_derivedCap(self) -> None:
        """
        Without a cap, the gate derives one from the open-file limit when
        it starts: half of what is left after a reserve.
        """
        gate = ListenerGate(FakeFactory(None))  # type: ignore[arg-type]
        gate.doStart()
        limit = raiseFileLimit()
        self.assertEqual(gate.cap, connectionCap(limit))
        self.assertEqual(connectionCap(1024), (1024 - FILE_LIMIT_RESERVE) // 2)
        self.assertEqual(connectionCap(100000), (100000 - FILE_LIMIT_RESERVE) // 2)
        self.assertEqual(connectionCap(10), 1)
        self.assertEqual(connectionCap(None), 1024)
        self.assertEqual(ListenerGate(FakeFactory(None), 7).cap, 7)  # type: ignore[arg-type]

    def test_serviceCaps(self) -> None:
        """
        The service's listeners take C{limits.max_client_connections} as
        their cap when it is set, and derive it otherwise.
        """
        reactor = MemoryReactorClock()
        derived = forwardService(ProxyConfig(), reactor)
        self.assertEqual([g.cap for g in derived.gates], [connectionCap(fileLimit())])
        config = ProxyConfig(limits=LimitsConfig(maxClientConnections=20))
        self.assertEqual([g.cap for g in forwardService(config, reactor).gates], [20])


class RaiseFileLimitTests(SynchronousTestCase):
    """
    The proxy raises its soft open-file limit to the hard limit at start;
    a failure is logged, not raised.
    """

    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.patch(ListenerGate, "_log", Logger(observer=self.events.append))

    def test_raised(self) -> None:
        """
        The soft limit is set to the hard limit, and the result is logged.
        """
        import resource

        calls = []
        limit = _raiseLimit(
            lambda kind: (1024, 524288), lambda kind, value: calls.append((kind, value))
        )
        self.assertEqual(limit, 524288)
        self.assertEqual(calls, [(resource.RLIMIT_NOFILE, (524288, 524288))])
        self.assertEqual(formatEvent(self.events[-1]), "open-file limit: 524288")

    def test_failureLogged(self) -> None:
        """
        When the limit cannot be raised the old one stays, and the failure
        is logged.
        """

        def refuse(kind: int, value: tuple[int, int]) -> None:
            raise ValueError("not allowed")

        limit = _raiseLimit(lambda kind: (1024, 4096), refuse)
        self.assertEqual(limit, 1024)
        self.assertEqual(
            [formatEvent(e) for e in self.events],
            [
                "open-file limit not raised from 1024 to 4096: not allowed",
                "open-file limit: 1024",
            ],
        )

    def test_unlimited(self) -> None:
        """
        An unlimited hard limit is not asked for (some systems refuse it): a
        large finite one is.
        """
        import resource

        calls = []
        limit = _raiseLimit(
            lambda kind: (1024, resource.RLIM_INFINITY),
            lambda kind, value: calls.append(value),
        )
        self.assertEqual(calls, [(1 << 20, resource.RLIM_INFINITY)])
        self.assertEqual(limit, 1 << 20)

    def test_once(self) -> None:
        """
        L{raiseFileLimit} does its work once per process and then answers
        the same limit.
        """
        self.assertEqual(raiseFileLimit(), raiseFileLimit())


class ListeningPortOfTests(SynchronousTestCase):
    """
    L{listeningPortOf} finds the port a connection was accepted on through
    wrapping transports, and answers C{None} when there is none.
    """

    def test_wrapped(self) -> None:
        """
        Through wrappers (TLS, the PROXY protocol) that keep the transport
        they wrap as C{transport}.
        """
        port = FakePort()

        class Wrapper:
            def __init__(self, transport: object) -> None:
                self.transport = transport

        self.assertIs(listeningPortOf(FakeServerTransport(port)), port)
        self.assertIs(
            listeningPortOf(Wrapper(Wrapper(FakeServerTransport(port)))), port
        )

    def test_none(self) -> None:
        """
        A transport without a port, such as an in-memory one.
        """
        from twisted.internet.testing import StringTransport

        self.assertIsNone(listeningPortOf(StringTransport()))
        self.assertIsNone(listeningPortOf(None))
        self.assertIsNone(listeningPortOf(FakeServerTransport(None)))


class DestinationsForTests(SynchronousTestCase):
    """
    L{destinationsFor} refuses special-purpose destinations (strict) when
    any listener, plain or TLS, may accept connections from beyond this
    machine.
    """

    def tls(self, *listen: str | TLSListener) -> TLSConfig:
        return TLSConfig(
            listen=listen, defaultCertificate=CertificateConfig("c.pem", "k.pem")
        )

    def test_loopbackOnly(self) -> None:
        """
        Loopback listeners, plain and TLS (strings or tables), are not
        strict.
        """
        config = ProxyConfig(
            listen=("tcp:8080:interface=127.0.0.1", "unix:/tmp/p.sock"),
            tls=self.tls(
                "tcp6:8443:interface=\\:\\:1",
                TLSListener("tcp:9443:interface=localhost"),
            ),
        )
        self.assertFalse(destinationsFor(config).strict)

    def test_beyondLoopback(self) -> None:
        """
        A plain listener, a TLS endpoint string or a TLS listener table
        beyond loopback makes the policy strict.
        """
        loopback = ("tcp:8080:interface=127.0.0.1",)
        for config in (
            ProxyConfig(listen=("tcp:8080",)),
            ProxyConfig(listen=loopback, tls=self.tls("tcp:8443:interface=192.0.2.1")),
            ProxyConfig(
                listen=loopback,
                tls=self.tls("tcp:8443:interface=127.0.0.1", TLSListener("tcp:9443")),
            ),
        ):
            self.assertTrue(destinationsFor(config).strict, config)

    def test_allowPrivate(self) -> None:
        """
        C{forward.allow_private_destinations} turns strictness off.
        """
        config = ProxyConfig(
            listen=("tcp:8080",), forward=ForwardConfig(allowPrivateDestinations=True)
        )
        self.assertFalse(destinationsFor(config).strict)


class DrainTests(SynchronousTestCase):
    """
    A stopping proxy drains: idle connections close at once, busy ones may
    finish, and what is left after the drain timeout (or a second signal)
    is cut.
    """

    def setUp(self) -> None:
        self.patch(ListenerGate, "_log", Logger(observer=lambda e: None))

    def gate(self) -> tuple[ListenerGate, list[FakeConnection]]:
        gate = ListenerGate(FakeFactory(FakePort()), 10)  # type: ignore[arg-type]
        gate.doStart()
        connections = []
        for busy in (False, True, True):
            connection = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
            assert isinstance(connection, FakeConnection)
            connection.made(busy)
            connections.append(connection)
        return gate, connections

    def test_gate(self) -> None:
        """
        The idle connection is shed, the busy ones are asked to drain, a
        busy one that becomes idle is shed, and the drain ends when the
        last one closes.
        """
        gate, (idle, first, second) = self.gate()
        done = gate.drain()
        self.assertEqual((idle.wasShed, first.draining, second.draining), (True, True, True))
        self.assertNoResult(done)
        gate.idle(first)
        self.assertTrue(first.wasShed)
        self.assertNoResult(done)
        second.closed()
        self.successResultOf(done)
        self.assertEqual(gate.open, 0)

    def test_nothingOpen(self) -> None:
        gate = ListenerGate(FakeFactory(FakePort()), 10)  # type: ignore[arg-type]
        self.successResultOf(gate.drain())

    def service(self) -> tuple[ProxyService, MemoryReactorClock, ListenerGate, list[FakeConnection]]:
        reactor = MemoryReactorClock()
        config = ProxyConfig(timeouts=Timeouts(drain=5))
        service = ProxyService(ProxyFactory(ForwardRouter(), config=config, reactor=reactor), (), reactor)
        gate, connections = self.gate()
        service.gates.append(gate)
        return service, reactor, gate, connections

    def test_serviceWaits(self) -> None:
        """
        L{ProxyService.drain} fires once every connection closed, within
        the timeout; nothing is cut.
        """
        service, reactor, gate, (idle, first, second) = self.service()
        done = service.drain(5)
        reactor.advance(4)
        first.closed()
        second.closed()
        self.successResultOf(done)
        self.assertEqual((first.aborted, second.aborted), (False, False))
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_serviceTimeout(self) -> None:
        """
        After the timeout, what is still open is dropped.
        """
        service, reactor, gate, (idle, first, second) = self.service()
        done = service.drain(5)
        first.closed()
        reactor.advance(5)
        self.assertEqual((first.aborted, second.aborted), (False, True))
        second.closed()
        self.successResultOf(done)


class ReadinessTests(SynchronousTestCase):
    """
    L{ProxyService.ready} says whether every listener is bound and the
    proxy is not draining; L{ProxyService.configVersion} names the
    configuration served.
    """

    def test_ready(self) -> None:
        """
        Not ready before the listeners are bound, ready once they are, not
        ready again once draining has begun.
        """
        reactor = MemoryReactorClock()
        service = forwardService(ProxyConfig(listen=("tcp:0:interface=127.0.0.1",)), reactor)
        self.assertFalse(service.ready)
        service.startService()
        self.assertTrue(service.ready)
        service.drain(1)
        self.assertFalse(service.ready)

    def test_configVersion(self) -> None:
        """
        The version is a digest of the effective configuration, equal for
        equal configurations and different for different ones, stamped
        with the reactor's time.
        """
        reactor = MemoryReactorClock()
        reactor.advance(12)
        one = forwardService(ProxyConfig(), reactor).configVersion
        two = forwardService(ProxyConfig(), reactor).configVersion
        other = forwardService(ProxyConfig(timeouts=Timeouts(drain=5)), reactor).configVersion
        self.assertEqual((one.digest, one.loadedAt), (two.digest, 12))
        self.assertNotEqual(one.digest, other.digest)
        self.assertEqual(len(one.digest), 16)
