"""
Tests for L{proxykit.relay.flow}: pause reasons and the lazy deadline.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides

from proxykit.relay.flow import NOT_CONNECTED, PEER_BLOCKED, PIPELINE, Side


class Recorder(Side):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.timeouts = 0

    def timedOut(self) -> None:
        self.timeouts += 1


def connected(clock: Clock) -> tuple[Recorder, StringTransport]:
    side = Recorder(clock)
    transport = StringTransport()
    side.makeConnection(transport)
    return side, transport


class PauseTests(SynchronousTestCase):
    """
    Reading resumes only when every reason to pause is gone.
    """

    def test_reasons(self) -> None:
        """
        Two reasons pause once; dropping one keeps it paused; dropping both
        resumes; dropping an absent reason changes nothing.
        """
        side, transport = connected(Clock())
        side.pauseReading(PIPELINE)
        side.pauseReading(NOT_CONNECTED)
        self.assertEqual(transport.producerState, "paused")
        side.resumeReading(PIPELINE)
        self.assertEqual(transport.producerState, "paused")
        side.resumeReading(PEER_BLOCKED)
        self.assertEqual(transport.producerState, "paused")
        side.resumeReading(NOT_CONNECTED)
        self.assertEqual(transport.producerState, "producing")

    def test_backpressureToPeer(self) -> None:
        """
        When a side's own transport is full it pauses its peer; a new peer
        attached while full starts paused; detaching resumes the old one.
        """
        clock = Clock()
        side, _ = connected(clock)
        peer, peerTransport = connected(clock)
        other, otherTransport = connected(clock)
        self.assertIs(side.transport.producer, side)  # type: ignore[union-attr]
        side.setPeer(peer)
        side.pauseProducing()
        self.assertEqual(peerTransport.producerState, "paused")
        side.setPeer(other)
        self.assertEqual(peerTransport.producerState, "producing")
        self.assertEqual(otherTransport.producerState, "paused")
        side.resumeProducing()
        self.assertEqual(otherTransport.producerState, "producing")


class DeadlineTests(SynchronousTestCase):
    """
    One timer per connection, re-armed lazily.
    """

    def test_touchPostpones(self) -> None:
        """
        Setting the deadline again postpones the timeout without a new timer
        per touch.
        """
        clock = Clock()
        side, _ = connected(clock)
        side.setDeadline(10)
        clock.advance(6)
        side.setDeadline(10)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(6)
        self.assertEqual(side.timeouts, 0)
        clock.advance(4)
        self.assertEqual(side.timeouts, 1)

    def test_shorterDeadline(self) -> None:
        """
        A deadline earlier than the armed timer fires on time.
        """
        clock = Clock()
        side, _ = connected(clock)
        side.setDeadline(60)
        side.setDeadline(5)
        clock.advance(5)
        self.assertEqual(side.timeouts, 1)

    def test_disarm(self) -> None:
        """
        C{None} disarms; cancelTimer drops the timer.
        """
        clock = Clock()
        side, _ = connected(clock)
        side.setDeadline(5)
        side.setDeadline(None)
        clock.advance(10)
        self.assertEqual(side.timeouts, 0)
        side.setDeadline(5)
        side.cancelTimer()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_closeUnregisters(self) -> None:
        """
        closeAfterWrite drops the producer first, so a paused producer
        cannot keep the transport open.
        """
        side, transport = connected(Clock())
        side.closeAfterWrite()
        self.assertIsNone(transport.producer)
        self.assertTrue(transport.disconnecting)
        side.closeAfterWrite()

    def test_halfCloseOverTLS(self) -> None:
        """
        On a TLS transport, closeWriteAfterWrite closes the whole
        connection: Twisted's TLS layer cannot half-close, and half-closing
        the socket beneath it breaks its shutdown.
        """
        side, transport = connected(Clock())
        directlyProvides(transport, ISSLTransport)
        side.closeWriteAfterWrite()
        self.assertTrue(transport.disconnecting)


class NoDelayTests(SynchronousTestCase):
    """
    Nagle's algorithm is off beneath TLS too: a small head and body written
    separately must not wait for a delayed ACK.
    """

    def test_beneathTLS(self) -> None:
        """
        On a transport wrapping a TCP transport (TLS), the TCP transport gets
        TCP_NODELAY.
        """

        class Lower(StringTransport):
            noDelay = False

            def setTcpNoDelay(self, enabled: bool) -> None:
                self.noDelay = enabled

        class Wrapper(StringTransport):
            def __init__(self) -> None:
                super().__init__()
                self.transport = Lower()

        wrapper = Wrapper()
        Recorder(Clock()).makeConnection(wrapper)
        self.assertTrue(wrapper.transport.noDelay)


class ProtocolTests(SynchronousTestCase):
    """
    L{Side} is a Twisted protocol as C{twisted.internet.protocol.Protocol}
    is one, without deriving from it.
    """

    def test_makeConnection(self) -> None:
        """
        C{makeConnection} records the transport, marks the side connected
        and calls C{connectionMade} (which registers it as the transport's
        streaming producer).
        """
        side = Recorder(Clock())
        transport = StringTransport()
        self.assertEqual((side.connected, side.transport), (0, None))
        side.makeConnection(transport)
        self.assertEqual((side.connected, side.transport), (1, transport))
        self.assertIs(transport.producer, side)
        self.assertTrue(transport.streaming)

    def test_logPrefix(self) -> None:
        """
        The log prefix is the class's name, a subclass's too.
        """
        self.assertEqual(Recorder(Clock()).logPrefix(), "Recorder")

    def test_interpretedSubclass(self) -> None:
        """
        A Python subclass's overrides and its own attributes work, in the
        compiled build as in Python.
        """
        side, transport = connected(Clock())
        side.dataReceived(b"ignored")
        side.connectionLost(Failure(ConnectionDone()))
        side.setDeadline(1.0)
        side._clock.advance(2)  # type: ignore[attr-defined]
        self.assertEqual(side.timeouts, 1)
