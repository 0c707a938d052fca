# -*- test-case-name: tests.test_tls -*-
"""
Configuration of TLS listeners: the C{[tls]} table.

    [tls]
    listen = [
        "tcp:8443:interface=127.0.0.1",
        { endpoint = "tcp:9443:interface=127.0.0.1", min_version = "1.3" },
    ]
    default_certificate = { cert = "certs/default.pem", key = "certs/default.key" }

    [[tls.certificate]]
    hosts = ["app.example.test", "*.example.test"]
    cert = "certs/app.pem"
    key = "certs/app.key"

Relative file names are relative to the directory of the config file.  The
files are read (and the key checked against the certificate) when the
configuration is loaded, so that a bad file is reported before anything
listens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from . import schema
from .checks import (
    Problem,
    asTOML,
    checked,
    fieldError,
    listenEndpoint,
    parseHost,
    parsePort,
    string,
    stringList,
    valid,
    validItems,
)

if TYPE_CHECKING:
    from .reader import ConfigReader


@attrs.frozen
class CertificateConfig:
    """
    A certificate (with its chain) and its private key, both PEM files.

    In a file, relative names are relative to the directory of the config
    file; the files are read (and the key checked against the certificate)
    when the configuration is loaded.

    @ivar cert: The certificate file; further certificates in it are sent as
        the chain.
    @ivar key: The private key file.
    @ivar hosts: The server names (SNI) it serves: exact names and
        C{*.suffix} wildcards; empty for the default certificate.  A name may
        be listed by one certificate only.
    """

    cert: str = attrs.field(validator=valid(string, "a PEM file name"))
    key: str = attrs.field(validator=valid(string, "a PEM file name"))
    hosts: tuple[str, ...] = attrs.field(
        default=(), validator=validItems(parseHost, ("host names", "a host name"), nonEmpty=False)
    )


DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 ciphers: forward secrecy and AEAD only."""


# The checks of values built in Python: those of the reader (defined with
# it, below, and looked up when called).


def _version(value: Any) -> str:
    return _tlsVersion(value)


def _ciphers(value: Any) -> str:
    """
    L{_cipherList}, without asking OpenSSL about the default list.
    """
    return DEFAULT_CIPHERS if value == DEFAULT_CIPHERS else _cipherList(value)


def _plainEndpoint(value: Any) -> str:
    return _endpoint(value)


def _instanceOf(cls: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, cls):
            raise TypeError(value)
        return value

    return check


_VERSIONS = '"1.2" or "1.3"'
_CIPHERS = "an OpenSSL cipher list"
_LISTENERS = "an endpoint string or an endpoint table"


def _listenValidator(instance: Any, attribute: Any, value: Any) -> None:
    """
    C{TLSConfig.listen}: at least one listener, each an endpoint string or
    a L{TLSListener}, in the reader's words.
    """
    form = asTOML(value)
    if not isinstance(form, list) or not form:
        raise fieldError(
            instance, attribute.name, f"expected at least one listener ({_LISTENERS}), got {form!r}"
        )
    for index, element in enumerate(form):
        if isinstance(element, TLSListener):
            continue
        try:
            checked(element, _plainEndpoint, "an endpoint string or a table")
        except Problem as e:
            raise fieldError(instance, f"{attribute.name}[{index}]", str(e)) from None


@attrs.frozen
class TLSSettings:
    """
    The protocol settings of a TLS listener.

    @ivar minVersion: The oldest TLS version accepted, C{"1.2"} (default)
        or C{"1.3"}.
    @ivar ciphers: The OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are
        OpenSSL's defaults).
    """

    minVersion: str = attrs.field(default="1.2", validator=valid(_version, _VERSIONS))
    ciphers: str = attrs.field(default=DEFAULT_CIPHERS, validator=valid(_ciphers, _CIPHERS))


@attrs.frozen
class TLSListener:
    """
    A TLS listener that overrides some of the C{[tls]} table's settings: an
    inline table C{{ endpoint = "...", min_version = "...", ciphers = "..." }}
    in C{[tls] listen}.

    @ivar endpoint: A plain Twisted server endpoint string (C{tcp:},
        C{tcp6:}, C{unix:}; TLS is added on top).
    @ivar minVersion: The oldest TLS version this listener accepts,
        C{"1.2"} or C{"1.3"} (see L{TLSSettings.minVersion}); C{None}: the
        C{[tls]} table's C{min_version}.
    @ivar ciphers: This listener's OpenSSL cipher list for TLS 1.2 (see
        L{TLSSettings.ciphers}); C{None}: the C{[tls]} table's C{ciphers}.
    """

    endpoint: str = attrs.field(validator=valid(_plainEndpoint, "an endpoint string"))
    minVersion: str | None = attrs.field(
        default=None, validator=valid(_version, _VERSIONS, optional=True)
    )
    ciphers: str | None = attrs.field(
        default=None, validator=valid(_ciphers, _CIPHERS, optional=True)
    )


@attrs.frozen
class TLSConfig:
    """
    TLS listeners: the same proxy as the plain listeners, over TLS, in either
    mode.

    @ivar listen: The TLS listeners: plain Twisted server endpoint strings
        that TLS is added on top of (e.g. C{tcp:8443:interface=127.0.0.1}; an
        C{ssl:} endpoint is an error), or L{TLSListener}s (inline tables)
        where a listener has settings of its own.
    @ivar defaultCertificate: The certificate served to clients that send no
        server name, or one no other certificate lists.
    @ivar certificates: Certificates chosen by the client's server name
        (SNI): exact names and C{*.suffix} wildcards.
    @ivar redirectListen: Plain-HTTP endpoint strings where every request is
        answered C{301} to the same host and target over https.
    @ivar redirectPort: The https port named in those redirects (omitted
        from the URL when 443).
    @ivar minVersion: The oldest TLS version accepted by listeners that do
        not set their own: C{"1.2"} or C{"1.3"}.
    @ivar ciphers: The OpenSSL cipher list for TLS 1.2 of listeners that do
        not set their own (TLS 1.3 suites are OpenSSL's defaults); checked
        with OpenSSL when the configuration is loaded.
    """

    listen: tuple[str | TLSListener, ...] = attrs.field(validator=_listenValidator)
    defaultCertificate: CertificateConfig = attrs.field(
        validator=valid(_instanceOf(CertificateConfig), "a CertificateConfig")
    )
    certificates: tuple[CertificateConfig, ...] = attrs.field(
        default=(),
        validator=validItems(
            _instanceOf(CertificateConfig), ("certificates", "a CertificateConfig"), nonEmpty=False
        ),
    )
    redirectListen: tuple[str, ...] = attrs.field(
        default=(), validator=valid(stringList, "a list of endpoint strings")
    )
    redirectPort: int = attrs.field(default=443, validator=valid(parsePort, "a port (1-65535)"))
    minVersion: str = attrs.field(default="1.2", validator=valid(_version, _VERSIONS))
    ciphers: str = attrs.field(default=DEFAULT_CIPHERS, validator=valid(_ciphers, _CIPHERS))

    @property
    def settings(self) -> TLSSettings:
        """
        The settings of listeners that set none of their own.
        """
        return TLSSettings(self.minVersion, self.ciphers)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """
        The endpoint strings of every TLS listener.
        """
        return tuple(each if isinstance(each, str) else each.endpoint for each in self.listen)

    def listeners(self) -> tuple[tuple[str, TLSSettings], ...]:
        """
        Every TLS listener's endpoint string and settings, the table's
        filled in where the listener sets none.
        """
        default = self.settings
        return tuple(
            (listener, default)
            if isinstance(listener, str)
            else (
                listener.endpoint,
                TLSSettings(
                    listener.minVersion if listener.minVersion is not None else self.minVersion,
                    listener.ciphers if listener.ciphers is not None else self.ciphers,
                ),
            )
            for listener in self.listen
        )


def readTLS(reader: ConfigReader, data: Mapping[str, Any]) -> TLSConfig | None:
    """
    Read the C{[tls]} table of C{data}, if it has one, checking the files.

    @raise proxykit.config.ConfigError: A key is unknown or bad, or a file
        cannot be read or used.
    """
    if "tls" not in data:
        return None
    tls = reader.table(data, "tls", schema.known("tls"))
    none: tuple[str, ...] = ()
    listen = _listeners(reader, tls.get("listen"))
    redirectListen: tuple[str, ...] = none
    if "redirect_listen" in tls:
        redirectListen = reader.items(
            tls, "tls.redirect_listen", listenEndpoint,
            ("endpoint strings", "an endpoint string"), nonEmpty=False,
        )
    redirectPort = reader.get(tls, "tls.redirect_port", parsePort, 443, "a port (1-65535)")
    minVersion = reader.get(tls, "tls.min_version", _tlsVersion, "1.2", '"1.2" or "1.3"')
    ciphers = reader.get(tls, "tls.ciphers", _cipherList, DEFAULT_CIPHERS, "an OpenSSL cipher list")
    base = os.path.dirname(os.path.abspath(reader.source)) if os.path.isfile(reader.source) else ""
    if "default_certificate" not in tls:
        raise reader.error("tls.default_certificate", "missing: expected { cert = ..., key = ... }")
    default = _certificate(reader, tls["default_certificate"], "tls.default_certificate", base, False)
    certificates = tuple(
        _certificate(reader, element, f"tls.certificate[{index}]", base, True)
        for index, element in enumerate(
            reader.tables(tls, "tls.certificate", schema.known("tls.certificate"), "tls.certificate")
        )
    )
    owners: dict[str, str] = {}
    for index, certificate in enumerate(certificates):
        for position, host in enumerate(certificate.hosts):
            key = f"tls.certificate[{index}].hosts[{position}]"
            owner = owners.setdefault(host.lower().rstrip("."), key)
            if owner != key:
                raise reader.error(key, f"host {host!r} is already listed at {owner}")
    return TLSConfig(
        listen=listen,
        defaultCertificate=default,
        certificates=certificates,
        redirectListen=redirectListen,
        redirectPort=redirectPort,
        minVersion=minVersion,
        ciphers=ciphers,
    )


def _listeners(reader: ConfigReader, value: Any) -> tuple[str | TLSListener, ...]:
    """
    The C{tls.listen} list: endpoint strings, or tables with an C{endpoint}
    and the settings that listener overrides.
    """
    if not isinstance(value, list) or not value:
        what = "missing" if value is None else f"got {value!r}"
        raise reader.error(
            "tls.listen",
            f"expected at least one listener (an endpoint string or an endpoint table), {what}",
        )
    listeners: list[str | TLSListener] = []
    for index, element in enumerate(value):
        key = f"tls.listen[{index}]"
        if isinstance(element, dict):
            reader.known(element, key, schema.known("tls.listen"))
            if "endpoint" not in element:
                raise reader.error(f"{key}.endpoint", "missing: expected an endpoint string")
            endpoint = reader.convert(
                element["endpoint"], f"{key}.endpoint", _endpoint, "an endpoint string"
            )
            minVersion = reader.get(element, f"{key}.min_version", _tlsVersion, None, '"1.2" or "1.3"')
            ciphers = reader.get(element, f"{key}.ciphers", _cipherList, None, "an OpenSSL cipher list")
            listeners.append(TLSListener(endpoint, minVersion, ciphers))
        else:
            listeners.append(reader.convert(element, key, _endpoint, "an endpoint string or a table"))
    return tuple(listeners)


def _endpoint(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(value)
    if value.split(":", 1)[0].lower() == "ssl":
        raise Problem("expected a plain endpoint (tcp:, tcp6:, unix:): TLS is added on top")
    return listenEndpoint(value)


def _tlsVersion(value: Any) -> str:
    if value not in ("1.2", "1.3"):
        raise ValueError(value)
    return str(value)


def _cipherList(value: Any) -> str:
    from ..tls import checkCiphers

    if not isinstance(value, str) or not value:
        raise ValueError(value)
    checkCiphers(value)
    return value


def _certificate(
    reader: ConfigReader, value: Any, key: str, base: str, withHosts: bool
) -> CertificateConfig:
    from ..tls import TLSFileError, loadContext

    if not isinstance(value, dict):
        raise reader.error(key, "expected a table with cert and key")
    reader.known(value, key, schema.known("tls.certificate" if withHosts else "tls.default_certificate"))
    paths = []
    for name in ("cert", "key"):
        if name not in value:
            raise reader.error(f"{key}.{name}", "missing: expected a PEM file name")
        path = value[name]
        if not isinstance(path, str) or not path:
            raise reader.error(f"{key}.{name}", f"expected a PEM file name, got {path!r}")
        paths.append(os.path.join(base, path) if base else path)
    hosts: tuple[str, ...] = ()
    if withHosts:
        hosts = reader.items(value, f"{key}.hosts", parseHost, ("host names", "a host name"))
    certificate = CertificateConfig(cert=paths[0], key=paths[1], hosts=hosts)
    try:
        loadContext(certificate)
    except TLSFileError as e:
        raise reader.error(f"{key}.{e.which}", e.problem)
    return certificate
