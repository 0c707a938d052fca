"""
The module map of C{docs/design.rst} is the import order: a module imports
only modules listed below it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "proxykit"

UPWARD = {
    ("proxykit/config/values.py", "proxykit/config/reader.py"),
    ("proxykit/config/tlsconfig.py", "proxykit/tls.py"),
}
"""The lazy upward imports docs/design.rst names."""


def mapOrder() -> list[str]:
    """
    The modules of the design document's map, top layer first (C{h1} as
    C{proxykit/h1/}).
    """
    text = (ROOT / "docs" / "design.rst").read_text()
    section = text[text.index("Module map") : text.index("A request's path through these modules:")]
    return re.findall(r"^   (proxykit/\S+)", section, re.M)


def mapKey(path: Path) -> str:
    """
    The map's name for the module at C{path}.
    """
    relative = path.relative_to(ROOT).as_posix()
    return "proxykit/h1/" if relative.startswith("proxykit/h1/") else relative


def importsOf(path: Path) -> set[str]:
    """
    The proxykit modules C{path} imports at run time (at load time or
    inside a function; not under C{TYPE_CHECKING}), as map names.
    """
    found: set[str] = set()
    package = path.parent

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0:
                if not (node.module or "").startswith("proxykit."):
                    return
                parts = (node.module or "").split(".")
                base = ROOT
            else:
                parts = (node.module or "").split(".") if node.module else []
                base = package
                for _ in range(node.level - 1):
                    base = base.parent
                parts = [p for p in parts if p]
            target = base.joinpath(*parts) if parts else base
            if target.is_dir():
                module = target / "__init__.py"
            else:
                module = target.with_suffix(".py")
            if module.exists():
                found.add(mapKey(module))

    Visitor().visit(ast.parse(path.read_text()))
    return found


class LayerTests(SynchronousTestCase):
    """
    The imports follow the map's layers.
    """

    def test_everyModuleMapped(self) -> None:
        """
        Every module of the package is in the map (the package's
        C{__init__} aside).
        """
        order = mapOrder()
        modules = {mapKey(p) for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py"}
        self.assertEqual(sorted(modules - set(order)), [])
        self.assertEqual(sorted(set(order) - modules), [])

    def test_importsPointDown(self) -> None:
        """
        No module imports one listed above it, but for the documented lazy
        exceptions.
        """
        order = mapOrder()
        position = {name: index for index, name in enumerate(order)}
        upward = []
        for path in sorted(PACKAGE.rglob("*.py")):
            if path == PACKAGE / "__init__.py":
                continue
            source = mapKey(path)
            for target in importsOf(path):
                if target == source or target == "proxykit/__init__.py":
                    continue
                if position[target] < position[source] and (source, target) not in UPWARD:
                    upward.append(f"{source} imports {target}")
        self.assertEqual(upward, [])

    def test_exceptionsStillNeeded(self) -> None:
        """
        Each documented exception still exists (else drop it from the list
        and the document).
        """
        for source, target in UPWARD:
            self.assertIn(target, importsOf(ROOT / source), source)
