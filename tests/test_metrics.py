"""
Tests for L{proxykit.ops.metrics}: requests made through a proxy on
Twisted's in-memory fakes move the counters, and the live state (pools,
origins, listeners, configuration) is read when the metrics are rendered.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
from twisted.internet.address import IPv4Address
from twisted.trial.unittest import SynchronousTestCase

from proxykit import ForwardConfig, ProxyConfig
from proxykit.config import HealthCheckConfig
from proxykit.decisions import ClientInfo, Refuse
from proxykit.ops.metrics import Metrics
from proxykit.ops.state import EmbeddedProxy, originStates
from proxykit.ops.version import ConfigVersion, ReloadOutcome
from proxykit.policy.balance import OriginGroup
from proxykit.policy.vhosts import tableOf
from proxykit.relay.gate import ListenerGate
from proxykit.relay.health import HealthChecker
from proxykit.relay.hooks import ErrorEvent

from ._harness import GET, OK, Harness, lose
from ._snippets import snippets
from .test_accesslog import record as accessRecord
from .test_health import UNAVAILABLE, FakeConnector
from .test_reverse import reverse

ROOT = Path(__file__).resolve().parent.parent


def observed(h: Harness, **state: object) -> Metrics:
    """
    Metrics of C{h}'s proxy, observing its hooks.
    """
    metrics = Metrics(EmbeddedProxy(h.factory, **state))  # type: ignore[arg-type]
    metrics.observe(h.factory.hooks)
    return metrics


def lines(metrics: Metrics, prefix: str) -> list[str]:
    """
    The exposition lines (no comments) of C{metrics} starting with
    C{prefix}.
    """
    text = metrics.render().decode("utf-8")
    return [line for line in text.splitlines() if line.startswith(prefix)]


class RequestCountTests(SynchronousTestCase):
    """
    Each finished request is counted by listener, virtual host, route and
    status class, with its duration, origin connection and bytes.
    """

    def test_forwardRequests(self) -> None:
        """
        Two forward-proxy requests on one kept-alive origin connection: two
        2xx requests on the listener the client connected to, with the
        fixed C{vhost} and C{route} C{-}; one new origin connection, one
        reused; the response bodies' bytes sent.
        """
        h = Harness()
        metrics = observed(h)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.send(GET)
        origin.dataReceived(OK)
        self.assertEqual(
            lines(metrics, "proxykit_requests_total"),
            [
                'proxykit_requests_total{code_class="2xx",listener="127.0.0.1:8080",'
                'route="-",vhost="-"} 2.0'
            ],
        )
        self.assertEqual(lines(metrics, "proxykit_pool_reused_total"), ["proxykit_pool_reused_total 1.0"])
        self.assertEqual(
            lines(metrics, "proxykit_origin_connect_duration_seconds_count"),
            ["proxykit_origin_connect_duration_seconds_count 1.0"],
        )
        self.assertEqual(lines(metrics, "proxykit_bytes_sent_total"), ["proxykit_bytes_sent_total 10.0"])
        self.assertEqual(
            lines(metrics, "proxykit_bytes_received_total"), ["proxykit_bytes_received_total 0.0"]
        )

    def test_observeOnce(self) -> None:
        """
        Observing the same hooks twice counts each request once.
        """
        h = Harness()
        metrics = observed(h)
        metrics.observe(h.factory.hooks)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(
            lines(metrics, "proxykit_requests_total"),
            [
                'proxykit_requests_total{code_class="2xx",listener="127.0.0.1:8080",'
                'route="-",vhost="-"} 1.0'
            ],
        )

    def test_durationBuckets(self) -> None:
        """
        A request that took 0.3 s is counted in the C{le="0.5"} bucket and
        above, not in C{le="0.25"}; the sum is its duration.
        """
        h = Harness()
        metrics = observed(h)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        h.reactor.advance(0.3)
        origin.dataReceived(OK)
        found = lines(metrics, "proxykit_request_duration_seconds")
        self.assertIn('proxykit_request_duration_seconds_bucket{le="0.25"} 0.0', found)
        self.assertIn('proxykit_request_duration_seconds_bucket{le="0.5"} 1.0', found)
        self.assertIn('proxykit_request_duration_seconds_bucket{le="+Inf"} 1.0', found)
        self.assertIn("proxykit_request_duration_seconds_count 1.0", found)
        self.assertIn("proxykit_request_duration_seconds_sum 0.3", found)

    def test_refusals(self) -> None:
        """
        A refused request is counted as a 4xx request and as a refusal with
        its reason.
        """
        h = Harness()
        metrics = observed(h)
        h.factory.hooks.beforeRouting(lambda event: Refuse(403, "no robots"))
        h.send(GET)
        self.assertEqual(
            lines(metrics, "proxykit_refusals_total"),
            ['proxykit_refusals_total{reason="no robots"} 1.0'],
        )
        self.assertEqual(
            lines(metrics, "proxykit_request_duration_seconds_count"),
            ["proxykit_request_duration_seconds_count 1.0"],
        )
        self.assertEqual(
            lines(metrics, "proxykit_requests_total"),
            [
                'proxykit_requests_total{code_class="4xx",listener="127.0.0.1:8080",'
                'route="-",vhost="-"} 1.0'
            ],
        )

    def test_reasonsBounded(self) -> None:
        """
        Past C{MAX_REASONS} distinct refusal reasons, the rest are counted
        as C{other}.
        """
        h = Harness()
        metrics = observed(h)
        reasons = iter(range(1000))
        h.factory.hooks.beforeRouting(lambda event: Refuse(403, f"reason {next(reasons)}"))
        for _ in range(105):
            h.send(GET)
        found = lines(metrics, "proxykit_refusals_total")
        self.assertEqual(len(found), 101)
        self.assertIn('proxykit_refusals_total{reason="other"} 5.0', found)

    def test_errors(self) -> None:
        """
        An origin that refuses the connection: a 5xx request and a 502
        error with its reason.
        """
        h = Harness()
        metrics = observed(h)
        h.send(GET)
        h.refuseOrigin()
        self.assertEqual(
            lines(metrics, "proxykit_requests_total"),
            [
                'proxykit_requests_total{code_class="5xx",listener="127.0.0.1:8080",'
                'route="-",vhost="-"} 1.0'
            ],
        )
        [error] = lines(metrics, "proxykit_errors_total")
        self.assertTrue(error.startswith('proxykit_errors_total{reason="'), error)
        self.assertTrue(error.endswith('",status="502"} 1.0'), error)

    def test_tunnels(self) -> None:
        """
        A CONNECT tunnel is open (C{proxykit_tunnels_open}) until it closes;
        it is counted in C{proxykit_tunnels_total}, and its bytes each way.
        """
        h = Harness(ProxyConfig(forward=ForwardConfig(connectPorts=frozenset({9000}))))
        metrics = observed(h)
        h.send(b"CONNECT 127.0.0.1:9000 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n")
        origin, ot = h.acceptOrigin()
        self.assertEqual(
            lines(metrics, "proxykit_tunnels_open"),
            ['proxykit_tunnels_open{kind="connect"} 1.0', 'proxykit_tunnels_open{kind="upgrade"} 0.0'],
        )
        h.send(b"ping")
        origin.dataReceived(b"pong!")
        lose(origin)
        lose(h.client)
        self.assertEqual(
            lines(metrics, "proxykit_tunnels_open"),
            ['proxykit_tunnels_open{kind="connect"} 0.0', 'proxykit_tunnels_open{kind="upgrade"} 0.0'],
        )
        self.assertEqual(
            lines(metrics, "proxykit_tunnels_total"),
            ['proxykit_tunnels_total{kind="connect"} 1.0', 'proxykit_tunnels_total{kind="upgrade"} 0.0'],
        )
        self.assertEqual(lines(metrics, "proxykit_bytes_received_total"), ["proxykit_bytes_received_total 4.0"])
        self.assertEqual(lines(metrics, "proxykit_bytes_sent_total"), ["proxykit_bytes_sent_total 5.0"])
        self.assertEqual(lines(metrics, "proxykit_request_duration_seconds_count"), [
            "proxykit_request_duration_seconds_count 0.0"
        ])


class ReverseTests(SynchronousTestCase):
    """
    In reverse mode the labels name the virtual host and route from the
    configuration, and each configured origin's state is shown.
    """

    def test_vhostFromConfig(self) -> None:
        """
        A request for C{app.example.test:8000} is counted under the virtual
        host's configured name and the route's prefix.
        """
        h = reverse(9001)
        metrics = observed(h)
        h.send(b"GET /page HTTP/1.1\r\nHost: APP.example.test:8000\r\n\r\n")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertEqual(
            lines(metrics, "proxykit_requests_total"),
            [
                'proxykit_requests_total{code_class="2xx",listener="127.0.0.1:8080",'
                'route="/",vhost="app.example.test"} 1.0'
            ],
        )

    def test_unknownHost(self) -> None:
        """
        A request for a host no virtual host serves (421) is counted under
        C{vhost="-"}: never the host the client named.
        """
        h = reverse(9001)
        metrics = observed(h)
        h.send(b"GET /page HTTP/1.1\r\nHost: evil.example.test\r\n\r\n")
        self.assertEqual(
            lines(metrics, "proxykit_requests_total"),
            [
                'proxykit_requests_total{code_class="4xx",listener="127.0.0.1:8080",'
                'route="-",vhost="-"} 1.0'
            ],
        )
        self.assertEqual(
            lines(metrics, "proxykit_refusals_total"),
            ['proxykit_refusals_total{reason="unknown host"} 1.0'],
        )

    def test_origins(self) -> None:
        """
        Each origin of each route: up, not ejected; after a refused
        connection the first origin is ejected (once), and the kept-alive
        connection to the second is idle in the pool.
        """
        h = reverse(9001, 9002, retries=1)
        metrics = observed(h)
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        h.refuseOrigin()
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        labels = '{origin="http://127.0.0.1:%d",route="/",vhost="app.example.test"}'
        self.assertEqual(
            lines(metrics, "proxykit_origin_up")
            + lines(metrics, "proxykit_origin_eject"),
            [
                "proxykit_origin_up" + labels % 9001 + " 1.0",
                "proxykit_origin_up" + labels % 9002 + " 1.0",
                "proxykit_origin_ejected" + labels % 9001 + " 1.0",
                "proxykit_origin_ejected" + labels % 9002 + " 0.0",
                "proxykit_origin_ejections_total" + labels % 9001 + " 1.0",
                "proxykit_origin_ejections_total" + labels % 9002 + " 0.0",
            ],
        )
        self.assertEqual(
            lines(metrics, "proxykit_pool_connections"),
            [
                'proxykit_pool_connections{origin="http://127.0.0.1:9002",state="idle"} 1.0',
                'proxykit_pool_connections{origin="http://127.0.0.1:9002",state="active"} 0.0',
            ],
        )
        [first, second] = originStates(h.factory)
        self.assertEqual((first.ejected, second.idle, second.checks), (True, 1, None))

    def test_healthChecks(self) -> None:
        """
        The active health checks of a route's origins are counted by result;
        an origin marked down is C{proxykit_origin_up 0}.
        """
        h = reverse(9001)
        metrics = observed(h)
        [route] = list(tableOf(h.factory.router) or ())
        group = route.upstream
        assert isinstance(group, OriginGroup)
        connector = FakeConnector()
        checker = HealthChecker(
            group, HealthCheckConfig(path="/", interval=5.0, timeout=2.0, rise=1, fall=1),
            reactor=h.reactor, connector=connector,
        )
        h.factory.healthCheckers = (checker,)
        [origin] = group.origins
        checker.start()
        connector.answer(origin, UNAVAILABLE)
        labels = 'origin="http://127.0.0.1:9001",route="/",vhost="app.example.test"'
        self.assertEqual(
            lines(metrics, "proxykit_health_checks_total") + lines(metrics, "proxykit_origin_up"),
            [
                'proxykit_health_checks_total{origin="http://127.0.0.1:9001",result="passed",'
                'route="/",vhost="app.example.test"} 0.0',
                'proxykit_health_checks_total{origin="http://127.0.0.1:9001",result="failed",'
                'route="/",vhost="app.example.test"} 1.0',
                "proxykit_origin_up{" + labels + "} 0.0",
            ],
        )
        checker.stop()

    def test_forwardPoolTogether(self) -> None:
        """
        Forward-proxy origins' pooled connections are counted together as
        C{origin="forward"}: a client does not make a label per host.
        """
        h = Harness()
        metrics = observed(h)
        h.send(GET)
        origin, ot = h.acceptOrigin()
        self.assertEqual(
            lines(metrics, "proxykit_pool_connections"),
            [
                'proxykit_pool_connections{origin="forward",state="idle"} 0.0',
                'proxykit_pool_connections{origin="forward",state="active"} 1.0',
            ],
        )


class LiveStateTests(SynchronousTestCase):
    """
    Open connections, readiness, the configuration and reloads are read
    when the metrics are rendered.
    """

    def test_connections(self) -> None:
        """
        Each listener's open client connections, named by the address it is
        bound to.
        """
        h = Harness()
        gate = ListenerGate(h.factory, 10)

        class Port:
            def getHost(self) -> IPv4Address:
                return IPv4Address("TCP", "127.0.0.1", 8080)

        gate.port = Port()  # type: ignore[assignment]
        gate.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50001))
        metrics = observed(h, gates=[gate])
        self.assertEqual(
            lines(metrics, "proxykit_client_connections"),
            ['proxykit_client_connections{listener="127.0.0.1:8080"} 1.0'],
        )

    def test_namedListener(self) -> None:
        """
        A listener named by its endpoint string (as C{twistd proxykit}'s
        are) is named so in the request counts and the connection gauge.
        """
        h = Harness()
        gate = ListenerGate(h.factory, 10, "tcp:8080:interface=127.0.0.1")
        metrics = observed(h, gates=[gate])
        base = accessRecord("http://x.test/")
        metrics.requestDone(
            base._replace(client=attrs.evolve(base.client, listener=gate.name))
        )
        self.assertEqual(
            lines(metrics, "proxykit_client_connections"),
            ['proxykit_client_connections{listener="tcp:8080:interface=127.0.0.1"} 0.0'],
        )
        self.assertIn(
            'listener="tcp:8080:interface=127.0.0.1"',
            lines(metrics, "proxykit_requests_total")[0],
        )

    def test_unboundGate(self) -> None:
        """
        A gate whose port is not known yet (an application listened without
        telling it) is named by its endpoint string, if given.
        """
        h = Harness()
        gates = [ListenerGate(h.factory, 10), ListenerGate(h.factory, 10)]
        metrics = observed(h, gates=gates, endpoints=["tcp:8082:interface=127.0.0.1"])
        self.assertEqual(
            lines(metrics, "proxykit_client_connections"),
            [
                'proxykit_client_connections{listener="tcp:8082:interface=127.0.0.1"} 0.0',
                'proxykit_client_connections{listener="unknown"} 0.0',
            ],
        )

    def test_readyAndConfig(self) -> None:
        """
        C{proxykit_ready} follows the state; the configuration's digest and
        load time are shown.
        """
        h = Harness()
        state = EmbeddedProxy(h.factory, configVersion=ConfigVersion("0123abcd", 1700000000.5))
        metrics = Metrics(state)
        self.assertEqual(lines(metrics, "proxykit_ready"), ["proxykit_ready 1.0"])
        state.ready = False
        self.assertEqual(lines(metrics, "proxykit_ready"), ["proxykit_ready 0.0"])
        self.assertEqual(
            lines(metrics, "proxykit_config_"),
            [
                'proxykit_config_info{digest="0123abcd"} 1.0',
                "proxykit_config_loaded_timestamp_seconds 1.7000000005e+09",
            ],
        )

    def test_reloads(self) -> None:
        """
        Reload outcomes are counted by result.
        """
        metrics = Metrics(EmbeddedProxy(Harness().factory))
        version = ConfigVersion("0123abcd", 0.0)
        metrics.reloaded(ReloadOutcome(True, version))
        metrics.reloaded(ReloadOutcome(False, version, "bad.toml:3: listen: oops"))
        metrics.reloaded(ReloadOutcome(False, version, "bad.toml:3: listen: oops"))
        self.assertEqual(
            lines(metrics, "proxykit_reloads_total"),
            [
                'proxykit_reloads_total{result="success"} 1.0',
                'proxykit_reloads_total{result="failure"} 2.0',
            ],
        )


class DocumentationTests(SynchronousTestCase):
    """
    docs/operations.rst lists exactly the metrics proxykit exposes, with
    their labels, and its alert rules use only those.
    """

    def families(self) -> dict[str, set[str]]:
        """
        Each metric's name as exposed (counters with C{_total}) and its
        label names, from a reverse proxy with a health-checked route that
        served a request.
        """
        h = reverse(9001)
        metrics = observed(
            h, gates=[ListenerGate(h.factory, 10)], configVersion=ConfigVersion("0123abcd", 0.0)
        )
        [route] = list(tableOf(h.factory.router) or ())
        assert isinstance(route.upstream, OriginGroup)
        checker = HealthChecker(
            route.upstream, HealthCheckConfig(path="/"), reactor=h.reactor, connector=FakeConnector()
        )
        from twisted.internet.task import Clock

        from proxykit.config import OriginConfig
        from proxykit.relay.discovery import OriginDiscovery

        from .test_discovery import FakeResolver

        named = (OriginConfig("http://app.test"),)
        discovery = OriginDiscovery(
            OriginGroup([], allowEmpty=True, clock=Clock()), named, FakeResolver(), reactor=Clock()
        )
        discovery.start()
        discovery.stop()
        h.factory.healthCheckers = (checker, discovery)
        h.factory.hooks.beforeRouting(
            lambda event: Refuse(403, "no") if event.request.target == b"/no" else None
        )
        h.send(b"GET /page HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        origin, ot = h.acceptOrigin()
        origin.dataReceived(OK)
        h.send(b"GET /no HTTP/1.1\r\nHost: app.example.test\r\n\r\n")
        metrics.errorAnswered(ErrorEvent(None, ClientInfo("127.0.0.1", "127.0.0.1", 8080), 400, "bad"))
        found: dict[str, set[str]] = {}
        for family in metrics.registry.collect():
            name = family.name + ("_total" if family.type == "counter" else "")
            found[name] = {label for sample in family.samples for label in sample.labels} - {"le"}
        return found

    def documented(self) -> dict[str, set[str]]:
        """
        The metrics the guide's C{Metrics} section lists, with their labels.
        """
        text = (ROOT / "docs" / "operations.rst").read_text()
        section = text[text.index("\nMetrics\n~~~~~~~\n") : text.index("\nScraping\n~~~~~~~~\n")]
        listed: dict[str, set[str]] = {}
        for line in section.splitlines():
            if line.startswith("``proxykit_"):
                for name, labels in re.findall(r"``(proxykit_\w+)(?:\{([^}]*)\})?``", line):
                    listed[name] = {label.strip() for label in labels.split(",") if label.strip()}
        return listed

    def test_everyMetricDocumented(self) -> None:
        """
        Every metric exposed is listed with its labels, and nothing else is.
        """
        self.assertEqual(self.documented(), self.families())

    def test_alertRules(self) -> None:
        """
        The scrape configuration and alert rules name only series that
        exist, with labels they have.
        """
        families = self.families()
        page = ROOT / "docs" / "operations.rst"
        text = page.read_text()
        section = text[text.index("\nScraping\n~~~~~~~~\n") :]
        section = section[: section.index("\nSignals\n")]
        section += "".join(s.text for s in snippets(page) if "Scraping" in s.sections)
        used = re.findall(r"(proxykit_\w+)(?:\{(\w+)=)?", section)
        self.assertTrue(used)
        for name, label in used:
            self.assertIn(name, families)
            if label:
                self.assertIn(label, families[name])
        self.assertIn('targets: ["127.0.0.1:9901"]', section)
        self.assertIn("metrics_path: /metrics", section)
