# -*- test-case-name: tests.test_testing -*-
"""
L{FakeClient}: an HTTP/1.1 client of the harness's proxy, in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from ..h1 import (
    NEED_DATA,
    Data,
    EndOfMessage,
    H1Connection,
    ProtocolError,
    Response,
    requestHead,
)
from ._fakes import ClientResponse, HeaderList, Text, asBytes, headerList


class FakeClient(Protocol):
    """
    An HTTP/1.1 client connected to the proxy in memory: sends requests and
    tunnels, and parses what comes back.

    Every method that sends flushes the harness afterwards, so that what can
    happen at once has happened when it returns.

    @ivar responses: The responses to the requests sent, in order.
    @ivar tunnelled: Bytes received through a tunnel (after a 2xx answer
        to L{connect}, or a C{101} to a request with an C{Upgrade} field).
    @ivar closed: The proxy closed the connection (or it was reset).
    """

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self.parser = H1Connection(isServer=False)
        self.responses: list[ClientResponse] = []
        self._waiting: list[tuple[ClientResponse, bytes, bool]] = []
        self.tunnelled = b""
        self._tunnel = False
        self.closed = False
        self.failure: Failure | None = None

    def request(
        self,
        method: Text,
        target: Text,
        headers: HeaderList = (),
        body: Text = b"",
    ) -> ClientResponse:
        """
        Send a request (with C{Content-Length} for a body, and C{Host} from
        an absolute-form target when C{headers} has none).

        @return: Its response, as far as it has arrived.
        """
        method, target, body = asBytes(method), asBytes(target), asBytes(body)
        fields = headerList(headers)
        names = {name.lower() for name, _ in fields}
        if b"host" not in names:
            authority = target.split(b"//", 1)[1].split(b"/", 1)[0] if b"//" in target else target
            if b"//" in target or method == b"CONNECT":
                fields.insert(0, (b"Host", authority))
        if body and not names & {b"content-length", b"transfer-encoding"}:
            fields.append((b"Content-Length", b"%d" % (len(body),)))
        response = ClientResponse()
        self.responses.append(response)
        upgrade = b"upgrade" in names
        self._waiting.append((response, method, upgrade))
        if len(self._waiting) == 1:
            self.parser.expectResponse(method, upgrade)
        assert self.transport is not None
        self.transport.write(requestHead(method, target, fields) + body)
        self._flush()
        return response

    def get(self, target: Text, headers: HeaderList = ()) -> ClientResponse:
        """
        Send a C{GET} request; see L{request}.
        """
        return self.request(b"GET", target, headers)

    def connect(self, authority: Text, headers: HeaderList = ()) -> ClientResponse:
        """
        Ask for a tunnel to C{authority} (C{host:port}).  After a 2xx
        answer, L{write} sends through the tunnel and L{tunnelled} holds
        what came back.
        """
        return self.request(b"CONNECT", authority, headers)

    def write(self, data: Text) -> None:
        """
        Send raw bytes: through a tunnel, or anything at all to the proxy.
        """
        assert self.transport is not None
        self.transport.write(asBytes(data))
        self._flush()

    def halfClose(self) -> None:
        """
        Close the sending direction (a FIN), keeping the other open.
        """
        assert self.transport is not None
        self.transport.loseWriteConnection()  # type: ignore[attr-defined]
        self._flush()

    def close(self) -> None:
        """
        Close the connection.
        """
        assert self.transport is not None
        self.transport.loseConnection()
        self._flush()

    def reset(self) -> None:
        """
        Abort the connection.
        """
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]
        self._flush()

    def dataReceived(self, data: bytes) -> None:
        if self._tunnel:
            self.tunnelled += data
            return
        self.parser.receiveData(data)
        self._parse()

    def _parse(self) -> None:
        while self._waiting:
            response, method, upgrade = self._waiting[0]
            try:
                event = self.parser.nextEvent()
            except ProtocolError as e:
                raise AssertionError(f"the proxy sent a malformed response: {e.reason}") from e
            if event is NEED_DATA:
                return
            if isinstance(event, Response):
                switched = upgrade and event.status == 101
                if event.status < 200 and not switched:
                    continue
                response.status, response.reason = event.status, event.reason
                response.headers = tuple(event.headers)
                if switched or (method == b"CONNECT" and event.status < 300):
                    self._finish()
                    self._tunnel = True
                    self.tunnelled += self.parser.trailingData
                    return
            elif isinstance(event, Data):
                response.body += event.data
            elif isinstance(event, EndOfMessage):
                self._finish()

    def _finish(self) -> None:
        response, _, _ = self._waiting.pop(0)
        response.complete = True
        if self._waiting:
            _, method, upgrade = self._waiting[0]
            self.parser.expectResponse(method, upgrade)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        self.failure = reason
        if self._waiting and not self._tunnel:
            self.parser.receiveEOF()
            try:
                self._parse()
            except AssertionError:
                pass
