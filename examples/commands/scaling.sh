# Not a script: the shell commands of docs/scaling.rst, one marked region
# per block, run or checked by the tests (tests/integration/test_workers.py,
# test_haproxy.py, test_systemd.py and test_kubernetes.py).

# [start workers]
.venv/bin/twistd -n proxykit forward --workers 2 --admin tcp:9902
# [end workers]

# [start workers-admin]
curl -s http://127.0.0.1:9902/healthz
curl -s http://127.0.0.1:9902/readyz
curl -s http://127.0.0.1:9902/metrics
# [end workers-admin]

# [start bench]
cd bench && ../.venv/bin/python workers.py --duration 2 --reps 1
# [end bench]

# [start haproxy]
.venv/bin/twistd -n --pidfile origin.pid web --listen haproxy:tcp:9001:interface=127.0.0.1 --path .
.venv/bin/twistd -n --pidfile proxykit-a.pid proxykit reverse --config examples/haproxy/proxykit-a.toml
.venv/bin/twistd -n --pidfile proxykit-b.pid proxykit reverse --config examples/haproxy/proxykit-b.toml
haproxy -db -f examples/haproxy/haproxy.cfg
curl --resolve app.example.test:8000:127.0.0.1 http://app.example.test:8000/
# [end haproxy]

# [start systemd-install]
python3 -m venv /opt/proxykit
/opt/proxykit/bin/pip install .
/opt/proxykit/bin/python -c 'from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))'
install -D -m 0644 examples/systemd/forward.toml /etc/proxykit/forward.toml
install -m 0644 examples/systemd/proxykit-forward.socket examples/systemd/proxykit-forward.service /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now proxykit-forward.socket proxykit-forward.service
# [end systemd-install]

# [start systemd-operate]
systemctl reload proxykit-forward
systemctl stop proxykit-forward
journalctl -u proxykit-forward -f
tail -f /var/log/proxykit-forward/access.log
systemctl kill -s USR1 proxykit-forward
# [end systemd-operate]

# [start systemd-application]
python3 -m http.server 8001 --bind 127.0.0.1
# [end systemd-application]

# [start systemd-activate]
systemd-socket-activate -l 127.0.0.1:8080 --fdname=proxykit-reverse.socket .venv/bin/twistd -n --pidfile= proxykit reverse --config examples/systemd/reverse.toml --listen systemd:domain=INET:index=0 --access-log -
# [end systemd-activate]

# [start systemd-curl]
curl -H 'Host: www.example.com' http://127.0.0.1:8080/
# [end systemd-curl]

# [start kubernetes-check]
.venv/bin/python -c 'import sys, yaml; sys.stdout.write(yaml.safe_load(open("examples/kubernetes/configmap.yaml"))["data"]["reverse.toml"])' > reverse.toml
.venv/bin/proxykit check reverse.toml --mode reverse
# [end kubernetes-check]
