"""
Tests for the tutorials and how-to guides (C{docs/tutorials/},
C{docs/howto/}): every snippet they show is included from a file under
C{examples/}, every file of C{examples/tutorial/} and C{examples/howto/} is
shown and exercised, and the configuration files pass C{proxykit check}.

The steps themselves run in C{tests.integration.test_tutorials} and
C{tests.integration.test_howtos}.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from proxykit import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
SECTIONS = ("tutorials", "howto")
"""The directories of C{docs/} and, but for the plural, of C{examples/}."""

INCLUDE = re.compile(r"^\.\. literalinclude:: (\S+)\n((?:   :[\w-]+:.*\n)*)", re.M)
MARKER = re.compile(r"^# \[start ([\w-]+)\]$", re.M)


def pages() -> list[Path]:
    """
    Every page of the tutorials and how-to guides.
    """
    return [page for section in SECTIONS for page in sorted((DOCS / section).glob("*.rst"))]


def exampleFiles() -> list[Path]:
    """
    Every file of C{examples/tutorial/} and C{examples/howto/}.
    """
    return [
        path
        for name in ("tutorial", "howto")
        for path in sorted((EXAMPLES / name).iterdir())
        if path.is_file()
    ]


def includes(page: Path) -> list[tuple[Path, dict[str, str]]]:
    """
    The C{literalinclude} directives of C{page}: the file each includes
    and its options.
    """
    text = page.read_text()
    found = []
    for match in INCLUDE.finditer(text):
        options = dict(
            re.match(r"   :([\w-]+):\s*(.*)$", line).groups()  # type: ignore[union-attr]
            for line in match.group(2).splitlines()
        )
        found.append(((page.parent / match.group(1)).resolve(), options))
    return found


class SnippetTests(SynchronousTestCase):
    """
    The pages show code only by including it from C{examples/}.
    """

    def test_noInlineCode(self) -> None:
        """
        No page has a code block of its own (C{code-block}, C{code}, or a
        literal block after C{::}): every snippet is a C{literalinclude}.
        """
        found = []
        for page in pages():
            for number, line in enumerate(page.read_text().splitlines(), 1):
                if re.match(r"\.\. (code-block|code|sourcecode)::", line) or (
                    line.rstrip().endswith("::") and not line.startswith("..")
                ):
                    found.append(f"{page.relative_to(DOCS)}:{number}: {line}")
        self.assertEqual(found, [])

    def test_includesResolve(self) -> None:
        """
        Every included file is under C{examples/}, and the markers a page
        names are in it, once each.
        """
        for page in pages():
            for path, options in includes(page):
                where = f"{page.relative_to(DOCS)}: {path}"
                self.assertTrue(path.is_file(), where)
                self.assertTrue(path.is_relative_to(EXAMPLES), where)
                text = path.read_text()
                for option in ("start-after", "end-before"):
                    if option in options:
                        self.assertEqual(text.count(options[option]), 1, f"{where}: {options[option]}")

    def test_everyStepShown(self) -> None:
        """
        Each commands file (C{.sh}) is shown by one page, every step of it,
        in order, each step once.
        """
        shownBy: dict[Path, list[str]] = {}
        pageOf: dict[Path, Path] = {}
        for page in pages():
            for path, options in includes(page):
                if path.suffix == ".sh":
                    self.assertEqual(pageOf.setdefault(path, page), page, f"{path.name} is shown by two pages")
                    step = re.fullmatch(r"# \[start ([\w-]+)\]", options.get("start-after", ""))
                    self.assertIsNotNone(step, f"{page.name} includes {path.name} without a step")
                    assert step is not None
                    self.assertEqual(options.get("end-before"), f"# [end {step.group(1)}]")
                    shownBy.setdefault(path, []).append(step.group(1))
        for path in exampleFiles():
            if path.suffix == ".sh":
                self.assertEqual(shownBy.get(path), MARKER.findall(path.read_text()), path.name)

    def test_everyFileShown(self) -> None:
        """
        Every file of C{examples/tutorial/} and C{examples/howto/} is
        included by a page.
        """
        shown = {path for page in pages() for path, _ in includes(page)}
        self.assertEqual([p.name for p in exampleFiles() if p not in shown], [])

    def test_pagesHaveTheirParts(self) -> None:
        """
        Each how-to guide says its goal, how to check that it worked, and
        links to the guide that explains it; each tutorial says where to go
        next.
        """
        for page in sorted((DOCS / "howto").glob("*.rst")):
            if page.name == "index.rst":
                continue
            text = page.read_text()
            for part in ("**Goal**", "**Check**", "**Explained in**"):
                self.assertIn(part, text, page.name)
            explained = text[text.index("**Explained in**") :]
            linked = re.findall(r":doc:`(/?[\w/-]+)`", explained)
            self.assertTrue(linked, page.name)
            for name in linked:
                base = DOCS if name.startswith("/") else page.parent
                self.assertTrue((base / f"{name.lstrip('/')}.rst").is_file(), f"{page.name}: {name}")
        for page in sorted((DOCS / "tutorials").glob("*.rst")):
            if page.name != "index.rst":
                self.assertIn("\nWhere next\n", page.read_text(), page.name)


class ExercisedTests(SynchronousTestCase):
    """
    Every example file is exercised: configurations pass C{proxykit
    check}, and the integration tests walk every commands file.
    """

    def test_configurationsChecked(self) -> None:
        """
        A step of a commands file runs C{proxykit check} on each
        configuration file, as the integration tests run it.
        """
        steps = "\n".join(p.read_text() for p in exampleFiles() if p.suffix == ".sh")
        for path in exampleFiles():
            if path.suffix == ".toml":
                name = path.relative_to(ROOT).as_posix()
                command = re.compile(rf"^\.venv/bin/proxykit check (--mode \w+ )?{re.escape(name)}$", re.M)
                self.assertIsNotNone(command.search(steps), f"no step checks {name}")

    def test_configurationsPassCheck(self) -> None:
        """
        The configuration files that need no file made by a step first (a
        certificate, a password file) pass C{proxykit check} here too.
        """
        checked = 0
        for path in exampleFiles():
            if path.suffix == ".toml" and "certs/" not in path.read_text():
                out, err = io.StringIO(), io.StringIO()
                status = cli.main(["check", str(path)], out, err)
                self.assertEqual((status, err.getvalue()), (0, ""), path.name)
                self.assertIn(": ok (", out.getvalue())
                checked += 1
        self.assertGreater(checked, 5)

    def test_commandsWalked(self) -> None:
        """
        The integration tests walk every commands file.
        """
        tutorials = (ROOT / "tests" / "integration" / "test_tutorials.py").read_text()
        howtos = (ROOT / "tests" / "integration" / "test_howtos.py").read_text()
        for path in exampleFiles():
            if path.suffix == ".sh" and path.parent.name == "tutorial":
                self.assertIn(f'checkout.steps("tutorial/{path.name}")', tutorials)
            elif path.suffix == ".sh":
                self.assertIn(f'"{path.stem}",\n', howtos, path.name)
