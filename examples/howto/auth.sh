#!/usr/bin/env bash
# The commands of docs/howto/authentication.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start password-file]
mkdir -p examples/certs
.venv/bin/python -c 'import bcrypt; print("alice:" + bcrypt.hashpw(b"wonderland", bcrypt.gensalt()).decode())' \
    > examples/certs/htpasswd
# [end password-file]

# [start htpasswd]
htpasswd -B -c examples/certs/htpasswd alice
# [end htpasswd]

# [start check]
.venv/bin/proxykit check examples/howto/auth.toml
# [end check]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start proxy]
.venv/bin/twistd -n proxykit forward --config examples/howto/auth.toml
# [end proxy]

# [start curl]
curl -s -o /dev/null -w '%{http_code}\n' -x http://127.0.0.1:8080 http://127.0.0.1:9001/
curl -s -o /dev/null -w '%{http_code}\n' -x http://127.0.0.1:8080 -U alice:wonderland http://127.0.0.1:9001/
# [end curl]
