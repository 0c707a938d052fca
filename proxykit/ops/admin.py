# -*- test-case-name: tests.test_admin -*-
"""
The admin listener's pages: C{/metrics} (Prometheus text format),
C{/healthz} (the process serves), C{/readyz} (every listener is bound and
the proxy is not draining) and C{/status} (JSON: listeners, config version,
virtual hosts, routes and origins).

L{AdminResource} is a twisted.web resource: C{twistd proxykit} serves it on
C{--admin ENDPOINT} (L{adminSite}); an application embedding proxykit may
mount it (or L{MetricsResource} alone) in its own site.  It reads the
proxy's state (an L{IProxyState}) when asked, never before: a reload may
replace any of it.  Only C{GET} and C{HEAD} are answered (other methods
get 405), unknown paths get 404.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from ..policy.vhosts import tableOf
from .metrics import Metrics
from .state import IProxyState, boundAddress, originStates

__all__ = ["AdminResource", "MetricsResource", "adminSite", "statusOf"]

_TEXT = b"text/plain; charset=utf-8"
_EXPOSITION = b"text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text format every Prometheus version reads (what
C{generate_latest} writes for proxykit's metric names)."""


def _header(request: Request, name: bytes, value: bytes) -> None:
    request.setHeader(name, value)  # type: ignore[no-untyped-call]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def statusOf(state: IProxyState, metrics: Metrics | None = None) -> dict[str, Any]:
    """
    What C{/status} says of the proxy C{state} describes, as JSON values.

    @param metrics: The proxy's metrics, for the tunnels open now; C{None}:
        not shown.
    """
    factory = state.factory
    descriptions = list(state.endpoints)
    listeners = []
    for index, gate in enumerate(state.gates):
        listeners.append(
            {
                "endpoint": descriptions[index] if index < len(descriptions) else None,
                "address": boundAddress(gate),
                "connections": gate.open,
            }
        )
    version = state.configVersion
    config: dict[str, Any] | None = None
    if version is not None:
        config = {
            "digest": version.digest,
            "loaded_at": _iso(version.loadedAt),
            "source": version.source,
        }
    vhosts: list[dict[str, Any]] = []
    byRoute: dict[tuple[str, str], dict[str, Any]] = {}
    routeEntry: dict[str, Any]
    table = tableOf(factory.router)
    if table is not None:
        for names, routes in table.vhosts:
            entry: dict[str, Any] = {"hosts": list(names), "routes": []}
            for route in routes:
                prefix = route.prefix.decode("ascii", "replace")
                byRoute[(names[0] if names else "-", prefix)] = routeEntry = {
                    "prefix": prefix,
                    "balance": route.config.balance,
                    "origins": [],
                }
                entry["routes"].append(routeEntry)
            vhosts.append(entry)
    for origin in originStates(factory):
        found = byRoute.get((origin.vhost, origin.route))
        if found is None:
            continue
        found["origins"].append(
            {
                "url": origin.origin,
                "up": origin.up,
                "ejected": origin.ejected,
                "ejections": origin.ejections,
                "outstanding": origin.outstanding,
                "pool": {"idle": origin.idle, "active": origin.active},
                "health_checks": None
                if origin.checks is None
                else {"passed": origin.checks[0], "failed": origin.checks[1]},
            }
        )
    status: dict[str, Any] = {
        "ready": state.ready,
        "draining": state.draining,
        "config": config,
        "listeners": listeners,
        "client_connections": sum(gate.open for gate in state.gates),
        "vhosts": vhosts,
    }
    if metrics is not None:
        status["tunnels"] = metrics.tunnelsOpen
    return status


class MetricsResource(Resource):
    """
    C{metrics} in the Prometheus text format, for any twisted.web site.
    """

    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._metrics = metrics

    def render_GET(self, request: Request) -> bytes:
        _header(request, b"content-type", _EXPOSITION)
        _header(request, b"cache-control", b"no-store")
        return self._metrics.render()


class AdminResource(Resource):
    """
    The admin listener's pages (see the module docstring).
    """

    isLeaf = True

    def __init__(self, state: IProxyState, metrics: Metrics) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._state = state
        self._metrics = metrics
        self._metricsPage = MetricsResource(metrics)
        self._pages = {
            b"/metrics": self._metricsPage.render_GET,
            b"/healthz": self._health,
            b"/readyz": self._ready,
            b"/status": self._status,
        }

    def render(self, request: Request) -> bytes:
        """
        Answer C{request}: 404 for an unknown path, 405 for a method other
        than C{GET} or C{HEAD}, else the page.
        """
        page = self._pages.get(request.path)
        if page is None:
            return self._text(request, 404, b"not found\n")
        if request.method not in (b"GET", b"HEAD"):
            _header(request, b"allow", b"GET, HEAD")
            return self._text(request, 405, b"method not allowed\n")
        return page(request)

    @staticmethod
    def _text(request: Request, code: int, body: bytes) -> bytes:
        request.setResponseCode(code)
        _header(request, b"content-type", _TEXT)
        _header(request, b"cache-control", b"no-store")
        return body

    def _health(self, request: Request) -> bytes:
        return self._text(request, 200, b"ok\n")

    def _ready(self, request: Request) -> bytes:
        state = self._state
        if state.ready:
            return self._text(request, 200, b"ready\n")
        why = b"draining" if state.draining else b"not every listener is bound"
        return self._text(request, 503, b"not ready: " + why + b"\n")

    def _status(self, request: Request) -> bytes:
        _header(request, b"content-type", b"application/json")
        _header(request, b"cache-control", b"no-store")
        body = json.dumps(statusOf(self._state, self._metrics), indent=2)
        return body.encode("utf-8") + b"\n"


class _AdminSite(Site):
    """
    The admin listener's site: it writes no access log line per scrape.
    """

    noisy = False
    displayTracebacks = False

    def log(self, request: http.Request) -> None:
        pass


def adminSite(state: IProxyState, metrics: Metrics) -> Site:
    """
    The factory the admin listener serves: L{AdminResource} for C{state}
    and C{metrics}.
    """
    return _AdminSite(AdminResource(state, metrics))  # type: ignore[no-untyped-call]
