# -*- test-case-name: tests.test_decisions -*-
"""
The values a router decides and the interface of a router: what flows
between routing policy and the relay.

A router (L{IRouter}) looks at a request head and the connection it came on
(L{ClientInfo}) and returns a L{Decision}: L{Forward} to an L{Upstream},
L{Tunnel} to an authority, L{Refuse} with a status, or L{Respond} here.  An
L{Origin} is one server and the key of its pooled connections.

This module imports nothing of proxykit but L{proxykit.h1}: everything else
(routers, virtual hosts, balancing, the relay, the configuration checks)
imports it.
"""

from __future__ import annotations

import base64
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol

import attrs

from .h1 import Headers, Request, parseAuthority

if TYPE_CHECKING:
    from .config.values import OriginTLS


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
    @ivar name: For an address found through DNS
        (L{proxykit.relay.discovery}): the host name it was found under,
        which the C{Host} field and health checks name (L{authority});
        C{None} otherwise.
    @ivar proxyProtocol: The PROXY protocol version (C{1} or C{2}) written
        first on each new connection, carrying the address of the client
        whose request opened it; C{0}: none.  Such connections are pooled
        per client (see L{proxykit.relay.pool.PrivateKey}).
    """

    scheme: str
    host: str
    port: int
    forward: bool = False
    tls: OriginTLS | None = None
    name: str | None = None
    proxyProtocol: int = 0

    @property
    def authority(self) -> bytes:
        """
        C{host[:port]} as it appears in a URL or C{Host} field (IPv6 in
        brackets, the scheme's default port left out); C{localhost} for UNIX
        sockets.  For an address found through DNS, the name it was found
        under (L{name}) rather than the address.
        """
        if self.scheme == "unix":
            return b"localhost"
        return self._authority(self.name or self.host)

    def _authority(self, host: str) -> bytes:
        if ":" in host:
            host = f"[{host}]"
        if (self.port == 80 and self.scheme == "http") or (
            self.port == 443 and self.scheme == "https"
        ):
            return host.encode("ascii")
        return f"{host}:{self.port}".encode("ascii")

    def __str__(self) -> str:
        """
        The origin's URL, C{http://host[:port]}, C{https://host[:port]} or
        C{unix:/path}: how log events name it (they carry plain values).
        An address found through DNS is named by its address, so that each
        member of a group has its own name.
        """
        if self.scheme == "unix":
            return f"unix:{self.host}"
        return f"{self.scheme}://{self._authority(self.host).decode('ascii')}"

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
    health state.  L{proxykit.relay.exchange.Exchange} asks it for an origin per
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
    @ivar policy: The route's header policy (a reverse-mode route's, or a
        parent proxy's), or C{None} for the plain forward-proxy policy.
    """

    upstream: Upstream
    target: bytes
    host: bytes | None
    policy: HeaderPolicy | None = None


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
    @ivar peerPort: The client's port (C{0} for UNIX sockets).
    @ivar listener: The endpoint string of the listener the connection came
        through (as in C{listen}), or C{""} when unknown (a factory
        listened on without a L{proxykit.ListenerGate} naming it).
    """

    peerHost: str
    localHost: str
    localPort: int
    allowed: bool = True
    secure: bool = False
    serverName: str | None = None
    peerPort: int = 0
    listener: str = ""


class HeaderPolicy(Protocol):
    """
    What the relay asks of a route's header policy (L{Forward.policy}).

    @ivar retries: How many other origins an idempotent request that failed
        before any response may be tried on.
    """

    retries: int

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
        The fields to send to C{origin} for C{request}.

        @param host: The C{Host} value to send, or C{None} to keep the
            client's.
        @param via: This proxy's C{Via} value for the request's version.
        @param requestId: The request's id, or C{None}.
        """

    def responseHeaders(self, headers: Headers, request: Request, origin: Origin) -> Headers:
        """
        The response fields to send to the client.
        """


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
