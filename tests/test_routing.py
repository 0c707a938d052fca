"""
Tests for L{proxykit.policy.routing}: the forward router's decisions, without a
reactor.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from proxykit.config import ForwardConfig, OriginTLS
from proxykit.config.checks import AddressSet
from proxykit.decisions import ClientInfo, Forward, Origin, Refuse, Tunnel
from proxykit.policy.destinations import DestinationPolicy
from proxykit.policy.routing import ForwardRouter

from ._helpers import parseRequest

LOCAL = ClientInfo(peerHost="127.0.0.1", localHost="127.0.0.1", localPort=8080)
PUBLIC = ClientInfo(peerHost="127.0.0.1", localHost="192.0.2.10", localPort=8080)


def route(raw: bytes, client: ClientInfo = LOCAL, **config: object) -> object:
    router = ForwardRouter(ForwardConfig(**config))  # type: ignore[arg-type]
    return router.route(parseRequest(raw), client)


def strictRoute(raw: bytes, client: ClientInfo = PUBLIC, **config: object) -> object:
    """
    Route C{raw} as a proxy that listens beyond loopback does: with the
    strict destination policy built from C{config}.
    """
    forward = ForwardConfig(**config)  # type: ignore[arg-type]
    policy = DestinationPolicy(
        forward.allowDestinations, forward.denyDestinations, forward.allowPorts, strict=True
    )
    return ForwardRouter(forward, policy).route(parseRequest(raw), client)


class ForwardRouterTests(SynchronousTestCase):
    """
    L{ForwardRouter} maps absolute-form and CONNECT requests to decisions.
    """

    def test_absoluteForm(self) -> None:
        """
        An absolute-form http:// request goes to the URI's host and port in
        origin-form, with Host taken from the URI, not from the Host field.
        """
        decision = route(b"GET http://Example.COM:8000/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n")
        self.assertEqual(
            decision,
            Forward(Origin("http", "example.com", 8000, forward=True), b"/a/b?c=d", b"Example.COM:8000"),
        )

    def test_defaultPortAndEmptyPath(self) -> None:
        """
        Without a port the origin is on port 80; an empty path becomes C{/},
        and a bare query keeps its C{?}.
        """
        self.assertEqual(
            route(b"GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n"),
            Forward(Origin("http", "example.com", 80, forward=True), b"/", b"example.com"),
        )
        self.assertEqual(
            route(b"GET http://example.com?q HTTP/1.1\r\nHost: x\r\n\r\n"),
            Forward(Origin("http", "example.com", 80, forward=True), b"/?q", b"example.com"),
        )

    def test_ipv6Literal(self) -> None:
        """
        An IPv6 literal authority names the address without brackets.
        """
        decision = route(b"GET http://[::1]:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(decision, Forward(Origin("http", "::1", 9000, forward=True), b"/", b"[::1]:9000"))

    def test_originFormRefused(self) -> None:
        """
        An origin-form request is not a proxy request: 400, never a loop back
        into the proxy.
        """
        decision = route(b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
        self.assertIsInstance(decision, Refuse)
        self.assertEqual(decision.status, 400)  # type: ignore[attr-defined]

    def test_asteriskRefused(self) -> None:
        """
        C{OPTIONS *} is about the proxy itself; it is refused with 400.
        """
        decision = route(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(decision.status, 400)  # type: ignore[attr-defined]

    def test_httpsTarget(self) -> None:
        """
        An absolute-form C{https://} target is forwarded to an C{https}
        origin (port 443 by default), which the proxy reaches over TLS; with
        C{forward.ca_file} its TLS settings trust that bundle.
        """
        decision = route(b"GET https://Example.com/a?b HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(
            decision,
            Forward(Origin("https", "example.com", 443, forward=True), b"/a?b", b"Example.com"),
        )
        self.assertEqual(decision.upstream.authority, b"example.com")  # type: ignore[union-attr]
        decision = route(
            b"GET https://example.com:8443/ HTTP/1.1\r\nHost: x\r\n\r\n", caFile="/etc/ca.pem"
        )
        self.assertEqual(
            decision.upstream,  # type: ignore[union-attr]
            Origin("https", "example.com", 8443, forward=True, tls=OriginTLS(caFile="/etc/ca.pem")),
        )

    def test_unsupportedScheme(self) -> None:
        """
        Schemes other than http and https get 501.
        """
        decision = route(b"GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(decision.status, 501)  # type: ignore[attr-defined]

    def test_badAuthorities(self) -> None:
        """
        Userinfo, bad ports and malformed hosts are refused with 400.
        """
        for target in (
            b"http://user:pw@example.com/",
            b"http://example.com:99999/",
            b"http://example.com:+80/",
            b"http://example.com:8_0/",
            b"http://example.com:http/",
            b"http://[::1/",
            b"http:///path",
            b"http://[zz::1]/",
        ):
            decision = route(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIsInstance(decision, Refuse, repr(target))
            self.assertEqual(decision.status, 400, repr(target))  # type: ignore[attr-defined]

    def test_connectAllowedPort(self) -> None:
        """
        CONNECT to port 443 becomes a tunnel.
        """
        decision = route(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        self.assertEqual(decision, Tunnel("example.com", 443))

    def test_connectRefusedPort(self) -> None:
        """
        CONNECT to a port that is not allowed (25 by default) gets 403.
        """
        decision = route(b"CONNECT mail.example.com:25 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(decision, Refuse(403, "CONNECT port not allowed"))

    def test_connectConfiguredPorts(self) -> None:
        """
        Configured CONNECT ports replace the default.
        """
        decision = route(
            b"CONNECT example.com:8443 HTTP/1.1\r\nHost: x\r\n\r\n",
            connectPorts=frozenset({8443}),
        )
        self.assertEqual(decision, Tunnel("example.com", 8443))
        decision = route(
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n",
            connectPorts=frozenset({8443}),
        )
        self.assertEqual(decision.status, 403)  # type: ignore[attr-defined]

    def test_connectNeedsPort(self) -> None:
        """
        A CONNECT authority without a port is malformed: 400.
        """
        decision = route(b"CONNECT example.com HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(decision.status, 400)  # type: ignore[attr-defined]

    def test_loopToSelf(self) -> None:
        """
        A request for the proxy's own address and port is refused with 508
        instead of looping.
        """
        for target in (b"http://127.0.0.1:8080/", b"http://localhost:8080/"):
            decision = route(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(decision.status, 508, repr(target))  # type: ignore[attr-defined]
        decision = route(b"CONNECT 127.0.0.1:8080 HTTP/1.1\r\nHost: x\r\n\r\n", connectPorts=frozenset({8080}))
        self.assertEqual(decision.status, 508)  # type: ignore[attr-defined]

    def test_loopbackAllowedOnLoopbackListener(self) -> None:
        """
        On a loopback listener, loopback origins on other ports are fine.
        """
        decision = route(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIsInstance(decision, Forward)

    def test_privateRefusedBeyondLoopback(self) -> None:
        """
        When the proxy listens beyond loopback (a strict destination
        policy), literal loopback, private, link-local and unspecified
        destinations are refused with 403 unless allowed, whether the
        client reached the proxy on a loopback address or not: literals
        follow the same rule as names.
        """
        for client in (PUBLIC, LOCAL):
            for host in (
                b"127.0.0.1:9000", b"127.0.0.1.:9000", b"10.1.2.3", b"192.168.1.1",
                b"169.254.169.254", b"[::1]:9000", b"[::ffff:127.0.0.1]:9000",
                b"[::ffff:a01:203]", b"0.0.0.0:9000", b"[::]:9000",
            ):  # fmt: skip
                decision = strictRoute(b"GET http://" + host + b"/ HTTP/1.1\r\nHost: x\r\n\r\n", client)
                self.assertEqual(decision, Refuse(403, "destination address not allowed"), repr(host))
                decision = strictRoute(b"CONNECT " + host.split(b":9000")[0] + b":443 HTTP/1.1\r\nHost: x\r\n\r\n", client)
                self.assertEqual(decision, Refuse(403, "destination address not allowed"), repr(host))
        decision = route(
            b"GET http://10.1.2.3/ HTTP/1.1\r\nHost: x\r\n\r\n",
            PUBLIC,
            allowPrivateDestinations=True,
        )
        self.assertIsInstance(decision, Forward)

    def test_sameRuleForEveryClient(self) -> None:
        """
        Without the strict policy (a proxy on loopback only), a literal
        private destination is allowed whatever address the client
        reached the proxy on; the unspecified addresses never are.
        """
        for client in (PUBLIC, LOCAL):
            decision = route(b"GET http://10.1.2.3/ HTTP/1.1\r\nHost: x\r\n\r\n", client)
            self.assertIsInstance(decision, Forward)
            for host in (b"0.0.0.0", b"[::]", b"[::ffff:0.0.0.0]"):
                decision = route(b"GET http://" + host + b":9000/ HTTP/1.1\r\nHost: x\r\n\r\n", client)
                self.assertEqual(decision, Refuse(403, "destination address not allowed"), repr(host))

    def test_nonCanonicalNumericHostsRefused(self) -> None:
        """
        Decimal, octal, hexadecimal and short spellings of IPv4 addresses
        in absolute-form targets and CONNECT authorities get 400 before
        any check or connection, whatever the policy; so do names ending in
        a number, percent-encoded hosts and empty labels.
        """
        for host in (
            b"127.1", b"127.0.1", b"2130706433", b"0x7f000001", b"0177.0.0.1",
            b"127.000.000.001", b"0", b"10.1", b"example.123", b"127.1.",
            b"localhost..", b"a..b", b"127%2e0%2e0%2e1",
        ):  # fmt: skip
            for router in (route, strictRoute):
                decision = router(b"GET http://" + host + b":9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertIsInstance(decision, Refuse, repr(host))
                self.assertEqual(decision.status, 400, repr(host))  # type: ignore[attr-defined]
                decision = router(b"CONNECT " + host + b":443 HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(decision, Refuse(400, "malformed CONNECT authority"), repr(host))

    def test_trailingDot(self) -> None:
        """
        A trailing dot changes nothing: C{127.0.0.1.} is C{127.0.0.1},
        C{example.com.} is C{example.com}, for the checks and the origin.
        """
        decision = route(b"GET http://127.0.0.1.:9000/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert isinstance(decision, Forward)
        self.assertEqual(decision.upstream, Origin("http", "127.0.0.1", 9000, forward=True))
        decision = route(
            b"GET http://blocked.example.:9000/ HTTP/1.1\r\nHost: x\r\n\r\n",
            denyDestinations=("blocked.example",),
        )
        self.assertEqual(decision, Refuse(403, "destination denied"))
        decision = route(b"GET http://127.0.0.1.:8080/ HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(decision, Refuse(508, "request to the proxy itself"))

    def test_clientNotAllowed(self) -> None:
        """
        Clients outside the allowed networks get 403 for every request.
        """
        router = ForwardRouter(ForwardConfig())
        self.assertTrue(router.clientAllowed("127.0.0.5"))
        self.assertTrue(router.clientAllowed("::1"))
        self.assertTrue(router.clientAllowed(""))
        self.assertFalse(router.clientAllowed("192.0.2.1"))
        self.assertFalse(router.clientAllowed("not an address"))
        client = ClientInfo("192.0.2.1", "0.0.0.0", 8080, allowed=False)
        decision = router.route(parseRequest(b"GET http://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n"), client)
        self.assertEqual(decision, Refuse(403, "client not allowed"))

    def test_configuredClients(self) -> None:
        """
        Configured client networks replace the loopback default.
        """
        router = ForwardRouter(ForwardConfig(allowClients=("192.0.2.0/24",)))
        self.assertTrue(router.clientAllowed("192.0.2.77"))
        self.assertFalse(router.clientAllowed("127.0.0.1"))


class ParentProxyTests(SynchronousTestCase):
    """
    Destinations matching the parent rules go through the parent proxy.
    """

    def test_absoluteFormViaParent(self) -> None:
        """
        An http request is sent to the parent in absolute form, with the
        parent's credentials.
        """
        router = ForwardRouter(ForwardConfig(parent="http://u:p%40ss@parent.test:3128"))
        decision = router.route(parseRequest(b"GET http://example.com/x HTTP/1.1\r\nHost: x\r\n\r\n"), LOCAL)
        assert isinstance(decision, Forward)
        self.assertEqual(decision.upstream, Origin("http", "parent.test", 3128))
        self.assertEqual(decision.target, b"http://example.com/x")
        headers = decision.policy.requestHeaders(  # type: ignore[attr-defined]
            parseRequest(b"GET http://example.com/x HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic bWU6bWU=\r\n\r\n"),
            LOCAL,
            decision.upstream,
            decision.host,
            b"1.1 proxykit",
        )
        self.assertIn((b"Proxy-Authorization", b"Basic dTpwQHNz"), headers)
        self.assertNotIn((b"Proxy-Authorization", b"Basic bWU6bWU="), headers)

    def test_connectViaParent(self) -> None:
        """
        A CONNECT becomes a tunnel through the parent.
        """
        router = ForwardRouter(ForwardConfig(parent="http://parent.test"))
        decision = router.route(parseRequest(b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"), LOCAL)
        self.assertEqual(decision, Tunnel("example.com", 443, Origin("http", "parent.test", 3128), None))

    def test_rules(self) -> None:
        """
        parent_for limits which destinations use the parent; no_parent
        makes exceptions.
        """
        router = ForwardRouter(
            ForwardConfig(
                parent="http://parent.test:8080",
                parentFor=("*.corp.test",),
                noParent=("direct.corp.test",),
            )
        )

        def upstream(host: bytes) -> object:
            decision = router.route(parseRequest(b"GET http://" + host + b"/ HTTP/1.1\r\nHost: x\r\n\r\n"), LOCAL)
            return decision.upstream  # type: ignore[attr-defined]

        self.assertEqual(upstream(b"a.corp.test"), Origin("http", "parent.test", 8080))
        self.assertEqual(upstream(b"direct.corp.test"), Origin("http", "direct.corp.test", 80, forward=True))
        self.assertEqual(upstream(b"public.test"), Origin("http", "public.test", 80, forward=True))

    def test_literalViaParentChecked(self) -> None:
        """
        A literal destination sent through the parent is judged by the
        proxy's policy like one it connects to itself; a non-canonical
        numeric one is malformed.
        """
        parent = "http://parent.test:3128"
        refused = strictRoute(b"CONNECT 10.1.2.3:443 HTTP/1.1\r\nHost: x\r\n\r\n", parent=parent)
        self.assertEqual(refused, Refuse(403, "destination address not allowed"))
        refused = strictRoute(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n", parent=parent)
        self.assertEqual(refused, Refuse(403, "destination address not allowed"))
        malformed = strictRoute(b"CONNECT 10.1:443 HTTP/1.1\r\nHost: x\r\n\r\n", parent=parent)
        self.assertEqual(malformed, Refuse(400, "malformed CONNECT authority"))
        allowed = strictRoute(b"CONNECT 93.184.216.34:443 HTTP/1.1\r\nHost: x\r\n\r\n", parent=parent)
        self.assertEqual(allowed, Tunnel("93.184.216.34", 443, Origin("http", "parent.test", 3128), None))

class ExplicitNetworkTests(SynchronousTestCase):
    """
    An allowed network lifts the private-address rule for literal
    addresses too.
    """

    def test_literalInAllowedNetwork(self) -> None:
        """
        Beyond loopback, 10.1.2.3 is refused by default but allowed when
        10.0.0.0/8 is an allowed destination.
        """
        raw = b"GET http://10.1.2.3/ HTTP/1.1\r\nHost: x\r\n\r\n"
        self.assertEqual(strictRoute(raw), Refuse(403, "destination address not allowed"))
        self.assertIsInstance(strictRoute(raw, allowDestinations=("10.0.0.0/8",)), Forward)
        mapped = b"GET http://[::ffff:10.1.2.3]/ HTTP/1.1\r\nHost: x\r\n\r\n"
        self.assertIsInstance(strictRoute(mapped, allowDestinations=("10.0.0.0/8",)), Forward)


class AddressSetTests(SynchronousTestCase):
    """
    L{proxykit.config.checks.AddressSet}: membership of transport addresses in
    networks, with a bounded cache.
    """

    def test_membership(self) -> None:
        """
        IPv4 and IPv6 addresses are matched against the networks; anything
        that is not an IP address is not in the set.
        """
        networks = AddressSet(["10.0.0.0/8", "2001:db8::1/32"])
        self.assertIn("10.1.2.3", networks)
        self.assertIn("2001:db8::5", networks)
        self.assertNotIn("192.0.2.1", networks)
        self.assertNotIn("", networks)
        self.assertNotIn("example.com", networks)
        self.assertIn("10.1.2.3", networks)

    def test_cacheBounded(self) -> None:
        """
        The cache never holds more than C{CACHE_SIZE} answers, and answers
        stay right after it is emptied.
        """
        networks = AddressSet(["10.0.0.0/8"])
        for n in range(AddressSet.CACHE_SIZE * 2 + 5):
            self.assertIn(f"10.0.{n // 256}.{n % 256}", networks)
            self.assertLessEqual(len(networks._cache), AddressSet.CACHE_SIZE)
        self.assertNotIn("11.0.0.1", networks)
