"""
Tests for L{proxykit.policy.requestid}: which C{X-Request-Id} a request
carries, and where it goes (the origin, the access log, error responses,
the hooks' events).
"""

from __future__ import annotations

import json
import re
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from proxykit import ProxyConfig, ReverseConfig, Timeouts
from proxykit.config import ConfigError
from proxykit.config.values import LogConfig
from proxykit.h1 import Headers
from proxykit.policy.requestid import (
    GENERATE,
    KEEP,
    MAX_LENGTH,
    MODES,
    OFF,
    TRUSTED,
    RequestIds,
    wellFormed,
)
from proxykit.policy.rewrite import forwardHeaders
from proxykit.relay.hooks import (
    ErrorEvent,
    RequestEvent,
    RequestRecord,
    ResponseEvent,
    RoutedEvent,
)

from ._harness import FIRST_ID, GET, OK, Harness, originSaw
from .test_accesslog import Logged
from .test_reverse import reverse

HEX32 = re.compile(rb"[0-9a-f]{32}\Z")
TIMEOUTS = Timeouts(connect=5, response=30, idle=60, tunnelIdle=100)


def withId(value: bytes, *more: bytes) -> bytes:
    """
    L{GET} with an C{X-Request-Id} field of each value.
    """
    fields = b"".join(b"X-Request-Id: " + v + b"\r\n" for v in (value, *more))
    return GET[:-2] + fields + b"\r\n"


def idsSent(head: bytes) -> list[bytes]:
    """
    The C{X-Request-Id} values of a head.
    """
    return [
        line.partition(b":")[2].strip()
        for line in head.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
        if line.lower().startswith(b"x-request-id:")
    ]


def harness(mode: str = KEEP, trusted: tuple[str, ...] = ()) -> Harness:
    return Harness(
        ProxyConfig(
            timeouts=TIMEOUTS,
            log=LogConfig(requestId=mode),
            reverse=ReverseConfig(trustedProxies=trusted),
        )
    )


def originGot(h: Harness, request: bytes) -> list[bytes]:
    """
    Send C{request}; the C{X-Request-Id} values the origin got.
    """
    h.send(request)
    _, transport = h.acceptOrigin()
    return idsSent(originSaw(transport))


class WellFormedTests(SynchronousTestCase):
    """
    A client's id is kept only when it is a token of 1 to 128 bytes.
    """

    def test_table(self) -> None:
        """
        Tokens (hex, UUIDs, dotted and underscored names) up to 128 bytes
        are well-formed; empty, longer, spaces, quotes, separators,
        controls and bytes beyond ASCII are not.
        """
        cases = [
            (b"0123456789abcdef0123456789abcdef", True),
            (b"6ba7b810-9dad-11d1-80b4-00c04fd430c8", True),
            (b"req_1.2~x!#$%&'*+^`|", True),
            (b"a", True),
            (b"a" * MAX_LENGTH, True),
            (b"", False),
            (b"a" * (MAX_LENGTH + 1), False),
            (b"a b", False),
            (b'"quoted"', False),
            (b"a/b", False),
            (b"a;b=c", False),
            (b"a\tb", False),
            (b"a\x00b", False),
            (b"\xc3\xa9t\xc3\xa9", False),
            (b"a\x7f", False),
        ]
        self.assertEqual([(value, wellFormed(value)) for value, _ in cases], cases)


class RequestIdsTests(SynchronousTestCase):
    """
    L{RequestIds} generates ids and decides, per mode, whose id a request
    carries.
    """

    def test_generated(self) -> None:
        """
        A generated id is 32 lower-case hex digits: the seed's 16, then a
        counter; no two are the same.
        """
        ids = RequestIds(seed=bytes.fromhex("0123456789abcdef"))
        made = [ids.generate() for _ in range(1000)]
        self.assertEqual(made[0], b"0123456789abcdef0000000000000001")
        self.assertEqual(made[999], b"0123456789abcdef00000000000003e8")
        self.assertTrue(all(HEX32.match(value) for value in made))
        self.assertEqual(len(set(made)), 1000)

    def test_randomSeed(self) -> None:
        """
        Without a seed, each L{RequestIds} (each process) starts its ids
        with its own random 16 digits.
        """
        first, second = RequestIds().generate(), RequestIds().generate()
        self.assertTrue(HEX32.match(first) and HEX32.match(second))
        self.assertNotEqual(first[:16], second[:16])

    def test_keep(self) -> None:
        """
        C{keep}: a well-formed id is kept; none, a malformed one, a too
        long one or a repeated field (empty) gets a new one.
        """
        ids = RequestIds(KEEP, seed=bytes(8))
        self.assertEqual(ids.choose(b"abc-1", "192.0.2.1"), b"abc-1")
        self.assertEqual(
            [
                ids.choose(value, "192.0.2.1")
                for value in (None, b"a b", b"x" * (MAX_LENGTH + 1), b"")
            ],
            [b"0000000000000000%016x" % n for n in (1, 2, 3, 4)],
        )

    def test_trusted(self) -> None:
        """
        C{trusted}: a well-formed id is kept from a trusted proxy only;
        anyone else's is replaced, and so is a trusted proxy's malformed
        one.
        """
        ids = RequestIds(TRUSTED, ("10.0.0.0/8", "2001:db8::/32"), seed=bytes(8))
        self.assertEqual(ids.choose(b"abc", "10.1.2.3"), b"abc")
        self.assertEqual(ids.choose(b"abc", "2001:db8::7"), b"abc")
        self.assertEqual(ids.choose(b"abc", "192.0.2.1"), FIRST_ID)
        self.assertEqual(ids.choose(b"a b", "10.1.2.3"), b"0000000000000000%016x" % 2)
        self.assertEqual(ids.choose(b"abc", ""), b"0000000000000000%016x" % 3)

    def test_generate(self) -> None:
        """
        C{generate}: every request gets a new id, whatever it sent.
        """
        ids = RequestIds(GENERATE, seed=bytes(8))
        self.assertEqual(ids.choose(b"abc", "10.1.2.3"), FIRST_ID)
        self.assertEqual(ids.choose(None, "10.1.2.3"), b"0000000000000000%016x" % 2)

    def test_off(self) -> None:
        """
        C{off}: no request has an id, not even one that could not be read.
        """
        ids = RequestIds(OFF)
        self.assertEqual((ids.choose(b"abc", "x"), ids.choose(None, "x"), ids.fresh()), (None,) * 3)

    def test_fresh(self) -> None:
        """
        For a request whose head could not be read, a new id.
        """
        self.assertEqual(RequestIds(TRUSTED, seed=bytes(8)).fresh(), FIRST_ID)

    def test_bad(self) -> None:
        """
        An unknown mode, or a seed that is not 8 bytes, is refused.
        """
        self.assertRaises(ValueError, RequestIds, "sometimes")
        self.assertRaises(ValueError, RequestIds, KEEP, (), b"short")

    def test_fromConfig(self) -> None:
        """
        The mode is C{[log] request_id}, the trusted networks C{[reverse]
        trusted_proxies}.
        """
        config = ProxyConfig(
            log=LogConfig(requestId=TRUSTED),
            reverse=ReverseConfig(trustedProxies=("10.0.0.0/8",)),
        )
        ids = RequestIds.fromConfig(config)
        self.assertEqual(ids.mode, TRUSTED)
        self.assertEqual(ids.choose(b"abc", "10.0.0.1"), b"abc")
        self.assertEqual(RequestIds.fromConfig(ProxyConfig()).mode, KEEP)


class ConfigTests(SynchronousTestCase):
    """
    C{[log] request_id} is read and checked like every key.
    """

    def test_modes(self) -> None:
        """
        Each mode is accepted; the default is C{keep}.
        """
        self.assertEqual(ProxyConfig.fromMapping({}).log.requestId, KEEP)
        for mode in MODES:
            config = ProxyConfig.fromMapping({"log": {"request_id": mode}})
            self.assertEqual(config.log.requestId, mode)

    def test_badMode(self) -> None:
        """
        Anything else is an error naming the file, the line and the key,
        and the choices.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('[log]\naccess = "-"\nrequest_id = "always"\n')
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path)
        message = str(caught.exception)
        self.assertIn(f"{path}:3: log.request_id: ", message)
        self.assertIn("keep, trusted, generate, off", message)

    def test_value(self) -> None:
        """
        L{LogConfig} refuses an unknown mode too.
        """
        self.assertRaises(ValueError, LogConfig, requestId="always")


class HeaderTests(SynchronousTestCase):
    """
    The id goes to the origin in the same pass that builds its fields.
    """

    def test_replaces(self) -> None:
        """
        Every received C{X-Request-Id} is removed and one appended after
        C{Via}; the rest keeps its order.
        """
        headers: Headers = [
            (b"Host", b"h"),
            (b"X-Request-Id", b"a"),
            (b"Accept", b"*/*"),
            (b"x-request-id", b"b"),
        ]
        self.assertEqual(
            forwardHeaders(headers, frozenset(), b"1.1 proxykit", None, b"chosen"),
            [
                (b"Host", b"h"),
                (b"Accept", b"*/*"),
                (b"Via", b"1.1 proxykit"),
                (b"X-Request-Id", b"chosen"),
            ],
        )

    def test_none(self) -> None:
        """
        Without an id (C{off}), a received field passes as it is.
        """
        headers: Headers = [(b"X-Request-Id", b"a b"), (b"X-Request-Id", b"c")]
        self.assertEqual(
            forwardHeaders(headers, frozenset(), b"1.1 proxykit"),
            headers + [(b"Via", b"1.1 proxykit")],
        )


class OriginTests(SynchronousTestCase):
    """
    The origin gets exactly one C{X-Request-Id}: the client's when it may
    be kept, else a new one; never two.
    """

    def test_generated(self) -> None:
        """
        A request without an id gets a new one.
        """
        self.assertEqual(originGot(harness(), GET), [FIRST_ID])

    def test_kept(self) -> None:
        """
        A well-formed id is passed on as the client sent it, once.
        """
        self.assertEqual(originGot(harness(), withId(b"client-id-1")), [b"client-id-1"])
        longest = b"a" * MAX_LENGTH
        self.assertEqual(originGot(harness(), withId(longest)), [longest])

    def test_malformed(self) -> None:
        """
        A malformed or too long id is replaced, and not passed on anywhere
        in the head.
        """
        for value in (b"a b", b"<script>", b"a" * (MAX_LENGTH + 1), b"\xc3\xa9"):
            h = harness()
            h.send(withId(value))
            _, transport = h.acceptOrigin()
            head = originSaw(transport)
            self.assertEqual(idsSent(head), [FIRST_ID], value)
            self.assertNotIn(value, head)

    def test_repeated(self) -> None:
        """
        Two ids are ambiguous: replaced by one new one.
        """
        self.assertEqual(originGot(harness(), withId(b"one", b"two")), [FIRST_ID])

    def test_untrusted(self) -> None:
        """
        In C{trusted} mode, the id of a client that is not a trusted proxy
        is replaced; a trusted proxy's is kept.
        """
        self.assertEqual(
            originGot(harness(TRUSTED, ("10.0.0.0/8",)), withId(b"abc")), [FIRST_ID]
        )
        self.assertEqual(
            originGot(harness(TRUSTED, ("127.0.0.0/8",)), withId(b"abc")), [b"abc"]
        )

    def test_generateMode(self) -> None:
        """
        In C{generate} mode even a well-formed id is replaced.
        """
        self.assertEqual(originGot(harness(GENERATE), withId(b"abc")), [FIRST_ID])

    def test_off(self) -> None:
        """
        C{off} adds nothing, and passes the client's fields untouched.
        """
        self.assertEqual(originGot(harness(OFF), GET), [])
        self.assertEqual(originGot(harness(OFF), withId(b"a b", b"c")), [b"a b", b"c"])

    def test_eachRequest(self) -> None:
        """
        Each request of a keep-alive connection has its own id.
        """
        h = harness()
        h.send(GET)
        origin, transport = h.acceptOrigin()
        self.assertEqual(idsSent(originSaw(transport)), [FIRST_ID])
        origin.dataReceived(OK)
        h.send(GET)
        self.assertEqual(idsSent(originSaw(transport)), [b"0" * 31 + b"2"])

    def test_reverse(self) -> None:
        """
        In reverse mode the route's origin gets it too, beside the
        forwarding fields.
        """
        h = reverse(9001)
        h.send(b"GET /a HTTP/1.1\r\nHost: app.example.test\r\nX-Request-Id: rid-7\r\n\r\n")
        _, transport = h.acceptOrigin()
        head = originSaw(transport)
        self.assertEqual(idsSent(head), [b"rid-7"])
        self.assertIn(b"X-Forwarded-For: 127.0.0.1\r\n", head)


class ErrorResponseTests(SynchronousTestCase):
    """
    An error response the proxy writes names the request's id in its body
    and its C{X-Request-Id}, and echoes nothing else.
    """

    def test_deadOrigin(self) -> None:
        """
        A 502 from an origin that refuses the connection.
        """
        h = harness()
        h.send(withId(b"trace-42"))
        h.refuseOrigin()
        head, _, body = h.received().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"))
        self.assertEqual(idsSent(head + b"\r\n\r\n"), [b"trace-42"])
        self.assertEqual(body, b"502 Bad Gateway\nrequest id: trace-42\n")
        self.assertIn(b"Content-Length: %d\r\n" % len(body), head)

    def test_generatedInError(self) -> None:
        """
        A malformed id is not echoed: the error names the new one.
        """
        h = harness()
        h.send(withId(b"<b>hi</b>"))
        h.refuseOrigin()
        response = h.received()
        self.assertNotIn(b"<b>", response)
        self.assertTrue(response.endswith(b"request id: " + FIRST_ID + b"\n"))

    def test_refusal(self) -> None:
        """
        A refusal (403) names it too.
        """
        h = harness()
        h.send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\nX-Request-Id: r1\r\n\r\n")
        response = h.received()
        self.assertTrue(response.startswith(b"HTTP/1.1 403 "))
        self.assertIn(b"\r\nX-Request-Id: r1\r\n", response)
        self.assertTrue(response.endswith(b"\r\n\r\n403 Forbidden\nrequest id: r1\n"))

    def test_badRequest(self) -> None:
        """
        A request that cannot be parsed has no id of its own: its 400 names
        a new one, not whatever the client put in its field.
        """
        h = harness()
        h.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine\r\nBad Field: 1\r\n\r\n")
        response = h.received()
        self.assertTrue(response.startswith(b"HTTP/1.1 400 "))
        self.assertNotIn(b"mine", response)
        self.assertIn(b"\r\nX-Request-Id: " + FIRST_ID + b"\r\n", response)
        self.assertTrue(response.endswith(b"request id: " + FIRST_ID + b"\n"))

    def test_headTimeout(self) -> None:
        """
        A head not complete in time gets a 408 with a new id.
        """
        h = harness()
        h.send(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\n")
        h.reactor.advance(h.config.timeouts.header + 1)
        response = h.received()
        self.assertTrue(response.startswith(b"HTTP/1.1 408 "))
        self.assertTrue(response.endswith(b"request id: " + FIRST_ID + b"\n"))

    def test_off(self) -> None:
        """
        With ids off, error responses are as they were: no id anywhere.
        """
        h = harness(OFF)
        h.send(GET)
        h.refuseOrigin()
        response = h.received()
        self.assertNotIn(b"X-Request-Id", response)
        self.assertTrue(response.endswith(b"\r\n\r\n502 Bad Gateway\n"))


class AccessLogTests(SynchronousTestCase):
    """
    The access log has the id: the C{request_id} field of its events, JSON
    lines and format strings.
    """

    def test_json(self) -> None:
        """
        A JSON line's C{request_id}, second after C{time}.
        """
        h = harness()
        logged = Logged(self, h, "json")
        h.send(withId(b"abc"))
        origin, _ = h.acceptOrigin()
        origin.dataReceived(OK)
        h.send(GET)
        origin.dataReceived(OK)
        lines = [json.loads(line) for line in logged.lines()]
        self.assertEqual([line["request_id"] for line in lines], ["abc", FIRST_ID.decode()])
        self.assertEqual(list(lines[0])[:2], ["time", "request_id"])
        self.assertEqual([e["request_id"] for e in logged.events], ["abc", FIRST_ID.decode()])

    def test_format(self) -> None:
        """
        C{$request_id} in a format string; C{-} when ids are off.
        """
        h = harness()
        logged = Logged(self, h, "$request_id $status")
        h.send(GET)
        h.refuseOrigin()
        self.assertEqual(logged.lines(), [f"{FIRST_ID.decode()} 502"])
        h = harness(OFF)
        logged = Logged(self, h, "$request_id $status")
        h.send(GET)
        h.refuseOrigin()
        self.assertEqual(logged.lines(), ["- 502"])

    def test_combinedUnchanged(self) -> None:
        """
        The Combined Log Format has no id: it stays what tools parse.
        """
        h = harness()
        logged = Logged(self, h)
        h.send(GET)
        h.refuseOrigin()
        [line] = logged.lines()
        self.assertNotIn(FIRST_ID.decode(), line)
        self.assertTrue(line.endswith('"GET http://127.0.0.1:9000/a HTTP/1.1" 502 - "-" "-"'), line)

    def test_badRequest(self) -> None:
        """
        A request that could not be parsed is logged with its new id.
        """
        h = harness()
        logged = Logged(self, h, "json")
        h.send(b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n")
        [line] = [json.loads(line) for line in logged.lines()]
        self.assertEqual((line["status"], line["request_id"]), (400, FIRST_ID.decode()))


class HookEventTests(SynchronousTestCase):
    """
    Every hook's event names the request's id, so that an application can
    read it.
    """

    def test_events(self) -> None:
        """
        Before and after routing, the response head, and the record all
        carry the id the origin got.
        """
        h = harness()
        seen: list[Any] = []
        hooks = h.factory.hooks
        hooks.beforeRouting(seen.append)
        hooks.afterRouting(seen.append)
        hooks.onResponse(seen.append)
        hooks.onComplete(seen.append)
        h.send(withId(b"app-1"))
        origin, _ = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(
            [(type(event), event.requestId) for event in seen],
            [
                (RequestEvent, "app-1"),
                (RoutedEvent, "app-1"),
                (ResponseEvent, "app-1"),
                (RequestRecord, "app-1"),
            ],
        )

    def test_rewrittenHead(self) -> None:
        """
        A before-routing hook that rewrites the head keeps the id: it was
        decided when the head arrived.
        """
        h = harness()
        seen: list[Any] = []
        hooks = h.factory.hooks
        hooks.beforeRouting(
            lambda event: event.request.replace(
                headers=[*event.request.headers, (b"X-Request-Id", b"other")]
            )
        )
        hooks.beforeRouting(seen.append)
        h.send(withId(b"app-1"))
        _, transport = h.acceptOrigin()
        self.assertEqual(idsSent(originSaw(transport)), [b"app-1"])
        self.assertEqual([event.requestId for event in seen], ["app-1"])

    def test_error(self) -> None:
        """
        An error event names the id the error response shows.
        """
        h = harness()
        errors: list[ErrorEvent] = []
        h.factory.hooks.onError(errors.append)
        h.send(GET)
        h.refuseOrigin()
        [error] = errors
        self.assertEqual((error.status, error.requestId), (502, FIRST_ID.decode()))

    def test_off(self) -> None:
        """
        With ids off, the events say C{None}.
        """
        h = harness(OFF)
        records: list[RequestRecord] = []
        h.factory.hooks.onComplete(records.append)
        h.send(GET)
        origin, _ = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual([record.requestId for record in records], [None])
