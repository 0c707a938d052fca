# -*- test-case-name: tests.test_benchmypyc -*-
"""
Tests for C{bench/mypyc_trial.sh}, which sets the compiled build (issue 14)
beside pure Python in-process.  The comparison itself (a venv, a compile of
a minute and more, the benchmark) is not run: these check that the script
parses, documents itself, refuses what it should before touching anything,
and compiles the build's modules and names those left out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "mypyc_trial.sh"


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    """
    Run the script with C{arguments}.
    """
    return subprocess.run(
        ["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=60
    )


class MypycTrialScriptTests(SynchronousTestCase):
    """
    C{bench/mypyc_trial.sh} without its long run.
    """

    def test_syntax(self) -> None:
        """
        The script is valid bash.
        """
        result = subprocess.run(
            ["bash", "-n", str(SCRIPT)], capture_output=True, text=True, timeout=60
        )
        self.assertEqual((result.returncode, result.stderr), (0, ""))

    def test_help(self) -> None:
        """
        C{--help} prints the usage and each option, and where the results
        are written up.
        """
        result = run("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(
            "bench/mypyc_trial.sh [--requests N] [--tests] [--cachegrind] [SCRATCH]",
            result.stdout,
        )
        for option in ("--requests N", "--tests", "--cachegrind", "MODULES"):
            self.assertIn(option, result.stdout)
        self.assertIn("docs/performance.md", result.stdout)
        page = (ROOT / "docs" / "performance.md").read_text()
        self.assertTrue("\n## A compiled build: mypyc trial (issue 14)\n" in page)
        self.assertTrue("bench/mypyc_trial.sh" in page)

    def test_unknownOption(self) -> None:
        """
        An unknown option exits with status 2 and the usage on standard
        error.
        """
        result = run("--fast")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown option --fast", result.stderr)
        self.assertIn("--cachegrind", result.stderr)

    def test_scratchInsideCheckout(self) -> None:
        """
        A scratch directory inside the checkout is refused before anything
        is made there: the checkout's C{proxykit/} is never compiled in.
        """
        scratch = ROOT / "bench" / "mypyc-scratch-test"
        result = run(str(scratch))
        self.assertEqual(result.returncode, 2)
        self.assertIn("SCRATCH must be outside the checkout", result.stderr)
        self.assertFalse(scratch.exists())

    def test_modulesExist(self) -> None:
        """
        By default the script compiles the modules of the compiled build
        (C{proxykit._compiled.MODULES}); each module it names as left out is
        a module of this checkout, and not one of those.
        """
        from proxykit._compiled import MODULES

        text = SCRIPT.read_text()
        default = re.search(r"^MODULES=\$\{MODULES:-\$\((.*?)\)\}$", text, re.MULTILINE | re.DOTALL)
        assert default is not None
        done = subprocess.run(
            ["bash", "-c", default.group(1)], capture_output=True, text=True, timeout=60,
            env={"PY": sys.executable, "ROOT": str(ROOT), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        compiled = done.stdout.split()
        self.assertEqual(compiled, [name.replace(".", "/") + ".py" for name in MODULES])
        leftOut = re.findall(r"^#\s+((?:[\w/]+\.py(?:, )?)+):", text, re.MULTILINE)
        named = [m for group in leftOut for m in group.split(", ")]
        self.assertEqual(
            sorted(named),
            [
                "_twistedcompat.py",
                "decisions.py",
            ],
        )
        for module in compiled + ["proxykit/" + m for m in named]:
            self.assertTrue((ROOT / module).is_file(), module)
        self.assertFalse(set(compiled) & {"proxykit/" + m for m in named})
