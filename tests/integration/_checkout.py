"""
Run the shell commands of a tutorial or how-to page as written, from a
checkout: the steps of an C{examples/tutorial/*.sh} or C{examples/howto/*.sh}
file, each between C{# [start NAME]} and C{# [end NAME]} markers.

They run in a copy of the checkout's layout in a temporary directory (so
that certificates and logs they write stay out of the real checkout), with
every port the files name moved to a free one, and with a C{.venv/bin}
whose C{twistd}, C{python} and C{proxykit} run this working tree, as
C{./dev.sh start} installs them.  C{./dev.sh start} runs the C{twistd}
command the real C{dev.sh} ends with, without installing anything first.

Everything here blocks; tests call it from a thread (C{deferToThread}) so
that trial's C{timeout} still applies.  Every wait is bounded in time.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping

from ._servers import clientEnvironment
from ._subprocess import ROOT, Child

EXAMPLES = os.path.join(ROOT, "examples")

STEP_TIMEOUT = 60.0
"""Seconds one step may take."""

MARKER = re.compile(r"^# \[start ([\w-]+)\]\n(.*?)^# \[end \1\]$", re.M | re.S)


def _ephemeralLow() -> int:
    """
    The lowest port the system picks for port 0 and outgoing connections.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def freePort(taken: set[int]) -> int:
    """
    A loopback port nothing listens on, below the ephemeral range and not
    in C{taken}.

    The steps name their ports in advance, so they cannot listen on port 0
    and say which they got; a port outside the range the system hands out
    for port 0 and outgoing connections is not taken meanwhile by another
    test's listener or client.
    """
    low = max(_ephemeralLow(), 11000)
    for _ in range(1000):
        port = random.randrange(10000, low)
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def readSteps(text: str) -> dict[str, str]:
    """
    The steps of a commands file: each C{# [start NAME]} ... C{# [end
    NAME]} block, by name, in order.
    """
    steps: dict[str, str] = {}
    for match in MARKER.finditer(text):
        name = match.group(1)
        if name in steps:
            raise ValueError(f"step {name!r} appears twice")
        steps[name] = match.group(2)
    return steps


def _shim(path: str, body: str) -> None:
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)


def _devStartCommand() -> str:
    """
    The command C{./dev.sh start} ends with (after setting up C{.venv}).
    """
    with open(os.path.join(ROOT, "dev.sh")) as f:
        text = f.read()
    branch = text[text.index("\nstart)") :]
    line = next(line.strip() for line in branch.splitlines() if line.strip().startswith("exec "))
    assert line.startswith('exec "$VENV/bin/twistd"'), line
    return line


class Checkout:
    """
    A temporary directory laid out like a checkout after C{./dev.sh start}:
    C{docs}, C{README.md} and the shipped examples are the working
    tree's (linked), the example files named are copied with their ports
    moved, and C{.venv/bin} and C{dev.sh} run this working tree.

    @ivar top: The directory.
    @ivar ports: Each port the copied files name, and the free port it was
        moved to.
    @ivar children: The servers started, stopped by L{stop}.
    @ivar tmp: The steps' C{TMPDIR}, removed by L{stop}.
    """

    def __init__(self, top: str, files: Iterable[str], ports: Iterable[int]) -> None:
        """
        @param files: Paths under C{examples/} to copy (and rewrite), such as
            C{"tutorial/two-sites.toml"}; the other files of their
            directories are linked.
        @param ports: The fixed ports those files name, each moved to a free
            one everywhere it appears.
        """
        self.top = top
        self.ports: dict[int, int] = {}
        for port in ports:
            self.ports[port] = freePort(set(self.ports.values()))
        self.children: list[Child] = []
        os.makedirs(os.path.join(top, "examples"))
        for name in ("docs", "README.md"):
            os.symlink(os.path.join(ROOT, name), os.path.join(top, name))
        copied = {path.split("/")[0] for path in files}
        for name in os.listdir(EXAMPLES):
            if name not in copied and name != "certs":
                os.symlink(os.path.join(EXAMPLES, name), os.path.join(top, "examples", name))
        for path in files:
            target = os.path.join(top, "examples", path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(os.path.join(EXAMPLES, path)) as f:
                text = self.movePorts(f.read())
            with open(target, "w") as f:
                f.write(text)
            os.chmod(target, os.stat(os.path.join(EXAMPLES, path)).st_mode)
        for directory in copied:
            for name in os.listdir(os.path.join(EXAMPLES, directory)):
                target = os.path.join(top, "examples", directory, name)
                if not os.path.exists(target):
                    os.symlink(os.path.join(EXAMPLES, directory, name), target)
        bin = os.path.join(top, ".venv", "bin")
        os.makedirs(bin)
        python = shlex.quote(sys.executable)
        _shim(os.path.join(bin, "python"), f'exec {python} "$@"')
        _shim(
            os.path.join(bin, "twistd"),
            f'exec {python} -c "from twisted.scripts.twistd import run; run()" "$@"',
        )
        _shim(os.path.join(bin, "proxykit"), f'exec {python} -c "from proxykit.cli import script; script()" "$@"')
        _shim(
            os.path.join(top, "dev.sh"),
            'VENV=.venv\ncase "$1" in start) shift; ' + _devStartCommand() + ";; esac\nexit 2",
        )
        # Where the steps' own temporary files go ("${TMPDIR:-/tmp}/..."):
        # a short name, as UNIX socket paths (the workers' own) are short.
        self.tmp = tempfile.mkdtemp(prefix="proxykit-steps-")
        self.environment = dict(clientEnvironment(),
            PYTHONPATH=ROOT,
            PYTHONUNBUFFERED="1",
            TMPDIR=self.tmp,)

    def movePorts(self, text: str) -> str:
        """
        C{text} with every port of L{ports} replaced by the free one.
        """
        for old, new in self.ports.items():
            text = re.sub(rf"(?<![\d.]){old}(?!\d)", str(new), text)
        return text

    def steps(self, path: str) -> dict[str, str]:
        """
        The steps of C{examples/PATH}, ports moved.
        """
        with open(os.path.join(EXAMPLES, path)) as f:
            return readSteps(self.movePorts(f.read()))

    def run(
        self, command: str, environment: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """
        Run C{command} with bash (C{-euo pipefail}) in the checkout, to its
        end; its status and output (stdout, and stderr apart) as text.
        """
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.top,
            env={**self.environment, **(environment or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
        )

    def serve(self, command: str, ready: str) -> Child:
        """
        Start C{command}, a server that stays in the foreground (one
        command), and wait until it writes a line matching C{ready}.
        """
        lines = [line for line in command.strip().splitlines()]
        if len(lines) != 1 or ";" in command or "&" in command:
            raise AssertionError(f"a server step is one command: {command!r}")
        child = Child(["bash", "-c", "exec " + lines[0]], self.top, self.environment)
        self.children.append(child)
        child.waitForLine(ready)
        return child

    def stop(self) -> None:
        """
        Stop every server started, the last first, and remove the steps'
        temporary directory.
        """
        while self.children:
            self.children.pop().stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
