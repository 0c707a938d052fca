"""
Fault injection on a TLS listener: clients that stall in the handshake,
reset in the middle of it, speak plain HTTP to it, or reset after a request
over TLS, many times over against one in-process proxy.  Each kind must
leave nothing behind (L{tests.integration._faults.leakCheck}: file
descriptors, pooled connections, timers).
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.logger import Logger
from twisted.trial.unittest import TestCase

from proxykit import ConnectionPool, ForwardRouter, ProxyConfig, ProxyFactory, Timeouts
from proxykit.config import CertificateConfig, TLSConfig
from proxykit.tls import ServerTLS

from .._certs import TestCA
from ._faults import leakCheck, reset
from ._reverse_servers import ReverseHarness
from ._servers import (
    WAIT,
    Proxy,
    RawPeerFactory,
    completeResponses,
    parseResponses,
    request,
)

HALF_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
"""The start of a TLS ClientHello that announces more than it sends."""


class TLSListenerLeakTests(TestCase):
    """
    A forward proxy on a TLS listener, with an origin on loopback.
    """

    timeout = 120
    _log = Logger()

    def setUp(self) -> None:
        self.harness = ReverseHarness(self, reactor)
        self.addCleanup(self.harness.close)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        ca = TestCA()
        self.caPEM = ca.certificatePEM
        cert, key = ca.write(directory, "proxy", "proxy.test", "127.0.0.1")
        self.tls = ServerTLS(
            TLSConfig(listen=("tcp:0",), defaultCertificate=CertificateConfig(cert, key))
        )
        config = ProxyConfig(timeouts=Timeouts(connect=5, response=5, header=0.25))
        factory = ProxyFactory(
            ForwardRouter(config.forward),
            ConnectionPool(reactor, config.pool),
            config,
            reactor=reactor,
        )
        self.proxy = Proxy(factory, self.harness.listen(self.tls.wrap(factory)))
        # Closed (client connections, then the pool) with the harness.
        self.harness._proxies.append(self.proxy)
        self.origin = self.harness.startOrigin("o")

    @inlineCallbacks
    def check(self, attempt: Any, count: int, parallel: int) -> Any:
        report = yield leakCheck(
            self, reactor, self.proxy, [self.origin.listener], attempt, count, parallel
        )
        self._log.info("{test}: {report}", test=self.id(), report=report)

    def test_stalledHandshakes(self) -> Any:
        """
        Clients that stop in the middle of the handshake are dropped after
        the header timeout, and leave nothing behind.
        """

        @inlineCallbacks
        def attempt(number: int) -> Any:
            client = yield self.harness.connect(self.proxy.port)
            client.send(HALF_CLIENT_HELLO)
            received = yield client.waitForClose()
            self.assertEqual(received, b"")

        return self.check(attempt, 200, 200)

    def test_resetMidHandshake(self) -> Any:
        """
        Clients that reset in the middle of the handshake leave nothing
        behind.
        """

        tracker = self.proxy.listener.tracker

        @inlineCallbacks
        def attempt(number: int) -> Any:
            # One at a time, so that this connection is the next one the
            # proxy accepts: the client's reset completes at once, and the
            # proxy's side of it must be waited for.
            index = tracker.accepted
            client = yield self.harness.connect(self.proxy.port)
            reset(client, HALF_CLIENT_HELLO)
            yield client.waitForClose()
            yield tracker.connection(index, reactor)
            yield tracker.whenLost(index, reactor)

        return self.check(attempt, 1000, 1)

    def test_plainHTTP(self) -> Any:
        """
        Clients speaking plain HTTP to the TLS listener get a 400 each, and
        leave nothing behind.
        """

        @inlineCallbacks
        def attempt(number: int) -> Any:
            client = yield self.harness.connect(self.proxy.port)
            client.send(request("GET", f"{self.origin.url}/n/{number}"))
            received = yield client.waitForClose()
            self.assertTrue(received.startswith(b"HTTP/1.1 400 Bad Request\r\n"), received)

        return self.check(attempt, 1000, 4)

    def test_resetAfterRequest(self) -> Any:
        """
        Clients that complete a request over TLS and then reset leave
        nothing behind.
        """
        options = optionsForClientTLS("127.0.0.1", trustRoot=Certificate.loadPEM(self.caPEM))

        @inlineCallbacks
        def attempt(number: int) -> Any:
            endpoint = wrapClientTLS(
                options, TCP4ClientEndpoint(reactor, "127.0.0.1", self.proxy.port, timeout=WAIT)
            )
            client = yield endpoint.connect(RawPeerFactory(reactor, None))
            client.send(request("GET", f"{self.origin.url}/n/{number}"))
            received = yield client.waitFor(completeResponses(1))
            [response] = parseResponses(received)
            self.assertEqual(response.status, 200)
            client.transport.abortConnection()
            yield client.waitForClose()

        return self.check(attempt, 200, 4)
