# -*- test-case-name: tests.test_benchscale -*-
"""
The benchmark's scale measures (C{bench/harness/scale.py}), on small
numbers against a real C{twistd proxykit forward} on a loopback port 0:
idle keep-alive connections held (C{bench/run.py}'s C{idle} phase and
C{bench/idle_connections.py}) and concurrent CONNECT tunnels (the
C{tunnels} phase).  Every run is bounded by the measure's own timeout.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from .integration._subprocess import Child, startProxy
from .test_benchpublish import ROOT, harness


def scale() -> ModuleType:
    """
    C{bench/harness/scale.py}, imported as C{bench/run.py} imports it.
    """
    return harness("scale")


class IdleTests(SynchronousTestCase):
    """
    L{hold_idle} opens keep-alive connections through the proxy, leaves
    them idle, reads the proxy's memory and checks that each is still
    served.
    """

    def proxy(self, cap: int) -> tuple[Child, int]:
        config = Path(self.mktemp()).resolve()
        config.write_text(f"[limits]\nmax_client_connections = {cap}\n")
        child, port = startProxy("--config", str(config), "--idle-timeout", "600")
        self.addCleanup(child.stop)
        return child, port

    def hold(self, port: int, pid: int, count: int) -> object:
        async def run() -> object:
            server = await asyncio.start_server(scale().small_origin, "127.0.0.1", 0)
            try:
                originPort = server.sockets[0].getsockname()[1]
                request = (
                    f"GET http://127.0.0.1:{originPort}/small HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{originPort}\r\n\r\n"
                ).encode()
                return await scale().hold_idle(port, request, pid, count, batch=8, timeout=30)
            finally:
                server.close()

        return asyncio.run(run())

    def test_held(self) -> None:
        """
        Twenty connections are opened and held; the proxy's memory is read
        before and after, and the growth per connection is reported.
        """
        child, port = self.proxy(scale().proxy_cap(20))
        result = self.hold(port, child.process.pid, 20)
        row = result.as_dict()  # type: ignore[attr-defined]
        self.assertEqual(row["error"], "")
        self.assertEqual((row["connections"], row["opened"], row["held"]), (20, 20, 20))
        self.assertGreater(row["rss_before_kib"], 0)
        self.assertGreaterEqual(row["rss_after_kib"], row["rss_before_kib"] - 1024)
        self.assertIsNotNone(row["kib_per_connection"])
        self.assertTrue(result.complete)  # type: ignore[attr-defined]

    def test_closedNotHeld(self) -> None:
        """
        A proxy that closes idle connections to admit new ones (its cap is
        below the count) fails the check: the connections it closed do not
        answer the second request and are not counted as held.
        """
        child, port = self.proxy(10)
        result = self.hold(port, child.process.pid, 20)
        row = result.as_dict()  # type: ignore[attr-defined]
        self.assertEqual(row["opened"], 20)
        self.assertLess(row["held"], 20)
        self.assertIn("closed before the second request", row["error"])
        self.assertFalse(result.complete)  # type: ignore[attr-defined]

    def test_script(self) -> None:
        """
        C{bench/idle_connections.py --connections 20} runs the same measure
        against C{twistd proxykit forward} of its own interpreter's
        environment and prints the cost per connection.
        """
        twistd = Path(sys.executable).parent / "twistd"
        if not twistd.exists():
            raise SkipTest(f"no {twistd}: run from the project's virtual environment")
        directory = Path(self.mktemp())
        directory.mkdir()
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "idle_connections.py"), "--connections", "20", "--timeout", "60"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=directory,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(
            done.stdout,
            r"^20 idle keep-alive connections: proxy RSS \d+ KiB -> \d+ KiB, -?\d+\.\d\d KiB per connection\n$",
        )


class TunnelsTests(SynchronousTestCase):
    """
    L{run_tunnels} opens CONNECT tunnels through the proxy to an echo
    origin and has every one echo its bytes at once.
    """

    def tunnels(self, count: int, nbytes: int, allowed: bool = True) -> dict[str, object]:
        module = scale()
        listener = module.echo_listener()
        self.addCleanup(listener.close)
        options = ["--connect-port", str(listener.getsockname()[1])] if allowed else []
        child, port = startProxy(*options)
        self.addCleanup(child.stop)
        result = asyncio.run(
            module.run_tunnels(port, listener, child.process.pid, count, nbytes, batch=4, timeout=30)
        )
        row: dict[str, object] = result.as_dict()
        return row

    def test_tunnels(self) -> None:
        """
        Ten tunnels each echo 256 KiB intact; each one's time, first byte
        and throughput are summarised, with the slowest tunnel's time over
        the median's.
        """
        row = self.tunnels(10, 256 * 1024)
        self.assertEqual(row["errors"], [])
        self.assertEqual((row["tunnels"], row["opened"], row["completed"]), (10, 10, 10))
        self.assertEqual(row["bytes_each"], 256 * 1024)
        times = row["time_s"]
        assert isinstance(times, dict)
        self.assertLessEqual(times["min"], times["median"])
        self.assertLessEqual(times["median"], times["max"])
        self.assertGreaterEqual(row["stall_ratio"], 1.0)  # type: ignore[operator]
        self.assertGreater(row["aggregate_mb_per_s"], 0)  # type: ignore[operator]

    def test_refused(self) -> None:
        """
        A proxy that refuses the CONNECT (the origin's port not allowed)
        opens no tunnel; the answer is reported.
        """
        row = self.tunnels(3, 1024, allowed=False)
        self.assertEqual((row["opened"], row["completed"]), (0, 0))
        errors = row["errors"]
        assert isinstance(errors, list)
        self.assertEqual(len(errors), 1)
        self.assertIn("CONNECT answered b'HTTP/1.1 403", errors[0])


class PatternTests(SynchronousTestCase):
    """
    Each tunnel sends its own bytes, so bytes crossing between tunnels are
    noticed.
    """

    def test_offsets(self) -> None:
        """
        Neighbouring tunnels' bytes differ at every offset.
        """
        base = scale().pattern(4096)
        first, second = base[0:][:4096], base[1:][:4096]
        self.assertEqual(len(first), 4096)
        self.assertEqual(len(second), 4096)
        self.assertTrue(all(a != b for a, b in zip(first, second, strict=True)))


class FileLimitTests(SynchronousTestCase):
    """
    The phases need a descriptor per connection (two per tunnel) in the
    harness: L{raise_file_limit} raises the soft limit or says why not.
    """

    def test_needs(self) -> None:
        """
        10,000 idle connections need 10,064 descriptors; 1,000 tunnels
        2,064 (the client's socket and the echo origin's).
        """
        module = scale()
        self.assertEqual(module.descriptors_for_idle(10_000), 10_064)
        self.assertEqual(module.descriptors_for_tunnels(1000), 2064)

    def test_tooMany(self) -> None:
        """
        More than the hard limit is refused with the limit named.
        """
        import resource

        module = scale()
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY:
            raise SkipTest("no hard limit on open files here")
        error = self.assertRaises(module.ScaleError, module.raise_file_limit, hard + 1)
        self.assertEqual(
            str(error), f"needs {hard + 1} open files, the hard limit (ulimit -Hn) is {hard}"
        )


class RunOptionsTests(SynchronousTestCase):
    """
    C{bench/run.py}'s options for the scale phases.
    """

    def test_options(self) -> None:
        """
        The phases default to 10,000 idle connections and 1,000 tunnels of
        1 MiB, and may be sized or skipped.
        """
        from .test_benchpage import benchScript

        run = benchScript("run")
        args = run.parse_args([])
        self.assertEqual((args.idle_connections, args.tunnels, args.tunnels_kib), (10_000, 1000, 1024))
        args = run.parse_args(
            ["--idle-connections", "20", "--tunnels", "10", "--tunnels-kib", "64", "--skip", "idle", "--skip", "tunnels"]
        )
        self.assertEqual((args.idle_connections, args.tunnels, args.tunnels_kib), (20, 10, 64))
        self.assertEqual(args.skip, ["idle", "tunnels"])


class DocumentedCommandsTests(SynchronousTestCase):
    """
    The commands C{bench/README.md} and C{docs/performance.md} give for
    the benchmark parse as written (the benchmark itself is not run: it
    installs packages and needs a quiet machine; L{IdleTests.test_script}
    runs C{bench/idle_connections.py}).
    """

    SCALE = "python3 bench/run.py --mode forward --proxies proxykit --skip http --skip tunnel --skip slow"

    def commands(self, path: Path) -> list[list[str]]:
        """
        The words of each C{python3 bench/run.py} line of a code block of
        C{path}, without its comment.
        """
        import shlex

        found = []
        for line in path.read_text().splitlines():
            # The lines of code blocks.
            if line.startswith("python3 bench/run.py"):
                found.append(shlex.split(line.split("#")[0]))
        return found

    def test_parse(self) -> None:
        """
        Every C{python3 bench/run.py} command of the two files is accepted
        by its parser; the scale phases' command is in both and runs only
        them.
        """
        from .test_benchpage import benchScript

        run = benchScript("run")
        for path in (ROOT / "bench" / "README.md", ROOT / "docs" / "performance.md"):
            found = self.commands(path)
            self.assertIn(self.SCALE.split(), found, path)
            for words in found:
                run.parse_args(words[2:])
        args = run.parse_args(self.SCALE.split()[2:])
        self.assertEqual((args.modes, args.proxy_list), (["forward"], ["proxykit"]))
        self.assertEqual(sorted(args.skip), ["http", "slow", "tunnel"])
