"""
The tutorials of C{docs/tutorials/}, run step by step as written: the
commands of C{examples/tutorial/*.sh} (and the files they use) in a copy of
the checkout, on free ports, with curl, openssl and Python as the clients.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from ._checkout import Checkout
from ._subprocess import ROOT

TUTORIAL = os.path.join(ROOT, "examples", "tutorial")

PROXY_READY = r"proxykit started: listening on"
ORIGIN_READY = r"Serving HTTP on 127\.0\.0\.1 port"


def needs(*programs: str) -> None:
    """
    Skip the test unless every one of C{programs} is installed.
    """
    missing = [name for name in programs if shutil.which(name) is None]
    if missing:
        raise SkipTest(f"not installed: {', '.join(missing)}")


class TutorialTestCase(TestCase):
    """
    A tutorial's steps in a fresh L{Checkout}.
    """

    timeout = 120

    def checkout(self, files: list[str], ports: list[int]) -> Checkout:
        top = os.path.abspath(self.mktemp())
        checkout = Checkout(top, files, ports)
        self.addCleanup(checkout.stop)
        return checkout

    def assertRan(self, result: Any, *expected: str) -> str:
        """
        C{result}, a finished step, exited 0 and wrote each of C{expected}
        (regular expressions) on its standard output; that output.
        """
        self.assertEqual(result.returncode, 0, f"{result.stdout}\n{result.stderr}")
        for pattern in expected:
            self.assertRegex(result.stdout, pattern)
        return str(result.stdout)


class ForwardTutorialTests(TutorialTestCase):
    """
    C{docs/tutorials/forward-proxy.rst}: C{examples/tutorial/forward-5min.sh}.
    """

    def test_steps(self) -> Any:
        """
        Every step works as the page says: curl's plain request is relayed
        with the proxy's C{Via}; after the restart allowing port 8443, curl
        reaches the throw-away TLS server through a tunnel, trusting the
        certificate the page makes, and a tunnel to port 25 gets 403; with
        the proxy in the environment, curl and urllib go through it
        without being told, and urllib goes direct for a host in
        C{NO_PROXY}.
        """
        needs("curl", "openssl")
        checkout = self.checkout(["tutorial/forward-5min.sh"], [8080, 9001, 8443])
        steps = checkout.steps("tutorial/forward-5min.sh")
        self.assertEqual(
            list(steps),
            [
                "proxy", "origin", "curl-http", "proxy-connect", "certificate", "tls-server",
                "curl-https", "curl-refused", "browser", "environment", "environment-curl",
                "environment-python", "no-proxy",
            ],
        )

        def walk() -> None:
            # The quick start's proxy listens on 8080, unless told otherwise.
            self.assertIn("8080", open(os.path.join(ROOT, "README.md")).read())
            proxy = checkout.serve(
                steps["proxy"].replace("./dev.sh start", "./dev.sh start --listen "
                f"tcp:{checkout.ports[8080]}:interface=127.0.0.1"),
                PROXY_READY,
            )
            checkout.serve(steps["origin"], ORIGIN_READY)
            self.assertRan(checkout.run(steps["curl-http"]), r"^HTTP/1.[01] 200 ", r"(?m)^Via: 1.0 proxykit$")
            proxy.stop()
            checkout.children.remove(proxy)
            checkout.serve(
                steps["proxy-connect"].replace("./dev.sh start", "./dev.sh start --listen "
                f"tcp:{checkout.ports[8080]}:interface=127.0.0.1"),
                PROXY_READY,
            )
            self.assertRan(checkout.run(steps["certificate"]))
            checkout.serve(steps["tls-server"], r"^ACCEPT")
            self.assertRan(checkout.run(steps["curl-https"]), r"s_server -accept", r"TLSv1\.3")
            refused = checkout.run(steps["curl-refused"])
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("CONNECT tunnel failed, response 403", refused.stderr)
            environment = steps["environment"]
            self.assertRan(checkout.run(environment + steps["environment-curl"]), r"(?i)^via: 1.0 proxykit")
            self.assertEqual(self.assertRan(checkout.run(environment + steps["environment-python"])), "1.0 proxykit\n")
            self.assertEqual(self.assertRan(checkout.run(environment + steps["no-proxy"])), "None\n")
            browser = steps["browser"].split()
            self.assertEqual(
                browser[:3], ["chromium", '--user-data-dir="$(mktemp', '-d)"']
            )
            self.assertEqual(browser[3:], [f"--proxy-server=http://127.0.0.1:{checkout.ports[8080]}",
                                           f"http://127.0.0.1:{checkout.ports[9001]}/"])

        return deferToThread(walk)


class TwoSitesTutorialTests(TutorialTestCase):
    """
    C{docs/tutorials/two-sites.rst}: C{examples/tutorial/two-sites.sh} with
    C{examples/tutorial/two-sites.toml}.
    """

    def test_steps(self) -> Any:
        """
        Every step works as the page says: the certificates are made, the
        file checks, each site is served over TLS from its own origin with
        its own certificate (chosen by server name), a client trusting the
        other site's certificate refuses the connection, and plain HTTP is
        redirected to the https port, where curl following it lands.
        """
        needs("curl", "openssl")
        files = ["tutorial/two-sites.sh", "tutorial/two-sites.toml"]
        checkout = self.checkout(files, [8000, 8443, 9001, 9002])
        steps = checkout.steps("tutorial/two-sites.sh")
        tls, plain = checkout.ports[8443], checkout.ports[8000]

        def walk() -> None:
            self.assertRan(checkout.run(steps["certificates"]))
            self.assertRan(checkout.run(steps["check"]), "docs.example.test", "examples.example.test")
            checkout.serve(steps["origin-docs"], ORIGIN_READY)
            checkout.serve(steps["origin-examples"], ORIGIN_READY)
            checkout.serve(steps["proxy"], PROXY_READY)
            with open(os.path.join(ROOT, "docs", "conf.py")) as f:
                conf = f.read()
            with open(os.path.join(ROOT, "examples", "forward.toml")) as f:
                forward = f.read()
            self.assertEqual(self.assertRan(checkout.run(steps["curl-sites"])), conf + forward)
            self.assertRan(checkout.run(steps["sni"]), r"^subject=CN ?= ?examples\.example\.test$")
            wrong = checkout.run(steps["wrong-certificate"])
            self.assertNotEqual(wrong.returncode, 0)
            self.assertIn("SSL certificate problem", wrong.stderr)
            self.assertRan(
                checkout.run(steps["redirect"]),
                r"(?m)^HTTP/1.1 301 Moved Permanently\r?$",
                rf"(?m)^Location: https://docs\.example\.test:{tls}/conf\.py$",
            )
            self.assertEqual(self.assertRan(checkout.run(steps["follow"])), conf)
            self.assertIn(f"http://docs.example.test:{plain}/", steps["follow"])

        return deferToThread(walk)


class EmbeddingTutorialTests(TutorialTestCase):
    """
    C{docs/tutorials/embedding.rst}: C{examples/tutorial/embed.sh} running
    C{examples/tutorial/embed.py}.
    """

    def test_steps(self) -> Any:
        """
        The application relays curl's request to the origin and adds its
        C{X-Served-By} field, answers C{/health} itself, and its own page
        counts both requests.
        """
        needs("curl")
        checkout = self.checkout(["tutorial/embed.sh", "tutorial/embed.py"], [8000, 8001, 9001])
        steps = checkout.steps("tutorial/embed.sh")

        def walk() -> None:
            checkout.serve(steps["origin"], ORIGIN_READY)
            application = checkout.serve(steps["application"], r"site listening on")
            application.waitForLine(r"proxy listening on")
            self.assertRan(
                checkout.run(steps["curl-proxy"]),
                r"^HTTP/1.1 200 ",
                r"(?m)^X-Served-By: embed\.py$",
                r"Directory listing for /",
            )
            self.assertEqual(self.assertRan(checkout.run(steps["curl-health"])), "ok\n")
            self.assertEqual(self.assertRan(checkout.run(steps["curl-stats"])), "2 requests\n")

        return deferToThread(walk)
