"""
Memory per idle keep-alive client connection (issue 14's "10,000 idle
keep-alive client connections held at no more than 5 KiB each").

Starts an origin (asyncio, keep-alive, 100-byte body) and C{twistd
proxykit forward} on loopback, measures the proxy's resident memory, then
opens C{--connections} client connections in batches; each sends one
absolute-form GET through the proxy, reads the whole response and stays
open, idle.  Once all are open and idle, the proxy's resident memory is
read again: the growth over the connection count is the cost of one idle
connection (the origin connections the pool keeps idle are counted in it
too; at most C{pool.max_idle_per_origin}).

    .venv/bin/python bench/idle_connections.py [--connections N] [--batch B]

Traffic stays on 127.0.0.1; the run is bounded by the connection count and
C{--timeout} seconds.
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

BODY = b"x" * 100
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n" + BODY
)


async def origin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def rss(pid: int) -> int:
    """
    The resident memory of process C{pid}, in KiB.
    """
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))  # type: ignore[union-attr]


async def client(port: int, request: bytes) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    await reader.readexactly(100)
    return writer


async def main(args: argparse.Namespace) -> int:
    server = await asyncio.start_server(origin, "127.0.0.1", 0, backlog=4096)
    originPort = server.sockets[0].getsockname()[1]
    logPath = os.path.join(tempfile.mkdtemp(prefix="idle-"), "proxy.log")
    log = open(logPath, "w")
    twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
    proxy = subprocess.Popen(
        [twistd, "-n", "--pidfile=", "proxykit", "forward",
         "--listen", "tcp:0:interface=127.0.0.1", "--idle-timeout", "600"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + args.timeout
    try:
        port = None
        while port is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
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
        # One request first: the pool, the parser and the code are warm.
        warm = await client(port, request)
        warm.close()
        before = rss(proxy.pid)
        writers: list[asyncio.StreamWriter] = []
        while len(writers) < args.connections and time.monotonic() < deadline:
            count = min(args.batch, args.connections - len(writers))
            writers += await asyncio.gather(*(client(port, request) for _ in range(count)))
        if len(writers) < args.connections:
            print(f"only {len(writers)} connections opened in time", file=sys.stderr)
            return 1
        after = rss(proxy.pid)
        perConnection = (after - before) / len(writers)
        print(
            f"{len(writers)} idle keep-alive connections: proxy RSS {before} KiB -> "
            f"{after} KiB, {perConnection:.2f} KiB per connection"
        )
        for writer in writers:
            writer.close()
        return 0
    finally:
        proxy.terminate()
        try:
            proxy.wait(30)
        except subprocess.TimeoutExpired:
            proxy.kill()
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=300.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
