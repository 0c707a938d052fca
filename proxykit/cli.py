# -*- test-case-name: tests.test_cli -*-
"""
The C{proxykit} command, for operators, beside C{twistd proxykit}.

    proxykit check FILE [--mode forward|reverse]

validates a configuration file as C{nginx -t} does: every problem, each
with the file, line and key, and exit status 1; or, when the file is good,
what it resolves to (listeners, virtual hosts, routes, origins) and status
0.  Nothing listens and nothing is contacted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from twisted.internet.testing import MemoryReactorClock

from .config.checks import ConfigError
from .config.reader import loadFile
from .config.values import (
    DEFAULT_LISTEN,
    DEFAULT_REVERSE_LISTEN,
    ProxyConfig,
    RouteConfig,
)
from .policy.auth import loadHtpasswd
from .service import forwardService, reverseService
from .tls import TLSFileError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proxykit", description="Operate proxykit: check a configuration file."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser(
        "check",
        help="validate a configuration file and print what it resolves to",
        description=(
            "Validate a TOML configuration as twistd proxykit would read it: every"
            " problem with its file, line and key (exit 1), or what it resolves to"
            " (exit 0). Nothing listens."
        ),
    )
    check.add_argument("file", metavar="FILE", help="the TOML configuration file")
    check.add_argument(
        "--mode",
        choices=("forward", "reverse"),
        help="the twistd subcommand it is for (default: reverse when the file has"
        " [[reverse.vhost]] tables, else forward)",
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """
    Run the C{proxykit} command with C{argv} (default: the process's
    arguments).

    @return: The exit status (also what the console script exits with).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    options = _parser().parse_args(argv)
    return check(options.file, options.mode, out, err)


def check(path: str, mode: str | None, out: TextIO, err: TextIO) -> int:
    """
    Validate the configuration at C{path} for C{mode} (C{None}: guess).

    @return: 0 when it is good, 1 otherwise (the problems written to
        C{err}).
    """
    try:
        data, text = loadFile(path)
        if mode is None:
            reverse = data.get("reverse")
            mode = "reverse" if isinstance(reverse, dict) and reverse.get("vhost") else "forward"
        listen = (DEFAULT_REVERSE_LISTEN if mode == "reverse" else DEFAULT_LISTEN,)
        config = ProxyConfig.fromMapping(data, path, text, listen)
    except ConfigError as e:
        err.write(f"{e}\n")
        return 1
    if mode == "reverse" and not config.reverse.vhosts:
        err.write(f"{path}: reverse: reverse mode needs at least one [[reverse.vhost]]\n")
        return 1
    authFile = config.forward.authFile
    if authFile is not None:
        try:
            loadHtpasswd(authFile)
        except OSError as e:
            err.write(f"{path}: forward.auth_file: {authFile}: {e.strerror}\n")
            return 1
        except ValueError as e:
            err.write(f"{path}: forward.auth_file: {e}\n")
            return 1
    try:
        # Build what twistd would build, on a reactor that never runs:
        # nothing listens and nothing is contacted.
        build = reverseService if mode == "reverse" else forwardService
        build(config, MemoryReactorClock())  # type: ignore[no-untyped-call]
    except (ValueError, OSError, TLSFileError) as e:
        err.write(f"{path}: {e}\n")
        return 1
    _describe(path, mode, config, out)
    return 0


def _describe(path: str, mode: str, config: ProxyConfig, out: TextIO) -> None:
    write = out.write
    write(f"{path}: ok ({mode} mode)\n")
    write("listen:\n")
    for endpoint in config.listen:
        write(f"  {endpoint}\n")
    if config.tls is not None:
        for listener in config.tls.listen:
            endpoint = listener if isinstance(listener, str) else listener.endpoint
            write(f"  {endpoint} (TLS)\n")
    if config.admin.listen is not None:
        write(f"  {config.admin.listen} (admin: /metrics, /healthz, /readyz, /status)\n")
    forward = config.forward
    if mode == "forward" or config.reverse.forwardProxy:
        ports = ", ".join(str(port) for port in sorted(forward.connectPorts))
        write("forward:\n")
        write(f"  CONNECT ports: {ports}\n")
        write(f"  authentication: {forward.authFile or 'none'}\n")
        if forward.parent is not None:
            write(f"  parent proxy: {forward.parent}\n")
    if mode == "reverse":
        default = config.reverse.default
        for vhost in config.reverse.vhosts:
            names = ", ".join(vhost.hosts)
            marker = " (default)" if default is not None and default in vhost.hosts else ""
            write(f"vhost {names}{marker}:\n")
            for route in vhost.routes:
                write(f"  route {_route(route)}\n")
                for origin in route.origins:
                    proxy = origin.proxyProtocol or route.proxyProtocol
                    extra = f"  PROXY protocol {proxy}" if proxy != "off" else ""
                    write(f"    {origin.url} weight {origin.weight}{extra}\n")


def _route(route: RouteConfig) -> str:
    parts = [route.prefix, route.balance]
    if route.stripPrefix:
        parts.append("strip_prefix")
    if route.retries:
        parts.append(f"retries {route.retries}")
    check = route.healthCheck
    if check is not None:
        parts.append(f"health check {check.path} every {check.interval:g}s")
    return "  ".join(parts)


def script() -> None:
    """
    The console script's entry point.
    """
    sys.exit(main())
