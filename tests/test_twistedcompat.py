"""
Tests for L{proxykit._twistedcompat}: each shortcut through Twisted's
private internals is taken on the Twisted installed (so that an upgrade
removing one fails here instead of making proxykit quietly slower), and its
fallback to public API behaves the same when the internal is missing.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet import ssl, tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.main import CONNECTION_DONE
from twisted.internet.protocol import ClientFactory, Factory, Protocol, connectionDone
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

import proxykit
from proxykit import _directio, _twistedcompat
from proxykit import reactor as proxyreactor
from proxykit._twistedcompat import (
    DirectSendTLSProtocol,
    directPoll,
    directSocket,
    epollInternals,
    passingWrapper,
    plainReaders,
    tlsDirectSendUsable,
    tlsSteadyStateUsable,
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

        class NoOffset(FileDescriptor):
            offset = None  # type: ignore[assignment]

        class NoPause(FileDescriptor):
            _maybePauseProducer = None

        for lacking in (NoOffset, NoPause):
            self.assertFalse(writeBuffersVisible(lacking(MemoryReactor())))  # type: ignore[arg-type]
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

    def countCalls(self) -> dict[str, int]:
        """
        Count the calls of pyOpenSSL's C functions the override makes from
        here on, by name (C{BIO_read} drains the send BIO).
        """
        counting = _Counting(_directio._lib)
        self.patch(_directio, "_lib", counting)
        return counting.calls

    def test_fastPathOnThisTwisted(self) -> None:
        """
        This Twisted's TLS protocol sends through C{_flushSendBIO}, so it is
        overridden, and the override drains the encrypted bytes with
        C{BIO_read} (and sends them through L{writeNow}).
        """
        self.assertTrue(tlsDirectSendUsable(TLSMemoryBIOProtocol))
        self.assertTrue(_twistedcompat.TLS_DIRECT_SEND)
        self.assertIn("_flushSendBIO", vars(DirectSendTLSProtocol))
        calls = self.countCalls()
        self.assertEqual(b"".join(self.roundTrip()), b"ping")
        self.assertGreater(calls.get("BIO_read", 0), 0)

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
        Without the overrides (what L{DirectSendTLSProtocol} is when the
        hook is missing: no steady state either), Twisted's own
        C{_flushSendBIO} writes the bytes and the exchange works the same.
        """
        for name in ("_flushSendBIO", "dataReceived", "write", "_write"):
            self.patch(DirectSendTLSProtocol, name, getattr(TLSMemoryBIOProtocol, name))
        calls = self.countCalls()
        self.assertEqual(b"".join(self.roundTrip()), b"ping")
        self.assertEqual(calls.get("BIO_read", 0), 0)

    def test_steadyWrites(self) -> None:
        """
        Writes to a L{DirectSendTLSProtocol} may go straight to its steady
        state while its C{write} is the class's own; not to Twisted's TLS
        protocol, nor once C{write} is another (a test forcing Twisted's
        code, a subclass's own).
        """
        factory = TLSMemoryBIOFactory(ssl.CertificateOptions(), True, Factory.forProtocol(Protocol))
        ours = DirectSendTLSProtocol(factory, Protocol())
        twisted = TLSMemoryBIOProtocol(factory, Protocol())
        self.assertTrue(_twistedcompat.steadyWrites(ours))
        self.assertFalse(_twistedcompat.steadyWrites(twisted))
        self.assertFalse(_twistedcompat.steadyWrites(StringTransport()))

        class OwnWrite(DirectSendTLSProtocol):
            def write(self, data: bytes) -> None:
                pass

        self.assertFalse(_twistedcompat.steadyWrites(OwnWrite(factory, Protocol())))
        self.patch(DirectSendTLSProtocol, "write", TLSMemoryBIOProtocol.write)
        self.assertFalse(_twistedcompat.steadyWrites(ours))

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


class _Recorder(Protocol):
    """
    An application behind TLS that records what it receives and why its
    connection ended, and echoes when asked to.
    """

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.chunks: list[bytes] = []
        self.reason: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)
        if self.echo:
            self.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.reason = reason


class _Counting:
    """
    Stands in for pyOpenSSL's C{lib}, counting the calls of each function.
    """

    def __init__(self, lib: Any) -> None:
        self._lib = lib
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._lib, name)
        if not callable(value):
            return value

        def counted(*args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return value(*args)

        return counted


_CA: list[tuple[bytes, bytes]] = []


def readUntilBlocked(read: Callable[[int], bytes]) -> tuple[bytes, bool]:
    """
    Everything C{read} (a pyOpenSSL connection's C{recv} or C{bio_read})
    gives until it would block, and whether the peer's close_notify ended
    it.
    """
    out = b""
    while True:
        try:
            out += read(2**16)
        except SSL.WantReadError:
            return out, False
        except SSL.ZeroReturnError:
            return out, True


def _serverPEM() -> bytes:
    if not _CA:
        ca = TestCA()
        certificate, key = ca.leaf("localhost")
        _CA.append((certificate, key))
    certificate, key = _CA[0]
    return certificate + key


class TLSSteadyStateTests(SynchronousTestCase):
    """
    Once its handshake is done, L{DirectSendTLSProtocol} decrypts with
    C{SSL_read} and encrypts with C{SSL_write} itself, and hands anything
    unusual to Twisted's own methods.  Each test is a transcript between
    a client driven by hand (a pyOpenSSL connection on memory BIOs) and the
    server protocol on a L{StringTransport}; L{TLSSteadyStateFallbackTests}
    runs them again as a Twisted without the shortcut would.
    """

    fast = True
    clientClosed = False

    def setUp(self) -> None:
        if not self.fast:
            forceTwistedTLS(self)

    def connect(self, echo: bool = False, maximum: int | None = None) -> None:
        """
        Make a server connection with a L{_Recorder} behind it, and a client,
        and finish their handshake.

        @param maximum: The client's highest TLS version (to renegotiate,
            TLS 1.2).
        """
        options = ssl.PrivateCertificate.loadPEM(_serverPEM()).options()
        self.app = _Recorder(echo)
        factory = TLSMemoryBIOFactory(options, False, Factory.forProtocol(lambda: self.app))
        factory.protocol = DirectSendTLSProtocol
        self.server: Any = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 443))
        self.transport = StringTransport()
        self.server.makeConnection(self.transport)
        context = SSL.Context(SSL.TLS_METHOD)
        if maximum is not None:
            context.set_max_proto_version(maximum)
        self.client = SSL.Connection(context, None)
        self.client.set_connect_state()
        for _ in range(10):
            try:
                self.client.do_handshake()
            except SSL.WantReadError:
                pass
            self.toServer(self.fromClient())
            self.toClient()
        self.assertTrue(self.server._handshakeDone)
        self.drain()

    def fromClient(self) -> bytes:
        """
        What the client has encrypted to send.
        """
        return readUntilBlocked(self.client.bio_read)[0]

    def toServer(self, data: bytes) -> None:
        if data:
            self.server.dataReceived(data)

    def toClient(self) -> None:
        """
        Give the client what the server wrote.
        """
        data = self.transport.value()
        self.transport.clear()
        if data:
            self.client.bio_write(data)

    def drain(self) -> bytes:
        """
        What the client decrypts of what the server wrote, up to the
        server's close_notify if it sent one (then C{clientClosed}).
        """
        self.toClient()
        out, closed = readUntilBlocked(self.client.recv)
        if closed:
            self.clientClosed = True
        return out

    def send(self, data: bytes) -> bytes:
        """
        The client encrypts C{data}; returns its records.
        """
        self.client.send(data)
        return self.fromClient()

    def test_taken(self) -> None:
        """
        On this Twisted and pyOpenSSL, a request and its response after the
        handshake go through C{SSL_read} and C{SSL_write}, not through
        pyOpenSSL's C{recv} and C{send} (and the other way round in the
        fallback).
        """
        self.assertTrue(tlsSteadyStateUsable())
        self.assertTrue(_twistedcompat.TLS_STEADY_STATE)
        self.connect(echo=True)
        counting = _Counting(_directio._lib)
        self.patch(_directio, "_lib", counting)
        wrapped: list[str] = []
        recv, send = SSL.Connection.recv, SSL.Connection.send

        def countedRecv(connection: SSL.Connection, size: int) -> bytes:
            if connection is self.server._tlsConnection:
                wrapped.append("recv")
            return recv(connection, size)

        def countedSend(connection: SSL.Connection, data: bytes) -> int:
            if connection is self.server._tlsConnection:
                wrapped.append("send")
            return send(connection, data)

        self.patch(SSL.Connection, "recv", countedRecv)
        self.patch(SSL.Connection, "send", countedSend)
        self.toServer(self.send(b"GET / HTTP/1.1\r\n\r\n"))
        self.assertEqual(self.drain(), b"GET / HTTP/1.1\r\n\r\n")
        if self.fast:
            self.assertEqual(wrapped, [])
            self.assertEqual(counting.calls["SSL_read"], 2)
            self.assertEqual(counting.calls["SSL_write"], 1)
            # The echo's record is drained once; after the read, the send
            # BIO's length says there is nothing more to drain.
            self.assertEqual(counting.calls["BIO_read"], 1)
            self.assertEqual(counting.calls["BIO_get_mem_data"], 1)
            self.assertNotIn("BIO_should_retry", counting.calls)
        else:
            self.assertEqual(wrapped, ["recv", "send", "recv"])
            self.assertEqual(counting.calls, {})

    def test_roundTrip(self) -> None:
        """
        The application gets the request and its response reaches the
        client, several times over.
        """
        self.connect(echo=True)
        for i in range(3):
            request = b"request %d" % (i,)
            self.toServer(self.send(request))
            self.assertEqual(self.drain(), request)
        self.assertEqual(self.app.chunks, [b"request 0", b"request 1", b"request 2"])

    def test_oneByteAtATime(self) -> None:
        """
        Records that arrive one byte at a time are delivered whole once
        their last byte is in.
        """
        self.connect()
        wire = self.send(b"first") + self.send(b"second")
        for i in range(len(wire)):
            self.toServer(wire[i : i + 1])
        self.assertEqual(self.app.chunks, [b"first", b"second"])

    def test_manyRecords(self) -> None:
        """
        Many records in one read are all delivered, in order.
        """
        self.connect()
        wire = b"".join(self.send(b"record %d;" % (i,)) for i in range(20))
        self.toServer(wire)
        self.assertEqual(b"".join(self.app.chunks), b"".join(b"record %d;" % (i,) for i in range(20)))

    def test_largeWrites(self) -> None:
        """
        A 100 KiB write, and a 100 KiB request, arrive intact.
        """
        self.connect()
        body = os.urandom(100 * 1024)
        self.app.transport.write(body)  # type: ignore[union-attr]
        self.assertEqual(self.drain(), body)
        self.client.sendall(body)
        self.toServer(self.fromClient())
        self.assertEqual(b"".join(self.app.chunks), body)

    def test_dataWithHandshake(self) -> None:
        """
        Data the client sends with its last handshake message is delivered.
        """
        options = ssl.PrivateCertificate.loadPEM(_serverPEM()).options()
        self.app = _Recorder(echo=True)
        factory = TLSMemoryBIOFactory(options, False, Factory.forProtocol(lambda: self.app))
        factory.protocol = DirectSendTLSProtocol
        self.server = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 443))
        self.transport = StringTransport()
        self.server.makeConnection(self.transport)
        self.client = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
        self.client.set_connect_state()
        self.assertRaises(SSL.WantReadError, self.client.do_handshake)
        self.toServer(self.fromClient())
        self.toClient()
        self.client.send(b"early")
        self.toServer(self.fromClient())
        self.assertEqual(self.app.chunks, [b"early"])
        self.assertEqual(self.drain(), b"early")
        self.toServer(self.send(b"later"))
        self.assertEqual(self.drain(), b"later")

    def test_closeNotify(self) -> None:
        """
        A client's close_notify is answered with the server's, the
        connection is closed, and the application is told the connection
        ended cleanly.
        """
        self.connect()
        self.toServer(self.send(b"last"))
        self.client.shutdown()
        self.toServer(self.fromClient())
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.drain(), b"")
        self.assertTrue(self.clientClosed)
        self.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.app.chunks, [b"last"])
        assert self.app.reason is not None
        self.assertIsInstance(self.app.reason.value, ConnectionDone)

    def test_corruptRecord(self) -> None:
        """
        A record that fails to decrypt closes the connection, and the
        application is told the TLS error.
        """
        self.connect()
        wire = bytearray(self.send(b"tampered"))
        wire[-3] ^= 1
        self.toServer(bytes(wire))
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.app.chunks, [])
        # The server's alert.
        self.toClient()
        self.assertRaises(SSL.Error, self.client.recv, 100)
        self.server.connectionLost(Failure(ConnectionDone()))
        assert self.app.reason is not None
        self.assertIsInstance(self.app.reason.value, SSL.Error)
        self.assertIn("bad record mac", str(self.app.reason.value))

    def test_writeAfterShutdown(self) -> None:
        """
        A write that OpenSSL refuses ends the connection with OpenSSL's
        error, reported once.
        """
        self.connect()
        self.server._tlsConnection.shutdown()
        self.server._flushSendBIO()
        self.app.transport.write(b"too late")  # type: ignore[union-attr]
        self.assertTrue(self.transport.disconnecting)
        self.server.connectionLost(Failure(ConnectionDone()))
        assert self.app.reason is not None
        self.assertEqual(
            self.app.reason.value.args[0], [("SSL routines", "", "protocol is shutdown")]
        )

    def test_standInConnection(self) -> None:
        """
        A connection object that only stands in for pyOpenSSL's (Twisted's
        own tests wrap one) is used through its methods: one whose C{send}
        fails ends the connection with that error, and what it receives
        is still delivered through its C{recv}.
        """
        self.connect()
        tls = self.server._tlsConnection

        class StandIn:
            def __getattr__(self, name: str) -> Any:
                return getattr(tls, name)

            def send(self, data: bytes) -> int:
                raise SSL.Error([("SSL routines", "", "refused by the stand-in")])

        self.server._tlsConnection = StandIn()
        self.toServer(self.send(b"through recv"))
        self.assertEqual(self.app.chunks, [b"through recv"])
        self.app.transport.write(b"hello")  # type: ignore[union-attr]
        self.assertTrue(self.transport.disconnecting)
        self.server.connectionLost(Failure(ConnectionDone()))
        assert self.app.reason is not None
        self.assertIn("refused by the stand-in", str(self.app.reason.value))

    def test_peerGone(self) -> None:
        """
        When the connection ends without close_notify, the application is
        told that the connection was lost, not that it was done.
        """
        self.connect()
        self.toServer(self.send(b"data"))
        self.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.app.chunks, [b"data"])
        assert self.app.reason is not None
        self.assertIsInstance(self.app.reason.value, ConnectionLost)

    def test_loseConnection(self) -> None:
        """
        The application's C{loseConnection} sends close_notify after what it
        wrote; later writes are dropped, and data still arriving is
        delivered.
        """
        self.connect()
        self.app.transport.write(b"bye")  # type: ignore[union-attr]
        self.app.transport.loseConnection()  # type: ignore[union-attr]
        self.app.transport.write(b"dropped")  # type: ignore[union-attr]
        self.assertEqual(self.drain(), b"bye")
        self.assertTrue(self.clientClosed)
        self.toServer(self.send(b"crossing"))
        self.assertEqual(self.app.chunks, [b"crossing"])
        self.client.shutdown()
        self.toServer(self.fromClient())
        self.assertTrue(self.transport.disconnecting)

    def test_abortConnection(self) -> None:
        """
        After C{abortConnection}, nothing more is delivered.
        """
        self.connect()
        wire = self.send(b"one") + self.send(b"two")

        class Aborting(_Recorder):
            def dataReceived(self, data: bytes) -> None:
                super().dataReceived(data)
                self.transport.abortConnection()  # type: ignore[union-attr]

        aborting = Aborting()
        aborting.makeConnection(self.server)
        self.server.wrappedProtocol = aborting
        self.toServer(wire)
        self.assertEqual(aborting.chunks, [b"one"])
        self.toServer(self.send(b"three"))
        self.assertEqual(aborting.chunks, [b"one"])

    def test_pausedTransport(self) -> None:
        """
        While the transport pauses the application's producer, what the
        application still writes reaches the client, in order; resuming the
        transport resumes the producer.
        """
        self.connect()
        producer = StringTransport()
        self.app.transport.registerProducer(producer, True)  # type: ignore[union-attr]
        self.transport.producer.pauseProducing()
        self.assertEqual(producer.producerState, "paused")
        for i in range(5):
            self.app.transport.write(b"chunk %d;" % (i,))  # type: ignore[union-attr]
        self.toServer(self.send(b"request"))
        self.assertEqual(self.app.chunks, [b"request"])
        self.assertEqual(self.drain(), b"".join(b"chunk %d;" % (i,) for i in range(5)))
        self.transport.producer.resumeProducing()
        self.assertEqual(producer.producerState, "producing")
        self.app.transport.unregisterProducer()  # type: ignore[union-attr]

    def test_renegotiation(self) -> None:
        """
        The server may renegotiate a TLS 1.2 connection while the
        application writes: what it writes is held until the new handshake
        is done, then sent in order, and requests keep arriving.
        """
        self.connect(echo=True, maximum=SSL.TLS1_2_VERSION)
        self.toServer(self.send(b"before"))
        self.assertEqual(self.drain(), b"before")
        tls = self.server._tlsConnection
        self.assertTrue(tls.renegotiate())
        tls.do_handshake()
        self.server._flushSendBIO()
        self.assertEqual(self.drain(), b"")
        self.toServer(self.fromClient())
        self.app.transport.write(b"during")  # type: ignore[union-attr]
        received = b""
        for _ in range(5):
            received += self.drain()
            self.toServer(self.fromClient())
        self.assertEqual(tls.total_renegotiations(), 1)
        self.assertFalse(tls.renegotiate_pending())
        self.toServer(self.send(b"after"))
        received += self.drain()
        self.assertEqual(received, b"duringafter")
        self.assertEqual(self.app.chunks, [b"before", b"after"])

    def test_clientRenegotiationRefused(self) -> None:
        """
        A TLS 1.2 client that asks to renegotiate is refused with an alert;
        the server keeps the connection.
        """
        self.connect(echo=True, maximum=SSL.TLS1_2_VERSION)
        self.assertTrue(self.client.renegotiate())
        self.assertRaises(SSL.WantReadError, self.client.do_handshake)
        self.toServer(self.fromClient())
        error = self.assertRaises(SSL.Error, self.drain)
        self.assertIn("no renegotiation", str(error))
        self.assertFalse(self.transport.disconnecting)
        self.assertEqual(self.app.chunks, [])


class TLSSteadyStateFallbackTests(TLSSteadyStateTests):
    """
    The same transcripts with Twisted's own methods, as on a Twisted or
    pyOpenSSL without the internals the steady state reads.
    """

    fast = False


def forceTwistedTLS(testCase: SynchronousTestCase) -> None:
    """
    Make L{DirectSendTLSProtocol} what it is when L{TLS_STEADY_STATE} is
    false: Twisted's C{dataReceived}, C{write} and C{_write}, and the send through
    pyOpenSSL's C{bio_read}.
    """
    testCase.patch(DirectSendTLSProtocol, "dataReceived", TLSMemoryBIOProtocol.dataReceived)
    testCase.patch(DirectSendTLSProtocol, "write", TLSMemoryBIOProtocol.write)
    testCase.patch(DirectSendTLSProtocol, "_write", TLSMemoryBIOProtocol._write)
    testCase.patch(DirectSendTLSProtocol, "_flushSendBIO", _twistedcompat._flushThroughPyOpenSSL)
    testCase.patch(_directio, "_lib", None)


class TLSSteadyStateDetectionTests(SynchronousTestCase):
    """
    L{tlsSteadyStateUsable} refuses a pyOpenSSL or a Twisted without what
    the steady state reads.
    """

    def test_libraryMissing(self) -> None:
        """
        A pyOpenSSL whose C{lib} lacks a function, or with no C{ffi}, is
        refused.
        """
        from OpenSSL import _util

        class Lacking:
            lib = type("lib", (), {"SSL_read": _util.lib.SSL_read})()
            ffi = _util.ffi

        class NoFFI:
            lib = _util.lib

        self.assertTrue(tlsSteadyStateUsable(library=_util))
        self.assertFalse(tlsSteadyStateUsable(library=Lacking))
        self.assertFalse(tlsSteadyStateUsable(library=NoFFI))

    def test_connectionMissing(self) -> None:
        """
        A connection without its C{SSL *} or BIOs, or whose C{_ssl} is not
        an C{SSL *}, is refused.
        """
        connection = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)

        class Renamed:
            _context = connection._context
            _raise_ssl_error = connection._raise_ssl_error
            _sslPointer = connection._ssl
            _into_ssl = connection._into_ssl
            _from_ssl = connection._from_ssl

        class Swapped(Renamed):
            _ssl = connection._into_ssl

        self.assertTrue(tlsSteadyStateUsable(connection=connection))
        self.assertFalse(tlsSteadyStateUsable(connection=Renamed()))
        self.assertFalse(tlsSteadyStateUsable(connection=Swapped()))

    def test_twistedChanged(self) -> None:
        """
        A TLS protocol whose methods no longer use the names the steady
        state stands in for is refused.
        """

        class Changed(TLSMemoryBIOProtocol):
            def dataReceived(self, data: bytes) -> None:
                self._tlsConnection.bio_write(data)

        self.assertTrue(tlsSteadyStateUsable(TLSMemoryBIOProtocol))
        self.assertFalse(tlsSteadyStateUsable(Changed))


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
        self.assertEqual(reactor.doIteration.__qualname__, "Poller.doPoll")
        self.assertEqual(
            plainReaders(type(reactor)._doReadOrWrite), frozenset({tcp.Server, tcp.Client})
        )
        reads = self.countTwistedReads()
        self.runEcho(reactor)
        # Both ends' reads were done by the poller, none by Twisted's doRead.
        self.assertEqual(reads, [])

    def countTwistedReads(self) -> list[object]:
        """
        Record the calls of Twisted's C{tcp.Connection.doRead} from here on.
        """
        calls: list[object] = []
        doRead = tcp.Connection.doRead

        def counted(connection: tcp.Connection) -> object:
            calls.append(connection)
            return doRead(connection)

        self.patch(tcp.Connection, "doRead", counted)
        return calls

    def exchange(self, reactor: Any, server: Callable[[], Protocol], send: bytes) -> list[Failure]:
        """
        A client connects to a C{server()} through C{reactor}, sends
        C{send} and closes; the server's protocol records why it lost its
        connection, and the reactor stops then.

        @return: The reasons the server's connections were lost.
        """
        lost: list[Failure] = []

        class Server(server):  # type: ignore[misc,valid-type]
            def connectionLost(self, reason: Failure = connectionDone) -> None:
                lost.append(reason)
                reactor.stop()

        class Sender(Protocol):
            def connectionMade(self) -> None:
                self.transport.write(send)  # type: ignore[union-attr]
                self.transport.loseConnection()  # type: ignore[union-attr]

        port = reactor.listenTCP(0, Factory.forProtocol(Server), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        reactor.connectTCP("127.0.0.1", port.getHost().port, ClientFactory.forProtocol(Sender))
        deadline = reactor.callLater(10, reactor.stop)
        reactor.run(installSignalHandlers=False)
        self.assertTrue(deadline.active(), "the exchange did not finish in 10 s")
        deadline.cancel()
        return lost

    def test_closedByPeer(self) -> None:
        """
        A peer that closes its connection is a clean close (C{ConnectionDone})
        for the poller, as for Twisted's C{doRead}, after its bytes.
        """
        received: list[bytes] = []

        class Recording(Protocol):
            def dataReceived(self, data: bytes) -> None:
                received.append(data)

        reactor: Any = newReactor()
        reads = self.countTwistedReads()
        [reason] = self.exchange(reactor, Recording, b"bye")
        self.assertEqual(b"".join(received), b"bye")
        reason.trap(ConnectionDone)
        self.assertEqual(reads, [])

    def test_protocolRaises(self) -> None:
        """
        An exception from a protocol's C{dataReceived} is logged and loses
        its connection with that exception as the reason, as Twisted's
        C{_doReadOrWrite} does.
        """

        class Raising(Protocol):
            def dataReceived(self, data: bytes) -> None:
                raise ZeroDivisionError(data)

        reactor: Any = newReactor()
        [reason] = self.exchange(reactor, Raising, b"boom")
        reason.trap(ZeroDivisionError)
        [logged] = self.flushLoggedErrors(ZeroDivisionError)
        self.assertEqual(logged.value.args, (b"boom",))

    def test_returnedValue(self) -> None:
        """
        What the poller makes of a value returned by a protocol's
        C{dataReceived} is what this Twisted's C{_dataReceived} returns for
        it.
        """

        class Returning(Protocol):
            def dataReceived(self, data: bytes) -> object:  # type: ignore[override]
                return ConnectionLost("returned")

        connection: Any = type("Connection", (), {"protocol": Returning()})()
        twisted = tcp.Connection._dataReceived(connection, b"x")
        ours = _twistedcompat._returned(connection, connection.protocol.dataReceived(b"x"))
        self.flushWarnings()
        self.assertIs(type(ours), type(twisted))

    def test_endpointWrapperSkipped(self) -> None:
        """
        Bytes for a connection made through a client endpoint go to the
        protocol its C{_WrappingProtocol} wraps, without the wrapper's
        C{dataReceived}; what the protocol sees is the same.
        """
        from twisted.internet import endpoints

        self.assertIs(passingWrapper(), endpoints._WrappingProtocol)
        passed: list[bytes] = []
        original = endpoints._WrappingProtocol.dataReceived

        def counted(wrapper: Any, data: bytes) -> object:
            passed.append(data)
            return original(wrapper, data)

        reactor: Any = newReactor()
        # After the reactor is made: the poll checks the method's code then.
        self.patch(endpoints._WrappingProtocol, "dataReceived", counted)
        port = reactor.listenTCP(0, Factory.forProtocol(_Echo), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        got: list[bytes] = []
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        endpoint.connect(Factory.forProtocol(lambda: _Client(reactor, got)))
        deadline = reactor.callLater(10, reactor.stop)
        reactor.run(installSignalHandlers=False)
        self.assertTrue(deadline.active(), "the exchange did not finish in 10 s")
        deadline.cancel()
        self.assertEqual(b"".join(got), b"ping")
        self.assertEqual(passed, [])

    def test_otherWrapperKept(self) -> None:
        """
        A wrapper whose C{dataReceived} does more than pass the bytes on is
        not skipped.
        """

        class Counting(Protocol):
            def dataReceived(self, data: bytes) -> None:
                self.count = len(data)
                self._wrappedProtocol.dataReceived(data)  # type: ignore[attr-defined]

        self.assertIsNone(passingWrapper(Counting))
        self.assertIsNone(passingWrapper(Protocol))

    def test_steadyTLSReceive(self) -> None:
        """
        Bytes for a protocol whose C{dataReceived} is
        L{DirectSendTLSProtocol}'s own go to C{_directio.receive} without
        that method (outside the steady state, on to the protocol's
        C{receivedOutsideSteadyState}); other protocols' C{dataReceived}
        is called.
        """
        self.assertIs(
            _twistedcompat._STEADY_RECEIVE, vars(DirectSendTLSProtocol)["dataReceived"]
        )
        got: list[tuple[str, bytes]] = []

        class TLSLike:
            _handshakeDone = False

            def dataReceived(self, data: bytes) -> None:
                got.append(("dataReceived", data))

            def receivedOutsideSteadyState(self, data: bytes) -> None:
                got.append(("outside", data))

        class Plain(TLSLike):
            def dataReceived(self, data: bytes) -> None:
                got.append(("plain", data))

        class Socket:
            def __init__(self, data: bytes) -> None:
                self.data = data

            def recv(self, size: int) -> bytes:
                return self.data

        class Connection:
            bufferSize = 65536

            def __init__(self, protocol: object, data: bytes) -> None:
                self.protocol = protocol
                self.socket = Socket(data)

            def fileno(self) -> int:
                return 7

        class Poller:
            def poll(self, timeout: float, count: int) -> list[tuple[int, int]]:
                return [(3, select.EPOLLIN), (4, select.EPOLLIN)]

        class Reactor:
            _poller = Poller()
            _selectables = {3: Connection(TLSLike(), b"tls"), 4: Connection(Plain(), b"plain")}

            def _doReadOrWrite(self, selectable: object, fd: int, event: int) -> None:
                raise AssertionError("read by the poller")

        poll = _directio.Poller(
            Reactor(),
            Logger(),
            frozenset({Connection}),
            object(),
            _twistedcompat._returned,
            None,
            TLSLike.dataReceived,
        ).doPoll
        poll(0)
        self.assertEqual(got, [("outside", b"tls"), ("plain", b"plain")])

    def test_readersRefused(self) -> None:
        """
        A connection type whose read methods are its own, or Twisted
        methods whose code reads other names, get no reads from the poller.
        """
        handle = proxyreactor.EPollReactor._doReadOrWrite

        class OwnRead(tcp.Server):
            def doRead(self) -> None:
                pass

        self.assertEqual(plainReaders(handle, types=(OwnRead, tcp.Client)), frozenset({tcp.Client}))

        class OtherRead:
            def doRead(self) -> None:
                self._readSomehow()  # type: ignore[attr-defined]

            def _dataReceived(self, data: bytes) -> None:
                self.protocol.dataReceived(data)  # type: ignore[attr-defined]

        self.assertEqual(plainReaders(handle, connection=OtherRead, types=(OtherRead,)), frozenset())

        def otherHandle(selectable: Any) -> None:
            selectable.doRead()

        self.assertEqual(plainReaders(otherHandle), frozenset())
        self.assertEqual(plainReaders(None), frozenset())

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


class _Sending:
    """
    A socket that records its sends and takes at most C{take} bytes of
    each (all of them when C{None}).
    """

    def __init__(self, sock: socket.socket, take: int | None = None) -> None:
        self.sock = sock
        self.take = take
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return self.sock.send(data[: self.take])


class HeldSendsTests(SynchronousTestCase):
    """
    While the poller handles one poll's events, L{writeNow} holds sends
    back and makes them, one per connection, when the events are handled.
    """

    def poll(self, *handlers: Callable[[], object]) -> None:
        """
        Run one poll whose events (write events, so handled through
        C{_doReadOrWrite}) call C{handlers} in turn.
        """
        events = [(fd, select.EPOLLOUT) for fd in range(len(handlers))]

        class Poller:
            def poll(self, timeout: float, count: int) -> list[tuple[int, int]]:
                return events

        class Reactor:
            _poller = Poller()
            _selectables = dict(enumerate(handlers))

            def _doReadOrWrite(self, selectable: Any, fd: int, event: int) -> None:
                selectable()

        _directio.Poller(
            Reactor(), Logger(), frozenset(), object(), _twistedcompat._returned
        ).doPoll(0)

    def test_heldUntilEventsHandled(self) -> None:
        """
        Bytes written during a poll reach the socket after its last event,
        each connection's in one send, in the order they were written.
        """
        transport, peer = tcpServer(self)
        sock = _Sending(transport.socket)
        other, otherPeer = tcpServer(self)
        otherSock = _Sending(other.socket)
        seen: list[bytes] = []

        def first() -> None:
            writeNow(transport, sock, b"head ")
            writeNow(other, otherSock, b"other")
            writeNow(transport, sock, b"body")

        def second() -> None:
            for each in (peer, otherPeer):
                try:
                    seen.append(each.recv(100))
                except BlockingIOError:
                    pass

        self.poll(first, second)
        self.assertEqual(seen, [])
        self.assertEqual(peer.recv(100), b"head body")
        self.assertEqual(otherPeer.recv(100), b"other")
        self.assertEqual(sock.sent, [b"head body"])
        self.assertEqual(otherSock.sent, [b"other"])
        self.assertFalse(transport.dataBuffer or transport._tempDataBuffer)

    def test_notHeldOutsidePoll(self) -> None:
        """
        Between polls (in timed calls, say), bytes are sent at once.
        """
        transport, peer = tcpServer(self)
        self.poll(lambda: None)
        writeNow(transport, directSocket(transport), b"now")
        self.assertEqual(peer.recv(100), b"now")

    def test_limit(self) -> None:
        """
        Once the bytes held reach the limit, all of them are sent at once.
        """
        transport, peer = tcpServer(self)
        other, otherPeer = tcpServer(self)
        big = b"x" * _directio._HOLD_LIMIT
        got: list[bytes] = []

        def write() -> None:
            writeNow(other, directSocket(other), b"small")
            writeNow(transport, directSocket(transport), big)
            got.append(otherPeer.recv(100))

        self.poll(write)
        self.assertEqual(got, [b"small"])
        received = b""
        while len(received) < len(big):
            received += peer.recv(len(big))
        self.assertEqual(received, big)

    def test_twistedBuffering(self) -> None:
        """
        When Twisted holds bytes for a connection, later ones are queued
        after them rather than held.
        """
        transport, peer = tcpServer(self)
        transport.write(b"first ")
        self.poll(lambda: writeNow(transport, directSocket(transport), b"second"))
        self.assertRaises(BlockingIOError, peer.recv, 100)
        transport.doWrite()
        self.assertEqual(peer.recv(100), b"first second")

    def test_partialSend(self) -> None:
        """
        What the kernel does not take of the bytes held goes to Twisted's
        buffer, and out on the reactor's next turn.
        """
        transport, peer = tcpServer(self)
        sock = _Sending(transport.socket, take=2)
        self.poll(lambda: writeNow(transport, sock, b"held"))
        self.assertEqual(peer.recv(100), b"he")
        transport.doWrite()
        self.assertEqual(peer.recv(100), b"ld")

    def test_partialSendBeforeLater(self) -> None:
        """
        When bytes were written around L{writeNow} (straight to Twisted)
        after some were held, what the kernel does not take of the held
        ones still goes before them.
        """
        transport, peer = tcpServer(self)
        sock = _Sending(transport.socket, take=2)

        def write() -> None:
            writeNow(transport, sock, b"held")
            transport.write(b" later")

        self.poll(write)
        self.assertEqual(peer.recv(100), b"he")
        transport.doWrite()
        self.assertEqual(peer.recv(100), b"ld later")

    def test_closingAfterHeld(self) -> None:
        """
        A connection closed after its bytes were held sends them, then
        closes.
        """
        transport, peer = tcpServer(self)

        def write() -> None:
            writeNow(transport, directSocket(transport), b"last")
            transport.loseConnection()

        self.poll(write)
        self.assertEqual(peer.recv(100), b"last")
        # Nothing left for Twisted's turn to send: it closes.
        self.assertIs(transport.doWrite(), CONNECTION_DONE)

    def test_lostWhileHeld(self) -> None:
        """
        Bytes held for a connection lost before they are sent are dropped,
        as Twisted drops bytes written to a lost connection.
        """
        transport, peer = tcpServer(self)
        sock = _Sending(transport.socket)

        def write() -> None:
            writeNow(transport, sock, b"lost")

        def lose() -> None:
            transport.connectionLost(Failure(ConnectionDone()))

        self.poll(write, lose)
        self.assertEqual(sock.sent, [])
        self.assertEqual(peer.recv(100), b"")

    def test_eventRaises(self) -> None:
        """
        An event whose handling raises is logged; what was held is sent
        all the same.
        """
        transport, peer = tcpServer(self)

        def write() -> None:
            writeNow(transport, directSocket(transport), b"kept")

        def fail() -> None:
            raise ZeroDivisionError()

        self.poll(write, fail)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(peer.recv(100), b"kept")


class OnlyHereTests(SynchronousTestCase):
    """
    No proxykit module but L{proxykit._twistedcompat} and its per-request
    half, L{proxykit._directio}, names the Twisted and pyOpenSSL internals
    it wraps.
    """

    def test_onlyHere(self) -> None:
        """
        The private Twisted names appear in no other module's source.
        """
        names = ("_tempDataBuffer", "_flushSendBIO", "_tlsConnection", "_poller", "_selectables", "_doReadOrWrite", "numberAccepts", "_exitSignal", "._logger", "_from_ssl", "_into_ssl", "_raise_ssl_error", "_verify_helper", "OpenSSL._util", "SSL_read")
        root = Path(proxykit.__file__).parent
        found = [
            f"{path.relative_to(root)}: {name}"
            for path in sorted(root.rglob("*.py"))
            if path.name not in ("_twistedcompat.py", "_directio.py")
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
