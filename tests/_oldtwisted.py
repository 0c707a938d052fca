"""
What the tests' Twisted fakes lack on the oldest Twisted proxykit supports.

Twisted 23.10's C{MemoryReactor} has no name resolver; later versions give
it one that resolves every name to C{127.0.0.1} at once (and say it provides
C{IReactorPluggableNameResolver}), and proxykit's connection code, like the
tests written against it, uses the reactor's C{nameResolver}.  A real 23.10
reactor has one: only the fake lacks it, so it is given the same here, and
nothing changes on a Twisted that has it.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import frozen
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IReactorPluggableNameResolver,
    IResolutionReceiver,
)
from twisted.internet.testing import MemoryReactor
from zope.interface import classImplements, implementer


@implementer(IHostResolution)
@frozen
class _Resolution:
    name: str

    def cancel(self) -> None:
        raise RuntimeError("already resolved")


@implementer(IHostnameResolver)
class SynchronousResolver:
    """
    Resolves every name to C{127.0.0.1} (with the port asked for) at once,
    as C{twisted.internet.testing.SynchronousResolver} does.
    """

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        resolutionReceiver.addressResolved(IPv4Address("TCP", "127.0.0.1", portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution


def _installNameResolver(self: MemoryReactor, resolver: IHostnameResolver) -> IHostnameResolver:
    old: IHostnameResolver = self.nameResolver  # type: ignore[attr-defined]
    self.nameResolver = resolver  # type: ignore[attr-defined]
    return old


def patchMemoryReactor() -> None:
    """
    Give C{MemoryReactor} a name resolver if this Twisted's has none.
    """
    if hasattr(MemoryReactor(), "nameResolver"):
        return
    MemoryReactor.nameResolver = SynchronousResolver()  # type: ignore[attr-defined]
    MemoryReactor.installNameResolver = _installNameResolver  # type: ignore[attr-defined]
    classImplements(MemoryReactor, IReactorPluggableNameResolver)
