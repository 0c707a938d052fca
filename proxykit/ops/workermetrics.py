# -*- test-case-name: tests.test_workermetrics -*-
"""
The metrics of several worker processes as one: each worker's
C{/metrics} text (Prometheus exposition format) parsed, the samples with
the same name and labels added up (L{mergeMetrics}), and a few families
per worker (L{workerFamilies}).

Pure: text in, C{prometheus_client} metric families out; the supervisor
(L{proxykit.workers}) scrapes and serves them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = [
    "WorkerSample",
    "connectionsIn",
    "mergeMetrics",
    "notReady",
    "render",
    "requestsIn",
    "workerFamilies",
]

COMBINE: Mapping[str, Callable[[float, float], float]] = {
    "proxykit_ready": min,
    "proxykit_config_info": max,
    "proxykit_config_loaded_timestamp_seconds": max,
    "proxykit_origin_up": min,
    "proxykit_origin_ejected": max,
}
"""How samples of the same name and labels combine, where adding them up
would be wrong: ready only if every worker is, an origin up only if every
worker's checks say so, ejected if any worker ejected it, the newest
configuration load.  Every other sample is added up."""

READY = "proxykit_ready"
"""The sample that says whether the proxy is ready (C{/readyz})."""

REQUESTS = "proxykit_requests_total"
"""The sample counted per worker in C{proxykit_worker_requests_total}."""

CONNECTIONS = "proxykit_client_connections"
"""The sample counted per worker in C{proxykit_worker_client_connections}."""


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def mergeMetrics(texts: Iterable[str]) -> list[Metric]:
    """
    The families of every text in C{texts}, samples of the same name and
    labels combined (added up, or as L{COMBINE} says), in the order first
    seen.

    @raise ValueError: A text is not in the exposition format.
    """
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type
                )
                values[family.name] = {}
            samples = values[family.name]
            for sample in family.samples:
                key = (sample.name, _key(sample.labels))
                old = samples.get(key)
                if old is None:
                    samples[key] = sample.value
                else:
                    combine = COMBINE.get(sample.name)
                    samples[key] = combine(old, sample.value) if combine else old + sample.value
    for name, merged in families.items():
        for (sampleName, labels), value in values[name].items():
            merged.add_sample(sampleName, dict(labels), value)
    return list(families.values())


def notReady(families: list[Metric]) -> list[Metric]:
    """
    C{families} (from L{mergeMetrics}) with C{proxykit_ready} 0, as the
    supervisor's C{/readyz} says when a worker did not answer: the
    workers that did cannot speak for it.
    """
    for family in families:
        if family.name == READY:
            family.samples = [sample._replace(value=0.0) for sample in family.samples]
            return families
    return [*families, GaugeMetricFamily(READY, "1 when /readyz says ready, else 0.", value=0)]


def _total(text: str, name: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def requestsIn(text: str) -> float:
    """
    The requests a worker's metrics text counts (every
    C{proxykit_requests_total} sample added up).
    """
    return _total(text, REQUESTS)


def connectionsIn(text: str) -> float:
    """
    The client connections a worker's metrics text says it holds open
    (every C{proxykit_client_connections} sample, one per listener, added
    up).
    """
    return _total(text, CONNECTIONS)


class WorkerSample:
    """
    What the supervisor knows of one worker for L{workerFamilies}.

    @ivar number: The worker's number (1 to N).
    @ivar up: Whether it runs and answered its scrape.
    @ivar restarts: How many times it was restarted.
    @ivar requests: The requests its metrics count, or C{None} when it did
        not answer.
    @ivar connections: The client connections it holds open, or C{None}
        when it did not answer.
    """

    def __init__(
        self,
        number: int,
        up: bool,
        restarts: int,
        requests: float | None,
        connections: float | None = None,
    ) -> None:
        self.number = number
        self.up = up
        self.restarts = restarts
        self.requests = requests
        self.connections = connections


def workerFamilies(workers: Iterable[WorkerSample]) -> list[Metric]:
    """
    The supervisor's own families: C{proxykit_workers} (configured),
    C{proxykit_worker_up}, C{proxykit_worker_restarts_total},
    C{proxykit_worker_requests_total} and
    C{proxykit_worker_client_connections}, the last four by C{worker}.
    """
    workers = list(workers)
    configured = GaugeMetricFamily(
        "proxykit_workers", "Worker processes configured.", value=len(workers)
    )
    up = GaugeMetricFamily(
        "proxykit_worker_up", "1 when the worker runs and answered this scrape.", labels=("worker",)
    )
    restarts = CounterMetricFamily(
        "proxykit_worker_restarts", "Times the worker was restarted after it died.", labels=("worker",)
    )
    requests = CounterMetricFamily(
        "proxykit_worker_requests", "Requests the worker has served.", labels=("worker",)
    )
    connections = GaugeMetricFamily(
        "proxykit_worker_client_connections",
        "Client connections the worker holds open now.",
        labels=("worker",),
    )
    for worker in workers:
        label = [str(worker.number)]
        up.add_metric(label, int(worker.up))
        restarts.add_metric(label, worker.restarts)
        if worker.requests is not None:
            requests.add_metric(label, worker.requests)
        if worker.connections is not None:
            connections.add_metric(label, worker.connections)
    return [configured, up, restarts, requests, connections]


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(families: list[Metric]) -> bytes:
    """
    C{families} in the Prometheus text format.
    """
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)
