# -*- test-case-name: tests.test_service,tests.test_acceptfailures -*-
"""
Listeners that bind when told to and say at once, in one line, why they
cannot (L{Listener}, L{ListenError}), the endpoint wrapper that tells
a L{ListenerGate} its port (L{GatedEndpoint}) and watches its failed
accepts (L{AcceptFailures}), and the endpoint of a listening socket
inherited from a supervisor (L{AdoptedEndpoint}).
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any, Final

import attrs
from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IDelayedCall,
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import ILogObserver, LogEvent, Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ._twistedcompat import ACCEPT_FAILURES, acceptOneAtATime, observeAccepts
from .ops.reload import PLAIN, ListenerSpec
from .relay.gate import ListenerGate

ACCEPT_LOG_INTERVAL: Final = 10.0
"""Seconds between two log lines about a listener's failed accepts."""

ACCEPT_RETRY: Final = 0.1
"""Seconds a listener whose accept failed with its clients still waiting
stops accepting before it tries again."""


@implementer(ILogObserver)
class AcceptFailures:
    """
    Watches the failed accepts of one listening port (the events of
    L{proxykit._twistedcompat.ACCEPT_FAILURES}, which Twisted logs for
    every client it cannot take) and passes its other log events on.

    Out of file descriptors (C{EMFILE}), Twisted accepts each waiting
    client with the descriptor it keeps in reserve and closes it at once,
    so the listening socket does not stay readable; the connections open
    are served as before, and accepting resumes as soon as a descriptor
    is free.  Where an accept fails and leaves the clients waiting (no
    reserve, C{ENFILE}, C{ENOBUFS}, C{ENOMEM}), the port stops accepting
    for L{ACCEPT_RETRY} seconds rather than trying again at once, and
    again: nothing spins.  Either way, one line is logged per
    L{ACCEPT_LOG_INTERVAL} at most, with what happened since the last.

    @ivar turnedAway: Clients accepted and closed at once, in all.
    @ivar failures: Accepts that failed, in all.
    """

    _log = Logger(namespace="proxykit.listeners.AcceptFailures")

    def __init__(
        self,
        observer: ILogObserver,
        port: object,
        clock: IReactorTime,
        name: str,
        gate: ListenerGate | None = None,
    ) -> None:
        """
        @param observer: Where the port's events went, and where this
            logs.
        @param port: The listening port (it can C{stopReading} and
            C{startReading}).
        @param name: The listener's endpoint string, for the log.
        @param gate: The gate of the port's connections: while it is at its
            cap the port is left for the gate to resume.
        """
        self._observer = observer
        self._port = port
        self._clock = clock
        self._name = name
        self._gate = gate
        self._out = Logger(namespace=self._log.namespace, source=self, observer=observer)
        self._next = 0.0
        self._turnedAwaySince = 0
        self._failuresSince = 0
        self._reason = ""
        self._retry: IDelayedCall | None = None
        self.turnedAway = 0
        self.failures = 0

    def __call__(self, event: LogEvent) -> None:
        kind = ACCEPT_FAILURES.get(event.get("log_format", ""))
        if kind is None:
            self._observer(event)
            return
        if kind == "closed":
            self.turnedAway += 1
            self._turnedAwaySince += 1
            return
        if kind == "begin":
            self.failures += 1
            self._failuresSince += 1
            self._reason = "EMFILE"
            return
        if kind == "failed":
            self.failures += 1
            self._failuresSince += 1
            self._reason = str(event.get("acceptError", "")) or self._reason
            self._pause()
        self._report()

    def _report(self) -> None:
        """
        The end of one read's failed accepts: log, unless a line was
        logged less than L{ACCEPT_LOG_INTERVAL} seconds ago.
        """
        now = self._clock.seconds()
        if now < self._next:
            return
        self._next = now + ACCEPT_LOG_INTERVAL
        failures, self._failuresSince = self._failuresSince, 0
        turnedAway, self._turnedAwaySince = self._turnedAwaySince, 0
        self._out.warn(
            "cannot accept on {listener}: out of file descriptors or memory"
            " ({reason}); {failures} failed accepts, {turnedAway} new clients"
            " closed at once since the last such line (at most one every"
            " {interval:g} s); the open connections are served",
            listener=self._name,
            reason=self._reason,
            failures=failures,
            turnedAway=turnedAway,
            interval=ACCEPT_LOG_INTERVAL,
        )

    def _pause(self) -> None:
        """
        The clients are still waiting: stop accepting for a moment.
        """
        if self._retry is not None:
            return
        port: Any = self._port
        if not callable(getattr(port, "stopReading", None)):
            return
        port.stopReading()
        self._retry = self._clock.callLater(ACCEPT_RETRY, self._resume)

    def _resume(self) -> None:
        self._retry = None
        port: Any = self._port
        if not getattr(port, "connected", False):
            # It stopped listening meanwhile.
            return
        gate = self._gate
        if gate is not None and gate.open >= gate.cap:
            # At its cap the gate resumes the port itself, when a
            # connection closes or becomes idle: look again later.
            self._retry = self._clock.callLater(ACCEPT_RETRY, self._resume)
            return
        port.startReading()


@implementer(IStreamServerEndpoint)
class GatedEndpoint:
    """
    Listens through an endpoint, tells the gate its port (a gate
    listening without it learns the port from its first connection) and
    watches the port's failed accepts (L{AcceptFailures}).
    """

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        gate: ListenerGate,
        clock: object | None = None,
    ) -> None:
        """
        @param clock: Times L{AcceptFailures} (an C{IReactorTime});
            C{None}: the global reactor.
        """
        self._endpoint = endpoint
        self._gate = gate
        self._clock = clock

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        def listening(port: IListeningPort) -> IListeningPort:
            self._gate.port = port
            clock: Any = self._clock
            if clock is None:
                from twisted.internet import reactor as clock
            observeAccepts(
                port,
                lambda observer: AcceptFailures(
                    observer, port, clock, self._gate.name, self._gate
                ),
            )
            return port

        return self._endpoint.listen(factory).addCallback(listening)


@attrs.frozen
class InheritedSocket:
    """
    A listening socket a worker process inherits from its supervisor.

    @ivar fd: Its file descriptor in this process.
    @ivar family: C{socket.AF_INET} or C{socket.AF_INET6}.
    @ivar shared: Whether other workers accept on the same socket (rather
        than each on its own, with C{SO_REUSEPORT}).
    @ivar proxyHeader: Whether its connections start with a PROXY
        protocol header (a C{haproxy:} listener's socket).
    """

    fd: int
    family: int
    shared: bool = True
    proxyHeader: bool = False


@implementer(IStreamServerEndpoint)
class AdoptedEndpoint:
    """
    Listens on a socket bound and listening already (a worker's socket,
    from its supervisor): C{reactor.adoptStreamPort} instead of binding.

    It listens once: the inherited descriptor is closed once the port has
    its own copy, so that when this process stops listening the socket
    is no longer its to accept on.
    """

    def __init__(self, reactor: object, inherited: InheritedSocket) -> None:
        self._reactor = reactor
        self._inherited: InheritedSocket | None = inherited

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        inherited, self._inherited = self._inherited, None
        if inherited is None:
            return fail(OSError(errno.EBADF, "the inherited socket is adopted already"))
        try:
            port = self._reactor.adoptStreamPort(  # type: ignore[attr-defined]
                inherited.fd, socket.AddressFamily(inherited.family), factory
            )
        except OSError as e:
            return fail(e)
        finally:
            os.close(inherited.fd)
        if inherited.shared:
            # The other workers wait on the same socket: take one
            # connection at a time, so that a burst is shared.
            acceptOneAtATime(port)
        return succeed(port)


class ListenError(Exception):
    """
    A listener cannot listen.

    @ivar description: Its endpoint string.
    @ivar reason: Why, in words (C{"address already in use"}).
    """

    def __init__(self, description: str, reason: str) -> None:
        super().__init__(description, reason)
        self.description = description
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot listen on {self.description}: {self.reason}"


def _listenReason(error: BaseException | None) -> str:
    """
    Why listening failed, in words: the system's reason for a socket error
    (C{"address already in use"}), else the exception's text.
    """
    cause = error.socketError if isinstance(error, CannotListenError) else error
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return str(error) or type(error).__name__


class Listener(StreamServerEndpointService):
    """
    A listener that listens when told to (L{listen}), raising at once if it
    cannot, rather than logging the failure and running without it.

    @ivar description: Its endpoint string, named in errors.
    """

    _log = Logger()

    def __init__(
        self,
        spec: ListenerSpec | str,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
        reactor: object,
        gate: ListenerGate | None = None,
    ) -> None:
        """
        @param spec: Its endpoint string and what it serves, for a reload
            to compare (an endpoint string alone: a plain listener).
        @param gate: The gate counting its connections.
        """
        if isinstance(spec, str):
            spec = ListenerSpec(spec, PLAIN)
        super().__init__(endpoint, factory)  # type: ignore[no-untyped-call]
        self.description = spec.description
        self.gate = gate
        self.spec = spec
        self._reactor = reactor
        self._port: IListeningPort | None = None

    def listen(self) -> None:
        """
        Listen, unless listening already.  Every endpoint C{twistd} knows
        (TCP, UNIX, SSL, haproxy, systemd) listens synchronously; one that
        does not is waited for, and its failure is logged and stops the
        reactor.

        @raise ListenError: The endpoint cannot listen.
        """
        if self._waitingForPort is not None:
            return
        outcome: list[object] = []

        def settled(result: object) -> object:
            outcome.append(result)
            return result

        waiting = self.endpoint.listen(self.factory)
        waiting.addCallback(self._noteBound)
        waiting.addBoth(settled)
        if not outcome:
            self._waitingForPort = waiting.addErrback(self._failedLater)
        elif isinstance(outcome[0], Failure):
            waiting.addErrback(lambda _: None)
            raise ListenError(self.description, _listenReason(outcome[0].value))
        else:
            self._waitingForPort = waiting

    @property
    def bound(self) -> bool:
        """
        Whether it listens now (its port is bound).
        """
        return self._port is not None

    def _noteBound(self, port: IListeningPort) -> IListeningPort:
        self._port = port
        return port

    def _failedLater(self, failure: Failure) -> None:
        self._log.critical(
            "proxykit: {error}",
            error=ListenError(self.description, _listenReason(failure.value)),
        )
        if getattr(self._reactor, "running", False):
            self._reactor.stop()  # type: ignore[attr-defined]

    def close(self) -> None:
        """
        Stop listening (if listening), so that L{listen} listens again.
        """
        waiting, self._waitingForPort = self._waitingForPort, None
        self._port = None
        if waiting is not None:
            waiting.addCallback(lambda port: port.stopListening())
            waiting.addErrback(lambda _: None)

    def privilegedStartService(self) -> None:
        service.Service.privilegedStartService(self)  # type: ignore[no-untyped-call]
        self.listen()

    def startService(self) -> None:
        self.listen()
        service.Service.startService(self)  # type: ignore[no-untyped-call]

    def stopService(self) -> Deferred[None]:
        self._port = None
        if self._waitingForPort is None:
            service.Service.stopService(self)  # type: ignore[no-untyped-call]
            return succeed(None)
        return super().stopService()  # type: ignore[no-any-return, no-untyped-call]
