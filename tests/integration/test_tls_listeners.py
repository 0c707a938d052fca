"""
TLS listeners on real sockets, with curl and openssl as clients: the
certificate chosen by server name, old protocol versions refused, the
server name checked against Host, C{X-Forwarded-Proto: https}, an HTTPS
forward proxy, and certificates reloaded without a restart.
"""

from __future__ import annotations

import json
import os
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase

from proxykit.config import (
    CertificateConfig,
    ForwardConfig,
    OriginConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    TLSConfig,
    TLSListener,
    VhostConfig,
)
from proxykit.service import ProxyService, forwardService, reverseService

from .._certs import TestCA
from ._reverse_servers import ReverseHarness
from ._servers import WAIT, headLines, runProcess

APP = "app.example.test"
OTHER = "other.example.test"


class TLSListenerTests(TestCase):
    """
    Reverse and forward proxies listening over TLS.
    """

    timeout = 60

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)
        self.ca = TestCA()
        self.directory = self.harness.tempPath("certs")
        os.makedirs(self.directory)
        self.caFile = self.ca.writeCA(self.directory)
        self.certificates = {
            stem: CertificateConfig(*self.ca.write(self.directory, stem, name, *extra), hosts=hosts)
            for stem, name, extra, hosts in (
                ("default", "default.test", ("127.0.0.1",), ()),
                ("app", APP, (), (APP,)),
                ("other", OTHER, (), (OTHER,)),
            )
        }
        self.tls = TLSConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            defaultCertificate=self.certificates["default"],
            certificates=(self.certificates["app"], self.certificates["other"]),
        )

    @inlineCallbacks
    def start(self, service: ProxyService) -> Any:
        """
        Start C{service} (TLS listeners only); fire with its port.
        """
        service.startService()  # type: ignore[no-untyped-call]
        self.addCleanup(self.stop, service)
        listening = [child for child in service if hasattr(child, "_waitingForPort")][0]
        self.listening = listening
        port = yield self.portOf(listening)
        return port

    def portOf(self, listening: Any) -> Deferred[int]:
        """
        The port number a listener of a service got (without taking the
        port from the service, which needs it to stop listening).
        """
        waiting: Deferred[Any] = Deferred()

        def passOn(port: Any) -> Any:
            if not waiting.called:
                waiting.callback(port)
            return port

        listening._waitingForPort.addCallback(passOn)
        waiting.addTimeout(WAIT, reactor)
        return waiting.addCallback(lambda port: port.getHost().port)

    def stop(self, service: ProxyService) -> Deferred[None]:
        d = service.stopService()
        d.addTimeout(WAIT, reactor)
        return d

    @inlineCallbacks
    def startReverse(self, timeouts: Timeouts | None = None) -> Any:
        """
        A reverse proxy with two virtual hosts on two origins, over TLS.
        """
        app = self.harness.startOrigin("app")
        other = self.harness.startOrigin("other")
        reverse = ReverseConfig(
            vhosts=tuple(
                VhostConfig((name,), (RouteConfig(origins=(OriginConfig(origin.url),)),))
                for name, origin in ((APP, app), (OTHER, other))
            ),
            default=APP,
        )
        config = ProxyConfig(
            listen=(),
            reverse=reverse,
            timeouts=timeouts or Timeouts(connect=5, response=5),
            tls=self.tls,
        )
        self.service = reverseService(config, reactor)
        port = yield self.start(self.service)
        return port

    def curl(self, port: int, url: str, *args: str) -> Deferred[tuple[bytes, bytes, int]]:
        names = [f"{name}:{port}:127.0.0.1" for name in (APP, OTHER)]
        argv = ["-sS", "--max-time", "20", "--noproxy", "*", "--cacert", self.caFile]
        for name in names:
            argv += ["--resolve", name]
        return runProcess(reactor, "curl", [*argv, *args, url])

    def sClient(self, port: int, *args: str) -> Deferred[tuple[bytes, bytes, int]]:
        """
        Run C{openssl s_client} against C{port} with nothing to send (its
        input is C{/dev/null}, so it exits after the handshake).
        """
        script = 'exec openssl s_client "$@" < /dev/null'
        return runProcess(
            reactor, "sh", ["-c", script, "sh", "-connect", f"127.0.0.1:{port}", *args]
        )

    @inlineCallbacks
    def test_certificateByServerName(self) -> Any:
        """
        Each name gets its own certificate (curl verifies it against the
        name and the test CA), and its own virtual host; a client without a
        server name gets the default certificate.
        """
        port = yield self.startReverse()
        for name in (APP, OTHER):
            out, err, code = yield self.curl(port, f"https://{name}:{port}/x")
            self.assertEqual((code, err), (0, b""))
            self.assertEqual(out, f"origin={name.split('.')[0]} uri=/x\n".encode())
        out, err, code = yield self.sClient(port, "-noservername")
        self.assertIn(b"CN = default.test", out)
        out, err, code = yield self.sClient(port, "-servername", OTHER)
        self.assertIn(f"CN = {OTHER}".encode(), out)

    @inlineCallbacks
    def test_chainFile(self) -> Any:
        """
        A certificate file that holds the chain after the leaf (a leaf
        signed by an intermediate authority) is served whole: a client that
        trusts only the root verifies it.
        """
        intermediate = TestCA(self.ca, "proxykit test intermediate")
        self.certificates["app"] = CertificateConfig(
            *intermediate.write(self.directory, "app-chain", APP), hosts=(APP,)
        )
        self.tls = attrs.evolve(
            self.tls, certificates=(self.certificates["app"], self.certificates["other"])
        )
        port = yield self.startReverse()
        out, err, code = yield self.curl(port, f"https://{APP}:{port}/x")
        self.assertEqual((out, code), (b"origin=app uri=/x\n", 0), err)
        out, err, code = yield self.sClient(port, "-servername", APP, "-showcerts")
        self.assertEqual(out.count(b"-----BEGIN CERTIFICATE-----"), 2)
        self.assertIn(b"CN = proxykit test intermediate", out)

    @inlineCallbacks
    def test_oldTLSRefused(self) -> Any:
        """
        A TLS 1.0 client cannot complete a handshake; TLS 1.2 can.
        """
        port = yield self.startReverse()
        out, err, code = yield self.sClient(
            port, "-servername", APP, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"
        )
        self.assertNotEqual(code, 0)
        self.assertNotIn(b"CN = app.example.test", out)
        out, err, code = yield self.sClient(port, "-servername", APP, "-tls1_2")
        self.assertIn(b"CN = app.example.test", out)
        self.assertIn(b"TLSv1.2", out)

    @inlineCallbacks
    def test_listenerSettings(self) -> Any:
        """
        Two TLS listeners of one proxy with different settings: the one
        set to TLS 1.3 only refuses a TLS 1.2 client that the other serves,
        and both choose the certificate by server name and proxy the
        request.
        """
        self.tls = attrs.evolve(
            self.tls,
            listen=(
                "tcp:0:interface=127.0.0.1",
                TLSListener("tcp:0:interface=127.0.0.1", minVersion="1.3"),
            ),
        )
        first = yield self.startReverse()
        [second] = [
            child for child in self.service
            if hasattr(child, "_waitingForPort") and child is not self.listening
        ]
        only13 = yield self.portOf(second)
        out, err, code = yield self.sClient(first, "-servername", APP, "-tls1_2")
        self.assertIn(b"CN = app.example.test", out)
        out, err, code = yield self.sClient(only13, "-servername", APP, "-tls1_2")
        self.assertNotEqual(code, 0)
        self.assertNotIn(b"CN = app.example.test", out)
        out, err, code = yield self.sClient(only13, "-servername", APP, "-tls1_3")
        self.assertIn(b"CN = app.example.test", out)
        self.assertIn(b"TLSv1.3", out)
        for port in (first, only13):
            out, err, code = yield self.curl(port, f"https://{OTHER}:{port}/x")
            self.assertEqual((out, code), (b"origin=other uri=/x\n", 0), err)

    @inlineCallbacks
    def test_stalledHandshake(self) -> Any:
        """
        A client that connects and never finishes the handshake (here: half
        a ClientHello) is disconnected by the header-read timeout, as a
        plain client that sends no request would be.
        """
        port = yield self.startReverse(Timeouts(connect=5, response=5, header=0.5))
        peer = yield self.harness.connect(port)
        peer.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        received = yield peer.waitForClose(timeout=10)
        self.assertNotIn(b"HTTP/1.1", received)

    @inlineCallbacks
    def test_plainHTTPOnTLSPort(self) -> Any:
        """
        A client that speaks plain HTTP to a TLS listener gets a plain-text
        400 that says so (as from nginx), not an empty reply.
        """
        port = yield self.startReverse()
        out, err, code = yield self.curl(port, f"http://{APP}:{port}/x", "-i")
        self.assertEqual(code, 0, err)
        self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out)
        self.assertIn(b"Connection: close\r\n", out)
        self.assertTrue(out.endswith(b"plain HTTP was sent to a TLS port; use https://\n"), out)
        out, err, code = yield self.curl(port, f"https://{APP}:{port}/x")
        self.assertEqual((out, code), (b"origin=app uri=/x\n", 0), err)

    @inlineCallbacks
    def test_serverNameAndHostDiffer(self) -> Any:
        """
        A request whose Host names another virtual host than the TLS server
        name gets 421.
        """
        port = yield self.startReverse()
        out, err, code = yield self.curl(
            port, f"https://{APP}:{port}/x", "-H", f"Host: {OTHER}", "-w", "%{http_code}", "-o", "/dev/null"
        )
        self.assertEqual(out, b"421")

    @inlineCallbacks
    def test_forwardedProto(self) -> Any:
        """
        Origins are told the client used https, and their redirects point at
        the https address.
        """
        port = yield self.startReverse()
        out, err, code = yield self.curl(port, f"https://{APP}:{port}/echo")
        echo = json.loads(out)
        fields = [(name.lower(), value) for name, value in headLines(echo)]
        self.assertIn(("x-forwarded-proto", "https"), fields)
        out, err, code = yield self.curl(
            port, f"https://{APP}:{port}/redirect", "-o", "/dev/null", "-w", "%{redirect_url}"
        )
        self.assertEqual(out, f"https://{APP}:{port}/login".encode())

    @inlineCallbacks
    def test_reload(self) -> Any:
        """
        After a reload, new connections get the certificate now in the
        files.
        """
        port = yield self.startReverse()
        with open(self.certificates["app"].cert, "rb") as f:
            before = f.read()
        out, err, code = yield self.sClient(port, "-servername", APP)
        self.assertIn(before.strip(), out)
        self.ca.write(self.directory, "app", APP)
        with open(self.certificates["app"].cert, "rb") as f:
            after = f.read()
        self.assertTrue(self.service.reloadTLS())
        out, err, code = yield self.sClient(port, "-servername", APP)
        self.assertIn(after.strip(), out)
        self.assertNotIn(before.strip(), out)

    @inlineCallbacks
    def test_redirectListener(self) -> Any:
        """
        A plain listener in C{tls.redirect_listen} answers 301 to the https
        address of the same host and target.
        """
        self.tls = attrs.evolve(
            self.tls, redirectListen=("tcp:0:interface=127.0.0.1",), redirectPort=8443
        )
        yield self.startReverse()
        [redirecting] = [
            child for child in self.service
            if hasattr(child, "_waitingForPort") and child is not self.listening
        ]
        number = yield self.portOf(redirecting)
        out, err, code = yield self.curl(
            number, f"http://{APP}:{number}/a?b=1", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"
        )
        self.assertEqual(out, f"301 https://{APP}:8443/a?b=1".encode())

    @inlineCallbacks
    def startForward(self, connectPort: int) -> Any:
        config = ProxyConfig(
            listen=(),
            forward=ForwardConfig(connectPorts=frozenset({connectPort})),
            timeouts=Timeouts(connect=5, response=5),
            tls=self.tls,
        )
        port = yield self.start(forwardService(config, reactor))
        return port

    @inlineCallbacks
    def test_httpsForwardProxy(self) -> Any:
        """
        curl uses the proxy over TLS for an http:// URL (absolute-form) and
        for an https:// one (CONNECT).
        """
        plain = self.harness.startSite()
        secure = self.harness.startSite(tls=True)
        port = yield self.startForward(secure.port)
        proxy = ["--proxy", f"https://127.0.0.1:{port}", "--proxy-cacert", self.caFile]
        out, err, code = yield runProcess(
            reactor, "curl", ["-sS", "--max-time", "20", *proxy, f"http://127.0.0.1:{plain.port}/path/a"]
        )
        self.assertEqual((out, code), (b"/path/a", 0), err)
        out, err, code = yield runProcess(
            reactor, "curl", ["-sS", "--max-time", "20", "-k", *proxy, f"https://127.0.0.1:{secure.port}/path/b"]
        )
        self.assertEqual((out, code), (b"/path/b", 0), err)
