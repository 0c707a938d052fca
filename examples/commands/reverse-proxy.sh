# Not a script: the shell commands of docs/reverse-proxy.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start origins]
python3 -m http.server 9001 --bind 127.0.0.1 &
python3 -m http.server 9002 --bind 127.0.0.1 &
# [end origins]

# [start start-routes]
.venv/bin/twistd -n proxykit reverse --listen tcp:8000:interface=127.0.0.1 \
    --route example.test=http://127.0.0.1:9001 \
    --route '*.example.test=http://127.0.0.1:9002'
# [end start-routes]

# [start start-group]
.venv/bin/twistd -n proxykit reverse --route 'example.test=http://127.0.0.1:9001,http://127.0.0.1:9002'
# [end start-group]

# [start curl-routes]
curl --resolve example.test:8000:127.0.0.1 http://example.test:8000/
curl --resolve www.example.test:8000:127.0.0.1 http://www.example.test:8000/
curl -i http://127.0.0.1:8000/          # no vhost for 127.0.0.1: 421
# [end curl-routes]

# [start origin-9003]
python3 -m http.server 9003 --bind 127.0.0.1 &
# [end origin-9003]

# [start start-config]
.venv/bin/twistd -n proxykit reverse --config examples/reverse.toml
# [end start-config]

# [start curl-config]
curl --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/
curl --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/api/
# [end curl-config]

# [start start-both]
.venv/bin/twistd -n proxykit reverse --route example.test=http://127.0.0.1:9001 --forward-proxy
# [end start-both]

# [start curl-both]
curl --resolve example.test:8000:127.0.0.1 http://example.test:8000/    # reverse
curl -x http://127.0.0.1:8000 http://127.0.0.1:9002/                    # forward
# [end curl-both]
