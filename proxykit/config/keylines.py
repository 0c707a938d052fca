# -*- test-case-name: tests.test_config -*-
"""
Where each key of a TOML document is, so that configuration errors can name
a line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def keyLines(text: str) -> dict[str, int]:
    """
    Where each table, array of tables (at its first element), array-of-tables
    element, key and array element of a TOML document starts, by key path
    with indexes (C{reverse.vhost[1].route[0].origins[2]}).

    A scanner of valid TOML (it runs after L{tomllib} has accepted the
    document) that knows just enough to skip strings, comments and
    multi-line values.  Keys inside inline tables are not recorded; a lookup
    falls back to the enclosing key (see
    L{proxykit.config.reader.ConfigReader.locate}).
    """
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    # The latest element of each array of tables, by its path without indexes.
    arrays: dict[str, str] = {}
    current = ""
    pos, line = 0, 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        header = _HEADER.match(text, pos, end)
        assignment = None if header else _ASSIGNMENT.match(text, pos, end)
        if header:
            names = _names(header.group(2))
            if header.group(1) == "[[":
                parent = _concrete(names[:-1], arrays)
                array = f"{parent}.{names[-1]}" if parent else names[-1]
                index = counts.get(array, 0)
                counts[array] = index + 1
                generic = ".".join(names)
                for inner in [name for name in arrays if name.startswith(generic + ".")]:
                    del arrays[inner]
                current = arrays[generic] = f"{array}[{index}]"
                # The array itself (an unknown or misplaced [[name]]) is
                # where its first element starts.
                lines.setdefault(array, line)
            else:
                current = _concrete(names, arrays)
            lines.setdefault(current, line)
        elif assignment:
            name = ".".join(_names(assignment.group(1)))
            key = f"{current}.{name}" if current else name
            lines.setdefault(key, line)
            pos, line = _skipValue(text, assignment.end(), line, key, lines)
            continue
        pos, line = end + 1, line + 1
    return lines


_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_HEADER = re.compile(rf"[ \t]*(\[\[?)[ \t]*({_DOTTED_KEY})[ \t]*\]")
_ASSIGNMENT = re.compile(rf"[ \t]*({_DOTTED_KEY})[ \t]*=")
_BASIC_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def _names(dotted: str) -> list[str]:
    return [
        part.group(0).strip("\"'")
        for part in re.finditer(_KEY_PART, dotted)
    ]


def _concrete(names: list[str], arrays: Mapping[str, str]) -> str:
    """
    The path with indexes of a table named C{names}: each prefix that is an
    array of tables stands for its latest element.
    """
    path = ""
    for depth in range(1, len(names) + 1):
        generic = ".".join(names[:depth])
        if generic in arrays:
            path = arrays[generic]
        else:
            path = f"{path}.{names[depth - 1]}" if path else names[depth - 1]
    return path


def _skipValue(
    text: str, pos: int, line: int, key: str, lines: dict[str, int]
) -> tuple[int, int]:
    """
    Skip the value that starts at C{pos}, recording the line of each element
    if it is an array.

    @return: The position and number of the line after the value.
    """
    depth = 0
    isArray = False
    expectElement = False
    index = 0
    while pos < len(text):
        c = text[pos]
        if c == "\n":
            pos, line = pos + 1, line + 1
            if depth == 0:
                break
            continue
        if c in " \t\r":
            pos += 1
            continue
        if c == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        if expectElement and depth == 1 and c not in ",]":
            lines.setdefault(f"{key}[{index}]", line)
            index += 1
            expectElement = False
        if text.startswith(('"""', "'''"), pos):
            end = _endOfMultiline(text, pos)
            line += text.count("\n", pos, end)
            pos = end
            continue
        if c == '"':
            found = _BASIC_STRING.match(text, pos)
            pos = found.end() if found else pos + 1
            continue
        if c == "'":
            end = text.find("'", pos + 1)
            pos = len(text) if end < 0 else end + 1
            continue
        if c in "[{":
            if depth == 0:
                isArray = expectElement = c == "["
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 1 and isArray:
            expectElement = True
        pos += 1
    return pos, line


def _endOfMultiline(text: str, pos: int) -> int:
    """
    The position after the multi-line string that starts at C{pos}.
    """
    quote = text[pos : pos + 3]
    pos += 3
    while pos < len(text):
        if quote == '"""' and text[pos] == "\\":
            pos += 2
        elif text.startswith(quote, pos):
            # Up to two quotes may end the content: \"\"\"a\"\"\"\"\" is 'a""'.
            end = pos + 3
            while end < len(text) and end < pos + 5 and text[end] == quote[0]:
                end += 1
            return end
        else:
            pos += 1
    return pos

