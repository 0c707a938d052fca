# -*- test-case-name: tests.test_requestid -*-
"""
Request ids: the C{X-Request-Id} each request carries through the proxy.

Every request gets one id, decided when its head arrives (L{RequestIds}):
the client's own when it is well-formed (L{wellFormed}) and the mode
allows it, else a new one.  The id goes to the origin (one
C{X-Request-Id} field, replacing whatever the client sent; see
L{proxykit.policy.rewrite.forwardHeaders}), into the access log, into the
body and head of the error responses the proxy writes, and into the lines
it logs about refusals and failures.

The modes (C{[log] request_id}):

  - L{KEEP} (the default): keep the client's id when it is well-formed,
    else generate one.
  - L{TRUSTED}: keep it only from a trusted proxy (C{[reverse]
    trusted_proxies}); anyone else's is replaced.
  - L{GENERATE}: always generate one; the client's is replaced.
  - L{OFF}: no id at all: nothing is added, and the client's field is
    passed on untouched like any other.

A generated id is 32 lower-case hexadecimal digits, like nginx's
C{$request_id}: 16 random ones chosen once per L{RequestIds} (so per
process), then a 64-bit counter.  Ids are unique within a process and,
with high probability, across processes and restarts; they are not
secret and not unpredictable (they need not be: an id names a request,
it grants nothing).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import count
from typing import Final

from ..config.checks import AddressSet
from ..config.values import REQUEST_ID_MODES, ProxyConfig

__all__ = [
    "FIELD",
    "GENERATE",
    "KEEP",
    "MAX_LENGTH",
    "MODES",
    "OFF",
    "TRUSTED",
    "RequestIds",
    "wellFormed",
]

FIELD: Final = b"X-Request-Id"
"""The field's name as the proxy sends it."""

FIELD_LOWER: Final = b"x-request-id"
"""The field's name in lower case, for comparisons."""

KEEP: Final = "keep"
TRUSTED: Final = "trusted"
GENERATE: Final = "generate"
OFF: Final = "off"
MODES: Final = REQUEST_ID_MODES
"""The values of C{[log] request_id}: L{KEEP}, L{TRUSTED}, L{GENERATE},
L{OFF}."""

MAX_LENGTH: Final = 128
"""The longest client id kept, in bytes."""

# RFC 9110 section 5.6.2:
#   token          = 1*tchar
#   tchar          = "!" / "#" / "$" / "%" / "&" / "'" / "*"
#                  / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
#                  / DIGIT / ALPHA
_TCHAR: Final = (
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def wellFormed(value: bytes) -> bool:
    """
    Whether a client's C{X-Request-Id} value may be kept: a token (RFC 9110
    section 5.6.2) of 1 to L{MAX_LENGTH} bytes.  Anything else (empty, too
    long, spaces, quotes, controls, bytes beyond ASCII) is replaced, never
    repeated in a log or a response.
    """
    return 0 < len(value) <= MAX_LENGTH and not value.translate(None, _TCHAR)


class RequestIds:
    """
    Decides each request's id (see the module docstring).

    @ivar mode: One of L{MODES}.
    """

    __slots__ = ("mode", "_format", "_next", "_trusted", "_keep")

    def __init__(
        self, mode: str = KEEP, trusted: Iterable[str] = (), seed: bytes | None = None
    ) -> None:
        """
        @param mode: One of L{MODES}.
        @param trusted: Networks (CIDR) whose ids are kept in L{TRUSTED}
            mode.
        @param seed: The 8 bytes the generated ids start with (in hex);
            C{None}: random ones.

        @raise ValueError: An unknown C{mode}, or a C{seed} that is not 8
            bytes.
        """
        if mode not in MODES:
            raise ValueError(f"request id mode must be one of {', '.join(MODES)}, not {mode!r}")
        if seed is None:
            seed = os.urandom(8)
        if len(seed) != 8:
            raise ValueError("the seed of request ids is 8 bytes")
        self.mode = mode
        # The seed's hex digits, then the counter's: one formatting a
        # request.
        self._format = seed.hex().encode("ascii") + b"%016x"
        self._next = count(1).__next__
        self._trusted = AddressSet(tuple(trusted)) if mode == TRUSTED else None
        self._keep = mode == KEEP

    @classmethod
    def fromConfig(cls, config: ProxyConfig) -> RequestIds:
        """
        The ids C{config} asks for: C{[log] request_id}, trusting
        C{[reverse] trusted_proxies}.
        """
        return cls(config.log.requestId, config.reverse.trustedProxies)

    def generate(self) -> bytes:
        """
        A new id: 32 lower-case hex digits, never the same twice from this
        object.
        """
        return self._format % (self._next(),)

    def fresh(self) -> bytes | None:
        """
        An id for a request whose head could not be read (a malformed or
        incomplete one): a new one, or C{None} in L{OFF} mode.
        """
        if self.mode == OFF:
            return None
        return self.generate()

    def choose(self, received: bytes | None, peerHost: str) -> bytes | None:
        """
        The id of a request.

        @param received: The client's C{X-Request-Id} value
            (L{proxykit.h1.Request.requestId}): C{None} when it sent none,
            empty when it sent the field more than once.
        @param peerHost: The address of the client's connection (for
            L{TRUSTED}).
        @return: The client's id, a new one, or C{None} in L{OFF} mode.
        """
        if received is None:
            # The common case: no id from the client (generate() inlined:
            # this runs for every request).
            if self.mode == OFF:
                return None
            return self._format % (self._next(),)
        if self._keep:
            if wellFormed(received):
                return received
            return self.generate()
        trusted = self._trusted
        if trusted is not None:
            if wellFormed(received) and peerHost in trusted:
                return received
            return self.generate()
        return self.fresh()
