# Not a script: the shell commands of docs/security.rst, one marked region
# per block, run or checked by the tests (tests/test_docs.py).

# [start logfile]
.venv/bin/twistd -n --logfile proxykit.log proxykit forward
# [end logfile]

# [start json-logger]
PYTHONPATH=. .venv/bin/twistd -n --logger proxykit_log.observer proxykit forward
# [end json-logger]

# [start htpasswd]
htpasswd -B -c /etc/proxykit/htpasswd alice
.venv/bin/twistd -n proxykit forward --config /etc/proxykit/forward.toml
curl --proxy-user alice -x http://192.0.2.10:3128 http://example.com/
# [end htpasswd]
