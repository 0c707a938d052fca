# -*- test-case-name: tests.test_h1 -*-
"""
Events produced by L{proxykit.h1.H1Connection}.

Plain C{__slots__} classes rather than attrs: one of each is made per message
on the proxy's hot path, and these are the cheapest Python objects to build
(in the compiled build, native classes, whose fields the compiled relay reads
as struct members).  What is validated (L{checkFields}, the arguments of
L{Request.replace}) is typed C{object} inside, so that the compiled build
raises the documented C{ValueError}, as Python does, where its argument
checks would raise C{TypeError}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, cast, overload

from mypy_extensions import mypyc_attr

from ._target import targetForm

_FIELD_NAME: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_FIELD_VALUE: Final = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*\Z")
_TARGET: Final = re.compile(rb"[\x21-\x7e]+\Z")


def checkFields(headers: Headers) -> None:
    """
    Raise C{ValueError} unless every field of C{headers} is a (bytes,
    bytes) pair with a token name and a value without control characters
    (so that no field can end the head or add another).
    """
    fields: Iterable[object] = headers
    for field in fields:
        if not (isinstance(field, tuple) and len(field) == 2):
            raise ValueError(f"not a (name, value) pair: {field!r}")
        name, value = field
        if not (isinstance(name, bytes) and _FIELD_NAME.match(name)):
            raise ValueError(f"not a field name: {name!r}")
        if not (isinstance(value, bytes) and _FIELD_VALUE.match(value)):
            raise ValueError(f"not a field value: {value!r}")

Headers = list[tuple[bytes, bytes]]
"""
Header fields in wire order, names in their received case, values without
surrounding whitespace.  Repeated fields stay repeated.
"""


@mypyc_attr(allow_interpreted_subclasses=True)
class Framing:
    """
    How the body of one message is delimited (RFC 9112 section 6.3).
    """

    NONE: Final = 0
    """No body at all (HEAD responses, 1xx, 204, 304, requests without one)."""
    LENGTH: Final = 1
    """Exactly C{Content-Length} bytes."""
    CHUNKED: Final = 2
    """The chunked transfer coding."""
    CLOSE: Final = 3
    """Everything until the connection closes (responses only)."""


@mypyc_attr(allow_interpreted_subclasses=True)
class Request:
    """
    A request head.

    @ivar method: The method token, e.g. C{b"GET"}.
    @ivar target: The request-target exactly as received.
    @ivar version: C{b"1.1"} or C{b"1.0"}.
    @ivar headers: The header fields, see L{Headers}.
    @ivar framing: One of the L{Framing} constants.
    @ivar contentLength: The body length for L{Framing.LENGTH}, else C{0}.
    @ivar keepAlive: Whether the client allows the connection to persist.
    @ivar connectionTokens: Lower-cased tokens of the C{Connection} fields.
    @ivar host: The single C{Host} value, or C{None} if there was none.
    @ivar expectContinue: Whether the client sent C{Expect: 100-continue}.
    @ivar upgrade: Whether the request asked for a protocol upgrade
        (C{Connection: upgrade} with C{Upgrade}); CONNECT is not one.
    @ivar via: The C{Via} field values, or C{None} if there were none.
    @ivar maxForwards: The last C{Max-Forwards} value, or C{None}.
    @ivar requestId: The C{X-Request-Id} value, C{None} if there was none,
        C{b""} if the field was repeated (see
        L{proxykit.policy.requestid.RequestIds.choose}).
    @ivar form: The target's L{proxykit.h1.TargetForm} (C{targetForm(method, target)}).
    """

    __slots__ = (
        "method",
        "target",
        "form",
        "version",
        "headers",
        "framing",
        "contentLength",
        "keepAlive",
        "connectionTokens",
        "host",
        "expectContinue",
        "upgrade",
        "via",
        "maxForwards",
        "requestId",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: bytes,
        headers: Headers,
        framing: int,
        contentLength: int,
        keepAlive: bool,
        connectionTokens: frozenset[bytes],
        host: bytes | None,
        expectContinue: bool,
        upgrade: bool,
        via: list[bytes] | None = None,
        maxForwards: bytes | None = None,
        requestId: bytes | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.form = targetForm(method, target)
        self.version = version
        self.headers = headers
        self.framing = framing
        self.contentLength = contentLength
        self.keepAlive = keepAlive
        self.connectionTokens = connectionTokens
        self.host = host
        self.expectContinue = expectContinue
        self.upgrade = upgrade
        self.via = via
        self.maxForwards = maxForwards
        self.requestId = requestId

    def __repr__(self) -> str:
        return f"<Request {self.method!r} {self.target!r} HTTP/{self.version!r}>"

    # The overloads are the signature callers see; the implementation takes
    # object, which the compiled build does not check, so that it is this
    # method that refuses a wrong type, with the documented ValueError.
    @overload
    def replace(self, target: bytes, headers: Headers | None = None) -> Request: ...

    @overload
    def replace(self, target: None = None, headers: Headers | None = None) -> Request: ...

    def replace(self, target: object = None, headers: object = None) -> Request:
        """
        This request with another target or other fields (a hook's
        rewrite): C{form}, C{host}, C{via}, C{maxForwards} and C{requestId}
        are read again from them; the body's framing, keep-alive and upgrade stay as
        received (framing and connection fields are rebuilt from those
        when the request is sent on, whatever C{headers} says).

        @raise ValueError: C{target} or a field is malformed (control
            characters, a name that is not a token), or there is more than
            one C{Host}.
        """
        if target is None:
            newTarget = self.target
        elif isinstance(target, bytes) and _TARGET.match(target):
            newTarget = target
        else:
            raise ValueError(f"not a request-target: {target!r}")
        if headers is None:
            fields = list(self.headers)
        else:
            fields = list(cast("Iterable[tuple[bytes, bytes]]", headers))
            checkFields(fields)
        hosts = [value for name, value in fields if name.lower() == b"host"]
        if len(hosts) > 1:
            raise ValueError("more than one Host field")
        via = [value for name, value in fields if name.lower() == b"via"] or None
        maxForwards = requestId = None
        for name, value in fields:
            lower = name.lower()
            if lower == b"max-forwards":
                maxForwards = value
            elif lower == b"x-request-id":
                requestId = value if requestId is None else b""
        return Request(
            self.method,
            newTarget,
            self.version,
            fields,
            self.framing,
            self.contentLength,
            self.keepAlive,
            self.connectionTokens,
            hosts[0] if hosts else None,
            self.expectContinue,
            self.upgrade,
            via,
            maxForwards,
            requestId,
        )


@mypyc_attr(allow_interpreted_subclasses=True)
class Response:
    """
    A response head, informational (1xx) or final.

    @ivar status: The status code.
    @ivar reason: The reason phrase as received.
    @ivar version: C{b"1.1"} or C{b"1.0"}.
    @ivar headers: The header fields, see L{Headers}.
    @ivar framing: One of the L{Framing} constants.
    @ivar contentLength: The body length for L{Framing.LENGTH}, else C{0}.
    @ivar keepAlive: Whether the origin allows the connection to persist.
    @ivar connectionTokens: Lower-cased tokens of the C{Connection} fields.
    """

    __slots__ = (
        "status",
        "reason",
        "version",
        "headers",
        "framing",
        "contentLength",
        "keepAlive",
        "connectionTokens",
    )

    def __init__(
        self,
        status: int,
        reason: bytes,
        version: bytes,
        headers: Headers,
        framing: int,
        contentLength: int,
        keepAlive: bool,
        connectionTokens: frozenset[bytes],
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.framing = framing
        self.contentLength = contentLength
        self.keepAlive = keepAlive
        self.connectionTokens = connectionTokens

    def __repr__(self) -> str:
        return f"<Response {self.status} HTTP/{self.version!r}>"


@mypyc_attr(allow_interpreted_subclasses=True)
class Data:
    """
    A piece of a message body, after any chunked coding is removed.

    @ivar data: The bytes.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<Data {len(self.data)} bytes>"


@mypyc_attr(allow_interpreted_subclasses=True)
class EndOfMessage:
    """
    The end of a message body.

    @ivar trailers: Trailer fields of a chunked body (usually empty).
    """

    __slots__ = ("trailers",)

    def __init__(self, trailers: Headers) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"<EndOfMessage trailers={self.trailers!r}>"


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
"""Returned by L{H1Connection.nextEvent} when more bytes are needed."""

EMPTY_TRAILERS: Final[Headers] = []
"""Shared empty trailer list; never mutate it."""

Event = Request | Response | Data | EndOfMessage
