"""
Tests for L{proxykit.destinations} and the resolver filter in
L{proxykit.endpoints}: names and every resolved address are checked.
"""

from __future__ import annotations

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from proxykit.destinations import DestinationPolicy, DestinationRefused, checkPattern
from proxykit.endpoints import connect
from proxykit.errors import connectFailureStatus


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
        Without rules everything is allowed and no address check is made.
        """
        policy = DestinationPolicy()
        self.assertIsNone(policy.checkName("10.0.0.1"))
        self.assertIsNone(policy.addressCheck("internal.example"))

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

    def test_patterns(self) -> None:
        """
        Patterns are names, wildcards, addresses or networks.
        """
        for good in ("example.com", "*.example.com", "10.0.0.0/8", "::1", "2001:db8::/32", "a-b.c"):
            checkPattern(good)
        for bad in ("", "exa mple.com", "*.", "http://x", "a..b"):
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
