"""
Tests for L{proxykit.relay.pool}: the keep-alive pool, without HTTP.
"""

from __future__ import annotations

from collections.abc import Hashable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import PoolConfig
from proxykit.relay.pool import ConnectionPool, Pooled, PrivateKey, baseKey


class FakeConnection:
    """
    A pooled connection that records what the pool did to it.
    """

    def __init__(self, key: Hashable) -> None:
        self.poolKey = key
        self.idleFor: float | None = None
        self.closed = False
        self._waiters: list[Deferred[None]] = []

    def idle(self, expiry: float) -> None:
        self.idleFor = expiry

    def close(self) -> None:
        self.closed = True
        for d in self._waiters:
            d.callback(None)

    def whenClosed(self) -> Deferred[None]:
        if self.closed:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append(d)
        return d


class Requester:
    def __init__(self) -> None:
        self.ready: list[tuple[Pooled, bool]] = []
        self.failed: list[Failure] = []

    def connectionReady(self, connection: Pooled, reused: bool) -> None:
        self.ready.append((connection, reused))

    def connectionFailed(self, reason: Failure) -> None:
        self.failed.append(reason)


class ConnectionPoolTests(SynchronousTestCase):
    """
    L{ConnectionPool} hands out idle connections first and bounds them.
    """

    def setUp(self) -> None:
        self.made: list[FakeConnection] = []
        self.pool = ConnectionPool(MemoryReactorClock(), PoolConfig(maxIdlePerOrigin=2, idleExpiry=7))

    def connector(self, key: Hashable) -> Deferred[Pooled]:
        connection = FakeConnection(key)
        self.made.append(connection)
        return succeed(connection)

    def test_newThenReused(self) -> None:
        """
        The first acquire connects; after release the next acquire gets the
        same connection synchronously, marked reused.
        """
        r = Requester()
        self.pool.acquire("a", r, self.connector)
        self.assertEqual(r.ready, [(self.made[0], False)])
        self.pool.release(self.made[0])
        self.assertEqual(self.made[0].idleFor, 7)
        self.assertEqual(self.pool.idleCount("a"), 1)
        self.pool.acquire("a", r, self.connector)
        self.assertEqual(r.ready[1], (self.made[0], True))
        self.assertEqual(len(self.made), 1)

    def test_keysSeparate(self) -> None:
        """
        Idle connections are per key.
        """
        r = Requester()
        self.pool.acquire("a", r, self.connector)
        self.pool.release(self.made[0])
        self.pool.acquire("b", r, self.connector)
        self.assertEqual(len(self.made), 2)

    def test_fresh(self) -> None:
        """
        C{fresh=True} never reuses an idle connection.
        """
        r = Requester()
        self.pool.acquire("a", r, self.connector)
        self.pool.release(self.made[0])
        self.pool.acquire("a", r, self.connector, fresh=True)
        self.assertEqual(len(self.made), 2)
        self.assertEqual(self.pool.idleCount("a"), 1)

    def test_idleCap(self) -> None:
        """
        Beyond the idle cap released connections are closed.
        """
        r = Requester()
        for _ in range(3):
            self.pool.acquire("a", r, self.connector)
        for connection in self.made:
            self.pool.release(connection)
        self.assertEqual(self.pool.idleCount("a"), 2)
        self.assertEqual([c.closed for c in self.made], [False, False, True])

    def test_closedIdleForgotten(self) -> None:
        """
        An idle connection that closes (origin timeout) leaves the pool.
        """
        r = Requester()
        self.pool.acquire("a", r, self.connector)
        self.pool.release(self.made[0])
        self.made[0].close()
        self.assertEqual(self.pool.idleCount("a"), 0)
        self.assertEqual(self.pool.connections, set())

    def test_connectFailure(self) -> None:
        """
        A failed connect reaches the requester.
        """
        r = Requester()
        self.pool.acquire("a", r, lambda key: fail(ConnectionRefusedError()))
        self.assertEqual(len(r.failed), 1)
        self.assertEqual(r.ready, [])

    def test_closeAll(self) -> None:
        """
        closeAll closes busy and idle connections and fires when they are
        closed; later releases close at once.
        """
        r = Requester()
        self.pool.acquire("a", r, self.connector)
        self.pool.acquire("a", r, self.connector)
        self.pool.release(self.made[0])
        d = self.pool.closeAll()
        self.successResultOf(d)
        self.assertTrue(all(c.closed for c in self.made))
        late = FakeConnection("a")
        self.pool.release(late)
        self.assertTrue(late.closed)


class PoolCountTests(SynchronousTestCase):
    """
    L{ConnectionPool.counts} says how many connections each key has, idle
    and active.
    """

    def test_counts(self) -> None:
        """
        Connections handed out are active, released ones idle; a key whose
        connections all closed is not listed.
        """
        pool = ConnectionPool(MemoryReactorClock(), PoolConfig(maxIdlePerOrigin=2, idleExpiry=7))
        made: list[FakeConnection] = []

        def connector(key: Hashable) -> Deferred[Pooled]:
            made.append(FakeConnection(key))
            return succeed(made[-1])

        for key in ("a", "a", "b"):
            pool.acquire(key, Requester(), connector)
        pool.release(made[0])
        self.assertEqual(pool.counts(), {"a": (1, 1), "b": (0, 1)})
        made[2].close()
        self.assertEqual(pool.counts(), {"a": (1, 1)})


class PrivateKeyTests(SynchronousTestCase):
    """
    Connections under a L{PrivateKey} serve only their owner, yet count and
    retire with their key.
    """

    def setUp(self) -> None:
        self.made: list[FakeConnection] = []
        self.pool = ConnectionPool(MemoryReactorClock(), PoolConfig(maxIdlePerOrigin=2, idleExpiry=7))

    def connector(self, key: Hashable) -> Deferred[Pooled]:
        connection = FakeConnection(key)
        self.made.append(connection)
        return succeed(connection)

    def test_ownerOnly(self) -> None:
        """
        An idle connection of one owner is never handed to another owner of
        the same key, nor to the key itself; its own owner gets it back.
        """
        alice, bob = PrivateKey("a", "alice"), PrivateKey("a", "bob")
        self.pool.acquire(alice, Requester(), self.connector)
        self.pool.release(self.made[0])
        for other in (bob, "a"):
            r = Requester()
            self.pool.acquire(other, r, self.connector)
            self.assertEqual(r.ready, [(self.made[-1], False)])
            self.assertIsNot(self.made[-1], self.made[0])
        r = Requester()
        self.pool.acquire(alice, r, self.connector)
        self.assertEqual(r.ready, [(self.made[0], True)])

    def test_countedUnderKey(self) -> None:
        """
        L{ConnectionPool.counts} adds owners' connections to their key's.
        """
        for key in (PrivateKey("a", "alice"), "a", PrivateKey("a", "bob"), PrivateKey("b", "bob")):
            self.pool.acquire(key, Requester(), self.connector)
        self.pool.release(self.made[0])
        self.assertEqual(self.pool.counts(), {"a": (1, 2), "b": (0, 1)})
        self.assertEqual(baseKey(PrivateKey("a", "x")), "a")
        self.assertEqual(baseKey("a"), "a")

    def test_retiredWithKey(self) -> None:
        """
        Retiring a key closes its owners' idle connections, and their busy
        ones when released.
        """
        alice, bob = PrivateKey("a", "alice"), PrivateKey("a", "bob")
        self.pool.acquire(alice, Requester(), self.connector)
        self.pool.acquire(bob, Requester(), self.connector)
        self.pool.release(self.made[0])
        self.assertEqual(self.pool.retire(["a"]), 1)
        self.assertTrue(self.made[0].closed)
        self.assertFalse(self.made[1].closed)
        self.pool.release(self.made[1])
        self.assertTrue(self.made[1].closed)

    def test_closeIdle(self) -> None:
        """
        L{ConnectionPool.closeIdle} closes the idle connections of the keys
        given (an owner that left), and no others.
        """
        alice, bob = PrivateKey("a", "alice"), PrivateKey("a", "bob")
        self.pool.acquire(alice, Requester(), self.connector)
        self.pool.acquire(bob, Requester(), self.connector)
        self.pool.release(self.made[0])
        self.pool.release(self.made[1])
        self.assertEqual(self.pool.closeIdle([alice]), 1)
        self.assertEqual([c.closed for c in self.made], [True, False])
        self.assertEqual(self.pool.idleCount(alice), 0)
        self.assertEqual(self.pool.idleCount(bob), 1)


class PoolLimitTests(SynchronousTestCase):
    """
    At most C{maxPerKey} connections per key; further requests wait in a
    bounded queue, for a bounded time.
    """

    def setUp(self) -> None:
        self.made: list[FakeConnection] = []
        self.pending: list[Deferred[Pooled]] = []
        self.clock = MemoryReactorClock()
        self.pool = ConnectionPool(self.clock, PoolConfig(), maxPerKey=2, maxQueue=1, queueTimeout=5)

    def connector(self, key: Hashable) -> Deferred[Pooled]:
        d: Deferred[Pooled] = Deferred()
        self.pending.append(d)
        return d

    def connect(self, index: int) -> FakeConnection:
        connection = FakeConnection("a")
        self.made.append(connection)
        self.pending[index].callback(connection)
        return connection

    def test_queueAndHandOver(self) -> None:
        """
        The third request waits; a released connection goes to it directly.
        """
        rs = [Requester() for _ in range(3)]
        for r in rs:
            self.pool.acquire("a", r, self.connector)
        self.assertEqual(len(self.pending), 2)
        first = self.connect(0)
        self.pool.release(first)
        self.assertEqual(rs[2].ready, [(first, True)])
        self.assertEqual(self.pool.idleCount("a"), 0)

    def test_overflow(self) -> None:
        """
        Beyond the queue, requests fail at once with PoolFull (503).
        """
        rs = [Requester() for _ in range(4)]
        for r in rs:
            self.pool.acquire("a", r, self.connector)
        self.assertEqual(len(rs[3].failed), 1)
        from proxykit.relay.errors import connectFailureStatus
        from proxykit.relay.pool import PoolFull

        self.assertIsInstance(rs[3].failed[0].value, PoolFull)
        self.assertEqual(connectFailureStatus(rs[3].failed[0].value)[0], 503)

    def test_queueTimeout(self) -> None:
        """
        A request that waits longer than the queue timeout fails.
        """
        rs = [Requester() for _ in range(3)]
        for r in rs:
            self.pool.acquire("a", r, self.connector)
        self.clock.advance(5.1)
        self.assertEqual(len(rs[2].failed), 1)

    def test_closedConnectionLetsWaiterConnect(self) -> None:
        """
        When a connection closes (or fails to connect), a waiting request
        opens a new one.
        """
        rs = [Requester() for _ in range(3)]
        for r in rs:
            self.pool.acquire("a", r, self.connector)
        self.pending[1].errback(ConnectionRefusedError())
        self.assertEqual(len(self.pending), 3)
        first = self.connect(0)
        first.close()
        self.assertEqual(len(self.pending), 3, "the queue is empty: nothing new opened")


class RetiredBoundedTests(SynchronousTestCase):
    """
    The pool remembers retired keys only while they have connections (DNS
    discovery retires every address that leaves).
    """

    def test_forgotten(self) -> None:
        """
        A key retired without connections is not remembered; one retired
        with a connection is forgotten when its last connection closes.
        """

        class Conn:
            poolKey = "a"
            closed = False

            def idle(self, expiry: float) -> None:
                pass

            def close(self) -> None:
                self.closed = True

        pool = ConnectionPool(MemoryReactorClock())
        pool.retire(["never"])
        self.assertEqual(pool.retired, frozenset())
        conn = Conn()
        pool.connections.add(conn)  # type: ignore[arg-type]
        pool._open["a"] = 1
        pool.retire(["a"])
        self.assertEqual(pool.retired, frozenset({"a"}))
        pool.discard(conn)  # type: ignore[arg-type]
        self.assertEqual(pool.retired, frozenset())
