#!/usr/bin/env python3
"""proxykit with 1 and 2 worker processes, in the same run.

    .venv/bin/python bench/workers.py                 # 3 x 10 s per setting, ~2 minutes
    .venv/bin/python bench/workers.py --duration 3 --reps 1

Installs nginx and wrk with apt-get when they are missing, and starts
nginx as the origin (as bench/run.py does), then, in turn,
``twistd proxykit forward --workers N --admin tcp:PORT`` for each N of
``--workers`` (default 1 and 2), and loads each with wrk (50 keep-alive
connections, one thread, the 100-byte file).  Nothing is pinned: the
workers need every core, and wrk and nginx share them.  For each run it
prints requests/s, the proxy's CPU seconds (supervisor and workers,
from /proc), CPU seconds per request, requests/s per CPU-second of the
proxy, and how the connections and requests spread over the workers
(from the supervisor's /metrics: ``proxykit_worker_client_connections``,
read halfway through the load, and ``proxykit_worker_requests_total``).  Runs twistd
from ``--venv`` (default: the checkout's .venv, where ``./dev.sh``
installs proxykit).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from harness import environment, load, procs, servers
from harness.procs import ProcessManager

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
CONNS = 50


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def perWorker(text: str, family: str = "requests_total", single: str = "requests_total") -> dict[str, float]:
    """Requests served so far by each worker (one process: all as "1"), or
    with ``family="client_connections", single="client_connections"``, the
    client connections each holds open."""
    found = {
        m.group(1): float(m.group(2))
        for m in re.finditer(rf'^proxykit_worker_{family}\{{worker="(\d+)"\}} (\S+)$', text, re.M)
    }
    if found:
        return found
    total = sum(
        float(v) for v in re.findall(rf"^proxykit_{single}\{{[^}}]*\}} (\S+)$", text, re.M)
    )
    return {"1": total}


def connectionsHalfway(admin: int, seconds: int, found: dict[str, float]) -> threading.Thread:
    """A thread that reads, halfway through a load of ``seconds``, the
    client connections each worker holds open into ``found``."""

    def read() -> None:
        time.sleep(seconds / 2)
        try:
            found.update(perWorker(metrics(admin), "client_connections", "client_connections"))
        except OSError:
            pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def share(counts: dict[str, float]) -> float | None:
    """The busiest worker's share of ``counts`` (None if they are all 0)."""
    total = sum(counts.values())
    return max(counts.values()) / total if total else None


def measure(
    pm: ProcessManager, origin: servers.Origin, twistd: str, workers: int, seconds: int
) -> dict[str, object]:
    port, admin = procs.free_port(), procs.free_port()
    argv = [
        twistd, "-n", "--pidfile=", "proxykit", "forward",
        "--listen", f"tcp:{port}:interface=127.0.0.1",
        "--admin", f"tcp:{admin}", "--workers", str(workers),
    ]  # fmt: skip
    proc = pm.start(f"proxykit-{workers}w", argv)
    try:
        procs.wait_for_port(proc, port)
        procs.wait_for_port(proc, admin)
        # Every worker up before the load: /readyz says so.
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=5):
                    break
            except OSError:
                time.sleep(0.05)
        target, host = origin.url("small"), origin.host
        load.run_wrk(port, target, host, 10, 1, None)  # warm up
        before = perWorker(metrics(admin))
        cpu = procs.tree_jiffies(proc.pid)
        connections: dict[str, float] = {}
        reading = connectionsHalfway(admin, seconds, connections)
        result = load.run_wrk(port, target, host, CONNS, seconds, None)
        cpuSeconds = (procs.tree_jiffies(proc.pid) - cpu) / os.sysconf("SC_CLK_TCK")
        reading.join(10)
        after = perWorker(metrics(admin))
    finally:
        pm.stop(proc)
    served = {w: after[w] - before.get(w, 0.0) for w in sorted(after)}
    requests = result.requests
    return {
        "workers": workers,
        "rps": result.rps,
        "errors": result.socket_errors,
        "cpu_s": cpuSeconds,
        "cpu_us_per_request": 1e6 * cpuSeconds / requests if requests else float("nan"),
        "rps_per_cpu_s": requests / cpuSeconds if cpuSeconds else float("nan"),
        "per_worker": served,
        "connections": {w: connections.get(w, 0.0) for w in served},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--reps", type=int, default=3, help="runs per setting, alternated (default 3)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="settings (default 1 2)")
    p.add_argument("--venv", type=Path, default=REPO_ROOT / ".venv", help="where twistd is")
    args = p.parse_args(argv)
    twistd = str(args.venv / "bin" / "twistd")
    try:
        # As bench/run.py does: Debian's packages, when missing.
        environment.ensure_debs(("nginx-light", "wrk"))
    except environment.SetupError as e:
        print(e, file=sys.stderr)
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="proxykit-workers-bench-"))
    pm = ProcessManager(tmp)
    rows = []
    try:
        origin = servers.start_nginx(pm, tmp, None, 1024)
        for rep in range(args.reps):
            for workers in args.workers:
                row = measure(pm, origin, twistd, workers, args.duration)
                rows.append(row)
                spread = ", ".join(
                    f"w{w}: {row['connections'][w]:.0f} connections, {n:.0f} requests"  # type: ignore[index]
                    for w, n in row["per_worker"].items()  # type: ignore[attr-defined]
                )
                print(
                    f"rep {rep + 1} workers={workers}: {row['rps']:.0f} req/s,"
                    f" proxy CPU {row['cpu_s']:.2f} s ({row['cpu_us_per_request']:.0f} us/request,"
                    f" {row['rps_per_cpu_s']:.0f} req/s per CPU-second), errors {row['errors']};"
                    f" per worker: {spread}",
                    flush=True,
                )
    finally:
        pm.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nmedians over {args.reps} runs of {args.duration} s, {CONNS} connections:")
    for workers in args.workers:
        mine = [r for r in rows if r["workers"] == workers]

        def median(key: str, mine: list[dict[str, object]] = mine) -> float:
            values = sorted(float(r[key]) for r in mine)  # type: ignore[arg-type]
            return values[len(values) // 2]

        def busiest(key: str, mine: list[dict[str, object]] = mine) -> str:
            shares = sorted(s for r in mine if (s := share(r[key])) is not None)  # type: ignore[arg-type]
            return f"{100 * shares[len(shares) // 2]:.0f}%" if shares else "-"

        print(
            f"  workers={workers}: {median('rps'):.0f} req/s, {median('cpu_us_per_request'):.0f} us"
            f" proxy CPU/request, {median('rps_per_cpu_s'):.0f} req/s per proxy CPU-second,"
            f" busiest worker's share {busiest('per_worker')} of requests,"
            f" {busiest('connections')} of connections"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
