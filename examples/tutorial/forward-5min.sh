#!/usr/bin/env bash
# The commands of docs/tutorials/forward-proxy.rst, "A forward proxy in five
# minutes", one step between each [start NAME] and [end NAME] marker, run
# from the checkout.  The page says which steps run in a terminal of their
# own (the proxy and the servers: they stay in the foreground).
# tests/integration/test_tutorials.py runs every step, on free ports.

# [start proxy]
./dev.sh start
# [end proxy]

# [start origin]
python3 -m http.server 9001 --bind 127.0.0.1
# [end origin]

# [start curl-http]
curl -i -x http://127.0.0.1:8080 http://127.0.0.1:9001/
# [end curl-http]

# [start proxy-connect]
./dev.sh start --connect-port 443 --connect-port 8443
# [end proxy-connect]

# [start certificate]
mkdir -p examples/certs
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost \
    -keyout examples/certs/localhost.key -out examples/certs/localhost.pem
# [end certificate]

# [start tls-server]
openssl s_server -accept 127.0.0.1:8443 -www -cert examples/certs/localhost.pem -key examples/certs/localhost.key
# [end tls-server]

# [start curl-https]
curl --cacert examples/certs/localhost.pem -p -x http://127.0.0.1:8080 https://localhost:8443/
# [end curl-https]

# [start curl-refused]
curl -i -p -x http://127.0.0.1:8080 https://localhost:25/
# [end curl-refused]

# [start browser]
chromium --user-data-dir="$(mktemp -d)" --proxy-server=http://127.0.0.1:8080 http://127.0.0.1:9001/
# [end browser]

# [start environment]
export http_proxy=http://127.0.0.1:8080 https_proxy=http://127.0.0.1:8080
export HTTP_PROXY=$http_proxy HTTPS_PROXY=$https_proxy
export no_proxy=localhost NO_PROXY=localhost
# [end environment]

# [start environment-curl]
curl -sI http://127.0.0.1:9001/ | grep -i '^via:'
# [end environment-curl]

# [start environment-python]
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9001/").headers["Via"])'
# [end environment-python]

# [start no-proxy]
NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 \
    python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9001/").headers["Via"])'
# [end no-proxy]
