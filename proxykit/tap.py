# -*- test-case-name: tests.test_tap -*-
"""
C{twistd proxykit}: command-line options to a service.

    twistd -n proxykit forward [--listen ENDPOINT]... [--connect-port N]...
                               [--config FILE] [--connect-timeout S]
                               [--response-timeout S] [--idle-timeout S]

    twistd -n proxykit reverse [--listen ENDPOINT]... [--route HOST=URL[,URL...]]...
                               [--config FILE] [--default HOST]
                               [--trusted-proxy CIDR]... [--forward-proxy]
                               [--connect-timeout S] [--response-timeout S]
                               [--idle-timeout S]

Command-line values override the config file; a repeated option replaces the
file's whole list, except C{--route}, which adds virtual hosts to the file's.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

import attrs
from twisted.application.service import IService
from twisted.python import usage

from .config import (
    DEFAULT_LISTEN,
    DEFAULT_REVERSE_LISTEN,
    ConfigError,
    OriginConfig,
    ProxyConfig,
    RouteConfig,
    VhostConfig,
    checkOriginURL,
    defaultHostProblem,
    hostKey,
    parseHost,
    parsePort,
)
from .service import forwardService, reverseService


def _seconds(flag: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number != number or number == float("inf"):
        raise usage.UsageError(f"{flag}: expected a positive number of seconds, got {value!r}")
    return number


def parseRoute(value: str) -> VhostConfig:
    """
    Read a C{--route} value, C{HOST=URL[,URL...]}: a virtual host with one
    route for every path, balanced round-robin over the URLs.

    @raise usage.UsageError: The host or a URL is malformed.
    """
    host, sep, urls = value.partition("=")
    if not sep:
        raise usage.UsageError(f"--route: expected HOST=URL[,URL...], got {value!r}")
    try:
        parseHost(host)
        origins = tuple(OriginConfig(checkOriginURL(url)) for url in urls.split(","))
    except ValueError as e:
        raise usage.UsageError(f"--route {value!r}: {e}")
    return VhostConfig(hosts=(host,), routes=(RouteConfig(origins=origins),))


class _ModeOptions(usage.Options):
    """
    What both modes share: C{--listen}, C{--config} and the timeouts.

    A subclass names its default listener and applies its own flags in
    L{applyMode}.
    """

    defaultListen: ClassVar[str]

    synopsis = "[options]"
    optParameters = [
        ["config", "c", None, "Read settings from this TOML file."],
        ["connect-timeout", None, None, "Seconds to connect to an origin (default 10)."],
        ["response-timeout", None, None, "Seconds of origin silence before 504 (default 60)."],
        ["idle-timeout", None, None, "Seconds an idle client connection is kept (default 60)."],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["listen"] = []
        self.docs["listen"] = f"Listen on this endpoint (repeatable; default {self.defaultListen})."

    def opt_listen(self, description: str) -> None:
        """Listen on this endpoint (repeatable)."""
        self["listen"].append(description)

    opt_l = opt_listen

    def postOptions(self) -> None:
        self["proxyConfig"] = self.toConfig()

    def toConfig(self) -> ProxyConfig:
        """
        The configuration: the file (if any), then the command line.
        """
        path = self["config"]
        listen = (self.defaultListen,)
        try:
            config = ProxyConfig.fromFile(path, listen) if path else ProxyConfig(listen=listen)
        except ConfigError as e:
            raise usage.UsageError(str(e))
        if self["listen"]:
            config = attrs.evolve(config, listen=tuple(self["listen"]))
        changes: dict[str, Any] = {}
        for flag, field in (
            ("connect-timeout", "connect"),
            ("response-timeout", "response"),
            ("idle-timeout", "idle"),
        ):
            if self[flag] is not None:
                changes[field] = _seconds("--" + flag, self[flag])
        if changes:
            config = attrs.evolve(config, timeouts=attrs.evolve(config.timeouts, **changes))
        config = self.applyMode(config)
        authFile = config.forward.authFile
        if authFile is not None:
            # Report a bad password file before anything listens.
            from .auth import loadHtpasswd

            try:
                loadHtpasswd(authFile)
            except (OSError, ValueError) as e:
                raise usage.UsageError(f"{authFile}: {e}" if isinstance(e, OSError) else str(e))
        return config

    def applyMode(self, config: ProxyConfig) -> ProxyConfig:
        """
        Apply this mode's own flags to C{config}.
        """
        return config


class ForwardOptions(_ModeOptions):
    """
    Options of C{twistd proxykit forward}.
    """

    defaultListen = DEFAULT_LISTEN
    longdesc = (
        "Run a forward HTTP proxy: absolute-form http:// requests and CONNECT "
        f"tunnels.  Listens on {DEFAULT_LISTEN} by default."
    )

    optParameters = [
        ["auth-file", None, None, "Require Proxy-Authorization: Basic checked against this htpasswd file (bcrypt)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["connect-ports"] = []

    def opt_connect_port(self, port: str) -> None:
        """
        Allow CONNECT to this port (repeatable); replaces the default allow-list (443) and the file's connect_ports, so add 443 again to keep it.
        """
        try:
            self["connect-ports"].append(parsePort(port))
        except ValueError:
            raise usage.UsageError(f"--connect-port: expected a port (1-65535), got {port!r}")

    def applyMode(self, config: ProxyConfig) -> ProxyConfig:
        if self["connect-ports"]:
            config = attrs.evolve(
                config,
                forward=attrs.evolve(config.forward, connectPorts=frozenset(self["connect-ports"])),
            )
        if self["auth-file"]:
            config = attrs.evolve(
                config, forward=attrs.evolve(config.forward, authFile=self["auth-file"])
            )
        return config


class ReverseOptions(_ModeOptions):
    """
    Options of C{twistd proxykit reverse}.
    """

    defaultListen = DEFAULT_REVERSE_LISTEN
    longdesc = (
        "Run a reverse HTTP proxy: the Host of each request picks a virtual "
        "host, and its path a route to one or more origin servers.  Requests "
        "for a host no virtual host names get 421.  Listens on "
        f"{DEFAULT_REVERSE_LISTEN} by default."
    )
    optFlags = [
        ["forward-proxy", None, "Also serve absolute-form requests and CONNECT as a forward proxy."],
    ]
    optParameters = [
        ["default", None, None, "Serve requests for unknown hosts from the vhost with this host name."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["routes"] = []
        self["trusted-proxies"] = []

    def opt_route(self, value: str) -> None:
        """HOST=URL[,URL...]: serve HOST from these origins, round-robin (repeatable)."""
        vhost = parseRoute(value)
        host = vhost.hosts[0]
        for other in self["routes"]:
            if hostKey(other.hosts[0]) == hostKey(host):
                raise usage.UsageError(f"--route: host {host!r} is given twice")
        self["routes"].append(vhost)

    def opt_trusted_proxy(self, network: str) -> None:
        """Trust X-Forwarded-*/Forwarded from clients in this CIDR network (repeatable)."""
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise usage.UsageError(f"--trusted-proxy: expected a CIDR network, got {network!r}")
        self["trusted-proxies"].append(network)

    def applyMode(self, config: ProxyConfig) -> ProxyConfig:
        reverse = config.reverse
        defined = {hostKey(host) for vhost in reverse.vhosts for host in vhost.hosts}
        for vhost in self["routes"]:
            host = vhost.hosts[0]
            if hostKey(host) in defined:
                raise usage.UsageError(
                    f"--route: host {host!r} is already a host of {self['config']}"
                )
        changes: dict[str, Any] = {"vhosts": reverse.vhosts + tuple(self["routes"])}
        if self["trusted-proxies"]:
            changes["trustedProxies"] = tuple(self["trusted-proxies"])
        if self["forward-proxy"]:
            changes["forwardProxy"] = True
        if self["default"] is not None:
            changes["default"] = self["default"]
        reverse = attrs.evolve(reverse, **changes)
        if not reverse.vhosts:
            raise usage.UsageError("reverse mode needs at least one --route or [[reverse.vhost]]")
        if reverse.default is not None:
            problem = defaultHostProblem(reverse.vhosts, reverse.default)
            if problem is not None:
                raise usage.UsageError(f"--default: {problem}")
        return attrs.evolve(config, reverse=reverse)


class Options(usage.Options):
    """
    Options of C{twistd proxykit}.
    """

    subCommands = [
        ["forward", None, ForwardOptions, "Run a forward proxy."],
        ["reverse", None, ReverseOptions, "Run a reverse proxy with virtual hosts."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("choose a mode: forward or reverse")


def makeService(options: Options) -> IService:
    """
    The service for the chosen mode.
    """
    config = options.subOptions["proxyConfig"]
    # Unless twistd was told which reactor to use (-r), use proxykit's: the
    # reactor is not installed yet when twistd asks for the service.
    from .reactor import installIfNone

    installIfNone()
    if options.subCommand == "reverse":
        proxy = reverseService(config)
    else:
        proxy = forwardService(config)
    # SIGHUP reloads the TLS certificates.
    proxy.reloadOnHangup = True
    return proxy
