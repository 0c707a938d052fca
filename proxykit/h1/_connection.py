# -*- test-case-name: tests.test_h1 -*-
"""
A sans-IO HTTP/1.1 connection, for either role, on top of httptools.

Bytes go in through L{H1Connection.receiveData}; events come out of
L{H1Connection.nextEvent}, in order, with any L{ProtocolError} raised by
C{nextEvent} at the point of the stream where it happened (so the requests
before a malformed one are still answered first).  Writing is done with the
serializers in L{proxykit.h1._framing}: there is nothing to track on the way
out that the caller does not already know.

httptools (llhttp) does the byte scanning and rejects most malformed input by
itself.  This layer adds what llhttp accepts but a proxy must not:
versions other than 1.0 and 1.1, any Transfer-Encoding other than a single
final C{chunked}, chunked in HTTP/1.0, a missing or repeated Host, fragments
in the request-target, size limits, and bodies on responses to HEAD.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Final

import httptools

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
    _Sentinel,
)
from ._framing import bodyFraming, keepAlive, splitTokens


class Limits:
    """
    Size limits for received heads.

    @ivar maxRequestLine: Longest request-target in bytes; over it: 414.
    @ivar maxHeaderBytes: Largest header (or trailer) section; over it: 431.
    @ivar maxHeaderCount: Most header fields; over it: 431.
    """

    __slots__ = ("maxRequestLine", "maxHeaderBytes", "maxHeaderCount")

    def __init__(
        self,
        maxRequestLine: int = 8192,
        maxHeaderBytes: int = 65536,
        maxHeaderCount: int = 100,
    ) -> None:
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount


DEFAULT_LIMITS: Final = Limits()

_EMPTY_TOKENS: Final[frozenset[bytes]] = frozenset()

# Codes for the header fields this layer interprets; every other field is only
# collected.
_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION, _HOST, _EXPECT = range(5)
_SPECIAL: Final = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
    b"host": _HOST,
    b"expect": _EXPECT,
}

_TOKEN_SP = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ ")

_VERSIONS: Final = {"1.1": b"1.1", "1.0": b"1.0"}


class _StopAtHead(Exception):
    """
    Raised inside httptools to stop after the head of a response to HEAD,
    which llhttp cannot be told has no body.
    """


class H1Connection:
    """
    One HTTP/1.1 connection's receiving side.

    @ivar isServer: C{True} when this side receives requests (the proxy's
        client-facing side); C{False} when it receives responses (the proxy's
        origin-facing side).
    @ivar trailingData: After a CONNECT request: the bytes that followed its
        head, which belong to the tunnel.
    @ivar reusableAfterHead: For the client role, C{False} once a response to
        HEAD was followed by unexpected bytes.
    """

    def __init__(self, isServer: bool, limits: Limits = DEFAULT_LIMITS) -> None:
        self.isServer = isServer
        self._limits = limits
        self._events: deque[Event | ProtocolError] = deque()
        self._error: ProtocolError | None = None
        self._dead = False
        self.trailingData = b""
        self.reusableAfterHead = True
        # Per-message state, reset by _onMessageBegin.
        self._inHead = False
        self._inBody = False
        self._headBytes = 0
        self._url: list[bytes] = []
        self._urlLength = 0
        self._reason = b""
        self._headers: Headers = []
        self._trailers: Headers = []
        self._fieldCount = 0
        self._fieldBytes = 0
        self._contentLengths: list[bytes] | None = None
        self._transferEncodings: list[bytes] | None = None
        self._connection: list[bytes] | None = None
        self._host: bytes | None = None
        self._hostCount = 0
        self._expect: list[bytes] | None = None
        self._framing = Framing.NONE
        self._suppressEnd = False
        self._synthetic = False
        self._connect = False
        # Client role: the method of the request the next response answers.
        self._requestMethod: bytes | None = None
        self._parser = self._newParser()

    def _newParser(self) -> Any:
        if self.isServer:
            return httptools.HttpRequestParser(self)
        return httptools.HttpResponseParser(self)

    # Public API

    def expectResponse(self, method: bytes) -> None:
        """
        Client role: a request with C{method} was sent; the next response
        answers it.
        """
        self._requestMethod = method

    def receiveData(self, data: bytes) -> None:
        """
        Feed received bytes.  Events become available from L{nextEvent}.

        @param data: Bytes from the peer.
        """
        if self._dead:
            return
        if not self.isServer and self._requestMethod is None and not self._inBody:
            self._fail(ProtocolError(502, "response without a request"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            self._afterUpgrade(data[e.args[0] :])
            return
        except httptools.HttpParserCallbackError:
            if self._error is None and self._headStopped(data):
                return
            self._fail(self._error or ProtocolError(self._badStatus(), "bad message"))
            return
        except httptools.HttpParserError as e:
            self._fail(self._error or self._classify(e, data))
            return
        if self._inHead:
            self._headBytes += len(data)
            limits = self._limits
            if self._headBytes > limits.maxRequestLine + limits.maxHeaderBytes:
                if self.isServer and not self._headers and self._url:
                    self._fail(ProtocolError(414, "request line too long"))
                else:
                    self._fail(ProtocolError(self._sizeStatus(), "head too large"))

    def receiveEOF(self) -> None:
        """
        The peer closed its sending side.

        For a response delimited by the connection closing, this ends it;
        in the middle of any other message it is an error.
        """
        if self._dead:
            return
        if self._inBody and self._framing == Framing.CLOSE:
            self._inBody = False
            self._events.append(EndOfMessage(EMPTY_TRAILERS))
            self._dead = True
        elif self._inHead or self._inBody:
            self._fail(ProtocolError(self._badStatus(), "connection closed mid-message"))
        else:
            self._dead = True

    def nextEvent(self) -> Event | _Sentinel:
        """
        The next event, or L{NEED_DATA}.

        @raise ProtocolError: The peer's bytes at this point of the stream
            were malformed.  The connection must then be closed.
        """
        events = self._events
        if not events:
            return NEED_DATA
        event = events.popleft()
        if type(event) is ProtocolError:
            raise event
        return event  # type: ignore[return-value]

    def hasEvents(self) -> bool:
        """
        Whether L{nextEvent} has something other than L{NEED_DATA}.
        """
        return bool(self._events)

    @property
    def inMessage(self) -> bool:
        """
        Whether a received message has begun and not yet ended.
        """
        return self._inHead or self._inBody

    # Internals

    def _badStatus(self) -> int:
        return 400 if self.isServer else 502

    def _sizeStatus(self) -> int:
        return 431 if self.isServer else 502

    def _fail(self, error: ProtocolError) -> None:
        self._dead = True
        self._inHead = self._inBody = False
        self._events.append(error)

    def _raise(self, error: ProtocolError) -> None:
        self._error = error
        raise error

    def _classify(self, e: Exception, data: bytes) -> ProtocolError:
        if not self.isServer:
            return ProtocolError(502, "malformed response")
        message = str(e)
        if isinstance(e, httptools.HttpParserInvalidMethodError):
            if _TOKEN_SP.match(data):
                return ProtocolError(501, "method not implemented")
            return ProtocolError(400, "malformed request line")
        if isinstance(e, httptools.HttpParserInvalidURLError):
            return ProtocolError(400, "malformed request target")
        if "HTTP version" in message or "PRI" in message:
            return ProtocolError(505, "HTTP version not supported")
        if "Transfer-Encoding" in message and "invalid" in message:
            return ProtocolError(501, "unsupported transfer coding")
        return ProtocolError(400, "malformed request")

    def _headStopped(self, data: bytes) -> bool:
        """
        After L{_StopAtHead}: start a fresh parser for the next response.
        """
        if self.isServer or self._requestMethod is not None or self._inHead:
            return False
        if not data.endswith(b"\r\n\r\n"):
            self.reusableAfterHead = False
        self._parser = self._newParser()
        return True

    def _afterUpgrade(self, rest: bytes) -> None:
        if self._dead:
            return
        if self._connect:
            # Everything after a CONNECT head belongs to the tunnel; the caller
            # stops feeding this connection.
            self.trailingData = rest
            self._dead = True
            return
        if not self.isServer:
            self._fail(ProtocolError(502, "unrequested protocol switch"))
            return
        # An Upgrade request: proxykit does not switch protocols, so keep
        # parsing.  llhttp skipped the body of such a request; restart it on a
        # fresh parser primed with a synthetic head declaring the same framing.
        self._parser = self._newParser()
        if self._suppressEnd:
            if self._framing == Framing.CHUNKED:
                prime = b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            else:
                prime = b"PUT / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (
                    self._contentLengthValue,
                )
            self._synthetic = True
            self._parser.feed_data(prime)
            self._synthetic = False
            self._suppressEnd = False
        if rest:
            self.receiveData(rest)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._synthetic:
            return
        self._inHead = True
        self._inBody = False
        self._headBytes = 0
        self._url = []
        self._urlLength = 0
        self._headers = []
        self._trailers = []
        self._fieldCount = 0
        self._fieldBytes = 0
        self._contentLengths = None
        self._transferEncodings = None
        self._connection = None
        self._host = None
        self._hostCount = 0
        self._expect = None
        self._connect = False

    def on_url(self, url: bytes) -> None:
        self._urlLength += len(url)
        if self._urlLength > self._limits.maxRequestLine:
            self._raise(ProtocolError(414, "request line too long"))
        self._url.append(url)

    def on_status(self, reason: bytes) -> None:
        self._reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._synthetic:
            return
        if value and (value[-1] == 32 or value[-1] == 9):
            value = value.rstrip(b" \t")
        self._fieldCount += 1
        self._fieldBytes += len(name) + len(value) + 4
        limits = self._limits
        if (
            self._fieldCount > limits.maxHeaderCount
            or self._fieldBytes > limits.maxHeaderBytes
        ):
            self._raise(ProtocolError(self._sizeStatus(), "header section too large"))
        if self._inBody:
            self._trailers.append((name, value))
            return
        self._headers.append((name, value))
        special = _SPECIAL.get(name.lower())
        if special is None:
            return
        if special == _CONTENT_LENGTH:
            if self._contentLengths is None:
                self._contentLengths = [value]
            else:
                self._contentLengths.append(value)
        elif special == _TRANSFER_ENCODING:
            if self._transferEncodings is None:
                self._transferEncodings = [value]
            else:
                self._transferEncodings.append(value)
        elif special == _CONNECTION:
            if self._connection is None:
                self._connection = [value]
            else:
                self._connection.append(value)
        elif special == _HOST:
            self._host = value
            self._hostCount += 1
        elif special == _EXPECT:
            if self._expect is None:
                self._expect = [value]
            else:
                self._expect.append(value)

    def on_headers_complete(self) -> None:
        if self._synthetic:
            return
        self._inHead = False
        self._fieldCount = 0
        self._fieldBytes = 0
        parser = self._parser
        version = _VERSIONS.get(parser.get_http_version())
        if version is None:
            if not self.isServer:
                self._raise(ProtocolError(502, "unsupported HTTP version"))
            if parser.get_http_version() == "0.9":
                self._raise(ProtocolError(400, "HTTP/0.9 is not supported"))
            self._raise(ProtocolError(505, "HTTP version not supported"))
            return
        tokens = (
            frozenset(splitTokens(self._connection))
            if self._connection is not None
            else _EMPTY_TOKENS
        )
        persist = keepAlive(version, tokens)
        if self.isServer:
            self._requestHeadComplete(parser, version, tokens, persist)
        else:
            self._responseHeadComplete(parser, version, tokens, persist)

    def _requestHeadComplete(
        self,
        parser: Any,
        version: bytes,
        tokens: frozenset[bytes],
        persist: bool,
    ) -> None:
        method: bytes = parser.get_method()
        url = self._url
        target = url[0] if len(url) == 1 else b"".join(url)
        if b"#" in target:
            self._raise(ProtocolError(400, "fragment in request target"))
        if self._hostCount > 1:
            self._raise(ProtocolError(400, "repeated Host"))
        if self._host is None and version == b"1.1":
            self._raise(ProtocolError(400, "missing Host"))
        framing, length = self._frame(True, version, 0, method)
        expectContinue = False
        if self._expect is not None:
            expectations = splitTokens(self._expect)
            if expectations != [b"100-continue"]:
                self._raise(ProtocolError(417, "unsupported expectation"))
            expectContinue = version == b"1.1"
        connect = method == b"CONNECT"
        self._connect = connect
        upgrade = not connect and parser.should_upgrade()
        # llhttp skips the body of an Upgrade request; _afterUpgrade resumes it.
        self._suppressEnd = upgrade and framing != Framing.NONE
        self._framing = framing
        self._contentLengthValue = length
        self._inBody = True
        self._events.append(
            Request(
                method,
                target,
                version,
                self._headers,
                framing,
                length,
                persist,
                tokens,
                self._host,
                expectContinue,
                upgrade,
            )
        )

    def _responseHeadComplete(
        self,
        parser: Any,
        version: bytes,
        tokens: frozenset[bytes],
        persist: bool,
    ) -> None:
        status: int = parser.get_status_code()
        method = self._requestMethod or b"GET"
        framing, length = self._frame(False, version, status, method)
        if framing == Framing.CLOSE:
            persist = False
        response = Response(
            status,
            self._reason,
            version,
            self._headers,
            framing,
            length,
            persist,
            tokens,
        )
        self._events.append(response)
        if status < 200:
            return
        self._framing = framing
        self._inBody = True
        if method == b"HEAD":
            # llhttp would wait for the body announced by Content-Length or
            # chunked; a response to HEAD has none.  Stop here.
            self._inBody = False
            self._requestMethod = None
            self._events.append(EndOfMessage(EMPTY_TRAILERS))
            raise _StopAtHead()

    def _frame(
        self, isRequest: bool, version: bytes, status: int, method: bytes
    ) -> tuple[int, int]:
        try:
            return bodyFraming(
                isRequest,
                version,
                status,
                method,
                self._contentLengths,
                self._transferEncodings,
            )
        except ProtocolError as e:
            self._error = e
            raise

    def on_body(self, body: bytes) -> None:
        self._events.append(Data(body))

    def on_message_complete(self) -> None:
        if self._synthetic:
            return
        if self._suppressEnd:
            return
        if not self._inBody:
            # An informational response: the final one follows.
            return
        self._inBody = False
        if not self.isServer:
            self._requestMethod = None
        trailers = self._trailers
        self._events.append(EndOfMessage(trailers if trailers else EMPTY_TRAILERS))
