"""
Request smuggling and malformed messages, end to end on real sockets.

Every case of L{tests.integration._smuggling_corpus} runs against a
proxykit proxy in forward mode (absolute-form targets naming the origin) and
in reverse mode (origin-form, C{Host: app.example.test} routed to the
origin by the vhost table).  A raw client sends the case's bytes; behind the
proxy a L{RecordingOrigin} records exactly the bytes it receives, parses
them with proxykit's own server-role message layer and answers each complete
request C{200 ok}.

For a request case the test checks the statuses the client receives, that
the client connection is closed where the framing was bad, and the key
property: the origin receives exactly the requests the client sent as
separate, well-framed requests, never one hidden in another, and never one
it cannot parse.

For a response case the origin answers the first request with the case's
bytes; the client must get 502 (or, once a response head went out, a
visibly truncated response), never the origin's extra bytes, and the next
request must go over a new origin connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from proxykit.config import (
    LimitsConfig,
    OriginConfig,
    ReverseConfig,
    RouteConfig,
    VhostConfig,
)
from proxykit.h1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    H1Connection,
    Headers,
    ProtocolError,
    Request,
)

from ._reverse_servers import SITE, ReverseHarness
from ._servers import (
    Listener,
    Proxy,
    RawPeer,
    RawResponse,
    parseResponses,
)
from ._smuggling_corpus import (
    REQUEST_CASES,
    RESPONSE_CASES,
    Outcome,
    RequestCase,
    ResponseCase,
    Tokens,
    render,
)

WAIT = 2.5
"""Seconds any single wait may take (a proxy that hangs fails quickly)."""

OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# The recording origin


@dataclass
class SeenRequest:
    """
    One request as the origin parsed it.
    """

    method: bytes
    target: bytes
    headers: Headers
    body: bytes = b""
    complete: bool = False

    def values(self, name: bytes) -> list[bytes]:
        """
        The values of every field named C{name} (case-insensitive).
        """
        lower = name.lower()
        return [v for n, v in self.headers if n.lower() == lower]


@dataclass
class OriginLog:
    """
    What every connection of a L{RecordingOrigin} listener received.
    """

    connections: list[RecordingOrigin] = field(default_factory=list)

    def complete(self) -> list[SeenRequest]:
        """
        The complete requests received, over all connections.
        """
        return [r for c in self.connections for r in c.requests if r.complete]

    def malformed(self) -> list[tuple[ProtocolError, bytes]]:
        """
        The parse errors of connections whose bytes did not parse, with
        those bytes.
        """
        return [(c.malformed, c.received) for c in self.connections if c.malformed]


class RecordingOrigin(Protocol):
    """
    A raw origin: records the exact bytes received, parses them with a
    server-role L{H1Connection} and answers every complete request with
    L{OK_RESPONSE} (or, for the first request on the first connection,
    with C{first} when given).

    @ivar received: Every byte received.
    @ivar requests: The requests parsed, complete or not.
    @ivar malformed: The error if the bytes stopped parsing (not counting a
        close in the middle of a message).
    """

    def __init__(self, log: OriginLog, first: bytes | None) -> None:
        self.received = b""
        self.requests: list[SeenRequest] = []
        self.malformed: ProtocolError | None = None
        self._log = log
        self._first = first
        self._conn = H1Connection(True)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        self._conn.receiveData(data)
        try:
            self._drain()
        except ProtocolError as e:
            self.malformed = e
            assert self.transport is not None
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def _drain(self) -> None:
        conn = self._conn
        while True:
            event = conn.nextEvent()
            if event is NEED_DATA:
                return
            if isinstance(event, Request):
                self.requests.append(
                    SeenRequest(event.method, event.target, event.headers)
                )
            elif isinstance(event, Data):
                self.requests[-1].body += event.data
            elif isinstance(event, EndOfMessage):
                self.requests[-1].complete = True
                self._answer()
                if conn.upgradePending:
                    conn.refuseUpgrade()

    def _answer(self) -> None:
        assert self.transport is not None
        first, self._first = self._first, None
        if first is not None and self._log.connections[0] is self:
            self.transport.write(first)
        else:
            self.transport.write(OK_RESPONSE)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # A close in the middle of a request is not a parse error: the proxy
        # may give up on a request it already started forwarding.
        self._conn.receiveEOF()
        try:
            self._drain()
        except ProtocolError:
            pass


class RecordingOriginFactory(ServerFactory):
    """
    Builds L{RecordingOrigin}s sharing one L{OriginLog}.
    """

    noisy = False

    def __init__(self, first: bytes | None = None) -> None:
        self.log = OriginLog()
        self._first = first

    def buildProtocol(self, addr: Any) -> RecordingOrigin:
        origin = RecordingOrigin(self.log, self._first)
        self.log.connections.append(origin)
        return origin


# Reading what the client received


def finals(data: bytes, methods: Sequence[bytes] = ()) -> list[RawResponse]:
    """
    The final (non-1xx) responses in C{data}.
    """
    return [r for r in parseResponses(data, methods) if r.status >= 200]


def answered(count: int, methods: Sequence[bytes] = ()) -> Callable[[bytes], bool]:
    """
    A condition for L{RawPeer.waitFor}: C{count} final responses have fully
    arrived (framed by length or chunks, or bodiless by status or method).
    """

    def condition(data: bytes) -> bool:
        try:
            responses = finals(data, methods)
        except ValueError:
            return False
        done = 0
        for index, response in enumerate(responses):
            method = methods[index] if index < len(methods) else b"GET"
            if response.complete and (
                response.values(b"Content-Length")
                or response.values(b"Transfer-Encoding")
                or response.status in (204, 304)
                or method == b"HEAD"
            ):
                done += 1
        return done >= count

    return condition


def describe(data: bytes) -> str:
    """
    What the client received, for failure messages.
    """
    return repr(data[:600]) + (" ..." if len(data) > 600 else "")


# The tests


class SmugglingTests(TestCase):
    """
    Base of the generated tests: runs one case in L{mode}.
    """

    mode = ""
    timeout = 20

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)

    def startProxy(self, origin: Listener) -> tuple[Proxy, Tokens]:
        """
        Start a proxy in this class's mode in front of C{origin}, and give
        the template tokens for it.
        """
        h = self.harness
        authority = b"127.0.0.1:%d" % (origin.port,)
        if self.mode == "forward":
            proxy = h.startProxy()
            absolute = b"http://" + authority
            return proxy, Tokens(absolute, absolute, authority)
        route = RouteConfig(origins=(OriginConfig(f"http://127.0.0.1:{origin.port}"),))
        proxy = h.startReverseProxy(ReverseConfig(vhosts=(VhostConfig((SITE,), (route,)),)))
        site = SITE.encode("ascii")
        return proxy, Tokens(b"", b"http://" + site, site)

    @inlineCallbacks
    def settle(self, proxy: Proxy, origin: Listener) -> Any:
        """
        Close the proxy's origin connections and wait until the origin saw
        them close: from then on the origin has received everything the
        proxy ever sent it.
        """
        closing = proxy.factory.pool.closeAll()
        closing.addTimeout(WAIT, reactor)
        yield closing
        yield origin.tracker.allClosed(reactor, WAIT)

    def finish(self, client: RawPeer) -> Deferred[bytes]:
        """
        End the client's side of its connection, and fire with everything it
        received once the proxy closed the connection: a request the proxy
        found in what the client sent is answered before that, so an extra
        response cannot go unseen.
        """
        client.transport.loseWriteConnection()  # type: ignore[union-attr]
        return client.waitForClose(WAIT)

    @inlineCallbacks
    def checkRequest(self, case: RequestCase, outcome: Outcome) -> Any:
        """
        Send the case's bytes and check what the client and the origin saw.
        """
        h = self.harness
        factory = RecordingOriginFactory()
        origin = h.listen(factory)
        proxy, tokens = self.startProxy(origin)
        wire = render(case.wire, tokens)
        client = yield h.connect(proxy.port)
        client.send(wire)
        if outcome.closed or not outcome.responses:
            try:
                received = yield client.waitForClose(WAIT)
            except Exception:
                self.fail(
                    "the proxy did not close the client connection; "
                    f"client got {describe(client.received)}"
                )
        else:
            try:
                yield client.waitFor(answered(len(outcome.responses)), WAIT)
                received = yield self.finish(client)
            except Exception as e:
                self.fail(f"{e}; client got {describe(client.received)}")
        yield self.settle(proxy, origin)
        log = factory.log

        # What the client received.
        responses = finals(received)
        statuses = [r.status for r in responses]
        self.assertEqual(
            len(statuses),
            len(outcome.responses),
            f"statuses {statuses}, expected {outcome.responses}; "
            f"client got {describe(received)}",
        )
        for status, acceptable in zip(statuses, outcome.responses, strict=True):
            self.assertIn(
                status,
                acceptable,
                f"statuses {statuses}, expected {outcome.responses}",
            )
        for response in responses:
            self.assertTrue(response.complete, f"truncated: {describe(received)}")
        if outcome.closed and responses and responses[-1].status >= 400:
            self.assertIn(
                b"close",
                [v.lower() for v in responses[-1].values(b"Connection")],
                "an error answer before closing announces Connection: close",
            )

        # What the origin received.
        self.assertEqual(
            log.malformed(), [], "the proxy sent the origin bytes it cannot parse"
        )
        seen = log.complete()
        targets = [r.target for r in seen]
        self.assertFalse(
            [t for t in targets if b"/smuggled" in t],
            f"a hidden request reached the origin: {targets}",
        )
        self.assertEqual(
            len(seen),
            outcome.originRequests,
            f"the origin received requests {targets}; "
            f"raw: {[describe(c.received) for c in log.connections]}",
        )
        if outcome.originBodies is not None:
            self.assertEqual(tuple(r.body for r in seen), outcome.originBodies)
        if outcome.originHost is not None:
            host = render(outcome.originHost, tokens)
            for r in seen:
                self.assertEqual(r.values(b"Host"), [host], f"{r.target!r}")
        if outcome.originConnections is not None:
            self.assertEqual(
                origin.tracker.accepted,
                outcome.originConnections,
                "origin connections accepted",
            )
        if outcome.restIsBody:
            # A body holding a whole request reached the origin whole.
            start = wire.index(b"\r\n\r\n") + 4
            self.assertEqual([r.body for r in seen], [wire[start:]])

    @inlineCallbacks
    def checkResponse(self, case: ResponseCase) -> Any:
        """
        Have the origin answer the case's bytes; check what the client saw,
        and that the next request goes over a new origin connection.
        """
        h = self.harness
        factory = RecordingOriginFactory(case.response)
        origin = h.listen(factory)
        proxy, tokens = self.startProxy(origin)
        methods = [case.method]
        wire = render(
            case.method + b" {T}/first HTTP/1.1\r\nHost: {H}\r\n\r\n", tokens
        )
        client = yield h.connect(proxy.port)
        client.send(wire)
        try:
            if case.truncated:
                received = yield client.waitForClose(WAIT)
            else:
                yield client.waitFor(answered(1, methods), WAIT)
                received = yield self.finish(client)
        except Exception as e:
            self.fail(f"{e}; client got {describe(client.received)}")
        responses = finals(received, methods)
        self.assertEqual(
            [r.status for r in responses][:1], [case.status], describe(received)
        )
        response = responses[0]
        self.assertNotIn(b"evil", received, "the origin's extra bytes were relayed")
        if case.truncated:
            self.assertFalse(response.complete, "a truncated body looked complete")
        else:
            self.assertTrue(response.complete, describe(received))
            self.assertEqual(len(responses), 1, describe(received))
        if case.body is not None:
            self.assertEqual(response.body, case.body)

        # The next request, from another client, gets a fresh connection.
        second = yield h.connect(proxy.port)
        second.send(render(b"GET {T}/second HTTP/1.1\r\nHost: {H}\r\n\r\n", tokens))
        try:
            received = yield second.waitFor(answered(1), WAIT)
        except Exception as e:
            self.fail(f"{e}; second client got {describe(second.received)}")
        [after] = finals(received)
        self.assertEqual((after.status, after.body), (200, b"ok"), describe(received))
        yield self.settle(proxy, origin)
        log = factory.log
        self.assertEqual(log.malformed(), [])
        perConnection = [[r.target for r in c.requests] for c in log.connections]
        if case.dropped:
            self.assertEqual(
                perConnection,
                [[b"/first"], [b"/second"]],
                "the origin connection that misbehaved was reused",
            )
        else:
            self.assertEqual(sum(perConnection, []), [b"/first", b"/second"])


def corpusTests(mode: str) -> Callable[[type[SmugglingTests]], type[SmugglingTests]]:
    """
    Add to the decorated class a C{test_<name>} method per corpus case that
    applies to C{mode}.
    """

    def decorate(cls: type[SmugglingTests]) -> type[SmugglingTests]:
        cls.mode = mode
        for requestCase in REQUEST_CASES:
            outcome = requestCase.outcome(mode)
            if outcome is None:
                continue

            def test(
                self: SmugglingTests,
                case: RequestCase = requestCase,
                outcome: Outcome = outcome,
            ) -> Any:
                return self.checkRequest(case, outcome)

            test.__name__ = "test_" + requestCase.name
            test.__doc__ = f"{requestCase.description}\n\n{requestCase.rule}"
            assert not hasattr(cls, test.__name__), requestCase.name
            setattr(cls, test.__name__, test)
        for responseCase in RESPONSE_CASES:

            def testResponse(
                self: SmugglingTests, case: ResponseCase = responseCase
            ) -> Any:
                return self.checkResponse(case)

            testResponse.__name__ = "test_" + responseCase.name
            testResponse.__doc__ = f"{responseCase.description}\n\n{responseCase.rule}"
            assert not hasattr(cls, testResponse.__name__), responseCase.name
            setattr(cls, testResponse.__name__, testResponse)
        return cls

    return decorate


@corpusTests("forward")
class ForwardSmugglingTests(SmugglingTests):
    """
    The corpus against a forward proxy: absolute-form targets naming the
    recording origin.
    """


@corpusTests("reverse")
class ReverseSmugglingTests(SmugglingTests):
    """
    The corpus against a reverse proxy: origin-form targets, C{Host:
    app.example.test} routed to the recording origin.
    """



# Issue 9, points 2 to 4: the proxy and its parser never disagree on framing,
# nothing goes upstream for a request whose bytes in hand already failed, and
# an origin connection whose request body went wrong is dropped at once.

BODY_FAILS_IN_HAND = {
    "chunkSizeHex": b"0x5\r\nhello\r\n0\r\n\r\n",
    "chunkSizeMinus": b"-5\r\nhello\r\n0\r\n\r\n",
    "chunkSizeUnderscore": b"5_\r\nhello\r\n0\r\n\r\n",
    "chunkSizePlus": b"+5\r\nhello\r\n0\r\n\r\n",
    "chunkLinesBareLF": b"5\nhello\n0\n\n",
}
"""Chunked bodies whose framing fails within the bytes sent with the head."""

CLOSE_WAIT = 1.0
"""How long an origin may wait for the proxy to drop its connection."""


class FramingAgreementTests(TestCase):
    """
    Real sockets: a raw client, a proxykit forward proxy and a raw origin
    that records every byte and every connection.
    """

    timeout = 20

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)

    def startProxy(self, maxBodyBytes: int = 0) -> Proxy:
        """
        A forward proxy, with a request body limit if C{maxBodyBytes}.
        """
        return self.harness.startProxy(limits=LimitsConfig(maxBodyBytes=maxBodyBytes))

    def post(self, origin: Listener, fields: bytes) -> bytes:
        """
        A POST head for C{origin} with C{fields} (CRLF-terminated lines).
        """
        authority = b"127.0.0.1:%d" % (origin.port,)
        return (
            b"POST http://" + authority + b"/up HTTP/1.1\r\nHost: " + authority
            + b"\r\n" + fields + b"\r\n"
        )

    @inlineCallbacks
    def test_chunkedWithTabsReachesOrigin(self) -> Any:
        """
        C{Transfer-Encoding:<TAB>chunked<TAB>} (optional whitespace) with the
        chunked body C{hello}: the origin receives a chunked head followed
        by the body C{hello}, properly chunked, and answers it.
        """
        h = self.harness

        def answer(peer: RawPeer) -> None:
            if peer.received.endswith(b"\r\n0\r\n\r\n") and not peer.state:
                peer.state["answered"] = True
                peer.send(OK_RESPONSE)

        origin = h.startRawOrigin(answer)
        proxy = self.startProxy()
        client = yield h.connect(proxy.port)
        client.send(
            self.post(origin, b"Transfer-Encoding:\tchunked\t\r\n")
            + b"5\r\nhello\r\n0\r\n\r\n"
        )
        received = yield client.waitFor(answered(1), WAIT)
        self.assertEqual([r.status for r in finals(received)], [200], describe(received))
        peer = yield origin.tracker.connection(0, reactor)
        head, _, body = peer.received.partition(b"\r\n\r\n")
        self.assertIn(b"\r\nTransfer-Encoding: chunked", head)
        self.assertEqual(body, b"5\r\nhello\r\n0\r\n\r\n")

    @inlineCallbacks
    def test_bodyFailingInHandContactsNoOrigin(self) -> Any:
        """
        A chunked request whose chunk framing is already invalid in the
        bytes sent with its head (sizes C{0x5}, C{-5}, C{5_}, C{+5}, bare-LF
        chunk lines) is answered 400 and closed, and no origin is contacted
        at all.
        """
        h = self.harness
        origin = h.startRawOrigin()
        proxy = self.startProxy()
        for name, body in BODY_FAILS_IN_HAND.items():
            client = yield h.connect(proxy.port)
            client.send(self.post(origin, b"Transfer-Encoding: chunked\r\n") + body)
            received = yield client.waitForClose(WAIT)
            self.assertEqual(
                [r.status for r in finals(received)], [400], f"{name}: {describe(received)}"
            )
        self.assertEqual(origin.tracker.accepted, 0, "an origin was contacted")
        self.assertEqual(proxy.factory.pool.connections, set())

    @inlineCallbacks
    def checkOriginDropped(
        self, proxy: Proxy, origin: Listener, head: bytes, first: bytes, then: Any
    ) -> Any:
        """
        Send C{head} and C{first}; once the origin has them, call C{then}
        with the client; the origin must see its connection closed within
        L{CLOSE_WAIT} and the proxy must hold no origin connection.

        @return: What the client received until its connection closed.
        """
        h = self.harness
        client = yield h.connect(proxy.port)
        client.send(head + first)
        peer = yield origin.tracker.connection(0, reactor)
        yield peer.waitFor(lambda data: data.endswith(first), WAIT)
        then(client)
        try:
            yield origin.tracker.whenLost(0, reactor, CLOSE_WAIT)
        except Exception:
            self.fail("the origin connection was left open")
        # Idle connections are among these too: none is kept for reuse.
        self.assertEqual(proxy.factory.pool.connections, set())
        received = yield client.waitForClose(WAIT)
        return received

    @inlineCallbacks
    def test_malformedBodyAfterHeadDropsOrigin(self) -> Any:
        """
        A chunked body that turns malformed after its head went upstream:
        the client gets 400 and a closed connection, and the origin
        connection is closed at once.
        """
        origin = self.harness.startRawOrigin()
        proxy = self.startProxy()
        received = yield self.checkOriginDropped(
            proxy,
            origin,
            self.post(origin, b"Transfer-Encoding: chunked\r\n"),
            b"5\r\nhello\r\n",
            lambda client: client.send(b"0x5\r\nhello\r\n0\r\n\r\n"),
        )
        self.assertEqual([r.status for r in finals(received)], [400], describe(received))

    @inlineCallbacks
    def test_oversizedBodyDropsOrigin(self) -> Any:
        """
        A chunked body that grows over the body limit after its head went
        upstream: the client gets 413, and the origin connection is closed
        at once.
        """
        origin = self.harness.startRawOrigin()
        proxy = self.startProxy(maxBodyBytes=8)
        received = yield self.checkOriginDropped(
            proxy,
            origin,
            self.post(origin, b"Transfer-Encoding: chunked\r\n"),
            b"5\r\nhello\r\n",
            lambda client: client.send(b"5\r\nworld\r\n"),
        )
        self.assertEqual([r.status for r in finals(received)], [413], describe(received))

    @inlineCallbacks
    def test_bodyCutShortDropsOrigin(self) -> Any:
        """
        A client that closes its connection in the middle of a body whose
        head went upstream: the origin connection is closed at once.
        """
        origin = self.harness.startRawOrigin()
        proxy = self.startProxy()
        yield self.checkOriginDropped(
            proxy,
            origin,
            self.post(origin, b"Content-Length: 10\r\n"),
            b"hello",
            lambda client: client.transport.loseConnection(),
        )

    @inlineCallbacks
    def test_bodyHalfClosedDropsOrigin(self) -> Any:
        """
        A client that ends its sending side in the middle of a body whose
        head went upstream: the origin connection is closed at once.
        """
        origin = self.harness.startRawOrigin()
        proxy = self.startProxy()
        yield self.checkOriginDropped(
            proxy,
            origin,
            self.post(origin, b"Transfer-Encoding: chunked\r\n"),
            b"5\r\nhello\r\n",
            lambda client: client.transport.loseWriteConnection(),
        )

    @inlineCallbacks
    def test_malformedBodyAfterHeadDropsOriginReverse(self) -> Any:
        """
        The same through a reverse proxy (a vhost route to the origin): 400
        to the client, and the origin connection is closed at once.
        """
        origin = self.harness.startRawOrigin()
        route = RouteConfig(origins=(OriginConfig(f"http://127.0.0.1:{origin.port}"),))
        proxy = self.harness.startReverseProxy(
            ReverseConfig(vhosts=(VhostConfig((SITE,), (route,)),))
        )
        head = (
            b"POST /up HTTP/1.1\r\nHost: " + SITE.encode("ascii")
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        received = yield self.checkOriginDropped(
            proxy,
            origin,
            head,
            b"5\r\nhello\r\n",
            lambda client: client.send(b"5_\r\nhello\r\n0\r\n\r\n"),
        )
        self.assertEqual([r.status for r in finals(received)], [400], describe(received))
