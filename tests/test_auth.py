"""
Tests for L{proxykit.policy.auth}: htpasswd files, the bcrypt checker, Basic
credentials and the authenticator's cache, with low-cost hashes made at test
time, a fake clock, and a fake thread pool (and the reactor's real one).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable
from typing import Any

import bcrypt
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from proxykit.decisions import ClientInfo
from proxykit.h1 import Request
from proxykit.policy.auth import (
    BcryptChecker,
    HtpasswdError,
    ProxyAuthenticator,
    loadHtpasswd,
    parseBasic,
)
from proxykit.relay.logfields import PREFIX, fieldsOf

_HASHES: dict[tuple[bytes, int], bytes] = {}


def hashOf(password: bytes, prefix: str = "$2b$", rounds: int = 4) -> str:
    """
    A bcrypt hash of C{password} at a low cost, with the given variant
    prefix.  Hashes are reused across tests (with a fresh salt per password
    and cost) to keep the suite fast.
    """
    hashed = _HASHES.get((password, rounds))
    if hashed is None:
        hashed = _HASHES[password, rounds] = bcrypt.hashpw(
            password, bcrypt.gensalt(rounds=rounds)
        )
    return prefix + hashed.decode("ascii")[4:]


def basic(credentials: bytes, scheme: bytes = b"Basic") -> bytes:
    """
    A C{Proxy-Authorization} value carrying C{credentials} (C{user:password}).
    """
    return scheme + b" " + b64encode(credentials)


class FakeThreads:
    """
    A reactor and thread pool in one: work handed to the pool waits in
    C{queue} until the test calls L{runAll}, and results are delivered at
    once.

    @ivar queue: The calls not run yet.
    @ivar ran: The argument tuples of every call run.
    """

    def __init__(self) -> None:
        self.queue: list[
            tuple[Callable[[bool, Any], None], Callable[..., Any], tuple[Any, ...]]
        ] = []
        self.ran: list[tuple[Any, ...]] = []

    def getThreadPool(self) -> FakeThreads:
        return self

    def callInThreadWithCallback(
        self, onResult: Callable[[bool, Any], None], f: Callable[..., Any], *args: Any
    ) -> None:
        self.queue.append((onResult, f, args))

    def callFromThread(self, f: Callable[..., Any], *args: Any) -> None:
        f(*args)

    def runAll(self) -> None:
        """
        Run every queued call, as pool threads would.
        """
        queue, self.queue = self.queue, []
        for onResult, f, args in queue:
            self.ran.append(args)
            try:
                result = f(*args)
            except BaseException as e:
                onResult(False, Failure(e))
            else:
                onResult(True, result)


@implementer(ICredentialsChecker)
class FakeChecker:
    """
    A checker whose answers the test gives by firing the Deferreds in
    C{requests}.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self) -> None:
        self.requests: list[tuple[Any, Deferred[bytes]]] = []

    def requestAvatarId(self, credentials: Any) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self.requests.append((credentials, d))
        return d


def result(d: Deferred[Any]) -> Any:
    """
    The result C{d} already has.
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


class LoadHtpasswdTests(SynchronousTestCase):
    """
    L{loadHtpasswd} reads bcrypt users and refuses everything else, naming
    the line and never quoting a hash.
    """

    def write(self, text: str | bytes) -> str:
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
        return path

    def refused(self, text: str | bytes) -> HtpasswdError:
        path = self.write(text)
        e = self.assertRaises(HtpasswdError, loadHtpasswd, path)
        self.assertTrue(str(e).startswith(f"{path}:{e.line}: "), str(e))
        self.assertEqual(str(e), f"{path}:{e.line}: {e.problem}")
        return e

    def test_valid(self) -> None:
        """
        Users and their bcrypt hashes are read; comments, blank lines,
        surrounding blanks, CRLF line ends and a byte order mark are ignored.
        """
        alice = hashOf(b"alice-pw", "$2b$")
        bob = hashOf(b"bob-pw", "$2a$")
        path = self.write(
            "\ufeff# users\r\n"
            "\r\n"
            f"alice:{alice}\r\n"
            "   # indented comment\n"
            "\t\n"
            f"  bob:{bob}  \n"
            f"j\u00fcrgen:{alice}"
        )
        self.assertEqual(
            loadHtpasswd(path),
            {
                "alice": alice.encode("ascii"),
                "bob": bob.encode("ascii"),
                "j\u00fcrgen": alice.encode("ascii"),
            },
        )

    def test_empty(self) -> None:
        """
        A file of only comments has no users.
        """
        self.assertEqual(loadHtpasswd(self.write("# nobody\n\n")), {})

    def test_2y(self) -> None:
        """
        C{$2y$} hashes, as C{htpasswd -B} writes them, are read as the
        equivalent C{$2b$}, which the bcrypt library verifies.
        """
        hashed = hashOf(b"s3cret", "$2y$")
        users = loadHtpasswd(self.write(f"carol:{hashed}\n"))
        self.assertEqual(users["carol"], b"$2b$" + hashed[4:].encode("ascii"))
        self.assertTrue(bcrypt.checkpw(b"s3cret", users["carol"]))

    def test_refusedHashes(self) -> None:
        """
        Plain text, crypt(3) hashes, C{$apr1$} MD5, C{{SHA}}, empty and
        malformed bcrypt hashes are refused with the number of their line,
        and the message does not contain the hash.
        """
        good = hashOf(b"pw")
        cases = [
            ("Plain-Text-Secret", "plain text"),
            ("rl0uE8eVZ/6vY", "plain text or DES crypt"),
            ("$apr1$Qq7LUH5s$Ia0hA.Ym5bvOMbGLUNRJ8/", "$apr1$"),
            ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "{SHA}"),
            ("$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0", "crypt(3)"),
            ("$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2", "crypt(3)"),
            ("", "empty password hash"),
            (good[:40], "malformed"),
            (good + "XYZ", "malformed"),
            ("$2x$" + good[4:], "malformed"),
            ("$2$" + good[4:], "malformed"),
            ("$2b$03" + good[6:], "malformed"),
            ("$2b$32" + good[6:], "malformed"),
        ]
        for hashed, problem in cases:
            e = self.refused(f"# users\n\nalice:{hashed}\nbob:{good}\n")
            self.assertEqual(e.line, 3, hashed)
            self.assertIn(problem, e.problem, hashed)
            self.assertIn("'alice'", e.problem)
            if hashed:
                self.assertNotIn(hashed, str(e))
                self.assertNotIn(hashed, repr(e))

    def test_refusedLines(self) -> None:
        """
        A line without a colon, an empty user name, a user name with a
        control character and a line that is not UTF-8 are refused.
        """
        good = hashOf(b"pw")
        cases: list[tuple[str | bytes, str]] = [
            ("no-colon-here", "expected user:hash"),
            (f":{good}", "empty user name"),
            (f"al\x01ice:{good}", "control character"),
            (f"al\x7fice:{good}", "control character"),
            (f"al\x85ice:{good}", "control character"),
            (b"al\xffice:" + good.encode("ascii"), "not UTF-8"),
        ]
        for line, problem in cases:
            text = (
                b"bob:" + good.encode("ascii") + b"\n" + line
                if isinstance(line, bytes)
                else f"bob:{good}\n{line}"
            )
            e = self.refused(text)
            self.assertEqual(e.line, 2, line)
            self.assertIn(problem, e.problem)
            self.assertNotIn(good, str(e))

    def test_duplicate(self) -> None:
        """
        A user named twice is refused at the second line, which names the
        first.
        """
        e = self.refused(
            f"alice:{hashOf(b'one')}\nbob:{hashOf(b'two')}\nalice:{hashOf(b'three')}\n"
        )
        self.assertEqual(e.line, 3)
        self.assertEqual(e.problem, "duplicate user 'alice' (first on line 1)")

    def test_valueError(self) -> None:
        """
        L{HtpasswdError} is a L{ValueError}, so configuration code catching
        those reports it.
        """
        self.assertIsInstance(HtpasswdError("f", 1, "p"), ValueError)
        self.assertEqual(str(HtpasswdError("f", 1, "p")), "f:1: p")

    def test_missing(self) -> None:
        """
        A file that cannot be read raises L{OSError}.
        """
        self.assertRaises(OSError, loadHtpasswd, self.mktemp())


class BcryptCheckerTests(SynchronousTestCase):
    """
    L{BcryptChecker} verifies passwords in the thread pool and fails with
    L{UnauthorizedLogin}, spending a bcrypt computation even on unknown
    users.
    """

    def setUp(self) -> None:
        self.threads = FakeThreads()
        self.checker = BcryptChecker(
            {"alice": hashOf(b"alice-pw").encode("ascii")},
            reactor=self.threads,  # type: ignore[arg-type]
        )

    def attempt(self, user: bytes, password: bytes) -> Deferred[bytes | tuple[()]]:
        d = self.checker.requestAvatarId(UsernamePassword(user, password))
        self.assertNoResult(d)
        self.threads.runAll()
        return d

    def test_interface(self) -> None:
        """
        The checker provides L{ICredentialsChecker} for username and password
        credentials.
        """
        verifyObject(ICredentialsChecker, self.checker)
        self.assertEqual(self.checker.credentialInterfaces, (IUsernamePassword,))

    def test_success(self) -> None:
        """
        The right password fires with the user name, after the comparison
        ran in the pool rather than in the caller.
        """
        self.assertEqual(result(self.attempt(b"alice", b"alice-pw")), b"alice")
        self.assertEqual(len(self.threads.ran), 1)

    def test_wrongPassword(self) -> None:
        """
        A wrong password fails with L{UnauthorizedLogin}.
        """
        self.failureResultOf(self.attempt(b"alice", b"nope"), UnauthorizedLogin)

    def test_unknownUser(self) -> None:
        """
        An unknown user fails with L{UnauthorizedLogin}, after a bcrypt
        comparison at the cost of the known users' hashes, so that the time
        taken does not reveal whether the user exists.
        """
        self.failureResultOf(self.attempt(b"mallory", b"alice-pw"), UnauthorizedLogin)
        [(password, hashed)] = self.threads.ran
        self.assertEqual(password, b"alice-pw")
        self.assertTrue(hashed.startswith(b"$2b$04$"), hashed)

    def test_unknownUserHighestCost(self) -> None:
        """
        With hashes of different costs, an unknown user costs as much as the
        most expensive.
        """
        checker = BcryptChecker(
            {
                "a": hashOf(b"a").encode("ascii"),
                "b": hashOf(b"b", rounds=5).encode("ascii"),
            },
            reactor=self.threads,  # type: ignore[arg-type]
        )
        d = checker.requestAvatarId(UsernamePassword(b"zed", b"pw"))
        self.threads.runAll()
        self.failureResultOf(d, UnauthorizedLogin)
        self.assertTrue(self.threads.ran[0][1].startswith(b"$2b$05$"))

    def test_noUsers(self) -> None:
        """
        A checker without users refuses everyone.
        """
        checker = BcryptChecker({}, reactor=self.threads)  # type: ignore[arg-type]
        d = checker.requestAvatarId(UsernamePassword(b"alice", b"alice-pw"))
        self.threads.runAll()
        self.failureResultOf(d, UnauthorizedLogin)

    def test_2yAndStrings(self) -> None:
        """
        A C{$2y$} hash given directly is verified too, and C{str} user names
        and passwords are taken as UTF-8.
        """
        checker = BcryptChecker(
            {"d\u00f6rte": hashOf("p\u00e4ss".encode(), "$2y$").encode("ascii")},
            reactor=self.threads,  # type: ignore[arg-type]
        )
        d = checker.requestAvatarId(UsernamePassword("d\u00f6rte", "p\u00e4ss"))  # type: ignore[arg-type]
        self.threads.runAll()
        self.assertEqual(result(d), "d\u00f6rte".encode())

    def test_longPassword(self) -> None:
        """
        As with C{htpasswd -B}, only the first 72 bytes of a password count.
        """
        checker = BcryptChecker(
            {"long": hashOf(b"x" * 72).encode("ascii")},
            reactor=self.threads,  # type: ignore[arg-type]
        )
        d = checker.requestAvatarId(UsernamePassword(b"long", b"x" * 100))
        self.threads.runAll()
        self.assertEqual(result(d), b"long")

    def test_badHash(self) -> None:
        """
        A checker refuses a hash that is not bcrypt, without quoting it.
        """
        e = self.assertRaises(
            ValueError, BcryptChecker, {"alice": b"$apr1$abc$def"}, self.threads
        )
        self.assertNotIn("$apr1$abc$def", str(e))
        self.assertIn("'alice'", str(e))

    def test_fromFile(self) -> None:
        """
        L{BcryptChecker.fromFile} checks the users of an htpasswd file.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(f"bob:{hashOf(b'bob-pw', '$2y$')}\n")
        checker = BcryptChecker.fromFile(path, self.threads)  # type: ignore[arg-type]
        d = checker.requestAvatarId(UsernamePassword(b"bob", b"bob-pw"))
        self.threads.runAll()
        self.assertEqual(result(d), b"bob")


class RealThreadTests(TestCase):
    """
    With the reactor's own thread pool, L{BcryptChecker} and
    L{ProxyAuthenticator} work end to end.
    """

    @inlineCallbacks
    def test_checker(self) -> Any:
        """
        The right password succeeds and a wrong one or an unknown user fails,
        with the comparison in the reactor's thread pool.
        """
        checker = BcryptChecker({"alice": hashOf(b"alice-pw").encode("ascii")})
        avatar = yield checker.requestAvatarId(UsernamePassword(b"alice", b"alice-pw"))
        self.assertEqual(avatar, b"alice")
        for user, password in [(b"alice", b"wrong"), (b"bob", b"alice-pw")]:
            d = checker.requestAvatarId(UsernamePassword(user, password))
            yield self.assertFailure(d, UnauthorizedLogin)

    @inlineCallbacks
    def test_authenticator(self) -> Any:
        """
        An authenticator over a real checker accepts good credentials,
        remembers them, and refuses bad ones.
        """
        checker = BcryptChecker({"alice": hashOf(b"alice-pw").encode("ascii")})
        auth = ProxyAuthenticator(checker, reactor=Clock())
        good = basic(b"alice:alice-pw")
        bad = basic(b"alice:wrong")
        self.assertIs(auth.checkCached(good), None)
        self.assertIs((yield auth.check(good)), True)
        self.assertIs(auth.checkCached(good), True)
        self.assertIs((yield auth.check(bad)), False)
        self.assertIs(auth.checkCached(bad), None)


class ParseBasicTests(SynchronousTestCase):
    """
    L{parseBasic} extracts the user name and password from Basic
    credentials and rejects anything malformed.
    """

    def test_valid(self) -> None:
        """
        Well-formed credentials give the user name and password; the scheme
        is case-insensitive and the password may hold colons and any bytes.
        """
        cases = [
            (basic(b"alice:secret"), (b"alice", b"secret")),
            (basic(b"alice:secret", b"basic"), (b"alice", b"secret")),
            (basic(b"alice:secret", b"BASIC"), (b"alice", b"secret")),
            (b"Basic   " + b64encode(b"alice:secret"), (b"alice", b"secret")),
            (basic(b"alice:a:b:c"), (b"alice", b"a:b:c")),
            (basic(b"alice:"), (b"alice", b"")),
            (
                basic("al\u00efce:p\u00e4ss".encode()),
                ("al\u00efce".encode(), "p\u00e4ss".encode()),
            ),
            (basic(b"alice:p\xe4ss\xff"), (b"alice", b"p\xe4ss\xff")),
            (basic(b"Aladdin:open sesame"), (b"Aladdin", b"open sesame")),
        ]
        for value, expected in cases:
            self.assertEqual(parseBasic(value), expected, value)
        # RFC 7617 section 2's example.
        self.assertEqual(
            parseBasic(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            (b"Aladdin", b"open sesame"),
        )

    def test_malformed(self) -> None:
        """
        Other schemes, missing or invalid base64, a missing colon, an empty
        user name and control characters in the user name give C{None}.
        """
        cases = [
            b"",
            b"Basic",
            b"Basic ",
            b"Bearer " + b64encode(b"alice:secret"),
            b"Digest username=alice",
            b"Basicx " + b64encode(b"alice:secret"),
            b"Basic\t" + b64encode(b"alice:secret"),
            b64encode(b"alice:secret"),
            b"Basic !!!!",
            b"Basic YWxpY2U6cw",  # padding missing
            b"Basic YWxp Y2U6c2VjcmV0",
            b"Basic "
            + b64encode(b"alice:\xfb\xff").replace(b"+", b"-").replace(b"/", b"_"),
            b"Basic \xff\xfe",
            basic(b"alicesecret"),
            basic(b":secret"),
            basic(b""),
            basic(b"al\nice:secret"),
            basic(b"al\x00ice:secret"),
            basic(b"al\x7fice:secret"),
        ]
        for value in cases:
            self.assertIs(parseBasic(value), None, value)


class ProxyAuthenticatorTests(SynchronousTestCase):
    """
    L{ProxyAuthenticator} answers from its cache when it can, verifies
    through the checker when it cannot, and remembers only successes, for a
    limited time.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.checker = FakeChecker()
        self.auth = ProxyAuthenticator(self.checker, reactor=self.clock)
        self.good = basic(b"alice:alice-pw")
        self.events: list[LogEvent] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def verify(self, value: bytes, answer: bool = True) -> bool:
        """
        Check C{value}, answer the checker's request, and return the check's
        result.
        """
        d = self.auth.check(value)
        self.assertNoResult(d)
        _, request = self.checker.requests[-1]
        if answer:
            request.callback(b"user")
        else:
            request.errback(UnauthorizedLogin())
        return bool(self.successResultOf(d))

    def test_challenge(self) -> None:
        """
        The challenge names the Basic scheme, the realm and UTF-8.
        """
        self.assertEqual(
            self.auth.challenge, b'Basic realm="proxykit", charset="UTF-8"'
        )

    def test_challengeQuoting(self) -> None:
        """
        Quotes and backslashes in the realm are escaped, non-ASCII is UTF-8,
        and control characters are refused.
        """
        auth = ProxyAuthenticator(
            self.checker, realm='a "b" \\c \u00e9', reactor=self.clock
        )
        self.assertEqual(
            auth.challenge,
            b'Basic realm="a \\"b\\" \\\\c \xc3\xa9", charset="UTF-8"',
        )
        for realm in ["a\r\nX-Injected: 1", "a\x00", "a\x7f"]:
            self.assertRaises(
                ValueError, ProxyAuthenticator, self.checker, realm, self.clock
            )

    def test_absentOrMalformed(self) -> None:
        """
        No credentials, or malformed ones, are refused from the fast path,
        and L{ProxyAuthenticator.check} refuses malformed ones without asking
        the checker.
        """
        self.assertIs(self.auth.checkCached(None), False)
        for value in [b"", b"Basic !!!", b"Bearer abc", basic(b"nocolon")]:
            self.assertIs(self.auth.checkCached(value), False)
            self.assertIs(self.successResultOf(self.auth.check(value)), False)
        self.assertEqual(self.checker.requests, [])

    def test_needsCheck(self) -> None:
        """
        Well-formed credentials not verified yet need a check.
        """
        self.assertIs(self.auth.checkCached(self.good), None)

    def test_success(self) -> None:
        """
        Credentials the checker accepts are good, the checker gets the user
        name and password, and later requests with them are accepted from
        the cache without asking the checker again.
        """
        self.assertIs(self.verify(self.good), True)
        [(credentials, _)] = self.checker.requests
        self.assertEqual(
            (credentials.username, credentials.password), (b"alice", b"alice-pw")
        )
        self.assertIs(self.auth.checkCached(self.good), True)
        self.assertIs(self.successResultOf(self.auth.check(self.good)), True)
        self.assertEqual(len(self.checker.requests), 1)

    def test_exactValue(self) -> None:
        """
        The cache is keyed by the exact header value: other credentials, even
        for the same user, still need a check.
        """
        self.verify(self.good)
        self.assertIs(self.auth.checkCached(basic(b"alice:other")), None)
        self.assertIs(self.auth.checkCached(basic(b"bob:alice-pw")), None)

    def test_noPlaintextInCache(self) -> None:
        """
        The cache does not hold the header value or the password, only
        fixed-size digests.
        """
        self.verify(self.good)
        self.verify(basic(b"bob:bob-pw"))
        keys = list(self.auth._cache)
        self.assertEqual(len(keys), 2)
        for key in keys:
            self.assertEqual(len(key), 32)
            for secret in [self.good, b"alice-pw", b"bob-pw", b"alice", b"bob"]:
                self.assertNotIn(secret, key)

    def test_expiry(self) -> None:
        """
        Verified credentials are accepted from the cache for C{cacheSeconds}
        and need a new check after that.
        """
        auth = ProxyAuthenticator(self.checker, reactor=self.clock, cacheSeconds=60)
        self.auth = auth
        self.assertIs(self.verify(self.good), True)
        self.clock.advance(59.9)
        self.assertIs(auth.checkCached(self.good), True)
        self.clock.advance(0.1)
        self.assertIs(auth.checkCached(self.good), None)
        self.assertIs(self.verify(self.good), True)
        self.assertEqual(len(self.checker.requests), 2)
        self.assertIs(auth.checkCached(self.good), True)

    def test_clockBackwards(self) -> None:
        """
        A clock set back does not stretch a cached success.
        """
        self.clock.advance(1000)
        self.verify(self.good)
        self.clock.rightNow = 10.0
        self.assertIs(self.auth.checkCached(self.good), None)

    def test_cacheOff(self) -> None:
        """
        With C{cacheSeconds=0} every request is verified.
        """
        self.auth = ProxyAuthenticator(self.checker, reactor=self.clock, cacheSeconds=0)
        self.assertIs(self.verify(self.good), True)
        self.assertIs(self.auth.checkCached(self.good), None)

    def test_failureNotCached(self) -> None:
        """
        Credentials the checker refuses are refused, are not remembered
        (they still need a check, and the next check asks the checker
        again), and are logged with the user name but not the password.
        """
        self.assertIs(self.verify(self.good, answer=False), False)
        self.assertIs(self.auth.checkCached(self.good), None)
        self.assertIs(self.verify(self.good, answer=False), False)
        self.assertEqual(len(self.checker.requests), 2)
        failures = [e for e in self.events if e.get("user") == "alice"]
        self.assertEqual(len(failures), 2)
        self.assertEqual(
            formatEvent(failures[0]), "proxy authentication failed for alice"
        )
        for event in self.events:
            self.assertNotIn("alice-pw", repr(event))
            self.assertNotIn(self.good.decode("ascii"), repr(event))

    def test_checkerError(self) -> None:
        """
        An unexpected error from the checker refuses the credentials and is
        logged as a failure, still without the password.
        """
        d = self.auth.check(self.good)
        self.checker.requests[0][1].errback(RuntimeError("boom"))
        self.assertIs(self.successResultOf(d), False)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertIs(self.auth.checkCached(self.good), None)
        for event in self.events:
            self.assertNotIn("alice-pw", repr(event))

    def test_synchronousChecker(self) -> None:
        """
        A checker that answers at once (even without a Deferred) works too.
        """

        @implementer(ICredentialsChecker)
        class Immediate:
            credentialInterfaces = (IUsernamePassword,)

            def requestAvatarId(self, credentials: Any) -> bytes:
                if credentials.password == b"alice-pw":
                    return b"alice"
                raise UnauthorizedLogin()

        auth = ProxyAuthenticator(Immediate(), reactor=self.clock)
        self.assertIs(self.successResultOf(auth.check(self.good)), True)
        self.assertIs(auth.checkCached(self.good), True)
        bad = basic(b"alice:nope")
        self.assertIs(self.successResultOf(auth.check(bad)), False)
        self.assertEqual(auth._pending, {})

    def test_concurrentShare(self) -> None:
        """
        Concurrent checks of the same credentials share one verification;
        different credentials get their own.
        """
        first = self.auth.check(self.good)
        second = self.auth.check(self.good)
        other = self.auth.check(basic(b"bob:bob-pw"))
        self.assertEqual(len(self.checker.requests), 2)
        self.checker.requests[0][1].callback(b"alice")
        self.assertIs(self.successResultOf(first), True)
        self.assertIs(self.successResultOf(second), True)
        self.assertNoResult(other)
        self.checker.requests[1][1].errback(UnauthorizedLogin())
        self.assertIs(self.successResultOf(other), False)
        self.assertEqual(self.auth._pending, {})

    def test_concurrentFailure(self) -> None:
        """
        Checks sharing a verification that fails are all refused.
        """
        first = self.auth.check(self.good)
        second = self.auth.check(self.good)
        self.checker.requests[0][1].errback(UnauthorizedLogin())
        self.assertIs(self.successResultOf(first), False)
        self.assertIs(self.successResultOf(second), False)
        self.assertEqual(len(self.checker.requests), 1)

    def test_cancel(self) -> None:
        """
        Cancelling one of several checks sharing a verification (its client
        went away) leaves the others waiting for the answer.
        """
        first = self.auth.check(self.good)
        second = self.auth.check(self.good)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertNoResult(second)
        self.checker.requests[0][1].callback(b"alice")
        self.assertIs(self.successResultOf(second), True)
        self.assertIs(self.auth.checkCached(self.good), True)

    def test_bounded(self) -> None:
        """
        The cache holds at most C{maxCache} credentials, forgetting the
        oldest first.
        """
        auth = ProxyAuthenticator(self.checker, reactor=self.clock, maxCache=2)
        self.auth = auth
        values = [basic(b"user%d:pw" % i) for i in range(3)]
        for value in values:
            self.clock.advance(1)
            self.verify(value)
        self.assertEqual(
            [auth.checkCached(value) for value in values], [None, True, True]
        )
        self.assertEqual(len(auth._cache), 2)

    def test_maxPending(self) -> None:
        """
        Beyond C{maxPending} different verifications in progress, further
        credentials are refused at once; the same credentials still join
        theirs.
        """
        auth = ProxyAuthenticator(self.checker, reactor=self.clock, maxPending=1)
        first = auth.check(self.good)
        self.assertIs(self.successResultOf(auth.check(basic(b"bob:pw"))), False)
        joined = auth.check(self.good)
        self.assertEqual(len(self.checker.requests), 1)
        self.checker.requests[0][1].callback(b"alice")
        self.assertIs(self.successResultOf(first), True)
        self.assertIs(self.successResultOf(joined), True)
        self.assertTrue(any(e.get("user") == "bob" for e in self.events))

    def test_linesNameTheRequest(self) -> None:
        """
        Given the request's context (the relay's refusal prefix and fields),
        a failed check's line and a refused one's name the client, the
        method, the target and the request id before the reason.
        """
        context = (PREFIX, fieldsOf(ClientInfo("192.0.2.7", "127.0.0.1", 8080, peerPort=5000),
                                    Request(b"GET", b"http://x.test/", b"1.1", [], 0, 0, True,
                                            frozenset(), None, False, False), b"id-1"))
        auth = ProxyAuthenticator(self.checker, reactor=self.clock, maxPending=1)
        first = auth.check(self.good, context)
        self.assertIs(self.successResultOf(auth.check(basic(b"bob:pw"), context)), False)
        self.checker.requests[0][1].errback(UnauthorizedLogin())
        self.assertIs(self.successResultOf(first), False)
        lines = [formatEvent(e) for e in self.events if e.get("user") in ("alice", "bob")]
        self.assertEqual(
            lines,
            [
                "192.0.2.7:5000 GET http://x.test/ [id-1]: too many proxy authentication"
                " checks in progress; refusing bob",
                "192.0.2.7:5000 GET http://x.test/ [id-1]: proxy authentication failed for alice",
            ],
        )

    def test_clearCache(self) -> None:
        """
        After L{ProxyAuthenticator.clearCache}, remembered credentials need a
        new check, and a verification that started before is not
        remembered.
        """
        self.verify(self.good)
        self.auth.clearCache()
        self.assertIs(self.auth.checkCached(self.good), None)
        before = self.auth.check(self.good)
        self.auth.clearCache()
        after = self.auth.check(self.good)
        self.assertEqual(len(self.checker.requests), 3)
        self.checker.requests[1][1].callback(b"alice")
        self.assertIs(self.successResultOf(before), True)
        self.assertNoResult(after)
        self.assertIs(self.auth.checkCached(self.good), None)
        self.checker.requests[2][1].callback(b"alice")
        self.assertIs(self.successResultOf(after), True)
        self.assertIs(self.auth.checkCached(self.good), True)

    def test_withBcryptChecker(self) -> None:
        """
        Over a L{BcryptChecker}, concurrent checks of the same credentials
        cost one bcrypt computation.
        """
        threads = FakeThreads()
        checker = BcryptChecker(
            {"alice": hashOf(b"alice-pw").encode("ascii")},
            reactor=threads,  # type: ignore[arg-type]
        )
        auth = ProxyAuthenticator(checker, reactor=self.clock)
        checks = [auth.check(self.good) for _ in range(3)]
        bad = auth.check(basic(b"alice:wrong"))
        self.assertEqual(len(threads.queue), 2)
        threads.runAll()
        self.assertEqual([self.successResultOf(d) for d in checks], [True] * 3)
        self.assertIs(self.successResultOf(bad), False)
        self.assertIs(auth.checkCached(self.good), True)

    def test_username(self) -> None:
        """
        The user name is available for logging, with undecodable bytes
        escaped, and C{None} for malformed credentials.
        """
        self.assertEqual(self.auth.username(self.good), "alice")
        self.assertEqual(
            self.auth.username(basic("j\u00fcrgen:x".encode())), "j\u00fcrgen"
        )
        self.assertEqual(self.auth.username(basic(b"j\xfcrgen:x")), "j\\xfcrgen")
        self.assertIs(self.auth.username(b"Bearer x"), None)
