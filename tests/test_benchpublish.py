# -*- test-case-name: tests.test_benchpublish -*-
"""
Publishing the benchmark's results for the performance page
(C{bench/harness/publish.py}, C{bench/publish.py}), from a fixed results
file of three modes, C{tests/bench-results-modes.json} (the benchmark
itself is not run); and the results published in C{docs/_static/bench/}.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "bench-results-modes.json"
PUBLISHED = ROOT / "docs" / "_static" / "bench"


def harness(name: str) -> ModuleType:
    """
    A module of C{bench/harness/}, imported as C{bench/run.py} imports it.
    """
    import importlib

    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module(f"harness.{name}")


def results() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RESULTS.read_text())
    return loaded


def runPublish(*args: str) -> subprocess.CompletedProcess[str]:
    """
    Run C{python3 bench/publish.py ARGS}.
    """
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "publish.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


class SplitTests(SynchronousTestCase):
    """
    A results file of several modes is split into one file per mode.
    """

    def test_rowsOfTheMode(self) -> None:
        """
        Each mode's part has that mode's rows and targets, the no-proxy
        baseline's in forward and reverse mode, and the CONNECT,
        slow-client, idle-connection and concurrent-tunnel phases in forward
        mode only.
        """
        split = harness("publish").split
        payload = results()
        forward = split(payload, "forward")["summary"]
        self.assertEqual(
            [(r["mode"], r["proxy"], r["conns"]) for r in forward["http"]],
            [
                ("forward", "proxykit", 50),
                ("forward", "twisted.web.proxy", 50),
                ("forward", "tinyproxy", 50),
                ("forward", "proxykit", 1),
                ("baseline", "none", 50),
            ],
        )
        self.assertEqual([r["proxy"] for r in forward["tunnel"]], ["proxykit", "twisted.web.proxy", "tinyproxy"])
        self.assertEqual(len(forward["slow_client"]), 2)
        self.assertEqual([t["mode"] for t in forward["targets"]], ["forward"] * 7)
        self.assertEqual([r["connections"] for r in forward["idle"]], [10000])
        self.assertEqual([r["tunnels"] for r in forward["tunnels"]], [1000])
        self.assertEqual(sorted(forward["client_keepalive"]), ["baseline", "forward"])
        tls = split(payload, "tls")["summary"]
        self.assertEqual({r["mode"] for r in tls["http"]}, {"tls"})
        self.assertEqual(
            (tls["tunnel"], tls["slow_client"], tls["idle"], tls["tunnels"]), ([], [], [], [])
        )
        self.assertEqual([t["mode"] for t in tls["targets"]], ["tls"])
        self.assertEqual([f["proxy"] for f in tls["preflight_failures"]], ["ReverseProxyResource"])
        reverse = split(payload, "reverse")["summary"]
        self.assertEqual([r["peer"] for r in reverse["ratios"]], ["nginx"])
        self.assertEqual(reverse["preflight_failures"], [])

    def test_meta(self) -> None:
        """
        The run's description is kept, with only the mode's proxies and
        their command lines; the raw runs are left out.
        """
        payload = results()
        reverse = harness("publish").split(payload, "reverse")
        self.assertEqual(sorted(reverse), ["meta", "summary"])
        meta = reverse["meta"]
        self.assertEqual(meta["modes"], ["reverse"])
        self.assertEqual(
            meta["proxies"],
            {"reverse": ["proxykit", "ReverseProxyResource", "nginx"], "baseline": ["none"]},
        )
        self.assertEqual(
            sorted(meta["proxy_commands"]),
            ["baseline none", "reverse ReverseProxyResource", "reverse nginx", "reverse proxykit"],
        )
        for key in ("started_at", "command", "machine", "proxykit_source", "pinning", "sizes"):
            self.assertEqual(meta[key], payload["meta"][key], key)
        self.assertEqual(list(meta), list(payload["meta"]))
        tls = harness("publish").split(payload, "tls")["meta"]
        self.assertEqual(tls["proxies"], {"tls": ["proxykit", "ReverseProxyResource", "nginx"]})

    def test_splitAgain(self) -> None:
        """
        Splitting a mode's part again gives the same part.
        """
        split = harness("publish").split
        for mode in ("forward", "reverse", "tls"):
            once = split(results(), mode)
            self.assertEqual(split(once, mode), once)


class PublishTests(SynchronousTestCase):
    """
    C{python3 bench/publish.py RESULTS... [--out DIRECTORY]}.
    """

    def test_publish(self) -> None:
        """
        Each mode's results and chart are written as C{MODE.json} and
        C{MODE.svg}, and named; the chart is what C{harness/chart.py}
        draws from that results file.
        """
        out = Path(self.mktemp())
        done = runPublish(str(RESULTS), "--out", str(out))
        self.assertEqual(done.returncode, 0, done.stderr)
        names = ["forward.json", "forward.svg", "reverse.json", "reverse.svg", "tls.json", "tls.svg"]
        self.assertEqual(sorted(p.name for p in out.iterdir()), names)
        self.assertEqual(sorted(done.stdout.split()), [str(out / name) for name in names])
        charts = harness("chart").charts
        split = harness("publish").split
        for mode in ("forward", "reverse", "tls"):
            mine = json.loads((out / f"{mode}.json").read_text())
            self.assertEqual(mine, split(results(), mode))
            self.assertEqual((out / f"{mode}.svg").read_text(), charts(mine)[mode])

    def test_publishAgain(self) -> None:
        """
        Publishing published files writes the same bytes.
        """
        first, second = Path(self.mktemp()), Path(self.mktemp())
        self.assertEqual(runPublish(str(RESULTS), "--out", str(first)).returncode, 0)
        again = sorted(str(p) for p in first.glob("*.json"))
        done = runPublish(*again, "--out", str(second))
        self.assertEqual(done.returncode, 0, done.stderr)
        for path in sorted(first.iterdir()):
            self.assertEqual((second / path.name).read_bytes(), path.read_bytes(), path.name)

    def test_otherModesKept(self) -> None:
        """
        Publishing one mode replaces that mode's files and leaves the
        others'.
        """
        out = Path(self.mktemp())
        self.assertEqual(runPublish(str(RESULTS), "--out", str(out)).returncode, 0)
        reverse = (out / "reverse.json").read_bytes()
        payload = results()
        payload["meta"]["modes"] = ["forward"]
        payload["meta"]["started_at"] = "20261202-080000"
        newer = Path(self.mktemp())
        newer.write_text(json.dumps(payload))
        done = runPublish(str(newer), "--out", str(out))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.split(), [str(out / "forward.json"), str(out / "forward.svg")])
        self.assertEqual(json.loads((out / "forward.json").read_text())["meta"]["started_at"], "20261202-080000")
        self.assertEqual((out / "reverse.json").read_bytes(), reverse)

    def test_refused(self) -> None:
        """
        A mode in two of the files, an interrupted run and a file that
        cannot be read are refused with a message and status 1, and
        nothing is written.
        """
        interrupted = results()
        interrupted["meta"]["interrupted"] = True
        stopped = Path(self.mktemp())
        stopped.write_text(json.dumps(interrupted))
        missing = Path(self.mktemp())
        for args, message in [
            ((str(RESULTS), str(RESULTS)), "forward mode is in both"),
            ((str(stopped),), "the run was interrupted"),
            ((str(missing),), "cannot read"),
        ]:
            out = Path(self.mktemp())
            done = runPublish(*args, "--out", str(out))
            self.assertEqual(done.returncode, 1, args)
            self.assertIn(message, done.stderr)
            self.assertEqual(done.stdout, "")
            self.assertFalse(out.exists())

    def test_modeWithoutResults(self) -> None:
        """
        A mode without requests-per-second results (its loads skipped) is
        not published, and the command says so.
        """
        payload = results()
        payload["summary"]["http"] = [r for r in payload["summary"]["http"] if r["mode"] != "tls"]
        path = Path(self.mktemp())
        path.write_text(json.dumps(payload))
        out = Path(self.mktemp())
        done = runPublish(str(path), "--out", str(out))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("tls mode has no req/s results: not published", done.stderr)
        self.assertFalse((out / "tls.json").exists())
        self.assertTrue((out / "reverse.json").exists())


class PublishedResultsTests(SynchronousTestCase):
    """
    The results published in C{docs/_static/bench/}, which the performance
    page shows.
    """

    def test_pairs(self) -> None:
        """
        The directory holds a results file and a chart for each of some of
        the modes, and nothing else.
        """
        names = sorted(p.name for p in PUBLISHED.iterdir())
        modes = sorted({Path(name).stem for name in names})
        self.assertTrue(modes)
        self.assertLessEqual(set(modes), {"forward", "reverse", "tls"})
        self.assertEqual(names, sorted(f"{mode}.{ext}" for mode in modes for ext in ("json", "svg")))

    def test_chartsDrawnFromTheirResults(self) -> None:
        """
        Each chart is, byte for byte, what C{harness/chart.py} draws from
        the results file beside it, so it cannot drift from its data; and
        each results file is what publishing it again writes.
        """
        charts = harness("chart").charts
        published = harness("publish").published
        for path in sorted(PUBLISHED.glob("*.json")):
            mode = path.stem
            payload = json.loads(path.read_text())
            self.assertEqual(payload["meta"]["modes"], [mode])
            self.assertEqual((PUBLISHED / f"{mode}.svg").read_text(), charts(payload)[mode])
            files, notes = published([(path.name, payload)])
            self.assertEqual(notes, [])
            self.assertEqual(files[f"{mode}.json"], path.read_text())
            self.assertEqual(files[f"{mode}.svg"], (PUBLISHED / f"{mode}.svg").read_text())

    def test_small(self) -> None:
        """
        The published files are small: no raw runs.
        """
        for path in sorted(PUBLISHED.iterdir()):
            self.assertLess(path.stat().st_size, 48 * 1024, path.name)
            if path.suffix == ".json":
                self.assertNotIn("raw", json.loads(path.read_text()))
