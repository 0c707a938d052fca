"""
C{timeouts.drain_delay} on a real C{twistd proxykit}: after C{SIGTERM},
C{/readyz} answers 503 while the listener still serves, and a second
C{SIGTERM} ends the wait at once (the process then drains and exits 0).
"""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.request
from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from ._subprocess import STOP_TIMEOUT, TWISTD, Child, startChild

CONFIG = """\
listen = ["tcp:0:interface=127.0.0.1"]

[admin]
listen = "tcp:0:interface=127.0.0.1"

[timeouts]
drain_delay = 60

[[reverse.vhost]]
hosts = ["app.example.test"]
route = [{ prefix = "/", origins = ["http://127.0.0.1:9"] }]
"""


def status(port: int, path: str, host: str = "127.0.0.1") -> int:
    """
    The status of C{GET path} on 127.0.0.1:C{port} with C{Host: host}.
    """
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


class DrainDelayTests(TestCase):
    """
    A reverse proxy with C{drain_delay = 60}, stopped with C{SIGTERM}.
    """

    timeout = 60

    def run_(self, path: str) -> dict[str, Any]:
        child, [proxy, admin] = startChild(
            [*TWISTD, "-n", "--pidfile=", "proxykit", "reverse", "--config", path],
            r"ProxyFactory starting on (\d+)",
            r"_AdminSite starting on (\d+)",
        )
        self.addCleanup(child.stop)
        proxyPort, adminPort = int(proxy.group(1)), int(admin.group(1))
        seen: dict[str, Any] = {"before": status(adminPort, "/readyz")}
        child.process.send_signal(signal.SIGTERM)
        child.waitForLine(r"not ready: still accepting for 60 s")
        seen["readyz"] = status(adminPort, "/readyz")
        # The listener still serves: an unknown host gets its 421.
        seen["served"] = status(proxyPort, "/", "other.test")
        child.process.send_signal(signal.SIGTERM)
        child.waitForLine(r"drain delay over \(second signal\): closing the listeners")
        seen["code"] = child.process.wait(STOP_TIMEOUT)
        seen["child"] = child
        return seen

    @inlineCallbacks
    def test_notReadyThenDrain(self) -> Any:
        """
        From C{SIGTERM} on, C{/readyz} says 503 and the proxy goes on
        serving; a second C{SIGTERM} ends the delay, and the process exits
        0 without waiting out its 60 seconds.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        path = os.path.join(directory, "reverse.toml")
        with open(path, "w") as f:
            f.write(CONFIG)
        seen = yield deferToThread(self.run_, path)
        child: Child = seen["child"]
        self.assertEqual(
            (seen["before"], seen["readyz"], seen["served"], seen["code"]),
            (200, 503, 421, 0),
            child.output(),
        )
