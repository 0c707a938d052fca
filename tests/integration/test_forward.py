"""
Real-socket tests of the forward proxy: real clients (curl, urllib, Twisted's
ProxyAgent and raw sockets) talk to a proxykit forward proxy running in the
trial reactor, which talks to local origins.  Everything is on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.threads import deferToThread
from twisted.protocols.wire import Echo
from twisted.trial.unittest import TestCase
from twisted.web.client import ProxyAgent, readBody

from proxykit import Timeouts

from ._servers import (
    Harness,
    RawPeer,
    completeResponses,
    decodeChunked,
    headComplete,
    headLines,
    parseHeadLines,
    parseResponses,
    pattern,
    request,
    runProcess,
    sha256,
)


def _answerWhenChunkedBodyEnds(peer: RawPeer) -> None:
    """
    Raw origin script: once a complete chunked request has arrived, answer
    C{200 ok} and keep the connection.
    """
    data = peer.received
    end = data.find(b"\r\n\r\n")
    if peer.state.get("answered") or end < 0:
        return
    if decodeChunked(data, end + 4) is None:
        return
    peer.state["answered"] = True
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def _closeMidBody(peer: RawPeer) -> None:
    """
    Raw origin script: announce 1000 bytes, send 10, and close.
    """
    if peer.state.get("answered") or not headComplete(peer.received):
        return
    peer.state["answered"] = True
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"0123456789")
    assert peer.transport is not None
    peer.transport.loseConnection()


def _closeDelimited(peer: RawPeer) -> None:
    """
    Raw origin script: answer with a body delimited by closing the
    connection (no length, no chunking).
    """
    if peer.state.get("answered") or not headComplete(peer.received):
        return
    peer.state["answered"] = True
    peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + pattern(100000))
    assert peer.transport is not None
    peer.transport.loseConnection()


def _answerOnceThenClose(peer: RawPeer) -> None:
    """
    Raw origin script: answer the first request on a connection with a
    keep-alive C{200 hello}; close the connection, unanswered, when a second
    request arrives on it.
    """
    heads = peer.received.count(b"\r\n\r\n")
    if heads >= 1 and not peer.state.get("answered"):
        peer.state["answered"] = True
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    if heads >= 2 and peer.transport is not None:
        peer.transport.loseConnection()


def _stallMidBody(peer: RawPeer) -> None:
    """
    Raw origin script: announce 1000 bytes, send 10, then say nothing more.
    """
    if peer.state.get("answered") or not headComplete(peer.received):
        return
    peer.state["answered"] = True
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"0123456789")


def _answerThenCloseIdle(peer: RawPeer) -> None:
    """
    Raw origin script: answer one request with a keep-alive C{200 hello},
    then close the connection while it is idle.
    """
    if peer.state.get("answered") or not headComplete(peer.received):
        return
    peer.state["answered"] = True
    peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    assert peer.transport is not None
    peer.transport.loseConnection()


def _chunkedWithTrailer(peer: RawPeer) -> None:
    """
    Raw origin script: answer with a chunked body and a trailer field.
    """
    if peer.state.get("answered") or not headComplete(peer.received):
        return
    peer.state["answered"] = True
    peer.send(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Digest\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Digest: abc\r\n\r\n"
    )


class ForwardProxyTests(TestCase):
    """
    A forward proxy on a real socket, used by real clients.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = Harness(self, reactor)

    def _withoutNoProxy(self) -> None:
        """
        Clear C{no_proxy} for this test: urllib would otherwise go direct
        to local addresses it lists.
        """
        for name in ("no_proxy", "NO_PROXY"):
            if name in os.environ:
                value = os.environ.pop(name)
                self.addCleanup(os.environ.__setitem__, name, value)

    # Clients

    @inlineCallbacks
    def test_curlGet(self) -> Any:
        """
        curl, told to use the proxy, gets the origin's page.  The response
        says C{Via: 1.1 proxykit}.  The hop-by-hop fields curl was told to
        send (C{Connection} and the field it names, C{Keep-Alive},
        C{Proxy-Connection}, C{TE}) do not reach the origin; the other fields
        arrive in order and repeated; and the origin is given the C{Host} of
        the URL, not the different one the client sent.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        result = yield h.curl(
            proxy,
            "-H", "Host: wrong.example",
            "-H", "Connection: x-custom",
            "-H", "X-Custom: 1",
            "-H", "Keep-Alive: timeout=5",
            "-H", "Proxy-Connection: keep-alive",
            "-H", "TE: trailers",
            "-H", "X-Rep: a",
            "-H", "X-Other: o",
            "-H", "X-Rep: b",
            origin.url("/echo?q=1"),
        )  # fmt: skip
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        echo = json.loads(result.body)
        self.assertEqual(echo["head"][0], "GET /echo?q=1 HTTP/1.1")
        fields = headLines(echo)
        names = {name.lower() for name, value in fields}
        for hop in ("connection", "x-custom", "keep-alive", "proxy-connection", "te"):
            self.assertNotIn(hop, names)
        self.assertEqual(
            [f for f in fields if f[0].lower() in ("x-rep", "x-other")],
            [("X-Rep", "a"), ("X-Other", "o"), ("X-Rep", "b")],
        )
        self.assertEqual(
            [v for n, v in fields if n.lower() == "host"], [f"127.0.0.1:{origin.port}"]
        )
        self.assertEqual([v for n, v in fields if n.lower() == "via"], ["1.1 proxykit"])
        self.assertEqual(
            [v for n, v in result.finalHeaders() if n.lower() == b"via"],
            [b"1.1 proxykit"],
        )

    @inlineCallbacks
    def test_forwardedHeadTranscript(self) -> Any:
        """
        The head the origin receives is exactly the client's head in
        origin-form: C{Host} replaced in place by the URL's authority,
        hop-by-hop fields gone, every other field in its place with its
        case and repetition, then C{Via} and the request's new id.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request(
                "GET",
                origin.url("/echo"),
                "X-Rep: a",
                "Connection: x-custom, close",
                "X-Custom: 1",
                "Keep-Alive: timeout=5",
                "Proxy-Connection: keep-alive",
                "TE: trailers",
                "X-Other: o",
                "x-rep: b",
                host="wrong.example",
            ),
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 200)
        head = json.loads(response.body)["head"]
        self.assertRegex(head[-1], r"^X-Request-Id: [0-9a-f]{32}$")
        self.assertEqual(
            head[:-1],
            [
                "GET /echo HTTP/1.1",
                f"Host: 127.0.0.1:{origin.port}",
                "X-Rep: a",
                "X-Other: o",
                "x-rep: b",
                "Via: 1.1 proxykit",
            ],
        )

    @inlineCallbacks
    def test_urllibGetAndPost(self) -> Any:
        """
        Python's urllib, with a C{ProxyHandler} for the proxy, can GET a page
        and POST a body that the origin receives intact.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        self._withoutNoProxy()
        url = origin.url("/echo")

        def fetch(data: bytes | None) -> tuple[int, list[str], bytes]:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({"http": proxy.url})
            )
            method = "GET" if data is None else "POST"
            with opener.open(
                urllib.request.Request(url, data=data, method=method), timeout=20
            ) as response:
                return response.status, response.headers.get_all("Via"), response.read()

        status, via, body = yield deferToThread(fetch, None)
        self.assertEqual((status, via), (200, ["1.1 proxykit"]))
        self.assertEqual(json.loads(body)["method"], "GET")
        status, via, body = yield deferToThread(fetch, b"name=value&x=1")
        echo = json.loads(body)
        self.assertEqual(
            (status, echo["method"], echo["body"]), (200, "POST", "name=value&x=1")
        )

    @inlineCallbacks
    def test_twistedProxyAgentGet(self) -> Any:
        """
        Twisted's C{ProxyAgent} pointed at the proxy gets the origin's page.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        agent = ProxyAgent(
            TCP4ClientEndpoint(reactor, "127.0.0.1", proxy.port), reactor
        )
        response = yield agent.request(b"GET", origin.url("/path/agent").encode())
        body = yield readBody(response)
        self.assertEqual(response.code, 200)
        self.assertEqual(body, b"/path/agent")
        self.assertEqual(response.headers.getRawHeaders(b"via"), [b"1.1 proxykit"])

    # Connection reuse and pipelining

    @inlineCallbacks
    def test_sequentialRequestsShareOneOriginConnection(self) -> Any:
        """
        Ten requests made one after another on one client connection are
        all answered, over a single connection to the origin.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        urls = [origin.url(f"/path/{i}") for i in range(10)]
        out, err, code = yield runProcess(
            reactor, "curl", ["-sS", "--max-time", "20", "-x", proxy.url, *urls]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(out, b"".join(b"/path/%d" % i for i in range(10)))
        self.assertEqual(proxy.listener.tracker.accepted, 1)
        self.assertEqual(origin.tracker.accepted, 1)

    @inlineCallbacks
    def test_pipelinedRequestsAnsweredInOrder(self) -> Any:
        """
        Three requests written at once are answered in the order they were
        sent.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request("GET", origin.url("/path/a"))
            + request("GET", origin.url("/path/b"))
            + request("GET", origin.url("/path/c"), "Connection: close"),
        )
        responses = parseResponses(received)
        self.assertEqual([r.status for r in responses], [200, 200, 200])
        self.assertEqual(
            [r.body for r in responses], [b"/path/a", b"/path/b", b"/path/c"]
        )
        self.assertEqual(origin.tracker.accepted, 1)

    @inlineCallbacks
    def test_headThenGetOnOneConnection(self) -> Any:
        """
        A HEAD request is answered with the head only, and the GET that
        follows it on the same connection gets its own, whole response.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request("HEAD", origin.url("/path/x"))
            + request("GET", origin.url("/path/y"), "Connection: close"),
        )
        head, get = parseResponses(received, [b"HEAD", b"GET"])
        self.assertEqual((head.status, head.body), (200, b""))
        self.assertEqual(head.values(b"Content-Length"), [b"7"])
        self.assertEqual((get.status, get.body), (200, b"/path/y"))

    # Bodies

    @inlineCallbacks
    def test_chunkedUploadWithTrailers(self) -> Any:
        """
        A chunked POST with a trailer reaches the origin chunked, with the
        same body and the trailer.
        """
        h = self.harness
        origin = h.startRawOrigin(_answerWhenChunkedBodyEnds)
        proxy = h.startProxy()
        body = b"5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: abc\r\n\r\n"
        received = yield h.exchange(
            proxy.port,
            request(
                "POST",
                origin.url("/upload"),
                "Transfer-Encoding: chunked",
                "Trailer: X-Checksum",
                "Connection: close",
                body=body,
            ),
        )
        [response] = parseResponses(received)
        self.assertEqual((response.status, response.body), (200, b"ok"))
        peer = origin.tracker.protocols[0]
        assert isinstance(peer, RawPeer)
        end = peer.received.index(b"\r\n\r\n")
        requestLine, fields = parseHeadLines(peer.received[:end])
        self.assertEqual(requestLine, b"POST /upload HTTP/1.1")
        self.assertEqual(
            [v for n, v in fields if n.lower() == b"transfer-encoding"], [b"chunked"]
        )
        decoded = decodeChunked(peer.received, end + 4)
        assert decoded is not None
        self.assertEqual(decoded[:2], (b"hello, world", [(b"X-Checksum", b"abc")]))

    @inlineCallbacks
    def test_curlChunkedUpload(self) -> Any:
        """
        curl uploading 300 kB with C{Transfer-Encoding: chunked} delivers
        exactly those bytes to the origin.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        data = pattern(300000)
        path = h.tempPath("upload")
        with open(path, "wb") as f:
            f.write(data)
        result = yield h.curl(
            proxy,
            "-H", "Transfer-Encoding: chunked",
            "--data-binary", "@" + path,
            origin.url("/echo"),
        )  # fmt: skip
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        echo = json.loads(result.body)
        self.assertEqual(
            (echo["bodyLength"], echo["bodySha256"]), (len(data), sha256(data))
        )

    @inlineCallbacks
    def test_chunkedResponseToHTTP11Client(self) -> Any:
        """
        A chunked response reaches an HTTP/1.1 client chunked, whole.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request("GET", origin.url("/stream/300000"), "Connection: close"),
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.values(b"Transfer-Encoding"), [b"chunked"])
        self.assertTrue(response.complete)
        self.assertEqual(response.body, pattern(300000))

    @inlineCallbacks
    def test_chunkedResponseToHTTP10Client(self) -> Any:
        """
        A chunked response reaches an HTTP/1.0 client unchunked, delimited
        by the proxy closing the connection after the whole body.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request("GET", origin.url("/stream/300000"), version="1.0", host=""),
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.values(b"Transfer-Encoding"), [])
        self.assertEqual(response.values(b"Content-Length"), [])
        self.assertEqual(response.values(b"Connection"), [b"close"])
        self.assertEqual(response.body, pattern(300000))

    @inlineCallbacks
    def test_closeDelimitedResponseToHTTP11Client(self) -> Any:
        """
        A response whose body ends when the origin closes reaches an
        HTTP/1.1 client chunked, whole, so the client can tell it is
        complete.
        """
        h = self.harness
        origin = h.startRawOrigin(_closeDelimited)
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port, request("GET", origin.url("/"), "Connection: close")
        )
        [response] = parseResponses(received)
        self.assertEqual(response.values(b"Transfer-Encoding"), [b"chunked"])
        self.assertTrue(response.complete)
        self.assertEqual(response.body, pattern(100000))

    @inlineCallbacks
    def test_largeDownloadIntact(self) -> Any:
        """
        An 8 MiB response streams through to curl byte for byte.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        size = 8 * 1024 * 1024
        result = yield h.curl(proxy, origin.url(f"/stream/{size}"))
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(len(result.body), size)
        self.assertEqual(sha256(result.body), sha256(pattern(size)))

    @inlineCallbacks
    def test_expectContinueRelayed(self) -> Any:
        """
        A client that sends C{Expect: 100-continue} and waits gets the
        origin's C{100 Continue}, then sends its body and gets the final
        response.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        client = yield h.connect(proxy.port)
        client.send(
            request(
                "POST",
                origin.url("/echo"),
                "Content-Length: 5",
                "Expect: 100-continue",
                "Connection: close",
            )
        )
        interim = yield client.waitFor(headComplete)
        self.assertTrue(interim.startswith(b"HTTP/1.1 100 "), interim)
        client.send(b"hello")
        received = yield client.waitForClose()
        informational, final = parseResponses(received)
        self.assertEqual((informational.status, final.status), (100, 200))
        self.assertEqual(json.loads(final.body)["body"], "hello")

    @inlineCallbacks
    def test_curlExpectContinueUpload(self) -> Any:
        """
        curl uploading 2 MiB sends C{Expect: 100-continue}, receives
        C{100 Continue} through the proxy, and the origin gets the whole
        body.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        data = pattern(2 * 1024 * 1024)
        path = h.tempPath("upload")
        with open(path, "wb") as f:
            f.write(data)
        result = yield h.curl(
            proxy,
            "-H", "Expect: 100-continue",
            "--expect100-timeout", "20",
            "--data-binary", "@" + path,
            origin.url("/echo"),
        )  # fmt: skip
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(
            [line.split(b" ")[1] for line, fields in result.heads], [b"100", b"200"]
        )
        echo = json.loads(result.body)
        self.assertEqual(
            (echo["bodyLength"], echo["bodySha256"]), (len(data), sha256(data))
        )

    # CONNECT

    @inlineCallbacks
    def test_connectTunnelToTLSOrigin(self) -> Any:
        """
        curl tunnels through the proxy with CONNECT to a TLS origin on an
        allowed port, verifies its certificate and gets its page.
        """
        h = self.harness
        origin = h.startSite(tls=True)
        proxy = h.startProxy(connectPorts=[origin.port])
        result = yield h.curl(
            proxy,
            "-p",
            "--cacert",
            h.certificateFile(),
            f"https://localhost:{origin.port}/path/tls",
        )
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(result.meta["http_connect"], 200)
        self.assertEqual(result.body, b"/path/tls")

    @inlineCallbacks
    def test_connectTunnelCarriesBytesBothWays(self) -> Any:
        """
        Bytes a client sends right after its CONNECT head, in the same
        write, reach the origin; the origin's answers come back; and when
        the client finishes sending, the end is passed on and the tunnel
        closes once the origin is done.
        """
        h = self.harness
        echo = h.listen(Factory.forProtocol(Echo))
        proxy = h.startProxy(connectPorts=[echo.port])
        client = yield h.connect(proxy.port)
        authority = f"127.0.0.1:{echo.port}"
        client.send(request("CONNECT", authority, host=authority) + b"hello")
        established = b"HTTP/1.1 200 Connection established\r\n\r\n"
        yield client.waitFor(lambda data: data.endswith(b"hello"))
        client.send(b" world")
        received = yield client.waitFor(lambda data: data.endswith(b" world"))
        self.assertEqual(received, established + b"hello world")
        assert client.transport is not None
        client.transport.loseWriteConnection()
        received = yield client.waitForClose()
        self.assertEqual(received, established + b"hello world")

    @inlineCallbacks
    def test_connectToForbiddenPort(self) -> Any:
        """
        CONNECT to port 25, not among the allowed ports, is refused with 403
        and the connection is closed; curl reports the refusal.
        """
        h = self.harness
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port, request("CONNECT", "127.0.0.1:25", host="127.0.0.1:25")
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 403)
        result = yield h.curl(proxy, "-p", "https://localhost:25/")
        self.assertNotEqual(result.exitCode, 0)
        self.assertEqual(result.meta["http_connect"], 403)

    @inlineCallbacks
    def test_connectToClosedPort(self) -> Any:
        """
        CONNECT to an allowed port where nothing listens is answered 502 and
        the connection is closed.
        """
        h = self.harness
        closed = yield h.closedPort()
        proxy = h.startProxy(connectPorts=[closed])
        authority = f"127.0.0.1:{closed}"
        received = yield h.exchange(
            proxy.port, request("CONNECT", authority, host=authority)
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 502)

    # Errors

    @inlineCallbacks
    def test_originFormRequestRefused(self) -> Any:
        """
        A request in origin-form (C{GET / HTTP/1.1}), as if the proxy were
        the web server, is answered 400 and the connection is closed.
        """
        h = self.harness
        proxy = h.startProxy()
        client = yield h.connect(proxy.port)
        client.send(request("GET", "/", host=f"127.0.0.1:{proxy.port}"))
        yield client.waitFor(completeResponses(1))
        received = yield client.waitForClose(5)
        [response] = parseResponses(received)
        self.assertEqual(response.status, 400)

    @inlineCallbacks
    def test_malformedRequest(self) -> Any:
        """
        A request with a malformed header line is answered 400, the
        connection is closed, and nothing is sent to the origin.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port, request("GET", origin.url("/echo"), "Bad Header Line")
        )
        [response] = parseResponses(received)
        self.assertEqual(response.status, 400)
        self.assertEqual(origin.tracker.accepted, 0)

    @inlineCallbacks
    def test_unresolvableOrigin(self) -> Any:
        """
        A request for a name that does not resolve is answered 502.
        """
        h = self.harness
        proxy = h.startProxy(timeouts=Timeouts(connect=10))
        result = yield h.curl(proxy, "http://nonexistent.invalid/")
        self.assertEqual((result.exitCode, result.status), (0, 502), result.stderr)

    @inlineCallbacks
    def test_originPortClosed(self) -> Any:
        """
        A request for an origin port where nothing listens is answered 502.
        """
        h = self.harness
        closed = yield h.closedPort()
        proxy = h.startProxy()
        result = yield h.curl(proxy, f"http://127.0.0.1:{closed}/")
        self.assertEqual((result.exitCode, result.status), (0, 502), result.stderr)

    @inlineCallbacks
    def test_silentOriginTimesOut(self) -> Any:
        """
        An origin that accepts the request but never answers gets the client
        a 504 after the response timeout (1 s), and its connection is
        dropped.
        """
        h = self.harness
        origin = h.startRawOrigin()
        proxy = h.startProxy(timeouts=Timeouts(response=1.0))
        started = reactor.seconds()
        result = yield h.curl(proxy, origin.url("/"))
        elapsed = reactor.seconds() - started
        self.assertEqual((result.exitCode, result.status), (0, 504), result.stderr)
        self.assertTrue(0.9 <= elapsed < 10, elapsed)
        yield origin.tracker.whenLost(0, reactor)

    @inlineCallbacks
    def test_originClosesMidBody(self) -> Any:
        """
        When the origin closes in the middle of a body, the client sees the
        connection close before the announced length: never a complete
        response.
        """
        h = self.harness
        origin = h.startRawOrigin(_closeMidBody)
        proxy = h.startProxy()
        received = yield h.exchange(proxy.port, request("GET", origin.url("/")))
        [response] = parseResponses(received)
        self.assertEqual(response.values(b"Content-Length"), [b"1000"])
        self.assertEqual(response.body, b"0123456789")
        self.assertFalse(response.complete)

    @inlineCallbacks
    def test_originClosesMidBodyCurl(self) -> Any:
        """
        curl reports a partial transfer (exit code 18) when the origin
        closes in the middle of a body.
        """
        h = self.harness
        origin = h.startRawOrigin(_closeMidBody)
        proxy = h.startProxy()
        result = yield h.curl(proxy, origin.url("/"))
        self.assertEqual(result.exitCode, 18, result.stderr)
        self.assertEqual(result.body, b"0123456789")

    @inlineCallbacks
    def test_clientClosesMidUpload(self) -> Any:
        """
        When a client closes in the middle of a large upload, the proxy
        closes its connection to the origin.
        """
        h = self.harness
        origin = h.startRawOrigin()
        proxy = h.startProxy()
        client = yield h.connect(proxy.port)
        head = request("POST", origin.url("/upload"), "Content-Length: 10000000")
        client.send(head + pattern(100000))
        peer = yield origin.tracker.connection(0, reactor)
        yield peer.waitFor(
            lambda data: (
                headComplete(data) and len(data) - data.index(b"\r\n\r\n") - 4 >= 100000
            )
        )
        assert client.transport is not None
        client.transport.loseConnection()
        yield origin.tracker.whenLost(0, reactor)
        self.assertLess(len(peer.received), 10000000)

    @inlineCallbacks
    def test_requestToProxyItselfIsLoopDetected(self) -> Any:
        """
        Requests for the proxy's own address and port, by IP or as
        C{localhost}, are answered 508 without looping back into it.
        """
        h = self.harness
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request("GET", f"http://127.0.0.1:{proxy.port}/")
            + request("GET", f"http://localhost:{proxy.port}/", "Connection: close"),
        )
        self.assertEqual([r.status for r in parseResponses(received)], [508, 508])
        result = yield h.curl(proxy, f"http://127.0.0.1:{proxy.port}/")
        self.assertEqual(result.status, 508)
        self.assertEqual(proxy.listener.tracker.accepted, 2)

    # Retry

    @inlineCallbacks
    def test_retryWhenReusedConnectionCloses(self) -> Any:
        """
        When the origin closes a kept-alive connection instead of answering
        the next GET on it, the proxy sends the GET again on a new
        connection and the client gets the answer.
        """
        h = self.harness
        origin = h.startRawOrigin(_answerOnceThenClose)
        proxy = h.startProxy()
        out, err, code = yield runProcess(
            reactor,
            "curl",
            [
                "-sS",
                "--max-time",
                "20",
                "-x",
                proxy.url,
                origin.url("/a"),
                origin.url("/b"),
            ],
        )
        self.assertEqual((code, out), (0, b"hellohello"), err)
        self.assertEqual(origin.tracker.accepted, 2)

    @inlineCallbacks
    def test_postNotRetriedWhenReusedConnectionCloses(self) -> Any:
        """
        When the origin closes a kept-alive connection instead of answering
        a POST on it, the POST is not sent again (it may have had effects):
        the client gets 502.
        """
        h = self.harness
        origin = h.startRawOrigin(_answerOnceThenClose)
        proxy = h.startProxy()
        client = yield h.connect(proxy.port)
        client.send(request("GET", origin.url("/a")))
        yield client.waitFor(completeResponses(1))
        client.send(
            request("POST", origin.url("/b"), "Content-Length: 4", body=b"data")
        )
        received = yield client.waitFor(completeResponses(2))
        self.assertEqual([r.status for r in parseResponses(received)], [200, 502])
        self.assertEqual(origin.tracker.accepted, 1)

    # More streaming, keep-alive and timer paths

    @inlineCallbacks
    def test_pipelinedRequestWithBody(self) -> Any:
        """
        A POST with a body pipelined between two GETs, all in one write, is
        delivered with its body, and the three answers come back in order.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port,
            request("GET", origin.url("/path/a"))
            + request("POST", origin.url("/echo"), "Content-Length: 3", body=b"xyz")
            + request("GET", origin.url("/path/c"), "Connection: close"),
        )
        first, second, third = parseResponses(received)
        self.assertEqual((first.body, third.body), (b"/path/a", b"/path/c"))
        echo = json.loads(second.body)
        self.assertEqual((echo["method"], echo["body"]), ("POST", "xyz"))

    @inlineCallbacks
    def test_clientHalfClosesAfterRequests(self) -> Any:
        """
        A client that sends two requests and then shuts down its sending side
        still gets both responses before the proxy closes the connection.
        """
        h = self.harness
        origin = h.startSite()
        proxy = h.startProxy()
        client = yield h.connect(proxy.port)
        client.send(
            request("GET", origin.url("/path/a"))
            + request("GET", origin.url("/path/b"))
        )
        assert client.transport is not None
        client.transport.loseWriteConnection()
        received = yield client.waitForClose()
        self.assertEqual(
            [r.body for r in parseResponses(received)], [b"/path/a", b"/path/b"]
        )

    @inlineCallbacks
    def test_chunkedResponseTrailersForwarded(self) -> Any:
        """
        The trailer fields of a chunked response reach an HTTP/1.1 client.
        """
        h = self.harness
        origin = h.startRawOrigin(_chunkedWithTrailer)
        proxy = h.startProxy()
        received = yield h.exchange(
            proxy.port, request("GET", origin.url("/"), "Connection: close")
        )
        [response] = parseResponses(received)
        self.assertEqual(
            (response.body, response.trailers),
            (b"hello world", [(b"X-Digest", b"abc")]),
        )

    @inlineCallbacks
    def test_originStallsMidBody(self) -> Any:
        """
        When the origin goes silent in the middle of a body for longer than
        the response timeout, the client's connection is closed before the
        announced length.
        """
        h = self.harness
        origin = h.startRawOrigin(_stallMidBody)
        proxy = h.startProxy(timeouts=Timeouts(response=1.0))
        received = yield h.exchange(proxy.port, request("GET", origin.url("/")))
        [response] = parseResponses(received)
        self.assertEqual(response.body, b"0123456789")
        self.assertFalse(response.complete)
        yield origin.tracker.whenLost(0, reactor)

    @inlineCallbacks
    def test_originClosesIdleConnection(self) -> Any:
        """
        When the origin closes a kept-alive connection while it is idle, the
        next request goes out on a new connection and succeeds.
        """
        h = self.harness
        origin = h.startRawOrigin(_answerThenCloseIdle)
        proxy = h.startProxy()
        first = yield h.curl(proxy, origin.url("/a"))
        yield origin.tracker.whenLost(0, reactor)
        second = yield h.curl(proxy, origin.url("/b"))
        self.assertEqual([first.body, second.body], [b"hello", b"hello"])
        self.assertEqual(origin.tracker.accepted, 2)

    @inlineCallbacks
    def test_tunnelLargeDownload(self) -> Any:
        """
        An 8 MiB body from a TLS origin comes through a CONNECT tunnel
        intact.
        """
        h = self.harness
        origin = h.startSite(tls=True)
        proxy = h.startProxy(connectPorts=[origin.port])
        size = 8 * 1024 * 1024
        result = yield h.curl(
            proxy,
            "-p",
            "--cacert",
            h.certificateFile(),
            f"https://localhost:{origin.port}/stream/{size}",
        )
        self.assertEqual((result.exitCode, result.status), (0, 200), result.stderr)
        self.assertEqual(sha256(result.body), sha256(pattern(size)))

    @inlineCallbacks
    def test_idleClientConnectionsClosed(self) -> Any:
        """
        After the idle timeout (1 s) the proxy closes a client connection
        that sent nothing, and after the header timeout (1 s) answers 408 on
        one that sent only part of a head.
        """
        h = self.harness
        proxy = h.startProxy(timeouts=Timeouts(idle=1.0, header=1.0))
        silent = yield h.connect(proxy.port)
        partial = yield h.connect(proxy.port)
        partial.send(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        received = yield silent.waitForClose()
        self.assertEqual(received, b"")
        received = yield partial.waitForClose()
        [response] = parseResponses(received)
        self.assertEqual(response.status, 408)
