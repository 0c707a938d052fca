"""
Run a reverse proxy from your own Twisted program.

    .venv/bin/python examples/reverse_library.py [CONFIG [ENDPOINT]]

CONFIG is a reverse-mode TOML file (default: examples/reverse.toml, whose
comments say which origins to start); the proxy listens on ENDPOINT
(default: tcp:8000:interface=127.0.0.1) instead of the file's ``listen``.
Then: curl --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/

proxykit.reverseProxy builds the proxy exactly as ``twistd proxykit
reverse`` does; the routes' active health checks run while it listens.
"""

import sys
from typing import Any

import attrs
from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

import proxykit


async def main(
    reactor: Any,
    path: str = "examples/reverse.toml",
    description: str = "tcp:8000:interface=127.0.0.1",
) -> None:
    config = proxykit.ProxyConfig.fromFile(path)
    # The endpoint listened on is the config's listener (the forward-proxy
    # destination rule, with forward_proxy = true, depends on it).
    config = attrs.evolve(config, listen=(description,))
    factory = proxykit.reverseProxy(config, reactor)
    try:
        port = await endpoints.serverFromString(reactor, description).listen(factory)
    except CannotListenError as e:
        # One line and exit status 1 (task.react), not a traceback.
        raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
    print(f"listening on {port.getHost()}", flush=True)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, sys.argv[1:3])
