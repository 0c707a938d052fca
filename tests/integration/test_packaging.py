"""
Packaging: what a user gets from C{pip install}, the wheel and the sdist.

One fresh virtual environment, outside the repository, is shared by every
test here (L{_FreshVenv.get}); it is made the first time a test needs it,
which is why these tests have a long C{timeout}.  pip may fetch build and
runtime dependencies from the package index.

The project is built from a copy of the working tree without what
C{.gitignore} lists (C{build/}, C{*.egg-info}, C{dropin.cache}, ...): a stale
C{build/lib} left by an earlier build would otherwise end up in the wheel, and
the build would write into the working tree.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import zipfile

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ..runner import UNTRACKED
from ._subprocess import ROOT, run

PIP_TIMEOUT = 240.0
"""Seconds one pip (or build) command may take."""
COMMAND_TIMEOUT = 60.0
"""Seconds any other command may take."""

PLUGIN = "twisted/plugins/proxykit_plugin.py"
TYPED = "proxykit/py.typed"
NOT_OURS = ("twisted/__init__.py", "twisted/plugins/__init__.py")
"""Files that belong to Twisted: shipping them would shadow or, on
uninstall, delete Twisted's own."""

_IGNORED_NAMES = shutil.ignore_patterns(*UNTRACKED)
_IGNORED_PATHS = frozenset({"docs/_build", "bench/results"})


def _ignored(directory: str, names: list[str]) -> set[str]:
    """
    What L{shutil.copytree} leaves out of the copy of the working tree: what
    C{.gitignore} lists.
    """
    ignored = set(_IGNORED_NAMES(directory, names))
    relative = os.path.relpath(directory, ROOT)
    for name in names:
        if os.path.normpath(os.path.join(relative, name)) in _IGNORED_PATHS:
            ignored.add(name)
    return ignored


class _FreshVenv:
    """
    A virtual environment with proxykit installed (not editable) from a clean
    copy of the working tree, made once per test run in a temporary
    directory outside the repository and removed at exit.

    @ivar directory: The temporary directory; also the working directory of
        every command run here.
    @ivar source: The copy of the working tree.
    @ivar venv: The virtual environment.
    """

    _lock = threading.Lock()
    _instance: _FreshVenv | None = None
    _error: BaseException | None = None

    @classmethod
    def get(cls) -> _FreshVenv:
        with cls._lock:
            if cls._error is not None:
                raise RuntimeError(
                    "making the shared virtual environment failed earlier"
                ) from cls._error
            if cls._instance is None:
                try:
                    cls._instance = cls()
                except BaseException as e:
                    cls._error = e
                    raise
            return cls._instance

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="proxykit-packaging-")
        atexit.register(shutil.rmtree, self.directory, True)
        self.source = os.path.join(self.directory, "source")
        shutil.copytree(ROOT, self.source, ignore=_ignored)
        self.venv = os.path.join(self.directory, "venv")
        self.check([sys.executable, "-m", "venv", self.venv])
        self.pip("install", self.source)
        self.sitePackages = self.check(
            [
                self.bin("python"),
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ]
        ).strip()

    def bin(self, name: str) -> str:
        return os.path.join(self.venv, "bin", name)

    def check(self, argv: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
        """
        Run a command in L{directory}; its output if it succeeds.

        @raise AssertionError: It failed.
        """
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        result = run(argv, self.directory, timeout, env)
        if result.returncode != 0:
            raise AssertionError(
                f"{argv!r} exited with status {result.returncode}:\n{result.stdout}"
            )
        return result.stdout

    def pip(self, *arguments: str) -> str:
        return self.check(
            [
                self.bin("python"),
                "-m",
                "pip",
                "--disable-pip-version-check",
                "-q",
                *arguments,
            ],
            PIP_TIMEOUT,
        )

    def newDirectory(self) -> str:
        return tempfile.mkdtemp(dir=self.directory)


class InstalledTests(TestCase):
    """
    Tests for proxykit as installed by C{pip install} into a fresh virtual
    environment, run from outside the working tree.
    """

    timeout = 300

    def test_installedNotWorkingTree(self) -> Deferred[None]:
        """
        The fresh environment imports proxykit from its own site-packages, so
        the other tests here check what pip installed, not the working tree.
        """

        def check() -> None:
            venv = _FreshVenv.get()
            where = venv.check(
                [venv.bin("python"), "-c", "import proxykit; print(proxykit.__file__)"]
            )
            self.assertTrue(where.strip().startswith(venv.sitePackages + os.sep), where)

        return deferToThread(check)

    def test_twistdListsPlugin(self) -> Deferred[None]:
        """
        C{twistd --help} lists the C{proxykit} subcommand, and
        C{twistd -n proxykit forward --help} describes C{--listen} and
        C{--connect-port}; C{twistd --help-reactors} lists the C{proxykit}
        reactor.
        """

        def check() -> None:
            venv = _FreshVenv.get()
            listing = venv.check([venv.bin("twistd"), "--help"])
            # A line of the "Commands:" list: name, then description.
            self.assertRegex(listing, r"(?m)^\s+proxykit\s+\S")
            forward = venv.check(
                [venv.bin("twistd"), "-n", "proxykit", "forward", "--help"]
            )
            self.assertIn("--listen", forward)
            self.assertIn("--connect-port", forward)
            reactors = venv.check([venv.bin("twistd"), "--help-reactors"])
            self.assertRegex(reactors, r"(?m)^\s+proxykit\s+epoll without per-event log context")

        return deferToThread(check)

    def test_installedFiles(self) -> Deferred[None]:
        """
        The plugin file lands in Twisted's C{twisted/plugins} directory and
        the C{py.typed} marker in the package, while the installed record
        claims neither C{twisted/__init__.py} nor
        C{twisted/plugins/__init__.py}: those are Twisted's, and uninstalling
        proxykit must not remove them.
        """

        def check() -> None:
            venv = _FreshVenv.get()
            site = venv.sitePackages
            self.assertTrue(os.path.isfile(os.path.join(site, PLUGIN)))
            self.assertTrue(os.path.isfile(os.path.join(site, TYPED)))
            # Twisted's own package file is still there.
            self.assertTrue(
                os.path.isfile(os.path.join(site, "twisted", "plugins", "__init__.py"))
            )
            records = glob.glob(os.path.join(site, "proxykit-*.dist-info", "RECORD"))
            self.assertEqual(len(records), 1, records)
            with open(records[0]) as f:
                recorded = {line.split(",", 1)[0] for line in f if line.strip()}
            self.assertIn(PLUGIN, recorded)
            self.assertIn(TYPED, recorded)
            for path in NOT_OURS:
                self.assertNotIn(path, recorded)

        return deferToThread(check)


class DistributionTests(TestCase):
    """
    Tests for the wheel and the sdist built from the project.
    """

    timeout = 300

    def test_wheelContents(self) -> Deferred[None]:
        """
        The wheel holds the plugin file, the C{py.typed} marker and every
        module of the working tree's C{proxykit/}, its packages included
        (C{setup.cfg} lists each), and none of Twisted's package files.
        """

        def check() -> None:
            venv = _FreshVenv.get()
            out = venv.newDirectory()
            venv.pip("wheel", "--no-deps", "-w", out, venv.source)
            wheels = glob.glob(os.path.join(out, "proxykit-*.whl"))
            self.assertEqual(len(wheels), 1, os.listdir(out))
            with zipfile.ZipFile(wheels[0]) as wheel:
                names = set(wheel.namelist())
            for path in (PLUGIN, TYPED, "proxykit/h1/__init__.py"):
                self.assertIn(path, names)
            modules = {
                os.path.relpath(path, ROOT).replace(os.sep, "/")
                for path in glob.glob(os.path.join(ROOT, "proxykit", "**", "*.py"), recursive=True)
            }
            self.assertEqual(sorted(modules - names), [])
            for path in NOT_OURS:
                self.assertNotIn(path, names)

        return deferToThread(check)

    def test_sdistContents(self) -> Deferred[None]:
        """
        The sdist holds the plugin file and the C{py.typed} marker, and no
        C{twisted/plugins/__init__.py}.
        """

        def check() -> None:
            venv = _FreshVenv.get()
            out = venv.newDirectory()
            venv.pip("install", "build")
            venv.check(
                [
                    venv.bin("python"),
                    "-m",
                    "build",
                    "--sdist",
                    "--outdir",
                    out,
                    venv.source,
                ],
                PIP_TIMEOUT,
            )
            sdists = glob.glob(os.path.join(out, "proxykit-*.tar.gz"))
            self.assertEqual(len(sdists), 1, os.listdir(out))
            with tarfile.open(sdists[0]) as sdist:
                # Strip the leading "proxykit-VERSION/".
                names = {name.partition("/")[2] for name in sdist.getnames()}
            self.assertIn(PLUGIN, names)
            self.assertIn(TYPED, names)
            self.assertNotIn("twisted/plugins/__init__.py", names)
            # The deployment examples, which the sdist's tests read.
            for directory in ("examples/systemd", "examples/kubernetes"):
                for name in os.listdir(os.path.join(ROOT, directory)):
                    self.assertIn(f"{directory}/{name}", names)

        return deferToThread(check)
