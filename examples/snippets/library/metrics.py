"""
The metrics of an application's own forward proxy, mounted in its
twisted.web site (docs/library.rst); examples/metrics.py runs the same.
"""

from twisted.web.resource import Resource

import proxykit


def mountMetrics(config: proxykit.ProxyConfig, root: Resource) -> proxykit.Metrics:
    # [start metrics]
    gate = proxykit.forwardProxy(config)
    metrics = proxykit.Metrics(proxykit.EmbeddedProxy(gate.factory, [gate]))
    metrics.observe(gate.factory.hooks)
    root.putChild(b"metrics", proxykit.MetricsResource(metrics))
    # [end metrics]
    return metrics
