"""
Reverse-mode exchanges on in-memory fakes: balancing, retries, passive
health, forwarding headers, redirects and protocol switches.
"""

from __future__ import annotations

from twisted.logger import LogEvent, LogLevel, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    OriginConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
)
from proxykit.policy.vhosts import ReverseRouter, VhostTable

from ._harness import FIRST_ID, OK, Harness, lose, originSaw

GET = b"GET /page HTTP/1.1\r\nHost: app.example.test:8000\r\n\r\n"


def reverse(*ports: int, **routeOptions: object) -> Harness:
    route = RouteConfig(
        origins=tuple(OriginConfig(f"http://127.0.0.1:{port}") for port in ports),
        **routeOptions,  # type: ignore[arg-type]
    )
    reverseConfig = ReverseConfig(vhosts=(VhostConfig(("app.example.test",), (route,)),))
    config = ProxyConfig(reverse=reverseConfig, timeouts=Timeouts(connect=5, response=30))
    h = Harness(config, router=None)
    table = VhostTable.fromConfig(reverseConfig, h.reactor)
    h.factory.router = ReverseRouter(table, reverseConfig)
    return h


def headerLines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]


class ReverseExchangeTests(SynchronousTestCase):
    """
    Requests to a virtual host reach its origins with the route's policy.
    """

    def test_forwardingHeaders(self) -> None:
        """
        The origin sees the client's Host, and X-Forwarded-For/-Proto/-Host
        set by the proxy: a client's own (spoofed) values are replaced.
        """
        h = reverse(9001)
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test:8000\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n")
        origin, ot = h.acceptOrigin()
        lines = headerLines(originSaw(ot))
        self.assertIn(b"Host: app.example.test:8000", lines)
        self.assertNotIn(b"X-Forwarded-For: 6.6.6.6", lines)
        self.assertIn(b"X-Forwarded-For: 127.0.0.1", lines)
        self.assertIn(b"X-Forwarded-Proto: http", lines)
        self.assertIn(b"X-Forwarded-Host: app.example.test:8000", lines)

    def test_originHostHeader(self) -> None:
        """
        With host_header = "origin" the origin sees its own address as Host.
        """
        h = reverse(9001, hostHeader="origin")
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertIn(b"Host: 127.0.0.1:9001", headerLines(originSaw(ot)))

    def test_locationRewritten(self) -> None:
        """
        A redirect to the origin's own address is rewritten to the public
        one.
        """
        h = reverse(9001)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9001/login?x=1\r\n"
            b"Content-Location: http://elsewhere.test/\r\nContent-Length: 0\r\n\r\n"
        )
        lines = headerLines(h.received())
        self.assertIn(b"Location: http://app.example.test:8000/login?x=1", lines)
        self.assertIn(b"Content-Location: http://elsewhere.test/", lines)

    def test_roundRobin(self) -> None:
        """
        Requests alternate between a route's origins.
        """
        h = reverse(9001, 9002)
        h.send(GET)
        first, ft = h.acceptOrigin()
        first.dataReceived(OK)
        h.client2, h.client2Transport = h.connectClient()
        h.client2.dataReceived(GET)
        self.assertEqual([c[1] for c in h.reactor.tcpClients], [9001, 9002])

    def test_retryOnAnotherOrigin(self) -> None:
        """
        A GET whose origin refuses the connection is retried on another
        origin; the refusing one is taken out, so the next request does not
        try it.
        """
        h = reverse(9001, 9002)
        h.send(GET)
        h.refuseOrigin()
        self.assertEqual([c[1] for c in h.reactor.tcpClients], [9001, 9002])
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))
        h.send(GET)
        self.assertEqual(len(h.reactor.tcpClients), 2, "reused the healthy origin's connection")
        origin.dataReceived(OK)
        client2, transport2 = h.connectClient()
        client2.dataReceived(GET)
        self.assertEqual([c[1] for c in h.reactor.tcpClients], [9001, 9002])

    def test_soleOriginTriedAgain(self) -> None:
        """
        A route's only origin that refused a connection once (it was
        restarting) is tried again on the very next request, which succeeds
        once the origin accepts: no waiting for an ejection period.
        """
        for retries in (0, 1):
            h = reverse(9001, retries=retries)
            h.send(GET)
            h.refuseOrigin()
            self.assertEqual(len(h.reactor.tcpClients), 1, "no other origin to retry on")
            self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))
            h.send(GET)
            self.assertEqual(
                [c[1] for c in h.reactor.tcpClients], [9001, 9001], "a new attempt"
            )
            origin, ot = h.acceptOrigin()
            self.assertTrue(originSaw(ot).startswith(b"GET /page HTTP/1.1\r\n"))
            origin.dataReceived(OK)
            response = h.received()
            self.assertTrue(response.startswith(b"HTTP/1.1 200 OK\r\n"), response)
            self.assertTrue(response.endswith(b"hello"))

    def test_allFailedStillTried(self) -> None:
        """
        When every origin of a route has refused, GETs are still tried: on
        the origin kept as the last usable one, then retried on the ejected
        one that failed longest ago.
        """
        h = reverse(9001, 9002, 9003, retries=1)
        h.send(GET)
        h.refuseOrigin()
        h.reactor.advance(1)
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))
        h.reactor.advance(1)
        for expected in (b"502", b"200"):
            client, transport = h.connectClient()
            client.dataReceived(GET)
            h.refuseOrigin()
            if expected == b"502":
                h.refuseOrigin()
            else:
                origin, ot = h.acceptOrigin()
                origin.dataReceived(OK)
            self.assertTrue(transport.value().startswith(b"HTTP/1.1 " + expected))
            h.reactor.advance(1)
        self.assertEqual(
            [c[1] for c in h.reactor.tcpClients],
            [9001, 9002, 9003, 9001, 9003, 9002],
            "the one kept up, then the least recently failed",
        )

    def test_routeDown(self) -> None:
        """
        When the health checks took every origin of a route out, its
        requests get 503 at once with a fixed body naming the route (never
        the request), and a structured log line; once the checks bring an
        origin back, requests reach it again.
        """
        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        h = reverse(9001, 9002, prefix="/api")
        group = h.factory.router.table.routes[0].upstream  # type: ignore[attr-defined]
        for origin in group.origins:
            group.markDown(origin)
        h.send(b"GET /api/<script> HTTP/1.1\r\nHost: app.example.test:8000\r\n\r\n")
        response = h.received()
        self.assertEqual(h.reactor.tcpClients, [])
        head, _, body = response.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), head)
        self.assertIn(b"Content-Type: text/plain; charset=utf-8", head)
        self.assertNotIn(b"Connection: close", head)
        self.assertEqual(
            body,
            b"503 Service Unavailable\nno origin of route /api is up\nrequest id: " + FIRST_ID + b"\n",
        )
        [event] = [e for e in events if "route {route} is down" in e.get("log_format", "")]
        self.assertEqual(
            {
                k: event[k]
                for k in ("route", "vhost", "client", "method", "target", "requestId", "reason")
            },
            {
                "route": "/api",
                "vhost": "app.example.test:8000",
                "client": "127.0.0.1:50000",
                "method": "GET",
                "target": "/api/<script>",
                "requestId": FIRST_ID.decode(),
                "reason": "no origin of the route passes its health checks",
            },
        )
        self.assertEqual(
            formatEvent(event),
            f"127.0.0.1:50000 GET /api/<script> [{FIRST_ID.decode()}]: route /api is down:"
            " no origin of the route passes its health checks",
        )
        self.assertEqual(event["log_level"], LogLevel.warn)
        group.markUp(group.origins[1])
        h.send(b"GET /api/x HTTP/1.1\r\nHost: app.example.test:8000\r\n\r\n")
        self.assertEqual([c[1] for c in h.reactor.tcpClients], [9002])

    def test_postNotRetried(self) -> None:
        """
        A request with a body is not retried on another origin.
        """
        h = reverse(9001, 9002)
        h.send(b"POST /f HTTP/1.1\r\nHost: app.example.test\r\nContent-Length: 1\r\n\r\nx")
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))
        self.assertEqual(len(h.reactor.tcpClients), 1)


class UpgradeTests(SynchronousTestCase):
    """
    Upgrade requests: 101 splices the connections; anything else goes on as
    HTTP.
    """

    UPGRADE = (
        b"GET /chat HTTP/1.1\r\nHost: app.example.test\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )

    def test_switch(self) -> None:
        """
        The origin is asked to upgrade; its 101 reaches the client with the
        upgrade fields, and then bytes flow both ways untouched, including
        bytes that followed either head.
        """
        h = reverse(9001)
        h.send(self.UPGRADE + b"\x81\x85early")
        origin, ot = h.acceptOrigin()
        sent = originSaw(ot)
        self.assertIn(b"Connection: upgrade\r\n", sent)
        self.assertIn(b"Upgrade: websocket\r\n", sent)
        self.assertIn(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", sent)
        self.assertFalse(sent.endswith(b"early"), "held until the switch")
        origin.dataReceived(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi"
        )
        out = h.received()
        self.assertTrue(out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"))
        self.assertIn(b"Upgrade: websocket\r\n", out)
        self.assertIn(b"Connection: upgrade\r\n", out)
        self.assertIn(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", out)
        self.assertTrue(out.endswith(b"\r\n\r\n\x81\x02hi"))
        self.assertEqual(originSaw(ot), b"\x81\x85early")
        h.send(b"\x81\x03abc")
        self.assertEqual(originSaw(ot), b"\x81\x03abc")
        origin.dataReceived(b"\x88\x00")
        self.assertEqual(h.received(), b"\x88\x00")
        lose(origin)
        self.assertTrue(h.clientTransport.disconnecting)
        self.assertEqual(h.factory.pool.connections, set())

    def test_noSwitch(self) -> None:
        """
        An ordinary answer to an Upgrade request is relayed, and a request
        pipelined after it is then served.
        """
        h = reverse(9001)
        h.send(self.UPGRADE + GET)
        origin, ot = h.acceptOrigin()
        originSaw(ot)
        origin.dataReceived(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 426 "))
        self.assertIn(b"GET /page HTTP/1.1\r\n", originSaw(ot))
        origin.dataReceived(OK)
        self.assertTrue(h.received().endswith(b"hello"))

    def test_forwardModeUpgrade(self) -> None:
        """
        Upgrades work through the forward proxy too (absolute-form ws over
        http).
        """
        h = Harness()
        h.send(self.UPGRADE.replace(b"GET /chat", b"GET http://127.0.0.1:9000/chat"))
        origin, ot = h.acceptOrigin()
        self.assertIn(b"Upgrade: websocket\r\n", originSaw(ot))
        origin.dataReceived(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 101 "))
        h.send(b"frame")
        self.assertEqual(originSaw(ot), b"frame")
