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

import attrs
from twisted.internet import endpoints, reactor

import proxykit


def main(
    path: str = "examples/reverse.toml",
    description: str = "tcp:8000:interface=127.0.0.1",
) -> None:
    config = proxykit.ProxyConfig.fromFile(path)
    # The endpoint listened on is the config's listener (the forward-proxy
    # destination rule, with forward_proxy = true, depends on it).
    config = attrs.evolve(config, listen=(description,))
    factory = proxykit.reverseProxy(config, reactor)
    listening = endpoints.serverFromString(reactor, description).listen(factory)
    listening.addCallback(lambda port: print(f"listening on {port.getHost()}", flush=True))
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(*sys.argv[1:3])
