"""
A proxy with a router of your own: requests carrying ``X-Canary: 1`` go to
one origin group, all others to another.

    .venv/bin/python examples/custom_router.py [STABLE [CANARY [ENDPOINT]]]

STABLE and CANARY are origin URLs (default http://127.0.0.1:9001 and
http://127.0.0.1:9002); the proxy listens on ENDPOINT (default
tcp:8000:interface=127.0.0.1).  Start two origins, each in a terminal of
its own, from two directories with different files:

    python3 -m http.server 9001 --bind 127.0.0.1
    python3 -m http.server 9002 --bind 127.0.0.1

then: curl http://127.0.0.1:8000/ and curl -H 'X-Canary: 1' http://127.0.0.1:8000/

A router is any object with ``clientAllowed(peerHost)`` and
``route(request, client)`` (``proxykit.IRouter``); ``route`` returns a
decision value.  ``proxykit.routedProxy`` serves it with everything else
``twistd proxykit`` applies (connection caps, pool limits, timeouts, header
limits).
"""

import sys
from typing import Any

from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

import proxykit


class CanaryRouter:
    """
    Routes by the ``X-Canary`` request header.
    """

    def __init__(self, stable: proxykit.OriginGroup, canary: proxykit.OriginGroup) -> None:
        self.stable = stable
        self.canary = canary

    def clientAllowed(self, peerHost: str) -> bool:
        # This machine only ("" is a UNIX socket's client).
        return peerHost in ("127.0.0.1", "::1", "")

    def route(self, request: proxykit.Request, client: proxykit.ClientInfo) -> proxykit.Decision:
        if not client.allowed:
            return proxykit.Refuse(403, "client not allowed")
        if request.form != proxykit.TargetForm.ORIGIN:
            return proxykit.Refuse(400, "not an origin-form request")
        canary = any(
            name.lower() == b"x-canary" and value == b"1" for name, value in request.headers
        )
        group = self.canary if canary else self.stable
        # Keep the client's Host (None), and the plain header policy.
        return proxykit.Forward(group, request.target, None)


def group(url: str, reactor: Any) -> proxykit.OriginGroup:
    route = proxykit.RouteConfig(origins=(proxykit.OriginConfig(url),))
    return proxykit.OriginGroup.fromRouteConfig(route, reactor)


async def main(
    reactor: Any,
    stable: str = "http://127.0.0.1:9001",
    canary: str = "http://127.0.0.1:9002",
    description: str = "tcp:8000:interface=127.0.0.1",
) -> None:
    router = CanaryRouter(group(stable, reactor), group(canary, reactor))
    config = proxykit.ProxyConfig(listen=(description,))
    factory = proxykit.routedProxy(router, config, reactor)
    try:
        port = await endpoints.serverFromString(reactor, description).listen(factory)
    except CannotListenError as e:
        # One line and exit status 1 (task.react), not a traceback.
        raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
    print(f"listening on {port.getHost()}", flush=True)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, sys.argv[1:4])
