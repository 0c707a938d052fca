"""
The how-to guides of C{docs/howto/}, run as written: every step of each
C{examples/howto/*.sh} (and the files it uses), in a copy of the checkout,
on free ports, with curl, openssl and Python as the clients.  Steps that
need what a test machine lacks (a browser, a cluster, systemd as PID 1)
are checked for form instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import attrs
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest

from ._subprocess import Child
from .test_tutorials import ORIGIN_READY, PROXY_READY, TutorialTestCase, needs


@attrs.frozen
class Serve:
    """
    The step is a server: start it and wait for a line matching C{ready}.
    """

    ready: str = PROXY_READY


@attrs.frozen
class Ok:
    """
    The step runs to its end, status 0, and its output matches each of
    C{patterns} (regular expressions; C{(?m)} for line anchors).
    """

    patterns: tuple[str, ...] = ()


@attrs.frozen
class Output:
    """
    The step runs to its end, status 0, and writes exactly C{text}.
    """

    text: str


@attrs.frozen
class Fails:
    """
    The step exits with a non-zero status and writes C{pattern} (on either
    output).
    """

    pattern: str


@attrs.frozen
class Form:
    """
    The step is not run (it needs what a test machine lacks); its text,
    ports moved, matches C{pattern}.
    """

    pattern: str


@attrs.frozen
class Stop:
    """
    Not a step of the file: stop the server the step C{step} started.
    """

    step: str


@attrs.frozen
class Logged:
    """
    Not a step of the file: wait until the server of step C{step} logs a
    line matching C{pattern}.
    """

    step: str
    pattern: str


@attrs.frozen
class Written:
    """
    Not a step of the file: wait until the file C{path} (in the checkout)
    has at least C{count} lines, as a server writes them in its own time.
    """

    path: str
    count: int = 1


WRITE_TIMEOUT = 10.0
"""Seconds a server may take to write a file's lines."""


Walk = Sequence[tuple[str, Any]]


class HowtoTestCase(TutorialTestCase):
    """
    Walk through a how-to's commands file.
    """

    def walk(self, name: str, files: Sequence[str], ports: Sequence[int], walk: Walk) -> Any:
        """
        Run the steps of C{examples/howto/NAME.sh} as C{walk} says, in a
        checkout with C{files} (under C{examples/}) copied, C{ports} moved.
        Every step of the file is in C{walk}, in the file's order.
        """
        checkout = self.checkout([f"howto/{name}.sh", *files], list(ports))
        steps = checkout.steps(f"howto/{name}.sh")
        walked = [step for step, action in walk if not isinstance(action, (Stop, Logged, Written))]
        self.assertEqual(walked, list(steps), f"{name}.sh: the steps walked are not the file's")

        def run() -> None:
            servers: dict[str, Child] = {}
            for step, action in walk:
                if isinstance(action, Serve):
                    servers[step] = checkout.serve(steps[step], action.ready)
                elif isinstance(action, Stop):
                    child = servers.pop(action.step)
                    child.stop()
                    checkout.children.remove(child)
                elif isinstance(action, Logged):
                    servers[action.step].waitForLine(action.pattern)
                elif isinstance(action, Written):
                    self.waitForLines(os.path.join(checkout.top, action.path), action.count)
                elif isinstance(action, Form):
                    self.assertRegex(steps[step], action.pattern)
                else:
                    result = checkout.run(steps[step])
                    where = f"{name}.sh, step {step}:\n{result.stdout}\n{result.stderr}"
                    if isinstance(action, Fails):
                        self.assertNotEqual(result.returncode, 0, where)
                        self.assertRegex(result.stdout + result.stderr, action.pattern)
                    elif isinstance(action, Output):
                        self.assertEqual((result.returncode, result.stdout), (0, action.text), where)
                    else:
                        self.assertEqual(result.returncode, 0, where)
                        for pattern in action.patterns:
                            self.assertRegex(result.stdout, pattern, where)

        return deferToThread(run)

    def waitForLines(self, path: str, count: int) -> None:
        """
        Wait, at most L{WRITE_TIMEOUT} seconds, until C{path} has C{count}
        lines.
        """
        deadline = time.monotonic() + WRITE_TIMEOUT
        while True:
            lines = open(path).read().splitlines() if os.path.exists(path) else []
            if len(lines) >= count:
                return
            if time.monotonic() > deadline:
                self.fail(f"{path}: {len(lines)} lines after {WRITE_TIMEOUT}s, not {count}")
            time.sleep(0.05)


class AccessControlTests(HowtoTestCase):
    """
    C{docs/howto/access-control.rst}.
    """

    def test_steps(self) -> Any:
        """
        C{proxykit explain} refuses a client of another network and a denied
        destination; the proxy serves an allowed request and refuses the
        denied destination with 403.
        """
        needs("curl")
        return self.walk(
            "access-control",
            ["howto/access-control.toml"],
            [8080, 9001],
            [
                ("check", Ok((r"ok \(forward mode\)",))),
                (
                    "explain",
                    Output(
                        "decision: refuse 403 client not allowed (decided by client ACL)\n"
                        "decision: refuse 403 destination denied (decided by routing)\n"
                    ),
                ),
                ("origin", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("curl", Output("200\n403\n")),
            ],
        )


class AuthenticationTests(HowtoTestCase):
    """
    C{docs/howto/authentication.rst}.
    """

    def test_steps(self) -> Any:
        """
        The password file the page makes is accepted; without credentials
        the proxy answers 407, with them the request is served.
        """
        needs("curl")
        return self.walk(
            "auth",
            ["howto/auth.toml"],
            [8080, 9001],
            [
                ("password-file", Ok()),
                ("htpasswd", Form(r"^htpasswd -B -c examples/certs/htpasswd alice\n$")),
                ("check", Ok((r"ok \(forward mode\)",))),
                ("origin", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("curl", Output("407\n200\n")),
            ],
        )



class ParentProxyTests(HowtoTestCase):
    """
    C{docs/howto/parent-proxy.rst}.
    """

    def test_steps(self) -> Any:
        """
        A request through the proxy goes through its parent too: the
        response carries both C{Via} entries, the parent's first.
        """
        needs("curl")
        return self.walk(
            "parent",
            ["howto/parent.toml"],
            [8080, 3128, 9001],
            [
                ("check", Ok((r"parent proxy: http://127\.0\.0\.1:\d+",))),
                ("origin", Serve(ORIGIN_READY)),
                ("parent", Serve()),
                ("proxy", Serve()),
                ("curl", Output("Via: 1.0 proxykit\nVia: 1.1 office\n")),
            ],
        )


class LoadBalancingTests(HowtoTestCase):
    """
    C{docs/howto/load-balancing.rst}.
    """

    def test_steps(self) -> Any:
        """
        Of six requests, the origin of weight 2 gets four.
        """
        needs("curl")
        return self.walk(
            "balance",
            ["howto/balance.toml"],
            [8000, 9001, 9002],
            [
                ("check", Ok((r"ok \(reverse mode\)",))),
                ("origin-docs", Serve(ORIGIN_READY)),
                ("origin-examples", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("curl", Output("      2 href=\"conf.py\"\n      4 href=\"forward.toml\"\n")),
            ],
        )


class HealthCheckTests(HowtoTestCase):
    """
    C{docs/howto/health-checks.rst}.
    """

    def test_steps(self) -> Any:
        """
        Once the second origin is stopped, the proxy logs that it is down
        and sends every request to the first.
        """
        needs("curl")
        return self.walk(
            "health",
            ["howto/health.toml"],
            [8000, 9001, 9002],
            [
                ("check", Ok((r"ok \(reverse mode\)",))),
                ("origin-docs", Serve(ORIGIN_READY)),
                ("origin-examples", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("origin-examples", Stop("origin-examples")),
                ("proxy", Logged("proxy", r"origin http://127\.0\.0\.1:\d+ is down after 2 failed health checks")),
                ("curl", Output("      4 href=\"conf.py\"\n")),
            ],
        )


class WebSocketTests(HowtoTestCase):
    """
    C{docs/howto/websocket.rst}.
    """

    def test_steps(self) -> Any:
        """
        A WebSocket message sent through the proxy is echoed by the origin,
        which received the handshake with the proxy's C{Via} (both ends are
        C{examples/howto/websocket_echo.py}, which the steps run).
        """
        try:
            import websockets  # noqa: F401
        except ImportError:
            raise SkipTest("websockets is not installed (pip install '.[test]')")
        return self.walk(
            "websocket",
            ["howto/websocket.toml"],
            [8000, 9001],
            [
                ("install", Form(r"^\.venv/bin/pip install websockets\n$")),
                ("check", Ok((r"ok \(reverse mode\)",))),
                ("origin", Serve(r"echo server listening on")),
                ("proxy", Serve()),
                ("send", Output("hello (via 1.1 proxykit)\n")),
            ],
        )


class TLSTests(HowtoTestCase):
    """
    C{docs/howto/tls.rst}.
    """

    def test_steps(self) -> Any:
        """
        curl, trusting the certificate the page makes, reaches the proxy
        over TLS, and the proxy reaches the HTTPS origin (verifying it);
        plain HTTP to the TLS port gets a 400 saying to use https.
        """
        needs("curl", "openssl")
        return self.walk(
            "tls",
            ["howto/tls.toml"],
            [8443, 9443],
            [
                ("certificate", Ok()),
                ("check", Ok((r"ok \(reverse mode\)", r"\(TLS\)"))),
                ("origin", Serve(r"^ACCEPT")),
                ("proxy", Serve()),
                ("curl", Ok((r"^New, TLSv1\.[23], Cipher is ",))),
                ("plain-refused", Ok((r"^400 Bad Request: plain HTTP was sent to a TLS port; use https://",))),
            ],
        )


class AccessLogTests(HowtoTestCase):
    """
    C{docs/howto/access-log.rst}.
    """

    def test_steps(self) -> Any:
        """
        curl's request through the proxy is a line of the access log in the
        Combined Log Format; after the file is moved away, C{SIGUSR1} makes
        the proxy reopen it by name.
        """
        needs("curl")
        combined = r'^127\.0\.0\.1 - - \[[^]]+\] "GET http://127\.0\.0\.1:\d+/ HTTP/1\.1" 200 \d+ "-" "curl/'
        return self.walk(
            "access-log",
            ["howto/access-log.toml"],
            [8080, 9001],
            [
                ("check", Ok((r"ok \(forward mode\)",))),
                ("origin", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("curl", Output("")),
                ("proxy", Written("access.log")),
                ("tail", Ok((combined,))),
                ("rotate", Output("")),
                ("proxy", Logged("proxy", r"reopened the access log")),
            ],
        )


class MetricsTests(HowtoTestCase):
    """
    C{docs/howto/metrics.rst}.
    """

    def test_steps(self) -> Any:
        """
        After a request through the proxy, the admin listener's metrics
        count it, and C{/readyz} says the proxy is ready.
        """
        needs("curl")
        return self.walk(
            "metrics",
            ["howto/metrics.toml"],
            [8080, 9001, 9900],
            [
                ("check", Ok((r"ok \(forward mode\)",))),
                ("origin", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("curl", Ok((r'(?m)^proxykit_requests_total\{.*code_class="2xx".*\} 1\.0$', r"(?m)^ready$"))),
            ],
        )


class ReloadTests(HowtoTestCase):
    """
    C{docs/howto/reload.rst}.
    """

    def test_steps(self) -> Any:
        """
        After the copy of the configuration is edited and the proxy gets
        C{SIGHUP}, it logs the reload and requests reach the new origin.
        """
        needs("curl")
        return self.walk(
            "reload",
            ["howto/reload.toml"],
            [8000, 9001, 9002],
            [
                ("copy", Ok((r"ok \(reverse mode\)",))),
                ("origin-docs", Serve(ORIGIN_READY)),
                ("origin-examples", Serve(ORIGIN_READY)),
                ("proxy", Serve()),
                ("curl-before", Output('href="conf.py"\n')),
                ("edit", Ok((r"ok \(reverse mode\)",))),
                ("reload", Output("")),
                ("proxy", Logged("proxy", r"reloaded the configuration from .*proxykit-reload\.toml: .*origins \+http://127\.0\.0\.1:\d+")),
                ("curl-after", Output('href="forward.toml"\n')),
            ],
        )


class WorkersTests(HowtoTestCase):
    """
    C{docs/howto/workers.rst}.
    """

    def test_steps(self) -> Any:
        """
        C{proxykit check} says two workers run; both start, the request is
        served, and the metrics show both workers up.
        """
        needs("curl")
        return self.walk(
            "workers",
            ["howto/workers.toml"],
            [8080, 9001, 9900],
            [
                ("check", Ok((r"(?m)^workers: 2 ",))),
                ("origin", Serve(ORIGIN_READY)),
                ("proxy", Serve(r"worker 1: .*proxykit started")),
                ("proxy", Logged("proxy", r"worker 2: .*proxykit started")),
                (
                    "curl",
                    Output(
                        "200\n"
                        "proxykit_workers 2.0\n"
                        'proxykit_worker_up{worker="1"} 1.0\n'
                        'proxykit_worker_up{worker="2"} 1.0\n'
                    ),
                ),
            ],
        )


class ProxyProtocolTests(HowtoTestCase):
    """
    C{docs/howto/proxy-protocol.rst}, with C{examples/haproxy/proxykit-a.toml}.
    """

    def test_steps(self) -> Any:
        """
        A request that starts with a PROXY header is served through the
        origin's PROXY listener; one without is closed unanswered; the
        access log names the client the header named.
        """
        needs("curl")
        return self.walk(
            "proxy-protocol",
            ["haproxy/proxykit-a.toml"],
            [8001, 9001, 9101],
            [
                ("check", Ok((r"ok \(reverse mode\)", r"haproxy:tcp:\d+:interface=127\.0\.0\.1"))),
                ("origin", Serve(r"Site \(PROXY\) starting on")),
                ("proxy", Serve()),
                ("curl", Output("200\n")),
                ("curl-without", Fails(r"Empty reply from server")),
                ("proxy", Written("proxykit-a-access.log")),
                ("log", Ok((r"^127\.0\.0\.1 \d+ GET /README\.md 200 [0-9a-f]{32}$",))),
                ("haproxy", Form(r"^haproxy -db -f examples/haproxy/haproxy\.cfg\n$")),
            ],
        )


class SystemdTests(HowtoTestCase):
    """
    C{docs/howto/systemd.rst}, with the files of C{examples/systemd/}.
    """

    def test_steps(self) -> Any:
        """
        Under C{systemd-socket-activate}, the first connection starts the
        forward proxy on the socket it is given, which refuses a loopback
        destination (it cannot know it listens on loopback only); its admin
        listener then says it is ready.  The installation and the
        C{systemctl} commands are checked for form.
        """
        needs("curl", "systemd-socket-activate")
        return self.walk(
            "systemd",
            ["systemd/forward.toml"],
            [3128, 9001, 9901],
            [
                ("try", Serve(r"Listening on 127\.0\.0\.1:\d+ as 3")),
                ("try-curl", Output("403\nready\n")),
                (
                    "install",
                    Form(
                        r"(?s)^sudo python3 -m venv /opt/proxykit\n.*"
                        r"install -D -m 0644 examples/systemd/forward\.toml /etc/proxykit/forward\.toml\n.*"
                        r"examples/systemd/proxykit-forward\.socket examples/systemd/proxykit-forward\.service /etc/systemd/system/\n"
                        r"sudo systemctl daemon-reload\n"
                        r"sudo systemctl enable --now proxykit-forward\.socket proxykit-forward\.service\n$"
                    ),
                ),
                ("status", Form(r"^systemctl status proxykit-forward\.socket proxykit-forward\.service\n")),
                ("reload", Form(r"^sudo systemctl reload proxykit-forward\njournalctl -u proxykit-forward ")),
            ],
        )


class KubernetesTests(HowtoTestCase):
    """
    C{docs/howto/kubernetes.rst}, with the files of C{examples/kubernetes/}.
    """

    def test_steps(self) -> Any:
        """
        The configuration the ConfigMap carries passes C{proxykit check};
        the commands that need a cluster are checked for form.
        """
        try:
            import yaml  # noqa: F401
        except ImportError:
            raise SkipTest("PyYAML is not installed (pip install '.[test]')")
        return self.walk(
            "kubernetes",
            [],
            [],
            [
                ("check", Ok((r"ok \(reverse mode\)", r"www\.example\.com"))),
                (
                    "deploy",
                    Form(
                        r"^docker build -f examples/kubernetes/Dockerfile -t proxykit:latest \.\n"
                        r"kubectl apply -f examples/kubernetes/\n"
                        r"kubectl rollout status deployment/proxykit\n$"
                    ),
                ),
                ("verify", Form(r"^kubectl port-forward service/proxykit 8080:80 &\n")),
            ],
        )
