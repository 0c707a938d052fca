"""
proxykit inside a Twisted application: a reverse proxy built in Python,
with hooks, beside the application's own twisted.web site.  The tutorial
docs/tutorials/embedding.rst builds it step by step.

    python examples/tutorial/embed.py [ORIGIN]

The proxy listens on 127.0.0.1:8000 and sends every request to ORIGIN
(default http://127.0.0.1:9001), but answers /health itself and adds an
X-Served-By field to every response; the application's own site on
127.0.0.1:8001 shows at /stats how many requests the proxy finished.
"""

import sys
from typing import Any

from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

import proxykit


# [start config]
def makeConfig(origin: str) -> proxykit.ProxyConfig:
    """
    A reverse proxy for app.example.test (and any other host: it is the
    default virtual host), with one route to C{origin}.
    """
    route = proxykit.RouteConfig(origins=(proxykit.OriginConfig(origin),))
    vhost = proxykit.VhostConfig(hosts=("app.example.test",), routes=(route,))
    return proxykit.ProxyConfig(
        listen=("tcp:8000:interface=127.0.0.1",),
        reverse=proxykit.ReverseConfig(vhosts=(vhost,), default="app.example.test"),
    )
# [end config]


# [start hooks]
hooks = proxykit.Hooks()
finished = {"requests": 0}


@hooks.beforeRouting
def health(event: proxykit.RequestEvent) -> proxykit.Respond | None:
    """
    Answer /health here, without asking the origin.
    """
    if event.request.target == b"/health":
        return proxykit.Respond(200, ((b"Content-Type", b"text/plain"),), b"ok\n")
    return None


@hooks.onResponse
def servedBy(event: proxykit.ResponseEvent) -> list[tuple[bytes, bytes]]:
    """
    Add X-Served-By to every response from an origin.
    """
    return [*event.headers, (b"X-Served-By", b"embed.py")]


@hooks.onComplete
def count(record: proxykit.RequestRecord) -> None:
    """
    Count the requests the proxy finished, whatever became of them.
    """
    finished["requests"] += 1
# [end hooks]


# [start site]
class Stats(Resource):
    """
    The application's own page: how many requests the proxy finished.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", b"text/plain")
        return b"%d requests\n" % (finished["requests"],)
# [end site]


# [start main]
async def main(reactor: Any, origin: str = "http://127.0.0.1:9001") -> None:
    config = makeConfig(origin)
    gate = proxykit.reverseProxy(config, reactor, hooks=hooks)
    root = Resource()
    root.putChild(b"stats", Stats())
    listeners = [("proxy", description, gate) for description in config.listen]
    listeners.append(("site", "tcp:8001:interface=127.0.0.1", Site(root)))
    for what, description, factory in listeners:
        try:
            port = await endpoints.serverFromString(reactor, description).listen(factory)
        except CannotListenError as e:
            # One line and exit status 1 (task.react), not a traceback.
            raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
        print(f"{what} listening on {port.getHost()}", flush=True)
    # Close the pooled origin connections when the reactor stops.
    reactor.addSystemEventTrigger("before", "shutdown", gate.factory.pool.closeAll)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, sys.argv[1:2])
# [end main]
