"""
Tests for the documentation: C{docs/} must build cleanly with Sphinx, and
what the README, the guides and the examples show must be what proxykit
does.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
from twisted.logger import eventAsJSON, formatEvent, globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from proxykit.config import (
    ConfigError,
    ForwardConfig,
    LimitsConfig,
    OriginConfig,
    PoolConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
)
from proxykit.policy.vhosts import ReverseRouter, VhostTable
from proxykit.tap import ForwardOptions

from ._harness import GET, OK, Harness
from ._snippets import commandFiles, commands, regions, snippets

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"


def guides() -> list[Path]:
    """
    The README and every page of the documentation.
    """
    return [ROOT / "README.md", *sorted(DOCS.glob("*.rst")), DOCS / "performance.md"]


def codeLines(path: Path) -> list[str]:
    """
    The lines of every code block of a Markdown or reStructuredText file
    (fenced blocks; on a page, every block L{snippets} finds, included
    files resolved), unindented.
    """
    if path.suffix == ".md":
        found: list[str] = []
        inside = False
        for line in path.read_text().splitlines():
            if line.startswith("```"):
                inside = not inside
            elif inside:
                found.append(line)
        return found
    return [line.strip() for snippet in snippets(path) for line in snippet.lines]


def snakeCase(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class DocsBuildTests(TestCase):
    """
    Tests for building the Sphinx documentation.
    """

    def test_buildsWithoutWarnings(self) -> None:
        """
        The documentation builds to HTML with the command C{docs/testing.rst}
        gives, and without a single warning: every page
        is reachable from the table of contents, every cross-reference
        resolves and every reStructuredText construct is well formed.
        """
        try:
            import sphinx  # noqa: F401
        except ImportError:
            raise SkipTest("sphinx is not installed (pip install '.[docs]')")
        [command] = commands(regions(EXAMPLES / "commands" / "testing.sh")["html"])
        self.assertEqual(command[:3], [".venv/bin/python", "-m", "sphinx"])
        self.assertEqual(command[-2:], ["docs", "docs/_build/html"])
        with tempfile.TemporaryDirectory() as out:
            # The command testing.rst gives, with warnings made errors and
            # the pages written elsewhere.
            result = subprocess.run(
                [sys.executable, *command[1:3], "-W", "--keep-going", "-q", *command[3:-1], out],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if result.returncode != 0:
            self.fail(
                f"sphinx exited with status {result.returncode}:\n"
                + result.stdout.decode("utf-8", "replace")
            )


_LEGACY = {"message", "system", "isError", "time", "format", "failure"}
"""
Fields the global log publisher's observers for C{twisted.python.log} add to
every event they see (the L{Failure} of a C{failure} event is kept as such
by L{eventAsJSON}).
"""


class JSONLogTests(SynchronousTestCase):
    """
    The JSON log recipe of C{docs/security.rst} (twistd C{--logger} with
    L{jsonFileLogObserver}) keeps every field proxykit logs: log events
    carry plain values (C{str}, C{int}, C{float}, C{bool}, C{None}), never
    objects that JSON turns into C{{"unpersistable": true}}.
    """

    def capture(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        return events

    def assertPlain(self, events: list[dict[str, Any]]) -> None:
        """
        Every field of every proxykit event (Twisted's own C{log_*} fields
        apart) is a plain value, and survives L{eventAsJSON} unchanged.
        """
        ours = [e for e in events if e.get("log_namespace", "").startswith("proxykit")]
        self.assertTrue(ours, "no proxykit event was logged")
        for event in ours:
            fields = {
                k: v for k, v in event.items() if not k.startswith("log_") and k not in _LEGACY
            }
            for name, value in fields.items():
                self.assertIsInstance(
                    value, (str, int, float, bool, type(None)),
                    f"{event['log_format']!r}: {name}={value!r}",
                )
            decoded = json.loads(eventAsJSON(dict(event)))
            self.assertEqual(
                {k: decoded[k] for k in fields}, fields, f"{event['log_format']!r}"
            )
            self.assertNotIn("unpersistable", json.dumps({k: decoded[k] for k in fields}))

    def formats(self, events: list[dict[str, Any]]) -> list[str]:
        # The listener gate's once-a-process line (the open-file limit) is
        # not about requests: whether it shows depends on the tests before.
        return [
            e["log_format"]
            for e in events
            if e.get("log_namespace", "").startswith("proxykit")
            and not e.get("log_namespace", "").startswith("proxykit._gate")
        ]

    def test_forwardEvents(self) -> None:
        """
        A proxied request, a refusal, a bad request, an origin that refuses
        the connection and one that never answers are all logged with plain
        fields: the client and origin as text, the method as text.
        """
        events = self.capture()
        h = Harness()
        h.factory.doStart()
        h.send(GET)
        origin, transport = h.acceptOrigin()
        origin.dataReceived(OK)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 200 "))
        h.send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 403 "))

        h = Harness()
        h.send(GET)
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 502 "))

        h = Harness()
        h.send(GET)
        h.acceptOrigin()
        h.reactor.advance(31)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 504 "))

        h = Harness()
        h.send(b"GET http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nBad Field: x\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 400 "))

        self.assertEqual(
            self.formats(events),
            [
                "{client} {method} {target} [{requestId}]: refused: {why}",
                "{client} {method} {target} [{requestId}]: origin connection failed: {why}",
                "{client} {method} {target} [{requestId}]: origin failed: {why}",
                "{client} {method} {target} [{requestId}]: bad request: {why}",
            ],
        )
        self.assertPlain(events)
        refused = [e for e in events if e.get("method") is not None][0]
        self.assertEqual(
            (refused["method"], refused["client"], refused["target"]),
            ("CONNECT", "127.0.0.1:50000", "127.0.0.1:25"),
        )
        failed = [e for e in events if "origin" in e]
        self.assertEqual([e["origin"] for e in failed], ["http://127.0.0.1:9000"] * 2)

    def test_limitEvents(self) -> None:
        """
        A body over the limit, a full origin queue and a client that stops
        sending its body are logged with plain fields too.
        """
        events = self.capture()
        timeouts = Timeouts(connect=5, response=30)
        h = Harness(ProxyConfig(limits=LimitsConfig(maxBodyBytes=3), timeouts=timeouts))
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        h.acceptOrigin()
        h.send(b"5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(h.received().startswith(b"HTTP/1.1 413 "))

        limits = LimitsConfig(maxOriginConnections=1, maxOriginQueue=0)
        h = Harness(ProxyConfig(limits=limits, timeouts=timeouts))
        h.send(GET)
        secondClient, second = h.connectClient()
        secondClient.dataReceived(GET)
        self.assertTrue(second.value().startswith(b"HTTP/1.1 503 "))

        h = Harness()
        h.send(
            b"POST http://127.0.0.1:9000/ HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
            b"Content-Length: 10\r\n\r\nab"
        )
        h.acceptOrigin()
        h.reactor.advance(31)
        self.assertTrue(h.received().startswith(b"HTTP/1.1 408 "))
        self.assertPlain(events)

    def test_reverseEvents(self) -> None:
        """
        In reverse mode too, what is logged when origins fail carries plain
        fields.
        """
        events = self.capture()
        route = RouteConfig(origins=(OriginConfig("http://127.0.0.1:9001"),), retries=0)
        reverseConfig = ReverseConfig(vhosts=(VhostConfig(("app.example.test",), (route,)),))
        h = Harness(ProxyConfig(reverse=reverseConfig, timeouts=Timeouts(connect=5, response=30)))
        h.factory.router = ReverseRouter(VhostTable.fromConfig(reverseConfig, h.reactor), reverseConfig)
        request = b"GET /page HTTP/1.1\r\nHost: app.example.test\r\n\r\n"
        h.send(request)
        h.refuseOrigin()
        self.assertTrue(h.received().startswith(b"HTTP/1.1 50"))
        h.send(request)
        h.received()
        self.assertPlain(events)


class CommandTests(SynchronousTestCase):
    """
    The commands the README, the guides and the examples give run as
    written in a checkout after C{./dev.sh start}.
    """

    def test_twistdFromTheVenv(self) -> None:
        """
        C{./dev.sh start} installs twistd in C{.venv/bin}, not on C{PATH}:
        every command line shown runs it as C{.venv/bin/twistd}.
        """
        bare = re.compile(r"^(?:#\s*)?(?:[A-Z_]+=\S*\s+)*twistd\s")
        found = []
        for path in guides():
            found += [f"{path.name}: {line}" for line in codeLines(path) if bare.match(line)]
        for path in sorted(EXAMPLES.glob("*.toml")):
            found += [
                f"{path.name}: {line}"
                for line in path.read_text().splitlines()
                if bare.match(line.lstrip("# "))
            ]
        self.assertEqual(found, [])
        readme = codeLines(ROOT / "README.md")
        self.assertIn(".venv/bin/twistd -n proxykit reverse --config examples/reverse.toml", readme)

    def test_examplesFromTheVenv(self) -> None:
        """
        The Python examples' docstrings run them as C{.venv/bin/python
        examples/NAME}: a fresh Debian machine has no C{python}, and its
        C{python3} has no proxykit.
        """
        bare = re.compile(r"^\s*(?:python3?|py)\s+(?:-m\s+\S+\s+)?examples/")
        found = [
            f"{path.name}: {line.strip()}"
            for path in sorted(EXAMPLES.glob("*.py"))
            for line in path.read_text().splitlines()
            if bare.match(line)
        ]
        self.assertEqual(found, [])

    def test_readmeCommandsRun(self) -> None:
        """
        Every command the README shows, but the two of the quick start, is
        a line of a command file under C{examples/commands/}, which
        C{tests/integration/test_commands.py} runs.
        """
        shown = {
            line.strip()
            for path in commandFiles()
            for lines in regions(path).values()
            for line in lines
        }
        readme = [line for line in codeLines(ROOT / "README.md") if line.strip()]
        self.assertIn("./dev.sh start", readme)
        self.assertIn("./dev.sh test", readme)
        others = [line for line in readme if line not in ("./dev.sh start", "./dev.sh test")]
        self.assertTrue(others)
        self.assertEqual([line for line in others if line not in shown], [])

    def test_connectTrustsTheTestCertificate(self) -> None:
        """
        Every curl through a CONNECT tunnel to the throw-away TLS server on
        port 8443 trusts the certificate the commands before it write
        (curl would refuse the self-signed certificate otherwise).
        """
        for path in (DOCS / "forward-proxy.rst",):
            text = "\n".join(codeLines(path))
            written = re.findall(r"-out (\S+\.pem)", text)
            curls = [line for line in text.splitlines() if line.startswith("curl") and ":8443/" in line]
            self.assertTrue(curls, path.name)
            for line in curls:
                trusted = re.search(r"--cacert (\S+)", line)
                self.assertIsNotNone(trusted, f"{path.name}: {line}")
                assert trusted is not None
                self.assertIn(trusted.group(1), written, f"{path.name}: {line}")
                self.assertTrue(trusted.group(1).startswith("examples/certs/"))

    def test_connectPortReplaces(self) -> None:
        """
        C{--help} and the README say that C{--connect-port} replaces the
        default allow-list rather than adding to it.
        """
        self.assertIn("replaces the default allow-list (443)", " ".join(str(ForwardOptions()).split()))
        readme = " ".join((ROOT / "README.md").read_text().split())
        self.assertIn("`--connect-port` replaces that allow-list", readme)

    def test_testKeysIgnored(self) -> None:
        """
        The private keys the guides make in C{examples/certs/} are ignored by
        git.
        """
        if shutil.which("git") is None or not (ROOT / ".git").exists():
            raise SkipTest("not a git checkout")
        for name in ("examples/certs/ca.key", "examples/certs/localhost.key", "twistd.pid"):
            result = subprocess.run(
                ["git", "check-ignore", "-q", name], cwd=ROOT, timeout=30
            )
            self.assertEqual(result.returncode, 0, f"{name} is not ignored")


class ExampleTests(SynchronousTestCase):
    """
    The configuration reference and the examples agree with the config
    reader.
    """

    def forwardKeys(self) -> set[str]:
        """
        Every key of a forward-mode file: C{listen}, C{workers}, and the fields of the
        forward, timeouts, pool and limits sections.
        """
        keys = {"listen", "workers"}
        for section, cls in (
            ("forward", ForwardConfig),
            ("timeouts", Timeouts),
            ("pool", PoolConfig),
            ("limits", LimitsConfig),
        ):
            keys |= {f"{section}.{snakeCase(f.name)}" for f in attrs.fields(cls)}
        return keys

    def exampleKeys(self) -> set[str]:
        """
        The keys examples/forward.toml sets or shows commented out.
        """
        keys = set()
        section = ""
        for line in (EXAMPLES / "forward.toml").read_text().splitlines():
            header = re.match(r"^\[(\w+)\]", line)
            if header:
                section = header.group(1) + "."
            key = re.match(r"^(?:# )?(\w+) = ", line)
            if key:
                keys.add(section + key.group(1))
        return keys

    def test_forwardExampleComplete(self) -> None:
        """
        examples/forward.toml shows every key the config reader accepts for
        forward mode, and nothing else.
        """
        keys = self.forwardKeys()
        for key in sorted(keys):
            section, _, name = key.rpartition(".")
            text = f"[{section}]\n{name} = []\n" if section else f"{name} = 0\n"
            path = self.mktemp()
            Path(path).write_text(text)
            try:
                ProxyConfig.fromFile(path)
            except ConfigError as e:
                self.assertNotIn("unknown key", str(e), f"{key} is not read from a file")
        self.assertEqual(self.exampleKeys(), keys)

    def test_configurationIncludesExample(self) -> None:
        """
        docs/configuration.rst shows examples/forward.toml itself, so that
        the two cannot drift apart.
        """
        text = (DOCS / "configuration.rst").read_text()
        self.assertTrue(
            ".. literalinclude:: ../examples/forward.toml" in text,
            "configuration.rst does not include examples/forward.toml",
        )

    def test_quotedErrorLine(self) -> None:
        """
        The error the reverse proxy guide quotes for a bad origin in
        examples/reverse.toml names the line of that origin.
        """
        text = "\n".join(codeLines(DOCS / "reverse-proxy.rst"))
        quoted = re.search(r"examples/reverse\.toml:(\d+): (\S+): .* got '(\w+)://([^']+)'", text)
        self.assertIsNotNone(quoted)
        assert quoted is not None
        lines = (EXAMPLES / "reverse.toml").read_text().splitlines()
        self.assertIn(f'"http://{quoted.group(4)}"', lines[int(quoted.group(1)) - 1])
        bad = "\n".join(lines).replace(f'"http://{quoted.group(4)}", weight', f'"{quoted.group(3)}://{quoted.group(4)}", weight')
        path = self.mktemp()
        Path(path).write_text(bad)
        with self.assertRaises(ConfigError) as caught:
            ProxyConfig.fromFile(path, defaultListen=("tcp:8000:interface=127.0.0.1",))
        self.assertIn(f":{quoted.group(1)}: {quoted.group(2)}: ", str(caught.exception))


class LogLineTests(SynchronousTestCase):
    """
    docs/security.rst quotes the log lines proxykit really writes.
    """

    def test_quotedRefusals(self) -> None:
        """
        The lines quoted for a CONNECT to port 25, a request to the proxy's
        own address and a space in a field name are those proxykit logs
        (but for the request ids, which differ from one process to the
        next).
        """
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        for request in (
            b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n",
            b"GET http://127.0.0.1:8080/ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n",
        ):
            Harness().send(request)
        logged = [
            f"[{e['log_namespace']}#{e['log_level'].name}] {formatEvent(e)}"
            for e in events
            if e.get("log_namespace", "").startswith("proxykit")
        ]
        text = "\n".join(codeLines(DOCS / "security.rst"))
        quoted = re.findall(r"^\S+ (\[proxykit\.\S+\] .*)$", text, re.M)
        self.assertEqual(len(quoted), 3)
        anyId = re.compile(r"\[[0-9a-f]{32}\]")
        self.assertEqual(
            [anyId.sub("[ID]", line) for line in quoted],
            [anyId.sub("[ID]", line) for line in logged],
        )


class BenchCommandTests(SynchronousTestCase):
    """
    The measuring command docs/performance.md gives runs as written.
    """

    def test_requestCost(self) -> None:
        """
        C{.venv/bin/python bench/request_cost.py} relays requests through
        this checkout's proxy and prints the Python time each took.
        """
        self.assertIn("bench/request_cost.py", (DOCS / "performance.md").read_text())
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "request_cost.py"), "--requests", "200"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        cost, unit, checkout = result.stdout.split()
        self.assertGreater(float(cost), 0.0)
        self.assertEqual((unit, checkout), ("us/request", str(ROOT)))
