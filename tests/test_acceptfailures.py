"""
Tests for L{proxykit.listeners.AcceptFailures}: a listener out of file
descriptors logs once per interval, keeps its other log events, and stops
accepting for a moment, rather than at once and again, when its clients are
left waiting.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.logger import LogEvent, Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from proxykit._twistedcompat import ACCEPT_FAILURES
from proxykit.listeners import (
    ACCEPT_LOG_INTERVAL,
    ACCEPT_RETRY,
    AcceptFailures,
    GatedEndpoint,
)

_FORMATS = {kind: text for text, kind in ACCEPT_FAILURES.items()}


class _Port:
    """
    A listening port that records whether it reads (accepts).
    """

    _logger = Logger()

    def __init__(self) -> None:
        self.connected = True
        self.reading = True
        self.stops = 0

    def stopReading(self) -> None:
        self.reading = False
        self.stops += 1

    def startReading(self) -> None:
        self.reading = True


class _Gate:
    """
    What L{AcceptFailures} reads of a gate.
    """

    name = "tcp:8080"

    def __init__(self, open: int = 0, cap: int = 10) -> None:
        self.open = open
        self.cap = cap
        self.port: object = None


class AcceptFailuresTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[LogEvent] = []
        self.clock = Clock()
        self.port = _Port()
        self.gate = _Gate()
        self.failures = AcceptFailures(
            self.events.append, self.port, self.clock, "tcp:8080", self.gate  # type: ignore[arg-type]
        )

    def emit(self, kind: str, **fields: Any) -> None:
        self.failures({"log_format": _FORMATS[kind], "log_namespace": "tcp.Port", **fields})

    def emfile(self, clients: int) -> None:
        """
        What Twisted logs for one read of a listening socket out of
        descriptors: the reserve released, C{clients} accepted and closed.
        """
        self.emit("begin")
        for n in range(clients):
            self.emit("closed", address=("127.0.0.1", 40000 + n))
        self.emit("end")

    def lines(self) -> list[str]:
        return [formatEvent(e) for e in self.events]

    def test_otherEventsPassed(self) -> None:
        """
        The port's other events go on to the observer as they are.
        """
        event = {"log_format": "(TCP Port 8080 Closed)", "log_namespace": "tcp.Port"}
        self.failures(event)
        self.assertEqual(self.events, [event])

    def test_oneLine(self) -> None:
        """
        A read that found the process out of descriptors is one warning,
        which says how many clients were closed at once; Twisted's own
        lines are not passed on.
        """
        self.emfile(3)
        self.assertEqual(len(self.events), 1)
        [line] = self.lines()
        self.assertIn("cannot accept on tcp:8080", line)
        self.assertIn("(EMFILE); 1 failed accepts, 3 new clients closed at once", line)
        self.assertEqual(self.events[0]["log_level"].name, "warn")
        self.assertEqual((self.failures.failures, self.failures.turnedAway), (1, 3))
        # The clients were taken off the socket: accepting goes on.
        self.assertEqual(self.port.stops, 0)

    def test_oncePerInterval(self) -> None:
        """
        However many reads fail, one line per L{ACCEPT_LOG_INTERVAL} at
        most; the next counts what happened since the last.
        """
        for _ in range(100):
            self.emfile(3)
            self.clock.advance(ACCEPT_LOG_INTERVAL / 200)
        self.assertEqual(len(self.events), 1)
        self.clock.advance(ACCEPT_LOG_INTERVAL / 2 + 0.01)
        self.emfile(3)
        self.assertEqual(len(self.events), 2)
        self.assertIn("100 failed accepts, 300 new clients closed at once", self.lines()[1])
        self.assertEqual((self.failures.failures, self.failures.turnedAway), (101, 303))

    def test_waitingClientsPause(self) -> None:
        """
        An accept that failed and left its clients waiting stops the port
        accepting for L{ACCEPT_RETRY} seconds, then it accepts again; more
        failures meanwhile do not stop it twice.
        """
        self.emit("failed", acceptError="ENFILE")
        self.assertFalse(self.port.reading)
        self.emit("failed", acceptError="ENFILE")
        self.assertEqual(self.port.stops, 1)
        self.assertEqual(len(self.events), 1)
        self.assertIn("(ENFILE); 1 failed accepts, 0 new clients", self.lines()[0])
        self.clock.advance(ACCEPT_RETRY - 0.01)
        self.assertFalse(self.port.reading)
        self.clock.advance(0.01)
        self.assertTrue(self.port.reading)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_atCapLeftToTheGate(self) -> None:
        """
        While the gate is at its cap, the gate resumes the port: the retry
        looks again later, and resumes once the gate is below its cap.
        """
        self.gate.open = self.gate.cap
        self.emit("failed", acceptError="EMFILE")
        self.clock.advance(ACCEPT_RETRY)
        self.assertFalse(self.port.reading)
        self.gate.open -= 1
        self.clock.advance(ACCEPT_RETRY)
        self.assertTrue(self.port.reading)

    def test_stoppedListening(self) -> None:
        """
        A port that stopped listening meanwhile is not resumed.
        """
        self.emit("failed", acceptError="EMFILE")
        self.port.connected = False
        self.clock.advance(ACCEPT_RETRY)
        self.assertFalse(self.port.reading)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class _Endpoint:
    """
    An endpoint that listens at once, on a given port.
    """

    def __init__(self, port: object) -> None:
        self.port = port

    def listen(self, factory: object) -> Any:
        return succeed(self.port)


class GatedEndpointTests(SynchronousTestCase):
    def test_watched(self) -> None:
        """
        L{GatedEndpoint} tells the gate its port, and the port's events go
        through an L{AcceptFailures} before the observer they went to.
        """
        port = _Port()
        before = port._logger.observer
        gate = _Gate()
        endpoint = GatedEndpoint(_Endpoint(port), gate, Clock())  # type: ignore[arg-type]
        self.assertIs(self.successResultOf(endpoint.listen(object())), port)  # type: ignore[arg-type]
        self.assertIs(gate.port, port)
        observer = port._logger.observer
        self.assertIsInstance(observer, AcceptFailures)
        self.assertIs(observer._observer, before)  # type: ignore[attr-defined]
