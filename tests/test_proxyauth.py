"""
Proxy authentication in the protocol: 407 with a challenge, credentials
checked once and cached, and never forwarded.
"""

from __future__ import annotations

import base64

import bcrypt
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from proxykit.policy.auth import BcryptChecker, ProxyAuthenticator

from ._harness import OK, Harness, originSaw


def basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


class SyncThreads:
    """
    Runs "threaded" work at once, so bcrypt checks complete synchronously.
    """

    def callInThreadWithCallback(self, onResult, f, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            result = f(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001
            onResult(False, e)
        else:
            onResult(True, result)


class SyncReactor:
    """
    Delivers "thread" results at once.
    """

    def callFromThread(self, f, *args, **kwargs):  # type: ignore[no-untyped-def]
        f(*args, **kwargs)


class ProxyAuthTests(SynchronousTestCase):
    """
    With an htpasswd file configured, forward-proxy requests need
    credentials.
    """

    def setUp(self) -> None:
        self.h = Harness()
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4))
        checker = BcryptChecker({"alice": hashed}, reactor=SyncReactor(), threadpool=SyncThreads())  # type: ignore[arg-type]
        self.h.factory.authenticator = ProxyAuthenticator(checker, reactor=self.h.reactor)

    def request(self, credentials: bytes | None) -> bytes:
        line = b"GET http://127.0.0.1:9000/a HTTP/1.1\r\nHost: x\r\n"
        if credentials is not None:
            line += b"Proxy-Authorization: " + credentials + b"\r\n"
        return line + b"\r\n"

    def test_challenge(self) -> None:
        """
        Without credentials: 407 with a Basic challenge; the connection stays
        open for the retry with credentials.
        """
        self.h.send(self.request(None))
        out = self.h.received()
        self.assertTrue(out.startswith(b"HTTP/1.1 407 Proxy Authentication Required\r\n"))
        self.assertIn(b'Proxy-Authenticate: Basic realm="proxykit", charset="UTF-8"\r\n', out)
        self.assertFalse(self.h.clientTransport.disconnecting)
        self.assertEqual(self.h.reactor.tcpClients, [])

    def test_wrongPassword(self) -> None:
        """
        Wrong credentials get 407 too, and nothing is contacted.
        """
        self.h.send(self.request(basic(b"alice", b"nope")))
        self.assertTrue(self.h.received().startswith(b"HTTP/1.1 407 "))
        self.assertEqual(self.h.reactor.tcpClients, [])

    def test_accepted(self) -> None:
        """
        Good credentials pass; the origin never sees them.
        """
        self.h.send(self.request(basic(b"alice", b"s3cret")))
        origin, ot = self.h.acceptOrigin()
        sent = originSaw(ot)
        self.assertNotIn(b"Proxy-Authorization", sent)
        self.assertNotIn(b"s3cret", sent)
        origin.dataReceived(OK)
        self.assertTrue(self.h.received().endswith(b"hello"))

    def test_heldUntilChecked(self) -> None:
        """
        While a check is pending, the request and the ones after it wait,
        then proceed in order.
        """
        checks: list[Deferred[bool]] = []

        def check(value: bytes, context: object = None) -> Deferred[bool]:
            checks.append(Deferred())
            return checks[-1]

        authenticator = self.h.factory.authenticator
        assert authenticator is not None
        authenticator.check = check  # type: ignore[method-assign]
        authenticator.checkCached = lambda value: None  # type: ignore[method-assign]
        self.h.send(self.request(basic(b"alice", b"s3cret")) * 2)
        self.assertEqual(self.h.reactor.tcpClients, [])
        self.assertEqual(self.h.clientTransport.producerState, "paused")
        self.assertEqual(len(checks), 1)
        checks[0].callback(True)
        origin, ot = self.h.acceptOrigin()
        self.assertEqual(originSaw(ot).count(b"GET /a"), 1)
        origin.dataReceived(OK)
        self.assertEqual(len(checks), 2, "the second request is checked after the first response")
        checks[1].callback(True)
        self.assertEqual(originSaw(ot).count(b"GET /a"), 1)
        origin.dataReceived(OK)
        self.assertEqual(self.h.received().count(b"hello"), 2)

    def test_reverseRequestsNotChallenged(self) -> None:
        """
        Origin-form requests (reverse role) are not asked for proxy
        credentials.
        """
        self.h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(self.h.received().startswith(b"HTTP/1.1 400 "))
