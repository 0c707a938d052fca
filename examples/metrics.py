"""
A forward proxy of your own application with the metrics C{twistd proxykit
--admin} serves: C{/metrics} mounted in the application's own twisted.web
site, next to its other pages.

    .venv/bin/python examples/metrics.py [PROXY-ENDPOINT [SITE-ENDPOINT]]

The proxy listens on tcp:8082:interface=127.0.0.1 and the site on
tcp:9902:interface=127.0.0.1 by default.  Start an origin in a terminal
of its own:

    python3 -m http.server 9001 --bind 127.0.0.1

then:

    curl -x http://127.0.0.1:8082 http://127.0.0.1:9001/
    curl -s http://127.0.0.1:9902/metrics

The second shows the first in C{proxykit_requests_total}.  Mounting
C{proxykit.AdminResource(state, metrics)} as the site's root instead
serves C{/healthz}, C{/readyz} and C{/status} as well.
"""

import sys
from typing import Any

from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data

import proxykit


async def main(
    reactor: Any,
    proxyAt: str = "tcp:8082:interface=127.0.0.1", siteAt: str = "tcp:9902:interface=127.0.0.1"
) -> None:
    config = proxykit.ProxyConfig(listen=(proxyAt,))
    gate = proxykit.forwardProxy(config, reactor)
    # What the metrics read when scraped: the factory (router, pool,
    # health checks) and the gates it listens through (open connections).
    metrics = proxykit.Metrics(proxykit.EmbeddedProxy(gate.factory, [gate], [proxyAt]))
    metrics.observe(gate.factory.hooks)

    root = Resource()
    root.putChild(b"", Data(b"my application\n", "text/plain"))
    root.putChild(b"metrics", proxykit.MetricsResource(metrics))

    for what, description, factory in (("proxy", proxyAt, gate), ("site", siteAt, Site(root))):
        try:
            port = await endpoints.serverFromString(reactor, description).listen(factory)
        except CannotListenError as e:
            # One line and exit status 1 (task.react), not a traceback.
            raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
        print(f"{what} listening on {port.getHost()}", flush=True)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, sys.argv[1:3])
