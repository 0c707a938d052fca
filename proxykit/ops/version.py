# -*- test-case-name: tests.test_service -*-
"""
Which configuration a running proxy serves: a digest of the effective
configuration and when it was loaded.  The admin listener's C{/status}
and the C{proxykit_config_info} metric show it; a reload replaces it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from attrs import frozen

from ..config.values import ProxyConfig


@frozen
class ConfigVersion:
    """
    One loaded configuration.

    @ivar digest: The first 16 hex digits of the SHA-256 of the effective
        configuration (the file and the command line together, as
        C{repr} of the L{ProxyConfig}): equal configurations have equal
        digests.
    @ivar loadedAt: When it was loaded, in the reactor's seconds.
    @ivar source: The file it was read from, or C{None}.
    """

    digest: str
    loadedAt: float
    source: str | None = None

    @classmethod
    def of(cls, config: ProxyConfig, loadedAt: float, source: str | None = None) -> ConfigVersion:
        """
        The version of C{config}, loaded at C{loadedAt}.
        """
        digest = hashlib.sha256(repr(config).encode("utf-8")).hexdigest()[:16]
        return cls(digest, loadedAt, source)


@frozen
class ReloadOutcome:
    """
    What one reload attempt did.

    @ivar succeeded: Whether the new configuration is now served.
    @ivar version: The version served after the attempt (the old one when
        it failed).
    @ivar problem: Why it failed (the same text as at start: file, line
        and key), or C{None}.
    """

    succeeded: bool
    version: ConfigVersion
    problem: str | None = None


ReloadObserver = Callable[[ReloadOutcome], None]
