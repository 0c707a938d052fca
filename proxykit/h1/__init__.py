# -*- test-case-name: tests.test_h1 -*-
"""
A sans-IO HTTP/1.1 message layer for both roles, built on httptools.

Nothing in this package imports Twisted: bytes go in, events come out, and
serializers return bytes to send.
"""

from ._connection import DEFAULT_LIMITS, H1Connection, Limits
from ._errors import ProtocolError
from ._events import (
    EMPTY_TRAILERS,
    NEED_DATA,
    Data,
    EndOfMessage,
    Event,
    Framing,
    Headers,
    Request,
    Response,
    checkFields,
)
from ._framing import (
    LAST_CHUNK,
    bodyFraming,
    chunkHeader,
    keepAlive,
    lastChunk,
    parseContentLength,
    requestHead,
    responseHead,
    splitTokens,
)
from ._target import (
    PROXY_FORMS,
    Address,
    TargetForm,
    canonicalHost,
    endsInNumber,
    parseAuthority,
    splitAbsolute,
    targetForm,
)

__all__ = [
    "PROXY_FORMS",
    "DEFAULT_LIMITS",
    "EMPTY_TRAILERS",
    "LAST_CHUNK",
    "NEED_DATA",
    "Address",
    "Data",
    "EndOfMessage",
    "Event",
    "Framing",
    "H1Connection",
    "Headers",
    "Limits",
    "ProtocolError",
    "Request",
    "Response",
    "TargetForm",
    "bodyFraming",
    "canonicalHost",
    "checkFields",
    "chunkHeader",
    "endsInNumber",
    "keepAlive",
    "lastChunk",
    "parseAuthority",
    "parseContentLength",
    "requestHead",
    "responseHead",
    "splitAbsolute",
    "splitTokens",
    "targetForm",
]
