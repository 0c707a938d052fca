# -*- test-case-name: tests.test_testing -*-
"""
Fake origins for L{proxykit.testing.ProxyHarness}, and the values tests
assert on: what an origin received (L{OriginRequest}), what a client got
(L{ClientResponse}), and how an origin answers (L{Reply}, L{Reset}).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Union

import attrs
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from ..h1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    H1Connection,
    ProtocolError,
    Request,
    chunkHeader,
    lastChunk,
    responseHead,
)

Text = Union[str, bytes]
"""Names, values and bodies may be given as text (encoded as Latin-1) or
bytes; results are always bytes."""

HeaderList = Sequence[tuple[Text, Text]]


def asBytes(value: Text) -> bytes:
    """
    C{value} as bytes (text is encoded as Latin-1).
    """
    return value.encode("latin-1") if isinstance(value, str) else value


def headerList(headers: HeaderList) -> list[tuple[bytes, bytes]]:
    """
    C{headers} as bytes.
    """
    return [(asBytes(name), asBytes(value)) for name, value in headers]


def _lookup(headers: Sequence[tuple[bytes, bytes]], name: Text) -> list[bytes]:
    wanted = asBytes(name).lower()
    return [value for key, value in headers if key.lower() == wanted]


class _HasHeaders:
    headers: tuple[tuple[bytes, bytes], ...]

    def header(self, name: Text) -> bytes | None:
        """
        The first value of the field C{name} (any case), or C{None}.
        """
        values = _lookup(self.headers, name)
        return values[0] if values else None

    def headerValues(self, name: Text) -> list[bytes]:
        """
        Every value of the field C{name} (any case), in order.
        """
        return _lookup(self.headers, name)


@attrs.frozen
class OriginRequest(_HasHeaders):
    """
    A request as a fake origin received it, whole.

    @ivar method: E.g. C{b"GET"}.
    @ivar target: The request-target as received (origin-form, usually).
    @ivar version: C{b"1.1"} or C{b"1.0"}.
    @ivar headers: The fields in order, as received.
    @ivar body: The body, chunked coding removed.
    """

    method: bytes
    target: bytes
    version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@attrs.define
class ClientResponse(_HasHeaders):
    """
    The response a fake client is getting to one request, filled in as it
    arrives (read it again after L{ProxyHarness.advance}).

    @ivar status: The status code; C{0} while no head has arrived.
    @ivar reason: The reason phrase.
    @ivar headers: The fields in order.
    @ivar body: The body received so far, chunked coding removed.
    @ivar complete: The whole body has arrived.
    """

    status: int = 0
    reason: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    complete: bool = False

    @property
    def received(self) -> bool:
        """
        Whether the response head has arrived.
        """
        return self.status != 0


@attrs.frozen
class Reply:
    """
    How a fake origin answers one request.

    @ivar status: The status code.
    @ivar headers: The fields; C{Content-Length} is added for C{body} unless
        the fields frame the body themselves, and C{Transfer-Encoding:
        chunked} for C{chunks}.
    @ivar body: The body, sent at once.
    @ivar chunks: A slow body instead: each piece sent C{interval} seconds
        after the one before (the first C{interval} after the head).
    @ivar interval: Seconds between C{chunks}.
    @ivar delay: Seconds before the head is sent.
    @ivar reset: Abort the connection after the head and any C{chunks},
        before the body ends.
    @ivar close: Close the connection after the response.
    """

    status: int = 200
    headers: tuple[tuple[Text, Text], ...] = ()
    body: Text = b""
    chunks: tuple[Text, ...] = ()
    interval: float = 0.0
    delay: float = 0.0
    reset: bool = False
    close: bool = False


@attrs.frozen
class Reset:
    """
    An origin's answer to a request: abort the connection, saying nothing.
    """


Answer = Union[Reply, Reset, None]
"""A fake origin's answer to a request: a L{Reply}, a L{Reset}, or C{None}
(say nothing: a stall)."""

Handler = Callable[[OriginRequest], Answer]
"""Decides a fake origin's answer to each request it receives."""


class FakeOrigin:
    """
    An HTTP/1.1 origin server in memory, answering each request with what
    its L{handler} decides (by default: C{200} with an empty body).

    @ivar address: C{host:port}, as attached.
    @ivar requests: Every request received, in order.
    @ivar connections: How many connections were accepted.
    @ivar handler: Decides each answer; set it, or call L{reply},
        L{stall} or L{reset}.
    @ivar refusing: Connections to it are refused (see L{refuse}).
    """

    def __init__(self, address: str, clock: IReactorTime) -> None:
        self.address = address
        self.clock = clock
        self.requests: list[OriginRequest] = []
        self.connections = 0
        self.handler: Handler = lambda request: Reply()
        self.refusing = False

    def reply(
        self,
        status: int = 200,
        body: Text = b"",
        headers: HeaderList = (),
        **options: object,
    ) -> FakeOrigin:
        """
        Answer every request with the same response.

        @param options: The other fields of L{Reply}.
        @return: This origin.
        """
        answer = Reply(status, tuple(headers), body, **options)  # type: ignore[arg-type]
        self.handler = lambda request: answer
        return self

    def handle(self, handler: Handler) -> FakeOrigin:
        """
        Answer each request with what C{handler} returns for it.

        @return: This origin.
        """
        self.handler = handler
        return self

    def stall(self) -> FakeOrigin:
        """
        Accept connections and read requests, never answering.

        @return: This origin.
        """
        self.handler = lambda request: None
        return self

    def reset(self) -> FakeOrigin:
        """
        Abort the connection of every request instead of answering.

        @return: This origin.
        """
        self.handler = lambda request: Reset()
        return self

    def refuse(self) -> FakeOrigin:
        """
        Refuse connections.

        @return: This origin.
        """
        self.refusing = True
        return self

    def buildProtocol(self) -> Protocol:
        """
        The protocol of one accepted connection.
        """
        self.connections += 1
        return _OriginProtocol(self)

    @property
    def lastRequest(self) -> OriginRequest:
        """
        The last request received.

        @raise AssertionError: None has been received.
        """
        if not self.requests:
            raise AssertionError(f"origin {self.address} received no request")
        return self.requests[-1]


class _OriginProtocol(Protocol):
    def __init__(self, origin: FakeOrigin) -> None:
        self.origin = origin
        self.parser = H1Connection(isServer=True)
        self.head: Request | None = None
        self.body: list[bytes] = []
        self.timers: list[IDelayedCall] = []

    def dataReceived(self, data: bytes) -> None:
        self.parser.receiveData(data)
        while True:
            try:
                event = self.parser.nextEvent()
            except ProtocolError:
                self.transport.loseConnection()  # type: ignore[union-attr]
                return
            if event is NEED_DATA:
                return
            if isinstance(event, Request):
                self.head, self.body = event, []
            elif isinstance(event, Data):
                self.body.append(event.data)
            elif isinstance(event, EndOfMessage) and self.head is not None:
                head = self.head
                request = OriginRequest(
                    head.method, head.target, head.version, tuple(head.headers), b"".join(self.body)
                )
                self.origin.requests.append(request)
                self.answer(self.origin.handler(request), head.method, head.keepAlive)

    def answer(self, answer: Answer, method: bytes, keepAlive: bool) -> None:
        transport = self.transport
        assert transport is not None
        if answer is None:
            return
        if isinstance(answer, Reset):
            transport.abortConnection()  # type: ignore[attr-defined]
            return
        if answer.delay:
            self.later(answer.delay, self.answer, attrs.evolve(answer, delay=0.0), method, keepAlive)
            return
        headers = headerList(answer.headers)
        names = {name.lower() for name, _ in headers}
        chunked = bool(answer.chunks) and b"content-length" not in names
        body = asBytes(answer.body)
        if not names & {b"content-length", b"transfer-encoding"}:
            if chunked:
                headers.append((b"Transfer-Encoding", b"chunked"))
            elif answer.status >= 200 and answer.status not in (204, 304):
                headers.append((b"Content-Length", b"%d" % (len(body),)))
        close = answer.close or not keepAlive
        if close:
            headers.append((b"Connection", b"close"))
        transport.write(responseHead(answer.status, _reason(answer.status), headers))
        if method != b"HEAD" and body:
            transport.write(body)
        pieces = [asBytes(piece) for piece in answer.chunks]
        self.sendPieces(pieces, answer, chunked, close)

    def sendPieces(self, pieces: list[bytes], answer: Reply, chunked: bool, close: bool) -> None:
        transport = self.transport
        assert transport is not None
        if pieces:
            self.later(answer.interval, self.sendPiece, pieces, answer, chunked, close)
            return
        if answer.reset:
            transport.abortConnection()  # type: ignore[attr-defined]
            return
        if chunked:
            transport.write(lastChunk([]))
        if close:
            transport.loseConnection()

    def sendPiece(self, pieces: list[bytes], answer: Reply, chunked: bool, close: bool) -> None:
        piece, rest = pieces[0], pieces[1:]
        assert self.transport is not None
        self.transport.write(chunkHeader(len(piece)) + piece + b"\r\n" if chunked else piece)
        self.sendPieces(rest, answer, chunked, close)

    def later(self, seconds: float, f: Callable[..., object], *args: object) -> None:
        self.timers.append(self.origin.clock.callLater(seconds, f, *args))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        for timer in self.timers:
            if timer.active():
                timer.cancel()


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b"Unknown"


class RawOrigin:
    """
    A server in memory that speaks no HTTP: the far end of CONNECT tunnels.
    It records the bytes it receives and sends what it is given.

    @ivar address: C{host:port}, as attached.
    @ivar received: Every byte received, over all connections.
    @ivar connections: How many connections were accepted.
    @ivar echo: Send back what arrives.
    @ivar refusing: Connections to it are refused.
    """

    def __init__(self, address: str, echo: bool = False) -> None:
        self.address = address
        self.received = b""
        self.connections = 0
        self.echo = echo
        self.refusing = False
        self._protocols: list[Protocol] = []

    def buildProtocol(self) -> Protocol:
        """
        The protocol of one accepted connection.
        """
        self.connections += 1
        protocol = _RawProtocol(self)
        self._protocols.append(protocol)
        return protocol

    def send(self, data: Text) -> None:
        """
        Send C{data} on the latest connection (delivered at the next flush).
        """
        self._latest().write(asBytes(data))

    def close(self) -> None:
        """
        Close the latest connection.
        """
        self._latest().loseConnection()

    def _latest(self) -> ITransport:
        if not self._protocols:
            raise AssertionError(f"no connection reached {self.address}")
        transport = self._protocols[-1].transport
        assert transport is not None
        return transport


class _RawProtocol(Protocol):
    def __init__(self, origin: RawOrigin) -> None:
        self.origin = origin

    def dataReceived(self, data: bytes) -> None:
        self.origin.received += data
        if self.origin.echo:
            self.transport.write(data)  # type: ignore[union-attr]
