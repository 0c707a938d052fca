# -*- test-case-name: tests.test_discovery -*-
"""
Origins found through DNS: a route's origins given by host name
(C{http://api.internal:8080}) or by SRV records
(C{srv+http://_http._tcp.api.service.consul}) are resolved while the proxy
listens, and each address found becomes a member of the route's
L{OriginGroup} (its own pool key, health and ejection state).

A name is resolved again when its answer's TTL has passed, bounded by
C{reverse.dns_min_ttl} and C{reverse.dns_max_ttl}.  Members that disappear
from the answer are chosen no more (their requests in flight finish, their
idle pooled connections close); members that appear join at once, or after
their first passing check when the route has active health checks (the
members of a name's first answer start up, as configured origins do, and
are checked at once).  A
failed resolution (no answer, no such name, no address) keeps the last good
members: it is logged once per failure episode and counted
(L{OriginDiscovery.counts}), and the name is tried again after
C{dns_min_ttl}.

Until a name's first answer, an origin given by host name stays in the
group under its name (connections resolve it with the system resolver, as
for any name); an SRV origin has no member until then, and a route with
nothing else gets 503.

Members keep the configured name: it is the C{Host} of C{host_header =
"origin"} and of health checks, and the TLS server name of C{https} origins
(an SRV member's name is its record's target).  IP literals and UNIX
sockets are never resolved.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from twisted.internet.defer import Deferred, DeferredList, gatherResults, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.names import dns
from twisted.names.error import DNSNameError
from twisted.python.failure import Failure

from ..config.checks import parseDnsServer
from ..config.values import OriginConfig, ReverseConfig
from ..decisions import Origin
from ..policy.balance import (
    OriginGroup,
    isDiscovered,
    isSrvURL,
    originFromConfig,
    proxyProtocolVersion,
)
from ..reactor import NamedLogger, orGlobal
from .dnsclient import DNSClient

if TYPE_CHECKING:
    from .health import HealthChecker
    from .pool import ConnectionPool

TIMEOUT = (1, 2)
"""Seconds to wait for each try of a DNS query (twisted.names retries)."""

Members = tuple[tuple[Origin, int], ...]


def systemServers(path: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """
    The C{nameserver} lines of C{path}; C{127.0.0.1:53} if it names none
    or cannot be read (as L{twisted.names.client} does).
    """
    servers: list[tuple[str, int]] = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    servers.append((parts[1], 53))
    except OSError:
        pass
    return servers or [("127.0.0.1", 53)]


def resolverFor(config: ReverseConfig, reactor: object) -> DNSClient:
    """
    The DNS client of C{config}: asking C{dns_servers}, or the system's
    servers (C{/etc/resolv.conf}, read when the configuration is loaded),
    never the hosts file.
    """
    if config.dnsServers:
        servers = [parseDnsServer(server) for server in config.dnsServers]
    else:
        servers = systemServers()
    return DNSClient(servers, reactor, TIMEOUT)


@attrs.frozen
class Source:
    """
    One configured origin found through DNS.

    @ivar url: The configured URL (names it in logs and metrics).
    @ivar srv: Whether SRV records name its members (else A and AAAA).
    @ivar name: The name resolved.
    @ivar scheme: C{"http"} or C{"https"}.
    @ivar port: The port of every address (A and AAAA).
    @ivar weight: The configured weight (A and AAAA members).
    @ivar origin: The origin under its name: what the group holds before
        the first answer (A and AAAA); for SRV, a port-0 origin that only
        carries the TLS settings.
    """

    url: str
    srv: bool
    name: str
    scheme: str
    port: int
    weight: int
    origin: Origin

    @classmethod
    def fromConfig(cls, config: OriginConfig, proxyProtocol: str = "off") -> Source:
        """
        The source of an origin for which L{isDiscovered} holds.

        @param proxyProtocol: The route's C{proxy_protocol}, which the
            members take unless the origin sets its own.
        """
        url = config.url
        if isSrvURL(url):
            scheme, _, rest = url[len("srv+") :].partition("://")
            name = rest.rstrip("/").rstrip(".").lower()
            tls = config.tls if scheme == "https" else None
            version = proxyProtocolVersion(config, proxyProtocol)
            template = Origin(scheme, name, 0, tls=tls, proxyProtocol=version)
            return cls(url, True, name, scheme, 0, config.weight, template)
        origin = originFromConfig(config, proxyProtocol)
        return cls(url, False, origin.host, origin.scheme, origin.port, config.weight, origin)

    def member(self, address: str, port: int, name: str) -> Origin:
        """
        The member for C{address}:C{port} found under C{name}.
        """
        tls = self.origin.tls
        if self.scheme == "https" and tls is not None and tls.serverName is None:
            tls = attrs.evolve(tls, serverName=name)
        return Origin(
            self.scheme, address, port, tls=tls, name=name,
            proxyProtocol=self.origin.proxyProtocol,
        )  # fmt: skip


class _State:
    """
    What discovery knows about one source.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.members: Members | None = None
        self.failing = False
        self.timer: IDelayedCall | None = None
        self.ok = 0
        self.failed = 0


class OriginDiscovery:
    """
    Resolves the origins of one route given by name and keeps its
    L{OriginGroup}'s members up to date while started.

    @ivar group: The route's group.
    @ivar sources: The origins resolved.
    """

    _log = NamedLogger("proxykit.discovery.OriginDiscovery")

    def __init__(
        self,
        group: OriginGroup,
        origins: Sequence[OriginConfig],
        resolver: Any,
        minTtl: float = 1.0,
        maxTtl: float = 60.0,
        reactor: IReactorTime | None = None,
        checker: HealthChecker | None = None,
        proxyProtocol: str = "off",
    ) -> None:
        """
        @param proxyProtocol: The route's C{proxy_protocol} (see
            L{Source.fromConfig}).
        @param group: The route's group, built by
            L{OriginGroup.fromRouteConfig} from C{origins}.
        @param origins: The route's configured origins (those not found
            through DNS stay members as they are).
        @param resolver: An L{twisted.internet.interfaces.IResolver}
            (C{lookupAddress}, C{lookupIPV6Address}, C{lookupService}).
        @param minTtl: Fewest seconds between two resolutions of a name.
        @param maxTtl: Most seconds between two resolutions of a name.
        @param checker: The route's health checker, if it has one: members
            join after their first passing check.
        """
        self.group = group
        self._resolver = resolver
        self._minTtl = minTtl
        self._maxTtl = maxTtl
        self._reactor = orGlobal(reactor)
        self._checker = checker
        self._pool: ConnectionPool | None = None
        self._static: list[tuple[Origin, int]] = []
        self._states: list[_State] = []
        for config in origins:
            if isDiscovered(config.url):
                self._states.append(_State(Source.fromConfig(config, proxyProtocol)))
            else:
                self._static.append((originFromConfig(config, proxyProtocol), config.weight))
        self.sources = tuple(state.source for state in self._states)
        self._running = False

    @classmethod
    def wanted(cls, origins: Iterable[OriginConfig]) -> bool:
        """
        Whether any of C{origins} is found through DNS.
        """
        return any(isDiscovered(config.url) for config in origins)

    def usePool(self, pool: ConnectionPool) -> None:
        """
        Close the idle pooled connections of members that leave in C{pool}
        (and keep those of members that come back).
        """
        self._pool = pool

    def adopt(self, previous: Iterable[object]) -> None:
        """
        A reload replaces the discovery objects in C{previous} with this one
        (not started yet): take over the last answers of the origins
        configured alike, so that their members keep serving (up, as they
        were) rather than wait for a first answer again.

        @param previous: What the factory ran before: the discoveries among
            them are read.
        """
        answers: dict[Source, Members] = {}
        for task in previous:
            if isinstance(task, OriginDiscovery) and task is not self:
                for state in task._states:
                    if state.members is not None:
                        answers[state.source] = state.members
        taken = False
        for state in self._states:
            found = answers.get(state.source)
            if found is not None and state.members is None:
                state.members = found
                taken = True
        if taken:
            self._apply(joinDown=False)

    def start(self) -> None:
        """
        Resolve every name now, and again as their TTLs say, until L{stop}.
        """
        if self._running:
            return
        self._running = True
        for state in self._states:
            self._resolve(state)

    def stop(self) -> None:
        """
        Resolve no more (the members stay as they are); close the DNS
        client's ports.
        """
        self._running = False
        if isinstance(self._resolver, DNSClient):
            self._resolver.close()
        for state in self._states:
            timer, state.timer = state.timer, None
            if timer is not None and timer.active():
                timer.cancel()

    def counts(self) -> list[tuple[str, int, int]]:
        """
        Each source's URL and how many of its resolutions succeeded and
        failed.
        """
        return [(state.source.url, state.ok, state.failed) for state in self._states]

    def _resolve(self, state: _State) -> None:
        state.timer = None
        if not self._running:
            return
        source = state.source
        d = self._lookupSRV(source) if source.srv else self._lookupAddresses(source, source.name, source.port)
        d.addCallbacks(self._answered, self._failed, (state,), errbackArgs=(state,))
        d.addErrback(self._broken, source)

    def _broken(self, failure: Failure, source: Source) -> None:
        self._log.failure("discovery of {url} failed", failure, url=source.url)

    def _schedule(self, state: _State, delay: float) -> None:
        if self._running and state.timer is None:
            state.timer = self._reactor.callLater(delay, self._resolve, state)

    def _answered(self, result: tuple[list[tuple[Origin, int]], float], state: _State) -> None:
        if not self._running:
            # Stopped (a reload replaced it): the group and the pool's keys
            # are another discovery's business now.
            return
        members, ttl = result
        if not members:
            self._failed(Failure(DNSNameError("no address records")), state)  # type: ignore[no-untyped-call]
            return
        state.ok += 1
        if state.failing:
            state.failing = False
            self._log.info(
                "origin {url} resolves again: {count} addresses", url=state.source.url, count=len(members)
            )
        members.sort(key=lambda member: (member[0].host, member[0].port))
        found = tuple(members)
        if found != state.members:
            first = state.members is None
            state.members = found
            # A first answer's members start up, as configured origins do
            # (the route serves at once); later ones wait for a check.
            self._apply(joinDown=not first)
            self._log.info(
                "origin {url} resolved to {addresses} (ttl {ttl}s){first}",
                url=state.source.url,
                addresses=" ".join(f"{o}" for o, _ in found),
                ttl=ttl,
                first=" for the first time" if first else "",
            )
        self._schedule(state, min(max(ttl, self._minTtl), self._maxTtl))

    def _failed(self, failure: Failure, state: _State) -> None:
        if not self._running:
            return
        state.failed += 1
        if not state.failing:
            state.failing = True
            self._log.warn(
                "origin {url} could not be resolved: {reason}; {kept}",
                url=state.source.url,
                reason=_reason(failure),
                kept="keeping its last addresses" if state.members is not None else "no address yet",
            )
        self._schedule(state, self._minTtl)

    def _apply(self, joinDown: bool = True) -> None:
        """
        Make the group's members the static origins plus every source's
        last good answer (a source never answered yet: its name).

        @param joinDown: Whether members that join wait for their first
            passing health check (when the route has checks).
        """
        members: list[tuple[Origin, int]] = list(self._static)
        for state in self._states:
            if state.members is not None:
                members.extend(state.members)
            elif not state.source.srv:
                members.append((state.source.origin, state.source.weight))
        unique: dict[Origin, int] = {}
        for origin, weight in members:
            unique.setdefault(origin, weight)
        checker = self._checker
        joinDown = joinDown and checker is not None
        added, removed = self.group.setMembers(list(unique.items()), joinDown=joinDown)
        pool = self._pool
        if pool is not None:
            pool.reinstate(added)
            pool.retire(removed)
        if checker is not None:
            for origin in removed:
                checker.removeOrigin(origin)
            for origin in added:
                checker.addOrigin(origin, joining=joinDown)

    def _lookupAddresses(
        self, source: Source, name: str, port: int
    ) -> Deferred[tuple[list[tuple[Origin, int]], float]]:
        """
        The members C{name}'s A and AAAA records give, and their least TTL.
        """
        resolver = self._resolver
        d: Deferred[Any] = DeferredList(
            [resolver.lookupAddress(name, TIMEOUT), resolver.lookupIPV6Address(name, TIMEOUT)],
            consumeErrors=True,
        )

        def combine(results: list[tuple[bool, Any]]) -> tuple[list[tuple[Origin, int]], float]:
            addresses: list[str] = []
            ttls: list[float] = []
            errors = [value for ok, value in results if not ok]
            if len(errors) == len(results):
                errors[0].raiseException()
            for ok, value in results:
                if ok:
                    _collect(value[0], addresses, ttls)
            members = [(source.member(a, port, name), source.weight) for a in dict.fromkeys(addresses)]
            return members, min(ttls, default=self._minTtl)

        return d.addCallback(combine)

    def _lookupSRV(self, source: Source) -> Deferred[tuple[list[tuple[Origin, int]], float]]:
        """
        The members C{source}'s SRV records give (those of the lowest
        priority, RFC 2782), with their targets' addresses from the
        additional section or from A and AAAA queries.
        """
        d: Deferred[Any] = self._resolver.lookupService(source.name, TIMEOUT)

        def targets(result: tuple[list[Any], list[Any], list[Any]]) -> Deferred[Any]:
            answers, _, additional = result
            records = [r for r in answers if r.type == dns.SRV and str(r.payload.target) not in ("", ".")]
            ttls = [float(r.ttl) for r in answers if r.type == dns.SRV]
            if not records:
                return _ready(([], min(ttls, default=self._minTtl)))
            priority = min(r.payload.priority for r in records)
            chosen = [r.payload for r in records if r.payload.priority == priority]
            known: dict[str, list[str]] = {}
            for r in additional:
                if r.type in (dns.A, dns.AAAA):
                    known.setdefault(str(r.name).lower(), []).append(_address(r))
            lookups = []
            for record in chosen:
                target = str(record.target).rstrip(".").lower()
                weight = max(1, record.weight)
                if target in known:
                    found = [(source.member(a, record.port, target), weight) for a in known[target]]
                    lookups.append(_ready((found, self._maxTtl)))
                else:
                    lookups.append(
                        self._lookupAddresses(attrs.evolve(source, weight=weight), target, record.port)
                    )

            def merge(parts: list[tuple[list[tuple[Origin, int]], float]]) -> tuple[list[tuple[Origin, int]], float]:
                members = [member for found, _ in parts for member in found]
                return members, min([*ttls, *(ttl for _, ttl in parts)], default=self._minTtl)

            return gatherResults(lookups, consumeErrors=True).addCallback(merge)

        return d.addCallback(targets)


def _ready(value: Any) -> Deferred[Any]:
    return succeed(value)


def _address(record: Any) -> str:
    if record.type == dns.A:
        return str(record.payload.dottedQuad())
    return socket.inet_ntop(socket.AF_INET6, record.payload.address)


def _collect(answers: Iterable[Any], addresses: list[str], ttls: list[float]) -> None:
    for record in answers:
        if record.type in (dns.A, dns.AAAA):
            addresses.append(_address(record))
            ttls.append(float(record.ttl))
        elif record.type == dns.CNAME:
            ttls.append(float(record.ttl))


def _reason(failure: Failure) -> str:
    value = failure.value
    if isinstance(value, DNSNameError):
        return "no such name" if not value.args or "no address" not in str(value.args[0]) else "no address records"
    name = type(value).__name__
    message = failure.getErrorMessage()
    return f"{name}: {message}" if message and message != name else name

