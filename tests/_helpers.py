"""
Shared helpers for unit tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from proxykit.h1 import NEED_DATA, H1Connection, Request

EXTENSIONS = Path(__file__).resolve().parent.parent / "docs" / "_ext"
"""The documentation's own Sphinx extensions."""


def parseRequest(raw: bytes) -> Request:
    """
    Parse one request head with the real message layer.
    """
    conn = H1Connection(True)
    conn.receiveData(raw)
    event = conn.nextEvent()
    assert event is not NEED_DATA and isinstance(event, Request), event
    return event


def docsExtension(name: str) -> ModuleType:
    """
    The docs' extension module C{docs/_ext/NAME.py}, loaded once, with its
    directory on C{sys.path} (as Sphinx runs it, so that it can import its
    neighbours).
    """
    if str(EXTENSIONS) not in sys.path:
        sys.path.insert(0, str(EXTENSIONS))
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXTENSIONS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
