"""
Proxy authentication with a real client: curl with and without
C{--proxy-user} against a forward proxy with an htpasswd file.
"""

from __future__ import annotations

import os
from typing import Any

import bcrypt
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from proxykit import ForwardRouter, ProxyConfig, ProxyFactory
from proxykit.policy.auth import BcryptChecker, ProxyAuthenticator

from ._reverse_servers import ReverseHarness
from ._servers import runProcess


class CurlProxyAuthTests(TestCase):
    """
    curl's --proxy-user works; without it the client is challenged.
    """

    timeout = 60

    @inlineCallbacks
    def test_curl(self) -> Any:
        """
        Without credentials curl gets 407; with the wrong password 407; with
        the right ones the origin's answer.  (That credentials are never
        forwarded is shown in tests.test_proxyauth.)
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("o")
        path = os.path.abspath(self.mktemp())
        with open(path, "wb") as f:
            f.write(b"# users\nalice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)) + b"\n")
        factory = ProxyFactory(
            ForwardRouter(),
            config=ProxyConfig(),
            reactor=reactor,
            authenticator=ProxyAuthenticator(BcryptChecker.fromFile(path), reactor=reactor),
        )
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.addCleanup(factory.pool.closeAll)
        proxy = ["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{port.getHost().port}"]
        url = f"{origin.url}/echo"
        out, err, code = yield runProcess(reactor, "curl", [*proxy, url])
        self.assertEqual(out, b"407", err)
        out, err, code = yield runProcess(reactor, "curl", [*proxy, "--proxy-user", "alice:wrong", url])
        self.assertEqual(out, b"407", err)
        out, err, code = yield runProcess(reactor, "curl", [*proxy, "--proxy-user", "alice:s3cret", url])
        self.assertEqual(out, b"200", err)
        self.assertEqual(len(origin.served), 1)


class DestinationPolicyTests(TestCase):
    """
    A name that resolves to a forbidden address is refused after
    resolution (SSRF through DNS).
    """

    timeout = 60

    @inlineCallbacks
    def test_nameToLoopbackRefused(self) -> Any:
        """
        With strict destinations (as when listening beyond loopback),
        C{localhost} (resolving to 127.0.0.1) gets 403 and the origin sees
        nothing; with the loopback network explicitly allowed it works.
        """
        from proxykit.policy.destinations import DestinationPolicy

        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("o")
        originPort = origin.url.rsplit(":", 1)[1]
        for policy, expected in (
            (DestinationPolicy(strict=True), b"403"),
            (DestinationPolicy(allow=("127.0.0.0/8",), strict=True), b"200"),
        ):
            factory = ProxyFactory(ForwardRouter(), config=ProxyConfig(), reactor=reactor, destinations=policy)
            port = reactor.listenTCP(0, factory, interface="127.0.0.1")
            self.addCleanup(port.stopListening)
            self.addCleanup(factory.pool.closeAll)
            proxy = ["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{port.getHost().port}"]
            out, err, code = yield runProcess(reactor, "curl", [*proxy, f"http://localhost:{originPort}/x"])
            self.assertEqual(out, expected, err)
        self.assertEqual(len(origin.served), 1)


class ParentProxyChainTests(TestCase):
    """
    A proxykit forward proxy chained to a parent proxykit that requires
    credentials: http requests in absolute form and CONNECT tunnels go
    through the parent.
    """

    timeout = 60

    @inlineCallbacks
    def test_chain(self) -> Any:
        """
        curl through the child reaches the origin via the parent (which
        requires Basic credentials, given in the parent URL); a CONNECT
        through the child is tunnelled by the parent to a raw origin.  (With
        the same Via name on both, the parent answers 508: see
        tests.test_protocol's loop test.)
        """
        from proxykit import ForwardConfig

        from ._servers import RawPeerFactory

        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("o")
        path = os.path.abspath(self.mktemp())
        with open(path, "wb") as f:
            f.write(b"child:" + bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)) + b"\n")
        def echo(peer: Any) -> None:
            if peer.received.endswith(b"ping"):
                peer.transport.write(b"echo:ping")

        tunnelPort = h.listen(RawPeerFactory(reactor, echo)).port
        parent = ProxyFactory(
            ForwardRouter(ForwardConfig(connectPorts=frozenset({tunnelPort}))),
            config=ProxyConfig(),
            reactor=reactor,
            authenticator=ProxyAuthenticator(BcryptChecker.fromFile(path), reactor=reactor),
        )
        parentPort = h.listen(parent).port
        self.addCleanup(parent.pool.closeAll)
        childConfig = ForwardConfig(
            connectPorts=frozenset({tunnelPort}),
            parent=f"http://child:pw@127.0.0.1:{parentPort}",
            # Each proxy of a chain needs its own Via name: the parent would
            # take its own name as a loop (508).
            via="child-proxy",
        )
        child = ProxyFactory(ForwardRouter(childConfig), config=ProxyConfig(forward=childConfig), reactor=reactor)
        childPort = h.listen(child).port
        self.addCleanup(child.pool.closeAll)
        proxy = ["-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{childPort}"]
        out, err, code = yield runProcess(reactor, "curl", [*proxy, f"{origin.url}/chained"])
        self.assertEqual((code, out), (0, b"origin=o uri=/chained\n"), err)

        from twisted.internet.endpoints import TCP4ClientEndpoint

        from ._servers import RawPeer

        client = RawPeer(reactor)
        yield TCP4ClientEndpoint(reactor, "127.0.0.1", childPort).connect(
            _Once(client)
        )
        client.transport.write(f"CONNECT 127.0.0.1:{tunnelPort} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        yield client.waitFor(lambda data: b"\r\n\r\n" in data)
        self.assertTrue(client.received.startswith(b"HTTP/1.1 200 "))
        client.transport.write(b"ping")
        yield client.waitFor(lambda data: data.endswith(b"echo:ping"))
        client.transport.loseConnection()
        yield client.waitForClose()


class _Once:
    """
    A client factory for one given protocol.
    """

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def buildProtocol(self, addr: Any) -> Any:
        return self._protocol

    def doStart(self) -> None:
        pass

    def doStop(self) -> None:
        pass
