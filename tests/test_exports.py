"""
Tests for the public surface: what C{import proxykit} exports, and that
every module has its test module.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

import proxykit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExportsTests(SynchronousTestCase):
    """
    The names documented for library users are importable from proxykit.
    """

    def test_exports(self) -> None:
        """
        Every name in C{__all__} exists, and the factory, router, pool and
        config a Twisted application needs are among them.
        """
        for name in proxykit.__all__:
            self.assertTrue(hasattr(proxykit, name), name)
        for name in (
            "ProxyFactory",
            "ForwardRouter",
            "ConnectionPool",
            "ProxyConfig",
            "forwardProxy",
            "reverseProxy",
        ):
            self.assertIn(name, proxykit.__all__)


class TestLayoutTests(SynchronousTestCase):
    """
    Each module under proxykit/ has a tests/test_<module>.py, or is named in
    the module's C{test-case-name} line.
    """

    def test_everyModuleTested(self) -> None:
        """
        A module without tests is a layout error.
        """
        testNames = set(os.listdir(os.path.join(ROOT, "tests")))
        missing = []
        for directory, _, files in os.walk(os.path.join(ROOT, "proxykit")):
            for name in files:
                if not name.endswith(".py") or name == "__init__.py":
                    continue
                path = os.path.join(directory, name)
                with open(path) as f:
                    first = f.readline()
                marker = "test-case-name:"
                if marker in first:
                    target = first.split(marker)[1].split("-*-")[0].strip()
                    module = target.split(".")[-1] + ".py"
                    if module in testNames:
                        continue
                missing.append(os.path.relpath(path, ROOT))
        self.assertEqual(missing, [])
