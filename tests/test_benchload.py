# -*- test-case-name: tests.test_benchload -*-
"""
Tests for the benchmark's load-bound flag (C{bench/harness/procs.py}): a
peer whose CPU share stays under 95% of its core while the load core (wrk,
the origin, the harness) is saturated is flagged, since its requests per
second are the load generator's limit rather than its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent


def procsModule() -> ModuleType:
    """
    C{bench/harness/procs.py}, imported as C{bench/run.py} imports it.
    """
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    from harness import procs

    return procs


class LoadBoundTests(SynchronousTestCase):
    """
    L{load_bound} judges one run from the two CPU shares.
    """

    def test_flagged(self) -> None:
        """
        The proxy at 77% of its core while the load core is at 99%: load-bound
        (nginx's case in the reverse run of 2026-12-04).
        """
        self.assertTrue(procsModule().load_bound(0.77, 0.99, "1"))

    def test_proxyBusy(self) -> None:
        """
        A proxy at 95% or more is its own limit, however busy the load is.
        """
        procs = procsModule()
        self.assertFalse(procs.load_bound(0.95, 1.0, "1"))
        self.assertFalse(procs.load_bound(1.0, 1.0, "1"))

    def test_loadIdle(self) -> None:
        """
        A proxy below 95% with a load core that is not saturated is not
        load-bound (one connection waits on latency, say).
        """
        self.assertFalse(procsModule().load_bound(0.57, 0.6, "1"))

    def test_notJudged(self) -> None:
        """
        Without a load pinned to one CPU, or without figures, nothing is
        judged.
        """
        procs = procsModule()
        self.assertFalse(procs.load_bound(0.5, 1.0, None))
        self.assertFalse(procs.load_bound(0.5, 1.0, "0,1"))
        self.assertFalse(procs.load_bound(0.5, 1.0, "0-1"))
        self.assertFalse(procs.load_bound(None, 1.0, "1"))
        self.assertFalse(procs.load_bound(0.5, None, "1"))


class LoadSecondsTests(SynchronousTestCase):
    """
    L{load_seconds} counts this process, its reaped children and the trees
    of the processes named.
    """

    def test_reapedChild(self) -> None:
        """
        A child that used CPU and was waited for adds its time.
        """
        procs = procsModule()
        before = procs.load_seconds([])
        subprocess.run(
            [sys.executable, "-c", "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"],
            check=True,
            timeout=60,
        )
        self.assertGreaterEqual(procs.load_seconds([]) - before, 0.3)

    def test_others(self) -> None:
        """
        The CPU time of another process's tree is included: a child that
        says it has used 0.3 s of CPU (and waits) adds that much.
        """
        procs = procsModule()
        burn = (
            "import sys, time\n"
            "end = time.process_time() + 0.3\n"
            "while time.process_time() < end: pass\n"
            "print('burnt', flush=True)\n"
            "sys.stdin.read()\n"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert child.stdin is not None and child.stdout is not None
        self.addCleanup(child.wait, 60)
        self.addCleanup(child.stdout.close)
        self.addCleanup(child.stdin.close)
        self.assertEqual(child.stdout.readline(), "burnt\n")
        self.assertGreaterEqual(procs.load_seconds([child.pid]) - procs.load_seconds([]), 0.25)
