# -*- test-case-name: tests.test_layers -*-
"""
Private: policy, pure decisions about requests and origins.

Routing, virtual hosts, balancing, destinations, proxy authentication,
forwarding headers and header rewriting.  Applications use the names
C{proxykit} exports; the modules here may move.
"""
