"""
Shared helpers for unit tests.
"""

from __future__ import annotations

from proxykit.h1 import NEED_DATA, H1Connection, Request


def parseRequest(raw: bytes) -> Request:
    """
    Parse one request head with the real message layer.
    """
    conn = H1Connection(True)
    conn.receiveData(raw)
    event = conn.nextEvent()
    assert event is not NEED_DATA and isinstance(event, Request), event
    return event
