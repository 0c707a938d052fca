# -*- test-case-name: tests.test_tap -*-
"""
C{twistd proxykit}: command-line options to a service.

    twistd -n proxykit forward [--listen ENDPOINT]... [--connect-port N]...
                               [--config FILE] [--connect-timeout S]
                               [--response-timeout S] [--idle-timeout S]

Command-line values override the config file; a repeated option replaces the
file's whole list.
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.application.service import IService
from twisted.python import usage

from .config import ConfigError, ProxyConfig, parsePort
from .service import forwardService


def _seconds(flag: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number != number or number == float("inf"):
        raise usage.UsageError(f"{flag}: expected a positive number of seconds, got {value!r}")
    return number


class ForwardOptions(usage.Options):
    """
    Options of C{twistd proxykit forward}.
    """

    synopsis = "[options]"
    longdesc = (
        "Run a forward HTTP proxy: absolute-form http:// requests and CONNECT "
        "tunnels.  Listens on tcp:8080:interface=127.0.0.1 by default."
    )
    optParameters = [
        ["config", "c", None, "Read settings from this TOML file."],
        ["connect-timeout", None, None, "Seconds to connect to an origin (default 10)."],
        ["response-timeout", None, None, "Seconds of origin silence before 504 (default 60)."],
        ["idle-timeout", None, None, "Seconds an idle client connection is kept (default 60)."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["listen"] = []
        self["connect-ports"] = []

    def opt_listen(self, description: str) -> None:
        """Listen on this endpoint (repeatable; default tcp:8080:interface=127.0.0.1)."""
        self["listen"].append(description)

    opt_l = opt_listen

    def opt_connect_port(self, port: str) -> None:
        """
        Allow CONNECT to this port (repeatable; default 443 only).
        """
        try:
            self["connect-ports"].append(parsePort(port))
        except ValueError:
            raise usage.UsageError(f"--connect-port: expected a port (1-65535), got {port!r}")

    def postOptions(self) -> None:
        self["proxyConfig"] = self.toConfig()

    def toConfig(self) -> ProxyConfig:
        """
        The configuration: the file (if any), then the command line.
        """
        path = self["config"]
        try:
            config = ProxyConfig.fromFile(path) if path else ProxyConfig()
        except ConfigError as e:
            raise usage.UsageError(str(e))
        if self["listen"]:
            config = attrs.evolve(config, listen=tuple(self["listen"]))
        if self["connect-ports"]:
            config = attrs.evolve(
                config,
                forward=attrs.evolve(config.forward, connectPorts=frozenset(self["connect-ports"])),
            )
        timeouts = config.timeouts
        changes: dict[str, Any] = {}
        for flag, field in (
            ("connect-timeout", "connect"),
            ("response-timeout", "response"),
            ("idle-timeout", "idle"),
        ):
            if self[flag] is not None:
                changes[field] = _seconds("--" + flag, self[flag])
        if changes:
            config = attrs.evolve(config, timeouts=attrs.evolve(timeouts, **changes))
        return config


class Options(usage.Options):
    """
    Options of C{twistd proxykit}.
    """

    subCommands = [
        ["forward", None, ForwardOptions, "Run a forward proxy."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("choose a mode: forward")


def makeService(options: Options) -> IService:
    """
    The service for the chosen mode.
    """
    sub = options.subOptions
    return forwardService(sub["proxyConfig"])
