"""
Run the whole suite: ruff, mypy --strict, then trial (unit, integration,
packaging and docs tests) on Twisted's default reactor, and the integration
tests that run a proxy in trial's own process again on C{proxykit.reactor}
(what C{twistd proxykit} runs on; see L{CHILDREN_ONLY}).

When C{PROXYKIT_LOWEST_PYTHON} names the Python of a second virtualenv (made
by C{./dev.sh test} with the lowest Twisted C{setup.cfg} allows), the whole
suite runs again there (on Twisted's default reactor).  Prints one line C{N passed, N failed, N skipped}
per Twisted, then the closing line with the totals.

    python -m tests.runner [trial test names]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(title: str, argv: list[str]) -> tuple[int, str]:
    print(f"==> {title}: {' '.join(argv)}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    sys.stdout.write(proc.stdout)
    print(f"<== {title}: exit {proc.returncode} in {time.monotonic() - started:.1f}s", flush=True)
    return proc.returncode, proc.stdout


CHILDREN_ONLY = frozenset(
    {
        "test_commands",
        "test_descriptors",
        "test_examples",
        "test_haproxy",
        "test_howtos",
        "test_kubernetes",
        "test_packaging",
        "test_systemd",
        "test_tutorials",
        "test_workers",
    }
)
"""Integration modules whose proxies are all C{twistd} children (the docs'
walk-throughs, packaging, deployment and workers): those run on
C{proxykit.reactor} whatever reactor trial runs on, so the second pass
leaves them out."""


def inProcessIntegration() -> list[str]:
    """
    The integration test modules that run a proxy in trial's own process,
    for the pass on C{proxykit.reactor}.
    """
    names = sorted(p.stem for p in Path(ROOT, "tests", "integration").glob("test_*.py"))
    return [f"tests.integration.{name}" for name in names if name not in CHILDREN_ONLY]


def main(argv: list[str]) -> int:
    python = sys.executable
    checks = 0
    failedChecks = 0
    if not argv:
        for title, command in (
            ("ruff", [python, "-m", "ruff", "check", "proxykit", "tests", "twisted", "examples", "bench"]),
            ("mypy", [python, "-m", "mypy", "--strict", "proxykit"]),
        ):
            checks += 1
            code, _ = _run(title, command)
            if code:
                failedChecks += 1
    runs = [(python, "trial", [], argv or ["tests"], "_trial_temp")]
    if not argv:
        # twistd proxykit runs on proxykit's own reactor: the real-socket
        # tests run on it too (the whole suite above ran on Twisted's).
        runs.append(
            (python, "trial on proxykit.reactor", ["--reactor=proxykit"], inProcessIntegration(), "_trial_temp_reactor")
        )
        lowest = os.environ.get("PROXYKIT_LOWEST_PYTHON")
        if lowest:
            # The whole suite again on the lowest Twisted proxykit supports
            # (its twistd children run on proxykit.reactor there too); the
            # in-process proxykit.reactor pass only once, to keep CI under
            # ten minutes.
            runs.append((lowest, "trial (lowest Twisted)", [], ["tests"], "_trial_temp_lowest"))
    totals = [0, 0, 0]
    lines = []
    code = 0
    for interpreter in dict.fromkeys(run[0] for run in runs):
        counts = {"successes": 0, "failures": 0, "errors": 0, "skips": 0, "expectedFailures": 0, "unexpectedSuccesses": 0}
        runCode = 0
        for _, title, options, tests, temp in (run for run in runs if run[0] == interpreter):
            # The whole suite runs on both cores (trial's workers get the
            # reactor option too); named tests run in one process.
            jobs = [] if argv else ["--jobs=2"]
            oneCode, output = _run(
                title,
                [interpreter, "-m", "twisted.trial", *jobs, *options, "--temp-directory", os.path.join(ROOT, temp), *tests],
            )
            runCode = runCode or oneCode
            summary = re.findall(r"^(PASSED|FAILED) \((.*)\)$", output, re.M)
            if summary:
                for part in summary[-1][1].split(","):
                    name, _, value = part.strip().partition("=")
                    if name in counts:
                        counts[name] += int(value)
        passed = counts["successes"] + counts["expectedFailures"]
        failed = counts["failures"] + counts["errors"] + counts["unexpectedSuccesses"]
        if interpreter == python:
            passed += checks - failedChecks
            failed += failedChecks
        if runCode and not failed:
            failed = 1
        code = code or runCode
        for i, n in enumerate((passed, failed, counts["skips"])):
            totals[i] += n
        lines.append(f"Twisted {_twistedVersion(interpreter)}: {passed} passed, {failed} failed, {counts['skips']} skipped")
    if len(lines) > 1:
        print("\n".join(lines))
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if (code or totals[1]) else 0


def _twistedVersion(python: str) -> str:
    """
    The version of Twisted that C{python} imports.
    """
    proc = subprocess.run(
        [python, "-c", "import twisted; print(twisted.__version__)"], capture_output=True, text=True, cwd=ROOT
    )
    return proc.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
