"""
Run the whole suite: ruff, mypy --strict, then trial (unit, integration,
packaging and docs tests) on Twisted's default reactor, and the integration
tests again on C{proxykit.reactor} (what C{twistd proxykit} runs on).
Prints a closing line C{N passed, N failed}.

    python -m tests.runner [trial test names]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

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
    runs = [("trial", [], argv or ["tests"])]
    if not argv:
        # twistd proxykit runs on proxykit's own reactor: the real-socket
        # tests run on it too (the whole suite above ran on Twisted's).
        runs.append(("trial on proxykit.reactor", ["--reactor=proxykit"], ["tests.integration"]))
    counts = {"successes": 0, "failures": 0, "errors": 0, "skips": 0, "expectedFailures": 0, "unexpectedSuccesses": 0}
    code = 0
    for title, options, tests in runs:
        temp = os.path.join(ROOT, "_trial_temp" if not options else "_trial_temp_reactor")
        runCode, output = _run(title, [python, "-m", "twisted.trial", *options, "--temp-directory", temp, *tests])
        code = code or runCode
        summary = re.findall(r"^(PASSED|FAILED) \((.*)\)$", output, re.M)
        if summary:
            for part in summary[-1][1].split(","):
                name, _, value = part.strip().partition("=")
                if name in counts:
                    counts[name] += int(value)
    passed = counts["successes"] + counts["expectedFailures"] + checks - failedChecks
    failed = counts["failures"] + counts["errors"] + counts["unexpectedSuccesses"] + failedChecks
    if code and not failed:
        failed = 1
    print(f"{passed} passed, {failed} failed, {counts['skips']} skipped")
    return 1 if (code or failed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
