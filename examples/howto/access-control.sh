#!/usr/bin/env bash
# The commands of docs/howto/access-control.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start check]
.venv/bin/proxykit check examples/howto/access-control.toml
# [end check]

# [start explain]
.venv/bin/proxykit explain --client 198.51.100.7 examples/howto/access-control.toml http://127.0.0.1:9001/ | tail -1
.venv/bin/proxykit explain --client 192.0.2.7 examples/howto/access-control.toml http://db.internal.example/ | tail -1
# [end explain]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start proxy]
.venv/bin/twistd -n proxykit forward --config examples/howto/access-control.toml
# [end proxy]

# [start curl]
curl -s -o /dev/null -w '%{http_code}\n' -x http://127.0.0.1:8080 http://127.0.0.1:9001/
curl -s -o /dev/null -w '%{http_code}\n' -x http://127.0.0.1:8080 http://db.internal.example/
# [end curl]
