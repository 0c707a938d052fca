"""
Tests for L{proxykit.service}.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    CertificateConfig,
    ForwardConfig,
    ProxyConfig,
    TLSConfig,
    TLSListener,
)
from proxykit.service import ListenError, ProxyService, destinationsFor, forwardService

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
        self, port: int, factory: IProtocolFactory, backlog: int = 50, interface: str = ""
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
        config = ProxyConfig(listen=("tcp:0:interface=127.0.0.1", "tcp:0:interface=127.0.0.1"))
        service = forwardService(config, reactor)
        closed: list[bool] = []
        pool = service.factory.pool

        def closeAll() -> Deferred[None]:
            closed.append(True)
            d: Deferred[None] = Deferred()
            d.callback(None)
            return d

        pool.closeAll = closeAll  # type: ignore[method-assign]
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
        service = forwardService(ProxyConfig(listen=(loopback(1), loopback(2))), reactor)
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
        service = forwardService(ProxyConfig(listen=(loopback(1), loopback(2), loopback(3))), reactor)
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
            (2, ProxyConfig(listen=(loopback(1),), tls=TLSConfig((loopback(2),), certificate))),
            (3, ProxyConfig(
                listen=(loopback(1),),
                tls=TLSConfig((loopback(2),), certificate, redirectListen=(loopback(3),)),
            )),
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

        from proxykit.service import _Listener

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
        listener = _Listener("later:1", endpoint, Factory(), reactor)  # type: ignore[arg-type]
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        listener.startService()
        self.assertTrue(reactor.running)
        endpoint.waiting.errback(CannotListenError("", 1, OSError(errno.EACCES, "Permission denied")))
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


class ListenerGateTests(SynchronousTestCase):
    """
    A listener at its connection cap stops accepting until one closes.
    """

    def test_cap(self) -> None:
        """
        The port stops reading at the cap and starts again below it.
        """
        from twisted.internet.address import IPv4Address
        from twisted.internet.testing import StringTransport

        from proxykit import ForwardRouter, ProxyFactory
        from proxykit.service import ListenerGate

        class Port:
            reading = True

            def stopReading(self) -> None:
                self.reading = False

            def startReading(self) -> None:
                self.reading = True

        reactor = MemoryReactorClock()
        gate = ListenerGate(ProxyFactory(ForwardRouter(), reactor=reactor), cap=2)
        port = Port()
        gate.port = port  # type: ignore[assignment]
        protocols = []
        for _ in range(2):
            protocol = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
            protocol.makeConnection(StringTransport())
            protocols.append(protocol)
        self.assertFalse(port.reading)
        self.assertEqual(gate.open, 2)
        protocols[0].connectionLost()
        self.assertTrue(port.reading)
        self.assertEqual(gate.open, 1)


class DestinationsForTests(SynchronousTestCase):
    """
    L{destinationsFor} refuses special-purpose destinations (strict) when
    any listener, plain or TLS, may accept connections from beyond this
    machine.
    """

    def tls(self, *listen: str | TLSListener) -> TLSConfig:
        return TLSConfig(listen=listen, defaultCertificate=CertificateConfig("c.pem", "k.pem"))

    def test_loopbackOnly(self) -> None:
        """
        Loopback listeners, plain and TLS (strings or tables), are not
        strict.
        """
        config = ProxyConfig(
            listen=("tcp:8080:interface=127.0.0.1", "unix:/tmp/p.sock"),
            tls=self.tls("tcp6:8443:interface=\\:\\:1", TLSListener("tcp:9443:interface=localhost")),
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
            ProxyConfig(listen=loopback, tls=self.tls("tcp:8443:interface=127.0.0.1", TLSListener("tcp:9443"))),
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
