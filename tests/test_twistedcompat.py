"""
Tests for L{proxykit._twistedcompat}: each shortcut through Twisted's
private internals is taken on the Twisted installed (so that an upgrade
removing one fails here instead of making proxykit quietly slower), and its
fallback to public API behaves the same when the internal is missing.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet import ssl, tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import ClientFactory, Factory, Protocol
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

import proxykit
from proxykit import _twistedcompat
from proxykit import reactor as proxyreactor
from proxykit._twistedcompat import (
    DirectSendTLSProtocol,
    directPoll,
    directSocket,
    epollInternals,
    tlsDirectSendUsable,
    writeBuffersVisible,
    writeNow,
)

from ._certs import TestCA
from .test_reactor import _Client, _Echo, newReactor


class _Port:
    """
    What a TCP server transport asks of its listening port.
    """

    _realPortNumber = 2


def tcpServer(testCase: SynchronousTestCase) -> tuple[tcp.Server, socket.socket]:
    """
    A Twisted TCP server transport on one end of a socket pair (its reactor
    a L{MemoryReactor}, so nothing runs), and the other end.
    """
    ours, peer = socket.socketpair()
    testCase.addCleanup(ours.close)
    testCase.addCleanup(peer.close)
    ours.setblocking(False)
    peer.setblocking(False)
    transport = tcp.Server(  # type: ignore[no-untyped-call]
        ours, Protocol(), ("127.0.0.1", 1), _Port(), 1, MemoryReactor()
    )
    return transport, peer


class DirectSendTests(SynchronousTestCase):
    """
    L{directSocket} and L{writeNow} write to a TCP socket at once when
    Twisted has nothing buffered, relying on C{FileDescriptor}'s
    C{dataBuffer} and C{_tempDataBuffer}.
    """

    def test_fastPathOnThisTwisted(self) -> None:
        """
        This Twisted's transports show their write buffers, so plain TCP
        connections get a socket to send on directly.
        """
        self.assertTrue(writeBuffersVisible(FileDescriptor(MemoryReactor())))  # type: ignore[arg-type]
        self.assertTrue(_twistedcompat.DIRECT_SEND)
        transport, _ = tcpServer(self)
        self.assertIs(directSocket(transport), transport.socket)

    def test_sentAtOnce(self) -> None:
        """
        With nothing buffered, the bytes are on the socket before the
        reactor turns, and nothing is left in Twisted's buffers.
        """
        transport, peer = tcpServer(self)
        writeNow(transport, directSocket(transport), b"hello")
        self.assertEqual(peer.recv(100), b"hello")
        self.assertFalse(transport.dataBuffer or transport._tempDataBuffer)

    def test_bufferedKeepsOrder(self) -> None:
        """
        When Twisted holds bytes already, later ones are queued after them
        rather than sent first.
        """
        transport, peer = tcpServer(self)
        transport.write(b"first ")
        writeNow(transport, directSocket(transport), b"second")
        self.assertRaises(BlockingIOError, peer.recv, 100)
        transport.doWrite()
        self.assertEqual(peer.recv(100), b"first second")

    def test_otherTransports(self) -> None:
        """
        Transports other than plain TCP get no socket; their bytes go
        through C{write}.
        """
        transport = StringTransport()
        self.assertIsNone(directSocket(transport))
        writeNow(transport, None, b"hello")
        self.assertEqual(transport.value(), b"hello")

    def test_fallbackWithoutBuffers(self) -> None:
        """
        On a Twisted whose transports do not show the two buffers, no
        transport gets a socket, and bytes written to a TCP connection go
        through Twisted's C{write}, reaching the peer when it flushes.
        """
        self.assertFalse(writeBuffersVisible(object()))
        self.assertFalse(writeBuffersVisible(StringTransport()))
        # What the module computes when the probe fails.
        self.patch(_twistedcompat, "_DIRECT", ())
        transport, peer = tcpServer(self)
        sock = directSocket(transport)
        self.assertIsNone(sock)
        writeNow(transport, sock, b"hello")
        self.assertRaises(BlockingIOError, peer.recv, 100)
        transport.doWrite()
        self.assertEqual(peer.recv(100), b"hello")


class _Ping(Protocol):
    def __init__(self, got: list[bytes]) -> None:
        self.got = got

    def connectionMade(self) -> None:
        self.transport.write(b"ping")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.got.append(data)


class DirectSendTLSTests(SynchronousTestCase):
    """
    L{DirectSendTLSProtocol} overrides Twisted's C{_flushSendBIO} to send
    its encrypted bytes through L{writeNow}, only when Twisted's TLS
    protocol still works that way.
    """

    def roundTrip(self) -> list[bytes]:
        """
        A TLS client sends C{ping} to an echo server behind
        L{DirectSendTLSProtocol}, in memory.

        @return: What the client received.
        """
        ca = TestCA()
        certificate, key = ca.leaf("localhost")
        serverOptions = ssl.PrivateCertificate.loadPEM(certificate + key).options()
        clientOptions = ssl.optionsForClientTLS(
            "localhost", trustRoot=ssl.Certificate.loadPEM(ca.caPEM)
        )
        serverFactory = TLSMemoryBIOFactory(serverOptions, False, Factory.forProtocol(_Echo))
        serverFactory.protocol = DirectSendTLSProtocol
        got: list[bytes] = []
        clientFactory = TLSMemoryBIOFactory(clientOptions, True, Factory.forProtocol(lambda: _Ping(got)))
        # Not Twisted's default client protocol, which delays writes with the
        # global reactor's clock.
        clientFactory.protocol = TLSMemoryBIOProtocol
        address = IPv4Address("TCP", "127.0.0.1", 443)
        server: Any = serverFactory.buildProtocol(address)
        client: Any = clientFactory.buildProtocol(address)
        self.assertIsInstance(server, DirectSendTLSProtocol)
        pump = iosim.connect(server, iosim.makeFakeServer(server), client, iosim.makeFakeClient(client))
        pump.flush()
        return got

    def recordWrites(self) -> list[bytes]:
        """
        Record what goes through L{writeNow} from here on.
        """
        sent: list[bytes] = []

        def recording(transport: Any, sock: socket.socket | None, data: bytes) -> None:
            sent.append(data)
            writeNow(transport, sock, data)

        self.patch(_twistedcompat, "writeNow", recording)
        return sent

    def test_fastPathOnThisTwisted(self) -> None:
        """
        This Twisted's TLS protocol sends through C{_flushSendBIO}, so it is
        overridden, and the encrypted bytes go through L{writeNow}.
        """
        self.assertTrue(tlsDirectSendUsable(TLSMemoryBIOProtocol))
        self.assertTrue(_twistedcompat.TLS_DIRECT_SEND)
        self.assertIn("_flushSendBIO", vars(DirectSendTLSProtocol))
        sent = self.recordWrites()
        self.assertEqual(b"".join(self.roundTrip()), b"ping")
        self.assertTrue(sent)

    def test_hookMissing(self) -> None:
        """
        A TLS protocol that sends its bytes another way, or never calls
        C{_flushSendBIO}, or whose C{_flushSendBIO} does not read the
        connection's BIO, is not one to override.
        """

        class Renamed:
            def _flushSendBuffer(self) -> None:
                self._tlsConnection.bio_read(1)  # type: ignore[attr-defined]

            def write(self, data: bytes) -> None:
                self._flushSendBuffer()

            def dataReceived(self, data: bytes) -> None:
                self._flushSendBuffer()

        class NeverCalled:
            def _flushSendBIO(self) -> None:
                self._tlsConnection.bio_read(1)  # type: ignore[attr-defined]

        class OtherBody:
            def _flushSendBIO(self) -> None:
                self._sendQueue.flush()  # type: ignore[attr-defined]

            def write(self, data: bytes) -> None:
                self._flushSendBIO()

            def dataReceived(self, data: bytes) -> None:
                self._flushSendBIO()

        for base in (Renamed, NeverCalled, OtherBody):
            self.assertFalse(tlsDirectSendUsable(base), base)

    def test_fallback(self) -> None:
        """
        Without the override (what L{DirectSendTLSProtocol} is when the hook
        is missing), Twisted's own C{_flushSendBIO} writes the bytes and the
        exchange works the same.
        """
        self.patch(DirectSendTLSProtocol, "_flushSendBIO", TLSMemoryBIOProtocol._flushSendBIO)
        sent = self.recordWrites()
        self.assertEqual(b"".join(self.roundTrip()), b"ping")
        self.assertEqual(sent, [])

    def test_wantRead(self) -> None:
        """
        With nothing encrypted to send, the override writes nothing.
        """
        factory = TLSMemoryBIOFactory(ssl.CertificateOptions(), True, Factory.forProtocol(Protocol))
        protocol = DirectSendTLSProtocol(factory, Protocol())
        transport = StringTransport()
        protocol._tlsConnection = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        protocol.transport = transport
        protocol._flushSendBIO()
        self.assertEqual(transport.value(), b"")


class DirectPollTests(SynchronousTestCase):
    """
    L{directPoll} dispatches epoll events without Twisted's logging
    context, relying on C{EPollReactor._poller}, C{_selectables} and
    C{_doReadOrWrite}; L{proxykit.reactor.ProxyReactor} uses it when it can.
    """

    def runEcho(self, reactor: Any) -> None:
        """
        A client and a server on loopback exchange C{ping} through
        C{reactor}.
        """
        port = reactor.listenTCP(0, Factory.forProtocol(_Echo), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        got: list[bytes] = []
        reactor.connectTCP(
            "127.0.0.1", port.getHost().port, ClientFactory.forProtocol(lambda: _Client(reactor, got))
        )
        deadline = reactor.callLater(10, reactor.stop)
        reactor.run(installSignalHandlers=False)
        self.assertTrue(deadline.active(), "the exchange did not finish in 10 s")
        deadline.cancel()
        self.assertEqual(b"".join(got), b"ping")

    def test_fastPathOnThisTwisted(self) -> None:
        """
        This Twisted's epoll reactor has the internals, so L{ProxyReactor}
        polls with L{directPoll}.
        """
        reactor: Any = newReactor()
        self.assertTrue(epollInternals(reactor))
        self.assertIsNotNone(directPoll(reactor, Logger()))
        self.assertIs(vars(reactor).get("doIteration"), vars(reactor).get("doPoll"))
        self.assertEqual(reactor.doIteration.__qualname__, "directPoll.<locals>.doPoll")
        self.runEcho(reactor)

    def test_internalsMissing(self) -> None:
        """
        An object without the internals gets no direct poll.
        """
        self.assertFalse(epollInternals(object()))
        self.assertIsNone(directPoll(object(), Logger()))

        class NotEpoll:
            _poller = object()
            _selectables: dict[int, object] = {}

            def _doReadOrWrite(self, selectable: object, fd: int, event: int) -> None:
                pass

        self.assertFalse(epollInternals(NotEpoll()))

    def test_fallback(self) -> None:
        """
        On a Twisted whose epoll reactor lacks one of the internals,
        L{ProxyReactor} keeps Twisted's own C{doPoll} and still runs
        connections.
        """
        self.patch(_twistedcompat, "_EPOLL_INTERNALS", ("_poller", "_selectables", "_doReadOrWriteGone"))
        reactor: Any = newReactor()
        self.assertNotIn("doIteration", vars(reactor))
        self.assertNotIn("doPoll", vars(reactor))
        self.assertIs(type(reactor).doIteration, proxyreactor.EPollReactor.doPoll)
        self.runEcho(reactor)


class OnlyHereTests(SynchronousTestCase):
    """
    No proxykit module but L{proxykit._twistedcompat} names the Twisted
    internals it wraps.
    """

    def test_onlyHere(self) -> None:
        """
        The private Twisted names appear in no other module's source.
        """
        names = ("_tempDataBuffer", "_flushSendBIO", "_tlsConnection", "_poller", "_selectables", "_doReadOrWrite", "numberAccepts", "_exitSignal", "._logger")
        root = Path(proxykit.__file__).parent
        found = [
            f"{path.relative_to(root)}: {name}"
            for path in sorted(root.rglob("*.py"))
            if path.name != "_twistedcompat.py"
            for name in names
            if name in path.read_text(encoding="utf-8")
        ]
        self.assertEqual(found, [])


class ExitSignalTests(SynchronousTestCase):
    """
    L{forgetExitSignal} lets a gracefully stopped twistd exit 0.
    """

    def test_taken(self) -> None:
        """
        Twisted's reactors still record the exit signal where it is looked
        for.
        """
        from twisted.internet.base import ReactorBase

        self.assertTrue(hasattr(ReactorBase, "_exitSignal"))

    def test_forgets(self) -> None:
        import types

        from proxykit._twistedcompat import forgetExitSignal

        reactor = types.SimpleNamespace(_exitSignal=15)
        self.assertTrue(forgetExitSignal(reactor))
        self.assertIsNone(reactor._exitSignal)
        self.assertFalse(forgetExitSignal(object()))


class AcceptOneAtATimeTests(SynchronousTestCase):
    """
    L{acceptOneAtATime}: a listening port shared by worker processes takes
    one connection each time its socket is readable.
    """

    def test_fastPathOnThisTwisted(self) -> None:
        """
        This Twisted's TCP port has C{numberAccepts}: with the shortcut,
        each read accepts one waiting connection, not all of them.
        """
        reactor: Any = newReactor()
        built: list[object] = []

        class Counting(Factory):
            def buildProtocol(self, addr: Any) -> Protocol:
                protocol = Protocol()
                built.append(protocol)
                return protocol

        port = reactor.listenTCP(0, Counting(), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.assertTrue(_twistedcompat.acceptOneAtATime(port))
        clients = [
            socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5)
            for _ in range(3)
        ]
        for client in clients:
            self.addCleanup(client.close)
        port.doRead()
        self.assertEqual(len(built), 1)
        port.doRead()
        self.assertEqual(len(built), 2)
        for protocol in built:
            protocol.transport.abortConnection()  # type: ignore[attr-defined]

    def test_fallback(self) -> None:
        """
        A port without C{numberAccepts} is left as it is.
        """
        port = _Port()
        self.assertFalse(_twistedcompat.acceptOneAtATime(port))
        self.assertNotIn("doRead", vars(port))


class _FailingSocket:
    """
    A listening socket whose every accept fails: the process is out of
    file descriptors.
    """

    def accept(self) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")


class ObserveAcceptsTests(SynchronousTestCase):
    """
    L{observeAccepts}: a listening port's failed accepts go to proxykit's
    observer.
    """

    def test_fastPathOnThisTwisted(self) -> None:
        """
        This Twisted's TCP port logs through its C{_logger}: with the
        shortcut, a failed accept's events reach the observer given, and
        Twisted logs each with one of the formats of L{ACCEPT_FAILURES}.
        """
        reactor: Any = newReactor()
        port = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        events: list[dict[str, Any]] = []
        wrapped: list[object] = []

        def wrap(observer: object) -> Any:
            wrapped.append(observer)
            return events.append

        self.assertTrue(_twistedcompat.observeAccepts(port, wrap))
        self.assertEqual(len(wrapped), 1)
        listening = port.socket
        port.socket = _FailingSocket()
        try:
            port.doRead()
        finally:
            port.socket = listening
        self.assertTrue(events)
        kinds = [_twistedcompat.ACCEPT_FAILURES.get(e["log_format"]) for e in events]
        self.assertNotIn(None, kinds, [e["log_format"] for e in events])
        self.assertIn("failed", kinds)
        self.assertEqual(events[0]["log_namespace"], "twisted.internet.tcp.Port")

    def test_fallback(self) -> None:
        """
        A port without a C{_logger} is left as it is.
        """
        port = _Port()
        self.assertFalse(_twistedcompat.observeAccepts(port, lambda observer: observer))
        self.assertNotIn("_logger", vars(port))
