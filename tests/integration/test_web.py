"""
L{proxykit.web.ReverseProxyResource} over real sockets: a C{twisted.web}
L{Site} on 127.0.0.1, a real origin and curl, all in the test's reactor.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.interfaces import IPushProducer
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from twisted.web.static import Data
from zope.interface import implementer

from proxykit.web import ReverseProxyResource

from ._servers import WAIT, Harness, Listener, runCurl

BIG = 32 * 1024 * 1024
"""The large response's size."""
PIECE = 65536
BOUND = 1024 * 1024
"""The most response bytes the proxy may hold for its client at any time."""


@implementer(IPushProducer)
class _BigBody:
    """
    Writes L{BIG} bytes into a request, only while its connection asks for
    more (a streaming producer), checking at every write how much the
    proxy holds for its client.
    """

    def __init__(self, request: Request, test: WebIntegrationTests) -> None:
        self.request = request
        self.test = test
        self.left = BIG
        self.paused = False

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.left > 0:
            self.test.checkProxyBuffers()
            size = min(PIECE, self.left)
            self.left -= size
            self.request.write(b"x" * size)
        if self.left == 0 and not self.paused:
            self.left = -1
            self.request.unregisterProducer()
            self.request.finish()

    def pauseProducing(self) -> None:
        self.paused = True
        self.test.originPauses += 1

    def stopProducing(self) -> None:
        self.left = -1


class _Big(Resource):
    isLeaf = True

    def __init__(self, test: WebIntegrationTests) -> None:
        Resource.__init__(self)
        self.test = test

    def render_GET(self, request: Request) -> int:
        request.setHeader(b"Content-Length", b"%d" % (BIG,))
        body = _BigBody(request, self.test)
        request.registerProducer(body, True)
        body.resumeProducing()
        return NOT_DONE_YET


class WebIntegrationTests(TestCase):
    """
    The resource mounted in a site, relaying to a local origin.
    """

    timeout = 60

    def setUp(self) -> None:
        self.h = Harness(self, reactor)
        self.originPauses = 0
        self.mostHeld = 0
        self.proxySite: Listener | None = None

    def startProxy(self, originPort: int, path: bytes = b"/base") -> Listener:
        """
        A site with a static page at C{/hello} and the resource (for
        C{path}) at C{/api}; its pool is closed on cleanup.
        """
        api = ReverseProxyResource("127.0.0.1", originPort, path, reactor)
        root = Resource()
        root.putChild(b"hello", Data(b"hi\n", "text/plain"))
        root.putChild(b"api", api)
        site = Site(root, timeout=None)
        site.noisy = False
        listener = self.h.listen(site)
        self.proxySite = listener

        @inlineCallbacks
        def closePool() -> Any:
            yield listener.tracker.allClosed(reactor)
            closing = api.pool.closeAll()
            closing.addTimeout(WAIT, reactor)
            yield closing

        # Runs before the harness's own cleanup (which waits for origins).
        self.addCleanup(closePool)
        return listener

    def checkProxyBuffers(self) -> None:
        """
        Record the most bytes the proxy's client connections hold unsent.
        """
        assert self.proxySite is not None
        for protocol in self.proxySite.tracker.protocols:
            channel = getattr(protocol, "_channel", protocol)
            transport = getattr(channel, "transport", None)
            if transport is not None and getattr(transport, "connected", False):
                held = len(transport.dataBuffer) + transport._tempDataLen
                self.mostHeld = max(self.mostHeld, held)

    def curl(self, *args: str) -> Any:
        self.h._runs += 1
        argv = ["-sS", "--max-time", "30", *args]
        return runCurl(reactor, argv, self.h.tempPath(f"curl-{self.h._runs}"))

    @inlineCallbacks
    def test_keepAliveAndPaths(self) -> Any:
        """
        Several requests from separate clients, through different children
        (paths with quoted segments and query strings), reach the origin
        on one connection.
        """
        origin = self.h.startSite()
        proxy = self.startProxy(origin.port, b"")
        for path in ("/api/path/a?x=1", "/api/path/b%20c?y=2&z", "/api/path/"):
            result = yield self.curl(proxy.url(path))
            self.assertEqual(result.exitCode, 0, result.stderr)
            self.assertEqual(result.body, path[4:].encode("ascii"))
        self.assertEqual(origin.tracker.accepted, 1)
        result = yield self.curl(proxy.url("/hello"))
        self.assertEqual(result.body, b"hi\n")

    @inlineCallbacks
    def test_largeResponseStreamed(self) -> Any:
        """
        A 32 MiB response to a slow client (curl limited to 16 MB/s)
        arrives whole, while the proxy never holds more than 1 MiB of it:
        the origin is paused instead.
        """
        originSite = Site(_Big(self), timeout=None)
        originSite.noisy = False
        origin = self.h.listen(originSite)
        proxy = self.startProxy(origin.port)
        result = yield self.curl("--limit-rate", "16M", proxy.url("/api/big"))
        self.assertEqual(result.exitCode, 0, result.stderr)
        self.assertEqual(len(result.body), BIG)
        self.assertGreater(self.originPauses, 0)
        self.assertGreater(self.mostHeld, 0)
        self.assertLessEqual(self.mostHeld, BOUND)

    @inlineCallbacks
    def test_originDown(self) -> Any:
        """
        With nothing listening at the origin's port, the client gets 502
        and the site's other pages still work.
        """
        port = yield self.h.closedPort()
        proxy = self.startProxy(port)
        result = yield self.curl(proxy.url("/api/x"))
        self.assertEqual(result.exitCode, 0, result.stderr)
        self.assertEqual(result.meta["http_code"], 502)
        self.assertEqual(result.body, b"502 Bad Gateway\n")
        result = yield self.curl(proxy.url("/hello"))
        self.assertEqual(result.body, b"hi\n")
