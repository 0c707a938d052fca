# -*- test-case-name: tests.test_layers -*-
"""
Private: the relay, everything that holds connections and moves bytes.

The client side (L{proxykit.relay.client}), admission, the exchange, the
origin side, tunnels, flow control, the pool, the origin connector, the
listener gate and health checks; its parts meet through the interfaces of
L{proxykit.relay.interfaces}.  Applications use the names C{proxykit}
exports; the modules here may move.
"""
