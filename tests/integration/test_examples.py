"""
The shipped example configurations, run end to end: C{twistd proxykit}
started from the working tree with the example file (ports moved to free
ones), origins on 127.0.0.1, and curl as the client.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from proxykit.config import ProxyConfig

from .._snippets import snippets
from ._reverse_servers import ReverseHarness
from ._servers import clientEnvironment, runProcess
from ._subprocess import ROOT, TWISTD, Child, startChild, startTwistd

EXAMPLES = os.path.join(ROOT, "examples")


class ReverseExampleTests(TestCase):
    """
    examples/reverse.toml does what its comments say.
    """

    timeout = 60

    @inlineCallbacks
    def test_reverseExample(self) -> Any:
        """
        With the example's three origins running: /api/x on app.example.test
        reaches origin 9001 or 9002 as /x; other paths reach 9003; a
        wildcard subdomain and an unknown host (the default vhost) reach the
        same site; static.example.test reaches 9003 with the origin's own
        Host; a redirect from an origin is rewritten to the public address.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origins = [h.startOrigin(name) for name in ("a", "b", "c")]
        with open(os.path.join(EXAMPLES, "reverse.toml")) as f:
            text = f.read()
        for old, origin in zip(("9001", "9002", "9003"), origins, strict=True):
            text = text.replace(f"127.0.0.1:{old}", origin.url.removeprefix("http://"))
        text = re.sub(r'listen = \["tcp:8000:', 'listen = ["tcp:0:', text)
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        child, port = yield deferToThread(startTwistd, "reverse", "--config", path)
        self.addCleanup(child.stop)

        code, err, transfers = yield h.curlMany(port, ["/api/x", "/api/y", "/api/z", "/other"])
        self.assertEqual(code, 0, err)
        bodies = [t.body for t in transfers]
        self.assertEqual([t.status for t in transfers], [200] * 4)
        for body in bodies[:3]:
            self.assertRegex(body, r"origin=[ab] uri=/[xyz]$")
        self.assertEqual(bodies[3], "origin=c uri=/other")

        result = yield h.curlSite(port, "-H", "Host: x.app.example.test", f"http://127.0.0.1:{port}/w")
        self.assertEqual(result.body, b"origin=c uri=/w\n")
        result = yield h.curlSite(port, "-H", "Host: unknown.test", f"http://127.0.0.1:{port}/d")
        self.assertEqual(result.body, b"origin=c uri=/d\n", "the default vhost serves it")
        result = yield h.curlSite(port, "-H", "Host: static.example.test", f"http://127.0.0.1:{port}/echo")
        self.assertIn(f"Host: {origins[2].url.removeprefix('http://')}", result.body.decode())
        result = yield h.curlSite(port, f"http://app.example.test:{port}/redirect")
        self.assertIn(
            (b"Location", f"http://app.example.test:{port}/login".encode()),
            result.finalHeaders(),
        )


class ForwardExampleTests(TestCase):
    """
    examples/forward.toml runs a working forward proxy.
    """

    timeout = 60

    @inlineCallbacks
    def test_forwardExample(self) -> Any:
        """
        The forward example (listener moved to a free port) proxies curl's
        absolute-form request to a local origin and refuses CONNECT to
        port 25.  twistd runs it on proxykit's reactor, as no C{-r} was
        given.
        """
        h = ReverseHarness(self, reactor)
        self.addCleanup(h.close)
        origin = h.startOrigin("f")
        with open(os.path.join(EXAMPLES, "forward.toml")) as f:
            text = f.read().replace("tcp:8080:", "tcp:0:")
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        child, port = yield deferToThread(startTwistd, "forward", "--config", path)
        self.addCleanup(child.stop)
        proxy = ["-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{port}"]
        out, err, code = yield runProcess(reactor, "curl", [*proxy, f"{origin.url}/hello"])
        self.assertEqual((code, out), (0, b"origin=f uri=/hello\n"), err)
        out, err, code = yield runProcess(reactor, "curl", [*proxy, "-p", "https://127.0.0.1:25/"])
        self.assertNotEqual(code, 0)
        self.assertIn(b"403", err)
        self.assertIn("reactor class: proxykit.reactor.ProxyReactor", child.output())


ORIGIN_COMMAND = re.compile(r"^#\s+python3 -m http\.server (\d+) --bind 127\.0\.0\.1$", re.M)
"""An origin an example's comments tell the user to start."""

PROXY_COMMAND = re.compile(
    r"^#\s+\.venv/bin/twistd -n proxykit (forward|reverse) --config examples/(\S+)$", re.M
)
"""How an example's comments tell the user to run it."""

MARGIN = 3.0
"""Seconds of requests beyond the longest health-check fall period."""

REQUEST_TIMEOUT = 10.0
"""Seconds one curl run may take."""


def startHTTPServer(directory: str) -> tuple[Child, int]:
    """
    Run C{python3 -m http.server 0 --bind 127.0.0.1} in C{directory}, as an
    example's comments say (on a free port rather than theirs).

    @return: The child and the port it listens on.
    """
    env = dict(clientEnvironment(), PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"]
    child = Child(argv, directory, env)
    try:
        match = child.waitForLine(r"Serving HTTP on 127\.0\.0\.1 port (\d+)")
    except BaseException:
        child.stop()
        raise
    return child, int(match.group(1))


def startExample(mode: str, config: str) -> tuple[Child, int, int | None]:
    """
    Run C{twistd -n proxykit MODE --config CONFIG} from the working tree.

    @return: The child, the port of its plain listener and that of its TLS
        listener (C{None} without one).
    """
    patterns = [r"ProxyFactory starting on (\d+)"]
    if "[tls]" in open(config).read():
        patterns.append(r"ProxyFactory \(TLS\) starting on (\d+)")
    argv = [*TWISTD, "-n", "--pidfile=", "proxykit", mode, "--config", config]
    child, matches = startChild(argv, *patterns)
    ports = [int(match.group(1)) for match in matches]
    return child, ports[0], ports[1] if len(ports) > 1 else None


def fallPeriod(config: ProxyConfig) -> float:
    """
    The longest time an origin of C{config} can take to be marked down by
    its health checks: C{interval x fall}, plus one check's C{timeout}.
    """
    periods = [0.0]
    for vhost in config.reverse.vhosts:
        for route in vhost.routes:
            check = route.healthCheck
            if check is not None:
                periods.append(check.interval * check.fall + check.timeout)
    return max(periods)


Run = tuple[list[str], list[str]]
"""One curl run: its options, and the URLs it fetches (on one connection)."""


def keepRequesting(runs: Sequence[Run], deadline: float) -> list[tuple[str, str]]:
    """
    Do each curl run of C{runs} again and again until C{deadline} (a
    L{time.monotonic} value) has passed; at most 10,000 rounds.

    @return: For every URL requested, the URL and the status curl saw (or
        its error).
    """
    results: list[tuple[str, str]] = []
    for _ in range(10_000):
        if time.monotonic() > deadline:
            break
        for options, urls in runs:
            argv = ["curl", "-sS", "--max-time", str(REQUEST_TIMEOUT), "-w", "%{http_code} ", *options]
            for url in urls:
                argv += ["-o", os.devnull, url]
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=clientEnvironment(),
                text=True,
                timeout=REQUEST_TIMEOUT * len(urls) + 5,
            )
            codes = done.stdout.split()
            for index, url in enumerate(urls):
                code = codes[index] if index < len(codes) else f"curl {done.returncode}: {done.stderr.strip()}"
                results.append((url, code))
    return results


class ExampleOriginsTests(TestCase):
    """
    Every example under C{examples/} works with exactly the origins its
    comments tell the user to start (C{python3 -m http.server}, serving a
    directory), for longer than its health checks take to mark an origin
    down: the configuration is used as written, but for its ports, moved
    to free ones.
    """

    timeout = 90

    def prepare(self, name: str) -> tuple[str, str, str, list[int]]:
        """
        Start the origins C{examples/NAME} asks for and write the example,
        with free ports, into a fresh directory laid out like the checkout
        (C{DIR/examples/NAME}).

        @return: The mode the comments run it in, the directory, the
            rewritten file and the origins' ports, in the example's order.
        """
        with open(os.path.join(EXAMPLES, name)) as f:
            text = f.read()
        command = PROXY_COMMAND.search(text)
        self.assertIsNotNone(command, f"{name} does not say how to run it")
        assert command is not None
        self.assertEqual(command.group(2), name)
        wanted = [int(port) for port in ORIGIN_COMMAND.findall(text)]
        self.assertTrue(wanted, f"{name} names no origin to start")
        top = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(top, "examples"))
        ports = []
        for port in wanted:
            served = os.path.join(top, f"site-{port}")
            os.makedirs(served)
            child, actual = startHTTPServer(served)
            self.addCleanup(child.stop)
            ports.append(actual)
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{actual}")
        text = re.sub(r"\btcp:\d+:interface=127\.0\.0\.1", "tcp:0:interface=127.0.0.1", text)
        path = os.path.join(top, "examples", name)
        with open(path, "w") as f:
            f.write(text)
        return command.group(1), top, path, ports

    @inlineCallbacks
    def runExample(self, name: str, runsFor: Any, top: str, path: str, mode: str) -> Any:
        """
        Run the example at C{path} as its comments say and keep sending the
        requests C{runsFor(config, plainPort, tlsPort)} gives, for longer
        than its health checks take to mark an origin down; every one must
        succeed.
        """
        config = ProxyConfig.fromFile(path)
        child, plain, tls = yield deferToThread(startExample, mode, path)
        self.addCleanup(child.stop)
        runs = runsFor(config, plain, tls)
        period = fallPeriod(config)
        started = time.monotonic()
        results = yield deferToThread(keepRequesting, runs, started + period + MARGIN)
        self.assertGreater(time.monotonic() - started, period)
        self.assertTrue(results)
        failed = [(url, code) for url, code in results if code != "200"]
        if failed:
            self.fail(
                f"{name}: {len(failed)} of {len(results)} requests failed, "
                f"the first: {failed[:3]}\n{child.output()[-4000:]}"
            )

    def test_forward(self) -> None:
        """
        examples/forward.toml relays requests to the web server its
        comments start.
        """
        mode, top, path, ports = self.prepare("forward.toml")

        def runs(config: ProxyConfig, plain: int, tls: int | None) -> list[Run]:
            return [(["-x", f"http://127.0.0.1:{plain}"], [f"http://127.0.0.1:{port}/" for port in ports])]

        return self.runExample("forward.toml", runs, top, path, mode)

    def test_reverse(self) -> None:
        """
        examples/reverse.toml serves every route of every vhost from the
        three web servers its comments start, also after its health checks
        have run long enough to take an origin out.
        """
        mode, top, path, ports = self.prepare("reverse.toml")
        return self.runExample("reverse.toml", reverseRuns, top, path, mode)

    def test_reverseTLS(self) -> None:
        """
        examples/reverse-tls.toml, with certificates made as docs/tls.rst
        says, serves its site over TLS (verified against the CA those
        commands make) and over plain HTTP, from the web server its comments
        start.
        """
        if shutil.which("openssl") is None or shutil.which("bash") is None:
            raise SkipTest("openssl and bash are needed to make the certificates")
        mode, top, path, ports = self.prepare("reverse-tls.toml")
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", tlsCertificateCommands()],
            cwd=top,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stdout)
        return self.runExample("reverse-tls.toml", reverseRuns, top, path, mode)

    def test_everyExample(self) -> None:
        """
        Every example configuration has its test here.
        """
        names = {os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.toml"))}
        self.assertEqual(names, {"forward.toml", "reverse.toml", "reverse-tls.toml"})


def reverseRuns(config: ProxyConfig, plain: int, tls: int | None) -> list[Run]:
    """
    One curl run per listener and vhost, fetching each route's prefix from
    the vhost's first exact host name.
    """
    runs: list[Run] = []
    certs = None
    if config.tls is not None:
        certs = os.path.join(os.path.dirname(config.tls.defaultCertificate.cert), "ca.pem")
    for vhost in config.reverse.vhosts:
        host = next(h for h in vhost.hosts if not h.startswith("*."))
        paths = [route.prefix.rstrip("/") + "/" for route in vhost.routes]
        runs.append((["--resolve", f"{host}:{plain}:127.0.0.1"], [f"http://{host}:{plain}{p}" for p in paths]))
        if tls is not None and certs is not None:
            runs.append(
                (
                    ["--resolve", f"{host}:{tls}:127.0.0.1", "--cacert", certs],
                    [f"https://{host}:{tls}{p}" for p in paths],
                )
            )
    return runs


def tlsCertificateCommands() -> str:
    """
    The shell commands of docs/tls.rst's "Test certificates" (its first
    block), as written.
    """
    page = Path(ROOT) / "docs" / "tls.rst"
    [first, *_] = [s for s in snippets(page) if s.language == "sh" and "Test certificates" in s.sections]
    return first.text
