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
      C{offset}, C{_tempDataBuffer} and C{_maybePauseProducer} of
      C{twisted.internet.abstract.FileDescriptor}); during a poll's
      events, at the end of them.  Fallback: C{transport.write}.
    - L{DirectSendTLSProtocol}: a C{TLSMemoryBIOProtocol} whose encrypted
      bytes take the same way (overrides C{_flushSendBIO}, reads
      C{_tlsConnection.bio_read}).  Fallback: no override, Twisted's own
      C{_flushSendBIO}.
    - The steady state of L{DirectSendTLSProtocol}: once the handshake is
      done, its C{dataReceived} and C{_write} call OpenSSL's C{SSL_read},
      C{SSL_write}, C{SSL_get_error}, C{BIO_write}, C{BIO_read} and
      C{BIO_get_mem_data} through
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
      Fallback: the inherited C{EPollReactor.doPoll}.  It reads plain TCP
      connections itself, as Twisted's C{_doReadOrWrite},
      C{tcp.Connection.doRead} and C{_dataReceived} do (a connection's
      C{socket}, C{bufferSize} and C{protocol}, the reactor's
      C{_disconnectSelectable}, C{posixbase._NO_FILEDESC}; L{plainReaders}),
      and hands the bytes for an endpoint's C{_WrappingProtocol} to the
      protocol it wraps (C{_wrappedProtocol}; L{passingWrapper}).
      Fallback: Twisted's C{_doReadOrWrite} for every event, the wrapper's
      own C{dataReceived}.
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

The per-request work of L{writeNow}, of the two TLS shortcuts and of
L{directPoll} is done in L{proxykit._directio}, compiled in the compiled
build, which cannot build this module; this module decides whether it
may be used.  Nothing else in proxykit may use a private Twisted or
pyOpenSSL name.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Final

from OpenSSL import SSL
from twisted.internet import endpoints, posixbase, tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import ITransport
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python import deprecate, versions

from . import _directio
from ._directio import writeNow

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
    "passingWrapper",
    "plainReaders",
    "steadyWrites",
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
    (bytes, sent from C{offset}) and C{_tempDataBuffer} (a list), which
    L{writeNow} reads to know that nothing is waiting to be written, and
    C{_maybePauseProducer}, which it calls when it puts bytes it held back
    ahead of them.

    Relies on C{twisted.internet.abstract.FileDescriptor} setting these in
    C{__init__} or on the class (Twisted 23.10.0 to 26.10.0).
    """
    return (
        isinstance(getattr(transport, "dataBuffer", None), bytes)
        and isinstance(getattr(transport, "_tempDataBuffer", None), list)
        and type(getattr(transport, "offset", None)) is int
        and callable(getattr(transport, "_maybePauseProducer", None))
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
    "BIO_get_mem_data",
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
    (C{new}, C{unpack}, C{NULL}; C{OpenSSL._util}, pyOpenSSL 23 to 26), a
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
    if not all(hasattr(ffi, name) for name in ("new", "unpack", "typeof", "NULL")):
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
Whether L{DirectSendTLSProtocol} takes its steady state path through
OpenSSL's C functions on this Twisted and pyOpenSSL (it also needs
L{TLS_DIRECT_SEND}).
"""


def _flushThroughPyOpenSSL(protocol: Any) -> None:
    """
    C{_flushSendBIO} of a L{DirectSendTLSProtocol} when L{TLS_DIRECT_SEND}
    but not L{TLS_STEADY_STATE}: as Twisted's, but through L{writeNow}, one
    send instead of a buffered write, two C{epoll_ctl} calls and a wake-up.
    """
    _directio.flushThroughPyOpenSSL(protocol)


class DirectSendTLSProtocol(TLSMemoryBIOProtocol):
    """
    Twisted's memory-BIO TLS protocol, writing its encrypted bytes at once
    when nothing is buffered (see L{writeNow}), and, once the handshake is
    done, encrypting and decrypting with OpenSSL's C functions.

    The override of C{_flushSendBIO} is only defined when
    L{TLS_DIRECT_SEND}, and the steady state (C{dataReceived}, C{write},
    C{_write}) only when L{TLS_STEADY_STATE} too; otherwise this is
    Twisted's protocol, whose bytes all go through
    L{receivedOutsideSteadyState}.  Each override is one call into
    L{proxykit._directio}, compiled in the compiled build, which documents
    what it does.

    The steady state is a connection whose handshake is done, with no
    writes waiting for the peer, not closing, not aborted and not lost
    (L{proxykit._directio.steady}).  There C{dataReceived} writes the
    bytes into the receive BIO and delivers what each C{SSL_read} gives
    until it wants more bytes, and C{_write} encrypts each record's worth
    with C{SSL_write}.  Anything else OpenSSL says goes to Twisted's own
    code: after a read, a close_notify, an alert or an error goes to
    C{_flushReceiveBIO}, which reads again through pyOpenSSL (OpenSSL
    answers the same) and handles what pyOpenSSL raises; a write that must
    wait for the peer (a renegotiation) goes to C{_write}, which tries
    again and buffers it; a write that fails is raised by pyOpenSSL's
    C{_raise_ssl_error} from OpenSSL's first answer (asked again, OpenSSL
    would queue its error twice) and handled as Twisted's C{_write} does,
    by C{_tlsShutdownFinished}.  The steady state does not apply to a
    connection object other than a pyOpenSSL C{Connection} itself, nor to
    one whose callbacks pyOpenSSL could raise from after a success
    (L{proxykit._directio._direct}).
    """

    _socket: socket.socket | None = None

    def makeConnection(self, transport: ITransport) -> None:
        self._socket = directSocket(transport)
        super().makeConnection(transport)  # type: ignore[no-untyped-call]

    def receivedOutsideSteadyState(self, data: bytes) -> None:
        """
        C{data} came while this connection is not in the steady state (its
        handshake not done, closing, with writes waiting), or when this
        Twisted has none: Twisted's C{dataReceived} handles it.  Subclasses
        may look at the first bytes here (the handshake is never done
        before them).
        """
        TLSMemoryBIOProtocol.dataReceived(self, data)  # type: ignore[no-untyped-call]

    if TLS_DIRECT_SEND and TLS_STEADY_STATE:

        def _flushSendBIO(self) -> None:
            _directio.flushSendBIO(self)

        def dataReceived(self, data: bytes) -> None:
            # The poll calls _directio.receive itself when this is the
            # method (steadyReceive).
            _directio.receive(self, data)

        def write(self, data: bytes) -> None:
            _directio.write(self, data)

        def _write(self, data: bytes) -> None:
            _directio.encrypt(self, data)

    else:
        if TLS_DIRECT_SEND:
            _flushSendBIO = _flushThroughPyOpenSSL  # type: ignore[assignment]

        def dataReceived(self, data: bytes) -> None:
            self.receivedOutsideSteadyState(data)


_STEADY_WRITE: Final = vars(DirectSendTLSProtocol).get("write")
"""C{DirectSendTLSProtocol}'s own C{write}, if it has the steady state."""

_STEADY_RECEIVE: Final = vars(DirectSendTLSProtocol)["dataReceived"] if _STEADY_WRITE else None
"""
C{DirectSendTLSProtocol}'s own C{dataReceived}, if it has the steady state:
the poll gives the bytes of a protocol whose C{dataReceived} this is to
L{proxykit._directio.receive} directly.
"""


def steadyWrites(transport: object) -> bool:
    """
    Whether writes to C{transport} may go to L{proxykit._directio.write}
    directly: it is a L{DirectSendTLSProtocol} with the steady state,
    whose C{write} is that class's own (what it would call).
    """
    return _STEADY_WRITE is not None and getattr(type(transport), "write", None) is _STEADY_WRITE


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


_READ_CODE: Final = {
    "doRead": {"socket", "recv", "bufferSize", "EWOULDBLOCK", "CONNECTION_LOST", "_dataReceived"},
    "_dataReceived": {"CONNECTION_DONE", "protocol", "dataReceived"},
}
"""
The names the code of C{tcp.Connection}'s read methods uses, which
L{proxykit._directio.Poller} does in their place.
"""


def plainReaders(
    handle: object,
    connection: type = tcp.Connection,
    types: tuple[type, ...] = (tcp.Server, tcp.Client),
) -> frozenset[type]:
    """
    The TCP connection types whose reads L{directPoll} may do itself: those
    whose C{doRead} and C{_dataReceived} are C{connection}'s
    (C{tcp.Connection}), when their code and that of the epoll reactor's
    C{_doReadOrWrite} (C{handle}, Twisted's C{posixbase._PollLikeMixin}'s)
    work as Twisted 23.10.0 to 26.10.0's do (L{_READ_CODE}); none
    otherwise.
    """
    names = getattr(getattr(handle, "__code__", None), "co_names", ())
    if not {"fileno", "doRead", "_NO_FILEDESC", "_disconnectSelectable"} <= set(names):
        return frozenset()
    if not isinstance(getattr(posixbase, "_NO_FILEDESC", None), BaseException):
        return frozenset()
    for name, needed in _READ_CODE.items():
        code = getattr(getattr(connection, name, None), "__code__", None)
        if code is None or not needed <= set(code.co_names):
            return frozenset()
    return frozenset(
        kind
        for kind in types
        if kind.doRead is connection.doRead  # type: ignore[attr-defined]
        and kind._dataReceived is connection._dataReceived  # type: ignore[attr-defined]
    )


def passingWrapper(wrapper: type | None = None) -> type | None:
    """
    C{wrapper}, by default Twisted's C{endpoints._WrappingProtocol} (what a
    connection made through a client endpoint has as its protocol), if its
    C{dataReceived} only passes the bytes on to its C{_wrappedProtocol}'s
    and returns what that returns (Twisted 23.10.0 to 26.10.0); C{None}
    otherwise.
    """
    if wrapper is None:
        wrapper = getattr(endpoints, "_WrappingProtocol", None)
    code = getattr(getattr(wrapper, "dataReceived", None), "__code__", None)
    if code is None or set(code.co_names) != {"_wrappedProtocol", "dataReceived"}:
        return None
    return wrapper


def _returned(connection: Any, value: object) -> object:
    """
    What Twisted's C{tcp.Connection._dataReceived} returns when the
    protocol's C{dataReceived} returned C{value} (not C{None}): up to
    Twisted 24, C{value} (a reason to disconnect), after a deprecation
    warning; since, C{None}.
    """
    if "rval" not in tcp.Connection._dataReceived.__code__.co_varnames:
        return None
    offender = connection.protocol.dataReceived
    warning = deprecate.getDeprecationWarningString(  # type: ignore[no-untyped-call]
        offender,
        versions.Version("Twisted", 11, 0, 0),
        format="Returning a value other than None from %(fqpn)s is deprecated since %(version)s.",
    )
    deprecate.warnAboutFunction(offender, warning)  # type: ignore[no-untyped-call]
    return value


def directPoll(reactor: object, log: Logger) -> Callable[[float | None], None] | None:
    """
    A C{doPoll} for C{reactor} (an C{EPollReactor}) that handles each event
    as Twisted's does but without C{log.callWithLogger} around it, and
    reads plain TCP connections itself (L{plainReaders}, L{passingWrapper});
    an error escaping a handler is logged on C{log}.  See
    L{proxykit._directio.Poller}.

    @return: The function, or C{None} when C{reactor} lacks the internals
        (L{epollInternals}): keep the inherited C{doPoll} then.
    """
    if not epollInternals(reactor):
        return None
    readers = plainReaders(getattr(type(reactor), "_doReadOrWrite", None))
    return _directio.Poller(
        reactor, log, readers, posixbase._NO_FILEDESC, _returned, passingWrapper(), _STEADY_RECEIVE
    ).doPoll


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
