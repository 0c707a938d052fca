# -*- test-case-name: tests.test_benchreport -*-
"""
The benchmark's targets (C{bench/harness/report.py}: C{targets}) and how
the text and Markdown reports show them and the scale phases, from the
fixed results file C{tests/bench-results-modes.json} (the benchmark itself
is not run).
"""

from __future__ import annotations

import copy
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from .test_benchpublish import harness, results


def verdicts(rows: list[dict[str, Any]]) -> dict[str, tuple[str, float | None]]:
    """
    Each target's verdict and figure, by the start of its name.
    """
    return {t["target"][:40]: (t["verdict"], t["measured"]) for t in rows}


def summaryAndResults(payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """
    The fixed results as C{bench/run.py} holds them before it writes them,
    and their summary.
    """
    report = harness("report")
    summary = payload["summary"]
    # The fixed file keeps only what the docs' tables show of each row.
    for row in summary["http"]:
        for key in ("p50_ms", "p99_ms", "peak_rss_mib", "load_cpu_share"):
            row.setdefault(key, None)
        row.setdefault("non2xx", 0)
        row.setdefault("socket_errors", 0)
    for row in summary["slow_client"]:
        row.setdefault("baseline_kib", 0)
        row.setdefault("received", 0)
        row.setdefault("seconds", 0.0)
    held = report.Results(payload["meta"])
    held.idle, held.tunnels = summary["idle"], summary["tunnels"]
    return held, {**summary, "targets": report.targets(summary["http"], held.idle, held.tunnels)}


class TargetsTests(SynchronousTestCase):
    """
    L{targets} lists every target of issue 14 and issue 11's access-log
    target, with PASS, FAIL or pending.
    """

    def test_fixedResults(self) -> None:
        """
        The fixed results give the targets stored beside them: the CPU
        per request against nginx's (reverse mode's row, for both modes),
        the req/s ratios against the peers, reverse's CPU against
        forward's, and the two scale phases; a figure the run lacks is
        pending.
        """
        payload = results()
        summary = payload["summary"]
        found = harness("report").targets(summary["http"], summary["idle"], summary["tunnels"])
        self.assertEqual(found, summary["targets"])
        self.assertEqual(
            [(t["mode"], t["verdict"], t["measured"], t["needed"], t["better"]) for t in found],
            [
                ("forward", "FAIL", 5.0, 3.0, "lower"),
                ("reverse", "FAIL", 6.25, 3.0, "lower"),
                ("forward", "PASS", 5.0, 5.0, "higher"),
                ("forward", "pending", None, 1.5, "higher"),
                ("forward", "pending", None, 0.9, "higher"),
                ("reverse", "PASS", 5.0, 5.0, "higher"),
                ("reverse", "FAIL", 1.25, 1.1, "lower"),
                ("forward", "pending", None, 0.7, "higher"),
                ("reverse", "pending", None, 0.7, "higher"),
                ("tls", "FAIL", 0.2, 0.5, "higher"),
                ("forward", "PASS", 4.915, 5.0, "lower"),
                ("forward", "FAIL", 1.006, 2.0, "lower"),
            ],
        )
        self.assertEqual(
            found[-1]["note"],
            "998 of 1000 completed: ScaleError: closed after 65536 of 1048576 bytes back;"
            " 2 tunnels not done in 300 s",
        )

    def test_nothingMeasured(self) -> None:
        """
        A run without figures (a scale-only run that failed, say) lists
        every target as pending.
        """
        found = harness("report").targets([], [], [])
        self.assertEqual(len(found), 12)
        self.assertEqual({t["verdict"] for t in found}, {"pending"})

    def test_loadBound(self) -> None:
        """
        A ratio to a peer that was load-bound says that it flatters
        proxykit.
        """
        http = copy.deepcopy(results()["summary"]["http"])
        for row in http:
            if (row["mode"], row["proxy"], row["size"]) == ("tls", "nginx", "small"):
                row["flags"] = ["load-bound"]
        [tls] = [t for t in harness("report").targets(http) if t["mode"] == "tls"]
        self.assertEqual(
            tls["note"],
            "nginx was load-bound: its req/s is the load generator's limit, so the ratio flatters proxykit",
        )

    def test_cpuLoadBound(self) -> None:
        """
        The CPU targets against nginx say that the ratio flatters proxykit
        when nginx was load-bound (its CPU per request is then higher than
        at saturation); an nginx that was not leaves them without a note.
        """
        http = copy.deepcopy(results()["summary"]["http"])
        report = harness("report")
        cpuTargets = [t for t in report.targets(http) if "3x nginx" in t["target"]]
        self.assertEqual([t["note"] for t in cpuTargets], ["", ""])
        for row in http:
            if (row["mode"], row["proxy"], row["size"]) == ("reverse", "nginx", "small"):
                row["flags"] = ["load-bound"]
        cpuTargets = [t for t in report.targets(http) if "3x nginx" in t["target"]]
        self.assertEqual(len(cpuTargets), 2)
        for target in cpuTargets:
            self.assertTrue(target["note"].startswith("nginx was load-bound:"), target)
            self.assertIn("flatters proxykit", target["note"])

    def test_idle(self) -> None:
        """
        Idle connections pass at 5 KiB each or less with every connection
        held; one not held fails whatever the memory; a phase that opened
        nothing (too few descriptors) is pending, with the reason.
        """
        targets = harness("report").targets
        row = {"connections": 100, "opened": 100, "held": 100, "kib_per_connection": 5.0, "error": ""}
        self.assertEqual(targets([], [row])[-2]["verdict"], "PASS")
        self.assertEqual(targets([], [{**row, "kib_per_connection": 5.01}])[-2]["verdict"], "FAIL")
        closed = targets([], [{**row, "held": 90, "error": "10 connections closed before the second request"}])[-2]
        self.assertEqual(
            (closed["verdict"], closed["note"]),
            ("FAIL", "held 90 of 100: 10 connections closed before the second request"),
        )
        short = targets([], [{"connections": 100, "error": "needs 164 open files, the hard limit (ulimit -Hn) is 100"}])[-2]
        self.assertEqual(
            (short["verdict"], short["note"]),
            ("pending", "needs 164 open files, the hard limit (ulimit -Hn) is 100"),
        )
        self.assertIn("100 idle keep-alive client connections", short["target"])

    def test_tunnels(self) -> None:
        """
        Tunnels pass when every one completed and the slowest took at most
        twice the median's time.
        """
        targets = harness("report").targets
        row = {"tunnels": 10, "opened": 10, "completed": 10, "stall_ratio": 2.0, "errors": []}
        self.assertEqual(targets([], [], [row])[-1]["verdict"], "PASS")
        self.assertEqual(targets([], [], [{**row, "stall_ratio": 2.5}])[-1]["verdict"], "FAIL")
        refused = targets([], [], [{**row, "opened": 0, "completed": 0, "stall_ratio": None, "errors": ["opening: x"]}])[-1]
        self.assertEqual((refused["verdict"], refused["note"]), ("pending", "opening: x"))


class RenderTests(SynchronousTestCase):
    """
    The text report and the Markdown both show the scale phases and every
    target, as the JSON summary has them.
    """

    def test_text(self) -> None:
        """
        The text report has the idle and tunnel figures in forward mode's
        part and every target at the end, with its bound and note.
        """
        held, summary = summaryAndResults(results())
        text = harness("report").render(held, summary)
        self.assertIn(
            "Idle keep-alive connections (10,000, proxykit):\n"
            "  held 10000 of 10000; proxy RSS 57.0 -> 105.0 MiB, 4.92 KiB per connection (70 s)",
            text,
        )
        self.assertIn(
            "  per tunnel, min / median / max: time 8.10 / 8.25 / 8.30 s; MB/s 0.13 / 0.13 / 0.13;"
            " first byte back 0.40 / 1.20 / 5.00 s",
            text,
        )
        tail = text.split("Targets (issue 14, and issue 11's access log; pending: not measured):\n")[1]
        lines = tail.splitlines()[: len(summary["targets"])]
        self.assertEqual(len(lines), 12)
        self.assertEqual(
            lines[0],
            "  [FAIL] small, 50 conns: proxykit forward's CPU per request <= 3x nginx's"
            " (nginx proxy_pass, reverse mode) (measured 5.00, needed <= 3)",
        )
        self.assertEqual([line.split("]")[0].strip(" [") for line in lines], [t["verdict"] for t in summary["targets"]])

    def test_markdown(self) -> None:
        """
        The Markdown has a table per scale phase and a list of every
        target with its verdict.
        """
        held, summary = summaryAndResults(results())
        text = harness("report").markdown(held, summary)
        self.assertIn("| 10,000 | 10000 | 57.0 | 105.0 | 4.92 | 70 |  |", text)
        self.assertIn("| 1,000 × 1024 KiB | 998 | 8.3 | 8.10 / 8.25 / 8.30 | 0.13 / 0.13 / 0.13 | 0.40 / 1.20 / 5.00 | 1.01 |", text)
        listed = text.split("## Targets\n\n")[1].splitlines()[: len(summary["targets"])]
        self.assertEqual([line.split("**")[1] for line in listed], [t["verdict"] for t in summary["targets"]])
        self.assertEqual(
            listed[10],
            "- **PASS** 10,000 idle keep-alive client connections held, <= 5 KiB each"
            " (proxy RSS growth / connections) (measured 4.92, needed ≤ 5)",
        )
