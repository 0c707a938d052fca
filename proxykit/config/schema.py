# -*- test-case-name: tests.test_reference -*-
"""
The keys of a configuration file: which keys each TOML table accepts,
which field of which config class each one sets, and an example of each.

The reader checks each table against L{known} (a key not declared here is
an unknown key), and the configuration reference (C{docs/reference/}) is
generated from these tables together with the config classes' fields
(default, checks) and C{@ivar} text (meaning).  Data only: no imports from
the rest of proxykit, so that the reader and the classes may both use it.
"""

from __future__ import annotations

import attrs

__all__ = ["KIND_TABLE", "KIND_TABLES", "KIND_VALUE", "TABLES", "Key", "Table", "known", "table"]

KIND_VALUE = "value"
"""A key holding a value (a string, number, boolean or list)."""

KIND_TABLE = "table"
"""A key holding a table (C{[forward]}, C{health_check}) described by its
own L{Table}."""

KIND_TABLES = "tables"
"""A key holding an array of tables (C{[[reverse.vhost]]}) or a list whose
elements may be inline tables (C{origins}), described by its own
L{Table}."""


@attrs.frozen
class Key:
    """
    One key of a table.

    @ivar name: The TOML key (C{connect_ports}).
    @ivar field: The field of the table's class it sets (C{connectPorts}),
        whose C{@ivar} text is the key's meaning.
    @ivar example: A TOML value for it (C{"[443, 8443]"}).
    @ivar kind: L{KIND_VALUE}, L{KIND_TABLE} or L{KIND_TABLES}.
    @ivar type: What the value is, where the field's check does not say it
        in words (else C{None}).
    @ivar default: The default in words, where the field's own default does
        not say it (C{"the system's trust store"}; C{"required"} for a key
        that must be given), else C{None}.
    """

    name: str
    field: str
    example: str
    kind: str = KIND_VALUE
    type: str | None = None
    default: str | None = None


@attrs.frozen
class Table:
    """
    A TOML table (or array of tables) and its keys.

    @ivar path: Its key path, array indexes left out
        (C{reverse.vhost.route}); C{""} for the top level.
    @ivar header: How it is written in a file (C{[[reverse.vhost.route]]}).
    @ivar className: The config class its keys set, exported by
        L{proxykit} (C{RouteConfig}).
    @ivar keys: Its keys, in the order they are documented.
    """

    path: str
    header: str
    className: str
    keys: tuple[Key, ...]

    def names(self) -> set[str]:
        """
        The TOML names of its keys.
        """
        return {key.name for key in self.keys}


_SECONDS = "seconds (a positive number)"

TABLES: tuple[Table, ...] = (
    Table("", "top level", "ProxyConfig", (
        Key("listen", "listen", '["tcp:8080:interface=127.0.0.1", "unix:/run/proxykit.sock"]',
            default='``["tcp:8080:interface=127.0.0.1"]``; ``["tcp:8000:interface=127.0.0.1"]``'
            " for ``twistd proxykit reverse``"),
        Key("workers", "workers", '"auto"'),
        Key("forward", "forward", "", KIND_TABLE),
        Key("reverse", "reverse", "", KIND_TABLE),
        Key("timeouts", "timeouts", "", KIND_TABLE),
        Key("pool", "pool", "", KIND_TABLE),
        Key("limits", "limits", "", KIND_TABLE),
        Key("tls", "tls", "", KIND_TABLE),
        Key("log", "log", "", KIND_TABLE),
        Key("admin", "admin", "", KIND_TABLE),
    )),
    Table("forward", "[forward]", "ForwardConfig", (
        Key("connect_ports", "connectPorts", "[443, 8443]"),
        Key("allow_clients", "allowClients", '["127.0.0.0/8", "::1/128", "10.0.0.0/8"]'),
        Key("allow_private_destinations", "allowPrivateDestinations", "true"),
        Key("allow_destinations", "allowDestinations", '["example.com", "*.example.com", "10.0.0.0/8"]',
            default="``[]``: anywhere"),
        Key("deny_destinations", "denyDestinations", '["*.internal", "169.254.0.0/16"]'),
        Key("allow_ports", "allowPorts", "[80, 443, 8080]", default="``[]``: any"),
        Key("parent", "parent", '"http://user:secret@parent.example.test:3128"', default="none: direct"),
        Key("parent_for", "parentFor", '["*.example.com"]', default="``[]``: every destination"),
        Key("no_parent", "noParent", '["intranet.example.com", "10.0.0.0/8"]'),
        Key("ca_file", "caFile", '"/etc/ssl/certs/corporate-ca.pem"', default="the system's trust store"),
        Key("via", "via", '"proxy-a"'),
        Key("auth_file", "authFile", '"/etc/proxykit/htpasswd"', default="none: no authentication"),
        Key("auth_realm", "authRealm", '"office proxy"'),
        Key("allow_trace", "allowTrace", "true"),
    )),
    Table("timeouts", "[timeouts]", "Timeouts", (
        Key("connect", "connect", "5", type=_SECONDS),
        Key("response", "response", "30", type=_SECONDS),
        Key("idle", "idle", "120", type=_SECONDS),
        Key("header", "header", "5", type=_SECONDS),
        Key("tunnel_idle", "tunnelIdle", "600", type=_SECONDS),
        Key("drain", "drain", "60", type=_SECONDS),
        Key("drain_delay", "drainDelay", "10", type="seconds (a number >= 0)"),
    )),
    Table("pool", "[pool]", "PoolConfig", (
        Key("max_idle_per_origin", "maxIdlePerOrigin", "32"),
        Key("idle_expiry", "idleExpiry", "30", type=_SECONDS),
    )),
    Table("limits", "[limits]", "LimitsConfig", (
        Key("max_request_line", "maxRequestLine", "16384"),
        Key("max_header_bytes", "maxHeaderBytes", "32768"),
        Key("max_header_count", "maxHeaderCount", "200"),
        Key("max_body_bytes", "maxBodyBytes", "10485760", default="``0``: no limit"),
        Key("max_client_connections", "maxClientConnections", "10000",
            default="derived from the open-file limit"),
        Key("max_origin_connections", "maxOriginConnections", "64"),
        Key("max_origin_queue", "maxOriginQueue", "256"),
    )),
    Table("log", "[log]", "LogConfig", (
        Key("access", "access", '"/var/log/proxykit/access.log"', default="none: no access log"),
        Key("format", "format", '"$client_addr $status $request_time"'),
        Key("request_id", "requestId", '"generate"'),
        Key("listener", "listeners", "", KIND_TABLES),
    )),
    Table("log.listener", "[[log.listener]]", "ListenerLog", (
        Key("listen", "listen", '"tcp:8443:interface=127.0.0.1"', type="an endpoint string"),
        Key("access", "access", '"/var/log/proxykit/tls-access.log"', default="none: nothing logged"),
        Key("format", "format", '"json"'),
    )),
    Table("admin", "[admin]", "AdminConfig", (
        Key("listen", "listen", '"tcp:9901"', default="none: no admin listener"),
    )),
    Table("reverse", "[reverse]", "ReverseConfig", (
        Key("default", "default", '"app.example.test"', type="a host name of one of the vhosts",
            default="none: unknown hosts get 421"),
        Key("trusted_proxies", "trustedProxies", '["10.0.0.0/8", "192.0.2.1"]'),
        Key("forward_proxy", "forwardProxy", "true"),
        Key("dns_servers", "dnsServers", '["127.0.0.1:8600", "[::1]:5353"]',
            default="``[]``: the ``nameserver`` lines of ``/etc/resolv.conf``"),
        Key("dns_min_ttl", "dnsMinTtl", "5", type=_SECONDS),
        Key("dns_max_ttl", "dnsMaxTtl", "300", type=_SECONDS + ", not less than ``dns_min_ttl``"),
        Key("vhost", "vhosts", "", KIND_TABLES),
    )),
    Table("reverse.vhost", "[[reverse.vhost]]", "VhostConfig", (
        Key("hosts", "hosts", '["app.example.test", "*.example.test", "127.0.0.1"]'),
        Key("route", "routes", "", KIND_TABLES),
    )),
    Table("reverse.vhost.route", "[[reverse.vhost.route]]", "RouteConfig", (
        Key("origins", "origins", '["http://127.0.0.1:9001", { url = "http://127.0.0.1:9002", weight = 2 }]', KIND_TABLES,
            type="a non-empty list of origin URLs and inline tables"),
        Key("prefix", "prefix", '"/api"'),
        Key("strip_prefix", "stripPrefix", "true"),
        Key("balance", "balance", '"least_outstanding"'),
        Key("host_header", "hostHeader", '"origin"'),
        Key("x_forwarded_for", "xForwardedFor", "false"),
        Key("x_forwarded_proto", "xForwardedProto", "false"),
        Key("x_forwarded_host", "xForwardedHost", "false"),
        Key("forwarded", "forwarded", "true"),
        Key("rewrite_redirects", "rewriteRedirects", "false"),
        Key("retries", "retries", "2"),
        Key("eject_for", "ejectFor", "30", type=_SECONDS),
        Key("proxy_protocol", "proxyProtocol", '"v2"'),
        Key("health_check", "healthCheck", "", KIND_TABLE, default="none: no active checks"),
    )),
    Table("reverse.vhost.route.origins", "origins", "OriginConfig", (
        Key("url", "url", '"https://10.0.0.5:8443"', type="an origin URL"),
        Key("weight", "weight", "3"),
        Key("ca_file", "caFile", '"/etc/proxykit/internal-ca.pem"', default="the system's trust store"),
        Key("client_cert", "clientCert", '"/etc/proxykit/client.pem"'),
        Key("client_key", "clientKey", '"/etc/proxykit/client.key"'),
        Key("server_name", "serverName", '"api.internal"', default="the URL's host"),
        Key("verify", "verify", "false"),
        Key("proxy_protocol", "proxyProtocol", '"v1"', default="the route's"),
    )),
    Table("reverse.vhost.route.health_check", "[reverse.vhost.route.health_check]", "HealthCheckConfig", (
        Key("path", "path", '"/healthz"'),
        Key("interval", "interval", "10", type=_SECONDS),
        Key("timeout", "timeout", "1", type=_SECONDS),
        Key("rise", "rise", "3"),
        Key("fall", "fall", "2"),
        Key("host", "host", '"app.example.test"', default="the origin's address"),
    )),
    Table("tls", "[tls]", "TLSConfig", (
        Key("listen", "listen",
            '["tcp:8443:interface=127.0.0.1", { endpoint = "tcp:9443:interface=127.0.0.1", min_version = "1.3" }]',
            KIND_TABLES, type="a non-empty list of endpoint strings and inline tables"),
        Key("default_certificate", "defaultCertificate",
            '{ cert = "certs/default.pem", key = "certs/default.key" }', KIND_TABLE,
            type="a table with ``cert`` and ``key``"),
        Key("certificate", "certificates", "", KIND_TABLES),
        Key("redirect_listen", "redirectListen", '["tcp:8080:interface=127.0.0.1"]'),
        Key("redirect_port", "redirectPort", "8443"),
        Key("min_version", "minVersion", '"1.3"'),
        Key("ciphers", "ciphers", '"ECDHE+AESGCM"'),
    )),
    Table("tls.listen", "listen", "TLSListener", (
        Key("endpoint", "endpoint", '"tcp:9443:interface=127.0.0.1"', type="an endpoint string"),
        Key("min_version", "minVersion", '"1.3"', default="the ``[tls]`` table's"),
        Key("ciphers", "ciphers", '"ECDHE+CHACHA20"', default="the ``[tls]`` table's"),
    )),
    Table("tls.default_certificate", "default_certificate", "CertificateConfig", (
        Key("cert", "cert", '"certs/default.pem"'),
        Key("key", "key", '"certs/default.key"'),
    )),
    Table("tls.certificate", "[[tls.certificate]]", "CertificateConfig", (
        Key("hosts", "hosts", '["app.example.test", "*.example.test"]', type="a non-empty list of host names",
            default="required"),
        Key("cert", "cert", '"certs/app.pem"'),
        Key("key", "key", '"certs/app.key"'),
    )),
)  # fmt: skip
"""Every table of a configuration file, in the order they are documented."""


_BY_PATH = {each.path: each for each in TABLES}


def table(path: str) -> Table:
    """
    The table at C{path}: C{reverse.vhost.route}, without array indexes.

    @raise KeyError: There is no such table.
    """
    return _BY_PATH[path]


def known(path: str) -> set[str]:
    """
    The keys the table at C{path} accepts (what the reader checks it
    against).
    """
    return table(path).names()
