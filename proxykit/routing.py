# -*- test-case-name: tests.test_routing -*-
"""
Routing policy: a pure decision per request, returned as a value.

A router looks at a request head and the connection it came on and returns
L{Forward}, L{Tunnel} or L{Refuse}.  It does no I/O, so it is tested without a
reactor, and forward and reverse mode differ only in which router the shared
L{proxykit.ProxyFactory} is given.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Collection
from typing import Final, Protocol

import attrs

from ._checks import AddressSet
from .config import ForwardConfig, OriginTLS
from .destinations import DestinationPolicy
from .h1 import Headers, Request, TargetForm, parseAuthority, splitAbsolute
from .rewrite import forwardHeaders


@attrs.frozen(cache_hash=True)
class Origin:
    """
    One origin server: the pool key of its connections.

    An L{Origin} is also the simplest L{Upstream}: a group of one, always
    picked, with no health state (forward mode uses it so).

    @ivar scheme: C{"http"}, C{"https"} or C{"unix"}.
    @ivar host: A DNS name or an IP literal (without brackets), lower case;
        for C{"unix"} the socket path.
    @ivar port: The TCP port (C{0} for C{"unix"}).
    @ivar forward: Named by a forward-proxy client rather than by
        configuration: connections to it are checked against the destination
        policy after name resolution, and are pooled apart from reverse-mode
        origins.
    @ivar tls: How to make and verify the TLS connection (C{"https"} only);
        C{None}: verify the host's name against the system's trust store.
    """

    scheme: str
    host: str
    port: int
    forward: bool = False
    tls: OriginTLS | None = None

    @property
    def authority(self) -> bytes:
        """
        C{host[:port]} as it appears in a URL or C{Host} field (IPv6 in
        brackets, the scheme's default port left out); C{localhost} for UNIX
        sockets.
        """
        if self.scheme == "unix":
            return b"localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        if (self.port == 80 and self.scheme == "http") or (
            self.port == 443 and self.scheme == "https"
        ):
            return host.encode("ascii")
        return f"{host}:{self.port}".encode("ascii")

    def __str__(self) -> str:
        """
        The origin's URL, C{http://host[:port]}, C{https://host[:port]} or
        C{unix:/path}: how log events name it (they carry plain values).
        """
        if self.scheme == "unix":
            return f"unix:{self.host}"
        return f"{self.scheme}://{self.authority.decode('ascii')}"

    def pick(self, exclude: Collection[Origin] = ()) -> Origin | None:
        """
        L{Upstream.pick}: this origin, unless excluded.
        """
        return None if self in exclude else self

    def started(self, origin: Origin) -> None:
        """
        L{Upstream.started}: nothing to count.
        """

    def finished(self, origin: Origin) -> None:
        """
        L{Upstream.finished}: nothing to count.
        """

    def failed(self, origin: Origin) -> None:
        """
        L{Upstream.failed}: a lone origin is never taken out.
        """

    def succeeded(self, origin: Origin) -> None:
        """
        L{Upstream.succeeded}: nothing to record.
        """


class Upstream(Protocol):
    """
    Where a route's requests go: one or more origins, a balancing policy and
    health state.  L{proxykit._exchange.Exchange} asks it for an origin per
    attempt and reports back.
    """

    def pick(self, exclude: Collection[Origin] = ()) -> Origin | None:
        """
        Choose an origin for a request, avoiding C{exclude} (origins this
        request already failed on).

        @return: An origin, or C{None} when every origin is excluded (the
            last attempt's failure is then the answer) or down (with nothing
            excluded: the request gets 503).
        """

    def started(self, origin: Origin) -> None:
        """
        A request to C{origin} starts (for least-outstanding balancing).
        """

    def finished(self, origin: Origin) -> None:
        """
        A request to C{origin} ended, however it ended.
        """

    def failed(self, origin: Origin) -> None:
        """
        C{origin} refused a connection, timed out, or closed without an
        answer: take it out for a while (passive health).
        """

    def succeeded(self, origin: Origin) -> None:
        """
        C{origin} answered: it is healthy.
        """


@attrs.frozen
class Forward:
    """
    Send the request upstream.

    @ivar upstream: Where to send it (an L{Origin} in forward mode).
    @ivar target: The request-target to send (origin-form).
    @ivar host: The C{Host} value to send, or C{None} to keep the client's.
    @ivar policy: Per-route header policy (reverse mode), or C{None} for the
        plain forward-proxy policy.
    """

    upstream: Upstream
    target: bytes
    host: bytes | None
    policy: object = None


@attrs.frozen
class Tunnel:
    """
    Open a byte tunnel to C{host}:C{port} (CONNECT).

    @ivar parent: A parent proxy to ask for the tunnel (with its own
        CONNECT), or C{None} to connect directly.
    @ivar parentAuthorization: The C{Proxy-Authorization} value for the
        parent, if it needs one.
    """

    host: str
    port: int
    parent: Origin | None = None
    parentAuthorization: bytes | None = None


class ParentPolicy:
    """
    Header policy for requests sent through a parent proxy: the plain
    forward-proxy rewriting, plus the parent's credentials.

    @ivar retries: Retries on other origins (none: a parent is one origin).
    """

    retries = 0

    def __init__(self, authorization: bytes | None) -> None:
        self._authorization = authorization

    def requestHeaders(
        self, request: Request, client: ClientInfo, origin: Origin, host: bytes | None, via: bytes
    ) -> Headers:
        """
        The client's fields, rewritten as for any origin, with the parent's
        C{Proxy-Authorization} (the client's own never passes).
        """
        headers = forwardHeaders(request.headers, request.connectionTokens, via, host)
        if self._authorization is not None:
            headers.append((b"Proxy-Authorization", self._authorization))
        return headers

    def responseHeaders(self, headers: Headers, request: Request, origin: Origin) -> Headers:
        """
        Responses pass as they are.
        """
        return headers


def parseParent(url: str) -> tuple[Origin, bytes | None]:
    """
    A parent proxy URL, C{http://[user:password@]host[:port]} (port 3128
    by default), as its origin and C{Proxy-Authorization} value.

    @raise ValueError: Not such a URL.
    """
    if not url.lower().startswith("http://"):
        raise ValueError("expected http://[user:password@]host[:port]")
    rest = url[7:].rstrip("/")
    authorization = None
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        if ":" not in userinfo:
            raise ValueError("credentials must be user:password")
        from urllib.parse import unquote

        user, password = userinfo.split(":", 1)
        authorization = b"Basic " + base64.b64encode(
            unquote(user).encode("utf-8") + b":" + unquote(password).encode("utf-8")
        )
    if "/" in rest or "?" in rest or "#" in rest:
        raise ValueError("a parent proxy URL has no path")
    host, port = parseAuthority(rest.encode("ascii"), 3128)
    return Origin("http", host, port), authorization


@attrs.frozen
class Refuse:
    """
    Answer C{status} without contacting anything.

    @ivar reason: A short fixed description for the log; never sent.
    @ivar headers: Fields to add to the error response (a challenge).
    """

    status: int
    reason: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


@attrs.frozen
class Respond:
    """
    Answer the request here, as its final recipient (RFC 9110 section
    7.6.2: OPTIONS or TRACE whose C{Max-Forwards} reached zero).

    @ivar status: The status.
    @ivar headers: The response fields (framing fields included).
    @ivar body: The response body.
    """

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


Decision = Forward | Tunnel | Refuse | Respond

_DIGITS: Final = frozenset(b"0123456789")
_ALLOW: Final = b"GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, CONNECT"
_SENSITIVE: Final = frozenset(
    {b"authorization", b"proxy-authorization", b"cookie", b"set-cookie"}
)


def hasLooped(via: list[bytes], pseudonym: bytes) -> bool:
    """
    Whether a C{Via} field names this proxy: the request went round and
    came back (RFC 9110 section 7.6.3, C{received-by}).

    @param via: The C{Via} field values.
    @param pseudonym: This proxy's C{received-by} name, lower case.
    """
    for value in via:
        if pseudonym not in value.lower():
            continue
        for element in value.split(b","):
            parts = element.split()
            if len(parts) >= 2 and parts[1].lower() == pseudonym:
                return True
    return False


def messagePolicy(request: Request, pseudonym: bytes, allowTrace: bool) -> Decision | None:
    """
    Checks every request gets before routing, in both modes: loops (508),
    TRACE (405 unless allowed), and OPTIONS/TRACE whose C{Max-Forwards} is
    zero, which this proxy answers itself.

    @return: A decision, or C{None} to go on routing.
    """
    if request.via is not None and hasLooped(request.via, pseudonym):
        return Refuse(508, "request looped back through this proxy")
    method = request.method
    if method == b"TRACE" and not allowTrace:
        return Refuse(405, "TRACE is not allowed")
    if (method == b"OPTIONS" or method == b"TRACE") and request.maxForwards == b"0":
        if method == b"OPTIONS":
            return Respond(200, ((b"Allow", _ALLOW), (b"Content-Length", b"0")), b"")
        lines = [request.method + b" " + request.target + b" HTTP/" + request.version]
        lines.extend(
            name + b": " + value
            for name, value in request.headers
            if name.lower() not in _SENSITIVE
        )
        body = b"\r\n".join(lines) + b"\r\n\r\n"
        return Respond(
            200,
            (
                (b"Content-Type", b"message/http"),
                (b"Content-Length", b"%d" % (len(body),)),
            ),
            body,
        )
    return None


@attrs.frozen
class ClientInfo:
    """
    What a router may know about the connection a request came on.

    @ivar peerHost: The client's address (C{""} for UNIX sockets).
    @ivar localHost: The address the client connected to (C{""} for UNIX).
    @ivar localPort: The port the client connected to (C{0} for UNIX).
    @ivar allowed: Whether the client may use the proxy at all.
    @ivar secure: Whether the connection is TLS (a TLS listener).
    @ivar serverName: The server name (SNI) the client sent in its TLS
        handshake, lower case, or C{None}.
    """

    peerHost: str
    localHost: str
    localPort: int
    allowed: bool = True
    secure: bool = False
    serverName: str | None = None


class IRouter(Protocol):
    """
    What L{proxykit.ProxyFactory} needs of a router.
    """

    def clientAllowed(self, peerHost: str) -> bool:
        """
        Whether a client at C{peerHost} may use the proxy.
        """

    def route(self, request: Request, client: ClientInfo) -> Decision:
        """
        Decide what to do with C{request}.
        """


def _isLoopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class ForwardRouter:
    """
    The forward-proxy router.

    Absolute-form C{http://} targets are forwarded in origin-form with C{Host}
    taken from the target (RFC 9112 section 3.2.2); so are C{https://}
    targets, over a TLS connection the proxy makes and verifies (against
    the system's trust store, or C{forward.ca_file}); C{CONNECT host:port}
    becomes a L{Tunnel} when the port is allowed.  Origin-form requests are
    refused with 400: this proxy is not a web server, and serving them would
    let a request loop back to it.

    @ivar config: The forward-mode settings.
    """

    _CACHE_SIZE: Final = 1024

    def __init__(
        self, config: ForwardConfig | None = None, destinations: DestinationPolicy | None = None
    ) -> None:
        """
        @param config: The forward-mode settings; C{None}: the defaults.
        @param destinations: The proxy's destination policy, the one its
            L{proxykit.ProxyFactory} applies to every address it connects
            to (see L{proxykit.service.destinationsFor}): checked here on
            names and literal addresses before anything is contacted, and
            on literal destinations sent through a parent proxy.  C{None}:
            C{config}'s allow and deny lists and ports, without the rule
            against special-purpose addresses.
        """
        self.config = config if config is not None else ForwardConfig()
        if destinations is None:
            destinations = DestinationPolicy(
                self.config.allowDestinations,
                self.config.denyDestinations,
                self.config.allowPorts,
            )
        self.destinations = destinations
        self._parent: tuple[Origin, bytes | None] | None = None
        self._parentPolicy: ParentPolicy | None = None
        if self.config.parent is not None:
            self._parent = parseParent(self.config.parent)
            self._parentPolicy = ParentPolicy(self._parent[1])
        self._parentFor = DestinationPolicy(allow=self.config.parentFor) if self.config.parentFor else None
        self._noParent = DestinationPolicy(deny=self.config.noParent) if self.config.noParent else None
        self._clients = AddressSet(self.config.allowClients)
        self._authorities: dict[tuple[bytes, bytes], tuple[Origin, bytes] | str] = {}
        self._tls = OriginTLS(caFile=self.config.caFile) if self.config.caFile else None

    def _viaParent(self, host: str) -> bool:
        """
        Whether requests for C{host} go through the parent proxy: it is
        configured, C{host} matches C{parent_for} (if given), and not
        C{no_parent}.
        """
        if self._parent is None:
            return False
        if self._noParent is not None and self._noParent.checkName(host) is not None:
            return False
        if self._parentFor is not None and self._parentFor.checkName(host) is not None:
            return False
        return True

    def clientAllowed(self, peerHost: str) -> bool:
        """
        Whether C{peerHost} is inside one of the allowed client networks
        (by default loopback only).  UNIX-socket clients are always allowed.
        """
        return not peerHost or peerHost in self._clients

    def route(self, request: Request, client: ClientInfo) -> Decision:
        """
        Decide where C{request} goes.
        """
        if not client.allowed:
            return Refuse(403, "client not allowed")
        target = request.target
        form = request.form
        if form == TargetForm.AUTHORITY:
            return self._connect(target, client)
        if form != TargetForm.ABSOLUTE:
            return Refuse(400, "origin-form request to a forward proxy")
        parts = splitAbsolute(target)
        if parts is None:
            return Refuse(400, "malformed request target")
        scheme, authority, path = parts
        if scheme != b"http" and scheme != b"https":
            return Refuse(501, "unsupported scheme")
        found = self._authorities.get((scheme, authority))
        if found is None:
            found = self._resolveAuthority(scheme, authority)
        if isinstance(found, str):
            return Refuse(400, found)
        origin, host = found
        refusal = self._checkDestination(origin.host, origin.port, client)
        if refusal is not None:
            return refusal
        if self._viaParent(origin.host):
            # RFC 9112 section 3.2.2: to a proxy, the absolute form.
            parent = self._parent[0]  # type: ignore[index]
            return Forward(parent, scheme + b"://" + host + path, host, self._parentPolicy)
        return Forward(origin, path, host)

    def _resolveAuthority(self, scheme: bytes, authority: bytes) -> tuple[Origin, bytes] | str:
        https = scheme == b"https"
        try:
            host, port = parseAuthority(authority, 443 if https else 80)
        except ValueError as e:
            found: tuple[Origin, bytes] | str = str(e)
        else:
            if https:
                # The proxy makes the TLS connection and verifies the
                # origin's certificate for its name.
                origin = Origin("https", host, port, forward=True, tls=self._tls)
            else:
                origin = Origin("http", host, port, forward=True)
            found = (origin, authority)
        if len(self._authorities) >= self._CACHE_SIZE:
            self._authorities.clear()
        self._authorities[(scheme, authority)] = found
        return found

    def _connect(self, target: bytes, client: ClientInfo) -> Decision:
        try:
            host, port = parseAuthority(target, None)
        except ValueError:
            return Refuse(400, "malformed CONNECT authority")
        if port not in self.config.connectPorts:
            return Refuse(403, "CONNECT port not allowed")
        refusal = self._checkDestination(host, port, client, connect=True)
        if refusal is not None:
            return refusal
        if self._viaParent(host):
            parent, authorization = self._parent  # type: ignore[misc]
            return Tunnel(host, port, parent, authorization)
        return Tunnel(host, port)

    def _checkDestination(
        self, host: str, port: int, client: ClientInfo, connect: bool = False
    ) -> Refuse | None:
        destinations = self.destinations
        why = destinations.checkName(host)
        if why is not None:
            return Refuse(403, why)
        if not connect and not destinations.checkPort(port):
            return Refuse(403, "destination port not allowed")
        if port == client.localPort and (host == client.localHost or _isLoopback(host)):
            return Refuse(508, "request to the proxy itself")
        # Whether an address is allowed does not depend on the address the
        # client reached the proxy on: literals were judged above by the
        # same policy that the connector applies to every address it
        # connects to (resolved or literal).
        return None
