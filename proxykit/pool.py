# -*- test-case-name: tests.test_pool -*-
"""
The upstream keep-alive pool.

It knows nothing about HTTP: it hands out connected protocols per key, takes
back the ones their user says are reusable, keeps at most a few idle per key,
and closes idle ones after a while.  What "reusable" means is the
protocol's business (L{proxykit._origin.OriginProtocol} says yes only after a
complete, correctly framed response).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from .config import PoolConfig


class Pooled(TypingProtocol):
    """
    What the pool needs of a connection.
    """

    poolKey: Hashable

    def idle(self, expiry: float) -> None:
        """
        Now idle in the pool: close by yourself after C{expiry} seconds.
        """

    def close(self) -> None:
        """
        Close the connection now.
        """

    def whenClosed(self) -> Deferred[None]:
        """
        Fires once the connection is closed.
        """


class Requester(TypingProtocol):
    """
    Whoever asked the pool for a connection.
    """

    def connectionReady(self, connection: Pooled, reused: bool) -> None:
        """
        Here is a connection to use; C{reused} if it served before.
        """

    def connectionFailed(self, reason: Failure) -> None:
        """
        No connection could be made.
        """


Connector = Callable[[Hashable], "Deferred[Pooled]"]
"""Makes a new connection for a key."""


class ConnectionPool:
    """
    Idle keep-alive connections per key, most recently used first.

    @ivar connections: All open connections (idle or in use), for shutdown.
    """

    _log = Logger()

    def __init__(self, reactor: IReactorTime, config: PoolConfig | None = None) -> None:
        self._reactor = reactor
        self._config = config if config is not None else PoolConfig()
        self._idle: dict[Hashable, list[Pooled]] = {}
        self.connections: set[Pooled] = set()
        self._closing = False

    def acquire(
        self,
        key: Hashable,
        requester: Requester,
        connector: Connector,
        fresh: bool = False,
    ) -> None:
        """
        Get a connection for C{key}: an idle one at once (synchronously), or
        a new one from C{connector} when it is connected.

        @param connector: Makes a new connection for C{key}.
        @param fresh: Never reuse an idle connection.
        """
        if not fresh:
            idle = self._idle.get(key)
            if idle:
                connection = idle.pop()
                requester.connectionReady(connection, True)
                return
        d = connector(key)

        def connected(connection: Pooled) -> None:
            self.connections.add(connection)
            connection.whenClosed().addCallback(lambda _: self.discard(connection))
            requester.connectionReady(connection, False)

        d.addCallbacks(connected, requester.connectionFailed)

    def release(self, connection: Pooled) -> None:
        """
        Take back a connection that is ready for another request.
        """
        if self._closing:
            connection.close()
            return
        idle = self._idle.setdefault(connection.poolKey, [])
        if len(idle) >= self._config.maxIdlePerOrigin:
            connection.close()
            return
        idle.append(connection)
        connection.idle(self._config.idleExpiry)

    def discard(self, connection: Pooled) -> None:
        """
        Forget a connection (it closed or will not be reused).
        """
        self.connections.discard(connection)
        idle = self._idle.get(connection.poolKey)
        if idle is not None:
            try:
                idle.remove(connection)
            except ValueError:
                pass
            if not idle:
                del self._idle[connection.poolKey]

    def idleCount(self, key: Hashable) -> int:
        """
        How many idle connections are kept for C{key}.
        """
        return len(self._idle.get(key, ()))

    def closeAll(self) -> Deferred[None]:
        """
        Close every connection, idle or busy; fires when all are closed.
        """
        self._closing = True
        waits = [c.whenClosed() for c in list(self.connections)]
        for connection in list(self.connections):
            connection.close()
        self._idle.clear()
        return DeferredList(waits).addCallback(lambda _: None)
