"""
A reverse proxy whose configuration is built in Python, not read from a
file.

    .venv/bin/python examples/reverse_python.py [ORIGIN [ORIGIN ... ]] [--listen ENDPOINT]

Requests for ``app.example.test`` (and any other host: it is the default
virtual host) under ``/api`` go to the ORIGINs in turn (default
http://127.0.0.1:9001 and http://127.0.0.1:9002), with ``/api`` stripped;
the proxy listens on ENDPOINT (default tcp:8000:interface=127.0.0.1).
Start the origins, each in a terminal of its own:

    python3 -m http.server 9001 --bind 127.0.0.1
    python3 -m http.server 9002 --bind 127.0.0.1

then: curl --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/api/

The config values check themselves when built: a bad URL raises
proxykit.ConfigError naming the class and the field.
"""

import sys
from typing import Any

from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

import proxykit


def config(origins: list[str], description: str) -> proxykit.ProxyConfig:
    route = proxykit.RouteConfig(
        prefix="/api",
        stripPrefix=True,
        origins=tuple(proxykit.OriginConfig(url) for url in origins),
        balance="round_robin",
    )
    vhost = proxykit.VhostConfig(hosts=("app.example.test",), routes=(route,))
    return proxykit.ProxyConfig(
        listen=(description,),
        reverse=proxykit.ReverseConfig(vhosts=(vhost,), default="app.example.test"),
    )


async def main(reactor: Any, argv: list[str]) -> None:
    description = "tcp:8000:interface=127.0.0.1"
    if "--listen" in argv:
        at = argv.index("--listen")
        description = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    origins = argv or ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    factory = proxykit.reverseProxy(config(origins, description), reactor)
    try:
        port = await endpoints.serverFromString(reactor, description).listen(factory)
    except CannotListenError as e:
        # One line and exit status 1 (task.react), not a traceback.
        raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
    print(f"listening on {port.getHost()}", flush=True)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, [sys.argv[1:]])
