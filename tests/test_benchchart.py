# -*- test-case-name: tests.test_benchchart -*-
"""
The benchmark's charts (C{bench/harness/chart.py}, C{bench/chart.py}),
drawn from a fixed results file, C{tests/bench-results.json} (the benchmark
itself is not run).
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "bench-results.json"
SVG = "{http://www.w3.org/2000/svg}"


def chartModule():  # type: ignore[no-untyped-def]
    """
    C{bench/harness/chart.py}, imported as C{bench/run.py} imports it.
    """
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from harness import chart

    return chart


class ChartTests(SynchronousTestCase):
    """
    A bar per proxy, scaled to the fastest, from the results' summary.
    """

    def test_bars(self) -> None:
        """
        The bars are each proxy's median req/s for small responses over 50
        connections, in the results' order, the no-proxy baseline last in
        forward and reverse mode; a proxy without results has none.
        """
        payload = json.loads(RESULTS.read_text())
        self.assertEqual(
            chartModule().bars(payload, "forward"),
            [
                ("proxykit", 12000.0),
                ("proxykit+accesslog", 10500.0),
                ("twisted.web.proxy", 1500.0),
                ("proxy.py", None),
                ("tinyproxy", 24000.0),
                ("none", 48000.0),
            ],
        )

    def test_svg(self) -> None:
        """
        The chart is well-formed SVG: a bar per proxy with results, its
        width proportional to its req/s (the fastest the widest), each
        labelled with its name and value; a proxy without results is
        named, with no bar.
        """
        chart = chartModule()
        payload = json.loads(RESULTS.read_text())
        drawn = chart.charts(payload)
        self.assertEqual(sorted(drawn), ["forward", "reverse"])
        root = ET.fromstring(drawn["forward"])
        self.assertEqual(root.tag, f"{SVG}svg")
        bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
        widths = {r.find(f"{SVG}title").text.split(":")[0]: float(r.get("width")) for r in bars}
        self.assertEqual(set(widths), {"proxykit", "proxykit+accesslog", "twisted.web.proxy", "tinyproxy", "none"})
        full = 640 - chart.LABEL_WIDTH - chart.VALUE_WIDTH
        self.assertAlmostEqual(widths["none"], full, places=0)
        self.assertAlmostEqual(widths["proxykit"], full / 4, places=0)
        texts = [t.text for t in root.iter(f"{SVG}text")]
        self.assertIn("12,000", texts)
        self.assertIn("proxy.py", texts)
        self.assertIn("no result", texts)
        self.assertIn("Forward proxy", texts[0])

    def test_command(self) -> None:
        """
        C{python3 bench/chart.py RESULTS --out DIRECTORY} writes one chart
        per mode and names them.
        """
        out = Path(self.mktemp())
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "chart.py"), str(RESULTS), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        written = sorted(p.name for p in out.iterdir())
        self.assertEqual(written, ["bench-forward.svg", "bench-reverse.svg"])
        self.assertEqual(done.stdout.split(), [str(out / name) for name in written])
        ET.parse(out / "bench-forward.svg")
