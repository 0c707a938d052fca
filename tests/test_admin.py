"""
Tests for L{proxykit.ops.admin} and the admin listener of
L{proxykit.service.ProxyService}: each page's answer, C{/readyz} turning
503 when the drain begins, and the admin endpoint bound (or failing) with
the proxy's listeners.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import IResource, Resource
from twisted.web.test.requesthelper import DummyRequest

from proxykit import ProxyConfig
from proxykit.config import ConfigError
from proxykit.config.values import AdminConfig, Timeouts
from proxykit.ops.admin import AdminResource, MetricsResource, statusOf
from proxykit.ops.metrics import Metrics
from proxykit.ops.state import EmbeddedProxy
from proxykit.ops.version import ConfigVersion
from proxykit.service import ListenError, ProxyService, forwardService
from proxykit.tap import Options

from ._harness import OK, Harness, Transport, lose
from .test_reverse import reverse
from .test_service import BusyReactor, loopback


def get(resource: IResource, path: bytes, method: bytes = b"GET") -> DummyRequest:
    """
    C{resource}'s answer to C{method} C{path}, rendered at once.
    """
    request = DummyRequest(path.lstrip(b"/").split(b"/"))
    request.path = path  # type: ignore[attr-defined]
    request.method = method
    body = resource.render(request)
    assert isinstance(body, bytes)
    request.write(body)
    request.finish()
    return request


def body(request: DummyRequest) -> bytes:
    return b"".join(request.written)


def header(request: DummyRequest, name: bytes) -> bytes | None:
    values = request.responseHeaders.getRawHeaders(name)
    return None if not values else values[0]


def admin(state: Any) -> AdminResource:
    return AdminResource(state, Metrics(state))


class PageTests(SynchronousTestCase):
    """
    Each page answers C{GET} and C{HEAD}; other methods get 405, other
    paths 404.
    """

    def setUp(self) -> None:
        self.state = EmbeddedProxy(Harness().factory, configVersion=ConfigVersion("0123abcd", 0.0))
        self.resource = admin(self.state)

    def test_healthz(self) -> None:
        """
        C{/healthz} says C{ok}: the process serves, whatever the listeners.
        """
        self.state.ready = False
        request = get(self.resource, b"/healthz")
        self.assertEqual((request.responseCode or 200, body(request)), (200, b"ok\n"))
        self.assertEqual(header(request, b"cache-control"), b"no-store")

    def test_readyz(self) -> None:
        """
        C{/readyz} answers 200 when ready, 503 with the reason when not.
        """
        request = get(self.resource, b"/readyz")
        self.assertEqual((request.responseCode or 200, body(request)), (200, b"ready\n"))
        self.state.ready = False
        request = get(self.resource, b"/readyz")
        self.assertEqual(
            (request.responseCode, body(request)), (503, b"not ready: not every listener is bound\n")
        )
        self.state.draining = True
        request = get(self.resource, b"/readyz")
        self.assertEqual((request.responseCode, body(request)), (503, b"not ready: draining\n"))

    def test_metrics(self) -> None:
        """
        C{/metrics} is the Prometheus text format, with its content type.
        """
        request = get(self.resource, b"/metrics")
        self.assertEqual(
            header(request, b"content-type"), b"text/plain; version=0.0.4; charset=utf-8"
        )
        self.assertIn(b'\nproxykit_config_info{digest="0123abcd"} 1.0\n', body(request))

    def test_metricsResourceAlone(self) -> None:
        """
        An application can mount L{MetricsResource} in its own site.
        """
        root = Resource()
        metrics = Metrics(self.state)
        root.putChild(b"metrics", MetricsResource(metrics))
        request = DummyRequest([b"metrics"])
        resource = root.getChildWithDefault(b"metrics", request)
        request = get(resource, b"/metrics")
        self.assertEqual(body(request), metrics.render())

    def test_otherMethods(self) -> None:
        """
        C{POST} (or any method but C{GET} and C{HEAD}) gets 405 with
        C{Allow}.
        """
        for path in (b"/metrics", b"/status", b"/readyz", b"/healthz"):
            request = get(self.resource, path, b"POST")
            self.assertEqual(request.responseCode, 405)
            self.assertEqual(header(request, b"allow"), b"GET, HEAD")

    def test_head(self) -> None:
        """
        C{HEAD} is answered like C{GET} (twisted.web drops the body).
        """
        request = get(self.resource, b"/readyz", b"HEAD")
        self.assertEqual(request.responseCode or 200, 200)

    def test_unknown(self) -> None:
        """
        Any other path gets 404.
        """
        for path in (b"/", b"/metrics/", b"/status/x", b"/admin"):
            self.assertEqual(get(self.resource, path).responseCode, 404)


class StatusTests(SynchronousTestCase):
    """
    C{/status} is JSON: readiness, the configuration's version, the
    listeners, the virtual hosts with their routes and origins, and the
    open tunnels.
    """

    def test_reverse(self) -> None:
        """
        A reverse proxy's virtual host, route and origin, with its pool
        counts after a kept-alive response.
        """
        h = reverse(9001)
        state = EmbeddedProxy(
            h.factory, configVersion=ConfigVersion("0123abcd", 1700000000.25, "proxy.toml")
        )
        resource = admin(state)
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        request = get(resource, b"/status")
        self.assertEqual(header(request, b"content-type"), b"application/json")
        self.assertEqual(
            json.loads(body(request)),
            {
                "ready": True,
                "draining": False,
                "config": {
                    "digest": "0123abcd",
                    "loaded_at": "2023-11-14T22:13:20.250000Z",
                    "source": "proxy.toml",
                },
                "listeners": [],
                "client_connections": 0,
                "vhosts": [
                    {
                        "hosts": ["app.example.test"],
                        "routes": [
                            {
                                "prefix": "/",
                                "balance": "round_robin",
                                "origins": [
                                    {
                                        "url": "http://127.0.0.1:9001",
                                        "up": True,
                                        "ejected": False,
                                        "ejections": 0,
                                        "outstanding": 0,
                                        "pool": {"idle": 1, "active": 0},
                                        "health_checks": None,
                                    }
                                ],
                            }
                        ],
                    }
                ],
                "tunnels": {"connect": 0, "upgrade": 0},
            },
        )

    def test_service(self) -> None:
        """
        Of a L{ProxyService}: each listener's endpoint, bound address and
        open connections, and the service's configuration version.
        """
        reactor = MemoryReactorClock()
        service = forwardService(ProxyConfig(listen=(loopback(8080),)), reactor)
        service.listen()
        status = statusOf(service)
        # The memory reactor's ports say they are bound to 0.0.0.0.
        self.assertEqual(status["config"]["digest"], service.configVersion.digest)
        self.assertEqual(
            status["listeners"],
            [{"endpoint": loopback(8080), "address": "0.0.0.0:8080", "connections": 0}],
        )
        self.assertNotIn("tunnels", status)


class ServiceTests(SynchronousTestCase):
    """
    C{admin.listen} gives a L{ProxyService} an admin listener, bound with
    the proxy's listeners, answering until the drain is over.
    """

    def test_config(self) -> None:
        """
        A C{tcp:PORT} endpoint without C{interface=} binds 127.0.0.1; other
        endpoints are kept as written; a bare port is refused.
        """
        self.assertEqual(AdminConfig("tcp:9901").listen, "tcp:9901:interface=127.0.0.1")
        self.assertEqual(
            AdminConfig("tcp:9901:interface=0.0.0.0").listen, "tcp:9901:interface=0.0.0.0"
        )
        self.assertEqual(AdminConfig("unix:/run/admin.sock").listen, "unix:/run/admin.sock")
        self.assertIsNone(AdminConfig().listen)
        with self.assertRaises(ConfigError):
            AdminConfig("9901")

    def test_commandLine(self) -> None:
        """
        C{--admin ENDPOINT} sets C{admin.listen}, in both modes.
        """
        for mode in (["forward"], ["reverse", "--route", "a.test=http://127.0.0.1:1"]):
            options = Options()
            options.parseOptions([*mode, "--admin", "tcp:9901"])
            config = options.subOptions["proxyConfig"]
            self.assertEqual(config.admin.listen, "tcp:9901:interface=127.0.0.1")

    def test_offByDefault(self) -> None:
        """
        Without C{admin.listen} there is no admin listener and no metrics
        observer (the relay keeps no records for it).
        """
        service = forwardService(ProxyConfig(), MemoryReactorClock())
        self.assertIsNone(service.metrics)
        self.assertIsNone(service.adminEndpoint)
        self.assertFalse(service.factory.hooks.observing)

    def test_boundWithTheListeners(self) -> None:
        """
        L{ProxyService.listen} binds the admin listener after the proxy's;
        its metrics observe the factory's hooks and the reloads.
        """
        reactor = BusyReactor()
        config = ProxyConfig(listen=(loopback(1),), admin=AdminConfig(loopback(9901)))
        service = forwardService(config, reactor)
        service.listen()
        self.assertEqual(reactor.listening, [1, 9901])
        self.assertEqual(service.adminEndpoint, loopback(9901))
        metrics = service.metrics
        assert metrics is not None
        self.assertIn(metrics.reloaded, service.reloadObservers)
        self.assertIn(metrics.requestDone, service.factory.hooks.hooks("finished"))
        service.startService()
        self.successResultOf(service.stopService())
        self.assertEqual(reactor.listening, [])

    def test_busyAdminPort(self) -> None:
        """
        A busy admin port fails the start with the same L{ListenError} as a
        busy proxy port, and the proxy's listeners are closed again.
        """
        reactor = BusyReactor(9901)
        config = ProxyConfig(listen=(loopback(1),), admin=AdminConfig(loopback(9901)))
        service = forwardService(config, reactor)
        with self.assertRaises(ListenError) as caught:
            service.listen()
        self.assertEqual(
            str(caught.exception), f"cannot listen on {loopback(9901)}: address already in use"
        )
        self.assertEqual(reactor.listening, [])

    def test_readyzDuringDrain(self) -> None:
        """
        When the proxy stops, the admin listener keeps answering while the
        drain lasts: C{/readyz} says 503 (draining); it closes after.
        """
        reactor = BusyReactor()
        config = ProxyConfig(listen=(loopback(1),), admin=AdminConfig(loopback(9901)))
        service = forwardService(config, reactor)
        service.startService()
        resource = self.adminResource(reactor)
        self.assertEqual(get(resource, b"/readyz").responseCode or 200, 200)
        gate = service.gates[0]
        peer = IPv4Address("TCP", "127.0.0.1", 50000)
        client = gate.buildProtocol(peer)
        assert client is not None
        client.makeConnection(Transport(hostAddress=IPv4Address("TCP", "127.0.0.1", 1), peerAddress=peer))
        client.dataReceived(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        stopped = service.stopService()
        self.assertNoResult(stopped)
        self.assertEqual(reactor.listening, [9901])
        request = get(resource, b"/readyz")
        self.assertEqual((request.responseCode, body(request)), (503, b"not ready: draining\n"))
        reactor.advance(config.timeouts.drain)
        self.assertTrue(client.transport.aborted)  # type: ignore[attr-defined]
        lose(client)
        self.successResultOf(stopped)
        self.assertEqual(reactor.listening, [])

    def test_drainDelay(self) -> None:
        """
        With C{timeouts.drain_delay}, stopping first turns C{/readyz} to 503
        while the listeners go on accepting for that long (a balancer
        checking C{/readyz} stops sending to the instance); then they close
        and the drain begins.
        """
        reactor = BusyReactor()
        config = ProxyConfig(
            listen=(loopback(1),),
            admin=AdminConfig(loopback(9901)),
            timeouts=Timeouts(drainDelay=1.5),
        )
        service = forwardService(config, reactor)
        service.startService()
        resource = self.adminResource(reactor)
        stopped = service.stopService()
        request = get(resource, b"/readyz")
        self.assertEqual((request.responseCode, body(request)), (503, b"not ready: draining\n"))
        self.assertEqual(reactor.listening, [1, 9901])
        reactor.advance(1.4)
        self.assertEqual(reactor.listening, [1, 9901])
        self.assertNoResult(stopped)
        reactor.advance(0.1)
        self.successResultOf(stopped)
        self.assertEqual(reactor.listening, [])

    @staticmethod
    def adminResource(reactor: MemoryReactorClock) -> IResource:
        """
        The resource of the site listening on port 9901 of C{reactor}.
        """
        [site] = [factory for port, factory, _, _ in reactor.tcpServers if port == 9901]
        return site.resource  # type: ignore[no-any-return]


class ProxyServiceState(SynchronousTestCase):
    """
    L{ProxyService} provides what the admin pages read (L{IProxyState}).
    """

    def test_provides(self) -> None:
        """
        Its factory, gates, endpoints, version, readiness and draining.
        """
        service: ProxyService = forwardService(ProxyConfig(), MemoryReactorClock())
        state: Any = service
        for name in ("factory", "gates", "endpoints", "configVersion", "ready", "draining"):
            self.assertTrue(hasattr(state, name), name)
