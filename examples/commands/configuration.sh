# Not a script: the shell commands of docs/configuration.rst, one marked
# region per block, run or checked by the tests
# (tests/integration/test_commands.py, tests/test_explain.py).

# [start forward]
.venv/bin/twistd -n proxykit forward --config examples/forward.toml --connect-timeout 5
.venv/bin/twistd -n proxykit forward --listen tcp:3128:interface=127.0.0.1 --listen 'tcp6:3128:interface=\:\:1'
# [end forward]

# [start reverse]
.venv/bin/twistd -n proxykit reverse --config examples/reverse.toml
.venv/bin/twistd -n proxykit reverse --listen tcp:8000:interface=127.0.0.1 \
    --route example.test=http://127.0.0.1:9001 \
    --route '*.example.test=http://127.0.0.1:9002,http://127.0.0.1:9003'
# [end reverse]

# [start forward-example]
.venv/bin/twistd -n proxykit forward --config examples/forward.toml
# [end forward-example]

# [start check]
.venv/bin/proxykit check examples/reverse.toml
.venv/bin/proxykit check --mode forward examples/forward.toml
# [end check]

# [start explain]
.venv/bin/proxykit explain examples/forward.toml http://127.0.0.1:9001/
.venv/bin/proxykit explain examples/forward.toml --client 192.0.2.7 example.com:443
.venv/bin/proxykit explain examples/reverse.toml http://app.example.test:8000/api/users
.venv/bin/proxykit explain --json examples/reverse.toml --method CONNECT app.example.test:443
# [end explain]
