"""
Epytext docstrings as reStructuredText, for the proxykit reference
(C{proxykit_reference}): fields (C{@param}, C{@ivar}, ...) as reST fields,
inline markup (C{C{...}}, C{L{...}}, C{I{...}}, C{B{...}}) as reST roles
and literals, literal and doctest blocks kept; and a class's C{@ivar}
texts.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable

_INLINE = re.compile(r"([CLIBUMXSE])\{")
_FIELD = re.compile(r"^(\s*)@(\w+)(?:[ \t]+([^:]+?))?:(?:[ \t]+(.*))?$")
_FIELDS = {
    "param": "param",
    "type": "type",
    "keyword": "keyword",
    "kwarg": "keyword",
    "return": "returns",
    "returns": "returns",
    "rtype": "rtype",
    "raise": "raises",
    "raises": "raises",
    "except": "raises",
    "ivar": "ivar",
    "cvar": "cvar",
    "var": "var",
    "see": "see",
    "note": "note",
    "since": "since",
    "author": "author",
}


def escape(text: str) -> str:
    """
    Plain text with the characters reST would take for markup escaped.
    """
    text = text.replace("\\", "\\\\")
    for char in "*`|":
        text = text.replace(char, "\\" + char)
    # A word ending in "_" would be a reference.
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)


def _closing(text: str, start: int) -> int:
    """
    The index of the brace closing the one just before C{start}, or -1.
    """
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _inline(text: str, plain: bool = False) -> str:
    """
    Epytext inline markup in C{text} as reST (or as plain text, inside
    markup reST cannot nest).
    """
    out: list[str] = []
    position = 0
    while True:
        found = _INLINE.search(text, position)
        if found is None:
            out.append(text[position:] if plain else escape(text[position:]))
            break
        end = _closing(text, found.end())
        if end < 0:
            out.append(text[position:] if plain else escape(text[position:]))
            break
        out.append(text[position : found.start()] if plain else escape(text[position : found.start()]))
        tag, inner = found.group(1), text[found.end() : end]
        position = end + 1
        if plain:
            out.append(inner if tag in "CL" else _inline(inner, True))
            continue
        if tag == "C":
            piece = f"``{' '.join(inner.split())}``" if inner.strip() else ""
        elif tag == "L":
            label = re.fullmatch(r"(.*?)\s*<([^<>]+)>", inner, re.S)
            if label:
                piece = f":py:obj:`{' '.join(label.group(1).split())} <{label.group(2).strip()}>`"
            else:
                piece = f":py:obj:`{inner.strip()}`"
        elif tag == "I":
            piece = f"*{_inline(inner, True).strip()}*"
        elif tag == "B":
            piece = f"**{_inline(inner, True).strip()}**"
        elif tag == "E":
            piece = {"lb": "{", "rb": "}"}.get(inner, inner)
        else:  # U, M, X, S: the text itself
            piece = escape(_inline(inner, True))
        # Inline markup must not touch a word character.
        if piece.endswith(("`", "*")):
            before = "".join(out)
            if before and (before[-1].isalnum() or before[-1] in "`*"):
                piece = "\\ " + piece
            if position < len(text) and (text[position].isalnum() or text[position] in "({"):
                piece = piece + "\\ "
        out.append(piece)
    return "".join(out)


def epytextToRest(lines: Iterable[str]) -> list[str]:
    """
    Epytext lines (a dedented docstring) as reStructuredText: fields as
    reST fields, inline markup as reST roles and literals, literal and
    doctest blocks unchanged.
    """
    source = list(lines)
    # Group the lines into prose runs (converted together: markup may span
    # lines) and literal blocks (kept).
    result: list[str] = []
    prose: list[str] = []
    literalIndent: int | None = None
    inDoctest = False
    inField = False

    def flush() -> None:
        if prose:
            result.extend(_inline("\n".join(prose)).split("\n"))
            prose.clear()

    previous = ""
    for line in source:
        indent = len(line) - len(line.lstrip())
        if literalIndent is not None:
            if not line.strip() or indent > literalIndent:
                result.append(line)
                continue
            literalIndent = None
        if inDoctest:
            if line.strip():
                result.append(line)
                continue
            inDoctest = False
        if line.lstrip().startswith(">>>"):
            flush()
            inDoctest = True
            result.append(line)
            continue
        original = line
        if line.strip() and indent > 0 and not previous.strip() and not inField and prose:
            # An indented block after a paragraph, without "::": an
            # example, kept as a literal block (as it reads in the source).
            flush()
            result += ["::", "", line]
            literalIndent = 0
            previous = original
            continue
        field = _FIELD.match(line)
        if field:
            inField = True
        elif line.strip() and indent == 0:
            inField = False
        if field:
            name = _FIELDS.get(field.group(2), field.group(2))
            argument = f" {field.group(3).strip()}" if field.group(3) else ""
            if previous.strip() and not _FIELD.match(previous) and not previous.startswith(" "):
                prose.append("")
            line = f"{field.group(1)}:{name}{argument}: {field.group(4) or ''}".rstrip()
        prose.append(line)
        if line.rstrip().endswith("::"):
            flush()
            literalIndent = indent
        previous = original
    flush()
    return result


def docstringText(text: str) -> str:
    """
    A docstring fragment (an C{@ivar} body) as one reST paragraph's text.
    """
    return "\n".join(epytextToRest(text.split("\n")))


def ivars(cls: type) -> dict[str, str]:
    """
    The C{@ivar} texts of C{cls}'s docstring, by attribute name, with
    their continuation lines (epytext, unconverted).
    """
    doc = inspect.cleandoc(cls.__doc__ or "")
    found: dict[str, str] = {}
    name: str | None = None
    for line in doc.splitlines():
        field = re.match(r"^@(\w+)(?:\s+(\w+))?:\s*(.*)$", line)
        if field:
            name = field.group(2) if field.group(1) == "ivar" else None
            if name:
                found[name] = field.group(3)
        elif name and line.startswith(" "):
            found[name] += "\n" + line.strip()
        elif name and not line.strip():
            found[name] += "\n"
        else:
            name = None
    return {key: value.strip() for key, value in found.items()}
