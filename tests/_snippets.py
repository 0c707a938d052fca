# -*- test-case-name: tests.test_docs -*-
"""
The code blocks of the documentation, as a reader sees them: inline blocks
(C{.. code-block::}, a paragraph ending in C{::}) and C{.. literalinclude::}
resolved from the file it names, with its options, the way Sphinx's
C{LiteralIncludeReader} does.

Tests that check what a page shows read it through L{snippets} or
L{codeBlocks}, so that they follow a snippet moved into a file under
C{examples/}.
"""

from __future__ import annotations

import ast
import re
import shlex
import textwrap
from collections.abc import Mapping
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

INLINE = ("code-block", "code", "sourcecode", "parsed-literal", "::")
"""The kinds of block whose content is written in the page itself."""

INCLUDE_OPTIONS = frozenset(
    {
        "language", "caption", "name", "class", "emphasize-lines", "linenos",
        "lineno-start", "start-after", "start-at", "end-before", "end-at",
        "dedent", "pyobject", "lines",
    }
)
"""The C{literalinclude} options L{includedLines} knows (Sphinx has more)."""

_DIRECTIVE = re.compile(r"^(\s*)\.\. ([\w-]+)::(?:\s+(.*))?$")
_OPTION = re.compile(r"^\s*:([\w-]+):(?:\s+(.*))?$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+<>_:.])\1+\s*$")


class IncludeError(Exception):
    """
    A C{literalinclude} cannot be resolved: its file is missing, a marker
    is not found, or it has an option L{includedLines} does not know.
    """


@attrs.frozen
class Snippet:
    """
    One block of code, output or configuration shown by a page.

    @ivar page: The page.
    @ivar line: The line of the page the block starts on (1 for the first).
    @ivar kind: C{"literalinclude"}, C{"code-block"} (or another inline
        directive) or C{"::"} (a literal block).
    @ivar language: The block's language (C{""} when none is given).
    @ivar lines: The lines the reader sees, unindented.
    @ivar sections: The titles of the sections the block is in, outermost
        first.
    @ivar source: The included file, for a C{literalinclude}.
    @ivar options: The directive's options.
    """

    page: Path
    line: int
    kind: str
    language: str
    lines: tuple[str, ...]
    sections: tuple[str, ...]
    source: Path | None = None
    options: Mapping[str, str] = attrs.field(factory=dict, eq=False, hash=False)

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)

    @property
    def inline(self) -> bool:
        return self.kind in INLINE


def includePath(page: Path, argument: str) -> Path:
    """
    The file a C{literalinclude} on C{page} names: relative to the page's
    directory, or to C{docs/} when it starts with C{/}, as Sphinx has it.
    """
    if argument.startswith("/"):
        return (DOCS / argument.lstrip("/")).resolve()
    return (page.parent / argument).resolve()


def _pyobject(path: Path, name: str) -> tuple[int, int]:
    """
    The first and last lines (1-based) of the class or function C{name}
    (C{Class.method} for a method) of the Python file C{path}, its
    decorators included.
    """
    body: list[ast.stmt] = ast.parse(path.read_text(), str(path)).body
    found: ast.stmt | None = None
    for part in name.split("."):
        found = next(
            (
                node
                for node in body
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name == part
            ),
            None,
        )
        if found is None:
            raise IncludeError(f"{path}: no object {name!r}")
        body = getattr(found, "body", [])
    assert found is not None and found.end_lineno is not None
    decorators = getattr(found, "decorator_list", [])
    first = min([found.lineno] + [d.lineno for d in decorators])
    return first, found.end_lineno


def _lineNumbers(spec: str, total: int) -> list[int]:
    """
    The 0-based line indexes a C{:lines:} spec (C{1,3-5,8-}) selects, as
    Sphinx's C{parse_line_num_spec} reads it.
    """
    found: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            start = int(first) if first.strip() else 1
            end = int(last) if last.strip() else total
            found.extend(range(start - 1, end))
        else:
            found.append(int(part) - 1)
    return found


def includedLines(path: Path, options: Mapping[str, str]) -> list[str]:
    """
    The lines a C{literalinclude} of C{path} with C{options} shows, as
    Sphinx selects them: C{pyobject}, then C{start-after}/C{start-at},
    then C{end-before}/C{end-at} (searched from the start on, never
    matching the first line for C{end-before}), then C{lines}, then
    C{dedent}.

    @raise IncludeError: When the file is missing, a marker is not found,
        or an option is not one of L{INCLUDE_OPTIONS}.
    """
    unknown = set(options) - INCLUDE_OPTIONS
    if unknown:
        raise IncludeError(f"literalinclude options not supported here: {sorted(unknown)}")
    if not path.is_file():
        raise IncludeError(f"{path}: no such file")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    if "pyobject" in options:
        first, last = _pyobject(path, options["pyobject"])
        lines = lines[first - 1 : last]
    for key, after in (("start-after", True), ("start-at", False)):
        if key in options:
            marker = options[key]
            at = next((i for i, line in enumerate(lines) if marker in line), None)
            if at is None:
                raise IncludeError(f"{path}: {key} {marker!r} not found")
            lines = lines[at + 1 :] if after else lines[at:]
    for key, before in (("end-before", True), ("end-at", False)):
        if key in options:
            marker = options[key]
            at = next(
                (i for i, line in enumerate(lines) if marker in line and not (before and i == 0)),
                None,
            )
            if at is None:
                raise IncludeError(f"{path}: {key} {marker!r} not found")
            lines = lines[:at] if before else lines[: at + 1]
    if "lines" in options:
        lines = [lines[n] for n in _lineNumbers(options["lines"], len(lines)) if n < len(lines)]
        if not lines:
            raise IncludeError(f"{path}: lines {options['lines']!r} selects nothing")
    if "dedent" in options:
        if options["dedent"]:
            lines = [line[int(options["dedent"]) :] for line in lines]
        else:
            lines = textwrap.dedent("\n".join(lines)).split("\n")
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """
    The indented body that begins at C{lines[start]} (blank lines first
    allowed): the lines indented more than C{indent}, unindented by the
    least indentation among them.

    @return: The body and the index of the first line after it.
    """
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    body = lines[start:end]
    while body and not body[0].strip():
        body.pop(0)
    return textwrap.dedent("\n".join(body)).split("\n") if body else [], end


def snippets(page: Path) -> list[Snippet]:
    """
    Every block of code on the reStructuredText page C{page}, in order,
    with its C{literalinclude}s resolved.

    @raise IncludeError: When a C{literalinclude} cannot be resolved.
    """
    lines = page.read_text().splitlines()
    found: list[Snippet] = []
    levels: list[str] = []
    titles: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        after = lines[i + 1] if i + 1 < len(lines) else ""
        adornment = _ADORNMENT.match(after)
        if line.strip() and not line[0].isspace() and adornment and len(after.strip()) >= len(line.strip()):
            char = adornment.group(1)
            if char not in levels:
                levels.append(char)
            level = levels.index(char)
            titles = titles[:level] + [line.strip()]
            i += 2
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            indent, name, argument = len(directive.group(1)), directive.group(2), directive.group(3) or ""
            j = i + 1
            options: dict[str, str] = {}
            while j < len(lines) and lines[j].strip() and _indent(lines[j]) > indent:
                option = _OPTION.match(lines[j])
                if not option:
                    break
                options[option.group(1)] = (option.group(2) or "").strip()
                j += 1
            if name == "literalinclude":
                source = includePath(page, argument.strip())
                shown = includedLines(source, options)
                found.append(
                    Snippet(
                        page, i + 1, name, options.get("language", ""), tuple(shown),
                        tuple(titles), source, options,
                    )
                )
                i = j
                continue
            if name in INLINE:
                body, end = _body(lines, j, indent)
                found.append(
                    Snippet(page, i + 1, name, argument.strip(), tuple(body), tuple(titles), None, options)
                )
                i = end
                continue
            i += 1
            continue
        stripped = line.strip()
        if stripped.endswith("::") and not stripped.startswith(".."):
            body, end = _body(lines, i + 1, _indent(line))
            if body:
                found.append(Snippet(page, i + 1, "::", "", tuple(body), tuple(titles)))
                i = end
                continue
        i += 1
    return found


def codeBlocks(
    page: Path | str, language: str | None = None, section: str | None = None
) -> list[list[str]]:
    """
    The lines of each block of C{page} (in C{language}, in the section
    titled C{section} at any depth, when given), unindented and with
    blank lines left out.
    """
    return [
        [line for line in snippet.lines if line.strip()]
        for snippet in snippets(Path(page))
        if (language is None or snippet.language == language)
        and (section is None or section in snippet.sections)
    ]


def pages() -> list[Path]:
    """
    Every reStructuredText page of the documentation (C{docs/} and the
    directories under it, the build directory apart).
    """
    return sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.relative_to(DOCS).parts)


def commandFiles() -> list[Path]:
    """
    The command files under C{examples/commands/}: the shell commands of
    one page each, a marked region per block.
    """
    return sorted(EXAMPLES.glob("commands/*.sh"))


def regions(path: Path) -> dict[str, list[str]]:
    """
    The marked regions of a file under C{examples/}: C{[start NAME]} to
    C{[end NAME]}, by name.

    @raise ValueError: When the markers are unbalanced, nested or repeated.
    """
    found: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        marker = re.search(r"\[(start|end) ([\w.-]+)\]", line)
        if marker and marker.group(1) == "start":
            if current is not None or marker.group(2) in found:
                raise ValueError(f"{path.name}:{number}: [start {marker.group(2)}] inside a region or repeated")
            current = marker.group(2)
            found[current] = []
        elif marker:
            if marker.group(2) != current:
                raise ValueError(f"{path.name}:{number}: [end {marker.group(2)}] closes no region")
            current = None
        elif current is not None:
            found[current].append(line)
    if current is not None:
        raise ValueError(f"{path.name}: region {current} is not closed")
    return found


def commands(lines: list[str]) -> list[list[str]]:
    """
    The shell commands of C{lines} (continuation lines joined, comments and
    a trailing C{&} left out), each split into words as the shell would.
    """
    joined = "\n".join(lines).replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words.pop()
        if words:
            found.append(words)
    return found
