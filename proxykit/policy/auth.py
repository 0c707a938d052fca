# -*- test-case-name: tests.test_auth -*-
"""
Proxy authentication: HTTP Basic credentials (RFC 7617) checked against
bcrypt hashes from an htpasswd-style file.

RFC 9110 section 11.7.1: "The Proxy-Authenticate header field consists of at
least one challenge that indicates the authentication scheme(s) and
parameters applicable to the proxy for this request-target.  A proxy MUST
send at least one Proxy-Authenticate header field in each 407 (Proxy
Authentication Required) response that it generates."  Section 11.7.2: "The
Proxy-Authorization header field allows the client to identify itself (or
its user) to a proxy that requires authentication."

Three parts:

  - L{loadHtpasswd} reads C{user:hash} lines and accepts only bcrypt hashes
    (C{htpasswd -B}); everything weaker is refused when the file is loaded,
    not when someone tries to log in.
  - L{BcryptChecker} is a L{twisted.cred} checker running C{bcrypt.checkpw}
    in a thread pool, so the reactor thread never spends the ~0.25 s a
    cost-12 hash takes.
  - L{ProxyAuthenticator} is what the protocol uses: L{checkCached} answers
    most requests with a dictionary lookup (successful credentials are
    remembered for a while, under a keyed hash of the header value), and
    L{check} goes to the checker when it cannot.

C{Proxy-Authorization} is hop-by-hop for proxykit and is removed before
forwarding by L{proxykit.policy.rewrite.forwardHeaders}.
"""

from __future__ import annotations

import binascii
import hmac
import os
import re
from base64 import b64decode
from collections.abc import Mapping
from typing import Any, Final

import bcrypt
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from ..reactor import NamedLogger, orGlobal

_BCRYPT: Final = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
"""
A complete bcrypt hash in modular crypt format: C{$2b$}, a two-digit cost
from 4 to 31, C{$}, then 22 characters of salt and 31 of checksum.
"""

_MAX_PASSWORD: Final = 72
"""
bcrypt uses at most this many bytes of a password.  C{htpasswd -B} (and
bcrypt libraries before 5.0) silently ignore the rest, so passwords are cut
here to verify hashes made that way.
"""

_DEFAULT_COST: Final = 12
"""The cost of the stand-in hash when a checker has no users to copy it from."""


def _hasControl(text: str) -> bool:
    return any(c < " " or "\x7f" <= c <= "\x9f" for c in text)


class HtpasswdError(ValueError):
    """
    An htpasswd file could not be used.

    The message names the file, the line and the problem, and never contains
    a hash: a file refused for holding weak hashes should not have them
    copied into logs.

    @ivar path: The file.
    @ivar line: The 1-based line number.
    @ivar problem: What is wrong with that line.
    """

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(path, line, problem)
        self.path = path
        self.line = line
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def _hashProblem(hashed: str) -> str | None:
    """
    Why C{hashed} is not an accepted bcrypt hash, or C{None} if it is.

    The answer never quotes C{hashed}.
    """
    if _BCRYPT.fullmatch(hashed):
        return None
    use = "; only bcrypt hashes are accepted (htpasswd -B)"
    if not hashed:
        return "empty password hash" + use
    if hashed.startswith("$apr1$"):
        return "$apr1$ (MD5) hash refused" + use
    if hashed.startswith("{SHA}"):
        return "{SHA} hash refused" + use
    if hashed.startswith("$2"):
        return "malformed or unsupported bcrypt hash"
    if hashed.startswith("$"):
        return "crypt(3) hash refused" + use
    return "plain text or DES crypt password refused" + use


def _normalizeHash(hashed: str) -> bytes:
    """
    C{hashed} as the bcrypt library takes it.

    C{$2y$} (PHP's and Apache's name, from C{htpasswd -B}) and C{$2b$} are
    the same algorithm; the library only knows C{$2b$}.
    """
    if hashed.startswith("$2y$"):
        hashed = "$2b$" + hashed[4:]
    return hashed.encode("ascii")


def loadHtpasswd(path: str) -> dict[str, bytes]:
    """
    Read an htpasswd-style file of bcrypt hashes.

    Each line is C{user:hash}; surrounding spaces and tabs are ignored, and
    so are blank lines and lines starting with C{#}.  The file is UTF-8.
    Only bcrypt hashes (C{$2a$}, C{$2b$}, C{$2y$}) are accepted: plain text,
    DES and other crypt(3) hashes, Apache's C{$apr1$} MD5 and C{{SHA}} are
    all refused, since they fall quickly to offline guessing.

    @param path: The file.
    @return: The bcrypt hash of each user, with C{$2y$} rewritten as the
        equivalent C{$2b$}.
    @raise HtpasswdError: A line is malformed, holds a refused hash, has a
        user name that is empty or contains a control character, or repeats
        an earlier user.
    @raise OSError: The file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read()
    users: dict[str, bytes] = {}
    firstLine: dict[str, int] = {}
    for number, raw in enumerate(data.splitlines(), 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            line = raw.decode("utf-8").strip(" \t")
        except UnicodeDecodeError:
            raise HtpasswdError(path, number, "not UTF-8")
        if not line or line.startswith("#"):
            continue
        user, colon, hashed = line.partition(":")
        if not colon:
            raise HtpasswdError(path, number, "expected user:hash")
        if not user:
            raise HtpasswdError(path, number, "empty user name")
        if _hasControl(user):
            raise HtpasswdError(path, number, "control character in user name")
        problem = _hashProblem(hashed)
        if problem is not None:
            raise HtpasswdError(path, number, f"user {user!r}: {problem}")
        if user in users:
            raise HtpasswdError(
                path,
                number,
                f"duplicate user {user!r} (first on line {firstLine[user]})",
            )
        users[user] = _normalizeHash(hashed)
        firstLine[user] = number
    return users


def _checkPassword(password: bytes, hashed: bytes) -> bool:
    """
    The bcrypt comparison, run in a pool thread.
    """
    return bcrypt.checkpw(password[:_MAX_PASSWORD], hashed)


@implementer(ICredentialsChecker)
class BcryptChecker:
    """
    Checks user names and passwords against bcrypt hashes, in a thread pool.

    A user name that is not known costs as much as a wrong password: its
    password is checked against a stand-in hash with the highest cost among
    the known users' hashes, so the time taken does not tell which user
    names exist.

    @ivar credentialInterfaces: L{IUsernamePassword}.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(
        self,
        users: Mapping[str, bytes],
        reactor: IReactorThreads | None = None,
        threadpool: ThreadPool | None = None,
    ) -> None:
        """
        @param users: The bcrypt hash of each user, as from L{loadHtpasswd}.
        @param reactor: Delivers results from the pool thread; the global
            reactor by default.
        @param threadpool: Runs the comparisons; C{reactor}'s thread pool by
            default.
        @raise ValueError: A hash is not a bcrypt hash.
        """
        reactor = orGlobal(reactor)
        self._reactor = reactor
        self._threadpool = threadpool
        self._users: dict[bytes, bytes] = {}
        cost = 0
        for user, hashed in users.items():
            text = hashed.decode("ascii", "replace")
            problem = _hashProblem(text)
            if problem is not None:
                raise ValueError(f"user {user!r}: {problem}")
            self._users[user.encode("utf-8")] = _normalizeHash(text)
            cost = max(cost, int(text[4:6]))
        self._dummy = b"$2b$%02d$" % (cost or _DEFAULT_COST) + b"." * 53

    @classmethod
    def fromFile(
        cls,
        path: str,
        reactor: IReactorThreads | None = None,
        threadpool: ThreadPool | None = None,
    ) -> BcryptChecker:
        """
        A checker for the users of an htpasswd file, see L{loadHtpasswd}.

        @raise HtpasswdError: The file is refused.
        @raise OSError: The file cannot be read.
        """
        return cls(loadHtpasswd(path), reactor, threadpool)

    def requestAvatarId(
        self, credentials: IUsernamePassword
    ) -> Deferred[bytes | tuple[()]]:
        """
        Check a user name and password.

        @param credentials: An L{IUsernamePassword} with C{bytes} (or UTF-8
            C{str}) C{username} and C{password}.
        @return: Fires with the user name as C{bytes}, or fails with
            L{UnauthorizedLogin} if the user is unknown or the password
            wrong.
        """
        username = credentials.username
        password = credentials.password
        if isinstance(username, str):
            username = username.encode("utf-8")
        if isinstance(password, str):
            password = password.encode("utf-8")
        hashed = self._users.get(username)
        known = hashed is not None
        if hashed is None:
            hashed = self._dummy
        if self._threadpool is None:
            self._threadpool = self._reactor.getThreadPool()
        d = deferToThreadPool(
            self._reactor, self._threadpool, _checkPassword, password, hashed
        )

        def decide(matched: bool) -> bytes | tuple[()]:
            if matched and known:
                return username
            raise UnauthorizedLogin()

        return d.addCallback(decide)


def parseBasic(value: bytes) -> tuple[bytes, bytes] | None:
    """
    The user name and password in a C{Proxy-Authorization} value for the
    Basic scheme.

    RFC 7617 section 2: "the client sends the user-id and password,
    separated by a single colon (":") character, within a Base64-encoded
    string in the credentials. [...] a user-id containing a colon character
    is invalid."  And: "The user-id and password MUST NOT contain any
    control characters".  The scheme name is case-insensitive (RFC 9110
    section 11.1).  The password is returned as sent (any bytes; clients
    told C{charset="UTF-8"} send UTF-8); a user name with a control
    character is refused, since it cannot match a loaded user and would end
    up in logs.

    @param value: The field value, e.g. C{b"Basic dXNlcjpwYXNz"}.
    @return: C{(user, password)}, or C{None} if C{value} is not well-formed
        Basic credentials with a non-empty user name.
    """
    scheme, space, token = value.strip(b" \t").partition(b" ")
    if not space or scheme.lower() != b"basic":
        return None
    try:
        decoded = b64decode(token.lstrip(b" "), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon or not user:
        return None
    if any(c < 0x20 or c == 0x7F for c in user):
        return None
    return user, password


def _quoted(text: str) -> bytes:
    """
    C{text} as an RFC 9110 section 5.6.4 quoted-string, in UTF-8.
    """
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8") + b'"'


LogContext = tuple[str, Mapping[str, Any]]
"""How a check's log lines name its request: a format prefix and the fields
it names (the relay's C{PREFIX} and C{fieldsOf}, see
L{proxykit.relay.logfields})."""

_NO_CONTEXT: LogContext = ("", {})


class ProxyAuthenticator:
    """
    Decides whether a request's C{Proxy-Authorization} value lets it through.

    The protocol calls L{checkCached} for every request.  C{True} lets the
    request through and C{False} answers 407 with L{challenge}; C{None}
    means the credentials must be verified: the protocol calls L{check} and
    waits for its answer.

    Verified credentials are remembered for C{cacheSeconds}: within that
    time the same header value is accepted without a bcrypt computation,
    even if the user has since been removed (call L{clearCache} when the
    users change).  The cache is keyed by an HMAC-SHA-256 of the header
    value under a random key made for this authenticator, so it holds
    neither header values nor passwords, and its entries are of no use for
    offline guessing without that key.  Failures are not remembered.

    @ivar challenge: The C{Proxy-Authenticate} value for 407 responses.
    """

    _log = NamedLogger("proxykit.auth.ProxyAuthenticator")

    def __init__(
        self,
        checker: ICredentialsChecker,
        realm: str = "proxykit",
        reactor: IReactorTime | None = None,
        cacheSeconds: float = 300.0,
        maxCache: int = 1024,
        maxPending: int = 256,
    ) -> None:
        """
        @param checker: Verifies L{UsernamePassword} credentials, e.g. a
            L{BcryptChecker}.
        @param realm: The protection space named in the challenge.
        @param reactor: The clock for cache expiry; the global reactor by
            default.
        @param cacheSeconds: How long verified credentials are accepted
            without verifying them again; C{0} turns the cache off.
        @param maxCache: How many verified credentials are remembered; the
            oldest are forgotten first.
        @param maxPending: How many different credentials may be under
            verification at once; beyond that, L{check} answers C{False}
            at once rather than queue more work for the thread pool.
        @raise ValueError: C{realm} contains a control character.
        """
        if _hasControl(realm):
            raise ValueError("realm must not contain control characters")
        reactor = orGlobal(reactor)
        self._checker = checker
        self._clock = reactor
        self._cacheSeconds = cacheSeconds
        self._maxCache = maxCache if cacheSeconds > 0 else 0
        self._maxPending = maxPending
        self._key = os.urandom(32)
        self._cache: dict[bytes, float] = {}
        self._pending: dict[bytes, list[Deferred[bool]]] = {}
        self._generation = 0
        self.challenge: bytes = b"Basic realm=" + _quoted(realm) + b', charset="UTF-8"'

    def _digest(self, value: bytes) -> bytes:
        return hmac.digest(self._key, value, "sha256")

    def _cached(self, key: bytes) -> bool:
        verifiedAt = self._cache.get(key)
        if verifiedAt is None:
            return False
        if 0 <= self._clock.seconds() - verifiedAt < self._cacheSeconds:
            return True
        del self._cache[key]
        return False

    def checkCached(self, value: bytes | None) -> bool | None:
        """
        Answer from memory if possible.

        @param value: The C{Proxy-Authorization} value, or C{None} if the
            request had none.
        @return: C{False} for no or malformed credentials, C{True} for
            credentials verified less than C{cacheSeconds} ago, and C{None}
            when L{check} must verify them.
        """
        if value is None:
            return False
        if self._cached(self._digest(value)):
            return True
        if parseBasic(value) is None:
            return False
        return None

    def check(self, value: bytes, context: LogContext | None = None) -> Deferred[bool]:
        """
        Verify credentials with the checker, remembering them if they are
        good.

        Concurrent checks of the same value share one verification.
        Failures are logged with the user name (never the password), and
        with the request C{context} names.

        @param value: The C{Proxy-Authorization} value.
        @param context: The request being checked, for the log lines: the
            relay's refusal prefix and its fields (client, method, target,
            request id).
        @return: Fires with C{True} if the credentials are good and C{False}
            otherwise; never fails, except with L{CancelledError} if
            cancelled.
        """
        credentials = parseBasic(value)
        if credentials is None:
            return succeed(False)
        user, password = credentials
        key = self._digest(value)
        if self._cached(key):
            return succeed(True)
        waiters = self._pending.get(key)
        start = waiters is None
        if waiters is None:
            if len(self._pending) >= self._maxPending:
                prefix, fields = context or _NO_CONTEXT
                self._log.warn(
                    prefix + "too many proxy authentication checks in progress; refusing {user}",
                    user=_display(user),
                    **fields,
                )
                return succeed(False)
            waiters = self._pending[key] = []

        def cancel(d: Deferred[bool]) -> None:
            pending = self._pending.get(key)
            if pending is not None and d in pending:
                pending.remove(d)

        waiter: Deferred[bool] = Deferred(cancel)
        waiters.append(waiter)
        if start:
            self._verify(key, waiters, user, password, context or _NO_CONTEXT)
        return waiter

    def _verify(
        self,
        key: bytes,
        waiters: list[Deferred[bool]],
        user: bytes,
        password: bytes,
        context: LogContext,
    ) -> None:
        """
        Run the checker and give its answer to C{waiters}, the checks of
        C{key} waiting for it (logged as C{context}, the first one's).
        """
        prefix, fields = context
        generation = self._generation

        def succeeded(avatarId: object) -> bool:
            if self._maxCache > 0 and generation == self._generation:
                self._cache.pop(key, None)
                while len(self._cache) >= self._maxCache:
                    del self._cache[next(iter(self._cache))]
                self._cache[key] = self._clock.seconds()
            return True

        def failed(failure: Failure) -> bool:
            if isinstance(failure.value, UnauthorizedLogin):
                self._log.info(
                    prefix + "proxy authentication failed for {user}",
                    user=_display(user),
                    **fields,
                )
            else:
                self._log.failure(
                    prefix + "proxy authentication error for {user}",
                    failure,
                    user=_display(user),
                    **fields,
                )
            return False

        def deliver(result: bool) -> None:
            if self._pending.get(key) is waiters:
                del self._pending[key]
            for waiter in waiters:
                if not waiter.called:
                    waiter.callback(result)

        d = maybeDeferred(
            self._checker.requestAvatarId, UsernamePassword(user, password)
        )
        d.addCallbacks(succeeded, failed).addCallback(deliver)

    def clearCache(self) -> None:
        """
        Forget all verified credentials, e.g. after the users changed.

        Verifications already in progress still answer the checks waiting
        for them, but their successes are not remembered, and later checks
        start new verifications.
        """
        self._cache.clear()
        self._pending = {}
        self._generation += 1

    def username(self, value: bytes) -> str | None:
        """
        The user name in C{value}, for logging.

        @param value: A C{Proxy-Authorization} value.
        @return: The user name (UTF-8, undecodable bytes shown as escapes),
            or C{None} if C{value} is not well-formed Basic credentials.
        """
        credentials = parseBasic(value)
        if credentials is None:
            return None
        return _display(credentials[0])


def _display(user: bytes) -> str:
    return user.decode("utf-8", "backslashreplace")


__all__ = [
    "BcryptChecker",
    "HtpasswdError",
    "ProxyAuthenticator",
    "loadHtpasswd",
    "parseBasic",
]
