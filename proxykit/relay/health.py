# -*- test-case-name: tests.test_health -*-
"""
Active health checks: a periodic C{GET} to every origin of a group.

A check connects to the origin, sends one small request and reads the status
line and header section of the answer; a final status from 200 to 399 within
the check's timeout is a success, anything else (a refused connection, a
timeout, another status, a malformed response) a failure.  The body is never
read: the connection is closed as soon as the head is in.

C{fall} consecutive failures take an origin out of its L{OriginGroup}
(L{OriginGroup.markDown}); C{rise} consecutive successes bring it back
(L{OriginGroup.markUp}).  Origins start up, so a route serves at once and the
checks only take out what is failing; an origin that DNS discovery adds
later (L{HealthChecker.addOrigin}) starts down and is marked up after its
first passing check.

The checks are the only way a whole group goes down (passive failures never
take out the last usable origin): while every origin is marked down, the
route's requests get 503 at once, and traffic resumes as soon as one origin
is marked up again.  Both transitions are logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from ..config.values import HealthCheckConfig
from ..decisions import Origin
from ..h1 import NEED_DATA, H1Connection, ProtocolError, Response, requestHead
from ..policy.balance import OriginGroup, originURL
from ..reactor import NamedLogger, orGlobal
from .endpoints import OriginConnector
from .proxyheader import localHeader

Connector = Callable[[Origin, IProtocolFactory], "Deferred[IProtocol]"]
"""
How a check reaches an origin: connect C{factory}'s protocol to C{origin} and
fire with it (or fail).
"""

USER_AGENT: Final = b"proxykit-health"


def _visibleASCII(text: str) -> bool:
    return text.isascii() and all("!" <= c <= "~" for c in text)


class _OriginHealth:
    """
    What the checker knows about one origin.

    @ivar origin: The origin.
    @ivar request: The check request's bytes.
    @ivar up: Whether the checks consider it up.
    @ivar successes: Consecutive successful checks.
    @ivar failures: Consecutive failed checks.
    @ivar passed: Checks that succeeded, in all.
    @ivar failed: Checks that failed, in all.
    @ivar check: The check in progress, if any.
    """

    __slots__ = ("origin", "request", "up", "successes", "failures", "passed", "failed", "check", "joining")

    def __init__(self, origin: Origin, request: bytes, joining: bool = False) -> None:
        self.origin = origin
        self.request = request
        self.joining = joining
        self.up = not joining
        self.successes = 0
        self.failures = 0
        self.passed = 0
        self.failed = 0
        self.check: _Check | None = None


class HealthChecker:
    """
    Checks every origin of an L{OriginGroup} every C{config.interval}
    seconds and marks them down and up.

    @ivar group: The group whose origins are checked and marked.
    @ivar config: The checks' settings.
    """

    _log = NamedLogger("proxykit.health.HealthChecker")

    def __init__(
        self,
        group: OriginGroup,
        config: HealthCheckConfig,
        reactor: IReactorTime | None = None,
        connector: Connector | None = None,
    ) -> None:
        """
        @param group: The origins to check and mark.
        @param config: Path, interval, timeout, rise, fall and C{Host}.
        @param reactor: Schedules checks and bounds them (and connects, with
            the default connector); the global reactor if C{None}.
        @param connector: Connects a check's protocol to an origin; by
            default L{proxykit.relay.endpoints.connect} over TCP or a UNIX socket.
        @raise ValueError: The path does not start with C{/} or contains
            spaces or control characters, or the host is empty or contains
            them.
        """
        if not config.path.startswith("/") or not _visibleASCII(config.path):
            raise ValueError("health check path must be a visible-ASCII path")
        if config.host is not None and (
            not config.host or not _visibleASCII(config.host)
        ):
            raise ValueError("health check host must be visible ASCII")
        reactor = orGlobal(reactor)
        self.group = group
        self.config = config
        self._reactor = reactor
        if connector is None:
            origins = OriginConnector(reactor)

            def connector(origin: Origin, factory: IProtocolFactory) -> Deferred[IProtocol]:
                # A check is the proxy's own connection: an origin that
                # expects the PROXY protocol gets a header saying so.
                version = origin.proxyProtocol
                preamble = localHeader(version) if version else b""
                return origins.connect(origin, factory, config.timeout, preamble)

        self._connector = connector
        self._origins: dict[Origin, _OriginHealth] = {}
        for origin in group.origins:
            self._origins[origin] = _OriginHealth(origin, self._requestFor(origin))
        self._loop: LoopingCall | None = None
        self._groupName = " ".join(originURL(o) for o in group.origins)

    def _requestFor(self, origin: Origin) -> bytes:
        """
        The bytes of a check of C{origin}.
        """
        config = self.config
        host = config.host.encode("ascii") if config.host is not None else origin.authority
        return requestHead(
            b"GET",
            config.path.encode("ascii"),
            [
                (b"Host", host),
                (b"Connection", b"close"),
                (b"User-Agent", USER_AGENT),
            ],
        )

    def addOrigin(self, origin: Origin, joining: bool = True) -> None:
        """
        C{origin} joined the group (DNS discovery found it): check it now.
        A joining origin was marked down (L{OriginGroup.setMembers} with
        C{joinDown}) and is marked up after its first passing check; then
        C{rise} and C{fall} apply as to the others.  Does nothing for an
        origin already checked.

        @param origin: An origin of the group.
        @param joining: Whether it waits for its first passing check; if
            not, it is up and checked like the others (a reload took it over).
        """
        if origin in self._origins:
            return
        health = _OriginHealth(origin, self._requestFor(origin), joining=joining)
        self._origins[origin] = health
        if self._loop is not None:
            self.checkOrigin(origin)

    def removeOrigin(self, origin: Origin) -> None:
        """
        C{origin} left the group: check it no more (a check in progress is
        abandoned without counting).  Does nothing for an unknown origin.

        @param origin: An origin that was in the group.
        """
        health = self._origins.pop(origin, None)
        if health is not None and health.check is not None:
            health.check.abort()

    def start(self) -> None:
        """
        Check every origin now and then every C{config.interval} seconds,
        until L{stop}.  An origin whose previous check is still in progress
        is not checked again until it ends.  Does nothing if already started.
        """
        if self._loop is not None:
            return
        loop = self._loop = LoopingCall(self._checkAll)
        loop.clock = self._reactor
        loop.start(self.config.interval, now=True).addErrback(self._loopFailed)

    def stop(self) -> None:
        """
        Stop checking: cancel the schedule and abort the checks in progress
        (they count neither way; their L{checkOrigin} results are C{False}).
        """
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()
        for health in self._origins.values():
            if health.check is not None:
                health.check.abort()

    def checkOrigin(self, origin: Origin) -> Deferred[bool]:
        """
        Check C{origin} now (or join the check already in progress).  The
        result counts towards C{rise} and C{fall} like a scheduled check.

        @param origin: An origin of the group.
        @return: Fires with whether the check succeeded; never fails.
        @raise KeyError: C{origin} is not in the group.
        """
        health = self._origins[origin]
        check = health.check
        if check is None:
            check = _Check(self, health)
            health.check = check
            check.begin()
        return check.whenDone()

    def results(self, origin: Origin) -> tuple[int, int]:
        """
        How many checks of C{origin} passed and failed since the checker
        was made (checks aborted by L{stop} count neither way).

        @param origin: An origin of the group.
        @return: C{(passed, failed)}.
        @raise KeyError: C{origin} is not in the group.
        """
        health = self._origins[origin]
        return health.passed, health.failed

    def isHealthy(self, origin: Origin) -> bool:
        """
        Whether the checks consider C{origin} up (every origin is, until
        C{fall} checks in a row fail).

        @param origin: An origin of the group.
        @raise KeyError: C{origin} is not in the group.
        """
        return self._origins[origin].up

    def _checkAll(self) -> None:
        for health in self._origins.values():
            if health.check is None:
                self.checkOrigin(health.origin)

    def _loopFailed(self, failure: Failure) -> None:
        self._log.failure("health check schedule failed", failure)

    def _report(self, health: _OriginHealth, ok: bool, reason: str) -> None:
        """
        Count one finished check and mark the origin on a transition.
        """
        if ok:
            health.passed += 1
            health.failures = 0
            health.successes += 1
            if not health.up and (health.joining or health.successes >= self.config.rise):
                health.joining = False
                wasDown = self.group.isDown()
                health.up = True
                self.group.markUp(health.origin)
                self._log.info(
                    "origin {origin} is up after {count} successful health checks",
                    origin=originURL(health.origin),
                    count=health.successes,
                )
                if wasDown:
                    self._log.info(
                        "origin group {group} is up again: traffic resumes",
                        group=self._groupName,
                    )
        else:
            health.failed += 1
            health.successes = 0
            health.failures += 1
            if health.joining:
                return
            if health.up and health.failures >= self.config.fall:
                health.up = False
                self.group.markDown(health.origin)
                self._log.info(
                    "origin {origin} is down after {count} failed health checks:"
                    " {reason}",
                    origin=originURL(health.origin),
                    count=health.failures,
                    reason=reason,
                )
                if self.group.isDown():
                    self._log.warn(
                        "every origin of group {group} failed its health checks:"
                        " its requests get 503 until one is up",
                        group=self._groupName,
                    )


class _Check:
    """
    One health check of one origin: connect, send, read the head, all within
    the timeout.

    States: in progress (C{_over} false) until the first of a response head,
    a connection failure or loss, the timeout, or L{abort}; then over, with
    the timer cancelled, the connection attempt cancelled and the connection
    aborted.  Anything that happens after that is ignored.
    """

    def __init__(self, checker: HealthChecker, health: _OriginHealth) -> None:
        self._checker = checker
        self._health = health
        self._over = False
        self._ok = False
        self._timer: IDelayedCall | None = None
        self._connecting: Deferred[IProtocol] | None = None
        self._probe: _Probe | None = None
        self._waiters: list[Deferred[bool]] = []

    def begin(self) -> None:
        checker = self._checker
        self._timer = checker._reactor.callLater(
            checker.config.timeout, self._timedOut
        )
        factory = _ProbeFactory(self, self._health.request)
        try:
            d = checker._connector(self._health.origin, factory)
        except Exception as e:
            self.finish(False, f"connect failed: {e}")
            return
        if self._over:
            # Finished while connecting synchronously.
            d.addErrback(lambda _: None)
            return
        self._connecting = d
        d.addCallbacks(self._connected, self._connectFailed)

    def whenDone(self) -> Deferred[bool]:
        d: Deferred[bool] = Deferred()
        if self._over:
            d.callback(self._ok)
        else:
            self._waiters.append(d)
        return d

    def attach(self, probe: _Probe) -> bool:
        """
        The probe's connection is made: whether to go on with it.
        """
        if self._over:
            return False
        self._probe = probe
        return True

    def finish(self, ok: bool, reason: str) -> None:
        """
        The check's outcome is known: count it.
        """
        if self._over:
            return
        self._end(ok)
        self._checker._report(self._health, ok, reason)
        self._notify()

    def abort(self) -> None:
        """
        Stop the check without counting it.
        """
        if self._over:
            return
        self._end(False)
        self._notify()

    def _end(self, ok: bool) -> None:
        self._over = True
        self._ok = ok
        self._health.check = None
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.close()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(self._ok)

    def _connected(self, protocol: IProtocol) -> None:
        self._connecting = None
        if self._over and isinstance(protocol, _Probe):
            protocol.close()

    def _connectFailed(self, failure: Failure) -> None:
        self._connecting = None
        self.finish(False, f"connect failed: {failure.getErrorMessage()}")

    def _timedOut(self) -> None:
        self._timer = None
        self.finish(False, f"no response within {self._checker.config.timeout}s")


class _Probe(Protocol):
    """
    The connection of one check: sends the request, reads the response head
    with the client-role message layer, and reports the first final status.
    """

    def __init__(self, check: _Check, request: bytes) -> None:
        self._check = check
        self._request = request
        self._parser = H1Connection(False)
        self._parser.expectResponse(b"GET")
        self._done = False

    def connectionMade(self) -> None:
        if self._check.attach(self):
            self.transport.write(self._request)  # type: ignore[union-attr]
        else:
            self.close()

    def dataReceived(self, data: bytes) -> None:
        if self._done:
            return
        parser = self._parser
        parser.receiveData(data)
        while True:
            try:
                event = parser.nextEvent()
            except ProtocolError as e:
                self._result(False, f"malformed response: {e}")
                return
            if event is NEED_DATA:
                return
            if isinstance(event, Response):
                status = event.status
                if status < 200:
                    # Informational (100, 103): the final response follows.
                    continue
                ok = status < 400
                self._result(ok, f"status {status}")
                return

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self._done:
            self._result(False, "connection closed before a response")

    def _result(self, ok: bool, reason: str) -> None:
        self._done = True
        self._check.finish(ok, reason)
        self.close()

    def close(self) -> None:
        """
        Drop the connection at once, without reading the rest.
        """
        self._done = True
        transport = self.transport
        if transport is None:
            return
        abort = getattr(transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            transport.loseConnection()


class _ProbeFactory(Factory):
    """
    Builds the one L{_Probe} of a check.
    """

    noisy = False

    def __init__(self, check: _Check, request: bytes) -> None:
        self._check = check
        self._request = request

    def buildProtocol(self, addr: IAddress | None) -> _Probe:
        probe = _Probe(self._check, self._request)
        probe.factory = self
        return probe
