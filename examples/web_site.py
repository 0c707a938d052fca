"""
A twisted.web site with ordinary pages beside proxykit's reverse proxy
resource.

``/`` and ``/hello`` are static pages served by twisted.web itself;
everything under ``/api/`` is relayed to an origin server on 127.0.0.1 by
``proxykit.web.ReverseProxyResource``, a drop-in for
``twisted.web.proxy.ReverseProxyResource`` that keeps origin connections
alive and streams responses.

Start an origin (any HTTP server; here Python's own, serving the current
directory) in one terminal::

    python3 -m http.server 8000 --bind 127.0.0.1

run the site in another, from a checkout after ``./dev.sh start``::

    .venv/bin/python examples/web_site.py 8080 8000

and fetch an ordinary page and a relayed one::

    curl http://127.0.0.1:8080/hello
    curl http://127.0.0.1:8080/api/

``/api/README.md`` is ``/README.md`` at the origin.  The arguments are the
site's port and the origin's port (defaults: 8080 and 8000); port 0 picks a
free port for the site, and the port chosen is printed on the first line
("listening on 127.0.0.1:PORT").
"""

from __future__ import annotations

import sys

from twisted.internet import reactor
from twisted.internet.error import CannotListenError
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

from proxykit.web import ReverseProxyResource


def makeSite(originPort: int) -> tuple[Site, ReverseProxyResource]:
    """
    The site: static pages at C{/} and C{/hello}, the origin at C{/api/}.
    """
    root = Resource()
    root.putChild(b"", Data(b"A twisted.web site; the API is under /api/.\n", "text/plain"))
    root.putChild(b"hello", Data(b"Hello from twisted.web.\n", "text/plain"))
    api = ReverseProxyResource("127.0.0.1", originPort, b"")
    root.putChild(b"api", api)
    return Site(root), api


def main(argv: list[str]) -> None:
    port = int(argv[1]) if len(argv) > 1 else 8080
    originPort = int(argv[2]) if len(argv) > 2 else 8000
    site, api = makeSite(originPort)
    try:
        listening = reactor.listenTCP(port, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    except CannotListenError as e:
        # One line and exit status 1, not a traceback.
        sys.exit(f"{argv[0]}: cannot listen on 127.0.0.1:{port}: {e.socketError.strerror}")
    # Close the pooled origin connections when the reactor stops.
    reactor.addSystemEventTrigger("before", "shutdown", api.pool.closeAll)  # type: ignore[attr-defined]
    print(f"listening on 127.0.0.1:{listening.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv)
