# -*- test-case-name: tests.test_routing -*-
"""
Routing policy: a pure decision per request, returned as a value.

A router looks at a request head and the connection it came on and returns
L{Forward}, L{Tunnel} or L{Refuse}.  It does no I/O, so it is tested without a
reactor, and forward and reverse mode differ only in which router the shared
L{proxykit.ProxyFactory} is given.
"""

from __future__ import annotations

from typing import Final

from mypy_extensions import mypyc_attr

from ..config.checks import AddressSet
from ..config.values import ForwardConfig, OriginTLS
from ..decisions import (
    ClientInfo,
    Decision,
    Forward,
    Origin,
    Refuse,
    Respond,
    Tunnel,
    parseParent,
)
from ..h1 import Headers, Request, TargetForm, parseAuthority, splitAbsolute
from .destinations import DestinationPolicy, isLoopbackHost
from .rewrite import forwardHeaders


@mypyc_attr(allow_interpreted_subclasses=True)
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
        self,
        request: Request,
        client: ClientInfo,
        origin: Origin,
        host: bytes | None,
        via: bytes,
        requestId: bytes | None = None,
    ) -> Headers:
        """
        The client's fields, rewritten as for any origin (the request's id
        included), with the parent's C{Proxy-Authorization} (the client's
        own never passes).
        """
        headers = forwardHeaders(request.headers, request.connectionTokens, via, host, requestId)
        if self._authorization is not None:
            headers.append((b"Proxy-Authorization", self._authorization))
        return headers

    def responseHeaders(self, headers: Headers, request: Request, origin: Origin) -> Headers:
        """
        Responses pass as they are.
        """
        return headers


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


@mypyc_attr(allow_interpreted_subclasses=True)
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
            to (see L{proxykit.policy.destinations.destinationsFor}): checked here on
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
        if port == client.localPort and (host == client.localHost or isLoopbackHost(host)):
            return Refuse(508, "request to the proxy itself")
        # Whether an address is allowed does not depend on the address the
        # client reached the proxy on: literals were judged above by the
        # same policy that the connector applies to every address it
        # connects to (resolved or literal).
        return None
