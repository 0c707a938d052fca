"""
The how-to guides of C{docs/howto/}, run as written: every step of each
C{examples/howto/*.sh} (and the files it uses), in a copy of the checkout,
on free ports, with curl, openssl and Python as the clients.  Steps that
need what a test machine lacks (a browser, a cluster, systemd as PID 1)
are checked for form instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from twisted.internet.threads import deferToThread

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
        walked = [step for step, action in walk if not isinstance(action, (Stop, Logged))]
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
