# -*- test-case-name: tests.test_testing -*-
"""
Test your proxy configuration, router and hooks in memory: no sockets, a
clock you advance, fake origins and fake clients.

    harness = ProxyHarness.fromFile("reverse.toml", mode="reverse")
    origin = harness.fakeOrigin("127.0.0.1:8001").reply(200, b"hello")
    response = harness.fakeClient().get("/", [("Host", "example.com")])
    assert response.status == 200 and response.body == b"hello"
    assert origin.lastRequest.header("Host") == b"example.com"

The proxy is built by L{proxykit.build.buildFactory}, as C{twistd proxykit}
builds it.  Its connections are those of L{twisted.test.iosim} (L{Pipe},
L{RecordingTransport}), with aborts and half-closes delivered as a socket
would.  Works under trial and pytest alike (nothing here depends on a test
runner).
"""

from ._client import FakeClient
from ._fakes import (
    Answer,
    ClientResponse,
    FakeOrigin,
    Handler,
    OriginRequest,
    RawOrigin,
    Reply,
    Reset,
)
from ._harness import FIRST_REQUEST_ID, PROXY_ADDRESS, ProxyHarness
from ._memory import InMemoryReactor, Pipe, RecordingTransport

__all__ = [
    "Answer",
    "ClientResponse",
    "FIRST_REQUEST_ID",
    "FakeClient",
    "FakeOrigin",
    "Handler",
    "InMemoryReactor",
    "OriginRequest",
    "PROXY_ADDRESS",
    "Pipe",
    "ProxyHarness",
    "RawOrigin",
    "RecordingTransport",
    "Reply",
    "Reset",
]
