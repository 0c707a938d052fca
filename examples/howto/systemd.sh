#!/usr/bin/env bash
# The commands of docs/howto/systemd.rst, one step between each
# [start NAME] and [end NAME] marker, with the files of examples/systemd/.
# tests/integration/test_howtos.py runs the steps that need no root and no
# systemd as PID 1 (on free ports), and checks the form of the others.

# [start try]
systemd-socket-activate -l 127.0.0.1:3128 --fdname=proxykit-forward.socket .venv/bin/twistd -n --pidfile= proxykit forward --config examples/systemd/forward.toml --listen systemd:domain=INET:index=0 --access-log -
# [end try]

# [start try-curl]
curl -s -o /dev/null -w '%{http_code}\n' -x http://127.0.0.1:3128 http://127.0.0.1:9001/
curl -s http://127.0.0.1:9901/readyz
# [end try-curl]

# [start install]
sudo python3 -m venv /opt/proxykit
sudo /opt/proxykit/bin/pip install .
sudo /opt/proxykit/bin/python -c 'from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))'
sudo install -D -m 0644 examples/systemd/forward.toml /etc/proxykit/forward.toml
sudo install -m 0644 examples/systemd/proxykit-forward.socket examples/systemd/proxykit-forward.service /etc/systemd/system/
sudo systemctl daemon-reload
sudo systemctl enable --now proxykit-forward.socket proxykit-forward.service
# [end install]

# [start status]
systemctl status proxykit-forward.socket proxykit-forward.service
curl -s http://127.0.0.1:9901/readyz
# [end status]

# [start reload]
sudo systemctl reload proxykit-forward
journalctl -u proxykit-forward -n 20
# [end reload]
