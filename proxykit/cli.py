# -*- test-case-name: tests.test_cli -*-
"""
The C{proxykit} command, for operators, beside C{twistd proxykit}.

    proxykit check FILE [--mode forward|reverse]

validates a configuration file as C{nginx -t} does: every problem, each
with the file, line and key, and exit status 1; or, when the file is good,
what it resolves to (listeners, virtual hosts, routes, origins) and status
0.  Nothing listens and nothing is contacted.

    proxykit explain FILE [--mode M] [--client ADDR] [--listener NAME]
        [--method M] [--header 'Name: value']... [--absolute] [--json] TARGET

says what the proxy would do with one request, and why (see
L{proxykit.explain}), without sending anything: status 0 whatever the
decision, 1 for a bad file, 2 for a request that cannot be made.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

import attrs
from twisted.internet.testing import MemoryReactorClock

from .config.checks import ConfigError, logFileProblems
from .config.reader import loadFile
from .config.values import (
    DEFAULT_LISTEN,
    DEFAULT_REVERSE_LISTEN,
    ProxyConfig,
    RouteConfig,
)
from .service import forwardService, reverseService
from .tap import authFileProblem, located, versionText
from .tls import TLSFileError

if TYPE_CHECKING:
    from .explain import Query

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proxykit", description="Operate proxykit: check a configuration file, explain a request."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=versionText(),
        help="print proxykit's version and build (compiled or pure Python), Twisted's and Python's",
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
    explain = verbs.add_parser(
        "explain",
        help="say what the proxy would do with a request, and why",
        description=(
            "Say what the proxy FILE describes would do with one request, and why:"
            " listener, client ACL, authentication, message policy, virtual host"
            " and route or destination, origins and balancing, the header fields"
            " sent, timeouts and limits; or which rule refuses it. Nothing is"
            " sent, connected to or resolved. Exit status 0 whatever the"
            " decision, 1 for a bad file, 2 for a malformed request."
        ),
    )
    explain.add_argument("file", metavar="FILE", help="the TOML configuration file")
    explain.add_argument(
        "target",
        metavar="TARGET",
        help="a URL (http://host/path), a path (/path, with --header 'Host: ...'),"
        " host:port (CONNECT) or *",
    )
    explain.add_argument("--mode", choices=("forward", "reverse"), help="as for check")
    explain.add_argument(
        "--client", default="127.0.0.1", metavar="ADDR",
        help="the client's IP address (default: 127.0.0.1)",
    )
    explain.add_argument(
        "--listener", metavar="NAME",
        help="the endpoint string of the listener the request arrives on"
        " (default: the first plain one; the first TLS one for an https URL in"
        " reverse mode)",
    )
    explain.add_argument(
        "--method", metavar="M",
        help="the method (default: CONNECT for host:port, OPTIONS for *, else GET)",
    )
    explain.add_argument(
        "--header", action="append", default=[], metavar="'Name: value'",
        help="a header field to send (repeatable)",
    )
    explain.add_argument(
        "--absolute", action="store_true",
        help="reverse mode: send a URL in absolute form, as to a forward proxy"
        " (reverse.forward_proxy), not as a path with its Host",
    )
    explain.add_argument("--json", action="store_true", help="print a JSON object")
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
    if options.verb == "explain":
        from .explain import Query

        query = Query(
            options.target,
            options.method,
            tuple(options.header),
            options.client,
            options.listener,
            options.absolute,
        )
        return explain(options.file, options.mode, query, options.json, out, err)
    return check(options.file, options.mode, out, err)


def explain(
    path: str, mode: str | None, query: Query, asJSON: bool, out: TextIO, err: TextIO
) -> int:
    """
    Explain C{query} to the proxy the configuration at C{path} describes,
    in C{mode} (C{None}: guess, as L{check} does).

    @return: 0 when the request is decided (whatever the decision), 1 for
        a bad configuration, 2 for a request that cannot be made (the
        problem written to C{err}).
    """
    from .explain import ExplainError
    from .explain import explain as explainRequest

    loaded = _load(path, mode, err)
    if loaded is None:
        return 1
    config, mode = loaded
    try:
        explanation = explainRequest(config, mode, query)
    except ExplainError as e:
        err.write(f"proxykit explain: {e}\n")
        return 2
    except (ValueError, OSError) as e:
        err.write(f"{path}: {e}\n")
        return 1
    if asJSON:
        import json

        out.write(json.dumps(explanation.toJSON(), indent=2) + "\n")
    else:
        out.write(explanation.toText())
    return 0


def _load(
    path: str, mode: str | None, err: TextIO, checkAuthFile: bool = True
) -> tuple[ProxyConfig, str] | None:
    """
    The configuration at C{path} and its mode (C{mode}, or guessed: reverse
    when the file has C{[[reverse.vhost]]} tables), with its password file
    read as twistd reads it (unless not C{checkAuthFile}); or C{None}, the
    problems written to C{err}.
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
        return None
    if mode == "reverse" and not config.reverse.vhosts:
        err.write(f"{path}: reverse: reverse mode needs at least one [[reverse.vhost]]\n")
        return None
    problem = authFileProblem(config, path) if checkAuthFile else None
    if problem is not None:
        err.write(f"{problem}\n")
        return None
    return config, mode


def check(path: str, mode: str | None, out: TextIO, err: TextIO) -> int:
    """
    Validate the configuration at C{path} for C{mode} (C{None}: guess).

    @return: 0 when it is good, 1 otherwise (the problems written to
        C{err}).
    """
    loaded = _load(path, mode, err, checkAuthFile=False)
    if loaded is None:
        return 1
    config, mode = loaded
    # The files the configuration names, each error with its line.
    problems = [authFileProblem(config, path)]
    problems += [located(path, key, problem) for key, problem in logFileProblems(config)]
    if any(problems):
        err.write("".join(f"{problem}\n" for problem in problems if problem))
        return 1
    try:
        # Build what twistd would build, on a reactor that never runs:
        # nothing listens and nothing is contacted; the access logs were
        # checked above, without creating their files.
        build = reverseService if mode == "reverse" else forwardService
        build(withoutLogFiles(config), MemoryReactorClock())  # type: ignore[no-untyped-call]
    except (ValueError, OSError, TLSFileError) as e:
        err.write(f"{path}: {e}\n")
        return 1
    if config.workers > 1:
        from .ops.reload import listenersOf
        from .workers import shareProblem

        for spec in listenersOf(config):
            problem = shareProblem(spec.description)
            if problem is not None:
                err.write(f"{path}: workers: {problem}\n")
                return 1
    _describe(path, mode, config, out)
    return 0


def withoutLogFiles(config: ProxyConfig) -> ProxyConfig:
    """
    C{config} with its access logs going nowhere (no file is opened), the
    rest unchanged.
    """
    log = config.log
    listeners = tuple(attrs.evolve(entry, access=None) for entry in log.listeners)
    return attrs.evolve(config, log=attrs.evolve(log, access=None, listeners=listeners))


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
    if config.workers > 1:
        write(f"workers: {config.workers} (a supervisor binds the listeners)\n")
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
    The console script's entry point.  When its reader goes away (C{proxykit
    check FILE | head}), it stops quietly, with status 1.
    """
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes standard output again at exit: point it at
        # /dev/null so that flush fails no more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 1
    sys.exit(status)
