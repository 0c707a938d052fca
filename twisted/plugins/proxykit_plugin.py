"""
The C{twistd proxykit} plugin.
"""

from twisted.application.service import ServiceMaker

proxykit = ServiceMaker(
    "proxykit",
    "proxykit.tap",
    "HTTP/1.1 forward and reverse proxy",
    "proxykit",
)
