# -*- test-case-name: tests.test_tap -*-
"""
C{twistd proxykit}: command-line options to a service.

    twistd -n proxykit forward [--listen ENDPOINT]... [--connect-port N]...
                               [--config FILE] [--connect-timeout S]
                               [--response-timeout S] [--idle-timeout S]
                               [--access-log PATH] [--access-log-format F]
                               [--admin ENDPOINT] [--workers N|auto]

    twistd -n proxykit reverse [--listen ENDPOINT]... [--route HOST=URL[,URL...]]...
                               [--config FILE] [--default HOST]
                               [--trusted-proxy CIDR]... [--forward-proxy]
                               [--connect-timeout S] [--response-timeout S]
                               [--idle-timeout S]
                               [--access-log PATH] [--access-log-format F]
                               [--admin ENDPOINT] [--workers N|auto]

Command-line values override the config file; a repeated option replaces the
file's whole list, except C{--route}, which adds virtual hosts to the file's.

Run by C{twistd}, a bad option or config file prints its problems (every
problem of the file), one a line, then where to find C{--help}, and exits
with status 1; C{makeService} binds every listener before C{twistd} forks
into the background, so that a port already in use is reported the same
way, whether or not C{-n} is given.
"""

from __future__ import annotations

import ipaddress
import platform
import sys
from typing import Any, ClassVar, NoReturn

import attrs
from twisted.application.service import IService
from twisted.python import usage

from . import __version__
from .config.checks import listenProblem, logFileProblems
from .config.values import (
    DEFAULT_LISTEN,
    DEFAULT_REVERSE_LISTEN,
    AdminConfig,
    ConfigError,
    LogConfig,
    OriginConfig,
    ProxyConfig,
    RouteConfig,
    VhostConfig,
    checkOriginURL,
    hostKey,
    parseHost,
    parsePort,
)
from .ops.reload import ConfigLoader, ReloadError
from .service import ListenError, ProxyService, forwardService, reverseService


def versionText() -> str:
    """
    What C{--version} prints: proxykit's version and build (C{compiled} or
    C{pure Python}, see L{proxykit.COMPILED}), Twisted's and Python's.
    """
    from twisted import __version__ as twisted

    from . import COMPILED

    return (
        f"proxykit {__version__} ({'compiled' if COMPILED else 'pure Python'}, Twisted {twisted}, "
        f"{platform.python_implementation()} {platform.python_version()})"
    )


class _VersionOption:
    """
    C{--version} prints L{versionText} (instead of Twisted's own version,
    which L{usage.Options} prints).
    """

    def opt_version(self) -> NoReturn:
        """
        Display proxykit's version and build, Twisted's and Python's versions and exit.
        """
        print(versionText())
        sys.exit(0)


def authFileProblem(config: ProxyConfig, source: str | None, fromOption: bool = False) -> str | None:
    """
    Why the password file C{forward.auth_file} of C{config} cannot be used
    (twistd refuses to start with it, or to reload it, and C{proxykit
    check} reports it), as the other errors are: C{FILE:LINE:
    forward.auth_file: PROBLEM} when the configuration file C{source} set
    it, C{--auth-file: PROBLEM} when the command line did.

    @param fromOption: Whether C{--auth-file} set it.
    @return: The message, or C{None} when the file is good (or none is
        configured).
    """
    authFile = config.forward.authFile
    if authFile is None:
        return None
    from .policy.auth import loadHtpasswd

    try:
        loadHtpasswd(authFile)
    except OSError as e:
        problem = f"{authFile}: {e.strerror or e}"
    except ValueError as e:
        problem = str(e)
    else:
        return None
    if fromOption or source is None:
        return f"--auth-file: {problem}"
    return located(source, "forward.auth_file", problem)


def located(source: str, key: str, problem: str) -> str:
    """
    C{SOURCE:LINE: KEY: PROBLEM}, as the reader's errors are, with the line
    of C{key} (or of its closest enclosing table or element) in the
    configuration file C{source}.
    """
    from .config.reader import ConfigReader, loadFile

    try:
        _, text = loadFile(source)
        line = ConfigReader(source, text).locate(key)
    except ConfigError:
        line = None
    return str(ConfigError(source, line, key, problem))


def accessLogProblem(config: ProxyConfig, source: str | None, fromOption: bool, error: OSError) -> str:
    """
    Why twistd cannot open an access log of C{config}, in one line: C{FILE:
    LINE: KEY: PROBLEM} when the configuration file C{source} named it,
    C{--access-log: PROBLEM} when the command line did.

    @param error: What opening it raised.
    """
    problems = logFileProblems(config)
    if problems:
        key, problem = problems[0]
    else:
        key, problem = "log.access", f"{config.log.access}: {error.strerror or error}"
    if key == "log.access" and (fromOption or source is None):
        return f"--access-log: {problem}"
    if source is None:
        return f"{key}: {problem}"
    return located(source, key, problem)


def _seconds(flag: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number != number or number == float("inf"):
        raise usage.UsageError(f"{flag}: expected a positive number of seconds, got {value!r}")
    return number


def _workers(value: str) -> int:
    """
    A C{--workers} value: a whole number >= 1 or C{auto}.
    """
    from .config.checks import cpuCount

    if value == "auto":
        return cpuCount()
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise usage.UsageError(f"--workers: expected a whole number >= 1 or 'auto', got {value!r}")
    return int(value)


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


class _ModeOptions(_VersionOption, usage.Options):
    """
    What both modes share: C{--listen}, C{--config} and the timeouts.

    A subclass names its default listener and applies its own flags in
    L{applyMode}.
    """

    defaultListen: ClassVar[str]

    synopsis = "[options]"
    optParameters = [
        ["config", "c", None, "Read settings from this TOML file (the command line overrides it)."],
        ["connect-timeout", None, None, "Seconds to connect to an origin (default 10); sets timeouts.connect."],
        ["response-timeout", None, None, "Seconds of origin silence before 504 (default 60); sets timeouts.response."],
        [
            "drain-timeout",
            None,
            None,
            "On SIGTERM, seconds requests and tunnels in progress may take to finish (default 30);"
            " sets timeouts.drain.",
        ],
        ["idle-timeout", None, None, "Seconds an idle client connection is kept (default 60); sets timeouts.idle."],
        ["access-log", None, None, "Write the access log to this file ('-': standard output; 'off': none, whatever the file says); sets log.access."],
        ["access-log-format", None, None, "combined (default), json, or a format string of $fields (quote it in the shell); sets log.format."],
        [
            "admin",
            None,
            None,
            "Serve /metrics, /healthz, /readyz and /status on this endpoint"
            " (tcp:PORT binds 127.0.0.1 unless interface= is given); sets admin.listen.",
        ],
        [
            "workers",
            None,
            None,
            "Serve with N worker processes sharing the listeners ('auto': one per CPU;"
            " default 1: this process serves them); sets workers.",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self["listen"] = []
        self.docs["listen"] = (
            f"Listen on this Twisted endpoint string (repeatable; default {self.defaultListen}); sets listen."
        )

    def opt_listen(self, description: str) -> None:
        """Listen on this endpoint (repeatable)."""
        problem = listenProblem(description)
        if problem is not None:
            raise usage.UsageError(f"--listen: {problem}")
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
            ("drain-timeout", "drain"),
        ):
            if self[flag] is not None:
                changes[field] = _seconds("--" + flag, self[flag])
        if changes:
            config = attrs.evolve(config, timeouts=attrs.evolve(config.timeouts, **changes))
        config = attrs.evolve(config, log=self._logConfig(config.log))
        if self["admin"] is not None:
            try:
                config = attrs.evolve(config, admin=AdminConfig(listen=self["admin"]))
            except ConfigError as e:
                raise usage.UsageError(f"--admin: {e.problem}")
        if self["workers"] is not None:
            config = attrs.evolve(config, workers=_workers(self["workers"]))
        config = self.applyMode(config)
        # Report a bad password file before anything listens.
        problem = authFileProblem(config, path, fromOption=self.get("auth-file") is not None)
        if problem is not None:
            raise usage.UsageError(problem)
        return config

    def _logConfig(self, log: LogConfig) -> LogConfig:
        """
        C{log} with C{--access-log} and C{--access-log-format} applied.
        """
        for flag, field in (("access-log", "access"), ("access-log-format", "format")):
            if self[flag] is not None:
                try:
                    log = attrs.evolve(log, **{field: self[flag]})
                except ConfigError as e:
                    raise usage.UsageError(f"--{flag}: {e.problem}")
        return log

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
        ["auth-file", None, None, "Require Proxy-Authorization: Basic checked against this htpasswd file (bcrypt); sets forward.auth_file."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["connect-ports"] = []

    def opt_connect_port(self, port: str) -> None:
        """
        Allow CONNECT to this port (repeatable); replaces the default allow-list (443) and the file's connect_ports, so add 443 again to keep it.  Sets forward.connect_ports.
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
        ["forward-proxy", None, "Also serve absolute-form requests and CONNECT as a forward proxy; sets reverse.forward_proxy."],
    ]
    optParameters = [
        ["default", None, None, "Serve requests for unknown hosts from the vhost with this exact host name; sets reverse.default."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["routes"] = []
        self["trusted-proxies"] = []

    def opt_route(self, value: str) -> None:
        """HOST=URL[,URL...]: serve HOST from these origins, round-robin (repeatable; adds a vhost to the file's)."""
        vhost = parseRoute(value)
        host = vhost.hosts[0]
        for other in self["routes"]:
            if hostKey(other.hosts[0]) == hostKey(host):
                raise usage.UsageError(f"--route: host {host!r} is given twice")
        self["routes"].append(vhost)

    def opt_trusted_proxy(self, network: str) -> None:
        """Trust X-Forwarded-*/Forwarded from clients in this CIDR network (repeatable); sets reverse.trusted_proxies."""
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
        if not changes["vhosts"]:
            raise usage.UsageError("reverse mode needs at least one --route or [[reverse.vhost]]")
        try:
            # The hosts and networks are checked above; ReverseConfig checks
            # that the default is a host of a vhost.
            reverse = attrs.evolve(reverse, **changes)
        except ConfigError as e:
            raise usage.UsageError(f"--default: {e.problem}")
        return attrs.evolve(config, reverse=reverse)


class Options(_VersionOption, usage.Options):
    """
    Options of C{twistd proxykit}.

    Parsed by C{twistd} (whose options are then its C{parent}), a usage
    error exits at once with the problem and a pointer to C{--help}, rather
    than reaching C{twistd}, which prints the whole help text before it.
    """

    argv: list[str] = []
    """The command line after C{proxykit} (C{forward ...}), as parsed."""

    subCommands = [
        ["forward", None, ForwardOptions, "Run a forward proxy."],
        ["reverse", None, ReverseOptions, "Run a reverse proxy with virtual hosts."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("choose a mode: forward or reverse")

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Parse C{options}.

        @raise usage.UsageError: They are wrong, and there is no C{twistd}
            to report it (no C{parent}).
        @raise SystemExit: They are wrong, and C{twistd} runs: the message
            is L{usageErrorText}.
        """
        self.argv = list(sys.argv[1:] if options is None else options)
        try:
            super().parseOptions(options)  # type: ignore[no-untyped-call]
        except usage.UsageError as e:
            if self.parent is None:
                raise
            raise SystemExit(self.usageErrorText(e)) from None

    def usageErrorText(self, error: usage.UsageError) -> str:
        """
        What C{twistd proxykit} prints for a usage error: the problem (one
        line each, if several), then the command that shows the help.
        """
        command = "twistd proxykit"
        if self.subCommand is not None:
            command += f" {self.subCommand}"
        return f"{error}\nSee '{command} --help' for the options."


def configLoader(options: _ModeOptions) -> ConfigLoader:
    """
    What a reload reads: the file of C{options} and its command line
    again (L{_ModeOptions.toConfig}), as at start.
    """

    def load() -> ProxyConfig:
        try:
            return options.toConfig()
        except usage.UsageError as e:
            raise ReloadError(str(e)) from None

    return load


def buildProxy(mode: str | None, options: _ModeOptions, config: ProxyConfig, reactor: Any) -> ProxyService:
    """
    The service C{twistd proxykit} runs for C{config} in C{mode}, reloaded
    from C{options} on C{SIGHUP} (a worker process builds its own with it
    too).

    @raise OSError: The access log cannot be opened.
    """
    proxy: ProxyService
    if mode == "reverse":
        proxy = reverseService(config, reactor)
    else:
        proxy = forwardService(config, reactor)
    if proxy.accessLog is not None:
        # No application observes twistd's global log publisher for access
        # events, and its text log would only skip them: write the lines
        # straight from the records.
        proxy.accessLog.publish = False
    # SIGHUP reads the file and the command line again and serves the new
    # configuration (see ProxyService.reloadConfig); SIGUSR1 reopens the
    # access log; neither ends the process.
    proxy.loadConfig = configLoader(options)
    path = options["config"]
    if path:
        proxy.configVersion = attrs.evolve(proxy.configVersion, source=path)
    proxy.reloadOnHangup = True
    proxy.cutOnSignal = True
    return proxy


def makeService(options: Options, reactor: Any = None) -> IService:
    """
    The service for the chosen mode.

    Run by C{twistd} (C{options} has a C{parent}), it also binds every
    listener: C{twistd} forks into the background after it has the service
    and before it starts it, and only the process that was started can
    tell whoever started it that a port is in use.

    With C{workers} above 1, the service is a supervisor
    (L{proxykit.workers.Supervisor}) that has bound every listener and
    starts the worker processes that serve them.

    @param reactor: The reactor; C{None}: the global one (proxykit's
        unless C{twistd -r} chose another).
    @raise SystemExit: Run by C{twistd}, a listener cannot listen: one
        line naming it and the reason, status 1.
    """
    config = options.subOptions["proxyConfig"]
    if reactor is None:
        # Unless twistd was told which reactor to use (-r), use proxykit's:
        # the reactor is not installed yet when twistd asks for the service.
        from .reactor import installIfNone

        installIfNone()
    if config.workers > 1:
        return _supervisor(options, config, reactor)
    try:
        proxy = buildProxy(options.subCommand, options.subOptions, config, reactor)
    except OSError as e:
        if options.parent is None:
            raise
        mode = options.subOptions
        problem = accessLogProblem(config, mode["config"], mode["access-log"] is not None, e)
        raise SystemExit(f"proxykit: cannot open the access log: {problem}") from None
    if options.parent is not None:
        try:
            proxy.listen()
        except ListenError as e:
            raise SystemExit(f"proxykit: {e}") from None
    return proxy


def _supervisor(options: Options, config: ProxyConfig, reactor: Any) -> IService:
    """
    The supervisor of C{config.workers} worker processes: the
    configuration checked as a worker will build it, then every listener
    bound (and the admin listener), before any worker starts.

    @raise SystemExit: Run by C{twistd}, the configuration cannot be
        served or a listener cannot listen: one line, status 1.
    """
    from .ops.reload import listenersOf
    from .reactor import orGlobal
    from .workers import Supervisor, bindShared, checkConfig

    mode = options.subCommand or "forward"
    try:
        checkConfig(mode, config)
        sockets = bindShared(listenersOf(config), config.workers)
    except ListenError as e:
        if options.parent is None:
            raise
        raise SystemExit(f"proxykit: {e}") from None
    except OSError as e:
        if options.parent is None:
            raise
        raise SystemExit(f"proxykit: {e.filename}: {e.strerror}") from None
    supervisor = Supervisor(
        config, mode, options.argv, sockets, orGlobal(reactor), configLoader(options.subOptions)
    )
    if config.admin.listen is not None:
        from .workeradmin import supervisorAdmin

        supervisor.admin = supervisorAdmin(supervisor, config.admin.listen)
        try:
            supervisor.admin.listen()
        except ListenError as e:
            for shared in sockets:
                shared.sock.close()
            if options.parent is None:
                raise
            raise SystemExit(f"proxykit: {e}") from None
    return supervisor
