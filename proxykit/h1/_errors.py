# -*- test-case-name: tests.test_h1 -*-
"""
Protocol errors of the HTTP/1.1 layer, with the status a proxy answers.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """
    The peer's bytes cannot be understood as HTTP/1.1.

    After this the connection's framing is in doubt: it must be closed, never
    reused.

    @ivar status: The status to answer a client with (400, 413, 414, 431, 501,
        505), or 502 when the peer is an origin.
    @ivar reason: A short fixed description, safe to log; never contains the
        peer's bytes.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"
