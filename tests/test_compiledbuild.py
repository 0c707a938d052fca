# -*- test-case-name: tests.test_compiledbuild -*-
"""
Tests for the optional compiled build's install machinery: the build backend
C{_backend/proxykit_backend.py} (what it asks pip for) and C{setup.py} (what
it compiles, and its pure-Python fallback).  The compiled build itself is
made by C{./dev.sh} in C{.venv}, and the whole suite runs against it
(C{tests/runner.py}).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from proxykit import _compiled

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_backend"))
import proxykit_backend  # noqa: E402

del sys.path[0]


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """
    Set (or, for C{None}, remove) environment variables for the block.
    """
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class BackendTests(SynchronousTestCase):
    """
    The build backend asks for mypy only when asked to compile and able to.
    """

    def test_pureByDefault(self) -> None:
        """
        Without C{PROXYKIT_COMPILE=1}, the backend asks for what setuptools'
        asks for, nothing more.
        """
        for value in (None, "0", "", "yes"):
            with environment(PROXYKIT_COMPILE=value):
                self.assertFalse(proxykit_backend.compileAsked())
                self.assertEqual(proxykit_backend.compileRequires(), [])

    def test_compileRequires(self) -> None:
        """
        With C{PROXYKIT_COMPILE=1} and a compiler, the backend also asks for
        the pinned mypy and mypy-zope, and for proxykit's own dependencies
        (mypy reads their types).
        """
        if proxykit_backend.missingToolchain() is not None:
            self.skipTest(proxykit_backend.missingToolchain())
        with environment(PROXYKIT_COMPILE="1"):
            required = proxykit_backend.compileRequires()
        self.assertEqual(required[:2], ["mypy==2.4.1", "mypy-zope==1.0.17"])
        self.assertEqual(required[2:], proxykit_backend.installRequires())
        self.assertIn("twisted>=23.10", required)
        self.assertIn("mypy-extensions>=1.0", required)

    def test_noCompiler(self) -> None:
        """
        Without a C compiler, the backend asks for nothing more: C{setup.py}
        says why and builds pure Python.
        """
        with environment(PROXYKIT_COMPILE="1", CC="/nonexistent/cc"):
            self.assertEqual(proxykit_backend.missingToolchain(), "no C compiler (/nonexistent/cc)")
            self.assertEqual(proxykit_backend.compileRequires(), [])


class SetupTests(SynchronousTestCase):
    """
    C{setup.py}: the modules it compiles, and its fallback.
    """

    def test_modules(self) -> None:
        """
        C{setup.py} compiles the files of L{_compiled.MODULES}, read from
        its source.
        """
        done = subprocess.run(
            [sys.executable, "-c", "import runpy, sys; sys.argv = ['setup.py', '--name'];"
             " print(runpy.run_path('setup.py')['compiledModules']())"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        files = [name.replace(".", "/") + ".py" for name in _compiled.MODULES]
        self.assertEqual(done.stdout.strip().splitlines()[-1], repr(files))

    def test_fallback(self) -> None:
        """
        Asked to compile on a machine without a C compiler, C{setup.py build}
        warns in one line and builds pure Python.
        """
        build = self.mktemp()
        env = dict(os.environ, PROXYKIT_COMPILE="1", CC="/nonexistent/cc")
        env.pop("PYTHONPATH", None)
        done = subprocess.run(
            [sys.executable, "setup.py", "-q", "build", "--build-base", os.path.abspath(build)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        warnings = [line for line in done.stderr.splitlines() if "proxykit:" in line]
        self.assertEqual(
            warnings,
            ["WARNING: proxykit: PROXYKIT_COMPILE=1 but no C compiler (/nonexistent/cc):"
             " building pure Python"],
        )  # fmt: skip
        built = [p.name for p in Path(build).rglob("*") if p.suffix in (".so", ".pyd")]
        self.assertEqual(built, [])
        self.assertTrue(any(Path(build).rglob("_connection.py")))

    def test_compileFails(self) -> None:
        """
        When compiling fails (here the C compiler does, after mypyc made
        the C), C{setup.py build} warns in one line, removes what it built
        and builds pure Python, exit status 0.
        """
        try:
            import mypyc.build  # noqa: F401
        except ImportError:
            self.skipTest("mypyc is not installed")
        source = Path(self.mktemp())
        source.mkdir()
        for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.so")
        for name in ("_backend", "proxykit", "twisted"):
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        env = dict(os.environ, PROXYKIT_COMPILE="1", CC="false")
        env.pop("PYTHONPATH", None)
        done = subprocess.run(
            [sys.executable, "setup.py", "-q", "build"],
            cwd=source, capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        warnings = [line for line in done.stderr.splitlines() if "proxykit:" in line]
        self.assertEqual(len(warnings), 1, done.stderr)
        self.assertTrue(
            warnings[0].startswith("WARNING: proxykit: PROXYKIT_COMPILE=1 but ")
            and warnings[0].endswith(": building pure Python"),
            warnings[0],
        )
        built = source / "build" / "compiled"
        self.assertEqual([p.name for p in built.rglob("*") if p.suffix in (".so", ".pyd")], [])
        self.assertTrue(any(built.rglob("_connection.py")))
