"""
The project's transcript fixtures on L{proxykit.testing.ProxyHarness}: the
timeouts and request bytes the unit tests share.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from proxykit import ProxyConfig, Timeouts
from proxykit.decisions import IRouter
from proxykit.testing import FIRST_REQUEST_ID as FIRST_ID
from proxykit.testing import ProxyHarness
from proxykit.testing import RecordingTransport as Transport

__all__ = ["FIRST_ID", "GET", "OK", "Harness", "Transport", "lose", "originSaw"]

GET = b"GET http://127.0.0.1:9000/a HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAccept: */*\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

TIMEOUTS = Timeouts(connect=5, response=30, idle=60, tunnelIdle=100)


def Harness(config: ProxyConfig | None = None, router: IRouter | None = None) -> ProxyHarness:
    """
    A L{ProxyHarness} with the tests' timeouts by default.
    """
    harness = ProxyHarness(config if config is not None else ProxyConfig(timeouts=TIMEOUTS), router)
    # The transcript connection is open from the start, as the tests' clocks
    # assume.
    harness.connectTranscript()
    return harness


def originSaw(transport: StringTransport | Transport) -> bytes:
    value = transport.value()
    transport.clear()
    return value


def lose(proto: Protocol) -> None:
    proto.connectionLost(Failure(ConnectionDone()))
