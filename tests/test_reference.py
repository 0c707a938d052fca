# -*- test-case-name: tests.test_reference -*-
"""
The configuration reference (C{docs/configuration.rst}) names every key the
TOML reader accepts: the keys are taken from the reader itself (every set
of known keys it checks a table against), so a key added to the reader
without a line in the reference fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import ConfigError
from proxykit.config.reader import ConfigReader

REFERENCE = Path(__file__).parent.parent / "docs" / "configuration.rst"

EVERY_TABLE: dict[str, Any] = {
    "reverse": {
        "vhost": [
            {
                "hosts": ["a.test"],
                "route": [{"origins": [{"url": "http://127.0.0.1:1"}], "health_check": {}}],
            }
        ]
    },
    "tls": {"listen": ["tcp:0"], "default_certificate": {"cert": "x", "key": "y"}},
    "log": {"listener": [{"listen": "tcp:0"}]},
    "forward": {},
    "timeouts": {},
    "pool": {},
    "limits": {},
    "admin": {},
}
"""A mapping with one of every table and array of tables, so that the
reader checks each against its known keys."""


def acceptedKeys() -> dict[str, frozenset[str]]:
    """
    Each table's path (C{reverse.vhost.route}, array indexes dropped) and
    the keys the reader accepts in it.
    """
    tables: dict[str, frozenset[str]] = {}
    original = ConfigReader.known

    def known(self: ConfigReader, value: Any, key: str, accepted: set[str]) -> None:
        tables[re.sub(r"\[\d+\]", "", key)] = frozenset(accepted)
        original(self, value, key, accepted)

    ConfigReader.known = known  # type: ignore[method-assign]
    try:
        ConfigReader("every-table.toml", "").proxyConfig(EVERY_TABLE, ("tcp:0",))
    except ConfigError:
        pass  # the values are placeholders; only the keys matter here
    finally:
        ConfigReader.known = original  # type: ignore[method-assign]
    return tables


class ReferenceTests(SynchronousTestCase):
    """
    Every key the reader accepts is in the reference.
    """

    def test_everyKeyDocumented(self) -> None:
        """
        Each key appears in C{docs/configuration.rst} as C{``table.key``}
        (array members as C{``table[].key``}), as a C{[table]} or
        C{[[table]]} header, or, inside its table's own section, by its
        own name.
        """
        text = REFERENCE.read_text()
        literals = set(re.findall(r"``([^`]+)``", text))
        tables = acceptedKeys()
        self.assertIn("reverse.vhost.route", tables)
        self.assertIn("log.listener", tables)
        missing = []
        for table, keys in sorted(tables.items()):
            for key in sorted(keys):
                path = f"{table}.{key}" if table else key
                parts = path.split(".")
                spellings = {
                    path,
                    f"[{path}]",
                    f"[[{path}]]",
                    # origins[].weight
                    ".".join(parts[:-2] + [parts[-2] + "[]", parts[-1]]) if len(parts) > 1 else path,
                }
                documented = any(
                    literal == spelling
                    or literal.startswith(spelling + " ")
                    or literal.startswith(spelling + ".")
                    for literal in literals
                    for spelling in spellings
                )
                if not documented and table and key in literals:
                    # Described by its own name in its table's section
                    # (the [tls] table's keys, a [[log.listener]]'s).
                    documented = True
                if not documented:
                    missing.append(path)
        self.assertEqual(missing, [], "keys the reader accepts but the reference does not name")
