# -*- test-case-name: tests.test_exports -*-
"""
proxykit: HTTP/1.1 forward and reverse proxies for Twisted.

Build a proxy from a config with L{forwardProxy} or L{reverseProxy}, which
apply exactly the policy C{twistd proxykit} applies, and listen with it on
any endpoint.
"""

from .config import (
    ConfigError,
    ForwardConfig,
    HealthCheckConfig,
    LimitsConfig,
    OriginConfig,
    OriginTLS,
    PoolConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    VhostConfig,
)
from .decisions import ClientInfo, Forward, Origin, Refuse, Tunnel
from .pool import ConnectionPool
from .protocol import ProxyFactory, ProxyProtocol
from .routing import ForwardRouter
from .service import forwardProxy, reverseProxy

__version__ = "0.1.0.dev0"

__all__ = [
    "ClientInfo",
    "ConfigError",
    "ConnectionPool",
    "Forward",
    "ForwardConfig",
    "ForwardRouter",
    "HealthCheckConfig",
    "LimitsConfig",
    "OriginConfig",
    "Origin",
    "OriginTLS",
    "PoolConfig",
    "ProxyConfig",
    "ProxyFactory",
    "ProxyProtocol",
    "Refuse",
    "ReverseConfig",
    "RouteConfig",
    "Timeouts",
    "Tunnel",
    "VhostConfig",
    "forwardProxy",
    "reverseProxy",
]
