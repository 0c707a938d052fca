#!/usr/bin/env bash
# The commands of docs/howto/health-checks.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start check]
.venv/bin/proxykit check examples/howto/health.toml
# [end check]

# [start origin-docs]
python3 -m http.server 9001 --bind 127.0.0.1 --directory docs
# [end origin-docs]

# [start origin-examples]
python3 -m http.server 9002 --bind 127.0.0.1 --directory examples
# [end origin-examples]

# [start proxy]
.venv/bin/twistd -n proxykit reverse --config examples/howto/health.toml
# [end proxy]

# [start curl]
for i in 1 2 3 4; do
    curl -s --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/ \
        | grep -o -E 'href="(conf\.py|forward\.toml)"'
done | sort | uniq -c
# [end curl]
