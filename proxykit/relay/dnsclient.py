# -*- test-case-name: tests.test_dnsclient -*-
"""
The DNS client of origin discovery: A, AAAA and SRV queries over UDP with
C{twisted.names}' message layer (L{twisted.names.dns.DNSDatagramProtocol}).

L{twisted.names.client.Resolver} binds a new UDP port for every query and
logs each port's start and end: four lines per name and TTL, which at a TTL
of a second or two floods the log.  L{DNSClient} keeps one UDP port per
address family, bound at an ephemeral port chosen by the system on first
use and closed by L{DNSClient.close}; each query still gets a random id,
and only answers from the server asked are taken (as
L{DNSDatagramProtocol} checks).  A truncated answer is asked again over TCP
(L{twisted.names.client.Resolver.queryTCP}).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Final

from twisted.internet.defer import Deferred, fail, gatherResults, maybeDeferred
from twisted.internet.error import DNSLookupError
from twisted.names import dns
from twisted.names.client import Resolver
from twisted.names.error import (
    DNSFormatError,
    DNSNameError,
    DNSNotImplementedError,
    DNSQueryRefusedError,
    DNSServerError,
    DNSUnknownError,
)
from twisted.python.failure import Failure

_ERRORS: Final = {
    dns.ENAME: DNSNameError,
    dns.EFORMAT: DNSFormatError,
    dns.ESERVER: DNSServerError,
    dns.ENOTIMP: DNSNotImplementedError,
    dns.EREFUSED: DNSQueryRefusedError,
}

Answer = tuple[list[dns.RRHeader], list[dns.RRHeader], list[dns.RRHeader]]
"""Answers, authority and additional records, as L{twisted.names} gives them."""


class _Controller:
    """
    What L{dns.DNSDatagramProtocol} tells its controller about messages
    that answer no query of ours: nothing to do with them.
    """

    def messageReceived(self, message: dns.Message, protocol: object, address: object = None) -> None:
        pass


class DNSClient:
    """
    Asks C{servers}, in turn, until one answers; each query is tried with
    each timeout of C{timeout} in turn (all servers per try).

    @ivar servers: C{(address, port)} of each server.
    """

    def __init__(self, servers: Sequence[tuple[str, int]], reactor: Any, timeout: Sequence[float] = (1, 2)) -> None:
        self.servers = list(servers)
        self._reactor = reactor
        self._timeout = tuple(timeout)
        self._protocols: dict[int, dns.DNSDatagramProtocol] = {}

    def lookupAddress(self, name: str, timeout: object = None) -> Deferred[Answer]:
        """
        The A records of C{name}.
        """
        return self.query(name, dns.A)

    def lookupIPV6Address(self, name: str, timeout: object = None) -> Deferred[Answer]:
        """
        The AAAA records of C{name}.
        """
        return self.query(name, dns.AAAA)

    def lookupService(self, name: str, timeout: object = None) -> Deferred[Answer]:
        """
        The SRV records of C{name}.
        """
        return self.query(name, dns.SRV)

    def close(self) -> Deferred[None]:
        """
        Close the UDP ports (queries in progress fail); a later query binds
        new ones.

        @return: Fires when the ports are closed.
        """
        protocols, self._protocols = self._protocols, {}
        closing = [
            maybeDeferred(protocol.transport.stopListening)
            for protocol in protocols.values()
            if protocol.transport is not None
        ]
        return gatherResults(closing).addCallback(lambda _: None)

    def query(self, name: str, type: int) -> Deferred[Answer]:
        """
        Ask for the records of C{type} of C{name}.

        @return: Fires with the records, or fails with
            L{twisted.names.error.DNSNameError} (no such name), another
            L{twisted.names.error} error for another response code, or
            L{DNSLookupError} when no server answered in time.
        """
        attempts = [(server, t) for t in self._timeout for server in self.servers]
        if not attempts:
            return fail(DNSLookupError("no DNS server"))
        queries = [dns.Query(name, type, dns.IN)]
        result: Deferred[Answer] = Deferred()

        def attempt(index: int) -> None:
            server, timeout = attempts[index]
            try:
                d = self._protocolFor(server[0]).query(server, queries, timeout)
            except Exception:
                failed(Failure(), index)  # type: ignore[no-untyped-call]
                return
            d.addCallbacks(answered, failed, errbackArgs=(index,))

        def answered(message: dns.Message) -> None:
            if message.trunc:
                tcp = Resolver(servers=self.servers, reactor=self._reactor)  # type: ignore[no-untyped-call]
                tcp.queryTCP(queries, self._timeout[-1]).addCallbacks(  # type: ignore[no-untyped-call]
                    answered, result.errback
                )
                return
            if message.rCode != dns.OK:
                error = _ERRORS.get(message.rCode, DNSUnknownError)
                result.errback(Failure(error(message)))  # type: ignore[no-untyped-call]
                return
            result.callback((message.answers, message.authority, message.additional))

        def failed(failure: Failure, index: int) -> None:
            if index + 1 < len(attempts):
                attempt(index + 1)
            else:
                result.errback(Failure(DNSLookupError(f"no answer: {failure.getErrorMessage()}")))  # type: ignore[no-untyped-call]

        attempt(0)
        return result

    def _protocolFor(self, address: str) -> dns.DNSDatagramProtocol:
        """
        The UDP protocol to ask a server at C{address} over, bound on first
        use.
        """
        family = ipaddress.ip_address(address).version
        protocol = self._protocols.get(family)
        if protocol is None or protocol.transport is None:
            protocol = dns.DNSDatagramProtocol(_Controller(), reactor=self._reactor)  # type: ignore[no-untyped-call]
            protocol.noisy = False
            self._reactor.listenUDP(0, protocol, interface="::" if family == 6 else "")
            self._protocols[family] = protocol
        return protocol
