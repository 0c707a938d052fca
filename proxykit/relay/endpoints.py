# -*- test-case-name: tests.test_endpoints -*-
"""
How proxykit reaches origins: the one place that builds client endpoints.

IP literals connect directly (no resolver round trip); names go through
L{HostnameEndpoint}, which resolves them off the reactor thread and races
the addresses (RFC 8305).  When a destination policy applies (forward-proxy
destinations), L{connect} checks the socket address handed to the reactor's
C{connectTCP}, for literals and resolved names alike: a host spelled so that
only the system resolver reads it as an address (C{127.1}) is judged by the
address it turns out to be.  C{https} origins are wrapped in TLS here too
(L{ClientTLS} builds and caches the connection creators), and their
connection is only handed out once the TLS handshake has completed, so that
a certificate that fails verification is a connect failure (L{TLSFailed}),
like a refused connection.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from OpenSSL import SSL
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)
from twisted.internet import error
from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import (
    HostnameEndpoint,
    TCP4ClientEndpoint,
    TCP6ClientEndpoint,
    UNIXClientEndpoint,
    wrapClientTLS,
)
from twisted.internet.interfaces import (
    IAddress,
    IHandshakeListener,
    IHostnameResolver,
    IHostResolution,
    IOpenSSLClientConnectionCreator,
    IProtocol,
    IProtocolFactory,
    IReactorPluggableNameResolver,
    IResolutionReceiver,
    IStreamClientEndpoint,
    ITransport,
)
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    PrivateCertificate,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import directlyProvides, implementer, providedBy

from ..config.values import OriginTLS
from ..policy.destinations import DestinationRefused

if TYPE_CHECKING:
    from ..decisions import Origin
    from ..policy.destinations import DestinationPolicy

_log = Logger("proxykit.endpoints")


def clientEndpoint(
    reactor: object, host: str, port: int, timeout: float, scheme: str = "http"
) -> IStreamClientEndpoint:
    """
    An endpoint that connects to C{host}:C{port} within C{timeout} seconds.

    @param reactor: The reactor (TCP and name resolution).
    @param host: A DNS name or an IP literal without brackets; the socket
        path when C{scheme} is C{"unix"}.
    @param scheme: C{"http"} (TCP) or C{"unix"}.
    """
    if scheme == "unix":
        return UNIXClientEndpoint(reactor, host, timeout=timeout)  # type: ignore[no-untyped-call]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return HostnameEndpoint(reactor, host, port, timeout=timeout)
    if address.version == 4:
        return TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
    return TCP6ClientEndpoint(reactor, host, port, timeout=timeout)  # type: ignore[no-untyped-call]


@implementer(IResolutionReceiver)
class _FilteringReceiver:
    """
    Passes on only the resolved addresses C{check} allows; records whether
    any was withheld.
    """

    def __init__(self, receiver: IResolutionReceiver, check: Callable[[str], bool]) -> None:
        self._receiver = receiver
        self._check = check
        self.withheld = False
        self.passed = False

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self._receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:
        if self._check(getattr(address, "host", "")):
            self.passed = True
            self._receiver.addressResolved(address)
        else:
            self.withheld = True

    def resolutionComplete(self) -> None:
        self._receiver.resolutionComplete()


@implementer(IHostnameResolver)
class _FilteringResolver:
    """
    A name resolver that drops addresses the destination policy forbids, so
    that a name cannot smuggle a connection to a forbidden address.
    """

    def __init__(self, resolver: IHostnameResolver, check: Callable[[str], bool]) -> None:
        self._resolver = resolver
        self._check = check
        self.receivers: list[_FilteringReceiver] = []

    def resolveHostName(  # type: ignore[no-untyped-def]
        self,
        resolutionReceiver,
        hostName,
        portNumber=0,
        addressTypes=None,
        transportSemantics="TCP",
    ):
        receiver = _FilteringReceiver(resolutionReceiver, self._check)
        self.receivers.append(receiver)
        return self._resolver.resolveHostName(
            receiver, hostName, portNumber, addressTypes, transportSemantics
        )


@implementer(IReactorPluggableNameResolver)
class _CheckingReactor:
    """
    A reactor that is another reactor in everything but two: its name
    resolver withholds the addresses C{check} forbids, and its C{connectTCP}
    refuses (raises L{DestinationRefused}) an address C{check} forbids.

    The second is the one that matters: every TCP connection an endpoint
    built on this reactor makes goes through C{connectTCP} with the socket
    address about to be connected to, whether that address was a literal
    or one a name resolved to, and however the host was spelled.  The first
    only lets a name with several addresses go on to the allowed ones, and
    report L{DestinationRefused} when it has none.
    """

    def __init__(self, reactor: object, check: Callable[[str], bool], host: str) -> None:
        self._reactor = reactor
        self._check = check
        self._host = host
        self.resolver = _FilteringResolver(reactor.nameResolver, check)  # type: ignore[attr-defined]
        self.nameResolver: IHostnameResolver = self.resolver

    def installNameResolver(self, resolver: IHostnameResolver) -> IHostnameResolver:
        raise NotImplementedError("a filtered resolver cannot be replaced")

    def connectTCP(self, host: str, port: int, factory: object, *args: Any, **kwargs: Any) -> object:
        if not self._check(host):
            raise DestinationRefused(self._host)
        return self._reactor.connectTCP(host, port, factory, *args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._reactor, name)


def _isAddress(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def connect(
    reactor: object,
    host: str,
    port: int,
    timeout: float,
    factory: IProtocolFactory,
    scheme: str = "http",
    addressCheck: Callable[[str], bool] | None = None,
    tls: IOpenSSLClientConnectionCreator | None = None,
    preamble: bytes = b"",
) -> Deferred[IProtocol]:
    """
    Connect C{factory}'s protocol to C{host}:C{port}.

    @param scheme: C{"http"}, C{"https"} or C{"unix"}.
    @param addressCheck: Applied to every socket address about to be
        connected to (an IP literal, or each address a name resolves to);
        only allowed addresses are tried.
    @param tls: For C{"https"}: how to make the TLS connection (see
        L{ClientTLS.creatorFor}); C{None}: verify C{host} against the
        system's trust store.
    @param preamble: Bytes written first on the new connection, before
        anything the protocol writes and, for C{"https"}, before the TLS
        handshake (a PROXY protocol header, L{proxykit.relay.proxyheader}).
    @return: Fires with the connected protocol (for C{"https"}, once the TLS
        handshake has completed), or fails with the connect error
        (L{twisted.internet.error.TimeoutError} after C{timeout}, the TLS
        handshake included; L{proxykit.policy.destinations.DestinationRefused}
        when the address, or every resolved address, was forbidden; L{TLSFailed} when the
        handshake failed).
    """
    resolver = None
    if addressCheck is not None and scheme != "unix":
        # Every TCP connection the endpoint makes, to a literal or to an
        # address a name resolved to, passes the check first.
        checking = _CheckingReactor(reactor, addressCheck, host)
        resolver = checking.resolver
        reactor = checking
    endpoint = clientEndpoint(reactor, host, port, timeout, scheme)
    if scheme == "https":
        if tls is None:
            try:
                tls = buildCreator(host, None)
            except TLSFailed:
                return fail()
        if preamble:
            tlsFactory: IProtocolFactory = _PreambleTLSFactory(
                tls, True, _HandshakeFactory(factory), preamble
            )
            d = endpoint.connect(tlsFactory).addCallback(_tlsWrapped)
        else:
            d = wrapClientTLS(tls, endpoint).connect(_HandshakeFactory(factory))
        d.addCallback(_handshaken)
    else:
        if preamble:
            d = endpoint.connect(_PreambleFactory(factory, preamble)).addCallback(_inner)
        else:
            d = endpoint.connect(factory)
    if resolver is not None:
        receivers = resolver.receivers

        def refused(failure: Failure) -> Failure:
            if receivers and all(r.withheld and not r.passed for r in receivers):
                return Failure(DestinationRefused(host))  # type: ignore[no-untyped-call]
            return failure

        d.addErrback(refused)
    # Name resolution has no bound of its own: bound the whole attempt (a
    # moment after the connect timeout, which reports itself more precisely).
    # A lookup still in progress fails with DNSLookupError when cancelled:
    # whatever the attempt fails with then, it did not connect in time.
    d.addTimeout(timeout + 1.0, reactor, onTimeoutCancel=_timedOut)  # type: ignore[arg-type]
    return d


class _Preamble(Protocol):
    """
    Writes a preamble on a new connection, then connects the protocol it
    stands in front of and passes every event on to it (one call more per
    read, only on connections that have a preamble).
    """

    def __init__(self, inner: IProtocol, preamble: bytes) -> None:
        self.inner = inner
        self._preamble = preamble
        # What the connection asks of its protocol (half-close) is asked of
        # the inner one.
        directlyProvides(self, providedBy(inner))

    def logPrefix(self) -> str:
        prefix = getattr(self.inner, "logPrefix", None)
        return prefix() if prefix is not None else type(self.inner).__name__

    def makeConnection(self, transport: ITransport) -> None:
        transport.write(self._preamble)
        self.inner.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        self.inner.dataReceived(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.inner.connectionLost(reason)

    def readConnectionLost(self) -> None:
        self.inner.readConnectionLost()  # type: ignore[attr-defined]

    def writeConnectionLost(self) -> None:
        self.inner.writeConnectionLost()  # type: ignore[attr-defined]


class _PreambleFactory(Factory):
    """
    Builds the wrapped factory's protocols behind a L{_Preamble}.
    """

    noisy = False

    def __init__(self, factory: IProtocolFactory, preamble: bytes) -> None:
        self._factory = factory
        self._preamble = preamble

    def buildProtocol(self, addr: IAddress) -> _Preamble | None:  # type: ignore[override]
        protocol = self._factory.buildProtocol(addr)
        if protocol is None:
            return None
        return _Preamble(protocol, self._preamble)


def _inner(standIn: IProtocol) -> IProtocol:
    inner: IProtocol = standIn.inner  # type: ignore[attr-defined]
    return inner


class _PreambleTLS(TLSMemoryBIOProtocol):
    """
    A client TLS connection that writes its factory's preamble in the clear
    before the TLS handshake starts.
    """

    factory: _PreambleTLSFactory

    def makeConnection(self, transport: ITransport) -> None:
        transport.write(self.factory.preamble)
        super().makeConnection(transport)  # type: ignore[no-untyped-call]


class _PreambleTLSFactory(TLSMemoryBIOFactory):
    """
    L{TLSMemoryBIOFactory} for L{_PreambleTLS}.
    """

    protocol = _PreambleTLS
    noisy = False

    def __init__(
        self,
        creator: IOpenSSLClientConnectionCreator,
        isClient: bool,
        wrappedFactory: IProtocolFactory,
        preamble: bytes,
    ) -> None:
        super().__init__(creator, isClient, wrappedFactory)
        self.preamble = preamble


def _tlsWrapped(tlsProtocol: IProtocol) -> IProtocol:
    # What wrapClientTLS's endpoint does: the protocol inside the TLS one.
    wrapped: IProtocol = tlsProtocol.wrappedProtocol  # type: ignore[attr-defined]
    return wrapped


def _handshaken(standIn: IProtocol) -> Deferred[IProtocol]:
    return standIn.done  # type: ignore[attr-defined, no-any-return]


def _timedOut(result: object, timeout: float) -> object:
    if isinstance(result, Failure):
        reason = error.TimeoutError(string=f"no connection within {timeout} s")  # type: ignore[no-untyped-call]
        return Failure(reason)  # type: ignore[no-untyped-call]
    return result


# TLS


_VERIFY_REASONS: Final = {
    2: "unable to get the issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in the chain",
    20: "unknown issuer (unable to get the local issuer certificate)",
    21: "unable to verify the first certificate",
    23: "certificate revoked",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
}
"""
OpenSSL's X509 verification error codes (C{X509_V_ERR_*}) and what they
mean, for the log.
"""


class TLSFailed(Exception):
    """
    A TLS connection to an origin could not be made: the handshake failed,
    the certificate did not verify, or the TLS settings could not be loaded.

    @ivar reason: Why, in a few words (from OpenSSL or the certificate
        check; safe to log, never sent to clients).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def tlsFailureReason(value: BaseException | None) -> str | None:
    """
    Why a TLS connection failed, if C{value} is a TLS failure.

    @param value: The exception a connection attempt failed with, or a
        connection was lost with.
    @return: The reason, or C{None} if C{value} is no TLS failure.
    """
    if isinstance(value, TLSFailed):
        return value.reason
    if isinstance(value, SSL.Error):
        return _sslErrorText(value)
    return None


def _sslErrorText(e: BaseException) -> str:
    # pyOpenSSL: Error([(library, function, reason), ...]).
    parts: list[str] = []
    if e.args and isinstance(e.args[0], list):
        parts = [str(entry[2]) for entry in e.args[0] if isinstance(entry, tuple) and len(entry) == 3]
    return ", ".join(parts) or str(e) or type(e).__name__


@implementer(IHandshakeListener)
class _Handshake(Protocol):
    """
    Stands in for the application protocol on a TLS connection until the
    handshake has completed; then hands the connection over to it.

    @ivar protocol: The application protocol.
    @ivar done: Fires with C{protocol} once the handshake completed, or
        fails with L{TLSFailed}.
    @ivar verifyError: Why certificate verification failed, if it did.
    """

    verifyError: str | None = None

    def __init__(self, protocol: IProtocol) -> None:
        self.protocol = protocol
        self.done: Deferred[IProtocol] = Deferred(self._cancel)

    def _cancel(self, d: Deferred[IProtocol]) -> None:
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]

    def handshakeCompleted(self) -> None:
        tls = self.transport
        if self.done.called:
            return
        # The TLS layer delivers to its wrapped protocol: from now on, the
        # application's.
        tls.wrappedProtocol = self.protocol  # type: ignore[union-attr]
        self.protocol.makeConnection(tls)  # type: ignore[arg-type]
        self.done.callback(self.protocol)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.done.called:
            return
        why = self.verifyError or tlsFailureReason(reason.value)
        if why is None:
            why = f"connection lost during the TLS handshake: {reason.getErrorMessage()}"
        self.done.errback(Failure(TLSFailed(why)))  # type: ignore[no-untyped-call]


class _HandshakeFactory(Factory):
    """
    Builds the wrapped factory's protocols behind a L{_Handshake}.
    """

    noisy = False

    def __init__(self, factory: IProtocolFactory) -> None:
        self._factory = factory

    def buildProtocol(self, addr: IAddress) -> _Handshake | None:  # type: ignore[override]
        protocol = self._factory.buildProtocol(addr)
        if protocol is None:
            return None
        return _Handshake(protocol)


def _noteFailure(tlsProtocol: object, reason: str) -> None:
    standIn = getattr(tlsProtocol, "wrappedProtocol", None)
    if isinstance(standIn, _Handshake) and standIn.verifyError is None:
        standIn.verifyError = reason


@implementer(IOpenSSLClientConnectionCreator)
class _ClientCreator:
    """
    Makes the TLS connections to one origin: SNI and (when
    verifying) the chain checked against a trust root and the leaf against
    the server name by C{service_identity}, with the reason of a failure
    noted for the log.
    """

    def __init__(self, options: CertificateOptions, serverName: str, verify: bool) -> None:
        self._options = options
        self._serverName = serverName
        self._isAddress = _isAddress(serverName)
        self._sni = None if self._isAddress else serverName.encode("ascii")
        self._verify = verify
        # Build the context now, once: every connection shares it.
        options.getContext()

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        # What CertificateOptions.clientConnectionForTLS does (no ALPN is
        # configured); Twisted 23.10 has only getContext.
        connection = SSL.Connection(self._options.getContext(), None)
        if self._sni is not None:
            connection.set_tlsext_host_name(self._sni)
        if self._verify:
            connection.set_verify(
                SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
                self._verifier(tlsProtocol),
            )
        return connection

    def _verifier(self, tlsProtocol: Any) -> Callable[[SSL.Connection, Any, int, int, int], bool]:
        name = self._serverName
        isAddress = self._isAddress

        def verifyCallback(
            connection: SSL.Connection, cert: Any, errno: int, depth: int, ok: int
        ) -> bool:
            try:
                if not ok:
                    _noteFailure(
                        tlsProtocol,
                        _VERIFY_REASONS.get(errno, f"certificate verification error {errno}"),
                    )
                    return False
                if depth != 0:
                    return True
                try:
                    leaf = cert.to_cryptography()
                    if isAddress:
                        verify_certificate_ip_address(leaf, name)
                    else:
                        verify_certificate_hostname(leaf, name)
                except (VerificationError, CertificateError):
                    reason = f"certificate does not match the name {name!r}"
                    _noteFailure(tlsProtocol, reason)
                    tlsProtocol.failVerification(Failure(TLSFailed(reason)))  # type: ignore[no-untyped-call]
                    return False
                return True
            except BaseException:
                # An exception raised into OpenSSL would be lost.
                _log.failure("while verifying an origin's certificate")
                return False

        return verifyCallback


_PEM_CERTIFICATE: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TLSFailed(f"cannot read {path}: {e.strerror}")


def buildCreator(host: str, tls: OriginTLS | None) -> IOpenSSLClientConnectionCreator:
    """
    Build the TLS connection creator for an origin (reads the files it
    names).

    @param host: The origin's host: the name verified and sent as SNI
        unless C{tls} names another.
    @param tls: The origin's TLS settings; C{None}: the defaults (the
        system's trust store).
    @raise TLSFailed: A file cannot be read or holds no usable certificate
        or key.
    """
    if tls is None:
        tls = OriginTLS()
    # No ALPN: without it a server must speak HTTP/1.1, and offering it
    # makes a Twisted TLS server that has no ALPN protocols configured fail
    # the handshake with an internal error.
    extra: dict[str, Any] = {}
    try:
        if tls.clientCert is not None and tls.clientKey is not None:
            client = PrivateCertificate.loadPEM(  # type: ignore[no-untyped-call]
                _read(tls.clientCert) + b"\n" + _read(tls.clientKey)
            )
            extra["privateKey"] = client.privateKey.original
            extra["certificate"] = client.original
        if not tls.verify:
            options = CertificateOptions(verify=False, **extra)
        else:
            if tls.caFile is not None:
                pems = _PEM_CERTIFICATE.findall(_read(tls.caFile))
                if not pems:
                    raise TLSFailed(f"no certificate in {tls.caFile}")
                trustRoot: Any = trustRootFromCertificates(  # type: ignore[no-untyped-call]
                    [Certificate.loadPEM(pem) for pem in pems]
                )
            else:
                trustRoot = platformTrust()  # type: ignore[no-untyped-call]
            options = CertificateOptions(trustRoot=trustRoot, **extra)
        return _ClientCreator(options, tls.serverName or host, tls.verify)
    except TLSFailed:
        raise
    except Exception as e:
        raise TLSFailed(f"cannot load the TLS settings: {e}")


class ClientTLS:
    """
    The TLS connection creators of a proxy's origins, built once per host
    and settings (not per connection: an OpenSSL context is costly to build
    and loads the trust store).

    Creators are cached until C{maxSize} are held, then the cache starts
    over (forward mode may meet any number of hosts).
    """

    def __init__(self, maxSize: int = 1024) -> None:
        self._maxSize = maxSize
        self._cache: dict[tuple[str, OriginTLS | None], IOpenSSLClientConnectionCreator] = {}

    def creatorFor(self, host: str, tls: OriginTLS | None) -> IOpenSSLClientConnectionCreator:
        """
        The creator for connections to C{host} with C{tls}.

        @raise TLSFailed: See L{buildCreator}.
        """
        key = (host, tls)
        creator = self._cache.get(key)
        if creator is None:
            creator = buildCreator(host, tls)
            if len(self._cache) >= self._maxSize:
                self._cache.clear()
            self._cache[key] = creator
        return creator


class OriginConnector:
    """
    The one way proxykit connects to an origin: for the pool's origin
    connections, the health checks and CONNECT tunnels alike.

    An C{https} origin is reached over TLS, its connection creator built
    once per origin and TLS settings (L{ClientTLS}); an origin a
    forward-proxy client named (L{Origin.forward<proxykit.decisions.Origin>})
    is checked against the destination policy on every address connected
    to; configured origins (reverse-mode routes, a parent proxy) are not.
    """

    def __init__(
        self,
        reactor: object,
        destinations: DestinationPolicy | None = None,
        clientTLS: ClientTLS | None = None,
    ) -> None:
        """
        @param destinations: The policy for forward-proxy origins; C{None}:
            none are expected (a connector of configured origins only).
        @param clientTLS: Shares TLS connection creators; C{None}: its own.
        """
        self.reactor = reactor
        self.destinations = destinations
        self.clientTLS = clientTLS if clientTLS is not None else ClientTLS()

    def connect(
        self,
        origin: Origin,
        factory: IProtocolFactory,
        timeout: float,
        preamble: bytes = b"",
    ) -> Deferred[IProtocol]:
        """
        Connect C{factory}'s protocol to C{origin} within C{timeout} seconds
        (the TLS handshake included).

        @param preamble: See L{connect}: the PROXY protocol header of an
            origin that has one.

        @return: See L{connect}; also fails with L{TLSFailed} when the
            origin's TLS settings cannot be loaded, and with
            L{proxykit.policy.destinations.DestinationRefused} for a forward-proxy
            origin when this connector has no policy to judge it by.
        """
        tls = None
        if origin.scheme == "https":
            try:
                tls = self.clientTLS.creatorFor(origin.host, origin.tls)
            except TLSFailed:
                return fail()
        check = None
        if origin.forward:
            if self.destinations is None:
                return fail(DestinationRefused(origin.host))
            check = self.destinations.addressCheck(origin.host)
        return connect(
            self.reactor,
            origin.host,
            origin.port,
            timeout,
            factory,
            origin.scheme,
            check,
            tls,
            preamble,
        )
