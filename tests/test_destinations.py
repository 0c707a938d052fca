"""
Tests for L{proxykit.policy.destinations}, the host classification it relies on
(L{proxykit.config.checks.canonicalHost}) and the connector's checks in
L{proxykit.relay.endpoints}: names and every address connected to are checked,
whatever spelling produced it.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from proxykit import ForwardConfig, ProxyConfig
from proxykit.config.checks import checkPattern
from proxykit.policy.destinations import DestinationPolicy, DestinationRefused
from proxykit.relay.endpoints import connect
from proxykit.relay.errors import connectFailureStatus
from proxykit.testing import ProxyHarness

NON_CANONICAL = (
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7F.1",
    "0177.0.0.1",
    "0177.1",
    "127.000.000.001",
    "017700000001",
    "0",
    "10.1",
    "169.254.43518",
    "example.123",
    "a.0x",
)
"""
Hosts the system resolver (C{inet_aton}) or a browser's URL parser reads
as IPv4 addresses, or would try to, but which are not written as one in
dotted decimal: decimal, octal, hexadecimal and short forms.
"""


def allowed(policy: DestinationPolicy, host: str, address: str) -> bool:
    if policy.checkName(host) is not None:
        return False
    check = policy.addressCheck(host)
    return check is None or check(address)


class DestinationPolicyTests(SynchronousTestCase):
    """
    Deny and allow lists by name and network; special-purpose addresses in
    strict mode.
    """

    def test_open(self) -> None:
        """
        Without rules everything is allowed, except the unspecified
        addresses, which are never destinations.
        """
        policy = DestinationPolicy()
        self.assertIsNone(policy.checkName("10.0.0.1"))
        self.assertIsNone(policy.checkName("internal.example"))
        self.assertTrue(policy.addressCheck("internal.example")("127.0.0.1"))
        for unspecified in ("0.0.0.0", "::", "::ffff:0.0.0.0"):
            self.assertIsNotNone(policy.checkName(unspecified), unspecified)
            self.assertFalse(policy.addressCheck("x.test")(unspecified), unspecified)

    def test_unspecifiedNeverAllowed(self) -> None:
        """
        C{0.0.0.0} and C{::} connect to this machine: they are refused even
        when an allowed network includes them, literal or resolved.
        """
        policy = DestinationPolicy(allow=("0.0.0.0/0", "::/0"), allowPorts=())
        for unspecified in ("0.0.0.0", "::", "::ffff:0.0.0.0"):
            self.assertEqual(
                policy.checkName(unspecified), "destination address not allowed", unspecified
            )
            self.assertFalse(allowed(policy, "x.test", unspecified), unspecified)
        self.assertTrue(allowed(policy, "x.test", "192.0.2.1"))

    def test_mappedJudgedAsIPv4(self) -> None:
        """
        An IPv4-mapped IPv6 address is judged as the IPv4 address it maps,
        against denied and allowed networks and the special ranges alike,
        as a literal and as a resolved address.
        """
        deny = DestinationPolicy(deny=("127.0.0.0/8", "10.0.0.0/8"))
        for mapped in ("::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.1.2.3"):
            self.assertEqual(deny.checkName(mapped), "destination address not allowed", mapped)
            self.assertFalse(allowed(deny, "x.test", mapped), mapped)
        strict = DestinationPolicy(strict=True)
        self.assertIsNotNone(strict.checkName("::ffff:169.254.169.254"))
        allow = DestinationPolicy(allow=("10.0.0.0/8",), strict=True)
        self.assertIsNone(allow.checkName("::ffff:10.1.2.3"))
        self.assertTrue(allowed(allow, "x.test", "::ffff:10.1.2.3"))

    def test_literalsJudgedLikeResolvedAddresses(self) -> None:
        """
        One rule: a literal destination is refused exactly when the same
        address, resolved from a name, would be.
        """
        policies = (
            DestinationPolicy(strict=True),
            DestinationPolicy(),
            DestinationPolicy(deny=("192.0.2.0/24",)),
            DestinationPolicy(allow=("10.0.0.0/8",), strict=True),
        )
        addresses = (
            "127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "192.0.2.9",
            "93.184.216.34", "::1", "fe80::1", "::ffff:127.0.0.1", "0.0.0.0", "::",
            "2606:4700::1",
        )  # fmt: skip
        for policy in policies:
            for address in addresses:
                self.assertEqual(
                    policy.checkName(address) is None,
                    policy.addressCheck("name.test")(address),
                    (policy.strict, address),
                )

    def test_nonCanonicalNamesRefused(self) -> None:
        """
        A host spelled as a number other than dotted decimal is refused by
        L{DestinationPolicy.checkName} (the router refuses it earlier with
        400).
        """
        for policy in (DestinationPolicy(), DestinationPolicy(strict=True)):
            for host in NON_CANONICAL:
                self.assertEqual(policy.checkName(host), "destination host malformed", host)

    def test_deny(self) -> None:
        """
        Denied names are refused before resolution; denied networks for
        literals and for every resolved address.
        """
        policy = DestinationPolicy(deny=("*.corp.example", "blocked.test", "203.0.113.0/24"))
        self.assertEqual(policy.checkName("a.corp.example"), "destination denied")
        self.assertEqual(policy.checkName("blocked.test"), "destination denied")
        self.assertIsNotNone(policy.checkName("203.0.113.9"))
        self.assertFalse(allowed(policy, "innocent.test", "203.0.113.9"))
        self.assertTrue(allowed(policy, "innocent.test", "198.51.100.1"))

    def test_allow(self) -> None:
        """
        With an allow list, a destination must match it by name or by
        resolved address.
        """
        policy = DestinationPolicy(allow=("*.example.com", "198.51.100.0/24"))
        self.assertTrue(allowed(policy, "www.example.com", "192.0.2.1"))
        self.assertTrue(allowed(policy, "other.test", "198.51.100.7"))
        self.assertFalse(allowed(policy, "other.test", "192.0.2.1"))
        names = DestinationPolicy(allow=("example.com",))
        self.assertEqual(names.checkName("other.test"), "destination not allowed")

    def test_strict(self) -> None:
        """
        In strict mode a name resolving to loopback, private, link-local or
        mapped addresses is refused, unless a network allows it explicitly.
        """
        policy = DestinationPolicy(strict=True)
        for address in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:127.0.0.1", "0.0.0.0", "fe80::1"):
            self.assertFalse(allowed(policy, "evil.test", address), address)
        self.assertTrue(allowed(policy, "ok.test", "93.184.216.34"))
        explicit = DestinationPolicy(allow=("10.0.0.0/8", "*.test"), strict=True)
        self.assertTrue(allowed(explicit, "db.test", "10.0.0.5"))
        self.assertFalse(allowed(explicit, "db.test", "192.168.0.5"))

    def test_ports(self) -> None:
        """
        An allowed-port list limits absolute-form requests.
        """
        self.assertTrue(DestinationPolicy().checkPort(8081))
        policy = DestinationPolicy(allowPorts=(80, 8080))
        self.assertTrue(policy.checkPort(80))
        self.assertFalse(policy.checkPort(22))

    def test_nameAnswersKept(self) -> None:
        """
        L{DestinationPolicy.checkName} gives the same answer for a host each
        time it is asked (it keeps its answers, a bounded number of them).
        """
        policy = DestinationPolicy(deny=("bad.test",), strict=True)
        hosts = ["bad.test", "127.0.0.1", "127.1", "good.test"] + [f"h{i}.test" for i in range(1100)]
        first = [policy.checkName(host) for host in hosts]
        again = [policy.checkName(host) for host in reversed(hosts)]
        self.assertEqual(first, list(reversed(again)))
        self.assertEqual(
            first[:4],
            [
                "destination denied",
                "destination address not allowed",
                "destination host malformed",
                None,
            ],
        )
        self.assertLessEqual(len(policy._names), 1024)

    def test_listenerAt(self) -> None:
        """
        A policy that follows its listeners becomes strict, for good, when
        told of a listener on every interface or a non-loopback address, and
        forgets the answers it gave before; loopback and UNIX listeners
        change nothing, nor does any listener for a policy that does not
        follow them.
        """
        policy = DestinationPolicy(followsListeners=True)
        self.assertIsNone(policy.checkName("127.0.0.1"))
        for address in (
            IPv4Address("TCP", "127.0.0.1", 1),
            IPv6Address("TCP", "::1", 1),
            UNIXAddress("/tmp/proxy.sock"),
        ):
            policy.listenerAt(address)
            self.assertFalse(policy.strict, address)
        policy.listenerAt(IPv6Address("TCP", "::", 1))
        self.assertTrue(policy.strict)
        self.assertEqual(policy.checkName("127.0.0.1"), "destination address not allowed")
        policy.listenerAt(IPv4Address("TCP", "127.0.0.1", 1))
        self.assertTrue(policy.strict)
        for address in (IPv4Address("TCP", "0.0.0.0", 1), IPv4Address("TCP", "192.0.2.1", 1)):
            fixed = DestinationPolicy()
            fixed.listenerAt(address)
            self.assertFalse(fixed.strict)
            follows = DestinationPolicy(followsListeners=True)
            follows.listenerAt(address)
            self.assertTrue(follows.strict, address)

    def test_patterns(self) -> None:
        """
        Patterns are names, wildcards, addresses or networks.
        """
        for good in ("example.com", "*.example.com", "10.0.0.0/8", "::1", "2001:db8::/32", "a-b.c"):
            checkPattern(good)
        for bad in ("", "exa mple.com", "*.", "http://x", "a..b", "127.1", "0x7f000001", "*.1"):
            self.assertRaises(ValueError, checkPattern, bad)


class ResolvedAddressTests(SynchronousTestCase):
    """
    The connector checks every address a name resolves to before
    connecting.
    """

    def test_forbiddenAddressNotTried(self) -> None:
        """
        A name that resolves only to a forbidden address fails with
        DestinationRefused (403) and no connection is attempted.
        """
        reactor = MemoryReactorClock()  # resolves every name to 127.0.0.1
        policy = DestinationPolicy(strict=True)
        d = connect(
            reactor, "internal.test", 80, 5, Factory.forProtocol(Protocol),
            addressCheck=policy.addressCheck("internal.test"),
        )
        failure = self.failureResultOf(d, DestinationRefused)
        self.assertEqual(connectFailureStatus(failure.value)[0], 403)
        self.assertEqual(reactor.tcpClients, [])

    def test_allowedAddressTried(self) -> None:
        """
        An allowed address is connected to as usual.
        """
        reactor = MemoryReactorClock()
        d = connect(
            reactor, "internal.test", 80, 5, Factory.forProtocol(Protocol),
            addressCheck=lambda address: address == "127.0.0.1",
        )
        self.assertNoResult(d)
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.1", 80))

    def test_literalChecked(self) -> None:
        """
        An IP literal is checked by the connector too: a forbidden one fails
        with DestinationRefused and is not connected to.
        """
        for host in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0"):
            reactor = MemoryReactorClock()
            d = connect(
                reactor, host, 80, 5, Factory.forProtocol(Protocol),
                addressCheck=DestinationPolicy(strict=True).addressCheck(host),
            )  # fmt: skip
            self.failureResultOf(d, DestinationRefused)
            self.assertEqual(reactor.tcpClients, [], host)

    def test_numericNameJudgedByItsAddress(self) -> None:
        """
        A host only the system resolver reads as an address (C{127.1}) is
        judged by the address it resolves to, not by its spelling.
        """
        reactor = MemoryReactorClock()  # resolves every name to 127.0.0.1
        d = connect(
            reactor, "127.1", 80, 5, Factory.forProtocol(Protocol),
            addressCheck=DestinationPolicy(deny=("127.0.0.0/8",)).addressCheck("127.1"),
        )  # fmt: skip
        self.failureResultOf(d, DestinationRefused)
        self.assertEqual(reactor.tcpClients, [])


STRICT = ProxyConfig(forward=ForwardConfig(allowClients=("192.0.2.0/24", "127.0.0.0/8")))


class NonLoopbackClientTests(SynchronousTestCase):
    """
    A forward proxy that listens beyond loopback (strict destinations),
    driven by a client at a non-loopback address, through the whole stack
    on a fake reactor: no spelling of a loopback, private or unspecified
    address reaches an origin.
    """

    def proxy(self, peer: str = "192.0.2.7", local: str = "192.0.2.10") -> ProxyHarness:
        """
        The strict proxy, where C{localhost} and C{evil.test} resolve to
        127.0.0.1, and its client at C{peer} reaching it at C{local}.
        """
        h = ProxyHarness(STRICT, destinations=DestinationPolicy(strict=True))
        for name in ("localhost", "evil.test"):
            for port in (443, 9000):
                h.fakeOrigin(f"{name}:{port}", resolvesTo="127.0.0.1")
        self.peer, self.local = peer, local
        return h

    def status(self, h: ProxyHarness, request: bytes) -> bytes:
        """
        The status line the client at C{self.peer} gets for C{request}'s
        method and target.
        """
        method, target = request.split(b" ")[:2]
        client = h.fakeClient(f"{self.peer}:50000", f"{self.local}:3128")
        response = client.request(method, target, [(b"Host", b"x")])
        return b"HTTP/1.1 %d %s" % (response.status, response.reason)

    def test_spellings(self) -> None:
        """
        Absolute-form targets and CONNECT authorities naming 127.0.0.1 in
        any spelling: non-canonical numbers get 400; dotted decimal (with a
        trailing dot or IPv4-mapped), the unspecified addresses and names
        that resolve to loopback get 403.  No origin connection is tried.
        """
        expected = {host: b"400" for host in NON_CANONICAL}
        expected.update({
            "127.0.0.1": b"403", "127.0.0.1.": b"403", "127.9.9.9": b"403",
            "[::ffff:127.0.0.1]": b"403", "[::ffff:7f00:1]": b"403", "[::1]": b"403",
            "0.0.0.0": b"403", "[::]": b"403", "[::ffff:0.0.0.0]": b"403",
            "localhost": b"403", "localhost.": b"403", "evil.test": b"403",
            "10.1.2.3": b"403", "169.254.169.254": b"403",
        })  # fmt: skip
        for host, status in expected.items():
            for request in (
                b"GET http://%s:9000/ HTTP/1.1\r\nHost: x\r\n\r\n" % (host.encode(),),
                b"CONNECT %s:443 HTTP/1.1\r\nHost: x\r\n\r\n" % (host.encode(),),
            ):
                h = self.proxy()
                self.assertEqual(
                    self.status(h, request), b"HTTP/1.1 " + status + (
                        b" Bad Request" if status == b"400" else b" Forbidden"
                    ), request,
                )  # fmt: skip
                self.assertEqual(h.reactor.tcpClients, [], request)

    def test_loopbackClientSameRule(self) -> None:
        """
        One rule for literals and names: a client that reached the proxy
        over loopback gets the same answers as one that did not.
        """
        for host in (b"127.0.0.1", b"[::1]", b"localhost", b"10.1.2.3"):
            h = self.proxy(peer="127.0.0.1", local="127.0.0.1")
            request = b"GET http://%s:9000/ HTTP/1.1\r\nHost: x\r\n\r\n" % (host,)
            self.assertEqual(self.status(h, request), b"HTTP/1.1 403 Forbidden", host)
            self.assertEqual(h.reactor.tcpClients, [], host)
        # The client is allowed: a public destination is tried.
        h = self.proxy(peer="127.0.0.1", local="127.0.0.1")
        self.status(h, b"GET http://93.184.216.34:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(h.reactor.tcpClients[0][:2], ("93.184.216.34", 9000))

    def test_publicDestinationConnects(self) -> None:
        """
        A public address is connected to, at the address named.
        """
        h = self.proxy()
        self.status(h, b"GET http://93.184.216.34:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(h.reactor.tcpClients[0][:2], ("93.184.216.34", 9000))
