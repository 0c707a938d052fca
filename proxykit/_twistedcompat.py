# -*- test-case-name: tests.test_twistedcompat -*-
"""
The only place where proxykit relies on Twisted's private internals.

Four shortcuts save a few microseconds per request, one shares
connections among worker processes, one lets a drained C{twistd} exit
0, and one watches a listener's failed accepts, by reaching past Twisted's
public API.  Each one is detected once, when this module is
imported (or when a reactor is built), and when what it needs is missing
proxykit uses Twisted's public behaviour instead: correct, only slower.
C{tests.test_twistedcompat} asserts that every shortcut is taken on the
Twisted installed, so an upgrade that removes an internal fails a test
rather than quietly making proxykit slower.

Checked against Twisted 23.10.0 (the lowest C{setup.cfg} allows) and
26.10.0.

    - L{directSocket} and L{writeNow}: a write goes straight to a TCP
      socket when Twisted has nothing buffered for it (C{dataBuffer},
      C{_tempDataBuffer} of C{twisted.internet.abstract.FileDescriptor}).
      Fallback: C{transport.write}.
    - L{DirectSendTLSProtocol}: a C{TLSMemoryBIOProtocol} whose encrypted
      bytes take the same way (overrides C{_flushSendBIO}, reads
      C{_tlsConnection.bio_read}).  Fallback: no override, Twisted's own
      C{_flushSendBIO}.
    - The steady state of L{DirectSendTLSProtocol}: once the handshake is
      done, its C{dataReceived} and C{_write} call OpenSSL's C{SSL_read},
      C{SSL_write}, C{SSL_get_error}, C{BIO_write} and C{BIO_read} through
      pyOpenSSL's cffi bindings (C{OpenSSL._util.lib} and C{ffi}, a
      C{Connection}'s C{_ssl}, C{_into_ssl}, C{_from_ssl} and
      C{_raise_ssl_error}, its context's C{_verify_helper} and
      C{_ocsp_helper}), reading C{TLSMemoryBIOProtocol}'s
      C{_handshakeDone}, C{_appSendBuffer}, C{_lostTLSConnection},
      C{_aborted} and C{disconnecting}; whatever OpenSSL answers other than
      success or "wants more bytes" goes to Twisted's C{_flushReceiveBIO}
      or C{_write} (L{TLS_STEADY_STATE}, L{tlsSteadyStateUsable}).
      Fallback: Twisted's C{dataReceived} and C{_write} through pyOpenSSL's
      C{recv} and C{send}.
    - L{directPoll}: an epoll C{doPoll} without the per-event logging
      context (C{EPollReactor._poller}, C{_selectables}, C{_doReadOrWrite}).
      Fallback: the inherited C{EPollReactor.doPoll}.
    - L{acceptOneAtATime}: a listening TCP port that accepts one
      connection each time its socket is readable (C{tcp.Port.numberAccepts}
      set before each C{doRead}), so that worker processes sharing a
      socket share its connections.  Fallback: Twisted's batches.
    - L{forgetExitSignal}: after a graceful stop, clears the signal
      C{twistd} would re-raise at exit (C{ReactorBase._exitSignal}).
      Fallback: Twisted's exit status.
    - L{observeAccepts}: a listening port's log events, among them its
      failed accepts (L{ACCEPT_FAILURES}), go through an observer of
      proxykit's (C{tcp.Port._logger}), which logs them once per interval
      and stops a failing accept loop from spinning.  Fallback: Twisted
      logs every failed accept.

Nothing else in proxykit may use a private Twisted or pyOpenSSL name.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from typing import Any, Final

from OpenSSL import SSL
from twisted.internet import tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import ITransport
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure

__all__ = [
    "DIRECT_SEND",
    "TLS_DIRECT_SEND",
    "TLS_STEADY_STATE",
    "DirectSendTLSProtocol",
    "ACCEPT_FAILURES",
    "acceptOneAtATime",
    "directPoll",
    "directSocket",
    "epollInternals",
    "forgetExitSignal",
    "observeAccepts",
    "tlsDirectSendUsable",
    "tlsSteadyStateUsable",
    "writeBuffersVisible",
    "writeNow",
]


# Direct sends on plain TCP.


class _NoReactor:
    """
    Stands in for a reactor so that a L{FileDescriptor} can be built to be
    looked at, without importing the global one.
    """


def writeBuffersVisible(transport: object) -> bool:
    """
    Whether C{transport} shows Twisted's two write buffers, C{dataBuffer}
    (bytes) and C{_tempDataBuffer} (a list), which L{writeNow} reads to know
    that nothing is waiting to be written.

    Relies on C{twisted.internet.abstract.FileDescriptor} setting both in
    C{__init__} (Twisted 23.10.0 to 26.10.0).
    """
    return isinstance(getattr(transport, "dataBuffer", None), bytes) and isinstance(
        getattr(transport, "_tempDataBuffer", None), list
    )


DIRECT_SEND: Final = writeBuffersVisible(FileDescriptor(_NoReactor()))  # type: ignore[arg-type]
"""
Whether L{writeNow} may send on TCP sockets directly on this Twisted.
"""

_DIRECT: tuple[type, ...] = (tcp.Server, tcp.Client) if DIRECT_SEND else ()
"""Transport types whose socket L{writeNow} may write to directly."""


def directSocket(transport: object) -> socket.socket | None:
    """
    The socket L{writeNow} may write C{transport}'s bytes to: that of a
    plain TCP connection, C{None} for any other transport, and for every
    transport when this Twisted does not show its write buffers
    (L{DIRECT_SEND}), so that L{writeNow} falls back to
    C{transport.write}.
    """
    if type(transport) in _DIRECT:
        return transport.socket  # type: ignore[attr-defined,no-any-return]
    return None


def writeNow(transport: Any, sock: socket.socket | None, data: bytes) -> None:
    """
    Write C{data} to C{transport}; when it is a plain TCP connection (its
    socket C{sock}, from L{directSocket}), send at once when possible.

    Twisted buffers every write until the reactor's next turn, which costs
    two C{epoll_ctl} calls and a wake-up per write.  With nothing buffered,
    try the socket first and hand Twisted only what the kernel did not
    take; order is kept because Twisted's buffer is empty.

    Reads C{FileDescriptor.dataBuffer} and C{_tempDataBuffer}, only when
    C{sock} is given: L{directSocket} gives none unless L{DIRECT_SEND}.
    """
    if (
        sock is not None
        and not transport.dataBuffer
        and not transport._tempDataBuffer
        and transport.connected
        and not transport.disconnecting
    ):
        try:
            sent = sock.send(data)
        except OSError:
            # EAGAIN, or an error Twisted will meet and report itself.
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


# Direct sends on TLS.


def tlsDirectSendUsable(base: type = TLSMemoryBIOProtocol) -> bool:
    """
    Whether C{base} (Twisted's C{TLSMemoryBIOProtocol}) sends its encrypted
    bytes through a method C{_flushSendBIO} that reads them with
    C{self._tlsConnection.bio_read}, called from its other methods: then
    overriding it changes how every encrypted byte is written.

    Relies on C{twisted.protocols.tls} (Twisted 23.10.0 to 26.10.0); looks
    at the names the methods' code uses, not at their source.
    """
    flush = base.__dict__.get("_flushSendBIO")
    code = getattr(flush, "__code__", None)
    if code is None or not {"_tlsConnection", "bio_read"} <= set(code.co_names):
        return False
    callers = 0
    for name, value in vars(base).items():
        names = getattr(getattr(value, "__code__", None), "co_names", ())
        if name != "_flushSendBIO" and "_flushSendBIO" in names:
            callers += 1
    return callers >= 2


TLS_DIRECT_SEND: Final = tlsDirectSendUsable()
"""
Whether L{DirectSendTLSProtocol} overrides C{_flushSendBIO} on this Twisted.
"""


_OPENSSL_NAMES: Final = (
    "SSL_read",
    "SSL_write",
    "SSL_get_error",
    "SSL_ERROR_WANT_READ",
    "BIO_read",
    "BIO_write",
    "BIO_should_retry",
)
"""What L{DirectSendTLSProtocol}'s steady state calls in pyOpenSSL's C{lib}."""

_TWISTED_TLS_CODE: Final = {
    "dataReceived": {"bio_write", "_handshakeDone", "_appSendBuffer", "_flushReceiveBIO"},
    "_flushReceiveBIO": {"_lostTLSConnection", "recv", "_aborted", "_tlsShutdownFinished"},
    "_write": {"_lostTLSConnection", "send", "_bufferedWrite", "_flushSendBIO", "_tlsShutdownFinished"},
    "write": {"disconnecting", "_producer", "_write"},
    "makeConnection": {"_appSendBuffer"},
}
"""
The methods of C{TLSMemoryBIOProtocol} whose work the steady state does
itself, and the names each one's code uses, which the steady state reads
or stands in for.
"""


def tlsSteadyStateUsable(
    base: type = TLSMemoryBIOProtocol, library: Any = None, connection: Any = None
) -> bool:
    """
    Whether L{DirectSendTLSProtocol} may encrypt and decrypt through
    OpenSSL's C functions once a connection's handshake is done, rather
    than through pyOpenSSL's wrappers and Twisted's methods.

    It needs pyOpenSSL's cffi C{lib} (L{_OPENSSL_NAMES}) and C{ffi}
    (C{new}, C{unpack}; C{OpenSSL._util}, pyOpenSSL 23 to 26), a
    C{Connection}'s C{_ssl} (an C{SSL *}), C{_into_ssl} and C{_from_ssl}
    (its memory BIOs, C{BIO *}), its C{_raise_ssl_error(ssl, result)} and
    its context's C{_verify_helper} and C{_ocsp_helper}; and C{base}'s
    methods to work as Twisted 23.10.0 to 26.10.0 do (L{_TWISTED_TLS_CODE}, the flags C{_handshakeDone},
    C{_lostTLSConnection}, C{_aborted}, C{_producer}, C{disconnecting}).

    @param library: pyOpenSSL's C{OpenSSL._util} module, by default
        imported here.
    @param connection: A C{Connection} to look at, by default a new one.
    """
    if library is None:
        try:
            from OpenSSL import _util as library
        except ImportError:
            return False
    lib = getattr(library, "lib", None)
    ffi = getattr(library, "ffi", None)
    if lib is None or ffi is None or not all(hasattr(lib, name) for name in _OPENSSL_NAMES):
        return False
    if not all(hasattr(ffi, name) for name in ("new", "unpack", "typeof")):
        return False
    if connection is None:
        connection = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
    try:
        pointers = [
            ffi.typeof(getattr(connection, name)).cname
            for name in ("_ssl", "_into_ssl", "_from_ssl")
        ]
        context = connection._context
    except (AttributeError, TypeError):
        return False
    if pointers != ["SSL *", "BIO *", "BIO *"]:
        return False
    if not callable(getattr(connection, "_raise_ssl_error", None)):
        return False
    if not all(hasattr(context, name) for name in ("_verify_helper", "_ocsp_helper")):
        return False
    for name, names in _TWISTED_TLS_CODE.items():
        code = getattr(getattr(base, name, None), "__code__", None)
        if code is None or not names <= set(code.co_names):
            return False
    flags = ("_handshakeDone", "_lostTLSConnection", "_aborted", "_producer", "disconnecting")
    return all(hasattr(base, name) for name in flags)


TLS_STEADY_STATE: Final = tlsSteadyStateUsable()
"""
Whether L{DirectSendTLSProtocol} takes its steady-state path through
OpenSSL's C functions on this Twisted and pyOpenSSL.
"""

_RECORD: Final = 2**14
"""The most plaintext one TLS record carries, and what one C{SSL_write} gets."""

_CHUNK: Final = 2**15
"""The most one C{SSL_read} or C{BIO_read} asks for, as Twisted's do."""


class _Buffers(threading.local):
    """
    The buffer each thread's C{SSL_read} and C{BIO_read} calls fill: every
    chunk is copied out before anything else runs, so one serves all the
    connections of a thread.  (cffi lets go of the GIL in C calls, so
    threads may not share one.)
    """

    buffer: Any = None


_buffers = _Buffers()

if TLS_STEADY_STATE:
    from OpenSSL._util import ffi as _ffi
    from OpenSSL._util import lib as _lib

    _WANT_READ: Final = _lib.SSL_ERROR_WANT_READ
    _VERIFY_PEER: Final = SSL.VERIFY_PEER


def _buffer() -> Any:
    buffer = _buffers.buffer
    if buffer is None:
        buffer = _buffers.buffer = _ffi.new("char[]", _CHUNK)
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
    context = connection._context
    return context._ocsp_helper is None and (
        context._verify_helper is None or bool(connection.get_verify_mode() & _VERIFY_PEER)
    )


def _flushThroughPyOpenSSL(protocol: Any) -> None:
    """
    C{_flushSendBIO} of a L{DirectSendTLSProtocol} when L{TLS_DIRECT_SEND}
    but not L{TLS_STEADY_STATE}: as Twisted's, but through L{writeNow}, one
    send instead of a buffered write, two C{epoll_ctl} calls and a wake-up.
    """
    try:
        data = protocol._tlsConnection.bio_read(2**15)
    except SSL.WantReadError:
        return
    writeNow(protocol.transport, protocol._socket, data)


class DirectSendTLSProtocol(TLSMemoryBIOProtocol):
    """
    Twisted's memory-BIO TLS protocol, writing its encrypted bytes at once
    when nothing is buffered (see L{writeNow}), and, once the handshake is
    done, encrypting and decrypting with OpenSSL's C functions.

    The override of C{_flushSendBIO} is only defined when
    L{TLS_DIRECT_SEND}, and the steady state (C{dataReceived}, C{_write})
    only when L{TLS_STEADY_STATE}; otherwise this is Twisted's protocol
    unchanged.

    The steady state is a connection whose handshake is done, with no
    writes waiting for the peer, not closing, not aborted and not lost
    (L{_steady}).  There C{dataReceived} writes the bytes into the receive
    BIO and delivers what each C{SSL_read} gives until it wants more
    bytes, and C{_write} encrypts each record's worth with C{SSL_write}.
    Anything else OpenSSL says goes to Twisted's own code: after a read, a
    close_notify, an alert or an error goes to C{_flushReceiveBIO}, which
    reads again through pyOpenSSL (OpenSSL answers the same) and handles
    what pyOpenSSL raises; a write that must wait for the peer (a
    renegotiation) goes to C{_write}, which tries again and buffers it; a
    write that fails is raised by pyOpenSSL's C{_raise_ssl_error} from
    OpenSSL's first answer (asked again, OpenSSL would queue its error
    twice) and handled as Twisted's C{_write} does, by
    C{_tlsShutdownFinished}.  The steady state does not apply to a
    connection object other than a pyOpenSSL C{Connection} itself, nor to
    one whose callbacks pyOpenSSL could raise from after a success
    (L{_direct}).
    """

    _socket: socket.socket | None = None

    def makeConnection(self, transport: ITransport) -> None:
        self._socket = directSocket(transport)
        super().makeConnection(transport)  # type: ignore[no-untyped-call]

    if TLS_DIRECT_SEND and TLS_STEADY_STATE:

        def _flushSendBIO(self) -> None:
            # As Twisted's, but drains the BIO and writes through writeNow:
            # one send instead of a buffered write, two epoll_ctl calls and
            # a wake-up.
            connection = self._tlsConnection
            if type(connection) is not SSL.Connection:
                _flushThroughPyOpenSSL(self)
                return
            bio = connection._from_ssl
            buffer = _buffer()
            while True:
                count = _lib.BIO_read(bio, buffer, _CHUNK)
                if count <= 0:
                    if not _lib.BIO_should_retry(bio):
                        # Not an empty BIO: pyOpenSSL raises what it is.
                        connection.bio_read(_CHUNK)
                    return
                writeNow(self.transport, self._socket, _ffi.unpack(buffer, count))
                if count < _CHUNK:
                    return

    elif TLS_DIRECT_SEND:
        _flushSendBIO = _flushThroughPyOpenSSL  # type: ignore[assignment]

    if TLS_STEADY_STATE:

        def _steady(self) -> bool:
            """
            Whether this connection is in the steady state, where
            C{dataReceived} and C{_write} call OpenSSL themselves.
            """
            return (
                self._handshakeDone
                and not self._appSendBuffer
                and not self.disconnecting
                and not self._lostTLSConnection
                and not self._aborted
                and _direct(self._tlsConnection)
            )

        def dataReceived(self, data: bytes) -> None:
            if type(data) is not bytes or not data or not self._steady():
                super().dataReceived(data)  # type: ignore[no-untyped-call]
                return
            connection = self._tlsConnection
            written = _lib.BIO_write(connection._into_ssl, data, len(data))
            if written != len(data):
                # A memory BIO takes all or nothing; pyOpenSSL raises why.
                connection.bio_write(data[max(written, 0) :])
            ssl = connection._ssl
            buffer = _buffer()
            while not self._lostTLSConnection:
                count = _lib.SSL_read(ssl, buffer, _CHUNK)
                if count > 0:
                    if not self._aborted:
                        # ProtocolWrapper.dataReceived, as Twisted calls it.
                        self.wrappedProtocol.dataReceived(_ffi.unpack(buffer, count))
                    continue
                if _lib.SSL_get_error(ssl, count) != _WANT_READ:
                    # close_notify, an alert, an error: Twisted's method
                    # reads again through pyOpenSSL, which raises it, and
                    # handles that as it always does.  It flushes too.
                    super()._flushReceiveBIO()  # type: ignore[no-untyped-call]
                    return
                break
            self._flushSendBIO()

        def _write(self, data: bytes) -> None:
            connection = self._tlsConnection
            if (
                type(data) is not bytes
                or not self._handshakeDone
                or self._lostTLSConnection
                or not _direct(connection)
            ):
                super()._write(data)  # type: ignore[no-untyped-call]
                return
            ssl = connection._ssl
            length = len(data)
            sent = 0
            while sent < length:
                chunk = data if sent == 0 and length <= _RECORD else data[sent : sent + _RECORD]
                count = _lib.SSL_write(ssl, chunk, len(chunk))
                if count <= 0:
                    if _lib.SSL_get_error(ssl, count) == _WANT_READ:
                        # A renegotiation in flight: Twisted's method
                        # tries again, and buffers the rest.
                        super()._write(data[sent:])  # type: ignore[no-untyped-call]
                        return
                    # Asked again, OpenSSL would queue its error twice;
                    # pyOpenSSL raises this one, handled as Twisted does.
                    try:
                        connection._raise_ssl_error(ssl, count)
                    except SSL.Error:
                        self._tlsShutdownFinished(Failure())  # type: ignore[no-untyped-call]
                    return
                sent += count
                self._flushSendBIO()


# Event dispatch without a logging context.

_EPOLL_INTERNALS: tuple[str, ...] = ("_poller", "_selectables", "_doReadOrWrite")
"""The attributes of an C{EPollReactor} that L{directPoll} uses."""


def epollInternals(reactor: object) -> bool:
    """
    Whether C{reactor}, an C{EPollReactor}, has the internals L{directPoll}
    uses: C{_poller} (an C{epoll} with C{poll}), C{_selectables} (a dict
    from descriptor numbers to selectables) and C{_doReadOrWrite(selectable,
    fd, event)} (Twisted 23.10.0 to 26.10.0).
    """
    if not all(hasattr(reactor, name) for name in _EPOLL_INTERNALS):
        return False
    return (
        callable(getattr(reactor._poller, "poll", None))  # type: ignore[attr-defined]
        and isinstance(reactor._selectables, dict)  # type: ignore[attr-defined]
        and callable(reactor._doReadOrWrite)  # type: ignore[attr-defined]
    )


def directPoll(reactor: object, log: Logger) -> Callable[[float | None], None] | None:
    """
    A C{doPoll} for C{reactor} (an C{EPollReactor}) that handles each event
    as Twisted's does but without C{log.callWithLogger} around it; an error
    escaping a handler is logged on C{log}.

    @return: The function, or C{None} when C{reactor} lacks the internals
        (L{epollInternals}): keep the inherited C{doPoll} then.
    """
    if not epollInternals(reactor):
        return None
    handle = reactor._doReadOrWrite  # type: ignore[attr-defined]

    def doPoll(timeout: float | None) -> None:
        if timeout is None:
            timeout = -1
        selectables = reactor._selectables  # type: ignore[attr-defined]
        try:
            events = reactor._poller.poll(timeout, len(selectables))  # type: ignore[attr-defined]
        except OSError as e:
            if e.errno == errno.EINTR:
                return
            raise
        for fd, event in events:
            selectable = selectables.get(fd)
            if selectable is None:
                continue
            try:
                # Exceptions from the connection's own code are caught,
                # logged and turned into a disconnection in there.
                handle(selectable, fd, event)
            except KeyboardInterrupt:
                raise
            except BaseException:
                log.failure("Unhandled error handling {selectable}", selectable=str(selectable))

    return doPoll


def forgetExitSignal(reactor: object) -> bool:
    """
    A graceful stop is complete: let C{twistd} exit with status 0 rather
    than re-raise the signal that started the stop.

    Relies on C{ReactorBase._exitSignal} (recorded by the SIGTERM/SIGINT
    handlers and re-raised by C{twisted.application.app} since Twisted
    20.3; present in 23.10 through 26.10).  Fallback when it is missing:
    nothing to forget, the exit status is Twisted's.

    @return: Whether a signal was forgotten.
    """
    if getattr(reactor, "_exitSignal", None) is None:
        return False
    reactor._exitSignal = None  # type: ignore[attr-defined]
    return True


def acceptOneAtATime(port: object) -> bool:
    """
    Make the listening TCP C{port} accept at most one connection each time
    the reactor finds its socket readable, rather than up to 100 (Twisted
    grows C{tcp.Port.numberAccepts} while accepts succeed).

    Several worker processes wait on one shared listening socket, and the
    kernel wakes every one of them for a new connection: a worker that
    accepts in batches takes a burst of connections (the 50 a load
    generator opens at once) alone.  Accepting one at a time, the worker
    that gets back to its event loop first, the least busy one, takes the
    next connection.

    @return: Whether the shortcut was taken (C{numberAccepts} exists).
    """
    if not isinstance(getattr(port, "numberAccepts", None), int):
        return False
    batch: Any = port
    read = batch.doRead

    def doRead() -> object:
        batch.numberAccepts = 1
        return read()

    batch.doRead = doRead
    return True


ACCEPT_FAILURES: Final = {
    "EMFILE encountered; releasing reserved file descriptor.": "begin",
    "EMFILE recovery: Closed socket from {address}": "closed",
    "Re-reserving EMFILE recovery file descriptor.": "end",
    "Could not accept new connection ({acceptError})": "failed",
}
"""
The log formats of a failed accept in C{twisted.internet.tcp} (C{_accept},
Twisted 23.10.0 to 26.10.0), and what each says.  C{begin}, C{closed}
(once for each waiting client accepted and closed at once), C{end}: the
process was out of descriptors (C{EMFILE}), and Twisted released the one it
keeps in reserve to take the waiting clients off the listening socket.
C{failed}: an accept failed and the clients are still waiting
(C{EMFILE} with no reserve, C{ENFILE}, C{ENOBUFS}, C{ENOMEM}); the socket
stays readable, so Twisted would try again at once, and again.
"""


def observeAccepts(port: object, wrap: Callable[[Any], Any]) -> bool:
    """
    Send the log events of the listening TCP (or UNIX) C{port}, among them
    its failed accepts (L{ACCEPT_FAILURES}), to C{wrap(observer)} instead
    of C{observer}, the one they go to now.

    C{tcp.Port.doRead} logs through the port's C{_logger} (a L{Logger}
    that the port's class holds), after each read of its socket; the port
    is given a logger of its own, with the same namespace.

    @param wrap: Called once with the port's observer; returns the
        observer (an C{ILogObserver}) to use instead.
    @return: Whether the shortcut was taken (the port logs through a
        C{_logger}).
    """
    logger = getattr(port, "_logger", None)
    if not isinstance(logger, Logger):
        return False
    observed: Any = port
    observed._logger = Logger(
        namespace=logger.namespace, source=port, observer=wrap(logger.observer)
    )
    return True
