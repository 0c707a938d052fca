"""
Tests for L{proxykit.relay.hooks}: each hook point on a proxy over Twisted's
in-memory fakes.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.logger import LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from proxykit import ForwardConfig, ProxyConfig, Timeouts, forwardProxy
from proxykit.decisions import Refuse, Respond
from proxykit.h1 import Request
from proxykit.policy.vhosts import ReverseRouter, VhostTable
from proxykit.relay.flow import AUTHENTICATING
from proxykit.relay.hooks import (
    ErrorEvent,
    Finished,
    HookFailed,
    Hooks,
    Outcome,
    RequestEvent,
    RequestRecord,
    ResponseEvent,
    RoutedEvent,
    TunnelEvent,
    TunnelRecord,
)

from ._harness import FIRST_ID, GET, OK, Harness, lose, originSaw
from .test_reverse import reverse


def hooked(h: Harness) -> Hooks:
    return h.factory.hooks


def records(h: Harness) -> list[Any]:
    seen: list[Any] = []
    hooked(h).onComplete(seen.append)
    return seen


class LogCapture:
    """
    Collects log events while a test runs.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        case.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def hookFailures(self) -> list[str]:
        return [e["hook"] for e in self.events if "hook" in e and "log_failure" in e]


def addHeader(event: RequestEvent) -> Request:
    return event.request.replace(headers=[*event.request.headers, (b"X-Added", b"yes")])


class BeforeRoutingTests(SynchronousTestCase):
    """
    L{Hooks.beforeRouting} sees each request before the router, and may
    rewrite, answer or refuse it.
    """

    def test_rewrite(self) -> None:
        """
        A hook's new head is the one the origin gets.
        """
        h = Harness()
        hooked(h).beforeRouting(addHeader)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertIn(b"X-Added: yes\r\n", originSaw(ot))

    def test_rewriteTarget(self) -> None:
        """
        A rewritten target is routed: the router sees the new one.
        """
        h = Harness()
        hooked(h).beforeRouting(
            lambda e: e.request.replace(target=b"http://127.0.0.1:9000/elsewhere")
        )
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertTrue(originSaw(ot).startswith(b"GET /elsewhere HTTP/1.1\r\n"))

    def test_refuse(self) -> None:
        """
        A L{Refuse} is answered with its status; no origin is contacted; the
        record says refused, with the reason.
        """
        h = Harness()
        seen = records(h)
        hooked(h).beforeRouting(lambda e: Refuse(403, "no robots"))
        h.send(GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 403 "))
        self.assertEqual(h.reactor.tcpClients, [])
        self.assertEqual([(r.outcome, r.status, r.reason) for r in seen], [(Outcome.REFUSED, 403, "no robots")])

    def test_respond(self) -> None:
        """
        A L{Respond} is the answer, framed by its length by the proxy
        whatever framing fields the hook gave.
        """
        h = Harness()
        seen = records(h)
        hooked(h).beforeRouting(
            lambda e: Respond(200, ((b"Content-Type", b"text/plain"), (b"Content-Length", b"99")), b"hi")
        )
        h.send(GET)
        self.assertEqual(
            h.received(),
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        )
        self.assertEqual([(r.outcome, r.status, r.bytesOut) for r in seen], [(Outcome.ANSWERED, 200, 2)])
        # The connection stays open for the next request.
        self.assertFalse(h.clientTransport.disconnecting)

    def test_slowHookDelaysOnlyItsRequest(self) -> None:
        """
        A hook's Deferred holds its own request (no origin connection, the
        connection's reading paused) while another connection's request
        goes through.
        """
        h = Harness()
        waiting: list[Deferred[None]] = []

        def slow(event: RequestEvent) -> Deferred[None] | None:
            if event.request.target.endswith(b"/slow"):
                d: Deferred[None] = Deferred()
                waiting.append(d)
                return d
            return None

        hooked(h).beforeRouting(slow)
        h.send(GET.replace(b"/a ", b"/slow "))
        self.assertEqual(len(waiting), 1)
        self.assertEqual(h.reactor.tcpClients, [])
        self.assertEqual(h.clientTransport.producerState, "paused")
        other, otherTransport = h.connectClient()
        other.dataReceived(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)
        waiting[0].callback(None)
        self.assertEqual(len(h.reactor.tcpClients), 2)
        self.assertFalse(h.client._pauses & AUTHENTICATING)

    def test_coroutine(self) -> None:
        """
        A coroutine function is a hook: its result counts once it returns.
        """
        h = Harness()
        gate: Deferred[None] = Deferred()

        async def later(event: RequestEvent) -> Refuse:
            await gate
            return Refuse(451, "not here")

        hooked(h).beforeRouting(later)
        h.send(GET)
        self.assertEqual(h.received(), b"")
        gate.callback(None)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 451 "))

    def test_raises(self) -> None:
        """
        A hook that raises gets the client a 500 and is logged by name; the
        connection keeps serving.
        """
        h = Harness()
        log = LogCapture(self)
        errors: list[ErrorEvent] = []
        hooked(h).onError(errors.append)

        def broken(event: RequestEvent) -> None:
            raise ZeroDivisionError()

        hooked(h).beforeRouting(broken)
        h.send(GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(log.hookFailures(), [f"{__name__}.BeforeRoutingTests.test_raises.<locals>.broken"])
        self.assertEqual([e.status for e in errors], [500])
        self.assertFalse(h.clientTransport.disconnecting)

    def test_failsLater(self) -> None:
        """
        A hook whose Deferred fails counts as raising.
        """
        h = Harness()
        d: Deferred[None] = Deferred()
        hooked(h).beforeRouting(lambda e: d)
        h.send(GET)
        d.errback(ValueError("later"))
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_wrongResult(self) -> None:
        """
        A hook returning what it may not (here a string) fails its request.
        """
        h = Harness()
        hooked(h).beforeRouting(lambda e: "yes")
        h.send(GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)

    def test_badField(self) -> None:
        """
        A rewritten field that could end the head is refused (500), never
        sent.
        """
        h = Harness()
        hooked(h).beforeRouting(
            lambda e: e.request.replace(headers=[(b"X-Evil", b"a\r\nInjected: 1")])
        )
        h.send(GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.assertEqual(h.reactor.tcpClients, [])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_badAnswer(self) -> None:
        """
        A refusal or answer whose fields could split the head, or whose
        status is not a final one, fails the request instead.
        """
        for answer in (
            Refuse(403, "x", ((b"X", b"a\r\nSet-Cookie: evil"),)),
            Respond(200, ((b"X", b"a\nb"),), b""),
            Respond(101, (), b""),
        ):
            h = Harness()
            hooked(h).beforeRouting(lambda e, answer=answer: answer)
            h.send(GET)
            received = h.received()
            self.assertTrue(received.startswith(b"HTTP/1.1 500 "), answer)
            self.assertNotIn(b"evil", received)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 3)

    def test_timeout(self) -> None:
        """
        A hook that never answers fails after the hooks' timeout.
        """
        h = Harness()
        hooked(h).timeout = 2
        hooked(h).beforeRouting(lambda e: Deferred())
        h.send(GET)
        h.reactor.advance(1.9)
        self.assertEqual(h.received(), b"")
        h.reactor.advance(0.2)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.flushLoggedErrors()

    def test_order(self) -> None:
        """
        Hooks run in the order registered, each seeing the previous one's
        head; a refusal stops the chain.
        """
        h = Harness()
        seen: list[bytes] = []
        hooked(h).beforeRouting(addHeader)

        def second(event: RequestEvent) -> Refuse:
            seen.append(dict(event.request.headers).get(b"X-Added", b""))
            return Refuse(403, "stop")

        hooked(h).beforeRouting(second)
        hooked(h).beforeRouting(lambda e: seen.append(b"third"))
        h.send(GET)
        self.assertEqual(seen, [b"yes"])


class AfterRoutingTests(SynchronousTestCase):
    """
    L{Hooks.afterRouting} sees the origin chosen for each attempt.
    """

    def test_seesOrigin(self) -> None:
        h = Harness()
        seen: list[RoutedEvent] = []
        hooked(h).afterRouting(seen.append)
        h.send(GET)
        self.assertEqual([(e.origin.host, e.origin.port, e.attempt) for e in seen], [("127.0.0.1", 9000, 1)])

    def test_reverseOrigins(self) -> None:
        """
        In reverse mode, each retry's origin is seen, with the route.
        """
        h = reverse(9001, 9002, retries=1)
        seen: list[RoutedEvent] = []
        hooked(h).afterRouting(seen.append)
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test:8000\r\n\r\n")
        h.refuseOrigin()
        self.assertEqual([(e.origin.port, e.attempt, e.route) for e in seen], [(9001, 1, "/"), (9002, 2, "/")])

    def test_delays(self) -> None:
        """
        A Deferred from the hook delays the connection to the origin.
        """
        h = Harness()
        d: Deferred[None] = Deferred()
        hooked(h).afterRouting(lambda e: d)
        h.send(GET)
        self.assertEqual(h.reactor.tcpClients, [])
        d.callback(None)
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_raises(self) -> None:
        """
        A hook that raises gets the client a 500 without connecting, is
        logged by name, and the connection serves its next request.
        """
        h = Harness()
        log = LogCapture(self)

        def broken(event: RoutedEvent) -> None:
            raise ZeroDivisionError()

        hooked(h).afterRouting(broken)
        h.send(GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.assertEqual(h.reactor.tcpClients, [])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(log.hookFailures(), [f"{__name__}.AfterRoutingTests.test_raises.<locals>.broken"])
        self.assertFalse(h.clientTransport.disconnecting)
        h.clientTransport.clear()
        h.send(GET)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 500 "))
        self.flushLoggedErrors(ZeroDivisionError)

    def test_coroutine(self) -> None:
        """
        A coroutine hook holds the connection to the origin until it
        returns.
        """
        h = Harness()
        gate: Deferred[None] = Deferred()
        seen: list[int] = []

        async def later(event: RoutedEvent) -> None:
            await gate
            seen.append(event.origin.port)

        hooked(h).afterRouting(later)
        h.send(GET)
        self.assertEqual(h.reactor.tcpClients, [])
        gate.callback(None)
        self.assertEqual(seen, [9000])
        self.assertEqual(len(h.reactor.tcpClients), 1)

    def test_tunnel(self) -> None:
        """
        A CONNECT's authority is seen before connecting.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000}))))
        seen: list[RoutedEvent] = []
        hooked(h).afterRouting(seen.append)
        h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        self.assertEqual([(e.origin.host, e.origin.port) for e in seen], [("127.0.0.1", 9000)])
        self.assertEqual(len(h.reactor.tcpClients), 1)


class ResponseTests(SynchronousTestCase):
    """
    L{Hooks.onResponse} may rewrite each final response head.
    """

    def test_rewrite(self) -> None:
        """
        The fields a hook returns are sent, with the proxy's own framing:
        framing fields from the hook are dropped.
        """
        h = Harness()

        def rewrite(event: ResponseEvent) -> list[tuple[bytes, bytes]]:
            return [*event.headers, (b"X-Seen", b"%d" % event.status), (b"Content-Length", b"1")]

        hooked(h).onResponse(rewrite)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        received = h.received()
        self.assertIn(b"X-Seen: 200\r\n", received)
        self.assertEqual(received.count(b"Content-Length"), 1)
        self.assertTrue(received.endswith(b"\r\n\r\nhello"))

    def test_slow(self) -> None:
        """
        While a hook takes its time, the body waits; then it follows the
        rewritten head, and the connection serves the next request.
        """
        h = Harness()
        d: Deferred[list[tuple[bytes, bytes]]] = Deferred()
        hooked(h).onResponse(lambda e: d)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(h.received(), b"")
        self.assertEqual(ot.producerState, "paused")
        d.callback([(b"X-Late", b"1")])
        received = h.received()
        self.assertTrue(received.startswith(b"HTTP/1.1 200 OK\r\nX-Late: 1\r\n"))
        self.assertTrue(received.endswith(b"\r\n\r\nhello"))
        self.assertEqual(ot.producerState, "producing")
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 1)  # the pooled connection

    def test_alreadyFired(self) -> None:
        """
        A Deferred that has already fired counts at once.
        """
        h = Harness()
        hooked(h).onResponse(lambda e: succeed([(b"X-Now", b"1")]))
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        received = h.received()
        self.assertTrue(received.startswith(b"HTTP/1.1 200 OK\r\nX-Now: 1\r\n"))
        self.assertTrue(received.endswith(b"hello"))

    def test_raises(self) -> None:
        """
        A response hook that raises gets the client a 502 and the origin
        connection dropped (its body is not relayed into the next response).
        """
        h = Harness()
        log = LogCapture(self)
        errors: list[ErrorEvent] = []
        hooked(h).onError(errors.append)

        def broken(event: ResponseEvent) -> None:
            raise ZeroDivisionError()

        hooked(h).onResponse(broken)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        received = h.received()
        self.assertTrue(received.startswith(b"HTTP/1.1 502 "))
        self.assertNotIn(b"hello", received)
        self.assertTrue(ot.disconnecting)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(log.hookFailures(), [f"{__name__}.ResponseTests.test_raises.<locals>.broken"])
        self.assertEqual([e.status for e in errors], [502])

    def test_raisesKeepsFraming(self) -> None:
        """
        After a response hook's failure the 502 is framed by its length
        and the client connection goes on: its next request is relayed on
        a new origin connection, its response whole.
        """
        h = Harness()
        failing = [True]

        def sometimes(event: ResponseEvent) -> None:
            if failing:
                failing.pop()
                raise ZeroDivisionError()

        hooked(h).onResponse(sometimes)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        first = h.received()
        head, _, body = first.partition(b"\r\n\r\n")
        [length] = [line.split(b": ")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        self.assertEqual(len(body), int(length))
        self.assertFalse(h.clientTransport.disconnecting)
        h.clientTransport.clear()
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 2)
        second, st = h.acceptOrigin()
        second.dataReceived(OK)
        received = h.received()
        self.assertTrue(received.startswith(b"HTTP/1.1 200 OK\r\n"), received)
        self.assertTrue(received.endswith(b"\r\n\r\nhello"), received)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_coroutine(self) -> None:
        """
        A coroutine response hook's fields are sent once it returns.
        """
        h = Harness()
        gate: Deferred[None] = Deferred()

        async def later(event: ResponseEvent) -> list[tuple[bytes, bytes]]:
            await gate
            return [*event.headers, (b"X-Later", b"1")]

        hooked(h).onResponse(later)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(h.received(), b"")
        gate.callback(None)
        received = h.received()
        self.assertIn(b"X-Later: 1\r\n", received)
        self.assertTrue(received.endswith(b"\r\n\r\nhello"))


class RecordTests(SynchronousTestCase):
    """
    L{Hooks.onComplete} gets one record per request, however it ended;
    L{Hooks.onError} one event per error.
    """

    def test_responded(self) -> None:
        h = Harness()
        seen = records(h)
        h.send(GET)
        h.reactor.advance(0.5)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK[:-2])
        h.reactor.advance(0.25)
        origin.dataReceived(OK[-2:])
        [record] = seen
        self.assertIsInstance(record, RequestRecord)
        self.assertEqual(record.outcome, Outcome.RESPONDED)
        self.assertEqual(record.status, 200)
        self.assertEqual(record.bytesOut, 5)
        self.assertEqual(record.bytesIn, 0)
        self.assertEqual(record.firstByte, 0.5)
        self.assertEqual(record.duration, 0.75)
        self.assertEqual((record.origin.host, record.origin.port), ("127.0.0.1", 9000))
        self.assertEqual(record.request.target, b"http://127.0.0.1:9000/a")
        self.assertEqual(record.client.peerHost, "127.0.0.1")
        self.assertEqual(record.attempts, 1)
        self.assertEqual((record.connectTime, record.reused), (0.5, False))
        self.assertEqual(record.client.peerPort, 50000)

    def test_reused(self) -> None:
        """
        A kept-alive origin connection took no time to get.
        """
        h = Harness()
        seen = records(h)
        for _ in range(2):
            h.send(GET)
            if not h.origins:
                h.acceptOrigin()
            h.origins[0][0].dataReceived(OK)
        self.assertEqual([(r.reused, r.connectTime) for r in seen], [(False, 0.0), (True, 0.0)])

    def test_failed(self) -> None:
        """
        An origin that refuses: record and error event say 502 and why.
        """
        h = Harness()
        seen = records(h)
        errors: list[ErrorEvent] = []
        hooked(h).onError(errors.append)
        h.send(GET)
        h.refuseOrigin()
        self.assertEqual([(r.outcome, r.status) for r in seen], [(Outcome.FAILED, 502)])
        self.assertEqual([(e.status, e.reason) for e in errors], [(502, seen[0].reason)])

    def test_abandoned(self) -> None:
        h = Harness()
        seen = records(h)
        h.send(GET)
        lose(h.client)
        self.assertEqual([(r.outcome, r.status) for r in seen], [(Outcome.ABANDONED, 0)])

    def test_badRequest(self) -> None:
        """
        A request that cannot be parsed has a record without a head.
        """
        h = Harness()
        seen = records(h)
        h.send(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        self.assertEqual([(r.outcome, r.status, r.request) for r in seen], [(Outcome.BAD_REQUEST, 400, None)])

    def test_bodyBytes(self) -> None:
        h = Harness()
        seen = records(h)
        h.send(b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\npayload")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual([(r.bytesIn, r.bytesOut) for r in seen], [(7, 5)])

    def test_observerFailureHarmless(self) -> None:
        """
        An observer that raises is logged; the response is unaffected.
        """
        h = Harness()
        hooked(h).onComplete(lambda r: 1 / 0)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_noObserverNoTrace(self) -> None:
        """
        Without observers no record is kept.
        """
        h = Harness()
        h.send(GET)
        self.assertIsNone(h.client._trace)


class FinishedTests(SynchronousTestCase):
    """
    L{Hooks.onFinished} observers read each request's fields at once, the
    same as its L{RequestRecord}'s, without a record being made.
    """

    FIELDS = RequestRecord._fields

    def test_sameFieldsAsTheRecord(self) -> None:
        """
        What a finished observer reads is what the completion hooks' record
        says, field for field, and it comes first.
        """
        h = Harness()
        order: list[str] = []
        read: list[tuple[object, ...]] = []

        def finished(seen: Finished) -> None:
            order.append("finished")
            read.append(tuple(getattr(seen, name) for name in self.FIELDS))

        hooked(h).onFinished(finished)
        seen = records(h)
        hooked(h).onComplete(lambda r: order.append("complete"))
        h.send(GET)
        h.reactor.advance(0.5)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        [record] = seen
        self.assertEqual(read, [tuple(record)])
        self.assertEqual(record.requestId, FIRST_ID.decode("ascii"))
        self.assertEqual(order, ["finished", "complete"])

    def test_noRecordMade(self) -> None:
        """
        With only finished observers, no L{RequestRecord} is made: the
        observer gets the proxy's own note of the request.
        """
        h = Harness()
        got: list[Finished] = []
        hooked(h).onFinished(got.append)
        self.assertFalse(hooked(h).recording)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        [seen] = got
        self.assertNotIsInstance(seen, RequestRecord)
        self.assertEqual((seen.outcome, seen.status, seen.bytesOut), (Outcome.RESPONDED, 200, 5))

    def test_routeHooksRecord(self) -> None:
        """
        A completion hook on a route makes records for that route's
        requests: the route's registry and the proxy's both know.
        """
        hooks = Hooks()
        route = hooks.forRoute("app.example.test", "/")
        self.assertFalse(route.recording)
        route.onComplete(print)
        self.assertEqual((route.recording, hooks.recording), (True, True))

    def test_recordsForRouteMadeBefore(self) -> None:
        """
        A completion hook on the proxy, registered after a route's hooks
        were made, gets that route's records.
        """
        h = reverse(9001)
        hooks = Hooks()
        hooks.forRoute("app.example.test", "/").onFinished(lambda finished: None)
        h.factory.hooks = hooks
        seen: list[RequestRecord] = []
        hooks.onComplete(seen.append)
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test:8000\r\n\r\n")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual([(r.route, r.status) for r in seen], [("/", 200)])

    def test_failureLogged(self) -> None:
        """
        A finished observer that raises is logged by name; the response and
        the other observers are unaffected.
        """
        h = Harness()
        hooked(h).onFinished(lambda r: 1 / 0)
        seen = records(h)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))
        self.assertEqual(len(seen), 1)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class TunnelTests(SynchronousTestCase):
    """
    Tunnel hooks see CONNECT tunnels and protocol switches open and close.
    """

    def test_connect(self) -> None:
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000}))))
        opened: list[TunnelEvent] = []
        closed: list[TunnelRecord] = []
        hooked(h).onTunnelOpen(opened.append)
        hooked(h).onTunnelClose(closed.append)
        seen = records(h)
        h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        origin, ot = h.acceptOrigin()
        self.assertEqual([(e.kind, e.origin.port) for e in opened], [("connect", 9000)])
        h.send(b"12345")
        origin.dataReceived(b"abc")
        h.reactor.advance(3)
        origin.readConnectionLost()
        h.client.readConnectionLost()
        [record] = closed
        self.assertEqual((record.bytesUp, record.bytesDown, record.duration, record.reason), (5, 3, 3, "closed"))
        self.assertEqual([(r.outcome, r.status, r.bytesIn, r.bytesOut) for r in seen], [(Outcome.TUNNELED, 200, 5, 3)])

    def test_idle(self) -> None:
        h = Harness(
            ProxyConfig(
                forward=ForwardConfig(connectPorts=frozenset({9000})),
                timeouts=Timeouts(tunnelIdle=10),
            )
        )
        closed: list[TunnelRecord] = []
        hooked(h).onTunnelClose(closed.append)
        h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        h.acceptOrigin()
        h.reactor.advance(11)
        self.assertEqual([r.reason for r in closed], ["idle timeout"])

    def test_upgrade(self) -> None:
        h = Harness()
        opened: list[TunnelEvent] = []
        closed: list[TunnelRecord] = []
        hooked(h).onTunnelOpen(opened.append)
        hooked(h).onTunnelClose(closed.append)
        seen = records(h)
        h.send(
            b"GET http://127.0.0.1:9000/ws HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        )
        origin, ot = h.acceptOrigin()
        origin.dataReceived(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nhi")
        self.assertEqual([e.kind for e in opened], ["upgrade"])
        lose(h.client)
        self.assertEqual([(r.kind, r.bytesDown, r.reason) for r in closed], [("upgrade", 2, "connection lost")])
        self.assertEqual([(r.outcome, r.status) for r in seen], [(Outcome.SWITCHED, 101)])


class RouteHooksTests(SynchronousTestCase):
    """
    L{Hooks.forRoute} hooks apply to their route only, after the proxy's.
    """

    def test_routeOnly(self) -> None:
        h = reverse(9001)
        order: list[str] = []
        hooks = Hooks()
        hooks.onResponse(lambda e: order.append("proxy"))
        hooks.forRoute("app.example.test", "/").onResponse(lambda e: order.append("route"))
        h.factory.hooks = hooks
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test:8000\r\n\r\n")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(order, ["proxy", "route"])

    def test_unknownRoute(self) -> None:
        """
        Hooks for a route the router lacks are an error when bound.
        """
        h = reverse(9001)
        hooks = Hooks()
        hooks.forRoute("app.example.test", "/nothere").onComplete(print)
        with self.assertRaises(ValueError):
            h.factory.hooks = hooks
        table = VhostTable.fromConfig(h.config.reverse, h.reactor)
        h.factory.hooks.forRoute("other.test", "/")
        with self.assertRaises(ValueError):
            h.factory.router = ReverseRouter(table, h.config.reverse)

    def test_noBeforeRouting(self) -> None:
        with self.assertRaises(ValueError):
            Hooks().forRoute("a.test", "/").beforeRouting(print)


class BuilderTests(SynchronousTestCase):
    """
    The builders take hooks.
    """

    def test_forwardProxy(self) -> None:
        hooks = Hooks()
        factory = forwardProxy(ProxyConfig(), hooks=hooks)
        self.assertIs(factory.factory.hooks, hooks)

    def test_decorator(self) -> None:
        hooks = Hooks()

        @hooks.onComplete
        def record(r: RequestRecord) -> None:
            pass

        self.assertEqual(hooks.hooks("complete"), [record])
        self.assertTrue(hooks.observing)
        self.assertFalse(hooks.relaying)

    def test_hookFailedText(self) -> None:
        from twisted.python.failure import Failure

        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            failure = Failure()
        self.assertEqual(str(HookFailed("a.b", failure)), "hook a.b failed: division by zero")


class ReplaceTests(SynchronousTestCase):
    """
    L{Request.replace} gives a consistent head, and refuses fields that
    could add or end header lines.
    """

    def head(self) -> Request:
        from proxykit.h1 import H1Connection

        conn = H1Connection(True)
        conn.receiveData(
            b"POST http://a.test/x HTTP/1.1\r\nHost: a.test\r\nVia: 1.1 p\r\n"
            b"Max-Forwards: 3\r\nContent-Length: 2\r\n\r\nok"
        )
        event = conn.nextEvent()
        assert isinstance(event, Request)
        return event

    def test_rereads(self) -> None:
        """
        Host, Via, Max-Forwards and the target's form come from the new
        target and fields; framing stays as received.
        """
        from proxykit.h1 import Framing, TargetForm

        request = self.head().replace(target=b"/y", headers=[(b"Host", b"b.test")])
        self.assertEqual(
            (request.target, request.form, request.host, request.via, request.maxForwards),
            (b"/y", TargetForm.ORIGIN, b"b.test", None, None),
        )
        self.assertEqual((request.framing, request.contentLength), (Framing.LENGTH, 2))

    def test_refuses(self) -> None:
        head = self.head()
        for bad in (
            [(b"X", b"a\r\nB: c")],
            [(b"X", b"a\nb")],
            [(b"Bad Name", b"v")],
            [(b"X", "text")],
            [(b"Host", b"a"), (b"host", b"b")],
        ):
            with self.assertRaises(ValueError, msg=repr(bad)):
                head.replace(headers=bad)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            head.replace(target=b"/a b")


class RespondHeadTests(SynchronousTestCase):
    """
    A hook's answer to HEAD has the length of its body and no body.
    """

    def test_head(self) -> None:
        h = Harness()
        hooked(h).beforeRouting(lambda e: Respond(200, (), b"hello"))
        h.send(b"HEAD http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(h.received(), b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")


    def test_reasonPhrase(self) -> None:
        """
        An answer's status line carries that status's registered reason
        phrase (a redirect is not "301 OK").
        """
        h = Harness()
        hooked(h).beforeRouting(lambda e: Respond(301, ((b"Location", b"https://x/"),), b""))
        h.send(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(h.received().split(b"\r\n")[0], b"HTTP/1.1 301 Moved Permanently")
