"""proxy.py's reverse proxy, routed to the benchmark origin, for bench/run.py.

proxy.py 2.4 ships its reverse proxy core (``--enable-reverse-proxy``) but
takes its routes only from ``ReverseProxyBasePlugin`` plugins; the bundled
``proxy.plugin.ReverseProxyPlugin`` is a demo hard-wired to httpbingo.org.
This module is the one-route plugin the benchmark needs: every path goes to
``--bench-origin`` (a flag this module adds to proxy.py's parser), keeping
the request path.

A *static* route ``(r"/.*", [origin])`` would not do: proxy.py replaces the
request path with the route URL's own path, so every request would become
``GET /``.  The route is therefore dynamic and hands back the origin URL
with the client's path as its remainder.

Usage (bench/ on PYTHONPATH):
    proxy --enable-reverse-proxy --rewrite-host-header --disable-http-proxy \
        --plugins proxypy_reverse.BenchReverseProxy \
        --bench-origin http://127.0.0.1:ORIGINPORT ...
"""

from __future__ import annotations

from typing import Any

from proxy.common.flag import flags
from proxy.http import Url
from proxy.http.parser import HttpParser
from proxy.http.server import ReverseProxyBasePlugin

flags.add_argument(
    "--bench-origin",
    type=str,
    default="http://127.0.0.1:80",
    help="bench/proxypy_reverse.py: origin URL every request is sent to.",
)


class BenchReverseProxy(ReverseProxyBasePlugin):  # type: ignore[misc]
    """Route every path to ``--bench-origin``, keeping the path."""

    def routes(self) -> list[Any]:
        return [r"/.*"]

    def handle_route(self, request: HttpParser, pattern: Any) -> Url:
        choice = Url.from_bytes(self.flags.bench_origin.encode("ascii"))
        choice.remainder = request.path
        return choice

    def on_access_log(self, context: dict[str, Any]) -> dict[str, Any] | None:
        """Skip the per-request access log line (returning None = handled)."""
        return None
