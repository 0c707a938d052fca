"""
Request ids through a real C{twistd proxykit} process, with curl as the
client: the origin (an echoing web server on 127.0.0.1) sees one
C{X-Request-Id}, the access log's line has it, and an error the proxy
answers shows it in its body, its head and its log line.  The command and
the configuration of C{docs/operations.rst} ("Request ids") run as
written.

Every wait is bounded (the child's lines, L{waitForLines}); every command
has a time limit.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from .._snippets import snippets
from ._servers import Harness, headLines
from ._subprocess import ROOT, Child, run, startTwistd
from .test_accesslog import CURL_TIMEOUT, curl, waitForLines

HEX32 = re.compile(r"[0-9a-f]{32}\Z")


def block(title: str, language: str) -> str:
    """
    The first block in C{language} of the subsection C{title} of
    docs/operations.rst, as the reader sees it.
    """
    page = Path(ROOT) / "docs" / "operations.rst"
    found = [s for s in snippets(page) if s.language == language and title in s.sections]
    assert found, (title, language)
    return found[0].text


def idsIn(echo: dict[str, Any]) -> list[str]:
    """
    The C{X-Request-Id} values the echoing origin received.
    """
    return [value for name, value in headLines(echo) if name.lower() == "x-request-id"]


class RequestIdTests(TestCase):
    """
    C{[log] request_id} of C{twistd proxykit}.
    """

    timeout = 120

    def proxy(self, *arguments: str) -> tuple[Child, int]:
        child, port = startTwistd(*arguments)
        self.addCleanup(child.stop)
        child.waitForLine(r"proxykit started: listening on")
        return child, port

    @inlineCallbacks
    def test_forward(self) -> Any:
        """
        Through a forward proxy, curl's id reaches the origin once and is in
        the access log; a request without one gets a new one, the same at
        the origin and in the log.
        """
        site = Harness(self, reactor).startSite()
        origin = site.port

        def check() -> None:
            path = os.path.abspath(self.mktemp())
            child, port = self.proxy(
                "forward", "--listen", "tcp:0:interface=127.0.0.1",
                "--access-log", path, "--access-log-format", "json",
            )  # fmt: skip
            proxy = f"http://127.0.0.1:{port}"
            url = f"http://127.0.0.1:{origin}/echo"
            echo = json.loads(curl("-x", proxy, "-H", "X-Request-Id: curl-check-1", url))
            self.assertEqual(idsIn(echo), ["curl-check-1"])
            echo = json.loads(curl("-x", proxy, url))
            [generated] = idsIn(echo)
            self.assertRegex(generated, HEX32)
            echo = json.loads(curl("-x", proxy, "-H", "X-Request-Id: not ok", url))
            [replaced] = idsIn(echo)
            self.assertRegex(replaced, HEX32)
            lines = waitForLines(path, 3)
            self.assertEqual(
                [line["request_id"] for line in lines], ["curl-check-1", generated, replaced]
            )

        yield deferToThread(check)

    @inlineCallbacks
    def test_reverseTrusted(self) -> Any:
        """
        The configuration of the operations guide: in C{trusted} mode a
        client that is not a trusted proxy cannot choose the id the origin
        and the access log see.
        """
        site = Harness(self, reactor).startSite()
        origin = site.port
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        config = block("Request ids", "toml").replace(
            '"access.log"', json.dumps(os.path.join(workdir, "access.log"))
        )
        self.assertIn('request_id = "trusted"', config)
        config += (
            "\n[[reverse.vhost]]\nhosts = [\"app.example.test\"]\n"
            f"[[reverse.vhost.route]]\nprefix = \"/\"\norigins = [\"http://127.0.0.1:{origin}\"]\n"
        )
        configPath = os.path.join(workdir, "proxy.toml")
        Path(configPath).write_text(config)

        def check() -> None:
            child, port = self.proxy(
                "reverse", "--config", configPath, "--listen", "tcp:0:interface=127.0.0.1"
            )
            echo = json.loads(
                curl(
                    "-H", "Host: app.example.test", "-H", "X-Request-Id: chosen-by-client",
                    f"http://127.0.0.1:{port}/echo",
                )
            )  # fmt: skip
            [sent] = idsIn(echo)
            self.assertRegex(sent, HEX32)
            [line] = waitForLines(os.path.join(workdir, "access.log"), 1)
            self.assertEqual(line["request_id"], sent)

        yield deferToThread(check)

    @inlineCallbacks
    def test_errorResponse(self) -> Any:
        """
        The operations guide's curl command (with the test proxy's port, and
        a port known to be closed for its port 9): a 502 shows the client's
        id in its head and body, and the proxy's log line names it with the
        client, method and target.
        """
        closed = yield Harness(self, reactor).closedPort()
        command = block("Request ids", "sh").strip()
        self.assertIn("http://127.0.0.1:8080", command)

        def check() -> None:
            child, port = self.proxy("forward", "--listen", "tcp:0:interface=127.0.0.1")
            argv = shlex.split(
                command.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace(
                    "http://127.0.0.1:9/", f"http://127.0.0.1:{closed}/"
                )
            )
            self.assertEqual(argv[0], "curl")
            result = run([argv[0], "--max-time", "20", *argv[1:]], os.getcwd(), CURL_TIMEOUT)
            self.assertEqual(result.returncode, 0, result.stdout)
            head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
            self.assertTrue(head.startswith("HTTP/1.1 502 Bad Gateway\n"), head)
            self.assertIn("\nX-Request-Id: ticket-1234", head)
            self.assertEqual(body, "502 Bad Gateway\nrequest id: ticket-1234\n")
            child.waitForLine(
                rf"127\.0\.0\.1:\d+ GET http://127\.0\.0\.1:{closed}/ \[ticket-1234\]: "
                "origin connection failed: origin refused the connection"
            )

        yield deferToThread(check)

    def test_docsOutput(self) -> None:
        """
        The response the guide shows has its length counted right.
        """
        text = block("Request ids", "text")
        head, _, body = text.partition("\n\n")
        length = re.search(r"Content-Length: (\d+)", head)
        assert length is not None
        self.assertEqual(int(length.group(1)), len(body.encode()))
