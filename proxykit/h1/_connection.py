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

llhttp also reads the framing fields itself, and its reading can differ from
the one decision made by L{proxykit.h1._framing.bodyFraming} (it does not
take C{Transfer-Encoding: chunked<TAB>} as chunked, for one).  So llhttp never
delimits a body from the received head: at the end of a head that announces
a body, request or response, parsing stops and goes on with a fresh parser
primed with a synthetic head declaring exactly the framing decided (see
L{H1Connection._primeBody}).  The framing the proxy announces to the next hop
(L{Request.framing}, L{Response.framing}) and the framing the body is read
with are then the same value.

In the server role, L{H1Connection.nextEvent} does not hand out a request
whose own bytes, among those already received, failed to parse: the error
comes instead, so nothing is done with a request already known to be bad.
"""

from __future__ import annotations

import re
from typing import Any, Final

import httptools
from mypy_extensions import mypyc_attr

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


@mypyc_attr(allow_interpreted_subclasses=True)
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
_NOTHING: Final[list[Any]] = []
"""What the lists of a message's parts are between messages (never
appended to: the next message begins with its own)."""

# Codes for the header fields this layer interprets; every other field is only
# collected.
(
    _CONTENT_LENGTH,
    _TRANSFER_ENCODING,
    _CONNECTION,
    _HOST,
    _EXPECT,
    _VIA,
    _MAX_FORWARDS,
    _REQUEST_ID,
) = range(8)
_SPECIAL: Final = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
    b"host": _HOST,
    b"expect": _EXPECT,
    b"via": _VIA,
    b"max-forwards": _MAX_FORWARDS,
    b"x-request-id": _REQUEST_ID,
}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")
_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_MAX_METHOD = 64
_HEAD_END = b"\r\n\r\n"

_VERSIONS: Final = {"1.1": b"1.1", "1.0": b"1.0"}

# Host = uri-host [ ":" port ]; uri-host = IP-literal / IPv4address / reg-name
# (RFC 3986 section 3.2.2).  An empty value is allowed.
_HOST_VALUE: Final = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?\Z")


class _StopAtHead(Exception):
    """
    Raised inside httptools to stop at the end of a head: of a response to
    HEAD, which llhttp cannot be told has no body, and of a message with a
    body, which is read with the framing decided (see
    L{H1Connection._primeBody}).
    """


@mypyc_attr(allow_interpreted_subclasses=True)
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

    # Slots, not a dict: one connection per client and per origin
    # connection, many of them idle (bench/idle_connections.py).
    __slots__ = (
        "_bodyLeft",
        "_connect",
        "_connection",
        "_contentLengthValue",
        "_contentLengths",
        "_dead",
        "_error",
        "_events",
        "_expect",
        "_fieldBytes",
        "_fieldCount",
        "_framing",
        "_framingTrimmed",
        "_headBytes",
        "_headers",
        "_host",
        "_hostCount",
        "_inBody",
        "_inHead",
        "_lastStatus",
        "_limits",
        "_lineStart",
        "_maxForwards",
        "_messages",
        "_parser",
        "_pendingLine",
        "_persist",
        "_progress",
        "_reason",
        "_recent",
        "_requestId",
        "_requestMethod",
        "_stalled",
        "_stopped",
        "_stopping",
        "_synthetic",
        "_tail",
        "_trailers",
        "_transferEncodings",
        "_tunnel",
        "_upgradeExpected",
        "_upgradeOffered",
        "_url",
        "_urlLength",
        "_via",
        "isServer",
        "reusableAfterHead",
        "trailingData",
        "upgradePending",
    )

    def __init__(self, isServer: bool, limits: Limits = DEFAULT_LIMITS) -> None:
        self.isServer = isServer
        self._limits = limits
        # A list, not a deque (which allocates a 64-slot block): there are
        # few events at a time, and many idle connections.
        self._events: list[Event | ProtocolError] = []
        self._error: ProtocolError | None = None
        self._dead = False
        self.trailingData = b""
        self.reusableAfterHead = True
        self.upgradePending = False
        self._upgradeExpected = False
        self._upgradeOffered = False
        self._lastStatus = 0
        # Messages begun so far, to tell whether a head began in this read.
        self._messages = 0
        # Server role: the start of a request line whose method llhttp
        # refused before it could be told to be a token (see _decideMethod).
        self._lineStart = b""
        self._pendingLine: bytes | None = None
        # Server role, while a head spans reads: the last bytes received,
        # enough to see the whole request line and the byte before it.
        self._recent = b""
        # Bytes of a chunked body received without any chunk or data in them
        # (a trailer section or chunk extension in progress).
        self._progress = False
        self._stalled = 0
        # Client role, answering HEAD or CONNECT: the end of the last read,
        # to find a CRLF CRLF split across reads; and whether the head ended.
        self._tail = b""
        self._stopping = False
        self._stopped = False
        # After a CONNECT head or a 101 response: the rest of the stream is
        # the tunnel's, in trailingData.
        self._tunnel = False
        # Per-message state, reset by _onMessageBegin.
        self._inHead = False
        self._inBody = False
        self._headBytes = 0
        self._url: list[bytes] = []
        self._urlLength = 0
        self._reason: list[bytes] = []
        self._headers: Headers = []
        self._trailers: Headers = []
        self._fieldCount = 0
        self._fieldBytes = 0
        self._contentLengths: list[bytes] | None = None
        self._transferEncodings: list[bytes] | None = None
        self._framingTrimmed = False
        self._connection: list[bytes] | None = None
        self._host: bytes | None = None
        self._hostCount = 0
        self._expect: list[bytes] | None = None
        self._via: list[bytes] | None = None
        self._maxForwards: bytes | None = None
        self._requestId: bytes | None = None
        self._framing = Framing.NONE
        self._synthetic = False
        self._persist = True
        self._contentLengthValue = 0
        # Bytes of a Content-Length body not received yet.
        self._bodyLeft = 0
        self._connect = False
        # Client role: the method of the request the next response answers.
        self._requestMethod: bytes | None = None
        self._parser = self._newParser()

    def _newParser(self) -> Any:
        if self.isServer:
            return httptools.HttpRequestParser(self)
        return httptools.HttpResponseParser(self)

    # Public API

    def expectResponse(self, method: bytes, upgrade: bool = False) -> None:
        """
        Client role: a request with C{method} was sent; the next response
        answers it.

        @param upgrade: The request asked to switch protocols, so a 101
            response is acceptable; after it the connection's remaining bytes
            are in L{trailingData} and nothing more is parsed.
        """
        self._requestMethod = method
        self._upgradeExpected = upgrade
        self._tail = b""

    def acceptUpgrade(self) -> bytes:
        """
        Server role: the request that asked to switch protocols was answered
        101.  Stop parsing.

        @return: The bytes received after that request's head, which belong
            to the new protocol.
        """
        rest = self.trailingData
        self.trailingData = b""
        self.upgradePending = False
        self._dead = True
        return rest

    def forgetMessage(self) -> None:
        """
        Between messages: drop what is left of the last one's parsing (its
        target, fields and the values noted from them), which its events
        carried away.  An idle keep-alive connection then holds no request.
        """
        self._url = self._reason = self._headers = self._trailers = _NOTHING
        self._contentLengths = self._transferEncodings = None
        self._connection = self._expect = self._via = None
        self._host = self._maxForwards = self._requestId = None

    def refuseUpgrade(self) -> None:
        """
        Server role: the request that asked to switch protocols got an
        ordinary response.  Go on parsing what followed it as HTTP/1.1.
        """
        if not self.upgradePending:
            return
        self.upgradePending = False
        rest = self.trailingData
        self.trailingData = b""
        self._parser = self._newParser()
        if rest:
            self.receiveData(rest)

    def receiveData(self, data: bytes) -> None:
        """
        Feed received bytes.  Events become available from L{nextEvent}.

        @param data: Bytes from the peer.
        """
        if self._dead or not data:
            return
        if self.upgradePending:
            # Held until the response says whether the protocol switches.
            self.trailingData += data
            return
        if self._pendingLine is not None:
            self._decideMethod(self._pendingLine + data)
            return
        if not self.isServer:
            method = self._requestMethod
            if method is None and not self._inBody:
                self._fail(ProtocolError(502, "response without a request"))
                return
            if method == b"HEAD" or method == b"CONNECT":
                self._receiveUntilHeadEnd(data)
                return
        self._receiveSplit(data)

    def _receiveSplit(self, data: bytes) -> None:
        """
        Feed C{data} in pieces ending at each CRLF CRLF (where a head can
        end), so that when a head announcing a body ends, the bytes after it
        are known exactly and go to a parser primed with the framing decided
        (see L{_primeBody}).
        """
        if self._inBody and not self.isServer:
            # One response answers one request: nothing after the end of
            # this body is parsed as a response the proxy uses (see
            # OriginProtocol.reusable), so the body is fed whole.
            self._feed(data)
            return
        tail = self._tail
        self._tail = data[-3:] if len(data) >= 3 else (tail + data)[-3:]
        if not self._inHead and not self._inBody and data.find(_HEAD_END) == len(data) - 4:
            # The usual read: one whole head and nothing after it.
            self._feed(data)
            return
        start = 0
        if self._inBody and self._framing == Framing.LENGTH:
            # No head can end inside the rest of a Content-Length body: feed
            # it whole (searching a large body for CRLF CRLF costs more than
            # parsing it).
            left = self._bodyLeft
            if len(data) <= left:
                self._feed(data)
                return
            # The body ends in this read (a Content-Length body cannot fail).
            self._feed(data[:left])
            start = left
        elif self._inHead and tail:
            # The end of a head that began in an earlier read: a CRLF CRLF
            # that began in the previous read.
            edge = tail + data[:3]
            i = edge.find(_HEAD_END)
            while i != -1:
                start = self._piece(data, start, i + 4 - len(tail))
                if start < 0:
                    return
                i = edge.find(_HEAD_END, i + 1)
        i = data.find(_HEAD_END, max(start - 3, 0))
        while i != -1:
            start = self._piece(data, start, i + 4)
            if start < 0:
                return
            i = data.find(_HEAD_END, i + 1)
        if start < len(data):
            self._piece(data, start, len(data))

    def _piece(self, data: bytes, start: int, end: int) -> int:
        """
        Feed C{data[start:end]}.

        @return: Where the next piece starts, or C{-1} when parsing stopped
            (what remains then goes where L{receiveData} sends it).
        """
        self._feed(data[start:end])
        if self._dead or self.upgradePending or self._pendingLine is not None:
            rest = data[end:]
            if rest:
                if self._dead:
                    if self._tunnel:
                        # After a CONNECT or 101 head: the tunnel's bytes.
                        self.trailingData += rest
                else:
                    self.receiveData(rest)
            return -1
        if self._inBody and not self.isServer:
            # A response body: fed whole from here (see _receiveSplit).
            rest = data[end:]
            if rest:
                self._feed(rest)
            return -1
        return end

    def _receiveUntilHeadEnd(self, data: bytes) -> None:
        """
        Client role, answering HEAD or CONNECT: the response may end with its
        head, which llhttp cannot be told.  Feed up to each CRLF CRLF (where a
        head can end) separately, so that what follows the head is known
        exactly, however the bytes were split.
        """
        tail = self._tail
        scan = tail + data
        self._tail = scan[-3:]
        start = 0
        i = scan.find(_HEAD_END)
        while i != -1:
            end = i + 4 - len(tail)
            if end > start:
                self._feed(data[start:end])
                start = end
                if self._dead:
                    return
                if self._stopped:
                    self._stopped = False
                    rest = data[start:]
                    if self._connect:
                        # A 2xx to CONNECT: the rest belongs to the tunnel.
                        self.trailingData = rest
                        self._dead = True
                    elif rest:
                        # Nothing may follow a response to HEAD.
                        self.reusableAfterHead = False
                    return
            i = scan.find(_HEAD_END, i + 1)
        if start < len(data):
            self._feed(data[start:])

    def _feed(self, data: bytes) -> None:
        limits = self._limits
        begun = self._messages
        inHead = self._inHead
        self._progress = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            self._afterUpgrade(data[e.args[0] :])
            return
        except httptools.HttpParserCallbackError:
            if self._error is None and self._stopping:
                self._stopping = False
                if self._inBody:
                    # The head of a message with a body ended this piece
                    # (see _receiveSplit).
                    self._primeBody()
                    return
                self._stopped = True
                self._parser = self._newParser()
                return
            self._fail(
                self._error or ProtocolError(self._badStatus(), "bad message")
            )
            return
        except httptools.HttpParserError as e:
            if (
                self._error is None
                and isinstance(e, httptools.HttpParserInvalidMethodError)
                and self.isServer
            ):
                # The request line may not be complete yet: decide once
                # the method token has ended.
                inLine = inHead and self._messages == begun
                start = self._lineStart if inLine else b""
                self._decideMethod(start + data)
                return
            self._fail(self._error or self._classify(e, data))
            return
        if self._inHead:
            if inHead and self._messages == begun:
                self._headBytes += len(data)
            else:
                # The head began in this read, maybe after the end of
                # another message: count what is known of it.
                self._headBytes = self._urlLength + self._fieldBytes
            if self._headBytes > limits.maxRequestLine + limits.maxHeaderBytes:
                # A request-target over its limit was refused by on_url
                # already: what is too long here is the header section.
                self._fail(ProtocolError(self._sizeStatus(), "head too large"))
                return
            if self.isServer:
                recent = (
                    self._recent + data
                    if inHead and self._messages == begun
                    else data
                )
                if self._url and self._versionless(recent):
                    self._fail(ProtocolError(400, "HTTP/0.9 is not supported"))
                    return
                self._recent = recent[-(_MAX_METHOD + self._urlLength + 4) :]
            if self.isServer and not self._url:
                # Still in the method: remember its start.
                if inHead and self._messages == begun:
                    start = self._lineStart + data
                else:
                    # The method so far: the letters ending this read.
                    last = data[-_MAX_METHOD:]
                    start = last[len(last.rstrip(_UPPER)) :]
                self._lineStart = start[-_MAX_METHOD:]
        elif self._inBody and self._framing == Framing.CHUNKED:
            if self._progress:
                self._stalled = 0
            else:
                self._stalled += len(data)
                if self._stalled > limits.maxHeaderBytes:
                    self._fail(
                        ProtocolError(
                            self._sizeStatus(), "trailer section too large"
                        )
                    )
        return

    def _versionless(self, recent: bytes) -> bool:
        """
        Server role, a head in progress: whether its request line ended
        without a version (HTTP/0.9, C{GET /path CRLF}).

        llhttp records version 0.9 only once a byte after that line's LF
        arrives, and keeps the previous message's version until then, so a
        client that sends one HTTP/0.9 line and waits would wait for the
        idle timeout.  When the bytes so far end with LF, look at the last
        line: it is a versionless request line when it is exactly C{method
        SP target} and starts the read the head began in or follows an LF
        (no header line can be that: its name would hold a space).

        @param recent: The bytes received since the start of the read the
            head began in (or their tail, see L{_recent}).
        """
        if self._parser.get_http_version() == "0.9":
            return True
        if recent[-1:] != b"\n":
            return False
        line = self._parser.get_method() + b" " + b"".join(self._url)
        end = len(recent) - 1
        if recent[end - 1 : end] == b"\r":
            end -= 1
        start = end - len(line)
        return (
            start >= 0
            and recent[start:end] == line
            and (start == 0 or recent[start - 1 : start] == b"\n")
        )

    def receiveEOF(self) -> None:
        """
        The peer closed its sending side.

        For a response delimited by the connection closing, this ends it;
        in the middle of any other message it is an error.
        """
        if self._dead:
            return
        if self._pendingLine is not None:
            self._pendingLine = None
            self._fail(ProtocolError(400, "malformed request line"))
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
            were malformed.  The connection must then be closed.  Server
            role: a request head is not returned when the bytes received of
            that request already failed; the error is raised instead.
        """
        events = self._events
        if not events:
            return NEED_DATA
        event = events.pop(0)
        if type(event) is ProtocolError:
            raise event
        if type(event) is Request and events and type(events[-1]) is ProtocolError:
            # Everything received so far was parsed before any of it is
            # acted upon: a request whose own bytes already failed (its body
            # framing, say) is refused before it goes anywhere.  An error
            # is always the last event: nothing is parsed after it.
            if not any(type(later) is EndOfMessage for later in events):
                error = events.pop()
                assert isinstance(error, ProtocolError)
                events.clear()
                raise error
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
            return ProtocolError(400, "malformed request line")
        if isinstance(e, httptools.HttpParserInvalidURLError):
            return ProtocolError(400, "malformed request target")
        if "HTTP version" in message or "PRI" in message:
            return ProtocolError(505, "HTTP version not supported")
        if "Transfer-Encoding" in message and "invalid" in message:
            return ProtocolError(501, "unsupported transfer coding")
        return ProtocolError(400, "malformed request")

    def _decideMethod(self, line: bytes) -> None:
        """
        llhttp refused the method of the request line starting with C{line}:
        answer 501 if it is a token followed by a space (a method proxykit
        does not know), 400 if it is not a token; wait for more bytes while
        it cannot be told yet.
        """
        match = _TOKEN.match(line)
        end = match.end() if match else 0
        if end == len(line) and end < _MAX_METHOD:
            self._pendingLine = line
            return
        self._pendingLine = None
        if 0 < end < _MAX_METHOD and line[end : end + 1] == b" ":
            self._fail(ProtocolError(501, "method not implemented"))
        else:
            self._fail(ProtocolError(400, "malformed request line"))

    def _afterUpgrade(self, rest: bytes) -> None:
        """
        llhttp stopped after an upgrading head: C{rest} followed it.
        """
        if self._dead:
            return
        if self._connect:
            # Everything after a CONNECT head belongs to the tunnel; the caller
            # stops feeding this connection.
            self.trailingData = rest
            self._tunnel = self._dead = True
            return
        if not self.isServer:
            if self._upgradeExpected and self._lastStatus == 101:
                # The origin switched protocols: the rest is not HTTP.
                self.trailingData = rest
                self._tunnel = self._dead = True
                return
            self._fail(ProtocolError(502, "unrequested protocol switch"))
            return
        # Only a bodiless Upgrade request gets here: parsing stops at the end
        # of a head announcing a body (see _requestHeadComplete).  Whether the
        # protocol switches depends on the response: hold the rest until
        # acceptUpgrade or refuseUpgrade.
        self._upgradeOffered = False
        self.trailingData = rest
        self.upgradePending = True

    def _primeBody(self) -> None:
        """
        The head of a message announcing a body has ended.  Go on with a
        fresh parser primed with a synthetic head that declares the framing
        L{bodyFraming} decided, and nothing else: the body is read with
        exactly the framing the L{Request} or L{Response} event announced,
        whatever llhttp would have made of the received framing fields.
        """
        parser = self._newParser()
        start = b"PUT / HTTP/1.1\r\n" if self.isServer else b"HTTP/1.1 200 OK\r\n"
        close = b"" if self._persist else b"Connection: close\r\n"
        framing = self._framing
        if framing == Framing.CHUNKED:
            prime = b"%s%sTransfer-Encoding: chunked\r\n\r\n" % (start, close)
        elif framing == Framing.LENGTH:
            prime = b"%s%sContent-Length: %d\r\n\r\n" % (
                start,
                close,
                self._contentLengthValue,
            )
        else:
            # A response read until the connection closes.
            prime = start + b"Connection: close\r\n\r\n"
        self._synthetic = True
        try:
            parser.feed_data(prime)
        finally:
            self._synthetic = False
        self._parser = parser

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._synthetic:
            return
        self._messages += 1
        self._inHead = True
        self._inBody = False
        self._headBytes = 0
        self._stalled = 0
        self._url = []
        self._urlLength = 0
        self._reason = []
        self._headers = []
        self._trailers = []
        self._fieldCount = 0
        self._fieldBytes = 0
        self._contentLengths = None
        self._transferEncodings = None
        self._framingTrimmed = False
        self._connection = None
        self._host = None
        self._hostCount = 0
        self._expect = None
        self._via = None
        self._maxForwards = None
        self._requestId = None
        self._connect = False

    def on_url(self, url: bytes) -> None:
        self._urlLength += len(url)
        if self._urlLength > self._limits.maxRequestLine:
            self._raise(ProtocolError(414, "request line too long"))
        self._url.append(url)

    def on_status(self, reason: bytes) -> None:
        self._reason.append(reason)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._synthetic:
            return
        trimmed = False
        if value and (value[-1] == 32 or value[-1] == 9):
            value = value.rstrip(b" \t")
            trimmed = True
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
        if special == _CONTENT_LENGTH or special == _TRANSFER_ENCODING:
            # llhttp frames by the value it reported, OWS after it and all.
            self._framingTrimmed = self._framingTrimmed or trimmed
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
        elif special == _VIA:
            if self._via is None:
                self._via = [value]
            else:
                self._via.append(value)
        elif special == _MAX_FORWARDS:
            self._maxForwards = value
        elif special == _REQUEST_ID:
            # Repeated, it is ambiguous: empty, it is never kept.
            self._requestId = value if self._requestId is None else b""
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
        # find, not "in": bytes.__contains__ first tries its argument as an
        # int and formats (then drops) a TypeError for every other one.
        if target.find(b"#") >= 0:
            self._raise(ProtocolError(400, "fragment in request target"))
        if target[:1] == b"*" and target != b"*" and method != b"CONNECT":
            # RFC 9112 section 3.2.4: the asterisk-form is "*" alone; any
            # other target starting so is none of the four forms.
            self._raise(ProtocolError(400, "malformed request target"))
        if self._hostCount > 1:
            self._raise(ProtocolError(400, "repeated Host"))
        if self._host is None:
            if version == b"1.1":
                self._raise(ProtocolError(400, "missing Host"))
        elif not _HOST_VALUE.match(self._host):
            # RFC 9112 section 3.2: "A server MUST respond with a 400 (Bad
            # Request) status code to any HTTP/1.1 request message that [...]
            # contains [...] a Host header field with an invalid field value."
            self._raise(ProtocolError(400, "invalid Host"))
        framing, length = self._frame(True, version, 0, method)
        expectContinue = False
        if self._expect is not None:
            expectations = splitTokens(self._expect)
            if expectations != [b"100-continue"]:
                self._raise(ProtocolError(417, "unsupported expectation"))
            expectContinue = version == b"1.1"
        connect = method == b"CONNECT"
        self._connect = connect
        upgradeAsked = not connect and parser.should_upgrade()
        # Only a bodiless request may switch protocols: the switch happens
        # right after its head.  llhttp skips the body of any Upgrade request;
        # _afterUpgrade resumes it.
        upgrade = upgradeAsked and framing == Framing.NONE
        self._upgradeOffered = upgrade
        self._framing = framing
        self._contentLengthValue = length
        self._bodyLeft = length
        self._persist = persist
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
                self._via,
                self._maxForwards,
                self._requestId,
            )
        )
        if framing != Framing.NONE and (upgradeAsked or not self._readsAlike(framing)):
            # The body is read by a parser primed with this framing (see
            # _primeBody), never by llhttp's own reading of the head.
            self._stopping = True
            raise _StopAtHead()

    def _readsAlike(self, framing: int) -> bool:
        """
        Whether llhttp, which read the same head, reads the body with the
        C{framing} L{bodyFraming} decided: one Content-Length field of
        digits only and no Transfer-Encoding, or one Transfer-Encoding field
        of exactly C{chunked} and no Content-Length, neither with OWS after
        its value (llhttp reports a value without the OWS before it, and
        frames by it; OWS after it, which C{on_header} trims, it may read
        otherwise).  The body then goes on through the same parser; any
        other spelling is read by a parser primed with the decision
        (L{_primeBody}), which costs a parser and an exception a message.
        """
        if self._framingTrimmed:
            return False
        lengths = self._contentLengths
        codings = self._transferEncodings
        if framing == Framing.LENGTH:
            return codings is None and lengths is not None and len(lengths) == 1 and lengths[0].isdigit()
        if framing == Framing.CHUNKED:
            return lengths is None and codings is not None and codings == [b"chunked"]
        return False

    def _responseHeadComplete(
        self,
        parser: Any,
        version: bytes,
        tokens: frozenset[bytes],
        persist: bool,
    ) -> None:
        status: int = parser.get_status_code()
        self._lastStatus = status
        method = self._requestMethod or b"GET"
        framing, length = self._frame(False, version, status, method)
        if framing == Framing.CLOSE:
            persist = False
        response = Response(
            status,
            b"".join(self._reason),
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
        if framing != Framing.NONE:
            self._contentLengthValue = self._bodyLeft = length
            self._persist = persist
            if not self._readsAlike(framing):
                # The body is read by a parser primed with this framing
                # (see _primeBody), never by llhttp's own reading of the
                # head.
                self._stopping = True
                raise _StopAtHead()
            return
        if method == b"HEAD" or method == b"CONNECT":
            # llhttp would wait for the body announced by Content-Length or
            # chunked, or for the close; a response to HEAD and a 2xx to
            # CONNECT have none.  Stop here (see _receiveUntilHeadEnd).
            self._inBody = False
            self._requestMethod = None
            self._connect = method == b"CONNECT"
            self._events.append(EndOfMessage(EMPTY_TRAILERS))
            self._stopping = True
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
        self._progress = True
        self._bodyLeft -= len(body)
        self._events.append(Data(body))

    def on_chunk_header(self) -> None:
        self._progress = True

    def on_message_complete(self) -> None:
        if not self._inBody:
            # An informational response: the final one follows.
            return
        self._inBody = False
        if not self.isServer:
            self._requestMethod = None
        trailers = self._trailers
        self._events.append(EndOfMessage(trailers if trailers else EMPTY_TRAILERS))
