"""
The Python examples that listen, run with their port taken: each says so
in one line naming what it tried to listen on and why, and exits with
status 1, as C{twistd proxykit} does; none hangs or prints a traceback.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from ._subprocess import ROOT, _childEnvironment

EXAMPLES = os.path.join(ROOT, "examples")

EXIT_TIMEOUT = 30.0
"""Seconds an example may take to give up (it takes well under one)."""

REASON = os.strerror(errno.EADDRINUSE)
"""The system's words for a port taken (C{"Address already in use"})."""


def takenPort(test: SynchronousTestCase) -> int:
    """
    A loopback port this test listens on itself for as long as it runs.
    """
    taken = socket.socket()
    test.addCleanup(taken.close)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port: int = taken.getsockname()[1]
    return port


def endpoint(port: int) -> str:
    return f"tcp:{port}:interface=127.0.0.1"


class CannotListenTests(SynchronousTestCase):
    """
    Each example that listens, its port taken (as C{./dev.sh start} from the
    README's quick start takes 8080), ends at once with one line.
    """

    def assertCannotListen(
        self, script: str, arguments: Sequence[str], tried: str, stdout: str = ""
    ) -> None:
        """
        Run C{python SCRIPT ARGUMENTS} from the checkout: it exits with
        status 1 within L{EXIT_TIMEOUT}, having written on stderr only
        C{SCRIPT: cannot listen on TRIED: Address already in use}, and
        nothing else.

        @param stdout: What it writes on stdout first (the listeners it
            opened before the one that failed).
        """
        try:
            result = subprocess.run(
                [sys.executable, script, *arguments],
                cwd=ROOT,
                env=_childEnvironment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=EXIT_TIMEOUT,
            )
        except subprocess.TimeoutExpired as e:
            self.fail(f"{script} still ran after {EXIT_TIMEOUT}s: {e.stderr!r}")
        self.assertEqual(
            (result.returncode, result.stderr),
            (1, f"{script}: cannot listen on {tried}: {REASON}\n"),
            result.stdout,
        )
        self.assertRegex(result.stdout, f"^{stdout}$")

    def test_forwardLibrary(self) -> None:
        """
        examples/forward_library.py names the endpoint it was given.
        """
        taken = endpoint(takenPort(self))
        self.assertCannotListen("examples/forward_library.py", [taken], taken)

    def test_hooks(self) -> None:
        """
        examples/hooks.py names the endpoint it was given.
        """
        taken = endpoint(takenPort(self))
        self.assertCannotListen("examples/hooks.py", [taken], taken)

    def test_customRouter(self) -> None:
        """
        examples/custom_router.py names the endpoint it was given.
        """
        taken = endpoint(takenPort(self))
        origins = ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
        self.assertCannotListen("examples/custom_router.py", [*origins, taken], taken)

    def test_reverseLibrary(self) -> None:
        """
        examples/reverse_library.py, with the shipped reverse.toml, names the
        endpoint it was given.
        """
        taken = endpoint(takenPort(self))
        self.assertCannotListen(
            "examples/reverse_library.py", ["examples/reverse.toml", taken], taken
        )

    def test_reversePython(self) -> None:
        """
        examples/reverse_python.py names the endpoint of its C{--listen}.
        """
        taken = endpoint(takenPort(self))
        self.assertCannotListen("examples/reverse_python.py", ["--listen", taken], taken)

    def test_metricsProxy(self) -> None:
        """
        examples/metrics.py names its proxy's endpoint when that is taken.
        """
        taken = endpoint(takenPort(self))
        self.assertCannotListen("examples/metrics.py", [taken, endpoint(0)], taken)

    def test_metricsSite(self) -> None:
        """
        examples/metrics.py names its site's endpoint when that is taken,
        after its proxy listened.
        """
        taken = endpoint(takenPort(self))
        self.assertCannotListen(
            "examples/metrics.py", [endpoint(0), taken], taken, r"proxy listening on .*\n"
        )

    def test_webSite(self) -> None:
        """
        examples/web_site.py names the loopback address and port it was
        given.
        """
        port = takenPort(self)
        self.assertCannotListen("examples/web_site.py", [str(port), "9001"], f"127.0.0.1:{port}")

    def embed(self, proxy: int, site: int) -> str:
        """
        A copy of examples/tutorial/embed.py with its proxy and its site
        on the ports given instead of 8000 and 8001; its path.
        """
        text = Path(EXAMPLES, "tutorial", "embed.py").read_text()
        moved = text.replace("tcp:8000:", f"tcp:{proxy}:").replace("tcp:8001:", f"tcp:{site}:")
        self.assertEqual(moved.count(f"tcp:{proxy}:") + moved.count(f"tcp:{site}:"), 2)
        directory = Path(self.mktemp())
        directory.mkdir(parents=True)
        copy = directory / "embed.py"
        copy.write_text(moved)
        return str(copy.resolve())

    def test_embedProxy(self) -> None:
        """
        examples/tutorial/embed.py names its proxy's endpoint when that is
        taken.
        """
        port = takenPort(self)
        self.assertCannotListen(self.embed(port, 0), [], endpoint(port))

    def test_embedSite(self) -> None:
        """
        examples/tutorial/embed.py names its site's endpoint when that is
        taken, after its proxy listened.
        """
        port = takenPort(self)
        self.assertCannotListen(
            self.embed(0, port), [], endpoint(port), r"proxy listening on .*\n"
        )

    def test_websocketEcho(self) -> None:
        """
        C{examples/howto/websocket_echo.py serve PORT} names the loopback
        address and port it was given.
        """
        if importlib.util.find_spec("websockets") is None:
            raise SkipTest("websockets is not installed (the test extra has it)")
        port = takenPort(self)
        self.assertCannotListen(
            "examples/howto/websocket_echo.py", ["serve", str(port)], f"127.0.0.1:{port}"
        )
