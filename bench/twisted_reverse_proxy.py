"""The platform's own reverse proxy, as a benchmark peer for bench/run.py.

Serves ``twisted.web.proxy.ReverseProxyResource`` as the root resource of a
``twisted.web.server.Site`` on 127.0.0.1, relaying every path to the origin.
As in bench/twisted_web_proxy.py, nothing is logged per request: the Site's
access log is off (``log`` is a no-op) and the per-request upstream
``ProxyClientFactory`` does not log "Starting factory"/"Stopping factory"
(``noisy = False``).

ReverseProxyResource opens a new origin connection for every request (it
speaks HTTP/1.0 with ``Connection: close`` to the origin); that is its design,
not a setting of this script.

Usage: python twisted_reverse_proxy.py PORT ORIGINPORT [CERT KEY]

With CERT and KEY (PEM files) it listens over TLS (``reactor.listenSSL``
with ``DefaultOpenSSLContextFactory``), for bench/run.py's tls mode.
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.web import http, proxy, server


class QuietSite(server.Site):
    """A Site that keeps no access log."""

    def log(self, request: http.Request) -> None:
        """Skip the access log line."""


def main(argv: list[str]) -> None:
    port, origin_port = int(argv[1]), int(argv[2])
    proxy.ProxyClientFactory.noisy = False
    root = proxy.ReverseProxyResource("127.0.0.1", origin_port, b"")
    if len(argv) >= 5:
        from twisted.internet import ssl

        context = ssl.DefaultOpenSSLContextFactory(argv[4], argv[3])
        reactor.listenSSL(  # type: ignore[attr-defined]
            port, QuietSite(root), context, backlog=1024, interface="127.0.0.1"
        )
    else:
        reactor.listenTCP(  # type: ignore[attr-defined]
            port, QuietSite(root), backlog=1024, interface="127.0.0.1"
        )
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv)
