"""
Run a forward proxy from your own Twisted program.  From a checkout,
after ``./dev.sh start`` (which makes .venv):

    .venv/bin/python examples/forward_library.py [ENDPOINT]

ENDPOINT defaults to tcp:8080:interface=127.0.0.1.  Start an origin in a
terminal of its own:

    python3 -m http.server 8000 --bind 127.0.0.1

then: curl -x http://127.0.0.1:8080 http://127.0.0.1:8000/

proxykit.forwardProxy builds the proxy exactly as ``twistd proxykit
forward`` does (destination checks, per-origin connection cap and queue,
connection cap per listener, authentication), from a ProxyConfig.
"""

import sys
from typing import Any

from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

import proxykit


async def main(reactor: Any, description: str = "tcp:8080:interface=127.0.0.1") -> None:
    # Name the endpoint in the config, as --listen does for twistd: when it
    # reaches beyond loopback, loopback, private and link-local destinations
    # are refused (unless forward.allow_private_destinations is set).
    config = proxykit.ProxyConfig(listen=(description,))
    factory = proxykit.forwardProxy(config, reactor)
    try:
        port = await endpoints.serverFromString(reactor, description).listen(factory)
    except CannotListenError as e:
        # One line and exit status 1 (task.react), not a traceback.
        raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
    print(f"listening on {port.getHost()}", flush=True)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, sys.argv[1:2])
