# -*- test-case-name: tests.test_service -*-
"""
The connection cap of one listener, and the open-file limit it is derived
from.

A L{ListenerGate} counts a listener's client connections.  The connections
tell it, through L{IConnectionGate}, when they become idle (between two
requests, nothing received of the next) and busy again; the gate keeps the
idle ones in the order they became idle.  At the cap, a new client is
admitted by closing the connection that has been idle longest, as nginx
does when it runs out of connections; only when none is idle does the
listener stop accepting (new clients wait in the kernel's backlog) until
one closes or becomes idle.  A connection in the middle of a request, a
response or a tunnel is never closed to make room.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IListeningPort, IProtocol
from twisted.internet.protocol import Factory
from zope.interface import Attribute, Interface, implementer

from ..reactor import NamedLogger

if TYPE_CHECKING:
    from twisted.internet.interfaces import IProtocolFactory


class IConnectionGate(Interface):
    """
    What a gated connection tells its listener's gate.
    """

    name = Attribute(
        "The listener's name (its endpoint string), or '': what the"
        " connection's ClientInfo.listener says."
    )

    def idle(connection: IGatedConnection) -> None:
        """
        C{connection} holds no request: it has not begun one yet, or it is
        between two requests with nothing of the next received.  It may be
        closed (L{IGatedConnection.shed}) to make room for a new client.
        """

    def busy(connection: IGatedConnection) -> None:
        """
        C{connection} began a request (or a TLS handshake): it must not be
        closed to make room.
        """

    def closed(connection: IGatedConnection) -> None:
        """
        C{connection} is closed: its slot is free.
        """


class IGatedConnection(Interface):
    """
    What a gate needs of the connections it counts.
    """

    transport = Attribute("The connection's transport, once connected.")

    def gatedBy(gate: IConnectionGate) -> None:
        """
        C{gate} counts this connection: tell it when the connection becomes
        idle or busy (the first time when it is made) and when it closes.
        """

    def shed() -> None:
        """
        Close now, to make room for a new client.  Called only while the
        connection is idle; after this call it tells the gate nothing more
        (the gate has already freed its slot).
        """

    def drain() -> None:
        """
        The proxy is stopping: finish what is in progress (the current
        response, a tunnel), then close; serve no further request.
        """

    def abortConnection() -> None:
        """
        Drop the connection at once (a drain that took too long).
        """


FILE_LIMIT_RESERVE: Final = 64
"""Descriptors kept aside from the connection cap: listening sockets, log
files, the resolver, health checks."""

FALLBACK_CAP: Final = 1024
"""The cap where the open-file limit cannot be read."""

_INFINITE_LIMIT: Final = 1 << 20
"""The limit assumed where the open-file limit is unlimited."""


def fileLimit() -> int | None:
    """
    The process's soft limit on open files (C{RLIMIT_NOFILE}), or C{None}
    where it cannot be read.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover (not POSIX)
        return None
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover
        return None
    if soft == resource.RLIM_INFINITY:
        return _INFINITE_LIMIT
    return soft


def connectionCap(limit: int | None) -> int:
    """
    The default connection cap of a listener in a process allowed C{limit}
    open files: each client connection may need an origin connection, so
    half of what is left after L{FILE_LIMIT_RESERVE}.

    @param limit: The open-file limit (L{fileLimit}); C{None}: unknown
        (L{FALLBACK_CAP}).
    """
    if limit is None:
        return FALLBACK_CAP
    return max(1, (limit - FILE_LIMIT_RESERVE) // 2)


_raised: list[int | None] = []
"""The limit L{raiseFileLimit} arrived at, once it ran."""


def raiseFileLimit() -> int | None:
    """
    Raise the process's soft limit on open files to its hard limit, once
    per process, and log the result; a failure is logged, not raised.

    @return: The soft limit now in force, or C{None} where there is none
        (not POSIX).
    """
    if not _raised:
        try:
            import resource
        except ImportError:  # pragma: no cover (not POSIX)
            _raised.append(None)
        else:
            _raised.append(_raiseLimit(resource.getrlimit, resource.setrlimit))
    return _raised[0]


def _raiseLimit(getLimit: Any, setLimit: Any) -> int:
    """
    L{raiseFileLimit}'s work, with C{resource.getrlimit} and
    C{resource.setrlimit} passed in.
    """
    import resource

    log = ListenerGate._log
    soft, hard = getLimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY:
        # Some systems refuse an unlimited soft limit: ask for a large one.
        target = max(soft, _INFINITE_LIMIT)
    limit = soft
    if target != soft:
        try:
            setLimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as e:
            log.warn(
                "open-file limit not raised from {limit} to {target}: {why}",
                limit=soft,
                target=target,
                why=str(e),
            )
        else:
            limit = target
    if limit == resource.RLIM_INFINITY:
        limit = _INFINITE_LIMIT
    log.info("open-file limit: {limit}", limit=limit, hard=hard)
    return int(limit)


def listeningPortOf(transport: object) -> IListeningPort | None:
    """
    The listening port a server connection was accepted on, or C{None}.

    Twisted's TCP and UNIX server transports keep their port as C{server}
    (documented on C{twisted.internet.tcp.Server.__init__}, but in no
    interface); wrapping transports (TLS, the PROXY protocol) keep the
    transport they wrap as C{transport}.

    @return: A port that can stop and start reading (accepting), or
        C{None} when none is found.
    """
    for _ in range(8):
        if transport is None:
            return None
        port = getattr(transport, "server", None)
        if IListeningPort.providedBy(port) and callable(getattr(port, "stopReading", None)):
            return port
        transport = getattr(transport, "transport", None)
    return None


@implementer(IConnectionGate)
class ListenerGate(Factory):
    """
    Caps the open connections of one listener (see the module docstring);
    wraps the listener's factory, whose protocols provide
    L{IGatedConnection}.

    Listen with one gate per listening port: it learns the port from the
    first connection it admits (or L{proxykit.listeners.GatedEndpoint} sets
    L{port}).  When it starts listening it raises the process's open-file
    limit (L{raiseFileLimit}), and a cap left to it is derived from that
    limit (L{connectionCap}).

    @ivar factory: The factory whose protocols are counted.
    @ivar cap: The most connections open at once.
    @ivar open: The listener's open connections.
    @ivar port: The listening port, once known.
    @ivar closedIdle: How many idle connections were closed to make room.
    """

    noisy = False
    _log = NamedLogger("proxykit._gate.ListenerGate")

    def __init__(self, factory: IProtocolFactory, cap: int | None = None, name: str = "") -> None:
        """
        @param cap: The most connections open at once; C{None}: derived from
            the open-file limit (when the gate starts, after raising it).
        @param name: The listener's endpoint string, which its connections
            report (L{proxykit.ClientInfo.listener}: per-listener access
            logs and metrics).
        """
        self.factory = factory
        self.name = name
        self._derived = cap is None
        self.cap = cap if cap is not None else connectionCap(fileLimit())
        self.open = 0
        self.closedIdle = 0
        self.port: IListeningPort | None = None
        self._idle: OrderedDict[IGatedConnection, None] = OrderedDict()
        self._paused = False
        self._listening = False
        # One episode: from reaching the cap until well below it.
        self._atCap = False
        self._pausedAtCap = False
        self._closedAtCap = 0
        self._cannotPause = False
        self._connections: set[IGatedConnection] = set()
        self._drained: Deferred[None] | None = None

    def logPrefix(self) -> str:
        """
        Log as the factory it guards (C{ProxyFactory starting on 8080}).
        """
        return self.factory.logPrefix()  # type: ignore[attr-defined, no-any-return]

    def doStart(self) -> None:
        limit = raiseFileLimit()
        if self._derived:
            self.cap = connectionCap(limit)
        self._listening = True
        self.factory.doStart()

    def doStop(self) -> None:
        self._listening = False
        self._paused = False
        self.port = None
        self._endEpisode()
        self.factory.doStop()

    def buildProtocol(self, addr: IAddress) -> IProtocol | None:  # type: ignore[override]
        protocol = self.factory.buildProtocol(addr)
        if protocol is None:
            return None
        connection = IGatedConnection(protocol)
        idle = self._idle
        if self.open >= self.cap and idle:
            # Room for the new client: close the longest idle connection.
            oldest, _ = idle.popitem(last=False)
            self.open -= 1
            self._connections.discard(oldest)
            self.closedIdle += 1
            self._closedAtCap += 1
            oldest.shed()
        self.open += 1
        self._connections.add(connection)
        if self.open >= self.cap and not self._atCap:
            self._atCap = True
            self._log.info(
                "listener at {cap} connections: closing idle ones to admit new clients",
                cap=self.cap,
            )
        connection.gatedBy(self)
        return protocol

    # IConnectionGate

    def idle(self, connection: IGatedConnection) -> None:
        if self._drained is not None:
            # Draining: an idle connection has nothing left to finish.
            self._forget(connection)
            connection.shed()
            return
        self._idle[connection] = None
        if self._paused:
            self._resume()

    def busy(self, connection: IGatedConnection) -> None:
        idle = self._idle
        idle.pop(connection, None)
        if self.open >= self.cap and not idle and not self._paused:
            self._pause(connection)

    def closed(self, connection: IGatedConnection) -> None:
        self._forget(connection)

    def _forget(self, connection: IGatedConnection) -> None:
        """
        C{connection} no longer counts: it closed, or is closed now.
        """
        self._idle.pop(connection, None)
        self._connections.discard(connection)
        self.open -= 1
        drained = self._drained
        if drained is not None and not self._connections and not drained.called:
            drained.callback(None)
        if self._paused and self.open < self.cap:
            self._resume()
        if self._atCap and self.open <= self.cap * 3 // 4:
            # Well below the cap: the episode is over.
            self._endEpisode()

    # Draining

    def drain(self) -> Deferred[None]:
        """
        The proxy is stopping (its listener no longer accepts): close the
        idle connections now, and ask the busy ones to close once what they
        are doing is done (L{IGatedConnection.drain}).

        @return: Fires when no connection of this listener is left open.
        """
        if self._drained is None:
            self._drained = Deferred()
            for connection in list(self._idle):
                self._forget(connection)
                connection.shed()
            for connection in list(self._connections):
                connection.drain()
        if not self._connections and not self._drained.called:
            self._drained.callback(None)
        return self._drained

    @property
    def remaining(self) -> int:
        """
        How many connections are open.
        """
        return len(self._connections)

    def abortAll(self) -> int:
        """
        Drop every connection still open (a drain that took too long).

        @return: How many there were.
        """
        connections = list(self._connections)
        for connection in connections:
            connection.abortConnection()
        return len(connections)

    # Accepting or not

    def _pause(self, connection: IGatedConnection) -> None:
        """
        At the cap with no idle connection: stop accepting.
        """
        if not self._listening:
            return
        port = self.port
        if port is None:
            port = self.port = listeningPortOf(connection.transport)
        if port is None:
            if not self._cannotPause:
                self._cannotPause = True
                self._log.warn(
                    "listener at {cap} connections, none idle, and its port is"
                    " unknown: it cannot stop accepting",
                    cap=self.cap,
                )
            return
        self._paused = True
        port.stopReading()  # type: ignore[attr-defined]
        if not self._pausedAtCap:
            self._pausedAtCap = True
            self._log.info(
                "listener at {cap} connections, none idle: not accepting", cap=self.cap
            )

    def _resume(self) -> None:
        self._paused = False
        port = self.port
        if self._listening and port is not None:
            port.startReading()  # type: ignore[attr-defined]

    def _endEpisode(self) -> None:
        """
        Well below the cap again, or stopped: say how many idle connections
        were closed to make room meanwhile.
        """
        if not self._atCap:
            return
        self._atCap = False
        self._pausedAtCap = False
        count, self._closedAtCap = self._closedAtCap, 0
        self._log.info(
            "listener below {cap} connections again: {count} idle connections"
            " were closed to admit new clients",
            cap=self.cap,
            count=count,
        )
