#!/usr/bin/env bash
# The commands of docs/tutorials/two-sites.rst, "Two sites on one port with
# TLS", one step between each [start NAME] and [end NAME] marker, run from
# the checkout.  The servers stay in the foreground, each in a terminal of
# its own.  tests/integration/test_tutorials.py runs every step, on free
# ports.

# [start certificates]
mkdir -p examples/certs
for site in docs examples; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=$site.example.test" -addext "subjectAltName=DNS:$site.example.test" \
        -keyout "examples/certs/$site.key" -out "examples/certs/$site.pem"
done
# [end certificates]

# [start check]
.venv/bin/proxykit check examples/tutorial/two-sites.toml
# [end check]

# [start origin-docs]
python3 -m http.server 9001 --bind 127.0.0.1 --directory docs
# [end origin-docs]

# [start origin-examples]
python3 -m http.server 9002 --bind 127.0.0.1 --directory examples
# [end origin-examples]

# [start proxy]
.venv/bin/twistd -n proxykit reverse --config examples/tutorial/two-sites.toml
# [end proxy]

# [start curl-sites]
curl --resolve docs.example.test:8443:127.0.0.1 --cacert examples/certs/docs.pem \
    https://docs.example.test:8443/conf.py
curl --resolve examples.example.test:8443:127.0.0.1 --cacert examples/certs/examples.pem \
    https://examples.example.test:8443/forward.toml
# [end curl-sites]

# [start sni]
openssl s_client -connect 127.0.0.1:8443 -servername examples.example.test </dev/null 2>/dev/null \
    | openssl x509 -noout -subject
# [end sni]

# [start wrong-certificate]
curl --resolve examples.example.test:8443:127.0.0.1 --cacert examples/certs/docs.pem \
    https://examples.example.test:8443/
# [end wrong-certificate]

# [start redirect]
curl -i --resolve docs.example.test:8000:127.0.0.1 http://docs.example.test:8000/conf.py
# [end redirect]

# [start follow]
curl -L --resolve docs.example.test:8000:127.0.0.1 --resolve docs.example.test:8443:127.0.0.1 \
    --cacert examples/certs/docs.pem http://docs.example.test:8000/conf.py
# [end follow]
