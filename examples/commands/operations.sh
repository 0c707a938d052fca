# Not a script: the shell commands of docs/operations.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start access-log]
.venv/bin/twistd -n proxykit forward --access-log access.log
# [end access-log]

# [start format-string]
.venv/bin/twistd -n proxykit forward --access-log - \
    --access-log-format '$client_addr $method $target $status ${request_time}s $origin_addr'
# [end format-string]

# [start request-id]
curl -s -i -x http://127.0.0.1:8080 -H 'X-Request-Id: ticket-1234' http://127.0.0.1:9/
# [end request-id]

# [start check-then-reload]
.venv/bin/proxykit check --mode reverse proxy.toml && kill -HUP "$(cat twistd.pid)"
# [end check-then-reload]

# [start explain]
.venv/bin/proxykit explain examples/reverse.toml --client 192.0.2.7 http://static.example.test:8000/
# [end explain]

# [start admin]
.venv/bin/twistd -n proxykit forward --admin tcp:9901
# [end admin]

# [start admin-pages]
curl -s http://127.0.0.1:9901/healthz
curl -s http://127.0.0.1:9901/readyz
curl -s http://127.0.0.1:9901/status
curl -s http://127.0.0.1:9901/metrics
# [end admin-pages]
