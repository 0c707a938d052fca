# -*- test-case-name: tests.test_endpoints -*-
"""
How proxykit reaches origins: the one place that builds client endpoints.

IP literals connect directly (no resolver round trip); names go through
L{HostnameEndpoint}, which resolves them off the reactor thread and races
the addresses (RFC 8305).  TLS origins will be wrapped here too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from twisted.internet import error
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
)
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IProtocol,
    IProtocolFactory,
    IReactorPluggableNameResolver,
    IResolutionReceiver,
    IStreamClientEndpoint,
)
from twisted.python.failure import Failure
from zope.interface import implementer

from .destinations import DestinationRefused


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


@implementer(IResolutionReceiver)
class _FilteringReceiver:
    """
    Passes on only the resolved addresses C{check} allows; records whether
    any was withheld.
    """

    def __init__(self, receiver: IResolutionReceiver, check: Callable[[str], bool]) -> None:
        self._receiver = receiver
        self._check = check
        self.withheld = False
        self.passed = False

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self._receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:
        if self._check(getattr(address, "host", "")):
            self.passed = True
            self._receiver.addressResolved(address)
        else:
            self.withheld = True

    def resolutionComplete(self) -> None:
        self._receiver.resolutionComplete()


@implementer(IHostnameResolver)
class _FilteringResolver:
    """
    A name resolver that drops addresses the destination policy forbids, so
    that a name cannot smuggle a connection to a forbidden address.
    """

    def __init__(self, resolver: IHostnameResolver, check: Callable[[str], bool]) -> None:
        self._resolver = resolver
        self._check = check
        self.receivers: list[_FilteringReceiver] = []

    def resolveHostName(  # type: ignore[no-untyped-def]
        self,
        resolutionReceiver,
        hostName,
        portNumber=0,
        addressTypes=None,
        transportSemantics="TCP",
    ):
        receiver = _FilteringReceiver(resolutionReceiver, self._check)
        self.receivers.append(receiver)
        return self._resolver.resolveHostName(
            receiver, hostName, portNumber, addressTypes, transportSemantics
        )


@implementer(IReactorPluggableNameResolver)
class _ResolvingReactor:
    """
    A reactor that is another reactor in everything but its name resolver.
    """

    def __init__(self, reactor: object, resolver: IHostnameResolver) -> None:
        self._reactor = reactor
        self.nameResolver = resolver

    def installNameResolver(self, resolver: IHostnameResolver) -> IHostnameResolver:
        raise NotImplementedError("a filtered resolver cannot be replaced")

    def __getattr__(self, name: str) -> object:
        return getattr(self._reactor, name)


def _isAddress(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def connect(
    reactor: object,
    host: str,
    port: int,
    timeout: float,
    factory: IProtocolFactory,
    scheme: str = "http",
    addressCheck: Callable[[str], bool] | None = None,
) -> Deferred[IProtocol]:
    """
    Connect C{factory}'s protocol to C{host}:C{port}.

    @param addressCheck: Applied to each address a name resolves to; only
        allowed addresses are tried (an IP literal must be checked by the
        caller).
    @return: Fires with the connected protocol, or fails with the connect
        error (L{twisted.internet.error.TimeoutError} after C{timeout};
        L{proxykit.destinations.DestinationRefused} when every resolved
        address was forbidden).
    """
    resolver = None
    if addressCheck is not None and scheme != "unix" and not _isAddress(host):
        # HostnameEndpoint resolves through its reactor's name resolver:
        # hand it a reactor whose resolver filters.
        resolver = _FilteringResolver(reactor.nameResolver, addressCheck)  # type: ignore[attr-defined]
        reactor = _ResolvingReactor(reactor, resolver)
    endpoint = clientEndpoint(reactor, host, port, timeout, scheme)
    d = endpoint.connect(factory)
    if resolver is not None:
        receivers = resolver.receivers

        def refused(failure: Failure) -> Failure:
            if receivers and all(r.withheld and not r.passed for r in receivers):
                return Failure(DestinationRefused(host))  # type: ignore[no-untyped-call]
            return failure

        d.addErrback(refused)
    # Name resolution has no bound of its own: bound the whole attempt (a
    # moment after the connect timeout, which reports itself more precisely).
    # A lookup still in progress fails with DNSLookupError when cancelled:
    # whatever the attempt fails with then, it did not connect in time.
    d.addTimeout(timeout + 1.0, reactor, onTimeoutCancel=_timedOut)  # type: ignore[arg-type]
    return d


def _timedOut(result: object, timeout: float) -> object:
    if isinstance(result, Failure):
        reason = error.TimeoutError(string=f"no connection within {timeout} s")  # type: ignore[no-untyped-call]
        return Failure(reason)  # type: ignore[no-untyped-call]
    return result
