#!/usr/bin/env bash
# The commands of docs/howto/access-log.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start check]
.venv/bin/proxykit check examples/howto/access-log.toml
# [end check]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start proxy]
.venv/bin/twistd -n proxykit forward --config examples/howto/access-log.toml
# [end proxy]

# [start curl]
curl -s -o /dev/null -x http://127.0.0.1:8080 http://127.0.0.1:9001/
# [end curl]

# [start tail]
tail -n 1 access.log
# [end tail]

# [start rotate]
mv access.log access.log.1
kill -USR1 "$(cat twistd.pid)"
# [end rotate]
