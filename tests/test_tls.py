"""
Tests for L{proxykit.tls} and L{proxykit.config.tlsconfig}: the C{[tls]} table,
certificates chosen by server name, the protocol versions offered, reloading,
and what the reverse router does with a TLS connection's server name.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import attrs
from OpenSSL import SSL
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import (
    CertificateConfig,
    ConfigError,
    OriginConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    TLSConfig,
    TLSListener,
    TLSSettings,
    VhostConfig,
)
from proxykit.decisions import ClientInfo, Forward, Refuse, Respond
from proxykit.h1 import Request
from proxykit.policy.vhosts import ReverseRouter, VhostTable
from proxykit.tls import (
    HTTPSRedirectRouter,
    ServerTLS,
    TLSFileError,
    certificateProblems,
)

from ._certs import TestCA
from ._helpers import parseRequest


def handshake(
    tls: ServerTLS,
    serverName: bytes | None,
    maxVersion: int | None = None,
    alpn: list[bytes] | None = None,
    settings: TLSSettings | None = None,
) -> SSL.Connection:
    """
    Run a TLS handshake between a client and C{tls} in memory.

    @return: The client's connection (its peer certificate is the one the
        server chose).
    @param settings: The listener settings the server side uses.
    @raise SSL.Error: The handshake failed.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    if maxVersion is not None:
        context.set_min_proto_version(maxVersion)
        context.set_max_proto_version(maxVersion)
        context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    if alpn is not None:
        context.set_alpn_protos(alpn)
    client = SSL.Connection(context, None)
    if serverName is not None:
        client.set_tlsext_host_name(serverName)
    client.set_connect_state()
    server = tls.serverConnectionForTLS(None, settings)
    server.set_accept_state()
    for _ in range(20):
        for side in (client, server):
            try:
                side.do_handshake()
            except SSL.WantReadError:
                pass
        moved = False
        for source, sink in ((client, server), (server, client)):
            try:
                data = source.bio_read(65536)
            except SSL.WantReadError:
                continue
            sink.bio_write(data)
            moved = True
        if not moved:
            break
    if client.get_peer_certificate() is None:
        raise SSL.Error("no handshake")
    return client


def commonName(connection: SSL.Connection) -> str:
    certificate = connection.get_peer_certificate()
    assert certificate is not None
    return str(certificate.get_subject().CN)


class Files:
    """
    A CA and certificate files in a test's directory.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.directory = os.path.abspath(case.mktemp())
        os.makedirs(self.directory)
        self.ca = TestCA()

    def certificate(self, stem: str, name: str, *names: str) -> CertificateConfig:
        cert, key = self.ca.write(self.directory, stem, name, *names)
        return CertificateConfig(cert=cert, key=key, hosts=(name, *names) if stem != "default" else ())

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class ServerTLSTests(SynchronousTestCase):
    """
    L{ServerTLS} picks a certificate by the name the client asks for.
    """

    def setUp(self) -> None:
        self.files = Files(self)
        self.config = TLSConfig(
            listen=("tcp:0",),
            defaultCertificate=self.files.certificate("default", "default.test"),
            certificates=(
                self.files.certificate("app", "app.example.test"),
                self.files.certificate("wild", "*.example.test"),
                self.files.certificate("other", "other.test"),
            ),
        )
        self.tls = ServerTLS(self.config)

    def test_exactName(self) -> None:
        """
        A client asking for a listed name gets that name's certificate.
        """
        self.assertEqual(commonName(handshake(self.tls, b"app.example.test")), "app.example.test")
        self.assertEqual(commonName(handshake(self.tls, b"OTHER.test")), "other.test")

    def test_wildcard(self) -> None:
        """
        A name under a C{*.suffix} pattern gets the wildcard's certificate;
        the exact name wins over the wildcard.
        """
        self.assertEqual(commonName(handshake(self.tls, b"api.example.test")), "*.example.test")
        self.assertEqual(commonName(handshake(self.tls, b"app.example.test")), "app.example.test")

    def test_default(self) -> None:
        """
        A client sending no name, or an unknown one, gets the default
        certificate.
        """
        self.assertEqual(commonName(handshake(self.tls, None)), "default.test")
        self.assertEqual(commonName(handshake(self.tls, b"unknown.test")), "default.test")
        self.assertEqual(commonName(handshake(self.tls, b"example.test")), "default.test")

    def test_oldVersionsRefused(self) -> None:
        """
        TLS 1.0 and 1.1 clients fail the handshake; TLS 1.2 and 1.3 succeed.
        """
        for version in (SSL.TLS1_VERSION, SSL.TLS1_1_VERSION):
            self.assertRaises(SSL.Error, handshake, self.tls, b"app.example.test", version)
        for version, name in ((SSL.TLS1_2_VERSION, b"TLSv1.2"), (SSL.TLS1_3_VERSION, b"TLSv1.3")):
            client = handshake(self.tls, b"app.example.test", version)
            self.assertEqual(client.get_protocol_version_name(), name.decode())

    def test_alpn(self) -> None:
        """
        ALPN selects C{http/1.1}; a client offering only C{h2} gets no
        protocol rather than a failed handshake.
        """
        client = handshake(self.tls, b"app.example.test", alpn=[b"h2", b"http/1.1"])
        self.assertEqual(client.get_alpn_proto_negotiated(), b"http/1.1")
        client = handshake(self.tls, b"app.example.test", alpn=[b"h2"])
        self.assertEqual(client.get_alpn_proto_negotiated(), b"")

    def test_reload(self) -> None:
        """
        After L{ServerTLS.reload}, handshakes get the certificates now in
        the files.
        """
        before = handshake(self.tls, b"app.example.test").get_peer_certificate()
        self.files.ca.write(self.files.directory, "app", "app.example.test")
        self.tls.reload()
        after = handshake(self.tls, b"app.example.test").get_peer_certificate()
        assert before is not None and after is not None
        self.assertNotEqual(before.get_serial_number(), after.get_serial_number())
        self.assertEqual(after.get_subject().CN, "app.example.test")

    def test_reloadFailureKeepsCertificates(self) -> None:
        """
        A reload that finds a broken file raises L{TLSFileError} and the old
        certificates stay in use.
        """
        before = handshake(self.tls, None).get_peer_certificate()
        with open(self.config.defaultCertificate.key, "w") as f:
            f.write("not a key\n")
        error = self.assertRaises(TLSFileError, self.tls.reload)
        self.assertEqual(error.which, "key")
        after = handshake(self.tls, None).get_peer_certificate()
        assert before is not None and after is not None
        self.assertEqual(before.get_serial_number(), after.get_serial_number())


class TLSConfigTests(SynchronousTestCase):
    """
    The C{[tls]} table of a config file.
    """

    def setUp(self) -> None:
        self.files = Files(self)
        self.files.ca.write(self.files.directory, "default", "default.test")
        self.files.ca.write(self.files.directory, "app", "app.example.test")

    def load(self, text: str) -> ProxyConfig:
        return ProxyConfig.fromFile(self.files.write("proxy.toml", text))

    def test_values(self) -> None:
        """
        The listeners, the default certificate and the certificates by
        name are read; file names are relative to the config file.
        """
        config = self.load(
            '[tls]\nlisten = ["tcp:8443"]\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n'
            '[[tls.certificate]]\nhosts = ["app.example.test", "*.example.test"]\n'
            'cert = "app.pem"\nkey = "app.key"\n'
        )
        d = self.files.directory
        self.assertEqual(
            config.tls,
            TLSConfig(
                listen=("tcp:8443",),
                defaultCertificate=CertificateConfig(
                    os.path.join(d, "default.pem"), os.path.join(d, "default.key")
                ),
                certificates=(
                    CertificateConfig(
                        os.path.join(d, "app.pem"),
                        os.path.join(d, "app.key"),
                        ("app.example.test", "*.example.test"),
                    ),
                ),
            ),
        )

    def test_noTable(self) -> None:
        """
        Without C{[tls]} there are no TLS listeners.
        """
        self.assertIsNone(self.load("").tls)

    def test_onlyTLS(self) -> None:
        """
        C{listen = []} is allowed when there are TLS listeners.
        """
        config = self.load(
            'listen = []\n[tls]\nlisten = ["tcp:8443"]\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n'
        )
        self.assertEqual(config.listen, ())

    def assertError(self, text: str, line: int | None, key: str, problem: str) -> None:
        error = self.assertRaises(ConfigError, self.load, text)
        self.assertEqual((error.line, error.key), (line, key))
        self.assertIn(problem, error.problem)

    def test_missingFile(self) -> None:
        """
        A certificate file that does not exist is reported at its key.
        """
        self.assertError(
            '[tls]\nlisten = ["tcp:8443"]\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n'
            '[[tls.certificate]]\nhosts = ["a.test"]\n'
            'cert = "missing.pem"\nkey = "app.key"\n',
            6,
            "tls.certificate[0].cert",
            "no such file",
        )

    def test_wrongKey(self) -> None:
        """
        A key that does not belong to its certificate is reported.
        """
        self.assertError(
            '[tls]\nlisten = ["tcp:8443"]\n'
            'default_certificate = { cert = "default.pem", key = "app.key" }\n',
            3,
            "tls.default_certificate.key",
            "does not match",
        )

    def test_notPEM(self) -> None:
        """
        A file that is not a PEM certificate is reported.
        """
        self.files.write("junk.pem", "junk\n")
        self.assertError(
            '[tls]\nlisten = ["tcp:8443"]\n'
            'default_certificate = { cert = "junk.pem", key = "default.key" }\n',
            3,
            "tls.default_certificate.cert",
            "not a PEM certificate",
        )

    def test_missingDefault(self) -> None:
        """
        The default certificate is required.
        """
        self.assertError(
            '[tls]\nlisten = ["tcp:8443"]\n', 1, "tls.default_certificate", "missing"
        )

    def test_noListeners(self) -> None:
        """
        C{tls.listen} must name at least one endpoint.
        """
        self.assertError(
            '[tls]\nlisten = []\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n',
            2,
            "tls.listen",
            "at least one",
        )

    def test_unknownKey(self) -> None:
        """
        Unknown keys are reported.
        """
        self.assertError(
            '[tls]\nlisten = ["tcp:8443"]\ncipher = "x"\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n',
            3,
            "tls.cipher",
            "unknown key",
        )

    def test_duplicateHost(self) -> None:
        """
        A host listed for two certificates is reported at the second.
        """
        self.assertError(
            '[tls]\nlisten = ["tcp:8443"]\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n'
            '[[tls.certificate]]\nhosts = ["a.test"]\ncert = "app.pem"\nkey = "app.key"\n'
            '[[tls.certificate]]\nhosts = ["A.test"]\ncert = "app.pem"\nkey = "app.key"\n',
            9,
            "tls.certificate[1].hosts[0]",
            "already listed",
        )


def get(host: bytes) -> Request:
    return parseRequest(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")


class ServerNameRoutingTests(SynchronousTestCase):
    """
    On a TLS connection the reverse router checks the server name against
    the request's host, and tells origins the client used https.
    """

    def setUp(self) -> None:
        reverse = ReverseConfig(
            vhosts=(
                VhostConfig(
                    ("app.example.test", "other.example.test"),
                    (RouteConfig(origins=(OriginConfig("http://127.0.0.1:9001"),)),),
                ),
            )
        )
        from twisted.internet.task import Clock

        self.router = ReverseRouter(VhostTable.fromConfig(reverse, Clock()), reverse)

    def client(self, serverName: str | None) -> ClientInfo:
        return ClientInfo("127.0.0.1", "127.0.0.1", 8443, secure=True, serverName=serverName)

    def test_mismatch(self) -> None:
        """
        A request for another host than the server name gets 421.
        """
        decision = self.router.route(get(b"other.example.test"), self.client("app.example.test"))
        self.assertEqual(decision, Refuse(421, "TLS server name and Host differ"))

    def test_match(self) -> None:
        """
        The same host in any case and with a port is served, with the
        https policy.
        """
        decision = self.router.route(
            get(b"APP.example.test:8443"), self.client("app.example.test")
        )
        assert isinstance(decision, Forward)
        self.assertEqual(decision.policy.scheme, b"https")  # type: ignore[union-attr]

    def test_noServerName(self) -> None:
        """
        A TLS client that sent no server name may ask for any host.
        """
        decision = self.router.route(get(b"other.example.test"), self.client(None))
        self.assertIsInstance(decision, Forward)

    def test_plain(self) -> None:
        """
        Plain connections get the http policy.
        """
        decision = self.router.route(
            get(b"app.example.test"), ClientInfo("127.0.0.1", "127.0.0.1", 8000)
        )
        assert isinstance(decision, Forward)
        self.assertEqual(decision.policy.scheme, b"http")  # type: ignore[union-attr]


class ExampleTests(SynchronousTestCase):
    """
    examples/reverse-tls.toml loads once its certificates exist.
    """

    def test_example(self) -> None:
        """
        With certificates in C{certs/} beside it, the example loads: a TLS
        listener, the default certificate and one for the app's names.
        """
        files = Files(self)
        example = os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "examples",
            "reverse-tls.toml",
        )
        with open(example) as f:
            text = f.read()
        certs = os.path.join(files.directory, "certs")
        os.makedirs(certs)
        files.ca.write(certs, "default", "localhost")
        files.ca.write(certs, "app", "app.example.test")
        config = ProxyConfig.fromFile(files.write("reverse-tls.toml", text))
        assert config.tls is not None
        self.assertEqual(config.tls.listen, ("tcp:8443:interface=127.0.0.1",))
        self.assertEqual(
            config.tls.certificates[0].hosts, ("app.example.test", "*.app.example.test")
        )
        ServerTLS(config.tls)


class HangupTests(SynchronousTestCase):
    """
    A service with C{reloadOnHangup} reloads its certificates on SIGHUP
    while it runs, and puts the previous handler back when it stops.
    """

    def test_hangup(self) -> None:
        """
        Starting installs the handler; a hangup reloads (through the
        reactor's thread-safe queue); stopping restores the old handler.
        """
        import signal

        from twisted.internet.testing import MemoryReactorClock

        from proxykit.policy.routing import ForwardRouter
        from proxykit.service import makeService

        files = Files(self)
        tls = TLSConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            defaultCertificate=files.certificate("default", "default.test"),
        )
        reactor = MemoryReactorClock()
        calls: list[object] = []
        reactor.callFromThread = lambda f, *a: calls.append(f)  # type: ignore[method-assign]
        service = makeService(ForwardRouter(), ProxyConfig(listen=(), tls=tls), reactor)
        service.reloadOnHangup = True
        before = signal.getsignal(signal.SIGHUP)
        service.startService()  # type: ignore[no-untyped-call]
        try:
            self.assertEqual(len(reactor.tcpServers), 1)
            handler = signal.getsignal(signal.SIGHUP)
            self.assertNotEqual(handler, before)
            handler(signal.SIGHUP, None)  # type: ignore[operator, misc]
            self.assertEqual(calls, [service.reload])
            self.assertTrue(service.reloadTLS())
        finally:
            service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), before)


class RedirectTests(SynchronousTestCase):
    """
    L{HTTPSRedirectRouter} sends plain-HTTP clients to the https address.
    """

    def setUp(self) -> None:
        from twisted.internet.task import Clock

        reverse = ReverseConfig(
            vhosts=(
                VhostConfig(
                    ("app.example.test", "*.example.test"),
                    (RouteConfig(origins=(OriginConfig("http://127.0.0.1:9001"),)),),
                ),
            )
        )
        self.table = VhostTable.fromConfig(reverse, Clock())
        self.client = ClientInfo("127.0.0.1", "127.0.0.1", 8080)

    def test_redirect(self) -> None:
        """
        A known host is redirected with 301 to https, same host (without the
        plain port) and target; the https port appears unless it is 443.
        """
        request = parseRequest(b"GET /a?b=1 HTTP/1.1\r\nHost: App.example.test:8080\r\n\r\n")
        self.assertEqual(
            HTTPSRedirectRouter(self.table).route(request, self.client),
            Respond(
                301,
                ((b"Location", b"https://app.example.test/a?b=1"), (b"Content-Length", b"0")),
                b"",
            ),
        )
        decision = HTTPSRedirectRouter(self.table, 8443).route(request, self.client)
        assert isinstance(decision, Respond)
        self.assertEqual(decision.headers[0], (b"Location", b"https://app.example.test:8443/a?b=1"))

    def test_unknownHost(self) -> None:
        """
        A host the table does not serve gets 421; no Host, 400.
        """
        router = HTTPSRedirectRouter(self.table)
        request = parseRequest(b"GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n")
        self.assertEqual(router.route(request, self.client), Refuse(421, "unknown host"))
        request = parseRequest(b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual(router.route(request, self.client), Refuse(400, "no usable Host"))

    def test_anyHost(self) -> None:
        """
        Without a table, any well-formed host is redirected; IPv6 literals
        keep their brackets.
        """
        request = parseRequest(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
        decision = HTTPSRedirectRouter(None).route(request, self.client)
        assert isinstance(decision, Respond)
        self.assertEqual(decision.headers[0], (b"Location", b"https://[::1]/"))

    def test_config(self) -> None:
        """
        C{tls.redirect_listen} and C{tls.redirect_port} are read;
        C{ssl:} endpoints in C{tls.listen} are refused.
        """
        files = Files(self)
        files.ca.write(files.directory, "default", "default.test")
        text = (
            '[tls]\nlisten = ["tcp:8443"]\nredirect_listen = ["tcp:8080"]\nredirect_port = 8443\n'
            'default_certificate = { cert = "default.pem", key = "default.key" }\n'
        )
        tls = ProxyConfig.fromFile(files.write("a.toml", text)).tls
        assert tls is not None
        self.assertEqual((tls.redirectListen, tls.redirectPort), (("tcp:8080",), 8443))
        error = self.assertRaises(
            ConfigError,
            ProxyConfig.fromFile,
            files.write("b.toml", text.replace('"tcp:8443"', '"ssl:8443"')),
        )
        self.assertEqual(error.key, "tls.listen[0]")


class TLSSettingsTests(SynchronousTestCase):
    """
    The oldest TLS version and the TLS 1.2 cipher list can be set for the
    TLS listeners.
    """

    def setUp(self) -> None:
        self.files = Files(self)
        self.files.ca.write(self.files.directory, "default", "default.test")

    def load(self, extra: str) -> ProxyConfig:
        return ProxyConfig.fromFile(
            self.files.write(
                "proxy.toml",
                '[tls]\nlisten = ["tcp:8443"]\n'
                'default_certificate = { cert = "default.pem", key = "default.key" }\n' + extra,
            )
        )

    def test_tls13Only(self) -> None:
        """
        With C{min_version = "1.3"} a TLS 1.2 client fails the handshake.
        """
        config = self.load('min_version = "1.3"\n').tls
        assert config is not None
        self.assertEqual(config.minVersion, "1.3")
        tls = ServerTLS(config)
        self.assertRaises(SSL.Error, handshake, tls, b"default.test", SSL.TLS1_2_VERSION)
        self.assertEqual(handshake(tls, b"default.test").get_protocol_version_name(), "TLSv1.3")

    def test_ciphers(self) -> None:
        """
        A cipher list is used for TLS 1.2; one OpenSSL rejects is a config
        error naming the key.
        """
        config = self.load('ciphers = "ECDHE+CHACHA20"\n').tls
        assert config is not None
        client = handshake(ServerTLS(config), b"default.test", SSL.TLS1_2_VERSION)
        self.assertIn("CHACHA20", client.get_cipher_name())
        error = self.assertRaises(ConfigError, self.load, 'ciphers = "NOTHING-AT-ALL"\n')
        self.assertEqual(error.key, "tls.ciphers")
        error = self.assertRaises(ConfigError, self.load, 'min_version = "1.1"\n')
        self.assertEqual(error.key, "tls.min_version")


class ListenerSettingsTests(SynchronousTestCase):
    """
    A TLS listener can override the C{[tls]} table's oldest version and
    cipher list: C{listen} takes C{{ endpoint = ..., min_version = ...,
    ciphers = ... }} tables beside endpoint strings.
    """

    def setUp(self) -> None:
        self.files = Files(self)
        self.files.ca.write(self.files.directory, "default", "default.test")
        self.files.ca.write(self.files.directory, "app", "app.example.test")

    def load(self, listen: str, extra: str = "") -> ProxyConfig:
        return ProxyConfig.fromFile(
            self.files.write(
                "proxy.toml",
                f"[tls]\nlisten = {listen}\n"
                'default_certificate = { cert = "default.pem", key = "default.key" }\n'
                + extra
                + '[[tls.certificate]]\nhosts = ["app.example.test"]\n'
                'cert = "app.pem"\nkey = "app.key"\n',
            )
        )

    def test_read(self) -> None:
        """
        A listener table's settings override the table's; what it leaves
        out, and plain endpoint strings, get the table's.
        """
        config = self.load(
            '["tcp:8443", { endpoint = "tcp:8444", min_version = "1.3" },'
            ' { endpoint = "tcp:8445", ciphers = "ECDHE+CHACHA20" }]',
            'ciphers = "ECDHE+AESGCM"\n',
        ).tls
        assert config is not None
        self.assertEqual(
            config.listen,
            (
                "tcp:8443",
                TLSListener("tcp:8444", minVersion="1.3"),
                TLSListener("tcp:8445", ciphers="ECDHE+CHACHA20"),
            ),
        )
        self.assertEqual(config.endpoints, ("tcp:8443", "tcp:8444", "tcp:8445"))
        self.assertEqual(
            config.listeners(),
            (
                ("tcp:8443", TLSSettings("1.2", "ECDHE+AESGCM")),
                ("tcp:8444", TLSSettings("1.3", "ECDHE+AESGCM")),
                ("tcp:8445", TLSSettings("1.2", "ECDHE+CHACHA20")),
            ),
        )

    def test_handshakes(self) -> None:
        """
        Each listener's connections use its own settings, with the
        certificate chosen by server name as on any other listener: a TLS
        1.2 client is refused by the listener that asks for 1.3 only, and
        served by the one beside it.
        """
        config = self.load('["tcp:8443", { endpoint = "tcp:8444", min_version = "1.3" }]').tls
        assert config is not None
        tls = ServerTLS(config)
        (_, open12), (_, only13) = config.listeners()
        client = handshake(tls, b"app.example.test", SSL.TLS1_2_VERSION, settings=open12)
        self.assertEqual(commonName(client), "app.example.test")
        self.assertRaises(
            SSL.Error, handshake, tls, b"app.example.test", SSL.TLS1_2_VERSION, settings=only13
        )
        client = handshake(tls, b"app.example.test", settings=only13)
        self.assertEqual(
            (commonName(client), client.get_protocol_version_name()),
            ("app.example.test", "TLSv1.3"),
        )
        self.assertEqual(commonName(handshake(tls, None, settings=only13)), "default.test")

    def test_ciphers(self) -> None:
        """
        A listener's cipher list is used for its TLS 1.2 connections only.
        """
        config = self.load(
            '["tcp:8443", { endpoint = "tcp:8444", ciphers = "ECDHE+CHACHA20" }]'
        ).tls
        assert config is not None
        tls = ServerTLS(config)
        (_, table), (_, chacha) = config.listeners()
        client = handshake(tls, b"app.example.test", SSL.TLS1_2_VERSION, settings=chacha)
        self.assertIn("CHACHA20", client.get_cipher_name())
        client = handshake(tls, b"app.example.test", SSL.TLS1_2_VERSION, settings=table)
        self.assertIn("AES", client.get_cipher_name())

    def test_wrapUnknownSettings(self) -> None:
        """
        L{ServerTLS.wrap} refuses settings the config does not use (it has
        loaded no certificates for them).  Listeners wrapped with their
        settings are tested on real sockets in
        L{tests.integration.test_tls_listeners}.
        """
        config = self.load('["tcp:8443", { endpoint = "tcp:8444", min_version = "1.3" }]').tls
        assert config is not None
        tls = ServerTLS(config)
        factory = Factory.forProtocol(Protocol)
        for _, settings in config.listeners():
            tls.wrap(factory, settings)
        self.assertRaises(ValueError, tls.wrap, factory, TLSSettings("1.3", "ECDHE+CHACHA20"))

    def test_reload(self) -> None:
        """
        L{ServerTLS.reload} reaches the certificates of every listener's
        settings.
        """
        config = self.load('["tcp:8443", { endpoint = "tcp:8444", min_version = "1.3" }]').tls
        assert config is not None
        tls = ServerTLS(config)
        (_, only13) = config.listeners()[1]
        before = handshake(tls, b"app.example.test", settings=only13).get_peer_certificate()
        self.files.ca.write(self.files.directory, "app", "app.example.test")
        tls.reload()
        after = handshake(tls, b"app.example.test", settings=only13).get_peer_certificate()
        assert before is not None and after is not None
        self.assertNotEqual(before.get_serial_number(), after.get_serial_number())

    def test_adoptNamedListener(self) -> None:
        """
        A listener wrapped by endpoint string (L{ServerTLS.wrapListener})
        takes, after L{ServerTLS.adopt}, the certificates the new config's
        files hold and the settings it gives that endpoint, while keeping
        its socket: a reload that drops C{min_version = "1.3"} lets TLS
        1.2 clients in.
        """
        config = self.load('["tcp:8443", { endpoint = "tcp:8444", min_version = "1.3" }]').tls
        assert config is not None
        tls = ServerTLS(config)
        from proxykit.tls import _NamedListenerTLS

        factory = Factory.forProtocol(Protocol)
        self.assertIs(tls.wrapListener(factory, "tcp:8444").wrappedFactory, factory)
        creator = _NamedListenerTLS(tls, "tcp:8444")

        class Listener:
            def serverConnectionForTLS(self, protocol: object, settings: object) -> SSL.Connection:
                return creator.serverConnectionForTLS(protocol)

        listener: Any = Listener()
        self.assertRaises(
            SSL.Error, handshake, listener, b"app.example.test", SSL.TLS1_2_VERSION
        )
        before = handshake(listener, b"app.example.test").get_peer_certificate()
        self.files.ca.write(self.files.directory, "app", "app.example.test")
        newConfig = self.load('["tcp:8443", "tcp:8444"]').tls
        assert newConfig is not None
        tls.adopt(ServerTLS(newConfig))
        client = handshake(listener, b"app.example.test", SSL.TLS1_2_VERSION)
        after = client.get_peer_certificate()
        assert before is not None and after is not None
        self.assertNotEqual(before.get_serial_number(), after.get_serial_number())
        self.assertEqual(tls.settingsOf("tcp:8444"), newConfig.settings)

    def assertError(self, listen: str, key: str, problem: str) -> None:
        error = self.assertRaises(ConfigError, self.load, listen)
        self.assertEqual((error.line, error.key), (2, key))
        self.assertIn(problem, error.problem)

    def test_errors(self) -> None:
        """
        A bad listener table is reported with the key inside it.
        """
        self.assertError(
            '["tcp:8443", { endpoint = "tcp:8444", min_version = "1.0" }]',
            "tls.listen[1].min_version",
            '"1.2" or "1.3"',
        )
        self.assertError(
            '[{ endpoint = "tcp:8444", ciphers = "NOTHING-AT-ALL" }]',
            "tls.listen[0].ciphers",
            "an OpenSSL cipher list",
        )
        self.assertError(
            '[{ endpoint = "tcp:8444", min = "1.3" }]', "tls.listen[0].min", "unknown key"
        )
        self.assertError('[{ min_version = "1.3" }]', "tls.listen[0].endpoint", "missing")
        self.assertError(
            '["tcp:8443", { endpoint = "ssl:8444" }]', "tls.listen[1].endpoint", "plain endpoint"
        )
        self.assertError('["tcp:8443", 8444]', "tls.listen[1]", "an endpoint string or a table")


class CertificateProblemsTests(SynchronousTestCase):
    """
    L{certificateProblems} tells what an operator should hear about a usable
    certificate; L{ServerTLS} logs it as warnings when it (re)loads.
    """

    def setUp(self) -> None:
        self.files = Files(self)
        self.now = datetime.datetime.now(datetime.timezone.utc)

    def test_healthy(self) -> None:
        """
        A current certificate valid for every host it is listed for has no
        problem.
        """
        certificate = self.files.certificate("app", "app.example.test", "127.0.0.1")
        self.assertEqual(certificateProblems(certificate), [])

    def test_expiry(self) -> None:
        """
        An expired certificate, one not valid yet and one that expires within
        two weeks are each reported with the date.
        """
        certificate = self.files.certificate("app", "app.example.test")
        day = datetime.timedelta(days=1)
        [expired] = certificateProblems(certificate, self.now + 91 * day)
        self.assertTrue(expired.startswith("expired on "), expired)
        [early] = certificateProblems(certificate, self.now - day)
        self.assertTrue(early.startswith("not valid before "), early)
        [soon] = certificateProblems(certificate, self.now + 80 * day)
        self.assertTrue(soon.startswith("expires on "), soon)
        self.assertEqual(certificateProblems(certificate, self.now + 70 * day), [])

    def test_hostsNotCovered(self) -> None:
        """
        Each listed host the certificate is not valid for is reported: an
        exact name, an address, and a wildcard deeper than the
        certificate's.
        """
        cert, key = self.files.ca.write(self.files.directory, "wild", "*.example.test")
        certificate = CertificateConfig(
            cert, key, ("*.example.test", "a.example.test", "example.test", "*.a.example.test", "10.0.0.1")
        )
        self.assertEqual(
            certificateProblems(certificate),
            [
                "not valid for example.test (listed in its hosts)",
                "not valid for *.a.example.test (listed in its hosts)",
                "not valid for 10.0.0.1 (listed in its hosts)",
            ],
        )

    def test_logged(self) -> None:
        """
        L{ServerTLS} warns of each problem, naming the file, when it loads
        and when it reloads the certificates.
        """
        certificate = self.files.certificate("app", "app.example.test")
        config = TLSConfig(
            listen=("tcp:0",),
            defaultCertificate=self.files.certificate("default", "default.test"),
            certificates=(attrs.evolve(certificate, hosts=("app.example.test", "api.example.test")),),
        )
        with capturedLogs() as events:
            tls = ServerTLS(config)
            tls.reload()
        warnings = [
            formatEvent(event) for event in events if event["log_level"] == LogLevel.warn
        ]
        expected = (
            f"TLS certificate {certificate.cert}: "
            "not valid for api.example.test (listed in its hosts)"
        )
        self.assertEqual(warnings, [expected, expected])


class DirectSendTests(SynchronousTestCase):
    """
    TLS listener connections send their encrypted bytes straight to the
    socket by overriding C{TLSMemoryBIOProtocol._flushSendBIO}, a private
    Twisted method; this checks that Twisted still calls it by that name
    (otherwise the override would silently do nothing).
    """

    def test_hookStillThere(self) -> None:
        """
        Twisted's TLS protocol still defines and calls C{_flushSendBIO}.
        """
        import inspect

        from twisted.protocols import tls as twistedTLS

        source = inspect.getsource(twistedTLS.TLSMemoryBIOProtocol)
        self.assertIn("def _flushSendBIO(self)", source)
        self.assertGreater(source.count("self._flushSendBIO()"), 2)
        self.assertIn("self._tlsConnection.bio_read(", source)


class CertificateProblemsUnreadableTests(SynchronousTestCase):
    """
    L{certificateProblems} reports a certificate it cannot read rather than
    raising: it runs after the files were loaded, and one may have been
    replaced since.
    """

    def test_unreadable(self) -> None:
        """
        A file that is no longer PEM is reported as one problem.
        """
        files = Files(self)
        certificate = CertificateConfig(files.write("gone.pem", "not PEM\n"), "unused.key")
        [problem] = certificateProblems(certificate)
        self.assertTrue(problem.startswith("could not be read to check"), problem)


class _Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


class ListenerSteadyStateTests(SynchronousTestCase):
    """
    A TLS listener's connection, with its server-name and ALPN callbacks,
    encrypts and decrypts through the steady state of
    L{proxykit._twistedcompat.DirectSendTLSProtocol} once its handshake is
    done (when this Twisted and pyOpenSSL allow it).
    """

    def test_requestsAfterHandshake(self) -> None:
        """
        After the handshake, requests reach the application and its
        responses reach the client without pyOpenSSL's C{recv} or C{send}
        on the server's connection.
        """
        from twisted.internet.address import IPv4Address
        from twisted.internet.testing import StringTransport

        from proxykit import _twistedcompat

        files = Files(self)
        tls = ServerTLS(
            TLSConfig(
                listen=("tcp:0",),
                defaultCertificate=files.certificate("default", "default.test"),
                certificates=(files.certificate("app", "app.example.test"),),
            )
        )
        server: Any = tls.wrap(Factory.forProtocol(_Echo)).buildProtocol(
            IPv4Address("TCP", "127.0.0.1", 443)
        )
        transport = StringTransport()
        server.makeConnection(transport)
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_alpn_protos([b"http/1.1"])
        client = SSL.Connection(context, None)
        client.set_tlsext_host_name(b"app.example.test")
        client.set_connect_state()

        def exchange() -> bytes:
            while True:
                try:
                    data = client.bio_read(65536)
                except SSL.WantReadError:
                    break
                server.dataReceived(data)
            if transport.value():
                client.bio_write(transport.value())
                transport.clear()
            out = b""
            while True:
                try:
                    out += client.recv(65536)
                except SSL.WantReadError:
                    return out

        for _ in range(5):
            try:
                client.do_handshake()
            except SSL.WantReadError:
                pass
            if transport.value():
                client.bio_write(transport.value())
                transport.clear()
            try:
                server.dataReceived(client.bio_read(65536))
            except SSL.WantReadError:
                pass
        self.assertTrue(server._handshakeDone)
        self.assertEqual(client.get_alpn_proto_negotiated(), b"http/1.1")
        self.assertEqual(commonName(client), "app.example.test")
        self.assertEqual(exchange(), b"")
        used: list[str] = []
        recv, send = SSL.Connection.recv, SSL.Connection.send

        def countedRecv(connection: SSL.Connection, size: int) -> bytes:
            if connection is server._tlsConnection:
                used.append("recv")
            return recv(connection, size)

        def countedSend(connection: SSL.Connection, data: bytes) -> int:
            if connection is server._tlsConnection:
                used.append("send")
            return send(connection, data)

        self.patch(SSL.Connection, "recv", countedRecv)
        self.patch(SSL.Connection, "send", countedSend)
        for i in range(3):
            client.send(b"GET /%d HTTP/1.1\r\n\r\n" % (i,))
            self.assertEqual(exchange(), b"GET /%d HTTP/1.1\r\n\r\n" % (i,))
        self.assertEqual(used, [] if _twistedcompat.TLS_STEADY_STATE else ["recv", "send", "recv"] * 3)
