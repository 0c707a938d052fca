"""
Tests for L{proxykit.relay.admission}: what every request goes through before
the relay acts on it, in order.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from proxykit.decisions import ClientInfo, Decision, Refuse, Respond
from proxykit.h1 import Request
from proxykit.relay.admission import Admission, proxyAuthorization

from ._helpers import parseRequest

ROUTED = Refuse(418, "routed")
ALLOWED = ClientInfo("127.0.0.1", "127.0.0.1", 8080)
OUTSIDER = ClientInfo("192.0.2.9", "127.0.0.1", 8080, allowed=False)
FORWARD = b"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n"


class Router:
    """
    Routes everything to L{ROUTED} and records what it saw.
    """

    def __init__(self) -> None:
        self.seen: list[Request] = []

    def clientAllowed(self, peerHost: str) -> bool:
        return True

    def route(self, request: Request, client: ClientInfo) -> Decision:
        self.seen.append(request)
        return ROUTED


class Authenticator:
    """
    Answers from its cache with C{cached}; otherwise the check waits on
    L{pending}.
    """

    challenge = b'Basic realm="proxykit"'

    def __init__(self, cached: bool | None) -> None:
        self.cached = cached
        self.pending: Deferred[bool] = Deferred()

    def checkCached(self, value: bytes | None) -> bool | None:
        return self.cached

    def check(self, value: bytes, context: object = None) -> Deferred[bool]:
        return self.pending


def admission(
    authenticator: Authenticator | None = None, maxBodyBytes: int = 0
) -> tuple[Admission, Router]:
    router = Router()
    return Admission(router, authenticator, b"proxykit", False, maxBodyBytes), router  # type: ignore[arg-type]


class AdmissionTests(SynchronousTestCase):
    """
    The client ACL, authentication, message policy and body precheck, in
    that order, then the router.
    """

    def test_routed(self) -> None:
        """
        An allowed request goes to the router.
        """
        a, router = admission()
        self.assertEqual(a.admit(parseRequest(FORWARD + b"\r\n"), ALLOWED), ROUTED)
        self.assertEqual(len(router.seen), 1)

    def test_clientFirst(self) -> None:
        """
        A client that may not use the proxy gets 403 before its credentials
        are even looked at.
        """
        a, router = admission(Authenticator(False))
        self.assertEqual(
            a.admit(parseRequest(FORWARD + b"\r\n"), OUTSIDER), Refuse(403, "client not allowed")
        )
        self.assertEqual(router.seen, [])

    def test_authentication(self) -> None:
        """
        Forward-proxy requests need credentials (407 with the challenge);
        origin-form requests do not; a check that takes time gives the
        decision later.
        """
        a, _ = admission(Authenticator(False))
        refusal = a.admit(parseRequest(FORWARD + b"\r\n"), ALLOWED)
        self.assertEqual(
            refusal,
            Refuse(
                407,
                "proxy authentication required",
                ((b"Proxy-Authenticate", b'Basic realm="proxykit"'),),
            ),
        )
        self.assertEqual(a.admit(parseRequest(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ALLOWED), ROUTED)
        authenticator = Authenticator(None)
        a, _ = admission(authenticator)
        later = a.admit(
            parseRequest(FORWARD + b"Proxy-Authorization: Basic eDp5\r\n\r\n"), ALLOWED
        )
        assert isinstance(later, Deferred)
        self.assertNoResult(later)
        authenticator.pending.callback(True)
        self.assertEqual(self.successResultOf(later), ROUTED)

    def test_messagePolicy(self) -> None:
        """
        Loops, TRACE and OPTIONS with C{Max-Forwards: 0} are decided here.
        """
        a, router = admission()
        loop = FORWARD + b"Via: 1.1 proxykit\r\n\r\n"
        self.assertEqual(a.admit(parseRequest(loop), ALLOWED).status, 508)  # type: ignore[union-attr]
        trace = b"TRACE http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"
        self.assertEqual(a.admit(parseRequest(trace), ALLOWED).status, 405)  # type: ignore[union-attr]
        options = b"OPTIONS http://a.test/ HTTP/1.1\r\nHost: a.test\r\nMax-Forwards: 0\r\n\r\n"
        self.assertIsInstance(a.admit(parseRequest(options), ALLOWED), Respond)
        self.assertEqual(router.seen, [])

    def test_bodyPrecheck(self) -> None:
        """
        A declared body over the limit gets 413 before routing.
        """
        a, router = admission(maxBodyBytes=10)
        big = b"POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 11\r\n\r\n"
        self.assertEqual(a.admit(parseRequest(big), ALLOWED), Refuse(413, "request body too large"))
        self.assertEqual(router.seen, [])

    def test_proxyAuthorization(self) -> None:
        """
        The first C{Proxy-Authorization} value, whatever its case.
        """
        self.assertEqual(
            proxyAuthorization([(b"proxy-AUTHORIZATION", b"a"), (b"Proxy-Authorization", b"b")]),
            b"a",
        )
        self.assertIsNone(proxyAuthorization([(b"Authorization", b"x")]))
