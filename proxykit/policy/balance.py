# -*- test-case-name: tests.test_balance -*-
"""
Origin groups: how a route spreads its requests over several origins, and
which of them are fit to receive any.

An L{OriginGroup} is an L{proxykit.decisions.Upstream}: the exchange asks it to
L{pick <OriginGroup.pick>} an origin for each attempt and reports back when a
request starts, finishes, fails or succeeds.  Three policies are offered (see
L{proxykit.config.BALANCE_POLICIES}):

  - C{"round_robin"}: nginx's smooth weighted round-robin.  Over any run of
    C{sum(weights)} picks each origin gets exactly its weight's share, and
    the picks of a heavy origin are interleaved with the others' rather than
    bunched together.
  - C{"least_outstanding"}: the origin with the fewest requests in flight per
    unit of weight; ties (an idle group, say) are broken by smooth weighted
    round-robin among the tied origins, as nginx's C{least_conn} does.
  - C{"random_two"}: the power of two random choices.  Two distinct origins
    are drawn at random in proportion to their weights and the one with fewer
    requests in flight per unit of weight gets the request.

Health is kept in two ways.  Passive: an origin that refused a connection or
timed out (L{OriginGroup.failed}) is ejected for C{ejectFor} seconds, twice as
long on each further consecutive failure up to eight times as long; it comes
back by itself when the time has passed, which L{OriginGroup.pick} notices
lazily, so no timers are involved.  Active: L{proxykit.relay.health.HealthChecker}
calls L{OriginGroup.markDown} and L{OriginGroup.markUp}.

Passive failures alone never leave a group with nothing to try, because what
one failed request shows (a refused connection while an origin restarts, say)
may be over a moment later:

  - the last usable origin of a group (the only one neither ejected nor
    marked down) is never ejected: its failures are recorded, not acted on,
    as nginx never marks the only server of an upstream down;
  - when no origin is up but some are only ejected (the health checks took
    out the one left up, or a retry already tried it), L{OriginGroup.pick}
    chooses among the ejected ones, the least recently failed first, rather
    than refusing without trying (Envoy's "panic mode").

Only the active health checks can take every origin out: then the group is
down (L{OriginGroup.isDown}), L{OriginGroup.pick} answers C{None}, and the
request gets 503 naming its route.

A group's members may change while it serves: origins found through DNS
(L{proxykit.relay.discovery}) come and go by L{OriginGroup.setMembers},
those that stay keeping their state; until an SRV origin's first answer a
group may have none (and is down).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence
from math import inf
from random import Random
from typing import Final

import attrs
from mypy_extensions import mypyc_attr
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from ..config.values import BALANCE_POLICIES, OriginConfig, RouteConfig
from ..decisions import Origin
from ..h1 import parseAuthority
from ..reactor import orGlobal

_MAX_BACKOFF_DOUBLINGS: Final = 3
"""
Consecutive failures past the first that double an ejection: C{2 ** 3 = 8}
times C{ejectFor} at most.
"""

_MAX_LEFT: Final = 1024
"""
How many origins that left a group are remembered, so that the reports of
their last requests are ignored rather than refused (L{OriginGroup._slotOf}).
"""


def parseOriginURL(url: str) -> Origin:
    """
    Parse an origin's URL as written in configuration.

    Two forms are accepted:

      - C{http://host[:port]} or C{https://host[:port]}, optionally followed
        by C{/}: C{host} is a DNS name, an IPv4 literal or a bracketed IPv6
        literal (C{[::1]}); the port defaults to 80 (C{http}) or 443
        (C{https}).  Names are lower-cased.
      - C{unix:/absolute/path}: a UNIX socket (port C{0}).

    @param url: The URL.
    @return: The origin it names.
    @raise ValueError: Anything else (another scheme, userinfo, a path, query or fragment, a bad host or port); the
        message says what is wrong in a few words, and never repeats the URL.
    """
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep:
        raise ValueError("expected http://host[:port] or unix:/path")
    if scheme == "unix":
        if not rest.startswith("/") or rest.startswith("//"):
            raise ValueError("unix socket path must be absolute (unix:/path)")
        if "\x00" in rest:
            raise ValueError("NUL in unix socket path")
        return Origin("unix", rest, 0)
    if scheme not in ("http", "https"):
        raise ValueError("unsupported scheme (expected http, https or unix)")
    if not rest.startswith("//"):
        raise ValueError(f"expected {scheme}://host[:port]")
    authority, slash, path = rest[2:].partition("/")
    if path:
        raise ValueError("origin URL may not have a path")
    for delimiter in ("?", "#"):
        if delimiter in authority:
            raise ValueError("origin URL may not have a query or fragment")
    if not authority:
        raise ValueError("missing host")
    if authority.endswith(":"):
        # RFC 3986 allows an empty port, but in configuration it is a typo.
        raise ValueError("empty port")
    try:
        encoded = authority.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("non-ASCII host (use its IDNA form)")
    host, port = parseAuthority(encoded, 443 if scheme == "https" else 80)
    return Origin(scheme, host, port)


def isSrvURL(url: str) -> bool:
    """
    Whether C{url} names its origins by SRV records
    (C{srv+http://_service._proto.name} or C{srv+https://...}).
    """
    return url.startswith(("srv+http://", "srv+https://"))


def isDiscovered(url: str) -> bool:
    """
    Whether the origins of the configured origin C{url} are found through
    DNS (L{proxykit.relay.discovery}): an SRV URL, or an C{http}/C{https}
    URL whose host is a name.  IP literals and UNIX sockets are not; nor is
    C{localhost} or a name under C{.localhost}, which RFC 6761 section 6.3
    lets applications resolve to loopback themselves (as the system does).

    @param url: An origin URL that passes L{proxykit.config.checks.checkOriginURL}.
    """
    if isSrvURL(url):
        return True
    origin = parseOriginURL(url)
    if origin.scheme == "unix" or origin.host == "localhost" or origin.host.endswith(".localhost"):
        return False
    try:
        ipaddress.ip_address(origin.host)
    except ValueError:
        return True
    return False


_PROXY_VERSIONS: Final = {"off": 0, "v1": 1, "v2": 2}


def proxyProtocolVersion(config: OriginConfig, proxyProtocol: str = "off") -> int:
    """
    The PROXY protocol version (C{0}: none) sent to the origin C{config}
    names: its own setting, else its route's (C{proxyProtocol}).
    """
    return _PROXY_VERSIONS[config.proxyProtocol or proxyProtocol]


def originFromConfig(config: OriginConfig, proxyProtocol: str = "off") -> Origin:
    """
    The origin an L{OriginConfig} names, with its TLS settings when it is an
    C{https} origin.

    @param proxyProtocol: Its route's L{RouteConfig.proxyProtocol
        <proxykit.config.values.RouteConfig.proxyProtocol>}, which the
        origin's own setting overrides.
    @raise ValueError: The URL does not parse (see L{parseOriginURL}).
    """
    origin = parseOriginURL(config.url)
    version = proxyProtocolVersion(config, proxyProtocol)
    if version:
        origin = attrs.evolve(origin, proxyProtocol=version)
    if origin.scheme != "https":
        return origin
    tls = config.tls
    if not tls.verify:
        _log.warn(
            "TLS certificate verification is off for origin {origin}: "
            "anyone on the path can impersonate it",
            origin=originURL(origin),
        )
    return attrs.evolve(origin, tls=tls)


_log = Logger("proxykit.balance")


def originURL(origin: Origin) -> str:
    """
    The URL of C{origin}, as L{parseOriginURL} reads it: for logs and
    metrics.

    @param origin: An origin.
    @return: C{http://host[:port]}, C{https://host[:port]} or
        C{unix:/path}.
    """
    return str(origin)


def _failedAt(slot: _Slot) -> float:
    """
    When C{slot}'s origin last failed; minus infinity if it never did.
    """
    at = slot.failedAt
    return -inf if at is None else at


class _Slot:
    """
    One origin of a group and everything the group knows about it.

    @ivar origin: The origin.
    @ivar weight: Its relative share of requests.
    @ivar current: Its smooth weighted round-robin counter.
    @ivar outstanding: Requests in flight.
    @ivar failures: Consecutive passive failures.
    @ivar ejectedUntil: When a passive ejection ends, or C{0.0} when the
        origin is not ejected.
    @ivar failedAt: When its latest passive failure was reported, or
        C{None} if it never failed: orders the origins tried in panic mode.
    @ivar down: Whether active health checks took it out.
    @ivar ejections: How many times it was ejected (passively).
    @ivar eligible: Scratch flag of L{OriginGroup._pickRandomTwo}.
    @ivar retired: It left the group (L{OriginGroup.setMembers}) and is
        kept only until its requests in flight have finished.
    """

    __slots__ = (
        "origin",
        "weight",
        "current",
        "outstanding",
        "failures",
        "ejectedUntil",
        "failedAt",
        "down",
        "ejections",
        "eligible",
        "retired",
    )

    def __init__(self, origin: Origin, weight: int) -> None:
        self.origin = origin
        self.weight = weight
        self.current = 0
        self.outstanding = 0
        self.failures = 0
        self.ejectedUntil = 0.0
        self.failedAt: float | None = None
        self.down = False
        self.ejections = 0
        self.eligible = False
        self.retired = False


@mypyc_attr(allow_interpreted_subclasses=True)
class OriginGroup:
    """
    Several origins behind one route: a balancing policy plus passive and
    active health state.  Implements L{proxykit.decisions.Upstream}.

    @ivar origins: The origins, in configuration order.
    @ivar policy: One of L{proxykit.config.BALANCE_POLICIES}.
    @ivar ejectFor: Seconds an origin is ejected after its first consecutive
        failure.
    """

    def __init__(
        self,
        origins: Sequence[tuple[Origin, int]],
        policy: str = "round_robin",
        clock: IReactorTime | None = None,
        ejectFor: float = 10.0,
        random: Random | None = None,
        allowEmpty: bool = False,
    ) -> None:
        """
        @param origins: C{(origin, weight)} pairs, at least one (unless
            C{allowEmpty}), each origin once; weights are whole numbers of 1
            or more.
        @param policy: One of L{proxykit.config.BALANCE_POLICIES}.
        @param clock: Tells the time for ejections; the global reactor if
            C{None}.
        @param ejectFor: Seconds (positive) an origin is taken out after a
            failure.
        @param random: The source of randomness for C{"random_two"}; a fresh
            L{Random} if C{None}.
        @param allowEmpty: Whether the group may start without origins (its
            members found later, L{setMembers}); until it has some it is
            down (L{isDown}).
        @raise ValueError: An unknown policy, no origins, a repeated origin,
            a weight below 1 or an C{ejectFor} that is not positive.
        """
        if policy not in BALANCE_POLICIES:
            raise ValueError(f"unknown balance policy {policy!r}")
        if not origins and not allowEmpty:
            raise ValueError("an origin group needs at least one origin")
        if not ejectFor > 0:
            raise ValueError("ejectFor must be positive")
        slots: list[_Slot] = []
        index: dict[Origin, _Slot] = {}
        # Weights are checked as objects: a compiled build would make a bool
        # an int, and refuse a float with a TypeError.
        entries: Sequence[tuple[Origin, object]] = origins
        for origin, weight in entries:
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
                raise ValueError("origin weights must be whole numbers >= 1")
            if origin in index:
                raise ValueError("an origin appears twice in one group")
            slot = _Slot(origin, weight)
            slots.append(slot)
            index[origin] = slot
        clock = orGlobal(clock)
        self.origins: tuple[Origin, ...] = tuple(index)
        self.policy = policy
        self.ejectFor = float(ejectFor)
        self._clock = clock
        self._random = random if random is not None else Random()
        self._slots = tuple(slots)
        self._index = index
        # Origins that left (setMembers) and were forgotten: late reports on
        # them are ignored.
        self._left: dict[Origin, None] = {}
        # The slot last looked up: a request reports on the origin it was
        # given (started, succeeded, finished), and comparing identity is
        # cheaper than hashing an Origin.  Reset whenever _index changes.
        self._recent: _Slot | None = None
        # How many slots have a non-zero ejectedUntil, so that pick only asks
        # the clock when some origin is ejected.
        self._ejected = 0
        self._pick = {
            "round_robin": self._pickRoundRobin,
            "least_outstanding": self._pickLeastOutstanding,
            "random_two": self._pickRandomTwo,
        }[policy]

    @classmethod
    def fromRouteConfig(
        cls,
        route: RouteConfig,
        clock: IReactorTime | None = None,
        random: Random | None = None,
    ) -> OriginGroup:
        """
        The group of a reverse-proxy route.

        Its members are the route's configured origins but those named by
        SRV records (L{isSrvURL}), which only L{setMembers} brings in (a
        route of SRV origins only starts empty).  An origin given by host
        name is a member under that name until a
        L{proxykit.relay.discovery.OriginDiscovery} replaces it with the
        addresses the name has.

        @param route: The route's configuration (origins, balance, ejectFor).
        @param clock: See L{__init__}.
        @param random: See L{__init__}.
        @raise ValueError: An origin URL does not parse, or see L{__init__}.
        """
        return cls(
            [(originFromConfig(o, route.proxyProtocol), o.weight) for o in route.origins if not isSrvURL(o.url)],
            policy=route.balance,
            clock=clock,
            ejectFor=route.ejectFor,
            random=random,
            allowEmpty=any(isSrvURL(o.url) for o in route.origins),
        )

    def setMembers(
        self, members: Sequence[tuple[Origin, int]], joinDown: bool = False
    ) -> tuple[list[Origin], list[Origin]]:
        """
        Make C{members} the group's origins (DNS discovery found them).

        An origin that stays keeps its health and ejection state (and takes
        its new weight).  An origin that joins starts with none, marked down
        if C{joinDown} (the active health checks bring it in, see
        L{proxykit.relay.health.HealthChecker.addOrigin}).  An origin that
        leaves is chosen no more; its requests in flight may still report
        on it (L{started}, L{finished}, L{failed}, L{succeeded}) until they
        have all finished.

        @param members: C{(origin, weight)} pairs, each origin once,
            weights whole numbers of 1 or more; may be empty.
        @param joinDown: Whether joining origins start marked down.
        @return: The origins that joined and those that left.
        @raise ValueError: A repeated origin or a bad weight; nothing changed.
        """
        seen: set[Origin] = set()
        for origin, weight in members:
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
                raise ValueError("origin weights must be whole numbers >= 1")
            if origin in seen:
                raise ValueError("an origin appears twice in one group")
            seen.add(origin)
        index = self._index
        self._recent = None
        slots: list[_Slot] = []
        added: list[Origin] = []
        for origin, weight in members:
            slot = index.get(origin)
            if slot is None or slot.retired:
                slot = _Slot(origin, weight)
                slot.down = joinDown
                index[origin] = slot
                added.append(origin)
            slot.weight = weight
            slots.append(slot)
        removed: list[Origin] = []
        for slot in self._slots:
            if slot.origin in seen:
                continue
            removed.append(slot.origin)
            slot.retired = True
            if slot.ejectedUntil:
                slot.ejectedUntil = 0.0
                self._ejected -= 1
            if not slot.outstanding:
                self._forget(slot)
        self._slots = tuple(slots)
        self.origins = tuple(slot.origin for slot in slots)
        return added, removed

    def __repr__(self) -> str:
        return f"<OriginGroup {self.policy} {[originURL(o) for o in self.origins]}>"

    # Upstream

    def pick(self, exclude: Collection[Origin] = ()) -> Origin | None:
        """
        Choose an origin by the group's policy among those that are up and
        not in C{exclude}; if there is none, the least recently failed of the
        origins that are ejected but not marked down and not in C{exclude}
        (panic mode: passive ejection alone never leaves nothing to try).

        @param exclude: Origins not to choose (those this request already
            failed on).
        @return: The origin, or C{None} if every origin is marked down by
            the health checks or excluded.  Without C{exclude}, C{None}
            means the group is down (L{isDown}).
        """
        if self._ejected:
            self._readmit()
        chosen = self._pick(exclude)
        if chosen is None and self._ejected:
            return self._pickPanic(exclude)
        return chosen

    def started(self, origin: Origin) -> None:
        """
        A request to C{origin} starts: count it as in flight.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        recent = self._recent
        if recent is None or recent.origin is not origin:
            recent = self._recent = self._index[origin]
        recent.outstanding += 1

    def finished(self, origin: Origin) -> None:
        """
        A request to C{origin} ended, however it ended.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        slot = self._slotOf(origin)
        if slot is None:
            return
        if slot.outstanding > 0:
            slot.outstanding -= 1
        if slot.retired and not slot.outstanding:
            self._forget(slot)

    def failed(self, origin: Origin) -> None:
        """
        C{origin} refused a connection, timed out, or closed without an
        answer: eject it, unless it is the last usable origin of the group.

        The ejection lasts C{ejectFor} seconds after the first consecutive
        failure and doubles with each further one, up to eight times
        C{ejectFor}.  Failures reported while the origin is still ejected
        (requests that were already in flight when it was taken out) neither
        extend nor double the ejection: only a failure after it was readmitted
        counts as the next consecutive one.

        When every other origin of the group is ejected or marked down (a
        group of one, say), C{origin} is not ejected: the failure is only
        recorded, and the next request tries it again.  A passive failure
        says the origin failed once, not that it is still failing (it may
        have been restarting); only active health checks take a whole group
        out.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        slot = self._slotOf(origin)
        if slot is None or slot.retired:
            return
        now = self._clock.seconds()
        slot.failedAt = now
        if slot.ejectedUntil:
            if slot.ejectedUntil > now:
                return
            # Expired but not yet readmitted by a pick.
            slot.ejectedUntil = 0.0
            self._ejected -= 1
        if not self._othersUsable(slot, now):
            return
        doublings = min(slot.failures, _MAX_BACKOFF_DOUBLINGS)
        slot.failures += 1
        slot.ejectedUntil = now + self.ejectFor * (1 << doublings)
        slot.ejections += 1
        self._ejected += 1

    def _othersUsable(self, slot: _Slot, now: float) -> bool:
        """
        Whether an origin other than C{slot}'s is neither marked down nor
        ejected at C{now}.
        """
        for other in self._slots:
            if other is slot or other.down:
                continue
            if not other.ejectedUntil or other.ejectedUntil <= now:
                return True
        return False

    def succeeded(self, origin: Origin) -> None:
        """
        C{origin} answered: its next failure is a first failure again.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        slot = self._slotOf(origin)
        if slot is not None:
            slot.failures = 0

    def _slotOf(self, origin: Origin) -> _Slot | None:
        """
        The slot of C{origin}; C{None} if it left the group and has no
        request in flight any more (a late report on it is ignored).

        @raise KeyError: C{origin} is not in this group and never was lately.
        """
        recent = self._recent
        if recent is not None and recent.origin is origin:
            return recent
        slot = self._index.get(origin)
        if slot is None:
            if origin not in self._left:
                raise KeyError(origin)
            return None
        self._recent = slot
        return slot

    def _forget(self, slot: _Slot) -> None:
        """
        C{slot}'s origin left the group and its last request finished: drop
        it, remembering a bounded number of such origins so that late
        reports on them are ignored rather than refused.
        """
        self._recent = None
        if self._index.get(slot.origin) is slot:
            del self._index[slot.origin]
        left = self._left
        left[slot.origin] = None
        if len(left) > _MAX_LEFT:
            del left[next(iter(left))]

    # Active health

    def markDown(self, origin: Origin) -> None:
        """
        Active health checks found C{origin} failing: choose it no more until
        L{markUp}.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        self._index[origin].down = True

    def markUp(self, origin: Origin) -> None:
        """
        Active health checks found C{origin} healthy again.  (A passive
        ejection still in force still applies.)

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        self._index[origin].down = False

    # Introspection

    def weight(self, origin: Origin) -> int:
        """
        The weight C{origin} has in this group.

        @raise KeyError: C{origin} is not one of the group's.
        """
        return self._index[origin].weight

    def isDown(self) -> bool:
        """
        Whether the active health checks marked every origin of the group
        down: the only way a group has nothing to try.  (Passive ejections
        never make a group down; see L{pick}.)
        """
        for slot in self._slots:
            if not slot.down:
                return False
        return True

    def downReason(self) -> str:
        """
        Why the group has nothing to pick (L{isDown}), in a few fixed words
        for the log.
        """
        if not self._slots:
            return "no origin found in DNS yet"
        return "no origin of the route passes its health checks"

    def isUp(self, origin: Origin) -> bool:
        """
        Whether C{origin} may be chosen now: not ejected, not marked down.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        slot = self._index[origin]
        if slot.down:
            return False
        return not slot.ejectedUntil or slot.ejectedUntil <= self._clock.seconds()

    def isEjected(self, origin: Origin) -> bool:
        """
        Whether C{origin} is passively ejected now (see L{failed}).

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        until = self._index[origin].ejectedUntil
        return bool(until) and until > self._clock.seconds()

    def isMarkedDown(self, origin: Origin) -> bool:
        """
        Whether the active health checks marked C{origin} down (see
        L{markDown}).

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        return self._index[origin].down

    def ejections(self, origin: Origin) -> int:
        """
        How many times C{origin} was passively ejected since the group was
        made.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        return self._index[origin].ejections

    def outstanding(self, origin: Origin) -> int:
        """
        How many requests to C{origin} are in flight.

        @param origin: An origin of this group.
        @raise KeyError: C{origin} is not in this group.
        """
        return self._index[origin].outstanding

    # Policies.  Each loops over the slots without allocating; an origin is a
    # candidate when it is not down, not ejected (L{_readmit} has cleared the
    # expired ejections) and not excluded.

    def _readmit(self) -> None:
        """
        End the ejections whose time has passed.
        """
        now = self._clock.seconds()
        for slot in self._slots:
            until = slot.ejectedUntil
            if until and until <= now:
                slot.ejectedUntil = 0.0
                self._ejected -= 1

    def _pickPanic(self, exclude: Collection[Origin]) -> Origin | None:
        # Envoy's panic mode: no origin is up, but some are only ejected.
        # Passive ejection must not turn a blip into an outage, so try them
        # anyway: the one that failed longest ago first (configuration order
        # among equals).
        best: _Slot | None = None
        for slot in self._slots:
            if slot.down or (exclude and slot.origin in exclude):
                continue
            if best is None or _failedAt(slot) < _failedAt(best):
                best = slot
        return None if best is None else best.origin

    def _pickRoundRobin(self, exclude: Collection[Origin]) -> Origin | None:
        # nginx, ngx_http_upstream_get_peer: every candidate's current weight
        # grows by its weight; the largest wins and loses the total.
        best: _Slot | None = None
        total = 0
        for slot in self._slots:
            if slot.down or slot.ejectedUntil or (exclude and slot.origin in exclude):
                continue
            slot.current += slot.weight
            total += slot.weight
            if best is None or slot.current > best.current:
                best = slot
        if best is None:
            return None
        best.current -= total
        return best.origin

    def _pickLeastOutstanding(self, exclude: Collection[Origin]) -> Origin | None:
        # nginx, ngx_http_upstream_get_least_conn_peer: the least loaded
        # (outstanding / weight, compared by cross-multiplying); if several
        # are tied, smooth weighted round-robin among them.
        best: _Slot | None = None
        ties = 0
        for slot in self._slots:
            if slot.down or slot.ejectedUntil or (exclude and slot.origin in exclude):
                continue
            if best is None or (
                slot.outstanding * best.weight < best.outstanding * slot.weight
            ):
                best = slot
                ties = 1
            elif slot.outstanding * best.weight == best.outstanding * slot.weight:
                ties += 1
        if best is None:
            return None
        if ties == 1:
            return best.origin
        # Several tied: smooth weighted round-robin among them.
        leader = best
        chosen: _Slot | None = None
        total = 0
        for slot in self._slots:
            if (
                slot.down
                or slot.ejectedUntil
                or (exclude and slot.origin in exclude)
                or slot.outstanding * leader.weight != leader.outstanding * slot.weight
            ):
                continue
            slot.current += slot.weight
            total += slot.weight
            if chosen is None or slot.current > chosen.current:
                chosen = slot
        assert chosen is not None
        chosen.current -= total
        return chosen.origin

    def _pickRandomTwo(self, exclude: Collection[Origin]) -> Origin | None:
        # Mitzenmacher's power of two choices, with weighted draws.
        total = 0
        count = 0
        last: _Slot | None = None
        for slot in self._slots:
            ok = not (
                slot.down or slot.ejectedUntil or (exclude and slot.origin in exclude)
            )
            slot.eligible = ok
            if ok:
                total += slot.weight
                count += 1
                last = slot
        if last is None:
            return None
        if count == 1:
            return last.origin
        first = self._draw(total, None) or last
        second = self._draw(total - first.weight, first)
        if second is None:
            # Only reachable through float rounding at the very top of the
            # range: the last candidate other than the first.
            for slot in self._slots:
                if slot.eligible and slot is not first:
                    second = slot
        assert second is not None
        if second.outstanding * first.weight < first.outstanding * second.weight:
            return second.origin
        return first.origin

    def _draw(self, total: int, skip: _Slot | None) -> _Slot | None:
        """
        One eligible slot other than C{skip}, at random in proportion to the
        weights, whose sum is C{total}.
        """
        point = self._random.random() * total
        for slot in self._slots:
            if not slot.eligible or slot is skip:
                continue
            point -= slot.weight
            if point < 0:
                return slot
        return None
