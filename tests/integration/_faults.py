"""
Misbehaving origins and clients for the fault-injection tests
(L{tests.integration.test_faults}), and the checks that a proxy running in
the test's reactor leaks nothing after many failed requests.

Origins are L{RawPeer} scripts: each one misbehaves in one way (resets the
connection in the middle of a head, sends more than it declared, answers
twice, trickles its answer...).  A L{Rendezvous} wraps a script so that a
test can get hold of the origin connection that received a given request,
even with several requests in flight.

A L{Route} is a proxy in front of one origin, in forward or reverse mode,
and knows how a client asks it for a path: the same test runs in both
modes.

L{leakCheck} runs one failing request many times and then checks what the
failures left behind: file descriptors, pooled connections, timers.
"""

from __future__ import annotations

import gc
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import attrs
from twisted.internet.defer import (
    Deferred,
    gatherResults,
    inlineCallbacks,
    succeed,
)
from twisted.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
    IPullProducer,
    IResolutionReceiver,
)
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from proxykit import ConnectionPool, Timeouts
from proxykit.config import OriginConfig, ReverseConfig, RouteConfig, VhostConfig
from proxykit.relay.factory import poolFor
from proxykit.testing._memory import _Resolution

from ._reverse_servers import SITE, ReverseHarness
from ._servers import (
    WAIT,
    Listener,
    Proxy,
    RawPeer,
    Script,
    Tracker,
    headComplete,
    pattern,
    request,
)

# Responses

OK: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
"""A complete keep-alive answer."""

PARTIAL: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"
"""A head announcing 1000 bytes, and the first 10 of them."""

OVERSIZED: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0123456789"
"""Declares 5 bytes of body and sends 10."""

TWICE: bytes = OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"
"""An answer followed at once by a second, unsolicited one."""

HALF_STATUS_LINE: bytes = b"HTTP/1.1 20"


def _heads(data: bytes) -> int:
    return data.count(b"\r\n\r\n")


def _target(data: bytes) -> bytes:
    """
    The request-target of the first request line in C{data}.
    """
    line = data.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return parts[1] if len(parts) > 1 else b""


# Origin scripts


def answerEach(response: bytes) -> Script:
    """
    Raw origin script: answer every (bodiless) request with C{response},
    and keep the connection open.
    """

    def script(peer: RawPeer) -> None:
        heads = _heads(peer.received)
        answered = peer.state.get("answered", 0)
        if heads > answered:
            peer.state["answered"] = heads
            peer.send(response * (heads - answered))

    return script


def answerUnlessHeld(response: bytes) -> Script:
    """
    Raw origin script: answer every (bodiless) request with C{response} at
    once, except those for a target under C{/hold}, which the test answers.
    """

    def script(peer: RawPeer) -> None:
        heads = peer.received.split(b"\r\n\r\n")[:-1]
        answered = peer.state.get("answered", 0)
        for head in heads[answered:]:
            if not _target(head).startswith(b"/hold"):
                peer.send(response)
        peer.state["answered"] = len(heads)

    return script


def reset(peer: RawPeer, data: bytes = b"") -> None:
    """
    Hand C{data} to the kernel now, then reset the connection (RST).

    The bytes go straight to the socket: Twisted's write buffer would be
    discarded by the abort before the next reactor turn sends it.
    """
    transport: Any = peer.transport
    if data:
        transport.socket.sendall(data)
    transport.abortConnection()


def resetAfter(data: bytes) -> Script:
    """
    Raw origin script: once a request head has arrived, send C{data} and
    reset the connection.
    """

    def script(peer: RawPeer) -> None:
        if peer.state.get("answered") or not headComplete(peer.received):
            return
        peer.state["answered"] = True
        reset(peer, data)

    return script


def answerThenClose(peer: RawPeer) -> None:
    """
    Raw origin script: answer one request with a keep-alive C{200 hello},
    then close the connection (FIN) while the proxy holds it idle.
    """
    if peer.state.get("answered") or not headComplete(peer.received):
        return
    peer.state["answered"] = True
    peer.send(OK)
    assert peer.transport is not None
    peer.transport.loseConnection()


class Trickle:
    """
    Raw origin script: answer each (bodiless) request by sending C{pieces}
    one at a time, C{interval} seconds apart (the first at once).

    Call L{stop} on cleanup: a trickle cut short by the proxy may still have
    a piece scheduled.
    """

    def __init__(self, pieces: Sequence[bytes], interval: float) -> None:
        self._pieces = list(pieces)
        self._interval = interval
        self._pending: set[Any] = set()

    def __call__(self, peer: RawPeer) -> None:
        heads = _heads(peer.received)
        if heads <= peer.state.get("answered", 0):
            return
        peer.state["answered"] = heads
        self._send(peer, list(self._pieces))

    def _send(self, peer: RawPeer, remaining: list[bytes]) -> None:
        if peer.closed:
            return
        peer.send(remaining.pop(0))
        if remaining:
            self._pending = {call for call in self._pending if call.active()}
            later = peer.clock.callLater(self._interval, self._send, peer, remaining)
            self._pending.add(later)

    def stop(self) -> None:
        """
        Cancel the pieces still scheduled.
        """
        pending, self._pending = self._pending, set()
        for call in pending:
            if call.active():
                call.cancel()


def slowBody(size: int = 100, pieces: int = 10, interval: float = 0.1) -> Trickle:
    """
    Raw origin script: the head at once, then a C{size}-byte body in
    C{pieces} pieces, C{interval} seconds apart.
    """
    body = pattern(size)
    step = size // pieces
    parts = [body[i : i + step] for i in range(0, size, step)]
    return Trickle(
        [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (size,), *parts], interval
    )


def slowHead(interval: float = 0.1) -> Trickle:
    """
    Raw origin script: a complete response whose head arrives a field at a
    time, C{interval} seconds apart (about 1 s in all).
    """
    pieces = [b"HTTP/1.1 200 OK\r\n"]
    pieces.extend(b"X-Slow-%d: %d\r\n" % (i, i) for i in range(9))
    pieces.append(b"Content-Length: 5\r\n\r\nhello")
    return Trickle(pieces, interval)


_BLOCK = pattern(65536)


@implementer(IPullProducer)
class _BodyStreamer:
    """
    Writes C{size} bytes as fast as the connection takes them.
    """

    def __init__(self, peer: RawPeer, size: int) -> None:
        self._transport: Any = peer.transport
        self._left = size

    def resumeProducing(self) -> None:
        left = self._left
        if left <= 0:
            self._transport.unregisterProducer()
            return
        piece = _BLOCK if left >= len(_BLOCK) else _BLOCK[:left]
        self._left = left - len(piece)
        self._transport.write(piece)

    def stopProducing(self) -> None:
        self._left = 0


def streamBody(size: int) -> Script:
    """
    Raw origin script: answer with a C{size}-byte body, written as fast as
    the proxy reads it (a pull producer: nothing piles up in memory).
    """

    def script(peer: RawPeer) -> None:
        if peer.state.get("answered") or not headComplete(peer.received):
            return
        peer.state["answered"] = True
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (size,))
        transport: Any = peer.transport
        transport.registerProducer(_BodyStreamer(peer, size), False)

    return script


class Rendezvous:
    """
    Wraps an origin script so that a test can wait for the origin connection
    that received the request for a given target, once C{ready} holds for
    what it received.

    Meant for origins whose connections each serve one request.
    """

    def __init__(
        self,
        clock: Any,
        script: Script | None = None,
        ready: Callable[[bytes], bool] = headComplete,
    ) -> None:
        self._clock = clock
        self._script = script
        self._ready = ready
        self._peers: dict[bytes, RawPeer] = {}
        self._waiters: dict[bytes, Deferred[RawPeer]] = {}

    def __call__(self, peer: RawPeer) -> None:
        if self._script is not None:
            self._script(peer)
        if peer.state.get("met") or not self._ready(peer.received):
            return
        peer.state["met"] = True
        target = _target(peer.received)
        waiter = self._waiters.pop(target, None)
        if waiter is None:
            self._peers[target] = peer
        else:
            waiter.callback(peer)

    def peerFor(self, target: str, timeout: float = WAIT) -> Deferred[RawPeer]:
        """
        The origin connection that received the request for C{target}, once
        it is ready.
        """
        key = target.encode("ascii")
        peer = self._peers.pop(key, None)
        if peer is not None:
            return succeed(peer)
        d: Deferred[RawPeer] = Deferred()
        self._waiters[key] = d
        d.addTimeout(timeout, self._clock)
        return d


def bodyAtLeast(size: int) -> Callable[[bytes], bool]:
    """
    A condition on received bytes: a head and at least C{size} bytes after
    it.
    """

    def condition(data: bytes) -> bool:
        end = data.find(b"\r\n\r\n")
        return end >= 0 and len(data) - end - 4 >= size

    return condition


# Routes: forward or reverse


@dataclass
class Route:
    """
    A proxy in front of one origin, and how a client asks it for a path.

    @ivar authority: The origin's C{host:port} in forward mode; C{None} in
        reverse mode, where the site's name is L{SITE}.
    """

    proxy: Proxy
    authority: str | None

    def request(self, method: str, path: str, *fields: str, body: bytes = b"") -> bytes:
        """
        A raw request for C{path} through the proxy.
        """
        if self.authority is not None:
            target = f"http://{self.authority}{path}"
            return request(method, target, *fields, body=body)
        return request(method, path, *fields, body=body, host=SITE)


def forwardRoute(
    h: ReverseHarness,
    authority: str,
    timeouts: Timeouts | None = None,
    ejectFor: float | None = None,
) -> Route:
    """
    A forward proxy; requests name C{authority} (C{host:port}).

    @param ejectFor: Ignored: a forward proxy never takes its lone origin
        out.
    """
    return Route(_servicePool(h.startProxy(timeouts=timeouts)), authority)


def reverseRoute(
    h: ReverseHarness,
    authority: str,
    timeouts: Timeouts | None = None,
    ejectFor: float | None = None,
) -> Route:
    """
    A reverse proxy whose only site, L{SITE}, is served by the origin at
    C{authority} (C{host:port}).

    @param ejectFor: How long the origin is taken out after it fails to
        connect or to answer in time (the route's default if C{None}).
    """
    route = RouteConfig(origins=(OriginConfig(f"http://{authority}"),))
    if ejectFor is not None:
        route = attrs.evolve(route, ejectFor=ejectFor)
    reverse = ReverseConfig(vhosts=(VhostConfig((SITE,), (route,)),))
    return Route(_servicePool(h.startReverseProxy(reverse, timeouts)), None)


def _servicePool(proxy: Proxy) -> Proxy:
    """
    Give C{proxy} the pool a service builds from its configuration, with
    its caps on connections and waiting requests per origin (the harness
    builds a pool without them).
    """
    factory = proxy.factory
    factory.pool = poolFor(factory.config, factory.reactor)
    return proxy


def capPool(proxy: Proxy, maxPerKey: int, maxQueue: int) -> CountingPool:
    """
    Give C{proxy} a pool allowing C{maxPerKey} connections per origin and
    C{maxQueue} requests waiting for one; before any request.
    """
    factory = proxy.factory
    factory.pool = pool = CountingPool(
        factory.reactor,
        factory.config.pool,
        maxPerKey=maxPerKey,
        maxQueue=maxQueue,
        queueTimeout=factory.config.timeouts.connect,
    )
    return pool


class CountingPool(ConnectionPool):
    """
    A pool that tells L{acquired} (when set) each time it is asked for a
    connection, after it answered.  (A subclass: the compiled pool's
    methods cannot be replaced on an instance.)
    """

    acquired: Callable[[], None] | None = None

    def acquire(self, *args: Any, **kwargs: Any) -> None:
        super().acquire(*args, **kwargs)
        if self.acquired is not None:
            self.acquired()


class Acquisitions:
    """
    Counts the connections a pool was asked for (served, queued or refused
    at once), so that a test can wait until a request reached the pool.
    """

    def __init__(self, pool: CountingPool, clock: Any) -> None:
        self.count = 0
        self._clock = clock
        self._waiters: list[tuple[int, Deferred[None]]] = []
        pool.acquired = self._acquired

    def _acquired(self) -> None:
        self.count += 1
        waiting, self._waiters = self._waiters, []
        for wanted, d in waiting:
            if self.count >= wanted:
                d.callback(None)
            else:
                self._waiters.append((wanted, d))

    def whenCount(self, wanted: int, timeout: float = WAIT) -> Deferred[None]:
        """
        Fires once the pool was asked for C{wanted} connections in all.
        """
        if self.count >= wanted:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._waiters.append((wanted, d))
        d.addTimeout(timeout, self._clock)
        return d


# Ports that do not answer


def unansweredPort(testCase: TestCase) -> int:
    """
    A local port where connections are never established: a listening
    socket that accepts nothing, its one-connection backlog filled, so that
    the kernel drops further connection attempts (SYNs) and they time out.
    The sockets are closed on cleanup.
    """
    listening = socket.socket()
    testCase.addCleanup(listening.close)
    listening.bind(("127.0.0.1", 0))
    listening.listen(0)
    port: int = listening.getsockname()[1]
    for _ in range(2):
        filler = socket.socket()
        testCase.addCleanup(filler.close)
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    return port


# Name resolution


@implementer(IHostnameResolver)
class ScriptedResolver:
    """
    A name resolver for names under C{.invalid} (RFC 6761: they never
    resolve), other names going to the resolver it wraps:

      - names under C{.stall.invalid} never resolve: the lookup neither
        succeeds nor fails, like a DNS server that does not answer;
      - other names under C{.invalid} have no address, known on the next
        reactor turn, as a working DNS server answers at once.

    Install it with C{reactor.installNameResolver}.
    """

    def __init__(self, wrapped: IHostnameResolver, clock: Any) -> None:
        self._wrapped = wrapped
        self._clock = clock

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        name = hostName.lower().rstrip(".")
        if not name.endswith(".invalid"):
            return self._wrapped.resolveHostName(
                resolutionReceiver,
                hostName,
                portNumber,
                addressTypes,
                transportSemantics,
            )
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        if not name.endswith(".stall.invalid"):
            self._clock.callLater(0, resolutionReceiver.resolutionComplete)
        return resolution


def installResolver(testCase: TestCase, clock: Any) -> None:
    """
    Install a L{ScriptedResolver} in C{clock} (the reactor) for the duration
    of C{testCase}.
    """
    original = clock.installNameResolver(ScriptedResolver(clock.nameResolver, clock))
    testCase.addCleanup(clock.installNameResolver, original)


# Clients


@inlineCallbacks
def fetch(h: ReverseHarness, port: int, data: bytes, halfClose: bool = False) -> Any:
    """
    Connect to C{port}, write C{data} (then half-close if C{halfClose}), and
    fire with everything received until the proxy closes the connection.
    """
    client = yield h.connect(port)
    client.send(data)
    if halfClose:
        client.transport.loseWriteConnection()
    received = yield client.waitForClose()
    return received


# Waiting for connections to close


def whenOpenAtMost(
    tracker: Tracker, clock: Any, allowed: int, timeout: float = WAIT
) -> Deferred[None]:
    """
    Fires once at most C{allowed} of the connections C{tracker} counted are
    still open; fails with L{AssertionError} after C{timeout} seconds.
    """
    done: Deferred[None] = Deferred()
    if tracker.openCount <= allowed:
        done.callback(None)
        return done
    waits: list[Deferred[None]] = []

    def lost(_: object) -> None:
        if not done.called and tracker.openCount <= allowed:
            done.callback(None)

    for index in range(tracker.accepted):
        if done.called:
            break
        wait = tracker.whenLost(index, clock, timeout)
        waits.append(wait)
        wait.addCallback(lost)
        # Timeouts and the cancellations below: the overall bound judges.
        wait.addErrback(lambda _: None)

    def expire() -> None:
        if not done.called:
            done.errback(
                AssertionError(
                    f"{tracker.openCount} connection(s) still open after "
                    f"{timeout} s; expected at most {allowed}"
                )
            )

    timer = clock.callLater(timeout, expire)

    def cleanUp(result: object) -> object:
        if timer.active():
            timer.cancel()
        for wait in waits:
            wait.cancel()
        return result

    done.addBoth(cleanUp)
    return done


def whenAllClosed(connections: Sequence[Any], clock: Any) -> Deferred[Any]:
    """
    Fires once every one of C{connections} (proxy-side origin connections)
    has closed.
    """
    waits = [c.whenClosed().addTimeout(WAIT, clock) for c in connections]
    return gatherResults(waits, consumeErrors=True)


# What a proxy holds


def idleConnections(pool: Any) -> list[Any]:
    """
    The connections the pool keeps idle.
    """
    return [c for connections in pool._idle.values() for c in connections]


def poolProblems(pool: Any) -> list[str]:
    """
    What is wrong with a pool that should hold nothing but healthy idle
    connections: closed connections kept idle, connections still serving
    an exchange or otherwise unfit for the next request.
    """
    problems = []
    idle = idleConnections(pool)
    for connection in idle:
        transport = connection.transport
        if connection.closed or transport is None or not transport.connected:
            problems.append(f"closed connection kept idle: {connection!r}")
        if connection not in pool.connections:
            problems.append(f"idle connection not counted: {connection!r}")
    for connection in pool.connections:
        if connection not in idle:
            problems.append(f"open connection neither idle nor in use: {connection!r}")
        elif (
            connection.exchange is not None
            or connection.splice is not None
            or not connection.reusable
        ):
            problems.append(f"idle connection unfit for reuse: {connection!r}")
    # The per-origin connection cap counts open connections, and queues
    # requests beyond it: nothing may wait, and the counts must match.
    waiting = {key: len(q) for key, q in getattr(pool, "_waiting", {}).items() if q}
    if waiting:
        problems.append(f"requests still waiting for a connection: {waiting!r}")
    counted = getattr(pool, "_open", None)
    if counted is not None:
        actual: dict[Any, int] = {}
        for connection in pool.connections:
            actual[connection.poolKey] = actual.get(connection.poolKey, 0) + 1
        if {k: v for k, v in counted.items() if v} != actual:
            problems.append(f"open connections counted {counted!r}, open {actual!r}")
    return problems


def openDescriptors() -> int:
    """
    How many file descriptors this process has open.
    """
    return len(os.listdir("/proc/self/fd"))


def _module(function: object) -> str:
    module = getattr(function, "__module__", None)
    if module is None:
        module = type(getattr(function, "__self__", None)).__module__
    return str(module)


def activeCalls(clock: Any) -> list[Any]:
    """
    The reactor's pending timed calls.
    """
    return [call for call in clock.getDelayedCalls() if call.active()]


def describeCalls(calls: Sequence[Any]) -> str:
    """
    How many timed calls there are of each function, most first.
    """
    counts = Counter(
        getattr(call.func, "__qualname__", repr(call.func)) for call in calls
    )
    return ", ".join(f"{count} x {name}" for name, count in counts.most_common())


def proxykitCalls(clock: Any) -> list[Any]:
    """
    The pending timed calls whose function belongs to proxykit.
    """
    return [c for c in activeCalls(clock) if _module(c.func).startswith("proxykit")]


# The leak check


DESCRIPTOR_SLACK = 5
"""File descriptors the process may hold beyond its count before the loop."""

CALL_SLACK = 2
"""Timed calls the reactor may hold beyond its count before the loop."""


@dataclass
class LeakReport:
    """
    What a leak check measured.
    """

    attempts: int
    seconds: float
    descriptorsBefore: int
    descriptorsAfter: int
    callsBefore: int
    callsAfter: int
    idle: int


@inlineCallbacks
def settle(proxy: Proxy, origins: Sequence[Listener], clock: Any) -> Any:
    """
    Wait until the proxy has closed every client connection, and every
    origin connection it does not keep idle is closed at both ends.
    """
    yield whenOpenAtMost(proxy.listener.tracker, clock, 0)
    pool = proxy.factory.pool
    idle = idleConnections(pool)
    yield whenAllClosed([c for c in pool.connections if c not in idle], clock)
    idle = idleConnections(pool)
    for origin in origins:
        yield whenOpenAtMost(origin.tracker, clock, len(idle))


@inlineCallbacks
def runMany(attempt: Callable[[int], Deferred[Any]], count: int, parallel: int) -> Any:
    """
    Run C{attempt(0)} to C{attempt(count - 1)}, C{parallel} at a time.
    """
    numbers = iter(range(count))

    @inlineCallbacks
    def worker() -> Any:
        for number in numbers:
            yield attempt(number)

    yield gatherResults([worker() for _ in range(parallel)], consumeErrors=True)


@inlineCallbacks
def leakCheck(
    testCase: TestCase,
    clock: Any,
    proxy: Proxy,
    origins: Sequence[Listener],
    attempt: Callable[[int], Deferred[Any]],
    count: int,
    parallel: int = 1,
) -> Any:
    """
    Run one failing request once to warm up, then C{count} times; once
    every connection that should close has closed, check that:

      - the process holds as many file descriptors as before (within
        L{DESCRIPTOR_SLACK}, plus two per connection the pool keeps idle);
      - the pool keeps nothing but healthy idle connections;
      - the reactor holds no more timed calls than before (within
        L{CALL_SLACK}, plus one per connection the pool keeps idle), and
        proxykit's own are the idle connections' expiry timers at most.

    Errors logged meanwhile (including unhandled errors in Deferreds, which
    a garbage collection brings out) fail the test: trial's log observer
    sees them.

    @param attempt: Makes one request, checks its outcome and fires once its
        client connection is closed.
    @return: A Deferred firing with a L{LeakReport}.
    """
    yield attempt(-1)
    yield settle(proxy, origins, clock)
    gc.collect()
    pool = proxy.factory.pool
    idleBefore = len(idleConnections(pool))
    descriptorsBefore = openDescriptors()
    callsBefore = len(activeCalls(clock))
    started = time.monotonic()
    yield runMany(attempt, count, parallel)
    seconds = time.monotonic() - started
    yield settle(proxy, origins, clock)
    gc.collect()
    problems = poolProblems(pool)
    testCase.assertEqual(problems, [])
    idle = len(idleConnections(pool))
    grown = max(0, idle - idleBefore)
    descriptorsAfter = openDescriptors()
    testCase.assertLessEqual(
        descriptorsAfter,
        descriptorsBefore + DESCRIPTOR_SLACK + 2 * grown,
        f"file descriptors: {descriptorsBefore} before, {descriptorsAfter} after",
    )
    callsAfter = len(activeCalls(clock))
    testCase.assertLessEqual(
        callsAfter,
        callsBefore + CALL_SLACK + grown,
        f"timed calls: {callsBefore} before, {callsAfter} after: "
        f"{describeCalls(activeCalls(clock))}",
    )
    ours = proxykitCalls(clock)
    testCase.assertLessEqual(
        len(ours),
        idle,
        f"proxykit timers: {describeCalls(ours)} for {idle} idle connection(s)",
    )
    return LeakReport(
        count,
        seconds,
        descriptorsBefore,
        descriptorsAfter,
        callsBefore,
        callsAfter,
        idle,
    )
