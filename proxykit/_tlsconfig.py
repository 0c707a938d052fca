# -*- test-case-name: tests.test_tls -*-
"""
Configuration of TLS listeners: the C{[tls]} table.

    [tls]
    listen = ["tcp:8443:interface=127.0.0.1"]
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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._checks import parseHost, parsePort, stringList

if TYPE_CHECKING:
    from ._configreader import ConfigReader


@attrs.frozen
class CertificateConfig:
    """
    A certificate (with its chain) and its private key, both PEM files.

    @ivar cert: The certificate file; further certificates in it are sent as
        the chain.
    @ivar key: The private key file.
    @ivar hosts: The server names (SNI) it serves: exact names and
        C{*.suffix} wildcards; empty for the default certificate.
    """

    cert: str
    key: str
    hosts: tuple[str, ...] = ()


DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 ciphers: forward secrecy and AEAD only."""


@attrs.frozen
class TLSConfig:
    """
    TLS listeners: the same proxy as the plain listeners, over TLS.

    @ivar listen: Twisted server endpoint strings (plain TCP ones: TLS is
        added on top, e.g. C{tcp:8443:interface=127.0.0.1}).
    @ivar defaultCertificate: Served to clients that send no server name,
        or one no other certificate lists.
    @ivar certificates: Certificates chosen by the client's server name.
    @ivar redirectListen: Plain-HTTP endpoint strings where every request
        is answered C{301} to the same host and target over https.
    @ivar redirectPort: The https port named in those redirects (omitted
        from the URL when 443).
    @ivar minVersion: The oldest TLS version accepted, C{"1.2"} (default)
        or C{"1.3"}.
    @ivar ciphers: The OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are
        OpenSSL's defaults).
    """

    listen: tuple[str, ...]
    defaultCertificate: CertificateConfig
    certificates: tuple[CertificateConfig, ...] = ()
    redirectListen: tuple[str, ...] = ()
    redirectPort: int = 443
    minVersion: str = "1.2"
    ciphers: str = DEFAULT_CIPHERS


def readTLS(reader: ConfigReader, data: Mapping[str, Any]) -> TLSConfig | None:
    """
    Read the C{[tls]} table of C{data}, if it has one, checking the files.

    @raise proxykit.config.ConfigError: A key is unknown or bad, or a file
        cannot be read or used.
    """
    if "tls" not in data:
        return None
    tls = reader.table(
        data,
        "tls",
        {
            "listen",
            "default_certificate",
            "certificate",
            "redirect_listen",
            "redirect_port",
            "min_version",
            "ciphers",
        },
    )
    none: tuple[str, ...] = ()
    listen = reader.get(tls, "tls.listen", stringList, none, "a list of endpoint strings")
    if not listen:
        raise reader.error("tls.listen", "expected at least one endpoint")
    for index, description in enumerate(listen):
        if description.split(":", 1)[0].lower() == "ssl":
            raise reader.error(
                f"tls.listen[{index}]",
                "expected a plain endpoint (tcp:, tcp6:, unix:): TLS is added on top",
            )
    redirectListen = reader.get(
        tls, "tls.redirect_listen", stringList, none, "a list of endpoint strings"
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
            reader.tables(tls, "tls.certificate", {"hosts", "cert", "key"}, "tls.certificate")
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


def _tlsVersion(value: Any) -> str:
    if value not in ("1.2", "1.3"):
        raise ValueError(value)
    return str(value)


def _cipherList(value: Any) -> str:
    from .tls import checkCiphers

    if not isinstance(value, str) or not value:
        raise ValueError(value)
    checkCiphers(value)
    return value


def _certificate(
    reader: ConfigReader, value: Any, key: str, base: str, withHosts: bool
) -> CertificateConfig:
    from .tls import TLSFileError, loadContext

    if not isinstance(value, dict):
        raise reader.error(key, "expected a table with cert and key")
    reader.known(value, key, {"hosts", "cert", "key"} if withHosts else {"cert", "key"})
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
