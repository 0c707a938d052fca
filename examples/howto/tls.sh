#!/usr/bin/env bash
# The commands of docs/howto/tls.rst, one step between each [start NAME]
# and [end NAME] marker, run from the checkout.
# tests/integration/test_howtos.py runs every step, on free ports.

# [start certificate]
mkdir -p examples/certs
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost \
    -keyout examples/certs/localhost.key -out examples/certs/localhost.pem
# [end certificate]

# [start check]
.venv/bin/proxykit check examples/howto/tls.toml
# [end check]

# [start origin]
openssl s_server -accept 127.0.0.1:9443 -www -cert examples/certs/localhost.pem -key examples/certs/localhost.key
# [end origin]

# [start proxy]
.venv/bin/twistd -n proxykit reverse --config examples/howto/tls.toml
# [end proxy]

# [start curl]
curl -s --cacert examples/certs/localhost.pem https://localhost:8443/ | grep '^New, TLS'
# [end curl]

# [start plain-refused]
curl -s http://localhost:8443/
# [end plain-refused]
