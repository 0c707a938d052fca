"""
Run a forward proxy from your own Twisted program.

    python examples/forward_library.py [ENDPOINT]

then: curl -x http://127.0.0.1:8080 http://127.0.0.1:8000/
"""

import sys

from twisted.internet import endpoints, reactor

from proxykit import ConnectionPool, ForwardRouter, ProxyConfig, ProxyFactory


def main(description: str = "tcp:8080:interface=127.0.0.1") -> None:
    config = ProxyConfig()
    pool = ConnectionPool(reactor, config.pool)
    factory = ProxyFactory(ForwardRouter(config.forward), pool, config, reactor=reactor)
    endpoints.serverFromString(reactor, description).listen(factory)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(*sys.argv[1:2])
