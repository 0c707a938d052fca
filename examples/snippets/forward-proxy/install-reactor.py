"""
A program of its own on proxykit's reactor (docs/forward-proxy.rst): it is
installed before anything imports twisted.internet.reactor.
"""


def installed() -> object:
    # [start install-reactor]
    import proxykit.reactor

    proxykit.reactor.install()  # Linux (epoll) only
    from twisted.internet import reactor
    # [end install-reactor]

    return reactor
