"""
The shell commands of the guides, run as written, in the order the guides
give them: C{examples/commands/forward-proxy.sh}, C{reverse-proxy.sh} and
C{tls.sh}, region by region, in a fresh directory laid out like the
checkout (its C{examples/} copied), with every documented port moved to a
free one, in the commands and in the copied examples alike.

Servers (C{twistd}, C{python3 -m http.server}, C{openssl s_server}, and
whatever ends in C{&}) are started as children and waited for; a new
C{twistd} replaces the one before, as the guides say to stop it first.
The other commands run with bash, each run of them as one script, and must
succeed (curl with C{--fail}, unless its comment names the error status it
gets); a command under a comment saying it "is refused" must fail.
C{./dev.sh start ARGS} is run as C{twistd -n proxykit forward ARGS}, which
is what it runs once C{.venv} exists.  A C{twistd} given neither
C{--listen} nor C{--config} gets a C{--listen} on the free port that
stands for its default one.  Every wait and every command is bounded.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from .._snippets import EXAMPLES
from ..test_docs import regions
from ._servers import clientEnvironment
from ._subprocess import TWISTD, Child, _childEnvironment

DOCUMENTED_PORTS = (3128, 8000, 8080, 8443, 9001, 9002, 9003)
"""The ports the guides' commands and examples use."""

PORT = re.compile(r"(?<![\d.])(" + "|".join(map(str, DOCUMENTED_PORTS)) + r")(?!\d)")

SCRIPT_TIMEOUT = 60.0
"""Seconds a run of commands may take."""

READY = {
    "twistd": r"proxykit started: listening on",
    "http.server": r"Serving HTTP on",
    "s_server": r"ACCEPT",
}
"""What each kind of server writes once it listens."""


def freePorts(count: int) -> list[int]:
    """
    C{count} distinct loopback ports nothing listens on (just released).
    """
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    try:
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


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
    return None


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
            if path.is_file() and path.suffix in (".toml", ".cfg"):
                path.write_text(self.rewrite(path.read_text()))

    def rewrite(self, text: str) -> str:
        return PORT.sub(lambda m: str(self.ports[int(m.group(1))]), text)

    def start(self, command: str) -> None:
        words = shlex.split(command, comments=True)
        if words[-1] == "&":
            words.pop()
        kind = serverKind(words)
        assert kind is not None
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
        else:
            argv = words
        child = Child(argv, str(self.top), _childEnvironment())
        self.test.addCleanup(child.stop)
        try:
            child.waitForLine(READY[kind])
        except RuntimeError as e:
            self.test.fail(f"{command}: {e}")
        if kind == "twistd":
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
        self.test.assertEqual(result.returncode, 0, f"{text}\n{result.stdout}")

    def run(self, page: str, names: list[str]) -> None:
        """
        Run the regions C{names} of C{examples/commands/PAGE.sh}, in order.
        """
        found = regions(EXAMPLES / "commands" / f"{page}.sh")
        for name in names:
            pending: list[tuple[str, str]] = []
            for command, comment in logicalLines(found[name]):
                command = self.rewrite(command)
                words = shlex.split(command, comments=True)
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
        docs/forward-proxy.rst: each way of starting the proxy, curl and
        C{http_proxy} through it, and curl through a CONNECT tunnel to a
        TLS test server, trusting the certificate made for it.
        """
        return self.walk(
            "forward-proxy",
            ["origin", "start-other-port", "start", "curl", "curl-env", "start-connect-ports",
             "test-server", "curl-connect"],
        )  # fmt: skip

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

    def test_everyRegionWalked(self) -> None:
        """
        The walks above cover every region of their command files.
        """
        source = Path(__file__).read_text()
        for page in ("forward-proxy", "reverse-proxy", "tls"):
            for name in regions(EXAMPLES / "commands" / f"{page}.sh"):
                self.assertIn(f'"{name}"', source, f"{page}.sh: {name}")
        self.assertTrue(os.path.exists(EXAMPLES / "commands" / "tls.sh"))
