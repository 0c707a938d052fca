"""
Tests of examples/reverse.toml with proxykit.testing: in memory, no
sockets, no waiting.  Run them with either runner:

    .venv/bin/python -m twisted.trial examples/testing_reverse.py
    .venv/bin/python -m pytest examples/testing_reverse.py
"""

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from proxykit.testing import ProxyHarness

CONFIG = str(Path(__file__).resolve().parent / "reverse.toml")


def harness() -> ProxyHarness:
    """
    The proxy twistd proxykit reverse --config reverse.toml runs, with a
    fake origin at each address the file names.
    """
    h = ProxyHarness.fromFile(CONFIG, mode="reverse")
    h.fakeOrigin("127.0.0.1:9001").reply(200, b"api")
    h.fakeOrigin("127.0.0.1:9002").reply(200, b"api")
    h.fakeOrigin("127.0.0.1:9003").reply(200, b"site")
    return h


class ReverseConfigTests(SynchronousTestCase):
    def test_apiPrefixStripped(self) -> None:
        h = harness()
        api = h.fakeOrigin("127.0.0.1:9002").reply(200, b"users")
        h.fakeOrigin("127.0.0.1:9001").refuse()
        response = h.fakeClient().get("/api/users", [("Host", "app.example.test")])
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"users")
        request = api.lastRequest
        self.assertEqual(request.target, b"/users")
        self.assertEqual(request.header("X-Forwarded-Host"), b"app.example.test")
        h.close()

    def test_unknownHostGoesToDefault(self) -> None:
        h = harness()
        response = h.fakeClient().get("/", [("Host", "elsewhere.test")])
        self.assertEqual(response.body, b"site")
        h.close()

    def test_slowOriginTimesOut(self) -> None:
        h = harness()
        h.fakeOrigin("127.0.0.1:9003").reply(200, b"late", delay=120)
        response = h.fakeClient().get("/", [("Host", "static.example.test")])
        h.advance(60)
        self.assertEqual(response.status, 504)
        h.close()


def test_redirectRewritten() -> None:
    """
    A plain pytest test works too.
    """
    h = harness()
    for port in (9001, 9002):
        location = ("Location", f"http://127.0.0.1:{port}/login")
        h.fakeOrigin(f"127.0.0.1:{port}").reply(302, headers=[location])
    response = h.fakeClient().get("/api/", [("Host", "app.example.test")])
    assert response.status == 302
    assert response.header("Location") == b"http://app.example.test/api/login"
    h.close()
