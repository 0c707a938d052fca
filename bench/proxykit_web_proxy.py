"""proxykit's twisted.web resource, as a benchmark peer for bench/run.py.

The same script as bench/twisted_reverse_proxy.py with one import changed:
``proxykit.web.ReverseProxyResource`` instead of
``twisted.web.proxy.ReverseProxyResource``, as the root resource of the same
quiet ``twisted.web.server.Site`` on 127.0.0.1, on the same (default)
reactor, so that the two rows compare the resources and nothing else.

Usage: python proxykit_web_proxy.py PORT ORIGINPORT [CERT KEY]

With CERT and KEY (PEM files) it listens over TLS, as
bench/twisted_reverse_proxy.py does.
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.web import http, server

from proxykit.web import ReverseProxyResource


class QuietSite(server.Site):
    """A Site that keeps no access log."""

    def log(self, request: http.Request) -> None:
        """Skip the access log line."""


def main(argv: list[str]) -> None:
    port, origin_port = int(argv[1]), int(argv[2])
    root = ReverseProxyResource("127.0.0.1", origin_port, b"")
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
