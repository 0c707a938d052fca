# -*- test-case-name: tests.test_metrics -*-
"""
Prometheus metrics of a running proxy: an observer of its L{Hooks} that
counts each finished request, tunnel and error in plain Python (a few dict
and list increments per request, no C{prometheus_client} call on the
request path), and a collector that turns those counts and the proxy's live
state (open connections, pools, origin health) into metric families when
C{/metrics} is scraped.

    metrics = Metrics(EmbeddedProxy(factory, [gate]))  # proxykit.ops.state
    metrics.observe(factory.hooks)
    metrics.render()    # the Prometheus text exposition, as bytes

Every metric's name starts with C{proxykit_}; labels take their values from
the configuration (virtual host names, route prefixes, origin URLs) or from
fixed sets, never from a request, so their number stays bounded.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from ..decisions import Origin
from ..policy.balance import originURL
from ..policy.vhosts import tableOf
from ..relay.hooks import (
    ErrorEvent,
    Finished,
    Hooks,
    Outcome,
    TunnelEvent,
    TunnelRecord,
)
from .state import NO_ROUTE, IProxyState, addressName, gateName, originStates
from .version import ReloadOutcome

if TYPE_CHECKING:
    from ..relay.factory import ProxyFactory

__all__ = ["CONNECT_BUCKETS", "DURATION_BUCKETS", "MAX_REASONS", "Metrics"]

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""The upper bounds (seconds) of C{proxykit_request_duration_seconds}."""

CONNECT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""The upper bounds (seconds) of C{proxykit_origin_connect_duration_seconds}."""

MAX_REASONS = 100
"""Distinct refusal and error reasons kept apart; more are counted as
C{other} (reasons are fixed words, but an application's hooks may make
their own)."""

_CLASSES = ("none", "1xx", "2xx", "3xx", "4xx", "5xx")
_REFUSED = Outcome.REFUSED
_TUNNELED = Outcome.TUNNELED
_SWITCHED = Outcome.SWITCHED


def _histogram(
    family: HistogramMetricFamily, bounds: Sequence[float], counts: list[int], total: float
) -> HistogramMetricFamily:
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip(bounds, counts[:-1], strict=True):
        running += count
        buckets.append((_le(bound), running))
    buckets.append(("+Inf", running + counts[-1]))
    family.add_metric([], buckets, total)
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


class Metrics:
    """
    The metrics of one proxy: counts kept by observing its hooks (see
    L{observe}), live state read from C{state} when collected, exposed in
    their own C{CollectorRegistry} (L{registry}; L{render}).

    @ivar state: Where the live state is read.
    @ivar registry: The registry this collector is registered in.
    """

    def __init__(self, state: IProxyState) -> None:
        self.state = state
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests: dict[tuple[str, str, int, str, str, int], int] = {}
        self._durations = [0] * (len(DURATION_BUCKETS) + 1)
        self._durationSum = 0.0
        self._connects = [0] * (len(CONNECT_BUCKETS) + 1)
        self._connectSum = 0.0
        self._reused = 0
        self._bytesIn = 0
        self._bytesOut = 0
        self._refusals: dict[str, int] = {}
        self._errors: dict[tuple[int, str], int] = {}
        self._tunnelsOpen: dict[str, int] = {"connect": 0, "upgrade": 0}
        self._tunnels: dict[str, int] = {"connect": 0, "upgrade": 0}
        self._reloads = {"success": 0, "failure": 0}
        self._vhosts: dict[bytes | None, str] = {}
        self.registry.register(self)

    # Observing

    def observe(self, hooks: Hooks) -> None:
        """
        Count every request, tunnel and error C{hooks} sees (once, however
        often called for the same hooks).
        """
        for hook in hooks.hooks("finished"):
            if getattr(hook, "__self__", None) is self:
                return
        hooks.onTunnelOpen(self.tunnelOpened)
        hooks.onTunnelClose(self.tunnelClosed)
        hooks.onError(self.errorAnswered)
        hooks.onFinished(self.requestDone)

    def requestDone(self, record: Finished) -> None:
        """
        Count a finished request: by listener, virtual host, route and
        status class; its duration, its origin connection, its bytes, and
        its refusal.
        """
        # Per request: a few dict and list increments, nothing else (the
        # enum members are module globals: compared by identity).
        client = record.client
        route = record.route
        if route is None:
            key = (
                client.listener, client.localHost, client.localPort, NO_ROUTE, NO_ROUTE,
                record.status // 100,
            )
        else:
            request = record.request
            host = None if request is None else request.host
            vhost = self._vhosts.get(host) or self._vhostOf(host)
            key = (
                client.listener, client.localHost, client.localPort, vhost, route,
                record.status // 100,
            )
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        outcome = record.outcome
        if outcome is _REFUSED:
            self._count(self._refusals, record.reason or "unknown", "other")
        if outcome is not _TUNNELED and outcome is not _SWITCHED:
            duration = record.duration
            self._durations[bisect_left(DURATION_BUCKETS, duration)] += 1
            self._durationSum += duration
        connectTime = record.connectTime
        if connectTime is not None:
            if record.reused:
                self._reused += 1
            else:
                self._connects[bisect_left(CONNECT_BUCKETS, connectTime)] += 1
                self._connectSum += connectTime
        self._bytesIn += record.bytesIn
        self._bytesOut += record.bytesOut

    def _vhostOf(self, host: bytes | None) -> str:
        """
        The C{vhost} label of requests for C{host}: the first configured
        name of the virtual host that served it (remembered, for at most
        1024 hosts; forgotten on reload).
        """
        table = tableOf(self.state.factory.router)
        name = (table.nameFor(host) if table is not None else None) or NO_ROUTE
        vhosts = self._vhosts
        if len(vhosts) >= 1024:
            vhosts.clear()
        vhosts[host] = name
        return name

    @staticmethod
    def _count(counts: dict[str, int], key: str, other: str) -> None:
        if key not in counts and len(counts) >= MAX_REASONS:
            key = other
        counts[key] = counts.get(key, 0) + 1

    def tunnelOpened(self, event: TunnelEvent) -> None:
        """
        Count a tunnel (C{connect}) or protocol switch (C{upgrade}) that
        opened.
        """
        kind = event.kind
        self._tunnels[kind] = self._tunnels.get(kind, 0) + 1
        self._tunnelsOpen[kind] = self._tunnelsOpen.get(kind, 0) + 1

    def tunnelClosed(self, record: TunnelRecord) -> None:
        """
        A tunnel closed: one fewer open.
        """
        kind = record.kind
        self._tunnelsOpen[kind] = max(self._tunnelsOpen.get(kind, 0) - 1, 0)

    def errorAnswered(self, event: ErrorEvent) -> None:
        """
        Count an error the proxy answered (or cut a response for), by status
        and reason.
        """
        key = (event.status, event.reason)
        errors = self._errors
        if key not in errors and len(errors) >= MAX_REASONS:
            key = (event.status, "other")
        errors[key] = errors.get(key, 0) + 1

    def reloaded(self, outcome: ReloadOutcome) -> None:
        """
        Count a reload attempt (a L{proxykit.ops.version.ReloadObserver}).
        """
        self._reloads["success" if outcome.succeeded else "failure"] += 1
        if outcome.succeeded:
            self._vhosts = {}

    @property
    def tunnelsOpen(self) -> dict[str, int]:
        """
        Tunnels open now, by kind (C{connect}, C{upgrade}).
        """
        return dict(self._tunnelsOpen)

    # Collecting

    def render(self) -> bytes:
        """
        Every metric in the Prometheus text format (version 0.0.4).
        """
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        """
        The metric families (the C{prometheus_client} collector protocol).
        """
        yield from self._counted()
        yield from self._live()

    def _counted(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "proxykit_requests",
            "Requests finished, by listener, virtual host, route and status class.",
            labels=("listener", "vhost", "route", "code_class"),
        )
        for (listener, host, port, vhost, route, cls), count in sorted(self._requests.items()):
            label = _CLASSES[cls] if 0 <= cls < len(_CLASSES) else "other"
            name = listener or addressName(host, port)
            requests.add_metric((name, vhost, route, label), count)
        yield requests
        yield _histogram(
            HistogramMetricFamily(
                "proxykit_request_duration_seconds",
                "Seconds from a request's head to the end of its response (tunnels excluded).",
            ),
            DURATION_BUCKETS,
            self._durations,
            self._durationSum,
        )
        yield _histogram(
            HistogramMetricFamily(
                "proxykit_origin_connect_duration_seconds",
                "Seconds to get a new origin connection (kept-alive ones excluded).",
            ),
            CONNECT_BUCKETS,
            self._connects,
            self._connectSum,
        )
        yield CounterMetricFamily(
            "proxykit_pool_reused",
            "Requests sent on a kept-alive origin connection from the pool.",
            value=self._reused,
        )
        yield CounterMetricFamily(
            "proxykit_bytes_received",
            "Body bytes received from clients (tunnels: client to origin).",
            value=self._bytesIn,
        )
        yield CounterMetricFamily(
            "proxykit_bytes_sent",
            "Body bytes sent to clients (tunnels: origin to client).",
            value=self._bytesOut,
        )
        refusals = CounterMetricFamily(
            "proxykit_refusals",
            "Requests the proxy refused, by reason.",
            labels=("reason",),
        )
        for reason, count in sorted(self._refusals.items()):
            refusals.add_metric((reason,), count)
        yield refusals
        errors = CounterMetricFamily(
            "proxykit_errors",
            "Errors the proxy answered itself or cut a response for, by status and reason.",
            labels=("status", "reason"),
        )
        for (status, reason), count in sorted(self._errors.items()):
            errors.add_metric((str(status), reason), count)
        yield errors
        tunnels = CounterMetricFamily(
            "proxykit_tunnels", "Tunnels opened, by kind.", labels=("kind",)
        )
        tunnelsOpen = GaugeMetricFamily(
            "proxykit_tunnels_open", "Tunnels open now, by kind.", labels=("kind",)
        )
        for kind in sorted(self._tunnels):
            tunnels.add_metric((kind,), self._tunnels[kind])
            tunnelsOpen.add_metric((kind,), self._tunnelsOpen.get(kind, 0))
        yield tunnels
        yield tunnelsOpen
        reloads = CounterMetricFamily(
            "proxykit_reloads", "Configuration reloads, by result.", labels=("result",)
        )
        for result in ("success", "failure"):
            reloads.add_metric((result,), self._reloads[result])
        yield reloads

    def _live(self) -> Iterator[Metric]:
        state = self.state
        yield GaugeMetricFamily(
            "proxykit_ready", "1 when every listener is bound and not draining.", value=int(state.ready)
        )
        version = state.configVersion
        if version is not None:
            info = GaugeMetricFamily(
                "proxykit_config_info",
                "The configuration served (always 1), by digest.",
                labels=("digest",),
            )
            info.add_metric((version.digest,), 1)
            yield info
            yield GaugeMetricFamily(
                "proxykit_config_loaded_timestamp_seconds",
                "When the configuration served was loaded (Unix time).",
                value=version.loadedAt,
            )
        connections = GaugeMetricFamily(
            "proxykit_client_connections", "Client connections open now, by listener.", labels=("listener",)
        )
        seen: dict[str, int] = {}
        descriptions = list(state.endpoints)
        for index, gate in enumerate(state.gates):
            name = gateName(gate, descriptions[index] if index < len(descriptions) else None)
            seen[name] = seen.get(name, 0) + gate.open
        for name, count in sorted(seen.items()):
            connections.add_metric((name,), count)
        yield connections
        factory = state.factory
        pool = GaugeMetricFamily(
            "proxykit_pool_connections",
            "Origin connections open now, by origin and state (idle, active);"
            " forward-proxy origins together as origin=\"forward\".",
            labels=("origin", "state"),
        )
        pooled: dict[str, list[int]] = {}
        for key, (idle, active) in factory.pool.counts().items():
            name = "forward" if not isinstance(key, Origin) or key.forward else originURL(key)
            counts = pooled.setdefault(name, [0, 0])
            counts[0] += idle
            counts[1] += active
        for name, (idle, active) in sorted(pooled.items()):
            pool.add_metric((name, "idle"), idle)
            pool.add_metric((name, "active"), active)
        yield pool
        yield from self._origins(factory)

    def _origins(self, factory: ProxyFactory) -> Iterator[Metric]:
        labels = ("vhost", "route", "origin")
        up = GaugeMetricFamily(
            "proxykit_origin_up", "0 when active health checks marked the origin down, else 1.", labels=labels
        )
        ejected = GaugeMetricFamily(
            "proxykit_origin_ejected", "1 while the origin is passively ejected, else 0.", labels=labels
        )
        ejections = CounterMetricFamily(
            "proxykit_origin_ejections", "Times the origin was passively ejected.", labels=labels
        )
        checks = CounterMetricFamily(
            "proxykit_health_checks",
            "Active health checks, by origin and result (passed, failed).",
            labels=labels + ("result",),
        )
        for each in originStates(factory):
            names = (each.vhost, each.route, each.origin)
            up.add_metric(names, int(each.up))
            ejected.add_metric(names, int(each.ejected))
            ejections.add_metric(names, each.ejections)
            if each.checks is not None:
                checks.add_metric(names + ("passed",), each.checks[0])
                checks.add_metric(names + ("failed",), each.checks[1])
        yield up
        yield ejected
        yield ejections
        yield checks
        yield self._resolutions(factory)

    def _resolutions(self, factory: ProxyFactory) -> Metric:
        from ..relay.discovery import OriginDiscovery

        resolutions = CounterMetricFamily(
            "proxykit_dns_resolutions",
            "DNS resolutions of origins given by name, by origin (as configured) and"
            " result (success, failure), since the configuration was loaded.",
            labels=("origin", "result"),
        )
        totals: dict[str, list[int]] = {}
        for task in factory.healthCheckers:
            if isinstance(task, OriginDiscovery):
                for url, ok, failed in task.counts():
                    counts = totals.setdefault(url, [0, 0])
                    counts[0] += ok
                    counts[1] += failed
        for url, (ok, failed) in sorted(totals.items()):
            resolutions.add_metric((url, "success"), ok)
            resolutions.add_metric((url, "failure"), failed)
        return resolutions
