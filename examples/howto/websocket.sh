#!/usr/bin/env bash
# The commands of docs/howto/websocket.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports (but the
# installation, which the test environment has done).

# [start install]
.venv/bin/pip install websockets
# [end install]

# [start check]
.venv/bin/proxykit check examples/howto/websocket.toml
# [end check]

# [start origin]
.venv/bin/python examples/howto/websocket_echo.py serve 9001
# [end origin]

# [start proxy]
.venv/bin/twistd -n proxykit reverse --config examples/howto/websocket.toml
# [end proxy]

# [start send]
.venv/bin/python examples/howto/websocket_echo.py send ws://127.0.0.1:8000/ hello
# [end send]
