# Not a script: the shell commands of docs/tls.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start test-certificates]
mkdir -p examples/certs && cd examples/certs
# The CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 30 -subj "/CN=proxykit test CA"
# A certificate for app.example.test and its subdomains, signed by the CA.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout app.key -out app.csr -subj "/CN=app.example.test"
openssl x509 -req -in app.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out app.pem -days 30 \
    -extfile <(printf "subjectAltName=DNS:app.example.test,DNS:*.app.example.test")
# The default certificate, also valid for 127.0.0.1 (an HTTPS forward proxy).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout default.key -out default.csr -subj "/CN=localhost"
openssl x509 -req -in default.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out default.pem -days 30 \
    -extfile <(printf "subjectAltName=DNS:localhost,IP:127.0.0.1")
cd ../..    # back to the checkout
# [end test-certificates]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1 &
# [end origin]

# [start start-reverse]
.venv/bin/twistd -n proxykit reverse --config examples/reverse-tls.toml
# [end start-reverse]

# [start curl-reverse]
curl --resolve app.example.test:8443:127.0.0.1 --cacert examples/certs/ca.pem \
    https://app.example.test:8443/
# TLS 1.0 is refused:
openssl s_client -connect 127.0.0.1:8443 -servername app.example.test -tls1
# [end curl-reverse]

# [start start-forward]
.venv/bin/twistd -n proxykit forward --config examples/reverse-tls.toml
# [end start-forward]

# [start curl-forward]
curl --proxy https://127.0.0.1:8443 --proxy-cacert examples/certs/ca.pem \
    http://127.0.0.1:9001/
# [end curl-forward]
