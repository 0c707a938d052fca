# -*- test-case-name: tests.test_service -*-
"""
Listeners that bind when told to and say at once, in one line, why they
cannot (L{Listener}, L{ListenError}), the endpoint wrapper that tells
a L{ListenerGate} its port (L{GatedEndpoint}), and the endpoint of a
listening socket inherited from a supervisor (L{AdoptedEndpoint}).
"""

from __future__ import annotations

import errno
import os
import socket

import attrs
from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ._twistedcompat import acceptOneAtATime
from .ops.reload import PLAIN, ListenerSpec
from .relay.gate import ListenerGate


@implementer(IStreamServerEndpoint)
class GatedEndpoint:
    """
    Listens through an endpoint and tells the gate its port (a gate
    listening without it learns the port from its first connection).
    """

    def __init__(self, endpoint: IStreamServerEndpoint, gate: ListenerGate) -> None:
        self._endpoint = endpoint
        self._gate = gate

    def listen(self, factory: IProtocolFactory) -> Deferred[IListeningPort]:
        def listening(port: IListeningPort) -> IListeningPort:
            self._gate.port = port
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
