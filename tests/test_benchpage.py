# -*- test-case-name: tests.test_benchpage -*-
"""
The performance page, C{docs/performance.rst}: the C{proxykit-bench}
directive of C{docs/_ext/proxykit_bench.py}, which draws its tables from
the benchmark's results (here from the fixed results file
C{tests/bench-results-modes.json}, and from those published in
C{docs/_static/bench/}), and the commands the page gives, which run the
benchmark and so are checked for form only.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from ._helpers import docsExtension
from ._snippets import EXAMPLES, ROOT, commands, regions, snippets
from .test_benchpublish import PUBLISHED, harness, results

DOCS = ROOT / "docs"


def extension() -> ModuleType:
    """
    The docs' extension module, C{docs/_ext/proxykit_bench.py}.
    """
    return docsExtension("proxykit_bench")


def benchScript(name: str) -> ModuleType:
    """
    The command C{bench/NAME.py}, imported as a module (its C{harness}
    package beside it).
    """
    harness("report")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def tables(lines: list[str]) -> dict[str, list[list[str]]]:
    """
    The C{list-table}s of C{lines}, by caption: their rows of cells, the
    header row first.
    """
    found: dict[str, list[list[str]]] = {}
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith(".. list-table:: "):
            rows = found.setdefault(line.removeprefix(".. list-table:: "), [])
        elif line.startswith("   * - "):
            rows.append([line.removeprefix("   * - ")])
        elif line.startswith("     - "):
            rows[-1].append(line.removeprefix("     - "))
    return found


def doctree(lines: list[str]) -> Any:
    """
    C{lines} parsed by docutils; a problem of any level fails the test.
    """
    try:
        from docutils import nodes
        from docutils.core import publish_doctree
    except ImportError:
        raise SkipTest("docutils is not installed (pip install '.[docs]')")
    tree = publish_doctree(
        "\n".join(lines),
        settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": False},
    )
    problems = [str(node) for node in tree.findall(nodes.system_message)]
    assert not problems, problems
    return tree


class BenchLinesTests(SynchronousTestCase):
    """
    L{benchLines} writes a mode's results as reStructuredText.
    """

    def lines(self, mode: str, chart: str | None = None) -> list[str]:
        payload = harness("publish").split(results(), mode)
        lines: list[str] = extension().benchLines(payload, mode, chart)
        return lines

    def test_chart(self) -> None:
        """
        The chart comes first, when there is one.
        """
        lines = self.lines("forward", "/_static/bench/forward.svg")
        self.assertEqual(lines[0], ".. image:: /_static/bench/forward.svg")
        self.assertNotIn(".. image::", "\n".join(self.lines("forward")))

    def test_run(self) -> None:
        """
        The run is described: when, how, which proxykit, which machine,
        the pinning and the versions.
        """
        lines = self.lines("reverse")
        self.assertIn(":Run: 2026-12-01 09:30:00 (results ``bench-20261201-093000.json``)", lines)
        self.assertIn(":Command: ``run.py --reps 3``", lines)
        self.assertIn(
            ":Loads: 10 s per load, 3 repetitions (the no-proxy baseline: 1); the figures are medians",
            lines,
        )
        self.assertIn(
            ":proxykit: 0.1.0.dev0, commit ``abc1234``,"
            " reactor: twistd default (proxykit.reactor.ProxyReactor)",
            lines,
        )
        self.assertIn(
            ":Machine: AMD EPYC, 2 CPUs, 23.5 GiB of memory, Debian GNU/Linux 12 (bookworm),"
            " Linux 6.18.44, Python 3.11.7",
            lines,
        )
        self.assertIn(
            ":Pinning: each proxy on CPU 0; wrk, origin nginx, tunnel origin, harness on CPU 1",
            lines,
        )
        self.assertIn(
            ":Versions: ``nginx version: nginx/1.22.1``, twisted ``26.10.0``, proxykit ``0.1.0.dev0``",
            lines,
        )

    def test_forwardTables(self) -> None:
        """
        A table per load the results have, the proxies in the results'
        order and the no-proxy baseline last: req/s, p99, CPU share, CPU
        time per request and proxykit's req/s over the proxy's, with notes;
        a figure missing is a dash.
        """
        found = tables(self.lines("forward"))
        self.assertEqual(
            list(found),
            [
                "100 B responses, 50 connections",
                "100 B responses, 1 connection",
                "CONNECT tunnel, 256 MiB from the origin",
                "A slow client reading a large response: the proxy's memory growth",
                "Idle keep-alive client connections held by proxykit: memory per connection",
                "Concurrent CONNECT tunnels through proxykit, each echoing its bytes at once",
            ],
        )
        self.assertEqual(
            found["100 B responses, 50 connections"],
            [
                ["proxy", "req/s", "p99 ms", "CPU", "CPU µs/request", "proxykit ÷ proxy (req/s)", "notes"],
                ["**proxykit**", "20,000", "4.00", "100%", "50.0", "1.00", "–"],
                [
                    "twisted.web.proxy", "4,000", "30.00", "100%", "250.0", "5.00",
                    "client keep-alive: no (sends Connection: close)",
                ],
                [
                    "tinyproxy", "5,000", "14.00", "90%", "180.0", "4.00",
                    "silent-close; socket-errors; 1200 socket errors; median of 2 of 3 runs;"
                    " client keep-alive: no (closes without Connection: close)",
                ],
                [
                    "none", "40,000", "1.60", "50%", "12.5", "0.50",
                    "no proxy: wrk straight at the origin; CPU is the origin's",
                ],
            ],
        )  # fmt: skip
        self.assertEqual(
            found["100 B responses, 1 connection"][1:],
            [["**proxykit**", "5,000", "0.30", "60%", "–", "1.00", "–"]],
        )
        self.assertEqual(
            found["CONNECT tunnel, 256 MiB from the origin"][1:],
            [
                ["**proxykit**", "1,800", "1.00", "–"],
                ["twisted.web.proxy", "–", "–", "unsupported (no CONNECT)"],
                ["tinyproxy", "600", "3.00", "–"],
            ],
        )
        self.assertEqual(
            found["A slow client reading a large response: the proxy's memory growth"][1:],
            [["**proxykit**", "0.1", "–"], ["twisted.web.proxy", "64.5", "–"]],
        )

    def test_scaleTables(self) -> None:
        """
        The idle-connection phase shows the connections held, the proxy's
        memory before and after and the growth per connection; the
        concurrent-tunnel phase the tunnels completed, the time and the
        throughput per tunnel (min / median / max), the slowest tunnel's
        time over the median's and what went wrong.
        """
        found = tables(self.lines("forward"))
        self.assertEqual(
            found["Idle keep-alive client connections held by proxykit: memory per connection"],
            [
                ["connections", "held", "RSS before MiB", "RSS after MiB", "KiB per connection", "notes"],
                ["10,000", "10,000", "57.0", "105.0", "4.92", "–"],
            ],
        )
        self.assertEqual(
            found["Concurrent CONNECT tunnels through proxykit, each echoing its bytes at once"],
            [
                [
                    "tunnels", "completed", "s", "time per tunnel s (min / median / max)",
                    "MB/s per tunnel (min / median / max)", "slowest ÷ median", "notes",
                ],
                [
                    "1,000 × 1024 KiB", "998", "8.3", "8.10 / 8.25 / 8.30", "0.13 / 0.13 / 0.13", "1.01",
                    "ScaleError: closed after 65536 of 1048576 bytes back; 2 tunnels not done in 300 s",
                ],
            ],
        )  # fmt: skip
        for mode in ("reverse", "tls"):
            self.assertNotIn("Idle", "\n".join(self.lines(mode)))

    def test_targets(self) -> None:
        """
        Each target of the mode is listed with its verdict, the figure
        measured, the bound it must meet (at least or at most) and why it
        failed when its figure does not say.
        """
        lines = self.lines("forward")
        listed = [line for line in lines if line.startswith("- **")]
        self.assertEqual(len(listed), 7)
        self.assertIn(
            "- **PASS** small, 50 conns: proxykit \\>= 5x twisted.web.proxy req/s (measured 5.00, needed ≥ 5)",
            lines,
        )
        self.assertIn(
            "- **pending** small, 50 conns: proxykit \\>= 1.5x proxy.py req/s (not measured, needed ≥ 1.5)",
            lines,
        )
        self.assertIn(
            "- **PASS** 10,000 idle keep-alive client connections held, \\<= 5 KiB each"
            " (proxy RSS growth / connections) (measured 4.92, needed ≤ 5)",
            lines,
        )
        self.assertIn(
            "- **FAIL** 1,000 concurrent CONNECT tunnels each moved their data, none stalled"
            " (all complete; slowest \\<= 2x the median tunnel's time) (measured 1.01, needed ≤ 2):"
            " 998 of 1000 completed: ScaleError: closed after 65536 of 1048576 bytes back;"
            " 2 tunnels not done in 300 s",
            lines,
        )

    def test_targetsOfEarlierRuns(self) -> None:
        """
        A results file written before the targets said which way they are
        bound (C{ratio} instead of C{measured}, no C{better}) shows them as
        lower bounds.
        """
        payload = harness("publish").split(results(), "forward")
        payload["summary"]["targets"] = [
            {"mode": "forward", "target": "t", "ratio": 5.0, "needed": 4.0, "verdict": "PASS"}
        ]
        lines = extension().benchLines(payload, "forward")
        self.assertIn("- **PASS** t (measured 5.00, needed ≥ 4)", lines)

    def test_tls(self) -> None:
        """
        TLS mode has no no-proxy row and no CONNECT table; a proxy that
        failed its preflight check is named with the reason; its one target
        is listed.
        """
        lines = self.lines("tls")
        found = tables(lines)
        self.assertEqual(list(found), ["100 B responses, 50 connections"])
        self.assertEqual(
            [row[0] for row in found["100 B responses, 50 connections"][1:]], ["**proxykit**", "nginx"]
        )
        self.assertIn("- ReverseProxyResource failed its preflight check: timed out", lines)
        self.assertEqual(
            [line for line in lines if line.startswith("- **")],
            ["- **FAIL** TLS, small, 50 conns: proxykit \\>= 50% of nginx req/s (measured 0.20, needed ≥ 0.5)"],
        )

    def test_unsplitResults(self) -> None:
        """
        A results file of several modes, as C{bench/run.py} writes it,
        gives the same tables as that mode's published part.
        """
        whole = extension().benchLines(results(), "reverse")
        self.assertEqual(whole, self.lines("reverse"))

    def test_notPublished(self) -> None:
        """
        A mode without published results says so.
        """
        for payload in (None, harness("publish").split(results(), "forward")):
            lines = extension().benchLines(payload, "tls", "/_static/bench/tls.svg")
            self.assertEqual(
                lines,
                [
                    "No results are published for the reverse proxy over TLS yet: run the"
                    " benchmark in this mode and publish its results as shown above.",
                    "",
                ],
            )

    def test_wellFormed(self) -> None:
        """
        What the directive writes parses without a single problem, for
        each mode of the fixture and each published results file.
        """
        from docutils import nodes

        for mode in ("forward", "reverse", "tls"):
            tree = doctree(self.lines(mode, f"/_static/bench/{mode}.svg"))
            self.assertTrue(list(tree.findall(nodes.table)), mode)
            self.assertEqual(len(list(tree.findall(nodes.image))), 1)
        for path in sorted(PUBLISHED.glob("*.json")):
            payload = json.loads(path.read_text())
            doctree(extension().benchLines(payload, path.stem, f"/_static/bench/{path.stem}.svg"))


class PerformancePageTests(SynchronousTestCase):
    """
    C{docs/performance.rst} shows each mode through the directive and
    names the measurement history.
    """

    def test_page(self) -> None:
        """
        The page has a C{proxykit-bench} directive per mode, and the
        history's path; the documentation's contents list it.
        """
        text = (DOCS / "performance.rst").read_text()
        for mode in ("forward", "reverse", "tls"):
            self.assertIn(f"\n.. proxykit-bench:: {mode}\n", text)
        self.assertIn("``docs/performance.md`` in the source tree", text)
        self.assertIn("\n   performance\n", (DOCS / "index.rst").read_text())
        self.assertIn("proxykit_bench", (DOCS / "conf.py").read_text())


class PerformanceCommandTests(SynchronousTestCase):
    """
    The commands of C{examples/commands/performance.sh}: each runs a
    script of C{bench/} with options its parser accepts (the benchmark
    itself is not run: it needs a quiet machine and half an hour).
    """

    def test_shownByThePage(self) -> None:
        """
        The page includes every region of the file.
        """
        path = EXAMPLES / "commands" / "performance.sh"
        shown = {
            s.options["start-after"]
            for s in snippets(DOCS / "performance.rst")
            if s.kind == "literalinclude" and s.source == path
        }
        self.assertEqual(shown, {f"[start {name}]" for name in regions(path)})

    def test_commandsParse(self) -> None:
        """
        Each command is C{python3 bench/run.py} or C{python3
        bench/publish.py} with arguments the script accepts; the results
        file published is the one C{bench/run.py} writes last.
        """
        run, publish = benchScript("run"), benchScript("publish")
        found = [
            words
            for lines in regions(EXAMPLES / "commands" / "performance.sh").values()
            for words in commands(lines)
        ]
        self.assertEqual(
            sorted({tuple(words[:2]) for words in found}),
            [("python3", "bench/publish.py"), ("python3", "bench/run.py")],
        )
        modes = set()
        for words in found:
            if words[1] == "bench/run.py":
                modes.update(run.parse_args(words[2:]).modes)
            else:
                args = publish.parser().parse_args(words[2:])
                [results] = args.results
                self.assertEqual(ROOT / results, run.parse_args([]).results_dir / "latest.json")
                self.assertEqual(args.out, PUBLISHED)
        self.assertEqual(modes, {"forward", "reverse", "tls"})
