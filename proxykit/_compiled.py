# -*- test-case-name: tests.test_compiled -*-
"""
Which build of proxykit runs: pure Python, or the compiled build, in which
mypyc compiled the modules of L{MODULES} into extension modules (installed
with C{PROXYKIT_COMPILE=1}; see C{setup.py} and C{docs/performance.md}).

The compiled modules behave as their Python does, once L{restoreClasses}
has put back what mypyc drops of their classes (docstrings, C{__slots__}).  Standard library only: C{setup.py}
reads L{MODULES} from this file without importing proxykit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
from types import ModuleType

MODULES = (
    "proxykit._directio",
    "proxykit.h1._connection",
    "proxykit.h1._events",
    "proxykit.h1._framing",
    "proxykit.h1._target",
    "proxykit.ops.accesslog",
    "proxykit.policy.balance",
    "proxykit.policy.destinations",
    "proxykit.policy.forwarded",
    "proxykit.policy.requestid",
    "proxykit.policy.rewrite",
    "proxykit.policy.routing",
    "proxykit.policy.vhosts",
    "proxykit.relay.admission",
    "proxykit.relay.client",
    "proxykit.relay.exchange",
    "proxykit.relay.flow",
    "proxykit.relay.hooks",
    "proxykit.relay.origin",
    "proxykit.relay.pool",
)
"""
The modules the compiled build compiles: those on the request path whose
compiled form behaves as their Python does.  The relay's connection sides
(C{relay/flow}'s L{Side<proxykit.relay.flow.Side>}, the client and origin
protocols) and its L{Exchange<proxykit.relay.exchange.Exchange>} are native
classes there: Twisted protocols by their methods and declared interfaces
(C{classImplements}, after the class: a class decorator would make mypyc
compile a Python class, whose attribute reads are slower than the
interpreter's), not by deriving from C{twisted.internet.protocol.Protocol}.
The routers, the origin groups, the destination policy and the pool are
native classes too; their public classes allow Python subclasses, but
their instances have no C{__dict__} (no attributes beyond their own).
C{h1/_events}'s events are native classes, and what it validates is typed
C{object} inside, so that it raises the documented C{ValueError} where
compiled argument checks would raise C{TypeError}.  Left out, and why
(mypy 2.4.1): C{decisions} and C{_twistedcompat} (mypyc cannot build
them).
"""


_FILLER = "mypyc filler docstring"
"""The docstring mypyc gives the classes it compiles as Python classes
(those with an interpreted base, such as a Twisted class)."""


def compiledModules() -> tuple[str, ...]:
    """
    Those of L{MODULES} that import as extension modules (the compiled
    build); none in pure Python.
    """
    found = []
    for name in MODULES:
        where = getattr(importlib.import_module(name), "__file__", None) or ""
        if where.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(name)
    return tuple(found)


def restoreClasses(module: ModuleType) -> None:
    """
    Give the classes of a compiled C{module} what mypyc does not keep of
    them: their docstrings (which C{help()} and the API reference read) and
    their C{__slots__} (a native class has its fields, not the name), as
    the module's source (the C{.py} file installed beside the extension
    module) has them; nothing when the source is not there.
    """
    where = getattr(module, "__file__", None) or ""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if where.endswith(suffix):
            source = where[: -len(suffix)] + ".py"
            break
    else:
        return
    if not os.path.isfile(source):
        return
    with open(source, encoding="utf-8") as f:
        tree = ast.parse(f.read(), source)
    for node in tree.body:
        cls = getattr(module, node.name, None) if isinstance(node, ast.ClassDef) else None
        if not isinstance(node, ast.ClassDef) or not isinstance(cls, type):
            continue
        if not cls.__doc__ or cls.__doc__ == _FILLER:
            cls.__doc__ = ast.get_docstring(node, clean=False)
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and [ast.unparse(t) for t in statement.targets] == ["__slots__"]
                and "__slots__" not in cls.__dict__
            ):
                cls.__slots__ = ast.literal_eval(statement.value)  # type: ignore[attr-defined]
