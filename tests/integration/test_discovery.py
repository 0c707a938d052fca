"""
Origins found through DNS, end to end: a real DNS server on loopback built
with C{twisted.names} (in this process's reactor, its records changed by the
test), a C{twistd proxykit reverse -c FILE} whose route names
C{http://app.test:PORT} and asks that server, two origins on 127.0.0.1 and
127.0.0.2 (the same port), and continuous load while the name moves from
one address to the other and the proxy reloads: traffic follows within one
TTL, and no request fails.  While the server says the name does not exist,
the route keeps its last address (logged once, counted in the metrics), and
no request fails either.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, inlineCallbacks, succeed
from twisted.internet.threads import deferToThread
from twisted.names import dns, server
from twisted.names.common import ResolverBase
from twisted.names.error import DNSNameError
from twisted.trial.unittest import SkipTest, TestCase

from ._subprocess import startTwistd
from .test_reload import Load, _Named

TTL = 1
"""The TTL of the test's records, in seconds."""


class RecordsResolver(ResolverBase):
    """
    An in-memory DNS authority: A records by name, which the test changes.

    @ivar addresses: Each name's IPv4 addresses.
    """

    def __init__(self) -> None:
        ResolverBase.__init__(self)  # type: ignore[no-untyped-call]
        self.addresses: dict[bytes, list[str]] = {}
        self.services: dict[bytes, list[tuple[int, int, int, bytes]]] = {}
        self._refused: dict[bytes, int] = {}
        self._waiting: list[tuple[bytes, int, Deferred[None]]] = []

    def refused(self, name: bytes, count: int) -> Deferred[None]:
        """
        Fires once C{count} A queries for C{name} have been answered "no
        such name" (counting from the first).
        """
        waiting: Deferred[None] = Deferred()
        self._waiting.append((name, count, waiting))
        self._notify()
        return waiting

    def _notify(self) -> None:
        for entry in list(self._waiting):
            name, count, waiting = entry
            if self._refused.get(name, 0) >= count:
                self._waiting.remove(entry)
                waiting.callback(None)

    def _lookup(self, name: bytes, cls: int, type: int, timeout: Any) -> Any:
        name = name.lower()
        if name not in self.addresses and name not in self.services:
            if type == dns.A:
                self._refused[name] = self._refused.get(name, 0) + 1
                self._notify()
            return fail(DNSNameError(name))
        answers = []
        if type == dns.A:
            answers = [
                dns.RRHeader(name, dns.A, dns.IN, TTL, dns.Record_A(address, TTL), auth=True)
                for address in self.addresses.get(name, [])
            ]
        elif type == dns.SRV:
            answers = [
                dns.RRHeader(
                    name, dns.SRV, dns.IN, TTL, dns.Record_SRV(priority, weight, port, target, TTL), auth=True
                )
                for priority, weight, port, target in self.services.get(name, [])
            ]
        return succeed((answers, [], []))


def startDNS(case: TestCase, records: RecordsResolver) -> int:
    """
    Serve C{records} over UDP on 127.0.0.1 (port 0) until the end of C{case}.

    @return: The port.
    """
    factory = server.DNSServerFactory(authorities=[records])
    port = reactor.listenUDP(0, dns.DNSDatagramProtocol(controller=factory), interface="127.0.0.1")  # type: ignore[attr-defined]
    case.addCleanup(port.stopListening)
    return int(port.getHost().port)


def startNamed(case: TestCase, name: str, host: str, port: int) -> int:
    """
    Start an origin answering C{name} on C{host}:C{port} (port 0: any),
    stopped at the end of C{case}.

    @return: Its port.
    """
    httpd = ThreadingHTTPServer((host, port), _Named)
    httpd.daemon_threads = True
    httpd.name = name  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    case.addCleanup(thread.join, 10)
    case.addCleanup(httpd.server_close)
    case.addCleanup(httpd.shutdown)
    return int(httpd.server_address[1])


def discoveryConfig(case: TestCase, dnsPort: int, origin: str, extra: str = "", admin: bool = False) -> str:
    """
    Write a reverse proxy's configuration: one listener (and an admin one
    if C{admin}), names resolved by the DNS server on C{dnsPort} at least
    every half second, and the vhost C{app.test} whose one route goes to
    C{origin}; C{extra} is added to C{[reverse]}.

    @return: The file's path.
    """
    path = os.path.abspath(case.mktemp())
    with open(path, "w") as f:
        f.write(
            'listen = ["tcp:0:interface=127.0.0.1"]\n'
            + ('[admin]\nlisten = "tcp:0:interface=127.0.0.1"\n' if admin else "")
            + "[reverse]\n"
            + extra
            + f'dns_servers = ["127.0.0.1:{dnsPort}"]\n'
            "dns_min_ttl = 0.5\n"
            "[[reverse.vhost]]\n"
            'hosts = ["app.test"]\n'
            "[[reverse.vhost.route]]\n"
            f'origins = ["{origin}"]\n'
        )
    return path


def resolutions(admin: int, origin: str, result: str) -> float:
    """
    C{proxykit_dns_resolutions_total} for C{origin} and C{result}, read from
    the admin listener on port C{admin}.
    """
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as response:
        text = response.read().decode()
    match = re.search(
        rf'^proxykit_dns_resolutions_total\{{origin="{re.escape(origin)}",result="{result}"\}} (\S+)$',
        text,
        re.M,
    )
    if match is None:
        raise AssertionError(f"no resolutions of {origin} ({result}) in:\n{text}")
    return float(match.group(1))


class FollowTests(TestCase):
    """
    The proxy's members follow the DNS answers under load.
    """

    timeout = 120

    @inlineCallbacks
    def test_followsUnderLoad(self) -> Any:
        """
        A route naming C{http://app.test:PORT} sends its requests to the
        address the DNS server gives; when the record changes, the traffic
        moves to the new address within one TTL (plus the lookup and a
        loaded machine's slack), and stays there through a reload; no
        request fails.
        """
        port = startNamed(self, "first", "127.0.0.1", 0)
        try:
            startNamed(self, "second", "127.0.0.2", port)
        except OSError as e:
            raise SkipTest(f"cannot listen on 127.0.0.2:{port}: {e}")
        records = RecordsResolver()
        records.addresses[b"app.test"] = ["127.0.0.1"]
        dnsPort = startDNS(self, records)
        path = discoveryConfig(
            self, dnsPort, f"http://app.test:{port}", 'default = "app.test"\ndns_max_ttl = 30\n'
        )
        child, proxyPort = yield deferToThread(startTwistd, "reverse", "-c", path)
        self.addCleanup(child.stop)
        resolved = r"origin http://app\.test:%d resolved to http://%s:%d \(ttl 1\.0s\)"
        yield deferToThread(child.waitForLine, resolved % (port, r"127\.0\.0\.1", port))

        load = Load(proxyPort, "app.test", ("/",), workers=2)
        load.__enter__()
        self.addCleanup(load.stop)
        yield deferToThread(load.waitFor, 50)
        records.addresses[b"app.test"] = ["127.0.0.2"]
        changed = time.monotonic()
        yield deferToThread(child.waitForLine, resolved % (port, r"127\.0\.0\.2", port), 10)
        followed = time.monotonic() - changed
        switched = load.count()
        yield deferToThread(load.waitFor, 100)
        # A reload (the same file) takes over the answers: the members keep
        # serving, no request waits for the name again.
        os.kill(child.pid, signal.SIGHUP)
        yield deferToThread(child.waitForLine, r"reloaded the configuration from ")
        yield deferToThread(load.waitFor, 50)
        load.stop()

        results = list(load.results)
        failed = [r for r in results if r[1] != 200]
        self.assertEqual(failed, [])
        bodies = [body for _, _, body in results]
        self.assertEqual(bodies[0], b"first")
        # Of the requests answered after the proxy said so, only those in
        # flight when the answer changed (one per load client, three) may
        # still have gone to the old address; every later one went to the
        # new.
        later = bodies[switched:]
        self.assertLessEqual(later.count(b"first"), 3)
        self.assertEqual(set(later), {b"first", b"second"} if b"first" in later else {b"second"})
        self.assertGreaterEqual(later.count(b"second"), 147)
        self.assertLess(followed, TTL + 1.5, f"traffic followed after {followed:.2f}s")

    @inlineCallbacks
    def test_failureKeepsMembers(self) -> Any:
        """
        While the DNS server says the name does not exist, under load, the
        route keeps its last address: no request fails, the failure is
        logged once and counted in C{proxykit_dns_resolutions_total}; when
        the name is back, the log says it resolves again.
        """
        port = startNamed(self, "first", "127.0.0.1", 0)
        records = RecordsResolver()
        records.addresses[b"app.test"] = ["127.0.0.1"]
        dnsPort = startDNS(self, records)
        path = discoveryConfig(self, dnsPort, f"http://app.test:{port}", admin=True)
        child, proxyPort = yield deferToThread(startTwistd, "reverse", "-c", path)
        self.addCleanup(child.stop)
        admin = int((yield deferToThread(child.waitForLine, r"_AdminSite starting on (\d+)")).group(1))
        origin = f"http://app.test:{port}"
        yield deferToThread(child.waitForLine, rf"origin {origin} resolved to http://127\.0\.0\.1:{port} ")

        load = Load(proxyPort, "app.test", ("/",), workers=2)
        load.__enter__()
        self.addCleanup(load.stop)
        yield deferToThread(load.waitFor, 50)
        del records.addresses[b"app.test"]
        yield deferToThread(
            child.waitForLine, rf"origin {origin} could not be resolved: .*; keeping its last addresses"
        )
        # Two more tries (dns_min_ttl apart), still under load: the proxy
        # asks a third time only once it has counted the second.
        yield records.refused(b"app.test", 3)
        failures = yield deferToThread(resolutions, admin, origin, "failure")
        yield deferToThread(load.waitFor, 50)
        records.addresses[b"app.test"] = ["127.0.0.1"]
        yield deferToThread(child.waitForLine, rf"origin {origin} resolves again: 1 addresses")
        yield deferToThread(load.waitFor, 50)
        load.stop()

        results = list(load.results)
        self.assertEqual([r for r in results if r[1] != 200], [])
        self.assertEqual({body for _, _, body in results}, {b"first"})
        self.assertGreaterEqual(failures, 2)
        self.assertGreaterEqual((yield deferToThread(resolutions, admin, origin, "success")), 2)
        logged = [line for line in child.lines if "could not be resolved" in line]
        self.assertEqual(len(logged), 1, logged)

    @inlineCallbacks
    def test_srvWeights(self) -> Any:
        """
        A route naming C{srv+http://_http._tcp.app.test} spreads its
        requests over the records' ports by their weights; when a record
        goes, its port gets no more requests; no request fails.
        """
        heavy = startNamed(self, "heavy", "127.0.0.1", 0)
        light = startNamed(self, "light", "127.0.0.1", 0)
        records = RecordsResolver()
        name = b"_http._tcp.app.test"
        records.services[name] = [(1, 3, heavy, b"node.test"), (1, 1, light, b"node.test")]
        records.addresses[b"node.test"] = ["127.0.0.1"]
        dnsPort = startDNS(self, records)
        path = discoveryConfig(self, dnsPort, f"srv+http://{name.decode()}")
        child, proxyPort = yield deferToThread(startTwistd, "reverse", "-c", path)
        self.addCleanup(child.stop)
        yield deferToThread(child.waitForLine, r"origin srv\+http://_http\._tcp\.app\.test resolved to ")

        load = Load(proxyPort, "app.test", ("/",), workers=2)
        load.__enter__()
        self.addCleanup(load.stop)
        yield deferToThread(load.waitFor, 400)
        records.services[name] = [(1, 1, light, b"node.test")]
        yield deferToThread(
            child.waitForLine, rf"origin srv\+http://_http\._tcp\.app\.test resolved to http://127\.0\.0\.1:{light} \(ttl"
        )
        switched = load.count()
        yield deferToThread(load.waitFor, 100)
        load.stop()

        results = list(load.results)
        self.assertEqual([r for r in results if r[1] != 200], [])
        before = [body for _, _, body in results[:switched]]
        # Smooth weighted round-robin: 3 to 1 over every 4 picks (the load's
        # three clients interleave, which moves a pick or two at most).
        self.assertLessEqual(abs(before.count(b"heavy") - 3 * before.count(b"light")), 8, before.count(b"heavy"))
        later = [body for _, _, body in results[switched:]]
        self.assertLessEqual(later.count(b"heavy"), 3)
        self.assertGreaterEqual(later.count(b"light"), 97)
