# -*- test-case-name: tests.test_compiledbuild -*-
"""
proxykit's setup script; the metadata is in C{setup.cfg}.

Pure Python unless C{PROXYKIT_COMPILE=1} is in the environment at build
time: then the modules that C{MODULES} in C{proxykit/_compiled.py} names
(the request path) are also compiled with mypyc into extension modules,
which Python imports instead of their C{.py} files (shipped too).  The build backend in C{_backend/} asks for
mypy and mypy-zope then.  A compiled build that cannot be made (no mypyc, no
C compiler, no Python headers, a compile error) warns in one line and builds
pure Python instead: the install never fails for it.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "_backend"))
from proxykit_backend import compileAsked, missingToolchain, warn  # noqa: E402


def compiledModules() -> list[str]:
    """
    The files of the modules mypyc compiles: C{MODULES} of
    C{proxykit/_compiled.py} (read, not imported: proxykit's dependencies
    may not be installed yet).
    """
    with open(os.path.join(HERE, "proxykit", "_compiled.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["MODULES"]:
            names = ast.literal_eval(node.value)
            return [name.replace(".", "/") + ".py" for name in names]
    raise LookupError("no MODULES in proxykit/_compiled.py")


_BUILDING = {"bdist_wheel", "build", "build_ext", "install", "editable_wheel", "develop"}
"""The commands that build modules: only those compile (setuptools also runs
this script only to read the metadata)."""


class _BuildExtOrPure(build_ext):
    """
    C{build_ext} that, when the compiler fails, removes what it built, warns,
    and leaves the build pure Python.
    """

    def run(self) -> None:
        # Extension modules left by an earlier build of other modules
        # would be installed with this one, and fail to import.
        wanted = {os.path.abspath(self.get_ext_fullpath(e.name)) for e in self.extensions}
        suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
        for directory, _, files in os.walk(self.build_lib):
            for name in files:
                path = os.path.abspath(os.path.join(directory, name))
                if name.endswith(suffixes) and path not in wanted:
                    os.remove(path)
        try:
            super().run()
        except Exception as e:
            for extension in self.extensions:
                built = self.get_ext_fullpath(extension.name)
                if os.path.exists(built):
                    os.remove(built)
            warn(f"compiling failed ({type(e).__name__}: {str(e).strip()[:200]})")


def compiledExtensions() -> list[object]:
    """
    The extension modules of the compiled build, or none (after a warning)
    when it cannot be made.
    """
    missing = missingToolchain()
    if missing is not None:
        warn(missing)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        warn("mypyc cannot be imported (pip install mypy==2.4.1 mypy-zope==1.0.17)")
        return []
    try:
        return list(
            mypycify(
                compiledModules(),
                target_dir=os.path.join("build", "mypyc"),
                group_name="proxykit",
            )
        )
    except (Exception, SystemExit) as e:
        warn(f"mypyc failed ({type(e).__name__}: {str(e).strip()[:200]})")
        return []


extensions: list[object] = []
options: dict[str, dict[str, str]] = {}
if compileAsked() and _BUILDING & set(sys.argv[1:]):
    extensions = compiledExtensions()
    if extensions:
        # Its own build directory, so that a pure build (this one too, if
        # mypyc failed) never ships a compiled build's leftovers.
        options = {"build": {"build_base": os.path.join("build", "compiled")}}

setup(ext_modules=extensions, cmdclass={"build_ext": _BuildExtOrPure}, options=options)
