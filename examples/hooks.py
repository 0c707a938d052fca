"""
A forward proxy with hooks: one adds a header to every request, one refuses
some, and one prints an access-log line per request.

    .venv/bin/python examples/hooks.py [ENDPOINT]

ENDPOINT defaults to tcp:8081:interface=127.0.0.1.  Start an origin in a
terminal of its own:

    python3 -m http.server 9001 --bind 127.0.0.1

then:

    curl -x http://127.0.0.1:8081 http://127.0.0.1:9001/
    curl -x http://127.0.0.1:8081 http://127.0.0.1:9001/admin/

The first is served (the origin got an X-Request-Start header, and the
proxy's X-Request-Id); the second is refused with 403 without reaching the
origin.  The proxy prints a line for each, with its request id.
"""

import sys
import time
from typing import Any

from twisted.internet import endpoints, task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError

import proxykit

hooks = proxykit.Hooks()


@hooks.beforeRouting
def tagRequest(event: proxykit.RequestEvent) -> proxykit.Request:
    """
    Add an X-Request-Start field (when the proxy got the request, in
    microseconds, as Heroku and New Relic write it): the origin gets the
    rewritten head.
    """
    request = event.request
    start = b"t=%d" % (time.time_ns() // 1000,)
    return request.replace(headers=[*request.headers, (b"X-Request-Start", start)])


@hooks.beforeRouting
def refuseAdmin(event: proxykit.RequestEvent) -> proxykit.Refuse | None:
    """
    Refuse any request for an /admin path (403), whatever the host.
    """
    path = event.request.target.partition(b"://")[2].partition(b"/")[2]
    if path.startswith(b"admin"):
        return proxykit.Refuse(403, "admin paths are not proxied")
    return None


@hooks.onComplete
def accessLog(record: proxykit.RequestRecord) -> None:
    """
    One line per request, as an access log would write it, with the
    request's id (the X-Request-Id the origin got, or the one an error
    response showed).
    """
    request = record.request
    line = "-" if request is None else f"{request.method.decode()} {request.target.decode()}"
    print(
        f'{record.client.peerHost} "{line}" {record.status} {record.bytesOut}'
        f" {record.outcome.value} {record.duration * 1000:.1f}ms {record.requestId}",
        flush=True,
    )


async def main(reactor: Any, description: str = "tcp:8081:interface=127.0.0.1") -> None:
    config = proxykit.ProxyConfig(listen=(description,))
    factory = proxykit.forwardProxy(config, reactor, hooks=hooks)
    try:
        port = await endpoints.serverFromString(reactor, description).listen(factory)
    except CannotListenError as e:
        # One line and exit status 1 (task.react), not a traceback.
        raise SystemExit(f"{sys.argv[0]}: cannot listen on {description}: {e.socketError.strerror}")
    print(f"listening on {port.getHost()}", flush=True)
    await Deferred()  # Serve until the reactor stops (Control-C).


if __name__ == "__main__":
    task.react(main, sys.argv[1:2])
