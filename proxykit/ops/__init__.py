# -*- test-case-name: tests.test_layers -*-
"""
Private: operations, what an operator runs beside the relay.

The access log (L{proxykit.ops.accesslog}) observes the relay's hooks
(L{proxykit.relay.hooks}); it is not threaded through the relay.
Applications use the names C{proxykit} exports; the modules here may move.
"""
