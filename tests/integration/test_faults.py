"""
Fault injection: origins and clients that misbehave on real sockets, against
a proxykit proxy running in the trial reactor, in forward and in reverse
mode.

Each fault is tested once for what the client sees (DESIGN.md, "Errors end
to end": 502 when the origin cannot be reached or breaks before its head,
504 when it says nothing in time, a visibly truncated body once the head
went out), and then many times over (L{ForwardLeakTests},
L{ReverseLeakTests}) for what the failures leave behind: file descriptors,
pooled connections and timers.  Origin faults run in both modes, client
faults once per mode and many times over in forward mode.

Where a test fails, it asserts what proxykit should do, not what it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from proxykit import Timeouts

from ._faults import (
    HALF_STATUS_LINE,
    OK,
    OVERSIZED,
    PARTIAL,
    TWICE,
    Acquisitions,
    Rendezvous,
    Route,
    answerEach,
    answerThenClose,
    answerUnlessHeld,
    bodyAtLeast,
    capPool,
    fetch,
    forwardRoute,
    installResolver,
    leakCheck,
    reset,
    resetAfter,
    reverseRoute,
    settle,
    slowBody,
    slowHead,
    streamBody,
    unansweredPort,
)
from ._reverse_servers import ReverseHarness
from ._servers import (
    completeResponses,
    headComplete,
    parseResponses,
    pattern,
    request,
)

ANY_ID = re.compile(rb"request id: [0-9a-f]{32}")
"""The line naming a generated request id in the proxy's error bodies."""

RouteMaker = Callable[..., Route]
"""L{forwardRoute} or L{reverseRoute}."""

STALL = Timeouts(response=0.5)
"""An origin that says nothing for half a second has timed out."""

QUICK_STALL = Timeouts(response=0.25)
"""The same for the many-times-over runs, at half the wait."""


def closing(r: Route, path: str = "/") -> bytes:
    """
    A GET for C{path} through C{r} asking the proxy to close afterwards.
    """
    return r.request("GET", path, "Connection: close")


def statuses(received: bytes) -> list[int]:
    """
    The status of each response in C{received}.
    """
    return [response.status for response in parseResponses(received)]


if TYPE_CHECKING:
    _Base = TestCase
else:
    _Base = object


class _InMode(_Base):
    """
    A test case whose proxies are in the mode L{makeRoute} gives.
    """

    makeRoute: RouteMaker

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)

    def route(
        self,
        authority: str,
        timeouts: Timeouts | None = None,
        ejectFor: float | None = None,
    ) -> Route:
        """
        A proxy in this mode in front of the origin at C{authority}.
        """
        return type(self).makeRoute(self.harness, authority, timeouts, ejectFor)


class _FaultTests(_InMode):
    """
    Faults of origins and clients, and what the client sees.
    """

    timeout = 30

    # Origins

    @inlineCallbacks
    def test_originRefuses(self) -> Any:
        """
        An origin port where nothing listens gets the client a 502.
        """
        h = self.harness
        closed = yield h.closedPort()
        r = self.route(f"127.0.0.1:{closed}")
        received = yield fetch(h, r.proxy.port, closing(r))
        self.assertEqual(statuses(received), [502])

    @inlineCallbacks
    def test_originConnectTimesOut(self) -> Any:
        """
        An origin whose port never completes a connection gets the client a
        504 once the connect timeout (0.3 s) has passed.
        """
        h = self.harness
        port = unansweredPort(self)
        r = self.route(f"127.0.0.1:{port}", Timeouts(connect=0.3))
        started = reactor.seconds()
        received = yield fetch(h, r.proxy.port, closing(r))
        self.assertEqual(statuses(received), [504])
        self.assertLess(reactor.seconds() - started, 3.0)

    @inlineCallbacks
    def test_originResetsMidHead(self) -> Any:
        """
        An origin that resets the connection after half a status line gets
        the client a 502.
        """
        h = self.harness
        origin = h.startRawOrigin(resetAfter(HALF_STATUS_LINE))
        r = self.route(f"127.0.0.1:{origin.port}")
        received = yield fetch(h, r.proxy.port, closing(r))
        self.assertEqual(statuses(received), [502])
        self.assertEqual(origin.tracker.accepted, 1)

    @inlineCallbacks
    def test_originResetsMidBody(self) -> Any:
        """
        When the origin resets the connection after the head (announcing
        1000 bytes) and 10 bytes of body, the client's connection is closed
        after those 10 bytes: it never sees a complete response.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, answerEach(PARTIAL))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(r.request("GET", "/partial"))
        yield client.waitFor(lambda data: data.endswith(b"0123456789"))
        peer = yield rendezvous.peerFor("/partial")
        reset(peer)
        received = yield client.waitForClose()
        [response] = parseResponses(received)
        self.assertEqual(
            (response.status, response.body, response.complete),
            (200, b"0123456789", False),
        )

    @inlineCallbacks
    def test_originStalls(self) -> Any:
        """
        An origin that accepts the request and never answers gets the client
        a 504 once the response timeout (0.5 s) has passed, and its
        connection is closed.
        """
        h = self.harness
        origin = h.startRawOrigin()
        r = self.route(f"127.0.0.1:{origin.port}", STALL)
        started = reactor.seconds()
        received = yield fetch(h, r.proxy.port, closing(r))
        elapsed = reactor.seconds() - started
        self.assertEqual(statuses(received), [504])
        self.assertTrue(0.45 <= elapsed < 3.0, elapsed)
        yield origin.tracker.whenLost(0, reactor)

    @inlineCallbacks
    def test_originTricklesBody(self) -> Any:
        """
        An origin that sends its body in small pieces over about a second
        is not timed out by a 0.5 s response timeout, which bounds silence,
        not the whole response: the client gets the complete body.
        """
        h = self.harness
        script = slowBody(100, pieces=10, interval=0.1)
        self.addCleanup(script.stop)
        origin = h.startRawOrigin(script)
        r = self.route(f"127.0.0.1:{origin.port}", STALL)
        started = reactor.seconds()
        received = yield fetch(h, r.proxy.port, closing(r))
        elapsed = reactor.seconds() - started
        [response] = parseResponses(received)
        self.assertEqual(
            (response.status, response.body, response.complete),
            (200, pattern(100), True),
        )
        self.assertGreater(elapsed, 0.85)

    @inlineCallbacks
    def test_originTricklesHead(self) -> Any:
        """
        An origin that sends its response head a field at a time over about
        a second is not silent either: the client gets the response.
        """
        h = self.harness
        script = slowHead(interval=0.1)
        self.addCleanup(script.stop)
        origin = h.startRawOrigin(script)
        r = self.route(f"127.0.0.1:{origin.port}", STALL)
        received = yield fetch(h, r.proxy.port, closing(r))
        [response] = parseResponses(received)
        self.assertEqual(
            (response.status, response.body, response.complete), (200, b"hello", True)
        )

    @inlineCallbacks
    def test_originSendsMoreThanDeclared(self) -> Any:
        """
        An origin that declares 5 bytes of body, sends 10 and keeps the
        connection open: the client gets exactly the 5 bytes as a complete
        response and nothing else, and the next request goes out on a new
        origin connection while the proxy closes the first.
        """
        h = self.harness
        origin = h.startRawOrigin(answerEach(OVERSIZED))
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(r.request("GET", "/a"))
        yield client.waitFor(completeResponses(1))
        yield origin.tracker.whenLost(0, reactor)
        client.send(closing(r, "/b"))
        received = yield client.waitForClose()
        responses = parseResponses(received)
        self.assertEqual(
            [(x.status, x.body, x.complete) for x in responses],
            [(200, b"01234", True)] * 2,
        )
        self.assertEqual(origin.tracker.accepted, 2)

    @inlineCallbacks
    def test_originSendsUnsolicitedResponse(self) -> Any:
        """
        An origin that follows its answer with a second, unsolicited
        response: the client gets the first only, and the connection is not
        used again (the second would be taken as the next answer).
        """
        h = self.harness
        origin = h.startRawOrigin(answerEach(TWICE))
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(r.request("GET", "/a"))
        yield client.waitFor(completeResponses(1))
        client.send(closing(r, "/b"))
        received = yield client.waitForClose()
        self.assertEqual(
            [(x.status, x.body) for x in parseResponses(received)],
            [(200, b"hello")] * 2,
        )
        self.assertEqual(origin.tracker.accepted, 2)
        yield origin.tracker.whenLost(0, reactor)

    @inlineCallbacks
    def test_originClosesIdleConnection(self) -> Any:
        """
        An origin that answers with keep-alive and then closes the idle
        connection: the next request, sent as soon as the first answer is
        in, succeeds (on a new connection, or retried on one).
        """
        h = self.harness
        origin = h.startRawOrigin(answerThenClose)
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(r.request("GET", "/a"))
        yield client.waitFor(completeResponses(1))
        client.send(closing(r, "/b"))
        received = yield client.waitForClose()
        self.assertEqual(
            [(x.status, x.body) for x in parseResponses(received)],
            [(200, b"hello")] * 2,
        )
        self.assertEqual(origin.tracker.accepted, 2)

    @inlineCallbacks
    def test_originAnswersHeadWithBody(self) -> Any:
        """
        An origin that sends a body after its answer to HEAD: the client
        gets the head alone, and the connection is not used again (the body
        would be taken as the next answer).
        """
        h = self.harness
        origin = h.startRawOrigin(answerEach(OK))
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(r.request("HEAD", "/a"))
        yield client.waitFor(headComplete)
        client.send(closing(r, "/b"))
        received = yield client.waitForClose()
        self.assertEqual(
            [(x.status, x.body) for x in parseResponses(received, [b"HEAD", b"GET"])],
            [(200, b""), (200, b"hello")],
        )
        self.assertEqual(origin.tracker.accepted, 2)
        yield origin.tracker.whenLost(0, reactor)

    # Clients

    @inlineCallbacks
    def test_clientAbortsMidRequest(self) -> Any:
        """
        A client that resets its connection in the middle of a request body
        gets the proxy to close the origin connection, and the pool keeps
        nothing of it.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, ready=bodyAtLeast(1000))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(
            r.request("POST", "/upload", "Content-Length: 100000", body=pattern(1000))
        )
        peer = yield rendezvous.peerFor("/upload")
        reset(client)
        yield peer.waitForClose()
        yield settle(r.proxy, [origin], reactor)
        self.assertEqual(r.proxy.factory.pool.connections, set())

    @inlineCallbacks
    def test_clientAbortsMidResponse(self) -> Any:
        """
        A client that closes its connection after reading a little of a
        large body gets the proxy to close the origin connection, and the
        pool keeps nothing of it.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, streamBody(100 * 1024 * 1024))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")
        client = yield h.connect(r.proxy.port)
        client.send(r.request("GET", "/big"))
        yield client.waitFor(bodyAtLeast(16384))
        client.transport.loseConnection()
        peer = yield rendezvous.peerFor("/big")
        yield peer.waitForClose()
        yield settle(r.proxy, [origin], reactor)
        self.assertEqual(r.proxy.factory.pool.connections, set())

    @inlineCallbacks
    def test_clientHalfCloses(self) -> Any:
        """
        A client that sends its request and then shuts down its sending side
        (FIN) still gets the complete response before the proxy closes.
        """
        h = self.harness
        origin = h.startRawOrigin(answerEach(OK))
        r = self.route(f"127.0.0.1:{origin.port}")
        received = yield fetch(h, r.proxy.port, r.request("GET", "/"), halfClose=True)
        [response] = parseResponses(received)
        self.assertEqual(
            (response.status, response.body, response.complete), (200, b"hello", True)
        )

    @inlineCallbacks
    def test_clientStallsMidRequest(self) -> Any:
        """
        A client that stops sending in the middle of its request body is
        answered 408 (Request Timeout) and closed once the timeout has
        passed.  The origin, which was only waiting for the rest of the
        body, is not blamed: the next request reaches it.
        """
        h = self.harness
        origin = h.startSite()
        r = self.route(f"127.0.0.1:{origin.port}", Timeouts(response=0.5, idle=0.5))
        started = reactor.seconds()
        stalled = yield fetch(
            h,
            r.proxy.port,
            r.request("POST", "/upload", "Content-Length: 1000", body=b"x" * 10),
        )
        elapsed = reactor.seconds() - started
        received = yield fetch(h, r.proxy.port, closing(r, "/path/next"))
        self.assertEqual(
            (statuses(stalled), [(x.status, x.body) for x in parseResponses(received)]),
            ([408], [(200, b"/path/next")]),
        )
        self.assertLess(elapsed, 3.0)

    @inlineCallbacks
    def test_originQueueFull(self) -> Any:
        """
        With one connection allowed per origin and no request allowed to
        wait for it, a request arriving while another is served is answered
        503 at once.  That is the proxy's own limit, not a failure of the
        origin: once the first request is answered, the next one is served.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, answerUnlessHeld(OK))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")
        capPool(r.proxy, 1, 0)
        first = yield h.connect(r.proxy.port)
        first.send(closing(r, "/hold"))
        held = yield rendezvous.peerFor("/hold")
        refused = yield fetch(h, r.proxy.port, closing(r, "/refused"))
        held.send(OK)
        answers = yield first.waitForClose()
        later = yield fetch(h, r.proxy.port, closing(r, "/later"))
        self.assertEqual(
            [
                # The proxy's own error names a new request id.
                [(x.status, ANY_ID.sub(b"request id: ID", x.body)) for x in parseResponses(received)]
                for received in (refused, answers, later)
            ],
            [
                [(503, b"503 Service Unavailable\nrequest id: ID\n")],
                [(200, b"hello")],
                [(200, b"hello")],
            ],
        )

    @inlineCallbacks
    def test_clientAbortsWhileQueuedForOrigin(self) -> Any:
        """
        With one connection allowed per origin and one request allowed to
        wait for it, a client that gives up while its request waits frees
        its place: the next request waits in turn, and is answered once the
        origin is free.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, answerUnlessHeld(OK))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")
        acquisitions = Acquisitions(capPool(r.proxy, 1, 1), reactor)
        first = yield h.connect(r.proxy.port)
        first.send(closing(r, "/hold"))
        held = yield rendezvous.peerFor("/hold")
        leaving = yield h.connect(r.proxy.port)
        leaving.send(closing(r, "/leaving"))
        yield acquisitions.whenCount(2)
        reset(leaving)
        yield r.proxy.listener.tracker.whenLost(1, reactor)
        third = yield h.connect(r.proxy.port)
        third.send(closing(r, "/third"))
        yield acquisitions.whenCount(3)
        held.send(OK)
        answers = yield first.waitForClose()
        received = yield third.waitForClose()
        self.assertEqual(
            [
                [(x.status, x.body) for x in parseResponses(answers)],
                [(x.status, x.body) for x in parseResponses(received)],
            ],
            [[(200, b"hello")], [(200, b"hello")]],
        )

    # Names

    @inlineCallbacks
    def test_unresolvableName(self) -> Any:
        """
        An origin whose name does not resolve gets the client a 502, within
        the bound of a connection attempt.
        """
        h = self.harness
        # This machine's resolver holds about one lookup in 25 for 5 s before
        # failing it: the connect timeout (and the proxy's bound on the
        # whole attempt, one second more) must outlast that for the answer
        # to be "does not resolve" rather than "timed out".
        r = self.route("nonexistent.invalid:80", Timeouts(connect=10))
        started = reactor.seconds()
        received = yield fetch(h, r.proxy.port, closing(r))
        self.assertEqual(statuses(received), [502])
        self.assertLess(reactor.seconds() - started, 10.0 + 2.0)


class ForwardFaultTests(_FaultTests, TestCase):
    """
    Faults behind a forward proxy.
    """

    makeRoute = staticmethod(forwardRoute)

    @inlineCallbacks
    def test_nameResolutionStalls(self) -> Any:
        """
        An origin name whose lookup never completes (a DNS server that does
        not answer) gets the client a 504, as any connection not established
        within the connect timeout does, once the bound of a connection
        attempt (connect timeout + 1 s) has passed.
        """
        installResolver(self, reactor)
        h = self.harness
        r = self.route("origin.stall.invalid:80", Timeouts(connect=0.2))
        started = reactor.seconds()
        received = yield fetch(h, r.proxy.port, closing(r))
        self.assertEqual(statuses(received), [504])
        self.assertLess(reactor.seconds() - started, 3.0)

    @inlineCallbacks
    def test_failedRequestsLoseNoPipelinedRequest(self) -> Any:
        """
        Requests pipelined on one connection, to an origin that refuses, one
        that resets mid-head, one that stalls and a sound one, are answered
        in order: 502, 502, 504, then the sound origin's answer.
        """
        h = self.harness
        closed = yield h.closedPort()
        resetting = h.startRawOrigin(resetAfter(HALF_STATUS_LINE))
        silent = h.startRawOrigin()
        sound = h.startRawOrigin(answerEach(OK))
        proxy = h.startProxy(timeouts=STALL)
        received = yield fetch(
            h,
            proxy.port,
            request("GET", f"http://127.0.0.1:{closed}/")
            + request("GET", resetting.url("/"))
            + request("GET", silent.url("/"))
            + request("GET", sound.url("/"), "Connection: close"),
        )
        self.assertEqual(
            [(x.status, x.complete) for x in parseResponses(received)],
            [(502, True), (502, True), (504, True), (200, True)],
        )

    @inlineCallbacks
    def test_clientWaitsForContinueFromSilentOrigin(self) -> Any:
        """
        A client that sent C{Expect: 100-continue} and waits for the
        origin's go-ahead before its body is not the one stalling: when the
        origin says nothing, the client gets a 504.
        """
        h = self.harness
        origin = h.startRawOrigin()
        proxy = h.startProxy(timeouts=Timeouts(response=0.5, idle=0.5))
        received = yield fetch(
            h,
            proxy.port,
            request(
                "POST",
                origin.url("/upload"),
                "Content-Length: 1000",
                "Expect: 100-continue",
            ),
        )
        self.assertEqual(statuses(received), [504])


class ReverseFaultTests(_FaultTests, TestCase):
    """
    Faults behind a reverse proxy.
    """

    makeRoute = staticmethod(reverseRoute)


class _LeakTests(_InMode):
    """
    Each origin failure many times over against one in-process proxy:
    nothing may be left behind (see L{leakCheck}).  Counts are 1000 per
    kind, 4 at a time, and 200 all at once for the kinds that wait for a
    timeout or a slow origin.  Each run's figures go to the test log.
    """

    timeout = 60
    _log = Logger()

    @inlineCallbacks
    def check(
        self,
        r: Route,
        origins: list[Any],
        attempt: Callable[[int], Deferred[Any]],
        count: int = 1000,
        parallel: int = 4,
    ) -> Any:
        """
        L{leakCheck} C{attempt} on C{r}'s proxy, and log the figures.
        """
        report = yield leakCheck(
            self,
            reactor,
            r.proxy,
            origins,
            attempt,
            count,
            parallel,
        )
        self._log.info(
            "{test}: {report}",
            test=self.id(),
            report=report,
        )
        return report

    def _expectStatus(self, r: Route, status: int) -> Callable[[int], Deferred[Any]]:
        """
        An attempt: one request on a new connection, answered C{status}.
        """
        h = self.harness

        @inlineCallbacks
        def attempt(number: int) -> Any:
            received = yield fetch(h, r.proxy.port, closing(r, f"/n/{number}"))
            self.assertEqual(statuses(received), [status])

        return attempt

    @inlineCallbacks
    def test_originRefuses(self) -> Any:
        """
        Refused connections (502) leak nothing.
        """
        closed = yield self.harness.closedPort()
        r = self.route(f"127.0.0.1:{closed}")
        yield self.check(r, [], self._expectStatus(r, 502))

    def test_originResetsMidHead(self) -> Any:
        """
        Origins resetting in the middle of a head (502) leak nothing.
        """
        origin = self.harness.startRawOrigin(resetAfter(HALF_STATUS_LINE))
        r = self.route(f"127.0.0.1:{origin.port}")
        return self.check(r, [origin], self._expectStatus(r, 502))

    def test_originResetsMidBody(self) -> Any:
        """
        Origins resetting in the middle of a body (the client's connection
        is closed, the body visibly short) leak nothing.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, answerEach(PARTIAL))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")

        @inlineCallbacks
        def attempt(number: int) -> Any:
            path = f"/n/{number}"
            client = yield h.connect(r.proxy.port)
            client.send(r.request("GET", path))
            yield client.waitFor(lambda data: data.endswith(b"0123456789"))
            peer = yield rendezvous.peerFor(path)
            reset(peer)
            received = yield client.waitForClose()
            [response] = parseResponses(received)
            self.assertFalse(response.complete)

        return self.check(r, [origin], attempt)

    def test_originStalls(self) -> Any:
        """
        Silent origins (504 after 0.25 s) leak nothing: 200 of them, all at
        once.  (A reverse proxy takes the origin out for a moment only, so
        that the warm-up's 504 leaves it in for the loop.)
        """
        origin = self.harness.startRawOrigin()
        r = self.route(f"127.0.0.1:{origin.port}", QUICK_STALL, ejectFor=0.001)
        return self.check(r, [origin], self._expectStatus(r, 504), 200, 200)

    def test_originTricklesBody(self) -> Any:
        """
        Slow but steady origins (a body over half a second, against a 0.25 s
        response timeout) leak nothing either: 200 of them, all at once.
        """
        script = slowBody(100, pieces=10, interval=0.05)
        self.addCleanup(script.stop)
        origin = self.harness.startRawOrigin(script)
        r = self.route(f"127.0.0.1:{origin.port}", QUICK_STALL)
        return self.check(r, [origin], self._expectStatus(r, 200), 200, 200)

    def test_originSendsMoreThanDeclared(self) -> Any:
        """
        Origins sending more than they declared (the proxy must close each
        connection) leak nothing.
        """
        origin = self.harness.startRawOrigin(answerEach(OVERSIZED))
        r = self.route(f"127.0.0.1:{origin.port}")
        return self.check(r, [origin], self._expectStatus(r, 200))

    def test_originSendsUnsolicitedResponse(self) -> Any:
        """
        Origins answering twice (the proxy must close each connection) leak
        nothing.
        """
        origin = self.harness.startRawOrigin(answerEach(TWICE))
        r = self.route(f"127.0.0.1:{origin.port}")
        return self.check(r, [origin], self._expectStatus(r, 200))

    def test_originClosesIdleConnection(self) -> Any:
        """
        Origins closing their idle keep-alive connections leak nothing.
        """
        origin = self.harness.startRawOrigin(answerThenClose)
        r = self.route(f"127.0.0.1:{origin.port}")
        return self.check(r, [origin], self._expectStatus(r, 200))


class ForwardLeakTests(_LeakTests, TestCase):
    """
    Leak checks behind a forward proxy, client faults and unresolvable names
    included.
    """

    makeRoute = staticmethod(forwardRoute)

    def test_clientAbortsMidRequest(self) -> Any:
        """
        Clients resetting in the middle of a request body leak nothing, and
        each time the origin connection is closed.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, ready=bodyAtLeast(1000))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")

        @inlineCallbacks
        def attempt(number: int) -> Any:
            path = f"/n/{number}"
            client = yield h.connect(r.proxy.port)
            client.send(
                r.request("POST", path, "Content-Length: 100000", body=pattern(1000))
            )
            peer = yield rendezvous.peerFor(path)
            reset(client)
            yield client.waitForClose()
            yield peer.waitForClose()

        return self.check(r, [origin], attempt)

    def test_clientAbortsMidResponse(self) -> Any:
        """
        Clients closing after a little of a large body leak nothing, and each
        time the origin connection is closed.
        """
        h = self.harness
        rendezvous = Rendezvous(reactor, streamBody(100 * 1024 * 1024))
        origin = h.startRawOrigin(rendezvous)
        r = self.route(f"127.0.0.1:{origin.port}")

        @inlineCallbacks
        def attempt(number: int) -> Any:
            path = f"/n/{number}"
            client = yield h.connect(r.proxy.port)
            client.send(r.request("GET", path))
            yield client.waitFor(bodyAtLeast(16384))
            client.transport.loseConnection()
            peer = yield rendezvous.peerFor(path)
            yield client.waitForClose()
            yield peer.waitForClose()

        return self.check(r, [origin], attempt)

    def test_clientHalfCloses(self) -> Any:
        """
        Clients half-closing after their request (answered in full) leak
        nothing; the pool keeps only healthy idle connections.
        """
        h = self.harness
        origin = h.startRawOrigin(answerEach(OK))
        r = self.route(f"127.0.0.1:{origin.port}")

        @inlineCallbacks
        def attempt(number: int) -> Any:
            received = yield fetch(
                h, r.proxy.port, r.request("GET", f"/n/{number}"), halfClose=True
            )
            self.assertEqual(statuses(received), [200])

        return self.check(r, [origin], attempt)

    def test_unresolvableName(self) -> Any:
        """
        Names that do not resolve (502) leak nothing.

        The names are resolved by a L{ScriptedResolver}: this machine's
        resolver holds about one lookup in 25 for 5 s, which would make
        1000 lookups take minutes.  The proxy's path is the same: the
        endpoint finds no address and fails with a DNS lookup error.
        """
        installResolver(self, reactor)
        r = self.route("nonexistent.invalid:80", Timeouts(connect=3))
        return self.check(r, [], self._expectStatus(r, 502))


class ReverseLeakTests(_LeakTests, TestCase):
    """
    Leak checks behind a reverse proxy.
    """

    makeRoute = staticmethod(reverseRoute)
