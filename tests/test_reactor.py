"""
Tests for L{proxykit.reactor}: Twisted's epoll reactor without the logging
context around each event.
"""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from proxykit import reactor as proxyreactor


def newReactor() -> object:
    if not proxyreactor.available():
        raise SkipTest("epoll is not available on this platform")
    return proxyreactor.ProxyReactor()  # type: ignore[no-untyped-call]


class _Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


class _Client(Protocol):
    def __init__(self, reactor: object, got: list[bytes]) -> None:
        self.reactor = reactor
        self.got = got

    def connectionMade(self) -> None:
        self.transport.write(b"ping")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.got.append(data)
        if b"".join(self.got) == b"ping":
            self.transport.loseConnection()  # type: ignore[union-attr]
            self.reactor.stop()  # type: ignore[attr-defined]


class _Exploding:
    """
    A reader whose connection loss handler raises: the error escapes
    Twisted's own handling of the event.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "exploding"

    def doRead(self) -> Exception:
        return ConnectionDone()

    def connectionLost(self, reason: Failure) -> None:
        raise ZeroDivisionError("from connectionLost")


class ProxyReactorTests(SynchronousTestCase):
    """
    L{proxykit.reactor.ProxyReactor} runs connections as Twisted's epoll
    reactor does.
    """

    def test_echo(self) -> None:
        """
        A client and a server on loopback exchange bytes through it.
        """
        reactor = newReactor()
        port = reactor.listenTCP(0, Factory.forProtocol(_Echo), interface="127.0.0.1")  # type: ignore[attr-defined]
        got: list[bytes] = []
        client = ClientFactory()
        client.protocol = lambda: _Client(reactor, got)  # type: ignore[assignment,misc]
        reactor.connectTCP("127.0.0.1", port.getHost().port, client)  # type: ignore[attr-defined]
        deadline = reactor.callLater(10, reactor.stop)  # type: ignore[attr-defined]
        reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
        self.assertTrue(deadline.active(), "the exchange did not finish in 10 s")
        deadline.cancel()
        port.stopListening()
        self.assertEqual(b"".join(got), b"ping")

    def test_failingHandlerLogged(self) -> None:
        """
        An error that escapes the handling of an event is logged, and the
        reactor goes on with the next events.
        """
        reactor = newReactor()
        readEnd, writeEnd = os.pipe()
        self.addCleanup(os.close, readEnd)
        self.addCleanup(os.close, writeEnd)
        os.write(writeEnd, b"x")
        reactor.addReader(_Exploding(readEnd))  # type: ignore[attr-defined]
        ran: list[bool] = []
        reactor.callLater(0.01, lambda: (ran.append(True), reactor.stop()))  # type: ignore[attr-defined]
        with capturedLogs() as events:
            reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
        self.assertEqual(ran, [True])
        failures = [e["log_failure"] for e in events if "log_failure" in e]
        self.assertEqual([f.type for f in failures], [ZeroDivisionError])
        self.flushLoggedErrors(ZeroDivisionError)


class InstallTests(SynchronousTestCase):
    """
    L{proxykit.reactor.installIfNone} installs the reactor only when none
    is installed; C{twistd proxykit} calls it.
    """

    def run_(self, code: str) -> str:
        # The proxykit under test, installed or in the working tree.
        root = os.path.dirname(os.path.dirname(os.path.abspath(proxyreactor.__file__)))
        env = dict(os.environ, PYTHONPATH=root)
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env
        ).stdout.strip()

    def test_installsWhenNone(self) -> None:
        """
        With no reactor installed, it installs L{ProxyReactor}.
        """
        if not proxyreactor.available():
            raise SkipTest("epoll is not available on this platform")
        out = self.run_(
            "from proxykit.reactor import installIfNone\n"
            "print(installIfNone())\n"
            "from twisted.internet import reactor\n"
            "print(type(reactor).__name__)\n"
        )
        self.assertEqual(out.split(), ["True", "ProxyReactor"])

    def test_keepsChosenReactor(self) -> None:
        """
        A reactor installed first (as C{twistd -r} does) is kept.
        """
        out = self.run_(
            "from twisted.internet import selectreactor\n"
            "selectreactor.install()\n"
            "from proxykit.reactor import installIfNone\n"
            "print(installIfNone())\n"
            "from twisted.internet import reactor\n"
            "print(type(reactor).__name__)\n"
        )
        self.assertEqual(out.split(), ["False", "SelectReactor"])


class _Named:
    log = proxyreactor.NamedLogger("proxykit.example.Named")


class NamedLoggerTests(SynchronousTestCase):
    """
    L{proxykit.reactor.NamedLogger} logs under the namespace it was given,
    not its class's module path, so moving a module does not change what
    operators filter on.
    """

    def test_instance(self) -> None:
        """
        Read from an instance, it logs under its namespace with the
        instance as the source.
        """
        named = _Named()
        with capturedLogs() as events:
            named.log.info("hello")
        [event] = events
        self.assertEqual(event["log_namespace"], "proxykit.example.Named")
        self.assertIs(event["log_source"], named)

    def test_class(self) -> None:
        """
        Read from the class, it logs under its namespace with the class as
        the source.
        """
        with capturedLogs() as events:
            _Named.log.info("hello")
        [event] = events
        self.assertEqual(event["log_namespace"], "proxykit.example.Named")
        self.assertIs(event["log_source"], _Named)

    def test_movedModulesKeepNamespaces(self) -> None:
        """
        The classes and modules that moved into C{proxykit.relay} and
        C{proxykit.policy} log under the namespaces they had before.
        """
        from proxykit.policy import auth, balance, destinations
        from proxykit.relay import client, endpoints, exchange, gate, health, pool

        namespaces = {
            "proxykit.pool.ConnectionPool": pool.ConnectionPool._log,
            "proxykit.protocol.ProxyProtocol": client.ProxyProtocol._log,
            "proxykit.auth.ProxyAuthenticator": auth.ProxyAuthenticator._log,
            "proxykit._exchange.Exchange": exchange.Exchange._log,
            "proxykit._gate.ListenerGate": gate.ListenerGate._log,
            "proxykit.destinations.DestinationPolicy": destinations.DestinationPolicy._log,
            "proxykit.health.HealthChecker": health.HealthChecker._log,
            "proxykit.balance": balance._log,
            "proxykit.endpoints": endpoints._log,
        }
        for namespace, log in namespaces.items():
            self.assertEqual(log.namespace, namespace)
