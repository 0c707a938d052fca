"""
Run the whole suite: ruff, mypy --strict, then trial (unit, integration,
packaging and docs tests) on Twisted's default reactor, and the integration
tests that run a proxy in trial's own process again on C{proxykit.reactor}
(what C{twistd proxykit} runs on; see L{CHILDREN_ONLY}).

When C{PROXYKIT_LOWEST_PYTHON} names the Python of a second virtualenv (made
by C{./dev.sh test} with the lowest Twisted C{setup.cfg} allows), the whole
suite runs again there (on Twisted's default reactor).  Prints one line C{N passed, N failed, N skipped}
per Twisted, then the closing line with the totals.

Each interpreter's trial runs test the build of proxykit installed in its
virtualenv.  A pure-Python install is this working tree's code, so trial
runs here.  The compiled build (C{PROXYKIT_COMPILE=1}, which C{./dev.sh}
installs in C{.venv}) is tested in a copy of the working tree with the
installed extension modules beside their sources (L{compiledTree}): the
working tree itself never holds compiled modules, which would hide edits to
their sources.  Each pass's title and line say which build it tested.

    python -m tests.runner [trial test names]
"""

from __future__ import annotations

import atexit
import filecmp
import importlib.machinery
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(title: str, argv: list[str], where: str = ROOT) -> tuple[int, str]:
    print(f"==> {title}: {' '.join(argv)}" + (f" (in {where})" if where != ROOT else ""), flush=True)
    started = time.monotonic()
    proc = subprocess.run(
        argv, cwd=where, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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


UNTRACKED = (
    ".git",
    ".venv*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "_trial_temp*",
    "dropin.cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
)
"""The names of what a working tree holds that is not the project's
(what C{.gitignore} lists), for copies of the tree."""

_NOT_COPIED = shutil.ignore_patterns(*UNTRACKED, "*.so")
"""What L{compiledTree} leaves out of its copy of the working tree (what
C{.gitignore} lists, and any extension module)."""


def installedBuild(python: str) -> tuple[str, str | None]:
    """
    Which build of proxykit C{python}'s virtualenv has installed:
    C{("compiled", its package directory)} or C{("pure Python", None)}
    (also when proxykit is not installed there: trial then tests this
    working tree).
    """
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [os.path.join(ROOT, python), "-c", "import os, proxykit; print(proxykit.COMPILED, os.path.dirname(proxykit.__file__))"],
        capture_output=True, text=True, cwd="/", env=env,
    )  # fmt: skip
    compiled, _, where = proc.stdout.strip().partition(" ")
    if proc.returncode == 0 and compiled == "True":
        return "compiled", where
    return "pure Python", None


def compiledTree(python: str, package: str) -> str:
    """
    A copy of this working tree in which C{proxykit/} holds the extension
    modules installed in C{package} (C{python}'s virtualenv's proxykit)
    beside their sources, with C{.venv} and C{.git} linked to this tree's;
    removed at exit.

    @raise RuntimeError: The installed build was made from other sources
        than this tree's C{proxykit/} (reinstall it: C{./dev.sh test} does).
    """
    here = Path(ROOT, "proxykit")
    installed = Path(package)
    ours = {p.relative_to(here) for p in here.rglob("*.py")}
    theirs = {p.relative_to(installed) for p in installed.rglob("*.py")}
    stale = sorted(str(p) for p in ours ^ theirs)
    stale += sorted(
        str(p) for p in ours & theirs if not filecmp.cmp(here / p, installed / p, shallow=False)
    )
    if stale:
        raise RuntimeError(
            f"the compiled build installed for {python} was not built from this tree "
            f"(proxykit/{stale[0]} differs): reinstall it with "
            "PROXYKIT_COMPILE=1 pip install . (./dev.sh test does)"
        )
    copy = tempfile.mkdtemp(prefix="mypyc-tree-")
    atexit.register(shutil.rmtree, copy, True)
    tree = os.path.join(copy, os.path.basename(ROOT))
    shutil.copytree(ROOT, tree, ignore=_NOT_COPIED, symlinks=True)
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for built in installed.rglob("*"):
        if built.name.endswith(suffixes):
            shutil.copy2(built, Path(tree, "proxykit", built.relative_to(installed)))
    venv = os.path.dirname(os.path.dirname(os.path.join(ROOT, python)))
    for link in (".git", os.path.basename(venv)):
        if os.path.exists(os.path.join(ROOT, link)):
            os.symlink(os.path.join(ROOT, link), os.path.join(tree, link))
    return tree


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
        build, package = installedBuild(interpreter)
        where = ROOT
        if package is not None:
            try:
                where = compiledTree(interpreter, package)
            except RuntimeError as e:
                print(f"runner: {e}", flush=True)
                runCode = 1
        for _, title, options, tests, temp in (run for run in runs if run[0] == interpreter):
            if runCode and package is not None and where == ROOT:
                break
            # The whole suite runs on both cores (trial's workers get the
            # reactor option too); named tests run in one process.
            jobs = [] if argv else ["--jobs=2"]
            oneCode, output = _run(
                f"{title}, {build}",
                [interpreter, "-m", "twisted.trial", *jobs, *options, "--temp-directory", os.path.join(where, temp), *tests],
                where,
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
        lines.append(
            f"Twisted {_twistedVersion(interpreter)}, {build}: {passed} passed, {failed} failed, {counts['skips']} skipped"
        )
    if lines:
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
