#!/usr/bin/env bash
# The commands of docs/howto/workers.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start check]
.venv/bin/proxykit check examples/howto/workers.toml
# [end check]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start proxy]
.venv/bin/twistd -n proxykit forward --config examples/howto/workers.toml
# [end proxy]

# [start curl]
curl -s -o /dev/null -w '%{http_code}\n' -x http://127.0.0.1:8080 http://127.0.0.1:9001/
curl -s http://127.0.0.1:9900/metrics | grep -E '^proxykit_worker(s|_up)'
# [end curl]
