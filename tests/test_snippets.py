# -*- test-case-name: tests.test_snippets -*-
"""
Tests that every code, command, configuration and output block of the
documentation is included from a file under C{examples/} (and read as
Sphinx reads it), and that every file there is exercised by a test.
"""

import ast
import fnmatch
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import bcrypt
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from ._snippets import (
    DOCS,
    EXAMPLES,
    ROOT,
    IncludeError,
    commandFiles,
    commands,
    includedLines,
    pages,
    regions,
    snippets,
)

NOT_CONVERTED: dict[str, str] = {}
"""
Pages whose code blocks are still written inline, and why.  Each entry is
to go as soon as its page includes its blocks (a test fails while an entry
names a page without inline blocks).
"""

INLINE_ALLOWED: dict[str, str] = {}
"""
C{"page.rst:LINE"} of an inline block that cannot be a file, and why: none.
"""

DOCUMENTATION_HOST = re.compile(
    r"^(?:127\.0\.0\.1|::1|localhost|192\.0\.2\.\d+|(?:[\w*-]+\.)*(?:test|example|invalid)"
    r"|(?:[\w-]+\.)*example\.(?:com|org|net))$"
)
"""
Hosts a command may name: loopback, and names and addresses reserved for
documentation (RFC 2606, RFC 5737, RFC 6761).
"""


GLOB = re.compile(r"^(?:examples/)?[\w.-]+/[\w./*-]*\*[\w./*-]*$")
"""A glob pattern of files under C{examples/}: C{snippets/*/*.toml}."""


def testStrings() -> list[set[str]]:
    """
    The string constants of each test module under C{tests/}.
    """
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        strings = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            elif isinstance(node, ast.JoinedStr):
                # f"proxykit-{mode}.toml" names proxykit-*.toml
                strings.add(
                    "".join(
                        part.value if isinstance(part, ast.Constant) else "*"
                        for part in node.values
                    )
                )
        found.append(strings)
    return found


def namedIn(name: str, strings: set[str]) -> bool:
    """
    Whether the string constants of a module name the file C{name} (a path
    relative to C{examples/}): whole in one constant; or its directories
    each a constant (C{os.path.join(EXAMPLES, "haproxy", ...)}) and its
    name a constant or matched by a glob pattern (C{*.socket}, or an
    f-string such as C{f"proxykit-{mode}.socket"}); or matched by a glob
    pattern of a path (C{examples/kubernetes/*.yaml}).
    """
    if any(name in s for s in strings):
        return True
    globs = {token for s in strings for token in re.findall(r"[\w./-]*\*[\w./*-]*", s)}
    if any(GLOB.match(g) and fnmatch.fnmatchcase(name, g.removeprefix("examples/")) for g in globs):
        return True
    *directories, base = name.split("/")
    if not all(part in strings for part in directories):
        return False
    return base in strings or any(
        fnmatch.fnmatchcase(base, g) for g in globs if "/" not in g and g.strip("*")
    )


def exampleFiles() -> list[str]:
    """
    Every file under C{examples/}, relative to it; the test certificates
    the guides make there (git ignores them) and byte code apart.
    """
    return sorted(
        path.relative_to(EXAMPLES).as_posix()
        for path in EXAMPLES.rglob("*")
        if path.is_file()
        and not {"certs", "__pycache__"} & set(path.relative_to(EXAMPLES).parts)
    )


def serverCopy(path: Path, top: Path) -> Path:
    """
    Copy the configuration at C{path} into the directory C{top}, with the
    server paths it names (C{/etc/proxykit/}, C{/var/log/proxykit/})
    moved into C{top}, and make the files it names there: TLS certificates
    and keys issued by a test CA (a C{ca.pem} or C{*-ca.pem} is that CA),
    and a password file.

    @return: The copy.
    """
    from ._certs import TestCA

    top.mkdir(parents=True, exist_ok=True)
    text = path.read_text().replace("/etc/proxykit/", f"{top}/etc/").replace(
        "/var/log/proxykit/", f"{top}/log/"
    )
    (top / "etc").mkdir(exist_ok=True)
    (top / "log").mkdir(exist_ok=True)
    ca = TestCA()
    for named in set(re.findall(r'"([^"]+)\.(?:pem|key)"', text)):
        where = Path(named) if named.startswith("/") else top / named
        where.parent.mkdir(parents=True, exist_ok=True)
        if where.name == "ca" or where.name.endswith("-ca"):
            (where.parent / (where.name + ".pem")).write_bytes(ca.certificatePEM)
        else:
            ca.write(str(where.parent), where.name, "app.example.test", "*.example.test")
    (top / "etc" / "htpasswd").write_text(
        "alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode("ascii") + "\n"
    )
    copy = top / path.name
    copy.write_text(text)
    return copy


class SnippetTests(SynchronousTestCase):
    """
    Every code, command, configuration and output block of the
    documentation is included from a file under C{examples/}, and every
    file there is exercised by a test.
    """

    def test_noInlineBlocks(self) -> None:
        """
        No page writes a block inline (C{code-block}, a paragraph ending in
        C{::}), but those of L{NOT_CONVERTED} and L{INLINE_ALLOWED}; each of
        L{NOT_CONVERTED} still has one.
        """
        found = []
        for page in pages():
            name = page.relative_to(DOCS).as_posix()
            inline = [s for s in snippets(page) if s.inline]
            if name in NOT_CONVERTED:
                self.assertTrue(inline, f"{name} has no inline block: take it off NOT_CONVERTED")
                continue
            found += [
                f"{name}:{s.line}: {s.kind} {s.language}".rstrip()
                for s in inline
                if f"{name}:{s.line}" not in INLINE_ALLOWED
            ]
        self.assertEqual(found, [])

    def test_includesResolve(self) -> None:
        """
        Every C{literalinclude} of every page names a file under
        C{examples/}, gives its C{:language:}, uses only the options
        L{tests._snippets.includedLines} knows, and its markers are in the
        file, in order, around at least one line.
        """
        problems = []
        for page in pages():
            try:
                shown = snippets(page)
            except IncludeError as e:
                problems.append(f"{page.name}: {e}")
                continue
            for s in shown:
                if s.kind != "literalinclude":
                    continue
                where = f"{page.relative_to(DOCS)}:{s.line}"
                assert s.source is not None
                if not s.source.is_relative_to(EXAMPLES):
                    problems.append(f"{where}: {s.source} is not under examples/")
                if not s.language:
                    problems.append(f"{where}: no :language:")
                if not any(line.strip() for line in s.lines):
                    problems.append(f"{where}: shows nothing")
                if ("start-after" in s.options) != ("end-before" in s.options):
                    problems.append(f"{where}: a start-after without end-before, or the reverse")
        self.assertEqual(problems, [])

    def test_includesAsSphinxReadsThem(self) -> None:
        """
        L{tests._snippets.includedLines} selects the lines Sphinx's own
        C{LiteralIncludeReader} does, for every C{literalinclude} of the
        documentation.
        """
        try:
            from sphinx.directives.code import LiteralIncludeReader
        except ImportError:
            raise SkipTest("sphinx is not installed (pip install '.[docs]')")

        class Config:
            source_encoding = "utf-8-sig"

        count = 0
        for page in pages():
            for s in snippets(page):
                if s.kind != "literalinclude":
                    continue
                options: dict[str, Any] = dict(s.options)
                if "dedent" in options:
                    options["dedent"] = int(options["dedent"]) if options["dedent"] else None
                text, _ = LiteralIncludeReader(str(s.source), options, Config()).read()  # type: ignore[arg-type]
                self.assertEqual(list(s.lines), text.splitlines(), f"{page.name}:{s.line}")
                count += 1
        self.assertGreater(count, 50)

    def test_everyExampleExercised(self) -> None:
        """
        Every file under C{examples/} is named by a test module under
        C{tests/} (see L{namedIn}).
        """
        modules = testStrings()
        missing = [
            name for name in exampleFiles() if not any(namedIn(name, strings) for strings in modules)
        ]
        self.assertEqual(missing, [])

    def test_commandFiles(self) -> None:
        """
        Each file of C{examples/commands/} is valid shell, holds nothing
        outside its marked regions but comments, and each region is shown
        by a page of the documentation.
        """
        shown = {
            (s.source, s.options["start-after"])
            for page in pages()
            for s in snippets(page)
            if s.kind == "literalinclude" and "start-after" in s.options
        }
        files = commandFiles()
        self.assertTrue(files)
        for path in files:
            result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)
            found = regions(path)
            self.assertTrue(found, path.name)
            for name, lines in found.items():
                self.assertTrue(any(line.strip() for line in lines), f"{path.name}: {name} is empty")
                self.assertIn((path, f"[start {name}]"), shown, f"{path.name}: no page shows {name}")
            outside = re.sub(
                r"(?ms)^# \[start ([\w.-]+)\]$.*?^# \[end \1\]$", "", path.read_text()
            )
            stray = [line for line in outside.splitlines() if line.strip() and not line.startswith("#")]
            self.assertEqual(stray, [], path.name)

    def test_commandHosts(self) -> None:
        """
        Every host a command names (in a URL, C{-x}, C{--resolve},
        C{--bind}, C{-accept}) is loopback or reserved for documentation.
        """
        bad = []
        for path in commandFiles():
            for name, lines in regions(path).items():
                text = "\n".join(lines)
                hosts = re.findall(r"[a-z]+://(?:[^@/\s]*@)?([^:/\s'\"]+)", text)
                hosts += re.findall(r"--resolve \S+?:\d+:(\S+)", text)
                hosts += re.findall(r"(?:--bind|-accept|--client)\s+([^\s:]+)", text)
                # An endpoint string escapes the colons of an IPv6 address.
                hosts += [
                    host.replace("\\:", ":")
                    for host in re.findall(r"interface=((?:\\:|[^\s:'\"])+)", text)
                ]
                bad += [f"{path.name} {name}: {host}" for host in hosts if not DOCUMENTATION_HOST.match(host)]
        self.assertEqual(bad, [])

    def test_twistdCommands(self) -> None:
        """
        Every C{twistd proxykit} and C{./dev.sh start} command line of
        C{examples/commands/} is accepted by proxykit's options as written
        (files it names resolved from the checkout).
        """
        from proxykit.tap import Options

        count = 0
        for path in commandFiles():
            for name, lines in regions(path).items():
                for words in commands(lines):
                    while words and "=" in words[0] and not words[0].startswith("-"):
                        words = words[1:]
                    if words[:2] == ["./dev.sh", "start"]:
                        argv = ["forward", *words[2:]]
                    elif words and words[0].endswith("twistd") and "proxykit" in words:
                        argv = words[words.index("proxykit") + 1 :]
                    else:
                        continue
                    if "--config" in argv:
                        at = argv.index("--config")
                        if (ROOT / argv[at + 1]).exists():
                            # With the certificates the commands make, and
                            # the server's directories, in a directory of
                            # its own.
                            copy = serverCopy(ROOT / argv[at + 1], Path(self.mktemp()).resolve())
                            argv[at + 1] = str(copy)
                        else:
                            # A server's own file (/etc/proxykit/...): check the rest.
                            argv = argv[:at] + argv[at + 2 :]
                    options = Options()
                    try:
                        options.parseOptions(argv)
                    except Exception as e:
                        self.fail(f"{path.name} {name}: {' '.join(words)}: {e}")
                    count += 1
        self.assertGreater(count, 15)

    def test_devCommands(self) -> None:
        """
        Every C{./dev.sh} command is C{start} (its options are checked by
        L{test_twistdCommands}) or C{test}, with test names that exist.
        """
        from twisted.python.reflect import namedAny

        count = 0
        for path in commandFiles():
            for lines in regions(path).values():
                for words in commands(lines):
                    if words[0] != "./dev.sh":
                        continue
                    self.assertIn(words[1], ("start", "test"), " ".join(words))
                    if words[1] == "test":
                        for name in words[2:]:
                            namedAny(name)
                    count += 1
        self.assertGreater(count, 3)

    def test_namedFilesExist(self) -> None:
        """
        Every C{examples/...} path a command names exists, but the test
        certificates and keys the commands themselves make in
        C{examples/certs/}.
        """
        missing = []
        for path in commandFiles():
            for name, lines in regions(path).items():
                for named in re.findall(r"\bexamples/[\w./-]+", "\n".join(lines)):
                    if not named.startswith("examples/certs") and not (ROOT / named).exists():
                        missing.append(f"{path.name} {name}: {named}")
        self.assertEqual(missing, [])


REFUSED = {"configuration/bad.toml": "configuration/bad-error.txt"}
"""
The configurations under C{examples/snippets/} shown as refused, each with
the sample of the error it gets (as C{examples/NAME}).
"""


class SnippetFileTests(SynchronousTestCase):
    maxDiff = None

    """
    The configuration, Python and output files under C{examples/snippets/}
    are what they claim to be.
    """

    def test_configs(self) -> None:
        """
        Every configuration under C{examples/snippets/} passes
        C{proxykit check} (in the mode it is for).
        """
        from io import StringIO

        from proxykit.cli import main

        files = sorted(EXAMPLES.glob("snippets/*/*.toml"))
        self.assertTrue(files)
        for path in files:
            if path.relative_to(EXAMPLES / "snippets").as_posix() in REFUSED:
                continue
            out, err = StringIO(), StringIO()
            status = main(["check", str(serverCopy(path, Path(self.mktemp()).resolve()))], out, err)
            self.assertEqual((status, err.getvalue()), (0, ""), str(path.relative_to(EXAMPLES)))

    def test_pythonImports(self) -> None:
        """
        Every name a Python file under C{examples/snippets/} imports
        exists, even those imported inside a function.
        """
        import importlib

        files = sorted(EXAMPLES.glob("snippets/*/*.py"))
        self.assertTrue(files)
        for path in files:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        self.assertTrue(hasattr(module, alias.name), f"{path.name}: {node.module}.{alias.name}")
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        importlib.import_module(alias.name)

    def load(self, relative: str) -> Any:
        """
        Import C{examples/snippets/RELATIVE} as a module.
        """
        import importlib.util

        spec = importlib.util.spec_from_file_location("snippet", EXAMPLES / "snippets" / relative)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def test_refusedConfigs(self) -> None:
        """
        Each configuration shown as refused gets exactly the errors its
        sample shows, for the file named as the page names it.
        """
        from proxykit.config import ConfigError, ProxyConfig

        for name, sample in REFUSED.items():
            path = EXAMPLES / "snippets" / name
            with self.assertRaises(ConfigError) as caught:
                ProxyConfig.fromFile(str(path))
            shown = str(caught.exception).replace(str(path), f"examples/{path.name}")
            self.assertEqual(shown + "\n", (EXAMPLES / "snippets" / sample).read_text(), name)

    def test_configurationErrorFromPython(self) -> None:
        """
        C{snippets/configuration/origin-error.txt} shows the error a bad
        L{OriginConfig} built in Python raises, as the interpreter prints it.
        """
        from proxykit import OriginConfig
        from proxykit.config import ConfigError

        [call, printed] = (EXAMPLES / "snippets/configuration/origin-error.txt").read_text().splitlines()
        self.assertEqual(call, '>>> OriginConfig("ftp://x")')
        with self.assertRaises(ConfigError) as caught:
            OriginConfig("ftp://x")
        error = caught.exception
        self.assertEqual(printed, f"{type(error).__module__}.{type(error).__qualname__}: {error}")

    def test_configurationFromPython(self) -> None:
        """
        C{snippets/configuration/from-python.py} builds the forward proxy of
        the configuration it makes, ready to listen.
        """
        import proxykit

        module = self.load("configuration/from-python.py")
        self.assertEqual(module.config.listen, ("tcp:8080:interface=127.0.0.1",))
        self.assertIsInstance(module.factory, proxykit.ListenerGate)

    def test_webSwitch(self) -> None:
        """
        C{snippets/web/switch.py} mounts proxykit's resource where Twisted's
        was.
        """
        from twisted.web.resource import Resource

        from proxykit.web import ReverseProxyResource

        root = Resource()
        self.load("web/switch.py").mount(root)
        self.assertIsInstance(root.children[b"api"], ReverseProxyResource)

    def test_libraryMetrics(self) -> None:
        """
        C{snippets/library/metrics.py} mounts a metrics page that counts
        what the proxy it built serves.
        """
        from twisted.web.resource import Resource

        import proxykit

        root = Resource()
        metrics = self.load("library/metrics.py").mountMetrics(proxykit.ProxyConfig(), root)
        self.assertIsInstance(root.children[b"metrics"], proxykit.MetricsResource)
        self.assertIsInstance(metrics, proxykit.Metrics)

    def test_accessEvents(self) -> None:
        """
        C{snippets/operations/access-events.py} prints the access events it
        is given, and nothing else.
        """
        import contextlib
        import io

        module = self.load("operations/access-events.py")
        self.addCleanup(globalLogPublisher.removeObserver, module.accessEvents)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            module.accessEvents({"log_namespace": "other"})
            module.accessEvents(
                {"log_namespace": "proxykit.access", "client_addr": "127.0.0.1", "status": 200, "request_time": 0.5}
            )
        self.assertEqual(printed.getvalue(), "127.0.0.1 200 0.5\n")

    def test_jsonObserver(self) -> None:
        """
        C{snippets/security/json-observer.py}'s observer writes events as
        JSON lines to C{proxykit.json}.
        """
        module = self.load("security/json-observer.py")
        opened = []

        def recordingOpen(*args: Any) -> Any:
            opened.append(open(*args))
            return opened[-1]

        # The module's own global is found before the builtin.
        module.open = recordingOpen
        observer = module.observer()
        [logFile] = opened
        self.addCleanup(logFile.close)
        self.assertEqual(logFile.name, "proxykit.json")
        observer({"log_namespace": "proxykit.test", "why": "because", "log_format": "{why}"})
        # Each record is a record separator, the JSON text and a newline.
        [record] = Path("proxykit.json").read_text().split("\n")[:-1]
        self.assertEqual(json.loads(record.lstrip("\x1e"))["why"], "because")

    def test_structuredFiles(self) -> None:
        """
        The JSON and YAML files parse; the C{/status} sample has the keys
        the admin listener's C{/status} has.
        """
        status = json.loads((EXAMPLES / "snippets/operations/status.json").read_text())
        self.assertEqual(
            set(status),
            {"ready", "draining", "config", "listeners", "client_connections", "vhosts", "tunnels"},
        )
        try:
            import yaml
        except ImportError:
            raise SkipTest("PyYAML is not installed")
        for path in sorted(EXAMPLES.glob("snippets/*/*.yaml")):
            self.assertIsInstance(yaml.safe_load(path.read_text()), dict, path.name)

    def test_outputSamples(self) -> None:
        """
        The output samples the guides show (log lines, responses, a module
        map) have the form of what proxykit writes; those checked against
        real output elsewhere are named there.
        """
        forms = {
            "operations/request-id-log.txt": r"^\S+ \[proxykit\.\S+#info\] 127\.0\.0\.1:\d+ GET \S+ \[ticket-1234\]: origin connection failed: .*$",
            "operations/reload-refused.txt": r"^reload refused, still serving the old configuration: \S+:\d+: \S+: .*$",
            "operations/reloaded.txt": r"^reloaded the configuration from \S+: .*\(version [0-9a-f]{16}\)$",
            "operations/logrotate.txt": r"(?s)^/var/log/proxykit/access\.log \{\n.*kill -USR1 .*\n\}$",
            "reverse-proxy/tls-origin-failed.txt": r"^\S+:\d+ GET /\S* \[[0-9a-f]{32}\]: origin connection failed: origin TLS handshake failed: .*$",
            "security/json-lines.txt": r'(?m)^\{"why": .*"log_namespace": "proxykit\.\S+", "log_format": .*\}$',
            "tls/certificate-warnings.txt": r"(?m)^TLS certificate \S+: (not valid for|expires on) .*$",
            "configuration/synopsis.txt": r"^\.venv/bin/twistd -n proxykit (forward|reverse) \[options\]$",
            "configuration/version.txt": r"^proxykit \S+ \((compiled|pure Python), Twisted \S+, CPython \S+\)$",
            "configuration/cannot-listen.txt": r"^proxykit: cannot listen on \S+: .*$",
            "configuration/bad-options.txt": r"(?s)^\$ twistd -n proxykit forward --config bad\.toml\n"
            r"(bad\.toml:\d+: \S+: .*\n)+See 'twistd proxykit forward --help' for the options\.$",
            "configuration/missing-origins.txt": r"^examples/\S+\.toml:\d+: reverse\.vhost\[\d+\]\.route\[\d+\]\.origins: .*, missing$",
            "scaling/haproxy-diagram.txt": r"(?s)^clients --> HAProxy :8000 .*proxykit a :8001 .*proxykit b :8002 .*admin :9101, :9102$",
        }
        checkedElsewhere = {
            "operations/combined-line.txt": "AccessLineTests",
            "operations/json-line.txt": "AccessLineTests",
            "operations/request-id-response.txt": "tests/integration/test_requestid.py",
            "reverse-proxy/bad-origin-error.txt": "ExampleTests.test_quotedErrorLine",
            "security/refusal-lines.txt": "LogLineTests.test_quotedRefusals",
            "design/module-map.txt": "tests/test_layers.py",
            "configuration/bad-error.txt": "SnippetFileTests.test_refusedConfigs",
            "configuration/origin-error.txt": "SnippetFileTests.test_configurationErrorFromPython",
        }
        samples = {p.relative_to(EXAMPLES / "snippets").as_posix() for p in EXAMPLES.glob("snippets/*/*.txt")}
        self.assertEqual(samples, set(forms) | set(checkedElsewhere))
        for name, form in forms.items():
            text = (EXAMPLES / "snippets" / name).read_text().rstrip("\n")
            for line in text.splitlines() if not form.startswith("(?") else [text]:
                self.assertRegex(line, form, name)


class DockerIgnoreTests(SynchronousTestCase):
    """
    C{examples/kubernetes/Dockerfile.dockerignore}, which C{docker build -f
    examples/kubernetes/Dockerfile} reads.
    """

    def test_localFilesLeftOut(self) -> None:
        """
        The build context leaves out git's data and what the checkout's
        tests and virtual environments make (C{.gitignore} lists them too).
        """
        ignored = (EXAMPLES / "kubernetes" / "Dockerfile.dockerignore").read_text().split()
        gitignore = (ROOT / ".gitignore").read_text().split()
        self.assertIn(".git", ignored)
        for pattern in (".venv*", "_trial_temp*", "**/__pycache__"):
            self.assertIn(pattern, ignored)
        # The virtual environments without a slash: a worktree's symlinks
        # to them are left out too.
        for local in (".venv", ".venv-lowest", "_trial_temp*/", "__pycache__/"):
            self.assertIn(local, gitignore)


class IncludedLinesTests(SynchronousTestCase):
    """
    L{tests._snippets.includedLines} selects what Sphinx's
    C{LiteralIncludeReader} selects, option by option.
    """

    SOURCE = '''\
"""A module."""

# [start top]
import os
# [end top]


@staticmethod
def decorated():
    return os.sep


class Holder:
    def method(self):
        # [start inner]
        return 1
        # [end inner]
'''

    def test_options(self) -> None:
        try:
            from sphinx.directives.code import LiteralIncludeReader
        except ImportError:
            raise SkipTest("sphinx is not installed (pip install '.[docs]')")

        class Config:
            source_encoding = "utf-8-sig"

        path = Path(self.mktemp() + ".py")
        path.write_text(self.SOURCE)
        cases: list[dict[str, str]] = [
            {},
            {"start-after": "[start top]", "end-before": "[end top]"},
            {"start-at": "[start top]", "end-at": "[end top]"},
            {"start-after": "[start inner]", "end-before": "[end inner]", "dedent": ""},
            {"start-after": "[start inner]", "end-before": "[end inner]", "dedent": "8"},
            {"pyobject": "decorated"},
            {"pyobject": "Holder.method"},
            {"pyobject": "Holder"},
            {"lines": "1,3-4,15-"},
            {"start-after": "class Holder", "lines": "2-"},
        ]
        for options in cases:
            theirs: dict[str, Any] = dict(options)
            if "dedent" in theirs:
                theirs["dedent"] = int(theirs["dedent"]) if theirs["dedent"] else None
            text, _ = LiteralIncludeReader(str(path), theirs, Config()).read()  # type: ignore[arg-type]
            self.assertEqual(includedLines(path, options), text.splitlines(), options)

    def test_problems(self) -> None:
        """
        A missing file, a marker not found and an unknown option are
        L{IncludeError}s.
        """
        path = Path(self.mktemp())
        with self.assertRaises(IncludeError):
            includedLines(path, {})
        path.write_text("one\ntwo\n")
        for options in ({"start-after": "three"}, {"end-before": "one"}, {"diff": "x"}):
            with self.assertRaises(IncludeError):
                includedLines(path, options)


class AccessLineTests(SynchronousTestCase):
    """
    The access-log lines docs/operations.rst shows.
    """

    def test_accessLines(self) -> None:
        """
        The combined and JSON access-log lines docs/operations.rst shows are
        what proxykit's formatters write for a request with their values
        (the JSON line's elided fields apart).
        """
        from proxykit.ops.accesslog import EVENT_FIELDS, combinedLine, jsonLine

        combined = (EXAMPLES / "snippets/operations/combined-line.txt").read_text()
        parts = re.match(
            r'^(\S+) - - \[([^]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\d+) "-" "([^"]*)"\n$', combined
        )
        assert parts is not None, combined
        client, when, method, target, protocol, status, sent, agent = parts.groups()
        shown = json.loads(
            (EXAMPLES / "snippets/operations/json-line.txt").read_text().replace(",...", "")
        )
        event: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
        event.update(shown)
        event.update(
            client_addr=client, method=method, target=target, protocol=protocol,
            status=int(status), bytes_sent=int(sent), http_user_agent=agent,
        )  # fmt: skip
        self.assertEqual(combinedLine(lambda seconds: when)(event), combined)
        written = jsonLine(event)
        shownText = (EXAMPLES / "snippets/operations/json-line.txt").read_text().strip()
        for piece in shownText.strip("{}").split(",..."):
            self.assertIn(piece.strip(","), written)
