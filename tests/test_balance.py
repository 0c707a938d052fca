"""
Tests for L{proxykit.policy.balance}: origin URLs, balancing policies and passive
and active health state, with a fake clock.
"""

from __future__ import annotations

from collections import Counter
from random import Random

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import OriginConfig, OriginTLS, RouteConfig
from proxykit.decisions import Origin, Upstream
from proxykit.policy.balance import OriginGroup, originURL, parseOriginURL

A = Origin("http", "a.test", 80)
B = Origin("http", "b.test", 80)
C = Origin("http", "c.test", 80)

GOOD_URLS = [
    ("http://a.test", Origin("http", "a.test", 80)),
    ("http://a.test/", Origin("http", "a.test", 80)),
    ("http://A.Test:8080", Origin("http", "a.test", 8080)),
    ("HTTP://a.test:80/", Origin("http", "a.test", 80)),
    ("http://127.0.0.1:9000", Origin("http", "127.0.0.1", 9000)),
    ("http://[::1]:8080", Origin("http", "::1", 8080)),
    ("http://[::1]", Origin("http", "::1", 80)),
    ("http://app.internal.:81", Origin("http", "app.internal", 81)),
    ("https://a.test", Origin("https", "a.test", 443)),
    ("HTTPS://a.test:8443/", Origin("https", "a.test", 8443)),
    ("https://[::1]", Origin("https", "::1", 443)),
    ("unix:/run/app.sock", Origin("unix", "/run/app.sock", 0)),
    ("unix:/run/App.sock", Origin("unix", "/run/App.sock", 0)),
]

BAD_URLS = [
    ("https:a.test", "expected https://"),
    ("https://a.test/app", "path"),
    ("ftp://a.test", "unsupported scheme"),
    ("a.test:80", "unsupported scheme"),
    ("a.test", "expected"),
    ("", "expected"),
    ("http:a.test", "expected http://"),
    ("http://", "missing host"),
    ("http:///", "missing host"),
    ("http://a.test/app", "path"),
    ("http://a.test//", "path"),
    ("http://a.test?x=1", "query"),
    ("http://a.test#top", "fragment"),
    ("http://user@a.test", "userinfo"),
    ("http://user:pw@a.test:80", "userinfo"),
    ("http://a.test:0", "port"),
    ("http://a.test:65536", "port"),
    ("http://a.test:+80", "port"),
    ("http://a.test:", "port"),
    ("http://a test", "host"),
    ("http://[::1", "IPv6"),
    ("http://[nothex]:80", "IPv6"),
    ("http://::1:80", "host"),
    ("http://bücher.test", "non-ASCII"),
    ("unix:run/app.sock", "absolute"),
    ("unix://run/app.sock", "absolute"),
    ("unix:", "absolute"),
    ("unix:/run/\x00", "NUL"),
]


class ParseOriginURLTests(SynchronousTestCase):
    """
    L{parseOriginURL} reads the origin URLs of a configuration file.
    """

    def test_good(self) -> None:
        """
        C{http://host[:port]} with an optional C{/}, IPv6 in brackets, and
        C{unix:/path} name origins; names are lower-cased, UNIX paths kept.
        """
        for url, origin in GOOD_URLS:
            self.assertEqual(parseOriginURL(url), origin, url)

    def test_bad(self) -> None:
        """
        Anything else is a L{ValueError} with a short message saying what is
        wrong.
        """
        for url, problem in BAD_URLS:
            with self.assertRaises(ValueError, msg=url) as caught:
                parseOriginURL(url)
            self.assertIn(problem, str(caught.exception), url)

    def test_roundTrip(self) -> None:
        """
        L{originURL} writes an origin back in a form L{parseOriginURL} reads
        as the same origin.
        """
        for _, origin in GOOD_URLS:
            self.assertEqual(parseOriginURL(originURL(origin)), origin)
        self.assertEqual(originURL(Origin("http", "::1", 8080)), "http://[::1]:8080")
        self.assertEqual(originURL(Origin("http", "a.test", 80)), "http://a.test")
        self.assertEqual(originURL(Origin("unix", "/s", 0)), "unix:/s")


def picks(group: OriginGroup, n: int) -> list[Origin | None]:
    return [group.pick() for _ in range(n)]


class ConstructionTests(SynchronousTestCase):
    """
    L{OriginGroup} refuses configurations it cannot honour.
    """

    def test_isUpstream(self) -> None:
        """
        An L{OriginGroup} is an L{Upstream}.
        """
        group: Upstream = OriginGroup([(A, 1)], clock=Clock())
        self.assertIs(group.pick(), A)

    def test_invalid(self) -> None:
        """
        An unknown policy, no origins, a repeated origin, a weight below 1
        (or not a whole number) and a non-positive C{ejectFor} are
        L{ValueError}s.
        """
        clock = Clock()
        with self.assertRaises(ValueError):
            OriginGroup([(A, 1)], policy="fastest", clock=clock)
        with self.assertRaises(ValueError):
            OriginGroup([], clock=clock)
        with self.assertRaises(ValueError):
            OriginGroup([(A, 1), (A, 2)], clock=clock)
        for weight in (0, -1, True, 1.5):
            with self.assertRaises(ValueError):
                OriginGroup([(A, weight)], clock=clock)  # type: ignore[list-item]
        with self.assertRaises(ValueError):
            OriginGroup([(A, 1)], clock=clock, ejectFor=0)

    def test_fromRouteConfig(self) -> None:
        """
        L{OriginGroup.fromRouteConfig} builds a route's group from its origin
        URLs, weights, policy and ejection time.
        """
        route = RouteConfig(
            origins=(
                OriginConfig("http://a.test"),
                OriginConfig("unix:/run/b.sock", weight=3),
            ),
            balance="least_outstanding",
            ejectFor=4.0,
        )
        group = OriginGroup.fromRouteConfig(route, clock=Clock())
        self.assertEqual(group.origins, (A, Origin("unix", "/run/b.sock", 0)))
        self.assertEqual(group.policy, "least_outstanding")
        self.assertEqual(group.ejectFor, 4.0)
        self.assertRaises(ValueError, OriginConfig, "ftp://a.test")

    def test_fromRouteConfigTLS(self) -> None:
        """
        An C{https} origin of a route carries its TLS settings (they are part
        of its pool key); a plain one carries none.  Turning verification
        off is logged as a warning.
        """
        from twisted.logger import LogEvent, globalLogPublisher

        events: list[LogEvent] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        route = RouteConfig(
            origins=(
                OriginConfig("https://a.test", caFile="/ca.pem", serverName="b.test"),
                OriginConfig("https://c.test:8443", verify=False),
                OriginConfig("http://a.test"),
            )
        )
        group = OriginGroup.fromRouteConfig(route, clock=Clock())
        self.assertEqual(
            group.origins,
            (
                Origin("https", "a.test", 443, tls=OriginTLS(caFile="/ca.pem", serverName="b.test")),
                Origin("https", "c.test", 8443, tls=OriginTLS(verify=False)),
                A,
            ),
        )
        self.assertEqual(group.origins[0].authority, b"a.test")
        warnings = [e for e in events if "verification is off" in e.get("log_format", "")]
        self.assertEqual([e["origin"] for e in warnings], ["https://c.test:8443"])

    def test_unknownOrigin(self) -> None:
        """
        Reports about an origin outside the group are programming errors.
        """
        group = OriginGroup([(A, 1)], clock=Clock())
        for method in (
            group.started,
            group.finished,
            group.failed,
            group.succeeded,
            group.markDown,
            group.markUp,
            group.isUp,
            group.outstanding,
        ):
            self.assertRaises(KeyError, method, B)


class RoundRobinTests(SynchronousTestCase):
    """
    C{round_robin} is nginx's smooth weighted round-robin.
    """

    def test_exactShares(self) -> None:
        """
        Over a multiple of the total weight, each origin gets exactly its
        share.
        """
        group = OriginGroup([(A, 1), (B, 2), (C, 3)], clock=Clock())
        self.assertEqual(Counter(picks(group, 600)), {A: 100, B: 200, C: 300})

    def test_equalWeightsAlternate(self) -> None:
        """
        With equal weights the origins take turns in order.
        """
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], clock=Clock())
        self.assertEqual(picks(group, 6), [A, B, C, A, B, C])

    def test_nginxSequence(self) -> None:
        """
        Weights 5, 1, 1 give nginx's documented sequence
        C{a a b a c a a}: the heavy origin's turns are spread out.
        """
        group = OriginGroup([(A, 5), (B, 1), (C, 1)], clock=Clock())
        self.assertEqual(picks(group, 14), [A, A, B, A, C, A, A] * 2)

    def test_smooth(self) -> None:
        """
        With weights 1, 1, 3 the heavy origin is never picked three times in
        a row.
        """
        group = OriginGroup([(A, 1), (B, 1), (C, 3)], clock=Clock())
        sequence = picks(group, 50)
        for i in range(len(sequence) - 2):
            self.assertFalse(sequence[i] == sequence[i + 1] == sequence[i + 2] == C)

    def test_exclude(self) -> None:
        """
        Excluded origins are skipped; with all of them excluded there is no
        origin to pick.
        """
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], clock=Clock())
        self.assertEqual([group.pick(exclude=[A]) for _ in range(4)], [B, C, B, C])
        self.assertIsNone(group.pick(exclude={A, B, C}))


class LeastOutstandingTests(SynchronousTestCase):
    """
    C{least_outstanding} sends each request where the fewest are in flight
    per unit of weight.
    """

    def test_idleOne(self) -> None:
        """
        A new request goes to the origin with nothing in flight.
        """
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], policy="least_outstanding", clock=Clock())
        group.started(A)
        group.started(B)
        group.started(B)
        self.assertIs(group.pick(), C)
        group.started(C)
        group.started(C)
        self.assertIs(group.pick(), A)

    def test_tiesFollowWeights(self) -> None:
        """
        When every origin is equally loaded (here: idle), ties are broken by
        smooth weighted round-robin.
        """
        group = OriginGroup([(A, 1), (B, 2)], policy="least_outstanding", clock=Clock())
        self.assertEqual(Counter(picks(group, 300)), {A: 100, B: 200})
        self.assertEqual(picks(group, 3), [B, A, B])

    def test_perWeight(self) -> None:
        """
        Load is measured per unit of weight: an origin of weight 3 with 2 in
        flight is less loaded than one of weight 1 with 1.
        """
        group = OriginGroup([(A, 1), (B, 3)], policy="least_outstanding", clock=Clock())
        group.started(A)
        group.started(B)
        group.started(B)
        self.assertIs(group.pick(), B)

    def test_concurrentSpread(self) -> None:
        """
        Requests that stay in flight spread evenly over equal origins.
        """
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], policy="least_outstanding", clock=Clock())
        for _ in range(9):
            origin = group.pick()
            assert origin is not None
            group.started(origin)
        self.assertEqual([group.outstanding(o) for o in (A, B, C)], [3, 3, 3])

    def test_excludeAndDown(self) -> None:
        """
        Excluded and down origins are skipped even when idle.
        """
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], policy="least_outstanding", clock=Clock())
        group.started(B)
        group.markDown(C)
        self.assertIs(group.pick(exclude=(A,)), B)
        self.assertIsNone(group.pick(exclude=(A, B)))


class RandomTwoTests(SynchronousTestCase):
    """
    C{random_two} draws two origins by weight and takes the less loaded.
    """

    def test_distributionFollowsWeights(self) -> None:
        """
        With nothing in flight, picks follow the weights (within 10%).
        """
        group = OriginGroup(
            [(A, 1), (B, 2), (C, 3)], policy="random_two", clock=Clock(), random=Random(7)
        )
        counts = Counter(picks(group, 3000))
        for origin, expected in ((A, 500), (B, 1000), (C, 1500)):
            self.assertApproximates(counts[origin], expected, expected * 0.1)

    def test_lessLoaded(self) -> None:
        """
        Of two origins, the one with fewer requests in flight always wins.
        """
        group = OriginGroup([(A, 1), (B, 1)], policy="random_two", clock=Clock(), random=Random(1))
        group.started(A)
        self.assertEqual(set(picks(group, 50)), {B})

    def test_neverEjected(self) -> None:
        """
        An ejected origin is never drawn while another is up; with one
        candidate left it is always taken; once the only one up is excluded,
        the ejected one is tried rather than nothing.
        """
        clock = Clock()
        group = OriginGroup(
            [(A, 1), (B, 2), (C, 3)], policy="random_two", clock=clock, random=Random(3)
        )
        group.failed(C)
        self.assertEqual(set(picks(group, 500)), {A, B})
        group.markDown(B)
        self.assertEqual(set(picks(group, 20)), {A})
        self.assertIs(group.pick(exclude=[A]), C)

    def test_exclude(self) -> None:
        """
        Excluded origins are never drawn.
        """
        group = OriginGroup(
            [(A, 1), (B, 1), (C, 1)], policy="random_two", clock=Clock(), random=Random(5)
        )
        self.assertEqual({group.pick(exclude=[B]) for _ in range(200)}, {A, C})


class PassiveHealthTests(SynchronousTestCase):
    """
    A failed origin is ejected for a while, longer on repeated failures.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.group = OriginGroup([(A, 1), (B, 1)], clock=self.clock, ejectFor=10.0)

    def test_ejectedThenBack(self) -> None:
        """
        After a failure the origin is out for C{ejectFor} seconds and then
        back, without any timer.
        """
        self.group.failed(A)
        self.assertFalse(self.group.isUp(A))
        self.assertEqual(set(picks(self.group, 10)), {B})
        self.clock.advance(9.9)
        self.assertEqual(set(picks(self.group, 10)), {B})
        self.clock.advance(0.1)
        self.assertTrue(self.group.isUp(A))
        self.assertEqual(set(picks(self.group, 10)), {A, B})
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_ejectionState(self) -> None:
        """
        L{OriginGroup.isEjected} is true while an ejection lasts;
        L{OriginGroup.ejections} counts the ejections, not the failures
        reported while one lasts; L{OriginGroup.isMarkedDown} is about the
        active checks only.
        """
        self.group.failed(A)
        self.group.failed(A)
        self.assertEqual((self.group.isEjected(A), self.group.ejections(A)), (True, 1))
        self.assertFalse(self.group.isMarkedDown(A))
        self.clock.advance(10)
        self.assertFalse(self.group.isEjected(A))
        self.group.failed(A)
        self.assertEqual(self.group.ejections(A), 2)
        self.group.markDown(B)
        self.assertEqual((self.group.isMarkedDown(B), self.group.isEjected(B)), (True, False))

    def backoffs(self, n: int) -> list[float]:
        """
        Fail C{A} C{n} times, each as soon as it is back; return how long
        each ejection lasted.
        """
        durations = []
        for _ in range(n):
            self.group.failed(A)
            start = self.clock.seconds()
            while not self.group.isUp(A):
                self.clock.advance(1)
            durations.append(self.clock.seconds() - start)
        return durations

    def test_doublingCapped(self) -> None:
        """
        Each consecutive failure doubles the ejection, up to eight times
        C{ejectFor}.
        """
        self.assertEqual(self.backoffs(6), [10, 20, 40, 80, 80, 80])

    def test_succeededResets(self) -> None:
        """
        A success resets the count: the next failure is a first one again.
        """
        self.assertEqual(self.backoffs(3), [10, 20, 40])
        self.group.succeeded(A)
        self.assertEqual(self.backoffs(2), [10, 20])

    def test_failuresWhileEjected(self) -> None:
        """
        Failures of requests that were in flight when the origin was ejected
        neither extend nor double the ejection.
        """
        self.group.failed(A)
        self.clock.advance(5)
        self.group.failed(A)
        self.group.failed(A)
        self.clock.advance(5)
        self.assertTrue(self.group.isUp(A))
        self.assertEqual(self.backoffs(1), [20])

    def test_lastUsableKept(self) -> None:
        """
        When the other origin is already ejected, a failure of the last one
        does not eject it: requests keep going to it.
        """
        self.group.failed(A)
        self.group.failed(B)
        self.assertFalse(self.group.isUp(A))
        self.assertTrue(self.group.isUp(B))
        self.assertEqual(set(picks(self.group, 4)), {B})
        self.clock.advance(10)
        self.assertEqual(set(picks(self.group, 4)), {A, B})

    def test_expiredThenFailedAgain(self) -> None:
        """
        An origin whose ejection expired unnoticed (no pick in between) and
        that fails again is ejected afresh, for twice as long.
        """
        self.group.failed(A)
        self.clock.advance(15)
        self.group.failed(A)
        self.clock.advance(19)
        self.assertFalse(self.group.isUp(A))
        self.assertEqual(set(picks(self.group, 4)), {B})
        self.clock.advance(1)
        self.assertTrue(self.group.isUp(A))
        self.assertEqual(set(picks(self.group, 4)), {A, B})


class NoOutageTests(SynchronousTestCase):
    """
    Passive failures never leave a group with nothing to try: a sole origin
    is never ejected, the last usable origin of a group is kept, and when
    every origin not marked down is ejected they are tried anyway, the least
    recently failed first.  Only the health checks make a group down.
    """

    def test_soleOriginNeverEjected(self) -> None:
        """
        The only origin of a group stays up however often it fails, with
        every policy: the next request tries it again.
        """
        for policy in ("round_robin", "least_outstanding", "random_two"):
            clock = Clock()
            group = OriginGroup([(A, 1)], policy=policy, clock=clock)
            for _ in range(5):
                group.failed(A)
                clock.advance(1)
                self.assertTrue(group.isUp(A), policy)
                self.assertIs(group.pick(), A, policy)
            self.assertFalse(group.isDown(), policy)
            self.assertIsNone(group.pick(exclude=[A]), policy)

    def test_threeTwoEjected(self) -> None:
        """
        Of three origins, two failing are ejected and the third gets every
        request; when it fails too it is kept, as the last usable one.
        """
        for policy in ("round_robin", "least_outstanding", "random_two"):
            clock = Clock()
            group = OriginGroup(
                [(A, 1), (B, 1), (C, 1)], policy=policy, clock=clock, random=Random(1)
            )
            group.failed(A)
            clock.advance(1)
            group.failed(B)
            self.assertEqual(
                [group.isUp(o) for o in (A, B, C)], [False, False, True], policy
            )
            self.assertEqual(set(picks(group, 20)), {C}, policy)
            clock.advance(1)
            group.failed(C)
            self.assertTrue(group.isUp(C), policy)
            self.assertEqual(set(picks(group, 20)), {C}, policy)

    def test_allThreeFailedStillTried(self) -> None:
        """
        When all three origins fail, requests are still sent to them: the
        one kept up first, and on a retry that excludes it the ejected ones,
        the least recently failed first, never nothing.
        """
        clock = Clock()
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], clock=clock)
        group.failed(B)
        clock.advance(1)
        group.failed(A)
        clock.advance(1)
        group.failed(C)
        self.assertIs(group.pick(), C)
        self.assertIs(group.pick(exclude=[C]), B, "B failed longest ago")
        self.assertIs(group.pick(exclude=[C, B]), A)
        self.assertIsNone(group.pick(exclude=[A, B, C]))
        self.assertFalse(group.isDown())

    def test_allEjectedTriedLeastRecentlyFailedFirst(self) -> None:
        """
        When no origin is up but some are only ejected (the others marked
        down by the health checks), the ejected ones are tried anyway, the
        one that failed longest ago first; a new failure sends it to the
        back of the line.
        """
        clock = Clock()
        group = OriginGroup([(A, 1), (B, 1), (C, 1)], clock=clock)
        group.failed(B)
        clock.advance(1)
        group.failed(A)
        group.markDown(C)
        self.assertEqual([group.isUp(o) for o in (A, B, C)], [False, False, False])
        self.assertFalse(group.isDown())
        self.assertEqual(picks(group, 3), [B, B, B])
        self.assertIs(group.pick(exclude=[B]), A)
        self.assertIsNone(group.pick(exclude=[A, B]), "C is down: not tried")
        clock.advance(1)
        group.failed(B)
        self.assertEqual(picks(group, 2), [A, A])
        # The health checks bring C back: it is up, and preferred.
        group.markUp(C)
        self.assertEqual(picks(group, 2), [C, C])

    def test_panicEveryPolicy(self) -> None:
        """
        Every policy falls back to the ejected origins the same way.
        """
        for policy in ("round_robin", "least_outstanding", "random_two"):
            clock = Clock()
            group = OriginGroup(
                [(A, 1), (B, 1), (C, 1)], policy=policy, clock=clock, random=Random(2)
            )
            group.failed(A)
            clock.advance(1)
            group.failed(B)
            group.markDown(C)
            self.assertIs(group.pick(), A, policy)

    def test_healthChecksMakeGroupDown(self) -> None:
        """
        Only the health checks take a whole group out: with every origin
        marked down, the group is down and there is nothing to pick, ejected
        or not; marking one up brings it back.
        """
        clock = Clock()
        for origins in ([A], [A, B, C]):
            group = OriginGroup([(o, 1) for o in origins], clock=clock)
            group.failed(origins[0])
            for origin in origins:
                self.assertFalse(group.isDown())
                group.markDown(origin)
            self.assertTrue(group.isDown())
            self.assertIsNone(group.pick())
            group.markUp(origins[-1])
            self.assertFalse(group.isDown())
            self.assertIs(group.pick(), origins[-1])


class ActiveHealthTests(SynchronousTestCase):
    """
    L{OriginGroup.markDown} and L{OriginGroup.markUp} take origins out and
    bring them back.
    """

    def test_markDownUp(self) -> None:
        """
        A marked-down origin is not picked until marked up again.
        """
        group = OriginGroup([(A, 1), (B, 1)], clock=Clock())
        group.markDown(A)
        self.assertFalse(group.isUp(A))
        self.assertEqual(set(picks(group, 10)), {B})
        group.markDown(B)
        self.assertIsNone(group.pick())
        group.markUp(A)
        group.markUp(B)
        self.assertEqual(set(picks(group, 10)), {A, B})

    def test_markUpKeepsEjection(self) -> None:
        """
        Marking an origin up does not cancel a passive ejection in force.
        """
        clock = Clock()
        group = OriginGroup([(A, 1), (B, 1)], clock=clock)
        group.failed(A)
        group.markDown(A)
        group.markUp(A)
        self.assertFalse(group.isUp(A))
        clock.advance(10)
        self.assertTrue(group.isUp(A))


class CounterTests(SynchronousTestCase):
    """
    In-flight counters.
    """

    def test_neverNegative(self) -> None:
        """
        L{OriginGroup.finished} never takes a count below zero.
        """
        group = OriginGroup([(A, 1)], clock=Clock())
        group.started(A)
        group.finished(A)
        group.finished(A)
        self.assertEqual(group.outstanding(A), 0)
        group.started(A)
        self.assertEqual(group.outstanding(A), 1)

    def test_equalOrigins(self) -> None:
        """
        An origin equal to a member but another object counts as that
        member, whichever object the group last saw.
        """
        group = OriginGroup([(A, 1), (B, 1)], clock=Clock())
        copy = Origin("http", "a.test", 80)
        group.started(A)
        group.started(copy)
        group.started(B)
        group.finished(copy)
        self.assertEqual((group.outstanding(A), group.outstanding(B)), (1, 1))
        group.finished(A)
        group.finished(B)
        self.assertEqual((group.outstanding(A), group.outstanding(B)), (0, 0))

    def test_rejoined(self) -> None:
        """
        An origin that left with a request in flight and joined again is
        counted afresh: the late report on its old slot does not reach the
        new one, and the group does not keep answering from the old one.
        """
        group = OriginGroup([(A, 1), (B, 1)], clock=Clock())
        group.started(B)
        group.setMembers([(A, 1)])
        group.finished(B)
        group.setMembers([(A, 1), (B, 1)])
        group.started(B)
        self.assertEqual(group.outstanding(B), 1)
        group.setMembers([(A, 1)])
        self.assertRaises(KeyError, group.outstanding, C)
        group.finished(B)
        group.failed(B)
        self.assertEqual(group.outstanding(A), 0)


class SetMembersTests(SynchronousTestCase):
    """
    L{OriginGroup.setMembers}: members found through DNS come and go.
    """

    def test_stayKeepState(self) -> None:
        """
        An origin that stays keeps its ejection and counts and takes its
        new weight; one that joins starts fresh, marked down if asked; one
        that leaves is picked no more.
        """
        clock = Clock()
        group = OriginGroup([(A, 1), (B, 1)], clock=clock)
        group.failed(A)
        group.started(B)
        added, removed = group.setMembers([(A, 2), (C, 1)], joinDown=True)
        self.assertEqual((added, removed), ([C], [B]))
        self.assertEqual(group.origins, (A, C))
        self.assertTrue(group.isEjected(A))
        self.assertTrue(group.isMarkedDown(C))
        self.assertEqual(group.pick(), A)
        group.markUp(C)
        clock.advance(60)
        picks = [group.pick() for _ in range(3)]
        self.assertEqual(sorted(map(str, picks)), sorted(map(str, [A, A, C])))

    def test_leftReports(self) -> None:
        """
        The requests in flight on an origin that left still report on it
        (finished, then failed or succeeded) without error; an origin that
        never was in the group is still an error.
        """
        group = OriginGroup([(A, 1), (B, 1)], clock=Clock())
        group.started(B)
        group.setMembers([(A, 1)])
        self.assertEqual(group.outstanding(B), 1)
        group.finished(B)
        group.failed(B)
        group.succeeded(B)
        self.assertRaises(KeyError, group.failed, C)

    def test_empty(self) -> None:
        """
        A group may become empty (and is then down), and refuses repeated
        origins and bad weights without changing.
        """
        group = OriginGroup([(A, 1)], clock=Clock())
        self.assertRaises(ValueError, group.setMembers, [(B, 1), (B, 1)])
        self.assertRaises(ValueError, group.setMembers, [(B, 0)])
        self.assertEqual(group.origins, (A,))
        group.setMembers([])
        self.assertIsNone(group.pick())
        self.assertTrue(group.isDown())
        self.assertEqual(group.downReason(), "no origin found in DNS yet")
        self.assertRaises(ValueError, OriginGroup, [], clock=Clock())
        self.assertEqual(OriginGroup([], clock=Clock(), allowEmpty=True).origins, ())
