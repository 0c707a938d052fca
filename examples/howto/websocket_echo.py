"""
A WebSocket echo server and client, to try WebSocket through the reverse
proxy of docs/howto/websocket.rst.  They use the websockets package
(.venv/bin/pip install websockets).

    python examples/howto/websocket_echo.py serve PORT
    python examples/howto/websocket_echo.py send URL MESSAGE

The server, on 127.0.0.1:PORT, answers each message with the message and
the Via field of the handshake it received; the client sends MESSAGE to
URL and prints the answer.
"""

import os
import sys

from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve


def echo(websocket: ServerConnection) -> None:
    via = websocket.request.headers.get("Via") if websocket.request else None
    for message in websocket:
        websocket.send(f"{message!s} (via {via})")


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        try:
            server = serve(echo, "127.0.0.1", int(argv[1]))
        except OSError as e:
            sys.exit(f"{sys.argv[0]}: cannot listen on 127.0.0.1:{argv[1]}: {os.strerror(e.errno)}")
        with server:
            print(f"echo server listening on 127.0.0.1:{server.socket.getsockname()[1]}", flush=True)
            server.serve_forever()
    elif argv[:1] == ["send"]:
        with connect(argv[1]) as websocket:
            websocket.send(argv[2])
            print(websocket.recv())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
