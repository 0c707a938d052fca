# -*- test-case-name: tests.test_reference -*-
"""
The reference (C{docs/configuration.rst}'s keys, C{docs/reference/}) is
generated from the code by C{docs/_ext/proxykit_reference.py}; these tests
check that what it generates covers the code: every key the TOML reader
accepts (taken from the reader itself, every set of known keys it checks a
table against), every option of C{twistd proxykit} and of the C{proxykit}
command, and every public name.  That the generated text builds cleanly is
C{tests.test_docs.DocsBuildTests}' job.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

import proxykit
from proxykit.config import ConfigError, schema
from proxykit.config.reader import ConfigReader, tomllib

from ._certs import TestCA
from ._helpers import docsExtension

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def generator() -> ModuleType:
    """
    The docs' extension module, C{docs/_ext/proxykit_reference.py} (which
    imports C{docs/_ext/proxykit_epytext.py} from its directory, as Sphinx runs it).
    """
    return docsExtension("proxykit_reference")


EVERY_TABLE: dict[str, Any] = {
    "reverse": {
        "vhost": [
            {
                "hosts": ["a.test"],
                "route": [
                    {
                        "origins": [{"url": "https://127.0.0.1:1"}],
                        "health_check": {},
                    }
                ],
            }
        ]
    },
    "tls": {
        "listen": ["tcp:0", {"endpoint": "tcp:0"}],
        "default_certificate": {"cert": "x", "key": "y"},
        "certificate": [{"hosts": ["a.test"], "cert": "x", "key": "y"}],
    },
    "log": {"listener": [{"listen": "tcp:0"}]},
    "forward": {},
    "timeouts": {},
    "pool": {},
    "limits": {},
    "admin": {},
}
"""A mapping with one of every table and array of tables, so that the
reader checks each against its known keys."""


def everyTable(directory: str) -> dict[str, Any]:
    """
    L{EVERY_TABLE}, its certificates real files in C{directory} (the
    reader stops reading C{[tls]} at one it cannot load).
    """
    os.makedirs(directory, exist_ok=True)
    cert, key = TestCA().write(directory, "a", "a.test", "a.test")
    data = copy.deepcopy(EVERY_TABLE)
    data["tls"]["default_certificate"] = {"cert": cert, "key": key}
    data["tls"]["certificate"] = [{"hosts": ["a.test"], "cert": cert, "key": key}]
    return data


def acceptedKeys(data: dict[str, Any] = EVERY_TABLE) -> dict[str, frozenset[str]]:
    """
    Each table's path (C{reverse.vhost.route}, array indexes dropped) and
    the keys the reader accepts in it, as the reader checks them in
    C{data}.
    """
    tables: dict[str, frozenset[str]] = {}
    original = ConfigReader.known

    def known(self: ConfigReader, value: Any, key: str, accepted: set[str]) -> None:
        tables[re.sub(r"\[\d+\]", "", key)] = frozenset(accepted)
        original(self, value, key, accepted)

    ConfigReader.known = known  # type: ignore[method-assign]
    try:
        ConfigReader("every-table.toml", "").proxyConfig(data, ("tcp:0",))
    except ConfigError:
        pass  # the values are placeholders; only the keys matter here
    finally:
        ConfigReader.known = original  # type: ignore[method-assign]
    return tables


def documentedKeys() -> set[str]:
    """
    The key paths the generated configuration reference describes (the
    terms of its definition lists), array markers (C{origins[]}) dropped.
    """
    lines = generator().configLines()
    return {
        match.group(1).replace("[]", "")
        for line in lines
        if (match := re.fullmatch(r"``([\w.\[\]]+)``", line))
    }


class ConfigReferenceTests(SynchronousTestCase):
    """
    Every key the reader accepts is in the generated reference, with a
    meaning and a valid example.
    """

    def test_schemaIsTheReaders(self) -> None:
        """
        The reader checks each table against the keys L{schema} declares
        for it, and reaches every table L{schema} declares.
        """
        accepted = acceptedKeys(everyTable(self.mktemp()))
        self.assertEqual(
            {path: set(keys) for path, keys in accepted.items()},
            {table.path: table.names() for table in schema.TABLES},
        )

    def test_everyKeyDocumented(self) -> None:
        """
        Each key the reader accepts is a term of the generated reference.
        """
        documented = documentedKeys()
        missing = [
            f"{path}.{key}" if path else key
            for path, keys in sorted(acceptedKeys(everyTable(self.mktemp())).items())
            for key in sorted(keys)
            if (f"{path}.{key}" if path else key) not in documented
        ]
        self.assertEqual(missing, [], "keys the reader accepts but the reference does not name")

    def test_everyKeyHasAMeaning(self) -> None:
        """
        Each key sets a field of its table's class, which has C{@ivar}
        text (the key's meaning in the reference).
        """
        ivars = generator().ivars
        problems = []
        for table in schema.TABLES:
            cls = getattr(proxykit, table.className)
            fields = {field.name for field in attrs.fields(cls)}
            meanings = ivars(cls)
            for key in table.keys:
                if key.field not in fields:
                    problems.append(f"{table.className} has no field {key.field}")
                elif not meanings.get(key.field):
                    problems.append(f"{table.className}.{key.field} has no @ivar")
        self.assertEqual(problems, [])

    def test_examplesAreValid(self) -> None:
        """
        Each example value is valid TOML that the reader accepts for its
        key (a file it names need not exist).
        """
        problems = []
        for table in schema.TABLES:
            for key in table.keys:
                if not key.example:
                    continue
                try:
                    value = tomllib.loads(f"x = {key.example}")["x"]
                except tomllib.TOMLDecodeError as e:
                    problems.append(f"{table.path}.{key.name}: {e}")
                    continue
                data = _placed(table.path, key.name, value)
                try:
                    ConfigReader("example.toml", "").proxyConfig(data, ("tcp:0",))
                except ConfigError as e:
                    for error in e.errors:
                        where = re.sub(r"\[\d+\]", "", error.key)
                        ours = where == (f"{table.path}.{key.name}" if table.path else key.name)
                        unreadable = "cannot read" in error.problem or "no such file" in error.problem
                        if ours and not unreadable:
                            problems.append(f"{error.key}: {error.problem}")
        self.assertEqual(problems, [])

    def test_referenceIsInTheGuide(self) -> None:
        """
        C{docs/configuration.rst} shows the generated keys, and lists none
        by hand.
        """
        text = (DOCS / "configuration.rst").read_text()
        self.assertIn(".. proxykit-config::", text)
        # A definition list's term: the key alone on its line (with its
        # type and default, as the hand-written list had them).
        byHand = re.findall(r"^``([\w.\[\]]+)``(?: \(.*\))?\n   \S", text, re.M)
        self.assertEqual(byHand, [])


def _placed(path: str, name: str, value: Any) -> dict[str, Any]:
    """
    A minimal configuration mapping with C{name = value} in the table at
    C{path}.
    """
    route: dict[str, Any] = {"origins": ["https://127.0.0.1:1"]}
    data: dict[str, Any] = {
        "reverse": {"vhost": [{"hosts": ["app.example.test"], "route": [route]}]},
    }
    if path == "":
        data[name] = value
    elif path in ("forward", "timeouts", "pool", "limits", "log", "admin"):
        data[path] = {name: value}
    elif path == "log.listener":
        data["log"] = {"listener": [{"listen": "tcp:0", name: value}]}
        data["listen"] = ["tcp:0", "tcp:8443:interface=127.0.0.1"]
    elif path == "reverse":
        data["reverse"][name] = value
    elif path == "reverse.vhost":
        data["reverse"]["vhost"][0][name] = value
    elif path == "reverse.vhost.route":
        route[name] = value
    elif path == "reverse.vhost.route.origins":
        route["origins"] = [{"url": "https://127.0.0.1:1", name: value}]
    elif path == "reverse.vhost.route.health_check":
        route["health_check"] = {name: value}
    else:  # the [tls] tables: their files cannot be read here
        tls: dict[str, Any] = {"listen": ["tcp:0"], "default_certificate": {"cert": "x", "key": "y"}}
        if path == "tls":
            tls[name] = value
        elif path == "tls.listen":
            tls["listen"] = [{"endpoint": "tcp:0", name: value}]
        elif path == "tls.certificate":
            tls["certificate"] = [{"hosts": ["a.test"], "cert": "x", "key": "y", name: value}]
        else:
            tls["default_certificate"] = {"cert": "x", "key": "y", name: value}
        data["tls"] = tls
    return data


class CommandReferenceTests(SynchronousTestCase):
    """
    Every command-line option is in the generated reference.
    """

    def test_twistdOptions(self) -> None:
        """
        Each option of C{twistd proxykit} is in the generated reference,
        and each of C{twistd proxykit forward} and C{reverse} under its
        subcommand.
        """
        from proxykit.tap import Options

        text = "\n".join(generator().twistdLines())
        sections = re.split(r"^\.\. _cli-twistd-(\w+):$", text, flags=re.M)
        bySubcommand = dict(zip(sections[1::2], sections[2::2], strict=True))
        missing = [
            f"proxykit --{spec.rstrip('=')}"
            for spec in Options().longOpt
            if spec != "help" and f"``--{spec.rstrip('=')}" not in sections[0]
        ]
        for name, _, cls, _ in Options.subCommands:
            options = cls()
            section = bySubcommand.get(name, "")
            for spec in options.longOpt:
                option = "--" + spec.rstrip("=")
                if option != "--help" and f"``{option}" not in section:
                    missing.append(f"{name} {option}")
        self.assertEqual(missing, [])

    def test_twistdOptionsSetKeys(self) -> None:
        """
        The key an option's help says it sets (C{sets timeouts.connect})
        is a key of the file, which the reference links to.
        """
        from proxykit.tap import Options

        keys = generator().settableKeys()
        named = []
        for _, _, cls, _ in Options.subCommands:
            for doc in cls().docs.values():
                named += re.findall(r"\b[Ss]ets ([a-z][\w.]*[a-z])", " ".join(doc.split()))
        self.assertIn("timeouts.connect", named)
        self.assertEqual([key for key in named if key not in keys], [])
        self.assertIn("sets :ref:`timeouts.connect <config-timeouts>`", "\n".join(generator().twistdLines()))

    def test_commandOptions(self) -> None:
        """
        Each verb of the C{proxykit} command, and each of its options and
        arguments, is in the generated reference.
        """
        import argparse

        from proxykit.cli import _parser

        text = "\n".join(generator().commandLines())
        missing = []
        for action in _parser()._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for verb, sub in action.choices.items():
                start = text.find(f".. _cli-proxykit-{verb}:")
                if start < 0:
                    missing.append(verb)
                    continue
                end = text.find(".. _cli-proxykit-", start + 1)
                section = text[start : end if end > 0 else len(text)]
                for each in sub._actions:
                    if isinstance(each, argparse._HelpAction):
                        continue
                    names = each.option_strings or [each.metavar or each.dest.upper()]
                    for name in names:
                        if f"``{name}" not in section:
                            missing.append(f"{verb} {name}")
        self.assertEqual(missing, [])

    def test_typedAsLiterals(self) -> None:
        """
        What the help texts give a reader to type, options (C{--header
        'Host: ...'}) and quoted values (C{'off'}), is shown as inline
        literals, which Sphinx prints as typed, not with C{--} made a dash
        and C{'} made curly by its smart quotes.
        """
        reference = generator()
        text = "\n".join(reference.twistdLines() + reference.commandLines())
        self.assertIn("``--header 'Host: ...'``", text)
        self.assertIn("``'off'``", text)
        outside = re.sub(r"``.*?``", "", text)
        self.assertEqual(re.findall(r".{0,20}(?:--|(?<![\w'])'\S).{0,20}", outside), [])


class APIReferenceTests(SynchronousTestCase):
    """
    Every public name is on the API page.
    """

    def test_everyPublicName(self) -> None:
        """
        Each name of C{proxykit.__all__} and of the public modules'
        C{__all__} is documented by the generated C{automodule}
        directives: under its module, or under C{proxykit} when that
        exports the same object.
        """
        gen = generator()
        text = "\n".join(gen.apiLines())
        documented: dict[str, set[str]] = {}
        for module, members in re.findall(r"^\.\. automodule:: (\S+)\n   :members: (.*)$", text, re.M):
            documented[module] = set(members.split(", "))
        self.assertEqual(list(documented), list(gen.PUBLIC_MODULES))
        missing = []
        for moduleName in gen.PUBLIC_MODULES:
            module = importlib.import_module(moduleName)
            for name in module.__all__:
                value = getattr(module, name)
                elsewhere = any(
                    name in documented[other] and getattr(importlib.import_module(other), name, None) is value
                    for other in gen.PUBLIC_MODULES
                )
                if name not in documented[moduleName] and not elsewhere:
                    missing.append(f"{moduleName}.{name}")
        self.assertEqual(missing, [])
        self.assertIn("proxykit-api", (DOCS / "reference" / "api.rst").read_text())
