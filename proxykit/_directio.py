# -*- test-case-name: tests.test_twistedcompat -*-
"""
The per-request half of L{proxykit._twistedcompat}: L{writeNow}, and the
steady state of its C{DirectSendTLSProtocol} (L{flushSendBIO},
L{receive}, L{write}, L{encrypt}), as functions the compiled build
compiles.

L{proxykit._twistedcompat} decides, once, whether each may be used, and
documents the Twisted and pyOpenSSL internals they read; this module only
does the work, on every request.  Its functions take the protocol as an
argument rather than being its methods, so that compiled they run as C
without a Python frame apiece: C{DirectSendTLSProtocol}'s methods are
one call into them.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from select import EPOLLIN
from typing import Any

from OpenSSL import SSL
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python import log as legacyLog
from twisted.python.failure import Failure

__all__ = [
    "Poller",
    "encrypt",
    "flushSendBIO",
    "flushThroughPyOpenSSL",
    "receive",
    "steady",
    "write",
    "writeNow",
]

_util: Any
try:
    from OpenSSL import _util
except ImportError:  # pragma: no cover - _twistedcompat refuses the steady state then
    _util = None

_ffi: Any = getattr(_util, "ffi", None)
_lib: Any = getattr(_util, "lib", None)
"""
pyOpenSSL's cffi C{ffi} and C{lib}; module variables, not constants, so
that tests may stand a counting C{lib} in.
"""

_WANT_READ: int = getattr(_lib, "SSL_ERROR_WANT_READ", 2)
_VERIFY_PEER: int = SSL.VERIFY_PEER

_RECORD = 2**14
"""The most plaintext one TLS record carries, and what one C{SSL_write} gets."""

_CHUNK = 2**15
"""The most one C{SSL_read} or C{BIO_read} asks for, as Twisted's do."""

_buffers = threading.local()
"""
Each thread's buffer (C{buffer}) for C{SSL_read} and C{BIO_read}: every
chunk is copied out before anything else runs, so one serves all the
connections of a thread.  (cffi lets go of the GIL in C calls, so threads
may not share one.)
"""


_HOLD_LIMIT = 2**16
"""
The most bytes L{writeNow} holds back during one poll (see L{_Sends}):
past it, what is held is sent at once.
"""


class _Held:
    """
    One connection's bytes held back during a poll: its socket, and what
    was written to it, in order.
    """

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self.sock = sock
        self.chunks = [data]


class _Sends:
    """
    The sends L{writeNow} holds back while a L{Poller} handles the events of
    one poll, to make them when it has handled them all.

    Each send to a loopback or local peer that sleeps in its own poll wakes
    it, and on a virtual machine a wake-up is an interrupt sent to another
    core: one per message when each is sent as it is written, a few per
    poll when a poll's messages leave together.  Twisted itself sends
    every write on the reactor's next turn; these go at the end of this
    one, without the two C{epoll_ctl} calls of Twisted's way.

    A connection's bytes are held only when Twisted holds none for it and
    it is neither lost nor closing; once some are held, later ones join
    them (in order), so they leave in one send.  Bytes Twisted comes to
    hold meanwhile (written around L{writeNow}) go after them.
    """

    def __init__(self) -> None:
        self.holding = False
        self.held: dict[Any, _Held] = {}
        self.size = 0

    def hold(self, transport: Any, sock: socket.socket, data: bytes) -> bool:
        """
        Hold C{data} for C{transport} until L{release}, if it may be held.

        @return: Whether it is held (else the caller writes it).
        """
        held = self.held.get(transport)
        if held is not None:
            held.chunks.append(data)
        elif not _unqueued(transport):
            return False
        else:
            self.held[transport] = _Held(sock, data)
        self.size += len(data)
        if self.size >= _HOLD_LIMIT:
            self.release()
        return True

    def release(self) -> None:
        """
        Send everything held, connection by connection in the order they
        were first written to.
        """
        held = self.held
        if held:
            self.held = {}
            self.size = 0
            for transport, one in held.items():
                _sendHeld(transport, one)


_SENDS = _Sends()


def _unqueued(transport: Any) -> bool:
    """
    Whether bytes for C{transport} may go to its socket ahead of Twisted:
    Twisted buffers nothing for it, and it is neither lost nor closing.
    """
    return bool(
        not transport.dataBuffer
        and not transport._tempDataBuffer
        and transport.connected
        and not transport.disconnecting
    )


def _send(sock: socket.socket, data: bytes) -> int:
    """
    Send C{data} on C{sock}: how many bytes the kernel took.
    """
    try:
        return sock.send(data)
    except OSError:
        # EAGAIN, or an error Twisted will meet and report itself.
        return 0


def _sendHeld(transport: Any, held: _Held) -> None:
    if not transport.connected:
        # Lost while they were held: dropped, as Twisted drops bytes
        # written to a lost connection.
        return
    chunks = held.chunks
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    sent = _send(held.sock, data)
    if sent == len(data):
        return
    rest = data[sent:]
    queued: bytes = transport.dataBuffer[transport.offset :]
    if queued or transport._tempDataBuffer:
        # Twisted took later bytes meanwhile: these go before them.
        transport.dataBuffer = rest + queued
        transport.offset = 0
        transport._maybePauseProducer()
    else:
        transport.write(rest)


def writeNow(transport: Any, sock: socket.socket | None, data: bytes) -> None:
    """
    Write C{data} to C{transport}; when it is a plain TCP connection (its
    socket C{sock}, from C{_twistedcompat.directSocket}), send without
    waiting for the reactor's next turn when possible.

    Twisted buffers every write until the reactor's next turn, which costs
    two C{epoll_ctl} calls and a wake-up per write.  With nothing buffered,
    try the socket first and hand Twisted only what the kernel did not
    take; order is kept because Twisted's buffer is empty.  While a
    L{Poller} handles a poll's events, the send waits for the end of them
    (see L{_Sends}).

    Reads C{FileDescriptor.dataBuffer}, C{offset} and C{_tempDataBuffer},
    only when C{sock} is given: C{directSocket} gives none unless
    C{_twistedcompat.DIRECT_SEND}.
    """
    if sock is None:
        transport.write(data)
        return
    sends = _SENDS
    if sends.holding:
        # Not held: Twisted's buffer already has bytes for it, or it is
        # lost or closing.
        if sends.hold(transport, sock, data):
            return
    elif _unqueued(transport):
        sent = _send(sock, data)
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


def _buffer() -> Any:
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _ffi.new("char[]", _CHUNK)
        _buffers.buffer = buffer
    return buffer


def _direct(connection: object) -> bool:
    """
    Whether the steady state may call OpenSSL for C{connection} itself.

    It must be a pyOpenSSL C{Connection}, not a subclass or a stand-in
    whose methods do something else (Twisted's own tests wrap one).  And
    pyOpenSSL must never raise from one of its callbacks after OpenSSL
    reported success: it raises a callback's exception from the next
    C{recv} or C{send} whatever OpenSSL returned.  An ALPN or SNI callback
    that fails fails the handshake, and so does a certificate verification
    callback with C{VERIFY_PEER}; a verification callback without it, or
    any OCSP callback, might not.
    """
    if type(connection) is not SSL.Connection:
        return False
    context: Any = connection._context
    return context._ocsp_helper is None and (
        context._verify_helper is None or bool(connection.get_verify_mode() & _VERIFY_PEER)
    )


def steady(protocol: Any) -> bool:
    """
    Whether C{protocol}, a C{DirectSendTLSProtocol}, is in the steady
    state, where L{receive} and L{encrypt} call OpenSSL themselves: its
    handshake done, no writes waiting for the peer, not closing, not
    aborted, not lost, and its connection one L{_direct} allows.
    """
    return bool(
        protocol._handshakeDone
        and not protocol._appSendBuffer
        and not protocol.disconnecting
        and not protocol._lostTLSConnection
        and not protocol._aborted
        and _direct(protocol._tlsConnection)
    )


def flushThroughPyOpenSSL(protocol: Any) -> None:
    """
    C{_flushSendBIO} of a C{DirectSendTLSProtocol} whose connection is not
    one L{flushSendBIO} reads with C{BIO_read} (or when this Twisted has no
    steady state): as Twisted's, through the connection's C{bio_read}, but
    written through L{writeNow}.
    """
    try:
        data = protocol._tlsConnection.bio_read(_CHUNK)
    except SSL.WantReadError:
        return
    writeNow(protocol.transport, protocol._socket, data)


def flushSendBIO(protocol: Any) -> None:
    """
    C{_flushSendBIO} of a C{DirectSendTLSProtocol}: as Twisted's, but
    drains the BIO through C{BIO_read} and writes through L{writeNow}: one
    send instead of a buffered write, two C{epoll_ctl} calls and a wake-up.
    """
    connection = protocol._tlsConnection
    if type(connection) is not SSL.Connection:
        # A stand-in: through its own bio_read.
        flushThroughPyOpenSSL(protocol)
        return
    lib = _lib
    bio = connection._from_ssl
    buffer = _buffer()
    while True:
        count: int = lib.BIO_read(bio, buffer, _CHUNK)
        if count <= 0:
            if not lib.BIO_should_retry(bio):
                # Not an empty BIO: pyOpenSSL raises what it is.
                connection.bio_read(_CHUNK)
            return
        writeNow(protocol.transport, protocol._socket, _ffi.unpack(buffer, count))
        if count < _CHUNK:
            return


def receive(protocol: Any, data: bytes) -> None:
    """
    C{dataReceived} of a C{DirectSendTLSProtocol}: in the steady state,
    write C{data} into the receive BIO and deliver what each C{SSL_read}
    gives until it wants more bytes; anything else OpenSSL says (a
    close_notify, an alert, an error) goes to Twisted's
    C{_flushReceiveBIO}, which reads again through pyOpenSSL (OpenSSL
    answers the same) and handles what pyOpenSSL raises.  What OpenSSL
    wrote meanwhile is sent.  Outside the
    steady state, the protocol's C{receivedOutsideSteadyState} (Twisted's
    C{dataReceived}, unless a subclass looks at the bytes first).
    """
    if type(data) is not bytes or not data or not steady(protocol):
        protocol.receivedOutsideSteadyState(data)
        return
    lib = _lib
    connection = protocol._tlsConnection
    written: int = lib.BIO_write(connection._into_ssl, data, len(data))
    if written != len(data):
        # A memory BIO takes all or nothing; pyOpenSSL raises why.
        connection.bio_write(data[max(written, 0) :])
    ssl = connection._ssl
    buffer = _buffer()
    while not protocol._lostTLSConnection:
        count: int = lib.SSL_read(ssl, buffer, _CHUNK)
        if count > 0:
            if not protocol._aborted:
                # ProtocolWrapper.dataReceived, as Twisted calls it.
                protocol.wrappedProtocol.dataReceived(_ffi.unpack(buffer, count))
            continue
        if lib.SSL_get_error(ssl, count) != _WANT_READ:
            # Twisted's method flushes too.
            TLSMemoryBIOProtocol._flushReceiveBIO(protocol)  # type: ignore[no-untyped-call]
            return
        break
    # Reading seldom makes OpenSSL write (a renegotiation, an alert, a
    # key update): the send BIO's length (BIO_get_mem_data without a
    # pointer) says whether to drain it, in one call rather than two.
    if lib.BIO_get_mem_data(connection._from_ssl, _ffi.NULL) > 0:
        flushSendBIO(protocol)


def write(protocol: Any, data: bytes) -> None:
    """
    C{write} of a C{DirectSendTLSProtocol}: as Twisted's (after
    C{loseConnection}, bytes are dropped unless a producer is registered),
    then L{encrypt}.
    """
    if protocol.disconnecting and protocol._producer is None:
        return
    encrypt(protocol, data)


def encrypt(protocol: Any, data: bytes) -> None:
    """
    C{_write} of a C{DirectSendTLSProtocol}: once the handshake is done,
    encrypt each record's worth with C{SSL_write} and send it.  A write
    that must wait for the peer (a renegotiation) goes to Twisted's
    C{_write}, which tries again and buffers it; a write that fails is
    raised by pyOpenSSL's C{_raise_ssl_error} from OpenSSL's first answer
    (asked again, OpenSSL would queue its error twice) and handled as
    Twisted's C{_write} does, by C{_tlsShutdownFinished}.
    """
    connection = protocol._tlsConnection
    if (
        type(data) is not bytes
        or not protocol._handshakeDone
        or protocol._lostTLSConnection
        or not _direct(connection)
    ):
        TLSMemoryBIOProtocol._write(protocol, data)  # type: ignore[no-untyped-call]
        return
    lib = _lib
    ssl = connection._ssl
    length = len(data)
    sent = 0
    while sent < length:
        chunk = data if sent == 0 and length <= _RECORD else data[sent : sent + _RECORD]
        count: int = lib.SSL_write(ssl, chunk, len(chunk))
        if count <= 0:
            if lib.SSL_get_error(ssl, count) == _WANT_READ:
                # A renegotiation in flight: Twisted's method tries again,
                # and buffers the rest.
                TLSMemoryBIOProtocol._write(protocol, data[sent:])  # type: ignore[no-untyped-call]
                return
            try:
                connection._raise_ssl_error(ssl, count)
            except SSL.Error:
                protocol._tlsShutdownFinished(Failure())  # type: ignore[no-untyped-call]
            return
        sent += count
        flushSendBIO(protocol)


class Poller:
    """
    C{doPoll} of an C{EPollReactor}, for C{_twistedcompat.directPoll}:
    each event handled as Twisted's C{doPoll} does but without
    C{log.callWithLogger} around it, and a read on a plain TCP connection
    done here, as Twisted's C{_doReadOrWrite}, C{tcp.Connection.doRead} and
    C{_dataReceived} do it, with no Python frame for each of them (nor for
    the wrapper of a connection made through an endpoint).  While it
    handles a poll's events, L{writeNow} holds sends back until all are
    handled (L{_Sends}).

    Reads the reactor's C{_poller}, C{_selectables} and
    C{_doReadOrWrite}, and for the reads a connection's C{socket},
    C{bufferSize} and C{protocol} and the reactor's
    C{_disconnectSelectable}.
    """

    def __init__(
        self,
        reactor: Any,
        log: Logger,
        readers: frozenset[type],
        noDescriptor: object,
        returned: Callable[[Any, object], object],
        wrapper: type | None = None,
        steadyReceive: object = None,
    ) -> None:
        """
        @param readers: The connection types whose reads are done here:
            those whose C{doRead} and C{_dataReceived} are Twisted's
            C{tcp.Connection}'s.
        @param noDescriptor: What Twisted disconnects a selectable with when
            its C{fileno()} is C{-1} (C{posixbase._NO_FILEDESC}).
        @param returned: Given a connection and the value its protocol's
            C{dataReceived} returned (not C{None}), what Twisted's
            C{_dataReceived} returns then.
        @param wrapper: Twisted's endpoints' C{_WrappingProtocol}, when its
            C{dataReceived} only passes the bytes on to its
            C{_wrappedProtocol}'s and returns what that returns: a read
            for one goes to the protocol it wraps directly.
        @param steadyReceive: C{DirectSendTLSProtocol}'s own
            C{dataReceived}, when it is one call of L{receive}: a read for a
            protocol whose C{dataReceived} this is calls L{receive} itself.
        """
        self._reactor = reactor
        self._log = log
        self._readers = readers
        self._noDescriptor = noDescriptor
        self._returned = returned
        self._wrapper = wrapper
        self._steadyReceive = steadyReceive
        self._handle: Callable[[Any, int, int], object] = reactor._doReadOrWrite

    def doPoll(self, timeout: float | None) -> None:
        """
        Wait up to C{timeout} seconds (C{None}: without limit) for events,
        and handle each.
        """
        reactor = self._reactor
        selectables: dict[int, Any] = reactor._selectables
        try:
            events = reactor._poller.poll(-1 if timeout is None else timeout, len(selectables))
        except OSError as e:
            if e.errno == errno.EINTR:
                return
            raise
        readers = self._readers
        sends = _SENDS
        sends.holding = True
        try:
            for fd, event in events:
                selectable = selectables.get(fd)
                if selectable is None:
                    continue
                try:
                    # Exceptions from the connection's own code are caught,
                    # logged and turned into a disconnection in there.
                    if event == EPOLLIN and type(selectable) in readers:
                        self._read(selectable)
                    else:
                        self._handle(selectable, fd, event)
                except KeyboardInterrupt:
                    raise
                except BaseException:
                    self._log.failure(
                        "Unhandled error handling {selectable}", selectable=str(selectable)
                    )
        finally:
            sends.holding = False
            sends.release()

    def _read(self, connection: Any) -> None:
        # _doReadOrWrite for a read event alone, with doRead and
        # _dataReceived in it.
        why: object = None
        try:
            if connection.fileno() == -1:
                why = self._noDescriptor
            else:
                try:
                    data = connection.socket.recv(connection.bufferSize)
                except OSError as se:
                    if se.args[0] != errno.EWOULDBLOCK:
                        why = CONNECTION_LOST
                else:
                    if not data:
                        why = CONNECTION_DONE
                    else:
                        protocol = connection.protocol
                        wrapped = type(protocol) is self._wrapper
                        if wrapped:
                            protocol = protocol._wrappedProtocol
                        steadyReceive = self._steadyReceive
                        if (
                            steadyReceive is not None
                            and type(protocol).dataReceived is steadyReceive
                        ):
                            receive(protocol, data)
                        else:
                            value = protocol.dataReceived(data)
                            if value is not None:
                                why = self._returned(connection, value)
        except BaseException as e:
            why = e
            legacyLog.err()  # type: ignore[no-untyped-call]
        if why:
            self._reactor._disconnectSelectable(connection, why, True)
