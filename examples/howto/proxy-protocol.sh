#!/usr/bin/env bash
# The commands of docs/howto/proxy-protocol.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout, with the files
# of examples/haproxy/.  tests/integration/test_howtos.py runs every step,
# on free ports.

# [start check]
.venv/bin/proxykit check examples/haproxy/proxykit-a.toml
# [end check]

# [start origin]
.venv/bin/twistd -n --pidfile origin.pid web --listen haproxy:tcp:9001:interface=127.0.0.1 --path .
# [end origin]

# [start proxy]
.venv/bin/twistd -n --pidfile proxykit-a.pid proxykit reverse --config examples/haproxy/proxykit-a.toml
# [end proxy]

# [start curl]
curl -s -o /dev/null -w '%{http_code}\n' --haproxy-protocol \
    --resolve app.example.test:8001:127.0.0.1 http://app.example.test:8001/README.md
# [end curl]

# [start curl-without]
curl -sS --resolve app.example.test:8001:127.0.0.1 http://app.example.test:8001/README.md
# [end curl-without]

# [start log]
tail -n 1 proxykit-a-access.log
# [end log]

# [start haproxy]
haproxy -db -f examples/haproxy/haproxy.cfg
# [end haproxy]
