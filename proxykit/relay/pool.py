# -*- test-case-name: tests.test_pool -*-
"""
The upstream keep-alive pool.

It knows nothing about HTTP: it hands out connected protocols per key, takes
back the ones their user says are reusable, keeps at most a few idle per key,
and closes idle ones after a while.  What "reusable" means is the
protocol's business (L{proxykit.relay.origin.OriginProtocol} says yes only after a
complete, correctly framed response).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from functools import partial
from typing import ClassVar, Final
from typing import Protocol as TypingProtocol

import attrs
from mypy_extensions import mypyc_attr
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from ..config.values import PoolConfig
from ..reactor import NamedLogger


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


@attrs.frozen(cache_hash=True)
class PrivateKey:
    """
    The key of connections private to one owner: they are pooled apart from
    C{key}'s other connections (an idle one is handed only to the same
    owner again), yet counted (L{ConnectionPool.counts}) and retired
    (L{ConnectionPool.retire}) with C{key}.

    proxykit uses it for origins it speaks the PROXY protocol to: such a
    connection told the origin which client it carries, so it may only ever
    carry that client's requests.

    @ivar key: The key it belongs to (the origin).
    @ivar owner: Whom its connections belong to (for the PROXY protocol,
        the header that opened them).
    """

    key: Hashable
    owner: Hashable


def baseKey(key: Hashable) -> Hashable:
    """
    The key C{key}'s connections are counted and retired under: C{key}
    itself, or a L{PrivateKey}'s C{key}.
    """
    return key.key if type(key) is PrivateKey else key


QUEUE_FULL: Final = "too many requests waiting for the origin"
QUEUE_TIMEOUT: Final = "waited too long for a connection to the origin"


class PoolFull(Exception):
    """
    Too many requests are already waiting for a connection to this origin
    (L{QUEUE_FULL}), or one waited longer than the queue timeout
    (L{QUEUE_TIMEOUT}): 503.
    """


class _Waiter:
    __slots__ = ("requester", "connector", "timer")

    def __init__(self, requester: Requester, connector: Connector, timer: IDelayedCall) -> None:
        self.requester = requester
        self.connector = connector
        self.timer = timer


@mypyc_attr(allow_interpreted_subclasses=True)
class ConnectionPool:
    """
    Idle keep-alive connections per key, most recently used first, and a
    bound on open connections per key with a bounded queue of waiting
    requests.

    @ivar connections: All open connections (idle or in use), for shutdown.
    """

    _log: ClassVar[NamedLogger] = NamedLogger("proxykit.pool.ConnectionPool")

    def __init__(
        self,
        reactor: IReactorTime,
        config: PoolConfig | None = None,
        maxPerKey: int = 0,
        maxQueue: int = 0,
        queueTimeout: float = 10.0,
    ) -> None:
        """
        @param maxPerKey: Most open (or opening) connections per key; C{0}:
            no limit.
        @param maxQueue: Most requests waiting per key when C{maxPerKey} is
            reached; more fail at once with L{PoolFull}.
        @param queueTimeout: Seconds a request may wait in the queue.
        """
        self._reactor = reactor
        self._config = config if config is not None else PoolConfig()
        self._idle: dict[Hashable, list[Pooled]] = {}
        self.connections: set[Pooled] = set()
        self._closing = False
        self._maxPerKey = maxPerKey
        self._maxQueue = maxQueue
        self._queueTimeout = queueTimeout
        self._open: dict[Hashable, int] = {}
        self._waiting: dict[Hashable, deque[_Waiter]] = {}
        self._retired: set[Hashable] = set()

    def configure(
        self,
        config: PoolConfig,
        maxPerKey: int = 0,
        maxQueue: int = 0,
        queueTimeout: float = 10.0,
    ) -> None:
        """
        Take new settings (a reload): they apply from the next connection
        released, opened or queued; connections already idle keep their
        expiry.  The parameters are those of L{__init__}.
        """
        self._config = config
        self._maxPerKey = maxPerKey
        self._maxQueue = maxQueue
        self._queueTimeout = queueTimeout

    def retire(self, keys: Iterable[Hashable]) -> int:
        """
        These keys are no longer wanted (their origins left the
        configuration, or DNS no longer names them): close their idle
        connections now, and each busy one when its user releases it,
        instead of keeping it idle (the L{PrivateKey}s of these keys too).
        A key is remembered as retired only while it has connections.

        @return: How many idle connections were closed.
        """
        closed = 0
        # Connections are kept under their full key (a PrivateKey for an
        # origin spoken to with the PROXY protocol) and retired under its
        # base key.
        live = {baseKey(key) for key in self._open}
        live.update(baseKey(key) for key in self._idle)
        for key in keys:
            if key in live:
                # A key without connections needs no remembering (origins
                # found through DNS come and go: the set stays bounded).
                self._retired.add(key)
            for connection in self._idle.pop(key, ()):
                connection.close()
                closed += 1
        private = [
            key
            for key in self._idle
            if type(key) is PrivateKey and key.key in self._retired
        ]
        return closed + self.closeIdle(private)

    def reinstate(self, keys: Iterable[Hashable]) -> None:
        """
        These keys are wanted again (their origins are configured again):
        their connections are kept idle once more.
        """
        self._retired.difference_update(keys)

    @property
    def retired(self) -> frozenset[Hashable]:
        """
        The keys whose connections are closed when released (L{retire}).
        """
        return frozenset(self._retired)

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
        limit = self._maxPerKey
        if limit and self._open.get(key, 0) >= limit:
            self._wait(key, requester, connector)
            return
        self._connect(key, requester, connector)

    def _connect(self, key: Hashable, requester: Requester, connector: Connector) -> None:
        self._open[key] = self._open.get(key, 0) + 1
        # Bound methods, not closures: a compiled closure's environment
        # would keep the requester (an exchange) alive as long as the
        # connection.
        connector(key).addCallbacks(
            self._connected, self._failed, callbackArgs=(requester,), errbackArgs=(key, requester)
        )

    def _connected(self, connection: Pooled, requester: Requester) -> None:
        self.connections.add(connection)
        connection.whenClosed().addCallback(self._discardClosed, connection)
        requester.connectionReady(connection, False)

    def _discardClosed(self, ignored: object, connection: Pooled) -> None:
        self.discard(connection)

    def _failed(self, reason: Failure, key: Hashable, requester: Requester) -> None:
        self._closed(key)
        requester.connectionFailed(reason)

    def _wait(self, key: Hashable, requester: Requester, connector: Connector) -> None:
        queue = self._waiting.get(key)
        if queue is None:
            queue = self._waiting[key] = deque()
        if len(queue) >= self._maxQueue:
            # The requester's own line says so, naming its request.
            requester.connectionFailed(Failure(PoolFull(QUEUE_FULL)))  # type: ignore[no-untyped-call]
            return
        waiter = _Waiter(requester, connector, None)  # type: ignore[arg-type]
        waiter.timer = self._reactor.callLater(
            self._queueTimeout, partial(self._expired, queue, waiter)
        )
        queue.append(waiter)

    def _expired(self, queue: deque[_Waiter], waiter: _Waiter) -> None:
        queue.remove(waiter)
        waiter.requester.connectionFailed(Failure(PoolFull(QUEUE_TIMEOUT)))  # type: ignore[no-untyped-call]

    def withdraw(self, key: Hashable, requester: Requester) -> None:
        """
        C{requester} no longer wants the connection it asked for C{key}: if
        it is still waiting for one, give up its place in the queue.
        """
        queue = self._waiting.get(key)
        if not queue:
            return
        for waiter in queue:
            if waiter.requester is requester:
                queue.remove(waiter)
                waiter.timer.cancel()
                break
        if not queue:
            del self._waiting[key]

    def _nextWaiter(self, key: Hashable) -> _Waiter | None:
        waiting = self._waiting
        if not waiting:
            # Nothing waits (the usual case): no key to hash.
            return None
        queue = waiting.get(key)
        if not queue:
            return None
        waiter = queue.popleft()
        if not queue:
            del self._waiting[key]
        waiter.timer.cancel()
        return waiter

    def _closed(self, key: Hashable) -> None:
        """
        One fewer connection is open for C{key}: a waiting request may open
        one.
        """
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)
            if self._retired and key not in self._idle:
                base = baseKey(key)
                if base is key or not any(
                    baseKey(other) == base for other in (*self._open, *self._idle)
                ):
                    self._retired.discard(base)
        waiter = self._nextWaiter(key)
        if waiter is not None:
            self._connect(key, waiter.requester, waiter.connector)

    def release(self, connection: Pooled) -> None:
        """
        Take back a connection that is ready for another request.
        """
        if self._closing:
            connection.close()
            return
        waiter = self._nextWaiter(connection.poolKey)
        if waiter is not None:
            waiter.requester.connectionReady(connection, True)
            return
        if self._retired and baseKey(connection.poolKey) in self._retired:
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
        Forget a connection (it closed).
        """
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        self._closed(connection.poolKey)
        idle = self._idle.get(connection.poolKey)
        if idle is not None:
            try:
                idle.remove(connection)
            except ValueError:
                pass
            if not idle:
                del self._idle[connection.poolKey]

    def closeIdle(self, keys: Iterable[Hashable]) -> int:
        """
        Close the idle connections of C{keys} now (their owner left: no one
        will ask for them again).

        @return: How many were closed.
        """
        closed = 0
        for key in keys:
            for connection in self._idle.pop(key, ()):
                connection.close()
                closed += 1
        return closed

    def idleCount(self, key: Hashable) -> int:
        """
        How many idle connections are kept for C{key}.
        """
        return len(self._idle.get(key, ()))

    def counts(self) -> dict[Hashable, tuple[int, int]]:
        """
        The open connections of every key that has some, idle and active
        (in use or still connecting): what the admin listener's C{/status}
        and metrics show.  A L{PrivateKey}'s are counted under its C{key}.

        @return: C{(idle, active)} by key.
        """
        idle = self._idle
        counts: dict[Hashable, tuple[int, int]] = {}
        for key, count in self._open.items():
            kept = len(idle.get(key, ()))
            active = max(count - kept, 0)
            if type(key) is PrivateKey:
                key = key.key
            before = counts.get(key)
            if before is not None:
                kept += before[0]
                active += before[1]
            counts[key] = (kept, active)
        return counts

    def closeAll(self) -> Deferred[None]:
        """
        Close every connection, idle or busy; fires when all are closed.
        """
        self._closing = True
        for queue in self._waiting.values():
            for waiter in queue:
                waiter.timer.cancel()
        self._waiting.clear()
        waits = [c.whenClosed() for c in list(self.connections)]
        for connection in list(self.connections):
            connection.close()
        self._idle.clear()
        return DeferredList(waits).addCallback(lambda _: None)
