# -*- test-case-name: tests.test_tls -*-
"""
TLS listeners: server contexts from PEM files, a certificate per server
name (SNI), and reloading the files without a restart.

L{ServerTLS} holds the contexts of one L{TLSConfig}.  Wrap any factory with
L{ServerTLS.wrap} and listen with the result on a plain endpoint; each new
connection starts with the default certificate, and an OpenSSL servername
callback switches it to the certificate listed for the name the client
sent (exact names first, then the longest matching C{*.suffix}).
L{ServerTLS.reload} re-reads every file: new connections get the new
certificates, open ones keep theirs.  Listeners may differ in protocol
settings (L{TLSSettings}: the oldest version, the TLS 1.2 ciphers); the
certificates are loaded once per set of settings.  L{HTTPSRedirectRouter} answers a
plain-HTTP listener with redirects to https.

Only TLS 1.2 and 1.3 are offered; TLS 1.2 uses ECDHE with AES-GCM or
ChaCha20-Poly1305 only; ALPN offers C{http/1.1}.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from typing import Final

from OpenSSL import SSL, crypto
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)
from twisted.internet.interfaces import (
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
)
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

from ._twistedcompat import DirectSendTLSProtocol
from .config.tlsconfig import CertificateConfig, TLSConfig, TLSListener, TLSSettings
from .decisions import ClientInfo, Decision, Refuse, Respond
from .h1 import Request, TargetForm
from .policy.vhosts import VhostTable, normalizeHost

__all__ = [
    "CIPHERS",
    "CertificateConfig",
    "HTTPSRedirectRouter",
    "ServerTLS",
    "TLSConfig",
    "TLSFileError",
    "TLSListener",
    "TLSSettings",
    "certificateProblems",
    "loadContext",
]

CIPHERS: Final = b"ECDHE+AESGCM:ECDHE+CHACHA20"
"""The TLS 1.2 cipher suites offered (TLS 1.3 suites are all AEAD)."""

_ALPN: Final = b"http/1.1"


class TLSFileError(Exception):
    """
    A certificate or key file cannot be read or used.

    @ivar which: C{"cert"} or C{"key"}: the file at fault.
    @ivar problem: What is wrong, in words.
    """

    def __init__(self, which: str, problem: str) -> None:
        super().__init__(which, problem)
        self.which = which
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.which}: {self.problem}"


def _selectALPN(connection: SSL.Connection, offered: list[bytes]) -> bytes:
    if _ALPN in offered:
        return _ALPN
    return SSL.NO_OVERLAPPING_PROTOCOLS  # type: ignore[return-value]


def _describe(error: SSL.Error) -> str:
    reasons = [str(part[2]) for part in error.args[0] if len(part) > 2] if error.args and isinstance(error.args[0], list) else []
    return "; ".join(reasons) or str(error) or "not usable"


_VERSIONS: Final = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}
"""The minimum protocol versions a TLS listener may be set to."""


def checkCiphers(ciphers: str) -> None:
    """
    Whether OpenSSL accepts C{ciphers} as a cipher list.

    @raise ValueError: It selects no cipher.
    """
    try:
        SSL.Context(SSL.TLS_SERVER_METHOD).set_cipher_list(ciphers.encode("ascii"))
    except (SSL.Error, UnicodeEncodeError):
        raise ValueError(ciphers)


def loadContext(
    certificate: CertificateConfig, minVersion: str = "1.2", ciphers: bytes = CIPHERS
) -> SSL.Context:
    """
    A server context for C{certificate}: its chain and key, TLS
    C{minVersion} or later (1.2 by default), C{ciphers} for TLS 1.2
    (L{CIPHERS} by default), ALPN C{http/1.1}.

    @raise TLSFileError: A file is missing, unreadable, not PEM, or the key
        does not belong to the certificate.
    """
    for which, path in (("cert", certificate.cert), ("key", certificate.key)):
        if not os.access(path, os.R_OK):
            reason = "no such file" if not os.path.exists(path) else "cannot be read"
            raise TLSFileError(which, f"{path}: {reason}")
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(_VERSIONS[minVersion])
    context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE)
    context.set_cipher_list(ciphers)
    context.set_alpn_select_callback(_selectALPN)
    try:
        context.use_certificate_chain_file(certificate.cert)
    except SSL.Error as e:
        raise TLSFileError("cert", f"{certificate.cert}: not a PEM certificate ({_describe(e)})")
    try:
        context.use_privatekey_file(certificate.key)
    except SSL.Error as e:
        why = _describe(e)
        if "mismatch" in why:
            raise TLSFileError("key", f"{certificate.key}: does not match {certificate.cert}")
        raise TLSFileError("key", f"{certificate.key}: not a PEM private key ({why})")
    try:
        context.check_privatekey()
    except SSL.Error:
        raise TLSFileError("key", f"{certificate.key}: does not match {certificate.cert}")
    return context


EXPIRY_WARNING: Final = datetime.timedelta(days=14)
"""How close to its expiry a certificate is warned about at (re)load."""


def certificateProblems(
    certificate: CertificateConfig, now: datetime.datetime | None = None
) -> list[str]:
    """
    What an operator should hear about a usable certificate: that it has
    expired, is not valid yet or expires within L{EXPIRY_WARNING}, and each
    of its C{hosts} it is not valid for (clients that verify would refuse
    it for that name).

    @param now: The time to judge expiry at (by default the current time).
    """
    try:
        with open(certificate.cert, "rb") as f:
            leaf = crypto.load_certificate(crypto.FILETYPE_PEM, f.read())
        notBefore, notAfter = (
            datetime.datetime.strptime(stamp.decode("ascii"), "%Y%m%d%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc
            )
            for stamp in (leaf.get_notBefore() or b"", leaf.get_notAfter() or b"")
        )
    except (OSError, crypto.Error, ValueError) as e:
        # Replaced since it was loaded, or dates in an unusual form.
        return [f"could not be read to check its dates and names ({e})"]
    problems = []
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if notAfter <= now:
        problems.append(f"expired on {notAfter:%Y-%m-%d %H:%M} UTC")
    elif notBefore > now:
        problems.append(f"not valid before {notBefore:%Y-%m-%d %H:%M} UTC")
    elif notAfter - now < EXPIRY_WARNING:
        problems.append(f"expires on {notAfter:%Y-%m-%d %H:%M} UTC")
    parsed = leaf.to_cryptography()
    for host in certificate.hosts:
        name = host.lower().rstrip(".").strip("[]")
        try:
            try:
                address = ipaddress.ip_address(name)
            except ValueError:
                # A wildcard entry must be covered for any name under it.
                sample = "proxykit-check" + name[1:] if name.startswith("*.") else name
                verify_certificate_hostname(parsed, sample)
            else:
                verify_certificate_ip_address(parsed, str(address))
        except (VerificationError, CertificateError):
            problems.append(f"not valid for {host} (listed in its hosts)")
    return problems


class _Contexts:
    """
    One loading of the files for one set of settings: the default context
    and those by name.
    """

    def __init__(self, config: TLSConfig, settings: TLSSettings) -> None:
        loaded = (settings.minVersion, settings.ciphers.encode("ascii"))
        self.default = loadContext(config.defaultCertificate, *loaded)
        self.default.set_tlsext_servername_callback(self._serverName)
        self.exact: dict[str, SSL.Context] = {}
        wildcards: list[tuple[str, SSL.Context]] = []
        for certificate in config.certificates:
            context = loadContext(certificate, *loaded)
            for host in certificate.hosts:
                name = host.lower().rstrip(".")
                if name.startswith("*."):
                    wildcards.append((name[1:], context))
                else:
                    self.exact[name.strip("[]")] = context
        wildcards.sort(key=lambda item: len(item[0]), reverse=True)
        self.wildcards: Sequence[tuple[str, SSL.Context]] = wildcards

    def forName(self, serverName: bytes | None) -> SSL.Context:
        """
        The context serving C{serverName}: the one its certificate is listed
        for, or the default one.
        """
        if serverName is None:
            return self.default
        try:
            name = serverName.decode("ascii").lower().rstrip(".")
        except UnicodeDecodeError:
            return self.default
        context = self.exact.get(name)
        if context is not None:
            return context
        for suffix, candidate in self.wildcards:
            if name.endswith(suffix) and len(name) > len(suffix):
                return candidate
        return self.default

    def _serverName(self, connection: SSL.Connection) -> None:
        name = connection.get_servername()
        if name is None:
            return
        context = self.forName(name)
        if context is not connection.get_context():
            connection.set_context(context)


@implementer(IOpenSSLServerConnectionCreator)
class ServerTLS:
    """
    The TLS server side of one L{TLSConfig}: its certificates, loaded once
    for each set of listener settings (L{TLSSettings}) the config uses.

    As an L{IOpenSSLServerConnectionCreator} it serves the C{[tls]} table's
    own settings; L{wrap} takes a listener's.

    @ivar config: The configuration the files were read from.
    """

    _log = Logger()

    def __init__(self, config: TLSConfig) -> None:
        """
        @raise TLSFileError: A file cannot be read or used.
        """
        self.config = config
        self._settings = config.settings
        self._contexts = self._load()

    def _load(self) -> dict[TLSSettings, _Contexts]:
        config = self.config
        wanted = [self._settings] + [settings for _, settings in config.listeners()]
        loaded: dict[TLSSettings, _Contexts] = {}
        for settings in wanted:
            if settings not in loaded:
                loaded[settings] = _Contexts(config, settings)
        for certificate in (config.defaultCertificate, *config.certificates):
            for problem in certificateProblems(certificate):
                self._log.warn(
                    "TLS certificate {cert}: {problem}", cert=certificate.cert, problem=problem
                )
        return loaded

    def reload(self) -> None:
        """
        Read every certificate and key file again.  New connections use the
        new certificates; open connections keep theirs.  If any file cannot
        be used, nothing changes.

        @raise TLSFileError: A file cannot be read or used.
        """
        self._contexts = self._load()
        self._log.info("TLS certificates reloaded")

    def adopt(self, other: ServerTLS) -> None:
        """
        Serve from now on what C{other} loaded (a reload that read a new
        C{[tls]} table: C{other} is a L{ServerTLS} of the new config, its
        files already read).  The listeners wrapped by this object
        (L{wrap}, L{wrapListener}) take the new certificates and, for
        L{wrapListener}'s, their endpoint's new settings; open connections
        keep theirs.
        """
        self.config = other.config
        self._settings = other._settings
        self._contexts = other._contexts
        self._log.info("TLS certificates reloaded")

    def settingsOf(self, description: str, occurrence: int = 0) -> TLSSettings:
        """
        The settings of the TLS listener on the endpoint C{description} in
        the current config (the C{[tls]} table's if it names none).

        @param occurrence: Which of the listeners on C{description}, if
            there are several (C{tcp:0} twice), counted from 0.
        """
        for listening, settings in self.config.listeners():
            if listening == description:
                if not occurrence:
                    return settings
                occurrence -= 1
        return self._settings

    def wrapListener(
        self, factory: IProtocolFactory, description: str, occurrence: int = 0
    ) -> TLSMemoryBIOFactory:
        """
        C{factory}, served over TLS on the endpoint C{description} with
        that listener's settings as the current config says (L{settingsOf}),
        read at each connection: a reload (L{adopt}) may change them while
        the listener keeps its socket.

        @param occurrence: See L{settingsOf}.
        """
        return _TLSServerFactory(
            _NamedListenerTLS(self, description, occurrence), False, factory
        )

    def contextFor(
        self, serverName: bytes | None, settings: TLSSettings | None = None
    ) -> SSL.Context:
        """
        The context serving C{serverName}: the one its certificate is listed
        for, or the default one.

        @param settings: The listener's settings (by default the C{[tls]}
            table's); they must be among those the config uses.
        """
        return self._contexts[settings or self._settings].forName(serverName)

    def serverConnectionForTLS(
        self, tlsProtocol: object, settings: TLSSettings | None = None
    ) -> SSL.Connection:
        """
        A new server connection, starting with the current default context
        (of the C{[tls]} table's settings, or of C{settings}).
        """
        return SSL.Connection(self._contexts[settings or self._settings].default, None)

    def wrap(
        self, factory: IProtocolFactory, settings: TLSSettings | None = None
    ) -> TLSMemoryBIOFactory:
        """
        C{factory}, served over TLS.

        @param settings: The listener's settings, from
            L{TLSConfig.listeners}; by default the C{[tls]} table's.
        """
        if settings is None or settings == self._settings:
            return _TLSServerFactory(self, False, factory)
        if settings not in self._contexts:
            raise ValueError(f"{settings} is not among the config's listener settings")
        return _TLSServerFactory(_ListenerTLS(self, settings), False, factory)


_PLAIN_HTTP_BODY: Final = b"400 Bad Request: plain HTTP was sent to a TLS port; use https://\n"
_PLAIN_HTTP: Final = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\n"
    b"Cache-Control: no-store\r\n"
    b"Connection: close\r\n\r\n" % (len(_PLAIN_HTTP_BODY),)
) + _PLAIN_HTTP_BODY


class _TLSServerProtocol(DirectSendTLSProtocol):
    """
    The TLS layer of one listener connection.  A client that speaks plain
    HTTP to it (its first byte is a letter, where a TLS record starts with
    C{0x16}) is answered C{400} in plain text and closed, as nginx does,
    rather than given a bare close.
    """

    _sniffed = False
    _refused = False

    def receivedOutsideSteadyState(self, data: bytes) -> None:
        # The first bytes always come here: no handshake is done yet.
        if not self._sniffed:
            self._sniffed = True
            if data[:1].isalpha():
                self._refused = True
                transport = self.transport
                assert transport is not None
                transport.write(_PLAIN_HTTP)
                transport.loseConnection()
                return
        elif self._refused:
            return
        super().receivedOutsideSteadyState(data)


class _TLSServerFactory(TLSMemoryBIOFactory):
    protocol = _TLSServerProtocol


@implementer(IOpenSSLServerConnectionCreator)
class _ListenerTLS:
    """
    The connections of a listener with settings of its own; the contexts
    stay with the L{ServerTLS}, so that reloading it reaches them too.
    """

    def __init__(self, tls: ServerTLS, settings: TLSSettings) -> None:
        self._tls = tls
        self._settings = settings

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        return self._tls.serverConnectionForTLS(tlsProtocol, self._settings)


@implementer(IOpenSSLServerConnectionCreator)
class _NamedListenerTLS:
    """
    The connections of the TLS listener on one endpoint, with the settings
    the L{ServerTLS}'s current config gives that endpoint.
    """

    def __init__(self, tls: ServerTLS, description: str, occurrence: int = 0) -> None:
        self._tls = tls
        self._description = description
        self._occurrence = occurrence
        self._config: TLSConfig | None = None
        self._settings: TLSSettings | None = None

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        tls = self._tls
        if tls.config is not self._config:
            self._config = tls.config
            self._settings = tls.settingsOf(self._description, self._occurrence)
        return tls.serverConnectionForTLS(tlsProtocol, self._settings)


class HTTPSRedirectRouter:
    """
    The router of a plain-HTTP listener that sends every client to https:
    C{301} to the same host and request-target, on the https port.

    Only hosts the virtual host table serves are redirected (others get
    421, as on the https listener); without a table, any well-formed host.
    """

    def __init__(self, table: VhostTable | None, port: int = 443) -> None:
        """
        @param table: The virtual hosts, or C{None}.
        @param port: The public https port (left out of the URL when 443).
        """
        self.table = table
        self._port = b"" if port == 443 else b":%d" % (port,)

    def clientAllowed(self, peerHost: str) -> bool:
        """
        Anyone may be redirected.
        """
        return True

    def route(self, request: Request, client: ClientInfo) -> Decision:
        """
        A redirect to the https address of C{request}.
        """
        target = request.target
        if request.form != TargetForm.ORIGIN:
            return Refuse(400, "not an origin-form request")
        host = request.host
        name = normalizeHost(host) if host is not None else None
        if name is None:
            return Refuse(400, "no usable Host")
        if self.table is not None and self.table.routesFor(host) is None:
            return Refuse(421, "unknown host")
        authority = name.encode("ascii")
        if b":" in authority:
            authority = b"[" + authority + b"]"
        location = b"https://" + authority + self._port + target
        return Respond(301, ((b"Location", location), (b"Content-Length", b"0")), b"")
