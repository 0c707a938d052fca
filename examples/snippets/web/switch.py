"""
Switching a twisted.web site from Twisted's ReverseProxyResource to
proxykit's (docs/web.rst): the import changes, nothing else.
"""

from twisted.web.resource import Resource


def mount(root: Resource) -> None:
    # [start switch]
    # from twisted.web.proxy import ReverseProxyResource
    from proxykit.web import ReverseProxyResource

    root.putChild(b"api", ReverseProxyResource("127.0.0.1", 8000, b""))
    # [end switch]
