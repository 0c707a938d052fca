# -*- test-case-name: tests.test_exports -*-
"""
proxykit: HTTP/1.1 forward and reverse proxies for Twisted.

Build a proxy from a config with L{forwardProxy} or L{reverseProxy}, or
around a router of your own with L{routedProxy}: each applies exactly the
policy C{twistd proxykit} applies, and returns a factory to listen with on
any endpoint.  L{forwardService} and L{reverseService} build the whole
service C{twistd proxykit} runs.

The names below are the public API (see C{docs/library.rst}); the modules
they come from are not, and may move.
"""

from .build import forwardProxy, reverseProxy, routedProxy
from .config.values import (
    AdminConfig,
    CertificateConfig,
    ConfigError,
    ForwardConfig,
    HealthCheckConfig,
    LimitsConfig,
    ListenerLog,
    LogConfig,
    OriginConfig,
    OriginTLS,
    PoolConfig,
    ProxyConfig,
    ReverseConfig,
    RouteConfig,
    Timeouts,
    TLSConfig,
    TLSListener,
    VhostConfig,
)
from .decisions import (
    ClientInfo,
    Decision,
    Forward,
    IRouter,
    Origin,
    Refuse,
    Respond,
    Tunnel,
    Upstream,
)
from .h1 import Request, TargetForm
from .ops.admin import AdminResource, MetricsResource
from .ops.metrics import Metrics
from .ops.state import EmbeddedProxy
from .policy.balance import OriginGroup
from .policy.destinations import DestinationPolicy
from .policy.routing import ForwardRouter
from .policy.vhosts import CombinedRouter, ReverseRouter, VhostTable
from .relay.factory import ProxyFactory
from .relay.gate import ListenerGate
from .relay.hooks import (
    ErrorEvent,
    Finished,
    HookFailed,
    Hooks,
    Outcome,
    RequestEvent,
    RequestRecord,
    ResponseEvent,
    RoutedEvent,
    TunnelEvent,
    TunnelRecord,
)
from .relay.pool import ConnectionPool
from .service import forwardService, reverseService

__version__ = "0.1.0.dev0"


def _settleBuild() -> bool:
    """
    Whether this is the compiled build (and if so, give its compiled
    classes back what mypyc drops of them).
    """
    import sys

    from . import _compiled

    names = _compiled.compiledModules()
    for name in names:
        _compiled.restoreClasses(sys.modules[name])
    return bool(names)


COMPILED: bool = _settleBuild()
"""Whether this proxykit is the compiled build (C{PROXYKIT_COMPILE=1} at
install time; see C{docs/performance.md}), not pure Python."""

__all__ = [
    "AdminConfig",
    "AdminResource",
    "CertificateConfig",
    "ClientInfo",
    "CombinedRouter",
    "ConfigError",
    "ConnectionPool",
    "Decision",
    "DestinationPolicy",
    "EmbeddedProxy",
    "ErrorEvent",
    "Finished",
    "Forward",
    "ForwardConfig",
    "ForwardRouter",
    "HealthCheckConfig",
    "HookFailed",
    "Hooks",
    "IRouter",
    "LimitsConfig",
    "ListenerGate",
    "ListenerLog",
    "LogConfig",
    "Metrics",
    "MetricsResource",
    "Origin",
    "OriginConfig",
    "OriginGroup",
    "OriginTLS",
    "Outcome",
    "PoolConfig",
    "ProxyConfig",
    "ProxyFactory",
    "Refuse",
    "Request",
    "RequestEvent",
    "RequestRecord",
    "Respond",
    "ResponseEvent",
    "ReverseConfig",
    "ReverseRouter",
    "RouteConfig",
    "RoutedEvent",
    "TLSConfig",
    "TLSListener",
    "TargetForm",
    "Timeouts",
    "Tunnel",
    "TunnelEvent",
    "TunnelRecord",
    "Upstream",
    "VhostConfig",
    "VhostTable",
    "forwardProxy",
    "forwardService",
    "reverseProxy",
    "reverseService",
    "routedProxy",
]
