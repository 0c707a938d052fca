"""
The proxykit reference, generated from the code when the docs are built,
so that it cannot drift from it.

Directives:

- C{.. proxykit-config::} every key of a configuration file, table by
  table (L{proxykit.config.schema} says which keys each table accepts and
  which field each sets; the config classes give the type, the default and,
  in their C{@ivar} text, the meaning);
- C{.. proxykit-twistd::} the options of C{twistd proxykit forward} and
  C{reverse} (L{proxykit.tap});
- C{.. proxykit-command::} the C{proxykit} command's verbs and options
  (L{proxykit.cli});
- C{.. proxykit-api::} autodoc directives for the public names
  (C{proxykit.__all__} and the public modules').

The docstrings are epytext: an C{autodoc-process-docstring} handler turns
their fields (C{@param}, C{@ivar}, ...) and markup (C{C{...}}, C{L{...}})
into reStructuredText (C{docs/_ext/proxykit_epytext.py}).

The functions that produce the text (L{configLines}, L{twistdLines},
L{commandLines}, L{apiLines}, L{epytextToRest}) are plain functions the
tests call without building the docs.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
from typing import Any

import attrs
from proxykit_epytext import docstringText, epytextToRest, escape, ivars

__all__ = [
    "apiLines",
    "commandLines",
    "configLines",
    "epytextToRest",
    "ivars",
    "settableKeys",
    "setup",
    "tomlValue",
    "twistdLines",
]

# ------------------------------------------------------------- config keys


def tomlValue(value: Any) -> str:
    """
    C{value} written as TOML.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (frozenset, set)):
        return tomlValue(sorted(value))
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(tomlValue(each) for each in value) + "]"
    raise TypeError(value)


_TYPES = [
    (r"bool", "boolean"),
    (r"float", "number"),
    (r"int", "whole number"),
    (r"str", "string"),
    (r"tuple\[str, \.\.\.\]", "list of strings"),
    (r"frozenset\[int\]", "list of ports"),
]


def typeWords(annotation: Any) -> str:
    """
    A field's type annotation in words (C{tuple[str, ...]}: list of
    strings); an optional value (C{| None}) is its type.
    """
    text = str(annotation)
    text = re.sub(r"\s*\|\s*None$", "", text)
    for pattern, words in _TYPES:
        if re.fullmatch(pattern, text):
            return words
    return text


def _label(path: str) -> str:
    return "config-" + (path.replace(".", "-") if path else "top")


def _keyPath(table: Any, key: Any, inline: set[str]) -> str:
    if not table.path:
        return key.name
    return f"{table.path}{'[]' if table.path in inline else ''}.{key.name}"


def _inFileTerms(text: str, tomlNames: dict[str, str]) -> str:
    """
    A field's meaning as a file's reader needs it: the class's fields
    named by their keys (C{``clientKey``}: C{``client_key``}), and
    C{``None``} as C{unset}.
    """

    def name(match: re.Match[str]) -> str:
        word = match.group(1)
        if word == "None":
            return "unset"
        return f"``{tomlNames.get(word, word)}``"

    return re.sub(r"``(\w+)``", name, text)


def configLines() -> list[str]:
    """
    The configuration reference: one section per table, each key with its
    type, default, meaning and an example.
    """
    import proxykit as config
    from proxykit.config import schema

    inline = {
        f"{table.path}.{key.name}" if table.path else key.name
        for table in schema.TABLES
        for key in table.keys
        if key.kind == schema.KIND_TABLES
    }
    inline = {path for path in inline if not schema.table(path).header.startswith("[[")}
    lines: list[str] = []
    for table in schema.TABLES:
        cls = getattr(config, table.className)
        fields = {field.name: field for field in attrs.fields(cls)}
        meanings = ivars(cls)
        tomlNames = {key.field: key.name for key in table.keys}
        if not table.path:
            title = "Top-level keys"
        elif table.path in inline:
            title = f"``{table.path}`` elements"
        elif not table.header.startswith("["):
            title = f"``{table.path}``"
        else:
            title = f"``{table.header}``"
        lines += [f".. _{_label(table.path)}:", "", title, "~" * len(title), ""]
        intro = inspect.cleandoc(cls.__doc__ or "").split("\n@", 1)[0].strip()
        lines += _inFileTerms(docstringText(intro), tomlNames).split("\n") + [""]
        lines += [
            f"The fields of :py:class:`proxykit.{table.className}`"
            + (
                "; each element of the list is a string or an inline table with these keys."
                if table.path in inline
                else "."
            ),
            "",
        ]
        for key in table.keys:
            field = fields[key.field]
            path = _keyPath(table, key, inline)
            if key.kind == schema.KIND_VALUE or key.example.startswith("{"):
                expected = getattr(field.validator, "expected", None)
                kind = key.type or (escape(expected) if expected else typeWords(field.type))
            elif key.kind == schema.KIND_TABLE:
                kind = key.type or "table"
            else:
                kind = key.type or "array of tables"
            if key.default is not None:
                default = key.default
            elif field.default is attrs.NOTHING:
                default = "required"
            elif field.default is None:
                default = "none"
            elif attrs.has(type(field.default)):
                default = "every key at its default"
            else:
                default = f"``{tomlValue(field.default)}``"
            meaning = meanings.get(key.field)
            if meaning is None:
                raise ValueError(f"{table.className}.{key.field} has no @ivar")
            status = "required" if default == "required" else f"default: {default}"
            lines += [f"``{path}``", f"   {kind}; {status}", ""]
            text = _inFileTerms(docstringText(meaning), tomlNames)
            lines += ["   " + line if line else "" for line in text.split("\n")]
            lines.append("")
            if key.kind != schema.KIND_VALUE:
                child = f"{table.path}.{key.name}" if table.path else key.name
                lines += [f"   The keys: :ref:`{_label(child)}`.", ""]
            if key.example:
                lines += [f"   Example: ``{key.name} = {key.example}``", ""]
    return lines


# -------------------------------------------------------------- commands

_TYPED = re.compile(r"--[a-z][\w-]*(?: '[^']*')?|(?<![\w'])'[^'\s][^']*'(?![\w'])")
"""What a reader types in a command's help text: an option (C{--header},
with a quoted value: C{--header 'Host: ...'}), or a quoted value
(C{'off'})."""


def helpText(text: str) -> str:
    """
    A command's help text as reST: what a reader types (L{_TYPED}) as
    inline literals, the rest escaped, so that it is shown as typed
    (Sphinx's smart quotes would make C{--} a dash and C{'} curly).
    """
    parts: list[str] = []
    at = 0
    for match in _TYPED.finditer(text):
        parts += [escape(text[at : match.start()]), f"``{match.group(0)}``"]
        at = match.end()
    parts.append(escape(text[at:]))
    return "".join(parts)


def _optionLines(options: Any) -> list[str]:
    """
    The options of one L{twisted.python.usage.Options}, as a definition
    list.
    """
    lines: list[str] = []
    shorts = {long: short for short, long in options.synonyms.items() if len(short) == 1}
    for spec in options.longOpt:
        name = spec.rstrip("=")
        if name in ("help",):
            continue
        takes = spec.endswith("=")
        term = f"``--{name}{' VALUE' if takes else ''}``"
        if name in shorts:
            term += f", ``-{shorts[name]}{' VALUE' if takes else ''}``"
        doc = " ".join(options.docs.get(name, "").split())
        lines += [term, "   " + _linkKeys(helpText(doc)) if doc else "   (undocumented)", ""]
    return lines


def settableKeys() -> dict[str, str]:
    """
    Every key path of a configuration file (C{timeouts.connect}), with the
    label of its table's section in the configuration reference.
    """
    from proxykit.config import schema

    return {
        (f"{table.path}.{key.name}" if table.path else key.name): _label(table.path)
        for table in schema.TABLES
        for key in table.keys
    }


def _linkKeys(text: str) -> str:
    """
    C{text} with each C{sets KEY} (C{sets timeouts.connect}) linked to
    the key's table in the configuration reference.
    """
    keys = settableKeys()

    def link(match: re.Match[str]) -> str:
        key = match.group(2).replace("\\_", "_")
        if key not in keys:
            return match.group(0)
        return f"{match.group(1)} :ref:`{key} <{keys[key]}>`"

    return re.sub(r"\b([Ss]ets) ([a-z][\w.\\]*[a-z])", link, text)


def twistdLines() -> list[str]:
    """
    The reference of C{twistd proxykit}: its own options, then its
    subcommands and theirs.
    """
    from proxykit.tap import Options

    top = Options()
    lines: list[str] = _optionLines(top)
    for name, _, cls, summary in top.subCommands:
        options = cls()
        title = f"``twistd proxykit {name}``"
        lines += [f".. _cli-twistd-{name}:", "", title, "~" * len(title), ""]
        lines += [helpText(summary), ""]
        lines += [helpText(" ".join(options.longdesc.split())), ""]
        lines += _optionLines(options)
    return lines


def _argumentLines(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        metavar = action.metavar or (action.dest.upper() if action.nargs != 0 else None)
        if isinstance(metavar, tuple):
            metavar = " ".join(metavar)
        if action.choices is not None and action.metavar is None:
            metavar = "|".join(str(choice) for choice in action.choices)
        if action.option_strings:
            spellings = ", ".join(
                f"``{spelling}{' ' + str(metavar) if action.nargs != 0 else ''}``"
                for spelling in action.option_strings
            )
        else:
            spellings = f"``{metavar}``"
        text = " ".join((action.help or "").split())
        if isinstance(action, argparse._AppendAction):
            text += " (repeatable)" if "repeatable" not in text else ""
        lines += [spellings, "   " + helpText(text), ""]
    return lines


def commandLines() -> list[str]:
    """
    The reference of the C{proxykit} command: each verb and its arguments.
    """
    from proxykit.cli import _parser

    parser = _parser()
    lines: list[str] = [helpText(parser.description or ""), ""]
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for verb, sub in action.choices.items():
            title = f"``proxykit {verb}``"
            lines += [f".. _cli-proxykit-{verb}:", "", title, "~" * len(title), ""]
            usage = " ".join(sub.format_usage().split())
            lines += [f"``{usage.removeprefix('usage: ')}``", ""]
            lines += [helpText(" ".join((sub.description or "").split())), ""]
            lines += _argumentLines(sub)
    return lines


# ------------------------------------------------------------------- API

PUBLIC_MODULES = ("proxykit", "proxykit.h1", "proxykit.testing", "proxykit.web", "proxykit.reactor")
"""The public modules, documented in this order; a name exported by
several is documented under the first."""


def publicNames() -> dict[str, list[str]]:
    """
    Each public module's names (its C{__all__}) that no module before it
    exports already (the same object).
    """
    seen: set[int] = set()
    names: dict[str, list[str]] = {}
    for moduleName in PUBLIC_MODULES:
        module = importlib.import_module(moduleName)
        own = []
        for name in module.__all__:
            value = getattr(module, name)
            if not isinstance(value, (int, str, float, bytes, tuple, frozenset)) and id(value) in seen:
                continue
            seen.add(id(value))
            own.append(name)
        names[moduleName] = own
    return names


def apiLines() -> list[str]:
    """
    The API reference: an C{automodule} per public module, with its own
    public names.
    """
    lines: list[str] = []
    for moduleName, names in publicNames().items():
        title = f"``{moduleName}``"
        lines += [title, "-" * len(title), ""]
        lines += [f".. automodule:: {moduleName}", f"   :members: {', '.join(names)}", ""]
    return lines


# ---------------------------------------------------------------- Sphinx


def _directive(produce: Any) -> Any:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    class Generated(SphinxDirective):
        has_content = False

        def run(self) -> list[nodes.Node]:
            node = nodes.section()
            node.document = self.state.document
            source = self.get_source_info()[0]
            content = StringList(produce(), source=source)
            nested_parse_with_titles(self.state, content, node)
            return node.children

    return Generated


def processDocstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """
    The C{autodoc-process-docstring} handler: epytext to reST, in place.
    """
    lines[:] = epytextToRest(lines)


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.autodoc")
    app.add_directive("proxykit-config", _directive(configLines))
    app.add_directive("proxykit-twistd", _directive(twistdLines))
    app.add_directive("proxykit-command", _directive(commandLines))
    app.add_directive("proxykit-api", _directive(apiLines))
    app.connect("autodoc-process-docstring", processDocstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
