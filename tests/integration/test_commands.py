"""
The shell commands of the guides, run as written, in the order the guides
give them: C{examples/commands/forward-proxy.sh}, C{reverse-proxy.sh} and
C{tls.sh}, region by region, in a fresh directory laid out like the
checkout (its C{examples/} copied), with every documented port moved to a
free one, in the commands and in the copied examples alike.

Servers (C{twistd}, C{python3 -m http.server}, C{openssl s_server}, and
the examples run with C{.venv/bin/python}) are started as children and
waited for (until each port they name listens); a new proxy (C{twistd} or
an example) replaces the one before, as the guides say to stop it first.
The other commands run with bash, each run of them as one script, and must
succeed (curl with C{--fail}, unless its comment names the error status it
gets); a command under a comment saying it "is refused" must fail.
C{./dev.sh start ARGS} is run as C{twistd -n proxykit forward ARGS}, which
is what it runs once C{.venv} exists.  A C{twistd} given neither
C{--listen} nor C{--config} gets a C{--listen} on the free port that
stands for its default one.  Every wait and every command is bounded.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from .._snippets import EXAMPLES, ROOT, regions, snippets
from ._servers import clientEnvironment, freePorts
from ._subprocess import TWISTD, Child, _childEnvironment
from .test_lifecycle import waitFor

DOCUMENTED_PORTS = (3128, 8000, 8080, 8081, 8082, 8443, 9001, 9002, 9003, 9901, 9902)
"""The ports the guides' commands and examples use."""

PORT = re.compile(r"(?<![\d.])(" + "|".join(map(str, DOCUMENTED_PORTS)) + r")(?!\d)")

SCRIPT_TIMEOUT = 60.0
"""Seconds a run of commands may take."""

READY_TIMEOUT = 20.0
"""Seconds a server may take to listen on each of its ports."""


def logicalLines(lines: list[str]) -> list[tuple[str, str]]:
    """
    The commands of C{lines}, continuation lines joined, each with the
    comment line just before it (C{""} when none).
    """
    found = []
    comment = ""
    for line in "\n".join(lines).replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            comment = line
        elif line.strip():
            found.append((line, comment))
            comment = ""
    return found


def serverKind(words: list[str]) -> str | None:
    """
    Which kind of server the command C{words} starts, if any.
    """
    if words[:2] == ["./dev.sh", "start"] or words[0].endswith("twistd"):
        return "twistd"
    if words[:3] == ["python3", "-m", "http.server"]:
        return "http.server"
    if words[:2] == ["openssl", "s_server"]:
        return "s_server"
    if words[0] == ".venv/bin/python" and words[1].startswith("examples/"):
        return "example"
    return None


def environment(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """
    The variables a command sets before its program (C{NAME=value ...}),
    and the rest of its words.
    """
    env = {}
    while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
        name, _, value = words[0].partition("=")
        env[name] = value
        words = words[1:]
    return env, words


def waitForPorts(child: Child, ports: list[int], timeout: float = READY_TIMEOUT) -> None:
    """
    Wait until every port of C{ports} on 127.0.0.1 accepts a connection.

    @raise RuntimeError: The child exited, or C{timeout} seconds passed.
    """
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if child.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"port {port} is not listening:\n{child.output()}")
                time.sleep(0.05)


class Walkthrough:
    """
    One guide's commands run in a directory of their own.

    @ivar top: The directory, laid out like the checkout.
    @ivar ports: The free port standing for each documented one.
    """

    def __init__(self, test: TestCase) -> None:
        self.test = test
        self.top = Path(test.mktemp()).resolve()
        self.ports = dict(zip(DOCUMENTED_PORTS, freePorts(len(DOCUMENTED_PORTS)), strict=True))
        self.proxy: Child | None = None
        shutil.copytree(EXAMPLES, self.top / "examples", ignore=shutil.ignore_patterns("certs", "__pycache__"))
        for path in (self.top / "examples").rglob("*"):
            if path.is_file() and path.suffix in (".toml", ".cfg", ".py"):
                path.write_text(self.rewrite(path.read_text()))
        shutil.copy(ROOT / "README.md", self.top / "README.md")

    def rewrite(self, text: str) -> str:
        return PORT.sub(lambda m: str(self.ports[int(m.group(1))]), text)

    def portsOf(self, kind: str, words: list[str]) -> list[int]:
        """
        The loopback ports the server C{words} starts listens on, from its
        arguments and the example or configuration file it names.
        """
        if kind == "http.server":
            return [int(words[3])]
        if kind == "example" and words[1] == "examples/web_site.py":
            return [int(words[2])]
        text = " ".join(words)
        found = re.findall(r"(?:tcp:|-accept 127\.0\.0\.1:)(\d+)", text)
        files = [words[1]] if kind == "example" else []
        if "--config" in words:
            files.append(words[words.index("--config") + 1])
        for name in files:
            lines = (self.top / name).read_text().splitlines()
            text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
            found += re.findall(r"tcp:(\d+)", text)
        return sorted({int(p) for p in found if int(p) in self.ports.values()})

    def start(self, command: str) -> None:
        words = shlex.split(command, comments=True)
        if words[-1] == "&":
            words.pop()
        variables, words = environment(words)
        kind = serverKind(words)
        assert kind is not None
        env = _childEnvironment()
        for name, value in variables.items():
            env[name] = f"{value}:{env[name]}" if name == "PYTHONPATH" else value
        if kind == "twistd":
            if words[:2] == ["./dev.sh", "start"]:
                words = ["twistd", "-n", "proxykit", "forward", *words[2:]]
            at = words.index("proxykit")
            mode = words[at + 1]
            if "--listen" not in words and "--config" not in words:
                default = self.ports[8080 if mode == "forward" else 8000]
                words += ["--listen", f"tcp:{default}:interface=127.0.0.1"]
            self.test.assertEqual(words[1], "-n", command)
            argv = [*TWISTD, "-n", "--pidfile=", *words[2:]]
            if self.proxy is not None:
                self.proxy.stop()
        elif kind == "example":
            argv = [sys.executable, *words[1:]]
            if self.proxy is not None:
                self.proxy.stop()
        else:
            argv = words
        child = Child(argv, str(self.top), env)
        self.test.addCleanup(child.stop)
        ports = self.portsOf(kind, words)
        self.test.assertTrue(ports, command)
        try:
            waitForPorts(child, ports)
            if kind == "twistd" and not {"--logfile", "-l", "--logger"} & set(words):
                # Listened on by this child, not by another process that
                # took the port after freePorts released it.
                for port in ports:
                    child.waitForLine(rf" starting on {port}$")
        except RuntimeError as e:
            self.test.fail(f"{command}: {e}")
        if kind in ("twistd", "example"):
            self.proxy = child

    def script(self, commands: list[tuple[str, str]]) -> None:
        """
        Run C{commands} as one bash script: each must succeed, or fail when
        its comment says it is refused.
        """
        checked = []
        for command, comment in commands:
            if comment.rstrip(": ").endswith("is refused"):
                checked.append(f"if {command} </dev/null; then echo 'not refused: {command!r}' >&2; exit 1; fi")
            elif re.search(r"#.*\b[45]\d\d\b", command):
                # An error status the guide says to expect.
                checked.append(command)
            else:
                checked.append(re.sub(r"(^|\s)curl ", r"\1curl --fail ", command, count=1))
        text = "\n".join(checked)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", text],
            cwd=self.top,
            env=clientEnvironment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=SCRIPT_TIMEOUT,
        )
        proxy = "" if self.proxy is None else f"\nthe proxy's output:\n{self.proxy.output()}"
        self.test.assertEqual(result.returncode, 0, f"{text}\n{result.stdout}{proxy}")

    def run(self, page: str, names: list[str]) -> None:
        """
        Run the regions C{names} of C{examples/commands/PAGE.sh}, in order.
        """
        found = regions(EXAMPLES / "commands" / f"{page}.sh")
        for name in names:
            pending: list[tuple[str, str]] = []
            for command, comment in logicalLines(found[name]):
                command = self.rewrite(command)
                _, words = environment(shlex.split(command, comments=True))
                if serverKind(words) is not None:
                    if pending:
                        self.script(pending)
                        pending = []
                    self.start(command)
                else:
                    pending.append((command, comment))
            if pending:
                self.script(pending)


class CommandTests(TestCase):
    """
    The guides' commands, region by region.
    """

    timeout = 240

    def setUp(self) -> None:
        for tool in ("curl", "openssl", "bash"):
            if shutil.which(tool) is None:
                raise SkipTest(f"{tool} is needed to run the guides' commands")

    def walk(self, page: str, names: list[str]) -> Deferred[None]:
        return deferToThread(Walkthrough(self).run, page, names)

    def test_forwardProxy(self) -> Deferred[None]:
        """
        docs/forward-proxy.rst: each way of starting the proxy, curl,
        C{http_proxy}, Python's urllib and Twisted's ProxyAgent through it,
        and curl through a CONNECT tunnel to a TLS test server, trusting
        the certificate made for it.
        """

        def walk() -> None:
            w = Walkthrough(self)
            w.run("forward-proxy", ["origin", "start-other-port", "start", "curl", "curl-env"])
            for client in ("client-urllib.py", "client-proxyagent.py"):
                result = subprocess.run(
                    [sys.executable, f"examples/snippets/forward-proxy/{client}"],
                    cwd=w.top,
                    env=clientEnvironment(),
                    capture_output=True,
                    text=True,
                    timeout=SCRIPT_TIMEOUT,
                )
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertRegex(result.stdout, r"^200 [1-9]\d*\n$", client)
            w.run("forward-proxy", ["start-connect-ports", "test-server", "curl-connect"])

        return deferToThread(walk)

    def test_reverseProxy(self) -> Deferred[None]:
        """
        docs/reverse-proxy.rst: routes from flags, an origin group, the
        example file, and forward and reverse on one listener.
        """
        return self.walk(
            "reverse-proxy",
            ["origins", "start-group", "start-routes", "curl-routes", "origin-9003",
             "start-config", "curl-config", "start-both", "curl-both"],
        )  # fmt: skip

    def test_tls(self) -> Deferred[None]:
        """
        docs/tls.rst: the test certificates, the TLS reverse proxy (TLS 1.0
        refused) and the same file as an HTTPS forward proxy.
        """
        return self.walk(
            "tls",
            ["test-certificates", "origin", "start-reverse", "curl-reverse", "start-forward", "curl-forward"],
        )

    def test_library(self) -> Deferred[None]:
        """
        docs/library.rst: the reverse proxy built in Python, the custom
        router, the hooks (refusing C{/admin}) and the metrics example, each
        with its curl commands.
        """
        return self.walk(
            "library",
            ["origin-9001", "origin-9002", "reverse-python", "curl-reverse-python", "custom-router",
             "curl-custom-router", "hooks", "curl-hooks", "metrics", "curl-metrics"],
        )  # fmt: skip

    def test_web(self) -> Deferred[None]:
        """
        docs/web.rst: the twisted.web site with proxykit's resource, its own
        page and a page relayed from the origin.
        """
        return self.walk("web", ["origin", "site", "curl"])

    def test_operations(self) -> Deferred[None]:
        """
        docs/operations.rst: the access log to a file and to standard output
        with a format string, and the admin listener with its pages.
        """
        return self.walk("operations", ["access-log", "format-string", "admin", "admin-pages"])

    def test_security(self) -> Deferred[None]:
        """
        docs/security.rst: the log to a file, and to JSON lines through the
        observer the page says to save as C{proxykit_log.py}.
        """

        def walk() -> None:
            w = Walkthrough(self)
            [observer] = [
                s
                for s in snippets(ROOT / "docs" / "security.rst")
                if s.source is not None and s.source.name == "json-observer.py"
            ]
            (w.top / "proxykit_log.py").write_text(observer.text)
            # Run by twistd, proxykit binds its listeners before twistd
            # starts its log (so that a busy port is reported to whoever
            # started it): the port can be seen to listen before the log
            # file has a line, and the listener's line, kept until then, is
            # the first written.  Wait for it before the next region stops
            # this proxy.
            log = w.top / "proxykit.log"
            w.run("security", ["logfile"])
            waitFor(
                lambda: log.exists() and re.search(r"ProxyFactory starting on \d+", log.read_text()) is not None,
                f"the listener's line in {log}",
            )
            w.run("security", ["json-logger"])
            lines = w.top / "proxykit.json"
            waitFor(lambda: lines.exists() and lines.read_text().endswith("\n"), f"a record in {lines}")
            records = lines.read_text().split("\n")[:-1]
            self.assertTrue(records)
            for record in records:
                self.assertIn("log_namespace", json.loads(record.lstrip("\x1e")))

        return deferToThread(walk)

    def test_index(self) -> Deferred[None]:
        """
        docs/index.rst's quick start: the forward proxy C{./dev.sh start}
        runs, a page through it, and the reverse proxy for that site.
        """
        return self.walk("index", ["start", "origin", "curl", "reverse", "curl-reverse"])

    def test_configuration(self) -> Deferred[None]:
        """
        docs/configuration.rst: each way of starting either mode it shows
        (from a file, flags, both), and C{proxykit check} on the example
        files, with this virtualenv's console script as C{.venv/bin}'s.
        """

        def walk() -> None:
            w = Walkthrough(self)
            venv = Path(sys.executable).parent
            if not (venv / "proxykit").exists():
                self.fail(f"no console script in {venv}: is proxykit installed in this venv?")
            (w.top / ".venv").mkdir()
            (w.top / ".venv" / "bin").symlink_to(venv)
            w.run("configuration", ["forward", "reverse", "forward-example", "check"])

        return deferToThread(walk)

    def test_everyRegionWalked(self) -> None:
        """
        The walks above cover every region of every command file, but those
        run by other tests and those only a server can run (checked for
        form by tests/test_docs.py).
        """
        elsewhere = {
            ("operations", "request-id"): "tests/integration/test_requestid.py",
            ("operations", "check-then-reload"): "tests/integration/test_reload.py",
            ("operations", "explain"): "tests/test_explain.py",
            ("security", "htpasswd"): "a server's /etc/proxykit: test_docs checks its form",
            ("testing", "trial"): "tests/test_testing.py",
            ("testing", "pytest"): "tests/test_testing.py",
            ("testing", "suite"): "./dev.sh test itself: test_docs checks its form",
            ("testing", "some"): "./dev.sh test itself: test_docs checks its form",
            ("testing", "html"): "tests/test_docs.py (DocsBuildTests)",
            ("index", "suite"): "./dev.sh test itself: test_docs checks its form",
            ("configuration", "explain"): "tests/test_explain.py",
            ("scaling", "workers"): "tests/integration/test_workers.py",
            ("scaling", "workers-admin"): "tests/integration/test_workers.py",
            ("scaling", "bench"): "tests/integration/test_workers.py (with nginx and wrk)",
            ("scaling", "haproxy"): "tests/integration/test_haproxy.py",
            ("scaling", "systemd-install"): "as root on a server: test_systemd checks its form",
            ("scaling", "systemd-operate"): "on a server: test_systemd checks its form",
            ("scaling", "systemd-application"): "tests/integration/test_systemd.py",
            ("scaling", "systemd-activate"): "tests/integration/test_systemd.py",
            ("scaling", "systemd-curl"): "tests/integration/test_systemd.py",
            ("scaling", "kubernetes-check"): "tests/integration/test_kubernetes.py",
            ("performance", "run"): "a benchmark: tests/test_benchpage.py checks its form",
            ("performance", "run-mode"): "a benchmark: tests/test_benchpage.py checks its form",
            ("performance", "quick"): "a benchmark: tests/test_benchpage.py checks its form",
            ("performance", "scale"): "a benchmark: tests/test_benchpage.py checks its form,"
            " tests/test_benchscale.py runs its phases small",
            ("performance", "publish"): "needs a run's results: tests/test_benchpage.py checks its form",
        }
        source = Path(__file__).read_text()
        for path in sorted(EXAMPLES.glob("commands/*.sh")):
            for name in regions(path):
                if (path.stem, name) not in elsewhere:
                    self.assertIn(f'"{path.stem}"', source, path.name)
                    self.assertIn(f'"{name}"', source, f"{path.name}: {name}")
