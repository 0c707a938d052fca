# -*- test-case-name: tests.test_accesslog -*-
"""
The access log's names: its fields, its formats, and format strings with
named fields (C{"$client_addr $status $request_time"}), parsed and checked
here so that the configuration can refuse an unknown field before anything
runs.  L{proxykit.ops.accesslog} writes the lines.
"""

from __future__ import annotations

import re
from typing import Any

from .checks import Problem

COMBINED = "combined"
"""The Combined Log Format (Apache's and nginx's default)."""

JSON = "json"
"""One JSON object a line, with every field of L{EVENT_FIELDS}."""

EVENT_FIELDS: tuple[str, ...] = (
    "time",
    "request_id",
    "client_addr",
    "client_port",
    "peer_addr",
    "peer_port",
    "listener",
    "scheme",
    "server_name",
    "mode",
    "vhost",
    "route",
    "method",
    "target",
    "protocol",
    "status",
    "outcome",
    "reason",
    "bytes_received",
    "bytes_sent",
    "origin_addr",
    "origin_connect_time",
    "origin_reused",
    "attempts",
    "first_byte_time",
    "request_time",
    "tunnel",
    "tunnel_time",
    "http_referer",
    "http_user_agent",
)
"""The fields of every C{proxykit.access} event, in the order of a JSON
line (documented in C{docs/operations.rst})."""

DERIVED_FIELDS: tuple[str, ...] = ("time_local", "time_iso8601", "request")
"""Fields a format string may also name, made from the event's:
C{time_local} (C{04/Dec/2026:08:12:17 +0000}), C{time_iso8601}
(C{2026-12-04T08:12:17.123+00:00}) and C{request} (the request line,
C{GET /a HTTP/1.1})."""

FIELDS = frozenset(EVENT_FIELDS + DERIVED_FIELDS)

_NAME = re.compile(r"\{([A-Za-z0-9_]*)\}|[A-Za-z0-9_]*")


def parseFormat(text: str) -> list[str | tuple[str]]:
    """
    Split a format string into literal text and field names:
    C{"$status ${bytes_sent}B $$"} gives C{[("status",), " ", ("bytes_sent",),
    "B $"]}.  C{$name} and C{${name}} name a field (C{${name}} where a name
    character follows), C{$$} is a dollar sign.

    @return: Literal strings, and 1-tuples of field names.
    @raise Problem: A name is not a field of L{FIELDS}, a C{$} names
        nothing, or no field is named.
    """
    parts: list[str | tuple[str]] = []
    literal: list[str] = []
    position = 0
    while True:
        dollar = text.find("$", position)
        if dollar < 0:
            literal.append(text[position:])
            break
        literal.append(text[position:dollar])
        if text.startswith("$", dollar + 1):
            literal.append("$")
            position = dollar + 2
            continue
        found = _NAME.match(text, dollar + 1)
        assert found is not None
        name = found.group(1) if found.group(1) is not None else found.group(0)
        if not name:
            raise Problem(f"a '$' names no field at offset {dollar} (write $$ for a dollar sign)")
        if name not in FIELDS:
            raise Problem(f"unknown field ${name}; the fields are {', '.join(sorted(FIELDS))}")
        if "".join(literal):
            parts.append("".join(literal))
        literal = []
        parts.append((name,))
        position = found.end()
    if "".join(literal):
        parts.append("".join(literal))
    if not any(isinstance(part, tuple) for part in parts):
        raise Problem(f"expected {COMBINED}, {JSON} or a format string with $fields, got {text!r}")
    return parts


def logFormat(value: Any) -> str:
    """
    Check C{log.format}: C{"combined"}, C{"json"} or a format string with
    known fields (see L{parseFormat}).

    @raise Problem: It is none of these.
    """
    if not isinstance(value, str):
        raise ValueError(value)
    if value not in (COMBINED, JSON):
        parseFormat(value)
    return value


def logDestination(value: Any) -> str | None:
    """
    Check C{log.access}: C{"-"} (standard output), a file name, or
    C{"off"} (C{None}: no access log).
    """
    if not isinstance(value, str) or not value or "\0" in value:
        raise ValueError(value)
    return None if value == "off" else value
