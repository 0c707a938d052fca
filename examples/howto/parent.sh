#!/usr/bin/env bash
# The commands of docs/howto/parent-proxy.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start check]
.venv/bin/proxykit check examples/howto/parent.toml
# [end check]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start parent]
.venv/bin/twistd -n --pidfile= proxykit forward --listen tcp:3128:interface=127.0.0.1
# [end parent]

# [start proxy]
.venv/bin/twistd -n proxykit forward --config examples/howto/parent.toml
# [end proxy]

# [start curl]
curl -sI -x http://127.0.0.1:8080 http://127.0.0.1:9001/ | grep -i '^via:'
# [end curl]
