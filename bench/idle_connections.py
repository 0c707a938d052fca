"""
Memory per idle keep-alive client connection (issue 14's "10,000 idle
keep-alive client connections held at no more than 5 KiB each").

Starts an origin (asyncio, keep-alive, 100-byte body) and C{twistd
proxykit forward} on loopback, then runs the measure of
C{bench/harness/scale.py} (C{hold_idle}), which C{bench/run.py} runs as its
C{idle} phase: it reads the proxy's resident memory, opens
C{--connections} client connections in batches, each sending one
absolute-form GET through the proxy, reading the whole response and
staying open, idle; reads the memory again, and sends a second request on
every connection to check that the proxy held them all.  The growth over
the connection count is the cost of one idle connection (the origin
connections the pool keeps idle are counted in it too; at most
C{pool.max_idle_per_origin}).

    .venv/bin/python bench/idle_connections.py [--connections N] [--batch B]

Traffic stays on 127.0.0.1; the run is bounded by the connection count and
C{--timeout} seconds.  It needs N + 64 open files for itself (its soft
limit is raised to the hard limit) and raises the proxy's connection cap
(C{[limits] max_client_connections}) to N + 64.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time

from harness import scale


async def main(args: argparse.Namespace) -> int:
    try:
        scale.raise_file_limit(scale.descriptors_for_idle(args.connections))
    except scale.ScaleError as exc:
        print(exc, file=sys.stderr)
        return 1
    server = await asyncio.start_server(scale.small_origin, "127.0.0.1", 0, backlog=4096)
    originPort = server.sockets[0].getsockname()[1]
    directory = tempfile.mkdtemp(prefix="idle-")
    logPath = os.path.join(directory, "proxy.log")
    configPath = os.path.join(directory, "proxykit.toml")
    with open(configPath, "w") as f:
        f.write(scale.proxy_config(args.connections))
    log = open(logPath, "w")
    twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
    proxy = subprocess.Popen(
        [twistd, "-n", "--pidfile=", "proxykit", "forward",
         "--listen", "tcp:0:interface=127.0.0.1", "--idle-timeout", "3600",
         "--config", configPath],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + args.timeout
    try:
        port = None
        while port is None and time.monotonic() < deadline and proxy.poll() is None:
            await asyncio.sleep(0.1)  # polling the proxy's log for its port
            with open(logPath) as f:
                found = re.search(r"ProxyFactory starting on (\d+)", f.read())
            port = int(found.group(1)) if found else None
        if port is None:
            print("the proxy did not start", file=sys.stderr)
            return 1
        request = (
            f"GET http://127.0.0.1:{originPort}/small HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{originPort}\r\n\r\n"
        ).encode()
        result = await scale.hold_idle(
            port,
            request,
            proxy.pid,
            args.connections,
            batch=args.batch,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        if result.error:
            print(result.error, file=sys.stderr)
            return 1
        print(
            f"{result.held} idle keep-alive connections: proxy RSS {result.before_kib} KiB -> "
            f"{result.after_kib} KiB, {result.kib_per_connection:.2f} KiB per connection"
        )
        return 0
    finally:
        proxy.terminate()
        try:
            proxy.wait(30)
        except subprocess.TimeoutExpired:
            proxy.kill()
        log.close()
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=300.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
