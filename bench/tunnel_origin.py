"""A raw TCP origin for the CONNECT tunnel benchmark of bench/run.py.

After accepting a connection it writes N bytes from a preallocated buffer and
closes the connection.  It speaks no protocol and reads nothing.  Listens on
127.0.0.1 only; serves each connection in its own thread.

Usage: python3 tunnel_origin.py PORT NBYTES
"""

from __future__ import annotations

import socket
import sys
import threading

CHUNK = 1 << 20


def blast(conn: socket.socket, total: int, buf: memoryview) -> None:
    """Send ``total`` bytes on ``conn`` then close it."""
    try:
        remaining = total
        while remaining > 0:
            n = min(remaining, len(buf))
            conn.sendall(buf[:n])
            remaining -= n
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        conn.close()


def serve(port: int, total: int) -> None:
    buf = memoryview(bytes(range(256)) * (CHUNK // 256))
    with socket.create_server(("127.0.0.1", port), backlog=64) as srv:
        while True:
            conn, _ = srv.accept()
            worker = threading.Thread(
                target=blast, args=(conn, total, buf), daemon=True
            )
            worker.start()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
