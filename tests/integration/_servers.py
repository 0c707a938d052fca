"""
Local servers and clients for the real-socket tests.

Everything listens on 127.0.0.1, port 0, in the test's own reactor.  A
L{Harness} starts proxies and origins for one test, counts the connections
each listener accepts, and on cleanup waits (with a bound) until every
connection is closed, so that no test leaves sockets or timers behind.

The origins:

  - L{originSite}: a L{twisted.web.server.Site} whose channel records each
    request head exactly as received (L{RecordingChannel}); its resource
    (L{OriginResource}) echoes requests as JSON, answers with the path,
    streams large chunked bodies or never answers, by path.
  - L{RawPeer} with a script: a byte-level origin for misbehaviour
    (closing mid-body, closing a keep-alive connection instead of
    answering) and for recording the exact bytes the proxy sends.

L{RawPeer} is also the raw client: it writes bytes and collects everything
until the connection closes.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    TimeoutError,
    inlineCallbacks,
    succeed,
)
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IProtocolNegotiationFactory,
)
from twisted.internet.protocol import Factory, Protocol, ServerFactory, connectionDone
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import implementer

from proxykit import (
    ConnectionPool,
    ForwardConfig,
    ForwardRouter,
    LimitsConfig,
    ProxyConfig,
    ProxyFactory,
    Timeouts,
)

WAIT = 10.0
"""Seconds any single wait in these tests may take before it fails."""

Headers = list[tuple[bytes, bytes]]


def pattern(size: int) -> bytes:
    """
    C{size} bytes of a deterministic, non-repeating-looking payload.
    """
    block = hashlib.sha256(b"proxykit").digest() * 64 + bytes(range(256))
    whole, part = divmod(size, len(block))
    return block * whole + block[:part]


def sha256(data: bytes) -> str:
    """
    The hex SHA-256 of C{data}.
    """
    return hashlib.sha256(data).hexdigest()


# Connection tracking


class Tracker:
    """
    Counts the connections a listener accepted and tells when they close.

    @ivar protocols: Every protocol built, in order.
    """

    def __init__(self) -> None:
        self.protocols: list[IProtocol] = []
        self._lost: dict[int, Deferred[None]] = {}
        self._closed: set[int] = set()
        self._built: list[tuple[int, Deferred[Any]]] = []

    @property
    def accepted(self) -> int:
        """
        How many connections were accepted so far.
        """
        return len(self.protocols)

    @property
    def openCount(self) -> int:
        """
        How many accepted connections are still open.
        """
        return len(self.protocols) - len(self._closed)

    def track(self, protocol: IProtocol) -> None:
        """
        Start tracking C{protocol}, just built for a new connection.
        """
        index = len(self.protocols)
        self.protocols.append(protocol)
        self._lost[index] = Deferred()
        original = protocol.connectionLost

        def connectionLost(reason: Failure) -> None:
            try:
                original(reason)
            finally:
                self._closed.add(index)
                self._lost[index].callback(None)

        protocol.connectionLost = connectionLost  # type: ignore[method-assign]
        waiting, self._built = self._built, []
        for wanted, d in waiting:
            if wanted <= index:
                d.callback(self.protocols[wanted])
            else:
                self._built.append((wanted, d))

    def connection(
        self, index: int, clock: Any, timeout: float = WAIT
    ) -> Deferred[Any]:
        """
        The C{index}th (0-based) protocol, once it is built.
        """
        if index < len(self.protocols):
            return succeed(self.protocols[index])
        d: Deferred[Any] = Deferred()
        self._built.append((index, d))
        d.addTimeout(timeout, clock)
        return d

    def whenLost(self, index: int, clock: Any, timeout: float = WAIT) -> Deferred[None]:
        """
        Fires when the C{index}th connection is closed; fails with
        L{TimeoutError} after C{timeout} seconds.
        """
        d: Deferred[None] = Deferred()
        self._lost[index].addBoth(_passOn, d)
        d.addTimeout(timeout, clock)
        return d

    def allClosed(self, clock: Any, timeout: float = WAIT) -> Deferred[Any]:
        """
        Fires when every connection accepted so far is closed.
        """
        return DeferredList(
            [self.whenLost(i, clock, timeout) for i in range(len(self.protocols))],
            fireOnOneErrback=True,
            consumeErrors=True,
        )

    def abortOpen(self) -> None:
        """
        Drop every connection still open (after a failed wait).
        """
        for index, protocol in enumerate(self.protocols):
            transport = getattr(protocol, "transport", None)
            if index not in self._closed and transport is not None:
                transport.abortConnection()


def _passOn(result: object, d: Deferred[None]) -> object:
    if not d.called:
        d.callback(None)
    return result


def _buildPatchable(factory: object) -> None:
    """
    Make C{factory}, or the factory it wraps (a L{ListenerGate}'s), build
    protocols whose C{connectionLost} L{Tracker.track} can replace.

    A native class of the compiled build (C{ProxyProtocol}) has instances
    without a C{__dict__}; the factory builds a Python subclass of it
    instead, whose instances have one.  Its methods are the class's.
    """
    while factory is not None:
        built = getattr(factory, "protocol", None)
        if isinstance(built, type) and not built.__dictoffset__:
            subclass = type(built.__name__, (built,), {"__module__": built.__module__})
            factory.protocol = subclass  # type: ignore[attr-defined]
            return
        factory = getattr(factory, "factory", None)


@implementer(IProtocolNegotiationFactory)
class TrackingFactory(ServerFactory):
    """
    Wraps a server factory, tracking every protocol it builds.

    Under TLS it offers only C{http/1.1} by ALPN: without an offer, Twisted's
    TLS layer fails the handshake of a client that offers ALPN (curl does).
    """

    noisy = False

    def __init__(self, wrapped: IProtocolFactory, tracker: Tracker) -> None:
        self.wrapped = wrapped
        self.tracker = tracker
        _buildPatchable(wrapped)

    def startFactory(self) -> None:
        self.wrapped.doStart()

    def stopFactory(self) -> None:
        self.wrapped.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.wrapped.buildProtocol(addr)
        if protocol is not None:
            self.tracker.track(protocol)
        return protocol

    def acceptableProtocols(self) -> list[bytes]:
        return [b"http/1.1"]


@dataclass
class Listener:
    """
    A listening port and the connections it accepted.
    """

    listeningPort: IListeningPort
    tracker: Tracker

    @property
    def port(self) -> int:
        """
        The port number it listens on.
        """
        return self.listeningPort.getHost().port  # type: ignore[attr-defined, no-any-return]

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """
        An C{http://} URL of this listener.
        """
        return f"http://{host}:{self.port}{path}"


@dataclass
class Proxy:
    """
    A proxykit forward proxy listening in the test reactor.
    """

    factory: ProxyFactory
    listener: Listener

    @property
    def port(self) -> int:
        """
        The port the proxy listens on.
        """
        return self.listener.port

    @property
    def url(self) -> str:
        """
        The proxy URL clients are configured with.
        """
        return f"http://127.0.0.1:{self.port}"


# The web origin


class RecordingChannel(HTTPChannel):
    """
    An L{HTTPChannel} that records each request head line by line, exactly
    as received (order, case and repetition kept).

    @ivar head: The lines of the latest request head, request line first.
    """

    head: list[bytes]

    def __init__(self) -> None:
        super().__init__()
        self.head = []
        self._inHead = False

    def lineReceived(self, line: bytes) -> None:
        if not self._inHead:
            if line:
                self.head = [line]
                self._inHead = True
        elif line:
            self.head.append(line)
        else:
            self._inHead = False
        super().lineReceived(line)


class OriginResource(Resource):
    """
    The origin's only resource; what it does depends on the path:

      - C{/path/...}: answers with the request-target as the body;
      - C{/stream/N}: streams N bytes of L{pattern} without a length, so that
        the response is chunked;
      - C{/hang}: never answers;
      - anything else: echoes the request as JSON (method, target, version,
        raw head lines, body and its digest).
    """

    isLeaf = True

    def render(self, request: Request) -> bytes | int:
        path = request.path
        if path.startswith(b"/path/"):
            request.setHeader(b"Content-Type", b"text/plain")
            return request.uri
        if path.startswith(b"/stream/"):
            size = int(path.split(b"/")[2])
            data = pattern(size)
            for start in range(0, size, 65536):
                request.write(data[start : start + 65536])
            request.finish()
            return NOT_DONE_YET
        if path == b"/hang":
            return NOT_DONE_YET
        body = request.content.read() if request.content is not None else b""
        channel = request.channel
        head = channel.head if isinstance(channel, RecordingChannel) else []
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps(
            {
                "method": request.method.decode("latin-1"),
                "uri": request.uri.decode("latin-1"),
                "version": request.clientproto.decode("latin-1"),
                "head": [line.decode("latin-1") for line in head],
                "body": body.decode("latin-1") if len(body) <= 65536 else None,
                "bodyLength": len(body),
                "bodySha256": sha256(body),
            }
        ).encode("ascii")


def originSite(reactor: Any) -> Site:
    """
    The web origin: L{OriginResource} on a L{RecordingChannel}, without
    access logs or idle timeout.
    """
    site = Site(OriginResource(), timeout=None, reactor=reactor)
    site.protocol = RecordingChannel  # type: ignore[assignment]
    site.noisy = False
    return site


def headLines(echo: dict[str, Any]) -> list[tuple[str, str]]:
    """
    The header fields of an echoed request head, as (name, value) pairs.
    """
    fields = []
    for line in echo["head"][1:]:
        name, _, value = line.partition(":")
        fields.append((name, value.strip()))
    return fields


# Raw peers


Script = Callable[["RawPeer"], None]
"""Called by a raw origin after each read, with everything received so far."""


class RawPeer(Protocol):
    """
    A byte-level peer: records what it receives, and lets a test wait for
    conditions on it and for the connection to close.

    As an origin, a script decides what to write after each read.

    @ivar received: Everything received so far.
    @ivar closed: Whether the connection is closed.
    @ivar state: Free use by scripts.
    """

    def __init__(self, clock: Any, script: Script | None = None) -> None:
        self.clock = clock
        self.script = script
        self.received = b""
        self.closed = False
        self.state: dict[str, Any] = {}
        self._waiters: list[tuple[Callable[[bytes], bool], Deferred[bytes]]] = []
        self._closeWaiters: list[Deferred[bytes]] = []

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.script is not None:
            self.script(self)
        waiting, self._waiters = self._waiters, []
        for condition, d in waiting:
            if condition(self.received):
                d.callback(self.received)
            else:
                self._waiters.append((condition, d))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        waiting, self._waiters = self._waiters, []
        for condition, d in waiting:
            if condition(self.received):
                d.callback(self.received)
            else:
                d.errback(
                    AssertionError(
                        f"connection closed before the condition held; got {self.received!r}"
                    )
                )
        closing, self._closeWaiters = self._closeWaiters, []
        for d in closing:
            d.callback(self.received)

    def send(self, data: bytes) -> None:
        """
        Write C{data}.
        """
        assert self.transport is not None
        self.transport.write(data)

    def waitFor(
        self, condition: Callable[[bytes], bool], timeout: float = WAIT
    ) -> Deferred[bytes]:
        """
        Fires with everything received once C{condition} holds for it.
        """
        if condition(self.received):
            return succeed(self.received)
        d: Deferred[bytes] = Deferred()
        if self.closed:
            d.errback(AssertionError(f"connection closed; got {self.received!r}"))
            return d
        self._waiters.append((condition, d))
        d.addTimeout(timeout, self.clock)
        return d

    def waitForClose(self, timeout: float = WAIT) -> Deferred[bytes]:
        """
        Fires with everything received once the connection is closed.
        """
        if self.closed:
            return succeed(self.received)
        d: Deferred[bytes] = Deferred()
        self._closeWaiters.append(d)
        d.addTimeout(timeout, self.clock)
        return d


class RawPeerFactory(ServerFactory):
    """
    Builds raw origins running C{script}.
    """

    noisy = False

    def __init__(self, clock: Any, script: Script | None) -> None:
        self.clock = clock
        self.script = script

    def buildProtocol(self, addr: Any) -> RawPeer:
        return RawPeer(self.clock, self.script)


def headComplete(data: bytes) -> bool:
    """
    Whether C{data} holds a complete head.
    """
    return b"\r\n\r\n" in data


# Parsing what clients receive


@dataclass
class RawResponse:
    """
    One response as a raw client received it.

    @ivar complete: Whether the whole body (as framed) was received;
        close-delimited bodies count as complete.
    """

    version: bytes
    status: int
    reason: bytes
    headers: Headers
    body: bytes = b""
    trailers: Headers = field(default_factory=list)
    complete: bool = True

    def values(self, name: bytes) -> list[bytes]:
        """
        The values of every field named C{name} (case-insensitive).
        """
        lower = name.lower()
        return [v for n, v in self.headers if n.lower() == lower]


def parseHeadLines(block: bytes) -> tuple[bytes, Headers]:
    """
    Split a head into its first line and its fields.
    """
    lines = block.split(b"\r\n")
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields.append((name, value.strip(b" \t")))
    return lines[0], fields


def decodeChunked(data: bytes, start: int = 0) -> tuple[bytes, Headers, int] | None:
    """
    Decode a chunked body starting at C{start}.

    @return: C{(body, trailers, end)}, or C{None} if the body is incomplete.
    @raise ValueError: Malformed chunked coding.
    """
    body = []
    position = start
    while True:
        lineEnd = data.find(b"\r\n", position)
        if lineEnd < 0:
            return None
        sizeText = data[position:lineEnd].split(b";")[0].strip()
        size = int(sizeText, 16)
        position = lineEnd + 2
        if size == 0:
            break
        if len(data) < position + size + 2:
            return None
        body.append(data[position : position + size])
        if data[position + size : position + size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        position += size + 2
    trailers: Headers = []
    while True:
        lineEnd = data.find(b"\r\n", position)
        if lineEnd < 0:
            return None
        line = data[position:lineEnd]
        position = lineEnd + 2
        if not line:
            return b"".join(body), trailers, position
        name, _, value = line.partition(b":")
        trailers.append((name, value.strip()))


def parseResponses(data: bytes, methods: Sequence[bytes] = ()) -> list[RawResponse]:
    """
    Split what a raw client received into responses (1xx included).

    @param methods: The request methods in order, to know which responses
        answer HEAD; GET is assumed beyond the list.
    """
    responses = []
    position = 0
    finals = 0
    while position < len(data):
        end = data.find(b"\r\n\r\n", position)
        if end < 0:
            raise ValueError(f"incomplete head: {data[position:]!r}")
        statusLine, headers = parseHeadLines(data[position:end])
        version, status, reason = (statusLine.split(b" ", 2) + [b""])[:3]
        response = RawResponse(version, int(status), reason, headers)
        responses.append(response)
        position = end + 4
        code = response.status
        if code < 200:
            continue
        method = methods[finals] if finals < len(methods) else b"GET"
        finals += 1
        if method == b"HEAD" or code in (204, 304):
            continue
        if [v.lower() for v in response.values(b"Transfer-Encoding")] == [b"chunked"]:
            decoded = decodeChunked(data, position)
            if decoded is None:
                response.body = data[position:]
                response.complete = False
                break
            response.body, response.trailers, position = decoded
        elif response.values(b"Content-Length"):
            length = int(response.values(b"Content-Length")[0])
            response.body = data[position : position + length]
            response.complete = len(response.body) == length
            position += length
        else:
            response.body = data[position:]
            position = len(data)
    return responses


# TLS


@functools.lru_cache(maxsize=1)
def localhostCertificate() -> tuple[bytes, bytes]:
    """
    A throwaway self-signed certificate for C{localhost} and C{127.0.0.1}.

    @return: C{(certificatePEM, privateKeyPEM)}.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


# curl


@dataclass
class CurlResult:
    """
    What one curl run produced.

    @ivar meta: curl's C{--write-out '%{json}'} record of the (last)
        transfer, or C{{}} if it printed none.
    @ivar heads: Each head curl received (C{-D}), as (first line, fields):
        the CONNECT answer and 1xx responses come before the final one.
    """

    exitCode: int
    stderr: bytes
    body: bytes
    meta: dict[str, Any]
    heads: list[tuple[bytes, Headers]]

    @property
    def status(self) -> int:
        """
        The final response status (0 if none).
        """
        return int(self.meta.get("http_code", 0))

    def finalHeaders(self) -> Headers:
        """
        The fields of the last head received.
        """
        return self.heads[-1][1] if self.heads else []


@inlineCallbacks
def runCurl(reactor: Any, argv: list[str], stem: str) -> Any:
    """
    Run curl with C{argv}; the body goes to C{stem.body}, the heads to
    C{stem.heads} and C{--write-out} gives the transfer's metadata.

    @return: A Deferred firing with a L{CurlResult}.
    """
    body, heads = stem + ".body", stem + ".heads"
    argv = [*argv, "-o", body, "-D", heads, "-w", "%{json}"]
    out, err, code = yield runProcess(reactor, "curl", argv)
    meta = json.loads(out) if out.strip() else {}
    received = b""
    if os.path.exists(body):
        with open(body, "rb") as f:
            received = f.read()
    parsedHeads = []
    if os.path.exists(heads):
        with open(heads, "rb") as f:
            for block in f.read().split(b"\r\n\r\n"):
                if block.strip():
                    parsedHeads.append(parseHeadLines(block.strip(b"\r\n")))
    return CurlResult(code, err, received, meta, parsedHeads)


def clientEnvironment() -> dict[str, str]:
    """
    The environment for client processes: ours without proxy settings, so
    that only the proxy given on the command line is used.
    """
    return {
        name: value
        for name, value in os.environ.items()
        if not name.lower().endswith("_proxy")
    }


def runProcess(
    reactor: Any, executable: str, args: Sequence[str]
) -> Deferred[tuple[bytes, bytes, int]]:
    """
    Run a program; fires with its output, error output and exit code.
    """
    path = shutil.which(executable)
    if path is None:
        raise AssertionError(f"{executable} is not installed")
    return getProcessOutputAndValue(  # type: ignore[no-any-return]
        path, list(args), env=clientEnvironment(), reactor=reactor
    )


# The harness


class Harness:
    """
    Proxies, origins and raw clients for one test, all torn down (and
    checked to be closed) on cleanup.
    """

    def __init__(self, testCase: TestCase, reactor: Any) -> None:
        self.reactor = reactor
        self._testCase = testCase
        self._listeners: list[Listener] = []
        self._proxies: list[Proxy] = []
        self._peers: list[RawPeer] = []
        self._workdir = os.path.abspath(testCase.mktemp())
        os.makedirs(self._workdir)
        self._runs = 0
        testCase.addCleanup(self.close)

    # Listeners

    def listen(
        self, factory: IProtocolFactory, tls: bool = False, options: Any = None
    ) -> Listener:
        """
        Listen on 127.0.0.1, port 0, with C{factory} (over TLS with
        L{localhostCertificate} if C{tls}; with the TLS C{options} if
        given).
        """
        tracker = Tracker()
        wrapped = TrackingFactory(factory, tracker)
        if options is not None:
            port = self.reactor.listenSSL(0, wrapped, options, interface="127.0.0.1")
        elif tls:
            certificate, key = localhostCertificate()
            options = ssl.PrivateCertificate.loadPEM(key + certificate).options()
            port = self.reactor.listenSSL(0, wrapped, options, interface="127.0.0.1")
        else:
            port = self.reactor.listenTCP(0, wrapped, interface="127.0.0.1")
        listener = Listener(port, tracker)
        self._listeners.append(listener)
        return listener

    def startProxy(
        self,
        connectPorts: Iterable[int] = (443,),
        timeouts: Timeouts | None = None,
        caFile: str | None = None,
        limits: LimitsConfig | None = None,
    ) -> Proxy:
        """
        Start a forward proxy (trusting C{caFile} for C{https://} targets,
        if given).
        """
        reactor = self.reactor
        config = ProxyConfig(
            forward=ForwardConfig(connectPorts=frozenset(connectPorts), caFile=caFile),
            timeouts=timeouts if timeouts is not None else Timeouts(),
            limits=limits if limits is not None else LimitsConfig(),
        )
        factory = ProxyFactory(
            ForwardRouter(config.forward),
            ConnectionPool(reactor, config.pool),
            config,
            reactor=reactor,
        )
        proxy = Proxy(factory, self.listen(factory))
        self._proxies.append(proxy)
        return proxy

    def startSite(self, tls: bool = False) -> Listener:
        """
        Start the web origin (L{originSite}).
        """
        return self.listen(originSite(self.reactor), tls)

    def startRawOrigin(self, script: Script | None = None) -> Listener:
        """
        Start a raw origin running C{script} on each connection.
        """
        return self.listen(RawPeerFactory(self.reactor, script))

    @inlineCallbacks
    def closedPort(self) -> Any:
        """
        A local port number nothing listens on (just released).
        """
        port = self.reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        number = port.getHost().port
        yield port.stopListening()
        return number

    def certificateFile(self) -> str:
        """
        The path of a PEM file with L{localhostCertificate}, for C{--cacert}.
        """
        path = os.path.join(self._workdir, "localhost.pem")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(localhostCertificate()[0])
        return path

    def tempPath(self, name: str) -> str:
        """
        A path for a scratch file of this test.
        """
        return os.path.join(self._workdir, name)

    # Clients

    @inlineCallbacks
    def connect(self, port: int) -> Any:
        """
        Connect a L{RawPeer} client to C{port}.
        """
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", port, timeout=WAIT)
        peer = yield endpoint.connect(RawPeerFactory(self.reactor, None))
        self._peers.append(peer)
        return peer

    @inlineCallbacks
    def exchange(self, port: int, data: bytes) -> Any:
        """
        Connect to C{port}, write C{data}, and fire with everything received
        until the server closes the connection.
        """
        peer = yield self.connect(port)
        peer.send(data)
        received = yield peer.waitForClose()
        return received

    def curl(self, proxy: Proxy, *args: str) -> Deferred[CurlResult]:
        """
        Run curl through C{proxy} with C{args}; fires with a L{CurlResult}.
        """
        self._runs += 1
        argv = ["-sS", "--max-time", "20", "-x", proxy.url, *args]
        return runCurl(self.reactor, argv, self.tempPath(f"curl-{self._runs}"))

    # Teardown

    @inlineCallbacks
    def close(self) -> Any:
        """
        Close clients, wait until the proxies have closed every client
        connection, close their pools, wait until the origins saw every
        connection close, and stop listening.

        @raise AssertionError: A connection was still open after L{WAIT}
            seconds (it is then aborted).
        """
        clock = self.reactor
        problems = []
        for peer in self._peers:
            if not peer.closed and peer.transport is not None:
                peer.transport.abortConnection()  # type: ignore[attr-defined]
        for peer in self._peers:
            yield peer.waitForClose()
        for proxy in self._proxies:
            tracker = proxy.listener.tracker
            try:
                yield tracker.allClosed(clock)
            except Exception:
                problems.append(
                    f"proxy kept {tracker.openCount} client connection(s) open"
                )
                tracker.abortOpen()
            closing = proxy.factory.pool.closeAll()
            closing.addTimeout(WAIT, clock)
            try:
                yield closing
            except TimeoutError:
                problems.append("proxy pool did not close")
        for listener in self._listeners:
            tracker = listener.tracker
            try:
                yield tracker.allClosed(clock)
            except Exception:
                problems.append(
                    f"{tracker.openCount} connection(s) left open at a listener"
                )
                tracker.abortOpen()
        for listener in self._listeners:
            yield listener.listeningPort.stopListening()
        if problems:
            raise AssertionError("; ".join(problems))


def completeResponses(
    count: int, methods: Sequence[bytes] = ()
) -> Callable[[bytes], bool]:
    """
    A condition for L{RawPeer.waitFor}: C{count} final responses framed by
    length or chunked coding have fully arrived.
    """

    def condition(data: bytes) -> bool:
        try:
            responses = parseResponses(data, methods)
        except ValueError:
            return False
        finals = [
            r
            for r in responses
            if r.status >= 200
            and r.complete
            and (r.values(b"Content-Length") or r.values(b"Transfer-Encoding"))
        ]
        return len(finals) >= count

    return condition


def request(
    method: str,
    target: str,
    *fields: str,
    version: str = "1.1",
    body: bytes = b"",
    host: str | None = None,
) -> bytes:
    """
    A raw request: C{Host} is taken from an absolute C{target} unless given
    (C{""} for none), then C{fields} in order.
    """
    if host is None:
        host = target.split("/")[2] if "://" in target else ""
    lines = [f"{method} {target} HTTP/{version}"]
    if host:
        lines.append(f"Host: {host}")
    lines.extend(fields)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def freePorts(count: int) -> list[int]:
    """
    C{count} distinct loopback ports nothing listens on (just released).
    """
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    try:
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
