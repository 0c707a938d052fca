"""
The C{twistd proxykit} plugin, and the C{twistd -r proxykit} reactor.
"""

from twisted.application.reactors import Reactor
from twisted.application.service import ServiceMaker

proxykit = ServiceMaker(
    "proxykit",
    "proxykit.tap",
    "HTTP/1.1 forward and reverse proxy",
    "proxykit",
)

proxykitReactor = Reactor(
    "proxykit",
    "proxykit.reactor",
    "epoll without per-event log context (Linux; twistd proxykit's default)",
)
