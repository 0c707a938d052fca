"""
Real-socket tests of a listener's connection cap: at the cap, idle
keep-alive connections make room for new clients, and connections in the
middle of a request are never closed for it.

The proxy runs in the trial reactor, listening with a L{ListenerGate}
through a plain endpoint (no C{_GatedEndpoint}), as an application
embedding proxykit would.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from proxykit import ConnectionPool, ForwardRouter, ProxyConfig, ProxyFactory, Timeouts
from proxykit.relay.gate import IGatedConnection, ListenerGate

from ._servers import (
    WAIT,
    Harness,
    Listener,
    Proxy,
    Tracker,
    TrackingFactory,
    completeResponses,
    request,
)

CAP = 20


class WatchedGate(ListenerGate):
    """
    A gate that lets a test wait until its connections have told it they
    are busy.
    """

    busyCount = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._waiters: list[tuple[int, Deferred[None]]] = []

    def busy(self, connection: IGatedConnection) -> None:
        super().busy(connection)
        self.busyCount += 1
        waiting, self._waiters = self._waiters, []
        for count, d in waiting:
            if self.busyCount >= count:
                d.callback(None)
            else:
                self._waiters.append((count, d))

    def whenBusy(self, count: int) -> Deferred[None]:
        """
        Fires once C{count} busy notifications have arrived in all.
        """
        d: Deferred[None] = Deferred()
        if self.busyCount >= count:
            d.callback(None)
            return d
        self._waiters.append((count, d))
        d.addTimeout(WAIT, reactor)
        return d


class GateHarness(Harness):
    """
    A L{Harness} that also listens with a forward proxy behind a gate on an
    endpoint string.
    """

    def startGatedProxy(self, description: str, cap: int) -> tuple[Proxy, WatchedGate]:
        """
        A forward proxy listening on C{description} behind a gate of
        C{cap} connections; idle connections wait five minutes (no test
        here waits for that).
        """
        config = ProxyConfig(timeouts=Timeouts(idle=300, header=300, response=30))
        factory = ProxyFactory(
            ForwardRouter(config.forward),
            ConnectionPool(self.reactor, config.pool),
            config,
            reactor=self.reactor,
        )
        gate = WatchedGate(factory, cap)
        tracker = Tracker()
        d = serverFromString(self.reactor, description).listen(TrackingFactory(gate, tracker))
        port = self._testCase.successResultOf(d)
        listener = Listener(port, tracker)
        self._listeners.append(listener)
        proxy = Proxy(factory, listener)
        self._proxies.append(proxy)
        return proxy, gate


def get(origin: int, path: str) -> bytes:
    return request("GET", f"http://127.0.0.1:{origin}/path/{path}")


class ConnectionCapTests(TestCase):
    """
    A listener at its cap of client connections.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = GateHarness(self, reactor)

    @inlineCallbacks
    def test_idleMakeRoom(self) -> Any:
        """
        With the listener full of idle keep-alive connections (each after
        one request), a new client's request is answered at once: the
        longest idle connection is closed to make room, the others stay.
        """
        h = self.harness
        origin = h.startSite().port
        proxy, gate = h.startGatedProxy("tcp:0:interface=127.0.0.1", CAP)
        clients = []
        for index in range(CAP):
            client = yield h.connect(proxy.port)
            client.send(get(origin, str(index)))
            yield client.waitFor(completeResponses(1))
            clients.append(client)
        self.assertEqual(gate.open, CAP)
        late = yield h.connect(proxy.port)
        late.send(get(origin, "late"))
        received = yield late.waitFor(completeResponses(1))
        self.assertTrue(received.startswith(b"HTTP/1.1 200 "), received[:100])
        self.assertIn(b"/path/late", received)
        yield clients[0].waitForClose()
        self.assertEqual([c.closed for c in clients[1:]], [False] * (CAP - 1))
        self.assertEqual(gate.closedIdle, 1)
        # The survivors still serve requests.
        clients[1].send(get(origin, "again"))
        again = yield clients[1].waitFor(completeResponses(2))
        self.assertIn(b"/path/again", again)

    @inlineCallbacks
    def test_busyNotClosed(self) -> Any:
        """
        With the listener full of connections in the middle of a request
        (half a head sent), a new client waits: the listener stops
        accepting and no connection is closed; once one of them is answered
        and idle, the new client is admitted in its place, and every other
        request completes.
        """
        h = self.harness
        origin = h.startSite().port
        proxy, gate = h.startGatedProxy("tcp:0:interface=127.0.0.1", CAP)
        clients = []
        heads = [get(origin, str(index)) for index in range(CAP)]
        for index in range(CAP):
            client = yield h.connect(proxy.port)
            client.send(heads[index][:20])
            clients.append(client)
        yield gate.whenBusy(CAP)
        listening = proxy.listener.listeningPort
        # The gate found its port by itself, and stopped accepting.
        self.assertIs(gate.port, listening)
        self.assertNotIn(listening, reactor.getReaders())
        late = yield h.connect(proxy.port)
        late.send(get(origin, "late"))
        # Give the reactor time to (wrongly) accept and answer.
        yield deferLater(reactor, 0.3, lambda: None)
        self.assertEqual(late.received, b"")
        self.assertEqual(proxy.listener.tracker.accepted, CAP)
        self.assertEqual([c.closed for c in clients], [False] * CAP)
        # One request completes: its connection is idle, the listener
        # accepts again, and the new client takes that connection's place.
        clients[0].send(heads[0][20:])
        first = yield clients[0].waitFor(completeResponses(1))
        self.assertTrue(first.startswith(b"HTTP/1.1 200 "))
        received = yield late.waitFor(completeResponses(1))
        self.assertIn(b"/path/late", received)
        yield clients[0].waitForClose()
        for index, client in enumerate(clients[1:], 1):
            client.send(heads[index][20:])
        answers = yield gatherResults(
            [client.waitFor(completeResponses(1)) for client in clients[1:]]
        )
        for index, answer in enumerate(answers, 1):
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 "))
            self.assertIn(f"/path/{index}".encode(), answer)
        self.assertEqual(gate.closedIdle, 1)
