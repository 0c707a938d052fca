# -*- test-case-name: tests.test_reactor -*-
"""
An epoll reactor without Twisted's per-event logging context.

Twisted's reactors run every read and write event inside
C{twisted.python.log.callWithLogger}, which asks the connection for its log
prefix and pushes and pops a logging context around the call: about 1.5 µs
per event, and a proxied request is at least two events (the client's read,
the origin's).  Only legacy C{twisted.python.log} messages use that context
(as their C{system}); proxykit logs with C{twisted.logger}.  L{ProxyReactor}
is Twisted's epoll reactor with the events dispatched directly: the same
behaviour, a failing handler still logged and its connection dropped.  The
benchmark (C{docs/performance.md}) measures the difference.

C{twistd proxykit} installs it unless a reactor was chosen (C{-r}); a library
application may call L{install} before anything imports
C{twisted.internet.reactor}, or use any other reactor.

L{orGlobal} and L{NamedLogger} are what proxykit's own classes use to run
on a reactor and to log.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar, cast

from twisted.internet.main import installReactor
from twisted.logger import Logger

from ._twistedcompat import directPoll

try:
    from twisted.internet.epollreactor import EPollReactor
except ImportError:  # pragma: no cover - not Linux
    EPollReactor = None  # type: ignore[assignment,misc]

__all__ = ["NamedLogger", "available", "install", "installIfNone", "orGlobal"]

_log = Logger()

_R = TypeVar("_R")


def orGlobal(reactor: _R | None) -> _R:
    """
    C{reactor}, or, when it is C{None}, the global reactor (Twisted's
    default is installed if none is yet): what proxykit's classes use when
    they are not given a reactor.
    """
    if reactor is not None:
        return reactor
    from twisted.internet import reactor as installed

    return cast(_R, installed)


class NamedLogger(Logger):
    """
    A class attribute's L{Logger} that logs under the namespace it was given,
    where Twisted's would use the class's module path: the namespaces
    operators filter on (C{proxykit.protocol.ProxyProtocol}, ...) stay the
    same when a module moves.
    """

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)

    def __get__(self, instance: object, owner: type | None = None) -> Logger:
        """
        As L{Logger.__get__}, with this logger's namespace: the source is
        C{instance}, or C{owner} when read from the class.
        """
        source: Any = owner if instance is None else instance
        return Logger(self.namespace, source, observer=self.observer)


def available() -> bool:
    """
    Whether L{ProxyReactor} can run here (it needs epoll: Linux).
    """
    return EPollReactor is not None


if EPollReactor is not None:

    class ProxyReactor(EPollReactor):
        """
        Twisted's epoll reactor, dispatching events without a logging
        context (L{proxykit._twistedcompat.directPoll}), or as Twisted does
        when this Twisted lacks what that needs.
        """

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            # Without the epoll internals it needs, the inherited doPoll.
            poll = directPoll(self, _log)
            if poll is not None:
                self.doPoll = self.doIteration = poll  # type: ignore[method-assign]


def install() -> None:
    """
    Install L{ProxyReactor} as the reactor.

    @raise twisted.internet.error.ReactorAlreadyInstalledError: A reactor
        is installed already.
    @raise RuntimeError: epoll is not available here.
    """
    if not available():
        raise RuntimeError("proxykit.reactor needs epoll (Linux)")
    installReactor(ProxyReactor())  # type: ignore[no-untyped-call]


def installIfNone() -> bool:
    """
    Install L{ProxyReactor} if no reactor is installed yet and epoll is
    available.

    @return: Whether it was installed.
    """
    if "twisted.internet.reactor" in sys.modules or not available():
        return False
    install()
    return True
