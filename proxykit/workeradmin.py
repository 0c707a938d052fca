# -*- test-case-name: tests.test_workers -*-
"""
The supervisor's admin listener (L{supervisorAdmin}): C{/healthz},
C{/readyz} (every worker runs and its own C{/readyz} says ready) and
C{/metrics} (every worker's metrics added up, and per worker: up,
restarts, requests, open client connections; see
L{proxykit.ops.workermetrics}), read from each
worker's private admin listener when asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.web import server
from twisted.web.iweb import IAgentEndpointFactory
from twisted.web.resource import Resource
from twisted.web.server import Request, Site
from zope.interface import implementer

from .listeners import Listener

if TYPE_CHECKING:
    from .workers import Supervisor, WorkerProcess

__all__ = ["supervisorAdmin"]

_TEXT = b"text/plain; charset=utf-8"
_EXPOSITION = b"text/plain; version=0.0.4; charset=utf-8"


@implementer(IAgentEndpointFactory)
class _WorkerSockets:
    """
    Connects C{http://worker-N/...} to worker N's private admin socket.
    """

    def __init__(self, supervisor: Supervisor, reactor: Any) -> None:
        self._supervisor = supervisor
        self._reactor = reactor

    def endpointForURI(self, uri: Any) -> Any:
        from twisted.internet.endpoints import UNIXClientEndpoint

        number = int(uri.host.decode("ascii").rpartition("-")[2])
        worker = self._supervisor.workers[number - 1]
        path = self._supervisor.adminPath(worker)
        return UNIXClientEndpoint(self._reactor, path, timeout=5)  # type: ignore[no-untyped-call]


class SupervisorResource(Resource):
    """
    The supervisor's admin pages.
    """

    isLeaf = True

    def __init__(self, supervisor: Supervisor, reactor: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        from twisted.web.client import Agent

        self._supervisor = supervisor
        self._reactor = reactor
        self._agent = Agent.usingEndpointFactory(  # type: ignore[no-untyped-call]
            reactor, _WorkerSockets(supervisor, reactor)
        )

    def fetch(self, worker: WorkerProcess, path: str) -> Deferred[tuple[int, bytes] | None]:
        """
        GET C{path} from C{worker}'s admin listener: its status and body,
        or C{None} if it does not run or answer in time.
        """
        from twisted.web.client import readBody

        from .workers import SCRAPE_TIMEOUT

        if not worker.running:
            return succeed(None)
        url = f"http://worker-{worker.number}{path}".encode("ascii")
        d = self._agent.request(b"GET", url)

        def body(response: Any) -> Deferred[tuple[int, bytes]]:
            return readBody(response).addCallback(lambda data: (response.code, data))

        d.addCallback(body)
        d.addTimeout(SCRAPE_TIMEOUT, self._reactor)
        d.addErrback(lambda _: None)
        return d  # type: ignore[no-any-return]

    def render(self, request: Request) -> Any:
        pages = {b"/healthz": self._health, b"/readyz": self._ready, b"/metrics": self._metrics}
        page = pages.get(request.path)
        if page is None:
            return self._text(request, 404, b"not found\n")
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")  # type: ignore[no-untyped-call]
            return self._text(request, 405, b"method not allowed\n")
        return page(request)

    @staticmethod
    def _text(request: Request, code: int, body: bytes, kind: bytes = _TEXT) -> bytes:
        request.setResponseCode(code)
        request.setHeader(b"content-type", kind)  # type: ignore[no-untyped-call]
        request.setHeader(b"cache-control", b"no-store")  # type: ignore[no-untyped-call]
        return body

    def _later(self, request: Request, d: Deferred[tuple[int, bytes, bytes]]) -> Any:
        def answer(result: tuple[int, bytes, bytes]) -> None:
            code, body, kind = result
            request.write(self._text(request, code, body, kind))  # type: ignore[no-untyped-call]
            request.finish()  # type: ignore[no-untyped-call]

        def failed(failure: Any) -> None:
            request.write(self._text(request, 500, b"internal error\n"))  # type: ignore[no-untyped-call]
            request.finish()  # type: ignore[no-untyped-call]

        d.addCallback(answer).addErrback(failed)
        return server.NOT_DONE_YET

    def _health(self, request: Request) -> bytes:
        return self._text(request, 200, b"ok\n")

    def _all(self, path: str) -> Deferred[list[tuple[int, bytes] | None]]:
        workers = self._supervisor.workers
        d = DeferredList([self.fetch(worker, path) for worker in workers], consumeErrors=True)
        return d.addCallback(lambda results: [value if ok else None for ok, value in results])

    def _ready(self, request: Request) -> Any:
        if self._supervisor.stopping:
            return self._text(request, 503, b"not ready: stopping\n")

        def judge(results: list[tuple[int, bytes] | None]) -> tuple[int, bytes, bytes]:
            notReady = [
                str(worker.number)
                for worker, result in zip(self._supervisor.workers, results, strict=True)
                if result is None or result[0] != 200
            ]
            if notReady:
                body = f"not ready: worker {', '.join(notReady)}\n".encode("ascii")
                return 503, body, _TEXT
            return 200, b"ready\n", _TEXT

        return self._later(request, self._all("/readyz").addCallback(judge))

    def _metrics(self, request: Request) -> Any:
        from .ops.workermetrics import (
            WorkerSample,
            connectionsIn,
            mergeMetrics,
            notReady,
            render,
            requestsIn,
            workerFamilies,
        )

        def merge(results: list[tuple[int, bytes] | None]) -> tuple[int, bytes, bytes]:
            texts: list[str] = []
            samples = []
            for worker, result in zip(self._supervisor.workers, results, strict=True):
                text = None
                if result is not None and result[0] == 200:
                    text = result[1].decode("utf-8", "replace")
                    texts.append(text)
                samples.append(
                    WorkerSample(
                        worker.number,
                        text is not None,
                        worker.restarts,
                        None if text is None else requestsIn(text),
                        None if text is None else connectionsIn(text),
                    )
                )
            families = mergeMetrics(texts)
            if len(texts) < len(samples) or self._supervisor.stopping:
                # As /readyz: not ready unless every worker answered ready.
                families = notReady(families)
            return 200, render(families + workerFamilies(samples)), _EXPOSITION

        return self._later(request, self._all("/metrics").addCallback(merge))


class _AdminSite(Site):
    noisy = False
    displayTracebacks = False

    def log(self, request: Any) -> None:
        pass


def supervisorAdmin(supervisor: Supervisor, description: str) -> Listener:
    """
    The supervisor's admin listener on C{description} (not listening yet).
    """
    from twisted.internet import endpoints

    reactor = supervisor._reactor
    endpoint = endpoints.serverFromString(reactor, description)  # type: ignore[no-untyped-call]
    site = _AdminSite(SupervisorResource(supervisor, reactor))  # type: ignore[no-untyped-call]
    return Listener(description, endpoint, site, reactor)
