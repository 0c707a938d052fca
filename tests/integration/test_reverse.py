"""
Real-socket tests of the reverse proxy: curl, a WebSocket client and raw
sockets reach virtual hosts served by a proxykit reverse proxy running in the
trial reactor, which spreads the requests over local origins.  Everything is
on 127.0.0.1 (or a UNIX socket); the site's name, C{app.example.test}, is
resolved by curl's C{--resolve}.
"""

from __future__ import annotations

import json
import re
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from proxykit import Timeouts
from proxykit.config import (
    HealthCheckConfig,
    OriginConfig,
    ReverseConfig,
    RouteConfig,
    VhostConfig,
)
from proxykit.policy.balance import parseOriginURL

from ._reverse_servers import (
    NO_WEBSOCKETS,
    SITE,
    NamedOrigin,
    ReverseHarness,
    WebSocketOrigin,
    servedBy,
    siteFor,
    siteURL,
    waitUntil,
    webSocketExchange,
)
from ._servers import (
    Listener,
    Tracker,
    TrackingFactory,
    completeResponses,
    headLines,
    parseResponses,
    pattern,
    request,
)

ANY_ID = re.compile(rb"request id: [0-9a-f]{32}")
"""The line naming a generated request id in the proxy's error bodies."""


def site(
    *routes: RouteConfig,
    hosts: tuple[str, ...] = (SITE, f"*.{SITE}"),
    default: str | None = None,
    trustedProxies: tuple[str, ...] = (),
) -> ReverseConfig:
    """
    One virtual host, C{app.example.test} and its subdomains, with
    C{routes}.
    """
    return ReverseConfig(
        vhosts=(VhostConfig(hosts, routes),),
        default=default,
        trustedProxies=trustedProxies,
    )


def route(
    *origins: NamedOrigin | str, weights: tuple[int, ...] = (), **options: Any
) -> RouteConfig:
    """
    A route to C{origins} (named origins or origin URLs), with C{weights} in
    the same order (1 each by default).
    """
    configs = []
    for index, origin in enumerate(origins):
        url = origin if isinstance(origin, str) else origin.url
        weight = weights[index] if weights else 1
        configs.append(OriginConfig(url, weight=weight))
    return RouteConfig(origins=tuple(configs), **options)


def fields(result: Any, name: str) -> list[str]:
    """
    The values of the C{name} fields of an echoed request head.
    """
    echo = json.loads(result.body)
    return [value for field, value in headLines(echo) if field.lower() == name.lower()]


class ReverseProxyTests(TestCase):
    """
    A reverse proxy on a real socket, in front of real origins.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)

    # Virtual hosts and routes

    @inlineCallbacks
    def test_siteByName(self) -> Any:
        """
        A request for C{app.example.test} reaches the site's origin, and so
        does one for a subdomain the site's wildcard name covers.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/page?q=1"))
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(result.body, b"origin=A uri=/page?q=1\n")
        sub = f"x.{SITE}"
        result = yield h.curlSite(
            proxy.port,
            "--resolve",
            f"{sub}:{proxy.port}:127.0.0.1",
            f"http://{sub}:{proxy.port}/sub",
        )
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(result.body, b"origin=A uri=/sub\n")

    @inlineCallbacks
    def test_unknownHost(self) -> Any:
        """
        A request for a host no virtual host names is answered 421
        (Misdirected Request) and reaches no origin.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        result = yield h.curlSite(
            proxy.port, "-H", "Host: other.test", f"http://127.0.0.1:{proxy.port}/"
        )
        self.assertEqual((result.exitCode, result.status), (0, 421), result.stderr)
        self.assertEqual(origin.served, [])

    @inlineCallbacks
    def test_defaultSite(self) -> Any:
        """
        With a default virtual host, a request for an unknown host is served
        by it.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin), default=SITE))
        result = yield h.curlSite(
            proxy.port, "-H", "Host: other.test", f"http://127.0.0.1:{proxy.port}/d"
        )
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(result.body, b"origin=A uri=/d\n")

    @inlineCallbacks
    def test_pathPrefixes(self) -> Any:
        """
        The route with the longest matching path prefix serves a request: a
        route that strips its prefix sends C{/api/x} as C{/x}, one that does
        not sends the path unchanged, and C{/apix} is not under C{/api}.
        """
        h = self.harness
        a, b, c = h.startOrigin("A"), h.startOrigin("B"), h.startOrigin("C")
        proxy = h.startReverseProxy(
            site(
                route(a),
                route(b, prefix="/api", stripPrefix=True),
                route(c, prefix="/api/v2"),
            )
        )
        code, err, transfers = yield h.curlMany(
            proxy.port, ["/api/x?y=1", "/api", "/api/v2/z", "/apix", "/"]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            [t.body for t in transfers],
            [
                "origin=B uri=/x?y=1",
                "origin=B uri=/",
                "origin=C uri=/api/v2/z",
                "origin=A uri=/apix",
                "origin=A uri=/",
            ],
        )

    # Balancing

    @inlineCallbacks
    def test_weightedRoundRobin(self) -> Any:
        """
        Round-robin over origins weighted 1 and 2 sends 10 of 30 requests to
        the first and 20 to the second.
        """
        h = self.harness
        a, b = h.startOrigin("A"), h.startOrigin("B")
        proxy = h.startReverseProxy(site(route(a, b, weights=(1, 2))))
        code, err, transfers = yield h.curlMany(
            proxy.port, [f"/r{i}" for i in range(30)]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual([t.status for t in transfers], [200] * 30)
        names = servedBy(transfers)
        self.assertEqual((names.count("A"), names.count("B")), (10, 20))
        self.assertEqual((len(a.served), len(b.served)), (10, 20))

    @inlineCallbacks
    def test_leastOutstanding(self) -> Any:
        """
        With least-outstanding balancing, while one origin holds a slow
        request, every other request goes to the idle origin; the slow one
        is then answered.
        """
        h = self.harness
        a, b = h.startOrigin("A"), h.startOrigin("B")
        proxy = h.startReverseProxy(site(route(a, b, balance="least_outstanding")))
        slow = yield h.connect(proxy.port)
        slow.send(request("GET", "/hold", host=f"{SITE}:{proxy.port}"))
        yield waitUntil(reactor, lambda: bool(a.resource.held or b.resource.held))
        busy, idle = (a, b) if a.resource.held else (b, a)
        code, err, transfers = yield h.curlMany(
            proxy.port, [f"/q{i}" for i in range(8)]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(servedBy(transfers), [idle.name] * 8)
        busy.resource.release()
        received = yield slow.waitFor(completeResponses(1))
        [response] = parseResponses(received)
        self.assertEqual(
            (response.status, response.body),
            (200, f"origin={busy.name} released\n".encode("ascii")),
        )

    @inlineCallbacks
    def test_randomTwo(self) -> Any:
        """
        With power-of-two-choices balancing, 30 requests all succeed and
        both origins get some of them.
        """
        h = self.harness
        a, b = h.startOrigin("A"), h.startOrigin("B")
        proxy = h.startReverseProxy(site(route(a, b, balance="random_two")))
        code, err, transfers = yield h.curlMany(
            proxy.port, [f"/r{i}" for i in range(30)]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual([t.status for t in transfers], [200] * 30)
        self.assertEqual(len(a.served) + len(b.served), 30)
        self.assertGreater(len(a.served), 0)
        self.assertGreater(len(b.served), 0)

    # Health

    @inlineCallbacks
    def test_passiveHealth(self) -> Any:
        """
        When one origin of a route refuses connections, each GET it is
        chosen for is retried on the healthy one, so that all 20 succeed,
        the healthy origin serves them all, and the failing origin is taken
        out of the route.
        """
        h = self.harness
        closed = yield h.closedPort()
        healthy = h.startOrigin("B")
        dead = f"http://127.0.0.1:{closed}"
        proxy = h.startReverseProxy(site(route(dead, healthy)))
        code, err, transfers = yield h.curlMany(
            proxy.port, [f"/p{i}" for i in range(20)]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual([t.status for t in transfers], [200] * 20)
        self.assertEqual(servedBy(transfers), ["B"] * 20)
        self.assertEqual(len(healthy.served), 20)
        group = proxy.factory.router.table.routes[0].upstream  # type: ignore[attr-defined]
        self.assertFalse(group.isUp(parseOriginURL(dead)))

    @inlineCallbacks
    def test_activeHealth(self) -> Any:
        """
        With active health checks, an origin whose health endpoint answers
        503 is taken out: every request goes to the other one.  Once its
        health endpoint answers 200 again it is brought back and gets its
        share of requests again.
        """
        h = self.harness
        a, b = h.startOrigin("A"), h.startOrigin("B")
        a.resource.healthStatus = 503
        check = HealthCheckConfig(
            path="/healthz", interval=0.2, timeout=0.5, rise=1, fall=1
        )
        service, port = yield h.startReverseService(
            site(route(a, b, healthCheck=check))
        )
        group = service.factory.router.table.routes[0].upstream
        originA = parseOriginURL(a.url)
        yield waitUntil(reactor, lambda: not group.isUp(originA))
        code, err, transfers = yield h.curlMany(port, [f"/d{i}" for i in range(10)])
        self.assertEqual(code, 0, err)
        self.assertEqual(servedBy(transfers), ["B"] * 10)
        self.assertEqual(a.served, [])

        a.resource.healthStatus = 200
        yield waitUntil(reactor, lambda: group.isUp(originA))
        code, err, transfers = yield h.curlMany(port, [f"/u{i}" for i in range(10)])
        self.assertEqual(code, 0, err)
        names = servedBy(transfers)
        self.assertEqual((names.count("A"), names.count("B")), (5, 5))
        self.assertGreater(a.resource.healthChecks, 1)

    @inlineCallbacks
    def test_allOriginsDown(self) -> Any:
        """
        When every origin of a route refuses connections the client gets
        502 at once, well within the connect timeout; and again once the
        origins are taken out.
        """
        h = self.harness
        first, second = yield h.closedPorts(2)
        proxy = h.startReverseProxy(
            site(route(f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}")),
            Timeouts(connect=5, response=5),
        )
        for attempt in range(2):
            started = reactor.seconds()
            result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/"))
            elapsed = reactor.seconds() - started
            self.assertEqual((result.exitCode, result.status), (0, 502), result.stderr)
            self.assertLess(elapsed, 1.0, f"attempt {attempt}")

    @inlineCallbacks
    def test_soleOriginRestarted(self) -> Any:
        """
        A route's only origin stops: a request gets 502.  It is started
        again on the same port: the very next request gets 200 from it,
        without waiting for any ejection period.
        """
        h = self.harness
        a = h.startOrigin("A")
        port = a.listener.port
        proxy = h.startReverseProxy(site(route(a, ejectFor=60.0)))
        url = siteURL(proxy.port, "/before")
        result = yield h.curlSite(proxy.port, url)
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)

        yield a.listener.listeningPort.stopListening()
        a.listener.tracker.abortOpen()
        yield a.listener.tracker.allClosed(reactor)
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/during"))
        self.assertEqual((result.exitCode, result.status), (0, 502), result.stderr)

        tracker = Tracker()
        restarted = reactor.listenTCP(
            port, TrackingFactory(siteFor(a.resource, reactor), tracker), interface="127.0.0.1"
        )
        h._listeners.append(Listener(restarted, tracker))
        started = reactor.seconds()
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/after"))
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertLess(reactor.seconds() - started, 10.0)
        self.assertEqual(a.served, ["/before", "/after"])
        self.assertEqual(tracker.accepted, 1)

    # Forwarding headers and redirects

    @inlineCallbacks
    def test_forwardingHeaders(self) -> Any:
        """
        The origin is told the client's address, scheme and requested host
        in C{X-Forwarded-For}, C{-Proto} and C{-Host}; a client's own
        C{X-Forwarded-For} is replaced, not believed; the origin sees the
        client's C{Host}.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        result = yield h.curlSite(
            proxy.port, "-H", "X-Forwarded-For: 6.6.6.6", siteURL(proxy.port, "/echo")
        )
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        authority = f"{SITE}:{proxy.port}"
        self.assertEqual(fields(result, "X-Forwarded-For"), ["127.0.0.1"])
        self.assertEqual(fields(result, "X-Forwarded-Proto"), ["http"])
        self.assertEqual(fields(result, "X-Forwarded-Host"), [authority])
        self.assertEqual(fields(result, "Host"), [authority])
        self.assertEqual(fields(result, "Forwarded"), [])

    @inlineCallbacks
    def test_trustedProxyForwardingHeaders(self) -> Any:
        """
        From a trusted proxy, C{X-Forwarded-For} is kept and the client's
        address appended to it.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(
            site(route(origin), trustedProxies=("127.0.0.1/32",))
        )
        result = yield h.curlSite(
            proxy.port, "-H", "X-Forwarded-For: 6.6.6.6", siteURL(proxy.port, "/echo")
        )
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(fields(result, "X-Forwarded-For"), ["6.6.6.6, 127.0.0.1"])

    @inlineCallbacks
    def test_forwardedHeader(self) -> Any:
        """
        With C{forwarded} on, the origin also gets an RFC 7239 C{Forwarded}
        field with the client's address, scheme and (quoted) host.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin, forwarded=True)))
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/echo"))
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(
            fields(result, "Forwarded"),
            [f'for=127.0.0.1;proto=http;host="{SITE}:{proxy.port}"'],
        )

    @inlineCallbacks
    def test_originHostHeader(self) -> Any:
        """
        With C{host_header = "origin"} the origin sees its own address as
        C{Host}, while C{X-Forwarded-Host} still tells the client's.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin, hostHeader="origin")))
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/echo"))
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(fields(result, "Host"), [f"127.0.0.1:{origin.listener.port}"])
        self.assertEqual(fields(result, "X-Forwarded-Host"), [f"{SITE}:{proxy.port}"])

    @inlineCallbacks
    def test_redirectRewritten(self) -> Any:
        """
        A redirect to the origin's own address reaches the client pointing
        at the site's public address instead.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/redirect"))
        self.assertEqual((result.exitCode, result.status), (0, 302), result.stderr)
        self.assertEqual(
            [v for n, v in result.finalHeaders() if n.lower() == b"location"],
            [f"http://{SITE}:{proxy.port}/login".encode("ascii")],
        )

    @inlineCallbacks
    def test_redirectNotRewritten(self) -> Any:
        """
        With C{rewrite_redirects} off, the origin's redirect is passed on
        unchanged.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin, rewriteRedirects=False)))
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/redirect"))
        self.assertEqual((result.exitCode, result.status), (0, 302), result.stderr)
        self.assertEqual(
            [v for n, v in result.finalHeaders() if n.lower() == b"location"],
            [f"http://127.0.0.1:{origin.listener.port}/login".encode("ascii")],
        )

    @inlineCallbacks
    def test_redirectUnderStrippedPrefix(self) -> Any:
        """
        On a route that strips its prefix, a redirect to a path on the
        origin's own address reaches the client under the public prefix.
        """
        h = self.harness
        a, b = h.startOrigin("A"), h.startOrigin("B")
        proxy = h.startReverseProxy(
            site(route(a), route(b, prefix="/api", stripPrefix=True))
        )
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/api/redirect"))
        self.assertEqual((result.exitCode, result.status), (0, 302), result.stderr)
        self.assertEqual(b.served, ["/redirect"])
        self.assertEqual(
            [v for n, v in result.finalHeaders() if n.lower() == b"location"],
            [f"http://{SITE}:{proxy.port}/api/login".encode("ascii")],
        )

    @inlineCallbacks
    def test_absoluteFormRequests(self) -> Any:
        """
        A request in absolute form is routed by the host its target names,
        not by C{Host}; one naming an origin's own address, as if the site
        were an open forward proxy, is answered 421 and reaches no origin.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        received = yield h.exchange(
            proxy.port,
            request(
                "GET",
                f"http://{SITE}:{proxy.port}/abs",
                "Connection: close",
                host="other.test",
            ),
        )
        [response] = parseResponses(received)
        self.assertEqual(
            (response.status, response.body), (200, b"origin=A uri=/abs\n")
        )
        received = yield h.exchange(
            proxy.port,
            request(
                "GET",
                f"{origin.url}/direct",
                "Connection: close",
                host=f"{SITE}:{proxy.port}",
            ),
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 421)
        self.assertEqual(origin.served, ["/abs"])

    @inlineCallbacks
    def test_pipelinedRefusalAfterResponse(self) -> Any:
        """
        When a request the site refuses is pipelined behind one it serves,
        the answers come back in the order of the requests: the origin's
        response first, then the refusal.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        authority = f"{SITE}:{proxy.port}"
        received = yield h.exchange(
            proxy.port,
            request("GET", "/first", host=authority)
            + request("GET", "/second", "Connection: close", host="other.test"),
        )
        self.assertEqual(
            [(r.status, ANY_ID.sub(b"request id: ID", r.body)) for r in parseResponses(received)],
            [
                (200, b"origin=A uri=/first\n"),
                (421, b"421 Misdirected Request\nrequest id: ID\n"),
            ],
        )

    # WebSocket

    @inlineCallbacks
    def test_webSocket(self) -> Any:
        """
        A WebSocket client reaches a WebSocket origin through the site:
        text and binary messages, one of 1 MiB, come back intact, and the
        connection closes cleanly.
        """
        if NO_WEBSOCKETS:
            self.fail(NO_WEBSOCKETS)
        h = self.harness
        origin = WebSocketOrigin()
        self.addCleanup(origin.stop, reactor)
        proxy = h.startReverseProxy(
            site(route(f"http://127.0.0.1:{origin.port}")),
            Timeouts(connect=5, response=5),
        )
        big = pattern(1024 * 1024)
        messages: list[str | bytes] = [
            "hello",
            b"\x00\x01\x02",
            "h\u00e9llo " * 1000,
            big,
            "bye",
        ]
        echoes = yield deferToThread(
            webSocketExchange,
            proxy.port,
            siteURL(proxy.port, "/chat").replace("http", "ws", 1),
            messages,
        )
        self.assertEqual(echoes[:3] + echoes[4:], messages[:3] + messages[4:])
        self.assertEqual(len(echoes[3]), len(big))
        self.assertTrue(echoes[3] == big, "the 1 MiB message came back altered")
        self.assertEqual(origin.requests, [("/chat", f"{SITE}:{proxy.port}")])

    @inlineCallbacks
    def test_webSocketThroughForwardProxy(self) -> Any:
        """
        A WebSocket client configured with the forward proxy reaches a
        WebSocket origin through a CONNECT tunnel, messages and closing
        handshake included.
        """
        if NO_WEBSOCKETS:
            self.fail(NO_WEBSOCKETS)
        h = self.harness
        origin = WebSocketOrigin()
        self.addCleanup(origin.stop, reactor)
        proxy = h.startProxy(connectPorts=[origin.port])
        messages: list[str | bytes] = ["hello", pattern(256 * 1024), "bye"]
        echoes = yield deferToThread(
            webSocketExchange,
            proxy.port,
            f"ws://127.0.0.1:{origin.port}/tunnel",
            messages,
            tunnel=True,
        )
        self.assertTrue(echoes == messages, "the messages came back altered")
        self.assertEqual(origin.requests, [("/tunnel", f"127.0.0.1:{origin.port}")])

    # Transports and connections

    @inlineCallbacks
    def test_unixSocketOrigin(self) -> Any:
        """
        An origin listening on a UNIX socket (C{unix:/path}) is reached
        through the site.
        """
        h = self.harness
        origin = h.startUnixOrigin("U")
        proxy = h.startReverseProxy(site(route(origin)))
        result = yield h.curlSite(proxy.port, siteURL(proxy.port, "/over-unix"))
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(result.body, b"origin=U uri=/over-unix\n")

    @inlineCallbacks
    def test_activeHealthOverUnixSocket(self) -> Any:
        """
        Active health checks reach an origin on a UNIX socket: failing ones
        take it out, and requests go to the other origin.
        """
        h = self.harness
        unix, b = h.startUnixOrigin("U"), h.startOrigin("B")
        unix.resource.healthStatus = 500
        check = HealthCheckConfig(
            path="/healthz", interval=0.2, timeout=0.5, rise=1, fall=1
        )
        service, port = yield h.startReverseService(
            site(route(unix, b, healthCheck=check))
        )
        group = service.factory.router.table.routes[0].upstream
        yield waitUntil(reactor, lambda: not group.isUp(parseOriginURL(unix.url)))
        code, err, transfers = yield h.curlMany(port, [f"/d{i}" for i in range(4)])
        self.assertEqual(code, 0, err)
        self.assertEqual(servedBy(transfers), ["B"] * 4)
        self.assertGreater(unix.resource.healthChecks, 0)

    @inlineCallbacks
    def test_originConnectionKeptAlive(self) -> Any:
        """
        Ten requests one after the other on one client connection are all
        sent to the origin on one kept-alive connection.
        """
        h = self.harness
        origin = h.startOrigin("A")
        proxy = h.startReverseProxy(site(route(origin)))
        code, err, transfers = yield h.curlMany(
            proxy.port, [f"/k{i}" for i in range(10)]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual([t.status for t in transfers], [200] * 10)
        self.assertEqual(proxy.listener.tracker.accepted, 1)
        self.assertEqual(origin.listener.tracker.accepted, 1)
        self.assertEqual(len(origin.served), 10)
