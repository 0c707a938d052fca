# -*- test-case-name: tests.test_endpoints -*-
"""
How proxykit reaches origins: the one place that builds client endpoints.

IP literals connect directly (no resolver round trip); names go through
L{HostnameEndpoint}, which resolves them off the reactor thread and races
the addresses (RFC 8305).  TLS origins will be wrapped here too.
"""

from __future__ import annotations

import ipaddress

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
)
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
)


def clientEndpoint(
    reactor: object, host: str, port: int, timeout: float, scheme: str = "http"
) -> IStreamClientEndpoint:
    """
    An endpoint that connects to C{host}:C{port} within C{timeout} seconds.

    @param reactor: The reactor (TCP and name resolution).
    @param host: A DNS name or an IP literal without brackets; the socket
        path when C{scheme} is C{"unix"}.
    @param scheme: C{"http"} (TCP) or C{"unix"}.
    """
    if scheme == "unix":
        return UNIXClientEndpoint(reactor, host, timeout=timeout)  # type: ignore[no-untyped-call]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return HostnameEndpoint(reactor, host, port, timeout=timeout)
    if address.version == 4:
        return TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    return TCP6ClientEndpoint(reactor, host, port, timeout=timeout)  # type: ignore[no-untyped-call]


def connect(
    reactor: object,
    host: str,
    port: int,
    timeout: float,
    factory: IProtocolFactory,
    scheme: str = "http",
) -> Deferred[IProtocol]:
    """
    Connect C{factory}'s protocol to C{host}:C{port}.

    @return: Fires with the connected protocol, or fails with the connect
        error (L{twisted.internet.error.TimeoutError} after C{timeout}).
    """
    endpoint = clientEndpoint(reactor, host, port, timeout, scheme)
    d = endpoint.connect(factory)
    # Name resolution has no bound of its own: bound the whole attempt (a
    # moment after the connect timeout, which reports itself more precisely).
    d.addTimeout(timeout + 1.0, reactor)  # type: ignore[arg-type]
    return d
