"""
Tests for L{proxykit.ops.workermetrics}: several workers' metrics texts
become one, added up, with families per worker.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial.unittest import SynchronousTestCase

from proxykit.ops.workermetrics import (
    WorkerSample,
    connectionsIn,
    mergeMetrics,
    notReady,
    render,
    requestsIn,
    workerFamilies,
)

WORKER = """\
# HELP proxykit_requests_total Requests finished.
# TYPE proxykit_requests_total counter
proxykit_requests_total{code_class="2xx",listener="tcp:0"} %(ok)s
proxykit_requests_total{code_class="5xx",listener="tcp:0"} %(bad)s
# HELP proxykit_ready 1 when ready.
# TYPE proxykit_ready gauge
proxykit_ready %(ready)s
# HELP proxykit_origin_ejected 1 while ejected.
# TYPE proxykit_origin_ejected gauge
proxykit_origin_ejected{origin="http://a"} %(ejected)s
# HELP proxykit_request_duration_seconds Durations.
# TYPE proxykit_request_duration_seconds histogram
proxykit_request_duration_seconds_bucket{le="0.1"} %(ok)s
proxykit_request_duration_seconds_bucket{le="+Inf"} %(total)s
proxykit_request_duration_seconds_count %(total)s
proxykit_request_duration_seconds_sum 1.5
"""


def worker(ok: int, bad: int, ready: int, ejected: int) -> str:
    return WORKER % {"ok": ok, "bad": bad, "ready": ready, "ejected": ejected, "total": ok + bad}


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


class MergeTests(SynchronousTestCase):
    """
    L{mergeMetrics} adds up the samples of the same name and labels.
    """

    def test_addedUp(self) -> None:
        """
        Counters and histograms add up over the workers, label set by label
        set; readiness is the least, ejection the most.
        """
        merged = samples(render(mergeMetrics([worker(3, 1, 1, 0), worker(4, 0, 0, 1)])))
        self.assertEqual(
            merged[("proxykit_requests_total", (("code_class", "2xx"), ("listener", "tcp:0")))], 7
        )
        self.assertEqual(
            merged[("proxykit_requests_total", (("code_class", "5xx"), ("listener", "tcp:0")))], 1
        )
        self.assertEqual(merged[("proxykit_request_duration_seconds_count", ())], 8)
        self.assertEqual(merged[("proxykit_request_duration_seconds_sum", ())], 3.0)
        self.assertEqual(merged[("proxykit_request_duration_seconds_bucket", (("le", "0.1"),))], 7)
        self.assertEqual(merged[("proxykit_ready", ())], 0)
        self.assertEqual(merged[("proxykit_origin_ejected", (("origin", "http://a"),))], 1)

    def test_oneWorker(self) -> None:
        """
        One worker's text comes out with the same samples.
        """
        text = worker(2, 5, 1, 0)
        self.assertEqual(samples(render(mergeMetrics([text]))), samples(text.encode()))

    def test_nothing(self) -> None:
        """
        No worker answered: no families.
        """
        self.assertEqual(mergeMetrics([]), [])

    def test_notReady(self) -> None:
        """
        L{notReady} sets C{proxykit_ready} to 0 and leaves the rest; with
        no worker's metrics at all, it adds the sample.
        """
        merged = notReady(mergeMetrics([worker(1, 0, 1, 0), worker(2, 0, 1, 0)]))
        found = samples(render(merged))
        self.assertEqual(found[("proxykit_ready", ())], 0)
        self.assertEqual(found[("proxykit_requests_total", (("code_class", "2xx"), ("listener", "tcp:0")))], 3)
        self.assertEqual(samples(render(notReady([]))), {("proxykit_ready", ()): 0})

    def test_requestsIn(self) -> None:
        """
        L{requestsIn} adds up every C{proxykit_requests_total} sample.
        """
        self.assertEqual(requestsIn(worker(3, 2, 1, 0)), 5)
        self.assertEqual(requestsIn(""), 0)

    def test_connectionsIn(self) -> None:
        """
        L{connectionsIn} adds up the open client connections of every
        listener.
        """
        text = (
            "# HELP proxykit_client_connections Open.\n"
            "# TYPE proxykit_client_connections gauge\n"
            'proxykit_client_connections{listener="tcp:0"} 7.0\n'
            'proxykit_client_connections{listener="tcp:1"} 2.0\n'
        )
        self.assertEqual(connectionsIn(text), 9)
        self.assertEqual(connectionsIn(worker(3, 2, 1, 0)), 0)

    def test_workerFamilies(self) -> None:
        """
        The supervisor's families: workers configured, and by worker its
        state, restarts, requests and open client connections (left out
        while it did not answer).
        """
        text = render(
            workerFamilies([WorkerSample(1, True, 0, 12.0, 5.0), WorkerSample(2, False, 3, None)])
        )
        found = samples(text)
        self.assertEqual(found[("proxykit_workers", ())], 2)
        self.assertEqual(found[("proxykit_worker_up", (("worker", "1"),))], 1)
        self.assertEqual(found[("proxykit_worker_up", (("worker", "2"),))], 0)
        self.assertEqual(found[("proxykit_worker_restarts_total", (("worker", "2"),))], 3)
        self.assertEqual(found[("proxykit_worker_requests_total", (("worker", "1"),))], 12)
        self.assertNotIn(("proxykit_worker_requests_total", (("worker", "2"),)), found)
        self.assertEqual(found[("proxykit_worker_client_connections", (("worker", "1"),))], 5)
        self.assertNotIn(("proxykit_worker_client_connections", (("worker", "2"),)), found)
