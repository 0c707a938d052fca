"""
The access log of a real C{twistd proxykit} process, with curl as the
client: one line per request (forward, CONNECT tunnel, reverse), on
standard output with C{--access-log -}, and a new file after C{mv} and
C{kill -USR1}.

Every wait is a bounded poll (L{waitForLines}); every command has a time
limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ._subprocess import ChildrenMixin, run
from .test_lifecycle import waitFor

CURL_TIMEOUT = 30.0


def curl(*args: str) -> str:
    """
    Run curl with C{args}; its output (the body, or what C{-w} writes).
    """
    result = run(["curl", "-sS", "--max-time", "20", *args], os.getcwd(), CURL_TIMEOUT)
    assert result.returncode == 0, result.stdout
    return result.stdout


def readLines(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


def waitForLines(path: str, count: int) -> list[dict[str, Any]]:
    """
    Wait (bounded) until the JSON access log at C{path} has C{count} lines.
    """
    waitFor(lambda: len(readLines(path)) >= count, f"{count} lines in {path}")
    return [json.loads(line) for line in readLines(path)]


class AccessLogTests(ChildrenMixin, TestCase):
    """
    C{--access-log} and C{--access-log-format} of C{twistd proxykit}.
    """

    timeout = 120

    def test_forwardAndTunnel(self) -> Deferred[None]:
        """
        A forward request and a CONNECT tunnel each give one JSON line with
        the right fields; nothing of them is in the main log.
        """

        def check() -> None:
            origin = self.origin()
            path = os.path.abspath(self.mktemp())
            child, port = self.proxy(
                "forward", "--listen", "tcp:0:interface=127.0.0.1",
                "--connect-port", str(origin),
                "--access-log", path, "--access-log-format", "json",
            )  # fmt: skip
            proxy = f"http://127.0.0.1:{port}"
            url = f"http://127.0.0.1:{origin}/small"
            self.assertEqual(curl("-x", proxy, "-A", "agent/1", url), "small")
            [line] = waitForLines(path, 1)
            self.assertEqual(
                {k: line[k] for k in ("client_addr", "listener", "mode", "method", "target",
                                      "protocol", "status", "bytes_sent", "origin_addr",
                                      "outcome", "http_user_agent", "tunnel")},
                {
                    "client_addr": "127.0.0.1",
                    "listener": f"127.0.0.1:{port}",
                    "mode": "forward",
                    "method": "GET",
                    "target": url,
                    "protocol": "HTTP/1.1",
                    "status": 200,
                    "bytes_sent": 5,
                    "origin_addr": f"127.0.0.1:{origin}",
                    "outcome": "responded",
                    "http_user_agent": "agent/1",
                    "tunnel": None,
                },
            )  # fmt: skip
            self.assertGreater(line["client_port"], 0)
            self.assertGreaterEqual(line["request_time"], line["first_byte_time"])
            self.assertEqual(curl("-p", "-x", proxy, url), "small")
            lines = waitForLines(path, 2)
            self.assertEqual(len(lines), 2)
            tunnel = lines[1]
            self.assertEqual(
                (tunnel["method"], tunnel["target"], tunnel["status"], tunnel["tunnel"]),
                ("CONNECT", f"127.0.0.1:{origin}", 200, "connect"),
            )
            self.assertGreater(tunnel["bytes_received"], 0)
            self.assertGreater(tunnel["bytes_sent"], 0)
            self.assertIsNotNone(tunnel["tunnel_time"])
            self.assertNotIn("/small", child.output())

        return deferToThread(check)

    def test_reverse(self) -> Deferred[None]:
        """
        A reverse request's line names its virtual host and route.
        """

        def check() -> None:
            origin = self.origin()
            path = os.path.abspath(self.mktemp())
            child, port = self.proxy(
                "reverse", "--listen", "tcp:0:interface=127.0.0.1",
                "--route", f"app.example.test=http://127.0.0.1:{origin}",
                "--access-log", path, "--access-log-format", "json",
            )  # fmt: skip
            body = curl("-H", "Host: app.example.test", f"http://127.0.0.1:{port}/small")
            self.assertEqual(body, "small")
            [line] = waitForLines(path, 1)
            self.assertEqual(
                (line["mode"], line["vhost"], line["route"], line["target"], line["status"]),
                ("reverse", "app.example.test", "/", "/small", 200),
            )

        return deferToThread(check)

    def test_perListener(self) -> Deferred[None]:
        """
        A listener's own log (C{[[log.listener]]}) gets the requests that
        came through it; the global log gets the others.
        """

        def check() -> None:
            origin = self.origin()
            directory = os.path.abspath(self.mktemp())
            os.makedirs(directory)
            # A UNIX socket's path has a short limit: not under the test's
            # long temporary directory.
            sockets = tempfile.mkdtemp(prefix="pk")
            self.addCleanup(shutil.rmtree, sockets, True)
            socket = os.path.join(sockets, "proxy.sock")
            everyone = os.path.join(directory, "access.log")
            own = os.path.join(directory, "socket.log")
            config = os.path.join(directory, "proxy.toml")
            with open(config, "w") as f:
                f.write(
                    f'listen = ["tcp:0:interface=127.0.0.1", "unix:{socket}"]\n'
                    f'[forward]\nconnect_ports = [{origin}]\nallow_private_destinations = true\n'
                    f'[log]\naccess = "{everyone}"\nformat = "$target"\n'
                    f'[[log.listener]]\nlisten = "unix:{socket}"\naccess = "{own}"\n'
                    'format = "$listener $target"\n'
                )
            child, port = self.proxy("forward", "--config", config)
            url = f"http://127.0.0.1:{origin}/small"
            self.assertEqual(curl("-x", f"http://127.0.0.1:{port}", url), "small")
            waitFor(lambda: readLines(everyone), "a line in the global log")
            self.assertEqual(curl("--unix-socket", socket, "--request-target", url, url), "small")
            waitFor(lambda: readLines(own), "a line in the listener's log")
            self.assertEqual(readLines(everyone), [url])
            # The $listener field is the local address: none on a UNIX socket.
            self.assertEqual(readLines(own), [f"- {url}"])

        return deferToThread(check)

    def test_stdout(self) -> Deferred[None]:
        """
        C{--access-log -} writes the lines, in the format asked for, to
        standard output, as lines of their own.
        """

        def check() -> None:
            origin = self.origin()
            child, port = self.proxy(
                "forward", "--listen", "tcp:0:interface=127.0.0.1",
                "--access-log", "-", "--access-log-format", "ACCESS $method $target $status",
            )  # fmt: skip
            url = f"http://127.0.0.1:{origin}/small"
            curl("-x", f"http://127.0.0.1:{port}", url)
            child.waitForLine(rf"^ACCESS GET {url} 200$")

        return deferToThread(check)

    def test_rotate(self) -> Deferred[None]:
        """
        After the file is renamed (as logrotate does) and C{SIGUSR1} is
        sent, the next line goes to a new file by the old name; the old file
        kept its lines.
        """

        def check() -> None:
            origin = self.origin()
            path = os.path.abspath(self.mktemp())
            child, port = self.proxy(
                "forward", "--listen", "tcp:0:interface=127.0.0.1",
                "--access-log", path, "--access-log-format", "$target",
            )  # fmt: skip
            proxy = f"http://127.0.0.1:{port}"
            base = f"http://127.0.0.1:{origin}/small"
            curl("-x", proxy, base + "?1")
            waitFor(lambda: len(readLines(path)) == 1, "the first line")
            os.rename(path, path + ".1")
            os.kill(child.pid, signal.SIGUSR1)
            child.waitForLine(r"reopened the access log")
            curl("-x", proxy, base + "?2")
            waitFor(lambda: len(readLines(path)) == 1, "a line in the new file")
            self.assertEqual(readLines(path + ".1"), [base + "?1"])
            self.assertEqual(readLines(path), [base + "?2"])
            self.assertIsNone(child.process.poll())

        return deferToThread(check)
