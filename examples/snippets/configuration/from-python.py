"""
docs/configuration.rst, "From Python": the proxy a configuration built in
Python describes.
"""

import proxykit
from proxykit import ProxyConfig

# [start from-python]
config = ProxyConfig(listen=("tcp:8080:interface=127.0.0.1",))
factory = proxykit.forwardProxy(config)
# [end from-python]
