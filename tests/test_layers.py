"""
The module map of C{docs/design.rst} is the import order: a module imports
only modules listed below it; each package's modules are one block of it,
and only the top of the house imports the public face, C{proxykit} itself.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from ._snippets import snippets

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "proxykit"

PUBLIC_FACE = "proxykit/__init__.py"

MAY_IMPORT_PUBLIC_FACE = {
    "proxykit/tap.py",
    "proxykit/service.py",
    "proxykit/web.py",
    "proxykit/testing.py",
}
"""The modules above the private packages that may import C{proxykit}
itself (and anything in a C{proxykit/testing/} package)."""

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
    [shown] = [s for s in snippets(ROOT / "docs" / "design.rst") if "Module map" in s.sections]
    return re.findall(r"^(proxykit/\S+)", shown.text, re.M)


def mapKey(path: Path) -> str:
    """
    The map's name for the module at C{path}.
    """
    relative = path.relative_to(ROOT).as_posix()
    return "proxykit/h1/" if relative.startswith("proxykit/h1/") else relative


def moduleAt(target: Path) -> Path | None:
    """
    The source file of the module or package at C{target} (a path without
    C{.py}), or C{None} if there is none.
    """
    if target.is_dir():
        module = target / "__init__.py"
    else:
        module = target.with_suffix(".py")
    return module if module.exists() else None


def importsOf(path: Path, source: str | None = None) -> set[str]:
    """
    The proxykit modules C{path} imports at run time (at load time or
    inside a function; not under C{TYPE_CHECKING}), as map names.

    @param source: The module's text, if not the file's.
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

        def visit_Import(self, node: ast.Import) -> None:
            for alias in node.names:
                if alias.name == "proxykit" or alias.name.startswith("proxykit."):
                    add(ROOT.joinpath(*alias.name.split(".")))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0:
                module = node.module or ""
                if not (module == "proxykit" or module.startswith("proxykit.")):
                    return
                parts = module.split(".")
                base = ROOT
            else:
                parts = (node.module or "").split(".") if node.module else []
                base = package
                for _ in range(node.level - 1):
                    base = base.parent
                parts = [p for p in parts if p]
            target = base.joinpath(*parts) if parts else base
            for alias in node.names:
                # "from .relay import client" imports the module client.
                if target.is_dir() and moduleAt(target / alias.name) is not None:
                    add(target / alias.name)
                else:
                    add(target)

    def add(target: Path) -> None:
        module = moduleAt(target)
        if module is not None:
            found.add(mapKey(module))

    Visitor().visit(ast.parse(path.read_text() if source is None else source))
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

    def test_packagesContiguous(self) -> None:
        """
        The modules of each package under C{proxykit/} are one block of the
        map, so the folder layout and the layer order cannot drift apart.
        """
        order = mapOrder()
        packages = sorted(
            p.parent.relative_to(ROOT).as_posix() + "/"
            for p in PACKAGE.glob("*/__init__.py")
        )
        self.assertIn("proxykit/relay/", packages)
        for package in packages:
            indices = [i for i, name in enumerate(order) if name.startswith(package)]
            self.assertTrue(indices, package)
            self.assertEqual(
                indices, list(range(indices[0], indices[-1] + 1)), package
            )

    def test_publicFaceOnlyAtTop(self) -> None:
        """
        Only the top of the house (C{tap}, C{service}, C{web}, C{testing})
        imports C{proxykit} itself: the private packages and the shared
        bottom never reach for the public face.
        """
        offenders = []
        for path in sorted(PACKAGE.rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if (
                relative == PUBLIC_FACE
                or relative in MAY_IMPORT_PUBLIC_FACE
                or relative.startswith("proxykit/testing/")
            ):
                continue
            if PUBLIC_FACE in importsOf(path):
                offenders.append(relative)
        self.assertEqual(offenders, [])

    def test_importsOfSeesEveryForm(self) -> None:
        """
        L{importsOf} counts absolute and relative imports, C{import
        proxykit...} statements and modules imported by name from their
        package, and skips imports under C{TYPE_CHECKING}.
        """
        path = PACKAGE / "relay" / "example.py"
        source = "\n".join(
            [
                "from typing import TYPE_CHECKING",
                "import proxykit.policy.auth",
                "from proxykit import decisions",
                "from .. import reactor",
                "from ..config import values",
                "from . import pool",
                "from .flow import Side",
                "from proxykit.h1 import Request",
                "from proxykit import Forward",
                "def later():",
                "    from ..policy.rewrite import viaValue",
                "if TYPE_CHECKING:",
                "    from ..tls import ServerTLS",
                "else:",
                "    from ..policy.vhosts import VhostTable",
            ]
        )
        self.assertEqual(
            sorted(importsOf(path, source)),
            [
                "proxykit/__init__.py",
                "proxykit/config/values.py",
                "proxykit/decisions.py",
                "proxykit/h1/",
                "proxykit/policy/auth.py",
                "proxykit/policy/rewrite.py",
                "proxykit/policy/vhosts.py",
                "proxykit/reactor.py",
                "proxykit/relay/flow.py",
                "proxykit/relay/pool.py",
            ],
        )
