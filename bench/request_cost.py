"""
Python time per forwarded request, without sockets: a keep-alive GET relayed
by C{ProxyProtocol} on Twisted's in-memory transports (C{tests._harness}), the
best of five rounds of 20,000 requests (C{--requests}).  It measures proxykit's own code on
the request path (parsing, routing, the destination check, header policy,
the exchange and pool), not the kernel or the reactor, and is steadier than
a wrk run on a shared machine: use it to compare two checkouts.

    .venv/bin/python bench/request_cost.py [--requests N] [--access-log FORMAT] [--metrics]
                                           [CHECKOUT ...]

Each CHECKOUT (default: this one) is measured in a subprocess that imports
proxykit and the test harness from it.  With C{--access-log FORMAT}
(C{combined}, C{json} or a format string), each is measured again with the
access log in that format written to a scratch file as C{twistd} writes
it (lines only, no events), a text log observer like C{twistd}'s on the
global publisher in both runs.  With C{--metrics}, each is measured
without and with the admin listener's metrics observing the requests (as
C{--admin} does), the text log observer in both runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

_MEASURE = """
import os, sys, tempfile, time
from tests._harness import GET, OK, Harness
h = Harness()
if len(sys.argv) > 2:
    from twisted.logger import globalLogBeginner, textFileLogObserver
    globalLogBeginner.beginLoggingTo(
        [textFileLogObserver(open(os.devnull, "w"))], redirectStandardIO=False
    )
    if sys.argv[2]:
        from proxykit.ops.accesslog import AccessLog
        path = os.path.join(tempfile.mkdtemp(), "access.log")
        log = AccessLog(path, sys.argv[2], reactor=h.reactor)
        log.publish = False  # as under twistd
        log.observe(h.factory.hooks)
    if len(sys.argv) > 3 and sys.argv[3] == "metrics":
        from proxykit.ops.metrics import Metrics
        from proxykit.ops.state import EmbeddedProxy
        Metrics(EmbeddedProxy(h.factory)).observe(h.factory.hooks)
h.send(GET)
origin, ot = h.acceptOrigin()
origin.dataReceived(OK)
h.received()
def one():
    h.send(GET)
    origin.dataReceived(OK)
    h.received()
    ot.clear()
count = int(sys.argv[1])
for _ in range(count // 10):
    one()
best = float("inf")
for _ in range(5):
    started = time.process_time()
    for _ in range(count):
        one()
    best = min(best, (time.process_time() - started) / count)
print(f"{best * 1e6:.1f}")
"""


def measure(
    checkout: str, requests: int = 20000, accessLog: str | None = None, metrics: bool = False
) -> float:
    """
    Microseconds of CPU per request for the proxykit in C{checkout}, the
    best of five rounds of C{requests}.

    @param accessLog: The access log's format, C{""} for none but with
        C{twistd}'s text log observer; C{None}: neither.
    @param metrics: Also count the requests in the admin listener's metrics
        (L{proxykit.ops.metrics.Metrics}), as C{--admin} does.
    """
    env = dict(os.environ, PYTHONPATH=checkout)
    arguments = [] if accessLog is None else [accessLog]
    if metrics:
        arguments = [accessLog or "", "metrics"]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(requests)] + arguments,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(done.stdout.strip())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Python CPU per relayed request.")
    parser.add_argument("--requests", type=int, default=20000, help="requests per round")
    parser.add_argument(
        "--access-log", metavar="FORMAT", help="also measure with the access log in FORMAT"
    )
    parser.add_argument(
        "--metrics", action="store_true", help="also measure with the admin listener's metrics"
    )
    parser.add_argument("checkouts", nargs="*", help="proxykit checkouts (default: this one)")
    args = parser.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for checkout in args.checkouts or [root]:
        if args.metrics:
            off = measure(os.path.abspath(checkout), args.requests, "")
            on = measure(os.path.abspath(checkout), args.requests, "", metrics=True)
            print(
                f"{off:6.1f} us/request without the metrics, {on:6.1f} with:"
                f" +{on - off:.1f} us  {checkout}"
            )
            continue
        if args.access_log is None:
            cost = measure(os.path.abspath(checkout), args.requests)
            print(f"{cost:6.1f} us/request  {checkout}")
            continue
        off = measure(os.path.abspath(checkout), args.requests, "")
        on = measure(os.path.abspath(checkout), args.requests, args.access_log)
        print(
            f"{off:6.1f} us/request without the access log, {on:6.1f} with"
            f" ({args.access_log}): +{on - off:.1f} us  {checkout}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
