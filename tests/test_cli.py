"""
Tests for L{proxykit.cli}: C{proxykit check FILE}.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from proxykit.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


class CheckTests(SynchronousTestCase):
    """
    C{proxykit check} reports every problem of a bad file with its line and
    key (status 1), or what a good one resolves to (status 0).
    """

    def run_(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        status = main(list(argv), out, err)
        return status, out.getvalue(), err.getvalue()

    def write(self, text: str) -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_reverseExample(self) -> None:
        status, out, err = self.run_("check", os.path.join(EXAMPLES, "reverse.toml"))
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertTrue(lines[0].endswith("reverse.toml: ok (reverse mode)"))
        self.assertIn("  tcp:8000:interface=127.0.0.1", lines)
        self.assertIn("vhost app.example.test, *.app.example.test (default):", lines)
        self.assertIn("    http://127.0.0.1:9002 weight 2", lines)

    def test_proxyProtocol(self) -> None:
        """
        An origin spoken to with the PROXY protocol says so, with its
        version (the origin's own setting, else its route's).
        """
        status, out, err = self.run_("check", os.path.join(EXAMPLES, "haproxy", "proxykit-a.toml"))
        self.assertEqual((status, err), (0, ""))
        self.assertIn("    http://127.0.0.1:9001 weight 1  PROXY protocol v2", out.splitlines())

    def test_forwardExample(self) -> None:
        status, out, err = self.run_("check", os.path.join(EXAMPLES, "forward.toml"))
        self.assertEqual((status, err), (0, ""))
        self.assertIn("(forward mode)", out)
        self.assertIn("  CONNECT ports: 443", out.splitlines())

    def test_everyProblem(self) -> None:
        """
        Each bad value is reported, with its line and key.
        """
        path = self.write(
            'listen = ["tcp:8000:interface=127.0.0.1"]\n'
            "[timeouts]\nconnect = -1\n"
            '[[reverse.vhost]]\nhosts = ["a.test"]\n'
            '  [[reverse.vhost.route]]\n  origins = ["ftp://x"]\n  balance = "random-ish"\n'
        )
        status, out, err = self.run_("check", path)
        self.assertEqual((status, out), (1, ""))
        self.assertEqual(
            [line.split(": ")[0:2] for line in err.splitlines()],
            [
                [f"{path}:3", "timeouts.connect"],
                [f"{path}:7", "reverse.vhost[0].route[0].origins[0]"],
                [f"{path}:8", "reverse.vhost[0].route[0].balance"],
            ],
        )

    def test_unreadable(self) -> None:
        status, out, err = self.run_("check", os.path.join(self.mktemp(), "none.toml"))
        self.assertEqual(status, 1)
        self.assertIn("cannot read", err)

    def test_badAuthFile(self) -> None:
        """
        A password file that twistd would refuse is refused here.
        """
        htpasswd = self.write("user:plaintext\n")
        path = self.write(f'[forward]\nauth_file = "{htpasswd}"\n')
        status, out, err = self.run_("check", path)
        self.assertEqual(status, 1)
        self.assertIn("forward.auth_file", err)

    def test_missingAuthFile(self) -> None:
        """
        A password file that does not exist is one error with the file, the
        line and the key, as twistd says it at start.
        """
        missing = os.path.abspath(self.mktemp())
        path = self.write(f'\n[forward]\nauth_file = "{missing}"\n')
        status, out, err = self.run_("check", path)
        self.assertEqual(
            (status, out, err),
            (1, "", f"{path}:3: forward.auth_file: {missing}: No such file or directory\n"),
        )

    def test_workers(self) -> None:
        """
        With workers, C{check} says how many; a listener that workers cannot
        share (not C{tcp:} or C{tcp6:}) is an error naming it, as at start.
        """
        path = self.write('workers = 3\nlisten = ["tcp:8000:interface=127.0.0.1"]\n')
        status, out, err = self.run_("check", path)
        self.assertEqual(status, 0, err)
        self.assertIn("workers: 3 (a supervisor binds the listeners)\n", out)
        path = self.write('workers = 2\nlisten = ["unix:/tmp/proxykit-check.sock"]\n')
        status, out, err = self.run_("check", path)
        self.assertEqual(status, 1)
        self.assertEqual(
            err,
            f"{path}: workers: cannot listen on unix:/tmp/proxykit-check.sock:"
            " only tcp: and tcp6: listeners can be shared by worker processes\n",
        )

    def test_admin(self) -> None:
        """
        The admin listener is listed with the listeners, bound to 127.0.0.1
        when its C{tcp:} endpoint names no interface; a bare port is an
        error naming the key.
        """
        path = self.write('[admin]\nlisten = "tcp:9901"\n')
        status, out, err = self.run_("check", path)
        self.assertEqual(status, 0, err)
        self.assertIn(
            "  tcp:9901:interface=127.0.0.1 (admin: /metrics, /healthz, /readyz, /status)\n", out
        )
        path = self.write('[admin]\nlisten = "9901"\n')
        status, out, err = self.run_("check", path)
        self.assertEqual(status, 1)
        self.assertIn(":2: admin.listen: '9901' is a port number", err)

    def test_reverseModeNeedsVhosts(self) -> None:
        path = self.write('listen = ["tcp:8000:interface=127.0.0.1"]\n')
        status, out, err = self.run_("check", "--mode", "reverse", path)
        self.assertEqual(status, 1)
        self.assertIn("at least one [[reverse.vhost]]", err)


class LogFileTests(SynchronousTestCase):
    """
    C{proxykit check} checks the access log files like the other files it
    names, without creating them (like C{nginx -t}, but leaving no file).
    """

    def check(self, access: str) -> tuple[int, str, str]:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(f'listen = ["tcp:8080"]\n\n[log]\naccess = "{access}"\n\n[[log.listener]]\nlisten = "tcp:8080"\naccess = "{access}"\n')
        out, err = io.StringIO(), io.StringIO()
        status = main(["check", path], out, err)
        return status, out.getvalue(), err.getvalue()

    def test_notCreated(self) -> None:
        """
        A log file that can be created is not created by the check.
        """
        directory = os.path.abspath(self.mktemp())
        os.mkdir(directory)
        access = os.path.join(directory, "access.log")
        status, out, err = self.check(access)
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(os.listdir(directory), [])

    def test_noDirectory(self) -> None:
        """
        A log file in a directory that does not exist is an error naming
        its key, for the global log and a listener's.
        """
        access = os.path.join(os.path.abspath(self.mktemp()), "access.log")
        status, out, err = self.check(access)
        self.assertEqual(status, 1)
        self.assertIn(":4: log.access: " + access + ": no directory", err)
        self.assertIn(":8: log.listener[0].access: " + access + ": no directory", err)

    def test_withPasswordFile(self) -> None:
        """
        A password file and an access log that both cannot be used are two
        errors, each with its file, line and key.
        """
        missing = os.path.abspath(self.mktemp())
        access = os.path.join(os.path.abspath(self.mktemp()), "access.log")
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(f'[forward]\nauth_file = "{missing}"\n\n[log]\naccess = "{access}"\n')
        out, err = io.StringIO(), io.StringIO()
        self.assertEqual(main(["check", path], out, err), 1)
        self.assertEqual(
            err.getvalue().splitlines(),
            [
                f"{path}:2: forward.auth_file: {missing}: No such file or directory",
                f"{path}:5: log.access: {access}: no directory {os.path.dirname(access)}",
            ],
        )

    def test_directory(self) -> None:
        """
        A log "file" that is a directory is an error.
        """
        directory = os.path.abspath(self.mktemp())
        os.mkdir(directory)
        status, out, err = self.check(directory)
        self.assertEqual(status, 1)
        self.assertIn(f"log.access: {directory}: is a directory", err)


class ScriptTests(SynchronousTestCase):
    """
    The C{proxykit} console script is installed with the package.
    """

    def test_script(self) -> None:
        script = os.path.join(os.path.dirname(sys.executable), "proxykit")
        if not os.path.exists(script):
            self.fail(f"no console script at {script}: is proxykit installed in this venv?")
        done = subprocess.run(
            [script, "check", os.path.join(EXAMPLES, "forward.toml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("ok (forward mode)", done.stdout)
        done = subprocess.run([script, "check"], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 2)

    def test_readerGone(self) -> None:
        """
        When the reader of its output has gone away (C{proxykit check FILE |
        head -1}), the command stops with status 1 and no traceback.
        """
        script = os.path.join(os.path.dirname(sys.executable), "proxykit")
        if not os.path.exists(script):
            self.fail(f"no console script at {script}: is proxykit installed in this venv?")
        child = subprocess.Popen(
            [script, "check", os.path.join(EXAMPLES, "reverse.toml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Gone before the command writes: its first write fails (EPIPE).
        assert child.stdout is not None
        child.stdout.close()
        _, err = child.communicate(timeout=60)
        self.assertEqual((child.returncode, err), (1, b""))


class VersionTests(SynchronousTestCase):
    """
    C{proxykit --version}.
    """

    def test_version(self) -> None:
        """
        C{proxykit --version} prints what C{twistd proxykit --version}
        prints (the version and build, Twisted's and Python's) and exits
        with status 0.
        """
        from proxykit.tap import versionText

        out = io.StringIO()
        self.patch(sys, "stdout", out)
        with self.assertRaises(SystemExit) as exited:
            main(["--version"])
        self.assertEqual(exited.exception.code, 0)
        self.assertEqual(out.getvalue(), versionText() + "\n")
