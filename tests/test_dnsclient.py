"""
Tests for L{proxykit.relay.dnsclient}: queries to a real C{twisted.names}
server on loopback (UDP, port 0), whose records the tests set.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import fail, inlineCallbacks, succeed
from twisted.internet.error import DNSLookupError
from twisted.names import dns, server
from twisted.names.common import ResolverBase
from twisted.names.error import DNSNameError
from twisted.trial.unittest import TestCase

from proxykit.relay.dnsclient import DNSClient


class Records(ResolverBase):
    """
    An in-memory authority: records by name and type.
    """

    def __init__(self) -> None:
        ResolverBase.__init__(self)  # type: ignore[no-untyped-call]
        self.records: dict[tuple[bytes, int], list[dns.RRHeader]] = {}
        self.asked = 0

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Any) -> Any:
        self.asked += 1
        if not any(key[0] == name for key in self.records):
            return fail(DNSNameError(name))
        return succeed((self.records.get((name, type), []), [], []))


class DNSClientTests(TestCase):
    """
    L{DNSClient} asks its servers over one UDP port per family.
    """

    def setUp(self) -> None:
        self.records = Records()
        factory = server.DNSServerFactory(authorities=[self.records])
        port = reactor.listenUDP(  # type: ignore[attr-defined]
            0, dns.DNSDatagramProtocol(controller=factory), interface="127.0.0.1"
        )
        self.addCleanup(port.stopListening)
        self.server = ("127.0.0.1", port.getHost().port)
        self.client = DNSClient([self.server], reactor, (2,))
        self.addCleanup(self.client.close)

    @inlineCallbacks
    def test_addresses(self) -> Any:
        """
        A and AAAA records come back with their TTLs.
        """
        self.records.records[(b"app.test", dns.A)] = [
            dns.RRHeader(b"app.test", dns.A, dns.IN, 7, dns.Record_A("10.0.0.1", 7))
        ]
        answers, _, _ = yield self.client.lookupAddress("app.test")
        self.assertEqual([(r.payload.dottedQuad(), r.ttl) for r in answers], [("10.0.0.1", 7)])
        answers, _, _ = yield self.client.lookupIPV6Address("app.test")
        self.assertEqual(answers, [])

    @inlineCallbacks
    def test_service(self) -> Any:
        """
        SRV records come back with priority, weight, port and target.
        """
        name = b"_http._tcp.api.test"
        self.records.records[(name, dns.SRV)] = [
            dns.RRHeader(name, dns.SRV, dns.IN, 5, dns.Record_SRV(1, 10, 8080, b"a.node", 5))
        ]
        answers, _, _ = yield self.client.lookupService(name.decode())
        [record] = answers
        self.assertEqual(
            (record.payload.priority, record.payload.weight, record.payload.port, str(record.payload.target)),
            (1, 10, 8080, "a.node"),
        )

    @inlineCallbacks
    def test_errors(self) -> Any:
        """
        NXDOMAIN fails with L{DNSNameError}.
        """
        yield self.assertFailure(self.client.lookupAddress("missing.test"), DNSNameError)

    @inlineCallbacks
    def test_onePort(self) -> Any:
        """
        Queries share one UDP port; L{DNSClient.close} closes it and a later
        query binds another.
        """
        self.records.records[(b"app.test", dns.A)] = []
        yield self.client.lookupAddress("app.test")
        [protocol] = self.client._protocols.values()
        yield self.client.lookupAddress("app.test")
        self.assertEqual(list(self.client._protocols.values()), [protocol])
        yield self.client.close()
        self.assertIsNone(protocol.transport)
        yield self.client.lookupAddress("app.test")
        self.assertEqual(self.records.asked, 3)

    @inlineCallbacks
    def test_nextServer(self) -> Any:
        """
        A server that does not answer in time is passed over for the next;
        when none answers, the query fails with L{DNSLookupError}.
        """
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        self.records.records[(b"app.test", dns.A)] = []
        client = DNSClient([silent.getsockname(), self.server], reactor, (0.2,))
        self.addCleanup(client.close)
        answers, _, _ = yield client.lookupAddress("app.test")
        self.assertEqual(answers, [])
        alone = DNSClient([silent.getsockname()], reactor, (0.1, 0.1))
        self.addCleanup(alone.close)
        yield self.assertFailure(alone.lookupAddress("app.test"), DNSLookupError)
