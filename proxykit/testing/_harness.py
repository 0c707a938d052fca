# -*- test-case-name: tests.test_testing -*-
"""
L{ProxyHarness}: a proxy built by L{proxykit.build} on an in-memory reactor
with a clock, fake origins attached by address, and fake clients.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocol
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from ..build import buildFactory, forwardRouter, reverseRouter
from ..config.values import ProxyConfig
from ..decisions import IRouter
from ..policy.destinations import DestinationPolicy, destinationsFor
from ..policy.requestid import RequestIds
from ..relay.client import ProxyProtocol
from ..relay.discovery import OriginDiscovery
from ..relay.factory import ProxyFactory
from ..relay.gate import ListenerGate
from ..relay.health import HealthChecker
from ..relay.hooks import Hooks
from ._client import FakeClient
from ._fakes import FakeOrigin, RawOrigin
from ._memory import REFUSED, InMemoryReactor, RecordingTransport

FIRST_REQUEST_ID = b"00000000000000000000000000000001"
"""The id the harness's proxy gives its first request (C{X-Request-Id}),
when it makes ids; the next ones count up."""

_SEED = bytes(8)

PROXY_ADDRESS = IPv4Address("TCP", "127.0.0.1", 8080)
"""Where the harness's clients connect to."""


def _splitAddress(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]").lower(), int(port)


class ProxyHarness:
    """
    A proxy on an in-memory reactor with a controllable clock: no sockets,
    no real time.

    Its origin connections reach the fake origins attached with
    L{fakeOrigin} and L{rawOrigin} by address (names resolve through the
    harness's own table); a connection to any other address waits in
    C{reactor.pending} for L{acceptOrigin} or L{refuseOrigin}.  Clients are
    attached with L{fakeClient}; for byte-level transcripts, L{send} and
    L{received} speak on one client connection of their own.

    Request ids are predictable: the first is L{FIRST_REQUEST_ID}.

    @ivar reactor: The reactor and clock (advance it with L{advance}).
    @ivar config: The proxy's configuration.
    @ivar factory: The proxy, built by L{proxykit.build.buildFactory} as
        C{twistd proxykit} builds it.
    @ivar gate: The listener's connection cap (C{limits.max_client_connections})
        the fake clients connect through, named by the first endpoint of
        C{config.listen}.
    @ivar origins: The connections L{acceptOrigin} completed.
    """

    def __init__(
        self,
        config: ProxyConfig | None = None,
        router: IRouter | None = None,
        *,
        mode: str = "forward",
        hooks: Hooks | None = None,
        destinations: DestinationPolicy | None = None,
        healthCheckers: Sequence[HealthChecker] = (),
    ) -> None:
        """
        @param config: C{None}: the defaults.
        @param router: Any L{IRouter}; C{None}: the router of C{mode} for
            C{config}, as C{twistd proxykit} builds it.
        @param mode: C{"forward"} or C{"reverse"}, when C{router} is C{None}.
        @param hooks: The application's hooks.
        @param destinations: See L{proxykit.build.buildFactory}.
        @param healthCheckers: Run while the harness is open (with a
            reverse C{mode}, the routes' own are added).
        """
        self.reactor = InMemoryReactor(self._serverFor)
        self._servers: dict[tuple[str, int], FakeOrigin | RawOrigin] = {}
        self._addresses = 0
        self.config = config = config if config is not None else ProxyConfig()
        if destinations is None:
            destinations = destinationsFor(config)
        checkers: tuple[HealthChecker | OriginDiscovery, ...] = tuple(healthCheckers)
        if router is None:
            if mode == "reverse":
                router, more = reverseRouter(config, self.reactor, destinations)
            elif mode == "forward":
                router, more = forwardRouter(config, self.reactor, destinations)
            else:
                raise ValueError(f"mode: expected 'forward' or 'reverse', got {mode!r}")
            checkers += more
        self.factory: ProxyFactory = buildFactory(
            router,
            config,
            self.reactor,
            healthCheckers=checkers,
            destinations=destinations,
            hooks=hooks,
        )
        self.factory.requestIds = RequestIds(
            config.log.requestId, config.reverse.trustedProxies, seed=_SEED
        )
        listener = config.listen[0] if config.listen else ""
        self.gate = ListenerGate(self.factory, config.limits.maxClientConnections, listener)
        self.gate.doStart()
        self.origins: list[tuple[Protocol, RecordingTransport]] = []
        self._client: tuple[ProxyProtocol, RecordingTransport] | None = None
        self._clients = 0

    @classmethod
    def fromFile(cls, path: str, mode: str = "forward", *, hooks: Hooks | None = None) -> ProxyHarness:
        """
        The proxy C{twistd proxykit MODE --config PATH} would run.

        @raise proxykit.ConfigError: The file is not a valid configuration.
        """
        return cls(ProxyConfig.fromFile(path), mode=mode, hooks=hooks)

    # Fake origins

    def fakeOrigin(self, address: str, *, resolvesTo: str | None = None) -> FakeOrigin:
        """
        Attach an HTTP origin at C{address} (C{host:port}; a name or an IP
        literal).  It answers C{200} with an empty body until told
        otherwise.

        @param resolvesTo: The address a name resolves to; C{None}: one of
            192.0.2.0/24 (documentation addresses) picked for it.
        """
        origin = FakeOrigin(address, self.reactor)
        self._attach(address, origin, resolvesTo)
        return origin

    def rawOrigin(self, address: str, *, echo: bool = False, resolvesTo: str | None = None) -> RawOrigin:
        """
        Attach a server that speaks no HTTP at C{address}: the far end of
        CONNECT tunnels (see L{fakeOrigin}).

        @param echo: Send back what arrives.
        """
        origin = RawOrigin(address, echo)
        self._attach(address, origin, resolvesTo)
        return origin

    def _attach(self, address: str, origin: FakeOrigin | RawOrigin, resolvesTo: str | None) -> None:
        host, port = _splitAddress(address)
        if not _isLiteral(host):
            names = self.reactor.nameResolver.names
            if resolvesTo is None:
                resolvesTo = names.get(host)
            if resolvesTo is None:
                self._addresses += 1
                resolvesTo = f"192.0.2.{self._addresses}"
            names[host] = resolvesTo
            host = resolvesTo
        self._servers[(host, port)] = origin

    def _serverFor(self, host: str, port: int) -> IProtocol | None:
        origin = self._servers.get((host.lower(), port))
        if origin is None:
            return None
        if origin.refusing:
            return REFUSED  # type: ignore[no-any-return]
        return origin.buildProtocol()

    # Fake clients

    def fakeClient(self, peer: str = "127.0.0.1:0", local: str | None = None) -> FakeClient:
        """
        Connect a new client to the proxy.

        @param peer: The client's address (C{host:port}); port C{0}: one
            picked for it.
        @param local: The proxy's address the client connected to
            (C{host:port}); C{None}: L{PROXY_ADDRESS}.
        """
        host, port = _splitAddress(peer)
        self._clients += 1
        if port == 0:
            port = 50000 + self._clients
        proxyAddress = PROXY_ADDRESS
        if local is not None:
            proxyAddress = IPv4Address("TCP", *_splitAddress(local))
        client = FakeClient(self.flush)
        address = IPv4Address("TCP", host, port)
        proxy = self.gate.buildProtocol(address)
        assert proxy is not None
        self.reactor.join(client, proxy, address, proxyAddress)
        self.flush()
        return client

    # Time

    def flush(self) -> None:
        """
        Deliver everything in flight and run the calls due now.
        """
        self.reactor.flush()

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass, running each timer at its time and delivering
        what it sends before the next one.
        """
        end = self.reactor.seconds() + seconds
        self.flush()
        while True:
            due = [c.getTime() for c in self.reactor.getDelayedCalls() if c.getTime() <= end]
            if not due:
                break
            self.reactor.advance(max(0.0, min(due) - self.reactor.seconds()))
            self.flush()
        self.reactor.advance(end - self.reactor.seconds())
        self.flush()

    def close(self) -> None:
        """
        Stop the health checks and close the pool's idle connections.
        """
        self.gate.doStop()
        self.factory.pool.closeAll()
        self.flush()

    # Byte-level transcripts

    def connectClient(self) -> tuple[ProxyProtocol, RecordingTransport]:
        """
        A client connection to the proxy whose bytes are driven by hand
        (C{protocol.dataReceived}, C{transport.value()}).
        """
        proto = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        transport = RecordingTransport(
            hostAddress=PROXY_ADDRESS, peerAddress=IPv4Address("TCP", "127.0.0.1", 50000)
        )
        proto.makeConnection(transport)
        return proto, transport

    @property
    def client(self) -> ProxyProtocol:
        """
        The proxy's side of the transcript connection (made on first use).
        """
        return self._transcript()[0]

    @client.setter
    def client(self, protocol: ProxyProtocol) -> None:
        self._client = (protocol, self._transcript()[1])

    @property
    def clientTransport(self) -> RecordingTransport:
        """
        The transport of the transcript connection (made on first use).
        """
        return self._transcript()[1]

    @clientTransport.setter
    def clientTransport(self, transport: RecordingTransport) -> None:
        self._client = (self._transcript()[0], transport)

    def connectTranscript(self) -> None:
        """
        Open the transcript connection now (else it opens on first use).
        """
        self._transcript()

    def _transcript(self) -> tuple[ProxyProtocol, RecordingTransport]:
        if self._client is None:
            self._client = self.connectClient()
        return self._client

    def send(self, data: bytes) -> None:
        """
        Bytes from the transcript client.
        """
        self.client.dataReceived(data)

    def received(self) -> bytes:
        """
        What the transcript client received since the last call.
        """
        transport = self.clientTransport
        value = transport.value()
        transport.clear()
        return value

    def acceptOrigin(self) -> tuple[Protocol, RecordingTransport]:
        """
        Complete the oldest origin connection attempt no fake origin
        served; drive it by hand.

        @return: The proxy's protocol on it and its transport.
        """
        host, port, factory = self.reactor.pending.pop(0)
        wrapper = factory.buildProtocol(IPv4Address("TCP", host, port))
        assert wrapper is not None
        transport = RecordingTransport(peerAddress=IPv4Address("TCP", host, port))
        wrapper.makeConnection(transport)
        proto: Protocol = getattr(wrapper, "_wrappedProtocol", wrapper)  # type: ignore[arg-type]
        self.origins.append((proto, transport))
        return proto, transport

    def refuseOrigin(self) -> None:
        """
        Refuse the oldest origin connection attempt no fake origin served.
        """
        host, port, factory = self.reactor.pending.pop(0)
        refused = Failure(ConnectionRefusedError())  # type: ignore[no-untyped-call]
        factory.clientConnectionFailed(None, refused)  # type: ignore[attr-defined]


def _isLiteral(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
