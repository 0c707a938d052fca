# -*- test-case-name: tests.test_config -*-
"""
Private: configuration, its values, reading and checking.

The values (L{proxykit.config.values}) are re-exported here; the TOML
reader, the C{[tls]} table, the checks of single values and the key-line
finder are the other modules.  Applications use the names C{proxykit}
exports; the modules here may move.
"""

from .values import (
    BALANCE_POLICIES,
    DEFAULT_LISTEN,
    DEFAULT_REVERSE_LISTEN,
    HOST_HEADER_MODES,
    MAX_RETRIES,
    PROXY_PROTOCOL_MODES,
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
    TLSSettings,
    VhostConfig,
    checkOriginURL,
    defaultHostProblem,
    hostKey,
    parseHost,
    parsePort,
)

__all__ = [
    "BALANCE_POLICIES",
    "CertificateConfig",
    "DEFAULT_LISTEN",
    "DEFAULT_REVERSE_LISTEN",
    "HOST_HEADER_MODES",
    "PROXY_PROTOCOL_MODES",
    "MAX_RETRIES",
    "ConfigError",
    "ForwardConfig",
    "HealthCheckConfig",
    "LimitsConfig",
    "ListenerLog",
    "LogConfig",
    "OriginConfig",
    "OriginTLS",
    "PoolConfig",
    "ProxyConfig",
    "ReverseConfig",
    "RouteConfig",
    "TLSConfig",
    "TLSListener",
    "TLSSettings",
    "Timeouts",
    "VhostConfig",
    "checkOriginURL",
    "defaultHostProblem",
    "hostKey",
    "parseHost",
    "parsePort",
]
