# -*- test-case-name: tests.test_logfields -*-
"""
What every line the proxy logs about a refusal or a failure says first:
which client, which request, which request id.

Such a line's format starts with L{PREFIX}, and its event carries the
fields L{requestFields} (or L{fieldsOf}) makes, so that the text log reads
C{127.0.0.1:50000 GET http://example.test/a [3f2a...]: origin connection
failed: origin refused the connection} and a JSON log keeps each part as a
field of its own::

    self._log.info(
        PREFIX + "origin connection failed: {why}",
        why=why,
        **fieldsOf(client, request, requestId),
    )

Only the request's method and target come from the client, and both are
made printable and bounded here (L{printable}): a target cannot put a line
break, an escape sequence or megabytes into the log.
"""

from __future__ import annotations

import re
from typing import Final, TypedDict

from ..decisions import ClientInfo
from ..h1 import Request

__all__ = [
    "MAX_TARGET",
    "PREFIX",
    "RequestFields",
    "clientText",
    "fieldsOf",
    "printable",
    "requestFields",
]

PREFIX: Final = "{client} {method} {target} [{requestId}]: "
"""The start of the format of every refusal and failure line."""

MAX_TARGET: Final = 200
"""The most characters of a request target (or method) a log line repeats."""

_UNPRINTABLE: Final = re.compile(r"[^!-~]|\\")
_NONE: Final = "-"


class RequestFields(TypedDict):
    """
    The fields L{PREFIX} names, as log events carry them.
    """

    client: str
    method: str
    target: str
    requestId: str


def _escapeChar(found: re.Match[str]) -> str:
    return f"\\x{ord(found.group(0)):02X}"


def printable(value: bytes, limit: int = MAX_TARGET) -> str:
    """
    C{value} as log text: at most C{limit} of its bytes, spaces, controls,
    backslashes and bytes beyond ASCII written as C{\\xHH}, and C{...}
    after it when it was longer.
    """
    cut = len(value) > limit
    text = value[:limit].decode("latin-1")
    if _UNPRINTABLE.search(text) is not None:
        text = _UNPRINTABLE.sub(_escapeChar, text)
    return text + "..." if cut else text or _NONE


def clientText(host: str, port: int) -> str:
    """
    A client's address as log lines name it: C{192.0.2.1:50000},
    C{[2001:db8::1]:50000}, or C{unix} for a UNIX socket.
    """
    if not host:
        return "unix"
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def requestFields(
    client: str, method: bytes | None, target: bytes | None, requestId: bytes | str | None
) -> RequestFields:
    """
    The fields L{PREFIX} names: C{client}, C{method}, C{target} and
    C{requestId}, each C{-} when unknown (a request that could not be
    parsed has no method or target; with C{[log] request_id = "off"} there
    is no id).

    @param client: The client's address (L{clientText}).
    @param requestId: The request's id (ASCII: a well-formed or generated
        one).
    """
    if isinstance(requestId, bytes):
        requestId = requestId.decode("ascii", "backslashreplace")
    return {
        "client": client,
        "method": _NONE if method is None else printable(method),
        "target": _NONE if target is None else printable(target),
        "requestId": requestId or _NONE,
    }


def fieldsOf(
    client: ClientInfo, request: Request | None, requestId: bytes | str | None
) -> RequestFields:
    """
    L{requestFields} for a request of the relay: C{request} from C{client},
    or C{None} when its head could not be read.
    """
    if request is None:
        return requestFields(clientText(client.peerHost, client.peerPort), None, None, requestId)
    return requestFields(
        clientText(client.peerHost, client.peerPort), request.method, request.target, requestId
    )
