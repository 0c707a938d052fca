"""
C{examples/web_site.py}, run as its docstring says: Python's C{http.server}
as the origin, the example as a subprocess, curl as the client.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ._servers import runProcess
from ._subprocess import ROOT, Child, startChild


def startOriginAndSite() -> tuple[Child, Child, int]:
    """
    Start C{python3 -m http.server PORT --bind 127.0.0.1} (serving the
    checkout) and C{examples/web_site.py PORT ORIGINPORT}, each on a free
    port; return both and the site's port.
    """
    origin, [served] = startChild(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
        r"Serving HTTP on \S+ port (\d+)",
    )
    try:
        site, [listening] = startChild(
            [sys.executable, os.path.join("examples", "web_site.py"), "0", served.group(1)],
            r"listening on 127\.0\.0\.1:(\d+)",
        )
    except BaseException:
        origin.stop()
        raise
    return origin, site, int(listening.group(1))


class WebSiteExampleTests(TestCase):
    """
    The example serves its own pages and relays C{/api/} to the origin.
    """

    timeout = 60

    @inlineCallbacks
    def test_ordinaryAndProxiedPages(self) -> Any:
        """
        C{/hello} is the site's own page; C{/api/README.md} is the origin's
        C{/README.md}, relayed; a query string goes along.
        """
        origin, site, port = yield deferToThread(startOriginAndSite)
        self.addCleanup(origin.stop)
        self.addCleanup(site.stop)
        curl = ["-sS", "--max-time", "20"]
        out, err, code = yield runProcess(reactor, "curl", [*curl, f"http://127.0.0.1:{port}/hello"])
        self.assertEqual((code, out), (0, b"Hello from twisted.web.\n"), err)
        with open(os.path.join(ROOT, "README.md"), "rb") as f:
            readme = f.read()
        out, err, code = yield runProcess(
            reactor, "curl", [*curl, f"http://127.0.0.1:{port}/api/README.md?x=1"]
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(out, readme)
        out, err, code = yield runProcess(
            reactor, "curl", [*curl, "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{port}/api/no-such-file"]
        )
        self.assertEqual((code, out), (0, b"404"), err)
