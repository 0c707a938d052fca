"""
The systemd units of examples/systemd/: they parse (C{systemd-analyze
verify} where installed, and always a small INI reading of the keys that
matter), their C{ExecStart} is accepted by C{twistd}'s option parser with
proxykit's subcommand, and each one's C{ExecStart} really serves on a
socket passed by socket activation (C{systemd-socket-activate}, where
installed), reloads on C{SIGHUP} and drains on C{SIGTERM}.

Paths are moved into the test's temporary directory: C{/opt/proxykit/bin}
to the interpreter running the tests (its virtualenv), C{/etc/proxykit} and
C{/var/log/proxykit-*} to directories of the test's own.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import _SystemdParser
from twisted.internet.threads import deferToThread
from twisted.python.systemd import ListenFDs
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SkipTest, TestCase

from proxykit.config import ProxyConfig

from .._snippets import codeBlocks
from ._subprocess import ROOT, STOP_TIMEOUT, TWISTD, Child, run, startOrigin
from .test_accesslog import curl, readLines
from .test_admin import get
from .test_lifecycle import freePort, waitFor

UNITS = os.path.join(ROOT, "examples", "systemd")
SCALING = os.path.join(ROOT, "docs", "scaling.rst")
MODES = ("forward", "reverse")
INSTALLED = "/opt/proxykit/bin"
"""Where the units expect proxykit's virtualenv."""

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")
MISSING = "not installed (Debian package systemd; ./dev.sh test installs it when it can)"


def readUnit(path: str) -> dict[str, list[tuple[str, str]]]:
    """
    A systemd unit file as its sections, each a list of C{(key, value)} in
    order (keys may repeat, as C{ExecReload} does).  Comments and blank
    lines are skipped; a line that is neither a section, a comment nor
    C{KEY=VALUE} fails the test's assertion.
    """
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            section = re.fullmatch(r"\[([A-Za-z]+)\]", line)
            if section is not None:
                current = sections.setdefault(section.group(1), [])
                continue
            entry = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
            assert entry is not None and current is not None, f"{path}:{number}: {line!r}"
            current.append((entry.group(1), entry.group(2).strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    """
    Every value of C{key} in a section of L{readUnit}, in order.
    """
    return [value for name, value in section if name == key]


def execStart(mode: str) -> list[str]:
    """
    The command line of the C{ExecStart} of the unit for C{mode}.
    """
    [line] = values(readUnit(os.path.join(UNITS, f"proxykit-{mode}.service"))["Service"], "ExecStart")
    return shlex.split(line)


def localCopy(mode: str, directory: str, origin: int = 8001, admin: int | None = None) -> tuple[str, str]:
    """
    Copy examples/systemd/MODE.toml into C{directory}, its access log moved
    there too, the reverse proxy's application (127.0.0.1:8001) to port
    C{origin}, its admin listener to port C{admin} (when given), and, in
    forward mode, loopback destinations allowed (the test's origin is on
    127.0.0.1, and a socket-activated listener counts as beyond loopback).

    @return: The configuration's path, and the access log's.
    """
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(UNITS, f"{mode}.toml")) as f:
        text = f.read()
    accessLog = os.path.join(directory, "access.log")
    text = text.replace(f"/var/log/proxykit-{mode}/access.log", accessLog)
    text = text.replace("127.0.0.1:8001", f"127.0.0.1:{origin}")
    text = text.replace("allow_private_destinations = false", "allow_private_destinations = true")
    if admin is not None:
        text = re.sub(r'listen = "tcp:990\d:', f'listen = "tcp:{admin}:', text)
    path = os.path.join(directory, f"{mode}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path, accessLog


def localCommand(argv: list[str], directory: str) -> list[str]:
    """
    A unit's command line with C{/opt/proxykit/bin/twistd} replaced by the
    working tree's C{twistd} (L{TWISTD}) and C{/etc/proxykit} by
    C{directory}.
    """
    assert argv[0] == f"{INSTALLED}/twistd", argv
    return [*TWISTD, *(a.replace("/etc/proxykit", directory) for a in argv[1:])]


class UnitFileTests(TestCase):
    """
    examples/systemd/*.service and *.socket say what the deployment guide
    says they do.
    """

    timeout = 60

    def test_sandbox(self) -> None:
        """
        Each service runs as a dynamic user with no capabilities, on a
        read-only system without privileges or home directories, with only
        IP and UNIX sockets; its configuration directory is
        C{/etc/proxykit} and its logs directory the one its access log is
        in; it reloads by C{proxykit check} then C{SIGHUP}, and stops by
        C{SIGTERM} given longer than the configuration's drain timeout.
        """
        expected = {
            "DynamicUser": "yes",
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "CapabilityBoundingSet": "",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "ConfigurationDirectory": "proxykit",
            "KillSignal": "SIGTERM",
        }
        for mode in MODES:
            unit = readUnit(os.path.join(UNITS, f"proxykit-{mode}.service"))
            service = unit["Service"]
            for key, value in expected.items():
                self.assertEqual(values(service, key), [value], (mode, key))
            config = ProxyConfig.fromFile(localCopy(mode, self.mktemp())[0])
            [logs] = values(service, "LogsDirectory")
            with open(os.path.join(UNITS, f"{mode}.toml")) as f:
                self.assertIn(f'access = "/var/log/{logs}/access.log"', f.read())
            check = f"{INSTALLED}/proxykit check /etc/proxykit/{mode}.toml --mode {mode}"
            self.assertEqual(values(service, "ExecStartPre"), [check])
            self.assertEqual(values(service, "ExecReload"), [check, "/bin/kill -HUP $MAINPID"])
            self.assertGreater(float(values(service, "TimeoutStopSec")[0]), config.timeouts.drain)
            self.assertEqual(values(unit["Unit"], "Requires"), [f"proxykit-{mode}.socket"])
            self.assertEqual(values(unit["Install"], "Also"), [f"proxykit-{mode}.socket"])

    def test_socketMatchesEndpoint(self) -> None:
        """
        Each socket unit listens on one IPv4 address (port 3128 on loopback
        for the forward proxy, 80 everywhere for the reverse proxy), which
        is what the service's C{systemd:domain=INET:index=0} adopts.
        """
        for mode, address in (("forward", "127.0.0.1:3128"), ("reverse", "0.0.0.0:80")):
            unit = readUnit(os.path.join(UNITS, f"proxykit-{mode}.socket"))
            self.assertEqual(values(unit["Socket"], "ListenStream"), [address])
            self.assertEqual(values(unit["Install"], "WantedBy"), ["sockets.target"])
            self.assertIn("--listen systemd:domain=INET:index=0", shlex.join(execStart(mode)))

    def test_execStartParses(self) -> None:
        """
        Each C{ExecStart} is accepted by C{twistd}'s option parser, with
        proxykit's subcommand, when systemd has passed one socket: the mode
        is the unit's, the listener is the inherited socket, and the rest
        comes from the unit's configuration file.
        """
        inherited = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "proxykit.socket"}
        self.patch(_SystemdParser, "_sddaemon", ListenFDs.fromEnvironment(environ=inherited))
        for mode in MODES:
            directory = os.path.abspath(self.mktemp())
            path, accessLog = localCopy(mode, directory)
            argv = execStart(mode)
            self.assertEqual(argv[:4], [f"{INSTALLED}/twistd", "-n", "--pidfile=", "proxykit"])
            options = ServerOptions()
            options.parseOptions(localCommand(argv, directory)[len(TWISTD):])
            self.assertEqual((options.subCommand, options.subOptions.subCommand), ("proxykit", mode))
            config = options.subOptions.subOptions["proxyConfig"]
            self.assertEqual(config.listen, ("systemd:domain=INET:index=0",))
            self.assertEqual(config.log.access, accessLog)
            self.assertEqual(config, attrs.evolve(ProxyConfig.fromFile(path), listen=config.listen))

    def test_verify(self) -> None:
        """
        C{systemd-analyze verify} finds nothing to say about the four units
        (installed in the test's virtualenv instead of C{/opt/proxykit}),
        and C{systemd-analyze security} rates each service's exposure as
        docs/scaling.rst says.
        """
        if ANALYZE is None:
            raise SkipTest(f"systemd-analyze {MISSING}")
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        bin = os.path.dirname(sys.executable)
        for name in sorted(os.listdir(UNITS)):
            if name.endswith((".service", ".socket")):
                with open(os.path.join(UNITS, name)) as f:
                    text = f.read().replace(INSTALLED, bin)
                with open(os.path.join(directory, name), "w") as f:
                    f.write(text)
        units = sorted(os.listdir(directory))
        self.assertEqual(len(units), 4, units)
        result = run([ANALYZE, "verify", *(os.path.join(".", u) for u in units)], directory, 60)
        self.assertEqual((result.returncode, result.stdout), (0, ""))
        with open(SCALING) as f:
            documented = re.search(r"rates the exposure of each ([0-9.]+) of 10", f.read())
        assert documented is not None
        for mode in MODES:
            result = run(
                [ANALYZE, "security", "--offline=yes", f"./proxykit-{mode}.service"], directory, 60
            )
            exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
            assert exposure is not None, result.stdout
            self.assertEqual(exposure.group(1), documented.group(1), mode)


class SocketActivationTests(TestCase):
    """
    Each unit's C{ExecStart}, run by C{systemd-socket-activate} as systemd
    would run it from the socket unit: the proxy serves on the passed
    socket, writes its access log, reloads on C{SIGHUP} (C{ExecReload})
    and exits 0 on C{SIGTERM} (C{KillSignal}).
    """

    timeout = 120

    def setUp(self) -> None:
        if SOCKET_ACTIVATE is None:
            raise SkipTest(f"systemd-socket-activate {MISSING}")

    def activate(self, mode: str, directory: str, origin: int) -> tuple[Child, int, int, str]:
        """
        Bind a free loopback port with C{systemd-socket-activate} and run
        the unit's C{ExecStart} on it at the first connection.

        @return: The child, the proxy's port, its admin port and its
            access log.
        """
        assert SOCKET_ACTIVATE is not None
        port = freePort()
        admin = freePort()
        path, accessLog = localCopy(mode, directory, origin, admin)
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        child = Child(
            [
                SOCKET_ACTIVATE, "-l", f"127.0.0.1:{port}",
                # systemd names each socket (LISTEN_FDNAMES); this tool
                # only when asked.
                f"--fdname=proxykit-{mode}.socket",
                "-E", "PYTHONPATH", "-E", "PYTHONUNBUFFERED",
                *localCommand(execStart(mode), directory),
            ],
            ROOT,
            env,
        )
        self.addCleanup(child.stop)
        child.waitForLine(rf"Listening on 127\.0\.0\.1:{port}")
        return child, port, admin, accessLog

    def serve(self, mode: str, request: list[str]) -> None:
        origin, originPort = startOrigin(self.mktemp())
        self.addCleanup(origin.stop)
        directory = os.path.abspath(self.mktemp())
        child, port, admin, accessLog = self.activate(mode, directory, originPort)
        # The first connection starts twistd, which adopts the socket and
        # answers it.
        arguments = [a.replace("PORT", str(port)).replace("ORIGIN", str(originPort)) for a in request]
        self.assertEqual(curl(*arguments), "small")
        child.waitForLine(r"proxykit started: listening on systemd:domain=INET:index=0")
        self.assertEqual(get(f"http://127.0.0.1:{admin}/readyz")[::2], (200, b"ready\n"))
        waitFor(lambda: len(readLines(accessLog)) >= 1, "the access log line")
        self.assertIn('"GET ', readLines(accessLog)[0])
        self.assertIn(" 200 ", readLines(accessLog)[0])
        child.process.send_signal(signal.SIGHUP)
        child.waitForLine(r"reloaded the configuration")
        self.assertEqual(curl(*arguments), "small")
        child.process.send_signal(signal.SIGTERM)
        self.assertEqual(child.process.wait(STOP_TIMEOUT), 0, child.output())

    def test_forward(self) -> Deferred[None]:
        """
        C{proxykit-forward.service}'s command, on a socket passed as
        C{systemd:domain=INET:index=0}: curl gets a page through it.
        """
        return deferToThread(
            self.serve, "forward", ["-x", "http://127.0.0.1:PORT", "http://127.0.0.1:ORIGIN/small"]
        )

    def test_reverse(self) -> Deferred[None]:
        """
        C{proxykit-reverse.service}'s command, on a socket passed as
        C{systemd:domain=INET:index=0}: curl gets the application's page
        from it by its public name.
        """
        return deferToThread(
            self.serve, "reverse", ["-H", "Host: www.example.com", "http://127.0.0.1:PORT/small"]
        )


def deploymentBlocks(language: str) -> list[list[str]]:
    """
    The lines of each block in C{LANGUAGE} of the "Deployment" section of
    docs/scaling.rst, as the reader sees them (included files resolved),
    unindented and without blank lines.
    """
    return codeBlocks(SCALING, language, "Deployment")


class DocumentedDeploymentTests(TestCase):
    """
    The systemd part of docs/scaling.rst's "Deployment" section: the
    commands that can run here run as written (ports moved to free ones),
    and the others name files and units that exist.
    """

    timeout = 120

    def test_tryIt(self) -> Deferred[None]:
        """
        The throw-away application, the reverse service's command under
        C{systemd-socket-activate} and the curl through it work as written:
        curl gets the application's page, and the access log on standard
        output has its line.
        """
        if SOCKET_ACTIVATE is None:
            raise SkipTest(f"systemd-socket-activate {MISSING}")

        def check() -> None:
            commands = [line for block in deploymentBlocks("sh") for line in block]
            [application] = [c for c in commands if "http.server" in c]
            [start] = [c for c in commands if c.startswith("systemd-socket-activate")]
            [client] = [c for c in commands if c.startswith("curl") and ":8080/" in c]
            directory = os.path.abspath(self.mktemp())
            originPort, port, admin = freePort(), freePort(), freePort()
            configPath, _ = localCopy("reverse", directory, originPort, admin)
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            origin = Child(shlex.split(application.replace("8001", str(originPort))), directory, env)
            self.addCleanup(origin.stop)
            origin.waitForLine(rf"Serving HTTP on 127\.0\.0\.1 port {originPort}")
            argv = shlex.split(start.replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
            argv = [
                configPath if a == "examples/systemd/reverse.toml"
                else a.replace(".venv/bin/", os.path.dirname(sys.executable) + "/")
                for a in argv
            ]
            self.assertIn(configPath, argv)
            proxy = Child(argv, ROOT, env)
            self.addCleanup(proxy.stop)
            proxy.waitForLine(rf"Listening on 127\.0\.0\.1:{port}")
            page = curl(*shlex.split(client.replace(":8080/", f":{port}/"))[1:])
            self.assertIn("Directory listing", page)
            proxy.waitForLine(r'"GET / HTTP/1\.1" 200 ')

        return deferToThread(check)

    def test_installCommands(self) -> None:
        """
        The install and operation commands name the files of
        examples/systemd, the paths the units use, and the units
        themselves.
        """
        lines = [line for block in deploymentBlocks("console") for line in block]
        text = "\n".join(lines)
        for path in re.findall(r"examples/systemd/\S+", text):
            self.assertTrue(os.path.exists(os.path.join(ROOT, path)), path)
        self.assertIn("python3 -m venv /opt/proxykit", lines)
        [cache] = [line for line in lines if "getPlugins" in line]
        self.assertTrue(cache.startswith(f"{INSTALLED}/python -c "), cache)
        # That command runs (in the tests' virtualenv).
        result = run([sys.executable, *shlex.split(cache)[1:]], ROOT, 60)
        self.assertEqual((result.returncode, result.stdout), (0, ""))
        for line in lines:
            if line.startswith(("systemctl ", "journalctl ")):
                for unit in re.findall(r"proxykit-\w+(?:\.\w+)?", line):
                    name = unit if "." in unit else unit + ".service"
                    self.assertTrue(os.path.exists(os.path.join(UNITS, name)), line)
        [tail] = [line for line in lines if line.startswith("tail ")]
        unit = readUnit(os.path.join(UNITS, "proxykit-forward.service"))
        [logs] = values(unit["Service"], "LogsDirectory")
        self.assertEqual(tail, f"tail -f /var/log/{logs}/access.log")
