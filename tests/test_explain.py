"""
Tests for C{proxykit explain} (L{proxykit.explain}, L{proxykit.explainsteps}
and the verb in L{proxykit.cli}).
"""

from __future__ import annotations

import base64
import glob
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import bcrypt
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from proxykit import explain as explainModule
from proxykit.cli import main
from proxykit.config.values import ProxyConfig
from proxykit.explain import Query, bound, explain
from proxykit.testing import ProxyHarness

from ._certs import TestCA
from ._snippets import snippets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
FORWARD = os.path.join(EXAMPLES, "forward.toml")
REVERSE = os.path.join(EXAMPLES, "reverse.toml")


def run(*argv: str) -> tuple[int, str, str]:
    """
    Run C{proxykit} with C{argv}: its status, output and errors.
    """
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


class Runs:
    """
    Running C{proxykit explain} in text and in JSON.
    """

    def explainBoth(self, *argv: str) -> tuple[str, dict[str, Any]]:
        """
        The text and the JSON explanation of the same request, both with
        status 0 and nothing on standard error.
        """
        case: SynchronousTestCase = self  # type: ignore[assignment]
        status, text, err = run("explain", *argv)
        case.assertEqual((status, err), (0, ""))
        status, out, err = run("explain", "--json", *argv)
        case.assertEqual((status, err), (0, ""))
        data: dict[str, Any] = json.loads(out)
        decision = data["decision"]
        status = "" if decision["status"] is None else f"{decision['status']} "
        case.assertTrue(
            text.endswith(
                f"decision: {decision['action']} {status}{decision['reason']}"
                f" (decided by {decision['decided_by']})\n"
            ),
            text,
        )
        return text, data


class ForwardExampleTests(SynchronousTestCase, Runs):
    """
    examples/forward.toml: requests forwarded, tunnelled and refused.
    """

    def test_forwarded(self) -> None:
        """
        An absolute-form request from loopback is forwarded to the origin
        its URL names, in origin-form, with Via and a request id added and
        hop-by-hop fields removed.
        """
        text, data = self.explainBoth(
            FORWARD,
            "--header",
            "Connection: close, X-Secret",
            "--header",
            "X-Secret: 1",
            "--header",
            "Accept: */*",
            "http://127.0.0.1:9001/index.html",
        )
        self.assertEqual(
            data["decision"],
            {
                "action": "forward",
                "status": None,
                "reason": "to http://127.0.0.1:9001",
                "decided_by": "routing",
            },
        )
        self.assertEqual(data["listener"]["endpoint"], "tcp:8080:interface=127.0.0.1")
        self.assertEqual(data["listener"]["mode"], "forward")
        self.assertTrue(data["client"]["allowed"])
        self.assertEqual(data["routing"]["resolution"], "an IP literal: no DNS lookup")
        headers = data["headers"]
        self.assertEqual(headers["request_line"], "GET /index.html HTTP/1.1")
        self.assertEqual(headers["removed"], ["connection", "x-secret"])
        sent = headers["sent"]
        self.assertEqual(sent[:3], ["Host: 127.0.0.1:9001", "Accept: */*", "Via: 1.1 proxykit"])
        self.assertTrue(sent[3].startswith("X-Request-Id: "))
        self.assertIn("  request line: GET /index.html HTTP/1.1\n", text)
        self.assertIn("timeouts:\n  header: 10.0\n  connect: 10.0\n  response: 60.0\n", text)

    def test_tunnel(self) -> None:
        """
        CONNECT to port 443 of a name opens a tunnel; the name is not
        resolved, and the explanation says it would be.
        """
        text, data = self.explainBoth(FORWARD, "example.com:443")
        self.assertEqual(data["request"]["method"], "CONNECT")
        self.assertEqual(data["decision"]["action"], "tunnel")
        self.assertIn("would be resolved when connecting (not now)", data["routing"]["resolution"])
        self.assertEqual(data["tunnel"]["through"], "a direct connection")
        self.assertEqual(data["timeouts"]["tunnel_idle"], 300.0)

    def test_clientRefused(self) -> None:
        """
        A client outside C{forward.allow_clients} gets 403 before anything
        else is looked at.
        """
        text, data = self.explainBoth(FORWARD, "--client", "192.0.2.7", "http://127.0.0.1:9001/")
        self.assertEqual(
            data["decision"],
            {
                "action": "refuse",
                "status": 403,
                "reason": "client not allowed",
                "decided_by": "client ACL",
            },
        )
        self.assertNotIn("routing", data)
        self.assertEqual(data["message_policy"]["outcome"], "not reached: refused before")
        self.assertEqual(data["response"]["status"], 403)
        self.assertIn("  rule: forward.allow_clients: 127.0.0.0/8, ::1/128\n", text)

    def test_connectPortRefused(self) -> None:
        """
        CONNECT to a port C{forward.connect_ports} does not list: 403 by
        the router.
        """
        _, data = self.explainBoth(FORWARD, "example.com:22")
        self.assertEqual(
            data["decision"],
            {
                "action": "refuse",
                "status": 403,
                "reason": "CONNECT port not allowed",
                "decided_by": "routing",
            },
        )

    def test_trace(self) -> None:
        """
        TRACE is refused by the message policy.
        """
        _, data = self.explainBoth(FORWARD, "--method", "TRACE", "http://127.0.0.1:9001/")
        self.assertEqual(data["decision"]["status"], 405)
        self.assertEqual(data["decision"]["decided_by"], "message policy")

    def test_loop(self) -> None:
        """
        A request whose Via already names this proxy is refused 508.
        """
        _, data = self.explainBoth(
            FORWARD, "--header", "Via: 1.1 proxykit", "http://127.0.0.1:9001/"
        )
        self.assertEqual(data["decision"]["status"], 508)
        self.assertEqual(data["decision"]["decided_by"], "message policy")

    def test_originForm(self) -> None:
        """
        An origin-form request to a forward proxy is refused 400.
        """
        _, data = self.explainBoth(FORWARD, "--header", "Host: a.test", "/x")
        self.assertEqual(data["decision"]["status"], 400)
        self.assertEqual(data["request"]["form"], "origin-form")


class ReverseExampleTests(SynchronousTestCase, Runs):
    """
    examples/reverse.toml: virtual hosts, routes and their origins.
    """

    def test_forwarded(self) -> None:
        """
        A URL's host picks the virtual host and its path the longest
        matching prefix; the route strips its prefix; the origins, their
        balancing and the forwarding fields are shown.
        """
        text, data = self.explainBoth(
            REVERSE, "--client", "192.0.2.7", "http://app.example.test:8000/api/users?q=1"
        )
        self.assertEqual(data["decision"]["reason"], "to the origins of route /api")
        routing = data["routing"]
        self.assertEqual(routing["vhost"], "app.example.test (exact match on app.example.test)")
        self.assertEqual(routing["routes_considered"], ["/api (chosen)", "/ (matches)"])
        self.assertEqual(routing["other_vhosts"], ["static.example.test, 127.0.0.1, [::1]"])
        self.assertEqual(routing["target_sent"], "/users?q=1")
        upstream = data["upstream"]
        self.assertEqual(upstream["balance"], "least_outstanding")
        self.assertEqual(
            upstream["origins"],
            ["http://127.0.0.1:9001 weight 1", "http://127.0.0.1:9002 weight 2"],
        )
        sent = data["headers"]["sent"]
        self.assertIn("X-Forwarded-For: 192.0.2.7", sent)
        self.assertIn("X-Forwarded-Proto: http", sent)
        self.assertIn("X-Forwarded-Host: app.example.test:8000", sent)
        self.assertIn("Host: app.example.test:8000", sent)
        self.assertIn(
            "192.0.2.7 is not a trusted proxy (reverse.trusted_proxies):"
            " forwarding fields it sent are removed",
            data["headers"]["why"],
        )
        self.assertIn("  vhost: app.example.test (exact match on app.example.test)\n", text)
        self.assertEqual(
            data["upstream"]["health_check"],
            "GET / every 2s, timeout 1s, rise 2, fall 3 (not run here: every origin counts as up)",
        )
        self.assertEqual(data["request"]["request_id_from"], "generated (each request gets a new one)")

    def test_requestIdKept(self) -> None:
        """
        A client's well-formed X-Request-Id is kept and sent on.
        """
        _, data = self.explainBoth(
            REVERSE, "--header", "X-Request-Id: abc-1", "http://app.example.test/"
        )
        self.assertEqual(data["request"]["request_id"], "abc-1")
        self.assertEqual(data["request"]["request_id_from"], "the client's, kept")
        self.assertIn("X-Request-Id: abc-1", data["headers"]["sent"])

    def test_wildcardAndDefault(self) -> None:
        """
        A subdomain matches the wildcard; an unknown host falls to
        C{reverse.default}; the second vhost's route sends the origin's
        own Host.
        """
        _, data = self.explainBoth(REVERSE, "http://eu.app.example.test:8000/")
        self.assertEqual(
            data["routing"]["vhost"], "app.example.test (wildcard match on *.app.example.test)"
        )
        _, data = self.explainBoth(REVERSE, "http://unknown.test:8000/")
        self.assertEqual(data["routing"]["vhost"], "app.example.test (reverse.default)")
        _, data = self.explainBoth(REVERSE, "http://static.example.test:8000/a")
        self.assertIn("Host: 127.0.0.1:9003", data["headers"]["sent"])

    def test_connectRefused(self) -> None:
        """
        CONNECT to a reverse proxy is refused 405 by the router.
        """
        _, data = self.explainBoth(REVERSE, "app.example.test:443")
        self.assertEqual(
            data["decision"],
            {
                "action": "refuse",
                "status": 405,
                "reason": "CONNECT to a reverse proxy",
                "decided_by": "routing",
            },
        )

    def test_bodyTooLarge(self) -> None:
        """
        With C{limits.max_body_bytes}, a larger C{Content-Length} is refused
        413 before routing.
        """
        path = self.mktemp()
        with open(REVERSE) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("[reverse]\n", "[limits]\nmax_body_bytes = 10\n\n[reverse]\n", 1))
        _, data = self.explainBoth(
            path, "--method", "POST", "--header", "Content-Length: 11", "http://app.example.test/"
        )
        self.assertEqual(data["decision"]["status"], 413)
        self.assertEqual(data["decision"]["decided_by"], "body size")


class ReverseTLSExampleTests(SynchronousTestCase, Runs):
    """
    examples/reverse-tls.toml, with certificates made beside a copy of it.
    """

    def setUp(self) -> None:
        directory = os.path.abspath(self.mktemp())
        certs = os.path.join(directory, "certs")
        os.makedirs(certs)
        ca = TestCA()
        ca.write(certs, "default", "localhost")
        ca.write(certs, "app", "app.example.test")
        self.path = os.path.join(directory, "reverse-tls.toml")
        shutil.copy(os.path.join(EXAMPLES, "reverse-tls.toml"), self.path)

    def test_https(self) -> None:
        """
        An https URL arrives on the TLS listener, with the URL's host as
        its server name, and the origin is told the client used https.
        """
        _, data = self.explainBoth(self.path, "https://app.example.test:8443/")
        self.assertEqual(data["listener"]["kind"], "TLS")
        self.assertEqual(data["listener"]["endpoint"], "tcp:8443:interface=127.0.0.1")
        self.assertEqual(data["listener"]["server_name"], "app.example.test")
        self.assertEqual(data["decision"]["action"], "forward")
        self.assertIn("X-Forwarded-Proto: https", data["headers"]["sent"])

    def test_plain(self) -> None:
        """
        An http URL arrives on the plain listener.
        """
        _, data = self.explainBoth(self.path, "http://app.example.test:8000/")
        self.assertEqual(data["listener"]["kind"], "plain HTTP")
        self.assertIn("X-Forwarded-Proto: http", data["headers"]["sent"])

    def test_unknownHost(self) -> None:
        """
        Without C{reverse.default}, a host no vhost names gets 421.
        """
        _, data = self.explainBoth(self.path, "https://other.test:8443/")
        self.assertEqual(
            data["decision"],
            {
                "action": "refuse",
                "status": 421,
                "reason": "unknown host",
                "decided_by": "routing",
            },
        )
        self.assertEqual(
            data["routing"]["vhost"], "none (no name matches and no reverse.default)"
        )

    def test_listener(self) -> None:
        """
        C{--listener} names the listener; a name the file does not have is
        refused with the list of those it has.
        """
        _, data = self.explainBoth(
            self.path, "--listener", "tcp:8000:interface=127.0.0.1", "https://app.example.test/"
        )
        self.assertEqual(data["listener"]["kind"], "plain HTTP")
        status, out, err = run("explain", self.path, "--listener", "tcp:1", "http://a.test/")
        self.assertEqual((status, out), (2, ""))
        self.assertIn(
            "no listener 'tcp:1'; the listeners are: tcp:8000:interface=127.0.0.1,"
            " tcp:8443:interface=127.0.0.1",
            err,
        )


class MoreDecisionTests(SynchronousTestCase, Runs):
    """
    Parent proxies, combined listeners, redirecting listeners, strict
    destinations and answers the proxy gives itself.
    """

    def write(self, text: str) -> str:
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_parent(self) -> None:
        """
        Through a parent proxy, the target stays absolute and the parent's
        credentials are added; the client's are never passed on.
        """
        path = self.write('[forward]\nparent = "http://u:p@192.0.2.1:3128"\n')
        _, data = self.explainBoth(path, "http://example.com/x")
        self.assertEqual(data["decision"]["reason"], "to http://192.0.2.1:3128")
        self.assertEqual(data["routing"]["parent_proxy"], "used (forward.parent, parent_for, no_parent)")
        self.assertEqual(data["upstream"]["parent_proxy"], "http://192.0.2.1:3128")
        self.assertEqual(data["headers"]["request_line"], "GET http://example.com/x HTTP/1.1")
        self.assertIn("Proxy-Authorization: Basic dTpw", data["headers"]["sent"])

    def test_strictDestinations(self) -> None:
        """
        Listening beyond loopback, loopback destinations are refused.
        """
        path = self.write('listen = ["tcp:8080"]\n')
        _, data = self.explainBoth(path, "http://127.0.0.1:9001/")
        self.assertEqual(
            data["decision"],
            {
                "action": "refuse",
                "status": 403,
                "reason": "destination address not allowed",
                "decided_by": "routing",
            },
        )
        self.assertIn(
            "special-purpose addresses (loopback, private, link-local) refused: yes",
            data["routing"]["destination_policy"],
        )

    def test_combined(self) -> None:
        """
        With C{reverse.forward_proxy}, a URL sent in absolute form goes to
        the forward router, which checks its own client list.
        """
        with open(REVERSE) as f:
            text = f.read().replace("forward_proxy = false", "forward_proxy = true")
        path = self.write(text)
        _, data = self.explainBoth(path, "--absolute", "http://example.com/")
        self.assertEqual(data["routing"]["router"], "forward (combined listener)")
        self.assertEqual(data["decision"]["reason"], "to http://example.com")
        self.assertIn("would be resolved", data["routing"]["resolution"])
        _, data = self.explainBoth(path, "--absolute", "--client", "192.0.2.7", "http://example.com/")
        self.assertEqual(data["decision"]["status"], 403)
        self.assertFalse(data["client"]["allowed"])
        _, data = self.explainBoth(path, "http://example.com/")
        self.assertEqual(data["routing"]["router"], "reverse (combined listener)")

    def test_redirect(self) -> None:
        """
        A listener of C{tls.redirect_listen} answers 301 to https.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        cert, key = TestCA().write(directory, "default", "localhost")
        path = self.write(
            'listen = []\n[tls]\nlisten = ["tcp:8443:interface=127.0.0.1"]\n'
            'redirect_listen = ["tcp:8080:interface=127.0.0.1"]\nredirect_port = 8443\n'
            f'default_certificate = {{ cert = "{cert}", key = "{key}" }}\n'
            '[[reverse.vhost]]\nhosts = ["a.test"]\n'
            '  [[reverse.vhost.route]]\n  origins = ["http://127.0.0.1:9001"]\n'
        )
        _, data = self.explainBoth(path, "--listener", "tcp:8080:interface=127.0.0.1", "http://a.test/x")
        self.assertEqual(data["listener"]["kind"], "plain HTTP, redirecting to https")
        self.assertEqual(data["decision"]["action"], "respond")
        self.assertEqual(data["decision"]["status"], 301)
        self.assertIn("Location: https://a.test:8443/x", data["response"]["headers"])

    def test_unixListener(self) -> None:
        """
        A UNIX-socket listener has no address; its clients are allowed.
        """
        path = self.write('listen = ["unix:/tmp/proxykit-explain.sock"]\n')
        _, data = self.explainBoth(path, "http://example.com/")
        self.assertEqual(data["listener"]["endpoint"], "unix:/tmp/proxykit-explain.sock")
        self.assertNotIn("address", data["listener"])
        self.assertEqual(data["decision"]["action"], "forward")

    def test_maxForwards(self) -> None:
        """
        OPTIONS with C{Max-Forwards: 0} is answered by the proxy.
        """
        _, data = self.explainBoth(
            FORWARD, "--method", "OPTIONS", "--header", "Max-Forwards: 0", "http://127.0.0.1:9001/"
        )
        self.assertEqual(data["decision"]["action"], "respond")
        self.assertEqual(data["decision"]["decided_by"], "message policy")
        self.assertEqual(data["response"]["status"], 200)


class EveryExampleTests(SynchronousTestCase, Runs):
    """
    Every example configuration is explained by the tests above.
    """

    def test_everyExample(self) -> None:
        names = {os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES, "*.toml"))}
        self.assertEqual(names, {"forward.toml", "reverse.toml", "reverse-tls.toml"})

    def test_everyExampleAnywhere(self) -> None:
        """
        Every configuration under C{examples/} (the guides', tutorials' and
        how-tos' too, and the one C{examples/kubernetes/configmap.yaml}
        holds) is explained, in text and JSON, for a request to its first
        virtual host's first route, or to an origin on loopback in forward
        mode: a decision, with status 0 and nothing on standard error.  It
        is explained from a copy of the checkout in which the files the
        steps make first exist (certificates, password files; those named
        under C{/etc/proxykit/} made in the copy, the paths pointed there).
        The one exception is C{snippets/configuration/bad.toml}, the
        configuration page's refused file: refused, status 1, as by
        C{check}.
        """
        import yaml

        checkout = os.path.abspath(self.mktemp())
        examples = os.path.join(checkout, "examples")
        shutil.copytree(EXAMPLES, examples)
        etc = os.path.join(checkout, "etc", "proxykit")
        ca = TestCA()
        for directory, stems in (
            ("examples/certs", ("localhost", "docs", "examples", "default", "app")),
            ("examples/snippets/tls/certs", ("default", "app")),
            ("etc/proxykit", ("proxy",)),
        ):
            os.makedirs(os.path.join(checkout, directory), exist_ok=True)
            for stem in stems:
                name = stem if stem == "localhost" else f"{stem}.example.test"
                ca.write(os.path.join(checkout, directory), stem, name)
        for name in ("ca.pem", "internal-ca.pem"):
            with open(os.path.join(etc, name), "wb") as f:
                f.write(ca.caPEM)
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode("ascii")
        for directory in ("examples/certs", "etc/proxykit"):
            with open(os.path.join(checkout, directory, "htpasswd"), "w") as f:
                f.write(f"alice:{hashed}\n")
        with open(os.path.join(examples, "kubernetes", "configmap.yaml")) as f:
            [configMap] = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ConfigMap"]
        with open(os.path.join(examples, "kubernetes", "reverse.toml"), "w") as f:
            f.write(configMap["data"]["reverse.toml"])
        paths = sorted(glob.glob(os.path.join(examples, "**", "*.toml"), recursive=True))
        for path in paths:
            text = Path(path).read_text()
            Path(path).write_text(text.replace('"/etc/proxykit/', f'"{etc}/'))
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(checkout)

        explained, refused = [], []
        for path in paths:
            name = os.path.relpath(path, examples)
            status, out, err = run("explain", path, "http://a.example.test/")
            if name == os.path.join("snippets", "configuration", "bad.toml"):
                self.assertEqual((status, out), (1, ""), name)
                self.assertIn("timeouts.connect: expected a positive number", err)
                refused.append(name)
                continue
            config = ProxyConfig.fromFile(path)
            if config.reverse.vhosts and "\n  mode: reverse\n" in out:
                vhost = config.reverse.vhosts[0]
                host = next((h for h in vhost.hosts if not h.startswith("*.")), "a.example.test")
                host = host.replace("*.", "a.")
                target = f"http://{host}{vhost.routes[0].prefix}"
            else:
                target = "http://127.0.0.1:9001/"
            text, data = self.explainBoth(path, target)
            self.assertIn(data["decision"]["action"], ("forward", "refuse", "respond", "tunnel"), name)
            explained.append(name)
        self.assertEqual(refused, [os.path.join("snippets", "configuration", "bad.toml")])
        self.assertEqual(len(explained) + 1, len(paths))
        self.assertIn(os.path.join("kubernetes", "reverse.toml"), explained)
        self.assertIn(os.path.join("tutorial", "two-sites.toml"), explained)


class AuthenticationTests(SynchronousTestCase, Runs):
    """
    With C{forward.auth_file}, forward-proxy requests are checked against
    the password file.
    """

    def setUp(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode("ascii")
        passwords = os.path.join(directory, "htpasswd")
        with open(passwords, "w") as f:
            f.write(f"alice:{hashed}\n")
        self.path = os.path.join(directory, "proxy.toml")
        with open(self.path, "w") as f:
            f.write(f'[forward]\nauth_file = "{passwords}"\n')

    def credentials(self, password: bytes) -> str:
        return "Proxy-Authorization: Basic " + base64.b64encode(b"alice:" + password).decode()

    def test_noCredentials(self) -> None:
        """
        Without credentials: 407 with the challenge.
        """
        _, data = self.explainBoth(self.path, "http://127.0.0.1:9001/")
        self.assertEqual(data["decision"]["status"], 407)
        self.assertEqual(data["decision"]["decided_by"], "authentication")
        self.assertIn(
            'Proxy-Authenticate: Basic realm="proxykit", charset="UTF-8"',
            data["response"]["headers"],
        )
        self.assertEqual(
            data["authentication"]["outcome"], "no Proxy-Authorization: 407 with a challenge"
        )

    def test_good(self) -> None:
        """
        Good credentials let the request through, and are not passed on.
        """
        _, data = self.explainBoth(
            self.path, "--header", self.credentials(b"s3cret"), "http://127.0.0.1:9001/"
        )
        self.assertEqual(data["authentication"]["outcome"], "user alice accepted")
        self.assertEqual(data["decision"]["action"], "forward")
        self.assertIn("proxy-authorization", data["headers"]["removed"])

    def test_wrong(self) -> None:
        """
        A wrong password: 407.
        """
        _, data = self.explainBoth(
            self.path, "--header", self.credentials(b"guess"), "http://127.0.0.1:9001/"
        )
        self.assertEqual(data["decision"]["status"], 407)
        self.assertIn("user alice refused", data["authentication"]["outcome"])


class ProblemTests(SynchronousTestCase):
    """
    A bad file exits 1, a request that cannot be made exits 2, each with
    one clear line.
    """

    def test_badConfig(self) -> None:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("[timeouts]\nconnect = -1\n")
        status, out, err = run("explain", path, "http://a.test/")
        self.assertEqual((status, out), (1, ""))
        self.assertTrue(err.startswith(f"{path}:2: timeouts.connect"), err)

    def test_unreadable(self) -> None:
        status, out, err = run("explain", os.path.join(self.mktemp(), "none.toml"), "http://a/")
        self.assertEqual((status, out), (1, ""))
        self.assertIn("cannot read", err)

    def assertMalformed(self, message: str, *argv: str) -> None:
        status, out, err = run("explain", FORWARD, *argv)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, f"proxykit explain: {message}\n")

    def test_target(self) -> None:
        self.assertMalformed(
            "target 'http://a b/' is empty or has spaces or controls", "http://a b/"
        )
        self.assertMalformed(
            "the request is malformed: the proxy answers 400 (malformed request target)",
            "http://a|b/",
        )

    def test_header(self) -> None:
        self.assertMalformed("header 'Nonsense' is not 'Name: value'", "--header", "Nonsense", "http://a/")
        self.assertMalformed(
            "header 'Bad Name: 1' is not 'Name: value'", "--header", "Bad Name: 1", "http://a/"
        )

    def test_missingHost(self) -> None:
        self.assertMalformed("the request is malformed: the proxy answers 400 (missing Host)", "/x")

    def test_client(self) -> None:
        self.assertMalformed(
            "client address 'somewhere' is not an IP address (or IP:port)",
            "--client",
            "somewhere",
            "http://a/",
        )


class AgreementTests(SynchronousTestCase):
    """
    What explain says is sent to the origin is what the proxy sends.
    """

    def test_sameHead(self) -> None:
        config = ProxyConfig.fromFile(REVERSE)
        fields = ("Accept: */*", "Connection: X-Drop", "X-Drop: 1", "X-Forwarded-For: 203.0.113.9")
        data = explain(
            config,
            "reverse",
            Query("http://app.example.test:8000/api/v1?x=1", None, fields, "192.0.2.7"),
        ).toJSON()
        lines = [data["headers"]["request_line"], *data["headers"]["sent"]]  # type: ignore[index]

        # The proxy twistd would run for the file, its origins in memory.
        harness = ProxyHarness.fromFile(REVERSE, mode="reverse")
        self.addCleanup(harness.close)
        origins = {port: harness.fakeOrigin(f"127.0.0.1:{port}") for port in (9001, 9002, 9003)}
        client = harness.fakeClient("192.0.2.7:50000", local="127.0.0.1:8000")
        headers = [("Host", "app.example.test:8000")]
        headers += [(name, value.strip()) for name, _, value in (f.partition(":") for f in fields)]
        response = client.get("/api/v1?x=1", headers)
        self.assertEqual(response.status, 200)
        self.assertEqual((origins[9001].requests, origins[9003].requests), ([], []))
        received = origins[9002].lastRequest
        sent = [f"{received.method.decode()} {received.target.decode()} HTTP/{received.version.decode()}"]
        sent += [f"{name.decode()}: {value.decode()}" for name, value in received.headers]

        def withoutId(lines: list[str]) -> list[str]:
            return [line for line in lines if not line.startswith("X-Request-Id: ")]

        self.assertEqual(withoutId(lines), withoutId(sent))
        self.assertEqual(data["upstream"]["picked"], "http://127.0.0.1:9002 (first pick of a fresh start)")  # type: ignore[index]


class NothingSentTests(SynchronousTestCase, Runs):
    """
    Explaining opens no socket and resolves no name.
    """

    def test_noSocketNoLookup(self) -> None:
        """
        With the socket module's ways to open a socket or look up a name
        made failures, requests to names and to addresses, forwarded,
        tunnelled and reverse-proxied, are still explained, and the
        reactor the explanation runs its proxy on was asked for no
        connection and no listener.
        """
        import socket

        used: list[str] = []

        def forbidden(name: str) -> Any:
            def call(*args: object, **kwargs: object) -> Any:
                used.append(name)
                raise OSError(f"explain used socket.{name}")

            return call

        for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            self.patch(socket, name, forbidden(name))
        clocks: list[MemoryReactorClock] = []

        class Clock(explainModule._Clock):
            def __init__(self) -> None:
                super().__init__()
                clocks.append(self)

        self.patch(explainModule, "_Clock", Clock)
        for argv in (
            (FORWARD, "http://www.example.com/"),
            (FORWARD, "www.example.com:443"),
            (FORWARD, "http://127.0.0.1:9001/"),
            (REVERSE, "http://app.example.test:8000/api/users"),
        ):
            _, data = self.explainBoth(*argv)
            self.assertIn(data["decision"]["action"], ("forward", "tunnel"), argv)
        self.assertEqual(used, [])
        self.assertEqual(len(clocks), 8)
        for clock in clocks:
            asked = (clock.tcpClients, clock.sslClients, clock.unixClients, clock.tcpServers)
            self.assertEqual(asked, ([], [], [], []))


class BoundTests(SynchronousTestCase):
    """
    L{bound} reads the address a listener's endpoint string binds.
    """

    def test_forms(self) -> None:
        self.assertEqual(bound("tcp:8080:interface=127.0.0.1"), ("127.0.0.1", 8080))
        self.assertEqual(bound("tcp:port=8080"), ("0.0.0.0", 8080))
        self.assertEqual(bound("tcp6:8080:interface=\\:\\:1"), ("::1", 8080))
        self.assertEqual(bound("haproxy:tcp:8080"), ("0.0.0.0", 8080))
        self.assertEqual(bound("unix:/run/p.sock"), ("", 0))


class DocsTests(SynchronousTestCase):
    """
    The C{proxykit explain} commands of the documentation run as written,
    from the checkout, with the console script of this venv.
    """

    def test_commands(self) -> None:
        commands = []
        for page in ("configuration.rst", "operations.rst"):
            for snippet in snippets(Path(ROOT) / "docs" / page):
                for line in snippet.lines:
                    words = shlex.split(line.strip()) if "bin/proxykit explain" in line else []
                    if words and words[0] == ".venv/bin/proxykit":
                        commands.append(words[1:])
        self.assertGreaterEqual(len(commands), 5)
        script = os.path.join(os.path.dirname(sys.executable), "proxykit")
        if not os.path.exists(script):
            self.fail(f"no console script at {script}: is proxykit installed in this venv?")
        for argv in commands:
            done = subprocess.run(
                [script, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
            )
            self.assertEqual((done.returncode, done.stderr), (0, ""), argv)
            expected = '"decision": ' if "--json" in argv else "\ndecision: "
            self.assertIn(expected, done.stdout)
