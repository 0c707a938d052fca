"""
Tests for the documentation in C{docs/}: it must build cleanly with Sphinx.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.trial.unittest import SkipTest, TestCase

DOCS = Path(__file__).resolve().parent.parent / "docs"


class DocsBuildTests(TestCase):
    """
    Tests for building the Sphinx documentation.
    """

    def test_buildsWithoutWarnings(self) -> None:
        """
        The documentation builds to HTML without a single warning: every page
        is reachable from the table of contents, every cross-reference
        resolves and every reStructuredText construct is well formed.
        """
        try:
            import sphinx  # noqa: F401
        except ImportError:
            raise SkipTest("sphinx is not installed (pip install '.[docs]')")
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run(
                [sys.executable, "-m", "sphinx", "-W", "--keep-going"]
                + ["-b", "html", "-q", str(DOCS), out],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if result.returncode != 0:
            self.fail(
                f"sphinx exited with status {result.returncode}:\n"
                + result.stdout.decode("utf-8", "replace")
            )
