"""The platform's own forward proxy, as a benchmark peer for bench/run.py.

Runs ``twisted.web.proxy.Proxy`` behind a plain ``twisted.web.http.HTTPFactory``
exactly as the class's docstring recommends, listening on 127.0.0.1 only.

Two things are switched off so that the peer pays no logging cost that the
other peers (nginx ``access_log off``, proxy.py ``--log-level WARNING``,
tinyproxy ``LogLevel Critical``) do not pay either:

* the factory's per-request access log (``HTTPFactory.log`` is a no-op);
* the "Starting factory"/"Stopping factory" lines that every upstream
  ``ProxyClientFactory`` would log (``noisy = False``).

Usage: python twisted_web_proxy.py PORT
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.web import http, proxy


class QuietHTTPFactory(http.HTTPFactory):
    """An HTTPFactory that serves twisted.web.proxy.Proxy and keeps no log."""

    protocol = proxy.Proxy

    def log(self, request: http.Request) -> None:
        """Skip the access log line."""


def main(argv: list[str]) -> None:
    port = int(argv[1])
    proxy.ProxyClientFactory.noisy = False
    reactor.listenTCP(  # type: ignore[attr-defined]
        port, QuietHTTPFactory(), backlog=1024, interface="127.0.0.1"
    )
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv)
