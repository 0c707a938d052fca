"""
Tests for the library's way of building a proxy (L{proxykit.forwardProxy},
L{proxykit.reverseProxy}): it gives exactly what C{twistd proxykit} gives.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress
from twisted.internet.testing import MemoryReactorClock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import proxykit
from proxykit import (
    DestinationPolicy,
    ForwardConfig,
    ForwardRouter,
    ProxyConfig,
    ProxyFactory,
    forwardProxy,
    reverseProxy,
)
from proxykit.config import (
    HealthCheckConfig,
    OriginConfig,
    ReverseConfig,
    RouteConfig,
    VhostConfig,
)
from proxykit.ops.accesslog import AccessLog
from proxykit.policy.destinations import OPEN
from proxykit.relay.gate import ListenerGate
from proxykit.service import ProxyService
from proxykit.tap import Options, makeService

from ._harness import Transport
from .test_auth import hashOf
from .test_service import FakePort


def destinationFields(policy: DestinationPolicy) -> dict[str, object]:
    """
    Every field of C{policy} (a native class in the compiled build, without
    C{vars()}), as comparable values.
    """
    names = [
        "strict",
        "followsListeners",
        "_allowExact",
        "_allowSuffixes",
        "_allowNetworks",
        "_denyExact",
        "_denySuffixes",
        "_denyNetworks",
        "_hasAllow",
        "_allowPorts",
        "_open",
    ]
    return {name: getattr(policy, name) for name in names}


def effectivePolicy(factory: ProxyFactory, cap: int) -> dict[str, Any]:
    """
    Everything a proxy enforces, as comparable values: the destination
    policy's fields, the pool's settings (idle, per-origin cap and queue),
    timeouts, limits, forward policy, authentication, the listener's
    connection cap, the router's kind and the health checks.
    """
    pool = factory.pool
    auth = factory.authenticator
    return {
        "destinations": destinationFields(factory.destinations),
        "pool": (
            pool._config,
            pool._maxPerKey,
            pool._maxQueue,
            pool._queueTimeout,
        ),
        "timeouts": factory.config.timeouts,
        "limits": factory.config.limits,
        "headLimits": {name: getattr(factory.limits, name) for name in type(factory.limits).__slots__},
        "forward": factory.config.forward,
        "reverse": factory.config.reverse,
        "auth": None
        if auth is None
        else (
            auth.challenge,
            auth._cacheSeconds,
            auth._maxCache,
            auth._maxPending,
            auth._checker._users,  # type: ignore[attr-defined]
        ),
        "connectionCap": cap,
        "router": type(factory.router).__name__,
        "via": factory.via,
        "healthChecks": [checker.config for checker in factory.healthCheckers],
        "config": factory.config,
        "requestIds": (factory.requestIds.mode, factory.requestIds._keep),
        "observers": observers(factory),
    }


def observers(factory: ProxyFactory) -> dict[str, list[tuple[str, object]]]:
    """
    The hooks registered on C{factory}, point by point, each as its
    class and name, with the access log's file and format for its methods.
    """
    found: dict[str, list[tuple[str, object]]] = {}
    for point in (
        "before", "after", "response", "tunnelOpen", "tunnelClose", "error", "complete", "finished"
    ):
        for hook in factory.hooks.hooks(point):
            owner = getattr(hook, "__self__", None)
            detail = (owner.path, owner.format) if isinstance(owner, AccessLog) else None
            found.setdefault(point, []).append((hook.__qualname__, detail))
    return found


def twistdPolicy(*argv: str) -> dict[str, Any]:
    """
    The policy of the service C{twistd proxykit ARGV} runs.
    """
    options = Options()
    options.parseOptions(list(argv))
    service = makeService(options)
    assert isinstance(service, ProxyService)
    [cap] = {gate.cap for gate in service.gates}
    return effectivePolicy(service.factory, cap)


def libraryPolicy(gate: ListenerGate) -> dict[str, Any]:
    return effectivePolicy(gate.factory, gate.cap)


FORWARD_TOML = """
listen = ["tcp:0"]
[forward]
auth_file = "{htpasswd}"
auth_realm = "office"
allow_destinations = ["*.example.com", "10.0.0.0/8"]
deny_destinations = ["bad.example.com"]
allow_ports = [80, 8080]
connect_ports = [443, 8443]
[timeouts]
connect = 3
response = 20
[pool]
max_idle_per_origin = 7
idle_expiry = 11
[limits]
max_client_connections = 50
max_origin_connections = 9
max_origin_queue = 33
max_body_bytes = 1000
"""

REVERSE_TOML = """
listen = ["tcp:0"]
[reverse]
forward_proxy = true
[[reverse.vhost]]
hosts = ["app.example.test"]
  [[reverse.vhost.route]]
  origins = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
  health_check = { path = "/healthz", interval = 3 }
[limits]
max_client_connections = 70
max_origin_connections = 5
"""


class ListeningAt(FakePort):
    """
    A listening port bound to C{host}.
    """

    def __init__(self, host: str) -> None:
        self.host = host

    def getHost(self) -> IAddress:
        kind = IPv6Address if ":" in self.host else IPv4Address
        return kind("TCP", self.host, 3128)


def connectThrough(gate: ListenerGate, port: FakePort, request: bytes) -> bytes:
    """
    A client connection accepted by C{port} and served by C{gate}'s proxy
    sends C{request}; what the proxy answered.
    """
    transport = Transport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 3128),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
    )
    transport.server = port  # type: ignore[attr-defined]
    protocol = gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    assert protocol is not None
    protocol.makeConnection(transport)
    protocol.dataReceived(request)
    return transport.value()


class SameAsTwistdTests(SynchronousTestCase):
    """
    A proxy built the documented library way enforces exactly what the
    C{twistd proxykit} plugin enforces for the same configuration.
    """

    def write(self, text: str) -> str:
        path = FilePath(self.mktemp())
        path.setContent(text.encode("utf-8"))
        return path.path

    def test_forwardDefaults(self) -> None:
        """
        C{forwardProxy()} is C{twistd proxykit forward} with no options.
        """
        self.assertEqual(libraryPolicy(forwardProxy()), twistdPolicy("forward"))

    def test_forwardBeyondLoopback(self) -> None:
        """
        Listening on every interface, both refuse special-purpose
        destinations (strict) and keep the per-origin connection cap and
        queue.
        """
        library = libraryPolicy(forwardProxy(ProxyConfig(listen=("tcp:0",))))
        self.assertEqual(library, twistdPolicy("forward", "--listen", "tcp:0"))
        self.assertTrue(library["destinations"]["strict"])
        self.assertEqual(library["pool"][1:3], (256, 1024))

    def test_forwardLearnsItsListeners(self) -> None:
        """
        C{forwardProxy()} set listening on every interface by an
        application that did not name the endpoint in C{config.listen}
        becomes strict at the first connection through that listener,
        before its request is routed: C{http://127.0.0.1/} gets 403 and no
        origin is contacted.  Through a loopback listener, the same request
        goes on (the rule of a loopback-only proxy).
        """
        request = b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n"
        for host, strict in (("127.0.0.1", False), ("::1", False), ("0.0.0.0", True)):
            reactor = MemoryReactorClock()
            gate = forwardProxy(reactor=reactor)
            self.assertFalse(gate.factory.destinations.strict)
            answer = connectThrough(gate, ListeningAt(host), request)
            self.assertEqual(gate.factory.destinations.strict, strict, host)
            if strict:
                self.assertTrue(answer.startswith(b"HTTP/1.1 403 "), answer)
                self.assertEqual(reactor.tcpClients, [])
            else:
                self.assertEqual(answer, b"")
                self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.1", 9000))

    def test_explicitPolicyNotLearned(self) -> None:
        """
        An explicit policy (here L{OPEN}), or C{allow_private_destinations},
        is kept whatever the listener.
        """
        request = b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n"
        for gate in (
            forwardProxy(reactor=MemoryReactorClock(), destinations=OPEN),
            forwardProxy(
                ProxyConfig(forward=ForwardConfig(allowPrivateDestinations=True)),
                reactor=MemoryReactorClock(),
            ),
        ):
            self.assertEqual(connectThrough(gate, ListeningAt("0.0.0.0"), request), b"")
            self.assertFalse(gate.factory.destinations.strict)

    def test_forwardFile(self) -> None:
        """
        The same file, read by the plugin (C{--config}) and by
        L{ProxyConfig.fromFile}, gives the same destination lists,
        authentication, pool, timeouts, limits and connection cap.
        """
        htpasswd = self.write(f"alice:{hashOf(b'pw')}\n")
        path = self.write(FORWARD_TOML.format(htpasswd=htpasswd))
        library = libraryPolicy(forwardProxy(ProxyConfig.fromFile(path)))
        self.assertEqual(library, twistdPolicy("forward", "--config", path))
        self.assertIsNotNone(library["auth"])
        self.assertEqual(library["connectionCap"], 50)
        self.assertEqual(library["pool"][1:], (9, 33, 3.0))

    def test_reverseFile(self) -> None:
        """
        A reverse-mode file with the forward proxy on the same listener and
        an active health check: the same router, health checks, pool,
        destination policy and connection cap.
        """
        path = self.write(REVERSE_TOML)
        library = libraryPolicy(reverseProxy(ProxyConfig.fromFile(path)))
        self.assertEqual(library, twistdPolicy("reverse", "--config", path))
        self.assertEqual(library["router"], "CombinedRouter")
        self.assertEqual(len(library["healthChecks"]), 1)
        self.assertTrue(library["destinations"]["strict"])
        self.assertEqual(library["connectionCap"], 70)

    def test_accessLogAndHeaders(self) -> None:
        """
        A file asking for an access log, request ids kept from the client
        and another Via pseudonym: the library's proxy writes the same log
        (the same observers, file and format) and the same fields as the
        plugin's.
        """
        log = FilePath(self.mktemp())
        path = self.write(
            f'[log]\naccess = "{log.path}"\nformat = "json"\nrequest_id = "keep"\n'
            '[forward]\nvia = "edge"\n'
        )
        twistd = twistdPolicy("forward", "--config", path)
        library = libraryPolicy(forwardProxy(ProxyConfig.fromFile(path)))
        self.assertEqual(library, twistd)
        self.assertEqual(
            library["observers"]["finished"], [("AccessLog.requestDone", (log.path, "json"))]
        )
        self.assertEqual(library["via"][b"1.1"], b"1.1 edge")

    def test_exported(self) -> None:
        """
        The builders are part of C{import proxykit}.
        """
        self.assertIs(proxykit.forwardProxy, forwardProxy)
        self.assertIs(proxykit.reverseProxy, reverseProxy)


class WeakerOnlyExplicitlyTests(SynchronousTestCase):
    """
    Weaker destination checks need an argument that says so.
    """

    def test_factoryDefault(self) -> None:
        """
        A L{ProxyFactory} built without a destination policy gets the one
        twistd applies for its config: strict when it listens beyond
        loopback, as the old documented spelling (router, pool, config) did
        not.
        """
        config = ProxyConfig(listen=("tcp:8080",))
        factory = ProxyFactory(ForwardRouter(config.forward), None, config)
        self.assertTrue(factory.destinations.strict)
        self.assertEqual(factory.pool._maxPerKey, config.limits.maxOriginConnections)
        self.assertEqual(factory.pool._maxQueue, config.limits.maxOriginQueue)
        self.assertFalse(ProxyFactory(ForwardRouter()).destinations.strict)

    def test_explicitOpen(self) -> None:
        """
        C{destinations=OPEN} turns the checks off, deliberately.
        """
        config = ProxyConfig(listen=("tcp:8080",))
        self.assertIs(forwardProxy(config, destinations=OPEN).factory.destinations, OPEN)


class HealthChecksTests(SynchronousTestCase):
    """
    A reverse proxy's active health checks run while it listens.
    """

    def test_startStop(self) -> None:
        """
        The first listener's start starts the checks (each origin is
        checked at once); the last one's stop stops them.
        """
        reactor = MemoryReactorClock()
        route = RouteConfig(
            origins=(OriginConfig("http://127.0.0.1:9001"),),
            healthCheck=HealthCheckConfig(interval=5),
        )
        config = ProxyConfig(
            reverse=ReverseConfig(vhosts=(VhostConfig(("app.example.test",), (route,)),))
        )
        gate = reverseProxy(config, reactor)
        self.assertEqual(reactor.tcpClients, [])
        gate.doStart()
        gate.doStart()
        self.assertEqual(len(reactor.tcpClients), 1)
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.1", 9001))
        gate.doStop()
        reactor.advance(5)
        self.assertEqual(len(reactor.tcpClients), 2)
        gate.doStop()
        reactor.advance(60)
        self.assertEqual(len(reactor.tcpClients), 2)


class OnePolicyTests(SynchronousTestCase):
    """
    A proxy's router and its connector judge destinations with the same
    policy object, so that what one learns (a listener beyond loopback)
    the other applies.
    """

    def test_shared(self) -> None:
        """
        C{forwardService}, C{forwardProxy} and a reverse proxy that also
        serves forward-proxy requests each build one policy.
        """
        from proxykit.service import forwardService, reverseService

        reverse = ReverseConfig(
            vhosts=(VhostConfig(("a.test",), (RouteConfig((OriginConfig("http://127.0.0.1:9001"),)),)),),
            forwardProxy=True,
        )
        reactor = MemoryReactorClock()
        factories = [
            forwardService(ProxyConfig(), reactor).factory,
            forwardProxy(ProxyConfig(), reactor).factory,
            reverseService(ProxyConfig(reverse=reverse), reactor).factory,
            reverseProxy(ProxyConfig(reverse=reverse), reactor).factory,
        ]
        for factory in factories:
            router = factory.router
            forward = getattr(router, "forward", router)
            self.assertIs(forward.destinations, factory.destinations)
            self.assertIs(factory.connector.destinations, factory.destinations)
