# -*- test-case-name: tests.test_compiledbuild -*-
"""
proxykit's build backend: setuptools' own (C{setuptools.build_meta}), which
also asks for what the compiled build needs when it is asked for.

With C{PROXYKIT_COMPILE=1} in the environment at build time (C{pip install}
passes its environment on), C{setup.py} compiles the modules on the request
path with mypyc.  That needs mypy and mypy-zope at the versions the code was
checked with, proxykit's own dependencies (mypy reads their types), and a C
compiler with the Python headers.  Without the compiler or the headers,
nothing more is asked for, and the build warns in one line and goes on pure
Python.  Without C{PROXYKIT_COMPILE=1}, this is exactly setuptools' backend.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import sys
import sysconfig

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401 (the backend's other hooks)
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

COMPILER_REQUIRES = ("mypy==2.4.1", "mypy-zope==1.0.17")
"""The mypyc proxykit is compiled with (mypyc comes with mypy), pinned: the
generated C depends on its version, and the code base is checked with it."""

_HERE = os.path.dirname(os.path.abspath(__file__))


def compileAsked(environ: dict[str, str] | None = None) -> bool:
    """
    Whether the build is asked to compile: C{PROXYKIT_COMPILE=1}.
    """
    return (os.environ if environ is None else environ).get("PROXYKIT_COMPILE") == "1"


def missingToolchain() -> str | None:
    """
    What the compiled build lacks on this machine (a C compiler, the Python
    headers), or C{None} when it lacks nothing.
    """
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(compiler)
    if not words or shutil.which(words[0]) is None:
        return f"no C compiler ({compiler})"
    include = sysconfig.get_path("include")
    if not os.path.isfile(os.path.join(include, "Python.h")):
        return f"no Python headers ({include}/Python.h)"
    return None


def warn(why: str) -> None:
    """
    Say, in one line on standard error, that the build goes on pure Python.
    """
    sys.stderr.write(
        f"WARNING: proxykit: PROXYKIT_COMPILE=1 but {why}: building pure Python\n"
    )
    sys.stderr.flush()


def installRequires(setupCfg: str | None = None) -> list[str]:
    """
    proxykit's own dependencies, as C{setup.cfg} lists them: mypy reads their
    types while it compiles.
    """
    parser = configparser.ConfigParser()
    parser.read(setupCfg or os.path.join(os.path.dirname(_HERE), "setup.cfg"))
    text = parser.get("options", "install_requires", fallback="")
    return [line.strip() for line in text.splitlines() if line.strip()]


def compileRequires() -> list[str]:
    """
    What building the compiled build needs beyond setuptools': nothing when
    it is not asked for, or when this machine cannot compile (C{setup.py}
    then says so, and builds pure Python).
    """
    if not compileAsked() or missingToolchain() is not None:
        return []
    return [*COMPILER_REQUIRES, *installRequires()]


def get_requires_for_build_wheel(
    config_settings: dict[str, str | list[str]] | None = None,
) -> list[str]:
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *compileRequires()]


def get_requires_for_build_editable(
    config_settings: dict[str, str | list[str]] | None = None,
) -> list[str]:
    return [
        *_setuptools.get_requires_for_build_editable(config_settings),
        *compileRequires(),
    ]
