"""
Local sites and clients for the real-socket tests of the reverse proxy.

Builds on L{tests.integration._servers}: a L{ReverseHarness} is a
L{Harness} that also starts reverse proxies (directly, or as the service
C{twistd proxykit reverse} runs) and named origins, and runs curl against a
site by name (C{--resolve}), the way a browser reaches a virtual host.

A named origin (L{SiteResource}) tells which origin answered: the body of a
plain request is C{"origin=NAME uri=TARGET"}.  It also has a health endpoint
whose status a test sets, requests it holds until told to answer, an echo of
the request head and a redirect to its own address.

L{WebSocketOrigin} is a real WebSocket echo server (the C{websockets}
package) running in a thread, and L{webSocketExchange} a real WebSocket
client that connects to the proxy's address while naming the site in the
URI.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from proxykit import ConnectionPool, ProxyConfig, ProxyFactory, Timeouts
from proxykit.config import ReverseConfig
from proxykit.policy.vhosts import ReverseRouter, VhostTable
from proxykit.service import ProxyService, reverseService

from ._servers import (
    WAIT,
    CurlResult,
    Harness,
    Listener,
    Proxy,
    RecordingChannel,
    Tracker,
    TrackingFactory,
    runCurl,
    runProcess,
)

try:
    import websockets  # noqa: F401
except ImportError:
    NO_WEBSOCKETS: str | None = (
        "the websockets package is not installed (it is in the test extra)"
    )
else:
    NO_WEBSOCKETS = None

SITE = "app.example.test"
"""The name of the site the tests' reverse proxies serve."""


# The named origin


class SiteResource(Resource):
    """
    A named origin's only resource; what it does depends on the path:

      - C{/healthz}: answers L{healthStatus} (a health check; not counted in
        L{served});
      - C{/hold...}: answers only when L{release} is called;
      - C{/echo...}: the request head as received, as JSON
        (C{{"origin": NAME, "head": [lines]}});
      - C{/redirect}: C{302} to C{/login} on the origin's own address;
      - anything else: C{"origin=NAME uri=TARGET\\n"}.

    @ivar name: What the origin calls itself.
    @ivar served: The request-target of every request answered or held,
        health checks aside.
    @ivar healthChecks: How many health checks arrived.
    @ivar healthStatus: The status C{/healthz} answers.
    @ivar held: The requests waiting for L{release}.
    """

    isLeaf = True

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.served: list[str] = []
        self.healthChecks = 0
        self.healthStatus = 200
        self.held: list[Request] = []
        self._holdWaiters: list[Deferred[None]] = []

    def render(self, request: Request) -> bytes | int:
        path = request.path
        uri = request.uri.decode("latin-1")
        request.setHeader(b"Content-Type", b"text/plain")
        if path == b"/healthz":
            self.healthChecks += 1
            request.setResponseCode(self.healthStatus)
            return self.name.encode("ascii")
        self.served.append(uri)
        if path.startswith(b"/hold"):
            self.held.append(request)
            waiters, self._holdWaiters = self._holdWaiters, []
            for d in waiters:
                d.callback(None)
            return NOT_DONE_YET
        if path.startswith(b"/echo"):
            channel = request.channel
            head = channel.head if isinstance(channel, RecordingChannel) else []
            request.setHeader(b"Content-Type", b"application/json")
            return json.dumps(
                {"origin": self.name, "head": [line.decode("latin-1") for line in head]}
            ).encode("ascii")
        if path == b"/redirect":
            here = request.getHost()
            request.setResponseCode(302)
            request.setHeader(
                b"Location", f"http://127.0.0.1:{here.port}/login".encode("ascii")
            )
            return b""
        return f"origin={self.name} uri={uri}\n".encode("latin-1")

    def whenHolding(self, clock: Any, timeout: float = WAIT) -> Deferred[None]:
        """
        Fires once a request is held; fails with
        L{twisted.internet.defer.TimeoutError} after C{timeout} seconds.
        """
        if self.held:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._holdWaiters.append(d)
        d.addTimeout(timeout, clock)
        return d

    def release(self) -> None:
        """
        Answer every held request.
        """
        held, self.held = self.held, []
        for request in held:
            request.write(f"origin={self.name} released\n".encode("ascii"))
            request.finish()


@dataclass
class NamedOrigin:
    """
    A named origin listening in the test reactor.

    @ivar url: The origin URL a route names it by (C{http://127.0.0.1:PORT}
        or C{unix:/path}).
    """

    resource: SiteResource
    listener: Listener
    url: str

    @property
    def name(self) -> str:
        """
        What the origin calls itself.
        """
        return self.resource.name

    @property
    def served(self) -> list[str]:
        """
        The request-targets it served (health checks aside).
        """
        return self.resource.served


def siteFor(resource: Resource, reactor: Any) -> Site:
    """
    A L{Site} recording request heads (L{RecordingChannel}), without access
    logs or idle timeout.
    """
    site = Site(resource, timeout=None, reactor=reactor)
    site.protocol = RecordingChannel  # type: ignore[assignment]
    site.noisy = False
    return site


# curl against a site by name


@dataclass
class Transfer:
    """
    One transfer of a multi-URL curl run: its status and body.
    """

    status: int
    body: str


# The harness


class ReverseHarness(Harness):
    """
    A L{Harness} that also starts reverse proxies and named origins.
    """

    def __init__(self, testCase: TestCase, reactor: Any) -> None:
        super().__init__(testCase, reactor)
        self._directories: list[str] = []

    @inlineCallbacks
    def close(self) -> Any:
        """
        See L{Harness.close}; then remove the UNIX sockets' directories.
        """
        try:
            yield super().close()
        finally:
            for directory in self._directories:
                shutil.rmtree(directory, ignore_errors=True)

    def startOrigin(self, name: str) -> NamedOrigin:
        """
        Start a named origin on 127.0.0.1.
        """
        resource = SiteResource(name)
        listener = self.listen(siteFor(resource, self.reactor))
        return NamedOrigin(resource, listener, f"http://127.0.0.1:{listener.port}")

    def startUnixOrigin(self, name: str) -> NamedOrigin:
        """
        Start a named origin on a UNIX socket, in a short-named temporary
        directory (socket paths are limited to about 100 bytes).
        """
        directory = tempfile.mkdtemp(prefix="pk-")
        self._directories.append(directory)
        path = os.path.join(directory, "origin.sock")
        resource = SiteResource(name)
        tracker = Tracker()
        port = self.reactor.listenUNIX(
            path, TrackingFactory(siteFor(resource, self.reactor), tracker)
        )
        listener = Listener(port, tracker)
        self._listeners.append(listener)
        return NamedOrigin(resource, listener, f"unix:{path}")

    def startReverseProxy(
        self, reverse: ReverseConfig, timeouts: Timeouts | None = None
    ) -> Proxy:
        """
        Start a reverse proxy for C{reverse} on 127.0.0.1.
        """
        reactor = self.reactor
        config = ProxyConfig(
            reverse=reverse,
            timeouts=timeouts
            if timeouts is not None
            else Timeouts(connect=5, response=5),
        )
        factory = ProxyFactory(
            ReverseRouter(VhostTable.fromConfig(reverse, reactor), reverse),
            ConnectionPool(reactor, config.pool),
            config,
            reactor=reactor,
        )
        proxy = Proxy(factory, self.listen(factory))
        self._proxies.append(proxy)
        return proxy

    @inlineCallbacks
    def startReverseService(self, reverse: ReverseConfig) -> Any:
        """
        Start the service C{twistd proxykit reverse} would run for C{reverse}
        (listening on 127.0.0.1, port 0), and stop it on cleanup.

        @return: A Deferred firing with C{(service, port number)}.
        """
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            reverse=reverse,
            timeouts=Timeouts(connect=5, response=5),
        )
        service: ProxyService = reverseService(config, self.reactor)
        service.startService()  # type: ignore[no-untyped-call]
        # Cleanups run last-added first: the service stops before the
        # harness checks that every origin connection closed.
        self._testCase.addCleanup(self._stopService, service)
        [listening] = [child for child in service if hasattr(child, "_waitingForPort")]
        # StreamServerEndpointService keeps the listening port only there.
        waiting: Deferred[Any] = Deferred()
        listening._waitingForPort.addCallback(_passThrough, waiting)
        waiting.addTimeout(WAIT, self.reactor)
        port = yield waiting
        return service, port.getHost().port

    def _stopService(self, service: ProxyService) -> Deferred[None]:
        d = service.stopService()
        d.addTimeout(WAIT, self.reactor)
        return d

    @inlineCallbacks
    def closedPorts(self, count: int) -> Any:
        """
        C{count} distinct local port numbers nothing listens on (just
        released).
        """
        ports = [
            self.reactor.listenTCP(0, Factory(), interface="127.0.0.1")
            for _ in range(count)
        ]
        numbers = [port.getHost().port for port in ports]
        for port in ports:
            yield port.stopListening()
        return numbers

    def _curlArgs(self, port: int) -> list[str]:
        return [
            "-sS",
            "--max-time",
            "20",
            "--noproxy",
            "*",
            "--resolve",
            f"{SITE}:{port}:127.0.0.1",
        ]

    def curlSite(self, port: int, *args: str) -> Deferred[CurlResult]:
        """
        Run curl with C{args} against the reverse proxy on C{port}, which
        C{app.example.test} resolves to; fires with a L{CurlResult}.
        """
        self._runs += 1
        return runCurl(self.reactor, [*self._curlArgs(port), *args], self.tempPath(f"curl-{self._runs}"))

    @inlineCallbacks
    def curlMany(self, port: int, paths: Sequence[str]) -> Any:
        """
        Fetch every path of C{app.example.test} from the reverse proxy on
        C{port} in one curl run (one connection, kept alive).

        @return: A Deferred firing with curl's exit code, error output and
            the L{Transfer}s in order.
        """
        urls = [f"http://{SITE}:{port}{path}" for path in paths]
        argv = [*self._curlArgs(port), "-w", "status=%{http_code}\\n", *urls]
        out, err, code = yield runProcess(self.reactor, "curl", argv)
        transfers = []
        body: list[str] = []
        for line in out.decode("latin-1").splitlines():
            if line.startswith("status="):
                transfers.append(Transfer(int(line[7:]), "\n".join(body)))
                body = []
            else:
                body.append(line)
        return code, err, transfers


def _passThrough(result: object, d: Deferred[Any]) -> object:
    if not d.called:
        d.callback(result)
    return result


def siteURL(port: int, path: str = "/") -> str:
    """
    The URL of C{path} on C{app.example.test} behind the proxy on C{port}.
    """
    return f"http://{SITE}:{port}{path}"


def servedBy(transfers: Sequence[Transfer]) -> list[str]:
    """
    Which origin answered each transfer, from its C{origin=NAME} body.
    """
    names = []
    for transfer in transfers:
        first = transfer.body.split(" ", 1)[0]
        names.append(first[len("origin=") :] if first.startswith("origin=") else "")
    return names


@inlineCallbacks
def waitUntil(
    clock: Any, condition: Any, timeout: float = 5.0, step: float = 0.05
) -> Any:
    """
    Check C{condition()} every C{step} seconds until it holds.

    @raise AssertionError: It still did not hold after C{timeout} seconds.
    """
    waited = 0.0
    while not condition():
        if waited >= timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        yield deferLater(clock, step, lambda: None)
        waited += step


# WebSocket


class WebSocketOrigin:
    """
    A WebSocket echo server (C{websockets}' threading server) on 127.0.0.1:
    every message received is sent back as it is.

    @ivar port: The port it listens on.
    @ivar requests: The handshake requests' C{(path, Host)} pairs.
    """

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.requests: list[tuple[str, str | None]] = []
        self._server = serve(
            self._echo,
            "127.0.0.1",
            0,
            compression=None,
            max_size=None,
            open_timeout=WAIT,
            close_timeout=WAIT,
        )
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="websocket-origin", daemon=True
        )
        self._thread.start()

    def _echo(self, connection: Any) -> None:
        request = connection.request
        self.requests.append((request.path, request.headers.get("Host")))
        for message in connection:
            connection.send(message)

    def _shutdown(self) -> None:
        self._server.shutdown()
        self._thread.join(WAIT)
        if self._thread.is_alive():
            raise AssertionError("the WebSocket origin did not stop")

    def stop(self, clock: Any) -> Deferred[None]:
        """
        Close its connections and stop listening, within L{WAIT} seconds.
        """
        d = deferToThread(self._shutdown)
        d.addTimeout(WAIT, clock)
        return d


def webSocketExchange(
    proxyPort: int, uri: str, messages: Sequence[str | bytes], tunnel: bool = False
) -> list[str | bytes]:
    """
    Blocking (run it in a thread): open a WebSocket to C{uri} through the
    proxy on C{proxyPort}, send each message in turn, collect each echo, and
    close cleanly.

    @param tunnel: Use the proxy as a forward proxy (a CONNECT tunnel, as
        C{websockets} does with C{proxy=}); by default it is the site, and
        the client connects to it while the URI names the site.
    @return: The messages received, in order.
    @raise AssertionError: The closing handshake did not complete normally.
    """
    from websockets.sync.client import connect

    if tunnel:
        sock = None
        proxy: str | None = f"http://127.0.0.1:{proxyPort}"
    else:
        sock = socket.create_connection(("127.0.0.1", proxyPort), timeout=WAIT)
        proxy = None
    echoes: list[str | bytes] = []
    with connect(
        uri,
        sock=sock,
        proxy=proxy,
        compression=None,
        max_size=None,
        open_timeout=WAIT,
        close_timeout=WAIT,
    ) as connection:
        for message in messages:
            connection.send(message)
            echoes.append(connection.recv(timeout=WAIT))
        connection.close()
        if connection.close_code != 1000:
            raise AssertionError(f"closed with code {connection.close_code}")
    return echoes
