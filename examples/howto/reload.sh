#!/usr/bin/env bash
# The commands of docs/howto/reload.rst, one step between each [start NAME]
# and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start copy]
.venv/bin/proxykit check examples/howto/reload.toml
cp examples/howto/reload.toml "${TMPDIR:-/tmp}/proxykit-reload.toml"
# [end copy]

# [start origin-docs]
python3 -m http.server 9001 --bind 127.0.0.1 --directory docs
# [end origin-docs]

# [start origin-examples]
python3 -m http.server 9002 --bind 127.0.0.1 --directory examples
# [end origin-examples]

# [start proxy]
.venv/bin/twistd -n proxykit reverse --config "${TMPDIR:-/tmp}/proxykit-reload.toml"
# [end proxy]

# [start curl-before]
curl -s --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/ \
    | grep -o -E 'href="(conf\.py|forward\.toml)"'
# [end curl-before]

# [start edit]
sed -i 's/127.0.0.1:9001/127.0.0.1:9002/' "${TMPDIR:-/tmp}/proxykit-reload.toml"
.venv/bin/proxykit check "${TMPDIR:-/tmp}/proxykit-reload.toml"
# [end edit]

# [start reload]
kill -HUP "$(cat twistd.pid)"
# [end reload]

# [start curl-after]
curl -s --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/ \
    | grep -o -E 'href="(conf\.py|forward\.toml)"'
# [end curl-after]
