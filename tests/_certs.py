"""
Throwaway certificates for the TLS tests: a CA (root or intermediate) and
the server and client certificates it signs, made at test time (no key is
ever committed).
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _altName(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


class TestCA:
    """
    A certificate authority for one test.

    @ivar certificatePEM: The CA certificate, for C{--cacert}.
    """

    def __init__(self, issuer: TestCA | None = None, name: str = "proxykit test CA") -> None:
        """
        @param issuer: The authority that signs this one (an intermediate),
            or C{None} for a root.
        """
        self._key = _key()
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name if issuer is None else issuer._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key if issuer is None else issuer._key, hashes.SHA256())
        )
        self.certificatePEM = self._certificate.public_bytes(serialization.Encoding.PEM)
        self.chainPEM = b"" if issuer is None else self.certificatePEM + issuer.chainPEM
        """The intermediate certificates a server sends after a leaf this
        authority signed: empty for a root."""

    @property
    def caPEM(self) -> bytes:
        """
        The authority's certificate, PEM (the same as L{certificatePEM}).
        """
        return self.certificatePEM

    def issue(
        self, commonName: str, *names: str, expired: bool = False, client: bool = False
    ) -> tuple[bytes, bytes]:
        """
        A leaf certificate for C{names} (DNS names or IP addresses;
        C{commonName} too).

        @param expired: Whether it expired yesterday.
        @param client: A client certificate (for mutual TLS) rather than a
            server's.
        @return: C{(certificatePEM, keyPEM)}; the certificate is followed by
            the chain of an intermediate authority.
        """
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            start, end = now - datetime.timedelta(days=3), now - datetime.timedelta(days=1)
        else:
            start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=90)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName([_altName(name) for name in (commonName, *names)]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM) + self.chainPEM, _pem(key)

    def leaf(
        self, name: str = "localhost", expired: bool = False, client: bool = False
    ) -> tuple[bytes, bytes]:
        """
        A certificate for C{name} (and C{127.0.0.1} when C{name} is
        C{localhost}); see L{issue}.
        """
        extra = ("127.0.0.1",) if name == "localhost" else ()
        return self.issue(name, *extra, expired=expired, client=client)

    def write(self, directory: str, stem: str, commonName: str, *names: str) -> tuple[str, str]:
        """
        Issue a certificate and write it and its key to
        C{directory/stem.pem} and C{directory/stem.key}.

        @return: The two paths.
        """
        certificate, key = self.issue(commonName, *names)
        paths = (os.path.join(directory, stem + ".pem"), os.path.join(directory, stem + ".key"))
        for path, data in zip(paths, (certificate, key), strict=True):
            with open(path, "wb") as f:
                f.write(data)
        return paths

    def writeCA(self, directory: str) -> str:
        """
        Write the CA certificate to C{directory/ca.pem}; return the path.
        """
        path = os.path.join(directory, "ca.pem")
        with open(path, "wb") as f:
            f.write(self.certificatePEM)
        return path


def writeFile(directory: str, name: str, data: bytes) -> str:
    """
    Write C{data} to C{directory/name}.

    @return: The path.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return path
