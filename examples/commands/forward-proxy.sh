# Not a script: the shell commands of docs/forward-proxy.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start start-other-port]
./dev.sh start --listen tcp:3128:interface=127.0.0.1
# [end start-other-port]

# [start start]
.venv/bin/twistd -n proxykit forward
.venv/bin/twistd -n proxykit forward --listen tcp:3128:interface=127.0.0.1 --connect-port 443 --connect-port 8443
.venv/bin/twistd -n proxykit forward --config examples/forward.toml
# [end start]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start curl]
curl -x http://127.0.0.1:8080 http://127.0.0.1:9001/
# [end curl]

# [start curl-env]
http_proxy=http://127.0.0.1:8080 curl http://127.0.0.1:9001/
# [end curl-env]

# [start start-connect-ports]
./dev.sh start --connect-port 443 --connect-port 8443
# [end start-connect-ports]

# [start test-server]
mkdir -p examples/certs
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost \
    -keyout examples/certs/localhost.key -out examples/certs/localhost.pem
openssl s_server -accept 127.0.0.1:8443 -www \
    -cert examples/certs/localhost.pem -key examples/certs/localhost.key &
# [end test-server]

# [start curl-connect]
curl --cacert examples/certs/localhost.pem -p -x http://127.0.0.1:8080 https://localhost:8443/
# [end curl-connect]
