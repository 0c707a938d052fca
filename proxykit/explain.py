# -*- test-case-name: tests.test_explain -*-
"""
What the proxy would do with one request, and why, without sending
anything: C{proxykit explain}.

The request is made into a head and parsed by L{proxykit.h1} as the proxy
parses it, with the configuration's limits; the decision is the proxy's
own: the L{ProxyFactory} the configuration builds and its
L{Admission<proxykit.relay.admission.Admission>} (client ACL, proxy
authentication, message policy, body-size precheck, router).  The steps
(L{proxykit.explainsteps}) then say how each part got there.  Nothing
listens, nothing is connected to and no name is resolved: a destination
that is a name is reported as one the proxy would resolve (and check
again, address by address) when it connects.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar, cast

import attrs
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.interfaces import IAddress
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from .build import authenticatorFor, forwardRouter, reverseRouter
from .config.values import ProxyConfig
from .decisions import Refuse
from .explainsteps import (
    Section,
    authentication,
    clientSection,
    limits,
    listenerSection,
    outcome,
    precheckSection,
    requestSection,
    routingSection,
    settled,
    timeouts,
    verdict,
    word,
)
from .h1 import (
    H1Connection,
    ProtocolError,
    Request,
    TargetForm,
    parseAuthority,
    splitAbsolute,
)
from .ops.reload import PLAIN, REDIRECT, SECURE, ListenerSpec, listenersOf
from .policy.destinations import destinationsFor
from .policy.vhosts import normalizeHost, tableOf
from .relay.factory import ProxyFactory

__all__ = ["ExplainError", "Explanation", "Query", "Section", "explain"]

_R = TypeVar("_R")
_P = ParamSpec("_P")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class ExplainError(Exception):
    """
    The request cannot be explained: a malformed target, header field or
    client address, or a listener the configuration does not have.
    """


@attrs.frozen
class Query:
    """
    The request to explain, as C{proxykit explain} is given it.

    @ivar target: A URL (C{http://host/path}), an origin-form target
        (C{/path}), C{host:port} (CONNECT) or C{*}.
    @ivar method: The method; C{None}: C{CONNECT} for C{host:port},
        C{OPTIONS} for C{*}, else C{GET}.
    @ivar headers: Header fields, each C{"Name: value"}.
    @ivar client: The client's IP address (optionally with a port).
    @ivar listener: The endpoint string of the listener it arrives on;
        C{None}: the first plain listener (the first TLS one for an
        C{https://} URL in reverse mode).
    @ivar absolute: In reverse mode, send a URL in absolute form (as to a
        forward proxy) rather than as a path with its C{Host}.
    """

    target: str
    method: str | None = None
    headers: tuple[str, ...] = ()
    client: str = "127.0.0.1"
    listener: str | None = None
    absolute: bool = False


@attrs.frozen
class Explanation:
    """
    What the proxy would do with a request, and why.

    @ivar action: C{"forward"}, C{"tunnel"}, C{"refuse"} or C{"respond"}.
    @ivar status: The status the proxy answers itself (refusals and
        answers), or C{None} when an origin will answer.
    @ivar reason: Why, in a few words.
    @ivar decidedBy: The step that decided: C{"client ACL"},
        C{"authentication"}, C{"message policy"}, C{"body size"} or
        C{"routing"}.
    @ivar sections: The details, step by step.
    """

    action: str
    status: int | None
    reason: str
    decidedBy: str
    sections: tuple[Section, ...]

    def toJSON(self) -> dict[str, object]:
        """
        The explanation as a JSON object: C{decision}, then one object per
        section.
        """
        out: dict[str, object] = {
            "decision": {
                "action": self.action,
                "status": self.status,
                "reason": self.reason,
                "decided_by": self.decidedBy,
            }
        }
        for section in self.sections:
            out[section.name] = dict(section.facts)
        return out

    def toText(self) -> str:
        """
        The explanation for a person: each section's facts, then the
        decision.
        """
        lines: list[str] = []
        for section in self.sections:
            lines.append(f"{section.name.replace('_', ' ')}:")
            for key, value in section.facts:
                label = key.replace("_", " ")
                if isinstance(value, list):
                    lines.append(f"  {label}:" + ("" if value else " none"))
                    lines.extend(f"    {item}" for item in value)
                else:
                    lines.append(f"  {label}: {word(value)}")
        status = "" if self.status is None else f"{self.status} "
        lines.append(f"decision: {self.action} {status}{self.reason} (decided by {self.decidedBy})")
        return "\n".join(lines) + "\n"


class _Immediately(ThreadPool):
    """
    A thread pool that runs its work at once, in the caller's thread: the
    password check gives its answer before L{explain} goes on.
    """

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, _R], object] | None,
        func: Callable[_P, _R],
        *args: _P.args,
        **kw: _P.kwargs,
    ) -> None:
        try:
            result = func(*args, **kw)
        except BaseException:
            if onResult is not None:
                onResult(False, cast(_R, Failure()))  # type: ignore[no-untyped-call]
        else:
            if onResult is not None:
                onResult(True, result)


class _Clock(MemoryReactorClock):
    """
    A reactor that never runs: its timers never fire, and what a thread
    would deliver is delivered at once.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._pool = _Immediately()

    def callFromThread(self, f: Callable[..., object], *args: object, **kw: object) -> None:
        f(*args, **kw)

    def getThreadPool(self) -> ThreadPool:
        return self._pool


def bound(description: str) -> tuple[str, int]:
    """
    The address and port a listener's endpoint string binds (C{"0.0.0.0"}
    without C{interface=}; C{("", 0)} for UNIX sockets and kinds not
    known).
    """
    parts = [part.replace("\\:", ":") for part in re.split(r"(?<!\\):", description)]
    kind = parts[0].lower()
    if kind == "haproxy":
        return bound(description.split(":", 1)[1])
    if kind not in ("tcp", "tcp6", "ssl"):
        return "", 0
    host = "::" if kind == "tcp6" else "0.0.0.0"
    port = 0
    positional = True
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if sep:
            if key == "interface":
                host = value
            elif key == "port" and value.isdigit():
                port = int(value)
        elif positional and part.isdigit():
            port = int(part)
            positional = False
    return host, port


def _address(host: str, port: int) -> IPv4Address | IPv6Address:
    if ":" in host:
        return IPv6Address("TCP", host, port)
    return IPv4Address("TCP", host, port)


def _clientAddress(text: str) -> tuple[str, int]:
    """
    A client address given as C{IP}, C{IPv4:port} or C{[IPv6]:port}.

    @raise ExplainError: It is not one.
    """
    try:
        return str(ipaddress.ip_address(text)), 0
    except ValueError:
        pass
    try:
        host, port = parseAuthority(text.encode("ascii"), None)
        return str(ipaddress.ip_address(host)), port
    except (ValueError, UnicodeEncodeError):
        raise ExplainError(f"client address {text!r} is not an IP address (or IP:port)") from None


def _fields(lines: Sequence[str]) -> list[tuple[bytes, bytes]]:
    fields = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise ExplainError(f"header {line!r} is not 'Name: value'")
        try:
            fields.append((name.encode("ascii"), value.strip().encode("latin-1")))
        except UnicodeEncodeError:
            raise ExplainError(f"header {line!r} has characters a field cannot carry") from None
    return fields


def _has(fields: list[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(field[0].lower() == name for field in fields)


def requestBytes(query: Query, reverse: bool) -> tuple[bytes, bool]:
    """
    The request head C{query} describes, as a client would send it, and
    whether it is for https (a URL with that scheme).

    A URL is sent in absolute form to a forward proxy, and as its path with
    a C{Host} field to a reverse proxy (unless C{query.absolute}); a
    C{Host} is added from a URL or CONNECT authority unless given.

    @raise ExplainError: The target or a field is malformed.
    """
    try:
        target = query.target.encode("ascii")
    except UnicodeEncodeError:
        raise ExplainError(f"target {query.target!r} is not ASCII (percent-encode it)") from None
    if not target or any(byte <= 0x20 or byte == 0x7F for byte in target):
        raise ExplainError(f"target {query.target!r} is empty or has spaces or controls")
    fields = _fields(query.headers)
    host: bytes | None = None
    https = False
    method = query.method
    if b"://" in target:
        parts = splitAbsolute(target)
        assert parts is not None
        scheme, host, path = parts
        https = scheme == b"https"
        if reverse and not query.absolute:
            target = path
    elif target == b"*":
        method = method or "OPTIONS"
    elif not target.startswith(b"/"):
        host = target
        method = method or "CONNECT"
    method = method or "GET"
    if not _TOKEN.match(method):
        raise ExplainError(f"method {method!r} is not a token")
    if host is not None and not _has(fields, b"host"):
        fields.insert(0, (b"Host", host))
    head = method.encode("ascii") + b" " + target + b" HTTP/1.1\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in fields)
    return head + b"\r\n", https


def parseRequest(head: bytes, factory: ProxyFactory) -> Request:
    """
    Parse C{head} as the proxy parses a client's request, with its limits.

    @raise ExplainError: The proxy would refuse it as malformed.
    """
    connection = H1Connection(True, factory.limits)
    try:
        connection.receiveData(head)
        event = connection.nextEvent()
    except ProtocolError as e:
        raise ExplainError(
            f"the request is malformed: the proxy answers {e.status} ({e.reason})"
        ) from None
    if not isinstance(event, Request):  # pragma: no cover (a whole head is given)
        raise ExplainError("the request head is incomplete")
    return event


def _listener(specs: Sequence[ListenerSpec], query: Query, https: bool, reverse: bool) -> ListenerSpec:
    if not specs:
        raise ExplainError("the configuration has no listeners")
    if query.listener is not None:
        for spec in specs:
            if spec.description == query.listener:
                return spec
        names = ", ".join(spec.description for spec in specs)
        raise ExplainError(f"no listener {query.listener!r}; the listeners are: {names}")
    wanted = SECURE if https and reverse else PLAIN
    for kind in (wanted, PLAIN, SECURE):
        for spec in specs:
            if spec.kind == kind:
                return spec
    return specs[0]


def explain(config: ProxyConfig, mode: str, query: Query) -> Explanation:
    """
    What the proxy C{config} describes, in C{mode} (C{"forward"} or
    C{"reverse"}), would do with the request of C{query}, and why.

    @raise ExplainError: The request cannot be made or parsed, or names a
        listener or client address that does not exist.
    @raise ValueError: See L{proxykit.build.reverseRouter}.
    @raise OSError: The password file cannot be read.
    """
    reverse = mode == "reverse"
    clock = _Clock()
    destinations = destinationsFor(config)
    build = reverseRouter if reverse else forwardRouter
    router, _ = build(config, clock, destinations)
    head, https = requestBytes(query, reverse)
    spec = _listener(listenersOf(config), query, https, reverse)
    served = router
    if spec.kind == REDIRECT:
        from .tls import HTTPSRedirectRouter

        assert config.tls is not None
        served = HTTPSRedirectRouter(tableOf(router), config.tls.redirectPort)
        factory = ProxyFactory(served, None, config, clock, None, destinations)
    else:
        authenticator = authenticatorFor(config, clock)
        factory = ProxyFactory(served, None, config, clock, authenticator, destinations)
    request = parseRequest(head, factory)
    peerHost, peerPort = _clientAddress(query.client)
    localHost, localPort = bound(spec.description)
    local: IAddress = (
        _address(localHost, localPort) if localHost else UNIXAddress(spec.description.split(":", 1)[-1])
    )
    client = factory.clientInfo(_address(peerHost, peerPort), local, spec.description)
    if spec.kind == SECURE:
        name = _serverName(request)
        client = attrs.evolve(client, secure=True, serverName=name)
    requestId = factory.requestIds.choose(request.requestId, client.peerHost)
    admission = factory.admission

    sections = [
        requestSection(request, requestId),
        listenerSection(spec, mode, client, listenersOf(config)),
        clientSection(client, served, request),
    ]
    authenticated, authSection = authentication(admission, request, client, config)
    sections.append(authSection)
    reached = client.allowed and authenticated
    precheck = admission.precheck(request) if reached else None
    sections.append(precheckSection(config, reached, precheck))
    decision = settled(admission.admit(request, client, requestId))
    if not client.allowed:
        decidedBy = "client ACL"
    elif not authenticated:
        decidedBy = "authentication"
    elif precheck is not None:
        decidedBy = "body size" if precheck == Refuse(413, "request body too large") else "message policy"
    else:
        decidedBy = "routing"
        sections.append(routingSection(served, request, client, decision, destinations))
    sections.extend(outcome(factory, request, client, decision, requestId))
    sections.append(timeouts(config, decision))
    sections.append(limits(config, decision))
    action, status, reason = verdict(decision)
    return Explanation(action, status, reason, decidedBy, tuple(sections))


def _serverName(request: Request) -> str | None:
    """
    The server name a client sends in its TLS handshake for the host it
    asks for: none for an IP literal.
    """
    host = request.host
    if request.form == TargetForm.ABSOLUTE:
        parts = splitAbsolute(request.target)
        host = parts[1] if parts is not None else host
    name = normalizeHost(host) if host is not None else None
    if name is None:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name
    return None


